//! A small client of the Ray dashboard's REST API: the Jobs API (`/api/jobs/...`),
//! the State API (`/api/v0/...`), Serve (`/api/serve/applications/`) and the
//! version and health endpoints, over any [`Transport`] (the default one is
//! `agent-transport`'s HTTP/WebSocket transport, with TLS for an `https://` Ray).

use crate::mapping::{ray_error, unwrap_state_envelope};
use agent_proto::{ClientError, Job, JobId, StopJobResponse};
use agent_transport::{Request, Response, Transport, WsOptions, WsStream};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
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
}

impl fmt::Debug for RayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RayClient")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// How many items a State API list asks for (Ray's own default is 100).
pub const STATE_API_LIMIT: u32 = 10_000;

impl RayClient {
    /// A client of the dashboard at `address` (for messages), reached through
    /// `transport` (whose base URL is that address).
    pub fn new(transport: Arc<dyn Transport>, address: impl Into<String>) -> Self {
        let address: String = address.into();
        RayClient {
            transport,
            address: address.trim_end_matches('/').into(),
        }
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
        Ok(self.send(Request::new(Method::GET, path)).await?.body)
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
        let mut request = Request::new(method, path);
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
        let request = Request::new(Method::GET, format!("api/jobs/{id}/logs/tail"));
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
            path.push_str("&filter_keys=job_id&filter_predicates=%3D&filter_values=");
            path.push_str(j);
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
