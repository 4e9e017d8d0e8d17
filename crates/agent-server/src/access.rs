//! One log line per request, as a `tracing` event (target `agent_server::access`, level
//! INFO): method, path (without the query; ids kept, and tokens never: they travel in
//! headers, which are not logged), status, bytes of the response body sent, latency,
//! how the body ended (`complete`, `aborted` by the server after its head was sent,
//! or `client-gone`), and for log tails the lines sent and how the tail ended.
//!
//! The line is written when the response is done: for a plain answer once its body was
//! sent (or the connection died), for a tail when the tail ends. Without a `tracing`
//! subscriber (tests, libraries) nothing is written and it costs next to nothing.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::Method;
use hyper::body::{Body, Frame, SizeHint};

use crate::body::{BoxError, ResBody};
use crate::metrics::{Cause, Metrics};
use crate::route::RouteKind;
use prometheus_client::metrics::counter::Counter;

/// The longest path logged; a longer one is cut (an attacker chooses its length).
const MAX_PATH: usize = 256;

/// How a log tail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum TailEnd {
    /// Still going (or the end was not recorded).
    Open = 0,
    /// `complete` was sent: the log was all sent.
    Complete,
    /// `error` was sent.
    Error,
    /// The client closed or went away.
    ClientGone,
    /// The server shut down (close 1001, or the HTTP stream was cut).
    Shutdown,
    /// The backend broke the tail off (no final event).
    Aborted,
    /// The client sent a frame over the cap (close 1009).
    FrameTooLarge,
}

impl TailEnd {
    fn as_str(self) -> &'static str {
        match self {
            TailEnd::Open => "open",
            TailEnd::Complete => "complete",
            TailEnd::Error => "error",
            TailEnd::ClientGone => "client-gone",
            TailEnd::Shutdown => "shutdown",
            TailEnd::Aborted => "aborted",
            TailEnd::FrameTooLarge => "frame-too-large",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => TailEnd::Complete,
            2 => TailEnd::Error,
            3 => TailEnd::ClientGone,
            4 => TailEnd::Shutdown,
            5 => TailEnd::Aborted,
            6 => TailEnd::FrameTooLarge,
            _ => TailEnd::Open,
        }
    }
}

/// What a tail tells the log while it runs: shared by the tail and the request's
/// [`AccessLog`].
#[derive(Debug, Default)]
pub(crate) struct TailRecord {
    lines: AtomicU64,
    end: AtomicU8,
    /// The server's counter of lines sent in all tails.
    lines_metric: Counter,
}

impl TailRecord {
    /// Counts `n` log lines sent.
    pub(crate) fn lines_sent(&self, n: u64) {
        self.lines.fetch_add(n, Ordering::Relaxed);
        self.lines_metric.inc_by(n);
    }

    /// Records how the tail ended (the first end recorded stays).
    pub(crate) fn ended(&self, end: TailEnd) {
        let _ = self.end.compare_exchange(
            TailEnd::Open as u8,
            end as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The lines sent so far.
    pub(crate) fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }

    /// How the tail ended; one that recorded no end was left by its client (the
    /// connection was dropped under it).
    fn end(&self) -> TailEnd {
        match TailEnd::from_u8(self.end.load(Ordering::Relaxed)) {
            TailEnd::Open => TailEnd::ClientGone,
            end => end,
        }
    }
}

/// The log line of one request, written when it is dropped.
#[derive(Debug)]
pub(crate) struct AccessLog {
    method: Method,
    path: String,
    route: String,
    start: Instant,
    status: u16,
    bytes: u64,
    /// How the body of a plain answer ended (tails record their own end).
    body_end: &'static str,
    tail: Option<Arc<TailRecord>>,
    metrics: Arc<Metrics>,
}

impl AccessLog {
    /// Starts the line of a request now.
    pub(crate) fn new(method: &Method, path: &str, metrics: Arc<Metrics>) -> Self {
        let mut path = path.to_owned();
        if path.len() > MAX_PATH {
            let mut cut = MAX_PATH;
            while !path.is_char_boundary(cut) {
                cut -= 1;
            }
            path.truncate(cut);
            path.push_str("...");
        }
        AccessLog {
            method: method.clone(),
            path,
            route: "none".to_owned(),
            start: Instant::now(),
            status: 0,
            bytes: 0,
            body_end: "complete",
            tail: None,
            metrics,
        }
    }

    /// Sets the status answered.
    pub(crate) fn status(&mut self, status: u16) {
        self.status = status;
    }

    /// Sets the route (its kind) the request named, for the metrics.
    pub(crate) fn route(&mut self, kind: RouteKind) {
        self.route = format!("{kind:?}");
    }

    /// Makes this request a tail: the record its tail fills in.
    pub(crate) fn tail(&mut self) -> Arc<TailRecord> {
        if self.tail.is_none() {
            self.metrics.open_tails().inc();
        }
        let metrics = &self.metrics;
        Arc::clone(self.tail.get_or_insert_with(|| {
            Arc::new(TailRecord {
                lines_metric: metrics.lines_sent().clone(),
                ..TailRecord::default()
            })
        }))
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        let seconds = self.start.elapsed().as_secs_f64();
        let latency_ms = seconds * 1000.0;
        self.metrics.request(&self.route, self.status, seconds);
        if let Some(tail) = &self.tail {
            self.metrics.open_tails().dec();
            if tail.end() == TailEnd::FrameTooLarge {
                self.metrics.refused(Cause::ws_frame_too_large);
            }
        }
        match &self.tail {
            None => tracing::info!(
                target: "agent_server::access",
                method = %self.method,
                path = %self.path,
                status = self.status,
                bytes = self.bytes,
                latency_ms = format_args!("{latency_ms:.1}"),
                end = %self.body_end,
                "request"
            ),
            Some(tail) => tracing::info!(
                target: "agent_server::access",
                method = %self.method,
                path = %self.path,
                status = self.status,
                bytes = self.bytes,
                latency_ms = format_args!("{latency_ms:.1}"),
                lines = tail.lines(),
                end = %tail.end().as_str(),
                "tail"
            ),
        }
    }
}

/// A response body that counts the bytes sent into its request's [`AccessLog`], which
/// is written when the body is dropped (sent, or its connection gone).
pub(crate) struct Logged {
    inner: ResBody,
    log: AccessLog,
    /// The body failed: hyper dropped the connection before its end.
    aborted: bool,
    /// The body gave its last frame.
    ended: bool,
    /// Polling the body panicked: it is never polled again, and the answer is cut.
    panicked: bool,
}

impl Logged {
    /// Wraps `inner`.
    pub(crate) fn new(inner: ResBody, log: AccessLog) -> Self {
        Logged {
            inner,
            log,
            aborted: false,
            ended: false,
            panicked: false,
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.log.body_end = if self.aborted {
            self.log.metrics.aborted_body();
            "aborted"
        } else if self.ended || self.inner.is_end_stream() {
            "complete"
        } else {
            "client-gone"
        };
    }
}

impl Body for Logged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.panicked {
            return Poll::Ready(Some(Err("the answer's body panicked".into())));
        }
        // A panic while the body is written cuts the answer (after what was sent),
        // never ends it as if whole; the body's state is not touched again.
        let inner = &mut self.inner;
        let Ok(polled) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Pin::new(inner).poll_frame(cx)
        })) else {
            self.panicked = true;
            self.aborted = true;
            self.log.metrics.panicked();
            tracing::error!(
                target: "agent_server::panic",
                "writing an answer's body panicked; the answer was cut"
            );
            // one turn pending first: hyper flushes what it holds (the head and the
            // chunks so far), then the error drops the connection
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.log.bytes += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => self.aborted = true,
            Poll::Ready(None) => self.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
