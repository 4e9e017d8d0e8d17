//! `ClientError` into the exceptions of `agent_client.exceptions`.
//!
//! The classes are synapse-sdk's, by name and place in the hierarchy; the Rust error
//! picks the class and gives `status_code`, the detail and (429) `retry_after`:
//!
//! | `ClientError` | exception | `status_code` |
//! | --- | --- | --- |
//! | `InvalidInput`, `BadRequest` | `ValidationError` | 400 |
//! | `Validation` | `ValidationError` (detail: the FastAPI `detail` list) | 422 |
//! | `Unauthorized` / `Forbidden` / `NotFound` | `AuthenticationError` / `AuthorizationError` / `NotFoundError` | 401 / 403 / 404 |
//! | `Timeout` | `ClientTimeoutError` | 408 |
//! | `RateLimited` | `RateLimitError` | 429 |
//! | `LimitExceeded` | `StreamLimitExceededError` | 429 |
//! | `Server`, `Unavailable` | `ServerError` | the agent's 5xx |
//! | `GpuUnavailable` | `GpuUnavailableError` | 503 |
//! | `StreamFailed` | `StreamError` | 500 |
//! | `Protocol` | `WebSocketError` | 500 |
//! | `Connect` | `ClientConnectionError` | 503 |
//! | `ResponseIncomplete` (not GET) | `ClientResponseIncompleteError` | its cause's |
//! | `ResponseIncomplete` of a GET | as its cause | its cause's |
//! | `UnexpectedStatus` | `HTTPError` | the agent's |
//! | `Decode`, `Usage`, and any later variant | `ClientError` | `status_code()` |
//!
//! The text is the Rust error's `Display`, which the clients have already scrubbed of
//! every token they hold; errors made here are scrubbed the same way
//! ([`crate::client::Core`] keeps the secrets for that).

use agent_proto::ClientError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The exception `err` stands for, built from `agent_client.exceptions`.
pub fn to_pyerr(py: Python<'_>, err: ClientError) -> PyErr {
    match build(py, &err) {
        Ok(e) => e,
        Err(e) => e,
    }
}

fn build(py: Python<'_>, err: &ClientError) -> PyResult<PyErr> {
    // "A write may have happened" only means something for a request that writes:
    // a GET whose answer broke off is its cause (a time-out, a dropped connection).
    if let ClientError::ResponseIncomplete { method, cause, .. } = err {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            return build(py, cause);
        }
    }
    let module = py.import("agent_client.exceptions")?;
    let status = err.status_code();
    let text = err.to_string();
    let kwargs = PyDict::new(py);
    kwargs.set_item("status_code", status)?;
    let class = match err {
        ClientError::InvalidInput { .. } | ClientError::BadRequest { .. } => "ValidationError",
        ClientError::Validation { details, .. } => {
            if !details.is_empty() {
                let list = PyList::empty(py);
                for d in details {
                    let item = PyDict::new(py);
                    item.set_item("loc", crate::convert::to_py(py, &d.loc.clone().into())?)?;
                    item.set_item("msg", &d.msg)?;
                    item.set_item("type", &d.kind)?;
                    list.append(item)?;
                }
                kwargs.set_item("detail", list)?;
            }
            "ValidationError"
        }
        ClientError::Unauthorized { .. } => "AuthenticationError",
        ClientError::Forbidden { .. } => "AuthorizationError",
        ClientError::NotFound { .. } => "NotFoundError",
        ClientError::Timeout { .. } => "ClientTimeoutError",
        ClientError::RateLimited { retry_after, .. } => {
            kwargs.set_item("retry_after", retry_after.map(|d| d.as_secs_f64()))?;
            "RateLimitError"
        }
        ClientError::LimitExceeded { .. } => "StreamLimitExceededError",
        ClientError::Server { .. } | ClientError::Unavailable { .. } => "ServerError",
        ClientError::GpuUnavailable { .. } => "GpuUnavailableError",
        ClientError::StreamFailed { .. } => "StreamError",
        ClientError::Protocol { .. } => "WebSocketError",
        ClientError::Connect { .. } => "ClientConnectionError",
        ClientError::ResponseIncomplete { .. } => "ClientResponseIncompleteError",
        ClientError::UnexpectedStatus { .. } => "HTTPError",
        _ => "ClientError",
    };
    if !kwargs.contains("detail")? {
        // synapse-sdk's `detail` is the agent's message; ours when there is none.
        kwargs.set_item("detail", err.message().unwrap_or(&text))?;
    }
    kwargs.set_item("message", &text)?;
    let exc = module
        .getattr("_native_error")?
        .call((class,), Some(&kwargs))?;
    Ok(PyErr::from_value(exc))
}
