//! Types of the agent API, shared by every other crate of the client.
//!
//! - [`ClientError`]: the one error type, a status code on every variant;
//! - validated path segments ([`JobId`], [`NodeId`], [`TaskId`], [`ServeAppName`],
//!   [`PluginLookup`]): a caller's id can never change the URL;
//! - [`Secret`]: a token that never prints;
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

pub mod config;
pub mod error;
pub mod error_kind;
pub mod id;
pub mod models;
pub mod query;
pub mod secret;

pub use config::{
    validate_stream_timeout, Protocol, StreamLimits, TailOptions, Timeouts, MAX_STREAM_TIMEOUT,
};
pub use error::{
    ClientError, ErrorSource, LimitKind, Result, TimeoutKind, ValidationDetail, REQUEST_REFUSALS,
    TRANSIENT_STATUSES,
};
pub use error_kind::ErrorKind;
pub use id::{JobId, NodeId, PluginLookup, ServeAppName, TaskId};
pub use models::{
    CreatePluginRelease, GpuStatus, Health, Job, JobStatus, Node, Page, PluginRelease,
    RunDebugPluginRelease, RunPluginRelease, ServeApplication, StopJobResponse, Task,
};
pub use secret::Secret;
