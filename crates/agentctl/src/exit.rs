//! Exit codes, and the one line an error prints on stderr.
//!
//! | code | class |
//! |---|---|
//! | 0 | success (tail, wait, run --follow: the job SUCCEEDED) |
//! | 1 | any other failure |
//! | 2 | usage: bad command line, input refused before any request, or a 400 / 422 of the agent |
//! | 3 | not found (404) |
//! | 4 | authentication (401, 403) |
//! | 5 | limits: stream limits or rate limiting (429) |
//! | 6 | unreachable or timed out (503, 408) |
//! | 7 | the job FAILED |
//! | 8 | the job was STOPPED |
//! | 130 | interrupted (Ctrl-C) |

use agent_proto::error::retry_after_hint;
use agent_proto::{ClientError, ErrorKind, Secret};
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
/// The job a command followed or waited for FAILED.
pub const JOB_FAILED: u8 = 7;
/// The job a command followed or waited for was STOPPED.
pub const JOB_STOPPED: u8 = 8;
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
    /// The job a command followed or waited for ended without success: exit `code`
    /// ([`JOB_FAILED`], [`JOB_STOPPED`]), `note` on stderr.
    Job {
        /// The exit code.
        code: u8,
        /// What happened, in words.
        note: String,
    },
    /// agentctl itself failed, with no status code of the agent to show: exit `code`,
    /// `error: <message>` on stderr.
    Local {
        /// The exit code.
        code: u8,
        /// What happened, in words.
        message: String,
    },
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
///
/// An exhaustive match on [`ErrorKind`]: a new kind of error does not compile
/// until it has its exit code.
pub fn code_of(err: &ClientError) -> u8 {
    if let ClientError::ResponseIncomplete { cause, .. } = err {
        return code_of(cause);
    }
    match err.kind() {
        ErrorKind::InvalidInput | ErrorKind::BadRequest | ErrorKind::Validation => USAGE,
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Unauthorized | ErrorKind::Forbidden => AUTH,
        ErrorKind::RateLimited | ErrorKind::LimitExceeded => LIMITS,
        ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Unavailable => UNREACHABLE,
        ErrorKind::Server
        | ErrorKind::StreamFailed
        | ErrorKind::GpuUnavailable
        | ErrorKind::ResponseIncomplete
        | ErrorKind::UnexpectedStatus
        | ErrorKind::Decode
        | ErrorKind::Protocol
        | ErrorKind::Usage => OTHER,
    }
}

/// The status code the agent answered with, if the error is the agent's answer
/// (local failures, such as a refused connection or a client-side limit, have none).
pub fn agent_status(err: &ClientError) -> Option<u16> {
    match err {
        // A write whose answer broke off: its cause says whether the agent answered.
        ClientError::ResponseIncomplete { cause, .. } => agent_status(cause),
        _ => err.is_status().then(|| err.status_code()),
    }
}

/// A short name of an error's kind, for `error: [<code>] <kind>: <message>`.
fn kind_and_message(err: &ClientError) -> (String, String) {
    let pair = |k: &str, m: &str| (k.to_owned(), agent_message(m));
    match err {
        ClientError::InvalidInput { what, reason } => (format!("invalid {what}"), reason.clone()),
        ClientError::BadRequest { message } => pair("bad request", message),
        ClientError::Unauthorized { message } => pair("unauthorized", message),
        ClientError::Forbidden { message } => pair("forbidden", message),
        ClientError::NotFound { message } => {
            let m = agent_message(message);
            ("not found".into(), format!("{m}{}", wrong_prefix_hint(&m)))
        }
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
                agent_message(message)
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
        } => (
            "rate limited".into(),
            format!(
                "{}{}",
                agent_message(message),
                retry_after_hint(*retry_after)
            ),
        ),
        ClientError::LimitExceeded { kind, limit } => (
            "stream limit exceeded".into(),
            format!(
                "more than {limit} ({kind}); raise it with --{}",
                kind.to_string().replace('_', "-")
            ),
        ),
        ClientError::Server { message, .. } => pair("agent failed", message),
        ClientError::StreamFailed { message } => {
            pair("the log stream failed on the agent", message)
        }
        ClientError::Unavailable {
            message,
            retry_after,
        } => (
            "unavailable".into(),
            format!(
                "{}{}",
                agent_message(message),
                retry_after_hint(*retry_after)
            ),
        ),
        ClientError::GpuUnavailable { message } => pair("gpu unavailable", message),
        ClientError::Connect { message, .. } => match tls_refusal(message) {
            Some(m) => ("TLS".into(), m),
            None if plain_http_answer(message) => (
                "TLS".into(),
                format!(
                    "{message} (an https:// URL for an agent that speaks plain HTTP? \
                     try http:// instead)"
                ),
            ),
            None => ("cannot reach the agent".into(), message.clone()),
        },
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
        ClientError::Decode { message } => ("bad answer".into(), message.clone()),
        ClientError::Protocol { message, .. } => ("protocol error".into(), message.clone()),
        ClientError::Usage { message } => ("failed".into(), message.clone()),
        other => ("error".into(), other.to_string()),
    }
}

/// The hint for a 404 that names no resource (`Not Found`, an empty body or a
/// proxy's HTML page): the route itself is missing, which on every call means the
/// URL's path prefix is wrong. A 404 of the agent's own (`Job x does not exist`)
/// gets none.
fn wrong_prefix_hint(message: &str) -> &'static str {
    let m = message.trim();
    let generic = m.is_empty()
        || m.eq_ignore_ascii_case("not found")
        || m.eq_ignore_ascii_case("404 not found")
        || m.starts_with('<');
    if generic {
        " (no such route: if every call answers 404, the path prefix in --url is \
         probably wrong; --url is the agent API's base URL, the one whose `health/` answers)"
    } else {
        ""
    }
}

/// True for a TLS handshake that read something that is not TLS (rustls's
/// `received corrupt message of type InvalidContentType`): a plain-HTTP server.
fn plain_http_answer(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("corrupt message") || lower.contains("invalidcontenttype")
}

/// A refused server certificate in words: the host and the reason (unknown issuer,
/// wrong name, expired), from the transport's `TLS handshake with HOST failed: invalid
/// peer certificate: ...`.
fn tls_refusal(message: &str) -> Option<String> {
    let rest = message.split("TLS handshake with ").nth(1)?;
    let (host, why) = rest.split_once(" failed: ")?;
    let cert = why.split_once("invalid peer certificate: ")?.1;
    let lower = cert.to_ascii_lowercase();
    let reason = if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        "unknown issuer (an agent behind a private CA? pass --cacert FILE or set AGENT_CACERT)"
            .to_owned()
    } else if lower.contains("not valid for name") || lower.contains("notvalidforname") {
        format!("not valid for this name ({cert})")
    } else if lower.contains("expired") {
        format!("expired ({cert})")
    } else if lower.contains("notvalidyet") || lower.contains("not valid yet") {
        format!("not valid yet ({cert})")
    } else if lower.contains("revoked") {
        "revoked".to_owned()
    } else {
        cert.to_owned()
    };
    Some(format!("the certificate of {host} was refused: {reason}"))
}

/// An agent's message that is a JSON object (Django REST framework's
/// `{"non_field_errors": [...], "field": [...]}`, or `{"detail": ...}`) rendered
/// as words: `message; field: message`. Any other text is kept as it is.
pub fn agent_message(message: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(message.trim()) else {
        return message.to_owned();
    };
    fn flat(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => {
                items.iter().map(flat).collect::<Vec<_>>().join("; ")
            }
            serde_json::Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k}: {}", flat(v)))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
    let parts: Vec<String> = map
        .iter()
        .filter(|(k, _)| k.as_str() != "error_type")
        .map(|(k, v)| match k.as_str() {
            "non_field_errors" | "detail" | "message" | "error" => flat(v),
            _ => format!("{k}: {}", flat(v)),
        })
        .collect();
    if parts.is_empty() {
        message.to_owned()
    } else {
        parts.join("; ")
    }
}

/// `<kind>: <message>` of an error, without a status code (for a sentence that
/// quotes it).
pub fn describe(err: &ClientError) -> String {
    let (kind, message) = kind_and_message(err);
    format!("{kind}: {message}")
}

/// The error line: `error: [<status code>] <kind>: <message>` (the code only when the
/// agent answered with one), on one line, with every secret replaced by `[redacted]`.
pub fn error_line(err: &ClientError, secrets: &[&Secret]) -> String {
    let (kind, message) = kind_and_message(err);
    let line = match agent_status(err) {
        Some(code) => format!("error: {code} {kind}: {message}"),
        None => format!("error: {kind}: {message}"),
    };
    one_line(&scrub(&line, secrets))
}

/// A line of agentctl's own, `<prefix><message>`, on one line and scrubbed.
pub fn plain_line(prefix: &str, message: &str, secrets: &[&Secret]) -> String {
    one_line(&scrub(&format!("{prefix}{message}"), secrets))
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
            (ClientError::connect("refused"), UNREACHABLE),
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
        let line = error_line(&ClientError::connect("connection refused"), &[]);
        assert_eq!(line, "error: cannot reach the agent: connection refused");
        let line = error_line(&ClientError::invalid("job id", "bad"), &[]);
        assert_eq!(line, "error: invalid job id: bad");
    }

    #[test]
    fn certificate_refusals_name_the_host_and_the_reason() {
        let line = |m: &str| error_line(&ClientError::connect(m), &[]);
        assert_eq!(
            line("TLS handshake with a.example:443 failed: invalid peer certificate: UnknownIssuer"),
            "error: TLS: the certificate of a.example:443 was refused: unknown issuer (an agent behind a private CA? pass --cacert FILE or set AGENT_CACERT)"
        );
        assert!(line(
            "TLS handshake with h:1 failed: invalid peer certificate: certificate expired: x"
        )
        .contains("refused: expired"));
        assert_eq!(
            line("could not connect to h:1: refused"),
            "error: cannot reach the agent: could not connect to h:1: refused"
        );
    }

    #[test]
    fn server_json_is_rendered_as_words() {
        let body =
            br#"{"non_field_errors": ["version 1.0.0 exists"], "plugin": ["unknown", "retired"]}"#;
        let line = error_line(&ClientError::from_response(400, None, body), &[]);
        assert_eq!(
            line,
            "error: 400 bad request: version 1.0.0 exists; plugin: unknown; retired"
        );
        assert_eq!(agent_message("plain words"), "plain words");
        assert_eq!(agent_message(r#"{"detail": {"why": "x"}}"#), "why: x");
    }
}
