//! A recording HTTP proxy on loopback, for testing code that must go through a
//! proxy: it answers `CONNECT` with a tunnel, forwards absolute-form requests
//! (`GET http://host:port/path`), and writes down the request line and the
//! `Proxy-Authorization` of every connection it was asked to carry.
//!
//! It is a test double with bounds, not a product: a request head over 64 KiB is
//! dropped, and it connects only where it is asked (run it on loopback, against
//! loopback servers).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The largest request head the proxy reads before giving up on a connection.
const MAX_HEAD: usize = 64 * 1024;

/// What the proxy was asked on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `CONNECT`, or the method of an absolute-form request.
    pub method: String,
    /// `host:port` for `CONNECT`, the absolute URL otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, as sent.
    pub auth: Option<String>,
}

/// A recording HTTP proxy on `127.0.0.1`. With a required `Proxy-Authorization`,
/// a request without exactly that header gets a 407 and goes nowhere. Dropping it
/// stops the proxy and closes every connection it carries.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use agent_testkit::RecordingProxy;
///
/// let proxy = RecordingProxy::start(None).await?;
/// let url = proxy.url(""); // `http://127.0.0.1:PORT`, for `HTTPS_PROXY` or `Proxy::all`
/// assert!(url.starts_with("http://127.0.0.1:"));
/// assert!(proxy.requests().is_empty());
/// # Ok(())
/// # }
/// ```
pub struct RecordingProxy {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<ProxiedRequest>>>,
    stop: Stop,
}

/// How a proxy is stopped: its task on the caller's runtime, or its own thread.
enum Stop {
    Task(JoinHandle<()>),
    Thread(Option<tokio::sync::oneshot::Sender<()>>),
}

impl RecordingProxy {
    /// Starts the proxy on the current tokio runtime; with `require`, the
    /// `Proxy-Authorization` value (such as `Basic dXNlcjpwYXNz`) it demands.
    pub async fn start(require: Option<&str>) -> io::Result<RecordingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let asked = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept(listener, asked.clone(), require.map(str::to_owned)));
        Ok(RecordingProxy {
            addr,
            asked,
            stop: Stop::Task(task),
        })
    }

    /// Starts the proxy on a thread and runtime of its own, for tests without a
    /// runtime (such as tests that run a binary); it stops when dropped.
    pub fn start_blocking(require: Option<&str>) -> io::Result<RecordingProxy> {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let require = require.map(str::to_owned);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("recording-proxy".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::bind("127.0.0.1:0").await {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(listener.local_addr());
                    tokio::select! {
                        _ = accept(listener, log, require) => {}
                        _ = stop_rx => {}
                    }
                });
            })?;
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| io::Error::other("the proxy's thread did not start"))??;
        Ok(RecordingProxy {
            addr,
            asked,
            stop: Stop::Thread(Some(stop_tx)),
        })
    }

    /// The proxy's URL, with `userinfo` (such as `user:pass@`, or empty) in it.
    pub fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}{}", self.addr)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request it was asked so far, in order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        match &mut self.stop {
            Stop::Task(task) => task.abort(),
            Stop::Thread(stop) => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
}

impl std::fmt::Debug for RecordingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingProxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Accepts until dropped; dropping the set aborts every connection.
async fn accept(
    listener: TcpListener,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    require: Option<String>,
) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((tcp, _)) = listener.accept().await {
        conns.spawn(carry(tcp, log.clone(), require.clone()));
        while conns.try_join_next().is_some() {}
    }
}

/// One connection: read the head, record it, then tunnel or forward.
async fn carry(
    mut client: TcpStream,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    require: Option<String>,
) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        let n = client.read(&mut buf).await?;
        if n == 0 || head.len() > MAX_HEAD {
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
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(ProxiedRequest {
            method: method.clone(),
            target: target.clone(),
            auth: auth.clone(),
        });
    if require.is_some() && auth != require {
        client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    let mut upstream = if method == "CONNECT" {
        let mut upstream = TcpStream::connect(&target).await?;
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        // Bytes the client sent past the head already belong to the tunnel.
        upstream.write_all(&head[end..]).await?;
        upstream
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
