//! Settings a caller chooses: stream limits, the tail protocol, time-outs, tail options.

use crate::error::ClientError;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Resource limits of a log stream; the defaults are the reference client's.
///
/// The limits apply the same way to both protocols and to both clients:
/// - more than `max_messages` messages received (WebSocket messages; HTTP events or
///   plain lines), more than `max_lines` lines delivered, or more than `max_bytes`
///   of delivered text end the stream with a 429, on either protocol;
/// - a line longer than `max_message_size` bytes is skipped, counted, and the
///   stream goes on (a message holding several lines is split first, and each line
///   measured);
/// - `queue_size` bounds the lines buffered between the network and a slow consumer.
///
/// ```
/// use agent_proto::StreamLimits;
///
/// let limits = StreamLimits { max_lines: 1_000_000, ..StreamLimits::default() };
/// assert_eq!(limits.max_message_size, 10_240);
/// limits.validate().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamLimits {
    /// The most messages one stream may receive (WebSocket messages; HTTP events or
    /// plain lines).
    pub max_messages: u64,
    /// The most lines one stream may deliver.
    pub max_lines: u64,
    /// The most bytes of log text one stream may deliver.
    pub max_bytes: u64,
    /// The longest line delivered, in bytes; longer ones are skipped.
    pub max_message_size: usize,
    /// How many lines may wait between the network and the consumer.
    pub queue_size: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_messages: 10_000,
            max_lines: 50_000,
            max_bytes: 50 * 1024 * 1024,
            max_message_size: 10_240,
            queue_size: 1_000,
        }
    }
}

impl StreamLimits {
    /// Limits that never stop a stream (for benchmarks and trusted servers): every
    /// count at its maximum, `max_message_size` 1 MiB.
    pub fn unlimited() -> Self {
        StreamLimits {
            max_messages: u64::MAX,
            max_lines: u64::MAX,
            max_bytes: u64::MAX,
            max_message_size: 1024 * 1024,
            queue_size: 1_000,
        }
    }

    /// Checks that every limit is positive (a 400 otherwise).
    pub fn validate(&self) -> Result<(), ClientError> {
        let zero = [
            ("max_messages", self.max_messages == 0),
            ("max_lines", self.max_lines == 0),
            ("max_bytes", self.max_bytes == 0),
            ("max_message_size", self.max_message_size == 0),
            ("queue_size", self.queue_size == 0),
        ];
        match zero.iter().find(|(_, z)| *z) {
            Some((name, _)) => Err(ClientError::invalid(
                "stream limits",
                format!("{name} must be positive"),
            )),
            None => Ok(()),
        }
    }
}

/// How a log tail talks to the agent.
///
/// ```
/// use agent_proto::Protocol;
///
/// assert_eq!("websocket".parse::<Protocol>().unwrap(), Protocol::WebSocket);
/// assert_eq!("carrier-pigeon".parse::<Protocol>().unwrap_err().status_code(), 400);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// WebSocket first; HTTP streaming when the WebSocket fails to open for any
    /// reason not [about the request](crate::ClientError::is_about_the_request) (a
    /// connection failure, or an upgrade answered 200, 426, 5xx, ...), or breaks
    /// mid-stream. After a break the HTTP stream resumes after the lines
    /// already delivered (or the tail fails with a clear error): never a replay.
    #[default]
    Auto,
    /// WebSocket only.
    WebSocket,
    /// HTTP chunked streaming only.
    Http,
}

impl Protocol {
    /// The name used on the wire and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Auto => "auto",
            Protocol::WebSocket => "websocket",
            Protocol::Http => "http",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, ClientError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Protocol::Auto),
            "websocket" | "ws" => Ok(Protocol::WebSocket),
            "http" => Ok(Protocol::Http),
            _ => Err(ClientError::invalid(
                "protocol",
                format!(
                    "{:?}: expected auto, websocket or http",
                    s.chars().take(40).collect::<String>()
                ),
            )),
        }
    }
}

/// The longest stream time-out the agent API allows.
pub const MAX_STREAM_TIMEOUT: Duration = Duration::from_secs(300);

/// Checks a stream time-out: positive and at most 300 s (a 400 otherwise).
///
/// ```
/// use std::time::Duration;
/// use agent_proto::validate_stream_timeout;
///
/// assert!(validate_stream_timeout(Duration::from_secs(30)).is_ok());
/// assert_eq!(validate_stream_timeout(Duration::ZERO).unwrap_err().status_code(), 400);
/// assert_eq!(validate_stream_timeout(Duration::from_secs(301)).unwrap_err().status_code(), 400);
/// ```
pub fn validate_stream_timeout(timeout: Duration) -> Result<Duration, ClientError> {
    if timeout.is_zero() {
        return Err(ClientError::invalid("stream timeout", "must be positive"));
    }
    if timeout > MAX_STREAM_TIMEOUT {
        return Err(ClientError::invalid(
            "stream timeout",
            format!("{timeout:?} is longer than the 300 s the agent allows"),
        ));
    }
    Ok(timeout)
}

/// Connect and read time-outs of ordinary requests; defaults 3 s and 10 s, as the
/// reference client's.
///
/// ```
/// use std::time::Duration;
/// let t = agent_proto::Timeouts::default();
/// assert_eq!(t.connect, Duration::from_secs(3));
/// assert_eq!(t.read, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// Opening the connection (TCP and TLS).
    pub connect: Duration,
    /// Waiting for an answer, and between two reads of its body.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            read: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    /// Checks that both time-outs are positive (a 400 otherwise).
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.connect.is_zero() {
            return Err(ClientError::invalid("connect timeout", "must be positive"));
        }
        if self.read.is_zero() {
            return Err(ClientError::invalid("read timeout", "must be positive"));
        }
        Ok(())
    }
}

/// How many lines a log event's `message` holds, as a server that numbers lines
/// counts them (spec: "Line numbers and cursors"): its `\n`-ended lines plus an
/// unended last one; an empty message is one (empty) line.
///
/// ```
/// use agent_proto::lines_in;
///
/// assert_eq!(lines_in(""), 1);
/// assert_eq!(lines_in("a"), 1);
/// assert_eq!(lines_in("a\n"), 1);
/// assert_eq!(lines_in("a\n\nb"), 3);
/// ```
pub fn lines_in(message: &str) -> u64 {
    (message.split_terminator('\n').count() as u64).max(1)
}

/// Where a tail starts (spec: "Line numbers and cursors"): asked of the server as
/// `?tail=N` or `?from_line=K`.
///
/// A server honours it when the tail's first log event carries a line number (for
/// [`TailStart::FromLine`], the one asked for); one that does not (the SDK's agent)
/// sends the log from its first line, unnumbered, and the client does the rest:
/// it keeps only the last N lines itself, or skips the lines before K.
///
/// ```
/// use agent_proto::{TailOptions, TailStart};
///
/// assert_eq!(TailStart::Last(100).query(), Some(("tail", 100)));
/// assert_eq!(TailStart::FromLine(7).query(), Some(("from_line", 7)));
/// assert_eq!(TailStart::Beginning.query(), None);
/// assert_eq!(TailOptions::new().start(TailStart::FromLine(0)).validate().unwrap_err().status_code(), 400);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TailStart {
    /// At the log's first line (the default).
    #[default]
    Beginning,
    /// With the last N lines written so far, then what follows.
    Last(u64),
    /// At line K (1-based; every line of the log counts, empty ones included).
    FromLine(u64),
}

impl TailStart {
    /// The query parameter that asks for this start, if any.
    pub fn query(&self) -> Option<(&'static str, u64)> {
        match *self {
            TailStart::Beginning => None,
            TailStart::Last(n) => Some(("tail", n)),
            TailStart::FromLine(k) => Some(("from_line", k)),
        }
    }

    fn validate(&self) -> Result<(), ClientError> {
        match self {
            TailStart::FromLine(0) => Err(ClientError::invalid(
                "from_line",
                "lines are numbered from 1",
            )),
            _ => Ok(()),
        }
    }
}

/// How to tail a job's log: protocol, time-outs, limits.
///
/// Two time-outs, each with one meaning on both protocols ("Time-outs and counts,
/// the same on both protocols" in the agent API):
/// - `timeout` bounds the *server's* silence: a tail that receives nothing from
///   the server for that long (no line, no WebSocket pong, no HTTP heartbeat)
///   fails with a 408 of kind [`TimeoutKind::Idle`](crate::TimeoutKind::Idle).
///   A WebSocket is pinged often enough, and our servers send a blank line on a
///   quiet HTTP tail often enough, that a quiet job on a live server never trips
///   it.
/// - `max_quiet` (off by default) bounds the *job's* silence: no new log line for
///   that long, however alive the server, fails with a 408 of kind
///   [`TimeoutKind::Quiet`](crate::TimeoutKind::Quiet), whose message says the job
///   was quiet.
///
/// Neither is ever mistaken for the end of the log.
///
/// ```
/// use std::time::Duration;
/// use agent_proto::{Protocol, TailOptions};
///
/// let opts = TailOptions::new()
///     .protocol(Protocol::Http)
///     .timeout(Duration::from_secs(60));
/// assert!(opts.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TailOptions {
    /// Which protocol; default [`Protocol::Auto`].
    pub protocol: Protocol,
    /// How long the server may send nothing at all; default 30 s, at most 300 s.
    pub timeout: Duration,
    /// How long the job may write no new line, the server alive meanwhile; `None`
    /// (the default): a quiet job is followed as long as its server lives.
    pub max_quiet: Option<Duration>,
    /// Limits for this tail; `None` takes the client's.
    pub limits: Option<StreamLimits>,
    /// Where the tail starts; default [`TailStart::Beginning`].
    pub start: TailStart,
}

impl Default for TailOptions {
    fn default() -> Self {
        TailOptions {
            protocol: Protocol::Auto,
            timeout: Duration::from_secs(30),
            max_quiet: None,
            limits: None,
            start: TailStart::Beginning,
        }
    }
}

impl TailOptions {
    /// The defaults: auto protocol, 30 s for the server's silence, no bound on the
    /// job's, the client's limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the protocol.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets how long the server may send nothing (the idle time-out).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long the job may write no new line (positive); see [`TailOptions`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use agent_proto::TailOptions;
    ///
    /// let opts = TailOptions::new().max_quiet(Duration::from_secs(600));
    /// assert_eq!(opts.max_quiet, Some(Duration::from_secs(600)));
    /// assert_eq!(TailOptions::new().max_quiet(Duration::ZERO).validate().unwrap_err().status_code(), 400);
    /// ```
    pub fn max_quiet(mut self, max_quiet: Duration) -> Self {
        self.max_quiet = Some(max_quiet);
        self
    }

    /// Sets where the tail starts; see [`TailStart`].
    pub fn start(mut self, start: TailStart) -> Self {
        self.start = start;
        self
    }

    /// Sets the limits of this tail.
    pub fn limits(mut self, limits: StreamLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Checks the time-outs, the limits and the start (a 400 otherwise).
    pub fn validate(&self) -> Result<(), ClientError> {
        validate_stream_timeout(self.timeout)?;
        if self.max_quiet.is_some_and(|q| q.is_zero()) {
            return Err(ClientError::invalid("max_quiet", "must be positive"));
        }
        if let Some(l) = &self.limits {
            l.validate()?;
        }
        self.start.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_defaults() {
        let l = StreamLimits::default();
        assert_eq!(
            (
                l.max_messages,
                l.max_lines,
                l.max_bytes,
                l.max_message_size,
                l.queue_size
            ),
            (10_000, 50_000, 52_428_800, 10_240, 1_000)
        );
    }

    #[test]
    fn zero_limits_are_refused() {
        let l = StreamLimits {
            queue_size: 0,
            ..Default::default()
        };
        assert_eq!(l.validate().unwrap_err().status_code(), 400);
    }

    #[test]
    fn protocol_parses_case_insensitively() {
        assert_eq!("AUTO".parse::<Protocol>().unwrap(), Protocol::Auto);
        assert_eq!("Http".parse::<Protocol>().unwrap(), Protocol::Http);
        assert!("".parse::<Protocol>().is_err());
        for p in [Protocol::Auto, Protocol::WebSocket, Protocol::Http] {
            assert_eq!(p.to_string().parse::<Protocol>().unwrap(), p);
        }
    }

    #[test]
    fn tail_options_validate_timeout_and_limits() {
        assert!(TailOptions::new().validate().is_ok());
        assert!(TailOptions::new()
            .timeout(Duration::ZERO)
            .validate()
            .is_err());
        assert!(TailOptions::new()
            .timeout(Duration::from_millis(300_001))
            .validate()
            .is_err());
        assert!(TailOptions::new()
            .timeout(MAX_STREAM_TIMEOUT)
            .validate()
            .is_ok());
        let bad = StreamLimits {
            max_bytes: 0,
            ..Default::default()
        };
        assert!(TailOptions::new().limits(bad).validate().is_err());
        assert!(Timeouts {
            connect: Duration::ZERO,
            read: Duration::from_secs(1)
        }
        .validate()
        .is_err());
    }
}
