//! Smoke tests of the async tail against the project's test server (real HTTP and
//! WebSocket on loopback). The full matrix lives in the workspace `tests/` crate.

use agent_client_async::{AsyncAgentClient, ClientError, LogTail, Protocol, TailOptions};
use agent_testkit::{AgentTestServer, Fault, JobSpec, RouteKind, TailFault};
use futures_core::Stream;
use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

async fn drain(tail: &mut LogTail) -> (Vec<String>, Option<ClientError>) {
    let mut lines = Vec::new();
    while let Some(item) = poll_fn(|cx| Pin::new(&mut *tail).poll_next(cx)).await {
        match item {
            Ok(line) => lines.push(line),
            Err(e) => return (lines, Some(e)),
        }
    }
    (lines, None)
}

fn client(server: &AgentTestServer) -> AsyncAgentClient {
    AsyncAgentClient::new(server.url(), server.token()).unwrap()
}

fn generated(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("line {i} of the log")).collect()
}

#[tokio::test]
async fn both_protocols_deliver_the_same_lines() {
    let lines = generated(50);
    let server = AgentTestServer::builder()
        .job(JobSpec::new("raysubmit_1").lines(lines.clone()))
        .tail_fault(TailFault::oversized(10, 64 * 1024).fragmented(1024))
        .build()
        .await
        .unwrap();
    let client = client(&server);
    for protocol in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let mut tail = client
            .tail_job_logs("raysubmit_1", TailOptions::new().protocol(protocol))
            .await
            .unwrap();
        let (got, err) = drain(&mut tail).await;
        assert!(err.is_none(), "{protocol}: {err:?}");
        assert_eq!(got, lines, "{protocol}");
        let c = tail.counters();
        assert_eq!(c.delivered, 50, "{protocol}: {c:?}");
        assert_eq!(c.skipped_oversized, 1, "{protocol}: {c:?}");
    }
}

#[tokio::test]
async fn auto_falls_back_to_http_when_the_upgrade_is_refused() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new("raysubmit_1").lines(generated(5)))
        .fault(RouteKind::TailWebSocket, Fault::status(503))
        .build()
        .await
        .unwrap();
    let mut tail = client(&server)
        .tail_job_logs("raysubmit_1", TailOptions::new())
        .await
        .unwrap();
    assert_eq!(tail.protocol_used(), Protocol::Http);
    let (got, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, generated(5));
}

#[tokio::test]
async fn a_websocket_dropped_mid_stream_resumes_over_http_without_duplicates() {
    let lines = generated(100);
    let server = AgentTestServer::builder()
        .job(JobSpec::new("raysubmit_1").lines(lines.clone()))
        .tail_fault(TailFault::drop_after(30).websocket_only().times(1))
        .build()
        .await
        .unwrap();
    let mut tail = client(&server)
        .tail_job_logs("raysubmit_1", TailOptions::new())
        .await
        .unwrap();
    let (got, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, lines);
    assert_eq!(tail.protocol_used(), Protocol::Http);
    let c = tail.counters();
    // The test agent numbers its lines: the resume asks for line 31, nothing is
    // replayed (issue 22).
    assert_eq!((c.delivered, c.replayed), (100, 0), "{c:?}");
    let resumed = server.requests(RouteKind::TailHttp);
    assert_eq!(resumed.len(), 1);
    assert!(
        resumed[0].path.ends_with("?from_line=31"),
        "{}",
        resumed[0].path
    );
}

#[tokio::test]
async fn an_error_event_is_a_500_and_never_falls_back() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new("raysubmit_1").lines(generated(10)))
        .tail_fault(TailFault::error_after(2, "worker died"))
        .build()
        .await
        .unwrap();
    let mut tail = client(&server)
        .tail_job_logs("raysubmit_1", TailOptions::new())
        .await
        .unwrap();
    let (got, err) = drain(&mut tail).await;
    assert_eq!(got, generated(2));
    let err = err.expect("an error event is an error");
    assert!(matches!(err, ClientError::StreamFailed { .. }), "{err:?}");
    assert!(server.requests(RouteKind::TailHttp).is_empty());
}

#[tokio::test]
async fn a_quiet_running_job_is_an_idle_timeout_not_the_end() {
    let server = AgentTestServer::builder()
        .job(
            JobSpec::new("raysubmit_1")
                .lines(["started"])
                .keeps_running(),
        )
        .build()
        .await
        .unwrap();
    // HTTP only: a WebSocket server that answers pings is alive, whatever the
    // idle time-out (issue 11; the WebSocket 408 is in tests/tests/tails.rs).
    for protocol in [Protocol::Http] {
        let options = TailOptions::new()
            .protocol(protocol)
            .timeout(Duration::from_millis(300));
        let mut tail = client(&server)
            .tail_job_logs("raysubmit_1", options)
            .await
            .unwrap();
        let (got, err) = drain(&mut tail).await;
        assert_eq!(got, ["started"], "{protocol}");
        assert_eq!(err.map(|e| e.status_code()), Some(408), "{protocol}");
    }
}

#[tokio::test]
async fn an_unknown_job_is_a_404_from_the_call() {
    let server = AgentTestServer::builder().build().await.unwrap();
    for protocol in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let err = client(&server)
            .tail_job_logs("raysubmit_nope", TailOptions::new().protocol(protocol))
            .await
            .unwrap_err();
        assert_eq!(err.status_code(), 404, "{protocol}: {err}");
    }
}
