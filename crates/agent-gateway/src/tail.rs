//! Exactly-once log tails on top of Ray's lossy tail WebSocket.
//!
//! Ray's `/api/jobs/{id}/logs/tail` is known to lose the last lines of a job that
//! finishes (ray #46413, #48701), to close the socket, with a normal close code,
//! while the job still runs (#60665), and to close at once, sending nothing, when
//! the log holds invalid UTF-8; each new socket replays the log from its first
//! line. The gateway therefore:
//!
//! - re-splits Ray's batches into whole lines ([`crate::lines::LineSplitter`]);
//! - counts the lines it has sent; on a new socket it skips that many lines;
//! - watches the job's status while it streams, and once the job is terminal
//!   streams its final log from Ray's log-file API ([`crate::joblog`]), skipping
//!   the lines already sent and sending the rest (the lines Ray's socket lost, a
//!   last line without a newline, all of a log that is not UTF-8), and only then
//!   sends `complete`;
//! - after a rotation of the log (copy-then-truncate, ray PR #65006) a new socket
//!   replays the active file only: the copies before it are read first
//!   ([`crate::joblog::open_copies`]); a replay that does not start with the log's
//!   first line, or a final log shorter than what was sent, means lines are gone:
//!   the tail ends with an error rather than numbering other lines as theirs.
//!
//! Memory per tail does not grow with the log: the unfinished line is kept up to
//! [`TailSettings::max_message_size`] bytes (a longer line is skipped and counted,
//! as the clients do), at most [`TailSettings::queue`] lines wait for a slow
//! consumer, and Ray's bytes are handled [`SLICE`] bytes at a time. Bytes are
//! decoded as the clients decode them: invalid UTF-8 becomes U+FFFD.
//!
//! [`TailTracker`] is that bookkeeping without I/O; [`run_tail`] drives it against
//! a [`RayClient`].

use crate::joblog::{self, LogSource};
use crate::lines::{decode, Line, LineSplitter};
use crate::ray::RayClient;
use agent_proto::{Job, JobId};
use agent_transport::WsMessage;
use futures_util::future::OptionFuture;
use std::io::Write;
use std::time::Duration;
use tokio::sync::mpsc;

/// How many bytes of Ray's answer are split into lines before those lines are
/// handed on: bounds the lines collected at once, whatever the size of Ray's chunks.
pub const SLICE: usize = 16 * 1024;

/// The exactly-once bookkeeping of one tail, without I/O.
///
/// ```
/// use agent_gateway::tail::TailTracker;
///
/// let mut t = TailTracker::new(1024);
/// let mut out = Vec::new();
/// let mut keep = |l: agent_gateway::lines::Line<'_>| out.push(format!("{l:?}"));
/// t.frame(b"a\nb\nc", &mut keep);    // Ray sends a batch...
/// t.reconnect();                      // ...and closes early
/// t.frame(b"a\nb\nc\nd\n", &mut keep); // the new socket replays
/// t.finish(b"a\nb\nc\nd\ne\nlast", &mut keep); // Ray lost "e" and "last"
/// assert_eq!(out, ["Whole([97])", "Whole([98])", "Whole([99])", "Whole([100])",
///                  "Whole([101])", "Whole([108, 97, 115, 116])"]);
/// ```
#[derive(Debug, Clone)]
pub struct TailTracker {
    splitter: LineSplitter,
    /// Lines handed out so far (blank ones included: they are counted, not sent).
    sent: u64,
    /// Whole lines seen on the current socket (or in the final log).
    seen: u64,
    finished: bool,
    /// What every replay must agree with: the log's first line and the last line
    /// sent.
    witness: Witness,
}

/// The log's first line (its hash) and the last line sent (a copy, at most
/// `max_line` bytes): a replay of the log that does not start with the one, or
/// holds another line at the other's number, is not the log the lines were sent
/// from (a rotation deleted its start, or Ray's socket read a truncated file from
/// its old position): lines are gone, and nothing more is sent.
#[derive(Debug, Clone, Default)]
struct Witness {
    first: Option<u64>,
    last: Vec<u8>,
    /// The last line sent was too long to keep: its length.
    last_oversized: Option<u64>,
    /// False until this tail sends a line: one that starts after lines sent
    /// elsewhere ([`TailTracker::starting_after`]) has no last line to check.
    last_known: bool,
    lost: bool,
}

impl Witness {
    fn same_as_last(&self, line: Line<'_>) -> bool {
        if !self.last_known {
            return true;
        }
        match line {
            Line::Whole(b) => self.last_oversized.is_none() && self.last == b,
            Line::Oversized(n) => self.last_oversized == Some(n),
        }
    }

    fn keep_last(&mut self, line: Line<'_>) {
        self.last.clear();
        self.last_oversized = None;
        self.last_known = true;
        match line {
            Line::Whole(b) => self.last.extend_from_slice(b),
            Line::Oversized(n) => self.last_oversized = Some(n),
        }
    }
}

impl TailTracker {
    /// A tail that has sent nothing yet, keeping lines of up to `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        TailTracker {
            splitter: LineSplitter::new(max_line),
            sent: 0,
            seen: 0,
            finished: false,
            witness: Witness::default(),
        }
    }

    /// A tail that has already handed out lines 1 to `sent` elsewhere: it hands
    /// out the lines after them (a subscriber that carries on at line `sent + 1`).
    pub fn starting_after(max_line: usize, sent: u64) -> Self {
        TailTracker {
            sent,
            ..TailTracker::new(max_line)
        }
    }

    /// A new socket starts, which replays the log from its first line.
    pub fn reconnect(&mut self) {
        self.splitter.reset();
        self.seen = 0;
    }

    /// Bytes of the current socket (or of the final log): calls `on_line` for each
    /// whole line not sent before.
    pub fn frame<F: FnMut(Line<'_>)>(&mut self, bytes: &[u8], on_line: &mut F) {
        if self.finished || self.witness.lost {
            return;
        }
        let (seen, sent, witness) = (&mut self.seen, &mut self.sent, &mut self.witness);
        self.splitter
            .push(bytes, &mut |line| count(line, seen, sent, witness, on_line));
    }

    /// True when a replay of the log (a socket's, the final log's) started with
    /// another first line than the one sent (a rotation deleted the log's start) or
    /// held another line at the number of the last one sent, or the final log holds
    /// fewer lines than were sent: lines are gone, and the tail says so rather than
    /// numbering other lines as theirs.
    pub fn lost(&self) -> bool {
        self.witness.lost || (self.finished && self.seen < self.sent)
    }

    /// The final log starts: it is read from its first line, like a new socket.
    pub fn final_start(&mut self) {
        self.reconnect();
    }

    /// The final log ended: calls `on_line` for its unterminated last line if not
    /// sent yet. After this the tail is complete and frames are ignored.
    pub fn final_end<F: FnMut(Line<'_>)>(&mut self, on_line: &mut F) {
        if self.finished || self.witness.lost {
            return;
        }
        let (seen, sent, witness) = (&mut self.seen, &mut self.sent, &mut self.witness);
        self.splitter
            .finish(&mut |line| count(line, seen, sent, witness, on_line));
        self.finished = true;
    }

    /// Whether the final log read so far holds fewer lines than were sent.
    pub fn short(&self) -> bool {
        self.seen < self.sent
    }

    /// The job is terminal and `final_log` is its whole log: calls `on_line` for
    /// every line not sent yet (the unterminated last line included).
    pub fn finish<F: FnMut(Line<'_>)>(&mut self, final_log: &[u8], on_line: &mut F) {
        self.final_start();
        self.frame(final_log, on_line);
        self.final_end(on_line);
    }

    /// How many lines have been handed out.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// True once the final log was read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Bytes held for an unfinished line.
    pub fn buffered(&self) -> usize {
        self.splitter.buffered()
    }
}

/// One whole line of a replay: handed on when not sent before; the first one, and
/// the one at the number of the last one sent, checked against the [`Witness`].
fn count<F: FnMut(Line<'_>)>(
    line: Line<'_>,
    seen: &mut u64,
    sent: &mut u64,
    witness: &mut Witness,
    on_line: &mut F,
) {
    if witness.lost {
        return;
    }
    *seen += 1;
    if *seen == 1 {
        use std::hash::{DefaultHasher, Hasher};
        let mut h = DefaultHasher::new();
        match line {
            Line::Whole(b) => h.write(b),
            Line::Oversized(n) => h.write_u64(n),
        }
        let h = h.finish();
        match witness.first {
            Some(was) if was != h => {
                witness.lost = true;
                return;
            }
            Some(_) => {}
            None => witness.first = Some(h),
        }
    }
    if *seen == *sent && !witness.same_as_last(line) {
        witness.lost = true;
        return;
    }
    if *seen > *sent {
        *sent += 1;
        witness.keep_last(line);
        on_line(line);
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

/// How a tail paces and bounds itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailSettings {
    /// How often the job's status is read while its socket streams.
    pub status_interval: Duration,
    /// The wait before opening a new socket after Ray closed one early.
    pub reconnect_delay: Duration,
    /// How many sockets in a row may fail to open before the tail fails.
    pub max_failed_connects: u32,
    /// The frame cap of Ray's socket (at least
    /// [`agent_transport::MAX_WS_FRAME_SIZE`]): a larger single frame ends the
    /// socket and the tail carries on from the final log; frames below it, and
    /// fragmented messages of any size, are read piece by piece.
    pub max_frame: usize,
    /// The longest line sent, in bytes; a longer one is skipped and counted (the
    /// clients' default `max_message_size` is 10 KiB, their most 1 MiB).
    pub max_message_size: usize,
    /// How many lines may wait for a slow consumer.
    pub queue: usize,
    /// The longest wait for the next bytes of the final log.
    pub read_timeout: Duration,
}

impl Default for TailSettings {
    fn default() -> Self {
        TailSettings {
            status_interval: Duration::from_millis(500),
            reconnect_delay: Duration::from_millis(250),
            max_failed_connects: 40,
            max_frame: 4 * 1024 * 1024,
            max_message_size: crate::lines::DEFAULT_MAX_LINE,
            queue: 64,
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Lines handed to the channel; false once the consumer went away.
struct Sink {
    tx: mpsc::Sender<TailEvent>,
    open: bool,
    batch: Vec<String>,
    /// Lines longer than `max_message_size`, skipped.
    skipped: u64,
}

impl Sink {
    fn collect(&mut self, line: Line<'_>) {
        match line {
            // Every line of the file is sent, so that the serving layer's numbers
            // are the file's: an empty line as an empty message, and a line too
            // long to send as an empty one too (clients skip empty messages).
            Line::Whole(b) => self.batch.push(decode(b).into_owned()),
            Line::Oversized(_) => {
                self.skipped += 1;
                self.batch.push(String::new());
            }
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
    spawn_tail_after(ray, job, settings, 0, ())
}

/// [`spawn_tail`] for a subscriber that already has lines 1 to `sent`: its events
/// start at line `sent + 1` (Ray's socket and final log are still read from their
/// first line: the tracker skips the lines before). `guard` lives as long as the
/// tail's task (a gauge of open Ray streams, say).
pub fn spawn_tail_after<G: Send + 'static>(
    ray: RayClient,
    job: JobId,
    settings: TailSettings,
    sent: u64,
    guard: G,
) -> TailHandle {
    let (tx, rx) = mpsc::channel(settings.queue.max(1));
    let task = tokio::spawn(async move {
        let _guard = guard;
        let tracker = TailTracker::starting_after(settings.max_message_size, sent);
        run_tail_with(&ray, &job, tx, settings, tracker, &mut ()).await;
    });
    TailHandle { rx, task }
}

/// Where the raw bytes of a tail's final log go as they are read (the hub keeps
/// a byte-exact copy of a finished job's log: [`crate::hub`]).
pub trait FinalLogCopy: Send {
    /// A read of the final log of `job` (terminal) starts, from byte 0: a retried
    /// read starts over.
    fn start(&mut self, job: &Job);
    /// The next bytes of the final log, as Ray sent them.
    fn bytes(&mut self, bytes: &[u8]);
}

/// No copy.
impl FinalLogCopy for () {
    fn start(&mut self, _job: &Job) {}
    fn bytes(&mut self, _bytes: &[u8]) {}
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
    /// The job is terminal (seen while streaming or right after the socket closed):
    /// its info as Ray answered it then (the final log is read without asking again).
    Terminal(Box<Job>),
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
    let tracker = TailTracker::new(settings.max_message_size);
    run_tail_with(ray, job, tx, settings, tracker, &mut ()).await;
}

/// [`run_tail`] from `tracker` (a preset count: lines already delivered), copying
/// the final log's raw bytes to `copy`.
pub async fn run_tail_with(
    ray: &RayClient,
    job: &JobId,
    tx: mpsc::Sender<TailEvent>,
    settings: TailSettings,
    mut tracker: TailTracker,
    copy: &mut dyn FinalLogCopy,
) {
    let mut sink = Sink {
        tx,
        open: true,
        batch: Vec::new(),
        skipped: 0,
    };
    let mut failed_connects = 0u32;
    loop {
        tracker.reconnect();
        // A new socket replays the active file only: after a rotation, the copies
        // before it are read first (from the log-file API).
        let copies = match feed_copies(ray, job, &mut tracker, &mut sink, &settings).await {
            Ok(Some(c)) => Some(c),
            Ok(None) if !sink.open => return,
            Ok(None) => None,
            // a rotation while they were read, or Ray failing: again, as a socket
            Err(e)
                if e.status_code() == 503 && failed_connects + 1 < settings.max_failed_connects =>
            {
                failed_connects += 1;
                tokio::time::sleep(settings.reconnect_delay).await;
                continue;
            }
            Err(e) => {
                sink.send(TailEvent::Error(e.to_string())).await;
                return;
            }
        };
        if tracker.lost() {
            gone(job, &tracker, &mut sink).await;
            return;
        }
        let end = match ray.tail_socket(job, settings.max_frame).await {
            Ok(mut socket) => {
                // a rotation since the copies were read: the socket starts elsewhere;
                // again, as after a failed connect (a rotation storm is bounded)
                if let Some(copies) = &copies {
                    if !copies.unchanged(ray).await.unwrap_or(false) {
                        drop(socket);
                        failed_connects += 1;
                        if failed_connects >= settings.max_failed_connects {
                            sink.send(TailEvent::Error(format!(
                                "Ray rotated the log of job {job} at every one of \
                                 {failed_connects} tries to follow it"
                            )))
                            .await;
                            return;
                        }
                        tokio::time::sleep(settings.reconnect_delay).await;
                        continue;
                    }
                }
                failed_connects = 0;
                let end =
                    stream_socket(ray, job, &mut *socket, &mut tracker, &mut sink, &settings).await;
                drop(socket);
                end
            }
            Err(err) => {
                failed_connects += 1;
                match ray.get_job(job).await {
                    Ok(j) if j.status.is_terminal() => SocketEnd::Terminal(Box::new(j)),
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
            SocketEnd::Terminal(info) => {
                let outcome =
                    final_log(ray, job, &info, &mut tracker, &mut sink, &settings, copy).await;
                if sink.skipped > 0 {
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "{} agent-gateway: tail of job {job}: skipped {} line(s) longer than {} bytes",
                        crate::log::utc_now(),
                        sink.skipped,
                        settings.max_message_size
                    );
                }
                match outcome {
                    Ok(()) if tracker.lost() => gone(job, &tracker, &mut sink).await,
                    Ok(()) => {
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

/// How many times reading the final log starts over after a broken answer (each
/// time from the first line, skipping the lines already sent).
const FINAL_LOG_TRIES: u32 = 3;

/// Sends the lines of the terminal job's final log not sent yet.
async fn final_log(
    ray: &RayClient,
    id: &JobId,
    job: &Job,
    tracker: &mut TailTracker,
    sink: &mut Sink,
    settings: &TailSettings,
    copy: &mut dyn FinalLogCopy,
) -> Result<(), crate::GatewayError> {
    let mut tries = 0;
    loop {
        tries += 1;
        tracker.final_start();
        copy.start(job);
        match joblog::open(ray, id, job).await? {
            LogSource::JobsApi(log) => {
                for slice in log.as_bytes().chunks(SLICE) {
                    copy.bytes(slice);
                    tracker.frame(slice, &mut |l| sink.collect(l));
                    if !sink.flush().await {
                        return Ok(());
                    }
                }
            }
            LogSource::File(mut body) => {
                let read = loop {
                    match joblog::next_chunk(&mut *body, settings.read_timeout).await {
                        Ok(Some(chunk)) => {
                            copy.bytes(&chunk);
                            for slice in chunk.chunks(SLICE) {
                                tracker.frame(slice, &mut |l| sink.collect(l));
                                if !sink.flush().await {
                                    return Ok(());
                                }
                            }
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                if let Err(e) = read {
                    if tries < FINAL_LOG_TRIES {
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        // Shorter than what was sent: a rotation moved lines away while it was read;
        // read again (a second short read: lines are gone, `lost`).
        if tracker.short() && tries < FINAL_LOG_TRIES {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} agent-gateway: tail of job {id}: the final log holds fewer lines than the \
                 {} sent (a rotation?); read again",
                crate::log::utc_now(),
                tracker.sent()
            );
            continue;
        }
        tracker.final_end(&mut |l| sink.collect(l));
        return Ok(());
    }
}

/// Ends a tail whose log lost lines ([`TailTracker::lost`]) with an error, said in
/// the gateway's log too.
async fn gone(job: &JobId, tracker: &TailTracker, sink: &mut Sink) {
    let message = format!(
        "lines of the log of job {job} are gone (Ray rotated the log and deleted its copy, \
         or it shrank): {} lines were sent, the log now starts or ends elsewhere",
        tracker.sent()
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "{} agent-gateway: tail of job {job}: {message}",
        crate::log::utc_now()
    );
    if sink.flush().await {
        sink.send(TailEvent::Error(message)).await;
    }
}

/// Reads the job's rotated copies into `tracker` before a new socket (which
/// replays the active file only); `None` when the log has none.
async fn feed_copies(
    ray: &RayClient,
    id: &JobId,
    tracker: &mut TailTracker,
    sink: &mut Sink,
    settings: &TailSettings,
) -> Result<Option<joblog::Listed>, crate::GatewayError> {
    let job = ray.get_job(id).await?;
    let Some((listed, mut body)) = joblog::open_copies(ray, id, &job).await? else {
        return Ok(None);
    };
    while let Some(chunk) = joblog::next_chunk(&mut *body, settings.read_timeout).await? {
        for slice in chunk.chunks(SLICE) {
            tracker.frame(slice, &mut |l| sink.collect(l));
            if !sink.flush().await {
                return Ok(None);
            }
        }
    }
    Ok(Some(listed))
}

/// Reads one socket until it ends, reading the job's status every
/// `status_interval` so that a finished job completes without waiting for Ray.
///
/// The status is read while the socket is: a slow answer from Ray's Jobs API never
/// holds back the lines (one status request at a time).
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
    let mut status = None;
    loop {
        // `next_message` is cancel-safe (the Transport contract), so racing it
        // against the status timer and the status request loses nothing; the
        // request in flight is polled through a reference, so it is not restarted.
        let message = tokio::select! {
            m = socket.next_message() => m,
            _ = ticks.tick(), if status.is_none() => {
                status = Some(Box::pin(terminal_job(ray, job)));
                continue;
            }
            Some(terminal) = OptionFuture::from(status.as_mut()) => {
                status = None;
                if let Some(info) = terminal {
                    return SocketEnd::Terminal(info);
                }
                continue;
            }
        };
        match message {
            // Ray's batches may end mid-line anyway: a fragment is one more piece.
            Ok(Some(WsMessage::Text(bytes) | WsMessage::Fragment { data: bytes, .. })) => {
                for slice in bytes.chunks(SLICE) {
                    tracker.frame(slice, &mut |l| sink.collect(l));
                    if !sink.flush().await {
                        return SocketEnd::Gone;
                    }
                }
            }
            Ok(Some(WsMessage::KeepAlive)) => {}
            Ok(Some(WsMessage::Oversized { .. })) => {
                // Counting is lost on this socket: finish from the final log.
                return wait_terminal(ray, job, settings, sink).await;
            }
            Ok(None) | Err(_) => {
                return match terminal_job(ray, job).await {
                    Some(info) => SocketEnd::Terminal(info),
                    None => SocketEnd::Early,
                };
            }
        }
    }
}

/// The job's info if Ray says it is terminal.
async fn terminal_job(ray: &RayClient, job: &JobId) -> Option<Box<Job>> {
    match ray.get_job(job).await {
        Ok(j) if j.status.is_terminal() => Some(Box::new(j)),
        _ => None,
    }
}

async fn wait_terminal(
    ray: &RayClient,
    job: &JobId,
    settings: &TailSettings,
    sink: &mut Sink,
) -> SocketEnd {
    loop {
        if let Some(info) = terminal_job(ray, job).await {
            return SocketEnd::Terminal(info);
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
    use crate::lines::split_log;

    fn text(l: Line<'_>) -> String {
        match l {
            Line::Whole(b) => decode(b).into_owned(),
            Line::Oversized(n) => format!("<{n} bytes skipped>"),
        }
    }

    fn collect(t: &mut TailTracker, frames: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for f in frames {
            t.frame(f.as_bytes(), &mut |l| out.push(text(l)));
        }
        out
    }

    fn finish(t: &mut TailTracker, log: &str, out: &mut Vec<String>) {
        t.finish(log.as_bytes(), &mut |l| out.push(text(l)));
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
                let mut t = TailTracker::new(1024);
                let mut out = collect(&mut t, &frames[..closed_after]);
                t.reconnect();
                out.extend(collect(&mut t, &frames[..frames.len() - lost]));
                finish(&mut t, log, &mut out);
                assert_eq!(out, expected, "lost {lost}, closed after {closed_after}");
                assert_eq!(t.sent(), expected.len() as u64);
            }
        }
    }

    #[test]
    fn a_batch_cut_mid_line_is_not_sent_until_whole() {
        let mut t = TailTracker::new(1024);
        let out = collect(&mut t, &["line 1\nli"]);
        assert_eq!(out, ["line 1"]);
        t.reconnect();
        let out = collect(&mut t, &["line 1\nline 2\n"]);
        assert_eq!(out, ["line 2"]);
    }

    #[test]
    fn finish_sends_the_unterminated_last_line_and_nothing_after() {
        let mut t = TailTracker::new(1024);
        let mut out = collect(&mut t, &["a\nb\nlast"]);
        finish(&mut t, "a\nb\nlast", &mut out);
        assert_eq!(out, ["a", "b", "last"]);
        assert!(t.is_finished());
        out.extend(collect(&mut t, &["more\n"]));
        finish(&mut t, "a\nb\nlast\nmore\n", &mut out);
        assert_eq!(out, ["a", "b", "last"]);
    }

    #[test]
    fn a_tail_starting_after_lines_sent_elsewhere_is_not_taken_for_lost() {
        // the hub's lagging subscriber: lines 1 and 2 went out from the spool
        let mut t = TailTracker::starting_after(1024, 2);
        let mut out = Vec::new();
        finish(&mut t, " \n\nc\nd\n", &mut out);
        assert_eq!(out, ["c", "d"]);
        assert!(!t.lost());
        // once it sent a line, a replay holding another at that number is lost
        let mut t = TailTracker::starting_after(1024, 2);
        let mut out = Vec::new();
        t.frame(b" \n\nc\n", &mut |l| out.push(text(l)));
        t.reconnect();
        t.frame(b" \n\nX\nd\n", &mut |l| out.push(text(l)));
        assert_eq!(out, ["c"]);
        assert!(t.lost());
    }

    #[test]
    fn an_empty_final_log_sends_nothing() {
        let mut t = TailTracker::new(1024);
        let mut out = Vec::new();
        finish(&mut t, "", &mut out);
        assert!(out.is_empty());
    }
}
