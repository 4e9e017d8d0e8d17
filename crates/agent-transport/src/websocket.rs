//! The WebSocket of [`HttpTransport`](crate::HttpTransport): a client handshake
//! written on hyper (with the `Sec-WebSocket-Accept` check fastwebsockets' own
//! client skips), then fastwebsockets for the frames.
//!
//! The stream is poll-based, as tokio-tungstenite's `WebSocketStream` is: the
//! caller's poll reads the upgraded connection into one buffer, parses the frames
//! there (their heads here, fastwebsockets' `Frame` for what is sent), and hands a
//! frame's payload on split off that buffer, without a copy. No task and no
//! channel sit between the socket and the caller: a reader task cost a
//! cross-thread hand-off per message, half the client's CPU per tail line on
//! tokio's multi-thread runtime (BENCHMARKS.md, issue 15), and fastwebsockets' own
//! `read_frame`, an `async fn` that is not cancel-safe, needed a pump and an inbox
//! in front of it (issue 26). Nothing is consumed from the buffer until a frame is
//! there whole, so a poll that stops half-way loses nothing.
//!
//! Pongs owed to the server's pings and the close reply are written from the same
//! polls, so a consumer that stops reading also stops answering pings (as
//! tokio-tungstenite's does). A ping is sent when the poll finds nothing to read
//! and nothing was received for a `ping_interval` (one timer, armed while the
//! caller waits). Dropping the [`WsStream`] drops the socket, which closes the
//! connection; no task outlives it.

use crate::connector::{ConnectFailure, Connector};
use crate::retry::capped_retry_after;
use crate::transport::{Request, WsMessage, WsOptions, WsStream};
use crate::util::{error_chain, random_u64, AbortOnDrop};
use agent_proto::{ClientError, TimeoutKind};
use base64::Engine as _;
use bytes::Bytes;
use bytes::{Buf, BytesMut};
use fastwebsockets::CloseCode;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError};
use futures_core::Stream;
use http::header::{
    HeaderValue, CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE, USER_AGENT,
};
use http::{Method, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

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

/// The least free room the read buffer offers a read of the socket (it grows
/// past it only for a frame that does not fit): what one open WebSocket holds
/// while it waits.
const READ_ROOM: usize = 8 * 1024;

/// The longest frame head (RFC 6455 section 5.2).
const MAX_HEAD_LEN: usize = 14;

/// The most bytes of frames waiting to be sent before pongs are no longer queued.
const MAX_QUEUED_WRITES: usize = 4 * 1024;

/// What our pings carry.
const PING_PAYLOAD: &[u8] = b"agent-transport";

/// How long [`WsStream::close`] waits for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// RFC 6455 section 1.3.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

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
        Ok(Ok(io)) => Ok(Box::new(start(TokioIo::new(io), options))),
    }
}

async fn handshake(
    connector: &Connector,
    uri: Uri,
    request: Request,
    user_agent: HeaderValue,
) -> Result<Upgraded, ClientError> {
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
    Ok(upgraded)
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

/// Starts reading frames over an upgraded connection.
fn start<S>(io: S, options: WsOptions) -> HyperWsStream<S> {
    let interval = options.ping_interval.max(Duration::from_millis(2));
    HyperWsStream {
        io,
        read: BytesMut::with_capacity(READ_ROOM),
        write: Vec::new(),
        written: 0,
        frame_cap: frame_cap(options.max_message_size),
        in_message: false,
        received: 0,
        timer: Box::pin(tokio::time::sleep(interval / 2)),
        ping: Ping {
            interval,
            seen: 0,
            quiet_since: Instant::now(),
        },
        close_sent: false,
        closing: false,
        end: None,
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
        // UTF-8 must fail the connection. The HTTP stream has no such rule and
        // delivers such a line with U+FFFD.
        WebSocketError::InvalidUTF8 => ClientError::protocol(
            "the server sent a text frame that is not valid UTF-8, which RFC 6455 \
                      forbids; the HTTP stream (protocol http or auto) delivers such lines \
                      with U+FFFD",
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

/// A frame's head, parsed from the front of the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    /// The head's own length in bytes.
    len: usize,
    payload_len: usize,
}

/// Parses the head of the frame at the front of `buf` (RFC 6455 section 5.2):
/// `Ok(None)` while it is not all there. Nothing is consumed, so a parse that waits
/// for more bytes starts over on the next read: that is what makes reading
/// cancel-safe. A frame whose payload is over `frame_cap` is refused from its
/// head, before a byte of it is read.
fn parse_head(buf: &[u8], frame_cap: usize) -> Result<Option<Head>, WebSocketError> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if b0 & 0b0111_0000 != 0 {
        return Err(WebSocketError::ReservedBitsNotZero);
    }
    let opcode = OpCode::try_from(b0 & 0b0000_1111)?;
    let fin = b0 & 0b1000_0000 != 0;
    let masked = b1 & 0b1000_0000 != 0;
    let extra = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let len = 2 + extra + if masked { 4 } else { 0 };
    if buf.len() < len {
        return Ok(None);
    }
    let payload_len = match extra {
        0 => u64::from(b1 & 0x7F),
        2 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
        _ => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            u64::from_be_bytes(n)
        }
    };
    let mask = masked.then(|| {
        let mut m = [0u8; 4];
        m.copy_from_slice(&buf[2 + extra..len]);
        m
    });
    if is_control(opcode) && !fin {
        return Err(WebSocketError::ControlFrameFragmented);
    }
    if opcode == OpCode::Ping && payload_len > 125 {
        return Err(WebSocketError::PingFrameTooLarge);
    }
    let payload_len = match usize::try_from(payload_len) {
        Ok(n) if n <= frame_cap => n,
        _ => return Err(WebSocketError::FrameTooLarge),
    };
    Ok(Some(Head {
        fin,
        opcode,
        mask,
        len,
        payload_len,
    }))
}

fn is_control(opcode: OpCode) -> bool {
    matches!(opcode, OpCode::Close | OpCode::Ping | OpCode::Pong)
}

/// Appends `frame`, masked as a client's frames must be (RFC 6455 section 5.3), to
/// `out`.
fn encode(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    let mask = random_u64().to_le_bytes();
    let mut frame = Frame::new(
        true,
        opcode,
        Some([mask[0], mask[1], mask[2], mask[3]]),
        Payload::Owned(payload.to_vec()),
    );
    frame.mask();
    let mut head = [0u8; MAX_HEAD_LEN];
    let n = frame.fmt_head(&mut head);
    out.extend_from_slice(&head[..n]);
    out.extend_from_slice(&frame.payload);
}

/// When to ping: the frame count the pinger last saw, and since when it has not
/// changed.
///
/// The reader counts frames rather than stamping a clock per frame (a
/// `clock_gettime` per message was 3% of a tail's CPU), and the pinger looks at
/// the count every half interval: a ping leaves between one and one and a half
/// intervals after the last frame.
struct Ping {
    interval: Duration,
    seen: u64,
    quiet_since: Instant,
}

/// The [`WsStream`] of [`HttpTransport`](crate::HttpTransport): frames read
/// straight from the upgraded connection into one buffer, in the caller's task.
///
/// Generic over the connection only so that unit tests can run it over an
/// in-memory pipe; the transport's is `TokioIo<Upgraded>`.
struct HyperWsStream<S> {
    io: S,
    /// The read buffer: bytes read from the socket, not handed out yet. A frame's
    /// payload is split off it without a copy.
    read: BytesMut,
    /// Frames to send (pongs, the close reply, pings, our close), encoded; the
    /// first `written` bytes are sent.
    write: Vec<u8>,
    written: usize,
    frame_cap: usize,
    /// Whether a fragmented message began and has not ended.
    in_message: bool,
    /// Frames received (the pinger watches the count).
    received: u64,
    /// The pinger's next look while open; the end of the close wait once closing.
    timer: Pin<Box<tokio::time::Sleep>>,
    ping: Ping,
    /// Whether our close frame is queued (nothing but it is sent after).
    close_sent: bool,
    /// Whether `timer` is the close wait.
    closing: bool,
    /// Set once the stream ended: `Ok` normally, `Err` with the error to repeat.
    end: Option<Result<(), ClientError>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HyperWsStream<S> {
    /// Sends what is queued; `Pending` (with the wake-up asked for) while the socket
    /// takes no more.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        let lost = |e: std::io::Error| map_read_error(WebSocketError::IoError(e), 0);
        while self.written < self.write.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.write[self.written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(lost(std::io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(lost(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.write.clear();
        self.written = 0;
        Pin::new(&mut self.io).poll_flush(cx).map_err(lost)
    }

    /// Queues a frame, unless our close went out (nothing may follow it) or too
    /// much waits already (a server that pings faster than it reads gets fewer
    /// pongs: RFC 6455 section 5.5.3 allows answering the latest ping only).
    fn queue(&mut self, opcode: OpCode, payload: &[u8]) {
        if self.close_sent || self.write.len() > MAX_QUEUED_WRITES {
            return;
        }
        encode(opcode, payload, &mut self.write);
        if opcode == OpCode::Close {
            self.close_sent = true;
        }
    }

    /// The next whole frame from the read buffer, reading the socket when it holds
    /// none: its head and its payload (unmasked).
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<(Head, BytesMut), ClientError>> {
        loop {
            let head = match parse_head(&self.read, self.frame_cap) {
                Ok(head) => head,
                Err(e) => return Poll::Ready(Err(map_read_error(e, self.frame_cap))),
            };
            let missing = match head {
                Some(head) if self.read.len() >= head.len + head.payload_len => {
                    let mut payload = self.read.split_to(head.len + head.payload_len);
                    payload.advance(head.len);
                    if let Some(mask) = head.mask {
                        fastwebsockets::unmask(&mut payload, mask);
                    }
                    return Poll::Ready(Ok((head, payload)));
                }
                Some(head) => head.len + head.payload_len - self.read.len(),
                None => MAX_HEAD_LEN,
            };
            // Room for the rest of the frame, and for a few more behind it. The
            // buffer holds no whole frame here, so `reserve` moves what is left to
            // the front of the allocation when the payloads split off it are gone,
            // rather than grow it.
            self.read.reserve(missing.max(READ_ROOM));
            let read = tokio::io::AsyncReadExt::read_buf(&mut self.io, &mut self.read);
            match std::pin::pin!(read).poll(cx) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(map_read_error(
                        WebSocketError::UnexpectedEOF,
                        self.frame_cap,
                    )))
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(map_read_error(e.into(), self.frame_cap)))
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Whether a ping is due: polls the pinger's timer (asking for a wake-up at its
    /// next look).
    fn ping_due(&mut self, cx: &mut Context<'_>) -> bool {
        let mut due = false;
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if self.received != self.ping.seen {
                self.ping.seen = self.received;
                self.ping.quiet_since = now;
            } else if now.duration_since(self.ping.quiet_since) >= self.ping.interval {
                self.ping.quiet_since = now;
                due = true;
            }
            self.timer.as_mut().reset(now + self.ping.interval / 2);
        }
        due
    }

    /// The next message, the normal end (`Ok(None)`) or an error: frames are read
    /// until one makes an item; pongs and close replies owed are sent as they come.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Item> {
        loop {
            if !self.write.is_empty() {
                if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                    return Poll::Ready(Err(e));
                }
            }
            let (head, payload) = match self.poll_frame(cx) {
                Poll::Ready(Ok(frame)) => frame,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if !self.closing && self.ping_due(cx) {
                        self.queue(OpCode::Ping, PING_PAYLOAD);
                        continue;
                    }
                    return Poll::Pending;
                }
            };
            self.received = self.received.wrapping_add(1);
            if let Some(item) = self.on_frame(head, payload) {
                if !matches!(item, Ok(Some(_))) && !self.write.is_empty() {
                    // The close reply, best effort: the stream ends either way.
                    let _ = self.poll_write_out(cx);
                }
                return Poll::Ready(item);
            }
        }
    }

    /// What a frame makes: an item, or nothing (a ping, answered).
    fn on_frame(&mut self, head: Head, payload: BytesMut) -> Option<Item> {
        let data = |payload: BytesMut| payload.freeze();
        match head.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.in_message {
                    return Some(Err(ClientError::protocol(
                        "a WebSocket message began before the previous one ended",
                    )));
                }
                if head.opcode == OpCode::Text && head.fin && std::str::from_utf8(&payload).is_err()
                {
                    return Some(Err(map_read_error(
                        WebSocketError::InvalidUTF8,
                        self.frame_cap,
                    )));
                }
                if head.fin {
                    return Some(Ok(Some(WsMessage::Text(data(payload)))));
                }
                self.in_message = true;
                Some(Ok(Some(WsMessage::Fragment {
                    data: data(payload),
                    last: false,
                })))
            }
            OpCode::Continuation => {
                if !self.in_message {
                    return Some(Err(ClientError::protocol(
                        "a WebSocket continuation frame without a message",
                    )));
                }
                self.in_message = !head.fin;
                Some(Ok(Some(WsMessage::Fragment {
                    data: data(payload),
                    last: head.fin,
                })))
            }
            OpCode::Pong => Some(Ok(Some(WsMessage::KeepAlive))),
            OpCode::Ping => {
                self.queue(OpCode::Pong, &payload);
                None
            }
            OpCode::Close => Some(self.on_close(&payload)),
        }
    }

    /// A close frame: checked (RFC 6455 section 7.4), answered, and the end it makes.
    fn on_close(&mut self, payload: &[u8]) -> Item {
        let refused = match payload.len() {
            0 => None,
            1 => Some(WebSocketError::InvalidCloseFrame),
            _ if std::str::from_utf8(&payload[2..]).is_err() => Some(WebSocketError::InvalidUTF8),
            _ if !CloseCode::from(u16::from_be_bytes([payload[0], payload[1]])).is_allowed() => {
                self.queue(OpCode::Close, &Frame::close(1002, &payload[2..]).payload);
                Some(WebSocketError::InvalidCloseCode)
            }
            _ => None,
        };
        if let Some(e) = refused {
            return Err(map_read_error(e, self.frame_cap));
        }
        self.queue(OpCode::Close, payload);
        match close_code(payload) {
            None | Some((1000, _)) | Some((1001, _)) => Ok(None),
            Some((code, reason)) => Err(mid_stream(if reason.is_empty() {
                format!("connection closed mid-stream (code {code})")
            } else {
                format!("connection closed mid-stream (code {code}: {reason})")
            })),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for HyperWsStream<S> {
    type Item = Result<WsMessage, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match &this.end {
            Some(Ok(())) => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(e.clone()))),
            None => {}
        }
        let item = std::task::ready!(this.poll_item(cx));
        match &item {
            Ok(Some(_)) => {}
            Ok(None) => this.end = Some(Ok(())),
            Err(e) => this.end = Some(Err(e.clone())),
        }
        Poll::Ready(item.transpose())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> WsStream for HyperWsStream<S> {
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.end.is_some() {
            return Poll::Ready(());
        }
        if !self.closing {
            self.queue(OpCode::Close, &Frame::close(1000, b"").payload);
            self.closing = true;
            let deadline = Instant::now() + CLOSE_WAIT;
            self.timer.as_mut().reset(deadline);
        }
        // Reads (and drops) what still comes until the server's close, an error, or
        // the end of the wait.
        loop {
            match self.poll_item(cx) {
                Poll::Ready(Ok(Some(_))) => continue,
                Poll::Ready(_) => break,
                Poll::Pending if self.timer.as_mut().poll(cx).is_pending() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        self.end = Some(Ok(()));
        Poll::Ready(())
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

    /// A frame as a server sends it: `fin`, an opcode, a payload, masked or not.
    fn wire(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        let flag = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(flag | n as u8),
            n if n < 65536 => {
                out.push(flag | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(flag | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mut body = payload.to_vec();
        if let Some(m) = mask {
            out.extend_from_slice(&m);
            fastwebsockets::unmask(&mut body, m);
        }
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn a_head_parses_only_once_it_is_all_there() {
        for len in [0usize, 5, 125, 126, 300, 65535, 65536, 70_000] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let bytes = wire(true, 0x1, &vec![b'x'; len], mask);
                let head = parse_head(&bytes, 1 << 20).unwrap().unwrap();
                assert_eq!(head.payload_len, len);
                assert_eq!(head.len + len, bytes.len(), "{len}");
                assert_eq!(head.mask, mask);
                assert!(head.fin);
                assert_eq!(head.opcode, OpCode::Text);
                for cut in 0..head.len {
                    assert_eq!(parse_head(&bytes[..cut], 1 << 20).unwrap(), None, "{cut}");
                }
            }
        }
        let head = parse_head(&wire(false, 0x0, b"ab", None), 16)
            .unwrap()
            .unwrap();
        assert!(!head.fin);
        assert_eq!(head.opcode, OpCode::Continuation);
    }

    #[test]
    fn bad_heads_are_refused() {
        let refused = |bytes: &[u8], cap: usize| parse_head(bytes, cap).unwrap_err().to_string();
        assert_eq!(refused(&[0xC1, 0x00], 16), "Reserved bits are not zero");
        assert_eq!(refused(&[0x91, 0x00], 16), "Reserved bits are not zero");
        assert_eq!(refused(&[0xA1, 0x00], 16), "Reserved bits are not zero");
        assert_eq!(refused(&[0x83, 0x00], 16), "Invalid value");
        assert_eq!(
            refused(&wire(false, 0x9, b"", None), 16),
            "Control frame must not be fragmented"
        );
        assert_eq!(
            refused(&wire(true, 0x9, &[0; 126], None), 1024),
            "Ping frame too large"
        );
        assert!(parse_head(&wire(true, 0x9, &[0; 125], None), 1024).is_ok());
        assert!(parse_head(&wire(true, 0xA, &[0; 126], None), 1024).is_ok());
        // The frame cap: up to it is read, one byte more is refused from the head.
        assert!(parse_head(&wire(true, 0x1, &[0; 16], None), 16)
            .unwrap()
            .is_some());
        assert_eq!(
            refused(&wire(true, 0x1, &[0; 17], None), 16),
            "Frame too large"
        );
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(refused(&huge, 16), "Frame too large");
    }

    #[test]
    fn frames_sent_are_masked_and_read_back() {
        for (opcode, payload) in [
            (OpCode::Ping, &b"agent-transport"[..]),
            (OpCode::Close, &[3, 232][..]),
        ] {
            let mut out = Vec::new();
            encode(opcode, payload, &mut out);
            let head = parse_head(&out, 1024).unwrap().unwrap();
            assert_eq!(head.opcode, opcode);
            assert!(head.fin);
            let mask = head.mask.expect("a client's frames are masked");
            let mut body = out[head.len..].to_vec();
            fastwebsockets::unmask(&mut body, mask);
            assert_eq!(body, payload);
        }
    }

    /// A stream over an in-memory pipe, and the server's end of it.
    fn piped(
        ping_interval: Duration,
    ) -> (
        HyperWsStream<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
    ) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let options = WsOptions {
            max_message_size: 1024,
            ping_interval,
        };
        (start(client, options), server)
    }

    /// The frames the client wrote so far: (opcode, payload), unmasked.
    async fn frames_sent(server: &mut tokio::io::DuplexStream) -> Vec<(OpCode, Vec<u8>)> {
        use tokio::io::AsyncReadExt;
        let mut bytes = vec![0u8; 256 * 1024];
        let n = tokio::time::timeout(Duration::from_millis(200), server.read(&mut bytes))
            .await
            .map_or(0, |r| r.unwrap_or(0));
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some(head) = parse_head(&bytes[at..n], 1 << 20).unwrap() {
            let mut body = bytes[at + head.len..at + head.len + head.payload_len].to_vec();
            fastwebsockets::unmask(&mut body, head.mask.expect("masked"));
            frames.push((head.opcode, body));
            at += head.len + head.payload_len;
        }
        assert_eq!(at, n, "whole frames only");
        frames
    }

    async fn next_item<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut HyperWsStream<S>) -> Item {
        std::future::poll_fn(|cx| ws.poll_item(cx)).await
    }

    #[tokio::test]
    async fn each_ping_is_answered_once_and_nothing_follows_our_close() {
        use tokio::io::AsyncWriteExt;
        let (mut ws, mut server) = piped(Duration::from_secs(60));
        let mut bytes = Vec::new();
        for payload in [&b"one"[..], b"two", b"three"] {
            bytes.extend(wire(true, 0x9, payload, None));
        }
        bytes.extend(wire(true, 0x1, b"line", None));
        server.write_all(&bytes).await.unwrap();
        assert_eq!(
            next_item(&mut ws).await.unwrap(),
            Some(WsMessage::Text(Bytes::from_static(b"line")))
        );
        let pongs: Vec<_> = [&b"one"[..], b"two", b"three"]
            .iter()
            .map(|p| (OpCode::Pong, p.to_vec()))
            .collect();
        assert_eq!(frames_sent(&mut server).await, pongs);
        // Our close goes out once; a ping after it gets no pong.
        ws.queue(OpCode::Close, &Frame::close(1000, b"").payload);
        server
            .write_all(&wire(true, 0x9, b"late", None))
            .await
            .unwrap();
        server
            .write_all(&wire(true, 0x8, &[0x03, 0xe8], None))
            .await
            .unwrap();
        assert_eq!(next_item(&mut ws).await.unwrap(), None);
        assert_eq!(
            frames_sent(&mut server).await,
            [(OpCode::Close, vec![0x03, 0xe8])]
        );
    }

    #[tokio::test]
    async fn pongs_owed_to_a_server_that_does_not_read_stay_bounded() {
        use tokio::io::AsyncWriteExt;
        // A pipe too small for the pongs: the client's writes wait, its queue
        // must not grow past its bound however many pings come.
        let (client, mut server) = tokio::io::duplex(1024);
        let mut ws = start(
            client,
            WsOptions {
                max_message_size: 1024,
                ping_interval: Duration::from_secs(60),
            },
        );
        let ping = wire(true, 0x9, &[b'p'; 100], None);
        let reader = tokio::spawn(async move {
            for _ in 0..400 {
                server.write_all(&ping).await.unwrap();
            }
            server
                .write_all(&wire(true, 0x1, b"end", None))
                .await
                .unwrap();
            server
        });
        assert!(matches!(
            next_item(&mut ws).await,
            Ok(Some(WsMessage::Text(_)))
        ));
        assert!(
            ws.write.len() <= MAX_QUEUED_WRITES + 200,
            "{} bytes queued",
            ws.write.len()
        );
        assert!(
            ws.write.len() > MAX_QUEUED_WRITES / 2,
            "the pipe was full: pongs waited"
        );
        drop(reader.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_ping_leaves_after_an_interval_of_quiet_and_not_before() {
        let (mut ws, mut server) = piped(Duration::from_secs(10));
        // The caller waits 6 s: the pinger looked once (at 5 s), too early.
        assert!(
            tokio::time::timeout(Duration::from_secs(6), next_item(&mut ws))
                .await
                .is_err()
        );
        assert_eq!(frames_sent(&mut server).await, []);
        // By 16 s the connection was quiet for a whole interval: one ping.
        assert!(
            tokio::time::timeout(Duration::from_secs(10), next_item(&mut ws))
                .await
                .is_err()
        );
        assert_eq!(
            frames_sent(&mut server).await,
            [(OpCode::Ping, PING_PAYLOAD.to_vec())]
        );
    }

    #[tokio::test]
    async fn a_close_from_the_server_is_answered_before_the_end() {
        use tokio::io::AsyncWriteExt;
        let (mut ws, mut server) = piped(Duration::from_secs(60));
        server
            .write_all(&wire(true, 0x8, &[0x03, 0xe9, b'b', b'y', b'e'], None))
            .await
            .unwrap();
        assert_eq!(next_item(&mut ws).await.unwrap(), None);
        assert_eq!(
            frames_sent(&mut server).await,
            [(OpCode::Close, vec![0x03, 0xe9, b'b', b'y', b'e'])]
        );
    }

    #[tokio::test]
    async fn close_frames_and_text_frames_are_checked() {
        let head = |opcode, fin| Head {
            fin,
            opcode,
            mask: None,
            len: 2,
            payload_len: 1,
        };
        let (mut ws, _server) = piped(Duration::from_secs(60));
        let text = ws.on_frame(head(OpCode::Text, true), BytesMut::from(&[0xff][..]));
        assert!(text.unwrap().unwrap_err().to_string().contains("UTF-8"));
        let binary = ws.on_frame(head(OpCode::Binary, true), BytesMut::from(&[0xff][..]));
        assert!(matches!(binary, Some(Ok(Some(WsMessage::Text(_))))));
        // A fragment of text is checked whole by its reader, not here.
        let first = ws.on_frame(head(OpCode::Text, false), BytesMut::from(&[0xe2][..]));
        assert!(matches!(first, Some(Ok(Some(WsMessage::Fragment { .. })))));

        let (mut ws, _server) = piped(Duration::from_secs(60));
        assert_eq!(ws.on_close(&[]).unwrap(), None);
        let refused = |payload: &[u8]| {
            let (mut ws, _server) = piped(Duration::from_secs(60));
            ws.on_close(payload).unwrap_err().to_string()
        };
        assert!(refused(&[0x03]).contains("Invalid close frame"));
        assert!(refused(&[0x03, 0xe8, 0xff]).contains("UTF-8"));
        assert!(refused(&[0x03, 0xed]).contains("Invalid close code")); // 1005
        assert!(refused(&[0x03, 0xf3, b'x']).contains("code 1011: x"));
    }

    #[test]
    fn close_codes() {
        assert_eq!(close_code(&[]), None);
        assert_eq!(close_code(&[0x03, 0xe8]), Some((1000, String::new())));
        assert_eq!(close_code(&[0x03, 0xf3, b'x']), Some((1011, "x".into())));
    }
}
