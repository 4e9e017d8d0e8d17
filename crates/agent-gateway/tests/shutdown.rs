//! Graceful shutdown of the gateway binary on SIGTERM and Ctrl-C (SIGINT): it stops
//! accepting, ends an open WebSocket tail with close 1001 and an HTTP stream tail with
//! the end of the body, neither with a `complete` the log did not earn, and exits 0.
#![cfg(unix)]

mod stand_in;

use agent_testkit::attack;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(15);

async fn stops_gracefully_on(signal: &str) {
    let ray = stand_in::ray().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-gateway"))
        .args(["--ray-address", &ray, "--listen", "127.0.0.1:0", "--quiet"])
        .env("AGENT_TOKEN", "t")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // its address, from the line it prints once serving
    let stderr = child.stderr.take().unwrap();
    let (addr, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(url) = line.split("serving the agent API at ").nth(1) {
                let hostport = url.trim_start_matches("http://").split('/').next().unwrap();
                return (hostport.parse::<SocketAddr>().unwrap(), lines);
            }
        }
        panic!("the gateway never said it serves");
    })
    .await
    .unwrap();

    let path = format!("/jobs/{}/logs/", stand_in::JOB);
    let mut ws = attack::websocket(addr, &path, "t", LIMIT).await.unwrap();
    let mut sse = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path}stream/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: t\r\n\r\n");
    sse.write_all(req.as_bytes()).await.unwrap();
    let head = attack::read_head(&mut sse, LIMIT).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    assert_eq!(
        attack::close_code(&mut ws, LIMIT).await,
        Some(1001),
        "{signal}"
    );
    let mut body = Vec::new();
    let _ = tokio::time::timeout(LIMIT, sse.read_to_end(&mut body)).await;
    let body = String::from_utf8_lossy(&body);
    assert!(!body.contains("complete"), "{signal}: {body}");

    let exit = tokio::task::spawn_blocking(move || {
        let exit = child.wait().unwrap();
        drop(rest);
        exit
    })
    .await
    .unwrap();
    assert!(exit.success(), "{signal}: {exit:?}");
    // and the port is closed
    assert_eq!(
        attack::get_status(addr, "/health/", "t", Duration::from_secs(2)).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully() {
    stops_gracefully_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_gracefully() {
    stops_gracefully_on("INT").await;
}
