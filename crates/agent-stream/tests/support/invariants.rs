//! The properties of the tail decoding, as functions that panic when one breaks.
//!
//! Shared by the integration tests (`tests/properties.rs`, through proptest) and the
//! fuzz target (`fuzz/fuzz_targets/tail_decoder.rs`, which includes this file by
//! path), so that the fuzzer and `cargo test` check the very same things:
//! - chunking invariance: an HTTP body decodes to the same lines, events, counters
//!   and error whatever its chunking;
//! - the line splitter agrees with a naive one that sees the whole body;
//! - one protocol: WebSocket messages decode exactly like the same payloads sent as
//!   SSE `data:` lines over HTTP (same lines, counters and error).
#![allow(dead_code)]

use std::borrow::Cow;

use agent_proto::{ClientError, LimitKind, StreamLimits};
use agent_stream::{Line, LineDecoder, LineDigest, StreamCounters, TailDecoder, TailItem};

/// Everything a tail decoding produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What was handed on, in order.
    pub items: Vec<TailItem>,
    /// The counters at the end.
    pub counters: StreamCounters,
    /// The error that ended the stream, described protocol-neutrally.
    pub error: Option<String>,
    /// Whether a `complete` event was seen.
    pub complete: bool,
}

/// An error, with the count limit's name left out (`max_messages` on a WebSocket is
/// `max_lines` over HTTP).
pub fn describe(err: &ClientError) -> String {
    match err {
        ClientError::LimitExceeded {
            kind: LimitKind::Messages | LimitKind::Lines,
            limit,
        } => format!("count limit {limit} ({})", err.status_code()),
        other => format!("{other} ({})", other.status_code()),
    }
}

/// Splits `data` at `cuts` (taken modulo `data.len() + 1`, in any order, repeats
/// giving empty chunks).
pub fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    at.sort_unstable();
    let mut chunks = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for cut in at {
        chunks.push(&data[start..cut]);
        start = cut;
    }
    chunks.push(&data[start..]);
    chunks
}

/// The digest of the first `skip` lines of `outcome` (all of them when it has fewer).
fn first_lines(outcome: &Outcome, skip: u64) -> LineDigest {
    let mut digest = LineDigest::new();
    for item in outcome.items.iter().take(skip as usize) {
        if let TailItem::Line(line) = item {
            digest.push(line);
        }
    }
    digest
}

/// Decodes an HTTP body given in `chunks`, resumed after the first `skip` lines it
/// delivers from its start (`resume_after`). Keeps pushing after an error, checking
/// that the decoder stays failed with the same error.
pub fn decode_http(limits: StreamLimits, skip: u64, chunks: &[&[u8]]) -> Outcome {
    let mut tail = TailDecoder::http(limits);
    if skip > 0 {
        tail.resume_after(&first_lines(&decode_http(limits, 0, chunks), skip));
    }
    let mut items = Vec::new();
    let mut error: Option<String> = None;
    for chunk in chunks {
        note(tail.push_bytes(chunk, &mut items), &mut error);
    }
    note(tail.finish(&mut items), &mut error);
    finish(tail, items, error)
}

/// Decodes WebSocket `messages` (an `Err(len)` is a message of `len` bytes the
/// transport discarded as oversized), resumed after the first `skip` lines they
/// deliver.
pub fn decode_websocket(
    limits: StreamLimits,
    skip: u64,
    messages: &[Result<&[u8], u64>],
) -> Outcome {
    let mut tail = TailDecoder::websocket(limits);
    if skip > 0 {
        tail.resume_after(&first_lines(&decode_websocket(limits, 0, messages), skip));
    }
    let mut items = Vec::new();
    let mut error: Option<String> = None;
    for message in messages {
        let result = match message {
            Ok(bytes) => tail.push_message(bytes, &mut items),
            Err(len) => tail.push_oversized(*len),
        };
        note(result, &mut error);
    }
    note(tail.finish(&mut items), &mut error);
    finish(tail, items, error)
}

fn note(result: Result<(), ClientError>, error: &mut Option<String>) {
    match (result, error.as_ref()) {
        (Ok(()), None) => {}
        (Ok(()), Some(first)) => panic!("the decoder recovered after {first}"),
        (Err(err), None) => *error = Some(describe(&err)),
        (Err(err), Some(first)) => {
            assert_eq!(&describe(&err), first, "a failed decoder changed its error")
        }
    }
}

fn finish(tail: TailDecoder, items: Vec<TailItem>, error: Option<String>) -> Outcome {
    assert_eq!(error.is_some(), tail.failure().is_some());
    let counters = tail.counters();
    let lines = items
        .iter()
        .filter(|i| matches!(i, TailItem::Line(_)))
        .count() as u64;
    assert_eq!(
        counters.delivered, lines,
        "delivered counts the lines handed on"
    );
    let bytes: usize = items
        .iter()
        .map(|i| match i {
            TailItem::Line(line) => {
                assert!(!line.is_empty(), "an empty line was delivered");
                line.len()
            }
            TailItem::Complete => 0,
        })
        .sum();
    assert_eq!(counters.delivered_bytes, bytes as u64);
    assert!(counters.delivered_bytes <= tail.limits().max_bytes);
    let completes = items.iter().filter(|i| **i == TailItem::Complete).count();
    assert!(completes <= 1);
    if completes == 1 {
        assert_eq!(
            items.last(),
            Some(&TailItem::Complete),
            "nothing after complete"
        );
    }
    Outcome {
        items,
        counters,
        error,
        complete: tail.is_complete(),
    }
}

/// The body decoded whole and decoded in the chunks `cuts` make are the same.
pub fn check_http_chunking(
    data: &[u8],
    cuts: &[usize],
    limits: StreamLimits,
    skip: u64,
) -> Outcome {
    let whole = decode_http(limits, skip, &[data]);
    let chunked = decode_http(limits, skip, &split(data, cuts));
    assert_eq!(
        whole, chunked,
        "chunking changed the decoding; cuts {cuts:?}"
    );
    whole
}

/// Byte by byte, the worst chunking there is, decodes like the whole body.
pub fn check_http_bytewise(data: &[u8], limits: StreamLimits, skip: u64) {
    let whole = decode_http(limits, skip, &[data]);
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(
        whole,
        decode_http(limits, skip, &bytes),
        "byte-wise decoding differs"
    );
}

/// Lines as a naive splitter sees them: the whole body, split on `\n`.
pub fn naive_lines(data: &[u8], max_line_len: usize) -> Vec<Line<'static>> {
    let mut parts: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if parts.last().is_some_and(|last| last.is_empty()) {
        parts.pop(); // the body ended with a newline: no last partial line
    }
    parts
        .into_iter()
        .map(|mut line| {
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            if line.len() > max_line_len {
                Line::Oversized {
                    len: line.len() as u64,
                }
            } else {
                match std::str::from_utf8(line) {
                    Ok(text) => Line::Text(Cow::Owned(text.to_owned())),
                    Err(_) => Line::Lossy(String::from_utf8_lossy(line).into_owned()),
                }
            }
        })
        .collect()
}

/// [`LineDecoder`] on the chunks `cuts` make gives the naive splitter's lines, counts
/// invalid lines right, and its buffer stays bounded.
pub fn check_lines(data: &[u8], cuts: &[usize], max_line_len: usize) {
    let mut decoder = LineDecoder::new(max_line_len);
    let mut lines = Vec::new();
    let mut on_line = |line: Line<'_>| lines.push(line.into_owned());
    for chunk in split(data, cuts) {
        decoder.push(chunk, &mut on_line);
        assert!(decoder.buffered_capacity() <= 2 * max_line_len + 2 + 8);
    }
    decoder.finish(&mut on_line);
    let want = naive_lines(data, max_line_len);
    assert_eq!(lines, want, "cuts {cuts:?}");
    let lossy = want.iter().filter(|l| matches!(l, Line::Lossy(_))).count() as u64;
    assert_eq!(decoder.invalid_utf8(), lossy);
}

/// Payloads sent as WebSocket messages decode exactly like the same payloads sent as
/// server-sent events (`data: P` and a blank line; with `\r\n` line ends when
/// `crlf`), chunked by `cuts`. An `Err(len)` in `payloads` is a message the
/// WebSocket transport discarded as oversized.
///
/// A payload must hold neither `\n` nor `\r` (it would not be one event line).
pub fn check_one_protocol(
    payloads: &[Result<&[u8], u64>],
    crlf: bool,
    cuts: &[usize],
    limits: StreamLimits,
    skip: u64,
) -> Outcome {
    let ws = decode_websocket(limits, skip, payloads);
    // The same size limit (it measures a `data:` line's payload, as a WebSocket
    // message); HTTP counts lines where WS counts messages.
    let http_limits = StreamLimits {
        max_lines: limits.max_messages,
        ..limits
    };
    let mut body = Vec::new();
    for payload in payloads {
        match payload {
            Ok(bytes) => {
                assert!(!bytes.contains(&b'\n') && !bytes.contains(&b'\r'));
                body.extend_from_slice(b"data: ");
                body.extend_from_slice(bytes);
            }
            Err(len) => {
                // An oversized message, as an oversized line over HTTP.
                let len = (*len as usize).max(limits.max_message_size + 1);
                body.extend_from_slice(b"data: ");
                body.resize(body.len() + len, b'x');
            }
        }
        body.extend_from_slice(if crlf { b"\r\n\r\n" } else { b"\n\n" });
    }
    let http = decode_http(http_limits, skip, &split(&body, cuts));
    let mut ws_counters = ws.counters;
    let mut http_counters = http.counters;
    // The HTTP line of an oversized message has its 6 more bytes, and the transport
    // may report another length: compare the count of skipped messages only.
    ws_counters.skipped_bytes = 0;
    http_counters.skipped_bytes = 0;
    assert_eq!(
        ws.items, http.items,
        "WebSocket and HTTP delivered differently"
    );
    assert_eq!(
        ws_counters, http_counters,
        "WebSocket and HTTP counted differently"
    );
    assert_eq!(ws.error, http.error);
    assert_eq!(ws.complete, http.complete);
    ws
}

/// Limits, a skip count and chunk cuts drawn from the first bytes of a fuzz input;
/// the rest is the body.
pub struct FuzzCase<'a> {
    /// Small limits, so that they are hit.
    pub limits: StreamLimits,
    /// How many lines to resume after.
    pub skip: u64,
    /// Where to cut the body.
    pub cuts: Vec<usize>,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> FuzzCase<'a> {
    /// `None` when the input is too short to hold the header.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        const HEADER: usize = 8;
        if data.len() < HEADER {
            return None;
        }
        let (head, body) = data.split_at(HEADER);
        let limits = StreamLimits {
            max_message_size: usize::from(head[0] % 64),
            max_messages: u64::from(head[1] % 32) + 1,
            max_lines: u64::from(head[1] % 32) + 1,
            max_bytes: u64::from(head[2]) * 4 + 1,
            queue_size: 1,
        };
        let limits = if head[3] & 0x80 != 0 {
            StreamLimits {
                max_message_size: limits.max_message_size + 1000,
                ..StreamLimits::unlimited()
            }
        } else {
            limits
        };
        let skip = u64::from(head[3] % 8);
        // Chunk lengths cycle through head[4..8] (0 becomes 1).
        let mut cuts = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < body.len() {
            at += usize::from(head[4 + i % 4]).max(1);
            cuts.push(at.min(body.len()));
            i += 1;
        }
        Some(FuzzCase {
            limits,
            skip,
            cuts,
            body,
        })
    }
}

/// The fuzz target's body: every property above, on one input.
pub fn fuzz_one(data: &[u8]) {
    let Some(case) = FuzzCase::parse(data) else {
        return;
    };
    check_http_chunking(case.body, &case.cuts, case.limits, case.skip);
    check_lines(case.body, &case.cuts, case.limits.max_message_size);
    if case.body.len() <= 512 {
        check_http_bytewise(case.body, case.limits, case.skip);
    }
    // The body's lines as WebSocket payloads.
    // (A `\r` ends a line in an event stream: such a line is not one payload.)
    let payloads: Vec<Result<&[u8], u64>> = case
        .body
        .split(|b| *b == b'\n')
        .filter(|p| !p.contains(&b'\r'))
        .map(Ok)
        .collect();
    let crlf = data[0] & 0x40 != 0;
    check_one_protocol(&payloads, crlf, &case.cuts, case.limits, case.skip);
}
