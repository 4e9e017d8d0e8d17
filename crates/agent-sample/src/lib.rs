//! The agent API's sample cluster, in-process: `agent-server` in front of an in-memory
//! Ray-like cluster whose jobs move on as time passes, filled with answers recorded on
//! a real Ray 2.60 cluster ([`sample`]).
//!
//! It is what agentctl's embedded agent and the Python package's
//! `agent_client.testing.TestServer` run: a server that keeps the protocol, with no
//! way to break it. Faults on demand, the request journal, the recording proxy and the
//! attack helpers are test code: they live in `agent-testkit`, built on this crate
//! (its `faults` feature adds the tail faults, which work inside the in-memory tails).
//!
//! ```
//! use agent_sample::{SampleServer, JobSpec};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tokio::runtime::Runtime::new()?.block_on(async {
//!     let server = SampleServer::sample()
//!         .token("secret")
//!         .job(JobSpec::new("raysubmit_1").lines(["hello"]))
//!         .build()
//!         .await?;
//!     assert!(server.url().starts_with("http://127.0.0.1:"));
//!     server.append_lines("raysubmit_1", ["a line written while it runs"]);
//!     assert_eq!(server.job_log_len("raysubmit_1"), Some(2));
//!     Ok(())
//! })
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod error;
#[cfg(feature = "faults")]
mod fault;
mod job;
mod memory;
pub mod sample;
mod server;
mod util;

/// The serving layer, under the name the moved modules use.
pub(crate) use agent_server as serve;

pub use agent_server::{Limits, MetricsAccess, TlsFiles};
pub use error::SampleError;
#[cfg(feature = "faults")]
pub use fault::{Armed, TailFault, TailFaultKind};
pub use job::{JobSpec, LineSource, Outcome};
pub use memory::cluster::{RunHook, RunRequest};
pub use memory::log::generated_line;
pub use server::{
    BlockingSampleServer, SampleHandle, SampleServer, SampleServerBuilder, DEFAULT_TOKEN,
};
