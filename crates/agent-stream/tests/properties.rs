//! Property tests: random bodies (plain lines, `\r\n`, blank lines, `data:` lines, JSON
//! events of every type, invalid UTF-8, over-long lines), random chunkings and random
//! limits. The properties live in `support/invariants.rs`, shared with the fuzz
//! target, which `fuzz_target_properties_hold_on_random_inputs` also runs here over
//! thousands of inputs.

#[path = "support/invariants.rs"]
mod invariants;

use agent_proto::StreamLimits;
use proptest::collection::vec;
use proptest::prelude::*;

use invariants::{
    check_http_bytewise, check_http_chunking, check_lines, check_one_protocol, fuzz_one,
};

/// The text of a log message: ASCII, JSON-special characters, multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,12}",
        "[ -~]{0,40}",
        "[a-zé€😀\"\\\\\t{}:]{0,20}",
        Just(String::new()),
    ]
}

/// A JSON tail event, as a server would serialize it.
fn json_event() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just(Some("log")),
        Just(None),
        Just(Some("error")),
        Just(Some("complete")),
        Just(Some("progress")),
    ];
    (kind, proptest::option::of(text()), any::<bool>()).prop_map(|(kind, message, extra)| {
        let mut event = serde_json::Map::new();
        if let Some(kind) = kind {
            event.insert("type".into(), kind.into());
        }
        if let Some(message) = message {
            event.insert("message".into(), message.into());
        }
        if extra {
            event.insert("ts".into(), 1_700_000_000.5.into());
        }
        serde_json::Value::Object(event).to_string()
    })
}

/// An event payload: mostly JSON events, sometimes raw text or broken JSON.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => json_event().prop_map(String::into_bytes),
        2 => text().prop_map(String::into_bytes),
        1 => Just(b"{\"type\":\"log\",\"message\":".to_vec()),
        1 => Just(b"{\"level\":\"info\",\"msg\":\"structured\"}".to_vec()),
        1 => vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..12),
        1 => (1usize..150).prop_map(|n| vec![b'w'; n]),
    ]
}

/// The content of one HTTP body line (no `\n`).
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => text().prop_map(String::into_bytes),
        2 => Just(Vec::new()),
        4 => payload().prop_map(|p| [b"data: ".as_slice(), &p].concat()),
        1 => payload().prop_map(|p| [b"data:".as_slice(), &p].concat()),
        1 => vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..20),
        1 => (50usize..300).prop_map(|n| vec![b'L'; n]),
        1 => Just(" ".as_bytes().to_vec()),
    ]
}

/// A body: lines ended by `\n` or `\r\n`, the last one maybe without a line end.
fn body() -> impl Strategy<Value = Vec<u8>> {
    (
        vec((line(), any::<bool>()), 0..40),
        proptest::option::of(line()),
    )
        .prop_map(|(lines, last)| {
            let mut body = Vec::new();
            for (line, crlf) in lines {
                body.extend_from_slice(&line);
                body.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            if let Some(last) = last {
                body.extend_from_slice(&last);
            }
            body
        })
}

/// Limits: generous ones, and small ones that the body hits.
fn limits() -> impl Strategy<Value = StreamLimits> {
    prop_oneof![
        (40usize..400).prop_map(|size| StreamLimits {
            max_message_size: size,
            ..StreamLimits::unlimited()
        }),
        (1u64..30, 1u64..600, 0usize..120).prop_map(|(count, bytes, size)| StreamLimits {
            max_messages: count,
            max_lines: count,
            max_bytes: bytes,
            max_message_size: size,
            queue_size: 1,
        }),
    ]
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    vec(any::<usize>(), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn http_decoding_does_not_depend_on_chunking(
        body in body(), cuts in cuts(), limits in limits(), skip in prop_oneof![Just(0u64), 0u64..10],
    ) {
        check_http_chunking(&body, &cuts, limits, skip);
    }

    #[test]
    fn byte_by_byte_decodes_like_whole(body in body(), limits in limits()) {
        check_http_bytewise(&body, limits, 0);
    }

    #[test]
    fn lines_match_a_naive_splitter(body in body(), cuts in cuts(), max in 0usize..200) {
        check_lines(&body, &cuts, max);
    }

    #[test]
    fn websocket_messages_decode_like_sse_lines(
        payloads in vec(prop_oneof![
            8 => payload().prop_map(Ok),
            1 => (0u64..100_000).prop_map(Err),
        ], 0..30),
        crlf in any::<bool>(),
        cuts in cuts(),
        limits in limits(),
        skip in 0u64..5,
    ) {
        let payloads: Vec<Result<&[u8], u64>> = payloads
            .iter()
            .map(|p| p.as_ref().map(|bytes| strip_line_end(bytes)).map_err(|len| *len))
            .filter(|p| p.map_or(true, |bytes| !bytes.contains(&b'\r')))
            .collect();
        check_one_protocol(&payloads, crlf, &cuts, limits, skip);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The fuzz target's own checks, on random bytes...
    #[test]
    fn fuzz_target_properties_hold_on_random_inputs(data in vec(any::<u8>(), 0..600)) {
        fuzz_one(&data);
    }

    /// ...and on random headers before structured bodies.
    #[test]
    fn fuzz_target_properties_hold_on_structured_inputs(
        header in vec(any::<u8>(), 8), body in body(),
    ) {
        fuzz_one(&[header, body].concat());
    }
}

/// A payload as one HTTP line can carry it: no `\n`, no `\r` at the end.
fn strip_line_end(bytes: &[u8]) -> &[u8] {
    let mut bytes = bytes;
    if let Some(pos) = bytes.iter().position(|b| *b == b'\n') {
        bytes = &bytes[..pos];
    }
    while let [head @ .., b'\r'] = bytes {
        bytes = head;
    }
    bytes
}

#[test]
fn every_cut_of_a_tricky_body_decodes_the_same() {
    // A \r\n, a two-byte character and an over-long line, each cut everywhere.
    let body = "data: {\"message\":\"caf\u{e9}\"}\r\nxxxxxxxxxxxxxxxxxxxx\r\nend".as_bytes();
    for cut in 0..=body.len() {
        let limits = StreamLimits {
            max_message_size: 10,
            ..StreamLimits::unlimited()
        };
        let out = check_http_chunking(body, &[cut], limits, 0);
        // The limit measures the text: `café` fits, its JSON framing does not count.
        assert_eq!(out.counters.delivered, 2, "{out:?}");
        assert_eq!(out.counters.skipped_oversized, 1);
    }
}
