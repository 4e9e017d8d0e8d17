//! `AsyncAgentClient`: the tokio client of the agent API.
//!
//! Health, jobs (list, get, logs, stop, and log tails over WebSocket or HTTP
//! streaming with `auto` fallback), nodes, tasks, Ray Serve applications, plugin
//! releases, GPU status, resources and policies, the system and its builds,
//! Docker and plugin containers (with waits that poll), every operation of
//! [`agent_proto::api`] through [`AsyncAgentClient::call`], and a raw request for
//! anything else. Every failure is an
//! [`agent_proto::ClientError`] with a status code.
//!
//! ```no_run
//! use agent_client_async::AsyncAgentClient;
//!
//! # async fn run() -> Result<(), agent_proto::ClientError> {
//! let client = AsyncAgentClient::new("https://agent.example.com", "your-agent-token")?;
//! let status = client.health_check().await?;
//! let jobs = client.list_jobs().await?;
//! # let _ = (status, jobs);
//! # Ok(()) }
//! ```
//!
//! The [`guide`] covers features, TLS and roots, proxies, errors, limits,
//! retries, time-outs, tracing, testing against `agent-testkit` and plugging in a
//! transport of your own.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod builder;
mod client;
pub mod guide;
mod path;
mod platform;
mod tail;

// The same set as agent-client-blocking re-exports (tests/tests/reexports.rs checks
// it), so that code moves between the two clients by changing one `use`.
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
pub use agent_stream::StreamCounters;
#[cfg(feature = "tls")]
pub use agent_transport::Identity;
pub use agent_transport::{Proxy, RetryPolicy, Transport};
pub use builder::ClientBuilder;
pub use client::AsyncAgentClient;
pub use path::RawPath;
pub use tail::LogTail;
