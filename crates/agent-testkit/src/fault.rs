//! Faults on demand: how a test server misbehaves, per route or per job.
//!
//! Two kinds:
//! - [`Fault`]: at the HTTP level, for requests matching a [`FaultTarget`] (a route,
//!   optionally one id): answer with a given status, headers and body (also: refuse a
//!   WebSocket upgrade), wait before answering, read the request then never answer,
//!   or cut the body after N bytes; optionally only for the first N requests;
//! - [`TailFault`](crate::TailFault): inside a log tail of a job (agent-sample's
//!   in-memory tail with its `faults` feature, re-exported here).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::serve::{CannedResponse, Intercept, InterceptAction, RequestHead, RouteKind};

/// Which requests a [`Fault`] applies to.
///
/// ```
/// use agent_testkit::{FaultTarget, RouteKind};
///
/// let every_request = FaultTarget::any();
/// let list_jobs: FaultTarget = RouteKind::ListJobs.into();
/// let one_job = FaultTarget::route(RouteKind::TailHttp).id("raysubmit_1");
/// # let _ = (every_request, list_jobs, one_job);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultTarget {
    kind: Option<RouteKind>,
    id: Option<String>,
}

impl FaultTarget {
    /// Every request, also those that name no route.
    pub fn any() -> Self {
        FaultTarget {
            kind: None,
            id: None,
        }
    }

    /// Requests of this route.
    pub fn route(kind: RouteKind) -> Self {
        FaultTarget {
            kind: Some(kind),
            id: None,
        }
    }

    /// Only requests whose path segment (job id, node id, app name, release lookup) is `id`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub(crate) fn matches(&self, head: &RequestHead<'_>) -> bool {
        if let Some(kind) = self.kind {
            match head.route {
                Some(route) if route.kind() == kind => {}
                _ => return false,
            }
        }
        match (&self.id, head.route) {
            (None, _) => true,
            (Some(id), Some(route)) => route.segment() == Some(id.as_str()),
            (Some(_), None) => false,
        }
    }
}

impl From<RouteKind> for FaultTarget {
    fn from(kind: RouteKind) -> Self {
        FaultTarget::route(kind)
    }
}

/// An HTTP-level fault. Build one, then narrow it with [`Fault::times`] or delay it
/// with [`Fault::after`].
///
/// ```
/// use agent_testkit::Fault;
/// use std::time::Duration;
///
/// let busy_twice = Fault::status(503).header("Retry-After", "1").times(2);
/// let no_gpu = Fault::gpu_unavailable("no GPU in the cluster");
/// let slow = Fault::delay(Duration::from_millis(300));
/// let lost_answer = Fault::stall();
/// let cut = Fault::close_after_bytes(10);
/// # let _ = (busy_twice, no_gpu, slow, lost_answer, cut);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub(crate) delay: Option<Duration>,
    pub(crate) action: InterceptAction,
    pub(crate) times: Option<u32>,
}

impl Fault {
    fn new(action: InterceptAction) -> Self {
        Fault {
            delay: None,
            action,
            times: None,
        }
    }

    fn canned(status: u16, content_type: Option<&'static str>, body: Bytes) -> Self {
        let mut headers = Vec::new();
        if let Some(ct) = content_type {
            headers.push((http::header::CONTENT_TYPE, HeaderValue::from_static(ct)));
        }
        Self::new(InterceptAction::Respond(CannedResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers,
            body,
        }))
    }

    /// Answers `status` with an empty body (a status outside 100..=999 becomes 500).
    /// On the WebSocket route this refuses the upgrade.
    pub fn status(status: u16) -> Self {
        Self::canned(status, None, Bytes::new())
    }

    /// Answers `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        Self::canned(status, Some("application/json"), Bytes::from(bytes))
    }

    /// Answers `status` with a plain-text body.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::canned(
            status,
            Some("text/plain; charset=utf-8"),
            Bytes::from(body.into()),
        )
    }

    /// Answers `status` with these bytes as they are (no content type).
    pub fn bytes(status: u16, body: impl Into<Bytes>) -> Self {
        Self::canned(status, None, body.into())
    }

    /// `503 {"error_type":"gpu_unavailable","detail":DETAIL}`.
    pub fn gpu_unavailable(detail: impl Into<String>) -> Self {
        Self::json(
            503,
            json!({ "error_type": "gpu_unavailable", "detail": detail.into() }),
        )
    }

    /// `422 {"detail":[{"loc":["body",FIELD],"msg":MSG,"type":"missing"}]}`.
    pub fn validation(field: &str, msg: &str) -> Self {
        Self::json(
            422,
            json!({ "detail": [{ "loc": ["body", field], "msg": msg, "type": "missing" }] }),
        )
    }

    /// `200` with a body that is not JSON (`text/html`, as a proxy's error page).
    pub fn not_json() -> Self {
        Self::canned(
            200,
            Some("text/html"),
            Bytes::from_static(b"<html><body>this is not JSON</body></html>"),
        )
    }

    /// Waits `delay` before answering normally (before the headers go out).
    pub fn delay(delay: Duration) -> Self {
        Self::new(InterceptAction::Continue).after(delay)
    }

    /// Reads the request fully (the journal shows `body_complete`), then never answers,
    /// until the client hangs up or the server stops.
    pub fn stall() -> Self {
        Self::new(InterceptAction::Stall)
    }

    /// Answers normally but drops the connection after `n` bytes of the body (the
    /// headers promise the whole body). On the HTTP log stream this cuts it mid-stream.
    pub fn close_after_bytes(n: u64) -> Self {
        Self::new(InterceptAction::TruncateBody { after_bytes: n })
    }

    /// Adds a header to the answer (for the answering faults); an invalid name or
    /// value is ignored.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let InterceptAction::Respond(canned) = &mut self.action {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                canned.headers.push((n, v));
            }
        }
        self
    }

    /// Applies to the first `n` matching requests only; then requests are answered normally.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Waits `delay` before acting.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub(crate) fn intercept(&self) -> Intercept {
        Intercept {
            delay: self.delay,
            action: self.action.clone(),
        }
    }
}
