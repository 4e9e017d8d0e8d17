//! Log tails: [`AsyncAgentClient::tail_job_logs`] and the [`LogTail`] stream it returns.
//!
//! A [`LogTail`] owns its connection (a WebSocket or an HTTP body, both
//! poll-based streams of the transport) and the one [`TailDecoder`] that every
//! byte goes through, so limits and decoding are the same for both protocols. It
//! reads the network only while it is polled, in the caller's task, as
//! tokio-tungstenite's and reqwest's streams do: no task, no queue and no lock
//! between the socket and the caller. [`LogTail::poll_next_batch`] decodes what is
//! ready straight into the caller's batch, up to a count; `poll_next` is that
//! batch, up to `queue_size` lines, handed out a line at a time. So memory stays
//! bounded however long the log, and a caller that stops reading stops the
//! reading (the kernel's socket buffer holds what the server sends meanwhile,
//! until it is full). Dropping the [`LogTail`] drops the connection, which closes
//! it.
//!
//! What ends a tail, and how:
//! - a `complete` event: the stream ends (`None`);
//! - an `error` event: a 500 [`ClientError::StreamFailed`], never retried;
//! - an exceeded limit: a 429 [`ClientError::LimitExceeded`];
//! - nothing received from the server (keep-alive answers and heartbeats
//!   included) for the idle time-out: a 408 [`ClientError::Timeout`] of kind
//!   [`TimeoutKind::Idle`] (a quiet job is not a finished one);
//! - no new line for `max_quiet`, when the caller set it: a 408 of kind
//!   [`TimeoutKind::Quiet`] (the job was quiet, not the server);
//! - the connection closing before `complete`: a 503 [`ClientError::Connect`], or
//!   under [`Protocol::Auto`] a WebSocket that breaks mid-stream is resumed over
//!   HTTP. When the server numbers its lines, the resume asks for the next line
//!   (`?from_line=K`, K counting every line of the log, empty ones too) and is
//!   taken as starting there when its first log event carries K; otherwise (a
//!   server that does not number, or ignores `from_line`) the log is replayed from
//!   its start: the lines already delivered are skipped, and checked against a
//!   running digest of every one of them (a line is never delivered twice, and
//!   never lost silently; a replay that differs is a 500 naming both causes, a
//!   failed HTTP answer keeps its own status);
//! - an HTTP body that ends cleanly without `complete`: the end of the log if the
//!   stream never carried an SSE `data:` event (a plain-lines server has no
//!   `complete` to send), else a 503;
//! - the client closed: a 500 [`ClientError::Usage`].

use crate::client::{retry_after, AsyncAgentClient, Credentials};
use agent_proto::api::Operation;
use agent_proto::{
    query, ClientError, JobId, LimitKind, Protocol, StreamLimits, TailOptions, TailStart,
    TimeoutKind,
};
use agent_stream::{Lines, Numbering, StreamCounters, TailDecoder, DEFAULT_FRAME_CAP};
use agent_transport::{BodyStream, Request, Transport, WsMessage, WsOptions, WsStream};
use futures_core::stream::{FusedStream, Stream};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

/// The most bytes of an error answer's body read to build its message.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

impl AsyncAgentClient {
    /// Follows a job's log as it is written: a [`LogTail`] stream of lines that ends
    /// when the job's log is complete.
    ///
    /// The id and the options are checked before any request (a 400 otherwise).
    /// `options.protocol` chooses the wire: [`Protocol::WebSocket`],
    /// [`Protocol::Http`] (chunked streaming), or [`Protocol::Auto`] (the default):
    /// WebSocket first, HTTP when opening the WebSocket fails for any reason that is
    /// not [about the request](ClientError::is_about_the_request) (a connection or
    /// TLS failure; an upgrade answered 200 by a proxy that dropped `Upgrade`, 426,
    /// 5xx, ...), and HTTP *resumed where the WebSocket stopped* when the WebSocket
    /// breaks mid-stream. Opening errors (404 for an unknown job, 401, 429, ...; a
    /// failed fallback keeps the HTTP answer's status and names the WebSocket's
    /// cause) come back from this call; errors after that come out of the stream,
    /// which then ends.
    ///
    /// `options.timeout` bounds the server's silence: a tail that receives nothing
    /// from the server for that long fails with a 408 rather than ending as if the
    /// log were complete. A WebSocket is pinged at least every third of it (and at
    /// most every `ping_interval`), and its pongs count; over HTTP our servers send
    /// a blank line on a quiet tail (a heartbeat), which counts; so a live server
    /// never trips it on a quiet job. `options.max_quiet`, when set, bounds the
    /// job's silence: no new line for that long is a 408 of kind
    /// [`TimeoutKind::Quiet`]. Opening is bounded by the transport's own time-outs
    /// and retry policy instead: waiting on a `Retry-After` is not idleness.
    ///
    /// Must be called inside a tokio runtime. The [`LogTail`] reads the network
    /// while it is polled, in that runtime's context (from any task or thread, as
    /// long as the runtime runs).
    ///
    /// ```no_run
    /// use agent_client_async::{AsyncAgentClient, Protocol, TailOptions};
    /// use futures_core::Stream;
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    ///
    /// # async fn run() -> Result<(), agent_proto::ClientError> {
    /// let client = AsyncAgentClient::new("https://agent.example.com", "your-agent-token")?;
    /// let mut tail = client
    ///     .tail_job_logs("raysubmit_abc123", TailOptions::new().protocol(Protocol::Auto))
    ///     .await?;
    /// // With `futures::StreamExt` this is `while let Some(line) = tail.next().await`.
    /// while let Some(line) = poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await {
    ///     println!("{}", line?);
    /// }
    /// println!("{} lines over {}", tail.counters().delivered, tail.protocol_used());
    /// # Ok(()) }
    /// ```
    pub async fn tail_job_logs(
        &self,
        job_id: impl AsRef<str>,
        options: TailOptions,
    ) -> Result<LogTail, ClientError> {
        let id: JobId = self.segment(job_id.as_ref())?;
        options.validate()?;
        // The client's own limits were checked when it was built.
        let limits = options.limits.unwrap_or(self.inner.limits);
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::Usage {
            message: "tail_job_logs must be awaited inside a tokio runtime".into(),
        })?;
        let credentials = self.inner.credentials.clone();
        let start = options.start.query();
        let setup = Setup {
            transport: self.transport()?,
            http_request: self.operation_request(&Operation::TailHttp(id.clone())),
            protocol: options.protocol,
            idle: options.timeout,
            max_quiet: options.max_quiet,
            limits,
            start: options.start,
        };
        let ws_request = at(self.operation_request(&Operation::TailWebSocket(id)), start);
        let ping_interval = ping_interval(self.inner.ping_interval, setup.idle);
        let conn = open(&setup, ws_request, ping_interval)
            .await
            .map_err(|e| credentials.scrub(e))?;
        Ok(LogTail::new(
            runtime,
            setup,
            conn,
            self.inner.closed.subscribe(),
            credentials,
        ))
    }
}

/// A job's log as it is written: a [`Stream`] of lines, from
/// [`AsyncAgentClient::tail_job_logs`].
///
/// Yields `Ok(line)` for each log line (without its line end), and ends with `None`
/// once the agent says the log is complete. A failure (idle time-out 408, limit 429,
/// `error` event 500, connection lost 503, ...) is yielded once as `Err`, and the
/// stream ends after it: it never ends silently on a failure.
///
/// [`LogTail::poll_next_batch`] is the same stream a batch of lines at a time: what
/// a caller that writes lines out (a terminal, a pipe, Python) calls, one wait per
/// batch rather than per line.
///
/// Dropping it closes the connection; no task outlives it. It is
/// `Send + Sync + Unpin + 'static`, so it can be moved into a task or polled with
/// `StreamExt::next`; [`LogTail::counters`] tells what was received, delivered and
/// skipped, while it runs and after it ended.
///
/// ```no_run
/// use agent_client_async::{AsyncAgentClient, TailOptions};
/// use futures_core::Stream;
/// use std::future::poll_fn;
/// use std::pin::Pin;
///
/// # async fn run(client: AsyncAgentClient) -> Result<(), agent_proto::ClientError> {
/// let mut tail = client.tail_job_logs("raysubmit_abc123", TailOptions::new()).await?;
/// while let Some(line) = poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await {
///     match line {
///         Ok(line) => println!("{line}"),
///         Err(e) if e.status_code() == 408 => eprintln!("the job is quiet: {e}"),
///         Err(e) => return Err(e),
///     }
/// }
/// let c = tail.counters();
/// println!("{} lines, {} oversized skipped", c.delivered, c.skipped_oversized);
/// # Ok(()) }
/// ```
pub struct LogTail {
    /// The lines of the last batch `poll_next` took, last line first (handed out
    /// from the back).
    ready: Vec<String>,
    /// The connection, and the futures the tail waits on besides it.
    io: Exclusive<Io>,
    decoder: TailDecoder,
    /// After an `auto` resume: the WebSocket's counters when it broke, and why it
    /// broke (the context of a failure of the replay).
    resumed: Option<(StreamCounters, String)>,
    /// The numbering of the first stream's log events, once a resume replaced its
    /// decoder (`Unknown` until then, or when it had no log event).
    first_numbering: Numbering,
    /// The line a resume asked the HTTP stream to start at, if any.
    resume_line: Option<u64>,
    setup: Setup,
    protocol_used: Protocol,
    /// When the current wait for the server runs out (`None` while not waiting).
    idle_deadline: Option<Instant>,
    /// When the last new line was delivered (or the tail started), for `max_quiet`.
    last_line: Instant,
    /// The lines delivered when `last_line` was set.
    delivered_seen: u64,
    closed: watch::Receiver<bool>,
    credentials: Credentials,
    /// The runtime the connection belongs to, entered while an HTTP resume opens
    /// (a connection needs its reactor; the caller may poll from elsewhere).
    runtime: tokio::runtime::Handle,
    phase: Phase,
}

/// What opening a tail needs, and what a resume over HTTP repeats.
struct Setup {
    transport: Arc<dyn Transport>,
    http_request: Request,
    protocol: Protocol,
    /// How long the server may send nothing (`TailOptions::timeout`).
    idle: Duration,
    /// How long the job may write no new line (`TailOptions::max_quiet`).
    max_quiet: Option<Duration>,
    limits: StreamLimits,
    /// Where the tail starts (`TailOptions::start`).
    start: TailStart,
}

/// The parts of a [`LogTail`] that are `Send` but not `Sync`.
struct Io {
    conn: Conn,
    /// Ready once the client is closed.
    closed: Waiting<()>,
    /// The time-outs (idle and quiet): one timer, at the earlier of the two.
    timer: Pin<Box<tokio::time::Sleep>>,
}

type Waiting<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An HTTP answer's body and its `Content-Type`.
type HttpBody = (Box<dyn BodyStream>, String);

/// An open tail connection.
enum Conn {
    Ws(Box<dyn WsStream>),
    Http(HttpBody),
    /// An `auto` tail whose WebSocket broke, opening HTTP to resume.
    Resuming(Waiting<Result<HttpBody, ClientError>>),
    /// The tail ended; the connection is closed.
    Closed,
}

/// Where the tail is.
enum Phase {
    Live,
    /// It failed; the error goes out once the lines before it did.
    Failed(ClientError),
    Ended,
}

/// Makes what only `&mut self` reaches `Sync`, so that [`LogTail`] is: the mutex is
/// never locked (`get_mut` borrows it exclusively, at no cost). It is what
/// `sync_wrapper::SyncWrapper` does with unsafe code, which this workspace forbids.
struct Exclusive<T>(std::sync::Mutex<T>);

impl<T> Exclusive<T> {
    fn get(&mut self) -> &mut T {
        self.0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl LogTail {
    fn new(
        runtime: tokio::runtime::Handle,
        setup: Setup,
        conn: Conn,
        closed: watch::Receiver<bool>,
        credentials: Credentials,
    ) -> LogTail {
        let (decoder, protocol_used) = match &conn {
            Conn::Http((_, content_type)) => (
                TailDecoder::http(setup.limits).content_type(content_type),
                Protocol::Http,
            ),
            _ => {
                let mut decoder = TailDecoder::websocket(setup.limits);
                if setup.protocol == Protocol::Auto {
                    // What a resume over HTTP checks the replay against.
                    decoder = decoder.with_digest();
                }
                (decoder, Protocol::WebSocket)
            }
        };
        let mut waiter = closed.clone();
        let closed_wait = Box::pin(async move {
            // A client dropped without `close()` leaves its tails running.
            if waiter.wait_for(|c| *c).await.is_err() {
                std::future::pending::<()>().await;
            }
        });
        let now = Instant::now();
        LogTail {
            ready: Vec::new(),
            io: Exclusive(std::sync::Mutex::new(Io {
                conn,
                closed: closed_wait,
                timer: Box::pin(tokio::time::sleep_until(now + setup.idle)),
            })),
            decoder,
            resumed: None,
            first_numbering: Numbering::Unknown,
            resume_line: None,
            setup,
            protocol_used,
            idle_deadline: None,
            last_line: now,
            delivered_seen: 0,
            closed,
            credentials,
            runtime,
            phase: Phase::Live,
        }
    }

    /// What the tail received, delivered and skipped so far (merged over both
    /// protocols after an `auto` fallback). Readable at any time, also after the end.
    ///
    /// `delivered` counts lines decoded for the caller, some of which may still wait
    /// in the batch `poll_next` hands out; `skipped_oversized` counts lines over
    /// `max_message_size` that were dropped (a message holding several lines is
    /// split first); `replayed` counts events the HTTP stream repeated after a
    /// fallback and that were skipped.
    pub fn counters(&self) -> StreamCounters {
        match &self.resumed {
            Some((ws, _)) => merge(*ws, self.decoder.counters()),
            None => self.decoder.counters(),
        }
    }

    /// Whether the server honoured the tail's start ([`TailOptions::start()`]), known
    /// from its first log event: `Some(true)` when that event carried a line number
    /// (for [`TailStart::FromLine`], the one asked for; for [`TailStart::Last`], any:
    /// the client cannot know the log's length), `Some(false)` when it did not (a
    /// server that ignores the start sends the log from its first line: keep only
    /// the last N lines, or skip the lines before K, on the caller's side), `None`
    /// before the first log event. Always `Some(true)` for [`TailStart::Beginning`].
    ///
    /// Every line is delivered before this can be `None`: the first line comes with
    /// the first log event.
    pub fn start_honoured(&self) -> Option<bool> {
        let numbering = match self.first_numbering {
            Numbering::Unknown => self.decoder.numbering(),
            known => known,
        };
        match (self.setup.start, numbering) {
            (TailStart::Beginning, _) => Some(true),
            (_, Numbering::Unknown) => None,
            (TailStart::FromLine(k), Numbering::From(first)) => Some(first == k),
            (TailStart::Last(_), Numbering::From(_)) => Some(true),
            (_, Numbering::Unnumbered) => Some(false),
        }
    }

    /// The protocol that delivers (or delivered) the lines: [`Protocol::WebSocket`]
    /// or [`Protocol::Http`], never [`Protocol::Auto`]; it changes from WebSocket to
    /// HTTP when an `auto` tail falls back mid-stream.
    pub fn protocol_used(&self) -> Protocol {
        self.protocol_used
    }

    /// The `queue_size` of the tail's limits: the most lines `poll_next` decodes
    /// ahead of its caller, and a `max` for [`LogTail::poll_next_batch`] that keeps
    /// the same bound.
    pub fn queue_size(&self) -> usize {
        self.setup.limits.queue_size
    }

    /// The stream a batch at a time: appends to `batch` the lines that are ready,
    /// at most `max` of them (give or take the lines of one message or chunk),
    /// waiting only while there is none.
    ///
    /// - `Ready(Some(Ok(())))`: lines were appended (at least one);
    /// - `Ready(Some(Err(e)))`: the tail failed, after every line before the
    ///   failure was handed out; it ends;
    /// - `Ready(None)`: the log is complete, and every line was handed out;
    /// - `Pending`: no line yet (the task is woken when there is).
    ///
    /// Lines [`Stream::poll_next`] took and has not handed out yet come first.
    /// Cancel-safe: a line is only ever in the socket's buffer or in `batch`.
    ///
    /// ```no_run
    /// use agent_client_async::{AsyncAgentClient, TailOptions};
    /// use std::future::poll_fn;
    ///
    /// # async fn run(client: AsyncAgentClient) -> Result<(), agent_proto::ClientError> {
    /// let mut tail = client.tail_job_logs("raysubmit_abc123", TailOptions::new()).await?;
    /// let mut batch = Vec::new();
    /// while let Some(got) = poll_fn(|cx| tail.poll_next_batch(cx, &mut batch, 1024)).await {
    ///     got?;
    ///     for line in batch.drain(..) {
    ///         println!("{line}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn poll_next_batch(
        &mut self,
        cx: &mut Context<'_>,
        batch: &mut Vec<String>,
        max: usize,
    ) -> Poll<Option<Result<(), ClientError>>> {
        let start = batch.len();
        while let Some(line) = self.ready.pop() {
            batch.push(line);
        }
        let max = max.max(1);
        // Whether anything came from the server in this call (a sign of life).
        let mut received = false;
        // Once per call, not per message: a batch ends after `max` lines at most.
        if matches!(self.phase, Phase::Live) && *self.closed.borrow() {
            self.fail(client_closed());
        }
        loop {
            match &mut self.phase {
                Phase::Live => {}
                _ if batch.len() > start => return Poll::Ready(Some(Ok(()))),
                Phase::Ended => return Poll::Ready(None),
                Phase::Failed(_) => {
                    return match std::mem::replace(&mut self.phase, Phase::Ended) {
                        Phase::Failed(e) => Poll::Ready(Some(Err(e))),
                        _ => Poll::Ready(None),
                    };
                }
            }
            if batch.len() - start >= max {
                self.idle_deadline = None;
                return Poll::Ready(Some(Ok(())));
            }
            match self.poll_conn(cx, batch) {
                Poll::Ready(()) => received = true,
                Poll::Pending => {
                    if received {
                        self.idle_deadline = None;
                        self.note_progress();
                    }
                    if batch.len() > start {
                        return Poll::Ready(Some(Ok(())));
                    }
                    match self.poll_waits(cx) {
                        Poll::Ready(e) => self.fail(e),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }

    /// Polls the connection once: `Ready` when something came (and was decoded into
    /// `batch`, or ended the tail), `Pending` when nothing is ready.
    fn poll_conn(&mut self, cx: &mut Context<'_>, batch: &mut Vec<String>) -> Poll<()> {
        let io = self.io.get();
        match &mut io.conn {
            Conn::Ws(ws) => {
                let message = std::task::ready!(Pin::new(&mut **ws).poll_next(cx));
                let pushed = match message {
                    Some(Ok(WsMessage::Text(bytes))) => {
                        self.decoder.push_message(&bytes, &mut Lines(batch))
                    }
                    Some(Ok(WsMessage::Fragment { data, last })) => {
                        self.decoder.push_fragment(&data, last, &mut Lines(batch))
                    }
                    Some(Ok(WsMessage::Oversized { len })) => self.decoder.push_oversized(len),
                    Some(Ok(WsMessage::KeepAlive)) => Ok(()),
                    None => return self.ws_broke(closed_early("WebSocket")),
                    Some(Err(cause)) => return self.ws_broke(cause),
                };
                match pushed {
                    Err(e) => self.fail(e),
                    Ok(()) if self.decoder.is_complete() => {
                        // Our close frame, best effort, without waiting for the
                        // server's: the log is complete either way.
                        let _ = ws.poll_close(cx);
                        self.end(Ok(()));
                    }
                    Ok(()) => {}
                }
            }
            Conn::Http((body, _)) => {
                let chunk = std::task::ready!(Pin::new(&mut **body).poll_next(cx));
                let (pushed, ended) = match chunk {
                    Some(Ok(bytes)) => (self.decoder.push_bytes(&bytes, &mut Lines(batch)), false),
                    Some(Err(e)) => (Err(e), false),
                    None => (self.decoder.finish(&mut Lines(batch)), true),
                };
                if let Err(e) = pushed {
                    let e = match &self.resumed {
                        // The replay is not the log the WebSocket delivered: name both
                        // causes.
                        Some((_, context)) if self.decoder.replay_failed() => {
                            e.with_context(context)
                        }
                        _ => self.whole_limit(e),
                    };
                    self.fail(e);
                } else if self.decoder.is_complete() || (ended && self.decoder.may_end_cleanly()) {
                    // A skipped oversized line never ends a tail, and a clean end of
                    // the body (a cut one is an error of the transport) ends a
                    // plain-lines tail normally; once an SSE event was seen,
                    // `complete` is required.
                    self.end(Ok(()));
                } else if ended {
                    self.fail(closed_early("HTTP stream"));
                }
            }
            Conn::Resuming(opening) => {
                let opened = {
                    let _runtime = self.runtime.enter();
                    std::task::ready!(opening.as_mut().poll(cx))
                };
                match opened {
                    Ok(http) => self.resume(http),
                    Err(e) => {
                        // A failed resume keeps its own status (404, 429 and its
                        // `Retry-After`, ...), with the WebSocket's cause in the message.
                        let context = self.resumed.as_ref().map(|(_, c)| c.as_str());
                        self.fail(e.with_context(context.unwrap_or_default()));
                    }
                }
            }
            Conn::Closed => return Poll::Pending,
        }
        Poll::Ready(())
    }

    /// A WebSocket that broke before `complete`: resumed over HTTP under `auto`,
    /// else the end of the tail.
    fn ws_broke(&mut self, cause: ClientError) -> Poll<()> {
        if self.setup.protocol != Protocol::Auto {
            self.fail(cause);
            return Poll::Ready(());
        }
        let base = self.decoder.counters();
        tracing::info!(
            status = cause.status_code(),
            received = base.received,
            delivered = base.delivered,
            "agent.tail.resume: the WebSocket tail broke; resuming over HTTP streaming"
        );
        let context =
            format!("the WebSocket tail broke ({cause}) and resuming it over HTTP failed: ");
        self.resumed = Some((base, context));
        // Numbered lines: ask for the next one, not a replay. Before any log event:
        // the tail's own start again.
        self.resume_line = self.decoder.next_line();
        let start = match self.resume_line {
            Some(line) => Some(("from_line", line)),
            None => self.setup.start.query(),
        };
        let opening = open_http(
            Arc::clone(&self.setup.transport),
            at(self.setup.http_request.clone(), start),
            self.setup.idle,
        );
        self.io.get().conn = Conn::Resuming(Box::pin(opening));
        Poll::Ready(())
    }

    /// Goes on over HTTP where the WebSocket stopped: the limits hold for the whole
    /// tail, both protocols together, and the replayed lines are skipped.
    fn resume(&mut self, (body, content_type): HttpBody) {
        let base = self.decoder.counters();
        let mut limits = self.setup.limits;
        limits.max_bytes = limits.max_bytes.saturating_sub(base.delivered_bytes);
        limits.max_lines = limits.max_lines.saturating_sub(base.delivered);
        limits.max_messages = limits.max_messages.saturating_sub(base.received);
        let mut decoder = TailDecoder::http(limits).content_type(&content_type);
        if let Some(delivered) = self.decoder.digest() {
            decoder.resume_after(delivered);
        }
        if let Some(line) = self.resume_line {
            // Taken as starting there only if its first log event says so.
            decoder.expect_first_line(line);
        }
        self.first_numbering = self.decoder.numbering();
        self.decoder = decoder;
        self.protocol_used = Protocol::Http;
        self.io.get().conn = Conn::Http((body, content_type));
    }

    /// Restarts the job's quiet clock when new lines were delivered.
    fn note_progress(&mut self) {
        let delivered = self.counters().delivered;
        if self.setup.max_quiet.is_some() && delivered != self.delivered_seen {
            self.delivered_seen = delivered;
            self.last_line = Instant::now();
        }
    }

    /// Waits while the connection has nothing: for the client's close, the
    /// server's silence (`idle`, from the start of this wait) and, when set, the
    /// job's (`max_quiet`, from the last new line). `Ready` with the error that
    /// ends the tail.
    fn poll_waits(&mut self, cx: &mut Context<'_>) -> Poll<ClientError> {
        let idle_deadline = *self
            .idle_deadline
            .get_or_insert_with(|| Instant::now() + self.setup.idle);
        let quiet_deadline = self.setup.max_quiet.map(|q| self.last_line + q);
        let io = self.io.get();
        if io.closed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(client_closed());
        }
        let deadline = quiet_deadline.map_or(idle_deadline, |q| q.min(idle_deadline));
        if io.timer.deadline() != deadline {
            io.timer.as_mut().reset(deadline);
        }
        std::task::ready!(io.timer.as_mut().poll(cx));
        Poll::Ready(match (self.setup.max_quiet, quiet_deadline) {
            (Some(after), Some(q)) if q <= idle_deadline => ClientError::Timeout {
                kind: TimeoutKind::Quiet,
                after,
            },
            _ => ClientError::Timeout {
                kind: TimeoutKind::Idle,
                after: self.setup.idle,
            },
        })
    }

    fn fail(&mut self, e: ClientError) {
        let e = self.credentials.scrub(e);
        self.end(Err(e));
    }

    /// Ends the tail (once): closes the connection, records how it ended.
    fn end(&mut self, end: Result<(), ClientError>) {
        if !matches!(self.phase, Phase::Live) {
            return;
        }
        self.io.get().conn = Conn::Closed;
        trace_end(&end, self.counters(), self.protocol_used);
        self.phase = match end {
            Ok(()) => Phase::Ended,
            Err(e) => Phase::Failed(e),
        };
    }

    /// The limits of a resumed HTTP stream are what the WebSocket left of them:
    /// report the configured ones.
    fn whole_limit(&self, e: ClientError) -> ClientError {
        let limits = &self.setup.limits;
        match e {
            ClientError::LimitExceeded { kind, .. } => ClientError::LimitExceeded {
                kind,
                limit: match kind {
                    LimitKind::Bytes => limits.max_bytes,
                    LimitKind::Lines => limits.max_lines,
                    LimitKind::Messages => limits.max_messages,
                },
            },
            other => other,
        }
    }
}

impl Stream for LogTail {
    type Item = Result<String, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(line) = this.ready.pop() {
            return Poll::Ready(Some(Ok(line)));
        }
        let mut batch = std::mem::take(&mut this.ready);
        let max = this.queue_size();
        let polled = this.poll_next_batch(cx, &mut batch, max);
        batch.reverse();
        this.ready = batch;
        match polled {
            Poll::Ready(Some(Ok(()))) => Poll::Ready(this.ready.pop().map(Ok)),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let upper = matches!(self.phase, Phase::Ended).then_some(self.ready.len());
        (self.ready.len(), upper)
    }
}

impl FusedStream for LogTail {
    fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Ended) && self.ready.is_empty()
    }
}

impl fmt::Debug for LogTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogTail")
            .field("protocol", &self.protocol_used())
            .field("counters", &self.counters())
            .field("buffered", &self.ready.len())
            .field("finished", &!matches!(self.phase, Phase::Live))
            .finish()
    }
}

fn client_closed() -> ClientError {
    ClientError::Usage {
        message: "the client was closed before the job's log completed".into(),
    }
}

/// Opens the connection the protocol asks for.
async fn open(
    setup: &Setup,
    ws_request: Request,
    ping_interval: Duration,
) -> Result<Conn, ClientError> {
    let open_http = || {
        open_http(
            Arc::clone(&setup.transport),
            at(setup.http_request.clone(), setup.start.query()),
            setup.idle,
        )
    };
    let options = WsOptions {
        // The frame cap: the limit measures each line once a message is split.
        max_message_size: DEFAULT_FRAME_CAP,
        ping_interval,
    };
    // Not under the idle time-out: the transport bounds each try, and a wait on a
    // `Retry-After` between tries is not idleness.
    let open_ws = || setup.transport.websocket(ws_request.clone(), options);
    match setup.protocol {
        Protocol::Http => open_http().await.map(Conn::Http),
        Protocol::WebSocket => open_ws().await.map(Conn::Ws),
        Protocol::Auto => match open_ws().await {
            Ok(ws) => Ok(Conn::Ws(ws)),
            // The agent API's "Falling back under `auto`": anything but an answer
            // about the request itself (which HTTP would repeat) falls back.
            Err(e) if !e.is_about_the_request() => {
                tracing::info!(
                    status = e.status_code(),
                    "agent.tail.fallback: the WebSocket tail did not open; using HTTP streaming"
                );
                let context = format!(
                    "the WebSocket tail did not open ({e}) and HTTP streaming failed too: "
                );
                open_http()
                    .await
                    .map(Conn::Http)
                    .map_err(|h| h.with_context(&context))
            }
            Err(e) => Err(e),
        },
    }
}

/// `request` asking the tail to start at `start` (`?tail=N`, `?from_line=K`), if
/// any.
fn at(mut request: Request, start: Option<(&'static str, u64)>) -> Request {
    if let Some((name, value)) = start {
        request.path = query::with_query(&request.path, &[(name, value.to_string())]);
    }
    request
}

/// Opens the HTTP stream: its body and `Content-Type` (an event stream is read as
/// one from its first byte), or the error its answer maps to.
async fn open_http(
    transport: Arc<dyn Transport>,
    request: Request,
    idle: Duration,
) -> Result<HttpBody, ClientError> {
    // As for the WebSocket: each try is bounded by the transport's time-outs.
    let mut resp = transport.stream(request).await?;
    if !(200..300).contains(&resp.status) {
        let mut body = Vec::new();
        // The body only makes the message better: a failure to read it is ignored.
        while body.len() < ERROR_BODY_LIMIT {
            match timeout(idle, resp.body.next_chunk()).await {
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        return Err(ClientError::from_response(
            resp.status,
            retry_after(&resp.headers),
            &body,
        ));
    }
    let content_type = resp
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((resp.body, content_type))
}

/// The tail's end as `tracing` events: `agent.tail.end` (how it ended, lines
/// delivered and skipped, the protocol), and before it `agent.tail.limit` or
/// `agent.tail.idle_timeout` when that is why. Nothing from the server is recorded.
fn trace_end(end: &Result<(), ClientError>, c: StreamCounters, protocol: Protocol) {
    let skipped = c.skipped_oversized + c.skipped_empty + c.ignored;
    match end {
        Ok(()) => tracing::info!(
            outcome = "complete",
            delivered = c.delivered,
            skipped,
            replayed = c.replayed,
            %protocol,
            "agent.tail.end"
        ),
        Err(e) => {
            match e {
                ClientError::LimitExceeded { kind, limit } => tracing::warn!(
                    kind = %kind,
                    limit,
                    "agent.tail.limit: a stream limit ended the tail"
                ),
                ClientError::Timeout {
                    kind: TimeoutKind::Idle,
                    after,
                } => tracing::warn!(
                    after_ms = after.as_millis() as u64,
                    "agent.tail.idle_timeout: nothing came for too long"
                ),
                _ => {}
            }
            tracing::info!(
                outcome = "failed",
                status = e.status_code(),
                delivered = c.delivered,
                skipped,
                replayed = c.replayed,
                %protocol,
                "agent.tail.end"
            );
        }
    }
}

/// How often a WebSocket tail pings: the client's interval, but at least three
/// times per idle time-out, so that a live server answering pings never looks idle.
fn ping_interval(configured: Duration, idle: Duration) -> Duration {
    configured.min(idle / 3).max(Duration::from_millis(1))
}

fn closed_early(what: &str) -> ClientError {
    ClientError::connect(format!(
        "the agent closed the tail ({what}) before the job's log completed"
    ))
}

/// The counters of a tail that fell back: the WebSocket's up to the break, then the
/// HTTP stream's (whose replayed events were the WebSocket's).
fn merge(ws: StreamCounters, http: StreamCounters) -> StreamCounters {
    StreamCounters {
        received: ws.received + http.received.saturating_sub(http.replayed),
        delivered: ws.delivered + http.delivered,
        delivered_bytes: ws.delivered_bytes + http.delivered_bytes,
        skipped_oversized: ws.skipped_oversized + http.skipped_oversized,
        skipped_bytes: ws.skipped_bytes + http.skipped_bytes,
        skipped_empty: ws.skipped_empty + http.skipped_empty,
        ignored: ws.ignored + http.ignored,
        invalid_utf8: ws.invalid_utf8 + http.invalid_utf8,
        replayed: ws.replayed + http.replayed,
    }
}

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
