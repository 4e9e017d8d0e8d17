//! What the transport tells `tracing`: one `agent.request` span per request (as the
//! caller sees it, retries included), an event per retry.
//!
//! The span carries the method, the route *template* (`jobs/{id}/logs/`: every path
//! segment that is not one of the API's own words becomes `{id}`, so no job id,
//! lookup or anything a caller passed shows), the attempt, the final status and the
//! latency. No header, body or server message is ever recorded: those are where
//! tokens live (the anchor: kube-rs's `TraceLayer`, minus the URL, which can hold
//! ids).

use agent_proto::ClientError;
use tracing::field::Empty;
use tracing::Span;

/// `path` without its query, every segment that is not an API word (a literal of
/// the description's paths, `agent_proto::api::is_route_word`) replaced by `{id}`: `jobs/raysubmit_1/logs/?x=1` becomes `jobs/{id}/logs/`.
pub fn route_template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if segment.is_empty() || agent_proto::api::is_route_word(segment) {
            out.push_str(segment);
        } else {
            out.push_str("{id}");
        }
    }
    out
}

/// The span of one request: `kind` is `request`, `stream` or `websocket`.
pub(crate) fn request_span(method: &http::Method, path: &str, kind: &'static str) -> Span {
    tracing::debug_span!(
        "agent.request",
        http.method = %method,
        route = %route_template(path),
        kind,
        attempt = Empty,
        status = Empty,
        latency_ms = Empty,
        error = Empty,
    )
}

/// Why a try is retried, in words that hold nothing from the server.
pub(crate) fn retry_reason<R>(result: &Result<R, ClientError>, status: Option<u16>) -> String {
    match (result, status) {
        (_, Some(status)) => format!("status {status}"),
        (Err(e), None) if e.is_timeout() => "connect timed out".to_owned(),
        (Err(_), None) => "could not connect".to_owned(),
        (Ok(_), None) => "retryable answer".to_owned(),
    }
}

/// A short, server-text-free name of an error, for the span's `error` field.
pub(crate) fn error_kind(e: &ClientError) -> &'static str {
    if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_limit() {
        "limit"
    } else if e.is_status() {
        "status"
    } else if matches!(e, ClientError::ResponseIncomplete { .. }) {
        "incomplete"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_hide_every_id() {
        for (path, want) in [
            ("health/", "health/"),
            ("jobs/", "jobs/"),
            ("jobs/raysubmit_1/", "jobs/{id}/"),
            ("/jobs/raysubmit_1/logs/stream/", "jobs/{id}/logs/stream/"),
            ("jobs/raysubmit_1/stop/", "jobs/{id}/stop/"),
            (
                "plugin_releases/demo@1.0.0/run/",
                "plugin_releases/{id}/run/",
            ),
            ("plugin_releases/run_debug/", "plugin_releases/run_debug/"),
            ("plugin_releases/?page=2&token=s3cr3t", "plugin_releases/"),
            ("custom/s3cr3t/thing", "{id}/{id}/{id}"),
        ] {
            assert_eq!(route_template(path), want, "{path}");
        }
    }
}
