//! Faults on demand: how a test server misbehaves, per route or per job.
//!
//! Two kinds:
//! - [`Fault`]: at the HTTP level, for requests matching a [`FaultTarget`] (a route,
//!   optionally one id): answer with a given status, headers and body (also: refuse a
//!   WebSocket upgrade), wait before answering, read the request then never answer,
//!   or cut the body after N bytes; optionally only for the first N requests;
//! - [`TailFault`]: inside a log tail of a job: an `error` event after N lines, a
//!   dropped connection after N events, frames that are not JSON, an oversized message
//!   (also in fragments), an endless line, invalid UTF-8, a long silence, or a whole
//!   scripted tail (exact WebSocket frames or HTTP chunks, for property tests).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::serve::{
    CannedResponse, Intercept, InterceptAction, RequestHead, RouteKind, TailProtocol,
};

/// Which requests a [`Fault`] applies to.
///
/// ```
/// use agent_testkit::{FaultTarget, RouteKind};
///
/// let every_request = FaultTarget::any();
/// let list_jobs: FaultTarget = RouteKind::ListJobs.into();
/// let one_job = FaultTarget::route(RouteKind::TailHttp).id("raysubmit_1");
/// # let _ = (every_request, list_jobs, one_job);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultTarget {
    kind: Option<RouteKind>,
    id: Option<String>,
}

impl FaultTarget {
    /// Every request, also those that name no route.
    pub fn any() -> Self {
        FaultTarget {
            kind: None,
            id: None,
        }
    }

    /// Requests of this route.
    pub fn route(kind: RouteKind) -> Self {
        FaultTarget {
            kind: Some(kind),
            id: None,
        }
    }

    /// Only requests whose path segment (job id, node id, app name, release lookup) is `id`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub(crate) fn matches(&self, head: &RequestHead<'_>) -> bool {
        if let Some(kind) = self.kind {
            match head.route {
                Some(route) if route.kind() == kind => {}
                _ => return false,
            }
        }
        match (&self.id, head.route) {
            (None, _) => true,
            (Some(id), Some(route)) => route.segment() == Some(id.as_str()),
            (Some(_), None) => false,
        }
    }
}

impl From<RouteKind> for FaultTarget {
    fn from(kind: RouteKind) -> Self {
        FaultTarget::route(kind)
    }
}

/// An HTTP-level fault. Build one, then narrow it with [`Fault::times`] or delay it
/// with [`Fault::after`].
///
/// ```
/// use agent_testkit::Fault;
/// use std::time::Duration;
///
/// let busy_twice = Fault::status(503).header("Retry-After", "1").times(2);
/// let no_gpu = Fault::gpu_unavailable("no GPU in the cluster");
/// let slow = Fault::delay(Duration::from_millis(300));
/// let lost_answer = Fault::stall();
/// let cut = Fault::close_after_bytes(10);
/// # let _ = (busy_twice, no_gpu, slow, lost_answer, cut);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub(crate) delay: Option<Duration>,
    pub(crate) action: InterceptAction,
    pub(crate) times: Option<u32>,
}

impl Fault {
    fn new(action: InterceptAction) -> Self {
        Fault {
            delay: None,
            action,
            times: None,
        }
    }

    fn canned(status: u16, content_type: Option<&'static str>, body: Bytes) -> Self {
        let mut headers = Vec::new();
        if let Some(ct) = content_type {
            headers.push((http::header::CONTENT_TYPE, HeaderValue::from_static(ct)));
        }
        Self::new(InterceptAction::Respond(CannedResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers,
            body,
        }))
    }

    /// Answers `status` with an empty body (a status outside 100..=999 becomes 500).
    /// On the WebSocket route this refuses the upgrade.
    pub fn status(status: u16) -> Self {
        Self::canned(status, None, Bytes::new())
    }

    /// Answers `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        Self::canned(status, Some("application/json"), Bytes::from(bytes))
    }

    /// Answers `status` with a plain-text body.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::canned(
            status,
            Some("text/plain; charset=utf-8"),
            Bytes::from(body.into()),
        )
    }

    /// Answers `status` with these bytes as they are (no content type).
    pub fn bytes(status: u16, body: impl Into<Bytes>) -> Self {
        Self::canned(status, None, body.into())
    }

    /// `503 {"error_type":"gpu_unavailable","detail":DETAIL}`.
    pub fn gpu_unavailable(detail: impl Into<String>) -> Self {
        Self::json(
            503,
            json!({ "error_type": "gpu_unavailable", "detail": detail.into() }),
        )
    }

    /// `422 {"detail":[{"loc":["body",FIELD],"msg":MSG,"type":"missing"}]}`.
    pub fn validation(field: &str, msg: &str) -> Self {
        Self::json(
            422,
            json!({ "detail": [{ "loc": ["body", field], "msg": msg, "type": "missing" }] }),
        )
    }

    /// `200` with a body that is not JSON (`text/html`, as a proxy's error page).
    pub fn not_json() -> Self {
        Self::canned(
            200,
            Some("text/html"),
            Bytes::from_static(b"<html><body>this is not JSON</body></html>"),
        )
    }

    /// Waits `delay` before answering normally (before the headers go out).
    pub fn delay(delay: Duration) -> Self {
        Self::new(InterceptAction::Continue).after(delay)
    }

    /// Reads the request fully (the journal shows `body_complete`), then never answers,
    /// until the client hangs up or the server stops.
    pub fn stall() -> Self {
        Self::new(InterceptAction::Stall)
    }

    /// Answers normally but drops the connection after `n` bytes of the body (the
    /// headers promise the whole body). On the HTTP log stream this cuts it mid-stream.
    pub fn close_after_bytes(n: u64) -> Self {
        Self::new(InterceptAction::TruncateBody { after_bytes: n })
    }

    /// Adds a header to the answer (for the answering faults); an invalid name or
    /// value is ignored.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let InterceptAction::Respond(canned) = &mut self.action {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                canned.headers.push((n, v));
            }
        }
        self
    }

    /// Applies to the first `n` matching requests only; then requests are answered normally.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Waits `delay` before acting.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub(crate) fn intercept(&self) -> Intercept {
        Intercept {
            delay: self.delay,
            action: self.action.clone(),
        }
    }
}

/// What a [`TailFault`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum TailFaultKind {
    /// After `lines` lines: `{"type":"error","message":MESSAGE}`, then the end (close 1011).
    ErrorAfter {
        /// Lines sent first.
        lines: u64,
        /// The error's message.
        message: String,
    },
    /// After `events` events, drop the connection: no close frame, no last chunk.
    DropAfter {
        /// Events sent first.
        events: u64,
    },
    /// Log lines are sent as plain text, not JSON: a WebSocket text frame `LINE`, an
    /// HTTP event `data: LINE`.
    NotJson,
    /// HTTP: log lines as bare lines `LINE\n` (no `data:`); WebSocket: like [`TailFaultKind::NotJson`].
    BareLines,
    /// After `after_lines` lines, one log message of `bytes` bytes (of `x`), then the
    /// tail goes on. With `fragment_size`, the WebSocket message is sent in frames of
    /// that many bytes (a text frame, then continuation frames) and the HTTP event in
    /// chunks of that size.
    Oversized {
        /// Lines sent first.
        after_lines: u64,
        /// The message's length.
        bytes: usize,
        /// Frame (or chunk) size, if fragmented.
        fragment_size: Option<usize>,
    },
    /// After `after_lines` lines, an endless line of `x` without a newline: the HTTP
    /// body never ends; on a WebSocket, an endless fragmented message (continuation
    /// frames without FIN). Stops when the client hangs up.
    EndlessLine {
        /// Lines sent first.
        after_lines: u64,
    },
    /// After `after_lines` lines, one log event whose bytes are not valid UTF-8: a
    /// WebSocket text frame, or an HTTP `data:` line, holding `\xff\xfe`.
    InvalidUtf8 {
        /// Lines sent first.
        after_lines: u64,
    },
    /// After `after_lines` lines, send nothing for `duration` without closing (pings
    /// are still answered), then go on.
    SilentFor {
        /// Lines sent first.
        after_lines: u64,
        /// How long to stay silent.
        duration: Duration,
    },
    /// The whole tail, scripted: the job's log is not read. Each piece is sent as is,
    /// in order: on a WebSocket one text frame per piece (not checked for UTF-8), over
    /// HTTP one body chunk per piece (no framing added). Then, with `complete`, a
    /// `{"type":"complete"}` event and a clean end (close 1000, or the last chunk);
    /// without, the connection is dropped (no close frame, no last chunk).
    Script {
        /// The frames (WebSocket) or chunks (HTTP), in order.
        pieces: Vec<Bytes>,
        /// Whether the tail ends with `complete` (else it is dropped).
        complete: bool,
        /// With [`TailFault::fragmented`]: each WebSocket piece is one message sent
        /// in frames of this many bytes (a text frame, then continuations).
        fragment_size: Option<usize>,
    },
}

/// A fault in the log tails of a job (or of every job): see [`TailFaultKind`].
///
/// ```
/// use agent_testkit::TailFault;
/// use std::time::Duration;
///
/// let f = TailFault::error_after(3, "worker died").websocket_only().times(1);
/// let g = TailFault::oversized(0, 64 * 1024).fragmented(1024);
/// let h = TailFault::silent_for(2, Duration::from_secs(5));
/// # let _ = (f, g, h);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TailFault {
    pub(crate) kind: TailFaultKind,
    pub(crate) protocol: Option<TailProtocol>,
    pub(crate) times: Option<u32>,
}

impl TailFault {
    /// A fault of this kind, for both protocols, every time.
    pub fn new(kind: TailFaultKind) -> Self {
        TailFault {
            kind,
            protocol: None,
            times: None,
        }
    }

    /// See [`TailFaultKind::ErrorAfter`].
    pub fn error_after(lines: u64, message: impl Into<String>) -> Self {
        Self::new(TailFaultKind::ErrorAfter {
            lines,
            message: message.into(),
        })
    }

    /// See [`TailFaultKind::DropAfter`].
    pub fn drop_after(events: u64) -> Self {
        Self::new(TailFaultKind::DropAfter { events })
    }

    /// See [`TailFaultKind::NotJson`].
    pub fn not_json() -> Self {
        Self::new(TailFaultKind::NotJson)
    }

    /// See [`TailFaultKind::BareLines`].
    pub fn bare_lines() -> Self {
        Self::new(TailFaultKind::BareLines)
    }

    /// See [`TailFaultKind::Oversized`] (one message, one frame).
    pub fn oversized(after_lines: u64, bytes: usize) -> Self {
        Self::new(TailFaultKind::Oversized {
            after_lines,
            bytes,
            fragment_size: None,
        })
    }

    /// Sends an [`TailFault::oversized`] message, or each WebSocket message of a
    /// [`TailFault::script`], in pieces of `fragment_size` bytes.
    pub fn fragmented(mut self, fragment_size: usize) -> Self {
        if let TailFaultKind::Oversized {
            fragment_size: f, ..
        }
        | TailFaultKind::Script {
            fragment_size: f, ..
        } = &mut self.kind
        {
            *f = Some(fragment_size.max(1));
        }
        self
    }

    /// See [`TailFaultKind::EndlessLine`].
    pub fn endless_line(after_lines: u64) -> Self {
        Self::new(TailFaultKind::EndlessLine { after_lines })
    }

    /// See [`TailFaultKind::InvalidUtf8`].
    pub fn invalid_utf8(after_lines: u64) -> Self {
        Self::new(TailFaultKind::InvalidUtf8 { after_lines })
    }

    /// See [`TailFaultKind::SilentFor`].
    pub fn silent_for(after_lines: u64, duration: Duration) -> Self {
        Self::new(TailFaultKind::SilentFor {
            after_lines,
            duration,
        })
    }

    /// See [`TailFaultKind::Script`]: a tail of exactly these frames or chunks. Meant
    /// for one protocol ([`TailFault::websocket_only`], [`TailFault::http_only`]):
    /// frames and chunks do not mean the same.
    ///
    /// ```
    /// use agent_testkit::TailFault;
    ///
    /// // A WebSocket that sends a batch frame, then breaks; an HTTP stream that
    /// // replays the log one line per chunk and completes.
    /// let ws = TailFault::script(["tick\ntick\n"], false).websocket_only().times(1);
    /// let http = TailFault::script(["tick\n", "tick\n", "done\n"], true).http_only();
    /// # let _ = (ws, http);
    /// ```
    pub fn script<I, P>(pieces: I, complete: bool) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Bytes>,
    {
        Self::new(TailFaultKind::Script {
            pieces: pieces.into_iter().map(Into::into).collect(),
            complete,
            fragment_size: None,
        })
    }

    /// Applies to WebSocket tails only.
    pub fn websocket_only(mut self) -> Self {
        self.protocol = Some(TailProtocol::WebSocket);
        self
    }

    /// Applies to HTTP stream tails only.
    pub fn http_only(mut self) -> Self {
        self.protocol = Some(TailProtocol::Http);
        self
    }

    /// Applies to the first `n` tails only (of the job, or of all jobs for a global fault).
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// The fault's kind.
    pub fn kind(&self) -> &TailFaultKind {
        &self.kind
    }
}

/// A fault and how often it may still fire.
#[derive(Debug, Clone)]
pub(crate) struct Armed<F> {
    pub(crate) fault: F,
    pub(crate) remaining: Option<u32>,
}

impl<F> Armed<F> {
    pub(crate) fn new(fault: F, times: Option<u32>) -> Self {
        Armed {
            fault,
            remaining: times,
        }
    }

    /// Spends one use; false when it has none left.
    pub(crate) fn fire(&mut self) -> bool {
        match &mut self.remaining {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }
}

/// Picks the tail faults of one tail over `protocol` from `armed`, spending their uses.
pub(crate) fn pick_tail_faults(
    armed: &mut [Armed<TailFault>],
    protocol: TailProtocol,
) -> Vec<TailFaultKind> {
    armed
        .iter_mut()
        .filter(|a| a.fault.protocol.is_none_or(|p| p == protocol))
        .filter_map(|a| a.fire().then(|| a.fault.kind.clone()))
        .collect()
}
