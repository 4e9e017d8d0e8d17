//! synapse-sdk's `long_poll_handler`: a Python object with `set_request(dict)` and
//! `get_response(id)`, put under a [`crate::client::Core`] as the Rust
//! [`LongPollTransport`](agent_transport::long_poll::LongPollTransport)'s handler.
//!
//! So the request dict, the error mapping, the time-out, the body cap and the
//! refusal of tails are the Rust transport's (one rule for Rust and Python); this
//! module only crosses into Python:
//! - each call runs on a blocking thread of the module's runtime, with the GIL
//!   taken there, so an `AsyncAgentClient` never blocks its event loop on a
//!   synchronous handler (the SDK's handlers are synchronous);
//! - the id `set_request` returns may be any Python object: it is kept as it is
//!   and given back to `get_response` as it is;
//! - `get_response` raising `TimeoutError` is a 408, as in the SDK; any other
//!   exception of the handler propagates to the caller unchanged (it travels
//!   inside the `ClientError` as its source, and [`crate::errors`] raises it
//!   again).
//!
//! A handler call cannot be interrupted from Rust: when the transport's time-out
//! runs out, the caller gets its 408 at once and the call goes on in its thread
//! until the handler returns.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_proto::{ClientError, TimeoutKind};
use agent_transport::long_poll::{LongPollHandler, LongPollRequest, LongPollResponse};
use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;

use crate::convert::to_py;
use crate::runtime::PythonEntry;

/// The most request ids kept between `set_request` and `get_response`.
pub const MAX_PENDING: usize = 10_000;

/// A Python long-poll handler as a [`LongPollHandler`].
pub struct PyLongPollHandler {
    handler: Arc<Py<PyAny>>,
    /// The client's read time-out, named in the 408 of a handler's `TimeoutError`.
    timeout: Duration,
    /// The Python ids of queued requests, by the key given to the transport (a
    /// counter, so the first key is the oldest). Bounded by [`MAX_PENDING`]: an id
    /// whose `get_response` never comes (its caller timed out while `set_request`
    /// still ran) is dropped once that many newer ones are queued.
    ids: Arc<Mutex<BTreeMap<u64, Py<PyAny>>>>,
    next: AtomicU64,
}

impl PyLongPollHandler {
    /// Wraps `handler`; it must have `set_request` and `get_response` (a
    /// `TypeError` otherwise, at once rather than at the first request).
    pub fn new(handler: &Bound<'_, PyAny>, timeout: Duration) -> PyResult<Self> {
        for method in ["set_request", "get_response"] {
            if !handler.getattr(method).is_ok_and(|m| m.is_callable()) {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "long_poll_handler must have a callable {method}()"
                )));
            }
        }
        Ok(PyLongPollHandler {
            handler: Arc::new(handler.clone().unbind()),
            timeout,
            ids: Arc::default(),
            next: AtomicU64::new(1),
        })
    }
}

impl fmt::Debug for PyLongPollHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyLongPollHandler").finish_non_exhaustive()
    }
}

/// Runs `call` with the GIL on a blocking thread of the runtime.
async fn in_python<T: Send + 'static>(
    call: impl FnOnce(Python<'_>) -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    let joined = tokio::task::spawn_blocking(move || {
        // The interpreter is exiting: do not enter it.
        let Some(_inside) = PythonEntry::enter() else {
            return Err(ClientError::Usage {
                message: "the Python interpreter is exiting".into(),
            });
        };
        Python::attach(call)
    })
    .await;
    joined.unwrap_or_else(|e| {
        Err(ClientError::Usage {
            message: format!("the long-poll handler's thread failed: {e}"),
        })
    })
}

/// A Python exception of the handler, carried to the caller unchanged.
fn raised(err: PyErr) -> ClientError {
    ClientError::protocol_with("the long_poll_handler raised an exception", err)
}

#[async_trait::async_trait]
impl LongPollHandler for PyLongPollHandler {
    async fn set_request(&self, request: LongPollRequest) -> Result<String, ClientError> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let handler = Arc::clone(&self.handler);
        let ids = Arc::clone(&self.ids);
        let dict = request.to_sdk_dict();
        in_python(move |py| {
            let dict = to_py(py, &dict).map_err(raised)?;
            let id = handler
                .bind(py)
                .call_method1("set_request", (dict,))
                .map_err(raised)?;
            let mut ids = ids.lock().unwrap_or_else(|p| p.into_inner());
            ids.insert(key, id.unbind());
            while ids.len() > MAX_PENDING {
                ids.pop_first();
            }
            Ok(())
        })
        .await?;
        Ok(key.to_string())
    }

    async fn get_response(&self, key: &str) -> Result<LongPollResponse, ClientError> {
        let id = {
            let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
            key.parse::<u64>().ok().and_then(|k| ids.remove(&k))
        };
        let id = id.ok_or_else(|| ClientError::protocol(format!("no queued request {key}")))?;
        let handler = Arc::clone(&self.handler);
        let after = self.timeout;
        in_python(move |py| {
            let answer = match handler.bind(py).call_method1("get_response", (id,)) {
                Ok(a) => a,
                Err(e) if e.is_instance_of::<PyTimeoutError>(py) => {
                    // The SDK: `ClientError(408, 'Agent is not responding')`.
                    return Err(ClientError::Timeout {
                        kind: TimeoutKind::Read,
                        after,
                    });
                }
                Err(e) => return Err(raised(e)),
            };
            response(py, &answer)
        })
        .await
    }
}

/// The handler's answer (`response['status']`, `['reason']`, `['data']`, as the
/// SDK reads it) as a [`LongPollResponse`]; `data` goes through `json.dumps`.
fn response(py: Python<'_>, answer: &Bound<'_, PyAny>) -> Result<LongPollResponse, ClientError> {
    let item = |key: &str| -> Result<Option<Bound<'_, PyAny>>, ClientError> {
        match answer.get_item(key) {
            Ok(v) if v.is_none() => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyError>(py) => Ok(None),
            Err(e) => Err(raised(e)),
        }
    };
    let bad = |what: &str| ClientError::Decode {
        message: format!("the long_poll_handler's answer {what}"),
    };
    let status: u16 = item("status")?
        .ok_or_else(|| bad("has no 'status'"))?
        .extract()
        .map_err(|_| bad("has a 'status' that is not a status code"))?;
    let reason = match item("reason")? {
        None => String::new(),
        Some(r) => r.str().map_err(raised)?.to_string(),
    };
    let data = match item("data")? {
        None => serde_json::Value::Null,
        Some(d) => {
            let text: String = py
                .import("json")
                .and_then(|json| json.call_method1("dumps", (d,)))
                .and_then(|t| t.extract())
                .map_err(|_| bad("has 'data' that is not JSON"))?;
            serde_json::from_str(&text).map_err(|_| bad("has 'data' that is not JSON"))?
        }
    };
    Ok(LongPollResponse {
        status,
        reason,
        data,
    })
}

/// The exception a handler raised, when `err` carries one (it travels as the
/// source of a `ClientError::Protocol`).
pub fn raised_exception(py: Python<'_>, err: &ClientError) -> Option<PyErr> {
    agent_proto::find_source::<PyErr>(err).map(|e| e.clone_ref(py))
}
