//! Issue 24 ("tails in the wild"), items 1, 3 and 6, through the built `agentctl`
//! binary: what a script sees (stdout, the exit code, stderr) when a server sends a
//! big batch, SSE as real servers send it, or when `--max-lines` and
//! `--max-messages` are given. The library clients are held to the same cases in
//! `tests/tests/tails_in_the_wild.rs`.

use agent_testkit::{AgentTestServer, BlockingTestServer, JobSpec, TailFault};

mod support;
use support::*;

const JOB: &str = "raysubmit_wild24";

fn start(faults: Vec<TailFault>) -> BlockingTestServer {
    let mut job = JobSpec::new(JOB).lines(["(scripted)"]);
    for f in faults {
        job = job.tail_fault(f);
    }
    AgentTestServer::builder()
        .job(job)
        .start_blocking()
        .expect("test agent starts")
}

fn json_log(message: &str) -> String {
    serde_json::json!({"type": "log", "message": message}).to_string()
}

fn stdout_of(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Item 1: `a\nb\n<a 1.2 MiB line>\nc\n` prints `a`, `b`, `c`, says one line was
/// skipped, and exits 0: a raw WebSocket message in one frame or in 64 KiB
/// fragments, a JSON event in fragments, one SSE JSON event. Before: nothing
/// printed, exit 0.
#[test]
fn a_long_line_in_a_batch_costs_that_line_only() {
    let text = format!("a\nb\n{}\nc\n", "L".repeat(1_200_000));
    let cases = [
        (
            "raw frame",
            TailFault::script([text.clone()], true).websocket_only(),
            "websocket",
        ),
        (
            "raw fragments",
            TailFault::script([text.clone()], true)
                .websocket_only()
                .fragmented(64 * 1024),
            "websocket",
        ),
        (
            "JSON fragments",
            TailFault::script([json_log(&text)], true)
                .websocket_only()
                .fragmented(64 * 1024),
            "websocket",
        ),
        (
            "SSE JSON event",
            TailFault::script([format!("data: {}\n\n", json_log(&text))], true).http_only(),
            "http",
        ),
    ];
    for (what, fault, protocol) in cases {
        let server = start(vec![fault]);
        let out = agentctl(&server, &["jobs", "tail", JOB, "--protocol", protocol]);
        assert_eq!(out.code, 0, "{what}: {out:?}");
        assert_eq!(out.stdout, stdout_of(&["a", "b", "c"]), "{what}");
        assert!(
            out.stderr.contains("1 line(s) over --max-message-size"),
            "{what}: {out:?}"
        );
    }
}

/// Item 1: a batch of 20,000 lines of 60 bytes in one WebSocket message prints all
/// of them and exits 0 (before: 0 lines, "1 line(s) skipped", exit 0).
#[test]
fn a_batch_of_20000_lines_in_one_message_prints_them_all() {
    let want: Vec<String> = (0..20_000).map(|i| format!("{i:0>60}")).collect();
    let batch: String = want.iter().map(|l| format!("{l}\n")).collect();
    let server = start(vec![
        TailFault::script([batch.clone()], true).websocket_only()
    ]);
    let out = agentctl(&server, &["jobs", "tail", JOB, "--protocol", "websocket"]);
    assert_eq!(out.code, 0, "exit {}: {}", out.code, out.stderr);
    assert!(out.stdout == batch, "{} bytes printed", out.stdout.len());
    assert!(!out.stderr.contains("skipped"), "{}", out.stderr);
}

/// Item 3: SSE as sse-starlette, nginx and ingresses send it: `: ping` comments,
/// `id:`/`event:`/`retry:` fields, a BOM, a pretty-printed event over several
/// `data:` lines and a pretty-printed `complete` (recognised: exit 0, not 6). Only
/// the log's lines are printed.
#[test]
fn sse_as_servers_send_it_prints_only_the_log() {
    let body = format!(
        "\u{feff}: ping\r\n\r\nid: 1\r\nevent: log\r\nretry: 15000\r\ndata: {}\r\n\r\n: ping\r\n\r\n\
         data: {{\r\ndata:   \"type\": \"log\",\r\ndata:   \"message\": \"two\\nthree\"\r\ndata: }}\r\n\r\n\
         data: {{\r\ndata:   \"type\": \"complete\"\r\ndata: }}\r\n\r\n",
        json_log("one")
    );
    let server = start(vec![TailFault::script([body], false).http_only()]);
    let out = agentctl(&server, &["jobs", "tail", JOB, "--protocol", "http"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, stdout_of(&["one", "two", "three"]), "{out:?}");
}

/// Item 3: under `auto` (the default), `: ping` keep-alives in the HTTP replay no
/// longer make a healthy resume fail with a 500.
#[test]
fn pings_do_not_break_autos_resume() {
    let ws = vec![json_log("one"), json_log("two")];
    let http = vec![format!(
        ": ping\n\ndata: {}\n\n: ping\n\ndata: {}\n\n: ping\n\ndata: {}\n\n",
        json_log("one"),
        json_log("two"),
        json_log("three")
    )];
    let server = start(vec![
        TailFault::script(ws, false).websocket_only(),
        TailFault::script(http, true).http_only(),
    ]);
    let out = agentctl(&server, &["jobs", "tail", JOB]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, stdout_of(&["one", "two", "three"]), "{out:?}");
}

/// Item 6: `--max-lines 3` stops after 3 lines with exit 5 over WebSocket too (it
/// printed all 36 lines and exited 0), and `--max-messages 2` stops an HTTP tail
/// (it was ignored there).
#[test]
fn max_lines_and_max_messages_count_on_both_protocols() {
    let log: Vec<String> = (0..36).map(|i| format!("capture-{i}")).collect();
    let job = JobSpec::new(JOB).lines(log.clone()).tail_batch(6);
    let server = AgentTestServer::builder()
        .job(job)
        .start_blocking()
        .expect("test agent starts");
    let first3: Vec<&str> = log[..3].iter().map(String::as_str).collect();
    for protocol in ["websocket", "http"] {
        let out = agentctl(
            &server,
            &[
                "jobs",
                "tail",
                JOB,
                "--protocol",
                protocol,
                "--max-lines",
                "3",
            ],
        );
        assert_eq!(out.code, 5, "{protocol}: {out:?}");
        assert_eq!(out.stdout, stdout_of(&first3), "{protocol}");
        assert!(out.stderr.contains("max_lines"), "{protocol}: {out:?}");

        let out = agentctl(
            &server,
            &[
                "jobs",
                "tail",
                JOB,
                "--protocol",
                protocol,
                "--max-messages",
                "2",
            ],
        );
        assert_eq!(out.code, 5, "{protocol}: {out:?}");
        assert!(out.stderr.contains("max_messages"), "{protocol}: {out:?}");
        assert!(
            out.stdout.lines().count() < log.len(),
            "{protocol}: {out:?}"
        );
    }
}
