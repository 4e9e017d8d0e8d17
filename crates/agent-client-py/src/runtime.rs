//! The module's tokio runtime, and the two ways Python waits on it.
//!
//! - [`wait`] (blocking calls and sync tails): the calling thread drives the future
//!   with the GIL released, in slices of [`SIGNAL_SLICE`]; between slices it takes the
//!   GIL back and runs `check_signals()`, so Ctrl-C interrupts any wait within about
//!   that long. The interrupted future is dropped, which closes its connection.
//!   (`check_signals` only sees signals on the main thread, which is where Python
//!   delivers them.)
//! - [`awaitable`] (the async client): the future runs as a task of the runtime and
//!   completes an asyncio future through `loop.call_soon_threadsafe`; cancelling the
//!   asyncio future aborts the task ([`CancelTask`]), which drops it.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

/// How long a blocking wait runs without the GIL before it checks for signals.
pub const SIGNAL_SLICE: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The runtime every client of this process shares, started on first use.
pub fn runtime() -> PyResult<&'static Runtime> {
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("agent-client")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    rt.as_ref().map_err(|e| {
        PyRuntimeError::new_err(format!("agent_client: could not start its runtime: {e}"))
    })
}

/// Runs `fut` to completion on the calling thread with the GIL released, checking for
/// signals every [`SIGNAL_SLICE`]. A raised signal (`KeyboardInterrupt`) drops the
/// future and comes back as the error.
pub fn wait<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    let mut fut = std::pin::pin!(fut);
    loop {
        let slice = py.detach(|| {
            rt.block_on(async { tokio::time::timeout(SIGNAL_SLICE, fut.as_mut()).await })
        });
        match slice {
            Ok(out) => return Ok(out),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// What a task hands back to Python; converted with the GIL held.
pub type Convert = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// An asyncio future of the running event loop that `fut` completes.
///
/// `fut` runs as a task of the module's runtime; its output is converted to Python
/// objects once it is done (with the GIL), and set on the asyncio future from the
/// loop's own thread. Cancelling the asyncio future aborts the task.
pub fn awaitable<'py, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Convert> + Send + 'static,
{
    let rt = runtime()?;
    let event_loop = py
        .import("asyncio")?
        .call_method0("get_running_loop")?
        .unbind();
    let py_fut = event_loop.bind(py).call_method0("create_future")?;
    let target = py_fut.clone().unbind();
    let task = rt.spawn(async move {
        let convert = fut.await;
        Python::attach(|py| {
            let (exc, value) = match convert(py) {
                Ok(v) => (py.None(), v),
                Err(e) => (e.into_value(py).into_any(), py.None()),
            };
            let done = (|| -> PyResult<()> {
                let complete = py
                    .import("agent_client._native")?
                    .getattr("complete_future")?;
                event_loop.bind(py).call_method1(
                    "call_soon_threadsafe",
                    (complete, target.bind(py), exc, value),
                )?;
                Ok(())
            })();
            // The loop is closed: nobody is waiting for the answer any more.
            drop(done);
        });
    });
    let cancel = CancelTask {
        handle: task.abort_handle(),
    };
    py_fut.call_method1("add_done_callback", (cancel,))?;
    Ok(py_fut)
}

/// Sets an asyncio future's result or exception, unless it is already done (it was
/// cancelled meanwhile). Called on the event loop's thread.
#[pyfunction]
pub fn complete_future(
    fut: &Bound<'_, PyAny>,
    exc: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    if fut.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if exc.is_none() {
        fut.call_method1("set_result", (value,))?;
    } else {
        fut.call_method1("set_exception", (exc,))?;
    }
    Ok(())
}

/// The done-callback of an asyncio future made by [`awaitable`]: aborts the task when
/// the future was cancelled (the task's future is dropped, closing its connection).
#[pyclass(frozen)]
pub struct CancelTask {
    handle: AbortHandle,
}

#[pymethods]
impl CancelTask {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0("cancelled")?.is_truthy()? {
            self.handle.abort();
        }
        Ok(())
    }
}
