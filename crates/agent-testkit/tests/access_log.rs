//! One log line per request (agent-server's `tracing` event): method, path without
//! the query, status, bytes, latency; for tails the lines sent and how the tail
//! ended; never a token. Captured here with a `tracing-subscriber` writing to memory.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_testkit::sample::{RUNNING_JOB, SUCCEEDED_JOB};
use agent_testkit::{attack, AgentTestServer, Fault, RouteKind};
use bytes::Bytes;
use common::{eventually, ws_connect, ws_read_all, Http};
use http::Method;
use http_body_util::{BodyExt, Full};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    fn line_with(&self, needle: &str) -> Option<String> {
        self.text()
            .lines()
            .find(|l| l.contains(needle))
            .map(str::to_owned)
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_line_per_request_with_status_bytes_latency_and_tail_ends() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let s = AgentTestServer::sample()
        .token("tok-secret-1")
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some("tok-secret-1"));
    let a = http.get("jobs/?job_id=x").await;
    assert_eq!(a.status.as_u16(), 200);
    let wrong = attack::get_status(s.local_addr(), "/nodes/", "tok-wrong-2", LIMIT).await;
    assert_eq!(wrong, Some(401));

    eventually(|| log.line_with("path=/jobs/ ").is_some()).await;
    let line = log.line_with("path=/jobs/ ").unwrap();
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains(&format!("bytes={}", a.body.len())), "{line}");
    assert!(line.contains("latency_ms="), "{line}");
    assert!(line.contains("end=complete"), "{line}");
    assert!(!line.contains("job_id=x"), "no query: {line}");
    eventually(|| log.line_with("path=/nodes/").is_some()).await;
    assert!(log
        .line_with("path=/nodes/")
        .unwrap()
        .contains("status=401"));

    // a body broken off after its head: the line says so, not that it was sent
    s.set_fault(RouteKind::JobLogs, Fault::close_after_bytes(1).times(1));
    let req = http
        .request(Method::GET, &format!("jobs/{RUNNING_JOB}/logs/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = http.send(req).await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.into_body().collect().await.is_err());
    let path = format!("path=/jobs/{RUNNING_JOB}/logs/ ");
    eventually(|| log.line_with(&path).is_some()).await;
    let line = log.line_with(&path).unwrap();
    assert!(line.contains("end=aborted"), "{line}");

    // an HTTP tail of a finished job: all its lines, then `complete`
    let res = http
        .stream(&format!("jobs/{SUCCEEDED_JOB}/logs/stream/"))
        .await;
    let (lines, _) = common::stream_lines(res).await;
    let sent = common::log_messages(&common::sse_events(&lines)).len();
    let path = format!("path=/jobs/{SUCCEEDED_JOB}/logs/stream/");
    eventually(|| log.line_with(&path).is_some()).await;
    let line = log.line_with(&path).unwrap();
    assert!(line.contains(&format!("lines={sent}")), "{line}");
    assert!(line.contains("end=complete"), "{line}");

    // a WebSocket tail, ended by the client
    let ws = ws_connect(
        s.local_addr(),
        &format!("/jobs/{SUCCEEDED_JOB}/logs/"),
        Some("tok-secret-1"),
    )
    .await
    .unwrap();
    let t = ws_read_all(ws).await;
    let path = format!("path=/jobs/{SUCCEEDED_JOB}/logs/ ");
    eventually(|| log.line_with(&path).is_some()).await;
    let line = log.line_with(&path).unwrap();
    assert!(line.contains("status=101"), "{line}");
    assert!(line.contains("end=complete"), "{line}");
    assert!(
        line.contains(&format!("lines={}", t.texts.len() - 1)),
        "{line}: {:?}",
        t.texts.len()
    );

    // a running job's tail cut by the client, and by the server's shutdown
    let running = format!("/jobs/{RUNNING_JOB}/logs/");
    let ws = attack::websocket(s.local_addr(), &running, "tok-secret-1", LIMIT)
        .await
        .unwrap();
    drop(ws);
    eventually(|| log.text().contains("end=client-gone")).await;
    let _ws = attack::websocket(s.local_addr(), &running, "tok-secret-1", LIMIT)
        .await
        .unwrap();
    s.shutdown().await;
    eventually(|| log.text().contains("end=shutdown")).await;

    let all = log.text();
    assert!(
        !all.contains("tok-secret-1") && !all.contains("tok-wrong-2"),
        "{all}"
    );
}
