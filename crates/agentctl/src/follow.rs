//! `jobs tail` and `plugins run --follow`: print a job's log as it is written.
//!
//! Each line is written as it arrives and the output is flushed whenever the tail
//! has nothing more ready, so a pipe sees lines at once and a fast log is not one
//! system call per line. When the log is complete, the job's status decides the exit
//! code (0 SUCCEEDED, 7 FAILED, 8 STOPPED; see [`crate::wait`]); Ctrl-C drops the
//! stream (closing its connection) and exits 130.

use crate::cli::Output;
use crate::exit::Failure;
use crate::render::Style;
use crate::spinner::Spinner;
use agent_client_async::{AsyncAgentClient, TailOptions};
use agent_proto::{ClientError, JobId};
use serde_json::Value;
use std::future::poll_fn;
use std::io::{self, Write};
use std::time::Duration;

/// The most lines written between two flushes while lines keep coming.
pub(crate) const FLUSH_EVERY: usize = 1024;

/// Writes one log line: as is (neutralized on a terminal), as a JSON string (json),
/// a `{"line": ...}` object (jsonl) or a YAML list item (yaml).
pub(crate) fn write_line(
    out: &mut dyn Write,
    mode: Output,
    style: &Style,
    line: &str,
) -> io::Result<()> {
    match mode {
        Output::Table | Output::Wide => out.write_all(style.log_line(line).as_bytes())?,
        Output::Json => serde_json::to_writer(&mut *out, line).map_err(io::Error::other)?,
        Output::Jsonl => serde_json::to_writer(&mut *out, &serde_json::json!({ "line": line }))
            .map_err(io::Error::other)?,
        Output::Yaml => {
            out.write_all(b"- ")?;
            serde_json::to_writer(&mut *out, line).map_err(io::Error::other)?;
        }
    }
    out.write_all(b"\n")
}

/// What a tail printed: lines delivered, lines skipped as oversized.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    /// Lines written.
    pub delivered: u64,
    /// Lines over --max-message-size, skipped.
    pub skipped: u64,
}

/// The last object of a `-o jsonl` tail (of each job, when there are several), its
/// fields in this order.
#[derive(serde::Serialize)]
struct End<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<&'a str>,
    end: &'a str,
    status: Option<&'a str>,
    delivered: u64,
    skipped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    filtered: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

/// The `error` member of an end object: the agent's status code, the exit code and
/// the message (`null` for Ctrl-C and a job's own outcome).
pub(crate) fn error_json(f: &Failure) -> Value {
    match f {
        Failure::Client(e) => serde_json::json!({
            "status_code": crate::exit::agent_status(e),
            "code": crate::exit::code_of(e),
            "message": crate::exit::describe(e),
        }),
        Failure::Local { code, message } => {
            serde_json::json!({ "status_code": null, "code": code, "message": message })
        }
        Failure::Io(e) => {
            serde_json::json!({ "status_code": null, "code": crate::exit::OTHER, "message": e.to_string() })
        }
        Failure::Interrupted | Failure::Job { .. } => Value::Null,
    }
}

/// What a tail's end object says besides its counts.
pub(crate) struct EndOf<'a> {
    /// The job, when the output holds several.
    pub job: Option<&'a str>,
    /// `complete`, `interrupted` or `error`.
    pub end: &'a str,
    /// The job's final status, when it was read.
    pub status: Option<&'a str>,
    /// Lines left out by --include / --exclude, when filters were given.
    pub filtered: Option<u64>,
    /// What failed.
    pub error: Option<Value>,
}

/// The last object of a `-o jsonl` tail.
pub(crate) fn end_object(of: EndOf<'_>, counts: Counts) -> String {
    let object = End {
        job: of.job,
        end: of.end,
        status: of.status,
        delivered: counts.delivered,
        skipped: counts.skipped,
        filtered: of.filtered,
        error: of.error,
    };
    serde_json::to_string(&object).unwrap_or_default()
}

/// The end object of a single-job tail.
fn single_end(end: &str, counts: Counts, status: Option<&str>, error: Option<&Failure>) -> String {
    end_object(
        EndOf {
            job: None,
            end,
            status,
            filtered: None,
            error: error.map(error_json),
        },
        counts,
    )
}

/// Follows the log of `id` until it is complete, then reads the job's final status:
/// `Ok` only when it SUCCEEDED.
pub async fn follow(
    client: &AsyncAgentClient,
    id: &JobId,
    opts: TailOptions,
    mode: Output,
    style: Style,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut counts = Counts::default();
    let logged = follow_log(client, id, opts, mode, style, out, &mut counts).await;
    let end = match logged {
        // Ctrl-C's handler is agentctl's from the first tail on: keep honouring it.
        Ok(()) => tokio::select! {
            biased;
            _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted),
            end = crate::wait::after_log(client, id) => end,
        },
        Err(e) => Err(e),
    };
    if mode == Output::Jsonl {
        let object = match &end {
            Ok(f) => single_end("complete", counts, Some(f.job.status.as_str()), None),
            Err(Failure::Interrupted) => single_end("interrupted", counts, None, None),
            Err(e) => single_end("error", counts, None, Some(e)),
        };
        writeln!(out, "{object}")?;
        out.flush()?;
    }
    crate::wait::outcome(id, &end?.job)
}

/// Follows the log of `id` until it is complete, an error ends it, or Ctrl-C.
async fn follow_log(
    client: &AsyncAgentClient,
    id: &JobId,
    opts: TailOptions,
    mode: Output,
    style: Style,
    out: &mut dyn Write,
    counts: &mut Counts,
) -> Result<(), Failure> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut spinner = Spinner::new(format!("waiting for the log of {id}"));
    let mut ticker = tokio::time::interval(Duration::from_millis(100));

    let open = client.tail_job_logs(id.as_str(), opts);
    tokio::pin!(open);
    let mut tail = loop {
        tokio::select! {
            biased;
            _ = &mut ctrl_c => return Err(Failure::Interrupted),
            tail = &mut open => break tail?,
            _ = ticker.tick(), if spinner.enabled() => spinner.tick(),
        }
    };
    spinner.set_label(format!(
        "waiting for the log of {id}; the job may be pending"
    ));
    let mut protocol = tail.protocol_used();
    tracing::info!(job = %id, protocol = %protocol, "tail opened");
    let mut batch = Vec::new();

    loop {
        tokio::select! {
            biased;
            _ = &mut ctrl_c => {
                spinner.clear();
                counts.skipped = tail.counters().skipped_oversized;
                drop(tail);
                let _ = out.flush();
                return Err(Failure::Interrupted);
            }
            got = poll_fn(|cx| tail.poll_next_batch(cx, &mut batch, FLUSH_EVERY)) => {
                spinner.reset();
                // Write what is ready now, then flush once.
                for line in batch.drain(..) {
                    write_line(out, mode, &style, &line)?;
                    counts.delivered += 1;
                }
                match got {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        out.flush()?;
                        counts.skipped = tail.counters().skipped_oversized;
                        return Err(Failure::Client(e));
                    }
                    None => {
                        out.flush()?;
                        note_fallback(&tail, &mut protocol, id);
                        let c = tail.counters();
                        tracing::debug!(
                            job = %id,
                            received = c.received,
                            delivered = c.delivered,
                            skipped_oversized = c.skipped_oversized,
                            replayed = c.replayed,
                            "log complete"
                        );
                        counts.skipped = c.skipped_oversized;
                        report(&tail);
                        return Ok(());
                    }
                }
                out.flush()?;
                note_fallback(&tail, &mut protocol, id);
                spinner.set_label(format!("waiting for more of the log of {id}"));
            }
            _ = ticker.tick(), if spinner.enabled() => spinner.tick(),
        }
    }
}

/// Logs (`-v`) a change of the protocol that delivers the log.
fn note_fallback(
    tail: &agent_client_async::LogTail,
    protocol: &mut agent_proto::Protocol,
    id: &JobId,
) {
    let now = tail.protocol_used();
    if now != *protocol {
        tracing::info!(job = %id, from = %protocol, to = %now, "tail protocol fallback");
        *protocol = now;
    }
}

/// Tells on stderr what the tail skipped (oversized lines), if anything.
fn report(tail: &agent_client_async::LogTail) {
    let c = tail.counters();
    if c.skipped_oversized > 0 {
        eprintln!(
            "agentctl: {} line(s) over --max-message-size were skipped ({} bytes)",
            c.skipped_oversized, c.skipped_bytes
        );
    }
}

/// The error when a plugin run's answer names no job to follow.
pub fn no_job_in(answer: &serde_json::Value) -> ClientError {
    let mut text = answer.to_string();
    if text.len() > 200 {
        let mut end = 200;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    ClientError::Decode {
        message: format!(
            "--follow: the agent's answer names no job (no job_id, submission_id or id): {text}"
        ),
    }
}
