//! Opening connections: TCP through hyper-util's `HttpConnector`, then TLS through
//! tokio-rustls for `https`, both under the connect time-out.
//!
//! Through a proxy ([`crate::proxy`]): `https` (and every WebSocket) goes through a
//! `CONNECT` tunnel (hyper-util's `Tunnel`, which sends the credentials as
//! `Proxy-Authorization`), then TLS inside it, end to end with the agent; plain
//! `http` requests go to the proxy itself on a connection marked as proxied, so
//! that hyper-util writes them in absolute form (`GET http://agent/path`).
//!
//! Every failure here happens before a byte of the request is written, so it is a
//! [`ClientError::Connect`] or a connect [`ClientError::Timeout`]: safe to retry.

use crate::proxy::{Route, Rules};
use crate::util::error_chain;
use agent_proto::{ClientError, TimeoutKind};
use http::uri::Scheme;
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
#[cfg(feature = "tls")]
use rustls::pki_types::ServerName;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
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

/// hyper-util's tunnel error (its module does not export the name).
type TunnelError = <Tunnel<HttpConnector> as tower_service::Service<Uri>>::Error;

/// Opens TCP and TLS connections to the agent.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    #[cfg(feature = "tls")]
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
    proxies: Rules,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("timeout", &self.timeout)
            .field("proxies", &self.proxies)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector with this TLS configuration, connect time-out and proxy rules.
    pub(crate) fn new(
        #[cfg(feature = "tls")] tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
        proxies: Rules,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        Connector {
            http,
            #[cfg(feature = "tls")]
            tls: tokio_rustls::TlsConnector::from(tls),
            timeout,
            proxies,
        }
    }

    /// The proxy a connection to `uri` goes through, if any.
    pub(crate) fn route(&self, uri: &Uri) -> Option<Route> {
        self.proxies.route(uri)
    }

    /// The connect time-out.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Opens a connection to `uri`'s host (TLS for `https`), within the connect
    /// time-out.
    pub(crate) async fn connect(&self, uri: Uri) -> Result<MaybeTlsStream, ConnectFailure> {
        match tokio::time::timeout(self.timeout, self.connect_unbounded(uri, false)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectFailure(ClientError::Timeout {
                kind: TimeoutKind::Connect,
                after: self.timeout,
            })),
        }
    }

    /// [`Connector::connect`] without the time-out (the caller applies one).
    ///
    /// `tunnel_plain`: through a proxy, tunnel a plain `http` connection too (a
    /// WebSocket cannot be sent in absolute form).
    pub(crate) async fn connect_unbounded(
        &self,
        uri: Uri,
        tunnel_plain: bool,
    ) -> Result<MaybeTlsStream, ConnectFailure> {
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        if let Some(route) = self.route(&uri) {
            return self.connect_via(route, uri, https, tunnel_plain).await;
        }
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
        let tcp = tower_service::Service::<Uri>::call(&mut http, uri.clone())
            .await
            .map_err(|e| unreachable(e.into()))?;
        if !https {
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        self.tls_over(tcp.into_inner(), &uri).await
    }

    /// Through the proxy `route`: a tunnel (then TLS for `https`), or for plain
    /// `http` requests a connection to the proxy itself.
    async fn connect_via(
        &self,
        route: Route,
        uri: Uri,
        https: bool,
        tunnel_plain: bool,
    ) -> Result<MaybeTlsStream, ConnectFailure> {
        let proxy = route.name();
        if route.uri.scheme() != Some(&Scheme::HTTP) {
            return Err(failure(
                format!(
                    "the proxy at {proxy} is not an http:// proxy; only http:// proxies are supported"
                ),
                None,
            ));
        }
        if !https && !tunnel_plain {
            let mut http = self.http.clone();
            let tcp = tower_service::Service::<Uri>::call(&mut http, route.uri.clone())
                .await
                .map_err(|e| {
                    let message = format!(
                        "could not connect to the proxy at {proxy}: {}",
                        error_chain(&e)
                    );
                    failure(message, Some(e.into()))
                })?;
            return Ok(MaybeTlsStream::ViaProxy(tcp));
        }
        let dst = with_port(&uri, https)?;
        let target = dst
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let mut tunnel = Tunnel::new(route.uri.clone(), self.http.clone());
        if let Some(auth) = route.auth {
            tunnel = tunnel.with_auth(auth);
        }
        let tunnel_failed = |e: TunnelError| {
            let message = match &e {
                TunnelError::ProxyAuthRequired => format!(
                    "the proxy at {proxy} asks for credentials (407); give them in the proxy URL"
                ),
                TunnelError::TunnelUnsuccessful => {
                    format!("the proxy at {proxy} refused to open a tunnel to {target}")
                }
                other => format!(
                    "could not open a tunnel to {target} through the proxy at {proxy}: {}",
                    error_chain(other)
                ),
            };
            failure(message, Some(e.into()))
        };
        std::future::poll_fn(|cx| tower_service::Service::<Uri>::poll_ready(&mut tunnel, cx))
            .await
            .map_err(tunnel_failed)?;
        let tcp = tower_service::Service::<Uri>::call(&mut tunnel, dst)
            .await
            .map_err(tunnel_failed)?;
        if !https {
            return Ok(MaybeTlsStream::Plain(tcp));
        }
        self.tls_over(tcp.into_inner(), &uri).await
    }

    /// Without the `tls` feature there is no TLS: `https` is refused when the
    /// transport is built, so this only guards.
    #[cfg(not(feature = "tls"))]
    async fn tls_over(&self, _tcp: TcpStream, uri: &Uri) -> Result<MaybeTlsStream, ConnectFailure> {
        Err(failure(
            format!(
                "cannot speak TLS to {}: agent-transport was built without its `tls` feature",
                uri.authority().map(|a| a.as_str()).unwrap_or_default()
            ),
            None,
        ))
    }

    /// A TLS handshake with `uri`'s host over `tcp`.
    #[cfg(feature = "tls")]
    async fn tls_over(&self, tcp: TcpStream, uri: &Uri) -> Result<MaybeTlsStream, ConnectFailure> {
        let host = uri.host().unwrap_or_default().to_owned();
        let target = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| host.clone());
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
        let tls = self.tls.connect(server_name, tcp).await.map_err(|e| {
            let message = format!("TLS handshake with {target} failed: {}", error_chain(&e));
            failure(message, Some(e.into()))
        })?;
        Ok(MaybeTlsStream::Tls(Box::new(TokioIo::new(tls))))
    }
}

/// `uri` with its port spelled out (80 or 443 when it has none): the `CONNECT`
/// request names one.
fn with_port(uri: &Uri, https: bool) -> Result<Uri, ConnectFailure> {
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}:{port}/")
        .parse()
        .map_err(|e: http::uri::InvalidUri| failure(format!("bad destination: {e}"), None))
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
    /// Plain `http` (straight to the agent, or through a proxy's tunnel).
    Plain(TokioIo<TcpStream>),
    /// Plain `http` to a proxy, which takes the requests in absolute form.
    ViaProxy(TokioIo<TcpStream>),
    /// `https`.
    #[cfg(feature = "tls")]
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Read for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) | MaybeTlsStream::ViaProxy(s) => {
                Pin::new(s).poll_read(cx, buf)
            }
            #[cfg(feature = "tls")]
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
            MaybeTlsStream::Plain(s) | MaybeTlsStream::ViaProxy(s) => {
                Pin::new(s).poll_write(cx, buf)
            }
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) | MaybeTlsStream::ViaProxy(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) | MaybeTlsStream::ViaProxy(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) | MaybeTlsStream::ViaProxy(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) | MaybeTlsStream::ViaProxy(s) => {
                Pin::new(s).poll_write_vectored(cx, bufs)
            }
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
}

impl Connection for MaybeTlsStream {
    fn connected(&self) -> Connected {
        match self {
            MaybeTlsStream::Plain(s) => s.connected(),
            // hyper-util writes requests in absolute form on a proxied connection.
            MaybeTlsStream::ViaProxy(s) => s.connected().proxy(true),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => s.inner().get_ref().0.connected(),
        }
    }
}
