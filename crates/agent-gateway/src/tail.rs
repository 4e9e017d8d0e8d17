//! Exactly-once log tails on top of Ray's lossy tail WebSocket.
//!
//! Ray's `/api/jobs/{id}/logs/tail` is known to lose the last lines of a job that
//! finishes (ray #46413, #48701) and to close the socket, with a normal close code,
//! while the job still runs (#60665); each new socket replays the log from its
//! first line. The gateway therefore:
//!
//! - re-splits Ray's batches into whole lines ([`crate::lines::LineSplitter`]);
//! - counts the lines it has sent; on a new socket it skips that many lines;
//! - watches the job's status while it streams, and once the job is terminal takes
//!   its final log from `/api/jobs/{id}/logs`, sends the lines past those already
//!   sent (the lines Ray's socket lost, and a last line without a newline), and
//!   only then sends `complete`.
//!
//! [`TailTracker`] is that bookkeeping without I/O; [`run_tail`] drives it against
//! a [`RayClient`].

use crate::lines::{split_log, LineSplitter};
use crate::ray::RayClient;
use agent_proto::JobId;
use agent_transport::WsMessage;
use std::time::Duration;
use tokio::sync::mpsc;

/// The exactly-once bookkeeping of one tail, without I/O.
///
/// ```
/// use agent_gateway::tail::TailTracker;
///
/// let mut t = TailTracker::new();
/// let mut out = Vec::new();
/// t.frame("a\nb\nc", &mut |l| out.push(l.to_owned()));   // Ray sends a batch...
/// t.reconnect();                                          // ...and closes early
/// t.frame("a\nb\nc\nd\n", &mut |l| out.push(l.to_owned())); // the new socket replays
/// t.finish("a\nb\nc\nd\ne\nlast", &mut |l| out.push(l.to_owned())); // Ray lost "e" and "last"
/// assert_eq!(out, ["a", "b", "c", "d", "e", "last"]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct TailTracker {
    splitter: LineSplitter,
    /// Lines handed out so far (blank ones included: they are counted, not sent).
    sent: u64,
    /// Whole lines seen on the current socket.
    seen: u64,
    finished: bool,
}

impl TailTracker {
    /// A tail that has sent nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new socket starts, which replays the log from its first line.
    pub fn reconnect(&mut self) {
        self.splitter.reset();
        self.seen = 0;
    }

    /// One text frame of the current socket: calls `on_line` for each whole line
    /// not sent before.
    pub fn frame<F: FnMut(&str)>(&mut self, text: &str, on_line: &mut F) {
        if self.finished {
            return;
        }
        let (seen, sent) = (&mut self.seen, &mut self.sent);
        self.splitter.push(text, &mut |line| {
            *seen += 1;
            if *seen > *sent {
                *sent += 1;
                on_line(line);
            }
        });
    }

    /// The job is terminal and `final_log` is its whole log: calls `on_line` for
    /// every line not sent yet (the unterminated last line included). After this
    /// the tail is complete and frames are ignored.
    pub fn finish<F: FnMut(&str)>(&mut self, final_log: &str, on_line: &mut F) {
        if self.finished {
            return;
        }
        let mut index = 0u64;
        for line in split_log(final_log) {
            index += 1;
            if index > self.sent {
                on_line(line);
            }
        }
        self.sent = self.sent.max(index);
        self.finished = true;
    }

    /// How many lines have been handed out.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// True once [`finish`](Self::finish) ran.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// What a tail hands to the serving layer.
#[derive(Debug, Clone, PartialEq)]
pub enum TailEvent {
    /// One line of the log (never empty: blank lines are counted, not sent).
    Line(String),
    /// The job is terminal and every line of its final log was sent.
    Complete,
    /// The tail failed; the message is Ray's or the gateway's, never a stack trace.
    Error(String),
}

/// How a tail paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailSettings {
    /// How often the job's status is read while its socket streams.
    pub status_interval: Duration,
    /// The wait before opening a new socket after Ray closed one early.
    pub reconnect_delay: Duration,
    /// How many sockets in a row may fail to open before the tail fails.
    pub max_failed_connects: u32,
    /// The largest Ray frame accepted whole (a larger one ends the socket and the
    /// tail carries on from the final log).
    pub max_frame: usize,
    /// How many events may wait for a slow consumer.
    pub queue: usize,
}

impl Default for TailSettings {
    fn default() -> Self {
        TailSettings {
            status_interval: Duration::from_millis(500),
            reconnect_delay: Duration::from_millis(250),
            max_failed_connects: 40,
            max_frame: 16 * 1024 * 1024,
            queue: 1024,
        }
    }
}

/// Lines handed to the channel; false once the consumer went away.
struct Sink {
    tx: mpsc::Sender<TailEvent>,
    open: bool,
    batch: Vec<String>,
}

impl Sink {
    fn collect(&mut self, line: &str) {
        if !line.is_empty() {
            self.batch.push(line.to_owned());
        }
    }

    async fn flush(&mut self) -> bool {
        for line in self.batch.drain(..) {
            if self.open && self.tx.send(TailEvent::Line(line)).await.is_err() {
                self.open = false;
            }
        }
        self.open
    }

    async fn send(&mut self, event: TailEvent) -> bool {
        if self.open && self.tx.send(event).await.is_err() {
            self.open = false;
        }
        self.open
    }
}

/// Starts a tail of `job` and returns its events; the task ends when the log is
/// complete, the tail fails, or the receiver is dropped (the task is aborted when
/// the returned guard drops).
///
/// The job must exist: call [`RayClient::get_job`] first to answer a 404 before
/// the stream starts.
pub fn spawn_tail(ray: RayClient, job: JobId, settings: TailSettings) -> TailHandle {
    let (tx, rx) = mpsc::channel(settings.queue.max(1));
    let task = tokio::spawn(async move {
        run_tail(&ray, &job, tx, settings).await;
    });
    TailHandle { rx, task }
}

/// The events of a running tail; dropping it stops the tail.
#[derive(Debug)]
pub struct TailHandle {
    rx: mpsc::Receiver<TailEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl TailHandle {
    /// The next event; `None` after `Complete` or `Error`.
    pub async fn next(&mut self) -> Option<TailEvent> {
        self.rx.recv().await
    }

    /// Polls for the next event (for `Stream` adapters).
    pub fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<TailEvent>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for TailHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How a socket ended.
enum SocketEnd {
    /// The job is terminal (seen while streaming or right after the socket closed).
    Terminal,
    /// Ray closed the socket (or it broke) while the job still runs.
    Early,
    /// The consumer went away.
    Gone,
}

/// Drives one tail to its end: the loop described in the module docs.
pub async fn run_tail(
    ray: &RayClient,
    job: &JobId,
    tx: mpsc::Sender<TailEvent>,
    settings: TailSettings,
) {
    let mut sink = Sink {
        tx,
        open: true,
        batch: Vec::new(),
    };
    let mut tracker = TailTracker::new();
    let mut failed_connects = 0u32;
    loop {
        tracker.reconnect();
        let end = match ray.tail_socket(job, settings.max_frame).await {
            Ok(mut socket) => {
                failed_connects = 0;
                let end =
                    stream_socket(ray, job, &mut *socket, &mut tracker, &mut sink, &settings).await;
                drop(socket);
                end
            }
            Err(err) => {
                failed_connects += 1;
                match ray.get_job(job).await {
                    Ok(j) if j.status.is_terminal() => SocketEnd::Terminal,
                    Ok(_) if failed_connects < settings.max_failed_connects => SocketEnd::Early,
                    Ok(_) => {
                        sink.send(TailEvent::Error(format!(
                            "could not open Ray's log tail after {failed_connects} tries: {err}"
                        )))
                        .await;
                        return;
                    }
                    Err(e) => {
                        sink.send(TailEvent::Error(e.to_string())).await;
                        return;
                    }
                }
            }
        };
        match end {
            SocketEnd::Gone => return,
            SocketEnd::Early => {
                tokio::time::sleep(settings.reconnect_delay).await;
                continue;
            }
            SocketEnd::Terminal => {
                match ray.job_logs(job).await {
                    Ok(log) => {
                        tracker.finish(&log, &mut |l| sink.collect(l));
                        if sink.flush().await {
                            sink.send(TailEvent::Complete).await;
                        }
                    }
                    Err(e) => {
                        if sink.flush().await {
                            sink.send(TailEvent::Error(format!(
                                "the job is finished but its final log could not be read: {e}"
                            )))
                            .await;
                        }
                    }
                }
                return;
            }
        }
    }
}

/// Reads one socket until it ends, reading the job's status every
/// `status_interval` so that a finished job completes without waiting for Ray.
async fn stream_socket(
    ray: &RayClient,
    job: &JobId,
    socket: &mut dyn agent_transport::WsStream,
    tracker: &mut TailTracker,
    sink: &mut Sink,
    settings: &TailSettings,
) -> SocketEnd {
    let mut ticks = tokio::time::interval(settings.status_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        // `next_message` is cancel-safe (the Transport contract), so racing it
        // against the status timer loses nothing.
        let message = tokio::select! {
            m = socket.next_message() => Some(m),
            _ = ticks.tick() => None,
        };
        match message {
            None => {
                if is_terminal(ray, job).await {
                    return SocketEnd::Terminal;
                }
            }
            Some(Ok(Some(WsMessage::Text(bytes)))) => {
                let text = String::from_utf8_lossy(&bytes);
                tracker.frame(&text, &mut |l| sink.collect(l));
                if !sink.flush().await {
                    return SocketEnd::Gone;
                }
            }
            Some(Ok(Some(WsMessage::KeepAlive))) => {}
            Some(Ok(Some(WsMessage::Oversized { .. }))) => {
                // Counting is lost on this socket: finish from the final log.
                return wait_terminal(ray, job, settings, sink).await;
            }
            Some(Ok(None)) | Some(Err(_)) => {
                return if is_terminal(ray, job).await {
                    SocketEnd::Terminal
                } else {
                    SocketEnd::Early
                };
            }
        }
    }
}

async fn is_terminal(ray: &RayClient, job: &JobId) -> bool {
    matches!(ray.get_job(job).await, Ok(j) if j.status.is_terminal())
}

async fn wait_terminal(
    ray: &RayClient,
    job: &JobId,
    settings: &TailSettings,
    sink: &mut Sink,
) -> SocketEnd {
    loop {
        if is_terminal(ray, job).await {
            return SocketEnd::Terminal;
        }
        if sink.tx.is_closed() {
            return SocketEnd::Gone;
        }
        tokio::time::sleep(settings.status_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(t: &mut TailTracker, frames: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for f in frames {
            t.frame(f, &mut |l| out.push(l.to_owned()));
        }
        out
    }

    #[test]
    fn the_fixture_tail_then_the_fixture_log_sends_each_line_once() {
        let frames = crate::test_fixtures::tail_frames();
        let frames: Vec<&str> = frames.iter().map(String::as_str).collect();
        let log = crate::test_fixtures::job_log();
        let log = log.as_str();
        let expected: Vec<&str> = split_log(log).collect();

        // Every way Ray can fail: lose the last k frames, close early after frame j
        // and replay on a new socket.
        for lost in 0..=frames.len() {
            for closed_after in 0..=(frames.len() - lost) {
                let mut t = TailTracker::new();
                let mut out = collect(&mut t, &frames[..closed_after]);
                t.reconnect();
                out.extend(collect(&mut t, &frames[..frames.len() - lost]));
                t.finish(log, &mut |l| out.push(l.to_owned()));
                assert_eq!(out, expected, "lost {lost}, closed after {closed_after}");
                assert_eq!(t.sent(), expected.len() as u64);
            }
        }
    }

    #[test]
    fn a_batch_cut_mid_line_is_not_sent_until_whole() {
        let mut t = TailTracker::new();
        let out = collect(&mut t, &["line 1\nli"]);
        assert_eq!(out, ["line 1"]);
        t.reconnect();
        let out = collect(&mut t, &["line 1\nline 2\n"]);
        assert_eq!(out, ["line 2"]);
    }

    #[test]
    fn finish_sends_the_unterminated_last_line_and_nothing_after() {
        let mut t = TailTracker::new();
        let mut out = collect(&mut t, &["a\nb\nlast"]);
        t.finish("a\nb\nlast", &mut |l| out.push(l.to_owned()));
        assert_eq!(out, ["a", "b", "last"]);
        assert!(t.is_finished());
        out.extend(collect(&mut t, &["more\n"]));
        t.finish("a\nb\nlast\nmore\n", &mut |l| out.push(l.to_owned()));
        assert_eq!(out, ["a", "b", "last"]);
    }

    #[test]
    fn an_empty_final_log_sends_nothing() {
        let mut t = TailTracker::new();
        let mut out = Vec::new();
        t.finish("", &mut |l| out.push(l.to_owned()));
        assert!(out.is_empty());
    }
}
