//! Plain clients for the tests: hyper's legacy client for HTTP, a hand-written
//! WebSocket handshake on hyper, and raw sockets for the stall and cut cases.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Role, WebSocket};
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type Ws = WebSocket<TokioIo<Upgraded>>;

/// An HTTP client bound to one server's base URL and token.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    pub base: String,
    pub token: Option<String>,
}

/// A whole answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Http {
    pub fn new(base: impl Into<String>, token: Option<&str>) -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.into(),
            token: token.map(str::to_owned),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> http::request::Builder {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            b = b.header(header::AUTHORIZATION, t);
        }
        b
    }

    pub async fn send(&self, req: Request<Full<Bytes>>) -> http::Response<Incoming> {
        self.client.request(req).await.expect("request failed")
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut b = self.request(method, path);
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(serde_json::to_vec(v).unwrap()))
            }
            None => Full::new(Bytes::new()),
        };
        let res = self.send(b.body(body).unwrap()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// GET `path` and hand back the streaming response.
    pub async fn stream(&self, path: &str) -> http::Response<Incoming> {
        let req = self
            .request(Method::GET, path)
            .body(Full::new(Bytes::new()))
            .unwrap();
        self.send(req).await
    }
}

/// Reads a whole HTTP log stream: its lines (without the `\n`), or the error that cut it
/// with the lines read before.
pub async fn stream_lines(res: http::Response<Incoming>) -> (Vec<String>, bool) {
    let mut body = res.into_body();
    let mut buf = Vec::new();
    let mut complete = true;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(f)) => {
                if let Ok(d) = f.into_data() {
                    buf.extend_from_slice(&d);
                }
            }
            Some(Err(_)) => {
                complete = false;
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    (text.split('\n').map(str::to_owned).collect(), complete)
}

/// The JSON events of `data:` lines.
pub fn sse_events(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|p| serde_json::from_str(p).unwrap_or_else(|_| Value::String(p.to_owned())))
        .collect()
}

/// The messages of log events.
pub fn log_messages(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "log")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Opens a WebSocket at `path` (absolute, with the prefix) with optional token, or the
/// refusal's status and body.
pub async fn ws_connect(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> Result<Ws, (StatusCode, Bytes)> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, addr.to_string())
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, t);
    }
    let req = req.body(http_body_util::Empty::<Bytes>::new()).unwrap();
    let mut res = sender.send_request(req).await.expect("send");
    if res.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err((status, body));
    }
    let upgraded = hyper::upgrade::on(&mut res).await.expect("upgrade");
    Ok(WebSocket::after_handshake(
        TokioIo::new(upgraded),
        Role::Client,
    ))
}

/// What a WebSocket tail delivered.
#[derive(Debug, Default)]
pub struct WsTranscript {
    /// Text messages, in order (reassembled).
    pub texts: Vec<String>,
    /// The close code, if a close frame came.
    pub close: Option<u16>,
    /// The read error that ended it, if any (EOF without close, bad UTF-8, ...).
    pub error: Option<String>,
}

impl WsTranscript {
    pub fn events(&self) -> Vec<Value> {
        self.texts
            .iter()
            .map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())))
            .collect()
    }
}

/// Reads a WebSocket tail to its end (close or error), reassembling fragments.
pub async fn ws_read_all(ws: Ws) -> WsTranscript {
    ws_read_rest(&mut FragmentCollector::new(ws)).await
}

/// Reads the rest of a WebSocket tail to its end.
pub async fn ws_read_rest(ws: &mut FragmentCollector<TokioIo<Upgraded>>) -> WsTranscript {
    let mut t = WsTranscript::default();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), ws.read_frame()).await;
        match frame {
            Err(_) => {
                t.error = Some("timed out".into());
                break;
            }
            Ok(Err(e)) => {
                t.error = Some(e.to_string());
                break;
            }
            Ok(Ok(f)) => match f.opcode {
                OpCode::Text => t
                    .texts
                    .push(String::from_utf8_lossy(&f.payload).into_owned()),
                OpCode::Close => {
                    t.close = (f.payload.len() >= 2)
                        .then(|| u16::from_be_bytes([f.payload[0], f.payload[1]]));
                    break;
                }
                _ => {}
            },
        }
    }
    t
}

/// Reads one text message (reassembled), failing on anything else.
pub async fn ws_next_text(ws: &mut FragmentCollector<TokioIo<Upgraded>>) -> String {
    loop {
        let f = tokio::time::timeout(Duration::from_secs(30), ws.read_frame())
            .await
            .expect("no frame in 30 s")
            .expect("read");
        match f.opcode {
            OpCode::Text => return String::from_utf8(f.payload.to_vec()).expect("utf-8"),
            OpCode::Close => panic!("closed"),
            _ => {}
        }
    }
}

/// A ping frame from the client.
pub fn ping(payload: &'static [u8]) -> Frame<'static> {
    Frame::new(
        true,
        OpCode::Ping,
        None,
        fastwebsockets::Payload::Borrowed(payload),
    )
}

/// Sends raw bytes on a fresh connection and reads until the server closes it (or
/// `limit` passes): what came back.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match tokio::time::timeout(limit, s.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    };
    (out, closed)
}

/// Splits a raw HTTP/1.1 answer into its head and body.
pub fn split_raw(answer: &[u8]) -> (String, Vec<u8>) {
    let pos = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of head");
    (
        String::from_utf8_lossy(&answer[..pos]).into_owned(),
        answer[pos + 4..].to_vec(),
    )
}

/// Polls `cond` every 10 ms, up to 10 s (a bound against hanging, not a timing check).
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 10 s");
}

/// Whether something at `addr` still answers 200 to GET `path` with `token`: false once
/// the port is closed (another test may have bound the same port since: only our
/// answer counts).
pub async fn still_serves(addr: SocketAddr, path: &str, token: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    out.starts_with(b"HTTP/1.1 200")
}
