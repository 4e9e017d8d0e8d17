//! `agent_client._native`: the Rust core of the Python package `agent_client`.
//!
//! The Python package (`python/agent_client/`) carries synapse-sdk's API by the same
//! names, arguments and defaults (`AgentClient`, `AsyncAgentClient`, `StreamLimits`,
//! `agent_client.exceptions`); this module is what it calls:
//!
//! - [`client::Core`]: one [`agent_client_async::AsyncAgentClient`] with blocking
//!   methods (the GIL is released while they wait, and Ctrl-C interrupts them) and
//!   awaitable ones (asyncio futures completed from the module's tokio runtime);
//! - [`tail::Tail`]: a log tail handing lines to Python in batches;
//! - [`testing::TestServer`]: the testkit's sample cluster, served in-process;
//! - [`errors`]: every `ClientError` becomes the exception class of
//!   `agent_client.exceptions` that synapse-sdk raises for it, with `status_code`.
//!
//! One multi-thread tokio runtime per process, owned by the module
//! ([`runtime::runtime`]), runs every connection of every client; a client made
//! before `os.fork()` raises a clear `ClientError` in the child ([`fork`]).
//!
//! The workspace's `unsafe_code = "forbid"` holds here too: the `unsafe` FFI glue
//! that `#[pymodule]`, `#[pyclass]` and `#[pymethods]` expand to carries the macros'
//! spans, which the lint does not look into, and this crate writes no `unsafe` of
//! its own, so no allowance is needed.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod convert;
pub mod errors;
pub mod fork;
pub mod long_poll;
pub mod operations;
pub mod runtime;
pub mod tail;
pub mod testing;

use pyo3::prelude::*;

/// The extension module `agent_client._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Core>()?;
    m.add_class::<tail::Tail>()?;
    m.add_class::<testing::TestServer>()?;
    m.add_class::<runtime::CancelTask>()?;
    m.add_function(wrap_pyfunction!(runtime::complete_future, m)?)?;
    m.add("ERROR_CLASSES", errors::error_classes())?;
    m.add("OPERATIONS", operations::table())?;
    // Runtime threads must be out of Python before the interpreter finalizes, and a
    // forked child starts with none inside (see `runtime`).
    let at_exit = wrap_pyfunction!(runtime::at_exit, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (at_exit,))?;
    let after_fork = wrap_pyfunction!(runtime::after_fork_in_child, m)?;
    let kwargs = pyo3::types::PyDict::new(m.py());
    kwargs.set_item("after_in_child", after_fork)?;
    let os = m.py().import("os")?;
    // POSIX only (there is no fork elsewhere).
    if os.hasattr("register_at_fork")? {
        os.call_method("register_at_fork", (), Some(&kwargs))?;
    }
    Ok(())
}
