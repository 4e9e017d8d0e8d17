//! Exit codes, and the one line an error prints on stderr.
//!
//! | code | class |
//! |---|---|
//! | 0 | success (a tail: the job's log is complete) |
//! | 1 | any other failure |
//! | 2 | usage: bad command line, input refused before any request, or a 400 / 422 of the agent |
//! | 3 | not found (404) |
//! | 4 | authentication (401, 403) |
//! | 5 | limits: stream limits or rate limiting (429) |
//! | 6 | unreachable or timed out (503, 408) |
//! | 130 | interrupted (Ctrl-C) |

use agent_proto::{ClientError, Secret};
use std::io;

/// Success.
pub const OK: u8 = 0;
/// Any failure without a class of its own.
pub const OTHER: u8 = 1;
/// A bad command line or bad input.
pub const USAGE: u8 = 2;
/// The resource does not exist.
pub const NOT_FOUND: u8 = 3;
/// The agent refused the token or the user.
pub const AUTH: u8 = 4;
/// A stream limit, or rate limiting.
pub const LIMITS: u8 = 5;
/// The agent could not be reached, or did not answer in time.
pub const UNREACHABLE: u8 = 6;
/// Ctrl-C.
pub const INTERRUPTED: u8 = 130;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The client, the agent or the input failed.
    Client(ClientError),
    /// Ctrl-C.
    Interrupted,
    /// Writing the output failed; a closed pipe (`| head`) is not an error.
    Io(io::Error),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// The exit code of an error.
pub fn code_of(err: &ClientError) -> u8 {
    match err {
        ClientError::ResponseIncomplete { cause, .. } => code_of(cause),
        ClientError::InvalidInput { .. }
        | ClientError::BadRequest { .. }
        | ClientError::Validation { .. } => USAGE,
        ClientError::NotFound { .. } => NOT_FOUND,
        ClientError::Unauthorized { .. } | ClientError::Forbidden { .. } => AUTH,
        ClientError::RateLimited { .. } | ClientError::LimitExceeded { .. } => LIMITS,
        ClientError::Timeout { .. }
        | ClientError::Connect { .. }
        | ClientError::Unavailable { .. } => UNREACHABLE,
        _ => OTHER,
    }
}

/// A short name of an error's kind, for `error: <code> <kind>: <message>`.
fn kind_and_message(err: &ClientError) -> (String, String) {
    let pair = |k: &str, m: &str| (k.to_owned(), m.to_owned());
    match err {
        ClientError::InvalidInput { what, reason } => (format!("invalid {what}"), reason.clone()),
        ClientError::BadRequest { message } => pair("bad request", message),
        ClientError::Unauthorized { message } => pair("unauthorized", message),
        ClientError::Forbidden { message } => pair("forbidden", message),
        ClientError::NotFound { message } => pair("not found", message),
        ClientError::Timeout { kind, after } => {
            let m = if after.is_zero() {
                format!("{kind} timed out (the agent answered 408)")
            } else {
                format!("{kind} timed out after {}", crate::time::duration(*after))
            };
            ("timeout".into(), m)
        }
        ClientError::Validation { details, message } => {
            let m = if details.is_empty() {
                message.clone()
            } else {
                details
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            ("rejected".into(), m)
        }
        ClientError::RateLimited {
            retry_after,
            message,
        } => {
            let m = match retry_after {
                Some(d) => format!("{message} (retry after {}s)", d.as_secs()),
                None => message.clone(),
            };
            ("rate limited".into(), m)
        }
        ClientError::LimitExceeded { kind, limit } => (
            "stream limit exceeded".into(),
            format!(
                "more than {limit} ({kind}); raise it with --{}",
                kind.to_string().replace('_', "-")
            ),
        ),
        ClientError::Server { message, .. } => pair("agent failed", message),
        ClientError::StreamFailed { message } => pair("stream failed", message),
        ClientError::Unavailable { message, .. } => pair("unavailable", message),
        ClientError::GpuUnavailable { message } => pair("gpu unavailable", message),
        ClientError::Connect { message } => pair("unreachable", message),
        ClientError::ResponseIncomplete {
            method,
            path,
            cause,
        } => {
            let (kind, m) = kind_and_message(cause);
            (
                kind,
                format!("{method} {path}: the request may have reached the agent, but no complete answer came back: {m}"),
            )
        }
        ClientError::UnexpectedStatus { message, .. } => pair("unexpected answer", message),
        ClientError::Decode { message } => pair("bad answer", message),
        ClientError::Protocol { message } => pair("protocol error", message),
        ClientError::Usage { message } => pair("client misuse", message),
        other => ("error".into(), other.to_string()),
    }
}

/// The error line: `error: <status code> <kind>: <message>`, on one line, with every
/// secret replaced by `[redacted]`.
pub fn error_line(err: &ClientError, secrets: &[&Secret]) -> String {
    let (kind, message) = kind_and_message(err);
    let line = format!("error: {} {kind}: {message}", err.status_code());
    one_line(&scrub(&line, secrets))
}

/// Replaces every secret in `text` by `[redacted]`, in one pass that leaves the
/// marker (and text the client already scrubbed) alone: see
/// [`agent_proto::error::scrub_text`].
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let secrets: Vec<&str> = secrets.iter().map(|s| s.expose()).collect();
    agent_proto::error::scrub_text(text, &secrets)
}

/// Line breaks and other control characters become spaces; the text is trimmed.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_class_has_its_code() {
        let cases = [
            (ClientError::invalid("job id", "bad"), USAGE),
            (ClientError::from_response(400, None, b"x"), USAGE),
            (ClientError::from_response(422, None, b"x"), USAGE),
            (ClientError::from_response(404, None, b"x"), NOT_FOUND),
            (ClientError::from_response(401, None, b"x"), AUTH),
            (ClientError::from_response(403, None, b"x"), AUTH),
            (ClientError::from_response(429, None, b"x"), LIMITS),
            (ClientError::from_response(503, None, b"x"), UNREACHABLE),
            (ClientError::from_response(408, None, b"x"), UNREACHABLE),
            (
                ClientError::Connect {
                    message: "refused".into(),
                },
                UNREACHABLE,
            ),
            (ClientError::from_response(500, None, b"x"), OTHER),
            (
                ClientError::from_response(503, None, br#"{"error_type":"gpu_unavailable"}"#),
                OTHER,
            ),
            (
                ClientError::incomplete(
                    "POST",
                    "x/",
                    ClientError::Timeout {
                        kind: agent_proto::TimeoutKind::Read,
                        after: Duration::from_secs(1),
                    },
                ),
                UNREACHABLE,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(code_of(&err), code, "{err:?}");
        }
    }

    #[test]
    fn the_error_line_is_one_line_and_keeps_no_secret() {
        let token = Secret::new("s3cr3t-token");
        let body = br#"{"detail":[{"loc":["body","plugin"],"msg":"field required","type":"x"},{"loc":["header"],"msg":"s3cr3t-token is bad","type":"y"}]}"#;
        let line = error_line(&ClientError::from_response(422, None, body), &[&token]);
        assert_eq!(
            line,
            "error: 422 rejected: body -> plugin: field required; header: [redacted] is bad"
        );
        let line = error_line(
            &ClientError::from_response(404, None, b"Job nope\ndoes not exist"),
            &[],
        );
        assert_eq!(line, "error: 404 not found: Job nope does not exist");
    }
}
