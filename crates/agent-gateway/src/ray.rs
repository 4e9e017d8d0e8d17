//! A small client of the Ray dashboard's REST API: the Jobs API (`/api/jobs/...`),
//! the State API (`/api/v0/...`), Serve (`/api/serve/applications/`) and the
//! version and health endpoints, over any [`Transport`] (the default one is
//! `agent-transport`'s HTTP/WebSocket transport, with TLS for an `https://` Ray).

use crate::mapping::{checked, ray_error, unwrap_state_envelope, RayValue};
use crate::GatewayError;
use agent_proto::{ClientError, Job, JobId, Secret, StopJobResponse};
use agent_transport::{BodyStream, Request, Response, Transport, WsOptions, WsStream};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Ray dashboard, at one address.
///
/// Every failure is a [`GatewayError`] with the agent API's code: Ray's 404 is
/// a 404 with Ray's message (`Job nope does not exist`), an unreachable dashboard
/// is a 503, and a Ray stack trace is cut down to its last line.
///
/// Requests to Ray are not retried here: the agent's callers retry a 503 (one layer
/// of retries, not two). Once Ray is found unreachable, a short circuit breaker
/// answers 503 at once for [`BREAKER_OPEN`] instead of trying again, so a caller's
/// retries cost no connection attempt each. Callers never see the dashboard's
/// address; the gateway's own log has it.
#[derive(Clone)]
pub struct RayClient {
    transport: Arc<dyn Transport>,
    address: Arc<str>,
    breaker: Arc<Breaker>,
    /// `Authorization: Bearer <token>` for a dashboard with token auth (marked
    /// sensitive: no `Debug` print shows it).
    auth: Option<HeaderValue>,
    /// Which headers carry `auth`.
    token_header: RayTokenHeader,
}

/// Where a job's driver log can be read from.
pub enum DriverLog {
    /// The log file's bytes, streamed by Ray's log-file API.
    Stream(Box<dyn BodyStream>),
    /// The log-file API cannot serve it (no driver node yet, or a Ray without the
    /// API); the reason, for the gateway's log.
    Unavailable(String),
}

impl fmt::Debug for DriverLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverLog::Stream(_) => f.write_str("DriverLog::Stream"),
            DriverLog::Unavailable(why) => {
                f.debug_tuple("DriverLog::Unavailable").field(why).finish()
            }
        }
    }
}

/// How long the gateway answers 503 at once after finding Ray unreachable, before
/// it tries Ray again (longer than a client's three quick retries, short enough
/// that a Ray back up is seen within a second).
pub const BREAKER_OPEN: Duration = Duration::from_secs(1);

/// The circuit breaker: open (answer at once) until an instant, after Ray could
/// not be reached; it keeps the last failure in words for the gateway's own
/// messages.
#[derive(Debug)]
struct Breaker {
    /// How long it stays open after a failure.
    window: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    open_until: Option<Instant>,
    last_failure: Option<String>,
}

impl Breaker {
    fn state(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        // A panic while holding it cannot leave the state half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while open.
    fn is_open(&self) -> bool {
        self.state()
            .open_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Opens it for its window; true when it was not open already (the first
    /// failure of a run of them: the one to log).
    fn trip(&self, failure: String) -> bool {
        let mut state = self.state();
        let was_open = state.open_until.is_some_and(|until| Instant::now() < until);
        state.open_until = Some(Instant::now() + self.window);
        state.last_failure = Some(failure);
        !was_open
    }

    /// Closes it (Ray answered); true when it had been tripped.
    fn reset(&self) -> bool {
        let mut state = self.state();
        state.last_failure = None;
        state.open_until.take().is_some()
    }
}

/// The 503 a caller gets while Ray is unreachable: the kind of failure, never the
/// dashboard's address (which must stay private; the gateway's log has it).
fn unreachable_for_callers(reason: &str) -> GatewayError {
    GatewayError::Unavailable {
        message: format!(
            "the Ray dashboard is unreachable ({reason}); the gateway's log has the details"
        ),
    }
}

/// A transport failure in words that name no host or address.
fn failure_kind(err: &ClientError) -> &'static str {
    let text = err.to_string().to_ascii_lowercase();
    if text.contains("certificate") {
        "its TLS certificate was refused"
    } else if err.is_timeout() {
        "it did not answer in time"
    } else if text.contains("tls") {
        "the TLS handshake failed"
    } else {
        "the connection failed"
    }
}

/// The most bytes of an error answer read for its message.
const MAX_ERROR_BODY: usize = 64 * 1024;

impl fmt::Debug for RayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RayClient")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// How many items a State API list asks for (Ray's own default is 100).
pub const STATE_API_LIMIT: u32 = 10_000;

/// The header Ray's dashboard reads the token from when a proxy in front of it
/// consumes `Authorization` (Ray reads `Authorization` first, then this one).
pub const X_RAY_AUTHORIZATION: &str = "x-ray-authorization";

/// Which headers carry the Ray token (`--ray-token-header`), each as
/// `Bearer <token>`: Ray's dashboard reads `Authorization` and, when there is none,
/// `X-Ray-Authorization`, the one KubeRay's dashboard client sends so that a proxy
/// in front of the dashboard may consume `Authorization` for itself.
///
/// ```
/// use agent_gateway::ray::RayTokenHeader;
///
/// let h: RayTokenHeader = "x-ray-authorization".parse()?;
/// assert_eq!(h, RayTokenHeader::XRayAuthorization);
/// assert_eq!(RayTokenHeader::default().to_string(), "authorization");
/// assert_eq!("both".parse::<RayTokenHeader>()?.names().len(), 2);
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RayTokenHeader {
    /// `Authorization` only (Ray's own clients; the default).
    #[default]
    Authorization,
    /// `X-Ray-Authorization` only (KubeRay's dashboard client).
    XRayAuthorization,
    /// Both, for a dashboard reached directly or through such a proxy.
    Both,
}

impl RayTokenHeader {
    /// The header names it sends.
    pub fn names(self) -> Vec<HeaderName> {
        let x_ray = HeaderName::from_static(X_RAY_AUTHORIZATION);
        match self {
            RayTokenHeader::Authorization => vec![AUTHORIZATION],
            RayTokenHeader::XRayAuthorization => vec![x_ray],
            RayTokenHeader::Both => vec![AUTHORIZATION, x_ray],
        }
    }
}

impl std::str::FromStr for RayTokenHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "authorization" => Ok(RayTokenHeader::Authorization),
            "x-ray-authorization" => Ok(RayTokenHeader::XRayAuthorization),
            "both" => Ok(RayTokenHeader::Both),
            _ => Err("expected authorization, x-ray-authorization or both".into()),
        }
    }
}

impl fmt::Display for RayTokenHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RayTokenHeader::Authorization => "authorization",
            RayTokenHeader::XRayAuthorization => "x-ray-authorization",
            RayTokenHeader::Both => "both",
        })
    }
}

impl RayClient {
    /// A client of the dashboard at `address` (for messages), reached through
    /// `transport` (whose base URL is that address).
    pub fn new(transport: Arc<dyn Transport>, address: impl Into<String>) -> Self {
        let address: String = address.into();
        RayClient {
            transport,
            address: address.trim_end_matches('/').into(),
            breaker: Arc::new(Breaker {
                window: BREAKER_OPEN,
                state: Mutex::default(),
            }),
            auth: None,
            token_header: RayTokenHeader::default(),
        }
    }

    /// Answers 503 at once for `open` after Ray was found unreachable (default
    /// [`BREAKER_OPEN`]; zero turns the breaker off).
    pub fn with_breaker_window(mut self, open: Duration) -> Self {
        self.breaker = Arc::new(Breaker {
            window: open,
            state: Mutex::default(),
        });
        self
    }

    /// Sends `Authorization: Bearer <token>` with every request (a dashboard
    /// started with `RAY_AUTH_MODE=token`).
    pub fn with_token(mut self, token: &Secret) -> Result<Self, GatewayError> {
        let mut value =
            HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
                GatewayError::InvalidInput {
                    what: "Ray token",
                    reason: "it holds characters a header cannot carry".into(),
                }
            })?;
        value.set_sensitive(true);
        self.auth = Some(value);
        Ok(self)
    }

    /// Sends the token in `header` (default `Authorization`) instead; see
    /// [`RayTokenHeader`].
    pub fn with_token_header(mut self, header: RayTokenHeader) -> Self {
        self.token_header = header;
        self
    }

    fn request(&self, method: Method, path: impl Into<String>) -> Request {
        let mut request = Request::new(method, path);
        if let Some(auth) = &self.auth {
            for name in self.token_header.names() {
                // the clone keeps the value marked sensitive
                request.headers.insert(name, auth.clone());
            }
        }
        request
    }

    /// The dashboard's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Why Ray could not be reached the last time, in the transport's words (with
    /// its address: for the gateway's own log, never for callers); `None` once Ray
    /// answered again.
    pub fn last_failure(&self) -> Option<String> {
        self.breaker.state().last_failure.clone()
    }

    /// Before a request to Ray: a 503 at once while the breaker is open.
    fn short_circuit(&self) -> Result<(), GatewayError> {
        if self.breaker.is_open() {
            return Err(unreachable_for_callers("it was unreachable moments ago"));
        }
        Ok(())
    }

    /// After a request that reached Ray: closes the breaker.
    fn reached(&self) {
        if self.breaker.reset() {
            tracing::info!(target: "agent_gateway::ray", ray = %self.address, "Ray answers again");
        }
    }

    /// A transport failure of `method path` as the caller sees it: an unreachable
    /// Ray (a connect error or time-out, or an answer that never came) trips the
    /// breaker and becomes a 503 without Ray's address; the address and the reason go
    /// to the gateway's log, with the request they belong to.
    fn unreachable(&self, method: &Method, path: &str, err: ClientError) -> GatewayError {
        let route = path.split('?').next().unwrap_or_default();
        let down = |err: &ClientError| {
            // The transport's words (a ClientError's Display would call Ray "the agent").
            let failure = err.message().map_or_else(|| err.to_string(), str::to_owned);
            if self.breaker.trip(failure.clone()) {
                tracing::warn!(
                    target: "agent_gateway::ray",
                    ray = %self.address,
                    request = %format_args!("{method} /{route}"),
                    error = %failure,
                    "Ray is unreachable; answering 503 at once for {}",
                    format_args!("{:?}", self.breaker.window)
                );
            }
            unreachable_for_callers(failure_kind(err))
        };
        match err {
            ClientError::Connect { .. }
            | ClientError::Timeout {
                kind: agent_proto::TimeoutKind::Connect,
                ..
            } => down(&err),
            ClientError::ResponseIncomplete { cause, .. } => match *cause {
                ClientError::Timeout { kind, after } => GatewayError::Timeout { kind, after },
                other => {
                    tracing::warn!(
                        target: "agent_gateway::ray",
                        ray = %self.address,
                        request = %format_args!("{method} /{route}"),
                        error = %other.message().map_or_else(|| other.to_string(), str::to_owned),
                        "Ray did not answer"
                    );
                    GatewayError::Unavailable {
                        message:
                            "the Ray dashboard did not answer; the gateway's log has the details"
                                .into(),
                    }
                }
            },
            other => GatewayError::Client(other),
        }
    }

    async fn send(&self, request: Request) -> Result<Response, GatewayError> {
        self.short_circuit()?;
        let (method, path) = (request.method.clone(), request.path.clone());
        let response = self
            .transport
            .request(request)
            .await
            .map_err(|e| self.unreachable(&method, &path, e))?;
        self.reached();
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(ray_error(response.status, &response.body))
        }
    }

    async fn get_bytes(&self, path: &str) -> Result<Bytes, GatewayError> {
        Ok(self.send(self.request(Method::GET, path)).await?.body)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, GatewayError> {
        let body = self.get_bytes(path).await?;
        decode(&body, path)
    }

    async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Bytes, GatewayError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request.body =
                Bytes::from(serde_json::to_vec(body).map_err(|e| GatewayError::Decode {
                    message: format!("could not encode a request to Ray: {e}"),
                })?);
            request
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(self.send(request).await?.body)
    }

    /// GET `/api/version`: `{"version", "ray_version", "ray_commit", "session_name"}`.
    pub async fn version(&self) -> Result<Value, GatewayError> {
        self.get_json("api/version").await
    }

    /// GET `/api/gcs_healthz`: true when Ray's GCS answers.
    pub async fn gcs_healthy(&self) -> Result<bool, GatewayError> {
        let body = self.get_bytes("api/gcs_healthz").await?;
        Ok(body.as_ref().trim_ascii() == b"success")
    }

    /// GET `/api/cluster_status`: the autoscaler's view, with resource usage.
    pub async fn cluster_status(&self) -> Result<Value, GatewayError> {
        self.get_json("api/cluster_status").await
    }

    /// GET `/api/jobs/`: every job Ray knows.
    pub async fn list_jobs(&self) -> Result<Value, GatewayError> {
        self.get_json("api/jobs/").await
    }

    /// GET `/api/jobs/{id}` (a submission id or a driver job id), as Ray's JSON.
    pub async fn get_job_value(&self, id: &JobId) -> Result<Value, GatewayError> {
        self.get_json(&format!("api/jobs/{id}")).await
    }

    /// GET `/api/jobs/{id}`, typed.
    pub async fn get_job(&self, id: &JobId) -> Result<Job, GatewayError> {
        self.get_json(&format!("api/jobs/{id}")).await
    }

    /// GET `/api/jobs/{id}/logs`: the whole log so far.
    pub async fn job_logs(&self, id: &JobId) -> Result<String, GatewayError> {
        #[derive(serde::Deserialize)]
        struct Logs {
            #[serde(default)]
            logs: String,
        }
        let logs: Logs = self.get_json(&format!("api/jobs/{id}/logs")).await?;
        Ok(logs.logs)
    }

    /// GET `/api/v0/logs/file?node_id=...&filename=job-driver-{submission_id}.log`:
    /// the driver's log file as Ray streams it (raw bytes, whatever the log's size or
    /// encoding). `driver_node_id` is the job's (`None` before its driver started).
    ///
    /// The Jobs API's `/api/jobs/{id}/logs` holds the whole log in one JSON string
    /// and answers 500 when the log is not UTF-8; this answer is neither.
    ///
    /// Both ids come from Ray's answer: one that breaks the id rules is a 502
    /// ([`crate::mapping::checked`]), never part of the URL.
    pub async fn driver_log(
        &self,
        submission_id: &str,
        driver_node_id: Option<&str>,
    ) -> Result<DriverLog, GatewayError> {
        self.driver_log_last(submission_id, driver_node_id, None)
            .await
    }

    /// [`RayClient::driver_log`], only its last `lines` lines when given: Ray's
    /// log-file API reads them from the end of the file (`lines=N`), so the last
    /// lines of a log of any size cost what they hold; `None` is the whole file
    /// (`lines=-1`).
    pub async fn driver_log_last(
        &self,
        submission_id: &str,
        driver_node_id: Option<&str>,
        lines: Option<u64>,
    ) -> Result<DriverLog, GatewayError> {
        self.driver_log_file(submission_id, driver_node_id, None, lines)
            .await
    }

    /// [`RayClient::driver_log_last`] of the active file (`backup` `None`) or of its
    /// `backup`-th rotated copy (`job-driver-{submission_id}.log.{backup}`, 1 the
    /// newest; see [`RayClient::driver_log_backups`]).
    pub async fn driver_log_file(
        &self,
        submission_id: &str,
        driver_node_id: Option<&str>,
        backup: Option<u32>,
        lines: Option<u64>,
    ) -> Result<DriverLog, GatewayError> {
        let Some(node) = driver_node_id.filter(|n| !n.is_empty()) else {
            return Ok(DriverLog::Unavailable(
                "the job has no driver node (its driver never started)".into(),
            ));
        };
        // Both come from Ray's answer: checked before they go into the URL.
        let node = checked(RayValue::NodeId, node)?;
        let submission_id = checked(RayValue::SubmissionId, submission_id)?;
        let name = match backup {
            Some(k) => format!("{}.{k}", driver_log_name(submission_id)),
            None => driver_log_name(submission_id),
        };
        let path = format!(
            "api/v0/logs/file?node_id={node}&filename={}&lines={}",
            query_escape(&name),
            lines.map_or_else(|| "-1".to_owned(), |n| n.to_string())
        );
        self.short_circuit()?;
        let mut response = self
            .transport
            .stream(self.request(Method::GET, path.as_str()))
            .await
            .map_err(|e| self.unreachable(&Method::GET, &path, e))?;
        self.reached();
        if (200..300).contains(&response.status) {
            return Ok(DriverLog::Stream(response.body));
        }
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY {
            match response.body.next_chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(MAX_ERROR_BODY);
        match response.status {
            // No such API (an older Ray, or a proxy in front of only the Jobs API).
            404 | 405 | 501 => Ok(DriverLog::Unavailable(format!(
                "Ray's log-file API answered {}: {}",
                response.status,
                crate::mapping::client_error_message(&ray_error(response.status, &body))
            ))),
            status => Err(ray_error(status, &body)),
        }
    }

    /// GET `/api/v0/logs?node_id=...&glob=job-driver-{submission_id}.log.*`: the
    /// numbers of the job's rotated driver logs on its driver node, oldest (the
    /// highest number) first. A rotation (ray PR #65006) copies the active file to
    /// `.1`, the older copies one number up (up to a backup count, the oldest
    /// deleted), then truncates the active file.
    ///
    /// Ray 2.60 answers the listing in the State API's envelope, the names sorted
    /// into categories (a driver log is `internal`), in no order, every name the
    /// glob matches (`.log.old` too): only `.log.N` names count (see
    /// [`backup_numbers`]). `None`: the listing is unavailable (an older Ray, a
    /// proxy in front of the Jobs API only), so no backup is known.
    pub async fn driver_log_backups(
        &self,
        submission_id: &str,
        driver_node_id: &str,
    ) -> Result<Option<Vec<u32>>, GatewayError> {
        let node = checked(RayValue::NodeId, driver_node_id)?;
        let submission_id = checked(RayValue::SubmissionId, submission_id)?;
        let name = driver_log_name(submission_id);
        let path = format!(
            "api/v0/logs?node_id={node}&glob={}",
            query_escape(&format!("{name}.*"))
        );
        match self.get_bytes(&path).await {
            Ok(body) => backup_numbers(&body, &name).map(Some),
            Err(e) if matches!(e.status_code(), 404 | 405 | 501) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// POST `/api/jobs/{id}/stop`: `{"stopped": bool}`.
    pub async fn stop_job(&self, id: &JobId) -> Result<StopJobResponse, GatewayError> {
        let path = format!("api/jobs/{id}/stop");
        let body = self.send_json(Method::POST, &path, None).await?;
        decode(&body, &path)
    }

    /// POST `/api/jobs/` with a submission body (`entrypoint`, `submission_id`,
    /// `runtime_env`, `metadata`, ...): `{"job_id", "submission_id"}`.
    pub async fn submit_job(&self, body: &Value) -> Result<Value, GatewayError> {
        let bytes = self
            .send_json(Method::POST, "api/jobs/", Some(body))
            .await?;
        decode(&bytes, "api/jobs/")
    }

    /// Opens `/api/jobs/{id}/logs/tail`, Ray's log tail WebSocket (no compression is
    /// offered: Ray 2.60's tail closes at once, sending nothing, when a client
    /// negotiates permessage-deflate).
    pub async fn tail_socket(
        &self,
        id: &JobId,
        max_frame: usize,
    ) -> Result<Box<dyn WsStream>, GatewayError> {
        self.short_circuit()?;
        let path = format!("api/jobs/{id}/logs/tail");
        let request = self.request(Method::GET, path.as_str());
        let options = WsOptions {
            max_message_size: max_frame,
            ping_interval: Duration::from_secs(20),
        };
        let socket = self
            .transport
            .websocket(request, options)
            .await
            .map_err(|e| {
                scrub_ray_error(e).unwrap_or_else(|e| self.unreachable(&Method::GET, &path, e))
            })?;
        self.reached();
        Ok(socket)
    }

    /// GET `/api/v0/nodes`: the State API's nodes, unwrapped from its envelope.
    pub async fn nodes(&self) -> Result<Vec<Value>, GatewayError> {
        let body = self
            .get_bytes(&format!("api/v0/nodes?limit={STATE_API_LIMIT}&detail=true"))
            .await?;
        unwrap_state_envelope(&body)
    }

    /// GET `/api/v0/tasks`, of one driver job (hex id) when `job_id` is given.
    pub async fn tasks(&self, job_id: Option<&str>) -> Result<Vec<Value>, GatewayError> {
        let mut path = format!("api/v0/tasks?limit={STATE_API_LIMIT}");
        if let Some(j) = job_id {
            // A driver job id comes from Ray's answer: checked before it goes into
            // the URL, where it would otherwise add filters of its own.
            path.push_str("&filter_keys=job_id&filter_predicates=%3D&filter_values=");
            path.push_str(checked(RayValue::DriverJobId, j)?);
        }
        let body = self.get_bytes(&path).await?;
        unwrap_state_envelope(&body)
    }

    /// GET `/api/v0/tasks` filtered on one task id.
    pub async fn task(&self, task_id: &str) -> Result<Vec<Value>, GatewayError> {
        let path = format!(
            "api/v0/tasks?limit={STATE_API_LIMIT}&detail=true&filter_keys=task_id&filter_predicates=%3D&filter_values={task_id}"
        );
        let body = self.get_bytes(&path).await?;
        unwrap_state_envelope(&body)
    }

    /// GET `/api/serve/applications/`: Serve's whole status (`applications` by name,
    /// `http_options`, `proxy_location`, ...).
    pub async fn serve_status(&self) -> Result<Value, GatewayError> {
        self.get_json("api/serve/applications/").await
    }

    /// PUT `/api/serve/applications/`: deploys a whole declarative config (apps not
    /// in it are removed).
    pub async fn put_serve_config(&self, config: &Value) -> Result<(), GatewayError> {
        self.send_json(Method::PUT, "api/serve/applications/", Some(config))
            .await
            .map(drop)
    }

    /// DELETE `/api/serve/applications/`: shuts Serve down, every app with it.
    pub async fn delete_all_serve_applications(&self) -> Result<(), GatewayError> {
        self.send_json(Method::DELETE, "api/serve/applications/", None)
            .await
            .map(drop)
    }
}

// A value in a URL to Ray is encoded as every query is (agent_proto's one rule).
use agent_proto::query::encode_component as query_escape;

/// The active driver log file of a job: `job-driver-{submission_id}.log`.
fn driver_log_name(submission_id: &str) -> String {
    format!("job-driver-{submission_id}.log")
}

/// The backup numbers `N` of the names `{name}.N` in Ray's log listing (every
/// category's list; any other name is left out), highest (oldest) first.
///
/// ```
/// use agent_gateway::ray::backup_numbers;
///
/// // as Ray 2.60 answered `glob=job-driver-raysubmit_a.log.*`
/// let body = br#"{"result": true, "msg": "", "data": {"result": {"internal": [
///     "job-driver-raysubmit_a.log.2", "job-driver-raysubmit_a.log.10",
///     "job-driver-raysubmit_a.log.old", "job-driver-raysubmit_a.log.1"]}}}"#;
/// assert_eq!(backup_numbers(body, "job-driver-raysubmit_a.log")?, [10, 2, 1]);
/// # Ok::<(), agent_gateway::GatewayError>(())
/// ```
pub fn backup_numbers(body: &[u8], name: &str) -> Result<Vec<u32>, GatewayError> {
    let json: Value = serde_json::from_slice(body).map_err(|e| GatewayError::Decode {
        message: format!("Ray's log listing is not JSON: {e}"),
    })?;
    if json.get("result") == Some(&Value::Bool(false)) {
        return Err(GatewayError::Server {
            status: 502,
            message: "Ray's log listing was refused".into(),
        });
    }
    let Some(categories) = json.pointer("/data/result").and_then(Value::as_object) else {
        return Err(GatewayError::Decode {
            message: "Ray's log listing has no data.result object".into(),
        });
    };
    let mut numbers: Vec<u32> = categories
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|file| file.strip_prefix(name)?.strip_prefix('.'))
        // `N` as a rotation writes it: digits, no sign, no leading zero
        .filter(|n| !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    numbers.dedup();
    Ok(numbers)
}

/// A refused WebSocket upgrade carries Ray's body: Ray's answer, its stack trace cut
/// too; any other failure of the upgrade is given back.
fn scrub_ray_error(err: ClientError) -> Result<GatewayError, ClientError> {
    let status = err.status_code();
    match &err {
        ClientError::NotFound { message }
        | ClientError::BadRequest { message }
        | ClientError::Server { message, .. }
        | ClientError::UnexpectedStatus { message, .. } => {
            Ok(ray_error(status, message.as_bytes()))
        }
        _ => Err(err),
    }
}

fn decode<T: DeserializeOwned>(body: &[u8], path: &str) -> Result<T, GatewayError> {
    serde_json::from_slice(body).map_err(|e| GatewayError::Decode {
        message: format!("Ray's answer to /{path} is not what was expected: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_transport::{HttpTransport, StreamingResponse};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The real HTTP transport, counting what reaches it.
    #[derive(Debug)]
    struct Counting {
        inner: HttpTransport,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Transport for Counting {
        async fn request(&self, request: Request) -> Result<Response, ClientError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.request(request).await
        }
        async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.stream(request).await
        }
        async fn websocket(
            &self,
            request: Request,
            options: WsOptions,
        ) -> Result<Box<dyn WsStream>, ClientError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.websocket(request, options).await
        }
    }

    /// A Ray that is down is tried once; the calls that follow within
    /// [`BREAKER_OPEN`] (a client's retries) are answered 503 at once, and no
    /// answer shows the dashboard's address.
    #[tokio::test]
    async fn a_ray_that_is_down_is_tried_once_and_its_address_stays_private() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let address = format!("http://{addr}");
        let counting = Arc::new(Counting {
            inner: HttpTransport::builder(format!("{address}/"))
                .build()
                .unwrap(),
            calls: AtomicUsize::new(0),
        });
        // A window no test run outlasts: the count does not depend on timing.
        let ray = RayClient::new(counting.clone(), address.clone())
            .with_breaker_window(Duration::from_secs(3600));
        let id = JobId::new("raysubmit_x").unwrap();
        let mut errors = vec![
            ray.list_jobs().await.unwrap_err(),
            ray.list_jobs().await.unwrap_err(),
            ray.get_job(&id).await.unwrap_err(),
            ray.nodes().await.unwrap_err(),
        ];
        errors.push(ray.tail_socket(&id, 4096).await.err().unwrap());
        errors.push(
            ray.driver_log("raysubmit_x", Some("ab12"))
                .await
                .unwrap_err(),
        );
        assert_eq!(counting.calls.load(Ordering::SeqCst), 1, "{errors:?}");
        for e in &errors {
            assert_eq!(e.status_code(), 503, "{e}");
            let text = e.to_string();
            assert!(text.contains("unreachable"), "{text}");
            assert!(!text.contains(&addr.port().to_string()), "{text}");
            assert!(!text.contains("127.0.0.1"), "{text}");
        }
        // The gateway's own messages have the reason, with the address.
        let why = ray.last_failure().expect("a failure");
        assert!(why.contains(&addr.to_string()), "{why}");
    }
}
