//! A job's whole log, from Ray's log-file API.
//!
//! Ray 2.60's Jobs API (`/api/jobs/{id}/logs`) answers the whole log in one JSON
//! string (a 2 GB log is a 2 GB answer) and fails with 500 when the log holds
//! invalid UTF-8. The log-file API streams the driver's log file
//! (`job-driver-{submission_id}.log` on the job's `driver_node_id`) as raw bytes
//! whatever its size or encoding, so the gateway reads that; the Jobs API is the
//! fallback only where the log-file API cannot serve the log, and the gateway's
//! log says so.
//!
//! **Rotation.** Ray may rotate the driver log by copy-then-truncate (ray PR
//! #65006): the active file is copied to `.1` (older copies one number up, the
//! oldest deleted past a backup count), then truncated. The job's log is then
//! its copies, oldest first, then the active file, and that is what every read
//! here serves ([`open_last`], [`open_copies`]): the whole log, `?tail=N` (whose
//! last lines may span a copy and the active file), the final log of a tail. A
//! rotation while a log is read shifts the names under the reader, so the reader
//! checks, after it opens a file and before it hands on a byte of it, that no
//! rotation came since the listing (the listing and the last [`PROBE_LINES`]
//! lines of `.1` unchanged), and again at the end (the active file is cut short by
//! a rotation while it is read): otherwise the read fails with
//! [`rotated_while_read`]'s error, no misplaced byte handed on, and the gateway's
//! log says so; a tail then reads again (its count of lines sent skips what it
//! already sent). A copy may end in the middle of a line that the next file
//! ends: the files' bytes are handed on as they are, so that line is whole again. Copies missing from the middle of the numbers are
//! lines truly gone: the read fails and says so, rather than renumbering.
//! Limits: a rotation is told from the last [`PROBE_LINES`] lines of a copy, so
//! a log whose consecutive copies end in the same lines is not told apart; the
//! deletion of the *oldest* copies is not visible in the names (a tail notices
//! it: [`crate::tail::TailTracker::lost`]).

use crate::backend::to_backend;
use crate::lines::{decode, Line, LineSplitter};
use crate::ray::{DriverLog, RayClient};
use crate::tail::SLICE;
use agent_proto::{Job, JobId};

use crate::GatewayError;
use agent_proto::ClientError;
use agent_server::LogBody;
use bytes::Bytes;
use futures_util::Stream;
use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hasher};
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Where a job's final log is read from.
pub enum LogSource {
    /// The log file's bytes, streamed.
    File(Box<dyn agent_transport::BodyStream>),
    /// The whole log from the Jobs API (the log-file API was unavailable).
    JobsApi(String),
}

impl std::fmt::Debug for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSource::File(_) => f.write_str("LogSource::File"),
            LogSource::JobsApi(log) => write!(f, "LogSource::JobsApi({} bytes)", log.len()),
        }
    }
}

/// The job's driver node, as Ray reports it (`driver_node_id`).
pub fn driver_node(job: &Job) -> Option<&str> {
    job.extra.get("driver_node_id").and_then(|v| v.as_str())
}

/// Opens the job's log: its files through the log-file API (the rotated copies,
/// oldest first, then the active file: one stream, see the module docs), or, where
/// that API cannot serve it, the Jobs API's whole answer (said on standard error;
/// Ray's Jobs API reads the active file only).
pub async fn open(ray: &RayClient, id: &JobId, job: &Job) -> Result<LogSource, GatewayError> {
    open_last(ray, id, job, None).await
}

/// [`open`], only the last `lines` lines when given: the log-file API reads them
/// from the end of the files (the active file's, then, when it holds fewer, the
/// copies'); the Jobs API's whole answer is cut to them.
pub async fn open_last(
    ray: &RayClient,
    id: &JobId,
    job: &Job,
    lines: Option<u64>,
) -> Result<LogSource, GatewayError> {
    // A driver started without the Jobs API (a plain `ray.init()` script) has no
    // submission id and so no `job-driver-*.log`.
    let source = match (job.submission_id.as_deref(), driver_node(job)) {
        (Some(submission), Some(node)) if !node.is_empty() => {
            // The active file opened first, then the copies listed: none at all
            // after the opening means no rotation came before it (a rotation leaves
            // a copy), so the common case costs one listing here and one at the end.
            match ray.driver_log_last(submission, Some(node), lines).await? {
                DriverLog::Stream(body) => {
                    let files = Files::list(ray, id, submission, node).await?;
                    if files.backups.is_empty() {
                        let plan = VecDeque::new();
                        DriverLog::Stream(Box::new(files.reader(ray, plan, Some(body))))
                    } else {
                        drop(body);
                        let plan = match lines {
                            None => files.whole(),
                            Some(n) => files.last_lines(ray, n).await?,
                        };
                        DriverLog::Stream(Box::new(files.reader(ray, plan, None)))
                    }
                }
                unavailable => unavailable,
            }
        }
        (Some(submission), node) => ray.driver_log_last(submission, node, lines).await?,
        (None, _) => DriverLog::Unavailable("the job has no submission id".into()),
    };
    match source {
        DriverLog::Stream(body) => Ok(LogSource::File(body)),
        DriverLog::Unavailable(why) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} agent-gateway: the log of job {id} is read through the Jobs API \
                 (/api/jobs/{id}/logs, the whole log in one answer): the log-file API is \
                 unavailable: {why}",
                crate::log::utc_now()
            );
            let log = ray.job_logs(id).await?;
            Ok(LogSource::JobsApi(match lines {
                Some(n) => last_lines(&log, n).to_owned(),
                None => log,
            }))
        }
    }
}

/// The job's whole log for `jobs/{id}/logs/`, streamed: the log file's bytes as
/// Ray sends them, handed on [`SLICE`] bytes at a time (the serving layer decodes
/// them, invalid UTF-8 becoming U+FFFD, and writes them as one JSON string), so a
/// log of any size costs one slice per answer. Where only the Jobs API can serve
/// the log, its whole answer is used, up to `max_fallback_bytes`.
///
/// An unknown job, an unreachable Ray or a refused log file fail here, before any
/// byte is sent; Ray breaking the file off (or going quiet for `chunk_timeout`)
/// breaks the answer off.
pub async fn stream_all(
    ray: &RayClient,
    id: &JobId,
    max_fallback_bytes: usize,
    chunk_timeout: Duration,
) -> Result<LogBody, GatewayError> {
    stream_last(ray, id, None, max_fallback_bytes, chunk_timeout).await
}

/// [`stream_all`], only the last `lines` lines when given (`jobs/{id}/logs/?tail=N`):
/// Ray's log-file API reads them from the end of the file (`lines=N`), never the
/// whole log.
pub async fn stream_last(
    ray: &RayClient,
    id: &JobId,
    lines: Option<u64>,
    max_fallback_bytes: usize,
    chunk_timeout: Duration,
) -> Result<LogBody, GatewayError> {
    let job = ray.get_job(id).await?;
    if lines == Some(0) {
        return Ok(LogBody::from(""));
    }
    match open_last(ray, id, &job, lines).await? {
        LogSource::JobsApi(log) => {
            if log.len() > max_fallback_bytes {
                return Err(GatewayError::Server {
                    status: 500,
                    message: format!(
                        "the log of job {id} is larger than the {max_fallback_bytes} bytes one \
                         Jobs API answer may hold; tail it instead (jobs/{id}/logs/stream/ \
                         streams any size)"
                    ),
                });
            }
            Ok(LogBody::from(log))
        }
        LogSource::File(mut body) => {
            // The first bytes are read here: what fails before any byte (a rotation
            // noticed, a copy Ray refuses) is this answer's status, not a broken body.
            let Some(first) = next_chunk(&mut *body, chunk_timeout).await? else {
                return Ok(LogBody::from(""));
            };
            let state = (body, first, false);
            let pieces =
                futures_util::stream::unfold(state, move |(mut body, mut rest, done)| async move {
                    if done {
                        return None;
                    }
                    if rest.is_empty() {
                        match next_chunk(&mut *body, chunk_timeout).await {
                            Ok(Some(chunk)) => rest = chunk,
                            Ok(None) => return None,
                            Err(e) => return Some((Err(to_backend(e)), (body, rest, true))),
                        }
                    }
                    let slice = rest.split_to(rest.len().min(SLICE));
                    Some((Ok(slice), (body, rest, false)))
                });
            Ok(LogBody::wrap_stream(pieces))
        }
    }
}

/// A log as tail events, one line each (an empty or too long line as an empty
/// message, so that every line of the file is one event), then `complete`; Ray
/// breaking the file off (or going quiet for `chunk_timeout`) is an `error`.
pub fn line_events(
    source: LogSource,
    max_line: usize,
    chunk_timeout: Duration,
) -> agent_server::TailStream {
    use agent_server::TailEvent;
    use std::collections::VecDeque;

    fn push(out: &mut VecDeque<TailEvent>, line: Line<'_>) {
        out.push_back(TailEvent::Log(match line {
            Line::Whole(b) => decode(b).into_owned(),
            Line::Oversized(_) => String::new(),
        }));
    }

    let mut splitter = LineSplitter::new(max_line);
    let mut ready = VecDeque::new();
    let body = match source {
        LogSource::File(body) => Some(body),
        LogSource::JobsApi(log) => {
            splitter.push(log.as_bytes(), &mut |l| push(&mut ready, l));
            splitter.finish(&mut |l| push(&mut ready, l));
            ready.push_back(TailEvent::Complete);
            None
        }
    };
    let state = (body, splitter, ready);
    Box::pin(futures_util::stream::unfold(
        state,
        move |(mut body, mut splitter, mut ready)| async move {
            loop {
                if let Some(ev) = ready.pop_front() {
                    return Some((ev, (body, splitter, ready)));
                }
                let b = body.as_mut()?;
                match next_chunk(&mut **b, chunk_timeout).await {
                    Ok(Some(chunk)) => splitter.push(&chunk, &mut |l| push(&mut ready, l)),
                    Ok(None) => {
                        splitter.finish(&mut |l| push(&mut ready, l));
                        ready.push_back(TailEvent::Complete);
                        body = None;
                    }
                    Err(e) => {
                        let message = crate::redact::text(&e.to_string()).into_owned();
                        ready.push_back(TailEvent::Error(message));
                        body = None;
                    }
                }
            }
        },
    ))
}

/// The job's rotated copies only (`job-driver-{id}.log.N`, oldest first), as one
/// stream, and what they were when listed; `None` when the log has none (or Ray
/// cannot list them). A new tail socket of Ray replays the *active* file only:
/// after a rotation the lines before it are these, which a tail reads first
/// ([`crate::tail`]); [`Listed::unchanged`] then says whether a rotation happened
/// since (the socket would start elsewhere).
pub async fn open_copies(
    ray: &RayClient,
    id: &JobId,
    job: &Job,
) -> Result<Option<(Listed, Box<dyn agent_transport::BodyStream>)>, GatewayError> {
    let (Some(submission), Some(node)) = (job.submission_id.as_deref(), driver_node(job)) else {
        return Ok(None);
    };
    if node.is_empty() {
        return Ok(None);
    }
    let files = Files::list(ray, id, submission, node).await?;
    if files.backups.is_empty() {
        return Ok(None);
    }
    let mut plan = files.whole();
    plan.pop_back(); // not the active file
    let body = Box::new(files.clone().reader(ray, plan, None));
    Ok(Some((Listed(files), body)))
}

/// A job's rotated copies as one listing found them ([`open_copies`]).
#[derive(Debug, Clone)]
pub struct Listed(Files);

impl Listed {
    /// True when no rotation happened since the copies were listed: the listing and
    /// the newest copy's last lines are the same.
    pub async fn unchanged(&self, ray: &RayClient) -> Result<bool, GatewayError> {
        self.0.unchanged(ray).await
    }
}

/// How many of a file's last lines tell it apart from the file a rotation moves
/// under its name.
pub const PROBE_LINES: u64 = 16;

/// The error of a read that a rotation of the log disturbed (503: read it again).
pub fn rotated_while_read(id: &JobId) -> GatewayError {
    GatewayError::Unavailable {
        message: format!(
            "Ray rotated the log of job {id} while the gateway read it; read it again"
        ),
    }
}

/// One file of a job's log and how much of it to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    /// The rotated copy `.N`, or the active file.
    backup: Option<u32>,
    /// Its last lines only (`lines=N`), or all of it.
    lines: Option<u64>,
}

/// A job's log files on its driver node, as one listing found them.
#[derive(Debug, Clone)]
struct Files {
    id: JobId,
    submission: String,
    node: String,
    /// The rotated copies' numbers, oldest (highest) first.
    backups: Vec<u32>,
    /// The newest copy's last lines when listed (`None` without copies).
    newest: Option<Vec<u64>>,
}

impl Files {
    /// Lists the job's copies and reads the newest one's last lines; fails when
    /// some are missing from the middle of the numbers (their lines are gone). A
    /// Ray that cannot list them has none.
    async fn list(
        ray: &RayClient,
        id: &JobId,
        submission: &str,
        node: &str,
    ) -> Result<Files, GatewayError> {
        let mut files = Files {
            id: id.clone(),
            submission: submission.to_owned(),
            node: node.to_owned(),
            backups: Vec::new(),
            newest: None,
        };
        files.backups = files.names(ray).await?;
        if !files.backups.is_empty() {
            files.newest = Some(files.probe(ray, 1).await?);
        }
        Ok(files)
    }

    /// The copies' numbers as Ray lists them now, oldest first (see [`Files::list`]).
    async fn names(&self, ray: &RayClient) -> Result<Vec<u32>, GatewayError> {
        let (id, submission) = (&self.id, &self.submission);
        let backups = match ray.driver_log_backups(submission, &self.node).await {
            Ok(Some(b)) => b,
            Ok(None) => Vec::new(),
            Err(e) if e.status_code() == 503 => return Err(e),
            Err(e) => {
                note(
                    id,
                    &format!("the listing of its rotated copies failed ({e}); read as not rotated"),
                );
                Vec::new()
            }
        };
        // `.1` to `.K` without a hole: a missing one is a copy deleted, its lines gone
        if let Some(missing) = (1..=backups.len() as u32).find(|k| !backups.contains(k)) {
            let message = format!(
                "lines of the log of job {id} are gone: Ray rotated it, and its copy \
                 job-driver-{submission}.log.{missing} no longer exists (copies {:?})",
                backups
            );
            note(id, &message);
            return Err(GatewayError::Server {
                status: 500,
                message,
            });
        }
        Ok(backups)
    }

    /// True when no rotation happened since the listing: the same copies, and the
    /// newest one ending as it did.
    async fn unchanged(&self, ray: &RayClient) -> Result<bool, GatewayError> {
        if self.names(ray).await? != self.backups {
            return Ok(false);
        }
        match &self.newest {
            None => Ok(true),
            Some(was) => Ok(*was == self.probe(ray, 1).await?),
        }
    }

    /// Every file whole: the copies, oldest first, then the active file.
    fn whole(&self) -> VecDeque<Part> {
        let copies = self.backups.iter().map(|&k| Part {
            backup: Some(k),
            lines: None,
        });
        copies
            .chain([Part {
                backup: None,
                lines: None,
            }])
            .collect()
    }

    /// The parts that hold the last `n` lines, newest file first: each file's last
    /// lines counted with `lines=` (nothing is held), until enough. A copy may end
    /// in the middle of a line (the copy was made mid-line) that the next file
    /// ends: that line is counted once, and read from its start.
    async fn last_lines(&self, ray: &RayClient, n: u64) -> Result<VecDeque<Part>, GatewayError> {
        let newest_first = std::iter::once(None).chain(self.backups.iter().rev().map(|&k| Some(k)));
        let mut plan = VecDeque::new();
        let mut need = n;
        // the file after this one was taken whole and is not empty: its first line
        // continues this one's last if this one ends mid-line
        let mut continued = false;
        for backup in newest_first {
            if need == 0 && !continued {
                break;
            }
            // two more than needed: enough to tell "more than needed" after the
            // line shared with the newer file is added
            let (got, ends_mid_line) = self.count(ray, backup, need + 2).await?;
            if got == 0 {
                continue; // an empty file: the newer file's first line goes on to the older
            }
            if continued && ends_mid_line {
                // the newer file starts with this one's last line: counted there,
                // read from here
                need += 1;
            } else if need == 0 {
                break;
            }
            if got > need {
                plan.push_front(Part {
                    backup,
                    lines: Some(need),
                });
                break;
            }
            plan.push_front(Part {
                backup,
                lines: None,
            });
            need -= got;
            continued = true;
        }
        Ok(plan)
    }

    async fn open(
        &self,
        ray: &RayClient,
        part: Part,
    ) -> Result<Box<dyn agent_transport::BodyStream>, GatewayError> {
        match ray
            .driver_log_file(&self.submission, Some(&self.node), part.backup, part.lines)
            .await?
        {
            DriverLog::Stream(body) => Ok(body),
            DriverLog::Unavailable(why) => Err(GatewayError::Server {
                status: 502,
                message: format!("the log of job {} can no longer be read: {why}", self.id),
            }),
        }
    }

    /// The last lines of a file, counted (at most `n`, read from the end), and
    /// whether the file ends in the middle of a line.
    async fn count(
        &self,
        ray: &RayClient,
        backup: Option<u32>,
        n: u64,
    ) -> Result<(u64, bool), GatewayError> {
        let part = Part {
            backup,
            lines: Some(n),
        };
        let mut body = self.open(ray, part).await?;
        let mut last = LastLines::default();
        let mut lines = 0u64;
        while let Some(chunk) = body.next_chunk().await? {
            lines += memchr::memchr_iter(b'\n', &chunk).count() as u64;
            last.push(&chunk);
        }
        // an unended last line counts too
        Ok((lines + u64::from(last.partial), last.partial))
    }

    /// The hashes of the last [`PROBE_LINES`] lines of copy `.backup`.
    async fn probe(&self, ray: &RayClient, backup: u32) -> Result<Vec<u64>, GatewayError> {
        let part = Part {
            backup: Some(backup),
            lines: Some(PROBE_LINES),
        };
        let mut body = self.open(ray, part).await?;
        let mut last = LastLines::default();
        while let Some(chunk) = body.next_chunk().await? {
            last.push(&chunk);
        }
        Ok(last.finish())
    }

    /// Reads `plan` as one stream, after `first`: the active file, opened before
    /// the listing found no copy (so already checked).
    fn reader(
        self,
        ray: &RayClient,
        plan: VecDeque<Part>,
        first: Option<Box<dyn agent_transport::BodyStream>>,
    ) -> RotatedBody {
        let reader = Reader {
            ray: ray.clone(),
            files: self,
            plan,
            checked: first.is_some(),
            current: first,
            done: false,
        };
        let stream = futures_util::stream::unfold(reader, |mut r| async move {
            match r.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), r)),
                Ok(None) => None,
                Err(e) => {
                    r.done = true;
                    Some((Err(to_client(e)), r))
                }
            }
        });
        RotatedBody(Box::pin(stream))
    }
}

/// The bytes of a job's log files read one after the other ([`Files::reader`]).
struct RotatedBody(Pin<Box<dyn Stream<Item = Result<Bytes, ClientError>> + Send>>);

impl Stream for RotatedBody {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl agent_transport::BodyStream for RotatedBody {}

/// The state of [`Files::reader`].
struct Reader {
    ray: RayClient,
    files: Files,
    plan: VecDeque<Part>,
    /// The file being read.
    current: Option<Box<dyn agent_transport::BodyStream>>,
    /// No rotation came between the listing and the opening of `current`.
    checked: bool,
    done: bool,
}

impl Reader {
    async fn next(&mut self) -> Result<Option<Bytes>, GatewayError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(body) = &mut self.current {
                // Opened first, then checked: no rotation since the listing means
                // the name opened held the file the listing saw; only then is a
                // byte of it handed on.
                if !self.checked {
                    if !self.files.unchanged(&self.ray).await? {
                        return Err(self.rotated());
                    }
                    self.checked = true;
                }
                match body.next_chunk().await? {
                    Some(chunk) => return Ok(Some(chunk)),
                    None => self.current = None,
                }
            }
            match self.plan.pop_front() {
                Some(part) => {
                    match self.files.open(&self.ray, part).await {
                        Ok(body) => self.current = Some(body),
                        // a copy deleted by a rotation since the listing: the rotation
                        // is the error (read again), not Ray's "no such file"
                        Err(e) => match self.files.unchanged(&self.ray).await {
                            Ok(false) => return Err(self.rotated()),
                            _ => return Err(e),
                        },
                    }
                    self.checked = false;
                }
                None => {
                    self.done = true;
                    // the active file was cut short if a rotation came while it was read
                    if !self.files.unchanged(&self.ray).await? {
                        return Err(self.rotated());
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn rotated(&self) -> GatewayError {
        note(
            &self.files.id,
            "Ray rotated the log while it was read (copy-then-truncate: the files' \
             names moved); the read stops before a misplaced line and is read again",
        );
        rotated_while_read(&self.files.id)
    }
}

/// The hashes of the last [`PROBE_LINES`] lines of bytes read piece by piece (an
/// unended last line included), without holding them.
#[derive(Debug, Default)]
struct LastLines {
    lines: VecDeque<u64>,
    current: DefaultHasher,
    /// Bytes of an unended line were read.
    partial: bool,
}

impl LastLines {
    fn push(&mut self, mut bytes: &[u8]) {
        while let Some(pos) = memchr::memchr(b'\n', bytes) {
            self.current.write(&bytes[..pos]);
            let hash = std::mem::take(&mut self.current).finish();
            if self.lines.len() as u64 == PROBE_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back(hash);
            self.partial = false;
            bytes = &bytes[pos + 1..];
        }
        if !bytes.is_empty() {
            self.current.write(bytes);
            self.partial = true;
        }
    }

    fn finish(mut self) -> Vec<u64> {
        if self.partial {
            if self.lines.len() as u64 == PROBE_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back(self.current.finish());
        }
        self.lines.into()
    }
}

/// A read's error as the transport's (what a log body's stream carries).
fn to_client(e: GatewayError) -> ClientError {
    match e {
        GatewayError::Client(e) => e,
        e if e.status_code() == 503 => ClientError::Unavailable {
            retry_after: None,
            message: e.message(),
        },
        e => ClientError::Server {
            status: e.status_code(),
            message: e.message(),
        },
    }
}

/// One line in the gateway's log about job `id`'s log.
fn note(id: &JobId, what: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{} agent-gateway: the log of job {id}: {what}",
        crate::log::utc_now()
    );
}

/// The last `n` lines of `log` (`\n`-ended lines plus an unended last one).
fn last_lines(log: &str, n: u64) -> &str {
    if n == 0 {
        return "";
    }
    // the newline that ends the line before the last `n`
    let body = log.strip_suffix('\n').unwrap_or(log);
    let mut start = 0;
    let mut seen = 0;
    for (i, b) in body.bytes().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                start = i + 1;
                break;
            }
        }
    }
    &log[start..]
}

/// The next chunk of a streamed log, within `timeout`.
pub async fn next_chunk(
    body: &mut dyn agent_transport::BodyStream,
    timeout: Duration,
) -> Result<Option<bytes::Bytes>, GatewayError> {
    match tokio::time::timeout(timeout, body.next_chunk()).await {
        Ok(result) => result.map_err(GatewayError::from),
        Err(_) => Err(GatewayError::Timeout {
            kind: agent_proto::TimeoutKind::Read,
            after: timeout,
        }),
    }
}
