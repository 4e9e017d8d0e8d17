//! A stand-in Ray dashboard: a real HTTP + WebSocket server on loopback, answering
//! the way Ray 2.60 was measured to (fixtures/ray/README.md), for the gateway's tests
//! and tools (the one stand-in Ray of the workspace).
//!
//! - The Jobs API's logs answer is one JSON string, and a 500 when the log is not
//!   UTF-8; the tail WebSocket then closes at once with no frame; the log-file API
//!   streams the driver's log file from the job's driver node, of any size. Logs can
//!   be generated (`x` bytes without a newline, then a tail) so that a test streams
//!   hundreds of megabytes without holding them.
//! - Fault knobs: a tail socket scripted per connection ([`Job::sockets`]: cut
//!   batches, early closes, dropped connections, the job ending while lines are
//!   lost: a lossy Ray), answers set by path ([`State::answer`]: an untrusted Ray),
//!   a log-file answer cut, gated or broken off ([`FileAnswer`]), a status request
//!   held ([`StatusHold`]), Ray's token check ([`State::token`]), TLS
//!   ([`start_with`], [`tls_identity`]).
//! - [`State::quiet`]: one running job ([`QUIET_JOB`]) whose tail stays open and
//!   quiet, and nothing else (the attacks' and the shutdown test's Ray).
//! - Rotation by copy-then-truncate, as ray PR #65006 rotates `job-driver-*.log`
//!   ([`Job::rotate`]): the active file's first bytes become the copy
//!   `job-driver-{id}.log.1` (older copies one number up, the oldest deleted past
//!   [`Job::max_backups`]), the rest stays active; at a chosen point: before a
//!   tail, in a socket's script ([`SocketStep::Rotate`]), or before the n-th log
//!   request of a read ([`Job::rotations`]). The log listing
//!   (`/api/v0/logs?node_id=...&glob=...`) answers as Ray 2.60 does (the State
//!   API's envelope, category `internal`, in no order) and the log-file API serves
//!   the copies; the Jobs API's logs and a new tail socket read the active file
//!   only, as Ray's do.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use agent_testkit::ray::{self, Job, Log, State};
//!
//! let (state, address, task) = ray::start(State::default()).await?;
//! state.add("raysubmit_1", Job::new(Log::plain("one line\n")));
//! assert!(address.starts_with("http://127.0.0.1:"));
//! task.abort();
//! # Ok(())
//! # }
//! ```

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload};
use http::StatusCode;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame as BodyFrame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::util::lock;

/// The driver node of every stand-in job (hex, like Ray's).
pub const DRIVER_NODE: &str = "aaaa0000bbbb1111";

/// A log: `before`, then `filler` bytes of `x` without a newline, then `after`.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// The first bytes.
    pub before: Bytes,
    /// How many bytes of `x` follow, generated as they are sent.
    pub filler: u64,
    /// The last bytes.
    pub after: Bytes,
}

/// How the log-file API sends a job's log: `before` cut into `cuts`, a `gate` to
/// wait for after the first piece, a failure after `fail_after` bytes.
#[derive(Debug, Clone, Default)]
pub struct FileAnswer {
    /// The sizes `before` is cut into by the log-file API (repeated; empty: whole).
    pub cuts: Vec<usize>,
    /// After the first piece, the log-file API waits (up to 30 s, then fails) until
    /// this is notified.
    pub gate: Option<Arc<tokio::sync::Notify>>,
    /// The log-file API's answer breaks off after this many bytes.
    pub fail_after: Option<usize>,
    /// Only the first this many answers break off (`None`: every one): a read
    /// retried after that gets the whole log.
    pub fail_answers: Option<u32>,
}

/// The error of a body the stand-in breaks off.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a gated answer waits for its gate.
pub const GATE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Log {
    /// A log of these bytes only.
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

    /// The last `n` lines of a log without filler (`\n`-ended lines, and an
    /// unended last one).
    fn last_lines(&self, n: u64) -> Bytes {
        let whole = [self.before.clone(), self.after.clone()].concat();
        let body = whole.strip_suffix(b"\n").unwrap_or(&whole);
        let mut start = 0;
        if n == 0 {
            start = whole.len();
        } else {
            let mut seen = 0;
            for (i, &b) in body.iter().enumerate().rev() {
                if b == b'\n' {
                    seen += 1;
                    if seen == n {
                        start = i + 1;
                        break;
                    }
                }
            }
        }
        Bytes::from(whole).slice(start..)
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
#[derive(Debug, Clone, Default)]
pub struct StatusHold {
    /// Set by the socket once it sent `before`.
    pub armed: Arc<std::sync::atomic::AtomicBool>,
    /// Notified when a status request is held.
    pub engaged: Arc<tokio::sync::Notify>,
    /// Lets the held status request answer.
    pub release: Arc<tokio::sync::Notify>,
}

/// One step of a scripted tail socket ([`Job::sockets`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SocketStep {
    /// A text frame with these bytes.
    Send(Bytes),
    /// Nothing for this long.
    Pause(Duration),
    /// A close frame with this code; the script ends.
    Close(u16),
    /// The job ends (SUCCEEDED) from now on.
    Finish,
    /// The job's log rotates here ([`Job::rotate`] at this byte of its active file).
    Rotate(usize),
    /// A text frame with the active file as it is now (its first bytes only, when
    /// given): what a new socket of Ray replays.
    Replay(Option<usize>),
}

/// A rotation of a job's log at a chosen point of a read ([`Job::rotations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Before the job's log request (listing or log file) with this number (1 is
    /// the first) is answered.
    pub before_request: u32,
    /// The byte of the active file where it is cut ([`Job::rotate`]).
    pub at: usize,
}

/// One stand-in job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its log.
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
    /// Scripted tail sockets: the n-th socket opened plays `sockets[n - 1]` (the last
    /// script for every later one), then drops the connection unless the script
    /// closed it; empty: the socket sends the log as Ray does.
    pub sockets: Vec<Vec<SocketStep>>,
    /// How many tail sockets were opened.
    pub opened: u32,
    /// How many log-file API answers were begun.
    pub file_answers: u32,
    /// Its `start_time` (ms): a job submitted again under the same id has another.
    pub start_time: u64,
    /// The rotated copies of the log, newest (`.1`) first.
    pub backups: Vec<Bytes>,
    /// How many copies a rotation keeps (the oldest beyond it is deleted); `None`:
    /// all.
    pub max_backups: Option<usize>,
    /// Rotations at chosen log requests of the job.
    pub rotations: Vec<Rotation>,
    /// How many log requests (listings naming the job, log-file reads) came.
    pub log_requests: u32,
}

impl Job {
    /// A finished job with this log.
    pub fn new(log: Log) -> Self {
        Job {
            socket_sends: log.is_utf8(),
            log,
            finished: true,
            file: FileAnswer::default(),
            status_hold: None,
            sockets: Vec::new(),
            opened: 0,
            file_answers: 0,
            start_time: 1,
            backups: Vec::new(),
            max_backups: None,
            rotations: Vec::new(),
            log_requests: 0,
        }
    }

    /// Rotates the log by copy-then-truncate at byte `at` of the active file (as if
    /// the rest were written after the rotation): its first `at` bytes become the
    /// copy `.1`, the older copies move one number up, the oldest past
    /// `max_backups` is deleted. A generated log (`filler`) does not rotate.
    ///
    /// ```
    /// use agent_testkit::ray::{Job, Log};
    ///
    /// let mut job = Job::new(Log::plain("a\nb\nc\n"));
    /// job.rotate(2);
    /// job.rotate(2);
    /// assert_eq!(job.backups, ["b\n", "a\n"]);
    /// assert_eq!(job.log.before, "c\n");
    /// ```
    pub fn rotate(&mut self, at: usize) {
        if self.log.filler > 0 {
            return;
        }
        let mut active = [self.log.before.clone(), self.log.after.clone()].concat();
        let rest = active.split_off(at.min(active.len()));
        self.backups.insert(0, Bytes::from(active));
        if let Some(max) = self.max_backups {
            self.backups.truncate(max);
        }
        self.log.before = Bytes::from(rest);
        self.log.after = Bytes::new();
    }

    /// Counts a log request and makes the rotations due before it.
    fn log_request(&mut self) {
        self.log_requests += 1;
        let due: Vec<usize> = self
            .rotations
            .iter()
            .filter(|r| r.before_request == self.log_requests)
            .map(|r| r.at)
            .collect();
        for at in due {
            self.rotate(at);
        }
    }

    /// A running job with an empty log whose tail sockets stay open and quiet (for
    /// an hour, or until the connection goes).
    pub fn quiet() -> Self {
        Job {
            finished: false,
            sockets: vec![vec![SocketStep::Pause(Duration::from_secs(3600))]],
            ..Job::new(Log::default())
        }
    }
}

/// The job of [`State::quiet`].
pub const QUIET_JOB: &str = "raysubmit_attacked";

/// The stand-in's state: its jobs and knobs, and what it received.
#[derive(Debug, Default)]
pub struct State {
    /// The jobs, by submission id.
    pub jobs: Mutex<HashMap<String, Job>>,
    /// Every request's path and query, in order.
    pub requests: Mutex<Vec<String>>,
    /// The bytes of every log-file API answer (`/api/v0/logs/file`) sent so far.
    pub log_file_bytes: AtomicU64,
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
    /// A Ray with one running job, [`QUIET_JOB`], whose tail stays open and quiet.
    pub fn quiet() -> Self {
        let state = State::default();
        state.add(QUIET_JOB, Job::quiet());
        state
    }

    /// Adds (or replaces) a job.
    pub fn add(&self, id: &str, job: Job) {
        lock(&self.jobs).insert(id.into(), job);
    }

    /// Answers `status` and `body` to every request for `path` (`api/jobs/x`).
    pub fn answer(&self, path: &str, status: u16, body: impl Into<String>) {
        lock(&self.answers).insert(path.trim_matches('/').to_owned(), (status, body.into()));
    }

    /// How many requests had a path (and query) starting with `prefix`.
    pub fn requested(&self, prefix: &str) -> usize {
        lock(&self.requests)
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }

    /// Forgets job `id`, as Ray does after its head restarted: from now on its
    /// routes answer 404 `Job {id} does not exist` and `api/jobs/` does not list
    /// it. Returns whether it was known.
    pub fn forget(&self, id: &str) -> bool {
        lock(&self.jobs).remove(id).is_some()
    }

    /// How many tail sockets of job `id` were opened.
    pub fn sockets(&self, id: &str) -> u32 {
        lock(&self.jobs).get(id).map_or(0, |j| j.opened)
    }
}

type Answer = Response<BoxBody<Bytes, BoxError>>;

fn text(status: u16, body: impl Into<String>) -> Answer {
    let mut r = Response::new(
        Full::new(Bytes::from(body.into()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
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

/// The job id and copy number of a driver log file name (`job-driver-{id}.log` or
/// `job-driver-{id}.log.{k}`); an empty id for any other name.
fn driver_log_of(file: &str) -> (&str, Option<usize>) {
    let Some(rest) = file.strip_prefix("job-driver-") else {
        return ("", None);
    };
    if let Some(id) = rest.strip_suffix(".log") {
        return (id, None);
    }
    match rest.rsplit_once(".log.") {
        Some((id, k)) => match k.parse() {
            Ok(k) => (id, Some(k)),
            Err(_) => ("", None),
        },
        None => ("", None),
    }
}

/// A glob of `*` (any run of characters) and literal characters, as Ray's listing
/// applies it to file names.
fn glob_matches(glob: &str, name: &str) -> bool {
    match glob.split_once('*') {
        None => glob == name,
        Some((head, rest)) => {
            let Some(name) = name.strip_prefix(head) else {
                return false;
            };
            (0..=name.len()).any(|i| name.is_char_boundary(i) && glob_matches(rest, &name[i..]))
        }
    }
}

/// A query value with its `%XX` escapes decoded.
fn percent_decoded(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query<'a>(q: &'a str, name: &str) -> Option<&'a str> {
    q.split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

async fn handle(state: Arc<State>, mut req: Request<Incoming>) -> Result<Answer, Infallible> {
    let path = req.uri().path().to_owned();
    let q = req.uri().query().unwrap_or("").to_owned();
    lock(&state.requests).push(format!("{path}?{q}"));
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let auth = header("authorization").filter(|_| !state.proxy_takes_authorization);
    let ray_auth = header("x-ray-authorization");
    if let Some(a) = &auth {
        lock(&state.authorizations).push(a.clone());
    }
    if let Some(a) = &ray_auth {
        lock(&state.ray_authorizations).push(a.clone());
    }
    if let Some(token) = &state.token {
        // Ray: `Authorization` first, `X-Ray-Authorization` when it is absent
        let presented = auth.filter(|a| !a.is_empty()).or(ray_auth);
        if presented.as_deref() != Some(&format!("Bearer {token}")) {
            return Ok(text(401, "Unauthorized: a valid token is required"));
        }
    }
    let set = lock(&state.answers).get(path.trim_matches('/')).cloned();
    if let Some((status, body)) = set {
        let sent = req.into_body().collect().await.map(|b| b.to_bytes());
        if let Some(sent) = sent.ok().filter(|b| !b.is_empty()) {
            let sent = String::from_utf8_lossy(&sent).into_owned();
            lock(&state.bodies).push((path, sent));
        }
        return Ok(text(status, body));
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let job = |id: &str| lock(&state.jobs).get(id).cloned();
    let answer = match parts.as_slice() {
        ["api", "version"] => text(200, r#"{"ray_version": "2.60.0"}"#),
        ["api", "gcs_healthz"] => text(200, "success"),
        ["api", "jobs"] => {
            let mut infos: Vec<_> = lock(&state.jobs)
                .iter()
                .map(|(id, j)| job_info(id, j))
                .collect();
            infos.sort_by_key(|i| i["submission_id"].to_string());
            text(200, serde_json::Value::Array(infos).to_string())
        }
        ["api", "jobs", id] => match job(id) {
            Some(j) => {
                if let Some(hold) = &j.status_hold {
                    if hold.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        hold.engaged.notify_one();
                        let _ = tokio::time::timeout(2 * GATE_WAIT, hold.release.notified()).await;
                    }
                }
                text(200, job_info(id, &j).to_string())
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
            let j = {
                let mut jobs = lock(&state.jobs);
                let Some(j) = jobs.get_mut(&id) else {
                    return Ok(text(404, format!("Job {id} does not exist")));
                };
                j.opened += 1;
                j.clone()
            };
            let (response, upgrade) = match fastwebsockets::upgrade::upgrade(&mut req) {
                Ok(pair) => pair,
                Err(e) => return Ok(text(400, format!("Bad WebSocket upgrade: {e}"))),
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let Ok(mut ws) = upgrade.await else {
                    return;
                };
                if let Some(script) = j
                    .sockets
                    .get((j.opened as usize).min(j.sockets.len()).saturating_sub(1))
                {
                    for step in script {
                        match step {
                            SocketStep::Send(bytes) => {
                                let frame = Frame::text(Payload::Owned(bytes.to_vec()));
                                if ws.write_frame(frame).await.is_err() {
                                    return;
                                }
                            }
                            SocketStep::Pause(d) => tokio::time::sleep(*d).await,
                            SocketStep::Close(code) => {
                                let _ = ws.write_frame(Frame::close(*code, b"")).await;
                                return;
                            }
                            SocketStep::Finish => {
                                if let Some(job) = lock(&state.jobs).get_mut(&id) {
                                    job.finished = true;
                                }
                            }
                            SocketStep::Rotate(at) => {
                                if let Some(job) = lock(&state.jobs).get_mut(&id) {
                                    job.rotate(*at);
                                }
                            }
                            SocketStep::Replay(first) => {
                                let active = lock(&state.jobs).get(&id).map(|j| {
                                    [j.log.before.clone(), j.log.after.clone()].concat()
                                });
                                let mut active = active.unwrap_or_default();
                                active.truncate(first.unwrap_or(usize::MAX));
                                if !active.is_empty() {
                                    let frame = Frame::text(Payload::Owned(active));
                                    if ws.write_frame(frame).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    return; // dropped: no close frame
                }
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
            let (id, backup) = driver_log_of(file);
            let answered = {
                let mut jobs = lock(&state.jobs);
                jobs.get_mut(id).map(|j| {
                    if node == DRIVER_NODE {
                        j.log_request();
                    }
                    j.file_answers += 1;
                    j.clone()
                })
            };
            // a copy: served whole or by its last lines, as the active file
            let answered = answered.and_then(|mut j| {
                if j.file.fail_answers.is_some_and(|n| j.file_answers > n) {
                    j.file.fail_after = None;
                }
                if let Some(k) = backup {
                    let copy = j.backups.get(k.checked_sub(1)?)?.clone();
                    j.log = Log::plain(copy);
                    j.file = FileAnswer::default();
                }
                Some(j)
            });
            match answered {
                Some(j) if node == DRIVER_NODE => {
                    // `lines=N` (N >= 0): the last N lines, as Ray reads them from
                    // the end of the file; `lines=-1`: the whole file
                    let last = query(&q, "lines").and_then(|n| n.parse::<u64>().ok());
                    let body = match last {
                        Some(n) if j.log.filler == 0 => Full::new(j.log.last_lines(n))
                            .map_err(|never| match never {})
                            .boxed(),
                        _ => j.log.file_body(&j.file),
                    };
                    let served = Arc::clone(&state);
                    let body = body
                        .map_frame(move |f| {
                            if let Some(d) = f.data_ref() {
                                served
                                    .log_file_bytes
                                    .fetch_add(d.len() as u64, Ordering::Relaxed);
                            }
                            f
                        })
                        .boxed();
                    let mut r = Response::new(body);
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("text/plain"),
                    );
                    r
                }
                _ => text(
                    500,
                    format!("Failed to get file: no file {file} on node {node}"),
                ),
            }
        }
        ["api", "v0", "logs"] => {
            let node = query(&q, "node_id").unwrap_or("");
            let glob = query(&q, "glob").map_or_else(|| "*".to_owned(), percent_decoded);
            if node != DRIVER_NODE {
                return Ok(text(500, "500 Internal Server Error\n\nServer got itself in trouble"));
            }
            let mut names = Vec::new();
            for (id, j) in lock(&state.jobs).iter_mut() {
                let active = format!("job-driver-{id}.log");
                // a listing for the job's files (the gateway's glob names the job)
                if glob.contains(active.as_str()) {
                    j.log_request();
                }
                names.extend((1..=j.backups.len()).map(|k| format!("{active}.{k}")));
                names.push(active);
            }
            // Ray lists in directory order: any order
            names.retain(|n| glob_matches(&glob, n));
            names.reverse();
            let body = serde_json::json!({
                "result": true, "msg": "", "data": {"result": {"internal": names}},
            });
            text(200, body.to_string())
        }
        _ => text(404, "Not Found"),
    };
    Ok(answer)
}

/// A job's info as Ray answers it (credentials in its `runtime_env`, as a real
/// job's may hold them).
fn job_info(id: &str, j: &Job) -> serde_json::Value {
    serde_json::json!({
        "type": "SUBMISSION", "submission_id": id, "job_id": "02000000", "entrypoint": "python x.py",
        "status": if j.finished { "SUCCEEDED" } else { "RUNNING" },
        "message": null, "error_type": null, "start_time": j.start_time, "end_time": null, "metadata": {},
        "driver_node_id": DRIVER_NODE,
        "runtime_env": {"working_dir": "https://deploy:s3cr3t@store.example/app.zip",
                        "env_vars": {"API_KEY": "k3y", "AGENT_ACTION": "go"}},
    })
}

/// The error of starting the stand-in.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Starts the stand-in on a free loopback port; returns its state, its address
/// (`http://127.0.0.1:PORT`) and its task (abort it, or let the runtime end it).
pub async fn start(
    state: State,
) -> Result<(Arc<State>, String, tokio::task::JoinHandle<()>), StartError> {
    start_with(state, None).await
}

/// A self-signed certificate for 127.0.0.1 and `localhost` (its PEM, to trust) and a
/// TLS acceptor serving it.
pub fn tls_identity() -> Result<(String, tokio_rustls::TlsAcceptor), StartError> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((
        certified.cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    ))
}

/// Starts the stand-in, over TLS when `tls` is given (`https://` address).
pub async fn start_with(
    state: State,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(Arc<State>, String, tokio::task::JoinHandle<()>), StartError> {
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
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
    Ok((state, format!("{scheme}://{addr}"), task))
}
