//! [`AgentClient`]: every operation of the agent API, blocking.

use crate::builder::ClientBuilder;
use crate::runtime::{refuse_inside_runtime, RuntimeThread};
use crate::tail::LogTailIter;
use agent_client_async::AsyncAgentClient;
use agent_proto::{
    ClientError, CreatePluginRelease, GpuStatus, Health, Job, Node, Page, PluginRelease,
    RunDebugPluginRelease, RunPluginRelease, Secret, ServeApplication, StopJobResponse,
    StreamLimits, TailOptions, Task,
};
use http::Method;
use serde_json::Value;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// The blocking client of the agent API.
///
/// It has every method of [`AsyncAgentClient`], with the same names and arguments,
/// returning the answer instead of a future. Behind it, one private thread runs a
/// tokio runtime for as long as the client lives (shared by its clones); that thread
/// stops when the last clone is dropped or on [`close`](AgentClient::close).
///
/// It is for code that is not async. Called from inside an async runtime, every
/// method that would wait returns a 500 [`ClientError::Usage`] ("AgentClient is
/// blocking and cannot run inside an async runtime; use AsyncAgentClient") instead
/// of panicking or deadlocking; building one there is fine.
///
/// Cheap to clone, `Send + Sync`. Ids are validated before any request (a 400), and
/// no token ever appears in an error or a `Debug` print.
///
/// ```no_run
/// use agent_client_blocking::{AgentClient, Protocol, TailOptions};
///
/// let client = AgentClient::new("https://agent.example.com", "your-agent-token")?;
/// println!("{:?}", client.health_check()?);
/// for job in client.list_jobs()? {
///     println!("{:?} {}", job.id(), job.status);
/// }
/// for line in client.tail_job_logs("raysubmit_abc123", TailOptions::new().protocol(Protocol::Auto))? {
///     println!("{}", line?);
/// }
/// # Ok::<(), agent_client_blocking::ClientError>(())
/// ```
#[derive(Clone)]
pub struct AgentClient {
    async_client: AsyncAgentClient,
    runtime: Arc<RuntimeThread>,
}

impl fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentClient")
            .field("base_url", &self.async_client.base_url())
            .field("limits", &self.async_client.stream_limits())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl AgentClient {
    /// A client of the agent at `base_url` (which may carry a path prefix) with the
    /// default settings. Starts the client's thread; opens no connection yet.
    ///
    /// ```
    /// let client = agent_client_blocking::AgentClient::new("http://127.0.0.1:8000", "token")?;
    /// assert_eq!(client.base_url(), "http://127.0.0.1:8000");
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn new(
        base_url: impl Into<String>,
        agent_token: impl Into<Secret>,
    ) -> Result<Self, ClientError> {
        Self::builder(base_url, agent_token).build()
    }

    /// A builder for the other settings (the same as [`AsyncAgentClient::builder`]'s).
    pub fn builder(base_url: impl Into<String>, agent_token: impl Into<Secret>) -> ClientBuilder {
        ClientBuilder::new(base_url, agent_token)
    }

    pub(crate) fn from_parts(async_client: AsyncAgentClient, runtime: Arc<RuntimeThread>) -> Self {
        AgentClient {
            async_client,
            runtime,
        }
    }

    /// Runs one call of the async client on the client's thread.
    pub(crate) fn run<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: FnOnce(AsyncAgentClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>> + Send + 'static,
        T: Send + 'static,
    {
        refuse_inside_runtime()?;
        self.runtime.run(call(self.async_client.clone()))
    }

    /// The async client this one drives.
    pub(crate) fn async_client(&self) -> &AsyncAgentClient {
        &self.async_client
    }

    /// The base URL requests are relative to.
    pub fn base_url(&self) -> &str {
        self.async_client.base_url()
    }

    /// The default limits of log tails.
    pub fn stream_limits(&self) -> StreamLimits {
        self.async_client.stream_limits()
    }

    /// Closes the client and every clone: open tails end, the client's thread
    /// stops (and is waited for, unless this is called inside an async runtime),
    /// and later calls fail with a 500 `Usage` error.
    pub fn close(&self) {
        self.runtime.stop();
    }

    /// True once [`close`](Self::close) was called on this client or a clone.
    pub fn is_closed(&self) -> bool {
        self.runtime.is_stopped() || self.async_client.is_closed()
    }

    /// `GET health/`: the agent's health.
    pub fn health_check(&self) -> Result<Health, ClientError> {
        self.run(|c| async move { c.health_check().await })
    }

    /// `GET jobs/`: every Ray job the agent knows.
    pub fn list_jobs(&self) -> Result<Vec<Job>, ClientError> {
        self.run(|c| async move { c.list_jobs().await })
    }

    /// `GET jobs/{id}/`: one job. The id is validated first (a 400 for `../x`).
    pub fn get_job(&self, job_id: impl AsRef<str>) -> Result<Job, ClientError> {
        let id = job_id.as_ref().to_owned();
        self.run(|c| async move { c.get_job(id).await })
    }

    /// `GET jobs/{id}/logs/`: the whole log so far, as one string.
    pub fn get_job_logs(&self, job_id: impl AsRef<str>) -> Result<String, ClientError> {
        let id = job_id.as_ref().to_owned();
        self.run(|c| async move { c.get_job_logs(id).await })
    }

    /// `POST jobs/{id}/stop/`: asks the agent to stop a job.
    pub fn stop_job(&self, job_id: impl AsRef<str>) -> Result<StopJobResponse, ClientError> {
        let id = job_id.as_ref().to_owned();
        self.run(|c| async move { c.stop_job(id).await })
    }

    /// Follows a job's log as it is written: an iterator of lines that ends when the
    /// job's log is complete (see [`AsyncAgentClient::tail_job_logs`] for the
    /// protocols, the `auto` fallback and the idle time-out).
    ///
    /// Opening errors (400, 404, 503, ...) come back from this call; later ones come
    /// out of the iterator once, and it ends after them. Dropping the iterator closes
    /// the connection.
    ///
    /// ```no_run
    /// use agent_client_blocking::{AgentClient, ClientError, Protocol, TailOptions};
    ///
    /// let client = AgentClient::new("https://agent.example.com", "your-agent-token")?;
    /// let mut tail = client.tail_job_logs("raysubmit_abc123", TailOptions::new().protocol(Protocol::Auto))?;
    /// for line in &mut tail {
    ///     match line {
    ///         Ok(line) => println!("{line}"),
    ///         Err(e) if e.status_code() == 408 => eprintln!("no output for a while: {e}"),
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// println!("{} lines over {}", tail.counters().delivered, tail.protocol_used());
    /// # Ok::<(), ClientError>(())
    /// ```
    pub fn tail_job_logs(
        &self,
        job_id: impl AsRef<str>,
        options: TailOptions,
    ) -> Result<LogTailIter, ClientError> {
        let id = job_id.as_ref().to_owned();
        let tail = self.run(|c| async move { c.tail_job_logs(id, options).await })?;
        Ok(LogTailIter::new(tail, Arc::clone(&self.runtime)))
    }

    /// `GET nodes/`: the cluster's nodes.
    pub fn list_nodes(&self) -> Result<Vec<Node>, ClientError> {
        self.run(|c| async move { c.list_nodes().await })
    }

    /// `GET nodes/{id}/`: one node.
    pub fn get_node(&self, node_id: impl AsRef<str>) -> Result<Node, ClientError> {
        let id = node_id.as_ref().to_owned();
        self.run(|c| async move { c.get_node(id).await })
    }

    /// `GET tasks/`: the cluster's tasks.
    pub fn list_tasks(&self) -> Result<Vec<Task>, ClientError> {
        self.run(|c| async move { c.list_tasks().await })
    }

    /// `GET tasks/{id}/`: one task.
    pub fn get_task(&self, task_id: impl AsRef<str>) -> Result<Task, ClientError> {
        let id = task_id.as_ref().to_owned();
        self.run(|c| async move { c.get_task(id).await })
    }

    /// `GET serve_applications/`: the Ray Serve applications.
    pub fn list_serve_applications(&self) -> Result<Vec<ServeApplication>, ClientError> {
        self.run(|c| async move { c.list_serve_applications().await })
    }

    /// `GET serve_applications/{name}/`: one application.
    pub fn get_serve_application(
        &self,
        name: impl AsRef<str>,
    ) -> Result<ServeApplication, ClientError> {
        let name = name.as_ref().to_owned();
        self.run(|c| async move { c.get_serve_application(name).await })
    }

    /// `DELETE serve_applications/{name}/`: removes one application.
    pub fn delete_serve_application(&self, name: impl AsRef<str>) -> Result<(), ClientError> {
        let name = name.as_ref().to_owned();
        self.run(|c| async move { c.delete_serve_application(name).await })
    }

    /// `GET plugin_releases/`: a page of plugin releases; `query` passes through
    /// (percent-encoded), e.g. `&[("page", "2")]`.
    pub fn list_plugin_releases<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Page<PluginRelease>, ClientError> {
        let query = owned_query(query);
        self.run(|c| async move { c.list_plugin_releases(&query).await })
    }

    /// `GET plugin_releases/{lookup}`: one release, by id or `code@version`.
    pub fn get_plugin_release(
        &self,
        lookup: impl AsRef<str>,
    ) -> Result<PluginRelease, ClientError> {
        let lookup = lookup.as_ref().to_owned();
        self.run(|c| async move { c.get_plugin_release(lookup).await })
    }

    /// `POST plugin_releases/`: creates a release.
    pub fn create_plugin_release(
        &self,
        release: &CreatePluginRelease,
    ) -> Result<PluginRelease, ClientError> {
        let release = release.clone();
        self.run(|c| async move { c.create_plugin_release(&release).await })
    }

    /// `DELETE plugin_releases/{lookup}`: deletes a release.
    pub fn delete_plugin_release(&self, lookup: impl AsRef<str>) -> Result<(), ClientError> {
        let lookup = lookup.as_ref().to_owned();
        self.run(|c| async move { c.delete_plugin_release(lookup).await })
    }

    /// `POST plugin_releases/{lookup}/run/`: runs an action; the agent's answer
    /// comes back as JSON. Never re-sent once it may have reached the agent.
    pub fn run_plugin_release(
        &self,
        lookup: impl AsRef<str>,
        run: &RunPluginRelease,
    ) -> Result<Value, ClientError> {
        let lookup = lookup.as_ref().to_owned();
        let run = run.clone();
        self.run(|c| async move { c.run_plugin_release(lookup, &run).await })
    }

    /// `POST plugin_releases/run_debug/`: runs an action of a plugin in debug mode.
    pub fn run_debug_plugin_release(
        &self,
        run: &RunDebugPluginRelease,
    ) -> Result<Value, ClientError> {
        let run = run.clone();
        self.run(|c| async move { c.run_debug_plugin_release(&run).await })
    }

    /// `GET gpu_status/`: the cluster's GPUs (503 `GpuUnavailable` when it has none).
    pub fn get_gpu_status(&self) -> Result<GpuStatus, ClientError> {
        self.run(|c| async move { c.get_gpu_status().await })
    }

    /// Any other endpoint: `method` on `path` with an optional query and JSON body;
    /// the answer as JSON (see [`AsyncAgentClient::raw_request`]).
    ///
    /// ```no_run
    /// # fn run(client: agent_client_blocking::AgentClient) -> Result<(), agent_proto::ClientError> {
    /// use http::Method;
    /// let version = client.raw_request(Method::GET, "version/", &[] as &[(&str, &str)], None)?;
    /// # let _ = version; Ok(()) }
    /// ```
    pub fn raw_request<K: AsRef<str>, V: AsRef<str>>(
        &self,
        method: Method,
        path: &str,
        query: &[(K, V)],
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let path = path.to_owned();
        let query = owned_query(query);
        self.run(|c| async move { c.raw_request(method, &path, &query, body).await })
    }
}

fn owned_query<K: AsRef<str>, V: AsRef<str>>(query: &[(K, V)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect()
}
