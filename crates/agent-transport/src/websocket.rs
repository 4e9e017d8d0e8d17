//! The WebSocket of [`HttpTransport`](crate::HttpTransport): a client handshake
//! written on hyper (with the `Sec-WebSocket-Accept` check fastwebsockets' own
//! client skips), then fastwebsockets for the frames.
//!
//! After the handshake the socket belongs to two spawned tasks: a *reader* that loops
//! on `read_frame` (which is not cancel-safe, so it is never raced against anything),
//! reassembles fragmented messages with a bounded buffer and forwards them into a
//! bounded channel; and a *pinger* that sends a ping whenever nothing was received
//! for a `ping_interval`. Writes (pongs and close replies of the reader, pings, the
//! caller's close) go through the write half behind a mutex. The [`WsStream`] reads
//! the channel (cancel-safe) and aborts both tasks when it drops, which closes the
//! connection.

use crate::connector::{ConnectFailure, Connector};
use crate::retry::capped_retry_after;
use crate::transport::{Request, WsMessage, WsOptions, WsStream};
use crate::util::{error_chain, random_u64, AbortOnDrop};
use agent_proto::{ClientError, TimeoutKind};
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{BufReader, ReadHalf, WriteHalf};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::half_reads::HalfReads;
use crate::read_ahead;

/// The largest single WebSocket *frame* read (16 MiB, or `max_message_size` + 1 if
/// that is larger).
///
/// fastwebsockets reads a frame whole before handing it over, so this bounds the
/// memory one frame can take. A frame above `max_message_size` but within this cap
/// is read, dropped and reported as [`WsMessage::Oversized`]; a *message* of any size
/// split into frames within the cap is counted and dropped as it streams, so memory
/// stays bounded. A single frame above the cap ends the stream with a
/// [`ClientError::Protocol`] (500): fastwebsockets cannot skip it.
pub const MAX_WS_FRAME_SIZE: usize = 16 * 1024 * 1024;

/// The most of a refusal's body (a non-101 answer to the upgrade) that is read.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// How far the reader task may run ahead of the consumer: about 2 MiB of messages,
/// and at most 1,024 of them (see [`read_ahead`](crate::read_ahead)).
const READ_AHEAD_BYTES: usize = 2 * 1024 * 1024;
const READ_AHEAD_MESSAGES: usize = 1024;

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

/// What the reader task sends: a message, the normal end (`Ok(None)`), or an error.
type Item = Result<Option<WsMessage>, ClientError>;

/// Starts the reader and pinger tasks over an upgraded connection.
fn start(io: Io, options: WsOptions) -> HyperWsStream {
    let mut ws = WebSocket::after_handshake(io, Role::Client);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    // fastwebsockets refuses frames of `>= max` bytes.
    ws.set_max_message_size(MAX_WS_FRAME_SIZE.max(options.max_message_size.saturating_add(1)));
    let (reader, writer) = ws.split(tokio::io::split);
    let writer: Writer = Arc::new(Mutex::new(writer));
    let epoch = Instant::now();
    let last_received = Arc::new(AtomicU64::new(0));
    let (tx, rx) = read_ahead::channel(READ_AHEAD_BYTES, READ_AHEAD_MESSAGES);
    let reader_task = tokio::spawn(read_loop(
        reader,
        writer.clone(),
        tx,
        options.max_message_size,
        epoch,
        last_received.clone(),
    ));
    let pinger_task = tokio::spawn(ping_loop(
        writer.clone(),
        options.ping_interval,
        epoch,
        last_received,
    ));
    HyperWsStream {
        rx,
        writer,
        _reader: AbortOnDrop(reader_task),
        _pinger: AbortOnDrop(pinger_task),
        end: None,
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Sends a ping whenever nothing was received (and nothing pinged) for `interval`.
async fn ping_loop(
    writer: Writer,
    interval: Duration,
    epoch: Instant,
    last_received: Arc<AtomicU64>,
) {
    let interval = interval.max(Duration::from_millis(1));
    let mut last_ping = Duration::ZERO;
    loop {
        let received = Duration::from_millis(last_received.load(Ordering::Relaxed));
        let due = epoch + received.max(last_ping) + interval;
        if Instant::now() < due {
            tokio::time::sleep_until(due).await;
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
        last_ping = epoch.elapsed();
    }
}

/// A message being reassembled from its frames.
struct Assembly {
    buf: BytesMut,
    len: u64,
    oversized: bool,
}

impl Assembly {
    fn new() -> Self {
        Assembly {
            buf: BytesMut::new(),
            len: 0,
            oversized: false,
        }
    }

    /// Adds a fragment; past `max` bytes the buffer is dropped and only counted.
    fn push(&mut self, data: &[u8], max: usize) {
        self.len = self.len.saturating_add(data.len() as u64);
        if self.oversized {
            return;
        }
        if self.len > max as u64 {
            self.oversized = true;
            self.buf = BytesMut::new();
        } else {
            self.buf.extend_from_slice(data);
        }
    }

    fn finish(self) -> WsMessage {
        if self.oversized {
            WsMessage::Oversized { len: self.len }
        } else {
            WsMessage::Text(self.buf.freeze())
        }
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
            "the server sent a single WebSocket frame of {frame_cap} bytes or more"
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

async fn read_loop(
    mut reader: Reader,
    writer: Writer,
    tx: read_ahead::Sender<Item>,
    max_message_size: usize,
    epoch: Instant,
    last_received: Arc<AtomicU64>,
) {
    let frame_cap = MAX_WS_FRAME_SIZE.max(max_message_size.saturating_add(1));
    // The frames fastwebsockets owes the server (pongs, the close reply), unless the
    // caller already closed our side.
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
    let mut assembly: Option<Assembly> = None;
    loop {
        let frame = match reader.read_frame(&mut obligated).await {
            Ok(frame) => frame,
            Err(e) => {
                let _ = tx.send(Err(map_read_error(e, frame_cap)), 0).await;
                return;
            }
        };
        last_received.store(millis_since(epoch), Ordering::Relaxed);
        let item = match frame.opcode {
            OpCode::Text | OpCode::Binary => {
                if assembly.is_some() {
                    Some(Err(ClientError::protocol(
                        "a WebSocket message began before the previous one ended",
                    )))
                } else {
                    let mut a = Assembly::new();
                    a.push(&frame.payload, max_message_size);
                    if frame.fin {
                        Some(Ok(Some(a.finish())))
                    } else {
                        assembly = Some(a);
                        None
                    }
                }
            }
            OpCode::Continuation => match assembly.as_mut() {
                None => Some(Err(ClientError::protocol(
                    "a WebSocket continuation frame without a message",
                ))),
                Some(a) => {
                    a.push(&frame.payload, max_message_size);
                    if frame.fin {
                        assembly.take().map(|a| Ok(Some(a.finish())))
                    } else {
                        None
                    }
                }
            },
            OpCode::Pong => Some(Ok(Some(WsMessage::KeepAlive))),
            OpCode::Ping => None,
            OpCode::Close => match close_code(&frame.payload) {
                None | Some((1000, _)) | Some((1001, _)) => Some(Ok(None)),
                Some((code, reason)) => Some(Err(mid_stream(if reason.is_empty() {
                    format!("connection closed mid-stream (code {code})")
                } else {
                    format!("connection closed mid-stream (code {code}: {reason})")
                }))),
            },
        };
        let Some(item) = item else { continue };
        let last = !matches!(item, Ok(Some(_)));
        let bytes = match &item {
            Ok(Some(WsMessage::Text(text))) => text.len(),
            _ => 0,
        };
        if tx.send(item, bytes).await.is_err() || last {
            return;
        }
    }
}

/// The [`WsStream`] of [`HttpTransport`](crate::HttpTransport).
struct HyperWsStream {
    rx: read_ahead::Receiver<Item>,
    writer: Writer,
    _reader: AbortOnDrop,
    _pinger: AbortOnDrop,
    /// Set once the stream ended: `Ok` normally, `Err` with the error to repeat.
    end: Option<Result<(), ClientError>>,
}

#[async_trait::async_trait]
impl WsStream for HyperWsStream {
    async fn next_message(&mut self) -> Result<Option<WsMessage>, ClientError> {
        match &self.end {
            Some(Ok(())) => return Ok(None),
            Some(Err(e)) => return Err(e.clone()),
            None => {}
        }
        // `recv` is cancel-safe: a message is either received or left in the channel.
        let item = self.rx.recv().await.unwrap_or_else(|| {
            Err(mid_stream(
                "connection closed mid-stream (the reader stopped)".into(),
            ))
        });
        match &item {
            Ok(Some(_)) => {}
            Ok(None) => self.end = Some(Ok(())),
            Err(e) => self.end = Some(Err(e.clone())),
        }
        item
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
            while let Some(item) = self.rx.recv().await {
                if !matches!(item, Ok(Some(_))) {
                    break;
                }
            }
        })
        .await;
        self.end = Some(Ok(()));
        self._reader.0.abort();
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
    fn assembly_drops_what_is_past_the_limit() {
        let mut a = Assembly::new();
        a.push(&[b'x'; 6], 10);
        a.push(&[b'x'; 6], 10);
        assert!(a.buf.is_empty());
        a.push(&[b'x'; 100], 10);
        assert_eq!(a.finish(), WsMessage::Oversized { len: 112 });
        let mut b = Assembly::new();
        b.push(b"hello ", 11);
        b.push(b"world", 11);
        assert_eq!(
            b.finish(),
            WsMessage::Text(Bytes::from_static(b"hello world"))
        );
    }

    #[test]
    fn close_codes() {
        assert_eq!(close_code(&[]), None);
        assert_eq!(close_code(&[0x03, 0xe8]), Some((1000, String::new())));
        assert_eq!(close_code(&[0x03, 0xf3, b'x']), Some((1011, "x".into())));
    }
}
