//! A hook into request handling: sees every request first (a gateway logs with one;
//! the testkit journals with one). Changing how a request is answered (a canned
//! answer, a stall, a delay, a cut body: the testkit's faults) exists only with the
//! `test-util` feature, so that production builds carry no way to break the protocol.

#[cfg(feature = "test-util")]
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
#[cfg(feature = "test-util")]
use http::{HeaderName, HeaderValue, StatusCode};

use crate::route::Route;

/// A request as it arrived, before its body is read.
#[derive(Debug)]
pub struct RequestHead<'a> {
    /// The request's number on this server, from 0 in arrival order.
    pub seq: u64,
    /// The method.
    pub method: &'a Method,
    /// The URI as sent (path with the server's prefix, and query).
    pub uri: &'a Uri,
    /// The headers as sent.
    pub headers: &'a HeaderMap,
    /// The route, when the path and method name one.
    pub route: Option<&'a Route>,
    /// True for a WebSocket upgrade request.
    pub upgrade: bool,
    /// True when the request carried the server's token (or the server asks for
    /// none). A refused request is answered 401 whatever the hook decides, and its
    /// body is never read.
    pub authenticated: bool,
}

/// A fixed answer a hook can give instead of the normal one.
#[cfg(feature = "test-util")]
#[derive(Debug, Clone, PartialEq)]
pub struct CannedResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers (no `Content-Type` is added: set one here if wanted).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, sent as it is.
    pub body: Bytes,
}

/// What to do with a request, decided by [`RequestHook::on_request`].
#[cfg(feature = "test-util")]
#[derive(Debug, Clone, PartialEq, Default)]
pub enum InterceptAction {
    /// Answer normally.
    #[default]
    Continue,
    /// Answer with this instead (for a WebSocket upgrade request: refuse the upgrade).
    Respond(CannedResponse),
    /// Read the request fully, then never answer (until the client or the server
    /// hangs up).
    Stall,
    /// Answer normally, but close the connection after this many bytes of the body
    /// (the headers promise the whole body; for a streamed body, mid-stream).
    TruncateBody {
        /// Bytes of the body sent before the connection is dropped.
        after_bytes: u64,
    },
}

/// A hook's decision on a request: without the `test-util` feature, always to answer
/// normally.
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use agent_server::{Intercept, InterceptAction};
/// use std::time::Duration;
///
/// let i = Intercept::default();
/// assert_eq!(i.action, InterceptAction::Continue);
/// let slow = Intercept { delay: Some(Duration::from_millis(50)), action: InterceptAction::Continue };
/// assert!(slow.delay.is_some());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Intercept {
    /// Wait this long after reading the request, before answering.
    #[cfg(feature = "test-util")]
    pub delay: Option<Duration>,
    /// Then do this.
    #[cfg(feature = "test-util")]
    pub action: InterceptAction,
}

/// Sees each request before it is answered. Both methods are called on the request's
/// own task and must not block.
pub trait RequestHook: Send + Sync + 'static {
    /// Called once the request's head arrived, before authentication and routing
    /// errors are answered: every request reaches the hook.
    fn on_request(&self, head: &RequestHead<'_>) -> Intercept;

    /// Called once the body was read: `complete` is false when the client hung up (or
    /// the body was too large) before its end; `body` is what arrived.
    fn on_body(&self, seq: u64, body: &Bytes, complete: bool) {
        let _ = (seq, body, complete);
    }
}
