//! `RetryingTransport` over an instrumented in-memory transport, in paused tokio
//! time (waits cost nothing and are measured exactly).

use agent_proto::{ClientError, TimeoutKind};
use agent_transport::memory::{MemoryReply, MemoryTransport};
use agent_transport::{Request, Response, RetryPolicy, RetryingTransport, Transport, WsOptions};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A transport that answers call `n` (from 0) with `script(n)`, and counts calls.
fn scripted(
    script: impl Fn(usize) -> Result<MemoryReply, ClientError> + Send + Sync + 'static,
) -> (MemoryTransport, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let t = MemoryTransport::new(move |_req| script(counter.fetch_add(1, Ordering::SeqCst)));
    (t, calls)
}

fn connect_error() -> ClientError {
    ClientError::connect("connection refused")
}

fn read_failure(method: &str) -> ClientError {
    ClientError::incomplete(
        method,
        "x/",
        ClientError::Timeout {
            kind: TimeoutKind::Read,
            after: Duration::from_secs(10),
        },
    )
}

fn answer(status: u16, retry_after: Option<&'static str>) -> MemoryReply {
    let mut headers = HeaderMap::new();
    if let Some(r) = retry_after {
        headers.insert("retry-after", HeaderValue::from_static(r));
    }
    MemoryReply::Response(Response {
        status,
        headers,
        body: Bytes::from_static(b"{}"),
    })
}

const WS: WsOptions = WsOptions {
    max_message_size: 1024,
    ping_interval: Duration::from_secs(10),
};

#[tokio::test(start_paused = true)]
async fn post_is_sent_once_after_a_read_failure() {
    let (t, calls) = scripted(|_| Err(read_failure("POST")));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let e = t
        .request(Request::new(Method::POST, "plugin_releases/x/run/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn get_is_not_retried_after_a_read_failure_either() {
    let (t, calls) = scripted(|_| Err(read_failure("GET")));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    assert!(t.request(Request::new(Method::GET, "jobs/")).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_is_not_retried_after_a_read_failure() {
    let (t, calls) = scripted(|_| Err(read_failure("GET")));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let e = t
        .stream(Request::new(Method::GET, "jobs/x/logs/stream/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn post_is_not_resent_after_a_5xx_answer() {
    let (t, calls) = scripted(|_| Ok(answer(503, None)));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let resp = t
        .request(Request::new(Method::POST, "jobs/j/stop/"))
        .await
        .unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn post_is_resent_after_a_connect_error() {
    let (t, calls) = scripted(|n| {
        if n < 2 {
            Err(connect_error())
        } else {
            Ok(answer(200, None))
        }
    });
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let resp = t
        .request(Request::new(Method::POST, "plugin_releases/"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn connect_time_outs_are_retried_with_growing_back_off() {
    let (t, calls) = scripted(|_| {
        Err(ClientError::Timeout {
            kind: TimeoutKind::Connect,
            after: Duration::from_secs(3),
        })
    });
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let start = Instant::now();
    let e = t
        .request(Request::new(Method::GET, "jobs/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // 100 + 200 + 400 ms nominal, each jittered between half and all of it.
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited <= Duration::from_millis(700),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn get_is_retried_on_502_503_504_then_gives_the_last_answer() {
    let (t, calls) = scripted(|n| Ok(answer([502, 503, 504, 503][n % 4], None)));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let resp = t.request(Request::new(Method::GET, "jobs/")).await.unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    let (t, calls) = scripted(|n| Ok(answer(if n == 0 { 503 } else { 200 }, None)));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let resp = t
        .request(Request::new(Method::DELETE, "serve_applications/a/"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn other_statuses_and_gpu_unavailable_are_not_retried() {
    for (status, body) in [
        (500, &b"{}"[..]),
        (404, &b"{}"[..]),
        (
            503,
            &br#"{"error_type":"gpu_unavailable","detail":"no GPU"}"#[..],
        ),
    ] {
        let body = Bytes::from_static(body);
        let (t, calls) = scripted(move |_| {
            Ok(MemoryReply::Response(Response {
                status,
                headers: HeaderMap::new(),
                body: body.clone(),
            }))
        });
        let t = RetryingTransport::new(t, RetryPolicy::default());
        let resp = t.request(Request::new(Method::GET, "x/")).await.unwrap();
        assert_eq!(resp.status, status);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{status}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_capped() {
    // A modest Retry-After is waited out as given.
    let (t, _) = scripted(|n| Ok(answer(if n == 0 { 503 } else { 200 }, Some("7"))));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let start = Instant::now();
    assert_eq!(
        t.request(Request::new(Method::GET, "x/"))
            .await
            .unwrap()
            .status,
        200
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "{waited:?}"
    );

    // Retry-After: 99999 waits 60 s at most.
    let (t, _) = scripted(|n| Ok(answer(if n == 0 { 503 } else { 200 }, Some("99999"))));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let start = Instant::now();
    assert_eq!(
        t.request(Request::new(Method::GET, "x/"))
            .await
            .unwrap()
            .status,
        200
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(61),
        "{waited:?}"
    );

    // The cap is configurable.
    let policy = RetryPolicy {
        max_retry_after: Duration::from_millis(250),
        ..RetryPolicy::default()
    };
    let (t, _) = scripted(|n| Ok(answer(if n == 0 { 503 } else { 200 }, Some("99999"))));
    let t = RetryingTransport::new(t, policy);
    let start = Instant::now();
    assert_eq!(
        t.request(Request::new(Method::GET, "x/"))
            .await
            .unwrap()
            .status,
        200
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(300),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_retries_with_the_none_policy() {
    let (t, calls) = scripted(|_| Err(connect_error()));
    let t = RetryingTransport::new(t, RetryPolicy::none());
    assert!(t.request(Request::new(Method::GET, "x/")).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn streams_are_retried_like_requests() {
    let (t, calls) = scripted(|n| match n {
        0 => Err(connect_error()),
        1 => Ok(answer(502, None)),
        _ => Ok(MemoryReply::chunks(200, ["a\n", "b\n"])),
    });
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let mut resp = t
        .stream(Request::new(Method::GET, "jobs/j/logs/stream/"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.body.next_chunk().await.unwrap().as_deref(),
        Some(&b"a\n"[..])
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn websockets_are_retried_on_connect_errors_only() {
    let (t, calls) = scripted(|n| match n {
        0 => Err(connect_error()),
        _ => Ok(MemoryReply::messages(["hello"])),
    });
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let mut ws = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), WS)
        .await
        .unwrap();
    assert!(ws.next_message().await.unwrap().is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let (t, calls) = scripted(|_| Ok(answer(503, None)));
    let t = RetryingTransport::new(t, RetryPolicy::default());
    let e = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), WS)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status_code(), 503);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_arc_dyn_transport_can_be_wrapped() {
    let (t, calls) = scripted(|n| {
        if n == 0 {
            Err(connect_error())
        } else {
            Ok(answer(200, None))
        }
    });
    let shared: Arc<dyn Transport> = Arc::new(t);
    let t: Arc<dyn Transport> = Arc::new(RetryingTransport::new(shared, RetryPolicy::default()));
    assert_eq!(
        t.request(Request::new(Method::GET, "x/"))
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
