//! [`Tail`]: a log tail, handing lines to Python a batch at a time.
//!
//! One call of `next_batch` is one [`LogTail::poll_next_batch`]: every line that is
//! ready (waiting only when none is), up to the tail's `queue_size`, so crossing
//! into Python costs one wait per batch, not per line; the Python iterators then
//! hand the lines out one by one. The lines are read and decoded in that call, on
//! the runtime's thread, straight into the batch.
//!
//! Lines taken from the stream are kept in the tail's own state until they are
//! handed over, so a wait interrupted by Ctrl-C or a cancelled `await` loses none.
//! Dropping (or closing) the tail drops the [`LogTail`], which closes its connection.

use std::future::poll_fn;
use std::sync::Arc;

use agent_client_async::{AsyncAgentClient, ClientError, LogTail, TailOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::sync::Mutex;

use crate::errors::to_pyerr;
use crate::fork::ForkOwned;
use crate::runtime::{awaitable, wait, Convert};

/// Opens the tail (the request and its answer happen here; errors such as 404 come
/// back from this).
pub async fn open_tail(
    client: AsyncAgentClient,
    job_id: String,
    options: TailOptions,
) -> Result<Tail, ClientError> {
    let tail = client.tail_job_logs(job_id, options).await?;
    Ok(Tail {
        state: ForkOwned::new(Arc::new(Mutex::new(State {
            tail: Some(tail),
            pending: Vec::new(),
            error: None,
        }))),
    })
}

struct State {
    /// `None` once the stream ended or the tail was closed.
    tail: Option<LogTail>,
    /// Lines taken from the stream, not handed over yet.
    pending: Vec<String>,
    /// The error that ended the stream, raised after `pending` went out.
    error: Option<ClientError>,
}

/// What one `next_batch` hands over.
enum Batch {
    Lines(Vec<String>),
    End,
    Failed(ClientError),
}

impl State {
    /// Waits until a line, the end or an error is there, then takes every line
    /// that is ready too. Cancel-safe: what was taken stays in `pending`.
    async fn fill(&mut self) {
        let State {
            tail,
            pending,
            error,
        } = self;
        let Some(stream) = tail.as_mut() else {
            return;
        };
        let max = stream.queue_size();
        match poll_fn(|cx| stream.poll_next_batch(cx, pending, max)).await {
            Some(Ok(())) => return,
            Some(Err(e)) => *error = Some(e),
            None => {}
        }
        *tail = None;
    }

    async fn next_batch(&mut self) -> Batch {
        if self.pending.is_empty() && self.error.is_none() {
            self.fill().await;
        }
        if !self.pending.is_empty() {
            return Batch::Lines(std::mem::take(&mut self.pending));
        }
        match self.error.take() {
            Some(e) => Batch::Failed(e),
            None => Batch::End,
        }
    }
}

fn batch_to_py(py: Python<'_>, batch: Batch) -> PyResult<Py<PyAny>> {
    match batch {
        Batch::Lines(lines) => Ok(lines.into_pyobject(py)?.into_any().unbind()),
        Batch::End => Ok(py.None()),
        Batch::Failed(e) => Err(to_pyerr(py, e)),
    }
}

/// An open log tail. `next_batch()` returns the next lines as a `list[str]` (never
/// empty), `None` at the end of the log, or raises the error that ended it.
#[pyclass(frozen, module = "agent_client._native")]
pub struct Tail {
    /// Refuses to work in a forked child (see [`crate::fork`]).
    state: ForkOwned<Arc<Mutex<State>>>,
}

impl Tail {
    fn state(&self, py: Python<'_>) -> PyResult<Arc<Mutex<State>>> {
        self.state
            .get()
            .map(Arc::clone)
            .map_err(|e| to_pyerr(py, e))
    }
}

#[pymethods]
impl Tail {
    /// The next lines; waits (GIL released, Ctrl-C honoured) while none is there.
    fn next_batch(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.state(py)?;
        let batch = wait(py, async move { state.lock().await.next_batch().await })?;
        batch_to_py(py, batch)
    }

    /// [`Tail::next_batch`], as an awaitable; cancelling it loses no line.
    fn next_batch_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state(py)?;
        awaitable(py, async move {
            let batch = state.lock().await.next_batch().await;
            Box::new(move |py: Python<'_>| batch_to_py(py, batch)) as Convert
        })
    }

    /// Closes the tail now (its connection closes); later batches are `None`.
    /// In a forked child it does nothing: the connection is the parent's.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(state) = self.state.get_local().map(Arc::clone) else {
            return Ok(());
        };
        wait(py, async move {
            let mut st = state.lock().await;
            st.tail = None;
            st.pending.clear();
            st.error = None;
        })
    }

    /// What the tail received so far: `delivered`, `skipped_oversized`, `replayed`,
    /// and `protocol` (`websocket` or `http`; `None` once closed).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = self.state(py)?;
        let (counters, protocol) = wait(py, async move {
            let st = state.lock().await;
            match &st.tail {
                Some(t) => (Some(t.counters()), Some(t.protocol_used().as_str())),
                None => (None, None),
            }
        })?;
        let d = PyDict::new(py);
        if let Some(c) = counters {
            d.set_item("delivered", c.delivered)?;
            d.set_item("skipped_oversized", c.skipped_oversized)?;
            d.set_item("replayed", c.replayed)?;
        }
        d.set_item("protocol", protocol)?;
        Ok(d)
    }
}
