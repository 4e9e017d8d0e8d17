//! Stream limits, applied the same way to both protocols: [`LimitTracker`] counts a
//! stream in [`StreamCounters`] and ends it with a 429 when a limit is exceeded.

use agent_proto::{ClientError, LimitKind, StreamLimits};

/// What a log stream received, delivered and skipped so far.
///
/// A caller sees these after a tail (nothing skipped vanishes without a trace).
///
/// ```
/// use agent_stream::StreamCounters;
///
/// let c = StreamCounters::default();
/// assert_eq!((c.received, c.delivered, c.skipped_oversized), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StreamCounters {
    /// Messages received: WebSocket messages; HTTP events, or plain lines (blank
    /// lines, comments and SSE fields are not messages). Replayed ones included.
    pub received: u64,
    /// Log lines handed to the caller.
    pub delivered: u64,
    /// Bytes of log text handed to the caller (UTF-8, after U+FFFD replacement).
    pub delivered_bytes: u64,
    /// Lines larger than `max_message_size`, skipped.
    pub skipped_oversized: u64,
    /// The bytes of those skipped lines (line ends not counted).
    pub skipped_bytes: u64,
    /// Log events without text, skipped.
    pub skipped_empty: u64,
    /// Events of a type the client does not know, skipped.
    pub ignored: u64,
    /// Messages or lines that were not valid UTF-8 (delivered with U+FFFD).
    pub invalid_utf8: u64,
    /// Events skipped because the caller already had them (see
    /// `TailDecoder::resume_after`); counted in `received`, not against the limits.
    pub replayed: u64,
}

/// Applies [`StreamLimits`] to one stream and keeps its [`StreamCounters`].
///
/// The same on both protocols (the spec's "Time-outs and counts, the same on both
/// protocols"):
/// - more than `max_messages` messages received (WebSocket messages; HTTP events
///   or plain lines), replayed ones not included: [`ClientError::LimitExceeded`]
///   (429) of kind [`LimitKind::Messages`];
/// - more than `max_lines` lines delivered: the same, of kind [`LimitKind::Lines`];
/// - more than `max_bytes` of log text delivered: the same, with [`LimitKind::Bytes`];
///   the line that would cross `max_lines` or `max_bytes` is not delivered;
/// - a line larger than `max_message_size` is skipped and counted, never an error.
///
/// Once a limit is exceeded the tracker stays failed: every later call returns the
/// same error.
///
/// ```
/// use agent_proto::{LimitKind, StreamLimits, ClientError};
/// use agent_stream::LimitTracker;
///
/// let limits = StreamLimits { max_lines: 2, max_messages: 3, ..StreamLimits::default() };
/// let mut tracker = LimitTracker::new(limits);
/// tracker.receive()?;
/// tracker.deliver(5)?;
/// tracker.deliver(5)?;
/// let err = tracker.deliver(1).unwrap_err();
/// assert!(matches!(err, ClientError::LimitExceeded { kind: LimitKind::Lines, limit: 2 }));
/// assert_eq!(err.status_code(), 429);
///
/// let mut tracker = LimitTracker::new(limits);
/// for _ in 0..3 {
///     tracker.receive()?;
///     tracker.skip_empty();
/// }
/// let err = tracker.receive().unwrap_err();
/// assert!(matches!(err, ClientError::LimitExceeded { kind: LimitKind::Messages, limit: 3 }));
/// assert_eq!(tracker.counters().received, 4);
/// # Ok::<(), ClientError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LimitTracker {
    limits: StreamLimits,
    counters: StreamCounters,
    failed: Option<ClientError>,
}

impl LimitTracker {
    /// A tracker for a stream of either protocol.
    pub fn new(limits: StreamLimits) -> Self {
        LimitTracker {
            limits,
            counters: StreamCounters::default(),
            failed: None,
        }
    }

    /// The limits applied.
    pub fn limits(&self) -> &StreamLimits {
        &self.limits
    }

    /// The counts so far.
    pub fn counters(&self) -> StreamCounters {
        self.counters
    }

    /// The error that ended the stream, if a limit was exceeded.
    pub fn failure(&self) -> Option<&ClientError> {
        self.failed.as_ref()
    }

    /// Whether a line of `len` bytes must be skipped as oversized: the one place
    /// where the size rule is decided, for every line of both protocols.
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// let t = agent_stream::LimitTracker::new(StreamLimits::default());
    /// assert!(!t.is_oversized(10_240));
    /// assert!(t.is_oversized(10_241));
    /// ```
    pub fn is_oversized(&self, len: u64) -> bool {
        len > self.limits.max_message_size as u64
    }

    /// One more message received (a WebSocket message; an HTTP event or plain
    /// line); fails once there are more than `max_messages`.
    pub fn receive(&mut self) -> Result<(), ClientError> {
        self.check()?;
        self.counters.received += 1;
        let limit = self.limits.max_messages;
        if self.counters.received - self.counters.replayed > limit {
            return Err(self.fail(LimitKind::Messages, limit));
        }
        Ok(())
    }

    /// One more message received that the caller already had: counted in
    /// `received` and `replayed`, not against `max_messages`.
    pub fn replay(&mut self) {
        self.counters.received += 1;
        self.counters.replayed += 1;
    }

    /// The last message counted by [`LimitTracker::replay`] was not a replay after
    /// all (a resumed stream started where it was asked to): it counts as received,
    /// and against `max_messages`.
    pub fn unreplay(&mut self) -> Result<(), ClientError> {
        self.check()?;
        if self.counters.replayed > 0 {
            self.counters.replayed -= 1;
            let limit = self.limits.max_messages;
            if self.counters.received - self.counters.replayed > limit {
                return Err(self.fail(LimitKind::Messages, limit));
            }
        }
        Ok(())
    }

    /// A log line of `len` bytes is about to be delivered; fails (and the line must
    /// not be delivered) when it would be one line more than `max_lines`, or take
    /// the delivered text over `max_bytes`.
    pub fn deliver(&mut self, len: usize) -> Result<(), ClientError> {
        self.check()?;
        if self.counters.delivered >= self.limits.max_lines {
            return Err(self.fail(LimitKind::Lines, self.limits.max_lines));
        }
        let bytes = self.counters.delivered_bytes.saturating_add(len as u64);
        if bytes > self.limits.max_bytes {
            return Err(self.fail(LimitKind::Bytes, self.limits.max_bytes));
        }
        self.counters.delivered_bytes = bytes;
        self.counters.delivered += 1;
        Ok(())
    }

    /// A line of `len` bytes was skipped as oversized.
    pub fn skip_oversized(&mut self, len: u64) {
        self.counters.skipped_oversized += 1;
        self.counters.skipped_bytes = self.counters.skipped_bytes.saturating_add(len);
    }

    /// A log event without text was skipped.
    pub fn skip_empty(&mut self) {
        self.counters.skipped_empty += 1;
    }

    /// An event of an unknown type was skipped.
    pub fn ignore(&mut self) {
        self.counters.ignored += 1;
    }

    /// A message or line was not valid UTF-8 (and was repaired with U+FFFD).
    pub fn note_invalid_utf8(&mut self) {
        self.counters.invalid_utf8 += 1;
    }

    fn check(&self) -> Result<(), ClientError> {
        match &self.failed {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    fn fail(&mut self, kind: LimitKind, limit: u64) -> ClientError {
        let err = ClientError::LimitExceeded { kind, limit };
        self.failed = Some(err.clone());
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> StreamLimits {
        StreamLimits {
            max_messages: 3,
            max_lines: 5,
            max_bytes: 10,
            max_message_size: 4,
            queue_size: 1,
        }
    }

    fn kind_of(err: ClientError) -> (LimitKind, u64) {
        match err {
            ClientError::LimitExceeded { kind, limit } => (kind, limit),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_are_counted() {
        let mut t = LimitTracker::new(limits());
        for _ in 0..3 {
            t.receive().unwrap();
        }
        let err = t.receive().unwrap_err();
        assert_eq!(err.status_code(), 429);
        assert_eq!(kind_of(err), (LimitKind::Messages, 3));
    }

    #[test]
    fn delivered_lines_are_counted() {
        let mut t = LimitTracker::new(StreamLimits {
            max_bytes: 100,
            ..limits()
        });
        for _ in 0..5 {
            t.deliver(0).unwrap();
        }
        assert_eq!(kind_of(t.deliver(0).unwrap_err()), (LimitKind::Lines, 5));
        assert_eq!(t.counters().delivered, 5);
    }

    #[test]
    fn bytes_are_delivered_bytes() {
        let mut t = LimitTracker::new(limits());
        t.deliver(6).unwrap();
        t.deliver(4).unwrap();
        assert_eq!(kind_of(t.deliver(1).unwrap_err()), (LimitKind::Bytes, 10));
        let c = t.counters();
        assert_eq!((c.delivered, c.delivered_bytes), (2, 10));
    }

    #[test]
    fn failed_stays_failed() {
        let mut t = LimitTracker::new(limits());
        t.deliver(11).unwrap_err();
        assert!(t.failure().is_some());
        assert_eq!(kind_of(t.receive().unwrap_err()), (LimitKind::Bytes, 10));
        assert_eq!(kind_of(t.deliver(0).unwrap_err()), (LimitKind::Bytes, 10));
        assert_eq!(t.counters().received, 0);
    }

    #[test]
    fn replayed_events_do_not_count_against_the_limit() {
        let mut t = LimitTracker::new(limits());
        for _ in 0..10 {
            t.replay();
        }
        for _ in 0..3 {
            t.receive().unwrap();
        }
        assert!(t.receive().is_err());
        let c = t.counters();
        assert_eq!((c.received, c.replayed), (14, 10));
    }

    #[test]
    fn skips_are_counted_not_errors() {
        let mut t = LimitTracker::new(limits());
        assert!(t.is_oversized(5));
        assert!(!t.is_oversized(4));
        t.skip_oversized(5);
        t.skip_empty();
        t.skip_empty();
        t.ignore();
        t.note_invalid_utf8();
        let c = t.counters();
        assert_eq!(
            (
                c.skipped_oversized,
                c.skipped_bytes,
                c.skipped_empty,
                c.ignored,
                c.invalid_utf8
            ),
            (1, 5, 2, 1, 1)
        );
        assert!(t.failure().is_none());
    }
}
