//! A deployment can put its own transport under the clients: an in-memory one
//! (`MemoryTransport`) serving requests, WebSocket tails and HTTP stream tails to
//! both clients, failing and going quiet on demand; and a wrapper around the default
//! `HttpTransport` that adds a header, in front of the real test server.

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, JobStatus, Protocol, RetryPolicy, TailOptions, Transport,
};
use agent_client_blocking::AgentClient;
use agent_proto::TimeoutKind;
use agent_testkit::AgentTestServer;
use agent_transport::memory::{MemoryEnd, MemoryReply, MemoryTransport};
use agent_transport::{
    HttpTransport, Request, Response, StreamingResponse, WsMessage, WsOptions, WsStream,
};
use bytes::Bytes;
use common::{drain, drain_blocking, on_thread, IDLE};
use http::HeaderValue;
use std::sync::{Arc, Mutex};

const JOBS: &str = r#"[{"submission_id":"raysubmit_mem1","status":"RUNNING","entrypoint":"python x.py","cluster":"in-memory"}]"#;

fn complete() -> Bytes {
    Bytes::from_static(br#"{"type":"complete"}"#)
}

/// An agent in memory: a job list, and the log of `raysubmit_mem1` over both
/// protocols (a JSON event, an event without type, a plain-text frame, complete).
fn agent() -> MemoryTransport {
    MemoryTransport::new(|req: Request| {
        Ok(match req.path.as_str() {
            "jobs/" => MemoryReply::body(200, JOBS),
            "jobs/raysubmit_mem1/logs/" => MemoryReply::messages([
                Bytes::from_static(br#"{"type":"log","message":"one"}"#),
                Bytes::from_static(br#"{"message":"two"}"#),
                Bytes::from_static(b"three"),
                complete(),
            ]),
            "jobs/raysubmit_mem1/logs/stream/" => MemoryReply::chunks(
                200,
                [
                    "data: {\"type\":\"log\",\"message\":\"one\"}\n\n",
                    "data: {\"message\":\"two\"}\n\nthr",
                    "ee\r\n\ndata: {\"type\":\"com",
                    "plete\"}\n\n",
                ],
            ),
            "jobs/raysubmit_quiet/logs/" => MemoryReply::WebSocket {
                messages: vec![WsMessage::Text(Bytes::from_static(b"hello"))],
                end: MemoryEnd::Hang,
            },
            "jobs/raysubmit_broken/logs/" => MemoryReply::WebSocket {
                messages: vec![
                    WsMessage::Text(Bytes::from_static(b"a")),
                    WsMessage::Text(Bytes::from_static(b"b")),
                ],
                end: MemoryEnd::Fail(ClientError::connect("reset")),
            },
            "jobs/raysubmit_broken/logs/stream/" => MemoryReply::chunks(
                200,
                [
                    "data: a\n\ndata: b\n\n",
                    "data: c\n\n",
                    "data: {\"type\":\"complete\"}\n",
                ],
            ),
            "health/" => return Err(ClientError::connect("the broker is down")),
            _ => MemoryReply::body(404, r#"{"detail":"Not found."}"#),
        })
    })
}

fn client(memory: &MemoryTransport) -> AsyncAgentClient {
    AsyncAgentClient::builder("http://in-memory/", "mem-token")
        .transport(Arc::new(memory.clone()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_in_memory_transport_serves_the_async_client() {
    let memory = agent();
    let c = client(&memory);
    let jobs = c.list_jobs().await.unwrap();
    assert_eq!(jobs[0].id(), Some("raysubmit_mem1"));
    assert_eq!(jobs[0].status, JobStatus::Running);
    assert_eq!(jobs[0].extra["cluster"], "in-memory");
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let mut t = c
            .tail_job_logs("raysubmit_mem1", TailOptions::new().protocol(p))
            .await
            .unwrap();
        let (lines, err) = drain(&mut t).await;
        assert!(err.is_none(), "{p}: {err:?}");
        assert_eq!(lines, ["one", "two", "three"], "{p}");
    }
    let e = c.get_job("raysubmit_other").await.unwrap_err();
    assert_eq!(e.status_code(), 404);
    // the transport saw each request, with the client's headers
    let requests = memory.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "jobs/",
            "jobs/raysubmit_mem1/logs/",
            "jobs/raysubmit_mem1/logs/stream/",
            "jobs/raysubmit_mem1/logs/",
            "jobs/raysubmit_other/",
        ]
    );
    assert!(requests
        .iter()
        .all(|r| r.headers["authorization"] == "mem-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_transport_serves_the_blocking_client() {
    let memory = agent();
    let b = AgentClient::builder("http://in-memory/", "mem-token")
        .transport(Arc::new(memory.clone()))
        .build()
        .unwrap();
    let (jobs, lines) = on_thread(move || {
        let jobs = b.list_jobs().unwrap();
        let mut t = b
            .tail_job_logs(
                "raysubmit_mem1",
                TailOptions::new().protocol(Protocol::Http),
            )
            .unwrap();
        let (lines, err) = drain_blocking(&mut t);
        assert!(err.is_none(), "{err:?}");
        (jobs, lines)
    })
    .await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(lines, ["one", "two", "three"]);
    assert_eq!(memory.requests().len(), 2);
}

/// The client's rules hold over any transport: its errors pass through, a quiet
/// WebSocket times out (408), and an `auto` tail whose WebSocket breaks resumes on
/// the transport's HTTP stream without repeating a line.
#[tokio::test]
async fn the_clients_rules_hold_over_a_custom_transport() {
    let memory = agent();
    let c = client(&memory);
    let e = c.health_check().await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Connect { message, .. } if message == "the broker is down"),
        "{e:?}"
    );

    let mut t = c
        .tail_job_logs(
            "raysubmit_quiet",
            TailOptions::new()
                .protocol(Protocol::WebSocket)
                .timeout(IDLE),
        )
        .await
        .unwrap();
    let (lines, err) = drain(&mut t).await;
    assert_eq!(lines, ["hello"]);
    assert!(
        matches!(
            err,
            Some(ClientError::Timeout {
                kind: TimeoutKind::Idle,
                ..
            })
        ),
        "{err:?}"
    );

    let mut t = c
        .tail_job_logs("raysubmit_broken", TailOptions::new())
        .await
        .unwrap();
    let (lines, err) = drain(&mut t).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, ["a", "b", "c"]);
    assert_eq!(t.protocol_used(), Protocol::Http);
    assert_eq!(t.counters().replayed, 2);

    // without auto, the same break is an error after the lines it delivered
    let mut t = c
        .tail_job_logs(
            "raysubmit_broken",
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await
        .unwrap();
    let (lines, err) = drain(&mut t).await;
    assert_eq!(lines, ["a", "b"]);
    assert_eq!(err.map(|e| e.status_code()), Some(503));
}

/// A deployment's own transport around the default one: it stamps a header on
/// every request, HTTP and WebSocket alike, and keeps an audit of the paths.
#[derive(Debug)]
struct Stamped {
    inner: HttpTransport,
    audit: Mutex<Vec<String>>,
}

impl Stamped {
    fn stamp(&self, mut req: Request) -> Request {
        self.audit.lock().unwrap().push(req.path.clone());
        req.headers
            .insert("x-deployment", HeaderValue::from_static("blue"));
        req
    }
}

#[async_trait::async_trait]
impl Transport for Stamped {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        self.inner.request(self.stamp(request)).await
    }

    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
        self.inner.stream(self.stamp(request)).await
    }

    async fn websocket(
        &self,
        request: Request,
        options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        self.inner.websocket(self.stamp(request), options).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapper_around_the_default_transport() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let stamped = Arc::new(Stamped {
        inner: HttpTransport::builder(server.url()).build().unwrap(),
        audit: Mutex::new(Vec::new()),
    });
    let c = AsyncAgentClient::builder("http://ignored.invalid/", server.token())
        .transport(stamped.clone())
        .build()
        .unwrap();
    assert_eq!(c.list_nodes().await.unwrap().len(), 2);
    for p in [Protocol::WebSocket, Protocol::Http] {
        let mut t = c
            .tail_job_logs("raysubmit_capture1", TailOptions::new().protocol(p))
            .await
            .unwrap();
        let (lines, err) = drain(&mut t).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(lines.last().map(String::as_str), Some("last line"));
    }
    let journal = server.journal();
    assert_eq!(journal.len(), 3);
    assert!(journal
        .iter()
        .all(|e| e.header("x-deployment") == Some("blue")));
    assert_eq!(
        *stamped.audit.lock().unwrap(),
        [
            "nodes/",
            "jobs/raysubmit_capture1/logs/",
            "jobs/raysubmit_capture1/logs/stream/"
        ]
    );
}
