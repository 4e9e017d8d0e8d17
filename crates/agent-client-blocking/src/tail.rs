//! [`LogTailIter`]: a log tail as a blocking iterator.

use crate::runtime::{closed, refuse_inside_runtime, RuntimeThread};
use agent_client_async::{LogTail, StreamCounters};
use agent_proto::{ClientError, Protocol};
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;

/// A job's log as it is written, as an iterator of lines, from
/// [`AgentClient::tail_job_logs`](crate::AgentClient::tail_job_logs).
///
/// Yields `Ok(line)` for each log line and ends (`None`) once the agent says the log
/// is complete. A failure (idle time-out 408, limit 429, `error` event 500,
/// connection lost 503, ...) is yielded once as `Err`, and the iterator ends after
/// it. `next()` blocks the calling thread until a line comes; the lines are read
/// and decoded on the calling thread, inside `next()`, at most `queue_size` lines
/// ahead of the caller (the client's own thread watches the socket and the timers).
///
/// Dropping the iterator closes the connection. Called inside an async runtime,
/// `next()` yields a 500 [`ClientError::Usage`] and the tail ends (nothing blocks).
///
/// ```no_run
/// use agent_client_blocking::{AgentClient, TailOptions};
///
/// let client = AgentClient::new("https://agent.example.com", "your-agent-token")?;
/// let mut tail = client.tail_job_logs("raysubmit_abc123", TailOptions::new())?;
/// let first_ten: Vec<String> = tail.by_ref().take(10).collect::<Result<_, _>>()?;
/// drop(tail); // closes the connection
/// # let _ = first_ten;
/// # Ok::<(), agent_client_blocking::ClientError>(())
/// ```
pub struct LogTailIter {
    /// `None` once refused inside a runtime.
    tail: Option<LogTail>,
    /// The lines of the last batch, last line first (handed out from the back):
    /// one wait per batch, not per line (a wait costs a waker, a lock and a
    /// context; per line that was a fifth of the iterator's CPU).
    ready: Vec<String>,
    /// What the tail said last, kept when it is dropped early.
    counters: StreamCounters,
    protocol: Protocol,
    /// Keeps the client's thread running while the tail is read.
    runtime: Arc<RuntimeThread>,
}

impl LogTailIter {
    pub(crate) fn new(tail: LogTail, runtime: Arc<RuntimeThread>) -> Self {
        LogTailIter {
            counters: tail.counters(),
            protocol: tail.protocol_used(),
            tail: Some(tail),
            ready: Vec::new(),
            runtime,
        }
    }

    /// What the tail received, delivered and skipped so far (see
    /// [`LogTail::counters`]); readable at any time, also after the end.
    pub fn counters(&self) -> StreamCounters {
        match &self.tail {
            Some(tail) => tail.counters(),
            None => self.counters,
        }
    }

    /// Whether the server honoured the tail's start (`TailOptions::start`), known
    /// from its first log event (see [`LogTail::start_honoured`]); `None` before
    /// it, and once refused inside a runtime.
    pub fn start_honoured(&self) -> Option<bool> {
        self.tail.as_ref().and_then(LogTail::start_honoured)
    }

    /// The protocol that delivers (or delivered) the lines: WebSocket or HTTP (it
    /// changes to HTTP when an `auto` tail falls back mid-stream).
    pub fn protocol_used(&self) -> Protocol {
        match &self.tail {
            Some(tail) => tail.protocol_used(),
            None => self.protocol,
        }
    }
}

impl Iterator for LogTailIter {
    type Item = Result<String, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(line) = self.ready.pop() {
            return Some(Ok(line));
        }
        let tail = self.tail.as_mut()?;
        if let Err(e) = refuse_inside_runtime() {
            self.counters = tail.counters();
            self.protocol = tail.protocol_used();
            self.tail = None;
            return Some(Err(e));
        }
        let ready = &mut self.ready;
        let max = tail.queue_size();
        let waited = self
            .runtime
            .poll_here(poll_fn(|cx| tail.poll_next_batch(cx, ready, max)));
        match waited {
            // A batch of lines, or (after every line) the error or the end.
            Some(Some(Ok(()))) => {
                self.ready.reverse();
                self.ready.pop().map(Ok)
            }
            Some(Some(Err(e))) => Some(Err(e)),
            Some(None) => None,
            None => {
                // The client was closed: its runtime may be gone, so the tail is not
                // polled again.
                self.counters = tail.counters();
                self.protocol = tail.protocol_used();
                self.tail = None;
                Some(Err(closed()))
            }
        }
    }
}

impl fmt::Debug for LogTailIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogTailIter")
            .field("protocol", &self.protocol_used())
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}
