//! Starting, running side by side, shutting down; the blocking server; the binary;
//! the serving layer with a backend of its own.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agent_proto::{JobId, JobStatus, NodeId, PluginLookup, ServeAppName, TaskId};
use agent_testkit::sample::RUNNING_JOB;
use agent_testkit::serve::{
    serve, AgentBackend, BackendError, BackendResult, LogBody, RequestContext, ServeOptions,
    TailEvent, TailProtocol, TailStream,
};
use agent_testkit::{AgentTestServer, JobSpec, TestkitError};
use async_trait::async_trait;
use common::*;
use http::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn many_servers_side_by_side() {
    let mut servers = Vec::new();
    for i in 0..6 {
        let s = AgentTestServer::builder()
            .token(format!("t{i}"))
            .job(JobSpec::new(format!("job{i}")).lines([format!("from server {i}")]))
            .build()
            .await
            .unwrap();
        servers.push(s);
    }
    let ports: std::collections::HashSet<u16> =
        servers.iter().map(|s| s.local_addr().port()).collect();
    assert_eq!(ports.len(), 6);
    for (i, s) in servers.iter().enumerate() {
        let http = Http::new(s.url(), Some(s.token()));
        let logs = http.get(&format!("jobs/job{i}/logs/")).await;
        assert_eq!(logs.json(), json!(format!("from server {i}\n")));
        assert_eq!(
            http.get("jobs/job0/").await.status == StatusCode::OK,
            i == 0
        );
        // another server's token is refused
        let other = Http::new(s.url(), Some(&format!("t{}", (i + 1) % 6)));
        assert_eq!(other.get("jobs/").await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn duplicate_and_invalid_jobs_are_errors() {
    let dup = AgentTestServer::builder()
        .job(JobSpec::new("a"))
        .job(JobSpec::new("a"))
        .build()
        .await;
    assert!(matches!(dup, Err(TestkitError::DuplicateJob(id)) if id == "a"));
    let bad = AgentTestServer::builder()
        .job(JobSpec::new("../x"))
        .build()
        .await;
    assert!(matches!(bad, Err(TestkitError::InvalidId(_))));
    let s = AgentTestServer::builder().build().await.unwrap();
    assert!(s.add_job(JobSpec::new("b")).is_ok());
    assert!(s.add_job(JobSpec::new("b")).is_err());
    assert!(!s.append_lines("nope", ["x"]));
    assert_eq!(s.job_status("nope"), None);
    // the port of a running server cannot be taken twice
    let taken = AgentTestServer::builder()
        .listen(s.local_addr())
        .build()
        .await;
    assert!(matches!(taken, Err(TestkitError::Bind { .. })));
}

#[tokio::test]
async fn the_sample_running_job_keeps_printing() {
    let s = AgentTestServer::sample().build().await.unwrap();
    assert_eq!(s.job_status(RUNNING_JOB), Some(JobStatus::Running));
    let h = s.handle();
    eventually(|| h.job_log_len(RUNNING_JOB).unwrap_or(0) >= 2).await;
    assert!(s
        .job_log(RUNNING_JOB)
        .unwrap()
        .starts_with("line 0\nline 1\n"));
    assert!(s.stop_job(RUNNING_JOB));
    assert_eq!(s.job_status(RUNNING_JOB), Some(JobStatus::Stopped));
}

#[tokio::test]
async fn shutdown_closes_the_port_and_ends_tails() {
    let s = AgentTestServer::sample().build().await.unwrap();
    let addr = s.local_addr();
    let ws = ws_connect(addr, &format!("/jobs/{RUNNING_JOB}/logs/"), Some(s.token()))
        .await
        .unwrap();
    let reader = tokio::spawn(ws_read_all(ws));
    s.shutdown().await;
    let t = reader.await.unwrap();
    // the tail ended without `complete`: a close 1001 (going away) or a dropped connection
    assert!(!t.events().iter().any(|e| e["type"] == "complete"));
    assert!(t.close == Some(1001) || t.error.is_some(), "{t:?}");
    assert!(
        !still_serves(addr, "/health/", "testkit-token").await,
        "the port is closed"
    );
}

#[tokio::test]
async fn dropping_the_server_drops_its_connections() {
    let s = AgentTestServer::sample().build().await.unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    let stream = http
        .stream(&format!("jobs/{RUNNING_JOB}/logs/stream/"))
        .await;
    let ws = ws_connect(
        s.local_addr(),
        &format!("/jobs/{RUNNING_JOB}/logs/"),
        Some(s.token()),
    )
    .await
    .unwrap();
    drop(s);
    let (_, complete) = stream_lines(stream).await;
    assert!(!complete, "cut, not completed");
    let t = ws_read_all(ws).await;
    assert!(!t.events().iter().any(|e| e["type"] == "complete"));
    assert_ne!(t.error.as_deref(), Some("timed out"));
}

fn blocking_get(addr: std::net::SocketAddr, path: &str, token: &str) -> String {
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_blocking_server_runs_on_its_own_thread() {
    let s =
        AgentTestServer::start_blocking(AgentTestServer::sample().token("bt").prefix("/agent/"))
            .unwrap();
    assert!(s.url().ends_with("/agent/"));
    assert_eq!(s.token(), "bt");
    let answer = blocking_get(s.local_addr(), "/agent/jobs/raysubmit_capture1/", "bt");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"SUCCEEDED\""));
    // the handle works from this (non-async) thread, jobs move on without a runtime here
    s.add_job(JobSpec::new("late").lines(["x", "y"]).rate(100.0))
        .unwrap();
    let h = s.handle();
    for _ in 0..1000 {
        if h.job_status("late") == Some(JobStatus::Succeeded) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(h.job_status("late"), Some(JobStatus::Succeeded));
    assert_eq!(s.journal().len(), 1);
    let addr = s.local_addr();
    drop(s);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(
        !rt.block_on(still_serves(addr, "/agent/health/", "bt")),
        "stopped with its thread"
    );
}

#[test]
fn the_binary_serves_the_sample() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-testkit"))
        .args(["--listen", "127.0.0.1:0", "--token", "bin-token"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    let mut token = None;
    for line in lines.by_ref().take(10) {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("url:") {
            url = Some(u.trim().to_owned());
        }
        if let Some(t) = line.strip_prefix("token:") {
            token = Some(t.trim().to_owned());
            break;
        }
    }
    let url = url.expect("the URL is printed");
    assert_eq!(token.as_deref(), Some("bin-token"));
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let answer = blocking_get(addr, "/jobs/", "bin-token");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("raysubmit_slow1"));

    let help = Command::new(env!("CARGO_BIN_EXE_agent-testkit"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--listen"));
    let bad = Command::new(env!("CARGO_BIN_EXE_agent-testkit"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// A backend of its own, as agent-gateway writes one: the serving layer does the rest.
struct Canned;

#[async_trait]
impl AgentBackend for Canned {
    async fn health(&self, ctx: &RequestContext) -> BackendResult<Value> {
        Ok(json!({
            "status": "ok",
            "user": ctx.user_token.as_ref().map(|s| s.expose().to_owned()),
            "tenant": ctx.tenant.as_ref().map(|s| s.expose().to_owned()),
        }))
    }
    async fn list_jobs(&self, _: &RequestContext) -> BackendResult<Value> {
        Err(BackendError::detail(503, "Ray is down").header("Retry-After", "2"))
    }
    async fn get_job(&self, _: &RequestContext, job: &JobId) -> BackendResult<Value> {
        Ok(json!({"submission_id": job.as_str()}))
    }
    async fn job_logs(&self, _: &RequestContext, _: &JobId) -> BackendResult<LogBody> {
        Ok("a\nb\n".into())
    }
    async fn stop_job(&self, _: &RequestContext, _: &JobId) -> BackendResult<Value> {
        Ok(json!({"stopped": true}))
    }
    async fn tail(
        &self,
        _: &RequestContext,
        _: &JobId,
        p: TailProtocol,
    ) -> BackendResult<TailStream> {
        let events = vec![TailEvent::Log(format!("via {p:?}")), TailEvent::Complete];
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
    async fn list_nodes(&self, _: &RequestContext) -> BackendResult<Value> {
        Ok(json!([]))
    }
    async fn get_node(&self, _: &RequestContext, _: &NodeId) -> BackendResult<Value> {
        Err(BackendError::not_found())
    }
    async fn list_tasks(&self, _: &RequestContext) -> BackendResult<Value> {
        Ok(json!([]))
    }
    async fn get_task(&self, _: &RequestContext, _: &TaskId) -> BackendResult<Value> {
        Err(BackendError::not_found())
    }
    async fn list_serve_applications(&self, _: &RequestContext) -> BackendResult<Value> {
        Ok(json!([]))
    }
    async fn get_serve_application(
        &self,
        _: &RequestContext,
        _: &ServeAppName,
    ) -> BackendResult<Value> {
        Err(BackendError::not_found())
    }
    async fn delete_serve_application(
        &self,
        _: &RequestContext,
        _: &ServeAppName,
    ) -> BackendResult<()> {
        Ok(())
    }
    async fn list_plugin_releases(&self, ctx: &RequestContext) -> BackendResult<Value> {
        Ok(json!({"count": 0, "next": null, "previous": null, "results": [], "query": ctx.query}))
    }
    async fn get_plugin_release(
        &self,
        _: &RequestContext,
        l: &PluginLookup,
    ) -> BackendResult<Value> {
        Ok(json!({"lookup": l.as_str()}))
    }
    async fn create_plugin_release(&self, _: &RequestContext, body: Value) -> BackendResult<Value> {
        Ok(body)
    }
    async fn delete_plugin_release(
        &self,
        _: &RequestContext,
        _: &PluginLookup,
    ) -> BackendResult<()> {
        Ok(())
    }
    async fn run_plugin_release(
        &self,
        _: &RequestContext,
        _: &PluginLookup,
        _: Value,
    ) -> BackendResult<Value> {
        Ok(json!({"job_id": "raysubmit_x"}))
    }
    async fn run_debug_plugin_release(&self, _: &RequestContext, _: Value) -> BackendResult<Value> {
        Ok(json!({"job_id": "raysubmit_y"}))
    }
    async fn gpu_status(&self, _: &RequestContext) -> BackendResult<Value> {
        Ok(json!({"available": false}))
    }
}

#[tokio::test]
async fn the_serving_layer_runs_any_backend() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(
        listener,
        Arc::new(Canned),
        ServeOptions::new().token("gw").prefix("/agent"),
    )
    .await
    .unwrap();
    assert!(server.url().ends_with("/agent/"));
    let http = Http::new(server.url(), Some("gw"));
    let req = http
        .request(http::Method::GET, "health/")
        .header("SYNAPSE-User", "Token u1")
        .header("SYNAPSE-Tenant", "Token acme")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = http.send(req).await;
    use http_body_util::BodyExt;
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "user": "u1", "tenant": "acme"})
    );
    let down = http.get("jobs/").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.header("retry-after"), Some("2"));
    assert_eq!(
        http.get("plugin_releases/?page=2").await.json()["query"],
        "page=2"
    );
    assert_eq!(
        http.get("plugin_releases/a@1.0/").await.json()["lookup"],
        "a@1.0"
    );
    assert_eq!(
        http.delete("serve_applications/x/").await.status,
        StatusCode::NO_CONTENT
    );
    let (lines, complete) = stream_lines(http.stream("jobs/j/logs/stream/").await).await;
    assert!(complete);
    assert_eq!(log_messages(&sse_events(&lines)), ["via Http"]);
    let ws = ws_connect(server.local_addr(), "/agent/jobs/j/logs/", Some("gw"))
        .await
        .unwrap();
    let t = ws_read_all(ws).await;
    assert_eq!(log_messages(&t.events()), ["via WebSocket"]);
    assert_eq!(t.close, Some(1000));
    let addr = server.local_addr();
    server.shutdown().await;
    assert!(!still_serves(addr, "/agent/health/", "gw").await);
}
