//! Tails in the wild (issue 24, items 2, 4 and 5): proxies that refuse the
//! WebSocket, compressed bodies, quiet jobs and dead servers.
//!
//! A raw HTTP/1.1 server on loopback ([`Wild`]) plays the proxy: it answers a
//! WebSocket upgrade with any status (never 101) and serves the HTTP tail as
//! scripted bytes (gzip or not, cut anywhere, silent after a while). Quiet jobs
//! run on the test agent. Hand-picked cases name each behaviour; the generated
//! ones keep the one assertion of the tail: the delivered lines equal the log, or
//! the tail fails loudly (an error, never a clean end) with a prefix of it.

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, LogTail, Protocol, RetryPolicy, TailOptions,
};
use agent_client_blocking::AgentClient;
use agent_proto::{TimeoutKind, REQUEST_REFUSALS};
use agent_testkit::sample::{PENDING_JOB, SUCCEEDED_JOB};
use agent_testkit::{AgentTestServer, JobSpec};
use agent_transport::{HttpTransport, Request, Transport};
use common::{drain, drain_blocking, log_lines, next, on_thread, within, Proxy};
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use proptest::prelude::*;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------- the raw server

/// How an answer's body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No length: the body ends when the server closes (a clean end to HTTP).
    Close,
    /// Chunked; `terminated`: the last chunk is sent (else the body is cut).
    Chunked { terminated: bool },
}

/// What the raw server answers.
#[derive(Debug, Clone)]
enum Answer {
    /// This status, a short body, and `Connection: close`.
    Status(u16),
    /// A 200 with these extra headers and these body pieces (each written and
    /// flushed on its own), framed so, then silence (`hold`) or the close.
    Body {
        headers: Vec<(&'static str, &'static str)>,
        pieces: Vec<Vec<u8>>,
        framing: Framing,
        /// After the pieces, keep the connection open and say nothing.
        hold: bool,
    },
    /// Read the request and close without a word.
    Hangup,
    /// Accept and never say a word.
    Silent,
}

/// A raw HTTP/1.1 server on loopback: `upgrade` answers every WebSocket upgrade,
/// `tail` every other request. Counts both kinds of request.
struct Wild {
    addr: SocketAddr,
    upgrades: Arc<AtomicUsize>,
    tails: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Wild {
    async fn start(upgrade: Answer, tail: Answer) -> Wild {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let upgrades = Arc::new(AtomicUsize::new(0));
        let tails = Arc::new(AtomicUsize::new(0));
        let (u, t) = (Arc::clone(&upgrades), Arc::clone(&tails));
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (upgrade, tail) = (upgrade.clone(), tail.clone());
                let (u, t) = (Arc::clone(&u), Arc::clone(&t));
                tokio::spawn(async move {
                    let _ = serve(tcp, upgrade, tail, u, t).await;
                });
            }
        });
        Wild {
            addr,
            upgrades,
            tails,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn upgrades(&self) -> usize {
        self.upgrades.load(Ordering::SeqCst)
    }

    fn tails(&self) -> usize {
        self.tails.load(Ordering::SeqCst)
    }
}

impl Drop for Wild {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut tcp: TcpStream,
    upgrade: Answer,
    tail: Answer,
    upgrades: Arc<AtomicUsize>,
    tails: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let is_upgrade = String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .contains("upgrade: websocket");
    let answer = if is_upgrade {
        upgrades.fetch_add(1, Ordering::SeqCst);
        upgrade
    } else {
        tails.fetch_add(1, Ordering::SeqCst);
        tail
    };
    match answer {
        Answer::Status(status) => {
            let body = format!("{{\"detail\":\"refused with {status}\"}}");
            let head = format!(
                "HTTP/1.1 {status} Whatever\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            tcp.write_all(head.as_bytes()).await?;
            tcp.write_all(body.as_bytes()).await?;
            tcp.shutdown().await?;
        }
        Answer::Body {
            headers,
            pieces,
            framing,
            hold,
        } => {
            let mut head = String::from(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n",
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            if matches!(framing, Framing::Chunked { .. }) {
                head.push_str("transfer-encoding: chunked\r\n");
            }
            head.push_str("\r\n");
            tcp.write_all(head.as_bytes()).await?;
            tcp.flush().await?;
            for piece in pieces.iter().filter(|p| !p.is_empty()) {
                match framing {
                    Framing::Close => tcp.write_all(piece).await?,
                    Framing::Chunked { .. } => {
                        tcp.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                            .await?;
                        tcp.write_all(piece).await?;
                        tcp.write_all(b"\r\n").await?;
                    }
                }
                tcp.flush().await?;
            }
            if framing == (Framing::Chunked { terminated: true }) {
                tcp.write_all(b"0\r\n\r\n").await?;
            }
            if hold {
                std::future::pending::<()>().await;
            }
            tcp.shutdown().await?;
        }
        Answer::Hangup => {}
        Answer::Silent => std::future::pending::<()>().await,
    }
    Ok(())
}

// ---------------------------------------------------------------- helpers

/// A job's log as an SSE tail body: one `data:` event per line, then `complete`.
fn sse_log(log: &[String]) -> Vec<u8> {
    let mut body = Vec::new();
    for line in log {
        let event = serde_json::json!({ "type": "log", "message": line });
        body.extend_from_slice(format!("data: {event}\n\n").as_bytes());
    }
    body.extend_from_slice(b"data: {\"type\":\"complete\"}\n\n");
    body
}

/// `log`'s lines, as a plain body served in `pieces` pieces.
fn split(body: &[u8], pieces: usize) -> Vec<Vec<u8>> {
    let size = body.len().div_ceil(pieces.max(1)).max(1);
    body.chunks(size).map(<[u8]>::to_vec).collect()
}

fn log_of(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("wild line {i}")).collect()
}

/// An HTTP tail of `log` that completes.
fn served(log: &[String]) -> Answer {
    Answer::Body {
        headers: vec![],
        pieces: split(&sse_log(log), 3),
        framing: Framing::Chunked { terminated: true },
        hold: false,
    }
}

/// A client of `url` that does not retry and gives up quickly on a dead server.
fn quick_client(url: &str) -> AsyncAgentClient {
    AsyncAgentClient::builder(url, "wild-token")
        .retry_policy(RetryPolicy::none())
        .connect_timeout(Duration::from_millis(400))
        .read_timeout(Duration::from_millis(400))
        .no_proxy()
        .build()
        .expect("client")
}

fn blocking_quick_client(url: &str) -> AgentClient {
    AgentClient::builder(url, "wild-token")
        .retry_policy(RetryPolicy::none())
        .connect_timeout(Duration::from_millis(400))
        .read_timeout(Duration::from_millis(400))
        .no_proxy()
        .build()
        .expect("client")
}

fn opts(protocol: Protocol) -> TailOptions {
    TailOptions::new()
        .protocol(protocol)
        .timeout(Duration::from_millis(500))
}

/// Opens and drains a tail: its lines and its error (an opening error included).
async fn run_tail(
    client: &AsyncAgentClient,
    options: TailOptions,
) -> (Vec<String>, Option<ClientError>, Option<Protocol>) {
    match client.tail_job_logs("raysubmit_wild1", options).await {
        Ok(mut tail) => {
            let (lines, err) = drain(&mut tail).await;
            (lines, err, Some(tail.protocol_used()))
        }
        Err(e) => (Vec::new(), Some(e), None),
    }
}

/// The tail's promise: all of `log` and a clean end, or a loud failure after a
/// prefix of it.
#[track_caller]
fn assert_all_or_loud_prefix(log: &[String], lines: &[String], err: Option<&ClientError>) {
    match err {
        None => assert_eq!(lines, log, "a clean end must deliver the whole log"),
        Some(e) => {
            assert!(e.status_code() >= 400, "a failure has an error status: {e}");
            assert!(
                lines.len() <= log.len() && lines == &log[..lines.len()],
                "not a prefix of the log: {lines:?}"
            );
        }
    }
}

// ---------------------------------------------------------------- item 2: fallback

/// Statuses that a proxy or an agent answers a WebSocket upgrade with that say
/// nothing against the request: `auto` falls back to HTTP on each, and the tail
/// completes with every line.
const FALLBACK_STATUSES: [u16; 12] = [200, 204, 301, 302, 405, 418, 426, 500, 501, 502, 503, 504];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_when_a_proxy_refuses_the_upgrade() {
    let log = log_of(40);
    for status in FALLBACK_STATUSES {
        let wild = Wild::start(Answer::Status(status), served(&log)).await;
        let client = quick_client(&wild.url());
        let (lines, err, protocol) = run_tail(&client, opts(Protocol::Auto)).await;
        assert!(err.is_none(), "{status}: {err:?}");
        assert_eq!(lines, log, "{status}");
        assert_eq!(protocol, Some(Protocol::Http), "{status}");
        assert_eq!((wild.upgrades(), wild.tails()), (1, 1), "{status}");
    }
    // the blocking client is the async one: the same rule
    for status in [200, 426, 502] {
        let wild = Wild::start(Answer::Status(status), served(&log)).await;
        let client = blocking_quick_client(&wild.url());
        let (lines, err) = on_thread(move || {
            let mut tail = client
                .tail_job_logs("raysubmit_wild1", opts(Protocol::Auto))
                .expect("open");
            drain_blocking(&mut tail)
        })
        .await;
        assert!(err.is_none(), "{status}: {err:?}");
        assert_eq!(lines, log, "{status}");
    }
}

/// A connection that breaks during the upgrade (a proxy that hangs up) falls back
/// too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_when_the_upgrade_is_hung_up_on() {
    let log = log_of(5);
    let wild = Wild::start(Answer::Hangup, served(&log)).await;
    let (lines, err, _) = run_tail(&quick_client(&wild.url()), opts(Protocol::Auto)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, log);
}

/// An answer about the request itself (400, 401, 403, 404, 422, 429) would be the
/// same over HTTP: the tail ends with that status, and HTTP is never tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_about_the_request_ends_the_tail_with_its_status() {
    let log = log_of(3);
    for status in REQUEST_REFUSALS {
        let wild = Wild::start(Answer::Status(status), served(&log)).await;
        let (lines, err, _) = run_tail(&quick_client(&wild.url()), opts(Protocol::Auto)).await;
        let err = err.expect("an error");
        assert_eq!(err.status_code(), status, "{err}");
        assert!(lines.is_empty());
        assert_eq!((wild.upgrades(), wild.tails()), (1, 0), "{status}");
    }
}

/// When the fallback fails too, the error keeps the HTTP answer's status and names
/// the WebSocket's cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fallback_keeps_the_http_status_and_names_the_websocket() {
    let wild = Wild::start(Answer::Status(426), Answer::Status(404)).await;
    let (_, err, _) = run_tail(&quick_client(&wild.url()), opts(Protocol::Auto)).await;
    let err = err.expect("an error");
    assert_eq!(err.status_code(), 404, "{err}");
    assert!(err.to_string().contains("426"), "{err}");
}

/// Without `auto`, an upgrade answered 200 is reported as what it is (no
/// WebSocket), never as an error of status 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_to_the_upgrade_is_not_a_200_error() {
    let wild = Wild::start(Answer::Status(200), served(&log_of(1))).await;
    let (_, err, _) = run_tail(&quick_client(&wild.url()), opts(Protocol::WebSocket)).await;
    let err = err.expect("an error");
    assert_eq!(err.status_code(), 500, "{err}");
    assert!(
        err.to_string().contains("answered 200 instead of 101"),
        "{err}"
    );
}

// ---------------------------------------------------------------- item 5: silences

/// The test agent with a heartbeat of a third of the 1 s time-out the tests pick.
async fn live_agent() -> AgentTestServer {
    AgentTestServer::sample()
        .heartbeat(Duration::from_millis(300))
        .build()
        .await
        .expect("server")
}

/// `timeout` bounds the server's silence, not the job's: a quiet job on a live
/// server (pongs on a WebSocket, heartbeats over HTTP) outlives a 1 s time-out
/// several times over, on both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_job_on_a_live_server_outlives_the_timeout_on_both_protocols() {
    let server = live_agent().await;
    let client = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let mut tails = Vec::new();
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let options = TailOptions::new()
            .protocol(p)
            .timeout(Duration::from_secs(1));
        tails.push((p, client.tail_job_logs(PENDING_JOB, options).await.unwrap()));
    }
    // All three at once: 3 s of silence from the job, nothing from the tails.
    let quiet = async {
        for (_, tail) in &mut tails {
            next(tail).await;
        }
    };
    let waited = tokio::time::timeout(Duration::from_secs(3), quiet).await;
    assert!(waited.is_err(), "a tail ended on a quiet job");
    for (p, tail) in &tails {
        assert_eq!(tail.counters().delivered, 0, "{p}");
    }
}

/// `max_quiet` bounds the job's silence: a 408 whose message says the job was
/// quiet, on both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_quiet_ends_a_quiet_job_with_a_408_that_says_quiet() {
    let server = live_agent().await;
    let client = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let options = TailOptions::new()
            .protocol(p)
            .timeout(Duration::from_secs(1))
            .max_quiet(Duration::from_millis(1500));
        let mut tail = client.tail_job_logs(PENDING_JOB, options).await.unwrap();
        let (lines, err) = drain(&mut tail).await;
        assert!(lines.is_empty(), "{p}");
        let err = err.expect("a time-out");
        assert!(
            matches!(
                err,
                ClientError::Timeout {
                    kind: TimeoutKind::Quiet,
                    ..
                }
            ),
            "{p}: {err:?}"
        );
        assert_eq!(err.status_code(), 408);
        assert!(err.to_string().contains("quiet job"), "{p}: {err}");
    }
    // the blocking client, with compression on (heartbeats go through gzip)
    let blocking = AgentClient::builder(server.url(), server.token())
        .compression(true)
        .build()
        .unwrap();
    let (lines, err) = on_thread(move || {
        let options = TailOptions::new()
            .protocol(Protocol::Http)
            .timeout(Duration::from_secs(1))
            .max_quiet(Duration::from_millis(1500));
        let mut tail = blocking.tail_job_logs(PENDING_JOB, options).unwrap();
        drain_blocking(&mut tail)
    })
    .await;
    assert!(lines.is_empty());
    let err = err.expect("a time-out");
    assert!(
        matches!(
            err,
            ClientError::Timeout {
                kind: TimeoutKind::Quiet,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A dead server (it accepts and says nothing; or it sends the head of the answer
/// and then nothing) is a 408 on both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_a_408_on_both_protocols() {
    let wild = Wild::start(Answer::Silent, Answer::Silent).await;
    let client = quick_client(&wild.url());
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let (lines, err, _) = run_tail(&client, opts(p)).await;
        assert!(lines.is_empty());
        let err = err.expect("an error");
        assert_eq!(err.status_code(), 408, "{p}: {err}");
    }
    let log = log_of(4);
    let wild = Wild::start(
        Answer::Status(502),
        Answer::Body {
            headers: vec![],
            pieces: split(&sse_log(&log)[..sse_log(&log).len() - 26], 2),
            framing: Framing::Chunked { terminated: false },
            hold: true,
        },
    )
    .await;
    let client = quick_client(&wild.url());
    for p in [Protocol::Http, Protocol::Auto] {
        let (lines, err, _) = run_tail(&client, opts(p)).await;
        assert_eq!(lines, log, "{p}");
        let err = err.expect("an error");
        assert!(
            matches!(
                err,
                ClientError::Timeout {
                    kind: TimeoutKind::Idle,
                    ..
                }
            ),
            "{p}: {err:?}"
        );
    }
}

// ---------------------------------------------------------------- item 4: codings

/// `body` gzipped as a server that flushes per batch sends it: one sync flush
/// per piece of `pieces` pieces.
fn gzip_flushed(body: &[u8], pieces: usize) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    for piece in split(body, pieces) {
        e.write_all(&piece).unwrap();
        e.flush().unwrap();
    }
    e.finish().unwrap()
}

fn zlib(body: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn coded(encoding: &'static str, bytes: Vec<u8>, pieces: usize) -> Answer {
    Answer::Body {
        headers: vec![("content-encoding", encoding)],
        pieces: split(&bytes, pieces),
        framing: Framing::Chunked { terminated: true },
        hold: false,
    }
}

/// A proxy that compresses `text/event-stream` (gzip or deflate): the tail is
/// decoded and delivers every line, never the compressed bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_deflate_tails_are_decoded() {
    let log = log_of(150);
    let body = sse_log(&log);
    for (encoding, bytes) in [
        ("gzip", gzip_flushed(&body, 7)),
        ("x-gzip", gzip_flushed(&body, 1)),
        ("deflate", zlib(&body)),
    ] {
        let wild = Wild::start(Answer::Status(502), coded(encoding, bytes, 5)).await;
        for p in [Protocol::Http, Protocol::Auto] {
            let (lines, err, _) = run_tail(&quick_client(&wild.url()), opts(p)).await;
            assert!(err.is_none(), "{encoding} {p}: {err:?}");
            assert_eq!(lines, log, "{encoding} {p}");
        }
    }
}

/// Any other coding is a clear error naming it; no line is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_coding_is_an_error_naming_it() {
    let body = sse_log(&log_of(5));
    let wild = Wild::start(Answer::Status(502), coded("br", body, 1)).await;
    let (lines, err, _) = run_tail(&quick_client(&wild.url()), opts(Protocol::Http)).await;
    let err = err.expect("an error");
    assert_eq!(err.status_code(), 500, "{err}");
    let said = agent_proto::error_chain(&err);
    assert!(said.contains("`br`"), "{said}");
    assert!(lines.is_empty());
}

/// Whole answers are decoded too, and the body limit counts decoded bytes: a
/// gzip bomb stops at the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_answer_is_decoded_and_a_bomb_is_bounded() {
    let text = "line 1\nline 2\n";
    let json = serde_json::to_vec(text).unwrap();
    let wild = Wild::start(
        Answer::Status(502),
        coded("gzip", gzip_flushed(&json, 2), 3),
    )
    .await;
    let logs = quick_client(&wild.url())
        .get_job_logs("raysubmit_wild1")
        .await
        .unwrap();
    assert_eq!(logs, text);

    let bomb = gzip_flushed(&vec![b'a'; 8 << 20], 1);
    assert!(bomb.len() < 64 * 1024);
    let wild = Wild::start(Answer::Status(502), coded("gzip", bomb, 4)).await;
    let transport = HttpTransport::builder(wild.url())
        .max_response_body(1 << 20)
        .proxy(agent_transport::Proxy::none())
        .build()
        .unwrap();
    let e = transport
        .request(Request::new(http::Method::GET, "jobs/x/logs/"))
        .await
        .unwrap_err();
    let said = agent_proto::error_chain(&e);
    assert!(said.contains("1048576-byte limit"), "{said}");
}

/// Our server compresses the log answers only for a client that asks; a client
/// that asks gets the same log in several times fewer bytes, over a GET and an
/// HTTP tail, through both clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_gzips_logs_and_http_tails_when_asked() {
    let log: Vec<String> = (0..5000)
        .map(|i| {
            format!(
                "2026-12-06 12:00:{:02} INFO worker step {i} loss=0.{i:04}",
                i % 60
            )
        })
        .collect();
    let server = AgentTestServer::builder()
        .job(JobSpec::new("raysubmit_big1").lines(log.clone()))
        .build()
        .await
        .unwrap();
    let mut bytes = Vec::new();
    for compress in [false, true] {
        let proxy = Proxy::start(server.local_addr()).await;
        let client = AsyncAgentClient::builder(proxy.http_url(), server.token())
            .compression(compress)
            .no_proxy()
            .build()
            .unwrap();
        let whole = client.get_job_logs("raysubmit_big1").await.unwrap();
        assert_eq!(
            whole.lines().collect::<Vec<_>>(),
            log,
            "compress {compress}"
        );
        let options = TailOptions::new().protocol(Protocol::Http);
        let mut tail = client
            .tail_job_logs("raysubmit_big1", options)
            .await
            .unwrap();
        let (lines, err) = drain(&mut tail).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(lines, log, "compress {compress}");
        bytes.push(proxy.down_bytes());
    }
    assert!(bytes[1] * 4 < bytes[0], "on the wire: {bytes:?}");
    let journal = server.requests(agent_testkit::RouteKind::TailHttp);
    assert_eq!(journal.len(), 2);

    let sample = AgentTestServer::sample().build().await.unwrap();
    let blocking = AgentClient::builder(sample.url(), sample.token())
        .compression(true)
        .no_proxy()
        .build()
        .unwrap();
    let whole = on_thread(move || blocking.get_job_logs(SUCCEEDED_JOB))
        .await
        .unwrap();
    assert_eq!(
        whole.lines().map(str::to_owned).collect::<Vec<_>>(),
        log_lines(&sample, SUCCEEDED_JOB)
    );
}

/// A gzipped tail stays live: a line written while the tail is open arrives
/// before the job says anything more (the server flushes per batch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzipped_tail_stays_live() {
    let server = live_agent().await;
    let client = AsyncAgentClient::builder(server.url(), server.token())
        .compression(true)
        .build()
        .unwrap();
    let options = TailOptions::new().protocol(Protocol::Http);
    let mut tail = client.tail_job_logs(PENDING_JOB, options).await.unwrap();
    for i in 0..3 {
        let line = format!("live line {i}");
        server.append_lines(PENDING_JOB, [line.as_str()]);
        let got = within(next(&mut tail)).await;
        assert_eq!(got.map(Result::unwrap), Some(line));
    }
}

// ---------------------------------------------------------------- generated cases

/// A runtime per generated case (proptest's closures are synchronous).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(fut)
}

fn any_log() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z0-9 ]{1,40}", 0..30)
}

/// Any status but 101 and the informational ones (hyper does not hand those out).
fn upgrade_status() -> impl Strategy<Value = u16> {
    prop_oneof![
        proptest::sample::select(REQUEST_REFUSALS.to_vec()),
        proptest::sample::select(FALLBACK_STATUSES.to_vec()),
        200u16..600,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Refused upgrades under `auto`: an answer about the request ends the tail
    /// with its status and no line; any other falls back and delivers the log.
    #[test]
    fn refused_upgrades_under_auto(
        status in upgrade_status(),
        log in any_log(),
        pieces in 1usize..6,
        framing in prop_oneof![Just(Framing::Close), Just(Framing::Chunked { terminated: true })],
    ) {
        let (lines, err) = block_on(async {
            let tail = Answer::Body {
                headers: vec![],
                pieces: split(&sse_log(&log), pieces),
                framing,
                hold: false,
            };
            let wild = Wild::start(Answer::Status(status), tail).await;
            let (lines, err, _) = run_tail(&quick_client(&wild.url()), opts(Protocol::Auto)).await;
            (lines, err)
        });
        if REQUEST_REFUSALS.contains(&status) {
            prop_assert_eq!(err.map(|e| e.status_code()), Some(status));
            prop_assert!(lines.is_empty());
        } else {
            prop_assert!(err.is_none(), "{}: {:?}", status, err);
            prop_assert_eq!(lines, log);
        }
    }

    /// Dead servers: the tail's answer stops anywhere and the server says nothing
    /// more; the tail fails loudly (408) with a prefix of the log, on both
    /// protocols (`auto` behind a proxy that refuses the upgrade).
    #[test]
    fn dead_servers_fail_loudly_with_a_prefix(
        log in any_log(),
        cut in any::<prop::sample::Index>(),
        pieces in 1usize..5,
        protocol in prop_oneof![Just(Protocol::Http), Just(Protocol::Auto)],
    ) {
        let body = sse_log(&log);
        let cut = cut.index(body.len());
        let (lines, err) = block_on(async {
            let tail = Answer::Body {
                headers: vec![],
                pieces: split(&body[..cut], pieces),
                framing: Framing::Chunked { terminated: false },
                hold: true,
            };
            let wild = Wild::start(Answer::Status(502), tail).await;
            let (lines, err, _) = run_tail(&quick_client(&wild.url()), opts(protocol)).await;
            (lines, err)
        });
        let err = err.expect("a dead server never ends a tail cleanly");
        prop_assert_eq!(err.status_code(), 408, "{}", err);
        assert_all_or_loud_prefix(&log, &lines, Some(&err));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Quiet jobs on a live server: lines, then a silence longer than the tail's
    /// time-out; with `max_quiet` the tail fails loudly (408, quiet) after a prefix
    /// of the log, without it the tail is still alive when the test lets go.
    #[test]
    fn quiet_jobs_on_live_servers(
        log in prop::collection::vec("[a-z0-9]{1,20}", 0..10),
        protocol in prop_oneof![Just(Protocol::Http), Just(Protocol::WebSocket), Just(Protocol::Auto)],
        bounded in any::<bool>(),
    ) {
        let (lines, err) = block_on(async {
            let server = live_agent().await;
            server.append_lines(PENDING_JOB, log.clone());
            let client = AsyncAgentClient::new(server.url(), server.token()).unwrap();
            let mut options = TailOptions::new().protocol(protocol).timeout(Duration::from_secs(1));
            if bounded {
                options = options.max_quiet(Duration::from_millis(1200));
            }
            let mut tail: LogTail = client.tail_job_logs(PENDING_JOB, options).await.unwrap();
            let mut lines = Vec::new();
            let mut err = None;
            loop {
                match tokio::time::timeout(Duration::from_millis(2500), next(&mut tail)).await {
                    Ok(Some(Ok(line))) => lines.push(line),
                    Ok(Some(Err(e))) => {
                        err = Some(e);
                        break;
                    }
                    Ok(None) => panic!("a quiet job's tail ended cleanly"),
                    Err(_) => break, // alive and quiet: let go
                }
            }
            (lines, err)
        });
        if bounded {
            let err = err.expect("max_quiet ends the tail");
            prop_assert!(matches!(err, ClientError::Timeout { kind: TimeoutKind::Quiet, .. }), "{:?}", err);
            prop_assert_eq!(lines, log);
        } else {
            prop_assert!(err.is_none(), "{:?}", err);
            prop_assert_eq!(lines, log);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A gzip body cut anywhere (the cut ending the body cleanly, or breaking
    /// it): every line and a clean end, or a loud failure with a prefix of the
    /// log; compressed bytes are never delivered.
    #[test]
    fn a_gzip_body_cut_anywhere_is_whole_or_a_loud_prefix(
        log in any_log(),
        flushes in 1usize..8,
        cut in any::<prop::sample::Index>(),
        whole in any::<bool>(),
        pieces in 1usize..6,
        framing in prop_oneof![
            Just(Framing::Close),
            Just(Framing::Chunked { terminated: true }),
            Just(Framing::Chunked { terminated: false }),
        ],
    ) {
        let gz = gzip_flushed(&sse_log(&log), flushes);
        let cut = if whole { gz.len() } else { cut.index(gz.len()) };
        let (lines, err) = block_on(async {
            let tail = Answer::Body {
                headers: vec![("content-encoding", "gzip")],
                pieces: split(&gz[..cut], pieces),
                framing,
                hold: false,
            };
            let wild = Wild::start(Answer::Status(426), tail).await;
            let (lines, err, _) = run_tail(&quick_client(&wild.url()), opts(Protocol::Auto)).await;
            (lines, err)
        });
        if cut == 0 {
            // No byte of the body at all: it carried no SSE event, and a body
            // without one that ends cleanly is a plain-text log with no line
            // yet ("Ends of a tail"), so the one wrong answer is a line.
            prop_assert!(lines.is_empty(), "{:?}", lines);
        } else {
            assert_all_or_loud_prefix(&log, &lines, err.as_ref());
        }
        if cut == gz.len() && framing != (Framing::Chunked { terminated: false }) {
            prop_assert!(err.is_none(), "{:?}", err);
        }
    }
}
