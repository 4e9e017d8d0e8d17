//! The default transport: HTTP/1.1 over TCP, TLS through rustls, a connection pool
//! (hyper-util's legacy client), WebSockets through fastwebsockets.

use crate::coding::{self, Decoder, ACCEPT_ENCODING};
use crate::connector::{ConnectFailure, Connector};
use crate::proxy::Proxy;
#[cfg(feature = "tls")]
use crate::tls;
use crate::transport::{
    BodyStream, Request, Response, StreamingResponse, Transport, WsOptions, WsStream,
};
use crate::util::{error_chain, find_source};
use crate::websocket;
use agent_proto::{ClientError, TimeoutKind, Timeouts};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::header::{
    HeaderValue, ACCEPT_ENCODING as ACCEPT_ENCODING_HEADER, CONTENT_LENGTH, USER_AGENT,
};
use http::Uri;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
#[cfg(feature = "tls")]
use rustls::pki_types::CertificateDer;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// The default largest answer body [`Transport::request`] reads: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;

/// The default `User-Agent`: `agent-transport/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("agent-transport/", env!("CARGO_PKG_VERSION"));

/// The default transport: HTTP/1.1 and WebSocket over TCP, TLS (rustls, ring
/// provider, certificate verification always on) for `https://` base URLs, with a
/// pool of keep-alive connections.
///
/// Cloning is cheap and shares the pool.
///
/// Behaviour the clients rely on:
/// - every path is joined to the base URL as `base.trim_end('/') + "/" + path`;
/// - connect errors (DNS, refused, TLS) are [`ClientError::Connect`], a connect
///   that takes longer than [`Timeouts::connect`] (TCP and TLS together) is a
///   connect [`ClientError::Timeout`]: the request never left;
/// - once a request may have been written, any failure is a
///   [`ClientError::ResponseIncomplete`]: a read time-out (cause: read
///   [`ClientError::Timeout`], 408), a connection that closed or broke before the
///   answer was complete (cause: [`ClientError::Connect`], 503), or a body larger
///   than the limit (cause: [`ClientError::Decode`], 500);
/// - the answer's headers must come within [`Timeouts::read`] of the request going
///   on the wire (connecting does not count); in [`Transport::request`] every read of
///   the body must also come within [`Timeouts::read`]; in [`Transport::stream`]
///   the body has no time-out of its own (the caller wraps
///   [`BodyStream::next_chunk`], which is cancel-safe);
/// - a body with `Content-Encoding: gzip` or `deflate` is decoded as it streams
///   (its `Content-Encoding` and `Content-Length` are then removed from the
///   answer's headers), every limit counting decoded bytes; any other coding is a
///   [`ClientError::Decode`] naming it, and a compressed stream cut short is an
///   error, never a clean end (see [`HttpTransportBuilder::compression`] for what
///   is asked);
/// - an error status is an answer, not an error;
/// - no error message holds a header value.
///
/// ```
/// use agent_transport::{HttpTransport, Request};
/// use agent_proto::Timeouts;
/// use http::Method;
/// use std::time::Duration;
///
/// let transport = HttpTransport::builder("https://agent.example.com/agent/")
///     .timeouts(Timeouts { connect: Duration::from_secs(2), read: Duration::from_secs(30) })
///     .user_agent("my-tool/1.0")
///     .build()?;
/// assert_eq!(transport.base_url(), "https://agent.example.com/agent/");
/// assert_eq!(transport.url("jobs/")?.to_string(), "https://agent.example.com/agent/jobs/");
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Clone)]
pub struct HttpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: String,
    client: Client<Connector, WatchedBody>,
    connector: Connector,
    timeouts: Timeouts,
    user_agent: HeaderValue,
    max_response_body: usize,
    /// `Accept-Encoding` sent on requests that set none (compression on).
    accept_encoding: Option<HeaderValue>,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base_url", &self.inner.base_url)
            .field("timeouts", &self.inner.timeouts)
            .field("max_response_body", &self.inner.max_response_body)
            .field("compression", &self.inner.accept_encoding.is_some())
            .finish_non_exhaustive()
    }
}

/// Settings of an [`HttpTransport`]; made by [`HttpTransport::builder`].
///
/// ```
/// use agent_transport::HttpTransport;
/// use std::time::Duration;
///
/// let transport = HttpTransport::builder("http://127.0.0.1:8000")
///     .pool_idle_timeout(Duration::from_secs(30))
///     .pool_max_idle_per_host(4)
///     .max_response_body(1024 * 1024)
///     .build()?;
/// # drop(transport);
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Clone)]
pub struct HttpTransportBuilder {
    base_url: String,
    timeouts: Timeouts,
    #[cfg(feature = "tls")]
    roots: Vec<CertificateDer<'static>>,
    #[cfg(feature = "tls")]
    web_roots: bool,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    user_agent: String,
    max_response_body: usize,
    compression: bool,
    proxy: Proxy,
    #[cfg(feature = "tls")]
    identity: Option<tls::Identity>,
}

impl fmt::Debug for HttpTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HttpTransportBuilder");
        d.field("base_url", &self.base_url)
            .field("timeouts", &self.timeouts)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("user_agent", &self.user_agent)
            .field("max_response_body", &self.max_response_body)
            .field("compression", &self.compression)
            .field("proxy", &self.proxy);
        #[cfg(feature = "tls")]
        d.field("extra_roots", &self.roots.len())
            .field("web_roots", &self.web_roots)
            .field("identity", &self.identity);
        d.finish()
    }
}

impl HttpTransportBuilder {
    /// Connect and read time-outs (defaults 3 s and 10 s).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    #[cfg(feature = "tls")]
    /// Trusts one more root certificate, in DER (a 400 if it cannot be a root).
    pub fn add_root_certificate_der(
        mut self,
        der: impl Into<Vec<u8>>,
    ) -> Result<Self, ClientError> {
        let cert = CertificateDer::from(der.into());
        tls::check_root(&cert)?;
        self.roots.push(cert);
        Ok(self)
    }

    #[cfg(feature = "tls")]
    /// Trusts every certificate of a PEM document as a root (a 400 if it holds none
    /// or a broken one).
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, ClientError> {
        self.roots.extend(tls::certificates_from_pem(pem.as_ref())?);
        Ok(self)
    }

    #[cfg(feature = "tls")]
    /// Whether the web's roots (webpki-roots, Mozilla's list) are trusted besides the
    /// added ones (default `true`). With `false`, only added roots are trusted.
    pub fn web_roots(mut self, enabled: bool) -> Self {
        self.web_roots = enabled;
        self
    }

    /// How long an idle pooled connection is kept (default 90 s).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections are kept per host (default 32; 0 disables reuse).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// The `User-Agent` sent when a request has none (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The largest body [`Transport::request`] accepts (default 64 MiB); a larger
    /// one fails without being read past the limit.
    pub fn max_response_body(mut self, max: usize) -> Self {
        self.max_response_body = max;
        self
    }

    /// Whether to ask for compressed answers (default `false`).
    ///
    /// With `true`, requests carry `Accept-Encoding: gzip, deflate`
    /// ([`ACCEPT_ENCODING`]), so an agent that compresses (agent-server gzips job
    /// logs and HTTP tails) sends fewer bytes: logs compress several times over,
    /// which over a slow link is a tail's speed. With `false`, no `Accept-Encoding`
    /// is sent, so servers and proxies answer uncompressed. Either way a gzip or
    /// deflate answer (a proxy may compress on its own) is decoded as it streams,
    /// and any other coding is an error naming it. WebSocket upgrades never ask.
    pub fn compression(mut self, enabled: bool) -> Self {
        self.compression = enabled;
        self
    }

    #[cfg(feature = "tls")]
    /// The client certificate and key presented to an agent that asks for one
    /// (mutual TLS); see [`Identity`](crate::Identity).
    pub fn identity(mut self, identity: tls::Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Which proxies connections go through (default [`Proxy::from_env`]: the
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` variables, read by
    /// [`HttpTransportBuilder::build`]). [`Proxy::none`] ignores the environment.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = proxy;
        self
    }

    /// Checks the settings and builds the transport (a 400 on a bad URL or
    /// setting). Opens no connection; needs no runtime until first used.
    pub fn build(self) -> Result<HttpTransport, ClientError> {
        self.timeouts.validate()?;
        let base_url = check_base_url(&self.base_url)?;
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| ClientError::invalid("user agent", "not a valid header value"))?;
        #[cfg(feature = "tls")]
        let config = tls::client_config(&self.roots, self.web_roots, self.identity.as_ref())?;
        #[cfg(not(feature = "tls"))]
        if base_url.starts_with("https:") {
            return Err(ClientError::invalid(
                "base URL",
                "https:// needs the `tls` feature of agent-transport (built without it, the \
                 transport speaks plain http:// only)",
            ));
        }
        let connector = Connector::new(
            #[cfg(feature = "tls")]
            config,
            self.timeouts.connect,
            self.proxy.rules(),
        );
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http1_max_buf_size(MAX_READ_BUFFER)
            .build(connector.clone());
        Ok(HttpTransport {
            inner: Arc::new(Inner {
                base_url,
                client,
                connector,
                timeouts: self.timeouts,
                user_agent,
                max_response_body: self.max_response_body,
                accept_encoding: self
                    .compression
                    .then(|| HeaderValue::from_static(ACCEPT_ENCODING)),
            }),
        })
    }
}

/// The most a connection's read buffer grows to (hyper's default is about
/// 400 KiB): hyper doubles it while reads fill it, so a streamed body whose
/// server writes faster than the caller reads (every log burst) held 256 KiB and
/// more per open tail (issue 26: 1,000 HTTP tails took 590 MiB). It also bounds
/// an answer's head.
const MAX_READ_BUFFER: usize = 32 * 1024;

/// Checks `http(s)://host[:port][/prefix/]`: a scheme of `http` or `https`, a host,
/// no user info, no query.
fn check_base_url(base_url: &str) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::invalid("base URL", reason.to_owned());
    let uri: Uri = base_url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(_) => return Err(bad("the scheme must be http or https")),
        None => return Err(bad("expected http(s)://host[:port][/prefix/]")),
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("user info (user:password@) is not allowed in the URL"));
    }
    if authority.host().is_empty() {
        return Err(bad("no host"));
    }
    if uri.query().is_some() {
        return Err(bad("a query string is not allowed in the base URL"));
    }
    Ok(base_url.to_owned())
}

impl HttpTransport {
    /// Starts building a transport for `base_url`, `http(s)://host[:port][/prefix/]`.
    pub fn builder(base_url: impl Into<String>) -> HttpTransportBuilder {
        HttpTransportBuilder {
            base_url: base_url.into(),
            timeouts: Timeouts::default(),
            #[cfg(feature = "tls")]
            roots: Vec::new(),
            #[cfg(feature = "tls")]
            web_roots: true,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 32,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            compression: false,
            proxy: Proxy::from_env(),
            #[cfg(feature = "tls")]
            identity: None,
        }
    }

    /// The base URL, as given.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The time-outs.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    /// The absolute URL of `path`: `base.trim_end('/') + "/" + path` (a leading `/`
    /// of `path` is dropped); a 400 if that is not a valid URL.
    pub fn url(&self, path: &str) -> Result<Uri, ClientError> {
        let joined = format!(
            "{}/{}",
            self.inner.base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        joined
            .parse::<Uri>()
            .map_err(|e| ClientError::invalid("request path", format!("not a valid URL: {e}")))
    }

    fn build_request(
        &self,
        request: Request,
        wire: Arc<OnWire>,
    ) -> Result<http::Request<WatchedBody>, ClientError> {
        let uri = self.url(&request.path)?;
        // A plain `http` request through a proxy goes to the proxy itself (in
        // absolute form), so the proxy's credentials go with it; `https` sends them
        // in the tunnel's `CONNECT` instead.
        let proxy_auth = match uri.scheme_str() {
            Some("http") => self.inner.connector.route(&uri).and_then(|r| r.auth),
            _ => None,
        };
        let mut builder = http::Request::builder().method(request.method).uri(uri);
        if let Some(headers) = builder.headers_mut() {
            *headers = request.headers;
            if !headers.contains_key(USER_AGENT) {
                headers.insert(USER_AGENT, self.inner.user_agent.clone());
            }
            if let Some(accept) = &self.inner.accept_encoding {
                if !headers.contains_key(ACCEPT_ENCODING_HEADER) {
                    headers.insert(ACCEPT_ENCODING_HEADER, accept.clone());
                }
            }
            if let Some(auth) = proxy_auth {
                headers.insert(http::header::PROXY_AUTHORIZATION, auth);
            }
        }
        builder
            .body(WatchedBody {
                inner: Full::new(request.body),
                wire,
            })
            .map_err(|e| ClientError::invalid("request", e.to_string()))
    }

    /// Sends `request` and waits for the answer's headers.
    ///
    /// Two phases: until hyper starts writing the request on a connection (bounded
    /// by the connector's own connect time-out), then the read time-out. The body
    /// tells when the request goes on the wire (hyper asks it `is_end_stream` just
    /// before writing the head), so an error before that point is known to be
    /// harmless to retry, and the read time-out does not include the connect.
    async fn send(
        &self,
        request: Request,
    ) -> Result<(http::response::Parts, Incoming, Origin), ClientError> {
        let origin = Origin {
            method: request.method.to_string(),
            path: request.path.clone(),
        };
        let wire = Arc::new(OnWire::default());
        let req = self.build_request(request, wire.clone())?;
        let timeouts = self.inner.timeouts;
        let started = Instant::now();
        let answer = self.inner.client.request(req);
        tokio::pin!(answer);
        // One timer, re-armed only when it fires, rather than a wake-up when the
        // request goes on the wire (a cross-thread hand-off per request on the
        // multi-thread runtime, issue 15): it first fires at the earliest the read
        // time-out could end (the request cannot go out before `started`), then at
        // the actual end of the read time-out, or at the guard of the connect phase
        // (the connector fails on its own after `connect`; the guard only bounds a
        // wait that never ends, such as a pool that never hands out a connection).
        let guard = started + timeouts.connect.saturating_add(timeouts.read);
        let timer = tokio::time::sleep_until(started + timeouts.read);
        tokio::pin!(timer);
        let result = loop {
            tokio::select! {
                result = &mut answer => break result,
                () = &mut timer => {
                    let now = Instant::now();
                    match wire.sent_at() {
                        Some(sent) if now >= sent + timeouts.read => {
                            return Err(origin.incomplete(ClientError::Timeout {
                                kind: TimeoutKind::Read,
                                after: timeouts.read,
                            }));
                        }
                        Some(sent) => timer.as_mut().reset(sent + timeouts.read),
                        None if now >= guard => {
                            return Err(ClientError::Timeout {
                                kind: TimeoutKind::Connect,
                                after: timeouts.connect,
                            });
                        }
                        None => timer.as_mut().reset(guard),
                    }
                }
            }
        };
        match result {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                Ok((parts, body, origin))
            }
            Err(e) => Err(origin.classify(e, wire.sent_at().is_some())),
        }
    }
}

/// When hyper started writing a request on a connection.
#[derive(Default)]
struct OnWire {
    sent_at: OnceLock<Instant>,
}

impl OnWire {
    fn mark(&self) {
        self.sent_at.get_or_init(Instant::now);
    }

    fn sent_at(&self) -> Option<Instant> {
        self.sent_at.get().copied()
    }
}

/// A request body that tells [`OnWire`] when hyper first looks at it, which it does
/// on the connection, right before writing the request head.
struct WatchedBody {
    inner: Full<Bytes>,
    wire: Arc<OnWire>,
}

impl hyper::body::Body for WatchedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        this.wire.mark();
        std::pin::Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.wire.mark();
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.wire.mark();
        self.inner.size_hint()
    }
}

/// What a request was, for errors after it may have been sent.
#[derive(Debug, Clone)]
struct Origin {
    method: String,
    path: String,
}

impl Origin {
    fn incomplete(&self, cause: ClientError) -> ClientError {
        ClientError::incomplete(self.method.clone(), self.path.clone(), cause)
    }

    /// An error of the pooled client: before the request went on the wire (a
    /// connect failure: it never left), or after (it may have been written).
    fn classify(&self, err: hyper_util::client::legacy::Error, sent: bool) -> ClientError {
        if let Some(ConnectFailure(e)) = find_source::<ConnectFailure>(&err) {
            return e.clone();
        }
        if err.is_connect() || !sent {
            return ClientError::connect_with(error_chain(&err), err);
        }
        self.closed(err)
    }

    /// The connection broke before the answer was complete; `err` becomes the
    /// cause's `source()`.
    fn closed<E: std::error::Error + Send + Sync + 'static>(&self, err: E) -> ClientError {
        let message = format!(
            "connection closed before the answer was complete ({})",
            error_chain(&err)
        );
        self.incomplete(ClientError::connect_with(message, err))
    }
}

/// Reads a whole body: each read within `read`, at most `max` bytes (decoded bytes
/// when `decoder` decodes a content coding).
async fn read_body(
    mut body: Incoming,
    declared: Option<u64>,
    mut decoder: Option<Decoder>,
    max: usize,
    read: Duration,
    origin: &Origin,
) -> Result<Bytes, ClientError> {
    let too_big = || {
        origin.incomplete(ClientError::Decode {
            message: format!("the answer's body is larger than the {max}-byte limit"),
        })
    };
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_big());
    }
    let capacity = if decoder.is_some() {
        0
    } else {
        declared.map_or(0, |n| n as usize)
    };
    let mut buf = BytesMut::with_capacity(capacity);
    let append = |buf: &mut BytesMut, data: &[u8]| {
        if buf.len().saturating_add(data.len()) > max {
            return Err(too_big());
        }
        buf.extend_from_slice(data);
        Ok(())
    };
    loop {
        let frame = match tokio::time::timeout(read, body.frame()).await {
            Err(_) => {
                return Err(origin.incomplete(ClientError::Timeout {
                    kind: TimeoutKind::Read,
                    after: read,
                }))
            }
            Ok(None) => {
                if let Some(d) = decoder.as_mut() {
                    let rest = d.finish().map_err(|e| origin.incomplete(e))?;
                    append(&mut buf, &rest)?;
                }
                return Ok(buf.freeze());
            }
            Ok(Some(Err(e))) => return Err(origin.closed(e)),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match decoder.as_mut() {
            None => append(&mut buf, &data)?,
            Some(d) => {
                // Decoded a piece at a time: a bomb stops at the limit.
                d.push(data);
                while !d.is_drained() {
                    let piece = d.pull().map_err(|e| origin.incomplete(e))?;
                    if piece.is_empty() {
                        break;
                    }
                    append(&mut buf, &piece)?;
                }
            }
        }
    }
}

/// The decoder of an answer's content coding (`None`: identity), its headers
/// made those of the decoded body; an unsupported coding is an error naming it.
fn answer_decoder(
    headers: &mut http::HeaderMap,
    origin: &Origin,
) -> Result<Option<Decoder>, ClientError> {
    let coding = coding::coding(headers).map_err(|e| origin.incomplete(e))?;
    let decoder = Decoder::new(coding);
    if decoder.is_some() {
        coding::strip_coding_headers(headers);
    }
    Ok(decoder)
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

/// The body of a [`Transport::stream`] answer, straight from hyper.
///
/// Cancel-safe: `Incoming::poll_frame` hands out a chunk only in the poll that
/// returns it; a caller that stops polling leaves the chunk in hyper's buffer.
/// Dropping the stream drops `Incoming`, which makes hyper close the connection (it
/// is not returned to the pool).
struct HyperBodyStream {
    body: Incoming,
    origin: Origin,
}

/// A [`HyperBodyStream`] whose content coding is decoded as it arrives: each
/// compressed chunk is decoded at once (a tail stays live), handed out in pieces
/// of bounded size. Cancel-safe as the stream under it: the decoder changes only
/// in the poll that returns what it made.
struct DecodedBodyStream {
    raw: HyperBodyStream,
    decoder: Decoder,
    /// Whether the body under it ended (and the decoder finished).
    done: bool,
}

/// A body stream that repeats its end to every later poll: `None` after `None`,
/// the same error after an error.
struct Ended<S> {
    inner: S,
    end: Option<Option<ClientError>>,
}

impl<S: Stream<Item = Result<Bytes, ClientError>> + Unpin> Stream for Ended<S> {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(end) = &self.end {
            return Poll::Ready(end.clone().map(Err));
        }
        let item = std::task::ready!(Pin::new(&mut self.inner).poll_next(cx));
        match &item {
            None => self.end = Some(None),
            Some(Err(e)) => self.end = Some(Some(e.clone())),
            Some(Ok(_)) => {}
        }
        Poll::Ready(item)
    }
}

impl<S: Stream<Item = Result<Bytes, ClientError>> + Send + Unpin> BodyStream for Ended<S> {}

impl Stream for DecodedBodyStream {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let fail = |this: &Self, e| Poll::Ready(Some(Err(this.raw.origin.incomplete(e))));
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if !this.decoder.is_drained() {
                match this.decoder.pull() {
                    Ok(piece) if !piece.is_empty() => return Poll::Ready(Some(Ok(piece))),
                    Ok(_) => {} // needs more input
                    Err(e) => return fail(this, e),
                }
            }
            match std::task::ready!(Pin::new(&mut this.raw).poll_next(cx)) {
                Some(Ok(chunk)) => this.decoder.push(chunk),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.done = true;
                    return match this.decoder.finish() {
                        Ok(rest) if rest.is_empty() => Poll::Ready(None),
                        Ok(rest) => Poll::Ready(Some(Ok(rest))),
                        Err(e) => fail(this, e),
                    };
                }
            }
        }
    }
}

impl Stream for HyperBodyStream {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match std::task::ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(this.origin.closed(e)))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Poll::Ready(Some(Ok(data)));
                        }
                    }
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Transport for HttpTransport {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        let (mut parts, body, origin) = self.send(request).await?;
        // The declared (compressed) length: more than the limit is refused unread.
        let declared = content_length(&parts.headers);
        let decoder = answer_decoder(&mut parts.headers, &origin)?;
        let body = read_body(
            body,
            declared,
            decoder,
            self.inner.max_response_body,
            self.inner.timeouts.read,
            &origin,
        )
        .await?;
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
        let (mut parts, body, origin) = self.send(request).await?;
        let decoder = answer_decoder(&mut parts.headers, &origin)?;
        let raw = HyperBodyStream { body, origin };
        let body: Box<dyn BodyStream> = match decoder {
            None => Box::new(Ended {
                inner: raw,
                end: None,
            }),
            Some(decoder) => Box::new(Ended {
                inner: DecodedBodyStream {
                    raw,
                    decoder,
                    done: false,
                },
                end: None,
            }),
        };
        Ok(StreamingResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    async fn websocket(
        &self,
        request: Request,
        options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        let uri = self.url(&request.path)?;
        websocket::open(
            &self.inner.connector,
            uri,
            request,
            self.inner.user_agent.clone(),
            options,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        for bad in [
            "",
            "agent.example.com",
            "ftp://agent.example.com/",
            "http://user:pw@agent.example.com/",
            "http://agent.example.com/?x=1",
            "http:// bad/",
        ] {
            let e = HttpTransport::builder(bad).build().unwrap_err();
            assert_eq!(e.status_code(), 400, "{bad}: {e}");
        }
    }

    #[test]
    fn paths_join_the_base_url() {
        for base in [
            "http://h:1/agent/",
            "http://h:1/agent",
            "http://h:1/agent//",
        ] {
            let t = HttpTransport::builder(base).build().unwrap();
            assert_eq!(
                t.url("jobs/x/").unwrap().to_string(),
                "http://h:1/agent/jobs/x/"
            );
            assert_eq!(
                t.url("/plugin_releases/?page=2").unwrap().to_string(),
                "http://h:1/agent/plugin_releases/?page=2"
            );
        }
        #[cfg(feature = "tls")]
        {
            let t = HttpTransport::builder("https://h").build().unwrap();
            assert_eq!(t.url("health/").unwrap().to_string(), "https://h/health/");
            assert_eq!(t.url("a b").unwrap_err().status_code(), 400);
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let e = HttpTransport::builder("http://h/")
            .timeouts(Timeouts {
                connect: Duration::ZERO,
                read: Duration::from_secs(1),
            })
            .build()
            .unwrap_err();
        assert_eq!(e.status_code(), 400);
        let e = HttpTransport::builder("http://h/")
            .user_agent("bad\nagent")
            .build()
            .unwrap_err();
        assert_eq!(e.status_code(), 400);
        #[cfg(feature = "tls")]
        {
            let e = HttpTransport::builder("http://h/")
                .add_root_certificate_der(vec![1, 2, 3])
                .unwrap_err();
            assert_eq!(e.status_code(), 400);
        }
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn https_needs_the_tls_feature() {
        let e = HttpTransport::builder("https://h/").build().unwrap_err();
        assert_eq!(e.status_code(), 400);
        assert!(e.to_string().contains("`tls` feature"), "{e}");
        HttpTransport::builder("http://h/").build().unwrap();
    }
}
