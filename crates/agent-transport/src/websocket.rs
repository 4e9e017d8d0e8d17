//! The WebSocket of [`HttpTransport`](crate::HttpTransport): a client handshake
//! written on hyper (with the `Sec-WebSocket-Accept` check fastwebsockets' own
//! client skips), then fastwebsockets for the frames.
//!
//! The frames are read in the caller's task, inside [`WsStream::next_message`],
//! as tokio-tungstenite does: a reader task with a channel in front of it cost
//! a cross-thread hand-off per message, which was half the client's CPU per
//! tail line on tokio's multi-thread runtime (BENCHMARKS.md, issue 15).
//!
//! The reading is a *pump*: one future, owned by the stream, that loops on
//! `read_frame` and leaves what it reads in an inbox; `next_message` takes from
//! the inbox and polls the pump when it is empty. The read in progress lives in
//! the pump, not in the call: `read_frame` is not cancel-safe, so it is never
//! dropped half-way, and a call dropped by a time-out leaves it for the next call
//! to finish. The pump reads at most a turn (64 messages, 256 KiB) ahead of the
//! consumer; the kernel's socket buffer holds the rest while the consumer is
//! busy. Pongs owed to the server's pings are sent as the pump reads them, so a
//! consumer that stops reading also stops answering pings (as tokio-tungstenite's
//! does).
//!
//! A *pinger* task sends a ping whenever nothing was received for a
//! `ping_interval`. Writes (pongs and close replies, pings, the caller's close)
//! go through the write half behind a mutex. Dropping the [`WsStream`] drops the
//! pump with the socket's read half and aborts the pinger, which closes the
//! connection.

use crate::connector::{ConnectFailure, Connector};
use crate::retry::capped_retry_after;
use crate::transport::{Request, WsMessage, WsOptions, WsStream};
use crate::util::{error_chain, random_u64, AbortOnDrop};
use agent_proto::{ClientError, TimeoutKind};
use base64::Engine as _;
use bytes::Bytes;
use fastwebsockets::{
    Frame, OpCode, Payload, Role, WebSocket, WebSocketError, WebSocketRead, WebSocketWrite,
};
use http::header::{
    HeaderValue, CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE, USER_AGENT,
};
use http::{Method, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{BufReader, ReadHalf, WriteHalf};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::half_reads::HalfReads;

/// The least frame cap (16 MiB): the largest single WebSocket *frame* read is this,
/// or [`WsOptions::max_message_size`] if that is larger (the clients ask for 64 MiB).
///
/// fastwebsockets reads a frame whole before handing it over, so the cap bounds the
/// memory one frame can take. No size is decided here below it: a message in one
/// frame is handed on whole, a fragmented one frame by frame as it arrives
/// ([`WsMessage::Fragment`]), so that its reader splits it into lines and measures
/// each (a message of many short lines is never dropped whole). A single frame
/// above the cap ends the stream with a [`ClientError::Protocol`] (500) naming the
/// cap: fastwebsockets cannot skip it.
pub const MAX_WS_FRAME_SIZE: usize = 16 * 1024 * 1024;

/// The most of a refusal's body (a non-101 answer to the upgrade) that is read.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// How much of the socket one read system call takes at most (see [`HalfReads`]).
const SOCKET_READ_SIZE: usize = 64 * 1024;

/// How long [`WsStream::close`] waits for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// RFC 6455 section 1.3.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

type Io = HalfReads<BufReader<TokioIo<Upgraded>>>;
type Reader = WebSocketRead<ReadHalf<Io>>;
type Writer = Arc<Mutex<WebSocketWrite<WriteHalf<Io>>>>;

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
fn new_key() -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&random_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&random_u64().to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The `Sec-WebSocket-Accept` a server must answer to `key`.
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

fn header_is(headers: &http::HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Opens a WebSocket at `uri` (`http`/`https`, used as `ws`/`wss`): TCP, TLS and the
/// upgrade handshake, all within the connect time-out.
pub(crate) async fn open(
    connector: &Connector,
    uri: Uri,
    request: Request,
    user_agent: HeaderValue,
    options: WsOptions,
) -> Result<Box<dyn WsStream>, ClientError> {
    let limit = connector.timeout();
    match tokio::time::timeout(limit, handshake(connector, uri, request, user_agent)).await {
        Err(_) => Err(ClientError::Timeout {
            kind: TimeoutKind::Connect,
            after: limit,
        }),
        Ok(Err(e)) => Err(e),
        Ok(Ok(io)) => Ok(Box::new(start(io, options))),
    }
}

async fn handshake(
    connector: &Connector,
    uri: Uri,
    request: Request,
    user_agent: HeaderValue,
) -> Result<Io, ClientError> {
    let path = request.path.clone();
    let stream = connector
        .connect_unbounded(uri.clone(), true)
        .await
        .map_err(|ConnectFailure(e)| e)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(stream)
        .await
        .map_err(|e| {
            ClientError::connect_with(
                format!("WebSocket handshake failed: {}", error_chain(&e)),
                e,
            )
        })?;
    // Drives the connection until the upgrade hands the socket over (or the
    // handshake is abandoned, which aborts it).
    let _conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    }));

    let key = new_key();
    let target = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let mut builder = http::Request::builder().method(Method::GET).uri(target);
    if let Some(headers) = builder.headers_mut() {
        *headers = request.headers;
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, user_agent);
        }
        if let Some(authority) = uri.authority() {
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|_| ClientError::invalid("base URL", "bad host"))?;
            headers.insert(HOST, host);
        }
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        let key_value =
            HeaderValue::from_str(&key).map_err(|_| ClientError::protocol("bad WebSocket key"))?;
        headers.insert(SEC_WEBSOCKET_KEY, key_value);
    }
    let req = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| ClientError::invalid("request", e.to_string()))?;

    let response = sender.send_request(req).await.map_err(|e| {
        ClientError::incomplete(
            "GET",
            path.clone(),
            ClientError::connect_with(
                format!(
                    "connection closed before the answer was complete ({})",
                    error_chain(&e)
                ),
                e,
            ),
        )
    })?;

    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status().as_u16();
        let retry_after = capped_retry_after(response.headers());
        let body = read_bounded(response.into_body(), MAX_REFUSAL_BODY).await;
        if status < 400 {
            // Not an error status: an answer that is no WebSocket (a proxy that
            // dropped `Upgrade` answers 200), reported as such, never as a "200 error".
            return Err(ClientError::protocol(format!(
                "the WebSocket upgrade was answered {status} instead of 101 (a proxy that \
                 does not pass WebSockets?)"
            )));
        }
        return Err(ClientError::from_response(status, retry_after, &body));
    }
    let headers = response.headers();
    if !header_is(headers, UPGRADE, "websocket") {
        return Err(ClientError::protocol(
            "the server answered 101 without `Upgrade: websocket`",
        ));
    }
    if !header_is(headers, CONNECTION, "upgrade") {
        return Err(ClientError::protocol(
            "the server answered 101 without `Connection: Upgrade`",
        ));
    }
    let expected = accept_key(&key);
    let accepted = headers
        .get(SEC_WEBSOCKET_ACCEPT)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !accepted {
        return Err(ClientError::protocol(
            "the server's Sec-WebSocket-Accept does not match the key sent (RFC 6455 4.2.2)",
        ));
    }
    let upgraded = hyper::upgrade::on(response).await.map_err(|e| {
        ClientError::incomplete(
            "GET",
            path.clone(),
            ClientError::connect_with(
                format!("the WebSocket upgrade failed ({})", error_chain(&e)),
                e,
            ),
        )
    })?;
    // fastwebsockets' own buffer stays small under `HalfReads` (see there); the
    // socket is read in 64 KiB gulps behind it, so small reads cost a copy, not a
    // system call each.
    let socket = BufReader::with_capacity(SOCKET_READ_SIZE, TokioIo::new(upgraded));
    Ok(HalfReads::new(socket))
}

/// Up to `max` bytes of a body; whatever came before an error or the limit.
async fn read_bounded(mut body: hyper::body::Incoming, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < max {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = max - out.len();
                    out.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    out
}

/// The frame cap for this [`WsOptions::max_message_size`]: see [`MAX_WS_FRAME_SIZE`].
fn frame_cap(max_message_size: usize) -> usize {
    MAX_WS_FRAME_SIZE.max(max_message_size)
}

/// What the socket yields: a message, the normal end (`Ok(None)`), or an error.
type Item = Result<Option<WsMessage>, ClientError>;

/// How much the pump reads per turn before it lets the consumer take it: 64
/// messages or 256 KiB, whichever comes first. This bounds what waits between the
/// socket and the consumer (a turn ends after the message that passes 256 KiB, so at
/// most 256 KiB plus one message); the kernel's socket buffer holds the rest.
const PUMP_TURN_MESSAGES: usize = 64;
const PUMP_TURN_BYTES: usize = 256 * 1024;

/// The messages the pump has read and the consumer not yet taken.
type Inbox = Arc<std::sync::Mutex<VecDeque<Item>>>;

/// Reads the socket: a loop over `read_frame` that is polled by the consumer's own
/// calls (see the module docs) and leaves what it reads in the inbox.
///
/// One long-lived future rather than one per message: building a future per
/// message (`stream::unfold`) copied its 700 bytes each time, 7% of a tail's CPU.
type Pump = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Starts the pinger over an upgraded connection; the frames are read on demand.
fn start(io: Io, options: WsOptions) -> HyperWsStream {
    let mut ws = WebSocket::after_handshake(io, Role::Client);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    // fastwebsockets refuses frames of `>= max` bytes.
    ws.set_max_message_size(frame_cap(options.max_message_size).saturating_add(1));
    let (reader, writer) = ws.split(tokio::io::split);
    let writer: Writer = Arc::new(Mutex::new(writer));
    let received = Arc::new(AtomicU64::new(0));
    let frames = FrameReader {
        reader,
        writer: writer.clone(),
        max_message_size: options.max_message_size,
        in_message: false,
        received: received.clone(),
    };
    let inbox = Inbox::default();
    let pump = pump(frames, inbox.clone());
    let pinger_task = tokio::spawn(ping_loop(writer.clone(), options.ping_interval, received));
    HyperWsStream {
        pump: Some(Box::pin(pump)),
        inbox,
        taken: VecDeque::new(),
        writer,
        _pinger: AbortOnDrop(pinger_task),
        end: None,
    }
}

/// The pump's loop: reads items until the last one (the end or an error), and
/// after each turn's worth of them yields so the consumer takes them.
///
/// Items go to the inbox in batches, when the socket has nothing more for now, at
/// the end of a turn and after the last one: a lock per item was 5% of a tail's CPU.
async fn pump(mut frames: FrameReader, inbox: Inbox) {
    let mut batch = VecDeque::new();
    let (mut messages, mut bytes) = (0, 0);
    loop {
        let item = {
            let mut read = std::pin::pin!(frames.next_item());
            std::future::poll_fn(|cx| {
                let polled = read.as_mut().poll(cx);
                if polled.is_pending() && !batch.is_empty() {
                    lock(&inbox).append(&mut batch);
                }
                polled
            })
            .await
        };
        let last = !matches!(item, Ok(Some(_)));
        if let Ok(Some(WsMessage::Text(data) | WsMessage::Fragment { data, .. })) = &item {
            bytes += data.len();
        }
        batch.push_back(item);
        if last {
            lock(&inbox).append(&mut batch);
            return;
        }
        messages += 1;
        if messages >= PUMP_TURN_MESSAGES || bytes >= PUMP_TURN_BYTES {
            (messages, bytes) = (0, 0);
            lock(&inbox).append(&mut batch);
            // Hands control back with the turn's items in the inbox (the wake-up it
            // asks for only repolls the consumer, which takes them first).
            tokio::task::yield_now().await;
        }
    }
}

/// Sends a ping once nothing was received (and nothing pinged) for `interval`.
///
/// The reader counts frames rather than stamping a clock per frame (a
/// `clock_gettime` per message was 3% of a tail's CPU), so the pinger looks at the
/// count every half interval: a ping leaves between one and one and a half
/// intervals after the last frame.
async fn ping_loop(writer: Writer, interval: Duration, received: Arc<AtomicU64>) {
    let interval = interval.max(Duration::from_millis(2));
    let look = interval / 2;
    let mut seen = received.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    loop {
        tokio::time::sleep(look).await;
        let now = received.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
            continue;
        }
        if quiet_since.elapsed() < interval {
            continue;
        }
        let mut w = writer.lock().await;
        if w.is_closed() {
            return;
        }
        let ping = Frame::new(
            true,
            OpCode::Ping,
            None,
            Payload::Borrowed(b"agent-transport"),
        );
        if w.write_frame(ping).await.is_err() || w.flush().await.is_err() {
            // The reader sees the broken connection and reports it.
            return;
        }
        drop(w);
        quiet_since = Instant::now();
    }
}

fn mid_stream(message: String) -> ClientError {
    ClientError::connect(message)
}

fn map_read_error(err: WebSocketError, frame_cap: usize) -> ClientError {
    match err {
        WebSocketError::UnexpectedEOF | WebSocketError::ConnectionClosed => {
            mid_stream("connection closed mid-stream (no close frame)".into())
        }
        WebSocketError::IoError(e) => {
            ClientError::connect_with(format!("connection lost mid-stream: {e}"), e)
        }
        WebSocketError::FrameTooLarge => ClientError::protocol(format!(
            "the server sent a single WebSocket frame larger than the frame cap \
             ({frame_cap} bytes): it is refused whole"
        )),
        // RFC 6455 section 8.1: an endpoint that receives a text frame that is not
        // UTF-8 must fail the connection (fastwebsockets enforces it). The HTTP stream
        // has no such rule and delivers such a line with U+FFFD.
        WebSocketError::InvalidUTF8 => ClientError::protocol(
            "the server sent a text frame that is not valid UTF-8, which RFC 6455 \
                      forbids; the HTTP stream (protocol http or auto) delivers such lines \
                      with U+FFFD",
        ),
        WebSocketError::SendError(e) => ClientError::connect_with(
            format!("connection lost mid-stream: {}", error_chain(e.as_ref())),
            e,
        ),
        other => ClientError::protocol_with(format!("bad WebSocket frame: {other}"), other),
    }
}

/// The close frame's code: `None` when it carries none.
fn close_code(payload: &[u8]) -> Option<(u16, String)> {
    if payload.len() < 2 {
        return None;
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    let reason = String::from_utf8_lossy(&payload[2..])
        .chars()
        .take(120)
        .collect();
    Some((code, reason))
}

/// The read half and what reading it needs: the writer for the frames
/// fastwebsockets owes the server, whether a fragmented message is open, and the
/// frame count the pinger watches.
struct FrameReader {
    reader: Reader,
    writer: Writer,
    max_message_size: usize,
    /// Whether a fragmented message began and has not ended.
    in_message: bool,
    received: Arc<AtomicU64>,
}

impl FrameReader {
    /// Reads frames until one completes an item.
    async fn next_item(&mut self) -> Item {
        let writer = &self.writer;
        // The frames fastwebsockets owes the server (pongs, the close reply), unless
        // the caller already closed our side.
        let mut obligated = |frame: Frame<'static>| {
            let writer = writer.clone();
            async move {
                let mut w = writer.lock().await;
                if w.is_closed() {
                    return Ok::<(), WebSocketError>(());
                }
                w.write_frame(frame).await?;
                w.flush().await
            }
        };
        loop {
            let frame = match self.reader.read_frame(&mut obligated).await {
                Ok(frame) => frame,
                Err(e) => return Err(map_read_error(e, frame_cap(self.max_message_size))),
            };
            // Only this reader writes the count, so a load and a store suffice.
            let count = self.received.load(Ordering::Relaxed);
            self.received
                .store(count.wrapping_add(1), Ordering::Relaxed);
            match frame.opcode {
                OpCode::Text | OpCode::Binary => {
                    if self.in_message {
                        return Err(ClientError::protocol(
                            "a WebSocket message began before the previous one ended",
                        ));
                    }
                    let data = payload_bytes(frame.payload);
                    if frame.fin {
                        return Ok(Some(WsMessage::Text(data)));
                    }
                    self.in_message = true;
                    return Ok(Some(WsMessage::Fragment { data, last: false }));
                }
                OpCode::Continuation => {
                    if !self.in_message {
                        return Err(ClientError::protocol(
                            "a WebSocket continuation frame without a message",
                        ));
                    }
                    self.in_message = !frame.fin;
                    return Ok(Some(WsMessage::Fragment {
                        data: payload_bytes(frame.payload),
                        last: frame.fin,
                    }));
                }
                OpCode::Pong => return Ok(Some(WsMessage::KeepAlive)),
                OpCode::Ping => {}
                OpCode::Close => {
                    return match close_code(&frame.payload) {
                        None | Some((1000, _)) | Some((1001, _)) => Ok(None),
                        Some((code, reason)) => Err(mid_stream(if reason.is_empty() {
                            format!("connection closed mid-stream (code {code})")
                        } else {
                            format!("connection closed mid-stream (code {code}: {reason})")
                        })),
                    }
                }
            }
        }
    }
}

/// A frame's payload, handed on without a copy when fastwebsockets split it off
/// its read buffer. No size is decided here: the reader measures each line.
///
/// Measured against copying it out (which would let fastwebsockets reuse its read
/// buffer in place instead of allocating a new one every few dozen messages, each
/// of which makes glibc consolidate the freed lines): the copy's allocation per
/// message costs more (issue 15, BENCHMARKS.md).
fn payload_bytes(payload: Payload<'_>) -> Bytes {
    match payload {
        Payload::Bytes(bytes) => bytes.freeze(),
        Payload::Owned(vec) => Bytes::from(vec),
        other => Bytes::copy_from_slice(&other),
    }
}

/// The [`WsStream`] of [`HttpTransport`](crate::HttpTransport).
struct HyperWsStream {
    /// `None` once it finished.
    pump: Option<Pump>,
    inbox: Inbox,
    /// What was taken from the inbox in one go (one lock per batch, not per item).
    taken: VecDeque<Item>,
    writer: Writer,
    _pinger: AbortOnDrop,
    /// Set once the stream ended: `Ok` normally, `Err` with the error to repeat.
    end: Option<Result<(), ClientError>>,
}

impl HyperWsStream {
    /// The next item: from what was taken, else from the inbox, else after polling
    /// the pump. Cancel-safe: the read in progress stays in the pump.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Item> {
        let mut polled = false;
        loop {
            if let Some(item) = self.taken.pop_front() {
                return Poll::Ready(item);
            }
            std::mem::swap(&mut *lock(&self.inbox), &mut self.taken);
            if !self.taken.is_empty() {
                continue;
            }
            if polled {
                return Poll::Pending;
            }
            let Some(pump) = self.pump.as_mut() else {
                return Poll::Ready(Err(mid_stream(
                    "connection closed mid-stream (the reader stopped)".into(),
                )));
            };
            if pump.as_mut().poll(cx).is_ready() {
                self.pump = None;
            }
            polled = true;
        }
    }
}

/// The inbox, even if a panic poisoned it: a queue of items stays consistent.
fn lock(inbox: &Inbox) -> std::sync::MutexGuard<'_, VecDeque<Item>> {
    inbox
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait::async_trait]
impl WsStream for HyperWsStream {
    async fn next_message(&mut self) -> Result<Option<WsMessage>, ClientError> {
        std::future::poll_fn(|cx| self.poll_next_message(cx)).await
    }

    fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Item> {
        match &self.end {
            Some(Ok(())) => return Poll::Ready(Ok(None)),
            Some(Err(e)) => return Poll::Ready(Err(e.clone())),
            None => {}
        }
        let item = std::task::ready!(self.poll_item(cx));
        match &item {
            Ok(Some(_)) => {}
            Ok(None) => self.end = Some(Ok(())),
            Err(e) => self.end = Some(Err(e.clone())),
        }
        Poll::Ready(item)
    }

    async fn close(&mut self) {
        if self.end.is_some() {
            return;
        }
        {
            let mut w = self.writer.lock().await;
            if !w.is_closed() {
                let _ = w.write_frame(Frame::close(1000, b"")).await;
                let _ = w.flush().await;
            }
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            loop {
                let item = std::future::poll_fn(|cx| self.poll_item(cx)).await;
                if !matches!(item, Ok(Some(_))) {
                    break;
                }
            }
        })
        .await;
        self.end = Some(Ok(()));
        self._pinger.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn keys_are_16_bytes_and_fresh() {
        let a = new_key();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&a)
            .unwrap();
        assert_eq!(decoded.len(), 16);
        assert_ne!(a, new_key());
    }

    #[test]
    fn the_frame_cap_is_at_least_the_floor() {
        assert_eq!(frame_cap(0), MAX_WS_FRAME_SIZE);
        assert_eq!(frame_cap(64 << 20), 64 << 20);
    }

    #[test]
    fn close_codes() {
        assert_eq!(close_code(&[]), None);
        assert_eq!(close_code(&[0x03, 0xe8]), Some((1000, String::new())));
        assert_eq!(close_code(&[0x03, 0xf3, b'x']), Some((1011, "x".into())));
    }
}
