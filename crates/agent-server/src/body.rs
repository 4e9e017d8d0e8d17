//! Response bodies: whole ones, the HTTP log stream, and a body cut short on purpose.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio::sync::watch;

use crate::access::{TailEnd, TailRecord};
use crate::backend::{BackendError, ErrorBody, TailEvent};
use crate::lines::{Numbered, NumberedStream};

/// The error type of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body of the server.
pub(crate) type ResBody = UnsyncBoxBody<Bytes, BoxError>;

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ResBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub(crate) fn empty() -> ResBody {
    full(Bytes::new())
}

/// A response with a whole body and a content type.
pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<ResBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<ResBody> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    response(status, "application/json", Bytes::from(body))
}

/// The answer of a failed operation.
pub(crate) fn error_response(e: BackendError) -> Response<ResBody> {
    let mut r = match e.body {
        ErrorBody::Json(v) => json_response(e.status, &v),
        ErrorBody::Text(t) => response(e.status, "text/plain; charset=utf-8", Bytes::from(t)),
    };
    for (name, value) in e.headers {
        r.headers_mut().append(name, value);
    }
    r
}

/// A protocol event on the wire: `type` first, as the agent writes it.
#[derive(serde::Serialize)]
struct WireEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    /// The number of the message's first line (the spec's "Line numbers and
    /// cursors"): a key the SDK's client ignores.
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u64>,
}

/// The JSON text of a protocol event (one WebSocket frame, or one `data:` line of an
/// HTTP tail): `{"type":"log","message":M}`, `{"type":"complete"}`
/// or `{"type":"error","message":M}`.
pub fn event_json(event: &TailEvent) -> Option<Vec<u8>> {
    numbered_event_json(event, None)
}

/// [`event_json`] with the number `n` of a log message's first line, if known:
/// `{"type":"log","message":M,"n":K}`.
pub(crate) fn numbered_event_json(event: &TailEvent, n: Option<u64>) -> Option<Vec<u8>> {
    let (kind, message) = match event {
        TailEvent::Log(m) => ("log", Some(m.as_str())),
        TailEvent::Complete => ("complete", None),
        TailEvent::Error(m) => ("error", Some(m.as_str())),
        #[cfg(feature = "test-util")]
        _ => return None,
    };
    serde_json::to_vec(&WireEvent { kind, message, n }).ok()
}

/// How many bytes of ready log events one chunk of the HTTP tail may gather.
const SSE_CHUNK: usize = 64 * 1024;

fn sse_line(json: Vec<u8>) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 8);
    push_sse_line(&mut out, &json);
    Bytes::from(out)
}

fn push_sse_line(out: &mut Vec<u8>, json: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
}

fn aborted(why: &str) -> BoxError {
    Box::new(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        why.to_owned(),
    ))
}

struct SseState {
    events: NumberedStream,
    /// What the events gave while a chunk was gathered that belongs to the next one
    /// (`Some(None)`: they ended).
    peeked: Option<Option<Numbered>>,
    shutdown: watch::Receiver<bool>,
    heartbeat: std::time::Duration,
    done: bool,
    record: Arc<TailRecord>,
}

/// The body of GET `jobs/{id}/logs/stream/`: each event as a `data: {json}\n\n` line.
///
/// The body is pulled by hyper as the socket drains, so a slow client holds back the
/// tail instead of making the server buffer. Raw and fragment events are written as
/// they are; an abort, the end of the events without a final event, or the server
/// shutting down drop the connection without the last chunk. While no event comes for
/// `heartbeat`, a blank line is sent: clients skip blank lines, but the bytes tell
/// their idle time-out that the connection is alive (a quiet job is not a dead one).
pub(crate) fn sse_body(
    events: NumberedStream,
    shutdown: watch::Receiver<bool>,
    heartbeat: std::time::Duration,
    record: Arc<TailRecord>,
) -> ResBody {
    let state = SseState {
        events,
        peeked: None,
        shutdown,
        heartbeat,
        done: false,
        record,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        // `next()` is cancel-safe: a heartbeat that wins the race loses no event.
        let next = if let Some(peeked) = st.peeked.take() {
            Some(peeked)
        } else {
            tokio::select! {
            ev = st.events.next() => Some(ev),
            () = crate::task::stopped(&mut st.shutdown) => None,
            () = tokio::time::sleep(st.heartbeat) => {
                return Some((Ok(Frame::data(Bytes::from_static(b"\n"))), st));
            }
            }
        };
        let Some(next) = next else {
            st.done = true;
            st.record.ended(TailEnd::Shutdown);
            return Some((Err(aborted("the server is shutting down")), st));
        };
        let item = match next.map(|s| (s.event, s.n, s.lines)) {
            Some((TailEvent::Log(line), n, lines)) => {
                // Log events that are ready now go out in the same chunk (up to
                // SSE_CHUNK): a burst of lines costs one write, a lone line still goes
                // at once. A different event waits for the next chunk.
                let mut chunk = Vec::new();
                let mut line = Some((line, n, lines));
                while let Some((l, n, lines)) = line.take() {
                    match numbered_event_json(&TailEvent::Log(l), n) {
                        Some(json) => {
                            push_sse_line(&mut chunk, &json);
                            st.record.lines_sent(lines);
                        }
                        None => return Some((Err(aborted("an event could not be encoded")), st)),
                    }
                    if chunk.len() >= SSE_CHUNK {
                        break;
                    }
                    match st.events.next().now_or_never() {
                        Some(Some(Numbered {
                            event: TailEvent::Log(next),
                            n,
                            lines,
                        })) => line = Some((next, n, lines)),
                        // another kind of event, or the end: for the next chunk
                        Some(other) => st.peeked = Some(other),
                        None => {} // nothing ready: send what we have
                    }
                }
                Ok(Frame::data(Bytes::from(chunk)))
            }
            Some((ev @ (TailEvent::Complete | TailEvent::Error(_)), _, _)) => {
                st.done = true;
                st.record.ended(if ev == TailEvent::Complete {
                    TailEnd::Complete
                } else {
                    TailEnd::Error
                });
                match event_json(&ev) {
                    Some(json) => Ok(Frame::data(sse_line(json))),
                    None => Err(aborted("an event could not be encoded")),
                }
            }
            #[cfg(feature = "test-util")]
            Some((TailEvent::Raw(b), _, _)) => Ok(Frame::data(b)),
            #[cfg(feature = "test-util")]
            Some((TailEvent::Fragment { payload, .. }, _, _)) => Ok(Frame::data(payload)),
            // the end without a final event (or, with `test-util`, an abort)
            _ => {
                st.done = true;
                st.record.ended(TailEnd::Aborted);
                // hyper flushes what it buffered while the body is pending; fail after
                tokio::task::yield_now().await;
                Err(aborted("the tail was aborted"))
            }
        };
        Some((item, st))
    });
    StreamBody::new(stream).boxed_unsync()
}

/// A body cut short on purpose (a testkit fault), with the `test-util` feature.
#[cfg(feature = "test-util")]
pub(crate) mod cut {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use hyper::body::{Body, Frame, SizeHint};

    use super::{aborted, BoxError, ResBody};

    /// A body that sends only its first `remaining` bytes, then fails, so that hyper
    /// drops the connection mid-body (the headers still promise the whole body).
    pub(crate) struct Truncated {
        inner: ResBody,
        remaining: u64,
        cut: bool,
        /// Whether hyper had a chance to flush the part sent before failing.
        flushed: bool,
    }

    impl Truncated {
        /// Cuts `inner` after `after_bytes` bytes.
        pub(crate) fn new(inner: ResBody, after_bytes: u64) -> Self {
            Truncated {
                inner,
                remaining: after_bytes,
                cut: false,
                flushed: false,
            }
        }
    }

    impl Body for Truncated {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            if self.cut {
                if !self.flushed {
                    // hyper flushes its buffer while the body is pending: let it, then fail
                    self.flushed = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                return Poll::Ready(Some(Err(aborted("the body was cut by a fault"))));
            }
            let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                other => return other,
            };
            let data = match frame.into_data() {
                Ok(data) => data,
                Err(frame) => return Poll::Ready(Some(Ok(frame))),
            };
            let len = data.len() as u64;
            if len <= self.remaining {
                self.remaining -= len;
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            let keep = self.remaining as usize;
            self.remaining = 0;
            self.cut = true;
            if keep == 0 {
                self.flushed = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Some(Ok(Frame::data(data.slice(..keep)))))
        }

        fn is_end_stream(&self) -> bool {
            !self.cut && self.inner.is_end_stream()
        }

        fn size_hint(&self) -> SizeHint {
            self.inner.size_hint()
        }
    }
}
