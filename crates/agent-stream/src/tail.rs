//! [`TailDecoder`]: what a client runs a log tail through, whichever the protocol.
//! Bytes of an HTTP body or whole WebSocket messages in; log lines, the end of the
//! log, or an error out; limits enforced and everything skipped counted.
//!
//! The unit of a tail is the *delivered line*: a log event's text is split into lines
//! (`\n`, tolerating `\r\n`; blank ones skipped), on both protocols, so that a
//! WebSocket message holding a batch of lines (as Ray's own tail sends them) gives
//! the lines the HTTP stream gives. [`LineDigest`] keeps a running digest of every
//! line delivered, which is how `auto` resumes a broken WebSocket over HTTP without
//! repeating or losing a line ([`TailDecoder::resume_after`]) from a server that
//! does not number its lines.
//!
//! A server that numbers them (an event's `"n"`, spec: "Line numbers and cursors")
//! lets a resume ask for the next line instead of a replay: the decoder tracks the
//! number of the next line ([`TailDecoder::next_line`], counting every line of the
//! log, also the empty ones it does not deliver), and a stream asked to start
//! there ([`TailDecoder::expect_first_line`]) is taken as starting there when its
//! first log event carries that number.

use std::borrow::Cow;
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hasher};

use agent_proto::{ClientError, StreamLimits};

use crate::event::{decode_numbered, Event};
use crate::limits::{LimitTracker, StreamCounters};
use crate::line::{Line, LineDecoder};
use crate::sse::{is_event_stream, EventStreamParser, SseItem};

/// The default frame cap (64 MiB): the largest WebSocket message or SSE event a
/// [`TailDecoder`] holds whole, which it must for a JSON event (its `message` is
/// read once the event is whole). A message or event larger than that is refused
/// with a loud error naming the cap ([`frame_cap_exceeded`]), never skipped
/// quietly. A plain-text message is split into lines as its fragments arrive, and
/// a line over `max_message_size` is skipped as it streams, so plain text costs
/// memory by the line limit whatever the message's size.
///
/// Far above any `max_message_size`: the batch of lines in one message (as Ray's
/// own tail sends them) is split, and each line measured on its own.
pub const DEFAULT_FRAME_CAP: usize = 64 << 20;

/// The error of a message or event over the frame cap: a 500 naming the cap.
///
/// ```
/// let err = agent_stream::tail::frame_cap_exceeded(1 << 20, 70 << 20);
/// assert_eq!(err.status_code(), 500);
/// assert!(err.to_string().contains("frame cap (1048576 bytes)"));
/// ```
pub fn frame_cap_exceeded(frame_cap: usize, len: u64) -> ClientError {
    ClientError::protocol(format!(
        "the server sent a message or event of {len} bytes or more, past the frame cap \
         ({frame_cap} bytes): it is refused whole rather than skipped (raise the frame cap \
         if such messages are expected)"
    ))
}

/// What a [`TailDecoder`] hands on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TailItem {
    /// A log line for the caller (never empty, never holding `\n`).
    Line(String),
    /// The job's log is complete: the tail ends normally, and nothing after this is
    /// decoded.
    Complete,
}

/// Where a [`TailDecoder`] puts what it delivers: a `Vec<TailItem>`, or a caller's
/// batch of lines ([`Lines`]), so that a line is written once, where its reader
/// takes it.
pub trait TailSink {
    /// A log line for the caller (never empty, never holding `\n`).
    fn line(&mut self, line: String);
    /// The job's log is complete.
    fn complete(&mut self);
}

impl TailSink for Vec<TailItem> {
    fn line(&mut self, line: String) {
        self.push(TailItem::Line(line));
    }

    fn complete(&mut self) {
        self.push(TailItem::Complete);
    }
}

/// A [`TailSink`] that appends the lines to a caller's batch; the end of the log
/// is [`TailDecoder::is_complete`].
///
/// ```
/// use agent_proto::StreamLimits;
/// use agent_stream::{Lines, TailDecoder};
///
/// let mut tail = TailDecoder::http(StreamLimits::default());
/// let mut batch = Vec::new();
/// tail.push_bytes(b"one\ndata: {\"type\":\"complete\"}\n\n", &mut Lines(&mut batch))?;
/// assert_eq!(batch, ["one"]);
/// assert!(tail.is_complete());
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Debug)]
pub struct Lines<'a>(pub &'a mut Vec<String>);

impl TailSink for Lines<'_> {
    fn line(&mut self, line: String) {
        self.0.push(line);
    }

    fn complete(&mut self) {}
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

/// Whether a tail's log events carry line numbers (`"n"`), as far as seen.
///
/// A client knows a start it asked for (`?from_line=K`, `?tail=N`) was honoured
/// only from the first log event: [`Numbering::From`] with the number it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Numbering {
    /// No log event yet.
    Unknown,
    /// Every log event so far was numbered; the first carried this number.
    From(u64),
    /// A log event came without a number: the stream is not (wholly) numbered.
    Unnumbered,
}

/// How many lines a log event's `message` holds, as a numbering server counts
/// them: its `\n`-ended lines plus an unended last one; an empty message is one
/// (empty) line.
///
/// ```
/// use agent_stream::tail::lines_in;
///
/// assert_eq!(lines_in(""), 1);
/// assert_eq!(lines_in("a\n"), 1);
/// assert_eq!(lines_in("a\n\nb"), 3);
/// ```
pub fn lines_in(message: &str) -> u64 {
    agent_proto::lines_in(message)
}

/// The limit-enforcing decoder of a log tail, for both protocols (sans-IO).
///
/// - HTTP ([`TailDecoder::http`]): push the body's chunks as they come
///   ([`push_bytes`](TailDecoder::push_bytes)), then [`finish`](TailDecoder::finish)
///   at the end of the body. The body is read by an [`EventStreamParser`]: plain
///   lines (each a log line; blank ones are not messages) until it is known to be an
///   event stream (its `Content-Type`, [`TailDecoder::content_type`], or its first
///   `data:` line), then server-sent events, each decoded as an event.
/// - WebSocket ([`TailDecoder::websocket`]): push each whole message
///   ([`push_message`](TailDecoder::push_message)), or its fragments as they arrive
///   ([`push_fragment`](TailDecoder::push_fragment)). One message is one event.
///
/// Events follow [`decode_event`](crate::decode_event); a log event's text holding several lines is split
/// into them, on both protocols, and *then* each line is measured: a line over
/// `max_message_size` is skipped and counted, whatever else its message holds. A
/// plain-text message is split as its fragments arrive; a JSON message or event is
/// held whole up to the frame cap ([`DEFAULT_FRAME_CAP`],
/// [`TailDecoder::with_frame_cap`]), and one past it is a loud error. Limits follow
/// [`LimitTracker`], the same on both protocols: more than `max_messages` messages
/// received, `max_lines` lines or `max_bytes` bytes delivered is a
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
/// tail.push_bytes(b"age\":\"step 1\"}\n\n: ping\n\ndata: {\"type\":\"complete\"}\n\n", &mut out)?;
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
    /// `Some` for HTTP: the body's reader.
    http: Option<EventStreamParser>,
    /// WebSocket: the message whose fragments are arriving.
    message: Message,
    state: TailState,
}

/// A WebSocket message whose fragments are arriving.
#[derive(Debug, Clone)]
enum Message {
    /// Between messages.
    None,
    /// Only JSON whitespace so far: plain text or JSON, not known yet.
    Start(Vec<u8>),
    /// Plain text, split into lines as it arrives.
    Plain(PlainMessage),
    /// A JSON event, kept whole (up to the frame cap) to be decoded at its end.
    Json(Vec<u8>),
    /// The rest of a message the decoder no longer reads (it failed, or completed).
    Ignored,
}

/// A plain-text message being split.
#[derive(Debug, Clone)]
struct PlainMessage {
    lines: LineDecoder,
    /// Whether it held a line that is not blank.
    any_line: bool,
    /// Whether a line was not valid UTF-8.
    lossy: bool,
}

/// Everything but the line splitter, so that the splitter's callback can borrow it.
#[derive(Debug, Clone)]
struct TailState {
    tracker: LimitTracker,
    /// The largest message or event held whole.
    frame_cap: usize,
    /// While replaying lines the caller already has.
    replay: Option<Replay>,
    /// The digest of every line delivered, when asked for.
    digest: Option<LineDigest>,
    /// Whether an SSE `data:` event was seen (HTTP).
    saw_event: bool,
    /// Whether `failed` is a replay that differs.
    replay_failed: bool,
    /// The line numbers seen: see [`Numbering`].
    numbering: Numbering,
    /// The number of the next line, after the last numbered log event (`None`
    /// until one, or once a log event came without a number).
    next_line: Option<u64>,
    /// The line this stream was asked to start at, until its first log event.
    expect_line: Option<u64>,
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
            http: Some(EventStreamParser::new(
                limits.max_message_size,
                DEFAULT_FRAME_CAP,
            )),
            message: Message::None,
            state: TailState::new(LimitTracker::new(limits)),
        }
    }

    /// A decoder for the WebSocket stream: one message, one event.
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// use agent_stream::{TailDecoder, TailItem};
    ///
    /// let limits = StreamLimits { max_message_size: 8, ..StreamLimits::default() };
    /// let mut tail = TailDecoder::websocket(limits);
    /// let mut out = Vec::new();
    /// tail.push_message(br#"{"type":"log","message":"hello"}"#, &mut out)?;
    /// // A batch of lines, in two fragments: each line is measured on its own.
    /// tail.push_fragment(b"raw frame\nwith\nt", false, &mut out)?;
    /// tail.push_fragment(b"wo line\n", true, &mut out)?;
    /// let err = tail.push_message(br#"{"type":"error","message":"job lost"}"#, &mut out).unwrap_err();
    /// assert_eq!(err.status_code(), 500);
    /// assert_eq!(out, [
    ///     TailItem::Line("hello".into()),
    ///     TailItem::Line("with".into()),
    ///     TailItem::Line("two line".into()),
    /// ]);
    /// assert_eq!(tail.counters().skipped_oversized, 1); // `raw frame`
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn websocket(limits: StreamLimits) -> Self {
        TailDecoder {
            http: None,
            message: Message::None,
            state: TailState::new(LimitTracker::new(limits)),
        }
    }

    /// Tells an HTTP decoder the answer's `Content-Type`: a `text/event-stream` body
    /// is read as server-sent events from its first byte (comments, fields, `\r` line
    /// ends), not only from its first `data:` line. Call it before the first push;
    /// it does nothing on a WebSocket decoder.
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// use agent_stream::{TailDecoder, TailItem};
    ///
    /// let mut tail = TailDecoder::http(StreamLimits::default())
    ///     .content_type("text/event-stream; charset=utf-8");
    /// let mut out = Vec::new();
    /// tail.push_bytes(b"\xEF\xBB\xBF: ping\rretry: 3000\rdata: {\"message\":\r", &mut out)?;
    /// tail.push_bytes(b"\ndata: \"a\\nb\"}\r\r", &mut out)?;
    /// assert_eq!(out, [TailItem::Line("a".into()), TailItem::Line("b".into())]);
    /// assert_eq!(tail.sse_retry(), Some(3000));
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn content_type(mut self, content_type: &str) -> Self {
        if is_event_stream(content_type) {
            self.http = self.http.map(EventStreamParser::event_stream);
        }
        self
    }

    /// Sets the frame cap (the default is [`DEFAULT_FRAME_CAP`]): the largest JSON
    /// message or SSE event held whole. Call it before the first push.
    pub fn with_frame_cap(mut self, frame_cap: usize) -> Self {
        self.state.frame_cap = frame_cap;
        if let Some(parser) = &self.http {
            let fresh =
                EventStreamParser::new(self.state.tracker.limits().max_message_size, frame_cap);
            self.http = Some(if parser.is_event_stream() {
                fresh.event_stream()
            } else {
                fresh
            });
        }
        self
    }

    /// The frame cap: the largest message or event held whole.
    pub fn frame_cap(&self) -> usize {
        self.state.frame_cap
    }

    /// The last SSE `id:` field of an HTTP stream, for a later resume.
    pub fn sse_last_event_id(&self) -> Option<&str> {
        self.http
            .as_ref()
            .and_then(EventStreamParser::last_event_id)
    }

    /// The last SSE `retry:` field of an HTTP stream (milliseconds).
    pub fn sse_retry(&self) -> Option<u64> {
        self.http.as_ref().and_then(EventStreamParser::retry)
    }

    /// Whether this decoder reads an HTTP body (else WebSocket messages).
    pub fn is_http(&self) -> bool {
        self.http.is_some()
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

    /// Says that this stream was asked to start at line `line` (`?from_line=`): when
    /// its first log event carries that number, the server honoured it, and a
    /// replay asked by [`TailDecoder::resume_after`] is dropped (the stream starts
    /// after the lines already delivered, nothing is skipped); otherwise (no
    /// number, or another one: a server that ignores `from_line`) the replay rule
    /// holds. Call it before the first push.
    ///
    /// A stream that completes before any log event, after a numbered stream was
    /// asked to resume at its next line, has no line from there: it is taken as
    /// honoured (a server that ignored the request would have replayed the lines
    /// already delivered first).
    ///
    /// ```
    /// use agent_proto::StreamLimits;
    /// use agent_stream::{TailDecoder, TailItem};
    ///
    /// let mut ws = TailDecoder::websocket(StreamLimits::default()).with_digest();
    /// let mut out = Vec::new();
    /// ws.push_message(br#"{"type":"log","message":"a\n\nb","n":1}"#, &mut out)?;
    /// assert_eq!(ws.next_line(), Some(4)); // the empty line counts
    /// // ... the WebSocket breaks; HTTP is asked for `?from_line=4`, and honours it.
    /// let mut http = TailDecoder::http(StreamLimits::default());
    /// http.resume_after(ws.digest().unwrap());
    /// http.expect_first_line(4);
    /// http.push_bytes(b"data: {\"type\":\"log\",\"message\":\"c\",\"n\":4}\n\n", &mut out)?;
    /// assert_eq!(out, ["a", "b", "c"].map(|s| TailItem::Line(s.into())));
    /// assert_eq!(http.counters().replayed, 0);
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn expect_first_line(&mut self, line: u64) {
        self.state.expect_line = Some(line);
    }

    /// The number of the log's next line: one past the last line of the last log
    /// event, when every log event so far was numbered (an empty line the decoder
    /// does not deliver counts). `None` before the first log event and on a server
    /// that does not number. What a resume asks for (`?from_line=`).
    pub fn next_line(&self) -> Option<u64> {
        self.state.next_line
    }

    /// Whether the stream's log events are numbered, as far as seen: see
    /// [`Numbering`].
    pub fn numbering(&self) -> Numbering {
        self.state.numbering
    }

    /// Decodes the next chunk of an HTTP body, appending what it delivers to `out`.
    ///
    /// A [`ClientError::Usage`] on a WebSocket decoder.
    pub fn push_bytes(&mut self, chunk: &[u8], out: &mut impl TailSink) -> Result<(), ClientError> {
        let Some(parser) = self.http.as_mut() else {
            return Err(misuse("push_bytes", "a WebSocket"));
        };
        let state = &mut self.state;
        if state.is_done() {
            return state.status();
        }
        parser.push(chunk, &mut |item| state.on_sse(item, out));
        state.status()
    }

    /// Ends an HTTP body: decodes a last line that had no line end, and an event
    /// still open. Whether the log was complete is [`TailDecoder::is_complete`];
    /// whether the body may end without `complete` is
    /// [`TailDecoder::may_end_cleanly`]. A replay ([`TailDecoder::resume_after`])
    /// still short of the lines delivered fails.
    ///
    /// On a WebSocket decoder this only checks the replay (and returns an earlier
    /// error).
    pub fn finish(&mut self, out: &mut impl TailSink) -> Result<(), ClientError> {
        let state = &mut self.state;
        if let (Some(parser), false) = (self.http.as_mut(), state.is_done()) {
            parser.finish(&mut |item| state.on_sse(item, out));
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
    /// sse.push_bytes(b"data: one\n\n", &mut Vec::new())?;
    /// assert!(!sse.may_end_cleanly());
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn may_end_cleanly(&self) -> bool {
        self.http.as_ref().is_some_and(|p| !p.saw_data())
            && !self.state.saw_event
            && self.state.replay.is_none()
            && self.state.failed.is_none()
    }

    /// Decodes one whole WebSocket message (the bytes of a text frame, or of a binary
    /// one), appending what it delivers to `out`: the same as its only fragment
    /// ([`TailDecoder::push_fragment`] with `last`). Invalid UTF-8 is replaced by
    /// U+FFFD and counted.
    ///
    /// A [`ClientError::Usage`] on an HTTP decoder.
    pub fn push_message(
        &mut self,
        message: &[u8],
        out: &mut impl TailSink,
    ) -> Result<(), ClientError> {
        if self.http.is_some() {
            return Err(misuse("push_message", "an HTTP"));
        }
        let state = &mut self.state;
        if !matches!(self.message, Message::None) || message.len() > state.frame_cap {
            // The end of a fragmented message, or one to split as it streams.
            return self.push_fragment(message, true, out);
        }
        if state.is_done() || !state.begin_event() {
            return state.status();
        }
        state.on_payload(message, out);
        state.status()
    }

    /// Decodes one fragment of a WebSocket message (its first frame, or a
    /// continuation; `last` for its final one), appending what it delivers to `out`.
    ///
    /// A plain-text message is split into lines as its fragments arrive (memory by
    /// the line limit, whatever the message's size); a JSON message is kept until
    /// its last fragment, up to the frame cap, and past it the decoder fails with
    /// [`frame_cap_exceeded`].
    ///
    /// A [`ClientError::Usage`] on an HTTP decoder.
    pub fn push_fragment(
        &mut self,
        fragment: &[u8],
        last: bool,
        out: &mut impl TailSink,
    ) -> Result<(), ClientError> {
        if self.http.is_some() {
            return Err(misuse("push_fragment", "an HTTP"));
        }
        let state = &mut self.state;
        if matches!(self.message, Message::None) {
            self.message = if state.is_done() || !state.begin_event() {
                Message::Ignored
            } else {
                Message::Start(Vec::new())
            };
        }
        self.message = match std::mem::replace(&mut self.message, Message::None) {
            Message::None | Message::Ignored => Message::Ignored,
            Message::Start(mut head) => {
                match fragment.iter().position(|b| !b.is_ascii_whitespace()) {
                    None => {
                        head.extend_from_slice(fragment);
                        state.held(Message::Start(head))
                    }
                    Some(at) if fragment[at] == b'{' => {
                        head.extend_from_slice(fragment);
                        state.held(Message::Json(head))
                    }
                    Some(_) => {
                        // Plain text: lines without numbers.
                        state.note_lines(None, 0);
                        let max = state.tracker.limits().max_message_size;
                        let mut plain = PlainMessage {
                            lines: LineDecoder::new(max),
                            any_line: false,
                            lossy: false,
                        };
                        state.plain(&mut plain, &head, out);
                        state.plain(&mut plain, fragment, out);
                        Message::Plain(plain)
                    }
                }
            }
            Message::Json(mut buf) => {
                buf.extend_from_slice(fragment);
                state.held(Message::Json(buf))
            }
            Message::Plain(mut plain) => {
                state.plain(&mut plain, fragment, out);
                Message::Plain(plain)
            }
        };
        if last {
            match std::mem::replace(&mut self.message, Message::None) {
                Message::Start(payload) | Message::Json(payload) if !state.is_done() => {
                    state.on_payload(&payload, out);
                }
                Message::Plain(plain) if !state.is_done() => {
                    let PlainMessage {
                        mut lines,
                        mut any_line,
                        mut lossy,
                    } = plain;
                    lines.finish(&mut |line| {
                        state.on_message_line(line, &mut any_line, &mut lossy, out)
                    });
                    if !state.is_done() {
                        if lossy {
                            state.tracker.note_invalid_utf8();
                        }
                        if !any_line {
                            state.tracker.skip_empty();
                        }
                    }
                }
                _ => {}
            }
        }
        state.status()
    }

    /// Records a WebSocket message of `len` bytes that a transport discarded unread:
    /// it counts as received (and against `max_messages`) and as one skipped line.
    ///
    /// A [`ClientError::Usage`] on an HTTP decoder.
    pub fn push_oversized(&mut self, len: u64) -> Result<(), ClientError> {
        if self.http.is_some() {
            return Err(misuse("push_oversized", "an HTTP"));
        }
        let state = &mut self.state;
        if !state.is_done() && state.begin_event() {
            // Its lines, unread, cannot be counted: the numbers are lost.
            state.note_lines(None, 0);
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
            frame_cap: DEFAULT_FRAME_CAP,
            replay: None,
            digest: None,
            saw_event: false,
            replay_failed: false,
            numbering: Numbering::Unknown,
            next_line: None,
            expect_line: None,
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

    /// What an HTTP body's reader found.
    fn on_sse(&mut self, item: SseItem<'_>, out: &mut dyn TailSink) {
        if self.is_done() {
            return;
        }
        match item {
            SseItem::Line(Line::Text(text)) => self.on_plain_line(&text, false, out),
            SseItem::Line(Line::Lossy(text)) => self.on_plain_line(&text, true, out),
            SseItem::Line(Line::Oversized { len } | Line::TooLong { len }) => {
                self.note_lines(None, 0);
                if self.begin_event() {
                    self.skip_oversized(len);
                }
            }
            SseItem::Event(event) => {
                self.saw_event = true;
                if self.begin_event() {
                    if event.lossy {
                        self.tracker.note_invalid_utf8();
                    }
                    let (event, n) = decode_numbered(event.data);
                    self.on_event(event, n, out);
                }
            }
            // A sign of life; the time-outs see the bytes.
            SseItem::Comment => {}
            SseItem::TooLong { len } => {
                self.saw_event = true;
                self.failed = Some(frame_cap_exceeded(self.frame_cap, len));
            }
        }
    }

    /// A plain line of an HTTP body (not blank): one message, one log line.
    fn on_plain_line(&mut self, line: &str, lossy: bool, out: &mut dyn TailSink) {
        if !self.begin_event() {
            return;
        }
        if lossy {
            self.tracker.note_invalid_utf8();
        }
        self.on_event(Event::Log(Cow::Borrowed(line)), None, out);
    }

    /// A WebSocket message held whole (`Start` or `Json`): fails once it is past
    /// the frame cap.
    fn held(&mut self, message: Message) -> Message {
        let len = match &message {
            Message::Start(buf) | Message::Json(buf) => buf.len(),
            _ => 0,
        };
        if len > self.frame_cap && !self.is_done() {
            self.failed = Some(frame_cap_exceeded(self.frame_cap, len as u64));
            return Message::Ignored;
        }
        message
    }

    /// A whole WebSocket message's bytes: one event.
    fn on_payload(&mut self, payload: &[u8], out: &mut dyn TailSink) {
        let text = match std::str::from_utf8(payload) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                self.tracker.note_invalid_utf8();
                String::from_utf8_lossy(payload)
            }
        };
        let (event, n) = decode_numbered(&text);
        self.on_event(event, n, out);
    }

    /// The next bytes of a plain-text WebSocket message.
    fn plain(&mut self, plain: &mut PlainMessage, bytes: &[u8], out: &mut dyn TailSink) {
        let PlainMessage {
            lines,
            any_line,
            lossy,
        } = plain;
        lines.push(bytes, &mut |line| {
            self.on_message_line(line, any_line, lossy, out)
        });
    }

    /// One line of a plain-text WebSocket message.
    fn on_message_line(
        &mut self,
        line: Line<'_>,
        any_line: &mut bool,
        lossy: &mut bool,
        out: &mut dyn TailSink,
    ) {
        if self.is_done() {
            return;
        }
        match line {
            Line::Text(text) if text.is_empty() => {}
            Line::Text(text) => {
                *any_line = true;
                self.on_log_line(&text, out);
            }
            Line::Lossy(text) => {
                *lossy = true;
                if !text.is_empty() {
                    *any_line = true;
                    self.on_log_line(&text, out);
                }
            }
            Line::Oversized { len } | Line::TooLong { len } => {
                *any_line = true;
                self.skip_oversized(len);
            }
        }
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

    /// A log event of `lines` lines, whose first is numbered `n` (`None`: not
    /// numbered, or not known to be): the numbering, the next line, and whether a
    /// start asked for was honoured.
    fn note_lines(&mut self, n: Option<u64>, lines: u64) {
        if let Some(line) = self.expect_line.take() {
            if n == Some(line) && self.replay.take().is_some() {
                // This event was counted as replayed; it is not.
                if let Err(e) = self.tracker.unreplay() {
                    self.failed = Some(e);
                }
            }
        }
        self.numbering = match (self.numbering, n) {
            (Numbering::Unknown, Some(first)) => Numbering::From(first),
            (Numbering::From(first), Some(_)) => Numbering::From(first),
            _ => Numbering::Unnumbered,
        };
        self.next_line = match (self.numbering, n) {
            (Numbering::From(_), Some(first)) => Some(first.saturating_add(lines)),
            _ => None,
        };
    }

    fn on_event(&mut self, event: Event<'_>, n: Option<u64>, out: &mut dyn TailSink) {
        match &event {
            Event::Log(text) => self.note_lines(n, lines_in(text)),
            Event::Empty => self.note_lines(n, 1),
            _ => {}
        }
        if self.failed.is_some() {
            return;
        }
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
                if self.expect_line.take().is_some()
                    && self.numbering == Numbering::Unknown
                    && self.replay.take().is_some()
                {
                    // No line from the one asked for: see `expect_first_line`.
                    if let Err(e) = self.tracker.unreplay() {
                        self.failed = Some(e);
                        return;
                    }
                }
                if self.check_replay_ended("completed") {
                    self.complete = true;
                    out.complete();
                }
            }
        }
    }

    /// One line of log text (not empty, no `\n`).
    fn on_log_line(&mut self, line: &str, out: &mut dyn TailSink) {
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
                out.line(line.to_owned());
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
            "data: {at}\n\ndata:{over}\n\n{plain_at}\n{plain_over}\n{}\n{}\n",
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
        // A plain batch far past any limit is still split: only its long line goes.
        let huge = format!("a\n{}\nb", "h".repeat(10_000));
        ws.push_message(huge.as_bytes(), &mut ws_out).unwrap();
        assert_eq!(ws.counters().skipped_bytes, 65 * 3 + 10_000);
        assert_eq!(lines(&ws_out)[3..], ["a", "b"]);
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
        // The empty `data: ` and the `progress` event are one event (no blank line
        // between them).
        assert_eq!(c.received, 5);
        assert_eq!(c.delivered, 4);
        assert_eq!(c.delivered_bytes, 5 + 2 + 3 + 4);
        assert_eq!((c.skipped_empty, c.ignored), (0, 1));
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

    /// Issue 24, item 6: `max_lines` counts delivered lines, on both protocols.
    #[test]
    fn the_line_limit_counts_delivered_lines_on_both_protocols() {
        let limits = StreamLimits {
            max_lines: 3,
            ..small()
        };
        let mut t = TailDecoder::http(limits);
        let mut out = Vec::new();
        // Blank lines, empty events and oversized lines are not delivered lines.
        t.push_bytes(b"a\n\n\ndata:\n\n", &mut out).unwrap();
        t.push_bytes(&[b'x'; 50], &mut out).unwrap();
        t.push_bytes(b"\nb\nc\n", &mut out).unwrap();
        let err = t.push_bytes(b"d\n", &mut out).unwrap_err();
        assert!(matches!(
            err,
            ClientError::LimitExceeded {
                kind: LimitKind::Lines,
                limit: 3
            }
        ));
        assert_eq!(err.status_code(), 429);
        assert_eq!(lines(&out), ["a", "b", "c"]);
        let c = t.counters();
        assert_eq!((c.skipped_empty, c.skipped_oversized), (1, 1));
        // Still failed.
        assert!(matches!(
            t.push_bytes(b"e\n", &mut out),
            Err(ClientError::LimitExceeded { .. })
        ));
        // A WebSocket batch of five lines: three are delivered.
        let mut ws = TailDecoder::websocket(limits);
        let mut out = Vec::new();
        let err = ws.push_message(b"1\n2\n3\n4\n5\n", &mut out).unwrap_err();
        assert!(matches!(
            err,
            ClientError::LimitExceeded {
                kind: LimitKind::Lines,
                limit: 3
            }
        ));
        assert_eq!(lines(&out), ["1", "2", "3"]);
    }

    /// Issue 24, item 6: `max_messages` counts HTTP events and plain lines too.
    #[test]
    fn the_message_limit_counts_http_events_and_plain_lines() {
        let limits = StreamLimits {
            max_messages: 3,
            ..small()
        };
        let mut t = TailDecoder::http(limits).content_type("text/event-stream");
        let mut out = Vec::new();
        // A comment, fields and blank lines are not messages.
        t.push_bytes(
            b"a\n\n: ping\ndata: {\"message\":\"b\\nc\"}\nid: 1\n\n",
            &mut out,
        )
        .unwrap();
        t.push_bytes(&[b'x'; 50], &mut out).unwrap();
        let err = t.push_bytes(b"\nd\n", &mut out).unwrap_err();
        assert!(matches!(
            err,
            ClientError::LimitExceeded {
                kind: LimitKind::Messages,
                limit: 3
            }
        ));
        assert_eq!(lines(&out), ["a", "b", "c"]);
        assert_eq!(t.sse_last_event_id(), Some("1"));
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
            max_lines: 2,
            ..small()
        };
        let mut http = TailDecoder::http(limits).with_digest();
        http.resume_after(ws.digest().unwrap());
        http.push_bytes(b"tick\ndata:\n\ntick\n", &mut out).unwrap();
        http.push_bytes(&[b'z'; 100], &mut out).unwrap();
        http.push_bytes(b"\ntock\ndone\n", &mut out).unwrap();
        assert_eq!(lines(&out), ["tick", "tick", "tock", "done"]);
        let c = http.counters();
        // 3 events replayed, not counted against the limit of 3 messages; then the
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

    /// Issue 22, item 2: the next line counts every line of the log (empty ones the
    /// decoder does not deliver too), on both protocols; an unnumbered log event
    /// ends the numbering.
    #[test]
    fn the_next_line_counts_every_line_of_the_log() {
        let ev =
            |m: &str, n: u64| serde_json::json!({"type": "log", "message": m, "n": n}).to_string();
        let mut ws = TailDecoder::websocket(small());
        let mut out = Vec::new();
        assert_eq!((ws.next_line(), ws.numbering()), (None, Numbering::Unknown));
        ws.push_message(br#"{"type":"progress","n":9}"#, &mut out)
            .unwrap();
        assert_eq!(ws.numbering(), Numbering::Unknown);
        for (m, n, next) in [("a", 5, 6), ("", 6, 7), ("b\n\nc\n", 7, 10), ("\n", 10, 11)] {
            ws.push_message(ev(m, n).as_bytes(), &mut out).unwrap();
            assert_eq!(ws.next_line(), Some(next), "{m}");
        }
        assert_eq!(ws.numbering(), Numbering::From(5));
        ws.push_message(b"plain", &mut out).unwrap();
        assert_eq!(
            (ws.next_line(), ws.numbering()),
            (None, Numbering::Unnumbered)
        );
        ws.push_message(ev("d", 12).as_bytes(), &mut out).unwrap();
        assert_eq!(ws.next_line(), None);
        assert_eq!(lines(&out), ["a", "b", "c", "plain", "d"]);

        let mut http = TailDecoder::http(small());
        let body = format!("data: {}\n\ndata: {}\n\n", ev("x\ny", 1), ev("", 3));
        http.push_bytes(body.as_bytes(), &mut out).unwrap();
        assert_eq!(http.next_line(), Some(4));
        http.push_bytes(b"a plain line\n", &mut out).unwrap();
        assert_eq!(http.numbering(), Numbering::Unnumbered);
    }

    /// A stream asked to start at line K is taken as starting there only when its
    /// first log event carries K: else the replay rule holds, unchanged.
    #[test]
    fn a_resume_by_number_is_accepted_only_when_the_first_event_carries_it() {
        let ev =
            |m: &str, n: u64| serde_json::json!({"type": "log", "message": m, "n": n}).to_string();
        let mut ws = TailDecoder::websocket(small()).with_digest();
        let mut out = Vec::new();
        ws.push_message(ev("a\n", 1).as_bytes(), &mut out).unwrap();
        ws.push_message(ev("", 2).as_bytes(), &mut out).unwrap();
        ws.push_message(ev("b", 3).as_bytes(), &mut out).unwrap();
        assert_eq!(ws.next_line(), Some(4));
        let digest = ws.digest().unwrap();
        let resumed = |body: String| {
            let mut http = TailDecoder::http(small()).with_digest();
            http.resume_after(digest);
            http.expect_first_line(4);
            let mut got = Vec::new();
            let pushed = http
                .push_bytes(body.as_bytes(), &mut got)
                .and_then(|()| http.finish(&mut got));
            (pushed, lines(&got).join(","), http.counters())
        };
        // Honoured: nothing replayed.
        let (r, got, c) = resumed(format!("data: {}\n\n", ev("c", 4)));
        assert!(r.is_ok());
        assert_eq!((got.as_str(), c.replayed, c.received), ("c", 0, 1));
        // Ignored, numbered from 1: the replay rule.
        let body = [ev("a", 1), ev("", 2), ev("b", 3), ev("c", 4)]
            .map(|e| format!("data: {e}\n\n"))
            .concat();
        let (r, got, c) = resumed(body);
        assert!(r.is_ok());
        assert_eq!((got.as_str(), c.replayed), ("c", 3));
        // Ignored, unnumbered: the replay rule.
        let (r, got, _) = resumed("a\nb\nc\n".into());
        assert!(r.is_ok());
        assert_eq!(got, "c");
        // Another number (lines lost): the replay rule fails loudly.
        let (r, got, _) = resumed(format!("data: {}\n\n", ev("c", 5)));
        assert_eq!(r.unwrap_err().status_code(), 500);
        assert_eq!(got, "");
        // Nothing from line 4: complete at once is the end.
        let (r, got, c) = resumed("data: {\"type\":\"complete\"}\n\n".into());
        assert!(r.is_ok(), "{r:?}");
        assert_eq!((got.as_str(), c.replayed), ("<complete>", 0));
    }

    /// Issue 24, item 1: a JSON message or SSE event of exactly the frame cap is
    /// read, split, and each line measured; one byte more fails loudly, naming the
    /// cap. A plain-text message is split as it streams, whatever its size.
    #[test]
    fn a_json_message_at_the_frame_cap_is_read_one_byte_over_fails_loudly() {
        let limits = StreamLimits {
            max_message_size: 4,
            ..StreamLimits::unlimited()
        };
        let cap = 200;
        let json = |pad: usize| {
            let event = format!(r#"{{"message":"a\nb\n{}\nc\n"}}"#, "x".repeat(pad));
            format!("{event}{}", " ".repeat(cap - event.len()))
        };
        let at = json(100);
        assert_eq!(at.len(), cap);
        for fragments in [1, 3, 64] {
            let mut ws = TailDecoder::websocket(limits).with_frame_cap(cap);
            let mut out = Vec::new();
            let pieces: Vec<&[u8]> = at.as_bytes().chunks(at.len().div_ceil(fragments)).collect();
            for (i, piece) in pieces.iter().enumerate() {
                ws.push_fragment(piece, i + 1 == pieces.len(), &mut out)
                    .unwrap();
            }
            assert_eq!(lines(&out), ["a", "b", "c"]);
            assert_eq!(ws.counters().skipped_oversized, 1);
            assert_eq!(ws.counters().received, 1);

            let over = format!("{at} ");
            let mut ws = TailDecoder::websocket(limits).with_frame_cap(cap);
            let pieces: Vec<&[u8]> = over
                .as_bytes()
                .chunks(over.len().div_ceil(fragments))
                .collect();
            let mut result = Ok(());
            for (i, piece) in pieces.iter().enumerate() {
                result = result.and(ws.push_fragment(piece, i + 1 == pieces.len(), &mut out));
            }
            let err = result.unwrap_err();
            assert_eq!(err.status_code(), 500);
            assert!(err.to_string().contains("frame cap (200 bytes)"), "{err}");
        }
        // Over HTTP: the event's data is what the cap measures.
        let mut http = TailDecoder::http(limits).with_frame_cap(cap);
        let mut out = Vec::new();
        http.push_bytes(format!("data: {at}\n\n").as_bytes(), &mut out)
            .unwrap();
        assert_eq!(lines(&out), ["a", "b", "c"]);
        let mut http = TailDecoder::http(limits).with_frame_cap(cap);
        let err = http
            .push_bytes(format!("data: {at} \n\n").as_bytes(), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("frame cap (200 bytes)"), "{err}");
        assert_eq!(http.frame_cap(), cap);
        // Plain text is never held whole: far past the cap, in one piece or many.
        let plain = format!("a\nb\n{}\nc\n", "x".repeat(10 * cap));
        let mut ws = TailDecoder::websocket(limits).with_frame_cap(cap);
        let mut out = Vec::new();
        ws.push_message(plain.as_bytes(), &mut out).unwrap();
        for piece in plain.as_bytes().chunks(7) {
            ws.push_fragment(piece, false, &mut out).unwrap();
        }
        ws.push_fragment(b"", true, &mut out).unwrap();
        assert_eq!(lines(&out), ["a", "b", "c", "a", "b", "c"]);
        assert_eq!(ws.counters().skipped_oversized, 2);
        assert_eq!(ws.counters().received, 2);
    }

    /// A whole message ends a fragmented one that is open (it is its last frame);
    /// a JSON message past the frame cap fails whole or fragmented; a frame cap
    /// set on a plain HTTP decoder keeps it plain.
    #[test]
    fn whole_messages_fragments_and_the_frame_cap_agree() {
        let mut ws = TailDecoder::websocket(small());
        let mut out = Vec::new();
        ws.push_fragment(b"a\nb", false, &mut out).unwrap();
        ws.push_message(b"c\n", &mut out).unwrap();
        ws.push_message(b"d", &mut out).unwrap();
        assert_eq!(lines(&out), ["a", "bc", "d"]);
        assert_eq!(ws.counters().received, 2);

        let json = format!(r#"{{"message":"{}"}}"#, "x".repeat(20));
        for cap in [json.len() - 1, json.len()] {
            let mut ws = TailDecoder::websocket(small()).with_frame_cap(cap);
            let mut out = Vec::new();
            let pushed = ws.push_message(json.as_bytes(), &mut out);
            assert_eq!(pushed.is_ok(), cap == json.len(), "cap {cap}");
            assert_eq!(lines(&out).len(), usize::from(cap == json.len()));
        }

        let mut plain = TailDecoder::http(small()).with_frame_cap(100);
        let mut out = Vec::new();
        plain.push_bytes(b": not a comment\n", &mut out).unwrap();
        assert_eq!(lines(&out), [": not a comment"]);
        let mut sse = TailDecoder::http(small())
            .content_type("text/event-stream")
            .with_frame_cap(100);
        sse.push_bytes(b": a comment\nretry: 7\n", &mut out)
            .unwrap();
        assert_eq!(lines(&out), [": not a comment"]);
        assert_eq!(sse.sse_retry(), Some(7));
        assert_eq!(plain.sse_retry(), None);
        assert_eq!(TailDecoder::websocket(small()).sse_retry(), None);
    }

    /// A plain message in fragments gives what it gives whole: its last line
    /// without a newline, no blank lines, one empty message counted for a message
    /// of blank lines, one invalid message counted however many of its lines are.
    #[test]
    fn a_fragmented_plain_message_is_split_like_a_whole_one() {
        let mut ws = TailDecoder::websocket(small());
        let mut out = Vec::new();
        for (piece, last) in [(&b"x\n\r\n\ny"[..], false), (b"z", true)] {
            ws.push_fragment(piece, last, &mut out).unwrap();
        }
        for (piece, last) in [(&b"\n\n"[..], false), (b"\r\n", true)] {
            ws.push_fragment(piece, last, &mut out).unwrap();
        }
        for (piece, last) in [(&b"bad \xff\n"[..], false), (b"\xfeok", true)] {
            ws.push_fragment(piece, last, &mut out).unwrap();
        }
        assert_eq!(lines(&out), ["x", "yz", "bad \u{fffd}", "\u{fffd}ok"]);
        let c = ws.counters();
        assert_eq!((c.received, c.skipped_empty, c.invalid_utf8), (3, 1, 1));
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
