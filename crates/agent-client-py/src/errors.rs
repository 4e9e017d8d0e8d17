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
//! | `Decode`, `Usage` | `ClientError` | `status_code()` |
//!
//! The choice is [`exception_class`], an exhaustive match on [`ErrorKind`]: a new
//! variant does not compile until it has its class. Each exception also carries
//! `kind`, the variant's name in snake case (`not_found`, `response_incomplete`),
//! for a caller that needs finer than the class.
//!
//! The text is the Rust error's `Display`, which the clients have already scrubbed of
//! every token they hold; errors made here are scrubbed the same way
//! ([`crate::client::Core`] keeps the secrets for that).

use agent_proto::{ClientError, ErrorKind};
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
    // An exception a long_poll_handler raised reaches the caller unchanged, as in
    // synapse-sdk.
    if let Some(original) = crate::long_poll::raised_exception(py, err) {
        return Ok(original);
    }
    // "A write may have happened" only means something for a request that writes:
    // a GET whose answer broke off is its cause (a time-out, a dropped connection).
    if let ClientError::ResponseIncomplete { method, cause, .. } = err {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            return build(py, cause);
        }
    }
    let module = py.import("agent_client.exceptions")?;
    let status = err.status_code();
    // The whole chain: a variant's own text does not repeat its source.
    let text = agent_proto::error_chain(err);
    let kwargs = PyDict::new(py);
    kwargs.set_item("status_code", status)?;
    match err {
        ClientError::Validation { details, .. } if !details.is_empty() => {
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
        ClientError::RateLimited { retry_after, .. } => {
            kwargs.set_item("retry_after", retry_after.map(|d| d.as_secs_f64()))?;
        }
        _ => {}
    }
    let kind = err.kind();
    let class = exception_class(kind);
    kwargs.set_item("kind", kind.as_str())?;
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

/// The class of `agent_client.exceptions` that errors of `kind` become (a
/// `ResponseIncomplete` of a GET or HEAD is mapped as its cause, before this).
///
/// An exhaustive match on [`ErrorKind`], which is not `#[non_exhaustive]`: a new
/// [`ClientError`] variant gets a new kind, and this crate stops compiling until the
/// new kind is given its class here (and in the table above). A wildcard arm would
/// silently make it a plain `ClientError`.
pub fn exception_class(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::BadRequest | ErrorKind::Validation => {
            "ValidationError"
        }
        ErrorKind::Unauthorized => "AuthenticationError",
        ErrorKind::Forbidden => "AuthorizationError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::Timeout => "ClientTimeoutError",
        ErrorKind::RateLimited => "RateLimitError",
        ErrorKind::LimitExceeded => "StreamLimitExceededError",
        ErrorKind::Server | ErrorKind::Unavailable => "ServerError",
        ErrorKind::GpuUnavailable => "GpuUnavailableError",
        ErrorKind::StreamFailed => "StreamError",
        ErrorKind::Protocol => "WebSocketError",
        ErrorKind::Connect => "ClientConnectionError",
        ErrorKind::ResponseIncomplete => "ClientResponseIncompleteError",
        ErrorKind::UnexpectedStatus => "HTTPError",
        ErrorKind::Decode | ErrorKind::Usage => "ClientError",
    }
}

/// Every kind's name and class, `(kind, class)` in [`ErrorKind::ALL`]'s order:
/// `agent_client._native.ERROR_CLASSES`, the table the docs and tests check.
pub fn error_classes() -> Vec<(&'static str, &'static str)> {
    ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str(), exception_class(*k)))
        .collect()
}
