//! [`MemoryTransport`]: answers from a closure, no network.
//!
//! It shows that a deployment can put its own transport under the clients, and it
//! serves the clients' unit tests: the handler sees every request and answers with a
//! whole response, a streamed body or a list of WebSocket messages, or fails.
//!
//! ```
//! use agent_transport::memory::{MemoryReply, MemoryTransport};
//! use agent_transport::{Request, Transport};
//! use http::Method;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let transport = MemoryTransport::new(|req: Request| match req.path.as_str() {
//!     "health/" => Ok(MemoryReply::body(200, r#"{"status":"ok"}"#)),
//!     "jobs/j1/logs/stream/" => Ok(MemoryReply::chunks(200, ["line 1\n", "line 2\n"])),
//!     _ => Ok(MemoryReply::body(404, "not found")),
//! });
//! let resp = transport.request(Request::new(Method::GET, "health/")).await?;
//! assert_eq!(resp.status, 200);
//! let mut stream = transport.stream(Request::new(Method::GET, "jobs/j1/logs/stream/")).await?;
//! assert_eq!(stream.body.next_chunk().await?.as_deref(), Some(&b"line 1\n"[..]));
//! assert_eq!(transport.requests().len(), 2);
//! # Ok::<(), agent_proto::ClientError>(())
//! # }).unwrap();
//! ```

use crate::retry::parse_retry_after;
use crate::transport::{
    BodyStream, Request, Response, StreamingResponse, Transport, WsMessage, WsOptions, WsStream,
};
use agent_proto::ClientError;
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::HeaderMap;
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// How a streamed body or a WebSocket ends after its last chunk or message.
#[derive(Debug, Clone)]
pub enum MemoryEnd {
    /// Normally: the end of the body, or a close with code 1000.
    Finish,
    /// With this error (e.g. a dropped connection).
    Fail(ClientError),
    /// Never: the next read waits forever (for idle time-out tests).
    Hang,
}

/// What the handler of a [`MemoryTransport`] answers.
#[derive(Debug, Clone)]
pub enum MemoryReply {
    /// A whole answer. [`Transport::stream`] delivers its body as one chunk;
    /// [`Transport::websocket`] takes it as a refused upgrade
    /// ([`ClientError::from_response`] of its status, `Retry-After` and body).
    Response(Response),
    /// A streamed answer. [`Transport::request`] joins the chunks.
    Stream {
        /// The status code.
        status: u16,
        /// The headers.
        headers: HeaderMap,
        /// The chunks, in order.
        chunks: Vec<Bytes>,
        /// What comes after the last chunk.
        end: MemoryEnd,
    },
    /// An accepted WebSocket.
    WebSocket {
        /// The messages, in order.
        messages: Vec<WsMessage>,
        /// What comes after the last message.
        end: MemoryEnd,
    },
}

impl MemoryReply {
    /// A whole answer with no headers.
    pub fn body(status: u16, body: impl Into<Bytes>) -> Self {
        MemoryReply::Response(Response {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        })
    }

    /// A streamed answer of these chunks, ending normally.
    pub fn chunks<I>(status: u16, chunks: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        MemoryReply::Stream {
            status,
            headers: HeaderMap::new(),
            chunks: chunks.into_iter().map(Into::into).collect(),
            end: MemoryEnd::Finish,
        }
    }

    /// A WebSocket of these text messages, closed normally.
    pub fn messages<I>(texts: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        MemoryReply::WebSocket {
            messages: texts
                .into_iter()
                .map(|t| WsMessage::Text(t.into()))
                .collect(),
            end: MemoryEnd::Finish,
        }
    }
}

type Handler = dyn Fn(Request) -> Result<MemoryReply, ClientError> + Send + Sync;

/// A transport whose answers come from a closure; it records every request.
///
/// Cloning shares the handler and the record.
#[derive(Clone)]
pub struct MemoryTransport {
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("requests", &self.requests().len())
            .finish_non_exhaustive()
    }
}

impl MemoryTransport {
    /// A transport answering with `handler`; an `Err` from it is returned as the
    /// transport's error (e.g. [`ClientError::Connect`] to play an unreachable agent).
    pub fn new(
        handler: impl Fn(Request) -> Result<MemoryReply, ClientError> + Send + Sync + 'static,
    ) -> Self {
        MemoryTransport {
            handler: Arc::new(handler),
            requests: Arc::default(),
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    fn answer(&self, request: Request) -> Result<MemoryReply, ClientError> {
        match self.requests.lock() {
            Ok(mut r) => r.push(request.clone()),
            Err(poisoned) => poisoned.into_inner().push(request.clone()),
        }
        (self.handler)(request)
    }
}

fn misuse(what: &str) -> ClientError {
    ClientError::Usage {
        message: format!("the MemoryTransport handler answered {what}"),
    }
}

/// Applies an end: `Ok(())` for a normal end.
/// What reading past the last chunk or message gives: the end, the error (again
/// on every read), or nothing ever.
fn finish<T>(end: &mut Option<MemoryEnd>) -> Poll<Option<Result<T, ClientError>>> {
    match end {
        None | Some(MemoryEnd::Finish) => {
            *end = None;
            Poll::Ready(None)
        }
        Some(MemoryEnd::Fail(e)) => Poll::Ready(Some(Err(e.clone()))),
        Some(MemoryEnd::Hang) => Poll::Pending,
    }
}

#[async_trait::async_trait]
impl Transport for MemoryTransport {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        match self.answer(request)? {
            MemoryReply::Response(resp) => Ok(resp),
            MemoryReply::Stream {
                status,
                headers,
                chunks,
                end,
            } => {
                let mut end = Some(end);
                if let Some(Err(e)) = std::future::poll_fn(|_| finish::<()>(&mut end)).await {
                    return Err(e);
                }
                let mut body = BytesMut::new();
                for c in chunks {
                    body.extend_from_slice(&c);
                }
                Ok(Response {
                    status,
                    headers,
                    body: body.freeze(),
                })
            }
            MemoryReply::WebSocket { .. } => Err(misuse("a WebSocket to an HTTP request")),
        }
    }

    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
        let (status, headers, chunks, end) = match self.answer(request)? {
            MemoryReply::Response(resp) => {
                let chunks = if resp.body.is_empty() {
                    Vec::new()
                } else {
                    vec![resp.body]
                };
                (resp.status, resp.headers, chunks, MemoryEnd::Finish)
            }
            MemoryReply::Stream {
                status,
                headers,
                chunks,
                end,
            } => (status, headers, chunks, end),
            MemoryReply::WebSocket { .. } => return Err(misuse("a WebSocket to an HTTP request")),
        };
        Ok(StreamingResponse {
            status,
            headers,
            body: Box::new(MemoryStream {
                items: chunks.into(),
                end: Some(end),
            }),
        })
    }

    async fn websocket(
        &self,
        request: Request,
        _options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        match self.answer(request)? {
            MemoryReply::WebSocket { messages, end } => Ok(Box::new(MemoryStream {
                items: messages.into(),
                end: Some(end),
            })),
            MemoryReply::Response(resp) => Err(ClientError::from_response(
                resp.status,
                parse_retry_after(&resp.headers),
                &resp.body,
            )),
            MemoryReply::Stream { .. } => Err(misuse("a streamed body to a WebSocket")),
        }
    }
}

/// The body of a [`MemoryReply::Stream`] (chunks) or the messages of a
/// [`MemoryReply::WebSocket`]; cancel-safe (nothing is in flight).
struct MemoryStream<T> {
    items: VecDeque<T>,
    /// `None` once the end was delivered (then the end forever).
    end: Option<MemoryEnd>,
}

impl<T: Unpin> Stream for MemoryStream<T> {
    type Item = Result<T, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.items.pop_front() {
            Some(item) => Poll::Ready(Some(Ok(item))),
            None => finish(&mut self.end),
        }
    }
}

impl BodyStream for MemoryStream<Bytes> {}

impl WsStream for MemoryStream<WsMessage> {
    fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<()> {
        self.items.clear();
        self.end = None;
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[tokio::test]
    async fn answers_and_records() {
        let t = MemoryTransport::new(|req| match req.path.as_str() {
            "ws/" => Ok(MemoryReply::messages(["a", "b"])),
            "refused/" => Ok(MemoryReply::body(503, "busy")),
            "down/" => Err(ClientError::connect("refused")),
            "broken/" => Ok(MemoryReply::Stream {
                status: 200,
                headers: HeaderMap::new(),
                chunks: vec![Bytes::from_static(b"x")],
                end: MemoryEnd::Fail(ClientError::connect("reset")),
            }),
            _ => Ok(MemoryReply::chunks(200, ["a", "b"])),
        });
        let opts = WsOptions {
            max_message_size: 10,
            ping_interval: std::time::Duration::from_secs(1),
        };
        let resp = t.request(Request::new(Method::GET, "x/")).await.unwrap();
        assert_eq!(&resp.body[..], b"ab");
        let mut ws = t
            .websocket(Request::new(Method::GET, "ws/"), opts)
            .await
            .unwrap();
        assert_eq!(
            ws.next_message().await.unwrap(),
            Some(WsMessage::Text(Bytes::from_static(b"a")))
        );
        ws.next_message().await.unwrap();
        assert_eq!(ws.next_message().await.unwrap(), None);
        let e = t
            .websocket(Request::new(Method::GET, "refused/"), opts)
            .await
            .err()
            .unwrap();
        assert_eq!(e.status_code(), 503);
        let e = t
            .request(Request::new(Method::GET, "down/"))
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Connect { .. }));
        let mut s = t
            .stream(Request::new(Method::GET, "broken/"))
            .await
            .unwrap();
        assert!(s.body.next_chunk().await.unwrap().is_some());
        assert!(s.body.next_chunk().await.is_err());
        assert!(s.body.next_chunk().await.is_err());
        assert_eq!(t.requests().len(), 5);
    }
}
