//! [`GatewayError`]: what went wrong on the gateway's side of a request (a call to
//! Ray, an answer of Ray's that cannot be used, a check of the request itself), as
//! the agent API answers it.
//!
//! It is the server side's error, apart from the clients' `agent_proto::ClientError`
//! (as kube-core's `ErrorResponse` is apart from kube-client's `Error`): it has no
//! client-only variant (no `Usage`, no stream limits), and it meets the agent API
//! at one boundary, [`crate::backend::to_backend`], which makes the answer (its
//! status, FastAPI's `{"detail": ...}`). The transport that calls Ray is a client,
//! so its errors (and agent-proto's id checks') come in as [`GatewayError::Client`].

use std::time::Duration;

use agent_proto::{ClientError, TimeoutKind, ValidationDetail};

/// An error of the gateway's side of a request; every variant has the status the
/// agent API answers with ([`GatewayError::status_code`]).
///
/// ```
/// use agent_gateway::GatewayError;
///
/// let e = GatewayError::NotFound { message: "Job nope does not exist".into() };
/// assert_eq!(e.status_code(), 404);
/// assert_eq!(e.message(), "Job nope does not exist");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A value of the request (or of the gateway's configuration) breaks a rule (400).
    #[error("invalid {what} (400): {reason}")]
    InvalidInput {
        /// What was invalid.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The request cannot be done as asked (400), in Ray's words or the gateway's.
    #[error("bad request (400): {message}")]
    BadRequest {
        /// Why.
        message: String,
    },
    /// What the request names does not exist (404).
    #[error("not found (404): {message}")]
    NotFound {
        /// Which.
        message: String,
    },
    /// Ray did not answer in time (408, as a client's time-out).
    #[error("{kind} timed out after {after:?} (408)")]
    Timeout {
        /// Which wait.
        kind: TimeoutKind,
        /// After how long.
        after: Duration,
    },
    /// The request's body failed the gateway's checks (422, FastAPI's detail list).
    #[error("the request was rejected (422): {message}")]
    Validation {
        /// FastAPI's `detail` entries.
        details: Vec<ValidationDetail>,
        /// The same in one line.
        message: String,
    },
    /// Ray (or the gateway) failed with this status (500, 501, 502).
    #[error("failed ({status}): {message}")]
    Server {
        /// The status answered.
        status: u16,
        /// Why.
        message: String,
    },
    /// Ray is unavailable (503).
    #[error("unavailable (503): {message}")]
    Unavailable {
        /// Why, without Ray's address.
        message: String,
    },
    /// An answer of Ray's could not be read, or a request to it not written (500).
    #[error("could not decode (500): {message}")]
    Decode {
        /// What and why.
        message: String,
    },
    /// An error of the client-side code the gateway runs (the transport that calls
    /// Ray, agent-proto's id checks), with its status.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl GatewayError {
    /// The status the agent API answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            GatewayError::InvalidInput { .. } | GatewayError::BadRequest { .. } => 400,
            GatewayError::NotFound { .. } => 404,
            GatewayError::Timeout { .. } => 408,
            GatewayError::Validation { .. } => 422,
            GatewayError::Server { status, .. } => *status,
            GatewayError::Unavailable { .. } => 503,
            GatewayError::Decode { .. } => 500,
            GatewayError::Client(e) => e.status_code(),
        }
    }

    /// The message of the answer (`{"detail": message}`), without the status prefix
    /// of `Display` (the status travels as the answer's status).
    pub fn message(&self) -> String {
        match self {
            GatewayError::InvalidInput { what, reason } => format!("invalid {what}: {reason}"),
            GatewayError::Timeout { .. } => self.to_string(),
            GatewayError::BadRequest { message }
            | GatewayError::NotFound { message }
            | GatewayError::Validation { message, .. }
            | GatewayError::Server { message, .. }
            | GatewayError::Unavailable { message }
            | GatewayError::Decode { message } => message.clone(),
            GatewayError::Client(e) => e.message().map_or_else(|| e.to_string(), str::to_owned),
        }
    }

    /// A value that breaks a rule (400).
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        GatewayError::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
}
