//! The HTTP server: accepts connections, authenticates, routes, and answers from an
//! [`AgentBackend`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent_proto::Secret;
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::access::{AccessLog, Logged};
use crate::backend::{AgentBackend, BackendError, RequestContext, TailProtocol};
#[cfg(feature = "test-util")]
use crate::body::cut::Truncated;
use crate::body::{empty, error_response, json_response, sse_body, ResBody};
use crate::conn::{Admitted, ConnGuard, ConnTable};
#[cfg(feature = "test-util")]
use crate::hook::InterceptAction;
use crate::hook::{Intercept, RequestHead, RequestHook};
use crate::limits::{Limits, MIN_HEAD_BYTES};
use crate::lines::{logs_tail, numbered, tail_start, LogStart};
use crate::logbody::log_body;
use crate::metrics::{Cause, Metrics, MetricsAccess};
use crate::route::{parse_route, Route, RouteError};
use crate::task::TaskSet;
use crate::tls::{TlsFiles, TlsState};
use crate::ws;

/// How a server is run: its token, path prefix, limits and hook.
///
/// ```
/// use agent_server::ServeOptions;
///
/// let o = ServeOptions::new().token("t0k").prefix("agent");
/// assert_eq!(o.prefix_path(), "/agent/");
/// ```
#[derive(Clone)]
pub struct ServeOptions {
    /// The agent token every request must carry as `Authorization: <token>`; `None`
    /// serves without authentication.
    pub token: Option<Secret>,
    /// The path the API is served under (`/` or e.g. `/agent/`).
    pub prefix: String,
    /// Body sizes, time-outs, the connection cap and the WebSocket frame cap.
    pub limits: Limits,
    /// How long [`ServerHandle::shutdown`] lets open requests finish before it aborts them.
    pub grace: Duration,
    /// A hook that sees every request first (the testkit's journal and faults).
    pub hook: Option<Arc<dyn RequestHook>>,
    /// How long an HTTP log stream may stay quiet before the server sends a blank
    /// line (which clients skip; not an SSE comment, which the SDK would print):
    /// the HTTP twin of WebSocket pings, so that a quiet job is not mistaken for a
    /// dead server by the client's time-out. Default 1 s: a third of 3 s, so that
    /// a client time-out of 3 s or more never trips on a quiet job (a shorter one
    /// needs a shorter heartbeat).
    pub heartbeat: Duration,
    /// Terminate TLS with these files (`https://`, `wss://`); `None` serves plain
    /// HTTP.
    pub tls: Option<TlsFiles>,
    /// Who may read the metrics at `/metrics` (outside the prefix). Default
    /// [`MetricsAccess::Public`]: they hold counts, no secret.
    pub metrics: MetricsAccess,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            token: None,
            prefix: "/".to_owned(),
            limits: Limits::default(),
            grace: Duration::from_secs(2),
            hook: None,
            heartbeat: Duration::from_secs(1),
            tls: None,
            metrics: MetricsAccess::Public,
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("token", &self.token)
            .field("prefix", &self.prefix)
            .field("limits", &self.limits)
            .field("grace", &self.grace)
            .field("hook", &self.hook.is_some())
            .field("heartbeat", &self.heartbeat)
            .field("tls", &self.tls)
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl ServeOptions {
    /// No token, served at `/`, the default [`Limits`], 2 s of grace, no hook, a 1 s
    /// heartbeat.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `Authorization: <token>` on every request. An empty or whitespace
    /// token is refused by [`serve`].
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Serves the API under `prefix` (`agent`, `/agent` and `/agent/` are the same).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the largest request body of the small-JSON routes
    /// ([`Limits::max_body_bytes`]).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.limits.max_body_bytes = n;
        self
    }

    /// Sets every limit at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the grace period of [`ServerHandle::shutdown`].
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets the heartbeat of quiet HTTP log streams (see [`ServeOptions::heartbeat`]).
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Terminates TLS with these files (see [`TlsFiles`]).
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Who may read `/metrics` (see [`MetricsAccess`]).
    pub fn metrics(mut self, access: MetricsAccess) -> Self {
        self.metrics = access;
        self
    }

    /// Sets the request hook.
    pub fn hook(mut self, hook: Arc<dyn RequestHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The prefix as a path that starts and ends with `/`.
    pub fn prefix_path(&self) -> String {
        normalize_prefix(&self.prefix)
    }
}

fn normalize_prefix(p: &str) -> String {
    let inner = p.trim_matches('/');
    if inner.is_empty() {
        "/".to_owned()
    } else {
        format!("/{inner}/")
    }
}

/// A running server. Dropping it aborts every task at once (connections, tails);
/// [`ServerHandle::shutdown`] lets open requests finish first.
pub struct ServerHandle {
    addr: SocketAddr,
    prefix: String,
    tls: bool,
    shutdown: watch::Sender<bool>,
    tasks: Arc<TaskSet>,
    grace: Duration,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API's base URL: `http://127.0.0.1:PORT/` (`https://` with TLS) plus the
    /// prefix.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.addr, self.prefix)
    }

    /// The API's base URL for WebSockets: `ws://127.0.0.1:PORT/` (`wss://` with TLS)
    /// plus the prefix.
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.addr, self.prefix)
    }

    /// Stops accepting, lets open requests finish (tails end: WebSockets with close
    /// 1001, HTTP streams are cut) for up to the grace period, then aborts the rest.
    /// When this returns, the port is closed.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let Some(mut set) = self.tasks.close() {
            let _ = tokio::time::timeout(self.grace, async {
                while set.join_next().await.is_some() {}
            })
            .await;
            set.abort_all();
            while set.join_next().await.is_some() {}
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.tasks.abort_all();
    }
}

struct Shared {
    backend: Arc<dyn AgentBackend>,
    token: Option<Secret>,
    prefix: String,
    limits: Limits,
    conns: Arc<ConnTable>,
    hook: Option<Arc<dyn RequestHook>>,
    heartbeat: Duration,
    seq: AtomicU64,
    tasks: Arc<TaskSet>,
    shutdown: watch::Receiver<bool>,
    tls: Option<Arc<TlsState>>,
    metrics: Arc<Metrics>,
    metrics_access: MetricsAccess,
}

/// Serves the agent API from `backend` on `listener` until the returned handle is
/// shut down or dropped.
///
/// Fails with [`std::io::ErrorKind::InvalidInput`] when the token is empty or only
/// whitespace: such a token would let anyone in (or, worse, an empty
/// `Authorization:` header); and when TLS files are set but cannot be read or do
/// not make a valid configuration (the error names which).
///
/// ```
/// # async fn demo(backend: std::sync::Arc<dyn agent_server::AgentBackend>) -> std::io::Result<()> {
/// use agent_server::{serve, ServeOptions};
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let server = serve(listener, backend, ServeOptions::new().token("t").prefix("/agent/")).await?;
/// println!("serving at {}", server.url());
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn AgentBackend>,
    options: ServeOptions,
) -> std::io::Result<ServerHandle> {
    if let Some(token) = &options.token {
        check_token(token)?;
    }
    let prefix = options.prefix_path();
    let tls = options.tls.map(TlsState::load).transpose()?;
    let addr = listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let tasks = Arc::new(TaskSet::new(tokio::runtime::Handle::current()));
    if let Some(tls) = &tls {
        tasks.spawn(Arc::clone(tls).watch(shutdown_rx.clone()));
    }
    let shared = Arc::new(Shared {
        backend,
        token: options.token,
        prefix: prefix.clone(),
        limits: options.limits,
        conns: ConnTable::new(options.limits.max_connections),
        hook: options.hook,
        heartbeat: options.heartbeat,
        seq: AtomicU64::new(0),
        tasks: Arc::clone(&tasks),
        shutdown: shutdown_rx.clone(),
        tls: tls.clone(),
        metrics: Arc::new(Metrics::new()),
        metrics_access: options.metrics,
    });
    tasks.spawn(accept_loop(listener, shared, shutdown_rx));
    Ok(ServerHandle {
        addr,
        prefix,
        tls: tls.is_some(),
        shutdown: shutdown_tx,
        tasks,
        grace: options.grace,
    })
}

/// Refuses an empty or whitespace token, with a message that says so.
///
/// ```
/// use agent_proto::Secret;
/// assert!(agent_server::check_token(&Secret::new(" \t")).is_err());
/// assert!(agent_server::check_token(&Secret::new("t0k")).is_ok());
/// ```
pub fn check_token(token: &Secret) -> std::io::Result<()> {
    if token.expose().trim().is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the agent token must not be empty or whitespace",
        ));
    }
    Ok(())
}

/// The answer to a connection over the cap, written at once without reading it.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 45\r\n\r\n\
{\"detail\":\"Too many connections, try again\"}";

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            () = crate::task::stopped(&mut shutdown) => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(_) => {
                // e.g. out of file descriptors: do not spin
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let admitted = shared.conns.admit(peer.ip());
        if let Some((_, Admitted::Evicted(_))) = &admitted {
            shared.metrics.refused(Cause::evicted);
        }
        let Some((guard, _how)) = admitted else {
            shared.metrics.refused(Cause::connection_limit);
            // Every open connection is authenticated: refuse this one now. A fresh
            // socket's send buffer is empty, so the write does not wait; a peer that
            // does not read it loses nothing but the 503.
            let _ = stream.try_write(REFUSED);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let guard = Arc::new(guard);
        let conn_shared = Arc::clone(&shared);
        let conn_shutdown = shutdown.clone();
        shared.tasks.spawn(async move {
            match conn_shared.tls.as_ref().map(|t| t.acceptor()) {
                None => serve_connection(stream, conn_shared, guard, conn_shutdown).await,
                Some(acceptor) => {
                    // a handshake is bounded like a request head
                    let within = conn_shared.limits.header_timeout;
                    let handshake = tokio::time::timeout(within, acceptor.accept(stream));
                    let tls = tokio::select! {
                        r = handshake => r,
                        () = guard.evicted() => return,
                    };
                    match tls {
                        Ok(Ok(tls)) => {
                            // a flood that does not finish handshakes evicts it last
                            guard.handshake_done();
                            serve_connection(tls, conn_shared, guard, conn_shutdown).await
                        }
                        _ => conn_shared.metrics.refused(Cause::tls_handshake),
                    }
                }
            }
        });
    }
}

/// Serves HTTP/1.1 (with upgrades) on one accepted connection, plain or TLS, until
/// it closes, is evicted, or the server shuts down (then open requests finish).
async fn serve_connection<I>(
    io: I,
    shared: Arc<Shared>,
    guard: Arc<ConnGuard>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc_shared = Arc::clone(&shared);
    let svc_guard = Arc::clone(&guard);
    let svc = service_fn(move |req| {
        let s = Arc::clone(&svc_shared);
        let g = Arc::clone(&svc_guard);
        async move { Ok::<_, Infallible>(handle_logged(s, g, req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        // the read buffer's cap: a head that does not fit is answered 431 by hyper,
        // so an unfinished head costs at most this (hyper's default is ~400 KB)
        .max_buf_size(shared.limits.max_head_bytes.max(MIN_HEAD_BYTES))
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = guard.evicted() => {}
        () = crate::task::stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn detail(status: StatusCode, message: &str) -> Response<ResBody> {
    json_response(status, &json!({ "detail": message }))
}

/// How reading a request body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyEnd {
    /// All of it arrived.
    Complete,
    /// The client hung up (or sent a broken body) before its end.
    Incomplete,
    /// It is larger than the route's cap.
    TooLarge,
    /// It did not arrive in time.
    TimedOut,
}

/// Reads the body into `buf`, up to `max` bytes and for at most `within`.
async fn read_body(
    body: &mut Incoming,
    buf: &mut BytesMut,
    max: usize,
    within: Duration,
) -> BodyEnd {
    let read = async {
        loop {
            match body.frame().await {
                None => return BodyEnd::Complete,
                Some(Err(_)) => return BodyEnd::Incomplete,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if buf.len() + data.len() > max {
                            let room = max - buf.len();
                            buf.extend_from_slice(&data[..room]);
                            return BodyEnd::TooLarge;
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or(BodyEnd::TimedOut)
}

/// The largest body `route` takes.
fn body_cap(limits: &Limits, route: Option<&Route>) -> usize {
    match route {
        // a debug run carries modules; a container may carry a plugin archive
        Some(Route::RunDebugPluginRelease | Route::CreateContainer) => limits.max_large_body_bytes,
        _ => limits.max_body_bytes,
    }
}

/// Marks a response as the last on its connection (its request body was not read).
fn closing(mut r: Response<ResBody>) -> Response<ResBody> {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn token_value(headers: &HeaderMap, name: &str) -> Option<Secret> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    let v = v
        .strip_prefix("Token ")
        .or_else(|| v.strip_prefix("token "))
        .unwrap_or(v);
    Some(Secret::new(v.trim()))
}

/// Whether `req` carries the server's token as `Authorization: <token>` (always,
/// for a server without one). The comparison takes the same time whatever the
/// value sent ([`Secret::matches`]).
fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    match &shared.token {
        Some(token) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| token.matches(v)),
        None => true,
    }
}

/// The answer to a request without the token; the last on its connection (its
/// body is never read).
fn unauthorized() -> Response<ResBody> {
    closing(detail(
        StatusCode::UNAUTHORIZED,
        "Invalid or missing agent token",
    ))
}

/// Answers `req` and writes its log line when the answer is done (see [`crate::access`]).
async fn handle_logged(
    shared: Arc<Shared>,
    conn: Arc<ConnGuard>,
    req: Request<Incoming>,
) -> Response<ResBody> {
    if shared.metrics_access != MetricsAccess::Off
        && req.uri().path() == "/metrics"
        && req.method() == Method::GET
    {
        let authorized = authorized(&shared, &req);
        if authorized {
            conn.authenticated();
        }
        if shared.metrics_access == MetricsAccess::Token && !authorized {
            shared.metrics.refused(Cause::unauthorized);
            return unauthorized();
        }
        let mut text = shared.metrics.render(shared.conns.open());
        // the backend's own metrics go before the exposition's closing line
        let eof = text.rfind("# EOF").unwrap_or(text.len());
        let closing = text.split_off(eof);
        shared.backend.render_metrics(&mut text);
        text.push_str(&closing);
        return crate::body::response(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Bytes::from(text),
        );
    }
    let mut log = Some(AccessLog::new(
        req.method(),
        req.uri().path(),
        Arc::clone(&shared.metrics),
    ));
    let metrics = Arc::clone(&shared.metrics);
    // A panic while the answer is prepared is answered 500 and logged; one while
    // its body is sent is caught by the connection's task (see `TaskSet`), which
    // cuts the connection. The state the panic left is dropped with the request.
    let handled = std::panic::AssertUnwindSafe(handle(shared, conn, req, &mut log))
        .catch_unwind()
        .await;
    let response = handled.unwrap_or_else(|_| {
        metrics.panicked();
        // the request's own line (its path, the 500) follows from `log`
        tracing::error!(
            target: "agent_server::panic",
            "handling a request panicked; answered 500"
        );
        detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    });
    match log {
        Some(mut log) => {
            log.status(response.status().as_u16());
            response.map(|b| Logged::new(b, log).boxed_unsync())
        }
        // a WebSocket tail: its task writes the line when the tail ends
        None => response,
    }
}

async fn handle(
    shared: Arc<Shared>,
    conn: Arc<ConnGuard>,
    mut req: Request<Incoming>,
    log: &mut Option<AccessLog>,
) -> Response<ResBody> {
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    let upgrade = fastwebsockets::upgrade::is_upgrade_request(&req);
    let route = match req.uri().path().strip_prefix(shared.prefix.as_str()) {
        Some(rest) => parse_route(req.method(), rest, upgrade),
        None => Err(RouteError::NotFound),
    };

    // The token is checked from the head alone, before any body byte is read (and so
    // before hyper answers `Expect: 100-continue`, which it does on the first read).
    let authorized = authorized(&shared, &req);
    if authorized {
        conn.authenticated();
    } else {
        shared.metrics.refused(Cause::unauthorized);
    }
    if let (Some(log), Ok(route)) = (log.as_mut(), &route) {
        log.route(route.kind());
    }

    let intercept = match &shared.hook {
        Some(hook) => hook.on_request(&RequestHead {
            seq,
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            route: route.as_ref().ok(),
            upgrade,
            authenticated: authorized,
        }),
        None => Intercept::default(),
    };

    let mut body = BytesMut::new();
    let end = if !authorized {
        // never read: its bytes are the attacker's
        BodyEnd::Incomplete
    } else {
        let cap = body_cap(&shared.limits, route.as_ref().ok());
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap as u64) {
            BodyEnd::TooLarge
        } else {
            read_body(req.body_mut(), &mut body, cap, shared.limits.body_timeout).await
        }
    };
    let body = body.freeze();
    if let Some(hook) = &shared.hook {
        hook.on_body(seq, &body, end == BodyEnd::Complete);
    }
    if authorized {
        let refused = |cause| shared.metrics.refused(cause);
        match end {
            BodyEnd::Complete => {}
            BodyEnd::TooLarge => {
                refused(Cause::body_too_large);
                return closing(detail(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request body too large",
                ));
            }
            BodyEnd::TimedOut => {
                refused(Cause::body_timeout);
                return closing(detail(
                    StatusCode::REQUEST_TIMEOUT,
                    "Request body not received in time",
                ));
            }
            BodyEnd::Incomplete => {
                refused(Cause::body_incomplete);
                return closing(detail(StatusCode::BAD_REQUEST, "Incomplete request body"));
            }
        }
    }

    #[cfg(not(feature = "test-util"))]
    let Intercept {} = intercept;
    #[cfg(feature = "test-util")]
    if let Some(delay) = intercept.delay {
        tokio::time::sleep(delay).await;
    }
    #[cfg(feature = "test-util")]
    let truncate = match intercept.action {
        InterceptAction::Continue => None,
        InterceptAction::TruncateBody { after_bytes } => Some(after_bytes),
        InterceptAction::Respond(canned) => {
            let mut r = Response::new(crate::body::full(canned.body));
            *r.status_mut() = canned.status;
            for (name, value) in canned.headers {
                r.headers_mut().append(name, value);
            }
            return r;
        }
        InterceptAction::Stall => {
            let mut shutdown = shared.shutdown.clone();
            crate::task::stopped(&mut shutdown).await;
            return detail(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is shutting down",
            );
        }
    };

    if !authorized {
        return unauthorized();
    }

    let route = match route {
        Ok(route) => route,
        Err(RouteError::NotFound) => return detail(StatusCode::NOT_FOUND, "Not Found"),
        Err(RouteError::MethodNotAllowed(allowed)) => {
            let mut r = detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            let list = allowed
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(v) = HeaderValue::from_str(&list) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            return r;
        }
        Err(RouteError::BadSegment(reason)) => return detail(StatusCode::BAD_REQUEST, &reason),
    };

    let ctx = RequestContext {
        user_token: token_value(req.headers(), "synapse-user"),
        tenant: token_value(req.headers(), "synapse-tenant"),
        query: req.uri().query().map(str::to_owned),
        response_headers: Default::default(),
    };

    // Where a tail starts; a WebSocket has no `Last-Event-ID` (a browser's
    // `EventSource` sends it, over HTTP).
    let start = match &route {
        Route::TailHttp(_) => tail_start(ctx.query.as_deref(), req.headers()),
        Route::TailWebSocket(_) => tail_start(ctx.query.as_deref(), &HeaderMap::new()),
        _ => Ok(LogStart::default()),
    };
    let start = match start {
        Ok(start) => start,
        Err(e) => return error_response(e),
    };

    let response = match route {
        Route::TailWebSocket(job) => {
            return match tail_websocket(&shared, conn, &ctx, &job, start, &mut req, log).await {
                Ok(r) => r,
                Err(e) => error_response(e),
            }
        }
        route => {
            // The log answers are gzipped for a client that asks (issue 24).
            let gzip = matches!(route, Route::JobLogs(_) | Route::TailHttp(_))
                && crate::gzip::accepts_gzip(req.headers());
            let content_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            match dispatch(&shared, &ctx, route, start, &body, content_type, log).await {
                Ok(r) if gzip => crate::gzip::gzip_response(with_backend_headers(r, &ctx)),
                Ok(r) => with_backend_headers(r, &ctx),
                Err(e) => error_response(e),
            }
        }
    };
    #[cfg(feature = "test-util")]
    if let Some(n) = truncate {
        return response.map(|b| Truncated::new(b, n).boxed_unsync());
    }
    response
}

async fn tail_websocket(
    shared: &Arc<Shared>,
    conn: Arc<ConnGuard>,
    ctx: &RequestContext,
    job: &agent_proto::JobId,
    start: LogStart,
    req: &mut Request<Incoming>,
    log: &mut Option<AccessLog>,
) -> Result<Response<ResBody>, BackendError> {
    let events = numbered(
        shared
            .backend
            .tail_at(ctx, job, TailProtocol::WebSocket, start)
            .await?,
    );
    let (response, upgrade) = fastwebsockets::upgrade::upgrade(req)
        .map_err(|e| BackendError::detail(400, format!("Bad WebSocket upgrade: {e}")))?;
    let shutdown = shared.shutdown.clone();
    let max_frame = shared.limits.max_ws_frame_bytes;
    let mut log = log.take();
    if let Some(log) = &mut log {
        log.status(response.status().as_u16());
    }
    shared.tasks.spawn(async move {
        // the upgraded socket is still one of the open connections
        let _conn = conn;
        let record = log.as_mut().map(AccessLog::tail).unwrap_or_default();
        if let Ok(mut socket) = upgrade.await {
            socket.set_max_message_size(max_frame);
            ws::serve_tail(socket, events, shutdown, &record).await;
        }
        drop(log); // the line, now that the tail ended
    });
    Ok(with_backend_headers(response.map(|_| empty()), ctx))
}

/// A successful answer with the headers its backend added
/// ([`RequestContext::response_headers`]).
fn with_backend_headers(mut r: Response<ResBody>, ctx: &RequestContext) -> Response<ResBody> {
    for (name, value) in ctx.response_headers.take() {
        r.headers_mut().insert(name, value);
    }
    r
}

/// Parses a POST body as a JSON object and checks that `required` fields are strings.
pub(crate) fn json_body(body: &Bytes, required: &[&str]) -> Result<Value, BackendError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BackendError::validation(
            vec![json!("body")],
            "field required",
            "missing",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        BackendError::validation(
            vec![json!("body"), json!(e.column())],
            "JSON decode error",
            "json_invalid",
        )
    })?;
    let Some(obj) = value.as_object() else {
        return Err(BackendError::validation(
            vec![json!("body")],
            "Input should be a valid dictionary",
            "dict_type",
        ));
    };
    let mut details = Vec::new();
    for field in required {
        match obj.get(*field) {
            None | Some(Value::Null) => details.push(json!({
                "loc": ["body", field], "msg": "field required", "type": "missing"
            })),
            Some(Value::String(_)) => {}
            Some(_) => details.push(json!({
                "loc": ["body", field], "msg": "Input should be a valid string", "type": "string_type"
            })),
        }
    }
    if details.is_empty() {
        Ok(value)
    } else {
        Err(BackendError::json(422, json!({ "detail": details })))
    }
}

async fn dispatch(
    shared: &Arc<Shared>,
    ctx: &RequestContext,
    route: Route,
    start: LogStart,
    body: &Bytes,
    content_type: Option<&str>,
    log: &mut Option<AccessLog>,
) -> Result<Response<ResBody>, BackendError> {
    let b = &shared.backend;
    if let Some(answer) =
        crate::platform::dispatch(b.as_ref(), ctx, &route, body, content_type).await
    {
        return answer;
    }
    let ok = |v: Value| json_response(StatusCode::OK, &v);
    let no_content = || {
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    };
    Ok(match route {
        Route::Health => ok(b.health(ctx).await?),
        Route::ListJobs => ok(b.list_jobs(ctx).await?),
        Route::GetJob(id) => ok(b.get_job(ctx, &id).await?),
        Route::JobLogs(id) => {
            let log = match logs_tail(ctx.query.as_deref())? {
                Some(n) => b.job_logs_last(ctx, &id, n).await?,
                None => b.job_logs(ctx, &id).await?,
            };
            let mut pieces = log.into_stream();
            // The status is decided by the first piece: a log that fails before any
            // byte is answered as its error, not as a broken 200.
            let first = match pieces.next().await {
                Some(Err(e)) => return Err(e),
                first => first,
            };
            let mut r = Response::new(log_body(first, pieces));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Route::StopJob(id) => ok(b.stop_job(ctx, &id).await?),
        Route::TailHttp(id) => {
            let events = numbered(b.tail_at(ctx, &id, TailProtocol::Http, start).await?);
            let record = log.as_mut().map(AccessLog::tail).unwrap_or_default();
            let mut r = Response::new(sse_body(
                events,
                shared.shutdown.clone(),
                shared.heartbeat,
                record,
            ));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        Route::TailWebSocket(_) => {
            return Err(BackendError::detail(400, "Expected a WebSocket upgrade"))
        }
        Route::GpuStatus => ok(b.gpu_status(ctx).await?),
        Route::ListNodes => ok(b.list_nodes(ctx).await?),
        Route::GetNode(id) => ok(b.get_node(ctx, &id).await?),
        Route::ListTasks => ok(b.list_tasks(ctx).await?),
        Route::GetTask(id) => ok(b.get_task(ctx, &id).await?),
        Route::ListServeApplications => ok(b.list_serve_applications(ctx).await?),
        Route::GetServeApplication(name) => ok(b.get_serve_application(ctx, &name).await?),
        Route::DeleteServeApplication(name) => {
            b.delete_serve_application(ctx, &name).await?;
            no_content()
        }
        Route::ListPluginReleases => ok(b.list_plugin_releases(ctx).await?),
        Route::GetPluginRelease(l) => ok(b.get_plugin_release(ctx, &l).await?),
        Route::CreatePluginRelease => {
            let body = json_body(body, &["plugin", "version"])?;
            json_response(
                StatusCode::CREATED,
                &b.create_plugin_release(ctx, body).await?,
            )
        }
        Route::DeletePluginRelease(l) => {
            b.delete_plugin_release(ctx, &l).await?;
            no_content()
        }
        Route::RunPluginRelease(l) => {
            let body = json_body(body, &["action"])?;
            ok(b.run_plugin_release(ctx, &l, body).await?)
        }
        Route::RunDebugPluginRelease => {
            let body = json_body(body, &["action"])?;
            ok(b.run_debug_plugin_release(ctx, body).await?)
        }
        // answered by crate::platform above
        other => return Err(BackendError::not_implemented(other.kind())),
    })
}
