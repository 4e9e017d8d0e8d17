//! A real agent API server for tests: HTTP + WebSocket on loopback, answering from an
//! in-memory Ray-like cluster, with faults on demand and a journal of every request.
//!
//! The cluster and its server are `agent-sample`'s (what agentctl's embedded agent and
//! the Python package run, without faults); this crate adds the test code on top: the
//! HTTP faults and the journal (a request hook), the tail faults (agent-sample's
//! `faults` feature), the recording proxy, and the attacks of [`attack`].
//!
//! Two layers:
//! - [`serve`]: the protocol-serving layer (routing with validated ids, token check,
//!   JSON answers, the WebSocket and HTTP log tails, graceful shutdown) in front of any
//!   [`serve::AgentBackend`]: the `agent-server` crate, re-exported here
//!   (`agent-gateway` serves a real Ray cluster with it, without the test kit);
//! - [`AgentTestServer`]: that layer on the in-memory cluster, built with
//!   [`AgentTestServer::builder`] (or the [`AgentTestServer::sample`] cluster), changed
//!   at run time through its [`TestHandle`], misbehaving on demand with [`Fault`]s and
//!   [`TailFault`]s.
//!
//! ```
//! use agent_testkit::{AgentTestServer, Fault, JobSpec, RouteKind};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tokio::runtime::Runtime::new()?.block_on(async {
//!     let server = AgentTestServer::builder()
//!         .token("secret")
//!         .prefix("/agent/")
//!         .job(JobSpec::new("raysubmit_1").generate(100, 80).rate(1000.0))
//!         .fault(RouteKind::ListJobs, Fault::status(503).header("Retry-After", "1").times(1))
//!         .build()
//!         .await?;
//!     let url = server.url(); // http://127.0.0.1:PORT/agent/
//!     assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/agent/"));
//!     assert!(server.ws_url().starts_with("ws://127.0.0.1:"));
//!     assert_eq!(server.token(), "secret");
//!
//!     // change it while it runs
//!     server.append_lines("raysubmit_1", ["a line written by the test"]);
//!     server.set_fault(RouteKind::GetJob, Fault::delay(Duration::from_millis(10)));
//!     assert!(server.journal().is_empty());
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # URLs
//!
//! Every path of the spec's table under [`AgentTestServer::url`]: `health/`, `jobs/`,
//! `jobs/{id}/`, `jobs/{id}/logs/` (JSON string; a WebSocket tail with an upgrade, at
//! [`AgentTestServer::ws_url`]), `jobs/{id}/logs/stream/`, `jobs/{id}/stop/`,
//! `gpu_status/`, `nodes/`, `nodes/{id}/`, `tasks/`, `tasks/{id}/`,
//! `serve_applications/`, `serve_applications/{name}/`, `plugin_releases/`,
//! `plugin_releases/{lookup}/`, `plugin_releases/{lookup}/run/`,
//! `plugin_releases/run_debug/`. The trailing slash is optional.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod attack;
mod fault;
mod journal;
mod proxy;
pub mod ray;
pub mod suite;
mod testserver;
mod util;

/// The sample cluster (agent-sample's): its jobs, nodes, tasks, Serve application and
/// plugin release, by id.
pub use agent_sample::sample;

/// The protocol-serving layer: the `agent-server` crate, re-exported so that
/// `agent_testkit::serve::...` paths keep working.
pub use agent_server as serve;

/// An error of the testkit itself (agent-sample's: starting or changing the server).
pub type TestkitError = agent_sample::SampleError;
pub use agent_sample::{
    generated_line, JobSpec, LineSource, Outcome, RunHook, RunRequest, SampleHandle, TailFault,
    TailFaultKind,
};
pub use fault::{Fault, FaultTarget};
pub use journal::{JournalEntry, JournalLimits};
pub use proxy::{ProxiedRequest, RecordingProxy};
pub use serve::{Limits, MetricsAccess, RouteKind, TailProtocol, TlsFiles};
pub use testserver::{
    AgentTestServer, AgentTestServerBuilder, BlockingTestServer, TestHandle, DEFAULT_TOKEN,
};
