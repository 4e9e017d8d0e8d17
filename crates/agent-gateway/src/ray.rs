//! A small client of the Ray dashboard's REST API: the Jobs API (`/api/jobs/...`),
//! the State API (`/api/v0/...`), Serve (`/api/serve/applications/`) and the
//! version and health endpoints, over any [`Transport`] (the default one is
//! `agent-transport`'s HTTP/WebSocket transport, with TLS for an `https://` Ray).

use crate::mapping::{checked, ray_error, unwrap_state_envelope, RayValue};
use agent_proto::{ClientError, Job, JobId, Secret, StopJobResponse};
use agent_transport::{BodyStream, Request, Response, Transport, WsOptions, WsStream};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The Ray dashboard, at one address.
///
/// Every failure is a [`ClientError`] with the agent protocol's code: Ray's 404 is
/// a 404 with Ray's message (`Job nope does not exist`), an unreachable dashboard
/// is a 503, and a Ray stack trace is cut down to its last line.
#[derive(Clone)]
pub struct RayClient {
    transport: Arc<dyn Transport>,
    address: Arc<str>,
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
            auth: None,
            token_header: RayTokenHeader::default(),
        }
    }

    /// Sends `Authorization: Bearer <token>` with every request (a dashboard
    /// started with `RAY_AUTH_MODE=token`).
    pub fn with_token(mut self, token: &Secret) -> Result<Self, ClientError> {
        let mut value =
            HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
                ClientError::InvalidInput {
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

    fn unreachable(&self, err: ClientError) -> ClientError {
        match err {
            ClientError::Connect { message, .. } => ClientError::Unavailable {
                retry_after: None,
                message: format!(
                    "the Ray dashboard at {} is unreachable: {message}",
                    self.address
                ),
            },
            ClientError::ResponseIncomplete { cause, .. } => match *cause {
                ClientError::Timeout { kind, after } => ClientError::Timeout { kind, after },
                other => ClientError::Unavailable {
                    retry_after: None,
                    message: format!(
                        "the Ray dashboard at {} did not answer: {}",
                        self.address,
                        crate::mapping::client_error_message(&other)
                    ),
                },
            },
            other => other,
        }
    }

    async fn send(&self, request: Request) -> Result<Response, ClientError> {
        let response = self
            .transport
            .request(request)
            .await
            .map_err(|e| self.unreachable(e))?;
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(ray_error(response.status, &response.body))
        }
    }

    async fn get_bytes(&self, path: &str) -> Result<Bytes, ClientError> {
        Ok(self.send(self.request(Method::GET, path)).await?.body)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let body = self.get_bytes(path).await?;
        decode(&body, path)
    }

    async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Bytes, ClientError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request.body =
                Bytes::from(serde_json::to_vec(body).map_err(|e| ClientError::Decode {
                    message: format!("could not encode a request to Ray: {e}"),
                })?);
            request
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(self.send(request).await?.body)
    }

    /// GET `/api/version`: `{"version", "ray_version", "ray_commit", "session_name"}`.
    pub async fn version(&self) -> Result<Value, ClientError> {
        self.get_json("api/version").await
    }

    /// GET `/api/gcs_healthz`: true when Ray's GCS answers.
    pub async fn gcs_healthy(&self) -> Result<bool, ClientError> {
        let body = self.get_bytes("api/gcs_healthz").await?;
        Ok(body.as_ref().trim_ascii() == b"success")
    }

    /// GET `/api/cluster_status`: the autoscaler's view, with resource usage.
    pub async fn cluster_status(&self) -> Result<Value, ClientError> {
        self.get_json("api/cluster_status").await
    }

    /// GET `/api/jobs/`: every job Ray knows.
    pub async fn list_jobs(&self) -> Result<Value, ClientError> {
        self.get_json("api/jobs/").await
    }

    /// GET `/api/jobs/{id}` (a submission id or a driver job id), as Ray's JSON.
    pub async fn get_job_value(&self, id: &JobId) -> Result<Value, ClientError> {
        self.get_json(&format!("api/jobs/{id}")).await
    }

    /// GET `/api/jobs/{id}`, typed.
    pub async fn get_job(&self, id: &JobId) -> Result<Job, ClientError> {
        self.get_json(&format!("api/jobs/{id}")).await
    }

    /// GET `/api/jobs/{id}/logs`: the whole log so far.
    pub async fn job_logs(&self, id: &JobId) -> Result<String, ClientError> {
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
    ) -> Result<DriverLog, ClientError> {
        let Some(node) = driver_node_id.filter(|n| !n.is_empty()) else {
            return Ok(DriverLog::Unavailable(
                "the job has no driver node (its driver never started)".into(),
            ));
        };
        // Both come from Ray's answer: checked before they go into the URL.
        let node = checked(RayValue::NodeId, node)?;
        let submission_id = checked(RayValue::SubmissionId, submission_id)?;
        let path = format!(
            "api/v0/logs/file?node_id={node}&filename={}&lines=-1",
            query_escape(&format!("job-driver-{submission_id}.log"))
        );
        let mut response = self
            .transport
            .stream(self.request(Method::GET, path))
            .await
            .map_err(|e| self.unreachable(e))?;
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

    /// POST `/api/jobs/{id}/stop`: `{"stopped": bool}`.
    pub async fn stop_job(&self, id: &JobId) -> Result<StopJobResponse, ClientError> {
        let path = format!("api/jobs/{id}/stop");
        let body = self.send_json(Method::POST, &path, None).await?;
        decode(&body, &path)
    }

    /// POST `/api/jobs/` with a submission body (`entrypoint`, `submission_id`,
    /// `runtime_env`, `metadata`, ...): `{"job_id", "submission_id"}`.
    pub async fn submit_job(&self, body: &Value) -> Result<Value, ClientError> {
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
    ) -> Result<Box<dyn WsStream>, ClientError> {
        let request = self.request(Method::GET, format!("api/jobs/{id}/logs/tail"));
        let options = WsOptions {
            max_message_size: max_frame,
            ping_interval: Duration::from_secs(20),
        };
        self.transport
            .websocket(request, options)
            .await
            .map_err(|e| self.unreachable(e))
            .map_err(scrub_ray_error)
    }

    /// GET `/api/v0/nodes`: the State API's nodes, unwrapped from its envelope.
    pub async fn nodes(&self) -> Result<Vec<Value>, ClientError> {
        let body = self
            .get_bytes(&format!("api/v0/nodes?limit={STATE_API_LIMIT}&detail=true"))
            .await?;
        unwrap_state_envelope(&body)
    }

    /// GET `/api/v0/tasks`, of one driver job (hex id) when `job_id` is given.
    pub async fn tasks(&self, job_id: Option<&str>) -> Result<Vec<Value>, ClientError> {
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
    pub async fn task(&self, task_id: &str) -> Result<Vec<Value>, ClientError> {
        let path = format!(
            "api/v0/tasks?limit={STATE_API_LIMIT}&detail=true&filter_keys=task_id&filter_predicates=%3D&filter_values={task_id}"
        );
        let body = self.get_bytes(&path).await?;
        unwrap_state_envelope(&body)
    }

    /// GET `/api/serve/applications/`: Serve's whole status (`applications` by name,
    /// `http_options`, `proxy_location`, ...).
    pub async fn serve_status(&self) -> Result<Value, ClientError> {
        self.get_json("api/serve/applications/").await
    }

    /// PUT `/api/serve/applications/`: deploys a whole declarative config (apps not
    /// in it are removed).
    pub async fn put_serve_config(&self, config: &Value) -> Result<(), ClientError> {
        self.send_json(Method::PUT, "api/serve/applications/", Some(config))
            .await
            .map(drop)
    }

    /// DELETE `/api/serve/applications/`: shuts Serve down, every app with it.
    pub async fn delete_all_serve_applications(&self) -> Result<(), ClientError> {
        self.send_json(Method::DELETE, "api/serve/applications/", None)
            .await
            .map(drop)
    }
}

// A value in a URL to Ray is encoded as every query is (agent_proto's one rule).
use agent_proto::query::encode_component as query_escape;

/// A refused WebSocket upgrade carries Ray's body: cut its stack trace too.
fn scrub_ray_error(err: ClientError) -> ClientError {
    let status = err.status_code();
    match &err {
        ClientError::NotFound { message }
        | ClientError::BadRequest { message }
        | ClientError::Server { message, .. }
        | ClientError::UnexpectedStatus { message, .. } => ray_error(status, message.as_bytes()),
        _ => err,
    }
}

fn decode<T: DeserializeOwned>(body: &[u8], path: &str) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Decode {
        message: format!("Ray's answer to /{path} is not what was expected: {e}"),
    })
}
