//! A job's whole log, from Ray's log-file API.
//!
//! Ray 2.60's Jobs API (`/api/jobs/{id}/logs`) answers the whole log in one JSON
//! string (a 2 GB log is a 2 GB answer) and fails with 500 when the log holds
//! invalid UTF-8. The log-file API streams the driver's log file
//! (`job-driver-{submission_id}.log` on the job's `driver_node_id`) as raw bytes
//! whatever its size or encoding, so the gateway reads that; the Jobs API is the
//! fallback only where the log-file API cannot serve the log, and the gateway's
//! log says so.

use crate::backend::to_backend;
use crate::lines::{decode, Line, LineSplitter};
use crate::ray::{DriverLog, RayClient};
use crate::tail::SLICE;
use agent_proto::{Job, JobId};

use crate::GatewayError;
use agent_server::LogBody;
use bytes::Bytes;
use std::io::Write;
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

/// Opens the job's log: the log file through the log-file API, or, where that API
/// cannot serve it, the Jobs API's whole answer (said on standard error).
pub async fn open(ray: &RayClient, id: &JobId, job: &Job) -> Result<LogSource, GatewayError> {
    open_last(ray, id, job, None).await
}

/// [`open`], only the last `lines` lines when given: the log-file API reads them
/// from the end of the file; the Jobs API's whole answer is cut to them.
pub async fn open_last(
    ray: &RayClient,
    id: &JobId,
    job: &Job,
    lines: Option<u64>,
) -> Result<LogSource, GatewayError> {
    // A driver started without the Jobs API (a plain `ray.init()` script) has no
    // submission id and so no `job-driver-*.log`.
    let source = match job.submission_id.as_deref() {
        Some(submission) => {
            ray.driver_log_last(submission, driver_node(job), lines)
                .await?
        }
        None => DriverLog::Unavailable("the job has no submission id".into()),
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
        LogSource::File(body) => {
            let state = (body, Bytes::new(), false);
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
