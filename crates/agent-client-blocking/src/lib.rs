//! `AgentClient`: the blocking client of the agent API.
//!
//! The same operations as [`agent_client_async::AsyncAgentClient`], with the same
//! names, for code that is not async: health, jobs (list, get, logs, stop, and log
//! tails as an iterator), nodes, tasks, Ray Serve applications, plugin releases, GPU
//! status, and a raw request. Every failure is a [`ClientError`] with a status code.
//!
//! Like reqwest's blocking module, the client drives a private tokio runtime on a
//! thread of its own, which lives as long as the client (its clones share it). Unlike
//! it, a call made from inside an async runtime is refused with a clear error
//! instead of panicking or deadlocking.
//!
//! ```no_run
//! use agent_client_blocking::{AgentClient, ClientError, TailOptions};
//!
//! let client = AgentClient::new("https://agent.example.com", "your-agent-token")?;
//! println!("agent status: {:?}", client.health_check()?);
//! let jobs = client.list_jobs()?;
//! for line in client.tail_job_logs("raysubmit_abc123", TailOptions::new())? {
//!     println!("{}", line?);
//! }
//! match client.get_job("raysubmit_nope") {
//!     Err(e) if e.status_code() == 404 => println!("no such job"),
//!     other => println!("{other:?}"),
//! }
//! # let _ = jobs;
//! # Ok::<(), ClientError>(())
//! ```
//!
//! The guides (features, TLS and roots, proxies, errors, limits, retries,
//! time-outs, tracing, testing against `agent-testkit`, custom transports) are in
//! [`agent_client_async::guide`]; everything there holds for this client, with
//! the same builder methods, minus the `.await`. It has the same Cargo features:
//! `tls` and `webpki-roots` (default) and `native-roots`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod builder;
mod client;
mod platform;
mod runtime;
mod tail;

#[cfg(feature = "tls")]
pub use agent_client_async::Identity;
pub use agent_client_async::{Proxy, RawPath, RetryPolicy, StreamCounters, Transport};
// The same set as agent-client-async re-exports (tests/tests/reexports.rs checks it).
pub use agent_proto::{
    api, BuildId, BuildStatus, ClientError, ClusterResources, ComposeConfig, Container,
    ContainerId, CreateContainer, CreateDockerContainer, CreatePluginRelease, DockerContainer,
    DockerContainerId, ErrorSource, Feasibility, FeasibilityRequest, GatekeepingPolicy, GpuStatus,
    Health, Job, JobId, JobStatus, LimitKind, Node, NodeId, Page, PluginFile, PluginLookup,
    PluginRelease, Protocol, RunDebugPluginRelease, RunPluginRelease, RuntimePolicy, Secret,
    ServeAppName, ServeApplication, StopJobResponse, StreamLimits, SystemOperation, SystemStatus,
    TailOptions, TailStart, Task, TaskId, TimeoutKind, Timeouts, UpdateContainer, UpdateSystem,
    ValidationDetail,
};
pub use builder::ClientBuilder;
pub use client::AgentClient;
pub use tail::LogTailIter;

#[cfg(test)]
mod tests;
