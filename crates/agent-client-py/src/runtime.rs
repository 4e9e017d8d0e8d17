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
//!
//! Two process-level hazards are handled here:
//!
//! - **Interpreter exit.** A runtime thread that is inside Python (completing an
//!   asyncio future) when the interpreter finalizes is ended by CPython with
//!   `pthread_exit`, which cannot unwind through Rust frames: the process aborts
//!   (seen as `SIGABRT` after an async tail's last line, on a loaded machine). So
//!   runtime threads enter Python only through [`PythonEntry`], and [`at_exit`]
//!   (registered with `atexit`, which runs before finalization) closes that door and
//!   waits for the threads already inside.
//! - **fork.** A child has none of the parent's runtime threads: [`runtime`] starts
//!   a fresh runtime in each process, and objects of the parent refuse to work in
//!   the child ([`crate::fork`]).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

/// How long a blocking wait runs without the GIL before it checks for signals.
pub const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// How long interpreter exit waits for runtime threads to leave Python.
pub const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The runtime of this process and its pid. Leaked on purpose: a runtime lives as
/// long as its process, and a parent's runtime must never be dropped in a forked
/// child (its drop would wait for worker threads that do not exist there).
///
/// Every caller holds the GIL, and so does `os.fork()`: the lock is never held by
/// another thread at the moment of a fork.
static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The runtime every client of this process shares, started on first use (and
/// again, fresh, in a child after `fork()`).
pub fn runtime() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, rt)) = *slot {
        if owner == pid {
            return Ok(rt);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("agent-client")
        .enable_all()
        .build()
        .map_err(|e| {
            PyRuntimeError::new_err(format!("agent_client: could not start its runtime: {e}"))
        })?;
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// Set once the interpreter exits: runtime threads no longer enter Python.
static EXITING: AtomicBool = AtomicBool::new(false);
/// Runtime threads inside Python now.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// A runtime thread's permission to enter Python, held while it is inside.
pub struct PythonEntry(());

impl PythonEntry {
    /// `None` once the interpreter is exiting (the caller must not touch Python).
    ///
    /// Counting first and checking second (both `SeqCst`), against [`at_exit`]
    /// setting the flag first and reading the count second: either the thread sees
    /// the flag and backs out, or `at_exit` sees the thread and waits for it.
    pub fn enter() -> Option<PythonEntry> {
        INSIDE.fetch_add(1, Ordering::SeqCst);
        if EXITING.load(Ordering::SeqCst) {
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(PythonEntry(()))
    }
}

impl Drop for PythonEntry {
    fn drop(&mut self) {
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Registered with `atexit`: runtime threads stop entering Python, and those inside
/// get up to [`EXIT_GRACE`] to leave (with the GIL released, which they may need).
#[pyfunction]
pub fn at_exit(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + EXIT_GRACE;
        while INSIDE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registered with `os.register_at_fork(after_in_child=...)`: a thread that was
/// inside Python at the fork does not exist in the child, so nothing is inside.
#[pyfunction]
pub fn after_fork_in_child() {
    INSIDE.store(0, Ordering::SeqCst);
    EXITING.store(false, Ordering::SeqCst);
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
        // The interpreter is exiting: nobody will read the answer (the Python
        // objects held here are released by pyo3 without the GIL).
        let Some(_inside) = PythonEntry::enter() else {
            return;
        };
        // `move`: the loop and the future are released here, with the GIL held. A
        // `Py` dropped without it waits in pyo3's pool for the next call into the
        // extension, and until then this asyncio future keeps its result alive (a
        // log tail, whose connection then stayed open after the caller's `break`).
        Python::attach(move |py| {
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
