//! Helpers shared by the workspace integration tests: draining tails, running the
//! blocking client off the test's runtime, a counting TCP (and TLS-terminating)
//! proxy, and a check that no token shows in any text.
#![allow(dead_code)]

use agent_client_async::{
    AsyncAgentClient, ClientError, LogTail, Protocol, RetryPolicy, StreamCounters, TailOptions,
};
use agent_client_blocking::{AgentClient, LogTailIter};
use agent_testkit::{AgentTestServer, TestHandle};
use futures_core::Stream;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest any test step may take before the test fails as hung.
pub const HANG: Duration = Duration::from_secs(30);

/// A short idle time-out for tails that are expected to go quiet.
pub const IDLE: Duration = Duration::from_millis(300);

/// Awaits `fut`, failing the test if it takes longer than [`HANG`].
pub async fn within<F: Future>(fut: F) -> F::Output {
    match tokio::time::timeout(HANG, fut).await {
        Ok(out) => out,
        Err(_) => panic!("the test step hung for {HANG:?}"),
    }
}

/// The next item of an async tail.
pub async fn next(tail: &mut LogTail) -> Option<Result<String, ClientError>> {
    poll_fn(|cx| Pin::new(&mut *tail).poll_next(cx)).await
}

/// Reads a tail to its end: the lines, and the error it ended with (if any). Checks
/// that a tail that failed yields nothing more (it never ends silently *after* an
/// error either, nor goes on).
pub async fn drain(tail: &mut LogTail) -> (Vec<String>, Option<ClientError>) {
    within(async {
        let mut lines = Vec::new();
        while let Some(item) = next(tail).await {
            match item {
                Ok(line) => lines.push(line),
                Err(e) => {
                    assert!(next(tail).await.is_none(), "a failed tail went on");
                    return (lines, Some(e));
                }
            }
        }
        (lines, None)
    })
    .await
}

/// Reads `n` lines of a tail (failing on an error or an early end).
pub async fn take(tail: &mut LogTail, n: usize) -> Vec<String> {
    within(async {
        let mut lines = Vec::new();
        while lines.len() < n {
            match next(tail).await {
                Some(Ok(line)) => lines.push(line),
                other => panic!("after {} lines: {other:?}", lines.len()),
            }
        }
        lines
    })
    .await
}

/// Reads a blocking tail to its end (call on a thread without a runtime).
pub fn drain_blocking(tail: &mut LogTailIter) -> (Vec<String>, Option<ClientError>) {
    let mut lines = Vec::new();
    while let Some(item) = tail.next() {
        match item {
            Ok(line) => lines.push(line),
            Err(e) => {
                assert!(tail.next().is_none(), "a failed tail went on");
                return (lines, Some(e));
            }
        }
    }
    (lines, None)
}

/// Runs blocking code on a plain thread (no tokio context, as a synchronous
/// program would) and awaits its result without blocking the test's runtime, so a
/// test server on that runtime keeps serving.
pub async fn on_thread<T, F>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    within(rx).await.expect("the blocking code panicked")
}

/// A retry policy whose waits are short, so retry tests stay quick.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

/// An async client of `server` with default settings.
pub fn async_client(server: &AgentTestServer) -> AsyncAgentClient {
    AsyncAgentClient::new(server.url(), server.token()).expect("client")
}

/// A blocking client of `server` with default settings.
pub fn blocking_client(server: &AgentTestServer) -> AgentClient {
    AgentClient::new(server.url(), server.token()).expect("client")
}

/// `n` distinct log lines.
pub fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix} line {i}: some log text"))
        .collect()
}

/// A job's whole log as the test server holds it, line by line.
pub fn log_lines(handle: &TestHandle, job: &str) -> Vec<String> {
    handle
        .job_log(job)
        .expect("no such job")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Keeps reading `tail` (which reads the network only while it is polled) until
/// `cond` holds, failing the test if a line, an error or the end comes meanwhile,
/// or after [`HANG`].
pub async fn read_nothing_until(tail: &mut LogTail, what: &str, mut cond: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(HANG, async {
        while !cond() {
            let item = tokio::time::timeout(Duration::from_millis(5), next(tail)).await;
            assert!(
                item.is_err(),
                "while waiting for {what}, the tail gave {item:?}"
            );
        }
    })
    .await;
    assert!(waited.is_ok(), "gave up waiting for {what} after {HANG:?}");
}

/// Polls `cond` every 5 ms until it holds, failing the test after [`HANG`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(HANG, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "gave up waiting for {what} after {HANG:?}");
}

/// Asserts that no secret appears in `text`.
#[track_caller]
pub fn assert_clean(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "a secret ({s}) leaked into: {text}");
    }
}

/// Asserts that no secret appears in an error's `Display`, `Debug` or pretty `Debug`.
#[track_caller]
pub fn assert_error_clean(e: &ClientError, secrets: &[&str]) {
    for text in [format!("{e}"), format!("{e:?}"), format!("{e:#?}")] {
        assert_clean(&text, secrets);
    }
}

/// A port on loopback where nothing listens.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A TCP proxy on loopback in front of `upstream`, optionally terminating TLS, that
/// counts the connections open through it and the bytes it carried. A connection
/// counts as closed once either side closed it.
pub struct Proxy {
    pub addr: SocketAddr,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    down_bytes: Arc<AtomicU64>,
    frozen: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A plain TCP proxy.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        Self::start_tls(upstream, None).await
    }

    /// A proxy that terminates TLS with `acceptor` (plain TCP without one).
    pub async fn start_tls(
        upstream: SocketAddr,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let down_bytes = Arc::new(AtomicU64::new(0));
        let frozen = Arc::new(AtomicBool::new(false));
        let (o, a, d, f) = (
            open.clone(),
            accepted.clone(),
            down_bytes.clone(),
            frozen.clone(),
        );
        let task = tokio::spawn(async move {
            // Dropped with the task: aborts every connection.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let (o, d, f, acceptor) = (o.clone(), d.clone(), f.clone(), acceptor.clone());
                conns.spawn(async move {
                    let _ = serve(tcp, upstream, acceptor, d, f).await;
                    o.fetch_sub(1, Ordering::SeqCst);
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Proxy {
            addr,
            open,
            accepted,
            down_bytes,
            frozen,
            task,
        }
    }

    /// From now on, nothing the server sends reaches the client (pongs included),
    /// and the connections stay open: a server that answers nothing.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Connections open through the proxy right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Bytes carried from the server to the client so far.
    pub fn down_bytes(&self) -> u64 {
        self.down_bytes.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn http_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `https://127.0.0.1:PORT/`.
    pub fn https_url(&self) -> String {
        format!("https://{}/", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    tcp: TcpStream,
    upstream: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    down_bytes: Arc<AtomicU64>,
    frozen: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let client: Box<dyn Io> = match acceptor {
        Some(acceptor) => Box::new(acceptor.accept(tcp).await?),
        None => Box::new(tcp),
    };
    let server = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            sw.write_all(&buf[..n]).await?;
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            while frozen.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            cw.write_all(&buf[..n]).await?;
            cw.flush().await?;
            down_bytes.fetch_add(n as u64, Ordering::SeqCst);
        }
    };
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}

/// A self-signed certificate for `names`, made now: its PEM, and a TLS acceptor
/// serving it (ring provider).
pub struct TestCert {
    pub pem: String,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

pub fn self_signed(names: &[&str]) -> TestCert {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).expect("rcgen");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestCert {
        pem: certified.cert.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    }
}

/// A listener that accepts connections and never says a word (a TLS handshake to it
/// never completes). Dropping it closes everything.
pub struct SilentListener {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SilentListener {
    pub async fn start() -> SilentListener {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
            }
        });
        SilentListener { addr, task }
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a tail gave: its lines, its error, its counters and protocol.
#[derive(Debug)]
pub struct Outcome {
    pub lines: Vec<String>,
    pub err: Option<ClientError>,
    pub counters: StreamCounters,
    pub protocol: Protocol,
}

/// Tails `job` to its end with the async client.
pub async fn tail_async(c: &AsyncAgentClient, job: &str, o: TailOptions) -> Outcome {
    let mut t = within(c.tail_job_logs(job, o)).await.unwrap();
    let (lines, err) = drain(&mut t).await;
    Outcome {
        lines,
        err,
        counters: t.counters(),
        protocol: t.protocol_used(),
    }
}

/// Tails `job` to its end with the blocking client, on a thread of its own.
pub async fn tail_blocking(c: &AgentClient, job: &str, o: TailOptions) -> Outcome {
    let (c, job) = (c.clone(), job.to_owned());
    on_thread(move || {
        let mut t = c.tail_job_logs(&job, o).unwrap();
        let (lines, err) = drain_blocking(&mut t);
        Outcome {
            lines,
            err,
            counters: t.counters(),
            protocol: t.protocol_used(),
        }
    })
    .await
}

/// Both clients' outcomes for one tail.
pub async fn tail_both(server: &AgentTestServer, job: &str, o: TailOptions) -> [Outcome; 2] {
    let a = async_client(server);
    let b = blocking_client(server);
    [
        tail_async(&a, job, o.clone()).await,
        tail_blocking(&b, job, o).await,
    ]
}
