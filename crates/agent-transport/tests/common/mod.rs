//! Small real servers on loopback for the transport's tests: a hyper HTTP/1.1
//! server (optionally behind rustls) with fastwebsockets upgrades, raw TCP servers
//! for faults, and a self-signed certificate made with rcgen.
#![allow(dead_code)]

use bytes::Bytes;
use fastwebsockets::{upgrade, WebSocket};
use http::{Request, Response, StatusCode};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A running server; dropping it stops the server and its connections.
pub struct Server {
    pub addr: SocketAddr,
    _tasks: JoinSet<()>,
}

impl Server {
    /// `http://127.0.0.1:port` followed by `suffix`.
    pub fn url(&self, suffix: &str) -> String {
        format!("http://{}{}", self.addr, suffix)
    }

    /// `https://127.0.0.1:port` followed by `suffix`.
    pub fn https_url(&self, suffix: &str) -> String {
        format!("https://{}{}", self.addr, suffix)
    }
}

/// A response body: whole, or chunks from a channel (an `Err` breaks the body).
pub enum TestBody {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Result<Bytes, io::Error>>),
}

impl TestBody {
    pub fn empty() -> Self {
        TestBody::Full(None)
    }

    pub fn from(data: impl Into<Bytes>) -> Self {
        TestBody::Full(Some(data.into()))
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            TestBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            TestBody::Channel(rx) => rx
                .poll_recv(cx)
                .map(|item| item.map(|r| r.map(Frame::data))),
        }
    }
}

pub type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<TestBody>> + Send>>
        + Send
        + Sync,
>;

/// Wraps an async closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}

/// A hyper HTTP/1.1 server (with upgrades) calling `handler`; TLS when `tls` is set.
pub async fn http_server(handler: Handler, tls: Option<TlsAcceptor>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let tls = tls.clone();
            conns.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let builder = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(tcp), service)
                            .with_upgrades()
                            .await;
                    }
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                    }
                }
            });
            // Reap finished connections so the set does not grow.
            while conns.try_join_next().is_some() {}
        }
    });
    Server {
        addr,
        _tasks: tasks,
    }
}

/// A plain HTTP server calling `handler`.
pub async fn serve<F, Fut>(f: F) -> Server
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    http_server(handler(f), None).await
}

/// Accepts a WebSocket upgrade and runs `on_socket` on it in a task; anything but an
/// upgrade request gets a 400.
pub fn accept_websocket<F, Fut>(mut req: Request<Incoming>, on_socket: F) -> Response<TestBody>
where
    F: FnOnce(WebSocket<TokioIo<hyper::upgrade::Upgraded>>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !upgrade::is_upgrade_request(&req) {
        return status(StatusCode::BAD_REQUEST, "not an upgrade");
    }
    let (resp, fut) = upgrade::upgrade(&mut req).unwrap();
    tokio::spawn(async move {
        if let Ok(ws) = fut.await {
            on_socket(ws).await;
        }
    });
    resp.map(|_| TestBody::empty())
}

/// A response with this status and body.
pub fn status(code: StatusCode, body: &str) -> Response<TestBody> {
    Response::builder()
        .status(code)
        .body(TestBody::from(body.to_owned()))
        .unwrap()
}

/// A raw TCP server: `on_conn` runs for each accepted connection.
pub async fn raw_server<F, Fut>(on_conn: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            conns.spawn(on_conn(tcp));
            while conns.try_join_next().is_some() {}
        }
    });
    Server {
        addr,
        _tasks: tasks,
    }
}

/// Reads a request head (up to the blank line) and returns it as text.
pub async fn read_head(tcp: &mut (impl AsyncRead + Unpin)) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Writes `data` and flushes.
pub async fn write_all(tcp: &mut TcpStream, data: &[u8]) {
    let _ = tcp.write_all(data).await;
    let _ = tcp.flush().await;
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// A self-signed certificate, and a TLS acceptor serving it.
pub struct TestCert {
    pub der: Vec<u8>,
    pub pem: String,
    pub acceptor: TlsAcceptor,
}

/// A self-signed certificate for `127.0.0.1` and `localhost`.
pub fn test_cert() -> TestCert {
    test_cert_for(&["127.0.0.1", "localhost"])
}

/// A self-signed certificate for these names.
pub fn test_cert_for(names: &[&str]) -> TestCert {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let der = certified.cert.der().to_vec();
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestCert {
        der,
        pem,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}
