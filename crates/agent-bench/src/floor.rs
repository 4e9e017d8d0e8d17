//! The floor: what the same server gives a client that does nothing but the wire.
//!
//! Requests: a bare hyper HTTP/1.1 connection per worker, `GET jobs/` (or
//! another path: `health/` for the server-move family) with the token, the body
//! read to its end and not parsed. Tails: the HTTP stream read and
//! split at `\n` (non-empty lines counted, nothing decoded), or the WebSocket's
//! frames read and counted (nothing decoded). No limits, no queue, no task between
//! the socket and the count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use fastwebsockets::{OpCode, Role, WebSocket};
use http::{header, Request};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::report::Outcome;
use crate::target::{tail_path, Target};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One keep-alive HTTP/1.1 connection (its driver runs as a task).
async fn connect(target: &Target) -> Result<SendRequest<Empty<Bytes>>, BoxError> {
    let stream = TcpStream::connect(&target.authority).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

fn get(target: &Target, token: &str, api_path: &str) -> Result<Request<Empty<Bytes>>, BoxError> {
    Ok(Request::get(target.path(api_path))
        .header(header::HOST, &target.authority)
        .header(header::AUTHORIZATION, token)
        .body(Empty::new())?)
}

/// One `GET path` (`jobs/`, `health/`) on `sender`: the body's length.
async fn fetch(
    sender: &mut SendRequest<Empty<Bytes>>,
    target: &Target,
    token: &str,
    path: &str,
) -> Result<u64, BoxError> {
    sender.ready().await?;
    let response = sender.send_request(get(target, token, path)?).await?;
    if !response.status().is_success() {
        return Err(format!("GET {path} answered {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok(body.len() as u64)
}

/// `n` sequential `GET path` on one connection (one untimed call first opens it).
pub async fn gets(target: &Target, token: &str, path: &str, n: u64) -> Result<Outcome, BoxError> {
    let mut sender = connect(target).await?;
    fetch(&mut sender, target, token, path).await?;
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += fetch(&mut sender, target, token, path).await?;
    }
    Ok(Outcome {
        workload: "gets".into(),
        client: "floor".into(),
        count: n,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// `n` `GET path` made by `concurrency` workers at once, each on its own
/// connection (opened before the clock starts).
pub async fn concurrent(
    target: &Target,
    token: &str,
    path: &str,
    n: u64,
    concurrency: u64,
) -> Result<Outcome, BoxError> {
    let mut senders = Vec::new();
    for _ in 0..concurrency {
        let mut sender = connect(target).await?;
        fetch(&mut sender, target, token, path).await?;
        senders.push(sender);
    }
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut sender in senders {
        let next = Arc::clone(&next);
        let target = target.clone();
        let token = token.to_owned();
        let path = path.to_owned();
        workers.push(tokio::spawn(async move {
            let mut bytes = 0;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                bytes += fetch(&mut sender, &target, &token, &path).await?;
            }
            Ok::<u64, BoxError>(bytes)
        }));
    }
    let mut bytes = 0;
    for worker in workers {
        bytes += worker.await??;
    }
    Ok(Outcome {
        workload: "concurrent".into(),
        client: "floor".into(),
        count: n,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Reads `GET jobs/{job}/logs/stream/` to its end, counting non-empty lines.
pub async fn tail_http(target: &Target, token: &str, job: &str) -> Result<Outcome, BoxError> {
    let started = Instant::now();
    let mut sender = connect(target).await?;
    let response = sender
        .send_request(get(target, token, &tail_path(job, false)?)?)
        .await?;
    if !response.status().is_success() {
        return Err(format!("the HTTP tail answered {}", response.status()).into());
    }
    let mut body = response.into_body();
    let mut lines = 0u64;
    let mut bytes = 0u64;
    // length of the line being read so far (it may span frames)
    let mut current = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &data) {
            let len = current + (end - start);
            if len > 0 {
                lines += 1;
                bytes += len as u64;
            }
            current = 0;
            start = end + 1;
        }
        current += data.len() - start;
    }
    if current > 0 {
        lines += 1;
        bytes += current as u64;
    }
    Ok(Outcome {
        workload: "tail-http".into(),
        client: "floor".into(),
        count: lines,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Reads the WebSocket tail `jobs/{job}/logs/` until the server closes it,
/// counting text frames.
pub async fn tail_websocket(target: &Target, token: &str, job: &str) -> Result<Outcome, BoxError> {
    let started = Instant::now();
    let stream = TcpStream::connect(&target.authority).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let request = Request::get(target.path(&tail_path(job, true)?))
        .header(header::HOST, &target.authority)
        .header(header::AUTHORIZATION, token)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .body(Empty::<Bytes>::new())?;
    let mut response = sender.send_request(request).await?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return Err(format!("the WebSocket tail answered {}", response.status()).into());
    }
    let upgraded = hyper::upgrade::on(&mut response).await?;
    let mut ws = WebSocket::after_handshake(TokioIo::new(upgraded), Role::Client);
    let mut lines = 0u64;
    let mut bytes = 0u64;
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Text | OpCode::Binary => {
                lines += 1;
                bytes += frame.payload.len() as u64;
            }
            OpCode::Close => break,
            _ => {}
        }
    }
    driver.abort();
    Ok(Outcome {
        workload: "tail-websocket".into(),
        client: "floor".into(),
        count: lines,
        bytes,
        elapsed: started.elapsed(),
    })
}
