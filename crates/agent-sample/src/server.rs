//! [`SampleServer`]: the serving layer on the in-memory cluster, with a handle to
//! change the cluster while the server runs.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use agent_proto::{JobStatus, Secret};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::error::SampleError;
#[cfg(feature = "faults")]
use crate::fault::TailFault;
use crate::job::{JobSpec, Outcome};
use crate::memory::backend::MemoryBackend;
use crate::memory::cluster::{Cluster, RunRequest};
#[cfg(feature = "faults")]
use crate::serve::RequestHook;
use crate::serve::{serve, Limits, MetricsAccess, ServeOptions, ServerHandle, TlsFiles};
use crate::util::lock;

/// The token of a server whose builder sets none.
pub const DEFAULT_TOKEN: &str = "testkit-token";

/// Builds a [`SampleServer`]: its token, prefix and cluster content.
///
/// ```
/// use agent_sample::{SampleServer, JobSpec};
/// use serde_json::json;
///
/// let builder = SampleServer::builder()
///     .token("t")
///     .prefix("/agent/")
///     .job(JobSpec::new("raysubmit_1").lines(["hello"]))
///     .node(json!({"node_id": "n1", "node_ip": "10.0.0.1", "is_head_node": true, "state": "ALIVE"}))
///     .plugin_release("demo", "1.0.0");
/// # let _ = builder;
/// ```
#[must_use = "a builder does nothing until built"]
pub struct SampleServerBuilder {
    token: String,
    prefix: String,
    listen: SocketAddr,
    grace: Duration,
    heartbeat: Duration,
    limits: Limits,
    metrics: MetricsAccess,
    tls: Option<TlsFiles>,
    jobs: Vec<JobSpec>,
    nodes: Vec<Value>,
    tasks: Vec<Value>,
    serve_apps: Vec<Value>,
    releases: Vec<Value>,
    gpu_status: Option<Value>,
    health: Option<Value>,
    on_run: Option<crate::RunHook>,
    #[cfg(feature = "faults")]
    tail_faults: Vec<TailFault>,
    #[cfg(feature = "faults")]
    hook: Option<Arc<dyn RequestHook>>,
}

impl Default for SampleServerBuilder {
    fn default() -> Self {
        SampleServerBuilder {
            token: DEFAULT_TOKEN.to_owned(),
            prefix: "/".to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            grace: Duration::from_millis(500),
            heartbeat: ServeOptions::default().heartbeat,
            limits: Limits::default(),
            metrics: MetricsAccess::default(),
            tls: None,
            jobs: Vec::new(),
            nodes: Vec::new(),
            tasks: Vec::new(),
            serve_apps: Vec::new(),
            releases: Vec::new(),
            gpu_status: None,
            health: None,
            on_run: None,
            #[cfg(feature = "faults")]
            tail_faults: Vec::new(),
            #[cfg(feature = "faults")]
            hook: None,
        }
    }
}

impl std::fmt::Debug for SampleServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleServerBuilder")
            .field("prefix", &self.prefix)
            .field("listen", &self.listen)
            .field("jobs", &self.jobs.len())
            .finish_non_exhaustive()
    }
}

impl SampleServerBuilder {
    /// The agent token requests must carry as `Authorization: <token>`
    /// (default [`DEFAULT_TOKEN`]). An empty or whitespace token makes
    /// [`SampleServerBuilder::build`] fail with [`SampleError::InvalidToken`].
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The server's bounds: body sizes, time-outs, the connection cap, the WebSocket
    /// frame cap (default [`Limits::default`], as a production server has them).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Who may read `/metrics` (default [`MetricsAccess::Public`]).
    pub fn metrics(mut self, access: MetricsAccess) -> Self {
        self.metrics = access;
        self
    }

    /// Serves `https://` and `wss://` with these PEM files (optionally requiring
    /// client certificates; reloaded when they change): see [`TlsFiles`].
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Serves the API under a path prefix, e.g. `/agent/` (default `/`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Listens on `addr` (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// How long [`SampleServer::shutdown`] lets open requests finish (default 500 ms).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long an HTTP tail may stay quiet before the server sends a blank line
    /// (default 1 s; see [`ServeOptions::heartbeat`]).
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Adds a job.
    pub fn job(mut self, job: JobSpec) -> Self {
        self.jobs.push(job);
        self
    }

    /// Adds a node (an object with at least `node_id`, as Ray's State API gives it).
    pub fn node(mut self, node: Value) -> Self {
        self.nodes.push(node);
        self
    }

    /// Adds a task (an object with at least `task_id`).
    pub fn task(mut self, task: Value) -> Self {
        self.tasks.push(task);
        self
    }

    /// Adds a Serve application (an object with at least `name`).
    pub fn serve_application(mut self, app: Value) -> Self {
        self.serve_apps.push(app);
        self
    }

    /// Adds a plugin release `plugin@version` (its id is the next free number).
    pub fn plugin_release(self, plugin: &str, version: &str) -> Self {
        self.plugin_release_json(release_json(plugin, version))
    }

    /// Adds a plugin release as a JSON object (`id`, `plugin`, `code`, `version`, ...).
    pub fn plugin_release_json(mut self, release: Value) -> Self {
        self.releases.push(release);
        self
    }

    /// Answers `gpu_status/` with this (default: computed from the nodes' `GPU` resources).
    pub fn gpu_status(mut self, status: Value) -> Self {
        self.gpu_status = Some(status);
        self
    }

    /// Answers `health/` with this (default `{"status":"ok","ray_version":"2.60.0",...}`).
    pub fn health(mut self, health: Value) -> Self {
        self.health = Some(health);
        self
    }

    /// Arms a tail fault for the tails of every job (see [`JobSpec::tail_fault`] for one job).
    #[cfg(feature = "faults")]
    pub fn tail_fault(mut self, fault: TailFault) -> Self {
        self.tail_faults.push(fault);
        self
    }

    /// A hook that sees every request first (agent-testkit's journal and HTTP faults).
    #[cfg(feature = "faults")]
    pub fn hook(mut self, hook: Arc<dyn RequestHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Makes the job that `run/` and `run_debug/` start (default: five realistic lines,
    /// then success). The returned spec's id is replaced by [`RunRequest::job_id`].
    pub fn on_run<F>(mut self, make_job: F) -> Self
    where
        F: Fn(&RunRequest) -> JobSpec + Send + Sync + 'static,
    {
        self.on_run = Some(Arc::new(make_job));
        self
    }

    /// Starts the server on the current tokio runtime.
    pub async fn build(self) -> Result<SampleServer, SampleError> {
        let token = Secret::new(self.token.clone());
        agent_server::check_token(&token).map_err(|e| SampleError::InvalidToken(e.to_string()))?;
        let listener =
            TcpListener::bind(self.listen)
                .await
                .map_err(|source| SampleError::Bind {
                    addr: self.listen,
                    source,
                })?;
        let cluster = Arc::new(Cluster::new(tokio::runtime::Handle::current()));
        *lock(&cluster.nodes) = self.nodes;
        *lock(&cluster.tasks) = self.tasks;
        *lock(&cluster.serve_apps) = self.serve_apps;
        *lock(&cluster.gpu_status) = self.gpu_status;
        if let Some(h) = self.health {
            *lock(&cluster.health) = h;
        }
        *lock(&cluster.on_run) = self.on_run;
        for r in self.releases {
            cluster.add_release(r);
        }
        #[cfg(feature = "faults")]
        for f in self.tail_faults {
            cluster.add_global_tail_fault(f);
        }
        for job in self.jobs {
            cluster.add_job(job)?;
        }
        let mut options = ServeOptions::new()
            .token(token)
            .prefix(self.prefix)
            .limits(self.limits)
            .metrics(self.metrics)
            .grace(self.grace)
            .heartbeat(self.heartbeat);
        #[cfg(feature = "faults")]
        if let Some(hook) = self.hook {
            options = options.hook(hook);
        }
        if let Some(tls) = self.tls {
            options = options.tls(tls);
        }
        let backend = Arc::new(MemoryBackend {
            cluster: Arc::clone(&cluster),
        });
        let server = serve(listener, backend, options)
            .await
            .map_err(SampleError::Serve)?;
        Ok(SampleServer {
            server: Some(server),
            handle: SampleHandle { cluster },
            token: self.token,
        })
    }

    /// Starts the server on a thread of its own with its own runtime, for blocking
    /// callers; see [`SampleServer::start_blocking`].
    pub fn start_blocking(self) -> Result<BlockingSampleServer, SampleError> {
        SampleServer::start_blocking(self)
    }
}

fn release_json(plugin: &str, version: &str) -> Value {
    json!({
        "plugin": plugin,
        "code": plugin,
        "version": version,
        "name": plugin,
        "created": "2026-11-23T23:47:11Z",
    })
}

/// A running sample server: a real HTTP + WebSocket agent on loopback answering from
/// an in-memory cluster.
///
/// It dereferences to its [`SampleHandle`], so `server.append_lines(...)` works on it
/// directly. Dropping it stops everything at once (connections, tails, jobs); many can
/// run in one process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use agent_sample::{SampleServer, JobSpec};
///
/// let server = SampleServer::builder()
///     .job(JobSpec::new("raysubmit_1").lines(["hello"]))
///     .build()
///     .await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// server.append_lines("raysubmit_1", ["one more"]);
/// assert_eq!(server.job_log_len("raysubmit_1"), Some(2));
/// # Ok::<(), agent_sample::SampleError>(())
/// # }).unwrap();
/// ```
pub struct SampleServer {
    server: Option<ServerHandle>,
    handle: SampleHandle,
    token: String,
}

impl std::fmt::Debug for SampleServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl SampleServer {
    /// An empty cluster (no jobs, nodes, ...), token [`DEFAULT_TOKEN`], served at `/`.
    pub fn builder() -> SampleServerBuilder {
        SampleServerBuilder::default()
    }

    /// A sample cluster: jobs in every state with real Ray logs, a job that keeps
    /// printing slowly, two nodes (one with a GPU), four tasks, the Serve app `hello`
    /// and the plugin release `demo@1.0.0`. See [`crate::sample`].
    pub fn sample() -> SampleServerBuilder {
        crate::sample::sample(Self::builder())
    }

    /// Starts `builder`'s server on a new thread with its own runtime, for tests that
    /// use a blocking client. Dropping the result stops the server and joins the thread.
    pub fn start_blocking(
        builder: SampleServerBuilder,
    ) -> Result<BlockingSampleServer, SampleError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("agent-sample".to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(SampleError::Thread(e.to_string())));
                        return;
                    }
                };
                rt.block_on(async move {
                    match builder.build().await {
                        Ok(server) => {
                            let info = (
                                server.url(),
                                server.ws_url(),
                                server.local_addr(),
                                server.token.clone(),
                                server.handle.clone(),
                            );
                            if ready_tx.send(Ok(info)).is_ok() {
                                let _ = stop_rx.await;
                            }
                            // abort at once: the runtime goes with the thread
                            drop(server);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| SampleError::Thread(e.to_string()))?;
        let ready = ready_rx
            .recv()
            .map_err(|_| SampleError::Thread("the server thread ended early".to_owned()));
        match ready {
            Ok(Ok((url, ws_url, addr, token, handle))) => Ok(BlockingSampleServer {
                url,
                ws_url,
                addr,
                token,
                handle,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) | Err(e) => {
                let _ = thread.join();
                Err(e)
            }
        }
    }

    /// The base URL: `http://127.0.0.1:PORT/` (`https://` with TLS) plus the prefix
    /// (ends with `/`).
    pub fn url(&self) -> String {
        self.server.as_ref().map(|s| s.url()).unwrap_or_default()
    }

    /// The WebSocket base URL: `ws://127.0.0.1:PORT/` (`wss://` with TLS) plus the
    /// prefix.
    pub fn ws_url(&self) -> String {
        self.server.as_ref().map(|s| s.ws_url()).unwrap_or_default()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server
            .as_ref()
            .map(|s| s.local_addr())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The agent token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A handle to change the cluster; it can be cloned and moved to other tasks or
    /// threads.
    pub fn handle(&self) -> SampleHandle {
        self.handle.clone()
    }

    /// Stops accepting, lets open requests finish for the grace period, then stops
    /// everything. When this returns, the port is closed.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.handle.cluster.abort_drivers();
    }
}

impl Deref for SampleServer {
    type Target = SampleHandle;

    fn deref(&self) -> &SampleHandle {
        &self.handle
    }
}

impl Drop for SampleServer {
    fn drop(&mut self) {
        self.handle.cluster.abort_drivers();
    }
}

/// A sample server on a thread of its own (see [`SampleServer::start_blocking`]).
/// Dereferences to its [`SampleHandle`]; dropping it stops the server and joins the
/// thread.
///
/// ```
/// use agent_sample::{SampleServer, JobSpec};
///
/// let server = SampleServer::builder()
///     .job(JobSpec::new("raysubmit_1").lines(["hello"]))
///     .start_blocking()?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// assert_eq!(server.job_ids(), ["raysubmit_1"]);
/// # Ok::<(), agent_sample::SampleError>(())
/// ```
pub struct BlockingSampleServer {
    url: String,
    ws_url: String,
    addr: SocketAddr,
    token: String,
    handle: SampleHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for BlockingSampleServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingSampleServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl BlockingSampleServer {
    /// The base URL: `http://127.0.0.1:PORT/` plus the prefix.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The WebSocket base URL: `ws://127.0.0.1:PORT/` plus the prefix.
    pub fn ws_url(&self) -> String {
        self.ws_url.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The agent token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A handle to change the cluster.
    pub fn handle(&self) -> SampleHandle {
        self.handle.clone()
    }
}

impl Deref for BlockingSampleServer {
    type Target = SampleHandle;

    fn deref(&self) -> &SampleHandle {
        &self.handle
    }
}

impl Drop for BlockingSampleServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Changes a running sample server: jobs and their logs, cluster content (and, with
/// the `faults` feature, tail faults). Cheap to clone; usable from any thread.
///
/// Methods naming a job return `false` (or `None`) when there is no such job.
#[derive(Clone)]
pub struct SampleHandle {
    cluster: Arc<Cluster>,
}

impl std::fmt::Debug for SampleHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleHandle").finish_non_exhaustive()
    }
}

impl SampleHandle {
    /// Arms a tail fault for every job's tails.
    #[cfg(feature = "faults")]
    pub fn set_tail_fault_all(&self, fault: TailFault) {
        self.cluster.add_global_tail_fault(fault);
    }

    /// Arms a tail fault for the tails of `job` opened from now on.
    #[cfg(feature = "faults")]
    pub fn set_tail_fault(&self, job: &str, fault: TailFault) -> bool {
        self.with_job(job, |j| {
            let times = fault.times;
            j.with(|s| s.tail_faults.push(crate::fault::Armed::new(fault, times)));
        })
    }

    /// Disarms the tail faults of `job` and those of every job.
    #[cfg(feature = "faults")]
    pub fn clear_tail_faults(&self, job: &str) -> bool {
        self.cluster.clear_global_tail_faults();
        self.with_job(job, |j| j.with(|s| s.tail_faults.clear()))
    }

    /// Adds a job while the server runs.
    pub fn add_job(&self, job: JobSpec) -> Result<(), SampleError> {
        self.cluster.add_job(job)
    }

    fn with_job(&self, job: &str, f: impl FnOnce(&crate::memory::job::JobEntry)) -> bool {
        match self.cluster.job(job) {
            Some(j) => {
                f(&j);
                true
            }
            None => false,
        }
    }

    /// Appends lines to a job's log (open tails see them at once).
    pub fn append_lines<I, S>(&self, job: &str, lines: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let lines: Vec<S> = lines.into_iter().collect();
        self.with_job(job, |j| j.append(&lines))
    }

    /// Moves a pending job to `RUNNING`.
    pub fn start_job(&self, job: &str) -> bool {
        self.cluster.job(job).is_some_and(|j| j.set_running())
    }

    /// Ends a job `SUCCEEDED`; false when it had ended already (or does not exist).
    pub fn finish_job(&self, job: &str) -> bool {
        self.cluster
            .job(job)
            .is_some_and(|j| j.finish(&Outcome::Succeed))
    }

    /// Ends a job `FAILED` with `message`; false when it had ended already.
    pub fn fail_job(&self, job: &str, message: &str) -> bool {
        self.cluster
            .job(job)
            .is_some_and(|j| j.finish(&Outcome::Fail(Some(message.to_owned()))))
    }

    /// Stops a job (`STOPPED`), as POST `jobs/{id}/stop/` does.
    pub fn stop_job(&self, job: &str) -> bool {
        self.cluster.job(job).is_some_and(|j| j.stop())
    }

    /// A job's status.
    pub fn job_status(&self, job: &str) -> Option<JobStatus> {
        self.cluster.job(job).map(|j| j.status())
    }

    /// A job's Ray job info, as `jobs/{id}/` answers it.
    pub fn job_info(&self, job: &str) -> Option<Value> {
        self.cluster.job(job).map(|j| j.info())
    }

    /// How many lines a job's log has.
    pub fn job_log_len(&self, job: &str) -> Option<u64> {
        self.cluster.job(job).map(|j| j.log_len())
    }

    /// A job's whole log, as `jobs/{id}/logs/` answers it.
    pub fn job_log(&self, job: &str) -> Option<String> {
        self.cluster.job(job).map(|j| j.log_text())
    }

    /// The ids of all jobs, in the order they were added.
    pub fn job_ids(&self) -> Vec<String> {
        self.cluster
            .jobs()
            .iter()
            .map(|j| j.id.as_str().to_owned())
            .collect()
    }

    /// Adds a node.
    pub fn add_node(&self, node: Value) {
        lock(&self.cluster.nodes).push(node);
    }

    /// Adds a task.
    pub fn add_task(&self, task: Value) {
        lock(&self.cluster.tasks).push(task);
    }

    /// Adds a Serve application.
    pub fn add_serve_application(&self, app: Value) {
        lock(&self.cluster.serve_apps).push(app);
    }

    /// The Serve applications' names.
    pub fn serve_application_names(&self) -> Vec<String> {
        lock(&self.cluster.serve_apps)
            .iter()
            .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Adds a plugin release `plugin@version`; returns it with its id.
    pub fn add_plugin_release(&self, plugin: &str, version: &str) -> Value {
        self.cluster.add_release(release_json(plugin, version))
    }

    /// The plugin releases.
    pub fn plugin_releases(&self) -> Vec<Value> {
        lock(&self.cluster.releases).clone()
    }

    /// Answers `gpu_status/` with `status` (`None`: computed from the nodes).
    pub fn set_gpu_status(&self, status: Option<Value>) {
        *lock(&self.cluster.gpu_status) = status;
    }

    /// Answers `health/` with `health`.
    pub fn set_health(&self, health: Value) {
        *lock(&self.cluster.health) = health;
    }
}
