//! Attacks on an agent server, on raw sockets: what a hostile peer does to a server's
//! memory, file descriptors and time. The tests of `agent-testkit` and
//! `agent-gateway` and `cargo xtask bench attack` run them against loopback servers.
//!
//! Each function is bounded: it waits at most the time it is given, and it holds at
//! most the connections it is asked for. The `check_*` functions are whole attacks
//! with their verdict (`Err` says what did not hold), so that the test server's and
//! the gateway's suites run the same attack.
//!
//! ```
//! use agent_testkit::{attack, AgentTestServer};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tokio::runtime::Runtime::new()?.block_on(async {
//!     let server = AgentTestServer::builder().token("t").build().await?;
//!     // 16 MiB promised, 1 KiB sent, no token: the server answers 401 without
//!     // waiting for the rest
//!     let head = attack::unauthenticated_body(server.local_addr(), "/plugin_releases/", 16 << 20, 1024, Duration::from_secs(5)).await?;
//!     assert!(head.starts_with("HTTP/1.1 401"), "{head}");
//!     Ok(())
//! })
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Reads from `s` until the end of a response head (`\r\n\r\n`), the peer closes, or
/// `limit` passes: the head as text (empty when nothing came).
pub async fn read_head<S>(s: &mut S, limit: Duration) -> io::Result<String>
where
    S: tokio::io::AsyncRead + Unpin + ?Sized,
{
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, io::Error>(());
            }
            out.extend_from_slice(&buf[..n]);
            if out.windows(4).any(|w| w == b"\r\n\r\n") || out.len() > 64 * 1024 {
                return Ok(());
            }
        }
    };
    match tokio::time::timeout(limit, read).await {
        Ok(r) => r?,
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time")),
    }
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |p| p + 4);
    Ok(String::from_utf8_lossy(&out[..end]).into_owned())
}

/// Waits until the peer closes `s` (reading and dropping what it sends), up to
/// `limit`: true when it closed.
pub async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let wait = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

/// A POST to `path` promising `declared` bytes of body without a token, of which it
/// sends `sent` (zeros); then it waits for the answer's head, up to `limit`. A server
/// that authenticates from the head answers 401 at once.
pub async fn unauthenticated_body(
    addr: SocketAddr,
    path: &str,
    declared: u64,
    sent: usize,
    limit: Duration,
) -> io::Result<String> {
    let mut s = TcpStream::connect(addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await?;
    // the server may close while we write: its answer still counts
    let chunk = vec![0u8; 16 * 1024];
    let mut left = sent;
    while left > 0 {
        let n = left.min(chunk.len());
        if s.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        left -= n;
    }
    read_head(&mut s, limit).await
}

/// A request with `Expect: 100-continue` and a `declared` body (not sent), with
/// `token` or none: the head of the server's first answer (a `100 Continue` is the
/// server asking for the body).
pub async fn expect_continue(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    declared: u64,
    limit: Duration,
) -> io::Result<String> {
    let mut s = TcpStream::connect(addr).await?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: {t}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {declared}\r\nExpect: 100-continue\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await?;
    read_head(&mut s, limit).await
}

/// Opens `n` connections that send nothing (they fail quietly when the server refuses
/// them): the sockets, to hold or drop.
pub async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(s) = TcpStream::connect(addr).await {
            out.push(s);
        }
    }
    out
}

/// A GET of `/health/` whose head holds `bytes` bytes of header lines (`X-Pad: aaa...`)
/// after the request line and then ends: the head of the server's answer, up to
/// `limit`. A server that caps heads answers 431 (it may do so before all is sent).
pub async fn large_head(addr: SocketAddr, bytes: usize, limit: Duration) -> io::Result<String> {
    let mut s = TcpStream::connect(addr).await?;
    let mut head = format!("GET /health/ HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
    head.extend_from_slice(&padding(bytes));
    head.extend_from_slice(b"\r\n");
    // the server may answer and close while we write: its answer still counts
    let _ = s.write_all(&head).await;
    read_head(&mut s, limit).await
}

/// `bytes` (rounded up to a KiB) of header lines `X-Pad: aaa...\r\n`, one per KiB
/// (fewer than hyper's 100 headers for a head within a 64 KiB cap).
fn padding(bytes: usize) -> Vec<u8> {
    const LINE: usize = 1024;
    let mut line = b"X-Pad: ".to_vec();
    line.resize(LINE - 2, b'a');
    line.extend_from_slice(b"\r\n");
    line.repeat(bytes.div_ceil(LINE))
}

/// Opens `n` connections at once that each send a request line and then `bytes` of
/// header lines of a head that never ends (no token), each for at most `limit`
/// (a server that stops reading leaves the rest unsent): the sockets, held open,
/// and how many were answered 431 (read within `limit`).
///
/// The attackers' side costs one shared 16 KiB buffer and the sockets (kernel
/// memory), so the process's RSS during the attack is the server's.
pub async fn unfinished_heads(
    addr: SocketAddr,
    n: usize,
    bytes: usize,
    limit: Duration,
) -> (Vec<TcpStream>, usize) {
    let chunk = bytes::Bytes::from(padding(16 * 1024));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let chunk = chunk.clone();
        set.spawn(async move {
            let mut s = TcpStream::connect(addr).await.ok()?;
            let write = async {
                s.write_all(format!("GET /health/ HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
                    .await?;
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len());
                    s.write_all(&chunk[..n]).await?;
                    left -= n;
                }
                Ok::<_, io::Error>(())
            };
            let _ = tokio::time::timeout(limit, write).await;
            let answered = read_head(&mut s, limit)
                .await
                .is_ok_and(|h| h.starts_with("HTTP/1.1 431"));
            Some((s, answered))
        });
    }
    let mut held = Vec::with_capacity(n);
    let mut answered = 0;
    while let Some(done) = set.join_next().await {
        if let Ok(Some((s, a))) = done {
            held.push(s);
            answered += usize::from(a);
        }
    }
    (held, answered)
}

/// Opens `n` connections that each send a POST head to `path` promising `declared`
/// bytes (with `token`, or none) and `sent` bytes of it, then stall: the sockets.
pub async fn partial_bodies(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    n: usize,
    declared: u64,
    sent: usize,
) -> Vec<TcpStream> {
    let auth = token.map_or(String::new(), |t| format!("Authorization: {t}\r\n"));
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {declared}\r\n\r\n"
    )
    .into_bytes();
    request.resize(request.len() + sent, b' ');
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(mut s) = TcpStream::connect(addr).await {
            if s.write_all(&request).await.is_ok() {
                out.push(s);
            }
        }
    }
    out
}

/// GET `path` with `token` on a fresh connection: the status code of the answer
/// (`None`: no answer within `limit`, or a refused connection).
pub async fn get_status(addr: SocketAddr, path: &str, token: &str, limit: Duration) -> Option<u16> {
    status_of(addr, path, Some(token), limit).await
}

/// A WebSocket tail of `path` opened by hand (a fixed key; the server's accept is not
/// checked), with `token`: the socket once the server answered 101, else the head of
/// its answer as the error.
pub async fn websocket(
    addr: SocketAddr,
    path: &str,
    token: &str,
    limit: Duration,
) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // byte by byte: the frames that may follow the head must stay in the socket
    let mut head = Vec::new();
    let read = async {
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
            if s.read(&mut b).await? == 0 {
                break;
            }
            head.push(b[0]);
        }
        Ok::<_, io::Error>(())
    };
    match tokio::time::timeout(limit, read).await {
        Ok(r) => r.map_err(|e| e.to_string())?,
        Err(_) => return Err("no answer in time".to_owned()),
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 101") {
        Ok(s)
    } else {
        Err(head)
    }
}

/// Sends the head of a masked binary frame promising `len` bytes, and `sent` bytes of
/// its payload, on an open WebSocket `s`.
pub async fn send_frame_head(s: &mut TcpStream, len: u64, sent: usize) -> io::Result<()> {
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.resize(frame.len() + sent, 0);
    s.write_all(&frame).await
}

/// Reads the server's frames on `s` (skipping text frames) until its close frame, up
/// to `limit`: the close code (`None`: the connection ended without one, or time ran
/// out).
pub async fn close_code(s: &mut TcpStream, limit: Duration) -> Option<u16> {
    let read = async {
        loop {
            let mut head = [0u8; 2];
            s.read_exact(&mut head).await.ok()?;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    s.read_exact(&mut b).await.ok()?;
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    s.read_exact(&mut b).await.ok()?;
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            // a server's frames are small here; refuse to buffer a large one
            if len > 1 << 20 {
                return None;
            }
            let mut payload = vec![0u8; usize::try_from(len).ok()?];
            s.read_exact(&mut payload).await.ok()?;
            if head[0] & 0x0f == 0x8 {
                return Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok().flatten()
}

/// Issue 27, item 1: heads are capped. With a server's default limits (16 KiB of
/// head), a head well within the cap is answered (401 without the token), and
/// heads over it, up to 400 KB, are answered 431 and closed; 50 connections sending
/// 400 KB of a head that never ends are each answered 431; and afterwards `token`
/// is still served `health/`.
pub async fn check_heads_are_capped(
    addr: SocketAddr,
    token: &str,
    limit: Duration,
) -> Result<(), String> {
    for (bytes, want) in [(8 << 10, "401"), (20 << 10, "431"), (400 << 10, "431")] {
        let head = large_head(addr, bytes, limit)
            .await
            .map_err(|e| format!("a head of {bytes} bytes: {e}"))?;
        if !head.starts_with(&format!("HTTP/1.1 {want}")) {
            return Err(format!("a head of {bytes} bytes, not {want}: {head}"));
        }
    }
    let (held, answered) = unfinished_heads(addr, 50, 400 << 10, limit).await;
    if answered != 50 || held.len() != 50 {
        return Err(format!(
            "{answered} of {} unfinished heads answered 431",
            held.len()
        ));
    }
    drop(held);
    match get_status(addr, "/health/", token, limit).await {
        Some(200) => Ok(()),
        other => Err(format!("health/ after the attack: {other:?}")),
    }
}

/// A connection to `addr` from the local address `from` (any port): on Linux every
/// 127.0.0.0/8 address is the loopback, so a test can stand for two hosts.
pub async fn connect_from(from: std::net::IpAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = match from {
        std::net::IpAddr::V4(_) => TcpSocket::new_v4()?,
        std::net::IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

/// Issue 27, item 2: a flood cannot push out a client from another source. A client
/// connects from 127.0.0.1 and waits; `4 × cap` idle connections come from
/// 127.0.0.2 (a server capped at `cap` evicts for them); one more from 127.0.0.2
/// is answered 401, so the server has admitted the whole flood; then the client
/// sends its request with `token` on its first connection and must be answered 200.
/// (Before, the oldest unauthenticated connection gave way, the client's.) Linux
/// only (the second loopback address).
pub async fn check_flood_spares_other_sources(
    addr: SocketAddr,
    token: &str,
    cap: usize,
    limit: Duration,
) -> Result<(), String> {
    let client_ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let flood_ip = std::net::IpAddr::from([127, 0, 0, 2]);
    let mut client = connect_from(client_ip, addr)
        .await
        .map_err(|e| format!("the client: {e}"))?;
    let mut flood = Vec::new();
    for _ in 0..4 * cap {
        flood.push(
            connect_from(flood_ip, addr)
                .await
                .map_err(|e| format!("the flood from {flood_ip}: {e}"))?,
        );
    }
    let mut last = connect_from(flood_ip, addr)
        .await
        .map_err(|e| format!("the flood: {e}"))?;
    admitted_then_served(&mut last, &mut client, addr, token, limit).await
}

/// Issue 27, item 2, with the flood on the client's own address: a flood that does
/// not finish TLS handshakes cannot push out a client that did. `connect` opens a
/// connection to the TLS server at `addr` and finishes its handshake (the test's TLS
/// client, from the address the flood uses: loopback). The client connects and
/// waits; `4 × cap` raw TCP connections that send nothing come (a server capped at
/// `cap` evicts for them); one more handshaken connection is answered 401, so the
/// server has admitted the whole flood; then the client sends its request with
/// `token` and must be answered 200. (Before, the oldest unauthenticated connection
/// of the source gave way, the client's.)
pub async fn check_flood_spares_a_client_past_its_handshake<S, F, Fut>(
    addr: SocketAddr,
    token: &str,
    cap: usize,
    mut connect: F,
    limit: Duration,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = io::Result<S>>,
{
    let mut client = tokio::time::timeout(limit, connect())
        .await
        .map_err(|_| "the client's handshake: no answer in time".to_string())?
        .map_err(|e| format!("the client's handshake: {e}"))?;
    let mut flood = Vec::new();
    for _ in 0..4 * cap {
        flood.push(
            TcpStream::connect(addr)
                .await
                .map_err(|e| format!("the flood: {e}"))?,
        );
    }
    // accepted after the whole flood (the server accepts in order)
    let mut last = tokio::time::timeout(limit, connect())
        .await
        .map_err(|_| "the flood's last handshake: no answer in time".to_string())?
        .map_err(|e| format!("the flood's last handshake: {e}"))?;
    let served = admitted_then_served(&mut last, &mut client, addr, token, limit).await;
    drop(flood);
    served
}

/// The end of a flood check: `last` (opened after the whole flood) sends an
/// unauthenticated `health/` and must be answered 401, which tells that the server
/// has admitted the flood before it (it accepts in order); then `client` sends its
/// request with `token` and must be answered 200.
async fn admitted_then_served<L, C>(
    last: &mut L,
    client: &mut C,
    addr: SocketAddr,
    token: &str,
    limit: Duration,
) -> Result<(), String>
where
    L: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let req = format!("GET /health/ HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    last.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let head = read_head(last, limit).await.map_err(|e| e.to_string())?;
    if !head.starts_with("HTTP/1.1 401") {
        return Err(format!("the flood's last connection: {head}"));
    }
    let req = format!(
        "GET /health/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
    );
    let answer = match client.write_all(req.as_bytes()).await {
        Ok(()) => read_head(client, limit).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(head) if head.starts_with("HTTP/1.1 200") => Ok(()),
        Ok(head) => Err(format!("the client was answered: {head:?} (evicted?)")),
        Err(e) => Err(format!("the client was evicted: {e}")),
    }
}

/// GET `path` with `Authorization: <token>` when given, on a fresh connection: the
/// status (`None`: no answer within `limit`, or a refused connection).
async fn status_of(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    limit: Duration,
) -> Option<u16> {
    let mut s = tokio::time::timeout(limit, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: {t}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let head = read_head(&mut s, limit).await.ok()?;
    head.get(9..12)?.parse().ok()
}

/// Issue 27, item 6: `/metrics` is served as `access` says, to a server whose
/// token is `token`: `public`, 200 with or without the token; `token`, 401 without
/// it or with a wrong one (a prefix of it, or longer), 200 with it; `off`, 404 even
/// with the token (and 401 without, as any path).
pub async fn check_metrics_access(
    addr: SocketAddr,
    token: &str,
    access: crate::MetricsAccess,
    limit: Duration,
) -> Result<(), String> {
    use crate::MetricsAccess;
    let prefix = &token[..token.len() / 2];
    let longer = format!("{token}x");
    let expected: [(Option<&str>, u16); 4] = match access {
        MetricsAccess::Public => [
            (None, 200),
            (Some(token), 200),
            (Some(prefix), 200),
            (Some(&longer), 200),
        ],
        MetricsAccess::Token => [
            (None, 401),
            (Some(token), 200),
            (Some(prefix), 401),
            (Some(&longer), 401),
        ],
        MetricsAccess::Off => [
            (None, 401),
            (Some(token), 404),
            (Some(prefix), 401),
            (Some(&longer), 401),
        ],
    };
    for (sent, want) in expected {
        let got = status_of(addr, "/metrics", sent, limit).await;
        if got != Some(want) {
            let which = match sent {
                None => "no token",
                Some(t) if t == token => "the token",
                Some(_) => "a wrong token",
            };
            return Err(format!(
                "metrics {access} with {which}: {got:?}, not {want}"
            ));
        }
    }
    Ok(())
}
