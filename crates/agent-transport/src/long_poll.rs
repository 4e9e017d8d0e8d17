//! [`LongPollTransport`]: the clients over a long-poll handler, for an agent that has
//! no URL the client can reach.
//!
//! synapse-sdk's `AgentClient(..., long_poll_handler=h)` sends every request through
//! two calls of a handler instead of HTTP: `h.set_request(request_dict)` queues the
//! request (somewhere the agent polls, e.g. a broker or the backend's database) and
//! returns an id, `h.get_response(id)` waits for the agent's answer
//! (`{"status", "reason", "data"}`). [`LongPollHandler`] is that handler in Rust, and
//! [`LongPollTransport`] puts it under both clients (their builders'
//! `transport(...)`), so every typed method works through it unchanged.
//!
//! What the SDK does, this does:
//! - the request is [`LongPollRequest`]: the method (the SDK's lower-case name in
//!   [`LongPollRequest::to_sdk_dict`]), the path relative to the agent's base URL
//!   without its query, the headers (authentication and `Content-Type:
//!   application/json`), the query as `params` and the JSON body as `data`;
//! - a file upload (a multipart body) is refused before anything is queued, with
//!   a 400, as the SDK refuses `files=`;
//! - a handler that does not answer in time is a 408 (the SDK turns the handler's
//!   `TimeoutError` into `ClientError(408, "Agent is not responding")`);
//! - an answer of status 400 to 599 is an error of that status, built from `data`
//!   (or from `reason` when there is no data), by the same mapping as an HTTP
//!   answer ([`ClientError::from_response`]): a 404 is a `NotFound`, a 422 keeps
//!   its FastAPI details.
//!
//! And what the SDK leaves open is bounded: one time-out covers `set_request` and
//! `get_response` together ([`LongPollTransport::timeout`]), and an answer whose
//! `data` is larger than [`LongPollTransport::max_response_body`] once serialized
//! is refused as the HTTP transport refuses a large body.
//!
//! A log tail needs a streamed answer, and the handler has none (the SDK's has none
//! either): [`Transport::stream`] and [`Transport::websocket`] fail with a
//! [`ClientError::Usage`] that says so ([`NO_STREAMING`]); a job's whole log is
//! still readable (`get_job_logs`).
//!
//! ```
//! use agent_proto::ClientError;
//! use agent_transport::long_poll::{LongPollHandler, LongPollRequest, LongPollResponse, LongPollTransport};
//! use agent_transport::{Request, Transport};
//! use http::Method;
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//!
//! /// A handler that answers at once (a real one queues the request for the agent).
//! #[derive(Debug, Default)]
//! struct Echo(Mutex<HashMap<String, LongPollRequest>>);
//!
//! #[async_trait::async_trait]
//! impl LongPollHandler for Echo {
//!     async fn set_request(&self, request: LongPollRequest) -> Result<String, ClientError> {
//!         let mut queued = self.0.lock().unwrap();
//!         let id = queued.len().to_string();
//!         queued.insert(id.clone(), request);
//!         Ok(id)
//!     }
//!     async fn get_response(&self, id: &str) -> Result<LongPollResponse, ClientError> {
//!         let request = self.0.lock().unwrap().remove(id).ok_or_else(|| ClientError::connect("lost"))?;
//!         Ok(LongPollResponse::new(200, serde_json::json!({"path": request.path})))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let transport = LongPollTransport::new(Echo::default());
//! let answer = transport.request(Request::new(Method::GET, "health/")).await?;
//! assert_eq!(answer.status, 200);
//! assert_eq!(&answer.body[..], br#"{"path":"health/"}"#);
//! // No tails through a long-poll handler.
//! let tail = transport.stream(Request::new(Method::GET, "jobs/j/logs/stream/")).await;
//! assert!(matches!(tail, Err(ClientError::Usage { .. })));
//! # Ok::<(), ClientError>(())
//! # }).unwrap();
//! ```

use crate::http::DEFAULT_MAX_RESPONSE_BODY;
use crate::transport::{Request, Response, StreamingResponse, Transport, WsOptions, WsStream};
use agent_proto::{ClientError, TimeoutKind, Timeouts};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method};
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// What a tail through a [`LongPollTransport`] fails with (the message of its
/// [`ClientError::Usage`]).
pub const NO_STREAMING: &str = "a log tail needs a streamed answer, and a long-poll handler \
     has no streaming (synapse-sdk's long_poll_handler has none either): read the whole log \
     with get_job_logs, or reach the agent over HTTP to follow it";

/// One request, as a long-poll handler receives it.
///
/// Its `Debug` prints header values marked sensitive (the tokens) as `Sensitive`
/// and leaves the body out.
#[derive(Clone)]
pub struct LongPollRequest {
    /// The method.
    pub method: Method,
    /// The path relative to the agent's base URL (`jobs/`, `jobs/{id}/stop/`),
    /// without its query.
    pub path: String,
    /// The headers: `Authorization`, `SYNAPSE-User` and `SYNAPSE-Tenant` as the
    /// client sends them over HTTP (values marked sensitive), and
    /// `Content-Type: application/json`.
    pub headers: HeaderMap,
    /// The query, decoded, in order (the SDK's `params`).
    pub params: Vec<(String, String)>,
    /// The JSON body, if any (the SDK's `data`).
    pub data: Option<serde_json::Value>,
}

impl LongPollRequest {
    /// The request as synapse-sdk's handler receives it:
    /// `{"method": "get", "path": "jobs/", "headers": {...}, "params": {...}, "data": ...}`
    /// (`params` and `data` only when there are some; the headers named as the SDK
    /// names them: `Authorization`, `SYNAPSE-User`, `SYNAPSE-Tenant`,
    /// `Content-Type`).
    ///
    /// The dict holds the tokens in clear (the agent needs them): it is for the
    /// queue the handler writes to, never for a log.
    ///
    /// ```
    /// use agent_transport::long_poll::LongPollRequest;
    /// use http::{HeaderMap, Method};
    ///
    /// let request = LongPollRequest {
    ///     method: Method::GET,
    ///     path: "resources/cluster/".into(),
    ///     headers: HeaderMap::new(),
    ///     params: vec![("use_cache".into(), "false".into())],
    ///     data: None,
    /// };
    /// assert_eq!(
    ///     request.to_sdk_dict(),
    ///     serde_json::json!({"method": "get", "path": "resources/cluster/", "headers": {},
    ///                        "params": {"use_cache": "false"}}),
    /// );
    /// ```
    pub fn to_sdk_dict(&self) -> serde_json::Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers.insert(sdk_header_name(name.as_str()), value.into());
        }
        let mut dict = serde_json::Map::new();
        dict.insert(
            "method".into(),
            self.method.as_str().to_ascii_lowercase().into(),
        );
        dict.insert("path".into(), self.path.clone().into());
        dict.insert("headers".into(), headers.into());
        if !self.params.is_empty() {
            let params: serde_json::Map<String, serde_json::Value> = self
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            dict.insert("params".into(), params.into());
        }
        if let Some(data) = &self.data {
            dict.insert("data".into(), data.clone());
        }
        dict.into()
    }
}

/// A header's name as synapse-sdk spells it in the request dict (`Authorization`,
/// `SYNAPSE-User`, ...): a handler on the agent's side reads the dict with Python's
/// case-sensitive keys. Other names stay in lower case, as `http` keeps them.
fn sdk_header_name(name: &str) -> String {
    const SDK_NAMES: [&str; 4] = [
        "Authorization",
        "SYNAPSE-User",
        "SYNAPSE-Tenant",
        "Content-Type",
    ];
    SDK_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |n| (*n).to_owned())
}

impl fmt::Debug for LongPollRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongPollRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("params", &self.params)
            .field("has_data", &self.data.is_some())
            .finish()
    }
}

/// The agent's answer to a [`LongPollRequest`], as a handler's `get_response`
/// returns it: synapse-sdk's `{"status", "reason", "data"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct LongPollResponse {
    /// The HTTP-style status of the answer.
    pub status: u16,
    /// The status's reason phrase (`Not Found`); the error's message when an
    /// error answer has no `data`.
    pub reason: String,
    /// The answer's JSON (a plain-text answer is a JSON string).
    pub data: serde_json::Value,
}

impl LongPollResponse {
    /// An answer with this status and data and no reason phrase.
    pub fn new(status: u16, data: serde_json::Value) -> Self {
        LongPollResponse {
            status,
            reason: String::new(),
            data,
        }
    }

    /// Reads synapse-sdk's answer dict: `status` (required, a number), `reason`
    /// (a string, default empty), `data` (any JSON, default `null`).
    ///
    /// ```
    /// use agent_transport::long_poll::LongPollResponse;
    ///
    /// let r = LongPollResponse::from_sdk_dict(serde_json::json!({"status": 404, "reason": "Not Found"}))?;
    /// assert_eq!((r.status, r.reason.as_str(), r.data.is_null()), (404, "Not Found", true));
    /// assert!(LongPollResponse::from_sdk_dict(serde_json::json!({"data": 1})).is_err());
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn from_sdk_dict(dict: serde_json::Value) -> Result<Self, ClientError> {
        let serde_json::Value::Object(mut dict) = dict else {
            return Err(bad_answer("is not a dict"));
        };
        let status = dict
            .get("status")
            .and_then(serde_json::Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..1000).contains(s))
            .ok_or_else(|| bad_answer("has no 'status' between 100 and 999"))?;
        let reason = match dict.remove("reason") {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
        };
        let data = dict.remove("data").unwrap_or(serde_json::Value::Null);
        Ok(LongPollResponse {
            status,
            reason,
            data,
        })
    }
}

fn bad_answer(what: &str) -> ClientError {
    ClientError::Decode {
        message: format!("the long-poll handler's answer {what}"),
    }
}

/// synapse-sdk's long-poll handler: queues a request, then waits for its answer.
///
/// Errors follow [`Transport`]'s rule, which the retry logic relies on: a
/// [`ClientError::Connect`] from `set_request` only when the request was provably
/// not queued (it may then be sent again); any error of `get_response` means the
/// request may have reached the agent, and [`LongPollTransport`] reports it as a
/// [`ClientError::ResponseIncomplete`].
///
/// Both methods must be cancel-safe: the transport drops them at its time-out.
#[async_trait::async_trait]
pub trait LongPollHandler: Send + Sync + fmt::Debug {
    /// Queues `request` for the agent and returns its id.
    async fn set_request(&self, request: LongPollRequest) -> Result<String, ClientError>;

    /// Waits for the answer to the request of `id`.
    async fn get_response(&self, id: &str) -> Result<LongPollResponse, ClientError>;
}

#[async_trait::async_trait]
impl<H: LongPollHandler + ?Sized> LongPollHandler for Arc<H> {
    async fn set_request(&self, request: LongPollRequest) -> Result<String, ClientError> {
        (**self).set_request(request).await
    }

    async fn get_response(&self, id: &str) -> Result<LongPollResponse, ClientError> {
        (**self).get_response(id).await
    }
}

/// A [`Transport`] over a [`LongPollHandler`]: the clients without HTTP.
///
/// ```
/// # use agent_transport::long_poll::{LongPollHandler, LongPollTransport};
/// # fn wire(handler: impl LongPollHandler + 'static) {
/// use std::time::Duration;
///
/// let transport = LongPollTransport::new(handler)
///     .timeout(Duration::from_secs(30))
///     .max_response_body(8 * 1024 * 1024);
/// // AsyncAgentClient::builder("long-poll://agent/", token).transport(Arc::new(transport))
/// # }
/// ```
#[derive(Clone)]
pub struct LongPollTransport {
    handler: Arc<dyn LongPollHandler>,
    timeout: Duration,
    max_response_body: usize,
}

impl fmt::Debug for LongPollTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongPollTransport")
            .field("handler", &self.handler)
            .field("timeout", &self.timeout)
            .field("max_response_body", &self.max_response_body)
            .finish()
    }
}

impl LongPollTransport {
    /// A transport over `handler`, with the read time-out of [`Timeouts::default`]
    /// (10 s, the SDK's) and the HTTP transport's body limit
    /// ([`DEFAULT_MAX_RESPONSE_BODY`]).
    pub fn new(handler: impl LongPollHandler + 'static) -> Self {
        LongPollTransport {
            handler: Arc::new(handler),
            timeout: Timeouts::default().read,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }

    /// How long one request may take, `set_request` and `get_response` together;
    /// past it the request fails with a 408 (a read [`ClientError::Timeout`], inside
    /// a [`ClientError::ResponseIncomplete`]: it may have been queued).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer accepted, in bytes of its `data` serialized as JSON; a
    /// larger one fails as an HTTP body past the limit does (a
    /// [`ClientError::Decode`] inside a [`ClientError::ResponseIncomplete`]).
    pub fn max_response_body(mut self, max: usize) -> Self {
        self.max_response_body = max;
        self
    }

    async fn exchange(&self, request: Request) -> Result<Response, ClientError> {
        let method = request.method.clone();
        let (path, query) = match request.path.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (request.path.clone(), None),
        };
        let poll_request = to_long_poll(request, &path, query.as_deref())?;
        let timed_out = || {
            ClientError::incomplete(
                method.as_str(),
                path.as_str(),
                ClientError::Timeout {
                    kind: TimeoutKind::Read,
                    after: self.timeout,
                },
            )
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let id = tokio::time::timeout_at(deadline, self.handler.set_request(poll_request))
            .await
            .map_err(|_| timed_out())??;
        let answer = tokio::time::timeout_at(deadline, self.handler.get_response(&id))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| match e {
                e @ ClientError::ResponseIncomplete { .. } => e,
                e => ClientError::incomplete(method.as_str(), path.as_str(), e),
            })?;
        to_response(answer, self.max_response_body)
            .map_err(|e| ClientError::incomplete(method.as_str(), path.as_str(), e))
    }
}

/// The transport's request as the handler's; refuses what long polling cannot carry.
fn to_long_poll(
    request: Request,
    path: &str,
    query: Option<&str>,
) -> Result<LongPollRequest, ClientError> {
    let content_type = request
        .headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
    if content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("multipart/"))
    {
        return Err(ClientError::invalid(
            "request body",
            "a file upload is not allowed when long polling (synapse-sdk refuses it too)",
        ));
    }
    let data = if request.body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&request.body).map_err(|e| {
            ClientError::invalid(
                "request body",
                format!("long polling carries JSON bodies only ({e})"),
            )
        })?)
    };
    let mut headers = request.headers;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(LongPollRequest {
        method: request.method,
        path: path.to_owned(),
        headers,
        params: agent_proto::query::pairs(query).collect(),
        data,
    })
}

/// The handler's answer as an HTTP-like one: `data` as a JSON body (none for
/// `null`); an error answer without data carries its reason as text, which
/// [`ClientError::from_response`] then makes its message.
fn to_response(answer: LongPollResponse, max: usize) -> Result<Response, ClientError> {
    let mut headers = HeaderMap::new();
    let body = if answer.data.is_null() {
        if answer.status >= 400 {
            Bytes::from(answer.reason)
        } else {
            Bytes::new()
        }
    } else {
        let mut out = Capped {
            buf: Vec::new(),
            max,
        };
        serde_json::to_writer(&mut out, &answer.data).map_err(|_| ClientError::Decode {
            message: format!("the answer's body is larger than the {max}-byte limit"),
        })?;
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Bytes::from(out.buf)
    };
    Ok(Response {
        status: answer.status,
        headers,
        body,
    })
}

/// A writer that refuses to grow past `max` bytes, so a huge answer is never
/// serialized whole.
struct Capped {
    buf: Vec<u8>,
    max: usize,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            return Err(std::io::Error::other("over the limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn no_streaming() -> ClientError {
    ClientError::Usage {
        message: NO_STREAMING.to_owned(),
    }
}

#[async_trait::async_trait]
impl Transport for LongPollTransport {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        self.exchange(request).await
    }

    async fn stream(&self, _request: Request) -> Result<StreamingResponse, ClientError> {
        Err(no_streaming())
    }

    async fn websocket(
        &self,
        _request: Request,
        _options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        Err(no_streaming())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers every request with `answer`, and keeps what it was given.
    #[derive(Debug)]
    struct Fixed {
        answer: Result<LongPollResponse, ClientError>,
        seen: Mutex<Vec<LongPollRequest>>,
        hang: bool,
    }

    #[async_trait::async_trait]
    impl LongPollHandler for Fixed {
        async fn set_request(&self, request: LongPollRequest) -> Result<String, ClientError> {
            self.seen.lock().unwrap().push(request);
            Ok("1".into())
        }
        async fn get_response(&self, _id: &str) -> Result<LongPollResponse, ClientError> {
            if self.hang {
                std::future::pending::<()>().await;
            }
            self.answer.clone()
        }
    }

    fn fixed(answer: Result<LongPollResponse, ClientError>) -> Arc<Fixed> {
        Arc::new(Fixed {
            answer,
            seen: Mutex::default(),
            hang: false,
        })
    }

    #[tokio::test]
    async fn the_request_goes_out_as_the_sdk_dict() {
        let handler = fixed(Ok(LongPollResponse::new(200, serde_json::json!({"ok": 1}))));
        let t = LongPollTransport::new(handler.clone());
        let mut req = Request::new(Method::POST, "resources/feasibility/?a=1&b=x%20y");
        let mut token = HeaderValue::from_static("s3cr3t");
        token.set_sensitive(true);
        req.headers.insert(http::header::AUTHORIZATION, token);
        req.body = Bytes::from_static(br#"{"kind":"job"}"#);
        let resp = t.request(req).await.unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(&resp.body[..], br#"{"ok":1}"#);
        let seen = handler.seen.lock().unwrap()[0].clone();
        assert_eq!(
            seen.to_sdk_dict(),
            serde_json::json!({
                "method": "post",
                "path": "resources/feasibility/",
                "headers": {"Authorization": "s3cr3t", "Content-Type": "application/json"},
                "params": {"a": "1", "b": "x y"},
                "data": {"kind": "job"},
            })
        );
        assert!(!format!("{seen:?}").contains("s3cr3t"));
    }

    #[tokio::test]
    async fn error_answers_map_as_http_ones() {
        let nf = LongPollResponse {
            status: 404,
            reason: "Not Found".into(),
            data: serde_json::Value::Null,
        };
        let t = LongPollTransport::new(fixed(Ok(nf)));
        let resp = t
            .request(Request::new(Method::GET, "jobs/x/"))
            .await
            .unwrap();
        let e = ClientError::from_response(resp.status, None, &resp.body);
        assert!(matches!(e, ClientError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("Not Found"), "{e}");
    }

    #[tokio::test]
    async fn a_file_upload_and_a_body_that_is_not_json_are_400_and_never_queued() {
        let handler = fixed(Ok(LongPollResponse::new(200, serde_json::Value::Null)));
        let t = LongPollTransport::new(handler.clone());
        let mut req = Request::new(Method::POST, "containers/");
        req.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=x"),
        );
        req.body = Bytes::from_static(b"--x--");
        let e = t.request(req).await.unwrap_err();
        assert_eq!(e.status_code(), 400);
        assert!(e.to_string().contains("file upload"), "{e}");
        let mut req = Request::new(Method::POST, "x/");
        req.body = Bytes::from_static(b"not json");
        assert_eq!(t.request(req).await.unwrap_err().status_code(), 400);
        assert!(handler.seen.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_that_never_answers_is_a_408_that_may_have_written() {
        let handler = Arc::new(Fixed {
            answer: Ok(LongPollResponse::new(200, serde_json::Value::Null)),
            seen: Mutex::default(),
            hang: true,
        });
        let t = LongPollTransport::new(handler).timeout(Duration::from_secs(2));
        let e = t
            .request(Request::new(Method::POST, "system/restart/"))
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), 408);
        assert!(
            matches!(&e, ClientError::ResponseIncomplete { cause, .. }
                if matches!(**cause, ClientError::Timeout { kind: TimeoutKind::Read, .. })),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn an_answer_past_the_limit_is_refused() {
        let big = serde_json::Value::String("x".repeat(100));
        let t = LongPollTransport::new(fixed(Ok(LongPollResponse::new(200, big.clone()))))
            .max_response_body(50);
        let e = t
            .request(Request::new(Method::GET, "jobs/x/logs/"))
            .await
            .unwrap_err();
        let said = agent_proto::error_chain(&e);
        assert!(said.contains("50-byte limit"), "{said}");
        let t = LongPollTransport::new(fixed(Ok(LongPollResponse::new(200, big))))
            .max_response_body(102);
        assert!(t.request(Request::new(Method::GET, "x/")).await.is_ok());
    }

    #[tokio::test]
    async fn a_get_response_failure_may_have_written_and_tails_are_refused() {
        let t = LongPollTransport::new(fixed(Err(ClientError::connect("broker down"))));
        let e = t
            .request(Request::new(Method::POST, "jobs/x/stop/"))
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
        let opts = WsOptions {
            max_message_size: 1 << 20,
            ping_interval: Duration::from_secs(1),
        };
        for e in [
            t.stream(Request::new(Method::GET, "a/")).await.err(),
            t.websocket(Request::new(Method::GET, "a/"), opts)
                .await
                .err(),
        ] {
            let e = e.unwrap();
            assert!(matches!(e, ClientError::Usage { .. }), "{e:?}");
            assert!(e.to_string().contains("no streaming"), "{e}");
        }
    }

    proptest::proptest! {
        /// Whatever the query and the JSON body, the handler gets them back as the
        /// SDK's `params` and `data`: percent-encoding and JSON round-trip exactly.
        #[test]
        fn the_query_and_body_reach_the_handler_unchanged(
            params in proptest::collection::vec(("[a-z_]{1,8}", "\\PC{0,12}"), 0..6),
            text in "\\PC{0,40}",
            n in proptest::num::i64::ANY,
        ) {
            let handler = fixed(Ok(LongPollResponse::new(200, serde_json::Value::Null)));
            let t = LongPollTransport::new(handler.clone());
            let mut req = Request::new(Method::PATCH, agent_proto::query::with_query("x/", &params));
            let data = serde_json::json!({"text": text, "n": n, "list": [text, n]});
            req.body = Bytes::from(serde_json::to_vec(&data).unwrap());
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(t.request(req)).unwrap();
            let seen = handler.seen.lock().unwrap().pop().unwrap();
            proptest::prop_assert_eq!(seen.path.as_str(), "x/");
            proptest::prop_assert_eq!(&seen.params, &params);
            proptest::prop_assert_eq!(seen.data.as_ref(), Some(&data));
        }
    }
}
