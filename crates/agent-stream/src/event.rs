//! What one log tail event says, for both protocols: a WebSocket message is one
//! event, an HTTP server-sent event is one event (see
//! [`EventStreamParser`](crate::EventStreamParser)).
//!
//! An event payload (a WebSocket text message, or the joined `data:` values of a
//! server-sent event) is decoded by [`decode_event`]:
//!
//! | payload | event |
//! |---|---|
//! | `{"type": "log", "message": M}`, or `type` absent or `null` | [`Event::Log`]`(M)`, or [`Event::Empty`] when `M` is empty, absent or `null` |
//! | `{"type": "error", "message": M}` | [`Event::Error`]`(M)` |
//! | `{"type": "complete", ...}` | [`Event::Complete`] |
//! | `{"type": <any other string>, ...}` | [`Event::Ignored`] |
//! | the empty string | [`Event::Empty`] |
//! | anything else: not JSON, JSON that is not an object, an object with neither `type` nor `message` (absent or `null`), a `type` that is not a string | [`Event::Log`]`(payload)`, as is |
//!
//! A `message` that is JSON but not a string (a number, an object, ...) is rendered as
//! compact JSON text. An event object's `n`, a whole number, is the number of its
//! message's first line (spec: "Line numbers and cursors"): [`decode_numbered`]
//! returns it with the event. Other keys of the object are ignored.
//!
//! Decisions beyond the spec, so that nothing is lost silently: an object with neither
//! `type` nor `message` (say a structured log line `{"level": "info", ...}` sent as a
//! raw frame) is a log line, not an empty event; a `type` the client does not know is
//! [`Event::Ignored`] (counted by the tail decoder), not delivered as a log line.
//!
//! A WebSocket message is one event even when it holds several lines (Ray's own
//! dashboard sends batches of lines per frame): the event is one [`Event::Log`] with
//! the whole text, and the tail decoder splits it into lines, as the HTTP stream
//! would have them (see [`TailDecoder`](crate::TailDecoder)).
//!
//! The JSON path is fast for the common case: JSON is only tried when the payload
//! starts with `{` (after optional whitespace); an object whose only members are
//! string `type` and `message` is read by a small dedicated parser (anything else goes
//! to serde_json, and a property test checks that both always agree); the message is
//! borrowed from the payload when it has no escapes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One decoded tail event.
///
/// ```
/// use agent_stream::{decode_event, Event};
///
/// assert_eq!(decode_event(r#"{"type":"log","message":"hello"}"#), Event::Log("hello".into()));
/// assert_eq!(decode_event(r#"{"message":""}"#), Event::Empty);
/// assert_eq!(decode_event(r#"{"type":"error","message":"boom"}"#), Event::Error("boom".into()));
/// assert_eq!(decode_event(r#"{"type":"complete"}"#), Event::Complete);
/// assert_eq!(decode_event(r#"{"type":"progress","message":"50%"}"#), Event::Ignored);
/// assert_eq!(decode_event("plain text"), Event::Log("plain text".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A log line for the caller (never empty).
    Log(Cow<'a, str>),
    /// A log event without text: skipped, but counted.
    Empty,
    /// The stream failed on the server; the message says why.
    Error(Cow<'a, str>),
    /// The job's log is complete: the stream ends normally.
    Complete,
    /// An event of a type this client does not know: skipped, but counted.
    Ignored,
}

/// Decodes a WebSocket text message, or the data of a server-sent event.
///
/// See the [module documentation](self) for the table of rules.
///
/// ```
/// use agent_stream::{decode_event, Event};
/// use std::borrow::Cow;
///
/// // Borrowed when the message has no escapes.
/// let event = decode_event(r#" {"type": "log", "message": "step 1/3", "ts": 17}"#);
/// assert!(matches!(event, Event::Log(Cow::Borrowed("step 1/3"))));
/// // Escapes are decoded.
/// assert_eq!(decode_event(r#"{"message":"a\tb \u00e9"}"#), Event::Log("a\tb é".into()));
/// // Not an event object: the payload itself is the line.
/// assert_eq!(decode_event("[1, 2]"), Event::Log("[1, 2]".into()));
/// assert_eq!(decode_event(r#"{"level":"info"}"#), Event::Log(r#"{"level":"info"}"#.into()));
/// ```
pub fn decode_event(payload: &str) -> Event<'_> {
    decode_numbered(payload).0
}

/// [`decode_event`], and the number of the event's first line when the server
/// numbers its lines: the event object's `"n"` when it is a whole number, `None`
/// otherwise ("not numbered"). Only a log event ([`Event::Log`] or
/// [`Event::Empty`] from an event object) is numbered; the number is read in the
/// same pass as the rest, without allocating.
///
/// ```
/// use agent_stream::{decode_numbered, Event};
///
/// assert_eq!(
///     decode_numbered(r#"{"type":"log","message":"a\nb","n":41}"#),
///     (Event::Log("a\nb".into()), Some(41))
/// );
/// assert_eq!(decode_numbered(r#"{"type":"log","message":"","n":7}"#), (Event::Empty, Some(7)));
/// assert_eq!(decode_numbered(r#"{"message":"x","n":"7"}"#), (Event::Log("x".into()), None));
/// assert_eq!(decode_numbered("plain"), (Event::Log("plain".into()), None));
/// assert_eq!(decode_numbered(r#"{"type":"complete","n":3}"#), (Event::Complete, None));
/// ```
pub fn decode_numbered(payload: &str) -> (Event<'_>, Option<u64>) {
    if payload.is_empty() {
        return (Event::Empty, None);
    }
    if !looks_like_object(payload) {
        return (Event::Log(Cow::Borrowed(payload)), None);
    }
    let (kind, message, n) = match simple_event(payload) {
        Some(members) => members,
        None => match serde_json::from_str::<RawEvent<'_>>(payload) {
            Ok(raw) => (
                raw.kind,
                raw.message.map(MessageField::into_text),
                raw.n.as_ref().and_then(serde_json::Value::as_u64),
            ),
            Err(_) => return (Event::Log(Cow::Borrowed(payload)), None),
        },
    };
    // An object with neither `type` nor `message` is a line of its own, unnumbered.
    let event_object = kind.is_some() || message.is_some();
    let event = event_of(payload, kind, message);
    let numbered = event_object && matches!(event, Event::Log(_) | Event::Empty);
    (event, n.filter(|_| numbered))
}

/// Whether JSON is worth trying: the payload starts with `{` after whitespace.
fn looks_like_object(payload: &str) -> bool {
    payload
        .bytes()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| b == b'{')
}

/// The event an object with these `type` and `message` members means.
fn event_of<'a>(
    payload: &'a str,
    kind: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
) -> Event<'a> {
    if kind.is_none() && message.is_none() {
        return Event::Log(Cow::Borrowed(payload));
    }
    let message = message.unwrap_or_default();
    match kind.as_deref() {
        None | Some("log") if message.is_empty() => Event::Empty,
        None | Some("log") => Event::Log(message),
        Some("error") => Event::Error(message),
        Some("complete") => Event::Complete,
        Some(_) => Event::Ignored,
    }
}

/// The `type`, `message` and `n` members of an event object, when present.
type Members<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>, Option<u64>);

/// The fast path for what servers send: a JSON object whose only members are `type`
/// and/or `message`, with string values, and `n`, a whole number.
/// `Some((type, message, n))` when the payload is
/// exactly that; `None` leaves the payload to serde_json (any other shape, `null`,
/// duplicate keys, invalid JSON...), so the outcome is always serde_json's.
fn simple_event(payload: &str) -> Option<Members<'_>> {
    let bytes = payload.as_bytes();
    let mut at = skip_json_whitespace(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_json_whitespace(bytes, at + 1);
    let (mut kind, mut message, mut n) = (None, None, None);
    loop {
        let (key, next) = json_string(payload, at)?;
        at = skip_json_whitespace(bytes, next);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_json_whitespace(bytes, at + 1);
        let next = if key == "n" {
            let (value, next) = json_whole_number(bytes, at)?;
            if n.replace(value).is_some() {
                return None; // a duplicate key: serde_json's error
            }
            next
        } else {
            let (value, next) = json_string(payload, at)?;
            let slot = match key.as_ref() {
                "type" => &mut kind,
                "message" => &mut message,
                _ => return None,
            };
            if slot.replace(value).is_some() {
                return None; // a duplicate key: serde_json's error
            }
            next
        };
        at = skip_json_whitespace(bytes, next);
        match bytes.get(at) {
            Some(b',') => at = skip_json_whitespace(bytes, at + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    (skip_json_whitespace(bytes, at + 1) == bytes.len()).then_some((kind, message, n))
}

/// The JSON number at `at` when it is a whole number that fits a `u64` (`0` or
/// digits without a leading zero, no fraction nor exponent), and the index after
/// it. `None` leaves anything else to serde_json.
fn json_whole_number(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let digits = bytes
        .get(at..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let end = at + digits;
    if digits == 0 || (digits > 1 && bytes[at] == b'0') {
        return None;
    }
    if matches!(bytes.get(end), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let mut value: u64 = 0;
    for &b in &bytes[at..end] {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((value, end))
}

/// The JSON string at `at`, and the index after its closing quote. Borrowed when it
/// has no escapes; otherwise serde_json decodes it, so escapes mean what they mean to
/// serde_json. `None` when it is not a valid JSON string.
fn json_string(payload: &str, at: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = payload.as_bytes();
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let start = at + 1;
    let mut end = start;
    let mut escaped = false;
    loop {
        end += memchr::memchr2(b'"', b'\\', bytes.get(end..)?)?;
        if bytes[end] == b'"' {
            break;
        }
        escaped = true;
        end += 2; // the backslash and the byte it escapes
    }
    let raw = payload.get(start..end)?;
    let text = if escaped {
        // serde_json also refuses control characters.
        Cow::Owned(serde_json::from_str::<String>(payload.get(at..=end)?).ok()?)
    } else {
        // Branch-free, so that it vectorizes.
        if raw.bytes().fold(false, |control, b| control | (b < 0x20)) {
            return None; // a control character: invalid JSON
        }
        Cow::Borrowed(raw)
    };
    Some((text, end + 1))
}

/// The index of the first byte at or after `at` that is not JSON whitespace.
fn skip_json_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// The fields of an event object the client reads; others are skipped.
#[derive(serde::Deserialize)]
struct RawEvent<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<MessageField<'a>>,
    /// Any JSON value: only a whole number is a line number, and no other value
    /// makes the event undecodable.
    #[serde(default)]
    n: Option<serde_json::Value>,
}

/// A `message` value: a string (borrowed when it has no escapes), or any other JSON
/// value, kept as its compact JSON text.
enum MessageField<'a> {
    Text(Cow<'a, str>),
    Json(serde_json::Value),
}

impl<'a> MessageField<'a> {
    fn into_text(self) -> Cow<'a, str> {
        match self {
            MessageField::Text(text) => text,
            MessageField::Json(value) => Cow::Owned(value.to_string()),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for MessageField<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MessageVisitor(PhantomData))
    }
}

struct MessageVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for MessageVisitor<'a> {
    type Value = MessageField<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(MessageField::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(MessageField::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(MessageField::Text(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(MessageField::Json(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(MessageField::Json(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(MessageField::Json(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(MessageField::Json(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(MessageField::Text(Cow::Borrowed("")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let value = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(MessageField::Json(value))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let value = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(MessageField::Json(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(s: &str) -> Event<'_> {
        Event::Log(Cow::Borrowed(s))
    }

    #[test]
    fn log_events() {
        assert_eq!(decode_event(r#"{"type":"log","message":"hi"}"#), log("hi"));
        assert_eq!(decode_event(r#"{"message":"hi"}"#), log("hi"));
        assert_eq!(decode_event(r#"{"type":null,"message":"hi"}"#), log("hi"));
        assert_eq!(
            decode_event(r#"  {"message" : "hi" , "type":"log"}  "#),
            log("hi")
        );
    }

    #[test]
    fn the_message_is_borrowed_unless_escaped() {
        assert!(matches!(
            decode_event(r#"{"type":"log","message":"plain"}"#),
            Event::Log(Cow::Borrowed("plain"))
        ));
        match decode_event(r#"{"type":"log","message":"a \"quoted\" \n b"}"#) {
            Event::Log(Cow::Owned(s)) => assert_eq!(s, "a \"quoted\" \n b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_events() {
        assert_eq!(decode_event(r#"{"type":"log","message":""}"#), Event::Empty);
        assert_eq!(decode_event(r#"{"type":"log"}"#), Event::Empty);
        assert_eq!(
            decode_event(r#"{"message":null}"#),
            log(r#"{"message":null}"#)
        );
        assert_eq!(
            decode_event(r#"{"type":"log","message":null}"#),
            Event::Empty
        );
        assert_eq!(decode_event(""), Event::Empty);
    }

    #[test]
    fn error_and_complete() {
        assert_eq!(
            decode_event(r#"{"type":"error","message":"job vanished"}"#),
            Event::Error("job vanished".into())
        );
        assert_eq!(decode_event(r#"{"type":"error"}"#), Event::Error("".into()));
        assert_eq!(
            decode_event(r#"{"type":"error","message":{"code":7}}"#),
            Event::Error(r#"{"code":7}"#.into())
        );
        assert_eq!(
            decode_event(r#"{"type":"complete","message":"done"}"#),
            Event::Complete
        );
    }

    #[test]
    fn unknown_types_are_ignored() {
        assert_eq!(decode_event(r#"{"type":"heartbeat"}"#), Event::Ignored);
        assert_eq!(
            decode_event(r#"{"type":"LOG","message":"x"}"#),
            Event::Ignored
        );
    }

    #[test]
    fn non_string_messages_are_rendered_as_json() {
        assert_eq!(decode_event(r#"{"message":42}"#), Event::Log("42".into()));
        assert_eq!(
            decode_event(r#"{"message":[1,{"a":true}]}"#),
            Event::Log(r#"[1,{"a":true}]"#.into())
        );
    }

    #[test]
    fn payloads_that_are_not_event_objects_are_log_lines() {
        for payload in [
            "plain",
            "42",
            "\"quoted\"",
            "[1,2]",
            "{not json",
            r#"{"type":"log","message":"x"} trailing"#,
            r#"{"type":1,"message":"x"}"#,
            r#"{"level":"info","msg":"structured"}"#,
            "{}",
            "   ",
            "null",
        ] {
            assert_eq!(decode_event(payload), log(payload), "{payload}");
        }
    }

    /// The decoding with serde_json alone, without the fast path.
    fn decode_with_serde(payload: &str) -> (Event<'_>, Option<u64>) {
        if payload.is_empty() {
            return (Event::Empty, None);
        }
        if !looks_like_object(payload) {
            return (Event::Log(Cow::Borrowed(payload)), None);
        }
        match serde_json::from_str::<RawEvent<'_>>(payload) {
            Ok(raw) => {
                let object = raw.kind.is_some() || raw.message.is_some();
                let n = raw.n.as_ref().and_then(serde_json::Value::as_u64);
                let event = event_of(payload, raw.kind, raw.message.map(MessageField::into_text));
                let numbered = object && matches!(event, Event::Log(_) | Event::Empty);
                (event, n.filter(|_| numbered))
            }
            Err(_) => (Event::Log(Cow::Borrowed(payload)), None),
        }
    }

    #[test]
    fn the_fast_path_takes_only_simple_objects() {
        let some = |s: &'static str| Some(Cow::Borrowed(s));
        assert_eq!(
            simple_event(r#" { "type" : "log" ,"message":"m" } "#),
            Some((some("log"), some("m"), None))
        );
        assert_eq!(
            simple_event(r#"{"message":"m"}"#),
            Some((None, some("m"), None))
        );
        assert_eq!(
            simple_event(r#"{"message":"a\"b\tc\\"}"#),
            Some((None, Some(Cow::Owned("a\"b\tc\\".to_owned())), None))
        );
        assert_eq!(
            simple_event(r#"{"type":"log","message":"m","n":0}"#),
            Some((some("log"), some("m"), Some(0)))
        );
        assert_eq!(
            simple_event(r#"{"n": 18446744073709551615 ,"message":"m"}"#),
            Some((None, some("m"), Some(u64::MAX)))
        );
        for other in [
            "{}",
            r#"{"message":"bad \x escape"}"#,
            r#"{"message":"cut \"#,
            r#"{"message":"m","ts":1}"#,
            r#"{"message":null}"#,
            r#"{"message":"a","message":"b"}"#,
            r#"{"message":"m",}"#,
            r#"{"message":"m"} x"#,
            "{\"message\":\"tab\there\"}",
            "\u{c}{\"message\":\"m\"}",
            r#"{"message":"m""#,
            r#"{"message""#,
            r#"{"message":"m","n":01}"#,
            r#"{"message":"m","n":1.5}"#,
            r#"{"message":"m","n":1e3}"#,
            r#"{"message":"m","n":-1}"#,
            r#"{"message":"m","n":"1"}"#,
            r#"{"message":"m","n":18446744073709551616}"#,
            r#"{"message":"m","n":1,"n":2}"#,
        ] {
            assert_eq!(simple_event(other), None, "{other}");
        }
    }

    /// Objects close to what the fast path takes, and to what it must refuse.
    fn object_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        use proptest::sample::select;
        let ws = || select(&["", "", " ", "\t", "\n", "\r", "  ", "\u{c}"][..]);
        let key = select(
            &[
                "\"type\"",
                "\"message\"",
                "\"ts\"",
                "\"typ\\u0065\"",
                "\"n\"",
            ][..],
        );
        let value = select(
            &[
                "\"log\"",
                "\"error\"",
                "\"complete\"",
                "\"\"",
                "\"a b\"",
                "\"é\\n\"",
                "\"x\u{1}\"",
                "\"tab\there\"",
                "\"progress\"",
                "null",
                "1",
                "{}",
                "\"open",
                r#""a\"b""#,
                r#""\\""#,
                r#""\ud83d\ude00""#,
                r#""\ud83d""#,
                r#""bad \x""#,
                r#""\"#,
                r#""\u00""#,
                r#""l\u006fg""#,
                "0",
                "7",
                "01",
                "1.5",
                "2e1",
                "-3",
                "18446744073709551615",
                "18446744073709551616",
            ][..],
        );
        let member = (ws(), key, ws(), ws(), value, ws())
            .prop_map(|(a, k, b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"));
        let tail = select(&["}", "}", "}", ",}", "", "} x", "}}", "} "][..]);
        (ws(), proptest::collection::vec(member, 0..4), tail, ws())
            .prop_map(|(a, members, tail, b)| format!("{a}{{{}{tail}{b}", members.join(",")))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The fast path never changes an outcome: objects it takes, and near misses
        /// it must leave to serde_json, decode as serde_json alone decodes them.
        #[test]
        fn the_fast_path_agrees_with_serde(payload in object_like()) {
            proptest::prop_assert_eq!(decode_numbered(&payload), decode_with_serde(&payload), "{:?}", payload);
        }
    }

    /// The fast path's boundaries: a space is text, a control character is not JSON
    /// (however many there are), and only an object is tried as JSON at all.
    #[test]
    fn the_fast_path_boundaries() {
        let borrowed = |s: &'static str| Some((None, Some(Cow::Borrowed(s)), None));
        assert_eq!(simple_event(r#"{"message":"a b"}"#), borrowed("a b"));
        assert_eq!(simple_event("{\"message\":\"\u{1f}\"}"), None);
        assert_eq!(simple_event("{\"message\":\"a\u{1}b\u{1}\"}"), None);
        assert_eq!(
            decode_event("{\"message\":\"a\u{1}b\u{1}\"}"),
            log("{\"message\":\"a\u{1}b\u{1}\"}")
        );
        // serde_json would read a struct from an array: never tried.
        for payload in [r#"["complete"]"#, r#"["error","boom"]"#, r#"["log","x"]"#] {
            assert!(!looks_like_object(payload));
            assert_eq!(decode_event(payload), log(payload));
        }
    }
}
