//! What a server must answer: the agent operations, as the [`AgentBackend`] trait.
//!
//! The serving layer ([`crate::serve()`]) parses and validates the request, checks
//! the token, and calls one method per operation; the backend only supplies data. The
//! in-memory backend of the testkit and `agent-gateway`'s Ray backend both implement it.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use agent_proto::api::OperationId;
use agent_proto::{
    BuildId, ContainerId, DockerContainerId, JobId, NodeId, PluginLookup, Secret, ServeAppName,
    TaskId,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::lines::{LogStart, TailAt};

/// The result of a backend operation.
pub type BackendResult<T> = Result<T, BackendError>;

/// A failed operation, answered as is: a status, a body and extra headers.
///
/// ```
/// use agent_server::BackendError;
///
/// let e = BackendError::text(404, "Job nope does not exist");
/// assert_eq!(e.status.as_u16(), 404);
/// let e = BackendError::missing_field("action");
/// assert_eq!(e.status.as_u16(), 422);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BackendError {
    /// The HTTP status to answer with.
    pub status: StatusCode,
    /// The body to answer with.
    pub body: ErrorBody,
    /// Extra headers (e.g. `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The body of a [`BackendError`].
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorBody {
    /// Sent as `application/json`.
    Json(Value),
    /// Sent as `text/plain; charset=utf-8` (Ray answers some errors in plain text).
    Text(String),
}

impl BackendError {
    fn with(status: u16, body: ErrorBody) -> Self {
        BackendError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
            headers: Vec::new(),
        }
    }

    /// An error with a plain-text body, e.g. Ray's `404 Job nope does not exist`.
    /// A status outside 100..=999 becomes 500.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::with(status, ErrorBody::Text(body.into()))
    }

    /// An error with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Self::with(status, ErrorBody::Json(body))
    }

    /// FastAPI's shape of an error: `{"detail": "<message>"}`.
    pub fn detail(status: u16, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "detail": message.into() }))
    }

    /// `404 {"detail": "Not Found"}`, FastAPI's answer to an unknown route or resource.
    pub fn not_found() -> Self {
        Self::detail(404, "Not Found")
    }

    /// A FastAPI validation failure (422): `{"detail": [{"loc", "msg", "type"}]}`.
    pub fn validation(loc: Vec<Value>, msg: impl Into<String>, kind: impl Into<String>) -> Self {
        Self::json(
            422,
            json!({ "detail": [{ "loc": loc, "msg": msg.into(), "type": kind.into() }] }),
        )
    }

    /// The 422 FastAPI answers when a required body field is missing:
    /// `{"detail":[{"loc":["body",FIELD],"msg":"field required","type":"missing"}]}`.
    pub fn missing_field(field: &str) -> Self {
        Self::validation(
            vec![json!("body"), json!(field)],
            "field required",
            "missing",
        )
    }

    /// `501 Not Implemented` for an operation this backend does not offer, naming
    /// the feature and the route, so that a caller reads "this agent cannot", never
    /// a 404's "not found".
    ///
    /// ```
    /// use agent_server::{BackendError, RouteKind};
    ///
    /// let e = BackendError::not_implemented(RouteKind::ListDockerContainers);
    /// assert_eq!(e.status.as_u16(), 501);
    /// assert!(e.to_string().contains("Docker containers"), "{e}");
    /// ```
    pub fn not_implemented(operation: OperationId) -> Self {
        let feature = feature(operation);
        Self::json(
            501,
            json!({
                "detail": format!(
                    "{feature} are not supported by this agent ({} is {operation})",
                    operation.name()
                ),
                "feature": feature,
                "operation": operation.name(),
            }),
        )
    }

    /// Adds a header to the answer; an invalid name or value is ignored.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.push((n, v));
        }
        self
    }
}

/// The feature an operation belongs to, in words (for [`BackendError::not_implemented`]).
fn feature(operation: OperationId) -> &'static str {
    use OperationId as O;
    match operation {
        O::GetClusterResources | O::CheckFeasibility => "cluster resource checks",
        O::GetPolicy | O::UpdatePolicy => "resource policies",
        O::GetComposeConfig | O::GetSystemStatus | O::UpdateSystem | O::RestartSystem => {
            "system operations"
        }
        O::GetBuildStatus => "container builds",
        O::ListDockerContainers
        | O::CreateDockerContainer
        | O::GetDockerContainer
        | O::DeleteDockerContainer
        | O::StartDockerContainer
        | O::StopDockerContainer => "Docker containers",
        O::ListContainers
        | O::CreateContainer
        | O::GetContainer
        | O::UpdateContainer
        | O::DeleteContainer => "plugin containers",
        _ => "these operations",
    }
}

/// A file uploaded with `POST containers/` (multipart/form-data).
#[derive(Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The file's name, as the client sent it.
    pub filename: String,
    /// Its media type, if the client sent one.
    pub content_type: Option<String>,
    /// Its bytes (bounded by the server's large-body cap).
    pub bytes: Bytes,
}

impl fmt::Debug for UploadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedFile")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            ErrorBody::Json(v) => write!(f, "{} {}", self.status.as_u16(), v),
            ErrorBody::Text(t) => write!(f, "{} {}", self.status.as_u16(), t),
        }
    }
}

impl std::error::Error for BackendError {}

/// Which transport a log tail is served over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TailProtocol {
    /// GET `jobs/{id}/logs/` upgraded to a WebSocket: one text frame per event.
    WebSocket,
    /// GET `jobs/{id}/logs/stream/`: a chunked body of `data: {event}\n\n` lines.
    Http,
}

/// One event of a log tail, as the backend produces it.
///
/// The first three are the protocol's events; the others exist so that a test server
/// can break the protocol on purpose (a real backend never needs them): they are
/// compiled only with the `test-util` feature, which agent-testkit enables.
#[derive(Debug, Clone, PartialEq)]
pub enum TailEvent {
    /// A log message: `{"type":"log","message":M}`.
    Log(String),
    /// The job's log is finished: `{"type":"complete"}`, then the end of the stream
    /// (WebSocket close 1000, or the last chunk of the HTTP body).
    Complete,
    /// The tail failed server-side: `{"type":"error","message":M}`, then the end of
    /// the stream (WebSocket close 1011).
    Error(String),
    #[cfg(feature = "test-util")]
    /// Bytes sent as they are: one WebSocket text frame with this payload (not checked
    /// for UTF-8), or these bytes appended to the HTTP body (no framing added).
    Raw(Bytes),
    #[cfg(feature = "test-util")]
    /// A piece of one WebSocket message: a text frame when `first`, else a continuation
    /// frame; `last` sets FIN. Over HTTP the bytes are appended to the body as they are.
    Fragment {
        /// The piece's bytes.
        payload: Bytes,
        /// True for the message's first frame.
        first: bool,
        /// True for the message's last frame.
        last: bool,
    },
    #[cfg(feature = "test-util")]
    /// Drop the connection now: no close frame, no last chunk (a mid-stream failure).
    Abort,
}

/// A log tail: events in order. A stream that ends without [`TailEvent::Complete`] or
/// [`TailEvent::Error`] is an aborted tail: the connection is dropped,
/// because a quiet end must never look like a finished log.
pub type TailStream = Pin<Box<dyn Stream<Item = TailEvent> + Send>>;

/// The pieces of a job's whole log, in order, as a backend streams them.
///
/// A piece is raw bytes of the log, cut anywhere (even inside a multi-byte
/// character); an `Err` breaks the answer off.
pub type LogStream = Pin<Box<dyn Stream<Item = Result<Bytes, BackendError>> + Send>>;

/// A job's whole log, the answer of GET `jobs/{id}/logs/` (see
/// [`AgentBackend::job_logs`]): text known at once, or a [`LogStream`] read while
/// the answer is sent, so that a log of any size costs the server one piece at a
/// time.
///
/// The serving layer decodes the bytes as the clients do (invalid UTF-8 becoming
/// U+FFFD, across the pieces' boundaries) and writes them as one JSON string in a
/// chunked body. The status is decided before the first byte: an `Err` as the
/// first piece is answered as that error; a later one drops the connection before
/// the body's end, so the client sees an incomplete answer, never a shorter log.
///
/// ```
/// use agent_server::{BackendError, LogBody};
/// use bytes::Bytes;
///
/// let whole: LogBody = "line 1\nline 2\n".into();
/// let pieces = futures_util::stream::iter([
///     Ok(Bytes::from_static(b"line 1\nli")),
///     Ok(Bytes::from_static(b"ne 2\n")),
///     Err(BackendError::detail(502, "Ray broke off the log")),
/// ]);
/// let streamed = LogBody::wrap_stream(pieces);
/// # let _ = (whole, streamed);
/// ```
pub struct LogBody {
    pieces: LogStream,
}

impl LogBody {
    /// A log streamed piece by piece (see [`LogStream`]).
    pub fn wrap_stream<S>(pieces: S) -> Self
    where
        S: Stream<Item = Result<Bytes, BackendError>> + Send + 'static,
    {
        LogBody {
            pieces: Box::pin(pieces),
        }
    }

    /// The pieces, for a backend that passes a log on while looking at it (a copy
    /// kept on the side): the stream as given to [`LogBody::wrap_stream`].
    pub fn into_pieces(self) -> LogStream {
        self.pieces
    }

    /// The pieces, for the serving layer: fused, because the layer reads the first
    /// piece on its own (to choose the status) and then hands the rest on, so an
    /// empty log is polled again after its end, which a backend's stream need not
    /// allow (`futures_util::stream::unfold` panics).
    pub(crate) fn into_stream(self) -> LogStream {
        Box::pin(futures_util::StreamExt::fuse(self.pieces))
    }
}

impl fmt::Debug for LogBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogBody").finish_non_exhaustive()
    }
}

impl From<Bytes> for LogBody {
    fn from(bytes: Bytes) -> Self {
        LogBody::wrap_stream(futures_util::stream::iter([Ok(bytes)]))
    }
}

impl From<Vec<u8>> for LogBody {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl From<String> for LogBody {
    fn from(text: String) -> Self {
        Bytes::from(text).into()
    }
}

impl From<&'static str> for LogBody {
    fn from(text: &'static str) -> Self {
        Bytes::from_static(text.as_bytes()).into()
    }
}

/// Headers a backend adds to its successful answer (see
/// [`RequestContext::response_headers`]): shared by the clones of one request's
/// context, empty by default.
///
/// ```
/// use agent_server::ResponseHeaders;
///
/// let headers = ResponseHeaders::default();
/// headers.insert("x-agent-source", "archive");
/// headers.insert("bad name", "ignored");
/// assert_eq!(headers.get("X-Agent-Source").as_deref(), Some("archive"));
/// ```
#[derive(Clone, Default)]
pub struct ResponseHeaders(Arc<Mutex<Vec<(HeaderName, HeaderValue)>>>);

impl ResponseHeaders {
    /// Sets `name` to `value` on the answer (replacing an earlier value); an
    /// invalid name or value is ignored.
    pub fn insert(&self, name: &str, value: &str) {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return;
        };
        let mut all = self.lock();
        all.retain(|(n, _)| *n != name);
        all.push((name, value));
    }

    /// The value set for `name`, if any.
    pub fn get(&self, name: &str) -> Option<String> {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        self.lock()
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.to_str().ok().map(str::to_owned))
    }

    /// The headers set, for the serving layer.
    pub(crate) fn take(&self) -> Vec<(HeaderName, HeaderValue)> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(HeaderName, HeaderValue)>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.lock().iter().map(|(n, _)| n))
            .finish()
    }
}

/// What the serving layer knows about the caller, handed to every operation.
#[derive(Clone, Default)]
pub struct RequestContext {
    /// The `SYNAPSE-User: Token <x>` value, without `Token `.
    pub user_token: Option<Secret>,
    /// The `SYNAPSE-Tenant: Token <x>` value, without `Token `.
    pub tenant: Option<Secret>,
    /// The raw query string, if any (`page=2&page_size=10`; decode it with
    /// `agent_proto::query`). Nothing here says where the caller reached the
    /// server: links (`next`) are relative to the API's base
    /// (`agent_proto::query::page_link`), never built from a `Host` header.
    pub query: Option<String>,
    /// Headers the backend adds to its successful answer (e.g. where the answer
    /// came from: the gateway's `X-Agent-Source: archive`). The serving layer sets
    /// them on a JSON answer, a log answer, an HTTP tail's head and a WebSocket
    /// tail's upgrade answer; an error answer carries [`BackendError::headers`]
    /// instead.
    pub response_headers: ResponseHeaders,
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("user_token", &self.user_token)
            .field("tenant", &self.tenant)
            .field("query", &self.query)
            .field("response_headers", &self.response_headers)
            .finish()
    }
}

/// The agent operations. Each method answers one route of the spec's table; the
/// serving layer has already checked the token, validated every path segment and,
/// for POST bodies, checked the required fields.
///
/// Successful answers are JSON values (deletes answer `204 No Content`, creating a
/// release `201 Created`, everything else `200 OK`); failures are [`BackendError`]s,
/// answered as they are.
#[async_trait]
pub trait AgentBackend: Send + Sync + 'static {
    /// GET `health/`.
    async fn health(&self, ctx: &RequestContext) -> BackendResult<Value>;

    /// GET `jobs/`: an array of Ray job infos.
    async fn list_jobs(&self, ctx: &RequestContext) -> BackendResult<Value>;

    /// GET `jobs/{id}/`: one Ray job info.
    async fn get_job(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<Value>;

    /// GET `jobs/{id}/logs/` (no upgrade): the log so far, answered as one JSON
    /// string, streamed (see [`LogBody`]). An error here is answered before any
    /// byte (an unknown job is a plain 404).
    async fn job_logs(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<LogBody>;

    /// POST `jobs/{id}/stop/`: `{"stopped": bool}`.
    async fn stop_job(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<Value>;

    /// The events of a log tail over `protocol`. An error is answered before any
    /// upgrade (a WebSocket tail of an unknown job is a plain 404).
    async fn tail(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        protocol: TailProtocol,
    ) -> BackendResult<TailStream>;

    /// The events of a log tail over `protocol`, starting at `start` (`?from_line=`,
    /// `Last-Event-ID`, `?tail=`), and where they start ([`TailAt`]).
    ///
    /// The serving layer numbers the lines from [`TailAt::first_line`] and drops
    /// those before [`TailAt::from_line`], so a backend may start anywhere at or
    /// before the line asked for; one that can seek (an indexed log, the end of a
    /// file) starts right there, so that no skipped line is even read. The default
    /// replays [`AgentBackend::tail`] from line 1 (the lines before the start are
    /// dropped unsent) and finds where the last N lines start by counting the lines
    /// of [`AgentBackend::job_logs`].
    async fn tail_at(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        protocol: TailProtocol,
        start: LogStart,
    ) -> BackendResult<TailAt> {
        crate::lines::replayed_tail_at(self, ctx, job, protocol, start).await
    }

    /// GET `jobs/{id}/logs/?tail=N`: the last `n` lines of the log so far.
    ///
    /// The default counts the lines of [`AgentBackend::job_logs`], then reads it
    /// again and answers from the first of the last `n` (memory bounded, whatever
    /// the log's size); a backend that can read a log from its end overrides it.
    async fn job_logs_last(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        n: u64,
    ) -> BackendResult<LogBody> {
        let total = crate::lines::count_lines(self.job_logs(ctx, job).await?).await?;
        Ok(crate::lines::last_lines(
            self.job_logs(ctx, job).await?,
            total,
            n,
        ))
    }

    /// The backend's own metrics, appended to the server's at `/metrics`: lines of
    /// the OpenMetrics text format (`# HELP`, `# TYPE`, samples), each ending with
    /// `\n`, without the closing `# EOF` (the server writes it). Names should carry
    /// the backend's own prefix (the server's are `agent_server_*`). The default
    /// adds none.
    fn render_metrics(&self, out: &mut String) {
        let _ = out;
    }

    /// GET `nodes/`: an array of nodes.
    async fn list_nodes(&self, ctx: &RequestContext) -> BackendResult<Value>;

    /// GET `nodes/{id}/`.
    async fn get_node(&self, ctx: &RequestContext, node: &NodeId) -> BackendResult<Value>;

    /// GET `tasks/`: an array of tasks.
    async fn list_tasks(&self, ctx: &RequestContext) -> BackendResult<Value>;

    /// GET `tasks/{id}/`.
    async fn get_task(&self, ctx: &RequestContext, task: &TaskId) -> BackendResult<Value>;

    /// GET `serve_applications/`: an array of applications.
    async fn list_serve_applications(&self, ctx: &RequestContext) -> BackendResult<Value>;

    /// GET `serve_applications/{name}/`.
    async fn get_serve_application(
        &self,
        ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<Value>;

    /// DELETE `serve_applications/{name}/` (answered `204 No Content`).
    async fn delete_serve_application(
        &self,
        ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<()>;

    /// GET `plugin_releases/` (`ctx.query` passes through): a paginated list
    /// `{"count", "next", "previous", "results"}`.
    async fn list_plugin_releases(&self, ctx: &RequestContext) -> BackendResult<Value>;

    /// GET `plugin_releases/{lookup}/` (an id or `code@version`).
    async fn get_plugin_release(
        &self,
        ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<Value>;

    /// POST `plugin_releases/` with `{"plugin", "version", ...}` (both checked to be
    /// strings); answered `201 Created`.
    async fn create_plugin_release(
        &self,
        ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value>;

    /// DELETE `plugin_releases/{lookup}/` (answered `204 No Content`).
    async fn delete_plugin_release(
        &self,
        ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<()>;

    /// POST `plugin_releases/{lookup}/run/` with `{"action", ...}` (`action` checked to
    /// be a string): any JSON, usually `{"job_id": ...}`.
    async fn run_plugin_release(
        &self,
        ctx: &RequestContext,
        lookup: &PluginLookup,
        body: Value,
    ) -> BackendResult<Value>;

    /// POST `plugin_releases/run_debug/` with `{"action", ...}` (`action` checked).
    async fn run_debug_plugin_release(
        &self,
        ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value>;

    /// GET `gpu_status/`.
    async fn gpu_status(&self, ctx: &RequestContext) -> BackendResult<Value>;

    // The SDK's other operations. Each has a default: a 501 naming the feature
    // (BackendError::not_implemented), for a backend that cannot offer it.

    /// GET `resources/cluster/` (`ctx.query` may hold `use_cache=true|false`): a
    /// snapshot of the cluster's resources (`agent_proto::ClusterResources`).
    async fn cluster_resources(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let _ = ctx;
        Err(BackendError::not_implemented(
            OperationId::GetClusterResources,
        ))
    }

    /// POST `resources/feasibility/` with `{"kind", "num_cpus", ...}` (`kind` checked
    /// to be a string): would it be admitted (`agent_proto::Feasibility`)?
    async fn check_feasibility(&self, ctx: &RequestContext, body: Value) -> BackendResult<Value> {
        let _ = (ctx, body);
        Err(BackendError::not_implemented(OperationId::CheckFeasibility))
    }

    /// GET `resources/policy/`: the agent's policy.
    async fn get_policy(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let _ = ctx;
        Err(BackendError::not_implemented(OperationId::GetPolicy))
    }

    /// PATCH `resources/policy/` with a JSON object (checked) to merge: the policy after.
    async fn update_policy(&self, ctx: &RequestContext, patch: Value) -> BackendResult<Value> {
        let _ = (ctx, patch);
        Err(BackendError::not_implemented(OperationId::UpdatePolicy))
    }

    /// GET `system/compose-config/`.
    async fn compose_config(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let _ = ctx;
        Err(BackendError::not_implemented(OperationId::GetComposeConfig))
    }

    /// GET `system/status/`.
    async fn system_status(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let _ = ctx;
        Err(BackendError::not_implemented(OperationId::GetSystemStatus))
    }

    /// POST `system/update/` with `{"api_tag"?, "worker_tag"?}` (an empty body is `{}`).
    async fn update_system(&self, ctx: &RequestContext, body: Value) -> BackendResult<Value> {
        let _ = (ctx, body);
        Err(BackendError::not_implemented(OperationId::UpdateSystem))
    }

    /// POST `system/restart/`.
    async fn restart_system(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let _ = ctx;
        Err(BackendError::not_implemented(OperationId::RestartSystem))
    }

    /// GET `builds/{build_id}/`.
    async fn build_status(&self, ctx: &RequestContext, build: &BuildId) -> BackendResult<Value> {
        let _ = (ctx, build);
        Err(BackendError::not_implemented(OperationId::GetBuildStatus))
    }

    /// GET `containers/docker/`: an array of Docker containers.
    async fn list_docker_containers(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let _ = ctx;
        Err(BackendError::not_implemented(
            OperationId::ListDockerContainers,
        ))
    }

    /// POST `containers/docker/` with `{"plugin_release", ...}` (checked); answered
    /// `201 Created`.
    async fn create_docker_container(
        &self,
        ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value> {
        let _ = (ctx, body);
        Err(BackendError::not_implemented(
            OperationId::CreateDockerContainer,
        ))
    }

    /// GET `containers/docker/{container_id}`.
    async fn get_docker_container(
        &self,
        ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<Value> {
        let _ = (ctx, container);
        Err(BackendError::not_implemented(
            OperationId::GetDockerContainer,
        ))
    }

    /// DELETE `containers/docker/{container_id}` (answered `204 No Content`).
    async fn delete_docker_container(
        &self,
        ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<()> {
        let _ = (ctx, container);
        Err(BackendError::not_implemented(
            OperationId::DeleteDockerContainer,
        ))
    }

    /// POST `containers/docker/{container_id}/start/`: the container after.
    async fn start_docker_container(
        &self,
        ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<Value> {
        let _ = (ctx, container);
        Err(BackendError::not_implemented(
            OperationId::StartDockerContainer,
        ))
    }

    /// POST `containers/docker/{container_id}/stop/`: the container after.
    async fn stop_docker_container(
        &self,
        ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<Value> {
        let _ = (ctx, container);
        Err(BackendError::not_implemented(
            OperationId::StopDockerContainer,
        ))
    }

    /// GET `containers/` (`ctx.query` passes through): a paginated list.
    async fn list_containers(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let _ = ctx;
        Err(BackendError::not_implemented(OperationId::ListContainers))
    }

    /// POST `containers/`: the fields as a JSON object (from a JSON body, or the
    /// text fields of a multipart/form-data body), and the uploaded plugin file if
    /// any. At least one of `plugin_release` and the file is checked to be there.
    /// Answered `201 Created`.
    async fn create_container(
        &self,
        ctx: &RequestContext,
        fields: Value,
        file: Option<UploadedFile>,
    ) -> BackendResult<Value> {
        let _ = (ctx, fields, file);
        Err(BackendError::not_implemented(OperationId::CreateContainer))
    }

    /// GET `containers/{container_id}`.
    async fn get_container(
        &self,
        ctx: &RequestContext,
        container: &ContainerId,
    ) -> BackendResult<Value> {
        let _ = (ctx, container);
        Err(BackendError::not_implemented(OperationId::GetContainer))
    }

    /// PATCH `containers/{container_id}` with a JSON object (checked).
    async fn update_container(
        &self,
        ctx: &RequestContext,
        container: &ContainerId,
        body: Value,
    ) -> BackendResult<Value> {
        let _ = (ctx, container, body);
        Err(BackendError::not_implemented(OperationId::UpdateContainer))
    }

    /// DELETE `containers/{container_id}` (answered `204 No Content`).
    async fn delete_container(
        &self,
        ctx: &RequestContext,
        container: &ContainerId,
    ) -> BackendResult<()> {
        let _ = (ctx, container);
        Err(BackendError::not_implemented(OperationId::DeleteContainer))
    }
}
