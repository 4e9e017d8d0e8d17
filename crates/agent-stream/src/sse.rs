//! [`EventStreamParser`]: an HTTP body read as plain lines or as an event stream
//! (the WHATWG rules for `text/event-stream`), sans-IO, in bounded memory. Usable
//! on its own by any project that reads server-sent events.
//!
//! A body is plain lines until it is known to be an event stream: from the start
//! when its `Content-Type` says so ([`EventStreamParser::event_stream`],
//! [`is_event_stream`]), else from its first `data:` line on. Then:
//! - a line starting with `:` is a comment ([`SseItem::Comment`]), a sign of life;
//! - `data:`, `id:`, `event:` and `retry:` lines are fields: consecutive `data:`
//!   values are joined with `\n`, and a blank line ends the event
//!   ([`SseItem::Event`]); the last `id:` and `retry:` are kept
//!   ([`EventStreamParser::last_event_id`], [`EventStreamParser::retry`]);
//! - CR, LF and CRLF all end a line, also when the CR and the LF arrive in
//!   different chunks.
//!
//! A UTF-8 BOM at the start of the body is dropped, in both modes.
//!
//! Decisions beyond the WHATWG rules, so that nothing is lost silently and a tail
//! stays live:
//! - a line that is neither a comment nor one of those four fields is handed on as
//!   a plain line ([`SseItem::Line`]), where a browser would drop it;
//! - an event still open when the body ends is handed on by
//!   [`EventStreamParser::finish`];
//! - an event whose data is plain text (its first character past JSON whitespace
//!   is not `{`) is handed on at each `data:` line, one event per line: joined with
//!   `\n` and split into lines again, as a log tail does, it gives the same lines,
//!   and a server that sends no blank line between events is not held up;
//! - a `data:` line that comes when the open event's data is already a whole JSON
//!   object starts a new event (a server that sends no blank line between JSON
//!   events). A pretty-printed event, whose data is not whole until its last line,
//!   is joined as the rules say.
//!
//! Memory: a plain line, a comment or a field other than `data:` is skipped while
//! it streams once it is longer than `max_line_len` ([`Line::Oversized`]); the
//! `data:` lines of one event are kept whole up to `max_event_len` bytes together,
//! and an event larger than that is refused ([`SseItem::TooLong`]) rather than cut.
//!
//! ```
//! use agent_stream::{EventStreamParser, SseItem};
//!
//! let body: &[&[u8]] = &[
//!     b"\xEF\xBB\xBF: ping\r\nid: 7\r\ndata: {\"a\":\r",
//!     b"\ndata:  1}\r\n\r\nretry: 3000\n",
//! ];
//! let mut parser = EventStreamParser::new(1024, 1 << 20).event_stream();
//! let mut seen = Vec::new();
//! for chunk in body {
//!     parser.push(chunk, &mut |item: SseItem<'_>| seen.push(format!("{item:?}")));
//! }
//! parser.finish(&mut |item: SseItem<'_>| seen.push(format!("{item:?}")));
//! assert_eq!(seen, [
//!     "Comment",
//!     r#"Event(SseEvent { data: "{\"a\":\n 1}", event: "", lossy: false })"#,
//! ]);
//! assert_eq!(parser.last_event_id(), Some("7"));
//! assert_eq!(parser.retry(), Some(3000));
//! ```

use std::borrow::Cow;

use crate::line::{Line, LineDecoder};

/// What an event stream's lines say, one at a time, from [`EventStreamParser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem<'a> {
    /// A plain line: the body is not (yet) an event stream, or the line is not one of
    /// its fields. [`Line::Oversized`] when it was longer than `max_line_len`.
    Line(Line<'a>),
    /// A whole event: its `data:` values joined with `\n`.
    Event(SseEvent<'a>),
    /// A comment (`: ping`): a sign of life, nothing to hand on.
    Comment,
    /// An event whose data was longer than `max_event_len`: refused whole. `len` is
    /// how many bytes of it (or of its `data:` line) went by.
    TooLong {
        /// The bytes seen.
        len: u64,
    },
}

/// One event of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `data:` values, joined with `\n` (no line end after the last).
    pub data: &'a str,
    /// The `event:` field (empty when absent, which means `message`).
    pub event: &'a str,
    /// Whether a `data:` line was not valid UTF-8 (repaired with U+FFFD).
    pub lossy: bool,
}

/// Whether a `Content-Type` value is `text/event-stream` (parameters ignored, case
/// insensitive).
///
/// ```
/// use agent_stream::is_event_stream;
///
/// assert!(is_event_stream("text/event-stream; charset=utf-8"));
/// assert!(is_event_stream(" Text/Event-Stream"));
/// assert!(!is_event_stream("text/plain"));
/// ```
pub fn is_event_stream(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("");
    media.trim().eq_ignore_ascii_case("text/event-stream")
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The field that carries an event's payload.
const DATA: &[u8] = b"data:";

/// Reads a body as plain lines, or as an event stream: see the [module
/// documentation](self).
#[derive(Debug, Clone)]
pub struct EventStreamParser {
    lines: LineDecoder,
    state: State,
    /// How many bytes of a BOM were matched at the start of the body; `None` once
    /// the start is past.
    bom: Option<usize>,
}

/// Everything but the line splitter, so that the splitter's callback can borrow it.
#[derive(Debug, Clone)]
struct State {
    event_stream: bool,
    max_event_len: usize,
    /// The open event's data (values joined with `\n`).
    data: String,
    /// Whether the open event has a `data:` field.
    has_data: bool,
    lossy: bool,
    event: String,
    /// Bytes of the open event's data that were refused (it was too long).
    refused: Option<u64>,
    last_event_id: Option<String>,
    retry: Option<u64>,
    /// Whether a `data:` field was seen.
    saw_data: bool,
}

impl EventStreamParser {
    /// A parser that reads plain lines until the first `data:` line. Lines other
    /// than `data:` lines are skipped past `max_line_len` bytes; the `data:` lines of
    /// one event may hold `max_event_len` bytes together.
    pub fn new(max_line_len: usize, max_event_len: usize) -> Self {
        let data_line_len = max_event_len.saturating_add(DATA.len() + 1);
        EventStreamParser {
            lines: LineDecoder::new(max_line_len).allow_long(data_line_len, may_be_data),
            state: State {
                event_stream: false,
                max_event_len,
                data: String::new(),
                has_data: false,
                lossy: false,
                event: String::new(),
                refused: None,
                last_event_id: None,
                retry: None,
                saw_data: false,
            },
            bom: Some(0),
        }
    }

    /// Reads the body as an event stream from its start (its `Content-Type` is
    /// `text/event-stream`).
    pub fn event_stream(mut self) -> Self {
        self.state.event_stream = true;
        self.lines.set_cr_ends_lines();
        self
    }

    /// Whether the body is read as an event stream (from the start, or since its
    /// first `data:` line).
    pub fn is_event_stream(&self) -> bool {
        self.state.event_stream
    }

    /// The last `id:` field seen (a cursor a reconnecting client may send back).
    pub fn last_event_id(&self) -> Option<&str> {
        self.state.last_event_id.as_deref()
    }

    /// The last `retry:` field seen: the reconnection delay the server asks for, in
    /// milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.state.retry
    }

    /// Whether a `data:` field was seen: the body carries server-sent events.
    pub fn saw_data(&self) -> bool {
        self.state.saw_data
    }

    /// How many lines were not valid UTF-8 (repaired with U+FFFD).
    pub fn invalid_utf8(&self) -> u64 {
        self.lines.invalid_utf8()
    }

    /// Reads one chunk of the body, calling `on_item` for what it completes.
    pub fn push<F>(&mut self, chunk: &[u8], on_item: &mut F)
    where
        F: FnMut(SseItem<'_>),
    {
        let mut chunk = chunk;
        if let Some(matched) = self.bom {
            let want = &BOM[matched..];
            let n = want.len().min(chunk.len());
            if chunk[..n] == want[..n] {
                chunk = &chunk[n..];
                if matched + n < BOM.len() {
                    self.bom = Some(matched + n);
                    return; // all of this chunk may be the BOM
                }
            } else {
                // Not a BOM after all: what looked like its start is text.
                self.push_lines(&BOM[..matched], on_item);
            }
            self.bom = None;
        }
        self.push_lines(chunk, on_item);
    }

    fn push_lines<F>(&mut self, bytes: &[u8], on_item: &mut F)
    where
        F: FnMut(SseItem<'_>),
    {
        let state = &mut self.state;
        self.lines
            .push_switching(bytes, &mut |line| state.on_line(line, on_item));
    }

    /// Ends the body: a last line without a line end, then an event still open.
    pub fn finish<F>(&mut self, on_item: &mut F)
    where
        F: FnMut(SseItem<'_>),
    {
        if let Some(matched) = self.bom.take() {
            self.push_lines(&BOM[..matched], on_item);
        }
        let state = &mut self.state;
        self.lines.finish(&mut |line| {
            state.on_line(line, on_item);
        });
        state.dispatch(on_item);
    }
}

/// Whether a line that is longer than the line limit may be a `data:` line (its
/// value is kept up to the event limit).
fn may_be_data(head: &[u8]) -> bool {
    head.starts_with(DATA) || DATA.starts_with(head)
}

impl State {
    /// One line; `true` when the body just turned out to be an event stream.
    fn on_line<F>(&mut self, line: Line<'_>, on_item: &mut F) -> bool
    where
        F: FnMut(SseItem<'_>),
    {
        let (text, lossy) = match &line {
            Line::Text(text) => (text.as_ref(), false),
            Line::Lossy(text) => (text.as_str(), true),
            Line::Oversized { .. } => {
                on_item(SseItem::Line(line));
                return false;
            }
            Line::TooLong { len } => {
                // A `data:` line longer than an event may be.
                self.refuse(*len);
                let switch = !self.event_stream;
                self.event_stream = true;
                return switch;
            }
        };
        if self.event_stream {
            self.on_event_line(text, lossy, on_item);
            return false;
        }
        if !text.as_bytes().starts_with(DATA) {
            if !text.is_empty() {
                on_item(SseItem::Line(line));
            }
            return false;
        }
        // The first `data:` line: an event stream from here on, where a `\r` alone
        // ends a line, inside this line too (it was read by the plain rules).
        self.event_stream = true;
        for piece in text.split('\r') {
            self.on_event_line(piece, lossy, on_item);
        }
        true
    }

    /// One line of an event stream.
    fn on_event_line<F>(&mut self, text: &str, lossy: bool, on_item: &mut F)
    where
        F: FnMut(SseItem<'_>),
    {
        if text.is_empty() {
            self.dispatch(on_item);
        } else if text.starts_with(':') {
            on_item(SseItem::Comment);
        } else if !self.on_field(text, lossy, on_item) {
            if self.has_data && self.is_whole_json() {
                // Ends a JSON event a server sent without a blank line after it.
                self.hand_on(on_item);
            }
            on_item(SseItem::Line(if lossy {
                Line::Lossy(text.to_owned())
            } else {
                Line::Text(Cow::Borrowed(text))
            }));
        }
    }

    /// A field line of an event stream; `false` when it is none of the four fields.
    fn on_field<F>(&mut self, text: &str, lossy: bool, on_item: &mut F) -> bool
    where
        F: FnMut(SseItem<'_>),
    {
        let (name, value) = match text.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (text, ""),
        };
        match name {
            "data" => self.on_data(value, lossy, on_item),
            "event" => value.clone_into(&mut self.event),
            // An id holding NUL is ignored (WHATWG).
            "id" if !value.contains('\0') => self.last_event_id = Some(value.to_owned()),
            "id" => {}
            "retry" => {
                if value.bytes().all(|b| b.is_ascii_digit()) {
                    if let Ok(ms) = value.parse::<u64>() {
                        self.retry = Some(ms);
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// A `data:` value. A plain-text payload (one whose first character, past
    /// JSON whitespace, is not `{`) is handed on line by line as it comes: joined
    /// and split again it gives the same lines, and a server that sends no blank
    /// line between events stays live. A JSON payload is kept until the event ends.
    fn on_data<F>(&mut self, value: &str, lossy: bool, on_item: &mut F)
    where
        F: FnMut(SseItem<'_>),
    {
        self.saw_data = true;
        if let Some(refused) = &mut self.refused {
            *refused += value.len() as u64 + 1;
            return;
        }
        if self.has_data && self.is_whole_json() {
            // A server that sends no blank line between JSON events.
            self.hand_on(on_item);
        }
        let len = self.data.len() + usize::from(self.has_data) + value.len();
        if len > self.max_event_len {
            self.refuse(len as u64);
            return;
        }
        if self.has_data {
            self.data.push('\n');
        }
        self.data.push_str(value);
        self.has_data = true;
        self.lossy |= lossy;
        if let Some(first) = self.data.bytes().find(|b| !b.is_ascii_whitespace()) {
            if first != b'{' {
                self.hand_on(on_item);
            }
        }
    }

    /// Whether the open event's data is already a whole JSON object (parsed only
    /// when it ends with `}`, so that a pretty-printed event costs few tries; a
    /// whole JSON value that ends with `}` is an object).
    fn is_whole_json(&self) -> bool {
        self.data.trim_end().ends_with('}')
            && serde_json::from_str::<serde::de::IgnoredAny>(&self.data).is_ok()
    }

    /// The open event is too long: its data is dropped, and it is reported when it
    /// ends.
    fn refuse(&mut self, len: u64) {
        let before = self.data.len() as u64;
        self.refused = Some(self.refused.unwrap_or(before).max(len));
        self.data = String::new();
        self.has_data = true;
    }

    /// The blank line (or the end of the body): hands the open event on, and a new
    /// event starts.
    fn dispatch<F>(&mut self, on_item: &mut F)
    where
        F: FnMut(SseItem<'_>),
    {
        self.hand_on(on_item);
        self.event.clear();
    }

    /// Hands the open event's data on (or its refusal).
    fn hand_on<F>(&mut self, on_item: &mut F)
    where
        F: FnMut(SseItem<'_>),
    {
        if let Some(len) = self.refused.take() {
            on_item(SseItem::TooLong { len });
        } else if self.has_data {
            on_item(SseItem::Event(SseEvent {
                data: &self.data,
                event: &self.event,
                lossy: self.lossy,
            }));
        }
        self.data.clear();
        if self.data.capacity() > 64 * 1024 {
            // A big event's room is not kept for the small ones after it.
            self.data = String::new();
        }
        self.has_data = false;
        self.lossy = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(parser: EventStreamParser, chunks: &[&[u8]]) -> Vec<String> {
        let mut parser = parser;
        let mut out = Vec::new();
        let mut on = |item: SseItem<'_>| {
            out.push(match item {
                SseItem::Line(Line::Text(t)) => format!("line {t}"),
                SseItem::Line(Line::Lossy(t)) => format!("lossy {t}"),
                SseItem::Line(Line::Oversized { len }) => format!("oversized {len}"),
                SseItem::Line(Line::TooLong { len }) => format!("toolong line {len}"),
                SseItem::Event(e) => format!("event {}{:?}", e.event, e.data),
                SseItem::Comment => "comment".into(),
                SseItem::TooLong { len } => format!("too long {len}"),
            })
        };
        for c in chunks {
            parser.push(c, &mut on);
        }
        parser.finish(&mut on);
        out
    }

    #[test]
    fn plain_until_the_first_data_line() {
        let got = parse(
            EventStreamParser::new(100, 1000),
            &[b": not yet a comment\nid: 1\r\n\ndata: x\rid: 2\r: ping\nplain\n\n"],
        );
        assert_eq!(
            got,
            [
                "line : not yet a comment",
                "line id: 1",
                "event \"x\"",
                "comment",
                "line plain",
            ]
        );
    }

    #[test]
    fn fields_and_multi_line_data() {
        let mut p = EventStreamParser::new(100, 1000).event_stream();
        let mut out = Vec::new();
        p.push(
            b"event: log\ndata\ndata:a\ndata:  b\nretry: 12x\nretry: 5\nid: 3\n\n",
            &mut |i: SseItem<'_>| out.push(format!("{i:?}")),
        );
        // Plain text: handed on line by line.
        assert_eq!(
            out,
            [
                r#"Event(SseEvent { data: "\na", event: "log", lossy: false })"#,
                r#"Event(SseEvent { data: " b", event: "log", lossy: false })"#
            ]
        );
        assert_eq!((p.last_event_id(), p.retry()), (Some("3"), Some(5)));
        // An id with NUL and a bare `retry` are fields, ignored: never lines.
        let mut more = Vec::new();
        p.push(b"id: a\0b\nretry\n\n", &mut |i: SseItem<'_>| {
            more.push(format!("{i:?}"))
        });
        assert!(more.is_empty(), "{more:?}");
        assert_eq!((p.last_event_id(), p.retry()), (Some("3"), Some(5)));
        assert!(p.is_event_stream());
    }

    #[test]
    fn a_bom_is_dropped_however_it_is_cut() {
        for cut in 0..=4 {
            let body = b"\xEF\xBB\xBFdata: x\n\n";
            let got = parse(
                EventStreamParser::new(100, 1000),
                &[&body[..cut], &body[cut..]],
            );
            assert_eq!(got, ["event \"x\""], "cut {cut}");
        }
        // Not a BOM: the bytes are text.
        assert_eq!(
            parse(EventStreamParser::new(100, 1000), &[b"\xEF", b"\xBBx\n"]),
            ["lossy \u{fffd}x"]
        );
        assert_eq!(
            parse(EventStreamParser::new(100, 1000), &[b"\xEF\xBB"]),
            ["lossy \u{fffd}"]
        );
        // Only at the start.
        assert_eq!(
            parse(EventStreamParser::new(100, 1000), &[b"a\n\xEF\xBB\xBFb\n"]),
            ["line a", "line \u{feff}b"]
        );
    }

    #[test]
    fn cr_lf_and_crlf_end_lines_across_chunks() {
        let body = b"data: a\rdata: b\r\n\rdata: c\n\r\n";
        for cut in 0..=body.len() {
            let got = parse(
                EventStreamParser::new(100, 1000).event_stream(),
                &[&body[..cut], &body[cut..]],
            );
            assert_eq!(
                got,
                ["event \"a\"", "event \"b\"", "event \"c\""],
                "cut {cut}"
            );
        }
    }

    #[test]
    fn an_event_past_its_limit_is_refused_whole() {
        let got = parse(
            EventStreamParser::new(4, 10).event_stream(),
            &[b"data: {123456789\ndata: x\n\ndata: {0123456789012\n\ndata: ok\n\n"],
        );
        assert_eq!(got, ["too long 12", "too long 20", "event \"ok\""]);
        // A long plain line is skipped, a long comment too.
        let got = parse(
            EventStreamParser::new(4, 10).event_stream(),
            &[b"0123456\n:01234\n"],
        );
        assert_eq!(got, ["oversized 7", "oversized 6"]);
    }

    #[test]
    fn an_open_event_ends_with_the_body() {
        assert_eq!(
            parse(
                EventStreamParser::new(100, 1000),
                &[b"data: {\"a\":\ndata: 1}"]
            ),
            ["event \"{\\\"a\\\":\\n1}\""]
        );
    }

    #[test]
    fn json_events_without_blank_lines_are_events() {
        let got = parse(
            EventStreamParser::new(100, 1000),
            &[b"data: {\"a\":1}\ndata: {\"b\":\ndata: {}}\ndata: x\ndata: {}\n\n"],
        );
        assert_eq!(
            got,
            [
                "event \"{\\\"a\\\":1}\"",
                "event \"{\\\"b\\\":\\n{}}\"",
                "event \"x\"",
                "event \"{}\""
            ]
        );
    }

    /// A line that is not a field, inside an open JSON event, does not end it; a
    /// nested object that ends a line does not either.
    #[test]
    fn an_open_json_event_is_ended_by_its_blank_line_or_a_whole_object() {
        let got = parse(
            EventStreamParser::new(100, 1000),
            &[b"data: {\"a\":\nplain\ndata: 1}\n\ndata: {\"b\":{}\ndata: }\n\n"],
        );
        assert_eq!(
            got,
            [
                "line plain",
                "event \"{\\\"a\\\":\\n1}\"",
                "event \"{\\\"b\\\":{}\\n}\""
            ]
        );
    }

    /// A refused event reports every byte of it that went by.
    #[test]
    fn a_refused_event_counts_all_its_bytes() {
        let got = parse(
            EventStreamParser::new(100, 10).event_stream(),
            &[b"data: {012345678\ndata: abc\ndata: xy\n\n"],
        );
        assert_eq!(got, ["too long 17"]);
    }

    /// A data line that is too long for an event makes a plain body an event
    /// stream: CR ends lines from then on.
    #[test]
    fn a_too_long_data_line_starts_an_event_stream() {
        let got = parse(
            EventStreamParser::new(4, 10),
            &[b"data: 0123456789012345\n\rdata: ok\r\r"],
        );
        assert_eq!(got, ["too long 22", "event \"ok\""]);
    }

    /// Invalid UTF-8 in a data line marks its event lossy, and is counted.
    #[test]
    fn invalid_utf8_is_counted_and_marks_the_event() {
        let mut p = EventStreamParser::new(100, 1000);
        let mut lossy = Vec::new();
        p.push(
            b"data: {\"a\":\ndata: \"\xff\"}\n\nbad \xfe\n",
            &mut |i: SseItem<'_>| {
                if let SseItem::Event(e) = i {
                    lossy.push(e.lossy);
                }
            },
        );
        assert_eq!(lossy, [true]);
        assert_eq!(p.invalid_utf8(), 2);
    }

    #[test]
    fn content_types() {
        assert!(is_event_stream("text/event-stream"));
        assert!(!is_event_stream("text/event-streams"));
        assert!(!is_event_stream(""));
    }
}
