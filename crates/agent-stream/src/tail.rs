//! [`TailDecoder`]: what a client runs a log tail through, whichever the protocol.
//! Bytes of an HTTP body or whole WebSocket messages in; log lines, the end of the
//! log, or an error out; limits enforced and everything skipped counted.

use std::borrow::Cow;

use agent_proto::{ClientError, StreamLimits};

use crate::event::{decode_event, decode_http_line, sse_payload, Event};

/// What a server-sent-event line carries before its payload.
const SSE_PREFIX: &str = "data: ";
use crate::limits::{LimitTracker, StreamCounters};
use crate::line::{Line, LineDecoder};

/// What a [`TailDecoder`] hands on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TailItem {
    /// A log line for the caller (never empty).
    Line(String),
    /// The job's log is complete: the tail ends normally, and nothing after this is
    /// decoded.
    Complete,
}

/// The limit-enforcing decoder of a log tail, for both protocols (sans-IO).
///
/// - HTTP ([`TailDecoder::http`]): push the body's chunks as they come
///   ([`push_bytes`](TailDecoder::push_bytes)), then [`finish`](TailDecoder::finish)
///   at the end of the body. Lines of any chunking, `\n` or `\r\n`; blank lines are
///   not events; `data:` lines are decoded as events; other lines are log lines.
/// - WebSocket ([`TailDecoder::websocket`]): push each whole message
///   ([`push_message`](TailDecoder::push_message)), or
///   [`push_oversized`](TailDecoder::push_oversized) for one the transport discarded.
///   One message is one event, even when it holds newlines.
///
/// Events follow [`decode_event`]. Limits follow [`LimitTracker`]: a message or line
/// over `max_message_size` is skipped and counted; more than `max_messages` messages
/// (WebSocket) or `max_lines` lines (HTTP), or more than `max_bytes` delivered, is a
/// [`ClientError::LimitExceeded`] (429). An `error` event is a
/// [`ClientError::StreamFailed`] (500).
///
/// When a push returns an error, the lines it appended to `out` *before* the failing
/// event are good: deliver them, then the error. The decoder then stays failed: every
/// later call returns the same error. After [`TailItem::Complete`] everything is
/// ignored.
///
/// ```
/// use agent_proto::StreamLimits;
/// use agent_stream::{TailDecoder, TailItem};
///
/// let mut tail = TailDecoder::http(StreamLimits::default());
/// let mut out = Vec::new();
/// tail.push_bytes(b"starting\r\ndata: {\"type\":\"log\",\"mess", &mut out)?;
/// tail.push_bytes(b"age\":\"step 1\"}\n\ndata: {\"type\":\"complete\"}\n", &mut out)?;
/// tail.finish(&mut out)?;
/// assert_eq!(out, [
///     TailItem::Line("starting".into()),
///     TailItem::Line("step 1".into()),
///     TailItem::Complete,
/// ]);
/// assert!(tail.is_complete());
/// assert_eq!(tail.counters().received, 3);
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TailDecoder {
    /// `Some` for HTTP: the body's line splitter.
    lines: Option<LineDecoder>,
    state: TailState,
}

/// Everything but the line splitter, so that the splitter's callback can borrow it.
#[derive(Debug, Clone)]
struct TailState {
    tracker: LimitTracker,
    /// Events still to skip as replayed.
    skip: u64,
    complete: bool,
    failed: Option<ClientError>,
}

impl TailDecoder {
    /// A decoder for the HTTP stream: body bytes, lines, events.
    pub fn http(limits: StreamLimits) -> Self {
        TailDecoder {
            // The splitter may hold a `data: ` prefix more than the limit: the limit
            // itself is applied to the event's payload, as on the WebSocket.
            lines: Some(LineDecoder::new(
                limits.max_message_size.saturating_add(SSE_PREFIX.len()),
            )),
            state: TailState::new(LimitTracker::http(limits)),
        }
    }

    /// A decoder for the WebSocket stream: one message, one event.
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// use agent_stream::{TailDecoder, TailItem};
    ///
    /// let mut tail = TailDecoder::websocket(StreamLimits::default());
    /// let mut out = Vec::new();
    /// tail.push_message(br#"{"type":"log","message":"hello"}"#, &mut out)?;
    /// tail.push_message(b"raw frame\nwith two lines", &mut out)?;
    /// tail.push_oversized(1 << 20)?;
    /// let err = tail.push_message(br#"{"type":"error","message":"job lost"}"#, &mut out).unwrap_err();
    /// assert_eq!(err.status_code(), 500);
    /// assert_eq!(out, [
    ///     TailItem::Line("hello".into()),
    ///     TailItem::Line("raw frame\nwith two lines".into()),
    /// ]);
    /// assert_eq!(tail.counters().skipped_oversized, 1);
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn websocket(limits: StreamLimits) -> Self {
        TailDecoder {
            lines: None,
            state: TailState::new(LimitTracker::websocket(limits)),
        }
    }

    /// Whether this decoder reads an HTTP body (else WebSocket messages).
    pub fn is_http(&self) -> bool {
        self.lines.is_some()
    }

    /// Skips the first `n` events of the server's sequence without delivering them
    /// and without counting them against the limits (they are counted in
    /// [`StreamCounters::received`] and [`StreamCounters::replayed`]).
    ///
    /// This is for `auto`, when it falls back from a WebSocket that broke mid-stream to
    /// HTTP, which replays the log from the start: pass the WebSocket decoder's
    /// `counters().received`, so the caller never gets a line twice. Positions count
    /// from this decoder's first event, events already received included. It relies
    /// on the server sending the same event sequence on both protocols (one
    /// WebSocket message per HTTP `data:` line).
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// use agent_stream::{TailDecoder, TailItem};
    ///
    /// let mut ws = TailDecoder::websocket(StreamLimits::default());
    /// let mut out = Vec::new();
    /// ws.push_message(b"one", &mut out)?;
    /// ws.push_message(b"two", &mut out)?;
    /// // ... the WebSocket breaks; fall back to HTTP, which starts over.
    /// let mut http = TailDecoder::http(StreamLimits::default());
    /// http.skip_events(ws.counters().received);
    /// http.push_bytes(b"data: one\ndata: two\ndata: three\n", &mut out)?;
    /// assert_eq!(out, ["one", "two", "three"].map(|s| TailItem::Line(s.into())));
    /// assert_eq!(http.counters().replayed, 2);
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn skip_events(&mut self, n: u64) {
        self.state.skip = n.saturating_sub(self.state.tracker.counters().received);
    }

    /// Decodes the next chunk of an HTTP body, appending what it delivers to `out`.
    ///
    /// A [`ClientError::Usage`] on a WebSocket decoder.
    pub fn push_bytes(&mut self, chunk: &[u8], out: &mut Vec<TailItem>) -> Result<(), ClientError> {
        let Some(lines) = self.lines.as_mut() else {
            return Err(misuse("push_bytes", "a WebSocket"));
        };
        let state = &mut self.state;
        if state.is_done() {
            return state.status();
        }
        lines.push(chunk, &mut |line| state.on_line(line, out));
        state.status()
    }

    /// HTTP: while a line over `max_message_size` is being skipped, how many of its
    /// bytes went by so far (`None` otherwise). A client can end a stream whose line
    /// never ends (see `agent-client-async`); the decoder itself only skips it, so that
    /// its output never depends on how the body was chunked.
    pub fn skipping_len(&self) -> Option<u64> {
        self.lines.as_ref().and_then(LineDecoder::skipping_len)
    }

    /// Ends an HTTP body: decodes a last line that had no newline. Whether the log was
    /// complete is [`TailDecoder::is_complete`]: a body that ends without a `complete`
    /// event may be a broken connection, which is for the client to judge.
    ///
    /// On a WebSocket decoder this does nothing (but return an earlier error).
    pub fn finish(&mut self, out: &mut Vec<TailItem>) -> Result<(), ClientError> {
        let state = &mut self.state;
        if let (Some(lines), false) = (self.lines.as_mut(), state.is_done()) {
            lines.finish(&mut |line| state.on_line(line, out));
        }
        state.status()
    }

    /// Decodes one whole WebSocket message (the bytes of a text frame, or of a binary
    /// one), appending what it delivers to `out`. Invalid UTF-8 is replaced by U+FFFD
    /// and counted; a message larger than `max_message_size` is skipped and counted.
    ///
    /// A [`ClientError::Usage`] on an HTTP decoder.
    pub fn push_message(
        &mut self,
        message: &[u8],
        out: &mut Vec<TailItem>,
    ) -> Result<(), ClientError> {
        if self.lines.is_some() {
            return Err(misuse("push_message", "an HTTP"));
        }
        let state = &mut self.state;
        if state.is_done() || !state.begin_event() {
            return state.status();
        }
        let (text, lossy) = match std::str::from_utf8(message) {
            Ok(text) => (Cow::Borrowed(text), false),
            Err(_) => (String::from_utf8_lossy(message), true),
        };
        // Measured as decoded text, as an HTTP line is, so both protocols agree even
        // where U+FFFD replaced invalid bytes; a skipped message is not inspected further.
        if state.tracker.is_oversized(text.len() as u64) {
            state.tracker.skip_oversized(text.len() as u64);
            return Ok(());
        }
        if lossy {
            state.tracker.note_invalid_utf8();
        }
        state.on_event(decode_event(&text), out);
        state.status()
    }

    /// Records a WebSocket message of `len` bytes that the transport discarded as too
    /// large: it counts as received (and against `max_messages`) and as skipped.
    ///
    /// A [`ClientError::Usage`] on an HTTP decoder.
    pub fn push_oversized(&mut self, len: u64) -> Result<(), ClientError> {
        if self.lines.is_some() {
            return Err(misuse("push_oversized", "an HTTP"));
        }
        let state = &mut self.state;
        if !state.is_done() && state.begin_event() {
            state.tracker.skip_oversized(len);
        }
        state.status()
    }

    /// The counts so far.
    pub fn counters(&self) -> StreamCounters {
        self.state.tracker.counters()
    }

    /// The limits this decoder applies.
    pub fn limits(&self) -> &StreamLimits {
        self.state.tracker.limits()
    }

    /// Whether a `complete` event was seen; anything after it is ignored.
    pub fn is_complete(&self) -> bool {
        self.state.complete
    }

    /// The error that ended the stream (an `error` event or an exceeded limit), if any.
    pub fn failure(&self) -> Option<&ClientError> {
        self.state.failed.as_ref()
    }
}

impl TailState {
    fn new(tracker: LimitTracker) -> Self {
        TailState {
            tracker,
            skip: 0,
            complete: false,
            failed: None,
        }
    }

    fn is_done(&self) -> bool {
        self.complete || self.failed.is_some()
    }

    fn status(&self) -> Result<(), ClientError> {
        match &self.failed {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    /// One line of an HTTP body.
    fn on_line(&mut self, line: Line<'_>, out: &mut Vec<TailItem>) {
        if self.is_done() {
            return;
        }
        match line {
            Line::Text(text) => self.on_http_text(&text, false, out),
            Line::Lossy(text) => self.on_http_text(&text, true, out),
            Line::Oversized { len } => {
                if self.begin_event() {
                    self.tracker.skip_oversized(len);
                }
            }
        }
    }

    fn on_http_text(&mut self, line: &str, lossy: bool, out: &mut Vec<TailItem>) {
        let Some(event) = decode_http_line(line) else {
            return; // blank: not an event
        };
        if !self.begin_event() {
            return;
        }
        // The same size rule as a WebSocket message: a `data:` line's payload, or the
        // whole plain line, over `max_message_size` is skipped.
        let size = sse_payload(line).unwrap_or(line).len() as u64;
        if self.tracker.is_oversized(size) {
            self.tracker.skip_oversized(size);
            return;
        }
        if lossy {
            self.tracker.note_invalid_utf8();
        }
        self.on_event(event, out);
    }

    /// Counts one event received. `false` when it is not to be decoded: a replayed
    /// one, or one over the count limit (the stream has failed then).
    fn begin_event(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            self.tracker.replay();
            return false;
        }
        match self.tracker.receive() {
            Ok(()) => true,
            Err(err) => {
                self.failed = Some(err);
                false
            }
        }
    }

    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<TailItem>) {
        match event {
            Event::Log(text) if text.is_empty() => self.tracker.skip_empty(),
            Event::Log(text) => match self.tracker.deliver(text.len()) {
                Ok(()) => out.push(TailItem::Line(text.into_owned())),
                Err(err) => self.failed = Some(err),
            },
            Event::Empty => self.tracker.skip_empty(),
            Event::Ignored => self.tracker.ignore(),
            Event::Error(message) => {
                self.failed = Some(ClientError::StreamFailed {
                    message: agent_proto::error::truncate(&message),
                });
            }
            Event::Complete => {
                self.complete = true;
                out.push(TailItem::Complete);
            }
        }
    }
}

fn misuse(method: &str, kind: &str) -> ClientError {
    ClientError::Usage {
        message: format!("TailDecoder::{method} called on {kind} decoder"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_proto::LimitKind;

    #[test]
    fn an_endless_line_shows_as_it_streams() {
        let limits = StreamLimits {
            max_message_size: 16,
            ..StreamLimits::default()
        };
        let mut tail = TailDecoder::http(limits);
        let mut out = Vec::new();
        tail.push_bytes(b"first\n", &mut out).unwrap();
        assert_eq!(tail.skipping_len(), None);
        for _ in 0..3 {
            tail.push_bytes(&[b'x'; 300], &mut out).unwrap();
        }
        assert_eq!(tail.skipping_len(), Some(900));
        tail.push_bytes(b"\r", &mut out).unwrap();
        assert_eq!(tail.skipping_len(), Some(900), "a \\r may be the line end");
        tail.push_bytes(b"\nafter\n", &mut out).unwrap();
        assert_eq!(tail.skipping_len(), None);
        assert_eq!(tail.counters().skipped_oversized, 1);
        assert_eq!(
            out,
            [
                TailItem::Line("first".into()),
                TailItem::Line("after".into())
            ]
        );
        assert_eq!(TailDecoder::websocket(limits).skipping_len(), None);
    }

    #[test]
    fn the_size_limit_is_the_same_on_both_protocols() {
        let limits = StreamLimits {
            max_message_size: 64,
            ..StreamLimits::default()
        };
        // an event whose JSON is exactly the limit, and one a byte over it
        let fits = |n: usize| format!(r#"{{"type":"log","message":"{}"}}"#, "x".repeat(n));
        let at = fits(64 - fits(0).len());
        let over = fits(65 - fits(0).len());
        assert_eq!((at.len(), over.len()), (64, 65));
        let plain_at = "p".repeat(64);
        let plain_over = "p".repeat(65);

        let mut ws = TailDecoder::websocket(limits);
        let mut ws_out = Vec::new();
        for m in [&at, &over, &plain_at, &plain_over] {
            ws.push_message(m.as_bytes(), &mut ws_out).unwrap();
        }
        let mut http = TailDecoder::http(limits);
        let mut http_out = Vec::new();
        let body = format!("data: {at}\n\ndata:{over}\n{plain_at}\n{plain_over}\n");
        http.push_bytes(body.as_bytes(), &mut http_out).unwrap();

        assert_eq!(ws_out, http_out);
        assert_eq!(ws_out.len(), 2);
        assert_eq!(ws.counters().skipped_oversized, 2);
        assert_eq!(http.counters().skipped_oversized, 2);
        assert_eq!(ws.counters().delivered, http.counters().delivered);
    }

    fn lines(items: &[TailItem]) -> Vec<&str> {
        items
            .iter()
            .map(|i| match i {
                TailItem::Line(l) => l.as_str(),
                TailItem::Complete => "<complete>",
            })
            .collect()
    }

    fn small() -> StreamLimits {
        StreamLimits {
            max_messages: 100,
            max_lines: 100,
            max_bytes: 1000,
            max_message_size: 40,
            queue_size: 10,
        }
    }

    #[test]
    fn http_decodes_plain_blank_and_data_lines() {
        let mut t = TailDecoder::http(small());
        let mut out = Vec::new();
        t.push_bytes(
            b"plain\r\n\r\n\ndata: {\"message\":\"ev\"}\ndata:raw\ndata: \n",
            &mut out,
        )
        .unwrap();
        t.push_bytes(b"data: {\"type\":\"progress\"}\nlast", &mut out)
            .unwrap();
        t.finish(&mut out).unwrap();
        assert_eq!(lines(&out), ["plain", "ev", "raw", "last"]);
        let c = t.counters();
        assert_eq!(c.received, 6);
        assert_eq!(c.delivered, 4);
        assert_eq!(c.delivered_bytes, 5 + 2 + 3 + 4);
        assert_eq!((c.skipped_empty, c.ignored), (1, 1));
        assert!(!t.is_complete());
    }

    #[test]
    fn complete_ends_the_stream_and_later_input_is_ignored() {
        let mut t = TailDecoder::http(small());
        let mut out = Vec::new();
        t.push_bytes(b"a\ndata: {\"type\":\"complete\"}\nb\n", &mut out)
            .unwrap();
        t.push_bytes(b"c\n", &mut out).unwrap();
        t.finish(&mut out).unwrap();
        assert_eq!(lines(&out), ["a", "<complete>"]);
        assert!(t.is_complete());
        assert_eq!(t.counters().received, 2);
    }

    #[test]
    fn an_error_event_is_a_500_and_lines_before_it_stay() {
        let mut t = TailDecoder::http(small());
        let mut out = Vec::new();
        let err = t
            .push_bytes(
                b"before\ndata: {\"type\":\"error\",\"message\":\"lost\"}\nafter\n",
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.status_code(), 500);
        assert!(matches!(&err, ClientError::StreamFailed { message } if message == "lost"));
        assert_eq!(lines(&out), ["before"]);
        // Failed stays failed.
        assert!(t.push_bytes(b"more\n", &mut out).is_err());
        assert!(t.finish(&mut out).is_err());
        assert_eq!(lines(&out), ["before"]);
        assert!(t.failure().is_some());
    }

    #[test]
    fn http_line_limit() {
        let limits = StreamLimits {
            max_lines: 3,
            ..small()
        };
        let mut t = TailDecoder::http(limits);
        let mut out = Vec::new();
        // Blank lines do not count; empty events, oversized lines do.
        t.push_bytes(b"a\n\n\ndata:\n", &mut out).unwrap();
        t.push_bytes(&[b'x'; 50], &mut out).unwrap();
        t.push_bytes(b"\n", &mut out).unwrap();
        let err = t.push_bytes(b"b\n", &mut out).unwrap_err();
        assert!(matches!(
            err,
            ClientError::LimitExceeded {
                kind: LimitKind::Lines,
                limit: 3
            }
        ));
        assert_eq!(err.status_code(), 429);
        assert_eq!(lines(&out), ["a"]);
        let c = t.counters();
        assert_eq!((c.skipped_empty, c.skipped_oversized), (1, 1));
        // Still failed.
        assert!(matches!(
            t.push_bytes(b"c\n", &mut out),
            Err(ClientError::LimitExceeded { .. })
        ));
    }

    #[test]
    fn websocket_message_limit() {
        let limits = StreamLimits {
            max_messages: 2,
            ..small()
        };
        let mut t = TailDecoder::websocket(limits);
        let mut out = Vec::new();
        t.push_message(b"a", &mut out).unwrap();
        t.push_oversized(1_000_000).unwrap();
        let err = t.push_message(b"b", &mut out).unwrap_err();
        assert!(matches!(
            err,
            ClientError::LimitExceeded {
                kind: LimitKind::Messages,
                limit: 2
            }
        ));
        assert_eq!(lines(&out), ["a"]);
        assert!(t.push_oversized(1).is_err());
    }

    #[test]
    fn byte_limit_applies_to_both_protocols() {
        let limits = StreamLimits {
            max_bytes: 10,
            ..small()
        };
        let mut ws = TailDecoder::websocket(limits);
        let mut http = TailDecoder::http(limits);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for msg in ["12345", "{\"message\":\"67890\"}", "x"] {
            let ws_result = ws.push_message(msg.as_bytes(), &mut a);
            let http_result = http.push_bytes(format!("data: {msg}\n").as_bytes(), &mut b);
            assert_eq!(ws_result.is_ok(), http_result.is_ok(), "{msg}");
        }
        for err in [ws.failure(), http.failure()] {
            assert!(matches!(
                err,
                Some(ClientError::LimitExceeded {
                    kind: LimitKind::Bytes,
                    limit: 10
                })
            ));
        }
        assert_eq!(a, b);
        assert_eq!(lines(&a), ["12345", "67890"]);
        assert_eq!(ws.counters().delivered_bytes, 10);
    }

    #[test]
    fn oversized_messages_are_skipped_on_both_paths() {
        let mut t = TailDecoder::websocket(small());
        let mut out = Vec::new();
        t.push_message(&[b'y'; 41], &mut out).unwrap();
        t.push_message(&[b'y'; 40], &mut out).unwrap();
        t.push_oversized(41).unwrap();
        assert_eq!(out.len(), 1);
        let c = t.counters();
        assert_eq!((c.received, c.skipped_oversized, c.delivered), (3, 2, 1));
        assert_eq!(c.skipped_bytes, 82);
    }

    #[test]
    fn invalid_utf8_is_delivered_repaired_and_counted() {
        let mut ws = TailDecoder::websocket(small());
        let mut http = TailDecoder::http(small());
        let mut out = Vec::new();
        ws.push_message(b"bad \xff", &mut out).unwrap();
        http.push_bytes(b"bad \xff\nok\n", &mut out).unwrap();
        assert_eq!(lines(&out), ["bad \u{fffd}", "bad \u{fffd}", "ok"]);
        assert_eq!(ws.counters().invalid_utf8, 1);
        assert_eq!(http.counters().invalid_utf8, 1);
    }

    #[test]
    fn skip_events_drops_the_replayed_prefix_without_counting_it() {
        let limits = StreamLimits {
            max_lines: 2,
            ..small()
        };
        let mut t = TailDecoder::http(limits);
        t.skip_events(3);
        let mut out = Vec::new();
        t.push_bytes(b"1\n\n2\n", &mut out).unwrap();
        t.push_bytes(&[b'z'; 100], &mut out).unwrap();
        t.push_bytes(b"\n4\n5\n", &mut out).unwrap();
        assert_eq!(lines(&out), ["4", "5"]);
        let c = t.counters();
        assert_eq!((c.received, c.replayed, c.skipped_oversized), (5, 3, 0));
        assert!(t.push_bytes(b"6\n", &mut out).is_err());
    }

    #[test]
    fn skip_events_counts_events_already_received() {
        let mut t = TailDecoder::websocket(small());
        let mut out = Vec::new();
        t.push_message(b"1", &mut out).unwrap();
        t.skip_events(2);
        t.push_message(b"2", &mut out).unwrap();
        t.push_message(b"3", &mut out).unwrap();
        assert_eq!(lines(&out), ["1", "3"]);
    }

    #[test]
    fn protocols_are_not_mixed() {
        let mut out = Vec::new();
        let mut ws = TailDecoder::websocket(small());
        let mut http = TailDecoder::http(small());
        assert_eq!(
            ws.push_bytes(b"x\n", &mut out).unwrap_err().status_code(),
            500
        );
        assert!(http.push_message(b"x", &mut out).is_err());
        assert!(http.push_oversized(1).is_err());
        assert!(ws.finish(&mut out).is_ok());
        assert!(ws.is_complete() || ws.failure().is_none());
        assert!(http.is_http() && !ws.is_http());
    }

    #[test]
    fn error_messages_are_cut() {
        let mut t = TailDecoder::websocket(StreamLimits::unlimited());
        let long = "e".repeat(100_000);
        let msg = format!("{{\"type\":\"error\",\"message\":\"{long}\"}}");
        let err = t.push_message(msg.as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().len() < 3000);
    }
}
