//! The WebSocket side of a log tail: one text frame per event, then a close frame.
//!
//! The socket is split: a reader answers the client's pings and close (fastwebsockets'
//! `read_frame` is not cancel-safe, so it runs on its own and is never raced), and a
//! writer sends the events and the reader's obligated answers, in order.

use std::time::Duration;

use fastwebsockets::{Frame, OpCode, Payload, WebSocket, WebSocketError};
use futures_util::{FutureExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, watch};

use crate::access::{TailEnd, TailRecord};
use crate::backend::TailEvent;
use crate::body::numbered_event_json;
use crate::lines::{Numbered, NumberedStream};

/// How long to wait for the client's answer to our close frame (or for our writer to
/// echo the client's close) before dropping the connection.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The writer's buffer: a burst of log frames up to this size goes out in one write.
const WRITE_BUFFER: usize = 64 * 1024;

/// Close code: normal end (the log is complete).
const CLOSE_NORMAL: u16 = 1000;
/// Close code: the server is going away.
const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code: the server failed (after an `error` event).
const CLOSE_INTERNAL_ERROR: u16 = 1011;
/// Close code: the client sent a frame larger than the server takes.
const CLOSE_TOO_BIG: u16 = 1009;

#[derive(Debug, PartialEq, Eq)]
enum WriterEnd {
    /// A close frame went out: wait for the client's.
    Closed,
    /// Drop the connection now.
    Dropped,
}

/// Serves `events` over `ws` until the tail ends, the client goes, or `shutdown`.
pub(crate) async fn serve_tail(
    ws: WebSocket<TokioIo<Upgraded>>,
    mut events: NumberedStream,
    mut shutdown: watch::Receiver<bool>,
    record: &TailRecord,
) {
    // Frames are written into a buffer and flushed once no more events are ready:
    // one system call for a burst of lines instead of one per line, and a line that
    // comes alone still goes out at once.
    let (mut rd, mut wr) = ws.split(|s| {
        let (r, w) = tokio::io::split(s);
        (r, tokio::io::BufWriter::with_capacity(WRITE_BUFFER, w))
    });
    let (ctrl_tx, mut ctrl_rx) = mpsc::channel::<(OpCode, Vec<u8>)>(8);

    let reader = async move {
        let mut obligated = |frame: Frame<'_>| {
            let tx = ctrl_tx.clone();
            let msg = (frame.opcode, frame.payload.to_vec());
            async move { tx.send(msg).await }
        };
        loop {
            match rd.read_frame(&mut obligated).await {
                Ok(frame) if frame.opcode == OpCode::Close => break,
                Ok(_) => {}
                Err(WebSocketError::FrameTooLarge) => {
                    // refused from its header, before its payload is read: close
                    // with 1009 and read no more
                    let mut payload = CLOSE_TOO_BIG.to_be_bytes().to_vec();
                    payload.extend_from_slice(b"frame too large");
                    record.ended(TailEnd::FrameTooLarge);
                    let _ = ctrl_tx.send((OpCode::Close, payload)).await;
                    break;
                }
                Err(_) => break,
            }
        }
    };

    let writer = async move {
        // Whether log frames were written and not flushed yet.
        let mut unflushed = false;
        loop {
            enum Next {
                Ctrl(Option<(OpCode, Vec<u8>)>),
                Event(Option<Numbered>),
                Shutdown,
            }
            // What is ready now comes first, without a flush; when nothing is, the
            // buffered frames go out before waiting. (`next()` is cancel-safe.)
            let ready = match ctrl_rx.try_recv() {
                Ok(c) => Some(Next::Ctrl(Some(c))),
                Err(_) if *shutdown.borrow() => Some(Next::Shutdown),
                Err(_) => events.next().now_or_never().map(Next::Event),
            };
            let next = match ready {
                Some(next) => next,
                None => {
                    if unflushed {
                        if wr.flush().await.is_err() {
                            return WriterEnd::Dropped;
                        }
                        unflushed = false;
                    }
                    tokio::select! {
                        biased;
                        c = ctrl_rx.recv() => Next::Ctrl(c),
                        () = crate::task::stopped(&mut shutdown) => Next::Shutdown,
                        ev = events.next() => Next::Event(ev),
                    }
                }
            };
            // an abort ends the tail as the end of its events does
            #[cfg(feature = "test-util")]
            let next = match next {
                Next::Event(Some(Numbered {
                    event: TailEvent::Abort,
                    ..
                })) => Next::Event(None),
                other => other,
            };
            let (frame, end) = match next {
                Next::Ctrl(None) => return WriterEnd::Dropped,
                Next::Ctrl(Some((op, payload))) => {
                    let end = (op == OpCode::Close).then_some(WriterEnd::Closed);
                    (Frame::new(true, op, None, Payload::Owned(payload)), end)
                }
                Next::Shutdown => {
                    record.ended(TailEnd::Shutdown);
                    (
                        Frame::close(CLOSE_GOING_AWAY, b"server shutting down"),
                        Some(WriterEnd::Closed),
                    )
                }
                Next::Event(None) => {
                    record.ended(TailEnd::Aborted);
                    // what was sent before the drop reaches the client first
                    let _ = wr.flush().await;
                    return WriterEnd::Dropped;
                }
                #[cfg(feature = "test-util")]
                Next::Event(Some(Numbered {
                    event: TailEvent::Raw(bytes),
                    ..
                })) => (Frame::text(Payload::Owned(bytes.to_vec())), None),
                #[cfg(feature = "test-util")]
                Next::Event(Some(Numbered {
                    event:
                        TailEvent::Fragment {
                            payload,
                            first,
                            last,
                        },
                    ..
                })) => {
                    let op = if first {
                        OpCode::Text
                    } else {
                        OpCode::Continuation
                    };
                    (
                        Frame::new(last, op, None, Payload::Owned(payload.to_vec())),
                        None,
                    )
                }
                Next::Event(Some(Numbered {
                    event: ev,
                    n,
                    lines,
                })) => {
                    let Some(json) = numbered_event_json(&ev, n) else {
                        return WriterEnd::Dropped;
                    };
                    let frame = Frame::text(Payload::Owned(json));
                    if wr.write_frame(frame).await.is_err() {
                        return WriterEnd::Dropped;
                    }
                    unflushed = true;
                    match ev {
                        TailEvent::Log(_) => record.lines_sent(lines),
                        TailEvent::Complete => record.ended(TailEnd::Complete),
                        TailEvent::Error(_) => record.ended(TailEnd::Error),
                        #[cfg(feature = "test-util")]
                        _ => {}
                    }
                    match ev {
                        TailEvent::Complete => {
                            (Frame::close(CLOSE_NORMAL, b""), Some(WriterEnd::Closed))
                        }
                        TailEvent::Error(_) => (
                            Frame::close(CLOSE_INTERNAL_ERROR, b""),
                            Some(WriterEnd::Closed),
                        ),
                        _ => continue,
                    }
                }
            };
            if wr.write_frame(frame).await.is_err() || wr.flush().await.is_err() {
                return WriterEnd::Dropped;
            }
            if let Some(end) = end {
                return end;
            }
        }
    };

    tokio::pin!(reader);
    tokio::pin!(writer);
    tokio::select! {
        end = &mut writer => {
            if end == WriterEnd::Closed {
                let _ = tokio::time::timeout(CLOSE_WAIT, &mut reader).await;
            }
        }
        () = &mut reader => {
            // the client closed (its close is echoed by the writer) or went away
            let _ = tokio::time::timeout(CLOSE_WAIT, &mut writer).await;
        }
    }
}
