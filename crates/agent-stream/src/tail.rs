//! [`TailDecoder`]: what a client runs a log tail through, whichever the protocol.
//! Bytes of an HTTP body or whole WebSocket messages in; log lines, the end of the
//! log, or an error out; limits enforced and everything skipped counted.
//!
//! The unit of a tail is the *delivered line*: a log event's text is split into lines
//! (`\n`, tolerating `\r\n`; blank ones skipped), on both protocols, so that a
//! WebSocket message holding a batch of lines (as Ray's own tail sends them) gives
//! the lines the HTTP stream gives. [`LineDigest`] keeps a running digest of every
//! line delivered, which is how `auto` resumes a broken WebSocket over HTTP without
//! repeating or losing a line ([`TailDecoder::resume_after`]).

use std::borrow::Cow;
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hasher};

use agent_proto::{ClientError, StreamLimits};

use crate::event::{decode_event, decode_http_line, Event};
use crate::limits::{LimitTracker, StreamCounters};
use crate::line::{Line, LineDecoder};

/// What a server-sent-event line carries before its payload.
const SSE_PREFIX: &str = "data: ";

/// The largest WebSocket message, or HTTP line, a decoder with this
/// `max_message_size` reads before it skips it unseen (counted as one oversized
/// message).
///
/// The limit itself measures the *text* of each line delivered, so the wire form may
/// be longer: an SSE `data: ` prefix, a JSON envelope and escapes, and above all a
/// batch of lines in one message (as Ray's own tail sends them), which is split and
/// measured line by line. So this is twice the limit plus 64 bytes, and at least
/// 1 MiB. Memory stays bounded by it (plus a `data: ` prefix on an HTTP line).
///
/// ```
/// assert_eq!(agent_stream::tail::framed_limit(100), 1 << 20);
/// assert_eq!(agent_stream::tail::framed_limit(1 << 20), (2 << 20) + 64);
/// assert_eq!(agent_stream::tail::framed_limit(usize::MAX), usize::MAX);
/// ```
pub fn framed_limit(max_message_size: usize) -> usize {
    max_message_size
        .saturating_mul(2)
        .saturating_add(64)
        .max(MIN_FRAMED_LIMIT)
}

/// The least [`framed_limit`]: room for a batch of lines in one message.
const MIN_FRAMED_LIMIT: usize = 1 << 20;

/// What a [`TailDecoder`] hands on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TailItem {
    /// A log line for the caller (never empty, never holding `\n`).
    Line(String),
    /// The job's log is complete: the tail ends normally, and nothing after this is
    /// decoded.
    Complete,
}

/// A running digest of a sequence of lines: how many, and a keyed hash of all of
/// them in order. Constant memory, whatever the number of lines.
///
/// Two digests agree only when they saw the same lines in the same order (up to a
/// 64-bit hash collision, with a key drawn at random per digest so that a server
/// cannot aim for one). A digest is compared with one started by
/// [`LineDigest::fresh`], which shares its key.
///
/// ```
/// use agent_stream::LineDigest;
///
/// let mut a = LineDigest::new();
/// let mut b = a.fresh();
/// for line in ["tick", "tick", "done"] {
///     a.push(line);
/// }
/// for line in ["tick", "tick"] {
///     b.push(line);
/// }
/// assert!(!b.matches(&a));
/// b.push("done");
/// assert!(b.matches(&a));
/// assert_eq!(a.lines(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct LineDigest {
    key: RandomState,
    hasher: DefaultHasher,
    lines: u64,
}

impl Default for LineDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl LineDigest {
    /// An empty digest with a new random key.
    pub fn new() -> Self {
        let key = RandomState::new();
        LineDigest {
            hasher: key.build_hasher(),
            key,
            lines: 0,
        }
    }

    /// An empty digest with this one's key, to compare with it.
    pub fn fresh(&self) -> Self {
        LineDigest {
            hasher: self.key.build_hasher(),
            key: self.key.clone(),
            lines: 0,
        }
    }

    /// Adds one line.
    pub fn push(&mut self, line: &str) {
        self.hasher.write(line.as_bytes());
        // The length after the bytes: `ab`,`c` and `a`,`bc` differ.
        self.hasher.write_usize(line.len());
        self.lines += 1;
    }

    /// How many lines went in.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Whether `other` (of the same key) saw the same lines.
    pub fn matches(&self, other: &LineDigest) -> bool {
        self.lines == other.lines && self.hasher.finish() == other.hasher.finish()
    }
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
///   One message is one event; a log event's text holding several lines is split
///   into them (on both protocols).
///
/// Events follow [`decode_event`]. Limits follow [`LimitTracker`]: a line whose text
/// is over `max_message_size` is skipped and counted (as is a message or HTTP line
/// over [`framed_limit`], unseen); more than `max_messages` messages (WebSocket) or
/// `max_lines` lines (HTTP), or more than `max_bytes` delivered, is a
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
    /// While replaying lines the caller already has.
    replay: Option<Replay>,
    /// The digest of every line delivered, when asked for.
    digest: Option<LineDigest>,
    /// Whether an SSE `data:` event was seen (HTTP).
    saw_event: bool,
    /// Whether `failed` is a replay that differs.
    replay_failed: bool,
    complete: bool,
    failed: Option<ClientError>,
}

/// The lines a resumed stream replays: what the caller has, and what came so far.
#[derive(Debug, Clone)]
struct Replay {
    want: LineDigest,
    seen: LineDigest,
}

impl TailDecoder {
    /// A decoder for the HTTP stream: body bytes, lines, events.
    pub fn http(limits: StreamLimits) -> Self {
        TailDecoder {
            // The splitter keeps lines up to the framed limit (plus a `data: `
            // prefix): the limit itself is applied to the text a line delivers, as
            // on the WebSocket.
            lines: Some(LineDecoder::new(
                framed_limit(limits.max_message_size).saturating_add(SSE_PREFIX.len()),
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
    /// tail.push_message(b"raw frame\nwith two lines\n", &mut out)?;
    /// tail.push_oversized(1 << 20)?;
    /// let err = tail.push_message(br#"{"type":"error","message":"job lost"}"#, &mut out).unwrap_err();
    /// assert_eq!(err.status_code(), 500);
    /// assert_eq!(out, [
    ///     TailItem::Line("hello".into()),
    ///     TailItem::Line("raw frame".into()),
    ///     TailItem::Line("with two lines".into()),
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

    /// Keeps a [`LineDigest`] of every line this decoder delivers from now on
    /// ([`TailDecoder::digest`]): what a stream that may have to be resumed needs.
    pub fn with_digest(mut self) -> Self {
        self.state.digest = Some(LineDigest::new());
        self
    }

    /// The digest of the lines delivered, when [`TailDecoder::with_digest`] asked
    /// for one.
    pub fn digest(&self) -> Option<&LineDigest> {
        self.state.digest.as_ref()
    }

    /// Resumes a tail that another stream delivered the lines of `delivered` of:
    /// this stream replays the log from its start, so its first
    /// `delivered.lines()` lines are not delivered again, and must be *those same
    /// lines* (all of them, checked against the digest). If they differ, or the
    /// stream completes or ends before them, the decoder fails with a
    /// [`ClientError::Protocol`] (500): a line is never delivered twice nor skipped.
    ///
    /// Replayed events are counted in [`StreamCounters::received`] and
    /// [`StreamCounters::replayed`], not against the limits. Call it before the first
    /// push. With a digest ([`TailDecoder::with_digest`]), the replayed lines go into
    /// it too, so that it stays the digest of every line the caller has.
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// use agent_stream::{TailDecoder, TailItem};
    ///
    /// let mut ws = TailDecoder::websocket(StreamLimits::default()).with_digest();
    /// let mut out = Vec::new();
    /// ws.push_message(b"tick\ntick", &mut out)?;
    /// // ... the WebSocket breaks; fall back to HTTP, which starts over, one line
    /// // per event and a blank event the WebSocket did not have.
    /// let mut http = TailDecoder::http(StreamLimits::default());
    /// http.resume_after(ws.digest().unwrap());
    /// http.push_bytes(b"data: tick\ndata:\ndata: tick\ndata: tick\n", &mut out)?;
    /// assert_eq!(out, ["tick", "tick", "tick"].map(|s| TailItem::Line(s.into())));
    ///
    /// // A replay that differs fails loudly.
    /// let mut other = TailDecoder::http(StreamLimits::default());
    /// other.resume_after(ws.digest().unwrap());
    /// let err = other.push_bytes(b"tick\ntock\nmore\n", &mut Vec::new()).unwrap_err();
    /// assert_eq!(err.status_code(), 500);
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn resume_after(&mut self, delivered: &LineDigest) {
        self.state.replay = (delivered.lines() > 0).then(|| Replay {
            want: delivered.clone(),
            seen: delivered.fresh(),
        });
        if let Some(digest) = &mut self.state.digest {
            *digest = delivered.clone();
        }
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

    /// Ends an HTTP body: decodes a last line that had no newline. Whether the log was
    /// complete is [`TailDecoder::is_complete`]; whether the body may end without
    /// `complete` is [`TailDecoder::may_end_cleanly`]. A replay
    /// ([`TailDecoder::resume_after`]) still short of the lines delivered fails.
    ///
    /// On a WebSocket decoder this only checks the replay (and returns an earlier
    /// error).
    pub fn finish(&mut self, out: &mut Vec<TailItem>) -> Result<(), ClientError> {
        let state = &mut self.state;
        if let (Some(lines), false) = (self.lines.as_mut(), state.is_done()) {
            lines.finish(&mut |line| state.on_line(line, out));
        }
        if !state.is_done() {
            state.check_replay_ended("ended");
        }
        state.status()
    }

    /// Whether an HTTP body that ends cleanly (its chunked terminator, or all of its
    /// `Content-Length`) ends this tail normally: only when the stream never carried
    /// an SSE `data:` event (a server that speaks plain lines has no `complete` to
    /// send) and no replay is pending. A body cut off mid-way is a failure whatever
    /// this says.
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// use agent_stream::TailDecoder;
    ///
    /// let mut plain = TailDecoder::http(StreamLimits::default());
    /// plain.push_bytes(b"one\r\ntwo\r\n", &mut Vec::new())?;
    /// assert!(plain.may_end_cleanly());
    /// let mut sse = TailDecoder::http(StreamLimits::default());
    /// sse.push_bytes(b"data: one\n", &mut Vec::new())?;
    /// assert!(!sse.may_end_cleanly());
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn may_end_cleanly(&self) -> bool {
        self.lines.is_some()
            && !self.state.saw_event
            && self.state.replay.is_none()
            && self.state.failed.is_none()
    }

    /// Decodes one whole WebSocket message (the bytes of a text frame, or of a binary
    /// one), appending what it delivers to `out`. Invalid UTF-8 is replaced by U+FFFD
    /// and counted; a message larger than [`framed_limit`] is skipped unseen and
    /// counted.
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
        // As the transport would: a message over the framed limit is not read.
        if message.len() > framed_limit(state.tracker.limits().max_message_size) {
            state.skip_oversized(message.len() as u64);
            return Ok(());
        }
        let (text, lossy) = match std::str::from_utf8(message) {
            Ok(text) => (Cow::Borrowed(text), false),
            Err(_) => (String::from_utf8_lossy(message), true),
        };
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
            state.skip_oversized(len);
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

    /// Whether the decoder failed because a replay ([`TailDecoder::resume_after`])
    /// did not start with the lines already delivered.
    pub fn replay_failed(&self) -> bool {
        self.state.replay_failed
    }

    /// Whether a `complete` event was seen; anything after it is ignored.
    pub fn is_complete(&self) -> bool {
        self.state.complete
    }

    /// The error that ended the stream (an `error` event, an exceeded limit, a replay
    /// that differs), if any.
    pub fn failure(&self) -> Option<&ClientError> {
        self.state.failed.as_ref()
    }
}

impl TailState {
    fn new(tracker: LimitTracker) -> Self {
        TailState {
            tracker,
            replay: None,
            digest: None,
            saw_event: false,
            replay_failed: false,
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
                    self.skip_oversized(len);
                }
            }
        }
    }

    fn on_http_text(&mut self, line: &str, lossy: bool, out: &mut Vec<TailItem>) {
        let Some(event) = decode_http_line(line) else {
            return; // blank: not an event
        };
        if line.starts_with("data:") {
            self.saw_event = true;
        }
        if !self.begin_event() {
            return;
        }
        if lossy {
            self.tracker.note_invalid_utf8();
        }
        self.on_event(event, out);
    }

    /// Counts one event received (as replayed while a replay is on). `false` when it
    /// is over the count limit: the stream has failed then.
    fn begin_event(&mut self) -> bool {
        if self.replay.is_some() {
            self.tracker.replay();
            return true;
        }
        match self.tracker.receive() {
            Ok(()) => true,
            Err(err) => {
                self.failed = Some(err);
                false
            }
        }
    }

    /// A message or line skipped unread; during a replay it was the other stream's
    /// to count.
    fn skip_oversized(&mut self, len: u64) {
        if self.replay.is_none() {
            self.tracker.skip_oversized(len);
        }
    }

    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<TailItem>) {
        match event {
            Event::Log(text) => {
                // One event may hold several lines: each is delivered (or replayed,
                // or skipped) on its own, as the HTTP stream would have them. An
                // event of blank lines only is an empty one.
                let mut any_line = false;
                for line in text.split('\n') {
                    let line = line.strip_suffix('\r').unwrap_or(line);
                    if line.is_empty() {
                        continue;
                    }
                    any_line = true;
                    self.on_log_line(line, out);
                    if self.failed.is_some() {
                        return;
                    }
                }
                if !any_line {
                    self.tracker.skip_empty();
                }
            }
            Event::Empty => self.tracker.skip_empty(),
            Event::Ignored => self.tracker.ignore(),
            Event::Error(message) => {
                self.failed = Some(ClientError::StreamFailed {
                    message: agent_proto::error::truncate(&message),
                });
            }
            Event::Complete => {
                if self.check_replay_ended("completed") {
                    self.complete = true;
                    out.push(TailItem::Complete);
                }
            }
        }
    }

    /// One line of log text (not empty, no `\n`).
    fn on_log_line(&mut self, line: &str, out: &mut Vec<TailItem>) {
        // The size rule measures the text delivered, whatever the framing.
        if self.tracker.is_oversized(line.len() as u64) {
            self.skip_oversized(line.len() as u64);
            return;
        }
        if let Some(replay) = &mut self.replay {
            replay.seen.push(line);
            if replay.seen.lines() == replay.want.lines() {
                if !replay.seen.matches(&replay.want) {
                    self.replay_failed = true;
                    self.failed = Some(replay_differs(format!(
                        "its first {} lines are not the lines already delivered",
                        replay.want.lines()
                    )));
                }
                self.replay = None;
            }
            return;
        }
        match self.tracker.deliver(line.len()) {
            Ok(()) => {
                if let Some(digest) = &mut self.digest {
                    digest.push(line);
                }
                out.push(TailItem::Line(line.to_owned()));
            }
            Err(err) => self.failed = Some(err),
        }
    }

    /// The stream `how` (completed, ended): fails if a replay is still short.
    fn check_replay_ended(&mut self, how: &str) -> bool {
        if let Some(replay) = self.replay.take() {
            self.replay_failed = true;
            self.failed = Some(replay_differs(format!(
                "it {how} after {} of the {} lines already delivered",
                replay.seen.lines(),
                replay.want.lines()
            )));
            return false;
        }
        true
    }
}

fn replay_differs(detail: String) -> ClientError {
    ClientError::protocol(format!(
        "the replayed log does not start with the lines already delivered ({detail}): \
         resuming would repeat or lose lines"
    ))
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

    /// Issue 11, item 3: a skipped oversized line never ends a tail and never counts
    /// toward `max_bytes`, however the body is chunked.
    #[test]
    fn a_skipped_line_never_ends_a_tail_whatever_the_chunking() {
        let limits = StreamLimits {
            max_message_size: 16,
            max_bytes: 10,
            ..StreamLimits::default()
        };
        let mut body = b"a\n".to_vec();
        body.extend_from_slice(&[b'x'; 2000]);
        body.extend_from_slice(b"\nb\n");
        for cut in [0, 1, 3, 500, 1500, 2002, 2003, body.len()] {
            let mut tail = TailDecoder::http(limits);
            let mut out = Vec::new();
            tail.push_bytes(&body[..cut], &mut out).unwrap();
            tail.push_bytes(&body[cut..], &mut out).unwrap();
            tail.finish(&mut out).unwrap();
            assert_eq!(lines(&out), ["a", "b"], "cut at {cut}");
            let c = tail.counters();
            assert_eq!((c.skipped_oversized, c.skipped_bytes), (1, 2000));
            assert_eq!(c.delivered_bytes, 2);
        }
        let mut ws = TailDecoder::websocket(limits);
        let mut out = Vec::new();
        ws.push_message(b"a", &mut out).unwrap();
        ws.push_message(&[b'x'; 2000], &mut out).unwrap();
        ws.push_oversized(1 << 30).unwrap();
        ws.push_message(b"b", &mut out).unwrap();
        assert_eq!(lines(&out), ["a", "b"]);
        assert_eq!(ws.counters().skipped_oversized, 2);
    }

    /// The decided rule: `max_message_size` measures the text a line delivers; the
    /// SSE prefix and the JSON envelope never count against it.
    #[test]
    fn the_size_limit_is_the_same_on_both_protocols() {
        let limits = StreamLimits {
            max_message_size: 64,
            ..StreamLimits::default()
        };
        let json = |n: usize| format!(r#"{{"type":"log","message":"{}"}}"#, "j".repeat(n));
        let (at, over) = (json(64), json(65));
        let plain_at = "p".repeat(64);
        let plain_over = "p".repeat(65);
        // A batch whose lines fit, though the whole message does not.
        let batch = format!("{}\n{}\n", "b".repeat(60), "c".repeat(65));

        let mut ws = TailDecoder::websocket(limits);
        let mut ws_out = Vec::new();
        for m in [&at, &over, &plain_at, &plain_over, &batch] {
            ws.push_message(m.as_bytes(), &mut ws_out).unwrap();
        }
        let mut http = TailDecoder::http(limits);
        let mut http_out = Vec::new();
        let body = format!(
            "data: {at}\n\ndata:{over}\n{plain_at}\n{plain_over}\n{}\n{}\n",
            "b".repeat(60),
            "c".repeat(65)
        );
        http.push_bytes(body.as_bytes(), &mut http_out).unwrap();

        assert_eq!(ws_out, http_out);
        assert_eq!(
            lines(&ws_out),
            ["j".repeat(64), plain_at.clone(), "b".repeat(60)]
        );
        assert_eq!(ws.counters().skipped_oversized, 3);
        assert_eq!(http.counters().skipped_oversized, 3);
        assert_eq!(ws.counters().skipped_bytes, 65 * 3);
        assert_eq!(ws.counters().delivered, http.counters().delivered);
        // Past the framed limit, a message is not even read (a batch is, below it).
        let huge = format!("{}\n{}", "h".repeat(framed_limit(64)), "h");
        ws.push_message(huge.as_bytes(), &mut ws_out).unwrap();
        assert_eq!(ws.counters().skipped_bytes, 65 * 3 + huge.len() as u64);
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
    fn a_resume_skips_delivered_lines_not_events() {
        // The WebSocket delivered `tick`, `tick` from one batch frame and an empty
        // event; HTTP replays them one per event, with a blank event between.
        let mut ws = TailDecoder::websocket(small()).with_digest();
        let mut out = Vec::new();
        ws.push_message(b"tick\ntick\n", &mut out).unwrap();
        ws.push_message(br#"{"message":""}"#, &mut out).unwrap();
        assert_eq!(ws.digest().unwrap().lines(), 2);
        let limits = StreamLimits {
            max_lines: 3,
            ..small()
        };
        let mut http = TailDecoder::http(limits).with_digest();
        http.resume_after(ws.digest().unwrap());
        http.push_bytes(b"tick\ndata:\ntick\n", &mut out).unwrap();
        http.push_bytes(&[b'z'; 100], &mut out).unwrap();
        http.push_bytes(b"\ntock\ndone\n", &mut out).unwrap();
        assert_eq!(lines(&out), ["tick", "tick", "tock", "done"]);
        let c = http.counters();
        // 3 events replayed, not counted against the limit of 3 lines; then the
        // oversized line, `tock` and `done`.
        assert_eq!((c.received, c.replayed, c.skipped_oversized), (6, 3, 1));
        assert_eq!(
            http.digest().unwrap().lines(),
            4,
            "every line the caller has"
        );
        assert!(http.push_bytes(b"more\n", &mut out).is_err());
    }

    #[test]
    fn a_replay_that_differs_or_falls_short_fails() {
        let mut ws = TailDecoder::websocket(small()).with_digest();
        let mut out = Vec::new();
        for m in ["a", "tick", "tick"] {
            ws.push_message(m.as_bytes(), &mut out).unwrap();
        }
        let digest = ws.digest().unwrap();
        for (body, complete) in [
            (&b"a\ntick\ntock\n"[..], false),
            (b"tick\na\ntick\n", false),
            (b"a\ntick\n", false),
            (b"a\ntick\ndata: {\"type\":\"complete\"}\n", true),
        ] {
            let mut http = TailDecoder::http(small());
            http.resume_after(digest);
            let mut got = Vec::new();
            let pushed = http.push_bytes(body, &mut got);
            let err = match (pushed, complete) {
                (Err(e), _) => e,
                (Ok(()), _) => http.finish(&mut got).unwrap_err(),
            };
            assert_eq!(err.status_code(), 500, "{err}");
            assert!(err.to_string().contains("already delivered"), "{err}");
            assert!(got.is_empty(), "{got:?}");
            assert!(!http.is_complete());
            assert!(http.replay_failed());
        }
        // Exactly the same lines: nothing delivered twice, then the rest.
        let mut http = TailDecoder::http(small());
        http.resume_after(digest);
        let mut got = Vec::new();
        http.push_bytes(b"a\n\ntick\ntick\nnew\n", &mut got)
            .unwrap();
        http.finish(&mut got).unwrap();
        assert_eq!(lines(&got), ["new"]);
        assert!(!http.replay_failed(), "an exact replay did not fail");
        // Nothing delivered before: nothing to check, nothing skipped.
        let mut fresh = TailDecoder::http(small());
        fresh.resume_after(&LineDigest::new());
        fresh.push_bytes(b"x\n", &mut got).unwrap();
        assert_eq!(fresh.counters().replayed, 0);
    }

    /// A message of exactly the framed limit is read (a batch of short lines);
    /// one byte more is skipped unread, as the transport would.
    #[test]
    fn a_message_at_the_framed_limit_is_read_one_byte_over_is_skipped() {
        let limits = StreamLimits::unlimited();
        let limit = framed_limit(limits.max_message_size);
        assert_eq!(limit % 2, 0, "the batch below fills it exactly");
        let batch = "a\n".repeat(limit / 2);
        assert_eq!(batch.len(), limit);
        let mut at = TailDecoder::websocket(limits);
        let mut out = Vec::new();
        at.push_message(batch.as_bytes(), &mut out).unwrap();
        assert_eq!(lines(&out).len(), limit / 2);
        assert_eq!(at.counters().skipped_oversized, 0);

        let over = format!("{batch}a");
        let mut past = TailDecoder::websocket(limits);
        let mut out = Vec::new();
        past.push_message(over.as_bytes(), &mut out).unwrap();
        assert!(lines(&out).is_empty(), "nothing of it is read");
        assert_eq!(past.counters().skipped_oversized, 1);
    }

    #[test]
    fn an_empty_websocket_message_is_skipped_and_counted() {
        let mut t = TailDecoder::websocket(small());
        let mut out = Vec::new();
        t.push_message(br#"{"type":"log","message":""}"#, &mut out)
            .unwrap();
        t.push_message(b"\n\r\n", &mut out).unwrap();
        t.push_message(b"", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(t.counters().skipped_empty, 3);
        assert_eq!(t.limits().max_message_size, small().max_message_size);
        assert_eq!(t.counters().delivered, 0);
    }

    #[test]
    fn only_a_plain_lines_body_may_end_cleanly() {
        let mut plain = TailDecoder::http(small());
        plain
            .push_bytes(b"one\n\n{\"type\":\"complete\"}\n", &mut Vec::new())
            .unwrap();
        assert!(plain.may_end_cleanly());
        let mut sse = TailDecoder::http(small());
        sse.push_bytes(b"one\ndata:\ntwo\n", &mut Vec::new())
            .unwrap();
        assert!(!sse.may_end_cleanly());
        assert!(!TailDecoder::websocket(small()).may_end_cleanly());
        let mut failed = TailDecoder::http(StreamLimits {
            max_lines: 1,
            ..small()
        });
        let _ = failed.push_bytes(b"a\nb\n", &mut Vec::new());
        assert!(!failed.may_end_cleanly());
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
