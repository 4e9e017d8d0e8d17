//! Issue 24 ("tails in the wild"), items 1, 3 and 6, through both clients: tails
//! as real servers send them. Each observed case is served by the test agent's
//! scripted tails (frames, fragments, or raw body chunks) and read by the async and
//! the blocking client.
//!
//! - item 1: a batch of lines in one WebSocket message (one frame, or fragments) or
//!   one SSE event is split first, and each line measured: a long line costs that
//!   line only; only a message past the frame cap is refused, loudly;
//! - item 3: SSE as servers send it: comments, fields, multi-line `data:`, a BOM,
//!   CR line ends;
//! - item 6: `max_lines` and `max_messages` count on both protocols.

mod common;

use agent_client_async::{ClientError, Protocol, StreamLimits, TailOptions};
use agent_proto::LimitKind;
use agent_testkit::{AgentTestServer, JobSpec, TailFault};
use common::{async_client, tail_async, tail_both, Outcome};

const JOB: &str = "raysubmit_wild24";

/// A job whose tails are exactly these faults.
async fn server(faults: Vec<TailFault>) -> AgentTestServer {
    let mut job = JobSpec::new(JOB).lines(["(scripted)"]);
    for f in faults {
        job = job.tail_fault(f);
    }
    AgentTestServer::builder().job(job).build().await.unwrap()
}

fn opts(protocol: Protocol) -> TailOptions {
    TailOptions::new().protocol(protocol)
}

fn json_log(message: &str) -> String {
    serde_json::json!({"type": "log", "message": message}).to_string()
}

#[track_caller]
fn assert_lines(o: &Outcome, want: &[&str], what: &str) {
    assert!(o.err.is_none(), "{what}: {:?}", o.err);
    assert_eq!(o.lines, want, "{what}");
}

// ---------------------------------------------------------------- item 1

/// Item 1, first case: a message of 20,000 lines of 60 bytes (1.2 MiB) is split,
/// all of them delivered, nothing skipped: in one frame and in 64 KiB fragments, as
/// raw text and as a JSON event; over HTTP as one SSE JSON event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_20000_short_lines_in_one_message_is_delivered_whole() {
    let want: Vec<String> = (0..20_000).map(|i| format!("{i:0>60}")).collect();
    let batch: String = want.iter().map(|l| format!("{l}\n")).collect();
    assert!(batch.len() > 1 << 20);
    let cases = [
        (
            "one raw frame",
            TailFault::script([batch.clone()], true).websocket_only(),
        ),
        (
            "raw, 64 KiB fragments",
            TailFault::script([batch.clone()], true)
                .websocket_only()
                .fragmented(64 * 1024),
        ),
        (
            "JSON, 64 KiB fragments",
            TailFault::script([json_log(&batch)], true)
                .websocket_only()
                .fragmented(64 * 1024),
        ),
        (
            "one SSE JSON event",
            TailFault::script([format!("data: {}\n\n", json_log(&batch))], true).http_only(),
        ),
    ];
    for (what, fault) in cases {
        let protocol = if what.contains("SSE") {
            Protocol::Http
        } else {
            Protocol::WebSocket
        };
        let server = server(vec![fault]).await;
        for o in tail_both(&server, JOB, opts(protocol)).await {
            assert!(o.err.is_none(), "{what}: {:?}", o.err);
            assert!(o.lines == want, "{what}: {} lines", o.lines.len());
            assert_eq!(o.counters.skipped_oversized, 0, "{what}");
            assert_eq!(o.protocol, protocol);
        }
    }
}

/// Item 1, second and third cases: `a\nb\n<a 1.2 MiB line>\nc\n` delivers `a`, `b`,
/// `c` and counts one line skipped, however it comes: a raw message in one frame or
/// in fragments, a JSON event in one frame or in fragments, one SSE JSON event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_line_in_a_batch_costs_that_line_only() {
    let long = "L".repeat(1_200_000);
    let text = format!("a\nb\n{long}\nc\n");
    let cases = [
        (
            "raw frame",
            TailFault::script([text.clone()], true).websocket_only(),
            Protocol::WebSocket,
        ),
        (
            "raw fragments",
            TailFault::script([text.clone()], true)
                .websocket_only()
                .fragmented(64 * 1024),
            Protocol::WebSocket,
        ),
        (
            "JSON frame",
            TailFault::script([json_log(&text)], true).websocket_only(),
            Protocol::WebSocket,
        ),
        (
            "JSON fragments",
            TailFault::script([json_log(&text)], true)
                .websocket_only()
                .fragmented(64 * 1024),
            Protocol::WebSocket,
        ),
        (
            "SSE JSON event",
            TailFault::script([format!("data: {}\n\n", json_log(&text))], true).http_only(),
            Protocol::Http,
        ),
    ];
    for (what, fault, protocol) in cases {
        let server = server(vec![fault]).await;
        for o in tail_both(&server, JOB, opts(protocol)).await {
            assert_lines(&o, &["a", "b", "c"], what);
            assert_eq!(o.counters.skipped_oversized, 1, "{what}: {:?}", o.counters);
            assert_eq!(o.counters.skipped_bytes, long.len() as u64, "{what}");
        }
    }
}

/// Item 1: the only message refused whole is one past the frame cap (64 MiB), and
/// the refusal is a loud error naming it, never a quiet end: a JSON message in
/// fragments past the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_the_frame_cap_fails_loudly_naming_it() {
    let cap: usize = 64 << 20; // agent_stream::DEFAULT_FRAME_CAP, what the clients ask for
    let server = server(vec![TailFault::oversized(0, cap + 1)
        .fragmented(1 << 20)
        .websocket_only()])
    .await;
    let o = tail_async(&async_client(&server), JOB, opts(Protocol::WebSocket)).await;
    let e = o.err.expect("a message past the frame cap ended quietly");
    assert_eq!(e.status_code(), 500, "{e}");
    assert!(
        e.to_string().contains(&format!("frame cap ({cap} bytes)")),
        "{e}"
    );
    assert!(o.lines.is_empty());
}

// ---------------------------------------------------------------- item 3

/// Item 3: `: ping` comments (as sse-starlette sends them) and `id:`, `event:`,
/// `retry:` fields are never log lines, with `\n`, `\r\n` or `\r` line ends, and
/// however the body is chunked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_comments_and_fields_are_never_log_lines() {
    for end in ["\n", "\r\n", "\r"] {
        let body = [
            ": ping",
            "",
            "id: 1",
            "event: log",
            "retry: 15000",
            &format!("data: {}", json_log("first")),
            "",
            ": ping",
            "",
            "id: 2",
            &format!("data: {}", json_log("second")),
            "",
        ]
        .iter()
        .map(|l| format!("{l}{end}"))
        .collect::<String>();
        // every chunking at once: the body byte by byte
        let chunks: Vec<String> = body.chars().map(String::from).collect();
        let server = server(vec![TailFault::script(chunks, true).http_only()]).await;
        for o in tail_both(&server, JOB, opts(Protocol::Http)).await {
            assert_lines(&o, &["first", "second"], &format!("{end:?}"));
        }
    }
}

/// Item 3: `: ping` keep-alives no longer break `auto`'s resume: the WebSocket
/// delivers two lines and breaks, the HTTP replay (with comments between its
/// events) starts with those same lines, and the tail goes on to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_do_not_break_a_resume_under_auto() {
    let ws = vec![json_log("one"), json_log("two")];
    let http = vec![
        ": ping\n\n".to_owned(),
        format!("data: {}\n\n", json_log("one")),
        ": ping\n\n".to_owned(),
        format!("data: {}\n\n", json_log("two")),
        ": ping\n\nid: 3\n".to_owned(),
        format!("data: {}\n\n", json_log("three")),
    ];
    let server = server(vec![
        TailFault::script(ws, false).websocket_only(),
        TailFault::script(http, true).http_only(),
    ])
    .await;
    for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
        assert_lines(&o, &["one", "two", "three"], "auto");
        assert_eq!(o.protocol, Protocol::Http);
    }
}

/// Item 3: a pretty-printed JSON event over several `data:` lines is one event: its
/// message is delivered whole, and a pretty-printed `complete` ends the tail
/// normally (the body is then dropped: only that `complete` can end it well).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pretty_printed_event_over_several_data_lines_is_one_event() {
    let body = "data: {\n\
                data:   \"type\": \"log\",\n\
                data:   \"message\": \"pretty\\nprinted\"\n\
                data: }\n\n\
                data: {\n\
                data:   \"type\": \"complete\"\n\
                data: }\n\n";
    let server = server(vec![TailFault::script([body], false).http_only()]).await;
    for o in tail_both(&server, JOB, opts(Protocol::Http)).await {
        assert_lines(&o, &["pretty", "printed"], "pretty");
    }
}

/// Item 3: a UTF-8 BOM before the first event is dropped, whether or not the body
/// says it is an event stream, even cut in the middle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bom_before_the_first_event_is_dropped() {
    let event = format!("data: {}\n\n", json_log("after the BOM"));
    let chunks = vec![
        b"\xEF\xBB".to_vec(),
        [b"\xBF".as_slice(), event.as_bytes()].concat(),
    ];
    let server = server(vec![TailFault::script(chunks, true).http_only()]).await;
    for o in tail_both(&server, JOB, opts(Protocol::Http)).await {
        assert_lines(&o, &["after the BOM"], "BOM");
    }
}

// ---------------------------------------------------------------- item 6

/// Item 6: `max_lines` counts delivered lines and `max_messages` counts messages,
/// on both protocols: a job of 36 lines sent in batches of 6 stops after 3 lines
/// with a 429 of kind `Lines` over WebSocket as over HTTP; with `max_messages` 2 it
/// stops after the second message (12 lines over WebSocket, 2 over HTTP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lines_and_max_messages_count_on_both_protocols() {
    let log: Vec<String> = (0..36).map(|i| format!("capture-{i}")).collect();
    let job = JobSpec::new(JOB).lines(log.clone()).tail_batch(6);
    let server = AgentTestServer::builder().job(job).build().await.unwrap();
    let lines3 = StreamLimits {
        max_lines: 3,
        ..StreamLimits::default()
    };
    let messages2 = StreamLimits {
        max_messages: 2,
        ..StreamLimits::default()
    };
    for p in [Protocol::WebSocket, Protocol::Http] {
        for o in tail_both(&server, JOB, opts(p).limits(lines3)).await {
            assert!(
                matches!(
                    o.err,
                    Some(ClientError::LimitExceeded {
                        kind: LimitKind::Lines,
                        limit: 3
                    })
                ),
                "{p}: {:?}",
                o.err
            );
            assert_eq!(o.lines, log[..3], "{p}");
        }
        for o in tail_both(&server, JOB, opts(p).limits(messages2)).await {
            assert!(
                matches!(
                    o.err,
                    Some(ClientError::LimitExceeded {
                        kind: LimitKind::Messages,
                        limit: 2
                    })
                ),
                "{p}: {:?}",
                o.err
            );
            assert!(
                o.lines.len() >= 2 && log.starts_with(&o.lines),
                "{p}: {:?}",
                o.lines
            );
        }
    }
}
