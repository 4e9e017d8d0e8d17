//! Types of the agent API, shared by every other crate of the client.
//!
//! - [`ClientError`]: the one error type, a status code on every variant;
//! - validated path segments ([`JobId`], [`NodeId`], [`TaskId`], [`ServeAppName`],
//!   [`PluginLookup`]): a caller's id can never change the URL;
//! - [`Secret`]: a token that never prints;
//! - [`api`]: every operation of the agent API, described once and without I/O
//!   (method, path, body and answer types, idempotence), both ways: requests to
//!   build and requests to route;
//! - [`query`]: query strings encoded and decoded, and the links of paged answers;
//! - settings: [`StreamLimits`], [`Protocol`], [`Timeouts`], [`TailOptions`];
//! - typed models of the agent's answers ([`Job`], [`Node`], [`Task`], ...), which
//!   keep unknown fields in `extra`.
//!
//! ```
//! use agent_proto::{JobId, Protocol, TailOptions};
//!
//! let id = JobId::new("raysubmit_abc123")?;
//! let opts = TailOptions::new().protocol("http".parse::<Protocol>()?);
//! assert_eq!(id.as_str(), "raysubmit_abc123");
//! assert_eq!(opts.protocol, Protocol::Http);
//! # Ok::<(), agent_proto::ClientError>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod config;
pub mod error;
pub mod error_kind;
pub mod id;
pub mod models;
pub mod query;
pub mod secret;

pub use config::{
    lines_in, validate_stream_timeout, Protocol, StreamLimits, TailOptions, TailStart, Timeouts,
    MAX_STREAM_TIMEOUT,
};
pub use error::{
    error_chain, find_source, ClientError, ErrorSource, LimitKind, Result, TimeoutKind,
    ValidationDetail, REQUEST_REFUSALS, TRANSIENT_STATUSES,
};
pub use error_kind::ErrorKind;
pub use id::{
    BuildId, ContainerId, DockerContainerId, JobId, NodeId, PluginLookup, ServeAppName, TaskId,
};
pub use models::{
    BuildStatus, ClusterResources, ComposeConfig, Container, CreateContainer,
    CreateDockerContainer, CreatePluginRelease, DockerContainer, Feasibility, FeasibilityRequest,
    GatekeepingPolicy, GpuDevice, GpuStatus, GpuSummary, Health, Job, JobStatus, Node, NodeCounts,
    NodeResource, Page, PluginFile, PluginRelease, ResourceCounter, RunDebugPluginRelease,
    RunPluginRelease, RuntimePolicy, ServeApplication, StopJobResponse, SystemOperation,
    SystemStatus, Task, UpdateContainer, UpdateSystem,
};
pub use secret::Secret;
