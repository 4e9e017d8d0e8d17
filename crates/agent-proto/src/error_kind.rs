//! [`ErrorKind`]: which variant a [`ClientError`] is, as a plain value.
//!
//! [`ClientError`] is `#[non_exhaustive]`, so that the library may grow a variant
//! without breaking callers: outside this crate every `match` on it needs a
//! wildcard arm, and a new variant silently lands in it. Some code must not let that
//! happen: the Python package picks the exception class of each variant, and a new
//! variant falling through to the base class would be a quiet change of behaviour.
//! Such code matches on [`ClientError::kind`] instead. [`ErrorKind`] is deliberately
//! *not* `#[non_exhaustive]`: a new variant of [`ClientError`] must get a kind here
//! (the `match` in [`ClientError::kind`] is exhaustive inside this crate), and every
//! exhaustive `match` on kinds elsewhere then fails to compile until it decides what
//! the new kind means. That is the point, and the price: a new kind is a breaking
//! change for whoever matches on kinds exhaustively, by design.

use crate::error::ClientError;
use std::fmt;

/// Which variant a [`ClientError`] is, without its fields; one kind per variant.
///
/// ```
/// use agent_proto::{error_kind::ErrorKind, ClientError};
///
/// let e = ClientError::from_response(404, None, b"no such job");
/// assert_eq!(e.kind(), ErrorKind::NotFound);
/// assert_eq!(e.kind().as_str(), "not_found");
/// // Every kind, each once.
/// assert!(ErrorKind::ALL.iter().any(|k| *k == ErrorKind::NotFound));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// [`ClientError::InvalidInput`].
    InvalidInput,
    /// [`ClientError::BadRequest`].
    BadRequest,
    /// [`ClientError::Unauthorized`].
    Unauthorized,
    /// [`ClientError::Forbidden`].
    Forbidden,
    /// [`ClientError::NotFound`].
    NotFound,
    /// [`ClientError::Timeout`].
    Timeout,
    /// [`ClientError::Validation`].
    Validation,
    /// [`ClientError::RateLimited`].
    RateLimited,
    /// [`ClientError::LimitExceeded`].
    LimitExceeded,
    /// [`ClientError::Server`].
    Server,
    /// [`ClientError::StreamFailed`].
    StreamFailed,
    /// [`ClientError::Unavailable`].
    Unavailable,
    /// [`ClientError::GpuUnavailable`].
    GpuUnavailable,
    /// [`ClientError::Connect`].
    Connect,
    /// [`ClientError::ResponseIncomplete`].
    ResponseIncomplete,
    /// [`ClientError::UnexpectedStatus`].
    UnexpectedStatus,
    /// [`ClientError::Decode`].
    Decode,
    /// [`ClientError::Protocol`].
    Protocol,
    /// [`ClientError::Usage`].
    Usage,
}

impl ErrorKind {
    /// Every kind, in declaration order, each once.
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::InvalidInput,
        ErrorKind::BadRequest,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::Timeout,
        ErrorKind::Validation,
        ErrorKind::RateLimited,
        ErrorKind::LimitExceeded,
        ErrorKind::Server,
        ErrorKind::StreamFailed,
        ErrorKind::Unavailable,
        ErrorKind::GpuUnavailable,
        ErrorKind::Connect,
        ErrorKind::ResponseIncomplete,
        ErrorKind::UnexpectedStatus,
        ErrorKind::Decode,
        ErrorKind::Protocol,
        ErrorKind::Usage,
    ];

    /// The kind's name in snake case (`not_found`, `response_incomplete`): the
    /// variant's name, stable, for logs and for the Python exceptions' `kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Validation => "validation",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::Server => "server",
            ErrorKind::StreamFailed => "stream_failed",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::GpuUnavailable => "gpu_unavailable",
            ErrorKind::Connect => "connect",
            ErrorKind::ResponseIncomplete => "response_incomplete",
            ErrorKind::UnexpectedStatus => "unexpected_status",
            ErrorKind::Decode => "decode",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Usage => "usage",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ClientError {
    /// Which variant this error is, as a value that code outside this crate can
    /// match on exhaustively (see [the module](crate::error_kind)).
    ///
    /// ```
    /// use agent_proto::{error_kind::ErrorKind, ClientError};
    ///
    /// let cut = ClientError::incomplete("POST", "jobs/", ClientError::connect("reset"));
    /// assert_eq!(cut.kind(), ErrorKind::ResponseIncomplete);
    /// assert_eq!(ClientError::connect("refused").kind(), ErrorKind::Connect);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        // Exhaustive (this crate sees every variant): a new variant needs a kind.
        match self {
            ClientError::InvalidInput { .. } => ErrorKind::InvalidInput,
            ClientError::BadRequest { .. } => ErrorKind::BadRequest,
            ClientError::Unauthorized { .. } => ErrorKind::Unauthorized,
            ClientError::Forbidden { .. } => ErrorKind::Forbidden,
            ClientError::NotFound { .. } => ErrorKind::NotFound,
            ClientError::Timeout { .. } => ErrorKind::Timeout,
            ClientError::Validation { .. } => ErrorKind::Validation,
            ClientError::RateLimited { .. } => ErrorKind::RateLimited,
            ClientError::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            ClientError::Server { .. } => ErrorKind::Server,
            ClientError::StreamFailed { .. } => ErrorKind::StreamFailed,
            ClientError::Unavailable { .. } => ErrorKind::Unavailable,
            ClientError::GpuUnavailable { .. } => ErrorKind::GpuUnavailable,
            ClientError::Connect { .. } => ErrorKind::Connect,
            ClientError::ResponseIncomplete { .. } => ErrorKind::ResponseIncomplete,
            ClientError::UnexpectedStatus { .. } => ErrorKind::UnexpectedStatus,
            ClientError::Decode { .. } => ErrorKind::Decode,
            ClientError::Protocol { .. } => ErrorKind::Protocol,
            ClientError::Usage { .. } => ErrorKind::Usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `ALL` lists every kind once: a kind's position in the declaration is its
    /// index in `ALL` (the `as usize` of a fieldless enum), so a kind missing from
    /// `ALL` or listed out of order fails here, and names are unique.
    #[test]
    fn all_lists_every_kind_once_with_a_unique_name() {
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k:?}");
        }
        let names: BTreeSet<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert!(names
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    }

    /// Every variant has the kind of its own name.
    #[test]
    fn each_variant_has_its_kind() {
        use crate::error::{LimitKind, TimeoutKind};
        use std::time::Duration;
        let samples = [
            (
                ClientError::invalid("job id", "empty"),
                ErrorKind::InvalidInput,
            ),
            (
                ClientError::from_response(400, None, b""),
                ErrorKind::BadRequest,
            ),
            (
                ClientError::from_response(401, None, b""),
                ErrorKind::Unauthorized,
            ),
            (
                ClientError::from_response(403, None, b""),
                ErrorKind::Forbidden,
            ),
            (
                ClientError::from_response(404, None, b""),
                ErrorKind::NotFound,
            ),
            (
                ClientError::Timeout {
                    kind: TimeoutKind::Read,
                    after: Duration::from_secs(1),
                },
                ErrorKind::Timeout,
            ),
            (
                ClientError::from_response(422, None, b""),
                ErrorKind::Validation,
            ),
            (
                ClientError::from_response(429, None, b""),
                ErrorKind::RateLimited,
            ),
            (
                ClientError::LimitExceeded {
                    kind: LimitKind::Lines,
                    limit: 1,
                },
                ErrorKind::LimitExceeded,
            ),
            (
                ClientError::from_response(500, None, b""),
                ErrorKind::Server,
            ),
            (
                ClientError::StreamFailed {
                    message: "x".into(),
                },
                ErrorKind::StreamFailed,
            ),
            (
                ClientError::from_response(503, None, b""),
                ErrorKind::Unavailable,
            ),
            (
                ClientError::from_response(503, None, br#"{"error_type":"gpu_unavailable"}"#),
                ErrorKind::GpuUnavailable,
            ),
            (ClientError::connect("refused"), ErrorKind::Connect),
            (
                ClientError::incomplete("POST", "x/", ClientError::connect("reset")),
                ErrorKind::ResponseIncomplete,
            ),
            (
                ClientError::from_response(418, None, b""),
                ErrorKind::UnexpectedStatus,
            ),
            (
                ClientError::Decode {
                    message: "x".into(),
                },
                ErrorKind::Decode,
            ),
            (ClientError::protocol("x"), ErrorKind::Protocol),
            (
                ClientError::Usage {
                    message: "x".into(),
                },
                ErrorKind::Usage,
            ),
        ];
        let seen: BTreeSet<ErrorKind> = samples.iter().map(|(e, _)| e.kind()).collect();
        assert_eq!(seen.len(), ErrorKind::ALL.len(), "a sample for each kind");
        for (e, k) in samples {
            assert_eq!(e.kind(), k, "{e:?}");
        }
    }
}
