//! The built `agentctl` through an HTTP proxy from the environment: a small
//! recording proxy on loopback (the minimal part of the library's `tests/proxy.rs`)
//! that forwards absolute-form requests, tunnels `CONNECT` and writes down each
//! request line and `Proxy-Authorization`. `HTTP_PROXY` and `ALL_PROXY` are
//! followed for requests and both tail protocols, `NO_PROXY` bypasses the proxy, and
//! the proxy's password never shows in agentctl's output, even with `-vv`.

use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::{AgentTestServer, BlockingTestServer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `Basic base64("agent-user:pa55word")`.
const GOOD_AUTH: &str = "Basic YWdlbnQtdXNlcjpwYTU1d29yZA==";
const PASSWORD: &str = "pa55word";
const WRONG_PASSWORD: &str = "wr0ng-pa55";

/// What the proxy was asked on one connection.
#[derive(Debug, Clone, PartialEq)]
struct Asked {
    method: String,
    target: String,
    auth: Option<String>,
}

/// A recording proxy on its own thread and runtime (it lives as long as the test
/// process); with `require`, a request without that `Proxy-Authorization` gets a 407.
struct RecordingProxy {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl RecordingProxy {
    fn start(require: Option<&'static str>) -> RecordingProxy {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send");
                while let Ok((tcp, _)) = listener.accept().await {
                    tokio::spawn(serve(tcp, log.clone(), require));
                }
            });
        });
        let addr = rx.recv_timeout(Duration::from_secs(10)).expect("listening");
        RecordingProxy { addr, asked }
    }

    fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}{}", self.addr)
    }

    fn asked(&self) -> Vec<Asked> {
        self.asked.lock().expect("lock").clone()
    }
}

async fn serve(
    mut client: TcpStream,
    log: Arc<Mutex<Vec<Asked>>>,
    require: Option<&'static str>,
) -> std::io::Result<()> {
    // The request head, bounded.
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        let n = client.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let auth = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.trim().to_owned());
    log.lock().expect("lock").push(Asked {
        method: method.clone(),
        target: target.clone(),
        auth: auth.clone(),
    });
    if require.is_some() && auth.as_deref() != require {
        client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    let mut upstream = if method == "CONNECT" {
        let upstream = TcpStream::connect(&target).await?;
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        if head.len() > end {
            let mut upstream = upstream;
            upstream.write_all(&head[end..]).await?;
            upstream
        } else {
            upstream
        }
    } else {
        // Absolute form: `GET http://host:port/path HTTP/1.1`, forwarded as is.
        let authority = target
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        let mut upstream = TcpStream::connect(authority).await?;
        upstream.write_all(&head).await?;
        upstream
    };
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

mod support;
use support::{command, run_cmd, Output};

/// agentctl against `server`, with `envs` set and no other proxy variable.
fn agentctl(server: &BlockingTestServer, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .envs(envs.iter().copied())
        .args(["--connect-timeout", "5"])
        .args(args);
    run_cmd(cmd)
}

fn sample() -> BlockingTestServer {
    AgentTestServer::sample().start_blocking().expect("starts")
}

#[test]
fn requests_and_tails_go_through_the_proxy_of_the_environment() {
    let server = sample();
    let proxy = RecordingProxy::start(Some(GOOD_AUTH));
    let via = proxy.url(&format!("agent-user:{PASSWORD}@"));
    let origin = format!("http://{}/", server.local_addr());

    let out = agentctl(&server, &[("HTTP_PROXY", &via)], &["-vv", "jobs", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    let asked = proxy.asked();
    assert!(
        asked.contains(&Asked {
            method: "GET".into(),
            target: format!("{origin}jobs/"),
            auth: Some(GOOD_AUTH.into()),
        }),
        "absolute form, with the credentials: {asked:?}"
    );
    assert!(
        !out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD),
        "{out:?}"
    );

    // Both tail protocols, through ALL_PROXY: HTTP streaming in absolute form, the
    // WebSocket through CONNECT.
    for (protocol, method) in [("http", "GET"), ("websocket", "CONNECT")] {
        let before = proxy.asked().len();
        let out = agentctl(
            &server,
            &[("ALL_PROXY", &via)],
            &["jobs", "tail", SUCCEEDED_JOB, "--protocol", protocol],
        );
        assert_eq!(out.code, 0, "{protocol}: {out:?}");
        assert!(out.stdout.ends_with("last line\n"), "{out:?}");
        let asked = proxy.asked();
        assert!(
            asked[before..].iter().any(|a| a.method == method
                && a.auth.as_deref() == Some(GOOD_AUTH)
                && (a.target.contains("/logs/") || method == "CONNECT")),
            "{protocol}: {asked:?}"
        );
    }

    // NO_PROXY: straight to the agent.
    let before = proxy.asked().len();
    let out = agentctl(
        &server,
        &[("HTTP_PROXY", &via), ("NO_PROXY", "127.0.0.1")],
        &["health"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(proxy.asked().len(), before, "{:?}", proxy.asked());
}

#[test]
fn a_refused_proxy_password_never_shows() {
    let server = sample();
    let proxy = RecordingProxy::start(Some(GOOD_AUTH));
    let wrong = proxy.url(&format!("agent-user:{WRONG_PASSWORD}@"));
    for args in [
        &["-vv", "health"][..],
        &[
            "-vv",
            "jobs",
            "tail",
            SUCCEEDED_JOB,
            "--protocol",
            "websocket",
        ][..],
    ] {
        let out = agentctl(&server, &[("HTTP_PROXY", &wrong)], args);
        assert_ne!(out.code, 0, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("407"),
            "the proxy's answer shows: {out:?}"
        );
        for secret in [WRONG_PASSWORD, PASSWORD, server.token()] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{secret} in {args:?}: {out:?}"
            );
        }
    }
    assert!(!proxy.asked().is_empty());
    assert!(server.journal().is_empty(), "{:?}", server.journal());
}

#[test]
fn the_embedded_agent_is_reached_without_the_proxy() {
    let server = sample();
    let proxy = RecordingProxy::start(Some(GOOD_AUTH));
    let via = proxy.url("");
    // `--embedded` wins over AGENT_URL; its agent is on this machine's loopback.
    let out = agentctl(
        &server,
        &[("HTTP_PROXY", &via), ("ALL_PROXY", &via)],
        &["--embedded", "health"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(proxy.asked().is_empty(), "{:?}", proxy.asked());
}
