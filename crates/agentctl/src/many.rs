//! `jobs tail` of several jobs at once (kubectl's `logs -l ... -f --prefix`, stern):
//! one process, one connection per job, every line whole.
//!
//! All the tails run in one task: a [`FuturesUnordered`] polls the tail of each job
//! only when its connection has something, so twenty logs cost one process and one
//! thread. A job writes what its tail has ready (prefix, colour, filters applied) as
//! one batch, holding the one writer every tail shares for the whole batch and
//! never across an `.await`: lines of different jobs never interleave mid-line, and
//! within one job they keep the log's order. The output is flushed whenever no tail
//! has anything ready. When a job's log is complete its status is read and, with
//! `-o jsonl`, its `end` object written; at the end one summary line per job goes
//! to stderr and the exit code follows [`crate::wait::combined`].

use crate::cli::Output;
use crate::exit::Failure;
use crate::filter::LineFilter;
use crate::follow::{end_object, error_json, write_line, Counts, EndOf, FLUSH_EVERY};
use crate::render::Style;
use crate::select::{self, Pick};
use crate::start::{Start, Window};
use crate::wait::{combined, verdict, Ended};
use agent_client_async::{AsyncAgentClient, LogTail};
use agent_proto::{ClientError, JobId, TailOptions};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, Write};
use std::task::Poll;
use std::time::Duration;

/// How often `--watch` lists the jobs to find new ones.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// `--tail N` on a job still running without server line numbers: the log written
/// so far is taken to be what arrives before the tail first goes quiet this long.
const SETTLE: Duration = Duration::from_secs(1);

/// A checked `jobs tail` of several jobs (or of one, with the flags of many).
#[derive(Debug)]
pub struct ManyTail {
    /// Which jobs.
    pub pick: Pick,
    /// How each is followed.
    pub opts: TailOptions,
    /// `--include` / `--exclude`.
    pub filter: LineFilter,
    /// `--tail N` / `--from-line K`.
    pub start: Start,
    /// `--prefix` (true) / `--no-prefix` (false); `None`: prefix when several jobs
    /// are named or jobs are picked by a selector.
    pub prefix: Option<bool>,
    /// `--watch`: follow matching jobs that start later, until Ctrl-C.
    pub watch: bool,
    /// `--max-log-requests`.
    pub max: usize,
}

/// One followed job: what it printed and how it ended.
#[derive(Debug)]
struct Row {
    id: JobId,
    counts: Counts,
    filtered: u64,
    end: Option<Ended>,
}

/// The per-job start of each line.
struct Tag {
    prefix: String,
    job_json: String,
}

/// What every job's tail shares: the client, the settings, the one writer, the rows.
struct Shared<'a> {
    client: &'a AsyncAgentClient,
    plan: &'a ManyTail,
    mode: Output,
    style: Style,
    prefix: bool,
    out: RefCell<&'a mut dyn Write>,
    rows: RefCell<Vec<Row>>,
}

impl Shared<'_> {
    /// What starts every line of job `slot`: its coloured `[id] ` prefix, and its id as
    /// a JSON string (made once per job, not once per line).
    fn tag(&self, slot: usize) -> Tag {
        let id = self.rows.borrow()[slot].id.clone();
        let prefix = if self.prefix {
            format!("{} ", self.style.source(&format!("[{id}]"), slot))
        } else {
            String::new()
        };
        let job_json = serde_json::to_string(id.as_str()).unwrap_or_default();
        Tag { prefix, job_json }
    }

    /// Writes one line (or counts it as filtered). The caller holds the one writer
    /// for a whole batch and never across an `.await`, so each line goes out whole.
    fn line(
        &self,
        out: &mut dyn Write,
        tag: &Tag,
        line: &str,
        counts: &mut Counts,
        filtered: &mut u64,
    ) -> io::Result<()> {
        if !self.plan.filter.keeps(line) {
            *filtered += 1;
            return Ok(());
        }
        counts.delivered += 1;
        match self.mode {
            Output::Table | Output::Wide => {
                out.write_all(tag.prefix.as_bytes())?;
                write_line(out, self.mode, &self.style, line)
            }
            Output::Json | Output::Jsonl | Output::Yaml => {
                // `{"job":..,"line":..}`; under -o yaml a flow mapping, one item a line.
                if self.mode == Output::Yaml {
                    out.write_all(b"- ")?;
                }
                out.write_all(b"{\"job\":")?;
                out.write_all(tag.job_json.as_bytes())?;
                out.write_all(b",\"line\":")?;
                serde_json::to_writer(&mut *out, line).map_err(io::Error::other)?;
                out.write_all(b"}\n")
            }
        }
    }

    /// Records the counts of job `slot` so far (for the summary, even after Ctrl-C).
    fn count(&self, slot: usize, counts: Counts, filtered: u64) {
        let mut rows = self.rows.borrow_mut();
        rows[slot].counts = counts;
        rows[slot].filtered = filtered;
    }

    /// Records how job `slot` ended and, with `-o jsonl`, writes its end object.
    fn end(&self, slot: usize, ended: Ended, error: Option<&Failure>) -> io::Result<()> {
        let mut rows = self.rows.borrow_mut();
        let row = &mut rows[slot];
        if matches!(self.mode, Output::Jsonl | Output::Json) {
            let status = match &ended {
                Ended::Status(s) => Some(s.as_str()),
                Ended::Failed { .. } => None,
            };
            let object = end_object(
                EndOf {
                    job: Some(row.id.as_str()),
                    end: if status.is_some() {
                        "complete"
                    } else {
                        "error"
                    },
                    status,
                    filtered: Some(row.filtered),
                    error: error.map(error_json),
                },
                row.counts,
            );
            let mut out = self.out.borrow_mut();
            writeln!(out, "{object}")?;
            out.flush()?;
        }
        row.end = Some(ended);
        Ok(())
    }

    /// Adds a job to follow; its slot.
    fn add(&self, id: JobId) -> usize {
        let mut rows = self.rows.borrow_mut();
        rows.push(Row {
            id,
            counts: Counts::default(),
            filtered: 0,
            end: None,
        });
        rows.len() - 1
    }

    fn knows(&self, id: &JobId) -> bool {
        self.rows.borrow().iter().any(|r| r.id == *id)
    }
}

/// Follows the jobs of `plan` until each one's log is complete (or, with `--watch`,
/// until Ctrl-C); `Ok` only when every one SUCCEEDED.
pub async fn tail_many(
    client: &AsyncAgentClient,
    plan: &ManyTail,
    mode: Output,
    style: Style,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // The jobs to follow first, and whether each had ended (for `--tail N`).
    let first: Vec<(JobId, bool)> = tokio::select! {
        biased;
        _ = &mut ctrl_c => return Err(Failure::Interrupted),
        first = initial(client, plan) => first?,
    };
    if first.len() > plan.max {
        return Err(select::too_many(first.len(), plan.max).into());
    }
    if first.is_empty() && !plan.watch {
        return Err(Failure::Local {
            code: crate::exit::NOT_FOUND,
            message: "no job matches --selector / --status".into(),
        });
    }
    let prefix = plan
        .prefix
        .unwrap_or(first.len() > 1 || matches!(plan.pick, Pick::Matching(_)));
    let shared = Shared {
        client,
        plan,
        mode,
        style,
        prefix,
        out: RefCell::new(out),
        rows: RefCell::new(Vec::new()),
    };
    let shared = &shared;
    let mut running = FuturesUnordered::new();
    let mut waiting: VecDeque<(usize, bool)> = VecDeque::new();
    for (id, ended) in first {
        let slot = shared.add(id);
        running.push(follow_job(shared, slot, ended));
    }
    let mut watch =
        tokio::time::interval_at(tokio::time::Instant::now() + WATCH_EVERY, WATCH_EVERY);
    let result = loop {
        if running.is_empty() && waiting.is_empty() && !plan.watch {
            break Ok(());
        }
        tokio::select! {
            biased;
            _ = &mut ctrl_c => break Err(Failure::Interrupted),
            done = next_or_flush(&mut running, &shared.out), if !running.is_empty() => {
                if let Some(Err(e)) = done {
                    break Err(Failure::Io(e));
                }
                if let Some((slot, ended)) = waiting.pop_front() {
                    running.push(follow_job(shared, slot, ended));
                }
            }
            _ = watch.tick(), if plan.watch => {
                let Pick::Matching(m) = &plan.pick else { continue };
                // A failed listing is tried again at the next tick: the tails go on.
                let Ok(now) = select::matching(client, m).await else { continue };
                for (id, job) in now {
                    if shared.knows(&id) {
                        continue;
                    }
                    let slot = shared.add(id.clone());
                    let ended = job.status.is_terminal();
                    if running.len() < plan.max {
                        running.push(follow_job(shared, slot, ended));
                    } else {
                        eprintln!(
                            "agentctl: job {id} waits: {} logs are followed already (--max-log-requests)",
                            plan.max
                        );
                        waiting.push_back((slot, ended));
                    }
                }
            }
        }
    };
    // Dropping the tails still open closes their connections.
    drop(running);
    let mut flushed = Ok(());
    if matches!(result, Err(Failure::Interrupted)) && matches!(mode, Output::Json | Output::Jsonl) {
        flushed = interrupted(shared);
    }
    let flushed = flushed.and_then(|()| shared.out.borrow_mut().flush());
    let rows = shared.rows.borrow();
    summary(&rows);
    result?;
    flushed?;
    let ends: Vec<Ended> = rows.iter().filter_map(|r| r.end.clone()).collect();
    match combined(&ends) {
        crate::exit::OK => Ok(()),
        code => Err(Failure::Job {
            code,
            note: verdict(&ends),
        }),
    }
}

/// After Ctrl-C: an `interrupted` end object for each job still followed.
fn interrupted(shared: &Shared<'_>) -> io::Result<()> {
    let rows = shared.rows.borrow();
    let mut out = shared.out.borrow_mut();
    for r in rows.iter().filter(|r| r.end.is_none()) {
        let object = end_object(
            EndOf {
                job: Some(r.id.as_str()),
                end: "interrupted",
                status: None,
                filtered: Some(r.filtered),
                error: None,
            },
            r.counts,
        );
        writeln!(out, "{object}")?;
    }
    Ok(())
}

/// The jobs to follow at the start: the ids given, or the jobs that match; each with
/// whether it had ended (known only for `--tail N`, which needs it).
async fn initial(
    client: &AsyncAgentClient,
    plan: &ManyTail,
) -> Result<Vec<(JobId, bool)>, ClientError> {
    match &plan.pick {
        Pick::Ids(ids) => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let ended = match plan.start {
                    Start::Last(_) => crate::wait::read(client, id)
                        .await
                        .is_ok_and(|f| f.job.status.is_terminal()),
                    _ => false,
                };
                out.push((id.clone(), ended));
            }
            Ok(out)
        }
        Pick::Matching(m) => Ok(select::matching(client, m)
            .await?
            .into_iter()
            .map(|(id, job)| (id, job.status.is_terminal()))
            .collect()),
    }
}

/// Follows the log of job `slot` to its end, then reads its status. `Err` only when
/// writing the output failed, which ends every tail.
async fn follow_job(shared: &Shared<'_>, slot: usize, ended_at_start: bool) -> io::Result<()> {
    let id = shared.rows.borrow()[slot].id.clone();
    let tail = shared
        .client
        .tail_job_logs(id.as_str(), shared.plan.opts.clone())
        .await;
    let mut tail = match tail {
        Ok(t) => t,
        Err(e) => {
            let f = Failure::Client(e);
            return shared.end(slot, Ended::from_failure(&f), Some(&f));
        }
    };
    tracing::info!(job = %id, protocol = %tail.protocol_used(), "tail opened");
    let mut job = JobOut {
        tag: shared.tag(slot),
        window: Window::new(shared.plan.start),
        start_known: false,
        counts: Counts::default(),
        filtered: 0,
    };
    let mut lines = Vec::new();
    loop {
        let got = if job.window.holding() && !ended_at_start {
            match tokio::time::timeout(SETTLE, next_batch(&mut tail, &mut lines)).await {
                Ok(got) => got,
                Err(_) => {
                    job.settle(shared)?;
                    shared.count(slot, job.counts, job.filtered);
                    continue;
                }
            }
        } else {
            next_batch(&mut tail, &mut lines).await
        };
        if !job.start_known {
            // Known from the tail's first event, before its first line.
            if let Some(honoured) = tail.start_honoured() {
                job.start_known = true;
                if honoured {
                    job.window.honoured();
                }
            }
        }
        let step = job.batch(shared, &mut lines, got)?;
        job.counts.skipped = tail.counters().skipped_oversized;
        shared.count(slot, job.counts, job.filtered);
        match step {
            Step::More => {}
            Step::Failed(e) => {
                let f = Failure::Client(e);
                return shared.end(slot, Ended::from_failure(&f), Some(&f));
            }
            Step::Complete => {
                drop(tail);
                return match crate::wait::after_log(shared.client, &id).await {
                    Ok(f) => shared.end(slot, Ended::Status(f.job.status), None),
                    Err(f) => shared.end(slot, Ended::from_failure(&f), Some(&f)),
                };
            }
        }
    }
}

/// What a batch of a tail came to.
enum Step {
    /// More may come.
    More,
    /// The tail failed.
    Failed(ClientError),
    /// The log is complete.
    Complete,
}

/// One job's output state: its tag, where it starts, what it printed.
struct JobOut {
    tag: Tag,
    window: Window,
    /// Whether the tail told yet if the server honoured the start.
    start_known: bool,
    counts: Counts,
    filtered: u64,
}

impl JobOut {
    /// Writes a batch of the tail (at most [`FLUSH_EVERY`] lines), then what
    /// followed it (`got`), holding the one writer for the whole batch: synchronous,
    /// so no other tail writes in between; the main loop flushes once every tail
    /// waits.
    fn batch(
        &mut self,
        shared: &Shared<'_>,
        lines: &mut Vec<String>,
        got: Option<Result<(), ClientError>>,
    ) -> io::Result<Step> {
        let mut out = shared.out.borrow_mut();
        for line in lines.drain(..) {
            if let Some(line) = self.window.offer(line) {
                shared.line(*out, &self.tag, &line, &mut self.counts, &mut self.filtered)?;
            }
        }
        match got {
            Some(Ok(())) => Ok(Step::More),
            Some(Err(e)) => Ok(Step::Failed(e)),
            None => {
                self.release(shared, *out)?;
                Ok(Step::Complete)
            }
        }
    }

    /// `--tail N` of a running job whose log went quiet: the lines held back go out.
    fn settle(&mut self, shared: &Shared<'_>) -> io::Result<()> {
        let mut out = shared.out.borrow_mut();
        self.release(shared, *out)
    }

    /// Writes the lines the window held back; from now on every line passes.
    fn release(&mut self, shared: &Shared<'_>, out: &mut dyn Write) -> io::Result<()> {
        for line in self.window.settle() {
            shared.line(out, &self.tag, &line, &mut self.counts, &mut self.filtered)?;
        }
        Ok(())
    }
}

/// The next tail to end; whenever none has anything ready, the output is flushed
/// (so a pipe sees lines at once, and a busy log is not a system call per batch).
async fn next_or_flush<F>(
    running: &mut FuturesUnordered<F>,
    out: &RefCell<&mut dyn Write>,
) -> Option<io::Result<()>>
where
    F: std::future::Future<Output = io::Result<()>>,
{
    poll_fn(|cx| match running.poll_next_unpin(cx) {
        Poll::Pending => match out.borrow_mut().flush() {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Some(Err(e))),
        },
        ready => ready,
    })
    .await
}

/// The tail's next batch (at most [`FLUSH_EVERY`] lines) into `lines`; see
/// [`LogTail::poll_next_batch`]. Cancel-safe: what was read is in `lines`.
async fn next_batch(
    tail: &mut LogTail,
    lines: &mut Vec<String>,
) -> Option<Result<(), ClientError>> {
    poll_fn(|cx| tail.poll_next_batch(cx, lines, FLUSH_EVERY)).await
}

/// One line per job on stderr: id, status (or what failed), lines printed.
fn summary(rows: &[Row]) {
    let width = rows.iter().map(|r| r.id.as_str().len()).max().unwrap_or(0);
    let mut err = io::stderr().lock();
    for r in rows {
        let (status, why) = match &r.end {
            Some(Ended::Status(s)) => (s.as_str().to_owned(), String::new()),
            Some(Ended::Failed { code, message }) => {
                (format!("error(exit {code})"), format!(": {message}"))
            }
            None => ("interrupted".to_owned(), String::new()),
        };
        let mut extra = Vec::new();
        if r.filtered > 0 {
            extra.push(format!("{} filtered", r.filtered));
        }
        if r.counts.skipped > 0 {
            extra.push(format!("{} oversized skipped", r.counts.skipped));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        let line = format!(
            "agentctl: {:width$}  {status:9}  {} lines{extra}{why}",
            r.id.as_str(),
            r.counts.delivered
        );
        let _ = writeln!(err, "{}", crate::exit::plain_line("", &line, &[]));
    }
}
