//! The transport contract: what a client asks of the wire, and what it gets back.

use agent_proto::ClientError;
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, Method};
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// One request to the agent.
///
/// `path` is relative to the transport's base URL and already safe (the clients build
/// it from validated segments); it may carry a query string (`plugin_releases/?page=2`).
/// Header values holding secrets are marked sensitive, so `Debug` never prints them.
///
/// ```
/// use agent_transport::Request;
/// use http::Method;
///
/// let req = Request::new(Method::GET, "jobs/");
/// assert_eq!(req.path, "jobs/");
/// assert!(req.body.is_empty());
/// ```
#[derive(Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path relative to the base URL, with its query if any.
    pub path: String,
    /// Headers to send (authentication included).
    pub headers: HeaderMap,
    /// The body; empty for none.
    pub body: Bytes,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// True for methods that may be sent again without repeating a write
    /// (GET, HEAD, PUT, DELETE, OPTIONS).
    ///
    /// ```
    /// use agent_transport::Request;
    /// use http::Method;
    /// assert!(Request::new(Method::DELETE, "x/").is_idempotent());
    /// assert!(!Request::new(Method::POST, "x/").is_idempotent());
    /// ```
    pub fn is_idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        )
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // HeaderMap's Debug prints sensitive values as `Sensitive`; bodies are elided
        // because a caller's parameters may be confidential.
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// An answer whose body arrives in chunks.
pub struct StreamingResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, chunk by chunk.
    pub body: Box<dyn BodyStream>,
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A body that arrives chunk by chunk: a [`Stream`] of chunks, polled in the
/// caller's task (as hyper's and reqwest's bodies are). The stream ends (`None`)
/// at the end of the body; an error is the last item. Dropping it closes its
/// connection.
///
/// Polling is cancel-safe by construction: a chunk is handed out only by the poll
/// that returns it, so a caller that stops polling (a time-out, a `select!`) loses
/// nothing. [`next_chunk`](BodyStream::next_chunk) is the `async` form.
///
/// ```
/// use agent_transport::BodyStream;
/// use bytes::Bytes;
/// use futures_core::Stream;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
///
/// /// A body of fixed chunks.
/// struct Chunks(Vec<Bytes>);
///
/// impl Stream for Chunks {
///     type Item = Result<Bytes, agent_proto::ClientError>;
///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
///         Poll::Ready(self.0.pop().map(Ok))
///     }
/// }
/// impl BodyStream for Chunks {}
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let mut body: Box<dyn BodyStream> = Box::new(Chunks(vec![Bytes::from("b"), Bytes::from("a")]));
/// assert_eq!(body.next_chunk().await?.as_deref(), Some(&b"a"[..]));
/// assert_eq!(body.next_chunk().await?.as_deref(), Some(&b"b"[..]));
/// assert_eq!(body.next_chunk().await?, None);
/// # Ok::<(), agent_proto::ClientError>(()) }).unwrap();
/// ```
pub trait BodyStream: Stream<Item = Result<Bytes, ClientError>> + Send + Unpin {}

impl dyn BodyStream + '_ {
    /// The next chunk; `Ok(None)` at the end of the body. Cancel-safe.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }
}

/// How to run a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsOptions {
    /// The frame cap: the largest single frame read (at least
    /// [`MAX_WS_FRAME_SIZE`](crate::MAX_WS_FRAME_SIZE)). A message in one frame is
    /// delivered whole ([`WsMessage::Text`]), a fragmented one frame by frame as it
    /// arrives ([`WsMessage::Fragment`]), whatever its size: what is too long is the
    /// reader's to decide, line by line. A single frame past the cap ends the stream
    /// with an error naming the cap.
    pub max_message_size: usize,
    /// How often to send a ping while the connection is otherwise quiet, so that a
    /// quiet tail stays open through proxies and the idle time-out sees pongs.
    pub ping_interval: Duration,
}

/// A message received on a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A whole text (or binary) message, in one frame.
    Text(Bytes),
    /// One frame of a fragmented message, as it arrives: the first after a whole
    /// message (or the start) begins a message, `last` ends it.
    Fragment {
        /// The frame's payload.
        data: Bytes,
        /// Whether it is the message's final frame.
        last: bool,
    },
    /// A message a transport discarded unread; `len` is its size.
    Oversized {
        /// Its size in bytes.
        len: u64,
    },
    /// A sign of life without content (a pong); resets the idle time-out.
    KeepAlive,
}

/// An open WebSocket: a [`Stream`] of messages polled in the caller's task, plus
/// a close, as tokio-tungstenite's `WebSocketStream` is. The stream ends (`None`)
/// when the server closed the connection normally (close code 1000 or 1001); an
/// abnormal end is an error, the last item. Dropping it closes the connection.
///
/// Polling is cancel-safe: a message is handed out only by the poll that returns
/// it, and one half-read stays in the stream for the next poll.
/// [`next_message`](WsStream::next_message) and [`close`](WsStream::close) are the
/// `async` forms.
pub trait WsStream: Stream<Item = Result<WsMessage, ClientError>> + Send + Unpin {
    /// Sends a close frame and waits (briefly) for the server's; best effort. Ready
    /// once the connection is closed or the wait is over; the stream then ends.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

impl dyn WsStream + '_ {
    /// The next message; `Ok(None)` once the server closed the connection normally.
    /// Cancel-safe.
    pub async fn next_message(&mut self) -> Result<Option<WsMessage>, ClientError> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }

    /// Sends a close frame and waits (briefly) for the server's; best effort.
    pub async fn close(&mut self) {
        poll_fn(|cx| self.poll_close(cx)).await
    }
}

/// The wire under the clients.
///
/// Errors follow a rule that the retry logic relies on:
/// - [`ClientError::Connect`] (or a connect [`ClientError::Timeout`]) only when the
///   request provably never left, so it is safe to send again;
/// - a failure after the request may have been sent is a
///   [`ClientError::ResponseIncomplete`];
/// - an answer with an error status is *not* an error here: the transport returns it
///   and the client maps it.
///
/// A WebSocket whose upgrade is refused is the exception: there is no answer to
/// return, so the refusal comes back as [`ClientError::from_response`] of the
/// status and body.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends a request and reads its whole answer.
    async fn request(&self, request: Request) -> Result<Response, ClientError>;

    /// Sends a request and returns as soon as the answer's headers are in.
    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError>;

    /// Opens a WebSocket at the request's path (its method is ignored).
    async fn websocket(
        &self,
        request: Request,
        options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError>;
}

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        (**self).request(request).await
    }

    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
        (**self).stream(request).await
    }

    async fn websocket(
        &self,
        request: Request,
        options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        (**self).websocket(request, options).await
    }
}

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        (**self).request(request).await
    }

    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
        (**self).stream(request).await
    }

    async fn websocket(
        &self,
        request: Request,
        options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        (**self).websocket(request, options).await
    }
}
