//! A panic in a request's handling never passes silently and never takes the server
//! down: before the answer's head it is answered 500, after it the connection is
//! cut (no last chunk, so the client sees an incomplete answer); both are logged
//! (target `agent_server::panic`) and counted (`agent_server_panics_total`). And an
//! empty log from a stream that panics when polled after its end answers `""`
//! (issue 27). The backend here is a test-only one that panics on purpose.

#[macro_use]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_proto::{JobId, NodeId, PluginLookup, ServeAppName, TaskId};
use agent_server::{
    serve, AgentBackend, BackendError, BackendResult, LogBody, RequestContext, ServeOptions,
    TailProtocol, TailStream,
};
use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Panics in `health/`; `jobs/{id}/logs/` of `raysubmit_empty` is an empty
/// `unfold` stream, of `raysubmit_boom` one piece and then a panic.
struct Panicky;

fn nope<T>() -> BackendResult<T> {
    Err(BackendError::not_found())
}

test_backend!(Panicky {
    async fn health(&self, _: &RequestContext) -> BackendResult<Value> {
        panic!("a backend bug");
    }
    async fn list_jobs(&self, _: &RequestContext) -> BackendResult<Value> {
        Ok(Value::Array(Vec::new()))
    }
    async fn get_job(&self, _: &RequestContext, _: &JobId) -> BackendResult<Value> {
        nope()
    }
    async fn job_logs(&self, _: &RequestContext, job: &JobId) -> BackendResult<LogBody> {
        match job.as_str() {
            "raysubmit_empty" => Ok(LogBody::wrap_stream(futures_util::stream::unfold(
                (),
                |()| async { None::<(BackendResult<Bytes>, ())> },
            ))),
            "raysubmit_boom" => Ok(LogBody::wrap_stream(futures_util::stream::unfold(
                0u8,
                |n| async move {
                    assert!(n == 0, "a log stream bug");
                    Some((Ok(Bytes::from_static(b"first line\n")), 1))
                },
            ))),
            _ => nope(),
        }
    }
    async fn stop_job(&self, _: &RequestContext, _: &JobId) -> BackendResult<Value> {
        nope()
    }
    async fn tail(
        &self,
        _: &RequestContext,
        _: &JobId,
        _: TailProtocol,
    ) -> BackendResult<TailStream> {
        nope()
    }
});

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A bound against hanging, not a timing check.
const LIMIT: Duration = Duration::from_secs(10);

/// The whole raw answer to `GET path` (`Connection: close`), read until the
/// server closes.
async fn get(addr: std::net::SocketAddr, path: &str) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: tok\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(LIMIT, s.read_to_end(&mut out)).await;
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One test, so that the captured log is this one's (the subscriber is global).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_answered_or_cut_logged_and_counted_and_an_empty_log_is_empty() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(
        listener,
        Arc::new(Panicky),
        ServeOptions::new().token("tok"),
    )
    .await
    .unwrap();
    let addr = server.local_addr();

    // before the head: 500, JSON, and the server goes on
    let a = text(&get(addr, "/health/").await);
    assert!(a.starts_with("HTTP/1.1 500"), "{a}");
    assert!(a.contains(r#"{"detail":"Internal Server Error"}"#), "{a}");

    // an empty log whose stream must not be polled after its end
    let a = text(&get(addr, "/jobs/raysubmit_empty/logs/").await);
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert!(a.ends_with("\r\n\"\"\r\n0\r\n\r\n"), "{a:?}");

    // after the head: part of the body, then the cut (no last chunk)
    let a = text(&get(addr, "/jobs/raysubmit_boom/logs/").await);
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert!(a.contains("first line"), "{a}");
    assert!(
        !a.ends_with("0\r\n\r\n"),
        "a cut answer has no last chunk: {a:?}"
    );

    // the server still answers, and counted both panics
    let m = text(&get(addr, "/metrics").await);
    assert!(m.contains("agent_server_panics_total 2"), "{m}");
    let a = text(&get(addr, "/jobs/").await);
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");

    let lines = text(&log.0.lock().unwrap());
    let panics: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("agent_server::panic"))
        .collect();
    assert_eq!(panics.len(), 2, "{lines}");
    assert!(panics[0].contains("answered 500"), "{lines}");
    assert!(panics[1].contains("cut"), "{lines}");
    server.shutdown().await;
}
