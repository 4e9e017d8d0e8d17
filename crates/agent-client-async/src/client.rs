//! [`AsyncAgentClient`]: every operation of the agent API.

use crate::builder::ClientBuilder;
use crate::path::{with_query, RawPath};
use agent_proto::api::{self, Answer, Call, Operation};
use agent_proto::{
    ClientError, CreatePluginRelease, GpuStatus, Health, Job, JobId, Node, NodeId, Page,
    PluginLookup, PluginRelease, RunDebugPluginRelease, RunPluginRelease, Secret, ServeAppName,
    ServeApplication, StopJobResponse, StreamLimits, Task, TaskId,
};
use agent_transport::{Request, Response, Transport};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method};
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// The tokens of a client and the headers that carry them.
#[derive(Clone)]
pub(crate) struct Credentials {
    headers: HeaderMap,
    secrets: Vec<Secret>,
}

impl Credentials {
    pub(crate) fn new(
        agent: Secret,
        user: Option<Secret>,
        tenant: Option<Secret>,
    ) -> Result<Self, ClientError> {
        let mut headers = HeaderMap::new();
        let value = |what: &'static str, text: String| {
            let mut v = HeaderValue::from_str(&text).map_err(|_| {
                ClientError::invalid(what, "contains characters a header cannot carry")
            })?;
            v.set_sensitive(true);
            Ok::<_, ClientError>(v)
        };
        if agent.expose().is_empty() {
            return Err(ClientError::invalid("agent token", "must not be empty"));
        }
        headers.insert(
            AUTHORIZATION,
            value("agent token", agent.expose().to_owned())?,
        );
        if let Some(u) = &user {
            headers.insert(
                HeaderName::from_static("synapse-user"),
                value("user token", format!("Token {}", u.expose()))?,
            );
        }
        if let Some(t) = &tenant {
            headers.insert(
                HeaderName::from_static("synapse-tenant"),
                value("tenant", format!("Token {}", t.expose()))?,
            );
        }
        let secrets = std::iter::once(agent).chain(user).chain(tenant).collect();
        Ok(Credentials { headers, secrets })
    }

    /// Removes every secret from an error's messages, in one pass.
    pub(crate) fn scrub(&self, err: ClientError) -> ClientError {
        let secrets: Vec<&str> = self.secrets.iter().map(|s| s.expose()).collect();
        err.scrub_all(&secrets)
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

/// Makes the client's transport afresh: what [`AsyncAgentClient::reset_connection`]
/// swaps in (a new connection pool, the same settings).
pub(crate) type TransportFactory =
    Arc<dyn Fn() -> Result<Arc<dyn Transport>, ClientError> + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) base_url: String,
    transport: RwLock<Option<Arc<dyn Transport>>>,
    renew: TransportFactory,
    pub(crate) credentials: Credentials,
    pub(crate) limits: StreamLimits,
    pub(crate) ping_interval: Duration,
    /// Flips to `true` on `close()`; open tails watch it and end.
    pub(crate) closed: watch::Sender<bool>,
}

/// The asynchronous (tokio) client of the agent API.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`; clones share one connection
/// pool. Every id a method takes is validated before any request (a 400 otherwise),
/// every failure is a [`ClientError`] with a status code, and no token ever appears
/// in an error or a `Debug` print.
///
/// ```no_run
/// use agent_client_async::AsyncAgentClient;
///
/// # async fn run() -> Result<(), agent_proto::ClientError> {
/// let client = AsyncAgentClient::new("https://agent.example.com", "your-agent-token")?;
/// let health = client.health_check().await?;
/// for job in client.list_jobs().await? {
///     println!("{:?} {}", job.id(), job.status);
/// }
/// # let _ = health;
/// client.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncAgentClient {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for AsyncAgentClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncAgentClient")
            .field("base_url", &self.inner.base_url)
            .field("limits", &self.inner.limits)
            .field("closed", &*self.inner.closed.borrow())
            .finish_non_exhaustive()
    }
}

impl AsyncAgentClient {
    /// A client of the agent at `base_url` (which may carry a path prefix) with the
    /// default settings.
    ///
    /// ```
    /// let client = agent_client_async::AsyncAgentClient::new("http://127.0.0.1:8000", "token")?;
    /// assert!(format!("{client:?}").contains("127.0.0.1"));
    /// assert!(!format!("{client:?}").contains("token\""));
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn new(
        base_url: impl Into<String>,
        agent_token: impl Into<Secret>,
    ) -> Result<Self, ClientError> {
        Self::builder(base_url, agent_token).build()
    }

    /// A builder for the other settings.
    pub fn builder(base_url: impl Into<String>, agent_token: impl Into<Secret>) -> ClientBuilder {
        ClientBuilder::new(base_url, agent_token)
    }

    pub(crate) fn from_parts(
        base_url: String,
        renew: TransportFactory,
        credentials: Credentials,
        limits: StreamLimits,
        ping_interval: Duration,
    ) -> Result<Self, ClientError> {
        let (closed, _) = watch::channel(false);
        let transport = renew()?;
        Ok(AsyncAgentClient {
            inner: Arc::new(Inner {
                base_url,
                transport: RwLock::new(Some(transport)),
                renew,
                credentials,
                limits,
                ping_interval,
                closed,
            }),
        })
    }

    /// The base URL requests are relative to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The default limits of log tails.
    pub fn stream_limits(&self) -> StreamLimits {
        self.inner.limits
    }

    /// Closes the client: open tails end, the connection pool is dropped once the
    /// requests in flight finish, and later calls fail with a 500 `Usage` error.
    /// Every clone shares the closing.
    pub async fn close(&self) {
        self.inner.closed.send_replace(true);
        let taken = match self.inner.transport.write() {
            Ok(mut t) => t.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        drop(taken);
    }

    /// True once [`close`](Self::close) was called on this client or a clone.
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// Drops the pooled connections (synapse-sdk's `reset_connection`): later
    /// requests open new ones with the same settings, while requests and tails in
    /// flight finish on theirs. Every clone shares the new pool. A transport of the
    /// caller's own ([`ClientBuilder::transport`]) is kept: its connections are its
    /// business. A closed client stays closed (a 500 `Usage` error).
    ///
    /// ```
    /// let client = agent_client_async::AsyncAgentClient::new("http://127.0.0.1:9", "token")?;
    /// client.reset_connection()?;
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn reset_connection(&self) -> Result<(), ClientError> {
        let fresh = (self.inner.renew)()?;
        let mut guard = match self.inner.transport.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.is_none() || self.is_closed() {
            return Err(ClientError::Usage {
                message: "the client was closed; build a new one".into(),
            });
        }
        *guard = Some(fresh);
        Ok(())
    }

    pub(crate) fn transport(&self) -> Result<Arc<dyn Transport>, ClientError> {
        let guard = match self.inner.transport.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.clone().ok_or_else(|| ClientError::Usage {
            message: "the client was closed; build a new one".into(),
        })
    }

    /// Validates a caller-supplied path segment (a 400 otherwise). The error quotes
    /// the input, so it is scrubbed: a caller may pass a token by mistake.
    pub(crate) fn segment<T>(&self, input: &str) -> Result<T, ClientError>
    where
        T: for<'a> TryFrom<&'a str, Error = ClientError>,
    {
        T::try_from(input).map_err(|e| self.inner.credentials.scrub(e))
    }

    /// The request for an operation of the description, with the client's
    /// authentication headers: its route is the description's, never written here.
    pub(crate) fn operation_request(&self, operation: &Operation) -> Request {
        self.request(operation.id().method(), operation.path())
    }

    /// A request with the client's authentication headers.
    pub(crate) fn request(&self, method: Method, path: String) -> Request {
        let mut req = Request::new(method, path);
        req.headers = self.inner.credentials.headers().clone();
        req
    }

    /// Sends a request and maps an error status to a [`ClientError`].
    async fn send(&self, req: Request) -> Result<Response, ClientError> {
        let transport = self.transport()?;
        let result = transport.request(req).await;
        let resp = result.map_err(|e| self.inner.credentials.scrub(e))?;
        if resp.status >= 400 {
            return Err(self.inner.credentials.scrub(error_from_response(&resp)));
        }
        Ok(resp)
    }

    /// The transport's request for `call`, with the client's authentication headers.
    pub(crate) fn call_request<B, A>(&self, call: &Call<B, A>) -> Result<Request, ClientError> {
        let mut req = self.request(call.method(), call.path());
        if let Some(body) = call.encoded_body()? {
            req.body = Bytes::from(body.bytes.clone());
            let value = HeaderValue::from_str(&body.content_type).map_err(|_| {
                ClientError::invalid("content type", "contains characters a header cannot carry")
            })?;
            req.headers.insert(CONTENT_TYPE, value);
        }
        Ok(req)
    }

    /// Sends any operation of the description ([`agent_proto::api`]) and decodes its
    /// answer: what every typed method does, open for a caller that builds its own
    /// [`Call`] (with a query, say). Retries follow the operation's idempotence.
    ///
    /// ```no_run
    /// # async fn run(client: agent_client_async::AsyncAgentClient) -> Result<(), agent_proto::ClientError> {
    /// use agent_proto::api;
    /// let page = client.call(api::list_plugin_releases().query(&[("plugin", "demo")])).await?;
    /// # let _ = page; Ok(()) }
    /// ```
    pub async fn call<B, A: Answer>(&self, call: Call<B, A>) -> Result<A, ClientError> {
        let resp = self.send(self.call_request(&call)?).await?;
        call.answer(&resp.body)
            .map_err(|e| self.inner.credentials.scrub(e))
    }

    /// `GET health/`: the agent's health.
    pub async fn health_check(&self) -> Result<Health, ClientError> {
        self.call(api::health_check()).await
    }

    /// `GET jobs/`: every Ray job the agent knows.
    pub async fn list_jobs(&self) -> Result<Vec<Job>, ClientError> {
        self.call(api::list_jobs()).await
    }

    /// `GET jobs/{id}/`: one job. The id is validated first (a 400 for `../x`).
    pub async fn get_job(&self, job_id: impl AsRef<str>) -> Result<Job, ClientError> {
        let id = self.segment::<JobId>(job_id.as_ref())?;
        self.call(api::get_job(id)).await
    }

    /// `GET jobs/{id}/logs/`: the whole log so far, as one string. The agent may
    /// answer with a JSON string, a `{"logs": ...}` object or plain text: all work.
    pub async fn get_job_logs(&self, job_id: impl AsRef<str>) -> Result<String, ClientError> {
        let id = self.segment::<JobId>(job_id.as_ref())?;
        self.call(api::get_job_logs(id)).await
    }

    /// `POST jobs/{id}/stop/`: asks the agent to stop a job.
    pub async fn stop_job(&self, job_id: impl AsRef<str>) -> Result<StopJobResponse, ClientError> {
        let id = self.segment::<JobId>(job_id.as_ref())?;
        self.call(api::stop_job(id)).await
    }

    /// `GET nodes/`: the cluster's nodes.
    pub async fn list_nodes(&self) -> Result<Vec<Node>, ClientError> {
        self.call(api::list_nodes()).await
    }

    /// `GET nodes/{id}/`: one node.
    pub async fn get_node(&self, node_id: impl AsRef<str>) -> Result<Node, ClientError> {
        let id = self.segment::<NodeId>(node_id.as_ref())?;
        self.call(api::get_node(id)).await
    }

    /// `GET tasks/`: the cluster's tasks.
    pub async fn list_tasks(&self) -> Result<Vec<Task>, ClientError> {
        self.call(api::list_tasks()).await
    }

    /// `GET tasks/{id}/`: one task.
    pub async fn get_task(&self, task_id: impl AsRef<str>) -> Result<Task, ClientError> {
        let id = self.segment::<TaskId>(task_id.as_ref())?;
        self.call(api::get_task(id)).await
    }

    /// `GET serve_applications/`: the Ray Serve applications.
    pub async fn list_serve_applications(&self) -> Result<Vec<ServeApplication>, ClientError> {
        self.call(api::list_serve_applications()).await
    }

    /// `GET serve_applications/{name}/`: one application.
    pub async fn get_serve_application(
        &self,
        name: impl AsRef<str>,
    ) -> Result<ServeApplication, ClientError> {
        let name = self.segment::<ServeAppName>(name.as_ref())?;
        self.call(api::get_serve_application(name)).await
    }

    /// `DELETE serve_applications/{name}/`: removes one application.
    pub async fn delete_serve_application(&self, name: impl AsRef<str>) -> Result<(), ClientError> {
        let name = self.segment::<ServeAppName>(name.as_ref())?;
        self.call(api::delete_serve_application(name)).await
    }

    /// `GET plugin_releases/`: a page of plugin releases; `query` passes through
    /// (percent-encoded), e.g. `&[("page", "2")]`.
    pub async fn list_plugin_releases<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Page<PluginRelease>, ClientError> {
        self.call(api::list_plugin_releases().query(query)).await
    }

    /// `GET plugin_releases/{lookup}`: one release, by id or `code@version`.
    pub async fn get_plugin_release(
        &self,
        lookup: impl AsRef<str>,
    ) -> Result<PluginRelease, ClientError> {
        let lookup = self.segment::<PluginLookup>(lookup.as_ref())?;
        self.call(api::get_plugin_release(lookup)).await
    }

    /// `POST plugin_releases/`: creates a release.
    pub async fn create_plugin_release(
        &self,
        release: &CreatePluginRelease,
    ) -> Result<PluginRelease, ClientError> {
        self.call(api::create_plugin_release().body(release)).await
    }

    /// `DELETE plugin_releases/{lookup}`: deletes a release.
    pub async fn delete_plugin_release(&self, lookup: impl AsRef<str>) -> Result<(), ClientError> {
        let lookup = self.segment::<PluginLookup>(lookup.as_ref())?;
        self.call(api::delete_plugin_release(lookup)).await
    }

    /// `POST plugin_releases/{lookup}/run/`: runs an action; the agent's answer
    /// (usually naming the job it started) comes back as JSON.
    ///
    /// A POST is never re-sent once it may have reached the agent: a failure after
    /// sending is a [`ClientError::ResponseIncomplete`].
    pub async fn run_plugin_release(
        &self,
        lookup: impl AsRef<str>,
        run: &RunPluginRelease,
    ) -> Result<Value, ClientError> {
        let lookup = self.segment::<PluginLookup>(lookup.as_ref())?;
        if run.action.is_empty() {
            return Err(ClientError::invalid("action", "must not be empty"));
        }
        self.call(api::run_plugin_release(lookup).body(run)).await
    }

    /// `POST plugin_releases/run_debug/`: runs an action of a plugin in debug mode.
    pub async fn run_debug_plugin_release(
        &self,
        run: &RunDebugPluginRelease,
    ) -> Result<Value, ClientError> {
        if run.action.is_empty() {
            return Err(ClientError::invalid("action", "must not be empty"));
        }
        self.call(api::run_debug_plugin_release().body(run)).await
    }

    /// `GET gpu_status/`: the cluster's GPUs. A cluster without GPUs may answer
    /// 503 [`ClientError::GpuUnavailable`].
    pub async fn get_gpu_status(&self) -> Result<GpuStatus, ClientError> {
        self.call(api::get_gpu_status()).await
    }

    /// Any other endpoint: `method` on `path` (checked by [`RawPath`]) with an
    /// optional query (percent-encoded) and JSON body; the answer as JSON (a body
    /// that is not JSON comes back as a JSON string, an empty one as `null`).
    ///
    /// ```no_run
    /// # async fn run(client: agent_client_async::AsyncAgentClient) -> Result<(), agent_proto::ClientError> {
    /// use http::Method;
    /// let version = client.raw_request(Method::GET, "version/", &[] as &[(&str, &str)], None).await?;
    /// # let _ = version; Ok(()) }
    /// ```
    pub async fn raw_request<K: AsRef<str>, V: AsRef<str>>(
        &self,
        method: Method,
        path: &str,
        query: &[(K, V)],
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let path = RawPath::new(path)?;
        let mut req = self.request(method, with_query(path.as_str(), query));
        if let Some(body) = body {
            req.body = Bytes::from(body.to_string());
            req.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let resp = self.send(req).await?;
        api::JsonOrText::from_body(&resp.body).map(|answer| answer.0)
    }
}

/// The agent's `Retry-After` (seconds or an HTTP date), capped at 60 s: the one
/// parser of the transport, so every path reads the header the same way.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    agent_transport::capped_retry_after(headers)
}

/// The error an error answer stands for.
pub(crate) fn error_from_response(resp: &Response) -> ClientError {
    ClientError::from_response(resp.status, retry_after(&resp.headers), &resp.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_headers_are_sensitive_and_scrubbed() {
        let c = Credentials::new(
            Secret::new("agent-s3cret"),
            Some(Secret::new("user-s3cret")),
            Some(Secret::new("acme")),
        )
        .unwrap();
        let dbg = format!("{:?}", c.headers());
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert_eq!(c.headers()["synapse-user"], "Token user-s3cret");
        assert_eq!(c.headers()["synapse-tenant"], "Token acme");
        assert_eq!(c.headers()["authorization"], "agent-s3cret");
        let e = c.scrub(ClientError::from_response(
            401,
            None,
            b"agent-s3cret / Token user-s3cret is not allowed",
        ));
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn bad_tokens_are_refused_before_any_request() {
        for bad in ["", "a\nb", "a\rb"] {
            let e = Credentials::new(Secret::new(bad), None, None)
                .err()
                .unwrap();
            assert_eq!(e.status_code(), 400);
            assert!(!e.to_string().contains("a\nb"));
        }
    }
}
