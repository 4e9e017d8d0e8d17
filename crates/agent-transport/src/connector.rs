//! Opening connections: TCP through hyper-util's `HttpConnector`, then TLS through
//! tokio-rustls for `https`, both under the connect time-out.
//!
//! Every failure here happens before a byte of the request is written, so it is a
//! [`ClientError::Connect`] or a connect [`ClientError::Timeout`]: safe to retry.

use crate::util::error_chain;
use agent_proto::{ClientError, TimeoutKind};
use http::uri::Scheme;
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection failure, already classified; travels through hyper-util's error
/// chain so that the transport can find it again.
#[derive(Debug)]
pub(crate) struct ConnectFailure(pub(crate) ClientError);

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ConnectFailure {}

/// Opens TCP and TLS connections to the agent.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector with this TLS configuration and connect time-out.
    pub(crate) fn new(tls: Arc<rustls::ClientConfig>, timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        Connector {
            http,
            tls: tokio_rustls::TlsConnector::from(tls),
            timeout,
        }
    }

    /// The connect time-out.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Opens a connection to `uri`'s host (TLS for `https`), within the connect
    /// time-out.
    pub(crate) async fn connect(&self, uri: Uri) -> Result<MaybeTlsStream, ConnectFailure> {
        match tokio::time::timeout(self.timeout, self.connect_unbounded(uri)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectFailure(ClientError::Timeout {
                kind: TimeoutKind::Connect,
                after: self.timeout,
            })),
        }
    }

    /// [`Connector::connect`] without the time-out (the caller applies one).
    pub(crate) async fn connect_unbounded(
        &self,
        uri: Uri,
    ) -> Result<MaybeTlsStream, ConnectFailure> {
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let host = uri.host().unwrap_or_default().to_owned();
        let target = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| host.clone());
        let unreachable = |e: Box<dyn std::error::Error + Send + Sync>| {
            let message = format!("could not connect to {target}: {}", error_chain(&*e));
            failure(message, Some(e))
        };
        let mut http = self.http.clone();
        std::future::poll_fn(|cx| tower_service::Service::<Uri>::poll_ready(&mut http, cx))
            .await
            .map_err(|e| unreachable(e.into()))?;
        let tcp = tower_service::Service::<Uri>::call(&mut http, uri)
            .await
            .map_err(|e| unreachable(e.into()))?;
        if !https {
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        // `Uri::host` keeps the brackets of an IPv6 literal.
        let name = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let server_name = ServerName::try_from(name).map_err(|e| {
            failure(
                format!("{host} is not a valid TLS server name: {e}"),
                Some(e.into()),
            )
        })?;
        let tls = self
            .tls
            .connect(server_name, tcp.into_inner())
            .await
            .map_err(|e| {
                let message = format!("TLS handshake with {target} failed: {}", error_chain(&e));
                failure(message, Some(e.into()))
            })?;
        Ok(MaybeTlsStream::Tls(Box::new(TokioIo::new(tls))))
    }
}

/// A connect failure; `source` (the `io::Error`, rustls error, ...) becomes the
/// error's `source()`.
fn failure(
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> ConnectFailure {
    ConnectFailure(match source {
        Some(source) => ClientError::connect_with(message, source),
        None => ClientError::connect(message),
    })
}

impl tower_service::Service<Uri> for Connector {
    type Response = MaybeTlsStream;
    type Error = ConnectFailure;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeTlsStream, ConnectFailure>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(uri).await })
    }
}

/// A TCP connection, with TLS or without.
pub(crate) enum MaybeTlsStream {
    /// Plain `http`.
    Plain(TokioIo<TcpStream>),
    /// `https`.
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Read for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
}

impl Connection for MaybeTlsStream {
    fn connected(&self) -> Connected {
        match self {
            MaybeTlsStream::Plain(s) => s.connected(),
            MaybeTlsStream::Tls(s) => s.inner().get_ref().0.connected(),
        }
    }
}
