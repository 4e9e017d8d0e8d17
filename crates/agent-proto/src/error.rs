//! The one error type of the agent client, and how an HTTP error answer maps onto it.
//!
//! Every variant answers [`ClientError::status_code`], so a caller can match on the
//! code the way users of the Python SDK match on `ClientError.status_code`, or on the
//! variant when it wants the details.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The longest server-supplied message kept in an error, in bytes.
///
/// A hostile or broken server can answer with a body of any size; an error message is
/// for people and logs, so it is cut (on a character boundary) and marked as cut.
pub const MAX_ERROR_MESSAGE: usize = 2048;

/// The statuses of an answer about the request itself (wrong, unauthorised,
/// forbidden, unknown, rejected, too frequent): sent again, or over the other tail
/// protocol, the request gets the same answer. See
/// [`ClientError::is_about_the_request`].
pub const REQUEST_REFUSALS: [u16; 6] = [400, 401, 403, 404, 422, 429];

/// The statuses of an answer that says "not now" (a gateway or the agent briefly
/// unable to serve): 502, 503, 504. See [`ClientError::is_transient`]; the retry
/// policy's default statuses.
pub const TRANSIENT_STATUSES: [u16; 3] = [502, 503, 504];

/// Which limit of a `StreamLimits` ended a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `max_messages`: messages received (WebSocket messages; HTTP events or plain
    /// lines).
    Messages,
    /// `max_lines`: lines delivered.
    Lines,
    /// `max_bytes`: bytes of log text delivered.
    Bytes,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Messages => "max_messages",
            LimitKind::Lines => "max_lines",
            LimitKind::Bytes => "max_bytes",
        })
    }
}

/// Which wait ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// Opening the TCP (and TLS) connection.
    Connect,
    /// Waiting for the answer to a request (headers or body).
    Read,
    /// A log stream that delivered nothing, not even a keep-alive answer, for this long.
    /// The job may still be running: this is *not* the end of its log.
    Idle,
    /// A log tail whose job wrote no new line for the caller's `max_quiet`, while
    /// the server kept showing life: the job was quiet, not the server.
    Quiet,
    /// A wait for a state (the system ready, a build finished) that did not come
    /// within the caller's time-out (`wait_for_system_ready`, `wait_for_build`).
    Wait,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Read => "read",
            TimeoutKind::Idle => "idle stream",
            TimeoutKind::Quiet => "quiet job (no new log line while the server was alive)",
            TimeoutKind::Wait => "wait for the state asked",
        })
    }
}

/// One entry of a FastAPI-style 422 answer: `{"loc": [...], "msg": "...", "type": "..."}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValidationDetail {
    /// Where the problem is, e.g. `["body", "plugin"]`.
    #[serde(default)]
    pub loc: Vec<serde_json::Value>,
    /// What is wrong, e.g. `field required`.
    #[serde(default)]
    pub msg: String,
    /// The validator's error type, e.g. `value_error.missing`.
    #[serde(default, rename = "type")]
    pub kind: String,
}

impl fmt::Display for ValidationDetail {
    /// Renders `body -> plugin: field required`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for part in &self.loc {
            if !first {
                f.write_str(" -> ")?;
            }
            first = false;
            match part {
                serde_json::Value::String(s) => f.write_str(s)?,
                other => write!(f, "{other}")?,
            }
        }
        if first {
            f.write_str("(body)")?;
        }
        write!(f, ": {}", self.msg)
    }
}

fn render_details(details: &[ValidationDetail], message: &str) -> String {
    if details.is_empty() {
        return message.to_owned();
    }
    let mut out = String::new();
    for d in details {
        out.push('\n');
        out.push_str(&d.to_string());
    }
    out
}

/// The ` (retry after 7s)` hint of an error that carries a `Retry-After` wait, or
/// nothing: one rendering for the library's messages and for tools built on it.
///
/// ```
/// use std::time::Duration;
/// use agent_proto::error::retry_after_hint;
///
/// assert_eq!(retry_after_hint(Some(Duration::from_secs(7))), " (retry after 7s)");
/// assert_eq!(retry_after_hint(Some(Duration::from_millis(1500))), " (retry after 1.5s)");
/// assert_eq!(retry_after_hint(None), "");
/// ```
pub fn retry_after_hint(retry_after: Option<Duration>) -> String {
    render_retry(&retry_after)
}

fn render_retry(retry_after: &Option<Duration>) -> String {
    match retry_after {
        // Whole seconds as such; a date's odd fraction to the tenth.
        Some(d) if d.subsec_millis() == 0 => format!(" (retry after {}s)", d.as_secs()),
        Some(d) => format!(" (retry after {:.1}s)", d.as_secs_f64()),
        None => String::new(),
    }
}

/// The underlying cause of a [`ClientError`]: an `io::Error`, a rustls or hyper
/// error, a proxy's refusal, ... behind an opaque, cheaply cloned box.
///
/// [`std::error::Error::source`] of a [`ClientError::Connect`] or
/// [`ClientError::Protocol`] returns the wrapped error itself (this type derefs to
/// it), so `anyhow`/`eyre` reports show the cause and a caller can `downcast_ref`
/// the chain to the concrete type it knows, as with reqwest. Its `Display` and
/// `Debug` are the wrapped error's.
///
/// ```
/// use agent_proto::ClientError;
/// use std::error::Error;
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let e = ClientError::connect_with("could not connect to h:1", io);
/// let cause = e.source().and_then(|c| c.downcast_ref::<std::io::Error>());
/// assert_eq!(cause.map(|io| io.kind()), Some(std::io::ErrorKind::ConnectionRefused));
/// ```
#[derive(Clone)]
pub struct ErrorSource(Arc<dyn StdError + Send + Sync + 'static>);

impl ErrorSource {
    /// Wraps an error.
    pub fn new(err: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        ErrorSource(Arc::from(err.into()))
    }

    /// The wrapped error as a `T`, when it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }
}

// `ClientError` was unwind-safe before it had a source, and callers rely on it
// (`catch_unwind` around checks of an error). The cause is only ever read through
// `&`, and a panic cannot leave an error half-updated, so the marker holds.
impl std::panic::UnwindSafe for ErrorSource {}
impl std::panic::RefUnwindSafe for ErrorSource {}

impl fmt::Debug for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

// Deliberately not `impl Error`: `ClientError::source()` reaches the wrapped error
// through this `Deref`, so that `downcast_ref::<io::Error>()` on it works directly,
// as on reqwest's errors.
impl std::ops::Deref for ErrorSource {
    type Target = dyn StdError + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// Everything that can go wrong between a caller and the agent.
///
/// Every variant has an HTTP-style status code ([`ClientError::status_code`]); the
/// codes follow the agent API's error table (400, 401, 403, 404, 408, 422, 429, 500,
/// 503), and an unexpected answer of the agent keeps the agent's own code.
///
/// No variant ever holds a token: messages that come from a server pass through
/// [`ClientError::scrub`] with the client's secrets before they reach the caller.
///
/// [`std::error::Error::source`] walks down to the cause: the underlying
/// `io::Error`, rustls or hyper error of a [`ClientError::Connect`] or
/// [`ClientError::Protocol`] (an [`ErrorSource`]), the cause of a
/// [`ClientError::ResponseIncomplete`]. The predicates [`ClientError::is_connect`],
/// [`ClientError::is_timeout`], [`ClientError::is_status`] and
/// [`ClientError::is_limit`] answer the usual questions without a `match`.
///
/// ```
/// use agent_proto::ClientError;
///
/// let err = ClientError::from_response(404, None, b"Job nope does not exist");
/// assert_eq!(err.status_code(), 404);
/// assert!(matches!(err, ClientError::NotFound { .. }));
/// assert_eq!(err.to_string(), "not found (404): Job nope does not exist");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A parameter the caller gave was refused before any request was sent (400).
    #[error("invalid {what} (400): {reason}")]
    InvalidInput {
        /// What was invalid, e.g. `job id`, `protocol`, `stream timeout`.
        what: &'static str,
        /// Why, in words.
        reason: String,
    },
    /// The agent answered 400.
    #[error("bad request (400): {message}")]
    BadRequest {
        /// The agent's message.
        message: String,
    },
    /// The agent refused the agent token (401).
    #[error("unauthorized (401): {message}")]
    Unauthorized {
        /// The agent's message.
        message: String,
    },
    /// The agent refused the user or tenant (403).
    #[error("forbidden (403): {message}")]
    Forbidden {
        /// The agent's message.
        message: String,
    },
    /// The resource does not exist (404).
    #[error("not found (404): {message}")]
    NotFound {
        /// The agent's message.
        message: String,
    },
    /// A connect, read or idle-stream time-out (408).
    #[error("{kind} timed out after {after:?} (408)")]
    Timeout {
        /// Which wait ran out.
        kind: TimeoutKind,
        /// The configured time that ran out.
        after: Duration,
    },
    /// The agent rejected the request body (422); FastAPI-style details rendered as
    /// `loc -> field: msg` lines.
    #[error(
        "the agent rejected the request (422):{}",
        render_details(details, message)
    )]
    Validation {
        /// The parsed `detail` entries (empty when the body had none).
        details: Vec<ValidationDetail>,
        /// The raw message when the body had no detail list.
        message: String,
    },
    /// The agent rate-limited us (429).
    #[error("rate limited (429){}: {message}", render_retry(retry_after))]
    RateLimited {
        /// The agent's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
        /// The agent's message.
        message: String,
    },
    /// A stream limit was exceeded and the stream ended (429).
    #[error("stream limit exceeded (429): more than {limit} ({kind})")]
    LimitExceeded {
        /// Which limit.
        kind: LimitKind,
        /// Its configured value.
        limit: u64,
    },
    /// The agent failed: a 500, or another 5xx that has no variant of its own.
    #[error("the agent failed ({status}): {message}")]
    Server {
        /// The agent's status code.
        status: u16,
        /// The agent's message.
        message: String,
    },
    /// The log stream sent an `error` event (500).
    #[error("the log stream failed on the agent (500): {message}")]
    StreamFailed {
        /// The event's message.
        message: String,
    },
    /// The agent answered 503.
    #[error(
        "the agent is unavailable (503){}: {message}",
        render_retry(retry_after)
    )]
    Unavailable {
        /// The agent's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
        /// The agent's message.
        message: String,
    },
    /// A 503 whose body says `error_type: gpu_unavailable`: the cluster lacks GPUs.
    #[error("the cluster has no GPU available (503): {message}")]
    GpuUnavailable {
        /// The agent's message.
        message: String,
    },
    /// The agent could not be reached: DNS, refused or reset connection, TLS (503).
    /// The request never left, so it is safe to send again.
    #[error("could not reach the agent (503): {message}")]
    Connect {
        /// What failed.
        message: String,
        /// The underlying error (`io::Error`, rustls, hyper, a proxy's answer), when
        /// there is one; `Error::source` returns it.
        source: Option<ErrorSource>,
    },
    /// The request may have reached the agent but its answer was lost, so a write
    /// may have happened. The status code is the cause's (408 for a read time-out,
    /// 503 for a dropped connection).
    ///
    /// Its text does not repeat the cause, which [`Error::source`](std::error::Error::source)
    /// returns (as reqwest's errors do); [`error_chain`] says both.
    #[error(
        "{method} {path}: the request may have reached the agent, but no complete answer came back"
    )]
    ResponseIncomplete {
        /// The request method.
        method: String,
        /// The request path, relative to the base URL.
        path: String,
        /// What broke; `Error::source` returns it.
        #[source]
        cause: Box<ClientError>,
    },
    /// The agent answered with a status that has no meaning in the API.
    #[error("unexpected answer from the agent ({status}): {message}")]
    UnexpectedStatus {
        /// The agent's status code.
        status: u16,
        /// The agent's message.
        message: String,
    },
    /// The agent's answer could not be decoded (500).
    #[error("could not decode the agent's answer (500): {message}")]
    Decode {
        /// What could not be decoded.
        message: String,
    },
    /// The connection broke the protocol: a bad WebSocket handshake, a bad frame (500).
    #[error("protocol error (500): {message}")]
    Protocol {
        /// What was wrong.
        message: String,
        /// The underlying error (hyper, the WebSocket layer), when there is one;
        /// `Error::source` returns it.
        source: Option<ErrorSource>,
    },
    /// The client was used in a way it cannot serve: e.g. the blocking client called
    /// from inside an async runtime, or after `close()` (500).
    #[error("client misuse (500): {message}")]
    Usage {
        /// What was wrong and what to do instead.
        message: String,
    },
}

/// Matches the variants that carry a plain `message`, binding it (by reference or
/// mutable reference, as the matched value is); exhaustive, so that a new variant
/// must say whether it has one.
macro_rules! with_message {
    ($err:expr, $m:ident => $then:expr) => {
        match $err {
            ClientError::BadRequest { message: $m }
            | ClientError::Unauthorized { message: $m }
            | ClientError::Forbidden { message: $m }
            | ClientError::NotFound { message: $m }
            | ClientError::RateLimited { message: $m, .. }
            | ClientError::Server { message: $m, .. }
            | ClientError::StreamFailed { message: $m }
            | ClientError::Unavailable { message: $m, .. }
            | ClientError::GpuUnavailable { message: $m }
            | ClientError::Connect { message: $m, .. }
            | ClientError::UnexpectedStatus { message: $m, .. }
            | ClientError::Decode { message: $m }
            | ClientError::Protocol { message: $m, .. }
            | ClientError::Usage { message: $m } => Some($then),
            ClientError::InvalidInput { .. }
            | ClientError::Timeout { .. }
            | ClientError::Validation { .. }
            | ClientError::LimitExceeded { .. }
            | ClientError::ResponseIncomplete { .. } => None,
        }
    };
}

/// An error and its sources, `a: b: c`, skipping a source its parent already says:
/// the one way an error is written out whole (a message, a log line, a Python
/// exception), since a variant's own text never repeats its source.
///
/// ```
/// use agent_proto::{error_chain, ClientError, TimeoutKind};
/// use std::time::Duration;
///
/// let cause = ClientError::Timeout { kind: TimeoutKind::Read, after: Duration::from_secs(1) };
/// let e = ClientError::incomplete("POST", "jobs/j/stop/", cause);
/// assert!(!e.to_string().contains("timed out"));
/// assert!(error_chain(&e).ends_with("no complete answer came back: read timed out after 1s (408)"));
/// ```
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The first error of type `T` in `err`'s source chain (`err` included): the one
/// walk down a chain, for whoever looks for a cause by its type.
///
/// ```
/// use agent_proto::{find_source, ClientError, TimeoutKind};
/// use std::time::Duration;
///
/// let cause = ClientError::Timeout { kind: TimeoutKind::Read, after: Duration::from_secs(1) };
/// let e = ClientError::incomplete("POST", "jobs/j/stop/", cause);
/// let found = find_source::<ClientError>(&e);
/// assert!(found.is_some_and(|f| f.status_code() == 408));
/// ```
pub fn find_source<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Shorthand for results of the agent client.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

impl ClientError {
    /// The HTTP-style status code of this error (see the agent API's error table).
    ///
    /// ```
    /// use agent_proto::{ClientError, TimeoutKind};
    /// use std::time::Duration;
    ///
    /// let e = ClientError::Timeout { kind: TimeoutKind::Read, after: Duration::from_secs(10) };
    /// assert_eq!(e.status_code(), 408);
    /// ```
    pub fn status_code(&self) -> u16 {
        match self {
            ClientError::InvalidInput { .. } | ClientError::BadRequest { .. } => 400,
            ClientError::Unauthorized { .. } => 401,
            ClientError::Forbidden { .. } => 403,
            ClientError::NotFound { .. } => 404,
            ClientError::Timeout { .. } => 408,
            ClientError::Validation { .. } => 422,
            ClientError::RateLimited { .. } | ClientError::LimitExceeded { .. } => 429,
            ClientError::Server { status, .. } | ClientError::UnexpectedStatus { status, .. } => {
                *status
            }
            ClientError::StreamFailed { .. }
            | ClientError::Decode { .. }
            | ClientError::Protocol { .. }
            | ClientError::Usage { .. } => 500,
            ClientError::Unavailable { .. }
            | ClientError::GpuUnavailable { .. }
            | ClientError::Connect { .. } => 503,
            ClientError::ResponseIncomplete { cause, .. } => cause.status_code(),
        }
    }

    /// A 400 for a caller-supplied parameter.
    ///
    /// ```
    /// let e = agent_proto::ClientError::invalid("protocol", "expected auto, websocket or http");
    /// assert_eq!(e.status_code(), 400);
    /// ```
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        ClientError::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    /// A [`ClientError::Connect`] without an underlying error (a custom transport's
    /// "the broker is down").
    pub fn connect(message: impl Into<String>) -> Self {
        ClientError::Connect {
            message: message.into(),
            source: None,
        }
    }

    /// A [`ClientError::Connect`] caused by `source` (an `io::Error`, a rustls or
    /// hyper error, ...), which [`std::error::Error::source`] then returns.
    pub fn connect_with(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        ClientError::Connect {
            message: message.into(),
            source: Some(ErrorSource::new(source)),
        }
    }

    /// A [`ClientError::Protocol`] without an underlying error.
    pub fn protocol(message: impl Into<String>) -> Self {
        ClientError::Protocol {
            message: message.into(),
            source: None,
        }
    }

    /// A [`ClientError::Protocol`] caused by `source`.
    pub fn protocol_with(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        ClientError::Protocol {
            message: message.into(),
            source: Some(ErrorSource::new(source)),
        }
    }

    /// True when the agent could not be reached: the connection (TCP, TLS, a proxy's
    /// tunnel) did not open, or not in time. The request never left, so sending it
    /// again cannot repeat a write. A connection that broke *after* the request was
    /// sent is a [`ClientError::ResponseIncomplete`], not a connect error.
    ///
    /// ```
    /// use agent_proto::ClientError;
    ///
    /// assert!(ClientError::connect("refused").is_connect());
    /// assert!(!ClientError::incomplete("POST", "jobs/", ClientError::connect("reset")).is_connect());
    /// ```
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. }
                | ClientError::Timeout {
                    kind: TimeoutKind::Connect,
                    ..
                }
        )
    }

    /// True when a wait ran out: connect, read or idle stream ([`ClientError::Timeout`],
    /// also as the cause of a [`ClientError::ResponseIncomplete`]), the agent's own
    /// 408, or an underlying `io::Error` of kind `TimedOut`.
    ///
    /// ```
    /// use agent_proto::{ClientError, TimeoutKind};
    /// use std::time::Duration;
    ///
    /// let read = ClientError::Timeout { kind: TimeoutKind::Read, after: Duration::from_secs(10) };
    /// assert!(ClientError::incomplete("GET", "jobs/", read).is_timeout());
    /// assert!(!ClientError::from_response(404, None, b"").is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        match self {
            ClientError::Timeout { .. } => true,
            ClientError::ResponseIncomplete { cause, .. } => cause.is_timeout(),
            other => {
                let mut next = StdError::source(other);
                while let Some(e) = next {
                    let io = e.downcast_ref::<std::io::Error>();
                    if io.is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) {
                        return true;
                    }
                    next = e.source();
                }
                false
            }
        }
    }

    /// True when the error is the agent's answer: an HTTP error status it sent
    /// (400, 401, 403, 404, 408, 422, 429, 5xx, or any other it should not have
    /// sent), as opposed to a failure on the way or a refusal by the client itself.
    ///
    /// ```
    /// use agent_proto::ClientError;
    ///
    /// assert!(ClientError::from_response(401, None, b"bad token").is_status());
    /// assert!(!ClientError::connect("refused").is_status());
    /// assert!(!ClientError::invalid("job id", "empty").is_status());
    /// ```
    pub fn is_status(&self) -> bool {
        // Exhaustive, so that a new variant must say whether it is an answer.
        match self {
            ClientError::BadRequest { .. }
            | ClientError::Unauthorized { .. }
            | ClientError::Forbidden { .. }
            | ClientError::NotFound { .. }
            | ClientError::Validation { .. }
            | ClientError::RateLimited { .. }
            | ClientError::Server { .. }
            | ClientError::Unavailable { .. }
            | ClientError::GpuUnavailable { .. }
            | ClientError::UnexpectedStatus { .. } => true,
            // The agent's own 408 carries no configured wait.
            ClientError::Timeout { after, .. } => after.is_zero(),
            ClientError::InvalidInput { .. }
            | ClientError::LimitExceeded { .. }
            | ClientError::StreamFailed { .. }
            | ClientError::Connect { .. }
            | ClientError::ResponseIncomplete { .. }
            | ClientError::Decode { .. }
            | ClientError::Protocol { .. }
            | ClientError::Usage { .. } => false,
        }
    }

    /// True when one of the caller's [`StreamLimits`](crate::StreamLimits) ended a
    /// stream ([`ClientError::LimitExceeded`]); not the agent's rate limit (that is a
    /// [`ClientError::RateLimited`] answer, see [`ClientError::is_status`]).
    ///
    /// ```
    /// use agent_proto::{ClientError, LimitKind};
    ///
    /// assert!(ClientError::LimitExceeded { kind: LimitKind::Lines, limit: 10 }.is_limit());
    /// assert!(!ClientError::from_response(429, None, b"slow down").is_limit());
    /// ```
    pub fn is_limit(&self) -> bool {
        match self {
            ClientError::LimitExceeded { .. } => true,
            ClientError::ResponseIncomplete { cause, .. } => cause.is_limit(),
            _ => false,
        }
    }

    /// Maps an HTTP error answer of the agent to an error.
    ///
    /// `body` is the answer's body as received (it is cut to [`MAX_ERROR_MESSAGE`]);
    /// a JSON body's `detail`, `message` or `error` field becomes the message, a
    /// FastAPI 422 detail list becomes [`ClientError::Validation`], and a 503 with
    /// `error_type: gpu_unavailable` becomes [`ClientError::GpuUnavailable`].
    ///
    /// ```
    /// use agent_proto::ClientError;
    ///
    /// let body = br#"{"detail":[{"loc":["body","plugin"],"msg":"field required","type":"missing"}]}"#;
    /// let e = ClientError::from_response(422, None, body);
    /// assert_eq!(e.status_code(), 422);
    /// assert!(e.to_string().contains("body -> plugin: field required"));
    /// ```
    pub fn from_response(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let message = json
            .as_ref()
            .and_then(message_of)
            .unwrap_or_else(|| truncate(&String::from_utf8_lossy(body)));
        let message = if message.is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            message
        };
        match status {
            400 => ClientError::BadRequest { message },
            401 => ClientError::Unauthorized { message },
            403 => ClientError::Forbidden { message },
            404 => ClientError::NotFound { message },
            408 => ClientError::Timeout {
                kind: TimeoutKind::Read,
                after: Duration::ZERO,
            },
            422 => {
                let details = json
                    .as_ref()
                    .and_then(|j| j.get("detail"))
                    .and_then(|d| serde_json::from_value::<Vec<ValidationDetail>>(d.clone()).ok())
                    .unwrap_or_default();
                ClientError::Validation { details, message }
            }
            429 => ClientError::RateLimited {
                retry_after,
                message,
            },
            503 => {
                let gpu = json
                    .as_ref()
                    .and_then(|j| j.get("error_type"))
                    .and_then(|t| t.as_str())
                    == Some("gpu_unavailable");
                if gpu {
                    ClientError::GpuUnavailable { message }
                } else {
                    ClientError::Unavailable {
                        retry_after,
                        message,
                    }
                }
            }
            500..=599 => ClientError::Server { status, message },
            _ => ClientError::UnexpectedStatus { status, message },
        }
    }

    /// True when sending the same request again may succeed and cannot repeat a
    /// write by itself: a connection that never opened, or an answer of
    /// [`TRANSIENT_STATUSES`] (502, 503, 504) other than a 503 that says
    /// `gpu_unavailable` (waiting does not bring GPUs).
    ///
    /// Whether a *method* may be re-sent is the retry policy's decision; this only
    /// says whether the failure is transient. A transient failure is never
    /// [about the request](ClientError::is_about_the_request).
    ///
    /// ```
    /// use agent_proto::ClientError;
    ///
    /// assert!(ClientError::from_response(504, None, b"").is_transient());
    /// assert!(!ClientError::from_response(500, None, b"").is_transient());
    /// assert!(!ClientError::from_response(503, None, br#"{"error_type":"gpu_unavailable"}"#).is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Connect { .. } => true,
            ClientError::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } => true,
            ClientError::GpuUnavailable { .. } => false,
            e => e.is_status() && TRANSIENT_STATUSES.contains(&e.status_code()),
        }
    }

    /// True when the failure is an answer about the request itself: a status of
    /// [`REQUEST_REFUSALS`] (400, 401, 403, 404, 422, 429), or the client's own
    /// refusal of a parameter or of a use (a 400 or a 500 that no server saw). The
    /// same request gets the same answer by any route.
    ///
    /// Anything else says nothing against the request: a connection or TLS
    /// failure, a time-out, a cut answer, a [transient](ClientError::is_transient)
    /// answer, any other status (a `200` or a `426` to a WebSocket upgrade, a
    /// `500`). This is the rule of `auto`'s fallback ("Falling back under `auto`"
    /// in the agent API): a WebSocket that fails to open for any such reason is
    /// tried over HTTP.
    ///
    /// ```
    /// use agent_proto::ClientError;
    ///
    /// assert!(ClientError::from_response(404, None, b"no such job").is_about_the_request());
    /// assert!(!ClientError::from_response(426, None, b"upgrade required").is_about_the_request());
    /// assert!(!ClientError::connect("refused").is_about_the_request());
    /// ```
    pub fn is_about_the_request(&self) -> bool {
        match self {
            ClientError::InvalidInput { .. } | ClientError::Usage { .. } => true,
            e => e.is_status() && REQUEST_REFUSALS.contains(&e.status_code()),
        }
    }

    /// The server's `Retry-After`, where the error carries one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::RateLimited { retry_after, .. }
            | ClientError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Replaces `secret` in the error's messages by `[redacted]` (see [`scrub_text`]).
    ///
    /// A hostile server can echo a token back in its error body; the clients call
    /// [`ClientError::scrub_all`] with all of their secrets before an error reaches
    /// the caller.
    ///
    /// ```
    /// use agent_proto::ClientError;
    ///
    /// let e = ClientError::from_response(401, None, b"bad token hunter2").scrub("hunter2");
    /// assert!(!e.to_string().contains("hunter2"));
    /// ```
    pub fn scrub(self, secret: &str) -> Self {
        self.scrub_all(&[secret])
    }

    /// Replaces every one of `secrets` in the error's messages by `[redacted]`, in
    /// one pass over each message ([`scrub_text`]): scrubbing again changes nothing,
    /// and the marker itself is never scrubbed.
    pub fn scrub_all(mut self, secrets: &[&str]) -> Self {
        let fix = |s: &mut String| {
            let clean = scrub_text(s, secrets);
            if clean != *s {
                *s = clean;
            }
        };
        if let Some(message) = self.message_mut() {
            fix(message);
        }
        match &mut self {
            ClientError::InvalidInput { reason, .. } => fix(reason),
            ClientError::Validation { details, message } => {
                fix(message);
                for d in details {
                    fix(&mut d.msg);
                    fix(&mut d.kind);
                    for l in &mut d.loc {
                        if let serde_json::Value::String(s) = l {
                            fix(s);
                        }
                    }
                }
            }
            ClientError::ResponseIncomplete { path, cause, .. } => {
                fix(path);
                let inner = std::mem::replace(
                    cause.as_mut(),
                    ClientError::Usage {
                        message: String::new(),
                    },
                );
                **cause = inner.scrub_all(secrets);
            }
            _ => {}
        }
        self
    }

    /// The message a server or the failure itself gave, without the prefix that
    /// `Display` adds (`not found (404): `); `None` for variants whose text is built
    /// from fields (time-outs, limits, validation details, invalid input, incomplete
    /// responses).
    ///
    /// ```
    /// use agent_proto::ClientError;
    ///
    /// let e = ClientError::from_response(404, None, b"Job nope does not exist");
    /// assert_eq!(e.message(), Some("Job nope does not exist"));
    /// ```
    pub fn message(&self) -> Option<&str> {
        with_message!(self, message => message.as_str())
    }

    /// Puts `context` (what the caller was doing, a cause of its own) before the
    /// message, keeping the variant, its status code and [`ClientError::retry_after`];
    /// a variant without a message (see [`ClientError::message`]) is returned as is.
    ///
    /// ```
    /// use agent_proto::ClientError;
    /// use std::time::Duration;
    ///
    /// let e = ClientError::from_response(429, Some(Duration::from_secs(7)), b"slow down")
    ///     .with_context("the WebSocket broke; resuming over HTTP: ");
    /// assert_eq!(e.status_code(), 429);
    /// assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    /// assert_eq!(e.message(), Some("the WebSocket broke; resuming over HTTP: slow down"));
    /// ```
    pub fn with_context(mut self, context: &str) -> Self {
        if let Some(message) = self.message_mut() {
            message.insert_str(0, context);
        }
        self
    }

    fn message_mut(&mut self) -> Option<&mut String> {
        with_message!(self, message => message)
    }

    /// Wraps a failure that happened after the request was sent: the caller learns
    /// that a write may have happened.
    pub fn incomplete(
        method: impl Into<String>,
        path: impl Into<String>,
        cause: ClientError,
    ) -> Self {
        ClientError::ResponseIncomplete {
            method: method.into(),
            path: path.into(),
            cause: Box::new(cause),
        }
    }
}

/// The human message of a JSON error body: `detail` (a string), `message`, `error`, `msg`.
fn message_of(json: &serde_json::Value) -> Option<String> {
    match json {
        serde_json::Value::String(s) => Some(truncate(s)),
        serde_json::Value::Object(map) => {
            for key in ["detail", "message", "error", "msg"] {
                if let Some(serde_json::Value::String(s)) = map.get(key) {
                    return Some(truncate(s));
                }
            }
            Some(truncate(&json.to_string()))
        }
        other => Some(truncate(&other.to_string())),
    }
}

/// Cuts a server-supplied message to [`MAX_ERROR_MESSAGE`] bytes on a char boundary.
pub fn truncate(s: &str) -> String {
    let s = s.trim();
    if s.len() <= MAX_ERROR_MESSAGE {
        return s.to_owned();
    }
    let mut end = MAX_ERROR_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT_MARK}{} bytes in all)", &s[..end], s.len())
}

/// What [`truncate`] puts after the text it kept.
const CUT_MARK: &str = "... (";

/// What [`scrub_text`] puts in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are replaced only where they stand alone (no letter or
/// digit touching them), so that a short token does not garble every message.
const SHORT_SECRET: usize = 8;

/// The shortest start of a secret that is redacted where [`truncate`] cut a message.
const CUT_PREFIX: usize = 4;

/// Replaces each of `secrets` in `text` by `[redacted]`, in one pass, left to right:
///
/// - the marker is never scrubbed (text already scrubbed comes out unchanged), and a
///   replacement never creates a new match;
/// - a secret of fewer than 8 bytes is replaced only where it stands alone (not
///   inside a word), so messages stay readable whatever the token; a longer one
///   wherever it occurs;
/// - where [`truncate`] cut the text (`... (N bytes in all)`), a start of a secret
///   (4 bytes or more) right before the cut is replaced too: a secret that straddled
///   the cut never shows its first half.
///
/// ```
/// use agent_proto::error::scrub_text;
///
/// assert_eq!(scrub_text("token s3cr3t-t0ken!", &["s3cr3t-t0ken"]), "token [redacted]!");
/// // Once is enough, and the marker is safe from a secret found inside it.
/// assert_eq!(scrub_text("[redacted] e", &["e", "red"]), "[redacted] [redacted]");
/// // A short secret inside words is left alone.
/// assert_eq!(scrub_text("error: 503 unreachable", &["e"]), "error: 503 unreachable");
/// ```
pub fn scrub_text(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    if !secrets
        .iter()
        .any(|s| text.contains(s) || s.len() >= CUT_PREFIX)
    {
        return text.to_owned();
    }
    // Longest first: a secret that contains another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let (head, cut) = split_cut(text);
    let bytes = head.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    'scan: while i < head.len() {
        let rest = &head[i..];
        if rest.starts_with(REDACTED) {
            out.push_str(REDACTED);
            i += REDACTED.len();
            continue;
        }
        for s in &secrets {
            if rest.starts_with(s) && (s.len() >= SHORT_SECRET || stands_alone(bytes, i, s.len())) {
                out.push_str(REDACTED);
                i += s.len();
                continue 'scan;
            }
        }
        let Some(c) = rest.chars().next() else { break };
        out.push(c);
        i += c.len_utf8();
    }
    if let Some(cut) = cut {
        // A secret that the cut split: its start is at the end of what was kept.
        let straddling = secrets.iter().find_map(|s| {
            (CUT_PREFIX..s.len())
                .rev()
                .filter(|n| s.is_char_boundary(*n))
                .find(|n| out.ends_with(&s[..*n]) && !out.ends_with(REDACTED))
        });
        if let Some(n) = straddling {
            out.truncate(out.len() - n);
            out.push_str(REDACTED);
        }
        out.push_str(cut);
    }
    out
}

/// `text` split where [`truncate`] cut it: the text kept, and the marker after it.
fn split_cut(text: &str) -> (&str, Option<&str>) {
    if let Some(at) = text.rfind(CUT_MARK) {
        let tail = &text[at + CUT_MARK.len()..];
        if let Some(digits) = tail.strip_suffix(" bytes in all)") {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return (&text[..at], Some(&text[at..]));
            }
        }
    }
    (text, None)
}

/// Whether `len` bytes at `at` in `text` have no letter or digit on either side.
fn stands_alone(text: &[u8], at: usize, len: usize) -> bool {
    let before = at.checked_sub(1).and_then(|i| text.get(i));
    let after = text.get(at + len);
    !before.is_some_and(u8::is_ascii_alphanumeric) && !after.is_some_and(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the error, pinned as reqwest pins its own: every `Result` of
    /// the API carries it, so no variant may outgrow the largest of today,
    /// `ResponseIncomplete` (two strings and a box: seven words); one that would
    /// boxes what it adds, as `ResponseIncomplete` boxes its cause.
    #[test]
    fn the_error_is_seven_words() {
        assert_eq!(
            std::mem::size_of::<ClientError>(),
            7 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<Result<String, ClientError>>(),
            std::mem::size_of::<ClientError>()
        );
    }

    /// One rule for retries and for `auto`'s fallback: every status is either
    /// about the request (no fallback, no retry), transient (both), or neither
    /// (fallback only); connection failures are transient.
    #[test]
    fn transient_and_about_the_request_never_overlap() {
        for status in 100..600u16 {
            for body in [&b""[..], br#"{"error_type":"gpu_unavailable"}"#] {
                let e = ClientError::from_response(status, None, body);
                assert!(!(e.is_transient() && e.is_about_the_request()), "{status}");
                assert_eq!(
                    e.is_about_the_request(),
                    REQUEST_REFUSALS.contains(&status),
                    "{status}"
                );
                let gpu = matches!(e, ClientError::GpuUnavailable { .. });
                assert_eq!(
                    e.is_transient(),
                    TRANSIENT_STATUSES.contains(&status) && !gpu,
                    "{status}"
                );
            }
        }
        let connect = ClientError::connect("refused");
        assert!(connect.is_transient() && !connect.is_about_the_request());
        assert!(ClientError::invalid("job id", "empty").is_about_the_request());
        let cut =
            ClientError::incomplete("GET", "jobs/", ClientError::from_response(404, None, b""));
        assert!(!cut.is_about_the_request() && !cut.is_transient());
    }

    /// The variant an answer of `code` must become; comparing the variant and the
    /// code together, so that a code passed straight through by a fallback variant
    /// (`UnexpectedStatus`, `Server`) cannot hide a wrong mapping.
    fn is_variant_of(code: u16, e: &ClientError) -> bool {
        match code {
            400 => matches!(e, ClientError::BadRequest { .. }),
            401 => matches!(e, ClientError::Unauthorized { .. }),
            403 => matches!(e, ClientError::Forbidden { .. }),
            404 => matches!(e, ClientError::NotFound { .. }),
            408 => matches!(
                e,
                ClientError::Timeout {
                    kind: TimeoutKind::Read,
                    ..
                }
            ),
            422 => matches!(e, ClientError::Validation { .. }),
            429 => matches!(e, ClientError::RateLimited { .. }),
            503 => matches!(e, ClientError::Unavailable { .. }),
            500..=599 => matches!(e, ClientError::Server { status, .. } if *status == code),
            _ => matches!(e, ClientError::UnexpectedStatus { status, .. } if *status == code),
        }
    }

    #[test]
    fn every_table_code_maps_to_its_variant() {
        for code in [
            400, 401, 403, 404, 408, 422, 429, 500, 502, 503, 504, 418, 409, 302,
        ] {
            let e = ClientError::from_response(code, None, b"{}");
            assert!(is_variant_of(code, &e), "{code} became {e:?}");
            assert_eq!(e.status_code(), code, "{code}: {e:?}");
            assert!(e.is_status(), "{code}: {e:?}");
            assert!(!e.is_connect() && !e.is_limit(), "{code}: {e:?}");
        }
    }

    #[test]
    fn the_table_check_refuses_a_wrong_mapping() {
        // What the old code-only test let through: 401 as an unexpected status.
        let wrong = ClientError::UnexpectedStatus {
            status: 401,
            message: String::new(),
        };
        assert_eq!(wrong.status_code(), 401);
        assert!(!is_variant_of(401, &wrong));
    }

    proptest::proptest! {
        #[test]
        fn any_status_maps_to_its_variant_and_keeps_its_code(code in 100u16..1000) {
            let e = ClientError::from_response(code, None, b"x");
            if code != 408 {
                proptest::prop_assert_eq!(e.status_code(), code);
            }
            proptest::prop_assert!(is_variant_of(code, &e), "{} became {:?}", code, e);
            proptest::prop_assert!(e.is_status());
        }
    }

    #[test]
    fn the_source_chain_reaches_the_io_error() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = ClientError::incomplete(
            "GET",
            "jobs/",
            ClientError::connect_with("connection closed", io),
        );
        let mut chain = Vec::new();
        let mut next = e.source();
        while let Some(s) = next {
            chain.push(s.to_string());
            next = s.source();
        }
        assert_eq!(chain.len(), 2, "{chain:?}");
        assert!(chain[0].contains("connection closed"), "{chain:?}");
        assert_eq!(chain[1], "reset by peer");
        let io = e
            .source()
            .and_then(|s| s.source())
            .and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            io.map(|e| e.kind()),
            Some(std::io::ErrorKind::ConnectionReset)
        );
        // Clones share the cause.
        assert!(e.clone().source().and_then(|s| s.source()).is_some());
        // Errors without a cause have no source.
        assert!(ClientError::connect("down").source().is_none());
        assert!(ClientError::from_response(404, None, b"")
            .source()
            .is_none());
    }

    #[test]
    fn predicates_answer_for_each_kind() {
        let t = |kind| ClientError::Timeout {
            kind,
            after: Duration::from_secs(1),
        };
        assert!(t(TimeoutKind::Connect).is_connect() && t(TimeoutKind::Connect).is_timeout());
        assert!(!t(TimeoutKind::Read).is_connect() && t(TimeoutKind::Idle).is_timeout());
        assert!(!t(TimeoutKind::Read).is_status());
        let agent_408 = ClientError::from_response(408, None, b"");
        assert!(agent_408.is_timeout() && agent_408.is_status());
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        assert!(ClientError::connect_with("x", timed_out).is_timeout());
        let limit = ClientError::LimitExceeded {
            kind: LimitKind::Bytes,
            limit: 1,
        };
        assert!(limit.is_limit() && !limit.is_status());
        assert!(ClientError::incomplete("GET", "x", limit).is_limit());
        let usage = ClientError::Usage {
            message: "closed".into(),
        };
        assert!(
            !usage.is_connect() && !usage.is_timeout() && !usage.is_status() && !usage.is_limit()
        );
    }

    #[test]
    fn fastapi_422_renders_each_detail_on_a_line() {
        let body = br#"{"detail":[
            {"loc":["body","plugin"],"msg":"field required","type":"value_error.missing"},
            {"loc":["body","params",0],"msg":"not a dict","type":"type_error"}]}"#;
        let e = ClientError::from_response(422, None, body);
        let text = e.to_string();
        assert_eq!(
            text,
            "the agent rejected the request (422):\nbody -> plugin: field required\nbody -> params -> 0: not a dict"
        );
        match e {
            ClientError::Validation { details, .. } => assert_eq!(details.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_422_without_detail_list_keeps_its_message() {
        let e = ClientError::from_response(422, None, b"nope");
        assert_eq!(e.to_string(), "the agent rejected the request (422):nope");
    }

    #[test]
    fn gpu_unavailable_is_its_own_view_of_503() {
        let e = ClientError::from_response(
            503,
            None,
            br#"{"error_type":"gpu_unavailable","detail":"no GPU in the cluster"}"#,
        );
        assert!(matches!(e, ClientError::GpuUnavailable { .. }));
        assert_eq!(e.status_code(), 503);
        assert!(e.to_string().contains("no GPU in the cluster"));
        let plain = ClientError::from_response(503, Some(Duration::from_secs(3)), b"busy");
        assert!(matches!(plain, ClientError::Unavailable { .. }));
        assert_eq!(plain.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn huge_bodies_are_cut() {
        let body = "é".repeat(10_000);
        let e = ClientError::from_response(500, None, body.as_bytes());
        let s = e.to_string();
        assert!(s.len() < MAX_ERROR_MESSAGE + 100, "{}", s.len());
        assert!(s.contains("20000 bytes in all"));
    }

    #[test]
    fn scrub_reaches_nested_and_detail_messages() {
        let body =
            br#"{"detail":[{"loc":["header","s3cr3t"],"msg":"token s3cr3t is wrong","type":"x"}]}"#;
        let e = ClientError::incomplete(
            "POST",
            "jobs/s3cr3t/",
            ClientError::from_response(422, None, body),
        )
        .scrub("s3cr3t");
        let all = format!("{e} {e:?}");
        assert!(!all.contains("s3cr3t"), "{all}");
        assert_eq!(e.status_code(), 422);
    }

    /// Issue 11, item 9: scrub once, then cut; never garble the marker.
    #[test]
    fn a_token_straddling_the_cut_never_shows_and_the_marker_is_safe() {
        let token = "tok-0123456789abcdef";
        for pad in MAX_ERROR_MESSAGE - token.len()..=MAX_ERROR_MESSAGE {
            let body = format!("{}{token} and more", "p".repeat(pad));
            let e = ClientError::from_response(500, None, body.as_bytes()).scrub(token);
            let text = e.to_string();
            for n in CUT_PREFIX..=token.len() {
                assert!(!text.contains(&token[..n]), "pad {pad}: {text}");
            }
            assert!(text.ends_with(" bytes in all)"), "{text}");
        }
        // Scrubbing twice, with secrets found inside the marker, changes nothing.
        let e = ClientError::connect("e unreachable via red e");
        let once = e.scrub_all(&["e", "red", "act"]);
        assert_eq!(
            once.message(),
            Some("[redacted] unreachable via [redacted] [redacted]")
        );
        let twice = once.clone().scrub_all(&["e", "red", "act", "[redacted]"]);
        assert_eq!(twice.message(), once.message());
        // A short token inside words leaves the message readable.
        let e = ClientError::from_response(503, None, b"error: 503 unreachable").scrub("e");
        assert_eq!(e.message(), Some("error: 503 unreachable"));
    }

    #[test]
    fn retry_after_renders_fractions() {
        let e = ClientError::from_response(429, Some(Duration::from_millis(1500)), b"x");
        assert!(e.to_string().contains("(retry after 1.5s)"), "{e}");
        let e = ClientError::from_response(503, Some(Duration::from_secs(60)), b"x");
        assert!(e.to_string().contains("(retry after 60s)"), "{e}");
    }

    #[test]
    fn incomplete_keeps_the_cause_code() {
        let cause = ClientError::Timeout {
            kind: TimeoutKind::Read,
            after: Duration::from_secs(1),
        };
        let e = ClientError::incomplete("POST", "plugin_releases/x/run/", cause);
        assert_eq!(e.status_code(), 408);
        assert!(e.to_string().contains("may have reached the agent"));
        // The cause once: as the source, not in the text as well.
        assert!(!e.to_string().contains("timed out"), "{e}");
        assert!(error_chain(&e).contains("timed out"), "{}", error_chain(&e));
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        assert!(ClientError::connect("refused").is_transient());
        assert!(ClientError::from_response(502, None, b"").is_transient());
        assert!(ClientError::from_response(503, None, b"").is_transient());
        assert!(ClientError::from_response(504, None, b"").is_transient());
        assert!(!ClientError::from_response(500, None, b"").is_transient());
        assert!(!ClientError::from_response(404, None, b"").is_transient());
        assert!(
            !ClientError::from_response(503, None, br#"{"error_type":"gpu_unavailable"}"#)
                .is_transient()
        );
    }
}
