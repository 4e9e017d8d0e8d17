//! Log tails: [`AsyncAgentClient::tail_job_logs`] and the [`LogTail`] stream it returns.
//!
//! A *driver* owns the connection (WebSocket or HTTP stream) and runs every byte
//! through one [`TailDecoder`], so limits and decoding are the same for both
//! protocols; it hands lines to the [`LogTail`] in batches. The driver is a future
//! that the [`LogTail`] polls itself, in the consumer's task, whenever it has no
//! line to hand out: as tokio-tungstenite and reqwest streams do, so no line
//! crosses threads (a spawned driver task cost a hand-off per batch, a fifth of a
//! tail's CPU on the multi-thread runtime, issue 15). It decodes at most
//! `queue_size` lines ahead of the consumer, so memory stays bounded however long
//! the log, and a consumer that stops reading stops the reading (the kernel's socket
//! buffer holds what the server sends meanwhile, until it is full). Dropping the
//! [`LogTail`] drops the driver, which closes the connection.
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
//!   HTTP, which replays the log from its start: the lines already delivered are
//!   skipped, and checked against a running digest of every one of them (a line is
//!   never delivered twice, and never lost silently; a replay that differs is a 500
//!   naming both causes, a failed HTTP answer keeps its own status);
//! - an HTTP body that ends cleanly without `complete`: the end of the log if the
//!   stream never carried an SSE `data:` event (a plain-lines server has no
//!   `complete` to send), else a 503;
//! - the client closed: a 500 [`ClientError::Usage`].

use crate::client::{retry_after, AsyncAgentClient, Credentials};
use agent_proto::{
    ClientError, JobId, LimitKind, Protocol, StreamLimits, TailOptions, TimeoutKind,
};
use agent_stream::{LineDigest, StreamCounters, TailDecoder, TailItem, DEFAULT_FRAME_CAP};
use agent_transport::{BodyStream, Request, Transport, WsMessage, WsOptions, WsStream};
use futures_core::stream::{FusedStream, Stream};
use http::Method;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

/// How long a finished WebSocket tail waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

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
        let limits = options.limits.unwrap_or(self.inner.limits);
        limits.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::Usage {
            message: "tail_job_logs must be awaited inside a tokio runtime".into(),
        })?;
        let transport = self.transport()?;
        let credentials = self.inner.credentials.clone();
        let mut driver = Driver {
            transport,
            ws_request: self.request(Method::GET, format!("jobs/{id}/logs/")),
            http_request: self.request(Method::GET, format!("jobs/{id}/logs/stream/")),
            protocol: options.protocol,
            idle: options.timeout,
            max_quiet: options.max_quiet,
            last_line: Instant::now(),
            delivered_seen: 0,
            limits,
            ping_interval: self.inner.ping_interval,
            content_type: String::new(),
            shared: Arc::new(Shared::default()),
        };
        let conn = driver.open().await.map_err(|e| credentials.scrub(e))?;
        Ok(LogTail::new(
            &runtime,
            driver,
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
/// Dropping it closes the connection. It is `Send + Unpin + 'static`, so it can be
/// moved into a task or polled with `StreamExt::next`; [`LogTail::counters`] tells
/// what was received, delivered and skipped, while it runs and after it ended.
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
    /// Lines taken from the queue, not handed out yet.
    buf: VecDeque<String>,
    /// What the driver hands over.
    queue: Arc<Mutex<Queue>>,
    shared: Arc<Shared>,
    /// The driver (see the module docs); `None` once it finished. Only ever
    /// reached through `&mut self` (`Mutex::get_mut`, no locking): the mutex is
    /// there to keep `LogTail` `Sync`, as it was when the driver was a task.
    driver: Option<Mutex<Driving>>,
    /// The runtime the connection belongs to, entered while the driver is polled
    /// (its timers need it, and the caller may poll from elsewhere).
    runtime: tokio::runtime::Handle,
    finished: bool,
}

/// The driver's future.
type Driving = Pin<Box<dyn Future<Output = ()> + Send>>;

impl LogTail {
    fn new(
        runtime: &tokio::runtime::Handle,
        driver: Driver,
        conn: Conn,
        mut closed: watch::Receiver<bool>,
        credentials: Credentials,
    ) -> LogTail {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let shared = Arc::clone(&driver.shared);
        let mut sink = Sink {
            queue: Arc::clone(&queue),
            room: driver.limits.queue_size.max(1),
        };
        let span = tracing::debug_span!(
            "agent.tail",
            route = "jobs/{id}/logs/",
            protocol = %driver.protocol,
        );
        let driver = Box::pin(tracing::Instrument::instrument(
            async move {
                let mut driver = driver;
                let closed = async {
                    // A client dropped without `close()` leaves its tails running.
                    if closed.wait_for(|c| *c).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let end = tokio::select! {
                    biased;
                    () = closed => Err(ClientError::Usage {
                        message: "the client was closed before the job's log completed".into(),
                    }),
                    end = driver.run(conn, &mut sink) => end,
                };
                trace_end(&end, &driver.shared);
                sink.end(end.map_err(|e| credentials.scrub(e)));
            },
            span,
        ));
        LogTail {
            buf: VecDeque::new(),
            queue,
            shared,
            driver: Some(Mutex::new(driver)),
            runtime: runtime.clone(),
            finished: false,
        }
    }

    /// What the tail received, delivered and skipped so far (merged over both
    /// protocols after an `auto` fallback). Readable at any time, also after the end.
    ///
    /// `delivered` counts lines decoded for the caller, some of which may still wait
    /// in the queue; `skipped_oversized` counts lines over `max_message_size`
    /// that were dropped (a message holding several lines is split first); `replayed` counts events the HTTP stream
    /// repeated after a fallback and that were skipped.
    pub fn counters(&self) -> StreamCounters {
        self.shared.counters()
    }

    /// The protocol that delivers (or delivered) the lines: [`Protocol::WebSocket`]
    /// or [`Protocol::Http`], never [`Protocol::Auto`]; it changes from WebSocket to
    /// HTTP when an `auto` tail falls back mid-stream.
    pub fn protocol_used(&self) -> Protocol {
        self.shared.protocol()
    }

    /// Moves what the driver queued into `buf`: the lines, and the end once they
    /// are all out.
    fn take_queued(&mut self) -> Option<Result<(), ClientError>> {
        let mut queue = lock(&self.queue);
        if self.buf.is_empty() {
            std::mem::swap(&mut self.buf, &mut queue.lines);
        } else {
            self.buf.append(&mut queue.lines);
        }
        if self.buf.is_empty() {
            queue.end.take()
        } else {
            None
        }
    }
}

impl Stream for LogTail {
    type Item = Result<String, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut polled = false;
        loop {
            if let Some(line) = this.buf.pop_front() {
                return Poll::Ready(Some(Ok(line)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match this.take_queued() {
                Some(Ok(())) => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None if !this.buf.is_empty() => continue,
                None => {}
            }
            if polled {
                return Poll::Pending;
            }
            polled = true;
            let Some(driver) = this.driver.as_mut() else {
                // The driver always queues an end before it finishes.
                this.finished = true;
                return Poll::Ready(Some(Err(ClientError::Usage {
                    message: "the log tail stopped before the job's log completed".into(),
                })));
            };
            let driver = driver.get_mut().unwrap_or_else(PoisonError::into_inner);
            let _runtime = this.runtime.enter();
            if driver.as_mut().poll(cx).is_ready() {
                this.driver = None;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let upper = if self.finished {
            Some(self.buf.len())
        } else {
            None
        };
        (self.buf.len(), upper)
    }
}

impl FusedStream for LogTail {
    fn is_terminated(&self) -> bool {
        self.finished && self.buf.is_empty()
    }
}

impl fmt::Debug for LogTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogTail")
            .field("protocol", &self.protocol_used())
            .field("counters", &self.counters())
            .field("buffered", &self.buf.len())
            .field("finished", &self.finished)
            .finish()
    }
}

/// What the driver hands the [`LogTail`].
#[derive(Default)]
struct Queue {
    lines: VecDeque<String>,
    /// How the tail ended (`Ok` for a complete log), set once, after its lines.
    end: Option<Result<(), ClientError>>,
}

/// The queue, even if a panic poisoned it: its lines stay consistent.
fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared between the driver and the [`LogTail`].
#[derive(Default)]
struct Shared {
    counters: Mutex<StreamCounters>,
    /// 0 WebSocket, 1 HTTP.
    protocol: AtomicU8,
}

impl Shared {
    fn counters(&self) -> StreamCounters {
        match self.counters.lock() {
            Ok(c) => *c,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn set_counters(&self, counters: StreamCounters) {
        match self.counters.lock() {
            Ok(mut c) => *c = counters,
            Err(poisoned) => *poisoned.into_inner() = counters,
        }
    }

    fn protocol(&self) -> Protocol {
        match self.protocol.load(Ordering::Relaxed) {
            0 => Protocol::WebSocket,
            _ => Protocol::Http,
        }
    }

    fn set_protocol(&self, protocol: Protocol) {
        let v = u8::from(protocol != Protocol::WebSocket);
        self.protocol.store(v, Ordering::Relaxed);
    }
}

/// The driver's end of the queue.
struct Sink {
    queue: Arc<Mutex<Queue>>,
    /// The most lines the queue holds (`queue_size`).
    room: usize,
}

impl Sink {
    /// Hands the lines of `out` on and tells whether `out` held the end of the log.
    ///
    /// When the queue is full it waits for the [`LogTail`] to take them: it yields,
    /// and the [`LogTail`] hands out what is queued before it polls the driver
    /// again.
    async fn deliver(&mut self, out: &mut Vec<TailItem>) -> bool {
        let mut complete = false;
        let mut items = out.drain(..);
        loop {
            {
                let mut queue = lock(&self.queue);
                while queue.lines.len() < self.room {
                    match items.next() {
                        Some(TailItem::Line(line)) => queue.lines.push_back(line),
                        Some(TailItem::Complete) => complete = true,
                        None => return complete,
                    }
                }
            }
            tokio::task::yield_now().await;
        }
    }

    /// Queues the end of the stream, once.
    fn end(&mut self, end: Result<(), ClientError>) {
        let mut queue = lock(&self.queue);
        if queue.end.is_none() {
            queue.end = Some(end);
        }
    }
}

/// The tail's end as `tracing` events: `agent.tail.end` (how it ended, lines
/// delivered and skipped, the protocol), and before it `agent.tail.limit` or
/// `agent.tail.idle_timeout` when that is why. Nothing from the server is recorded.
fn trace_end(end: &Result<(), ClientError>, shared: &Shared) {
    let c = shared.counters();
    let skipped = c.skipped_oversized + c.skipped_empty + c.ignored;
    let protocol = shared.protocol();
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

/// An open tail connection.
enum Conn {
    Ws(Box<dyn WsStream>),
    Http(Box<dyn BodyStream>),
}

/// Where a WebSocket stopped, for resuming over HTTP.
struct Resume {
    /// The WebSocket decoder's counters when it broke.
    base: StreamCounters,
    /// Every line it delivered.
    delivered: LineDigest,
    /// Why it broke, for the message of a failed resume.
    context: String,
}

/// How a WebSocket tail ended without a final result.
enum WsEnd {
    /// Complete: the end was sent.
    Done,
    /// The connection broke before `complete`.
    Broken {
        cause: ClientError,
        /// Boxed: the digest makes it large.
        resume: Box<Resume>,
    },
}

/// Runs one tail: opens the connection, decodes, delivers, falls back.
struct Driver {
    transport: Arc<dyn Transport>,
    ws_request: Request,
    http_request: Request,
    protocol: Protocol,
    /// How long the server may send nothing (`TailOptions::timeout`).
    idle: Duration,
    /// How long the job may write no new line (`TailOptions::max_quiet`).
    max_quiet: Option<Duration>,
    /// When the last new line was delivered (or the tail started).
    last_line: Instant,
    /// The lines delivered when `last_line` was set.
    delivered_seen: u64,
    limits: StreamLimits,
    ping_interval: Duration,
    /// The HTTP answer's `Content-Type` (an event stream is read as one from its
    /// first byte).
    content_type: String,
    shared: Arc<Shared>,
}

impl Driver {
    /// Opens the connection the protocol asks for.
    async fn open(&mut self) -> Result<Conn, ClientError> {
        match self.protocol {
            Protocol::Http => self.open_http().await.map(Conn::Http),
            Protocol::WebSocket => self.open_ws().await.map(Conn::Ws),
            Protocol::Auto => match self.open_ws().await {
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
                    self.open_http()
                        .await
                        .map(Conn::Http)
                        .map_err(|h| h.with_context(&context))
                }
                Err(e) => Err(e),
            },
        }
    }

    async fn open_ws(&mut self) -> Result<Box<dyn WsStream>, ClientError> {
        let options = WsOptions {
            // The frame cap: the limit measures each line once a message is split.
            max_message_size: DEFAULT_FRAME_CAP,
            ping_interval: ping_interval(self.ping_interval, self.idle),
        };
        // Not under the idle time-out: the transport bounds each try, and a wait on
        // a `Retry-After` between tries is not idleness.
        let ws = self
            .transport
            .websocket(self.ws_request.clone(), options)
            .await?;
        self.shared.set_protocol(Protocol::WebSocket);
        Ok(ws)
    }

    async fn open_http(&mut self) -> Result<Box<dyn BodyStream>, ClientError> {
        // As for the WebSocket: each try is bounded by the transport's time-outs.
        let mut resp = self.transport.stream(self.http_request.clone()).await?;
        if !(200..300).contains(&resp.status) {
            let mut body = Vec::new();
            // The body only makes the message better: a failure to read it is ignored.
            while body.len() < ERROR_BODY_LIMIT {
                match timeout(self.idle, resp.body.next_chunk()).await {
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
        self.content_type = resp
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.shared.set_protocol(Protocol::Http);
        Ok(resp.body)
    }

    /// Waits for `next` (a cancel-safe read) under both time-outs: the server's
    /// silence (`idle`, from now) and, when set, the job's (`max_quiet`, from the
    /// last new line).
    async fn wait<T>(&self, next: impl Future<Output = T>) -> Result<T, ClientError> {
        let Some(max_quiet) = self.max_quiet else {
            return timeout(self.idle, next)
                .await
                .map_err(|_| self.idle_timeout());
        };
        let quiet_until = self.last_line + max_quiet;
        tokio::select! {
            biased;
            value = next => Ok(value),
            () = tokio::time::sleep_until(quiet_until) => Err(ClientError::Timeout {
                kind: TimeoutKind::Quiet,
                after: max_quiet,
            }),
            () = tokio::time::sleep(self.idle) => Err(self.idle_timeout()),
        }
    }

    /// Publishes the counters and restarts the job's quiet clock when they show a
    /// new delivered line.
    fn progress(&mut self, counters: StreamCounters) {
        self.shared.set_counters(counters);
        if counters.delivered != self.delivered_seen {
            self.delivered_seen = counters.delivered;
            self.last_line = Instant::now();
        }
    }

    fn idle_timeout(&self) -> ClientError {
        ClientError::Timeout {
            kind: TimeoutKind::Idle,
            after: self.idle,
        }
    }

    async fn run(&mut self, conn: Conn, sink: &mut Sink) -> Result<(), ClientError> {
        let ws = match conn {
            Conn::Http(body) => return self.run_http(body, None, sink).await,
            Conn::Ws(ws) => ws,
        };
        let (cause, resume) = match self.run_ws(ws, sink).await? {
            WsEnd::Done => return Ok(()),
            WsEnd::Broken { cause, resume } => (cause, resume),
        };
        if self.protocol != Protocol::Auto {
            return Err(cause);
        }
        tracing::info!(
            status = cause.status_code(),
            received = resume.base.received,
            delivered = resume.base.delivered,
            "agent.tail.resume: the WebSocket tail broke; resuming over HTTP streaming"
        );
        // A failed resume keeps its own status (404, 429 and its `Retry-After`, ...),
        // with the WebSocket's cause in the message.
        let body = self
            .open_http()
            .await
            .map_err(|e| e.with_context(&resume.context))?;
        self.run_http(body, Some(*resume), sink).await
    }

    async fn run_ws(
        &mut self,
        mut ws: Box<dyn WsStream>,
        sink: &mut Sink,
    ) -> Result<WsEnd, ClientError> {
        let mut decoder = TailDecoder::websocket(self.limits);
        if self.protocol == Protocol::Auto {
            // What a resume over HTTP checks the replay against.
            decoder = decoder.with_digest();
        }
        let mut out = Vec::new();
        loop {
            // One future for the whole wait (a `WsStream` may keep a delay in it),
            // then single polls for what is ready after it.
            let first = self.wait(ws.next_message()).await?;
            // Decode every message that is ready now and hand their lines over as one
            // batch: one wake-up of the consumer per burst instead of one per line.
            // A message is either returned or left in the stream (cancel-safety), so
            // a poll with no waker loses nothing.
            let mut next = Some(first);
            let mut pushed = Ok(());
            let mut broke = None;
            while let Some(message) = next.take() {
                match message {
                    Ok(Some(WsMessage::Text(bytes))) => {
                        pushed = decoder.push_message(&bytes, &mut out)
                    }
                    Ok(Some(WsMessage::Fragment { data, last })) => {
                        pushed = decoder.push_fragment(&data, last, &mut out)
                    }
                    Ok(Some(WsMessage::Oversized { len })) => pushed = decoder.push_oversized(len),
                    Ok(Some(WsMessage::KeepAlive)) => {}
                    Ok(None) => broke = Some(closed_early("WebSocket")),
                    Err(cause) => broke = Some(cause),
                }
                let stop = broke.is_some() || pushed.is_err() || decoder.is_complete();
                if stop || out.len() >= self.limits.queue_size {
                    break;
                }
                next = match ws.poll_next_message(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(message) => Some(message),
                    Poll::Pending => None,
                };
            }
            self.progress(decoder.counters());
            let complete = sink.deliver(&mut out).await;
            if let Some(cause) = broke {
                return Ok(broken(cause, &decoder));
            }
            pushed?;
            if complete {
                sink.end(Ok(()));
                let _ = timeout(CLOSE_GRACE, ws.close()).await;
                return Ok(WsEnd::Done);
            }
        }
    }

    async fn run_http(
        &mut self,
        mut body: Box<dyn BodyStream>,
        resume: Option<Resume>,
        sink: &mut Sink,
    ) -> Result<(), ClientError> {
        let base = resume.as_ref().map(|r| r.base).unwrap_or_default();
        // The limits hold for the whole tail, both protocols together.
        let mut limits = self.limits;
        limits.max_bytes = limits.max_bytes.saturating_sub(base.delivered_bytes);
        limits.max_lines = limits.max_lines.saturating_sub(base.delivered);
        limits.max_messages = limits.max_messages.saturating_sub(base.received);
        let mut decoder = TailDecoder::http(limits).content_type(&self.content_type);
        if let Some(resume) = &resume {
            decoder.resume_after(&resume.delivered);
        }
        let mut out = Vec::new();
        loop {
            let chunk = self.wait(body.next_chunk()).await??;
            let (pushed, ended) = match chunk {
                Some(bytes) => (decoder.push_bytes(&bytes, &mut out), false),
                None => (decoder.finish(&mut out), true),
            };
            self.progress(merge(base, decoder.counters()));
            let complete = sink.deliver(&mut out).await;
            pushed.map_err(|e| match &resume {
                // The replay is not the log the WebSocket delivered: name both causes.
                Some(r) if decoder.replay_failed() => e.with_context(&r.context),
                _ => self.whole_limit(e),
            })?;
            // A skipped oversized line never ends a tail: it is skipped as it streams,
            // in bounded memory, and `max_bytes` counts delivered text only.
            // A clean end of the body (the transport reports a cut body as an error)
            // ends a plain-lines tail normally; once an SSE event was seen,
            // `complete` is required.
            if complete || (ended && decoder.may_end_cleanly()) {
                sink.end(Ok(()));
                return Ok(());
            }
            if ended {
                return Err(closed_early("HTTP stream"));
            }
        }
    }

    /// The limits of a resumed HTTP stream are what the WebSocket left of them:
    /// report the configured ones.
    fn whole_limit(&self, e: ClientError) -> ClientError {
        match e {
            ClientError::LimitExceeded { kind, .. } => ClientError::LimitExceeded {
                kind,
                limit: match kind {
                    LimitKind::Bytes => self.limits.max_bytes,
                    LimitKind::Lines => self.limits.max_lines,
                    LimitKind::Messages => self.limits.max_messages,
                },
            },
            other => other,
        }
    }
}

fn broken(cause: ClientError, decoder: &TailDecoder) -> WsEnd {
    let context = format!("the WebSocket tail broke ({cause}) and resuming it over HTTP failed: ");
    WsEnd::Broken {
        cause,
        resume: Box::new(Resume {
            base: decoder.counters(),
            delivered: decoder.digest().cloned().unwrap_or_default(),
            context,
        }),
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
