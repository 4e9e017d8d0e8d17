//! Log tails over both protocols: event sequences, following a running job, ends.

mod common;

use std::time::Duration;

use agent_proto::JobStatus;
use agent_testkit::sample::{RUNNING_JOB, SUCCEEDED_JOB};
use agent_testkit::{generated_line, AgentTestServer, JobSpec, TailFault};
use common::*;
use fastwebsockets::{FragmentCollector, OpCode};
use http::StatusCode;
use serde_json::{json, Value};

fn recorded_lines() -> Vec<String> {
    let v: Value =
        serde_json::from_str(include_str!("../../agent-sample/fixtures/logs.json")).unwrap();
    v["logs"]
        .as_str()
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn websocket_tail_of_a_finished_job() {
    let s = AgentTestServer::sample().build().await.unwrap();
    let ws = ws_connect(
        s.local_addr(),
        &format!("/jobs/{SUCCEEDED_JOB}/logs/"),
        Some(s.token()),
    )
    .await
    .unwrap();
    let t = ws_read_all(ws).await;
    assert_eq!(t.error, None);
    assert_eq!(t.close, Some(1000));
    let events = t.events();
    assert_eq!(log_messages(&events), recorded_lines());
    assert_eq!(events.last().unwrap(), &json!({"type": "complete"}));
    assert!(events[..events.len() - 1]
        .iter()
        .all(|e| e["type"] == "log"));
    let e = s.journal().pop().unwrap();
    assert!(e.upgrade);
    assert_eq!(e.route, Some(agent_testkit::RouteKind::TailWebSocket));
}

#[tokio::test]
async fn http_stream_of_a_finished_job() {
    let s = AgentTestServer::sample().build().await.unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    let res = http
        .stream(&format!("jobs/{SUCCEEDED_JOB}/logs/stream/"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(res.headers().get("content-length").is_none(), "chunked");
    let (lines, complete) = stream_lines(res).await;
    assert!(complete);
    // `data: {json}` then a blank line, each time
    for pair in lines.chunks(2).filter(|c| c.len() == 2) {
        assert!(pair[0].starts_with("data: {"), "{pair:?}");
        assert_eq!(pair[1], "");
    }
    let events = sse_events(&lines);
    assert_eq!(log_messages(&events), recorded_lines());
    assert_eq!(events.last().unwrap(), &json!({"type": "complete"}));
}

#[tokio::test]
async fn a_tail_follows_a_running_job_until_it_ends() {
    let s = AgentTestServer::builder()
        .job(JobSpec::new("j1").lines(["one", "two"]).keeps_running())
        .build()
        .await
        .unwrap();
    assert_eq!(s.job_status("j1"), Some(JobStatus::Running));
    let ws = ws_connect(s.local_addr(), "/jobs/j1/logs/", Some(s.token()))
        .await
        .unwrap();
    let mut ws = FragmentCollector::new(ws);
    let http = Http::new(s.url(), Some(s.token()));
    let stream = http.stream("jobs/j1/logs/stream/").await;

    for (want, n) in [("one", 1), ("two", 2)] {
        let ev: Value = serde_json::from_str(&ws_next_text(&mut ws).await).unwrap();
        // the line's number, a key the SDK's client ignores (issue 22)
        assert_eq!(ev, json!({"type": "log", "message": want, "n": n}));
    }
    assert!(s.append_lines("j1", ["three"]));
    let ev: Value = serde_json::from_str(&ws_next_text(&mut ws).await).unwrap();
    assert_eq!(ev["message"], "three");
    assert!(s.append_lines("j1", ["four"]));
    assert!(s.finish_job("j1"));
    assert!(!s.finish_job("j1"), "already ended");
    let ev: Value = serde_json::from_str(&ws_next_text(&mut ws).await).unwrap();
    assert_eq!(ev["message"], "four");
    let ev: Value = serde_json::from_str(&ws_next_text(&mut ws).await).unwrap();
    assert_eq!(ev, json!({"type": "complete"}));
    let close = ws.read_frame().await.unwrap();
    assert_eq!(close.opcode, OpCode::Close);
    assert_eq!(&close.payload[..2], &1000u16.to_be_bytes());

    let (lines, complete) = stream_lines(stream).await;
    assert!(complete);
    let events = sse_events(&lines);
    assert_eq!(log_messages(&events), ["one", "two", "three", "four"]);
    assert_eq!(events.last().unwrap()["type"], "complete");
    assert_eq!(s.job_status("j1"), Some(JobStatus::Succeeded));
}

#[tokio::test]
async fn a_job_moves_from_pending_to_running_to_its_end() {
    let s = AgentTestServer::builder()
        .job(
            JobSpec::new("paced")
                .generate(50, 40)
                .rate(500.0)
                .pending_for(Duration::from_millis(50)),
        )
        .job(JobSpec::new("doomed").lines(["a", "b"]).fails(None))
        .job(JobSpec::new("waiting").pending_for(Duration::from_secs(3600)))
        .build()
        .await
        .unwrap();
    assert_eq!(s.job_status("waiting"), Some(JobStatus::Pending));
    assert_eq!(s.job_status("doomed"), Some(JobStatus::Failed));
    let doomed = s.job_info("doomed").unwrap();
    assert_eq!(doomed["driver_exit_code"], 1);
    assert!(doomed["message"]
        .as_str()
        .unwrap()
        .starts_with("Job entrypoint command failed with exit code 1"));
    assert!(doomed["message"].as_str().unwrap().contains("a\nb\n"));

    let http = Http::new(s.url(), Some(s.token()));
    let (lines, complete) = stream_lines(http.stream("jobs/paced/logs/stream/").await).await;
    assert!(complete);
    let msgs = log_messages(&sse_events(&lines));
    let want: Vec<String> = (0..50).map(|i| generated_line(i, 40)).collect();
    assert_eq!(msgs, want);
    assert!(msgs.iter().all(|m| m.len() == 40));
    assert_eq!(s.job_status("paced"), Some(JobStatus::Succeeded));
    let info = s.job_info("paced").unwrap();
    assert_eq!(info["message"], "Job finished successfully.");
    assert_eq!(info["driver_exit_code"], 0);

    // a pending job's tail waits, then follows once the job runs
    let ws = ws_connect(s.local_addr(), "/jobs/waiting/logs/", Some(s.token()))
        .await
        .unwrap();
    assert!(s.start_job("waiting"));
    s.append_lines("waiting", ["started"]);
    assert!(s.stop_job("waiting"));
    let t = ws_read_all(ws).await;
    assert_eq!(log_messages(&t.events()), ["started"]);
    assert_eq!(t.events().last().unwrap()["type"], "complete");
}

#[tokio::test]
async fn stopping_ends_the_tail_with_complete() {
    let s = AgentTestServer::sample().build().await.unwrap();
    let ws = ws_connect(
        s.local_addr(),
        &format!("/jobs/{RUNNING_JOB}/logs/"),
        Some(s.token()),
    )
    .await
    .unwrap();
    let mut ws = FragmentCollector::new(ws);
    // Read four lines first (the job prints two a second), so that the order check
    // below always has lines before and after the stop to look at.
    let mut msgs = Vec::new();
    while msgs.len() < 4 {
        let event: Value = serde_json::from_str(&ws_next_text(&mut ws).await).unwrap();
        msgs.push(event["message"].as_str().unwrap().to_owned());
    }
    let http = Http::new(s.url(), Some(s.token()));
    assert_eq!(
        http.post(&format!("jobs/{RUNNING_JOB}/stop/"), &json!({}))
            .await
            .json(),
        json!({"stopped": true})
    );
    let t = ws_read_rest(&mut ws).await;
    assert_eq!(t.close, Some(1000));
    assert_eq!(t.events().last().unwrap()["type"], "complete");
    // lines keep their order, none twice, none lost, across the stop
    msgs.extend(log_messages(&t.events()));
    assert!(msgs.len() >= 4, "{msgs:?}");
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m, &format!("line {i}"));
    }
}

#[tokio::test]
async fn tails_of_unknown_jobs_are_refused() {
    let s = AgentTestServer::builder().build().await.unwrap();
    let (status, body) = ws_connect(s.local_addr(), "/jobs/nope/logs/", Some(s.token()))
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(&body[..], b"Job nope does not exist");
    let http = Http::new(s.url(), Some(s.token()));
    assert_eq!(
        http.get("jobs/nope/logs/stream/").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn batches_hold_several_lines_like_rays_tail() {
    let s = AgentTestServer::builder()
        .job(
            JobSpec::new("b")
                .lines(["a", "b", "c", "d", "e"])
                .tail_batch(2),
        )
        .build()
        .await
        .unwrap();
    let ws = ws_connect(s.local_addr(), "/jobs/b/logs/", Some(s.token()))
        .await
        .unwrap();
    let t = ws_read_all(ws).await;
    assert_eq!(log_messages(&t.events()), ["a\nb\n", "c\nd\n", "e\n"]);
}

#[tokio::test]
async fn a_large_log_streams_whole_and_in_order() {
    let s = AgentTestServer::builder()
        .job(JobSpec::new("big").generate(20_000, 100))
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    let (lines, complete) = stream_lines(http.stream("jobs/big/logs/stream/").await).await;
    assert!(complete);
    let msgs = log_messages(&sse_events(&lines));
    assert_eq!(msgs.len(), 20_000);
    assert_eq!(msgs[12_345], generated_line(12_345, 100));
    let ws = ws_connect(s.local_addr(), "/jobs/big/logs/", Some(s.token()))
        .await
        .unwrap();
    let t = ws_read_all(ws).await;
    assert_eq!(t.texts.len(), 20_001);
    assert_eq!(s.job_log("big").unwrap().len(), 20_000 * 101);
}

#[tokio::test]
async fn a_silent_tail_stays_open_and_answers_pings() {
    let s = AgentTestServer::builder()
        .job(
            JobSpec::new("quiet")
                .lines(["before", "after"])
                .tail_fault(TailFault::silent_for(1, Duration::from_secs(3600)).websocket_only())
                .tail_fault(TailFault::silent_for(1, Duration::from_millis(50)).http_only()),
        )
        .build()
        .await
        .unwrap();
    let mut ws = ws_connect(s.local_addr(), "/jobs/quiet/logs/", Some(s.token()))
        .await
        .unwrap();
    let f = ws.read_frame().await.unwrap();
    assert_eq!(f.opcode, OpCode::Text);
    for payload in [&b"are you there"[..], b"still?"] {
        ws.write_frame(ping(payload)).await.unwrap();
        let f = ws.read_frame().await.unwrap();
        assert_eq!(f.opcode, OpCode::Pong, "a pong, not a log line nor a close");
        assert_eq!(&f.payload[..], payload);
    }
    // the client may close while the job is quiet: the server answers the close
    ws.write_frame(fastwebsockets::Frame::close(1000, b""))
        .await
        .unwrap();
    let f = ws.read_frame().await.unwrap();
    assert_eq!(f.opcode, OpCode::Close);

    // over HTTP the silence ends and the tail goes on
    let http = Http::new(s.url(), Some(s.token()));
    let (lines, complete) = stream_lines(http.stream("jobs/quiet/logs/stream/").await).await;
    assert!(complete);
    assert_eq!(log_messages(&sse_events(&lines)), ["before", "after"]);
}

#[tokio::test]
async fn a_quiet_http_tail_gets_heartbeats_between_events() {
    let s = AgentTestServer::builder()
        .heartbeat(Duration::from_millis(20))
        .job(
            JobSpec::new("raysubmit_quiet")
                .pending_for(Duration::from_millis(300))
                .lines(["first", "second"]),
        )
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    let res = http.stream("jobs/raysubmit_quiet/logs/stream/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let (lines, complete) = stream_lines(res).await;
    assert!(complete);
    let events = sse_events(&lines);
    assert_eq!(log_messages(&events), ["first", "second"]);
    assert_eq!(events.last().unwrap(), &json!({"type": "complete"}));
    // every event line is followed by one blank line; the rest are heartbeats
    let blank = lines.iter().filter(|l| l.is_empty()).count();
    assert!(blank > events.len() + 1, "no heartbeat in {lines:?}");
}

#[tokio::test]
async fn a_scripted_tail_sends_exactly_its_pieces() {
    let s = AgentTestServer::builder()
        .job(
            JobSpec::new("s")
                .lines(["not sent"])
                .tail_fault(
                    TailFault::script(["tick\ntick\n", "", "{\"message\":\"m\"}"], false)
                        .websocket_only(),
                )
                .tail_fault(TailFault::script(["tick\nti", "ck\n\ndata: x\n"], true).http_only()),
        )
        .build()
        .await
        .unwrap();
    // WebSocket: the frames as they are, then a dropped connection (no close frame).
    let ws = ws_connect(s.local_addr(), "/jobs/s/logs/", Some(s.token()))
        .await
        .unwrap();
    let t = ws_read_all(ws).await;
    assert_eq!(t.texts, ["tick\ntick\n", "", "{\"message\":\"m\"}"]);
    assert_eq!(t.close, None, "{t:?}");
    // HTTP: the chunks as they are, then `complete` and a clean end.
    let http = Http::new(s.url(), Some(s.token()));
    let (lines, complete) = stream_lines(http.stream("jobs/s/logs/stream/").await).await;
    assert!(complete);
    assert_eq!(
        lines[..5],
        [
            "tick",
            "tick",
            "",
            "data: x",
            r#"data: {"type":"complete"}"#
        ]
    );
}
