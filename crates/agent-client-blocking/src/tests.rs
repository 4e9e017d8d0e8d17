//! The blocking client against a tiny in-memory transport: calls, refusal inside a
//! runtime, tails as iterators, close and drop.

use super::*;
use agent_client_async::LogTail;
use agent_transport::{
    BodyStream, Request, Response, StreamingResponse, WsMessage, WsOptions, WsStream,
};
use bytes::Bytes;
use http::HeaderMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answers `health/`, `jobs/` and `jobs/raysubmit_1/`, 404 for anything else; its
/// WebSocket tail sends `lines`, then `complete` unless `hang`.
#[derive(Default)]
struct Fake {
    requests: AtomicUsize,
    lines: Vec<&'static str>,
    hang: bool,
    tail_dropped: Arc<AtomicBool>,
    paths: Mutex<Vec<String>>,
}

impl fmt::Debug for Fake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fake")
    }
}

struct FakeWs {
    lines: std::collections::VecDeque<&'static str>,
    hang: bool,
    dropped: Arc<AtomicBool>,
}

impl Drop for FakeWs {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

impl futures_core::Stream for FakeWs {
    type Item = Result<WsMessage, ClientError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(Some(Ok(match self.lines.pop_front() {
            Some(line) => WsMessage::Text(Bytes::from_static(line.as_bytes())),
            None if self.hang => return std::task::Poll::Pending,
            None => {
                self.hang = true; // `complete` once, then silence
                WsMessage::Text(Bytes::from_static(br#"{"type":"complete"}"#))
            }
        })))
    }
}

impl WsStream for FakeWs {
    fn poll_close(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

struct NoBody;

impl futures_core::Stream for NoBody {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(None)
    }
}

impl BodyStream for NoBody {}

#[async_trait::async_trait]
impl Transport for Fake {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.paths.lock().unwrap().push(request.path.clone());
        let (status, body): (u16, &'static str) = match request
            .path
            .split('?')
            .next()
            .unwrap_or_default()
        {
            "health/" => (200, r#"{"status":"ok"}"#),
            "jobs/" => (
                200,
                r#"[{"submission_id":"raysubmit_1","status":"RUNNING","entrypoint":"python x.py"}]"#,
            ),
            "jobs/raysubmit_1/" => (
                200,
                r#"{"submission_id":"raysubmit_1","status":"RUNNING","entrypoint":"python x.py"}"#,
            ),
            _ => (404, r#"{"detail":"not found"}"#),
        };
        Ok(Response {
            status,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        })
    }

    async fn stream(&self, _request: Request) -> Result<StreamingResponse, ClientError> {
        Ok(StreamingResponse {
            status: 404,
            headers: HeaderMap::new(),
            body: Box::new(NoBody),
        })
    }

    async fn websocket(
        &self,
        request: Request,
        _options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        if request.path != "jobs/raysubmit_1/logs/" {
            return Err(ClientError::from_response(404, None, b"no such job"));
        }
        Ok(Box::new(FakeWs {
            lines: self.lines.iter().copied().collect(),
            hang: self.hang,
            dropped: Arc::clone(&self.tail_dropped),
        }))
    }
}

fn client_of(fake: &Arc<Fake>) -> AgentClient {
    AgentClient::builder("http://agent.invalid/", "tok")
        .transport(Arc::clone(fake) as Arc<dyn Transport>)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[test]
fn clients_are_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<AgentClient>();
    check::<agent_client_async::AsyncAgentClient>();
    fn send<T: Send + 'static>() {}
    send::<LogTailIter>();
    send::<LogTail>();
}

#[test]
fn calls_block_and_answer() {
    let fake = Arc::new(Fake::default());
    let client = client_of(&fake);
    assert_eq!(client.health_check().unwrap().status.as_deref(), Some("ok"));
    assert_eq!(client.list_jobs().unwrap().len(), 1);
    assert_eq!(
        client.get_job("raysubmit_1").unwrap().id(),
        Some("raysubmit_1")
    );
    assert_eq!(
        client.get_job("raysubmit_2").unwrap_err().status_code(),
        404
    );
    // Validated before any request.
    let before = fake.requests.load(Ordering::SeqCst);
    assert_eq!(client.get_job("../health").unwrap_err().status_code(), 400);
    assert_eq!(client.get_node("a/b").unwrap_err().status_code(), 400);
    assert_eq!(fake.requests.load(Ordering::SeqCst), before);
    // Clones share everything, from any thread.
    let other = client.clone();
    std::thread::spawn(move || other.list_jobs().unwrap())
        .join()
        .unwrap();
    let query = client
        .raw_request(http::Method::GET, "health/", &[("a", "b c")], None)
        .unwrap();
    assert_eq!(query["status"], "ok");
    assert!(fake
        .paths
        .lock()
        .unwrap()
        .contains(&"health/?a=b%20c".to_string()));
}

#[test]
fn a_tail_is_an_iterator() {
    let fake = Arc::new(Fake {
        lines: vec!["one", r#"{"type":"log","message":"two"}"#, "three"],
        ..Fake::default()
    });
    let client = client_of(&fake);
    let mut tail = client
        .tail_job_logs(
            "raysubmit_1",
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .unwrap();
    let lines: Vec<String> = tail.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(lines, ["one", "two", "three"]);
    assert!(tail.next().is_none());
    assert_eq!(tail.counters().delivered, 3);
    assert_eq!(tail.protocol_used(), Protocol::WebSocket);
    let err = client
        .tail_job_logs(
            "raysubmit_2",
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .unwrap_err();
    assert_eq!(err.status_code(), 404);
    assert_eq!(
        client
            .tail_job_logs("../x", TailOptions::new())
            .unwrap_err()
            .status_code(),
        400
    );
}

#[test]
fn dropping_the_iterator_closes_the_connection() {
    let fake = Arc::new(Fake {
        lines: vec!["one"],
        hang: true,
        ..Fake::default()
    });
    let client = client_of(&fake);
    let mut tail = client
        .tail_job_logs("raysubmit_1", TailOptions::new())
        .unwrap();
    assert_eq!(tail.next().unwrap().unwrap(), "one");
    drop(tail);
    // The abort runs on the client's thread; a call through it orders after it.
    client.health_check().unwrap();
    for _ in 0..1000 {
        if fake.tail_dropped.load(Ordering::SeqCst) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(fake.tail_dropped.load(Ordering::SeqCst));
}

#[test]
fn inside_a_runtime_every_call_is_refused_not_a_panic() {
    let fake = Arc::new(Fake {
        lines: vec!["one"],
        hang: true,
        ..Fake::default()
    });
    // A tail opened outside, read inside.
    let outside = client_of(&fake);
    let mut tail = outside
        .tail_job_logs("raysubmit_1", TailOptions::new())
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Building one inside a runtime is fine.
        let client = client_of(&fake);
        let errors = [
            client.health_check().map(drop).unwrap_err(),
            client.list_jobs().map(drop).unwrap_err(),
            client.get_job("raysubmit_1").map(drop).unwrap_err(),
            client.stop_job("raysubmit_1").map(drop).unwrap_err(),
            client
                .tail_job_logs("raysubmit_1", TailOptions::new())
                .map(drop)
                .unwrap_err(),
            client
                .raw_request(http::Method::GET, "health/", &[] as &[(&str, &str)], None)
                .unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.status_code(), 500);
            assert!(
                e.to_string().contains(
                    "AgentClient is blocking and cannot run inside an async runtime; use AsyncAgentClient"
                ),
                "{e}"
            );
        }
        let e = tail.next().unwrap().unwrap_err();
        assert!(matches!(e, ClientError::Usage { .. }));
        assert!(tail.next().is_none());
        // Dropping and closing inside a runtime neither panics nor hangs.
        client.close();
        drop(client);
    });
    drop(rt);
    assert!(outside.health_check().is_ok());
}

#[test]
fn close_stops_every_clone_and_open_tails() {
    let fake = Arc::new(Fake {
        lines: vec!["one"],
        hang: true,
        ..Fake::default()
    });
    let client = client_of(&fake);
    let clone = client.clone();
    let mut tail = client
        .tail_job_logs("raysubmit_1", TailOptions::new())
        .unwrap();
    assert_eq!(tail.next().unwrap().unwrap(), "one");
    let reader = std::thread::spawn(move || tail.next());
    client.close();
    assert!(clone.is_closed());
    let err = clone.health_check().unwrap_err();
    assert_eq!(err.status_code(), 500);
    assert!(matches!(err, ClientError::Usage { .. }));
    let ended = reader.join().unwrap();
    assert!(
        matches!(ended, Some(Err(ClientError::Usage { .. }))),
        "{ended:?}"
    );
    assert!(fake.tail_dropped.load(Ordering::SeqCst));
}

#[test]
fn the_thread_ends_with_the_last_clone() {
    let fake = Arc::new(Fake::default());
    let client = client_of(&fake);
    let clone = client.clone();
    client.health_check().unwrap();
    drop(client);
    assert!(clone.health_check().is_ok());
    drop(clone);
    // Drop joined the thread: nothing holds the transport any more.
    assert_eq!(Arc::strong_count(&fake), 1);
}
