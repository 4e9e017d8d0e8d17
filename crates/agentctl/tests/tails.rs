//! Issue 11 ("tails that never lie") through the built `agentctl` binary: each
//! numbered item of the issue, against the test agent's scripted tails, checked by
//! what a script sees: the lines on stdout, the exit code, the one-line error.
//!
//! The library clients are held to the same items in `tests/tests/tails.rs`;
//! these tests prove the promise survives the last step, to a user's terminal or
//! pipe.

use agent_testkit::{AgentTestServer, BlockingTestServer, Fault, JobSpec, RouteKind, TailFault};
use serde_json::Value;
use std::time::Duration;

mod support;
use support::*;

const JOB: &str = "raysubmit_issue11";

/// A job whose WebSocket tail sends exactly `ws` (frames) and is then dropped, and
/// whose HTTP tail sends exactly `http` (chunks) and completes.
fn scripted(ws: &[String], http: &[String]) -> BlockingTestServer {
    let job = JobSpec::new(JOB)
        .lines(["(scripted)"])
        .tail_fault(TailFault::script(ws.to_vec(), false).websocket_only())
        .tail_fault(TailFault::script(http.to_vec(), true).http_only());
    start(job)
}

/// A job of `n` lines `tail-0` ... with `faults` on its tails.
fn job_of(n: usize, faults: Vec<TailFault>) -> BlockingTestServer {
    let mut job = JobSpec::new(JOB).lines(lines(n));
    for f in faults {
        job = job.tail_fault(f);
    }
    start(job)
}

fn start(job: JobSpec) -> BlockingTestServer {
    AgentTestServer::builder()
        .job(job)
        .start_blocking()
        .expect("test agent starts")
}

fn lines(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("tail-{i}")).collect()
}

fn json_log(message: &str) -> String {
    serde_json::json!({"type": "log", "message": message}).to_string()
}

fn sse(payload: &str) -> String {
    format!("data: {payload}\n\n")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// What a script reading stdout gets: one line per log line.
fn stdout_of(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The `{"end": ...}` object that closes a `-o jsonl` tail.
fn end_of(out: &Output) -> Value {
    let last = out.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("no end object ({e}): {out:?}"))
}

/// Item 1: under `auto` (agentctl's default) every case of the issue prints exactly
/// the log and exits 0; before, three of them lost or repeated lines and exited 0.
#[test]
fn auto_resumes_by_delivered_lines_in_every_case_of_issue_11() {
    let tick = json_log("tick");
    let empty = json_log("");
    // (case, WebSocket frames before the drop, HTTP chunks, the log's lines)
    type Case<'a> = (&'a str, Vec<String>, Vec<String>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "JSON events, a blank line as an empty message, a drop after three",
            vec![tick.clone(), empty.clone(), tick.clone()],
            ["tick", "", "tick", "tick", "done"]
                .iter()
                .map(|l| sse(&json_log(l)))
                .collect(),
            vec!["tick", "tick", "tick", "done"],
        ),
        (
            "the same log as raw text frames",
            strings(&["tick", "", "tick"]),
            strings(&["tick\n\ntick\ntick\ndone\n"]),
            vec!["tick", "tick", "tick", "done"],
        ),
        (
            "two blank lines first, a drop before any line",
            vec![String::new(), empty.clone()],
            strings(&["\n\nfirst\nsecond\nthird\n"]),
            vec!["first", "second", "third"],
        ),
        (
            "Ray-style batch frames, one line per HTTP event",
            strings(&["tick\ntick", "tick"]),
            (0..4).map(|_| sse(&json_log("tick"))).collect(),
            vec!["tick", "tick", "tick", "tick"],
        ),
        (
            "distinct lines with a blank one",
            vec![json_log("a"), empty, json_log("b")],
            strings(&["a\n\nb\nc\ndone\n"]),
            vec!["a", "b", "c", "done"],
        ),
    ];
    for (case, ws, http, want) in cases {
        let server = scripted(&ws, &http);
        let out = agentctl(&server, &["jobs", "tail", JOB]);
        assert_eq!(out.code, 0, "{case}: {out:?}");
        assert_eq!(out.stdout, stdout_of(&want), "{case}: {out:?}");
        let out = agentctl(&server, &["jobs", "tail", JOB, "-o", "jsonl"]);
        let end = end_of(&out);
        assert_eq!(end["end"], "complete", "{case}: {out:?}");
        assert_eq!(end["delivered"], want.len(), "{case}: {out:?}");
    }
}

/// Item 1: a replay that truly differs exits non-zero with both causes in its one
/// line, after exactly the lines the WebSocket delivered.
#[test]
fn auto_fails_loudly_when_the_replay_differs() {
    let server = scripted(
        &strings(&["tick", "tick"]),
        &strings(&["tick\ntock\ndone\n"]),
    );
    let out = agentctl(&server, &["jobs", "tail", JOB]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, stdout_of(&["tick", "tick"]), "{out:?}");
    // The client's verdict, not an answer of the agent: no status code is shown.
    assert!(out.stderr.starts_with("error: protocol error: "), "{out:?}");
    assert!(out.stderr.contains("WebSocket tail broke"), "{out:?}");
    assert!(out.stderr.contains("repeat or lose lines"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");

    let out = agentctl(&server, &["jobs", "tail", JOB, "-o", "jsonl"]);
    let end = end_of(&out);
    assert_eq!(end["end"], "error", "{out:?}");
    assert_eq!(end["delivered"], 2, "{out:?}");
    assert_eq!(end["error"]["status_code"], Value::Null, "{out:?}");
    assert_eq!(end["error"]["code"], 1, "{out:?}");
}

/// Item 2: a resume right after a line of exactly `--max-message-size` bytes goes
/// on (a raw frame, and a JSON event, each of 100 bytes).
#[test]
fn a_resume_after_a_line_at_max_message_size_goes_on() {
    let long = "L".repeat(100);
    let json100 = json_log(&"j".repeat(100 - json_log("").len()));
    assert_eq!(json100.len(), 100);
    let json_text = "j".repeat(100 - json_log("").len());
    for (frame, first) in [(long.clone(), long), (json100, json_text)] {
        let http = vec![sse(&frame), "data: after\n".into(), "data: end\n".into()];
        let server = scripted(std::slice::from_ref(&frame), &http);
        let out = agentctl(&server, &["jobs", "tail", JOB, "--max-message-size", "100"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stdout, stdout_of(&[&first, "after", "end"]), "{out:?}");
    }
}

/// Item 3: a line over `--max-message-size` is skipped and counted, never ends the
/// tail and never counts toward `--max-bytes`, however it is chunked, on each
/// protocol.
#[test]
fn an_oversized_line_never_ends_a_tail_whatever_the_chunking() {
    let body = format!("a\n{}\nb\n", "x".repeat(2000));
    let (head, rest) = body.split_at(1500);
    let limits = ["--max-message-size", "100", "--max-bytes", "1000"];
    for http in [vec![body.clone()], strings(&[head, rest])] {
        let server = scripted(&[], &http);
        let mut args = vec!["jobs", "tail", JOB, "--protocol", "http", "-o", "jsonl"];
        args.extend(limits);
        let out = agentctl(&server, &args);
        assert_eq!(out.code, 0, "{out:?}");
        let end = end_of(&out);
        assert_eq!(end["end"], "complete", "{out:?}");
        assert_eq!((&end["delivered"], &end["skipped"]), (&2.into(), &1.into()));
        let mut args = vec!["jobs", "tail", JOB, "--protocol", "http"];
        args.extend(limits);
        let out = agentctl(&server, &args);
        assert_eq!(out.stdout, stdout_of(&["a", "b"]), "{out:?}");
        assert!(out.stderr.contains("skipped"), "the skip is told: {out:?}");
    }
    let job = JobSpec::new(JOB).lines(["(scripted)"]).tail_fault(
        TailFault::script(["a".to_owned(), "x".repeat(2000), "b".to_owned()], true)
            .websocket_only(),
    );
    let server = start(job);
    let mut args = vec!["jobs", "tail", JOB, "--protocol", "websocket"];
    args.extend(limits);
    let out = agentctl(&server, &args);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, stdout_of(&["a", "b"]), "{out:?}");
}

/// Item 4: a plain-lines HTTP body that ends cleanly is the whole log (exit 0); once
/// it carried an SSE event, the same clean end is a broken stream (exit 6, the
/// library's 503), never a success.
#[test]
fn a_plain_lines_body_that_ends_cleanly_is_the_whole_log() {
    let want = lines(30);
    let body: String = want.iter().map(|l| format!("{l}\r\n")).collect();
    let server = job_of(1, vec![]);
    server.set_fault(RouteKind::TailHttp, Fault::text(200, body.clone()));
    let out = agentctl(&server, &["jobs", "tail", JOB, "--protocol", "http"]);
    assert_eq!(out.code, 0, "{out:?}");
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(out.stdout, stdout_of(&want), "{out:?}");

    let server = job_of(1, vec![]);
    server.set_fault(
        RouteKind::TailHttp,
        Fault::text(200, format!("{body}data: x\n")),
    );
    let out = agentctl(&server, &["jobs", "tail", JOB, "--protocol", "http"]);
    assert_eq!(out.code, 6, "{out:?}");
    assert!(
        out.stderr
            .contains("closed the tail (HTTP stream) before the job's log completed"),
        "{out:?}"
    );
}

/// Item 5: a 503 with `Retry-After` on opening stays the agent's 503 (exit 6, the
/// wait in the message), though the retries take longer than the idle time-out.
#[test]
fn a_503_on_opening_stays_a_503_whatever_the_idle_timeout() {
    let server = job_of(3, vec![]);
    server.set_fault(
        RouteKind::TailHttp,
        Fault::text(503, "busy").header("Retry-After", "1"),
    );
    let out = agentctl(
        &server,
        &["jobs", "tail", JOB, "--protocol", "http", "--timeout", "1"],
    );
    assert_eq!(out.code, 6, "{out:?}");
    assert!(
        out.stderr.starts_with("error: 503 "),
        "not a time-out: {out:?}"
    );
    assert!(out.stderr.contains("(retry after 1s)"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// Item 6: a failed HTTP resume keeps the HTTP answer's status and so its exit code
/// (a 429 is 5, a 404 is 3), with the WebSocket's cause in the message, after the
/// lines delivered before the drop.
#[test]
fn a_failed_resume_keeps_the_http_answers_status() {
    for (fault, code, status) in [
        (
            Fault::text(429, "slow down").header("Retry-After", "7"),
            5,
            "429",
        ),
        (Fault::text(404, "no such job"), 3, "404"),
    ] {
        let server = job_of(10, vec![TailFault::drop_after(4).websocket_only()]);
        server.set_fault(RouteKind::TailHttp, fault);
        let out = agentctl(&server, &["jobs", "tail", JOB]);
        assert_eq!(out.code, code, "{out:?}");
        assert!(
            out.stderr.starts_with(&format!("error: {status} ")),
            "{out:?}"
        );
        assert!(out.stderr.contains("WebSocket tail broke"), "{out:?}");
        let first: Vec<String> = lines(4);
        let first: Vec<&str> = first.iter().map(String::as_str).collect();
        assert_eq!(out.stdout, stdout_of(&first), "{out:?}");
    }
}

/// Item 7: a job quiet for longer than `--timeout`, on a live agent, is followed to
/// its end: pings keep the WebSocket alive.
#[test]
fn a_quiet_job_on_a_live_server_is_never_a_timeout() {
    let server = job_of(
        6,
        vec![TailFault::silent_for(3, Duration::from_millis(2500)).websocket_only()],
    );
    let out = agentctl(
        &server,
        &[
            "jobs",
            "tail",
            JOB,
            "--protocol",
            "websocket",
            "--timeout",
            "1",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let want = lines(6);
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(out.stdout, stdout_of(&want), "{out:?}");
}

/// Item 8: a `Retry-After` far in the future is read saturating and capped at 60 s,
/// the same on a plain request as on a tail (a stop is not retried, so agentctl
/// reports it at once).
#[test]
fn retry_after_is_read_one_way_everywhere() {
    let server = job_of(3, vec![]);
    for value in ["99999999999999999999999", "120"] {
        server.set_fault(
            RouteKind::StopJob,
            Fault::text(503, "busy")
                .header("Retry-After", value)
                .times(1),
        );
        let out = agentctl(&server, &["jobs", "stop", JOB]);
        assert_eq!(out.code, 6, "{value}: {out:?}");
        assert!(out.stderr.contains("(retry after 60s)"), "{value}: {out:?}");
    }
}

/// Item 9: an error body padded so that the token straddles the cut of the message
/// never shows any start of the token on stderr, for a request and for a tail.
#[test]
fn a_token_straddling_the_cut_of_an_error_never_shows() {
    let server = job_of(3, vec![]);
    let token = server.token();
    assert!(token.len() >= 8, "the test needs a real token");
    let pad = agent_proto::error::MAX_ERROR_MESSAGE - token.len() / 2;
    let body = format!("{}{token} and the rest of the page", "p".repeat(pad));
    server.set_fault(RouteKind::TailHttp, Fault::text(500, body.clone()));
    server.set_fault(RouteKind::GetJob, Fault::text(500, body));
    for args in [
        vec!["jobs", "get", JOB],
        vec!["jobs", "tail", JOB, "--protocol", "http"],
    ] {
        let out = agentctl(&server, &args);
        assert_eq!(out.code, 1, "{out:?}");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            !all.contains(&token[..4]),
            "a start of the token shows: {out:?}"
        );
        assert!(out.stderr.contains("[redacted]"), "{out:?}");
    }
}
