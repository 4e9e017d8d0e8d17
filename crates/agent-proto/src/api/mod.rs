//! The agent API, described once and without I/O: every operation's method, path
//! template with its typed id, query, body type, answer type and idempotence.
//!
//! Modelled on kube-core's `Request` builders (`kube-core/src/request.rs`): a
//! builder such as [`get_job`] makes a [`Call`], which builds an
//! [`http::Request`] and decodes the answer's bytes, and never touches the
//! network. Both clients send what it builds; agent-server's router finds the
//! operation of an incoming request with [`match_request`], from the same table
//! ([`OperationId::ALL`]), so a route is written once, in `table.rs`.
//!
//! ```
//! use agent_proto::{api, JobId};
//!
//! let call = api::get_job(JobId::new("raysubmit_1")?);
//! let req = call.request()?;
//! assert_eq!(req.method(), http::Method::GET);
//! assert_eq!(req.uri(), "/jobs/raysubmit_1/");
//! assert!(call.operation().id().idempotent());
//!
//! // the router's side: the same table, backwards
//! let op = api::match_request(&http::Method::GET, "jobs/raysubmit_1/", false).unwrap();
//! assert_eq!(&op, call.operation());
//!
//! // the answer's side
//! let job = call.answer(br#"{"submission_id":"raysubmit_1","status":"RUNNING"}"#)?;
//! assert_eq!(job.id(), Some("raysubmit_1"));
//! # Ok::<(), agent_proto::ClientError>(())
//! ```

mod body;
mod matching;
pub mod multipart;
mod table;

pub use body::{Answer, Encoded, JsonOrText, RequestBody, Streamed};
pub use matching::{is_route_word, match_request, MatchError};
pub use table::*;

use crate::error::ClientError;
use crate::models::RuntimePolicy;
use crate::query;
use http::Method;
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;

/// One request to make: an [`Operation`] (with its id), a query and a body of type
/// `B`, answered by an `A`. Built by the table's builders ([`get_job`],
/// [`create_container`], ...); sends nothing itself.
pub struct Call<B, A> {
    operation: Operation,
    query: Vec<(String, String)>,
    body: Option<Result<Encoded, String>>,
    types: PhantomData<fn(&B) -> A>,
}

impl<B, A> Clone for Call<B, A> {
    fn clone(&self) -> Self {
        Call {
            operation: self.operation.clone(),
            query: self.query.clone(),
            body: self.body.clone(),
            types: PhantomData,
        }
    }
}

impl<B, A> fmt::Debug for Call<B, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // bodies are elided: a caller's parameters may be confidential
        f.debug_struct("Call")
            .field("operation", &self.operation)
            .field("query", &self.query)
            .field(
                "body_len",
                &self
                    .body
                    .as_ref()
                    .map(|b| b.as_ref().map(|e| e.bytes.len())),
            )
            .finish()
    }
}

impl<B, A> Call<B, A> {
    /// A call of `operation` with no query and no body. The table's builders give
    /// each operation its body and answer types; this is for a second reading of
    /// one route ([`get_runtime_policy`]).
    pub fn new(operation: Operation) -> Self {
        Call {
            operation,
            query: Vec::new(),
            body: None,
            types: PhantomData,
        }
    }

    /// The operation.
    pub fn operation(&self) -> &Operation {
        &self.operation
    }

    /// Adds query parameters (percent-encoded when the path is built).
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        self.query.extend(
            pairs
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
        );
        self
    }

    /// The query parameters so far.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.operation.id().method()
    }

    /// True when the request may be sent again without repeating a write.
    pub fn idempotent(&self) -> bool {
        self.operation.id().idempotent()
    }

    /// The path relative to the API's base URL, with the query.
    pub fn path(&self) -> String {
        query::with_query(&self.operation.path(), &self.query)
    }

    /// The encoded body, if any (an encoding failure is reported here).
    pub fn encoded_body(&self) -> Result<Option<&Encoded>, ClientError> {
        match &self.body {
            None => Ok(None),
            Some(Ok(e)) => Ok(Some(e)),
            Some(Err(message)) => Err(ClientError::Decode {
                message: format!("could not encode the request body: {message}"),
            }),
        }
    }

    /// The request as an [`http::Request`]: the URI is the path from the API's base
    /// (with a leading `/`), the body its bytes with their `Content-Type`.
    pub fn request(&self) -> Result<http::Request<Vec<u8>>, ClientError> {
        let uri = format!("/{}", self.path());
        let mut builder = http::Request::builder().method(self.method()).uri(uri);
        let bytes = match self.encoded_body()? {
            Some(e) => {
                builder = builder.header(http::header::CONTENT_TYPE, e.content_type.as_str());
                e.bytes.clone()
            }
            None => Vec::new(),
        };
        builder.body(bytes).map_err(|e| ClientError::Usage {
            message: format!("could not build the request: {e}"),
        })
    }
}

impl<B: RequestBody, A> Call<B, A> {
    /// Sets the body (encoded now; a failure is reported by [`request`](Self::request)).
    pub fn body(mut self, body: &B) -> Self {
        self.body = body.encode().transpose();
        self
    }
}

impl<B, A: Answer> Call<B, A> {
    /// Decodes the bytes of a successful answer.
    pub fn answer(&self, body: &[u8]) -> Result<A, ClientError> {
        A::from_body(body)
    }
}

impl Operation {
    /// The operation without its segment: [`id`](Self::id) under the servers' name
    /// (a route's kind, as their faults, journals and metrics say).
    pub fn kind(&self) -> OperationId {
        self.id()
    }

    /// The path relative to the API's base URL: the template with its segment
    /// percent-encoded ([`query::encode_path_segment`]).
    ///
    /// ```
    /// use agent_proto::{api::Operation, PluginLookup};
    /// let op = Operation::RunPluginRelease(PluginLookup::new("demo@1.0")?);
    /// assert_eq!(op.path(), "plugin_releases/demo@1.0/run/");
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn path(&self) -> String {
        let template = self.id().template();
        match (self.id().segment_name(), self.segment()) {
            (Some(name), Some(value)) => {
                template.replace(&format!("{{{name}}}"), &query::encode_path_segment(value))
            }
            _ => template.to_owned(),
        }
    }
}

impl OperationId {
    /// The operation of a builder's name (the SDK's method name, `get_job`), for a
    /// front end that names operations in text (the Python package, a CLI).
    ///
    /// ```
    /// use agent_proto::api::OperationId;
    /// assert_eq!(OperationId::from_name("list_containers"), Some(OperationId::ListContainers));
    /// assert_eq!(OperationId::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<OperationId> {
        OperationId::ALL
            .iter()
            .copied()
            .find(|op| op.name() == name)
    }

    /// True for a paginated list (its answer is a `Page`: `count`, `next`,
    /// `previous`, `results`), which `list_all` follows and `exists` asks.
    ///
    /// ```
    /// use agent_proto::api::OperationId;
    /// assert!(OperationId::ListContainers.paginated());
    /// assert!(!OperationId::ListJobs.paginated());
    /// ```
    pub fn paginated(self) -> bool {
        self.answer_type().starts_with("Page<")
    }
}

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.template())
    }
}

/// GET `resources/policy/` read as the runtime policy: the same route as
/// [`get_gatekeeping_policy`], every field typed with the SDK's defaults.
pub fn get_runtime_policy() -> Call<(), RuntimePolicy> {
    Call::new(Operation::GetPolicy)
}

/// PATCH `resources/policy/` answered as the runtime policy: the same route as
/// [`update_gatekeeping_policy`].
pub fn update_runtime_policy() -> Call<Value, RuntimePolicy> {
    Call::new(Operation::UpdatePolicy)
}
