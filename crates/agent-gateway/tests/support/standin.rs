//! A stand-in Ray dashboard on loopback, answering the way Ray 2.60 was measured
//! to (fixtures/ray/README.md): the Jobs API's logs answer is one JSON string and
//! a 500 when the log is not UTF-8; the tail WebSocket then closes at once with no
//! frame; the log-file API streams the driver's log file from the job's driver
//! node, of any size. Logs can be generated (`x` bytes without a newline, then a
//! tail) so that a test streams hundreds of megabytes without holding them.

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame as BodyFrame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The driver node of every stand-in job (hex, like Ray's).
pub const DRIVER_NODE: &str = "aaaa0000bbbb1111";

/// A log: `before`, then `filler` bytes of `x` without a newline, then `after`.
#[derive(Clone, Default)]
pub struct Log {
    pub before: Bytes,
    pub filler: u64,
    pub after: Bytes,
}

/// How the log-file API sends a job's log: `before` cut into `cuts`, a `gate` to
/// wait for after the first piece, a failure after `fail_after` bytes.
#[derive(Clone, Default)]
pub struct FileAnswer {
    /// The sizes `before` is cut into by the log-file API (repeated; empty: whole).
    pub cuts: Vec<usize>,
    /// After the first piece, the log-file API waits (up to 30 s, then fails) until
    /// this is notified.
    pub gate: Option<Arc<tokio::sync::Notify>>,
    /// The log-file API's answer breaks off after this many bytes.
    pub fail_after: Option<usize>,
}

/// The error of a body the stand-in breaks off.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a gated answer waits for its gate.
pub const GATE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Log {
    pub fn plain(bytes: impl Into<Bytes>) -> Self {
        Log {
            before: bytes.into(),
            ..Log::default()
        }
    }

    fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.before).is_ok() && std::str::from_utf8(&self.after).is_ok()
    }

    fn small_text(&self) -> Option<String> {
        if self.filler > 0 || !self.is_utf8() {
            return None;
        }
        Some(format!(
            "{}{}",
            String::from_utf8_lossy(&self.before),
            String::from_utf8_lossy(&self.after)
        ))
    }

    /// What the log-file API answers: the log as `how` says (`filler` and `after`
    /// are sent whole after `before`).
    fn file_body(&self, how: &FileAnswer) -> BoxBody<Bytes, BoxError> {
        if how.cuts.is_empty() && how.gate.is_none() && how.fail_after.is_none() {
            return self.body().map_err(|never| match never {}).boxed();
        }
        let mut pieces = Vec::new();
        let mut rest = self.before.clone();
        let mut sizes = how.cuts.iter().copied().filter(|n| *n > 0).cycle();
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
            pieces.push(rest.split_to(n));
        }
        let tail = GenBody {
            parts: vec![Bytes::new(), Bytes::new(), self.after.clone()],
            next: 0,
            filler_left: self.filler,
        };
        let (gate, fail_after) = (how.gate.clone(), how.fail_after);
        let state = (pieces.into_iter(), 0usize, gate, tail);
        let stream = futures_util::stream::unfold(state, move |st| async move {
            let (mut pieces, sent, mut gate, mut tail) = st;
            if sent == usize::MAX {
                return None;
            }
            if fail_after.is_some_and(|n| sent >= n) {
                tokio::task::yield_now().await;
                let e: BoxError = "the stand-in broke the log off".into();
                return Some((Err(e), (pieces, usize::MAX, None, tail)));
            }
            if sent > 0 {
                // the first piece went out: wait for the gate, once
                if let Some(g) = gate.take() {
                    if tokio::time::timeout(GATE_WAIT, g.notified()).await.is_err() {
                        let e: BoxError = "the gate was never opened".into();
                        return Some((Err(e), (pieces, usize::MAX, None, tail)));
                    }
                }
            }
            // one piece per write, as often as not
            tokio::task::yield_now().await;
            let mut piece = match pieces.next() {
                Some(p) => p,
                None => match std::future::poll_fn(|cx| Pin::new(&mut tail).poll_frame(cx)).await {
                    Some(Ok(frame)) => frame.into_data().unwrap_or_default(),
                    _ => return None,
                },
            };
            if let Some(n) = fail_after {
                piece.truncate(n - sent);
            }
            let sent = sent + piece.len();
            Some((Ok(BodyFrame::data(piece)), (pieces, sent, gate, tail)))
        });
        http_body_util::StreamBody::new(stream).boxed()
    }

    fn body(&self) -> GenBody {
        GenBody {
            parts: vec![self.before.clone(), Bytes::new(), self.after.clone()],
            next: 0,
            filler_left: self.filler,
        }
    }
}

/// A status request held while the tail socket streams: the socket sends `before`,
/// arms the hold, waits until a `/api/jobs/{id}` request is held (`engaged`), then
/// sends `after`; that request answers once `release` is notified (or after twice
/// `GATE_WAIT`).
#[derive(Clone, Default)]
pub struct StatusHold {
    pub armed: Arc<std::sync::atomic::AtomicBool>,
    pub engaged: Arc<tokio::sync::Notify>,
    pub release: Arc<tokio::sync::Notify>,
}

/// One stand-in job.
#[derive(Clone)]
pub struct Job {
    pub log: Log,
    /// Whether the tail WebSocket sends the log (as Ray does for a UTF-8 log) or
    /// closes at once with no frame (as it does when the log is not UTF-8).
    pub socket_sends: bool,
    /// The job's status once its socket was opened (it is RUNNING before).
    pub finished: bool,
    /// How the log-file API sends the log.
    pub file: FileAnswer,
    /// A status request to hold while the socket streams.
    pub status_hold: Option<StatusHold>,
}

impl Job {
    pub fn new(log: Log) -> Self {
        Job {
            socket_sends: log.is_utf8(),
            log,
            finished: true,
            file: FileAnswer::default(),
            status_hold: None,
        }
    }
}

#[derive(Default)]
pub struct State {
    pub jobs: Mutex<HashMap<String, Job>>,
    /// Every request's path and query, in order.
    pub requests: Mutex<Vec<String>>,
    /// Whether `/api/v0/logs/file` exists (false: 404, as on a Ray without it).
    pub no_log_file_api: bool,
    /// The token every request must carry as `Bearer <token>`, read as Ray's
    /// dashboard reads it: from `Authorization`, or from `X-Ray-Authorization` when
    /// there is no `Authorization`.
    pub token: Option<String>,
    /// Every `Authorization` header value received.
    pub authorizations: Mutex<Vec<String>>,
    /// Every `X-Ray-Authorization` header value received.
    pub ray_authorizations: Mutex<Vec<String>>,
    /// A proxy in front of the dashboard consumes `Authorization` (its own
    /// credentials): the stand-in never sees that header.
    pub proxy_takes_authorization: bool,
    /// Answers set by a test, by path (without the slashes around it, any method,
    /// any query): they take the place of every other answer for that path, so a
    /// test can make Ray answer anything (tests/untrusted_ray.rs).
    pub answers: Mutex<HashMap<String, (u16, String)>>,
    /// The path and body of every request with a body to a path of `answers`.
    pub bodies: Mutex<Vec<(String, String)>>,
}

impl State {
    pub fn add(&self, id: &str, job: Job) {
        self.jobs.lock().unwrap().insert(id.into(), job);
    }

    /// Answers `status` and `body` to every request for `path` (`api/jobs/x`).
    pub fn answer(&self, path: &str, status: u16, body: impl Into<String>) {
        self.answers
            .lock()
            .unwrap()
            .insert(path.trim_matches('/').to_owned(), (status, body.into()));
    }

    pub fn requested(&self, prefix: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

type Answer = Response<BoxBody<Bytes, BoxError>>;

fn text(status: u16, body: impl Into<String>) -> Answer {
    Response::builder()
        .status(status)
        .body(
            Full::new(Bytes::from(body.into()))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap()
}

/// A body made of parts, the middle one `filler_left` bytes of `x`, in 1 MiB chunks.
struct GenBody {
    parts: Vec<Bytes>,
    next: usize,
    filler_left: u64,
}

static FILLER: [u8; 1024 * 1024] = [b'x'; 1024 * 1024];

impl Body for GenBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
        loop {
            if self.next == 1 && self.filler_left > 0 {
                let n = self.filler_left.min(FILLER.len() as u64);
                self.filler_left -= n;
                return Poll::Ready(Some(Ok(BodyFrame::data(Bytes::from_static(
                    &FILLER[..n as usize],
                )))));
            }
            let Some(part) = self.parts.get(self.next).cloned() else {
                return Poll::Ready(None);
            };
            self.next += 1;
            if !part.is_empty() {
                return Poll::Ready(Some(Ok(BodyFrame::data(part))));
            }
        }
    }
}

fn query<'a>(q: &'a str, name: &str) -> Option<&'a str> {
    q.split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

async fn handle(state: Arc<State>, mut req: Request<Incoming>) -> Result<Answer, Infallible> {
    let path = req.uri().path().to_owned();
    let q = req.uri().query().unwrap_or("").to_owned();
    state.requests.lock().unwrap().push(format!("{path}?{q}"));
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let auth = header("authorization").filter(|_| !state.proxy_takes_authorization);
    let ray_auth = header("x-ray-authorization");
    if let Some(a) = &auth {
        state.authorizations.lock().unwrap().push(a.clone());
    }
    if let Some(a) = &ray_auth {
        state.ray_authorizations.lock().unwrap().push(a.clone());
    }
    if let Some(token) = &state.token {
        // Ray: `Authorization` first, `X-Ray-Authorization` when it is absent
        let presented = auth.filter(|a| !a.is_empty()).or(ray_auth);
        if presented.as_deref() != Some(&format!("Bearer {token}")) {
            return Ok(text(401, "Unauthorized: a valid token is required"));
        }
    }
    let set = state
        .answers
        .lock()
        .unwrap()
        .get(path.trim_matches('/'))
        .cloned();
    if let Some((status, body)) = set {
        let sent = req.into_body().collect().await.map(|b| b.to_bytes());
        if let Some(sent) = sent.ok().filter(|b| !b.is_empty()) {
            let sent = String::from_utf8_lossy(&sent).into_owned();
            state.bodies.lock().unwrap().push((path, sent));
        }
        return Ok(text(status, body));
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let job = |id: &str| state.jobs.lock().unwrap().get(id).cloned();
    let answer = match parts.as_slice() {
        ["api", "version"] => text(200, r#"{"ray_version": "2.60.0"}"#),
        ["api", "gcs_healthz"] => text(200, "success"),
        ["api", "jobs", id] => match job(id) {
            Some(j) => {
                if let Some(hold) = &j.status_hold {
                    if hold.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        hold.engaged.notify_one();
                        let _ = tokio::time::timeout(2 * GATE_WAIT, hold.release.notified()).await;
                    }
                }
                text(
                200,
                serde_json::json!({
                    "submission_id": id, "job_id": "02000000", "entrypoint": "python x.py",
                    "status": if j.finished { "SUCCEEDED" } else { "RUNNING" },
                    "driver_node_id": DRIVER_NODE,
                    "runtime_env": {"working_dir": "https://deploy:s3cr3t@store.example/app.zip",
                                    "env_vars": {"API_KEY": "k3y", "AGENT_ACTION": "go"}},
                })
                .to_string(),
                )
            }
            None => text(404, format!("Job {id} does not exist")),
        },
        ["api", "jobs", id, "logs"] => match job(id) {
            Some(j) => match j.log.small_text() {
                Some(t) => text(200, serde_json::json!({ "logs": t }).to_string()),
                None => text(
                    500,
                    "Traceback (most recent call last):\nUnicodeDecodeError: 'utf-8' codec can't decode byte 0xff",
                ),
            },
            None => text(404, format!("Job {id} does not exist")),
        },
        ["api", "jobs", id, "logs", "tail"] => {
            let id = id.to_string();
            let Some(j) = job(&id) else {
                return Ok(text(404, format!("Job {id} does not exist")));
            };
            let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut req).unwrap();
            tokio::spawn(async move {
                let mut ws = upgrade.await.unwrap();
                if let (true, Some(hold)) = (j.socket_sends, &j.status_hold) {
                    let first = Frame::text(Payload::Owned(j.log.before.to_vec()));
                    if ws.write_frame(first).await.is_err() {
                        return;
                    }
                    hold.armed.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = tokio::time::timeout(GATE_WAIT, hold.engaged.notified()).await;
                    let rest = Frame::text(Payload::Owned(j.log.after.to_vec()));
                    if ws.write_frame(rest).await.is_err() {
                        return;
                    }
                } else if j.socket_sends {
                    let mut body = j.log.body();
                    while let Some(Ok(frame)) =
                        std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                    {
                        let data = frame.into_data().unwrap_or_default();
                        let frame = Frame::text(Payload::Owned(data.to_vec()));
                        if ws.write_frame(frame).await.is_err() {
                            return;
                        }
                    }
                }
                let _ = ws
                    .write_frame(Frame::new(
                        true,
                        OpCode::Close,
                        None,
                        Payload::Owned(1000u16.to_be_bytes().to_vec()),
                    ))
                    .await;
            });
            return Ok(response.map(|_| text(200, "").into_body()));
        }
        ["api", "v0", "logs", "file"] => {
            if state.no_log_file_api {
                return Ok(text(404, "Not Found"));
            }
            let node = query(&q, "node_id").unwrap_or("");
            let file = query(&q, "filename").unwrap_or("");
            let id = file
                .strip_prefix("job-driver-")
                .and_then(|f| f.strip_suffix(".log"))
                .unwrap_or("");
            match job(id) {
                Some(j) if node == DRIVER_NODE => Response::builder()
                    .status(200)
                    .header("content-type", "text/plain")
                    .body(j.log.file_body(&j.file))
                    .unwrap(),
                _ => text(
                    500,
                    format!("Failed to get file: no file {file} on node {node}"),
                ),
            }
        }
        _ => text(404, "Not Found"),
    };
    Ok(answer)
}

/// Starts the stand-in; returns its state, its address and its task.
pub async fn start(state: State) -> (Arc<State>, String, tokio::task::JoinHandle<()>) {
    start_with(state, None).await
}

/// A self-signed certificate for 127.0.0.1 (its PEM, to trust) and a TLS acceptor
/// serving it.
pub fn tls_identity() -> (String, tokio_rustls::TlsAcceptor) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
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
    (
        certified.cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}

/// Starts the stand-in, over TLS when `tls` is given (`https://` address).
pub async fn start_with(
    state: State,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (Arc<State>, String, tokio::task::JoinHandle<()>) {
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::clone(&state);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = Arc::clone(&shared);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http
                                .serve_connection(TokioIo::new(stream), service)
                                .with_upgrades()
                                .await;
                        }
                    }
                    None => {
                        let _ = http
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                    }
                }
            });
        }
    });
    (state, format!("{scheme}://{addr}"), task)
}
