//! Every fault, flipped at build time or at run time.

mod common;

use std::time::Duration;

use agent_testkit::sample::{RUNNING_JOB, SUCCEEDED_JOB};
use agent_testkit::{AgentTestServer, Fault, FaultTarget, JobSpec, RouteKind, TailFault};
use bytes::Bytes;
use common::*;
use fastwebsockets::OpCode;
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server_with(job: JobSpec) -> (AgentTestServer, Http) {
    let s = AgentTestServer::builder()
        .token("t")
        .job(job)
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some("t"));
    (s, http)
}

fn five() -> JobSpec {
    JobSpec::new("j").lines(["l1", "l2", "l3", "l4", "l5"])
}

#[tokio::test]
async fn a_status_for_the_first_n_requests_then_normal() {
    let s = AgentTestServer::sample()
        .fault(
            RouteKind::ListJobs,
            Fault::status(503).header("Retry-After", "1").times(2),
        )
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    for _ in 0..2 {
        let a = http.get("jobs/").await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(a.header("retry-after"), Some("1"));
    }
    assert_eq!(http.get("jobs/").await.status, StatusCode::OK);
    assert_eq!(
        http.get("health/").await.status,
        StatusCode::OK,
        "other routes untouched"
    );
    assert_eq!(s.requests(RouteKind::ListJobs).len(), 3);
}

#[tokio::test]
async fn json_error_bodies_422_and_gpu_unavailable() {
    let s = AgentTestServer::sample()
        .fault(
            RouteKind::GpuStatus,
            Fault::gpu_unavailable("no GPU in the cluster"),
        )
        .fault(
            RouteKind::CreatePluginRelease,
            Fault::validation("plugin", "field required"),
        )
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    let g = http.get("gpu_status/").await;
    assert_eq!(g.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(g.header("content-type"), Some("application/json"));
    assert_eq!(
        g.json(),
        json!({"error_type": "gpu_unavailable", "detail": "no GPU in the cluster"})
    );
    let v = http
        .post("plugin_releases/", &json!({"plugin": "x", "version": "1"}))
        .await;
    assert_eq!(v.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v.json(),
        json!({"detail": [{"loc": ["body", "plugin"], "msg": "field required", "type": "missing"}]})
    );
    assert_eq!(
        s.plugin_releases().len(),
        1,
        "the fault answered, nothing was created"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json() {
    let (s, http) = server_with(five()).await;
    s.set_fault(RouteKind::Health, Fault::not_json());
    let a = http.get("health/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&a.body).is_err());
    s.set_fault(RouteKind::GetJob, Fault::text(200, "plain words"));
    assert_eq!(http.get("jobs/j/").await.text(), "plain words");
    s.set_fault(
        RouteKind::ListJobs,
        Fault::bytes(500, Bytes::from_static(b"\xff\xfe")),
    );
    let b = http.get("jobs/").await;
    assert_eq!(b.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(&b.body[..], b"\xff\xfe");
}

#[tokio::test]
async fn faults_flip_at_run_time_and_target_one_id() {
    let (s, http) = server_with(five()).await;
    s.add_job(JobSpec::new("k").lines(["x"])).unwrap();
    s.set_fault(
        FaultTarget::route(RouteKind::GetJob).id("j"),
        Fault::json(500, json!({"detail": "boom"})),
    );
    assert_eq!(
        http.get("jobs/j/").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(http.get("jobs/k/").await.status, StatusCode::OK);
    s.clear_faults();
    assert_eq!(http.get("jobs/j/").await.status, StatusCode::OK);
    // `any` also catches requests that name no route
    s.set_fault(FaultTarget::any(), Fault::status(502).times(1));
    assert_eq!(http.get("nope/").await.status, StatusCode::BAD_GATEWAY);
    assert_eq!(http.get("nope/").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_delay_before_the_headers_then_the_normal_answer() {
    let (s, http) = server_with(five()).await;
    s.set_fault(RouteKind::GetJob, Fault::delay(Duration::from_millis(100)));
    let a = http.get("jobs/j/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "SUCCEEDED");
    s.clear_faults();
    s.set_fault(
        RouteKind::GetJob,
        Fault::status(504).after(Duration::from_millis(10)),
    );
    assert_eq!(
        http.get("jobs/j/").await.status,
        StatusCode::GATEWAY_TIMEOUT
    );
}

#[tokio::test]
async fn a_stall_reads_the_whole_request_and_never_answers() {
    let s = AgentTestServer::sample()
        .token("t")
        .fault(RouteKind::RunPluginRelease, Fault::stall())
        .build()
        .await
        .unwrap();
    let body = br#"{"action":"train","params":{"epochs":1}}"#;
    let req = format!(
        "POST /plugin_releases/demo@1.0.0/run/ HTTP/1.1\r\nHost: x\r\nAuthorization: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut sock = TcpStream::connect(s.local_addr()).await.unwrap();
    sock.write_all(req.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    let handle = s.handle();
    eventually(|| {
        handle
            .requests(RouteKind::RunPluginRelease)
            .first()
            .is_some_and(|e| e.body_complete)
    })
    .await;
    let e = &s.requests(RouteKind::RunPluginRelease)[0];
    assert_eq!(&e.body[..], body);
    // no answer comes (a bounded wait: the absence of bytes, not a speed)
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_millis(300), sock.read(&mut buf)).await;
    assert!(read.is_err(), "the server answered: {read:?}");
    assert_eq!(s.job_ids().len(), 6, "the run never happened");
    assert_eq!(s.requests(RouteKind::RunPluginRelease).len(), 1);
    // the server is otherwise fine
    let http = Http::new(s.url(), Some("t"));
    assert_eq!(http.get("health/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_journal_tells_an_incomplete_body() {
    let (s, _http) = server_with(five()).await;
    let req = b"POST /plugin_releases/ HTTP/1.1\r\nHost: x\r\nAuthorization: t\r\nContent-Length: 100\r\n\r\n{\"plugin\":";
    let mut sock = TcpStream::connect(s.local_addr()).await.unwrap();
    sock.write_all(req).await.unwrap();
    let handle = s.handle();
    eventually(|| handle.journal().len() == 1).await;
    assert!(!s.journal()[0].body_complete, "the body is still coming");
    drop(sock);
    eventually(|| handle.journal()[0].body.len() == 10).await;
    let e = &s.journal()[0];
    assert_eq!(&e.body[..], b"{\"plugin\":");
    assert!(!e.body_complete);
    assert!(s.plugin_releases().is_empty());
}

#[tokio::test]
async fn close_after_n_bytes_of_a_body() {
    let (s, http) = server_with(five()).await;
    s.set_fault(RouteKind::GetJob, Fault::close_after_bytes(10));
    let req = b"GET /jobs/j/ HTTP/1.1\r\nHost: x\r\nAuthorization: t\r\n\r\n";
    let (answer, closed) = raw_exchange(s.local_addr(), req, Duration::from_secs(10)).await;
    assert!(closed, "the server hung up");
    let (head, body) = split_raw(&answer);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let promised: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    assert_eq!(body.len(), 10);
    assert!(promised > 10, "{promised}");
    assert!(body.starts_with(b"{\""));
    // a hyper client sees an incomplete body
    let res = http.stream("jobs/j/").await;
    assert!(res.into_body().collect().await.is_err());
}

#[tokio::test]
async fn close_after_n_bytes_cuts_the_http_stream() {
    let (s, http) = server_with(JobSpec::new("j").generate(1000, 50)).await;
    s.set_fault(RouteKind::TailHttp, Fault::close_after_bytes(500));
    let res = http.stream("jobs/j/logs/stream/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let (lines, complete) = stream_lines(res).await;
    assert!(!complete, "cut mid-stream");
    let got: usize = lines.iter().map(|l| l.len() + 1).sum::<usize>() - 1;
    assert_eq!(got, 500);
    assert!(!sse_events(&lines).iter().any(|e| e["type"] == "complete"));
}

#[tokio::test]
async fn refused_websocket_upgrades_leave_http_streaming() {
    let (s, http) = server_with(five()).await;
    s.set_fault(
        RouteKind::TailWebSocket,
        Fault::status(503).header("Retry-After", "1"),
    );
    let (status, _) = ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // `auto` falls back: the HTTP stream works
    let (lines, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(complete);
    assert_eq!(
        log_messages(&sse_events(&lines)),
        ["l1", "l2", "l3", "l4", "l5"]
    );
    // plain GET of the logs is another route: not refused
    assert_eq!(http.get("jobs/j/logs/").await.status, StatusCode::OK);
    let refused = s.requests(RouteKind::TailWebSocket);
    assert_eq!(refused.len(), 1);
    assert!(refused[0].upgrade);
}

#[tokio::test]
async fn an_error_event_after_n_lines() {
    let (s, http) = server_with(five().tail_fault(TailFault::error_after(2, "worker died"))).await;
    let ws = ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
        .await
        .unwrap();
    let t = ws_read_all(ws).await;
    assert_eq!(t.close, Some(1011));
    let ev = t.events();
    assert_eq!(log_messages(&ev), ["l1", "l2"]);
    assert_eq!(
        ev.last().unwrap(),
        &json!({"type": "error", "message": "worker died"})
    );
    let (lines, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(complete);
    let ev = sse_events(&lines);
    assert_eq!(log_messages(&ev), ["l1", "l2"]);
    assert_eq!(ev.last().unwrap()["type"], "error");
}

#[tokio::test]
async fn tail_faults_per_protocol_and_for_the_first_n_tails() {
    let (s, http) = server_with(five()).await;
    assert!(s.set_tail_fault("j", TailFault::error_after(1, "once").http_only().times(1)));
    assert!(!s.set_tail_fault("nope", TailFault::not_json()));
    let t = ws_read_all(
        ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(log_messages(&t.events()).len(), 5, "not on the WebSocket");
    let (lines, _) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert_eq!(sse_events(&lines).last().unwrap()["type"], "error");
    let (lines, _) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert_eq!(
        sse_events(&lines).last().unwrap()["type"],
        "complete",
        "used up"
    );
    // a fault for every job
    s.set_tail_fault_all(TailFault::drop_after(1));
    let (_, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(!complete);
    assert!(s.clear_tail_faults("j"));
    let (_, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(complete);
}

#[tokio::test]
async fn a_dropped_connection_after_n_events() {
    let (s, http) = server_with(five().tail_fault(TailFault::drop_after(3))).await;
    let t = ws_read_all(
        ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(log_messages(&t.events()), ["l1", "l2", "l3"]);
    assert_eq!(t.close, None, "no close frame");
    assert!(t.error.is_some(), "the connection just ended");
    let (lines, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(!complete, "no last chunk");
    assert_eq!(log_messages(&sse_events(&lines)), ["l1", "l2", "l3"]);
}

#[tokio::test]
async fn frames_and_events_that_are_not_json() {
    let (s, http) = server_with(five().tail_fault(TailFault::not_json())).await;
    let t = ws_read_all(
        ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(&t.texts[..5], ["l1", "l2", "l3", "l4", "l5"]);
    assert_eq!(t.texts[5], r#"{"type":"complete"}"#);
    let (lines, _) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert_eq!(lines[0], "data: l1");
    assert_eq!(lines[1], "");
    let (s2, http2) = server_with(five().tail_fault(TailFault::bare_lines())).await;
    let (lines, _) = stream_lines(http2.stream("jobs/j/logs/stream/").await).await;
    assert_eq!(&lines[..5], ["l1", "l2", "l3", "l4", "l5"]);
    assert_eq!(lines[5], r#"data: {"type":"complete"}"#);
    drop(s2);
}

#[tokio::test]
async fn an_oversized_message_in_one_frame() {
    let (s, http) = server_with(five().tail_fault(TailFault::oversized(2, 100_000))).await;
    let t = ws_read_all(
        ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
            .await
            .unwrap(),
    )
    .await;
    let msgs = log_messages(&t.events());
    assert_eq!(msgs.len(), 6);
    assert_eq!(msgs[2].len(), 100_000);
    assert_eq!(msgs[3], "l3", "the tail goes on");
    let (lines, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(complete);
    assert_eq!(log_messages(&sse_events(&lines))[2].len(), 100_000);
}

#[tokio::test]
async fn an_oversized_message_in_many_fragments() {
    let (s, http) =
        server_with(five().tail_fault(TailFault::oversized(0, 50_000).fragmented(1000))).await;
    let mut ws = ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
        .await
        .unwrap();
    // raw frames: a text frame without FIN, continuation frames, the last with FIN
    let mut frames = Vec::new();
    loop {
        let f = ws.read_frame().await.unwrap();
        frames.push((f.opcode, f.fin, f.payload.to_vec()));
        if f.fin {
            break;
        }
    }
    assert!(frames.len() > 40);
    assert_eq!((frames[0].0, frames[0].1), (OpCode::Text, false));
    assert!(frames[1..].iter().all(|f| f.0 == OpCode::Continuation));
    assert!(frames[..frames.len() - 1]
        .iter()
        .all(|f| !f.1 && f.2.len() == 1000));
    let whole: Vec<u8> = frames.iter().flat_map(|f| f.2.clone()).collect();
    let ev: Value = serde_json::from_slice(&whole).unwrap();
    assert_eq!(ev["message"].as_str().unwrap().len(), 50_000);
    // then the tail goes on
    let next = ws.read_frame().await.unwrap();
    assert_eq!(&next.payload[..], br#"{"type":"log","message":"l1"}"#);
    // over HTTP: the same event, in many chunks
    let (lines, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(complete);
    let msgs = log_messages(&sse_events(&lines));
    assert_eq!(msgs[0].len(), 50_000);
    assert_eq!(msgs[1], "l1");
}

#[tokio::test]
async fn an_endless_line_until_the_client_hangs_up() {
    let (s, http) = server_with(five().tail_fault(TailFault::endless_line(2))).await;
    let res = http.stream("jobs/j/logs/stream/").await;
    let mut body = res.into_body();
    let mut buf = Vec::new();
    while buf.len() < 2 << 20 {
        let f = body.frame().await.unwrap().unwrap();
        buf.extend_from_slice(&f.into_data().unwrap());
    }
    let text = String::from_utf8(buf).unwrap();
    let (head, tail) = text.split_at(text.rfind("\n\n").unwrap() + 2);
    assert_eq!(
        log_messages(&sse_events(
            &head.split('\n').map(str::to_owned).collect::<Vec<_>>()
        )),
        ["l1", "l2"]
    );
    assert!(
        tail.len() > 1 << 20 && tail.bytes().all(|b| b == b'x'),
        "no newline ever"
    );
    drop(body);
    // on a WebSocket: an endless message of continuation frames
    let mut ws = ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(ws.read_frame().await.unwrap().opcode, OpCode::Text);
    }
    let first = ws.read_frame().await.unwrap();
    assert_eq!((first.opcode, first.fin), (OpCode::Text, false));
    for _ in 0..64 {
        let f = ws.read_frame().await.unwrap();
        assert_eq!((f.opcode, f.fin), (OpCode::Continuation, false));
    }
    drop(ws);
    // the server is fine afterwards
    assert_eq!(http.get("health/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn invalid_utf8_in_a_frame_and_a_line() {
    let (s, http) = server_with(five().tail_fault(TailFault::invalid_utf8(1))).await;
    let mut ws = ws_connect(s.local_addr(), "/jobs/j/logs/", Some("t"))
        .await
        .unwrap();
    assert_eq!(ws.read_frame().await.unwrap().opcode, OpCode::Text);
    let err = ws
        .read_frame()
        .await
        .err()
        .expect("a text frame that is not UTF-8");
    assert!(
        matches!(err, fastwebsockets::WebSocketError::InvalidUTF8),
        "{err:?}"
    );
    let res = http.stream("jobs/j/logs/stream/").await;
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert!(bytes.windows(2).any(|w| w == b"\xff\xfe"));
    assert!(std::str::from_utf8(&bytes).is_err());
    let lossy = String::from_utf8_lossy(&bytes);
    assert!(
        lossy.contains("l5") && lossy.contains("complete"),
        "the tail goes on"
    );
}

#[tokio::test]
async fn many_faults_at_once_on_the_sample() {
    let s = AgentTestServer::sample()
        .tail_fault(TailFault::error_after(3, "global").websocket_only())
        .build()
        .await
        .unwrap();
    let t = ws_read_all(
        ws_connect(
            s.local_addr(),
            &format!("/jobs/{SUCCEEDED_JOB}/logs/"),
            Some(s.token()),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(log_messages(&t.events()).len(), 3);
    let t = ws_read_all(
        ws_connect(
            s.local_addr(),
            &format!("/jobs/{RUNNING_JOB}/logs/"),
            Some(s.token()),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(t.events().last().unwrap()["message"], "global");
}
