//! [`AgentTestServer`]: agent-sample's server on the in-memory cluster, with a journal
//! of every request and faults on demand.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use agent_sample::{
    BlockingSampleServer, SampleHandle, SampleServer, SampleServerBuilder, TailFault,
};
use serde_json::Value;

use crate::fault::{Fault, FaultTarget};
use crate::journal::{JournalEntry, JournalLimits, TestHook};
use crate::serve::{Limits, MetricsAccess, RouteKind, TlsFiles};
use crate::JobSpec;
use crate::{RunRequest, TestkitError};

/// The token of a server whose builder sets none.
pub use agent_sample::DEFAULT_TOKEN;

/// Builds an [`AgentTestServer`]: its token, prefix, cluster content and faults.
///
/// ```
/// use agent_testkit::{AgentTestServer, Fault, JobSpec, RouteKind};
/// use serde_json::json;
///
/// let builder = AgentTestServer::builder()
///     .token("t")
///     .prefix("/agent/")
///     .job(JobSpec::new("raysubmit_1").lines(["hello"]))
///     .node(json!({"node_id": "n1", "node_ip": "10.0.0.1", "is_head_node": true, "state": "ALIVE"}))
///     .plugin_release("demo", "1.0.0")
///     .fault(RouteKind::ListJobs, Fault::status(503).header("Retry-After", "1").times(1));
/// # let _ = builder;
/// ```
#[must_use = "a builder does nothing until built"]
#[derive(Debug, Default)]
pub struct AgentTestServerBuilder {
    /// The server without its test code: the cluster and how it is served.
    sample: SampleServerBuilder,
    journal_limits: JournalLimits,
    journal_refused: bool,
    faults: Vec<(FaultTarget, Fault)>,
}

/// Builder methods that only pass a setting on to agent-sample's builder.
macro_rules! pass_on {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $($arg: $ty),*) -> Self {
                self.sample = self.sample.$name($($arg),*);
                self
            }
        )*
    };
}

impl AgentTestServerBuilder {
    pass_on! {
        /// The agent token requests must carry as `Authorization: <token>`
        /// (default [`DEFAULT_TOKEN`]). An empty or whitespace token makes
        /// [`AgentTestServerBuilder::build`] fail with [`TestkitError::InvalidToken`].
        token(token: impl Into<String>);
        /// The server's bounds: body sizes, time-outs, the connection cap, the WebSocket
        /// frame cap (default [`Limits::default`], as a production server has them).
        limits(limits: Limits);
        /// Who may read `/metrics` (default [`MetricsAccess::Public`]).
        metrics(access: MetricsAccess);
        /// Serves `https://` and `wss://` with these PEM files (optionally requiring
        /// client certificates; reloaded when they change): see [`TlsFiles`].
        tls(files: TlsFiles);
        /// Serves the API under a path prefix, e.g. `/agent/` (default `/`).
        prefix(prefix: impl Into<String>);
        /// Listens on `addr` (default `127.0.0.1:0`, a free port).
        listen(addr: SocketAddr);
        /// How long [`AgentTestServer::shutdown`] lets open requests finish (default 500 ms).
        grace(grace: Duration);
        /// How long an HTTP tail may stay quiet before the server sends a blank line
        /// (default 1 s; see [`crate::serve::ServeOptions::heartbeat`]).
        heartbeat(heartbeat: Duration);
        /// Adds a job.
        job(job: JobSpec);
        /// Adds a node (an object with at least `node_id`, as Ray's State API gives it).
        node(node: Value);
        /// Adds a task (an object with at least `task_id`).
        task(task: Value);
        /// Adds a Serve application (an object with at least `name`).
        serve_application(app: Value);
        /// Adds a plugin release `plugin@version` (its id is the next free number).
        plugin_release(plugin: &str, version: &str);
        /// Adds a plugin release as a JSON object (`id`, `plugin`, `code`, `version`, ...).
        plugin_release_json(release: Value);
        /// Answers `gpu_status/` with this (default: computed from the nodes' `GPU` resources).
        gpu_status(status: Value);
        /// Answers `health/` with this (default `{"status":"ok","ray_version":"2.60.0",...}`).
        health(health: Value);
        /// Arms a tail fault for the tails of every job (see [`JobSpec::tail_fault`] for one job).
        tail_fault(fault: TailFault);
    }

    /// How much of the request journal is kept (default [`JournalLimits::default`]).
    pub fn journal_limits(mut self, limits: JournalLimits) -> Self {
        self.journal_limits = limits;
        self
    }

    /// Also journals the requests refused for their token (default: no), with their
    /// head only: for a test of what a client sends when its token is wrong. Off by
    /// default, so that requests without the token cannot crowd the journal.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), agent_testkit::TestkitError> {
    /// use agent_testkit::AgentTestServer;
    ///
    /// let server = AgentTestServer::sample().journal_refused(true).build().await?;
    /// # drop(server);
    /// # Ok(())
    /// # }
    /// ```
    pub fn journal_refused(mut self, yes: bool) -> Self {
        self.journal_refused = yes;
        self
    }

    /// Arms an HTTP fault for the requests `target` names (a [`RouteKind`] converts).
    pub fn fault(mut self, target: impl Into<FaultTarget>, fault: Fault) -> Self {
        self.faults.push((target.into(), fault));
        self
    }

    /// Makes the job that `run/` and `run_debug/` start (default: five realistic lines,
    /// then success). The returned spec's id is replaced by [`RunRequest::job_id`].
    pub fn on_run<F>(mut self, make_job: F) -> Self
    where
        F: Fn(&RunRequest) -> JobSpec + Send + Sync + 'static,
    {
        self.sample = self.sample.on_run(make_job);
        self
    }

    /// The sample builder with the journal and the HTTP faults hooked in.
    fn hooked(self) -> (SampleServerBuilder, Arc<TestHook>) {
        let hook = Arc::new(TestHook::new(self.journal_limits, self.journal_refused));
        for (target, fault) in self.faults {
            hook.add_fault(target, fault);
        }
        (self.sample.hook(hook.clone()), hook)
    }

    /// Starts the server on the current tokio runtime.
    pub async fn build(self) -> Result<AgentTestServer, TestkitError> {
        let (sample, hook) = self.hooked();
        let server = sample.build().await?;
        Ok(AgentTestServer {
            handle: TestHandle {
                sample: server.handle(),
                hook,
            },
            server,
        })
    }

    /// Starts the server on a thread of its own with its own runtime, for blocking
    /// tests; see [`AgentTestServer::start_blocking`].
    pub fn start_blocking(self) -> Result<BlockingTestServer, TestkitError> {
        AgentTestServer::start_blocking(self)
    }
}

/// A running test server: a real HTTP + WebSocket agent on loopback answering from an
/// in-memory cluster.
///
/// It dereferences to its [`TestHandle`], so `server.journal()`,
/// `server.append_lines(...)`, `server.set_fault(...)` work on it directly. Dropping it
/// stops everything at once (connections, tails, jobs); many can run in one test binary.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use agent_testkit::{AgentTestServer, JobSpec};
///
/// let server = AgentTestServer::builder()
///     .job(JobSpec::new("raysubmit_1").lines(["hello"]))
///     .build()
///     .await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// server.append_lines("raysubmit_1", ["one more"]);
/// assert_eq!(server.job_log_len("raysubmit_1"), Some(2));
/// # Ok::<(), agent_testkit::TestkitError>(())
/// # }).unwrap();
/// ```
pub struct AgentTestServer {
    server: SampleServer,
    handle: TestHandle,
}

impl std::fmt::Debug for AgentTestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentTestServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl AgentTestServer {
    /// An empty cluster (no jobs, nodes, ...), token [`DEFAULT_TOKEN`], served at `/`.
    pub fn builder() -> AgentTestServerBuilder {
        AgentTestServerBuilder::default()
    }

    /// A sample cluster: jobs in every state with real Ray logs, a job that keeps
    /// printing slowly, two nodes (one with a GPU), four tasks, the Serve app `hello`
    /// and the plugin release `demo@1.0.0`. See [`crate::sample`].
    pub fn sample() -> AgentTestServerBuilder {
        AgentTestServerBuilder {
            sample: SampleServer::sample(),
            ..AgentTestServerBuilder::default()
        }
    }

    /// Starts `builder`'s server on a new thread with its own runtime, for tests that
    /// use a blocking client. Dropping the result stops the server and joins the thread.
    pub fn start_blocking(
        builder: AgentTestServerBuilder,
    ) -> Result<BlockingTestServer, TestkitError> {
        let (sample, hook) = builder.hooked();
        let server = sample.start_blocking()?;
        Ok(BlockingTestServer {
            handle: TestHandle {
                sample: server.handle(),
                hook,
            },
            server,
        })
    }

    /// The base URL: `http://127.0.0.1:PORT/` (`https://` with TLS) plus the prefix
    /// (ends with `/`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The WebSocket base URL: `ws://127.0.0.1:PORT/` (`wss://` with TLS) plus the
    /// prefix.
    pub fn ws_url(&self) -> String {
        self.server.ws_url()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The agent token.
    pub fn token(&self) -> &str {
        self.server.token()
    }

    /// A handle to change the cluster, arm faults and read the journal; it can be
    /// cloned and moved to other tasks or threads.
    pub fn handle(&self) -> TestHandle {
        self.handle.clone()
    }

    /// Stops accepting, lets open requests finish for the grace period, then stops
    /// everything. When this returns, the port is closed.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

impl Deref for AgentTestServer {
    type Target = TestHandle;

    fn deref(&self) -> &TestHandle {
        &self.handle
    }
}

/// A test server on a thread of its own (see [`AgentTestServer::start_blocking`]).
/// Dereferences to its [`TestHandle`]; dropping it stops the server and joins the thread.
///
/// ```
/// use agent_testkit::{AgentTestServer, JobSpec};
///
/// let server = AgentTestServer::builder()
///     .job(JobSpec::new("raysubmit_1").lines(["hello"]))
///     .start_blocking()?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// assert_eq!(server.journal().len(), 0);
/// # Ok::<(), agent_testkit::TestkitError>(())
/// ```
pub struct BlockingTestServer {
    server: BlockingSampleServer,
    handle: TestHandle,
}

impl std::fmt::Debug for BlockingTestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingTestServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl BlockingTestServer {
    /// The base URL: `http://127.0.0.1:PORT/` plus the prefix.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The WebSocket base URL: `ws://127.0.0.1:PORT/` plus the prefix.
    pub fn ws_url(&self) -> String {
        self.server.ws_url()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The agent token.
    pub fn token(&self) -> &str {
        self.server.token()
    }

    /// A handle to change the cluster, arm faults and read the journal.
    pub fn handle(&self) -> TestHandle {
        self.handle.clone()
    }
}

impl Deref for BlockingTestServer {
    type Target = TestHandle;

    fn deref(&self) -> &TestHandle {
        &self.handle
    }
}

/// Changes a running test server: jobs and their logs, cluster content and tail
/// faults (agent-sample's [`SampleHandle`], to which it dereferences), HTTP faults; and
/// reads its request journal. Cheap to clone; usable from any thread.
///
/// Methods naming a job return `false` (or `None`) when there is no such job.
#[derive(Clone)]
pub struct TestHandle {
    sample: SampleHandle,
    hook: Arc<TestHook>,
}

impl std::fmt::Debug for TestHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHandle").finish_non_exhaustive()
    }
}

impl TestHandle {
    /// Every request received so far, in arrival order.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.hook.journal()
    }

    /// The requests of one route received so far.
    pub fn requests(&self, route: RouteKind) -> Vec<JournalEntry> {
        self.journal()
            .into_iter()
            .filter(|e| e.route == Some(route))
            .collect()
    }

    /// Forgets the requests received so far.
    pub fn clear_journal(&self) {
        self.hook.clear_journal();
    }

    /// Arms an HTTP fault for the requests `target` names. Faults are tried in the
    /// order they were armed; the first that matches and has uses left applies.
    pub fn set_fault(&self, target: impl Into<FaultTarget>, fault: Fault) {
        self.hook.add_fault(target.into(), fault);
    }

    /// Disarms every HTTP fault.
    pub fn clear_faults(&self) {
        self.hook.clear_faults();
    }
}

impl Deref for TestHandle {
    type Target = SampleHandle;

    fn deref(&self) -> &SampleHandle {
        &self.sample
    }
}
