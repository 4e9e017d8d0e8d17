//! A backend adds headers to its successful answers through
//! `RequestContext::response_headers` (the gateway's `X-Agent-Source: archive`):
//! on JSON answers, log answers (gzipped too), HTTP tails and WebSocket upgrades;
//! never on an error answer, and never on another request's answer.

#[macro_use]
mod support;

use std::time::Duration;

use agent_proto::{JobId, NodeId, PluginLookup, ServeAppName, TaskId};
use agent_server::{
    serve, AgentBackend, BackendError, BackendResult, LogBody, RequestContext, ServeOptions,
    TailEvent, TailProtocol, TailStream,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Marks the answers about `raysubmit_archived` as coming from an archive.
struct Marking;

fn nope<T>() -> BackendResult<T> {
    Err(BackendError::not_found())
}

fn mark(ctx: &RequestContext, job: &JobId) {
    if job.as_str() == "raysubmit_archived" {
        ctx.response_headers.insert("x-agent-source", "archive");
    }
}

test_backend!(Marking {
    async fn health(&self, _: &RequestContext) -> BackendResult<Value> {
        nope()
    }
    async fn list_jobs(&self, _: &RequestContext) -> BackendResult<Value> {
        Ok(json!([]))
    }
    async fn get_job(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<Value> {
        mark(ctx, job);
        if job.as_str() == "raysubmit_gone" {
            // set, then failed: the error answer does not carry it
            ctx.response_headers.insert("x-agent-source", "archive");
            return nope();
        }
        Ok(json!({"submission_id": job.as_str()}))
    }
    async fn job_logs(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<LogBody> {
        mark(ctx, job);
        Ok(LogBody::from("a\nb\n"))
    }
    async fn stop_job(&self, _: &RequestContext, _: &JobId) -> BackendResult<Value> {
        nope()
    }
    async fn tail(
        &self,
        ctx: &RequestContext,
        _: &JobId,
        _: TailProtocol,
    ) -> BackendResult<TailStream> {
        ctx.response_headers.insert("x-agent-source", "archive");
        Ok(Box::pin(futures_util::stream::iter([
            TailEvent::Log("one".into()),
            TailEvent::Complete,
        ])))
    }
});

/// A bound against hanging, not a timing check.
const LIMIT: Duration = Duration::from_secs(10);

async fn get(addr: std::net::SocketAddr, path: &str, extra: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: tok\r\n{extra}Connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(LIMIT, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn head(answer: &str) -> String {
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase()
}

#[tokio::test]
async fn backend_headers_go_on_successful_answers_only() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(
        listener,
        std::sync::Arc::new(Marking),
        ServeOptions::new().token("tok"),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let marked = "x-agent-source: archive";

    let a = get(addr, "/jobs/raysubmit_archived/", "").await;
    assert!(
        a.starts_with("HTTP/1.1 200") && head(&a).contains(marked),
        "{a}"
    );
    let a = get(addr, "/jobs/raysubmit_live/", "").await;
    assert!(
        a.starts_with("HTTP/1.1 200") && !head(&a).contains("x-agent-source"),
        "{a}"
    );
    let a = get(addr, "/jobs/raysubmit_gone/", "").await;
    assert!(
        a.starts_with("HTTP/1.1 404") && !head(&a).contains("x-agent-source"),
        "{a}"
    );

    let a = get(addr, "/jobs/raysubmit_archived/logs/", "").await;
    assert!(head(&a).contains(marked), "{a}");
    let a = get(
        addr,
        "/jobs/raysubmit_archived/logs/",
        "Accept-Encoding: gzip\r\n",
    )
    .await;
    let h = head(&a);
    assert!(
        h.contains(marked) && h.contains("content-encoding: gzip"),
        "{a}"
    );

    let a = get(addr, "/jobs/raysubmit_x/logs/stream/", "").await;
    assert!(
        a.starts_with("HTTP/1.1 200") && head(&a).contains(marked),
        "{a}"
    );

    let a = get(
        addr,
        "/jobs/raysubmit_x/logs/",
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    )
    .await;
    assert!(
        a.starts_with("HTTP/1.1 101") && head(&a).contains(marked),
        "{a}"
    );
    server.shutdown().await;
}
