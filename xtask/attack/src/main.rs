//! `cargo xtask bench attack`: the server under attack, measured.
//!
//! Against the test server and against the gateway (in front of a stand-in Ray), both
//! in this process with their default limits, on loopback: 1,000 idle connections,
//! then 1,000 connections with partial bodies (no token, 16 MiB promised, 1 KiB
//! sent), then 1,000 connections each sending 400 KB of a head that never ends
//! (answered 431 at the head cap), then 100 authenticated WebSocket tails each sending the head of a 63 MiB
//! frame. During each attack an authenticated `health/` is timed (200 requests, one
//! connection each) and the process's RSS is read (the attackers' side is sockets,
//! kernel memory, so RSS is the server's). Then the throughput of `health/` (4
//! workers) and of an HTTP tail (100,000 lines of 80 bytes, test server only).
//! Every phase is bounded in count and time.
//!
//! `agent-attack heads ADDR [N] [KB]` runs the unfinished-heads attack alone against
//! a server in another process (its RSS is then the server's alone);
//! `agent-attack flood CAP RATE SECONDS same|other` measures the share of clients
//! served under a connection flood.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_gateway::{Gateway, GatewayConfig};
use agent_testkit::ray::{self, QUIET_JOB};
use agent_testkit::suite::SelfSigned;
use agent_testkit::{attack, AgentTestServer, JobSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "attack-token";
const LIMIT: Duration = Duration::from_secs(10);
const BIG_JOB: &str = "raysubmit_big";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Median and worst of 200 authenticated `health/` requests, one connection each,
/// and how many were not answered 200 within the limit.
async fn health_latency(addr: SocketAddr) -> (f64, f64, usize) {
    let mut ms = Vec::with_capacity(200);
    let mut failed = 0;
    for _ in 0..200 {
        let t = Instant::now();
        if attack::get_status(addr, "/health/", TOKEN, LIMIT).await != Some(200) {
            failed += 1;
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[ms.len() - 1], failed)
}

fn report(server: &str, phase: &str, addr_latency: (f64, f64, usize), held: usize) {
    let (median, worst, failed) = addr_latency;
    println!(
        "| {server} | {phase} | {held} | {median:.2} | {worst:.1} | {failed} | {:.1} |",
        rss_mib()
    );
}

async fn attacks(server: &str, addr: SocketAddr, ws_path: &str) {
    report(server, "none", health_latency(addr).await, 0);
    let idle = attack::idle_connections(addr, 1000).await;
    report(
        server,
        "1,000 idle connections",
        health_latency(addr).await,
        idle.len(),
    );
    drop(idle);
    let partial =
        attack::partial_bodies(addr, "/plugin_releases/", None, 1000, 16 << 20, 1024).await;
    report(
        server,
        "1,000 partial bodies",
        health_latency(addr).await,
        partial.len(),
    );
    drop(partial);
    let (heads, answered) = attack::unfinished_heads(addr, 1000, 400 << 10, LIMIT).await;
    report(
        server,
        &format!("1,000 unfinished 400 KB heads ({answered} answered 431)"),
        health_latency(addr).await,
        heads.len(),
    );
    drop(heads);
    let mut tails = Vec::new();
    for _ in 0..100 {
        if let Ok(mut ws) = attack::websocket(addr, ws_path, TOKEN, LIMIT).await {
            if attack::send_frame_head(&mut ws, 63 << 20, 4096)
                .await
                .is_ok()
            {
                tails.push(ws);
            }
        }
    }
    report(
        server,
        "100 WebSocket tails, 63 MiB frames",
        health_latency(addr).await,
        tails.len(),
    );
    drop(tails);
}

/// `health/` answered per second by 4 workers for 3 s.
async fn health_throughput(addr: SocketAddr) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(3);
    let mut workers = Vec::new();
    for _ in 0..4 {
        let done = Arc::clone(&done);
        workers.push(tokio::spawn(async move {
            while Instant::now() < until {
                if attack::get_status(addr, "/health/", TOKEN, LIMIT).await == Some(200) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    done.load(Ordering::Relaxed) as f64 / 3.0
}

/// Lines per second of an HTTP tail of the big job, read raw.
async fn tail_throughput(addr: SocketAddr) -> Result<f64, BoxError> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "GET /jobs/{BIG_JOB}/logs/stream/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let t = Instant::now();
    s.write_all(req.as_bytes()).await?;
    let mut buf = vec![0u8; 64 * 1024];
    const LOG: &[u8] = b"\"type\":\"log\"";
    let mut lines = 0u64;
    loop {
        let n = tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await??;
        if n == 0 {
            break;
        }
        // (a pattern split between two reads is missed: a few lines in 100,000)
        lines += buf[..n].windows(LOG.len()).filter(|w| *w == LOG).count() as u64;
    }
    Ok(lines as f64 / t.elapsed().as_secs_f64())
}

/// The stand-in Ray (agent_testkit::ray): healthy, one running job with a quiet
/// log tail.
async fn ray() -> Result<String, BoxError> {
    let (_state, address, _task) = ray::start(ray::State::quiet()).await?;
    Ok(address)
}

async fn run() -> Result<(), BoxError> {
    println!(
        "| server | attack | attackers held | health/ median ms | worst ms | not 200 | RSS MiB |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let testkit = AgentTestServer::sample()
        .token(TOKEN)
        .job(JobSpec::new(BIG_JOB).generate(100_000, 80))
        .build()
        .await?;
    let tk_addr = testkit.local_addr();
    attacks("test server", tk_addr, "/jobs/raysubmit_slow1/logs/").await;

    let mut config = GatewayConfig::new(ray().await?, TOKEN).log_requests(false);
    config.prefix = "/".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gateway = Gateway::start(config, listener).await?;
    let gw_addr = gateway.local_addr();
    attacks("gateway", gw_addr, &format!("/jobs/{QUIET_JOB}/logs/")).await;

    println!();
    println!("| server | health/ per s (4 workers, a connection each) | HTTP tail lines per s |");
    println!("|---|---:|---:|");
    println!(
        "| test server | {:.0} | {:.0} |",
        health_throughput(tk_addr).await,
        tail_throughput(tk_addr).await?
    );
    println!("| gateway | {:.0} | - |", health_throughput(gw_addr).await);
    println!();
    println!("peak RSS of the process: {:.1} MiB (VmHWM)", {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(f64::NAN, |kb| kb / 1024.0)
    });
    gateway.shutdown().await;
    testkit.shutdown().await;
    Ok(())
}

/// `agent-attack heads ADDR [N] [KB]`: the attack of issue 27 item 1 against a
/// server in another process (e.g. `agentctl dev-server`), whose peak RSS is then
/// read from its /proc/PID/status: N connections (default 1,000) at once, each
/// sending KB (default 400) of a head that never ends, held until all are done.
async fn heads(args: &[String]) -> Result<(), BoxError> {
    let addr: SocketAddr = args.first().ok_or("heads ADDR [N] [KB]")?.parse()?;
    let n = args.get(1).map_or(Ok(1000), |a| a.parse())?;
    let kb: usize = args.get(2).map_or(Ok(400), |a| a.parse())?;
    let t = Instant::now();
    let (held, answered) = attack::unfinished_heads(addr, n, kb << 10, LIMIT).await;
    println!(
        "{n} unfinished heads of {kb} KB: {} connected, {answered} answered 431, {:.1} s",
        held.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `agent-attack flood CAP RATE SECONDS same|other [plain|tls|tls-shaken]`: the
/// attack of issue 27 item 2. A test server capped at CAP connections; a flood of
/// RATE idle connections per second (held, the newest 8,192 at most, by 64 tasks)
/// from 127.0.0.2 (`other`) or from the clients' own 127.0.0.1 (`same`); meanwhile
/// 16 client loops each connect from 127.0.0.1, wait 150 ms, send an authenticated
/// `health/` and count a 200 as served, for SECONDS. `tls`: the server and the
/// clients speak TLS (a self-signed certificate; the clients finish their handshake
/// before the wait), the flood sends nothing; `tls-shaken`: the flood finishes a TLS
/// handshake on each connection too.
async fn flood(args: &[String]) -> Result<(), BoxError> {
    let usage = "flood CAP RATE SECONDS same|other [plain|tls|tls-shaken]";
    let cap: usize = args.first().ok_or(usage)?.parse()?;
    let rate: u64 = args.get(1).ok_or(usage)?.parse()?;
    let seconds: u64 = args.get(2).ok_or(usage)?.parse()?;
    let same = match args.get(3).map(String::as_str) {
        Some("same") => true,
        Some("other") => false,
        _ => return Err(usage.into()),
    };
    let (tls, flood_shakes) = match args.get(4).map(String::as_str) {
        None | Some("plain") => (None, false),
        Some("tls") => (Some(Arc::new(SelfSigned::any_version()?)), false),
        Some("tls-shaken") => (Some(Arc::new(SelfSigned::any_version()?)), true),
        _ => return Err(usage.into()),
    };
    let mut builder = AgentTestServer::sample()
        .token(TOKEN)
        .limits(agent_server::Limits::new().max_connections(cap));
    if let Some(tls) = &tls {
        builder = builder.tls(tls.files.clone());
    }
    let server = builder.build().await?;
    let addr = server.local_addr();
    let client_ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let flood_ip = if same {
        client_ip
    } else {
        std::net::IpAddr::from([127, 0, 0, 2])
    };
    let until = Instant::now() + Duration::from_secs(seconds);
    let opened = Arc::new(AtomicU64::new(0));
    // 64 flooders share the pace (RATE per second since the start, in all): a
    // connect waits for both ends to be scheduled, so one at a time is too slow
    let start = Instant::now();
    let mut flooders = Vec::new();
    for _ in 0..64 {
        let opened = Arc::clone(&opened);
        let tls = tls.clone().filter(|_| flood_shakes);
        flooders.push(tokio::spawn(async move {
            let mut held = std::collections::VecDeque::new();
            while Instant::now() < until {
                let due = start.elapsed().as_millis() as u64 * rate / 1000;
                if opened.load(Ordering::Relaxed) >= due {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                opened.fetch_add(1, Ordering::Relaxed);
                if let Ok(s) = attack::connect_from(flood_ip, addr).await {
                    let s = match &tls {
                        None => Conn::Plain(s),
                        Some(tls) => match tls.handshake(s, LIMIT).await {
                            Ok(s) => Conn::Tls(Box::new(s)),
                            Err(_) => continue,
                        },
                    };
                    held.push_back(s);
                    if held.len() > 128 {
                        held.pop_front();
                    }
                }
            }
        }));
    }
    let served = Arc::new(AtomicU64::new(0));
    let tried = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (served, tried) = (Arc::clone(&served), Arc::clone(&tried));
        let tls = tls.clone();
        clients.push(tokio::spawn(async move {
            while Instant::now() < until {
                tried.fetch_add(1, Ordering::Relaxed);
                let Ok(s) = attack::connect_from(client_ip, addr).await else {
                    CLIENT_FAILURES[0].fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let req = format!(
                    "GET /health/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {TOKEN}\r\nConnection: close\r\n\r\n"
                );
                let ok = match &tls {
                    None => served_after_wait(s, &req).await,
                    Some(tls) => match tls.handshake(s, LIMIT).await {
                        Ok(s) => served_after_wait(s, &req).await,
                        Err(_) => {
                            CLIENT_FAILURES[1].fetch_add(1, Ordering::Relaxed);
                            false
                        }
                    },
                };
                if ok {
                    served.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for c in clients {
        let _ = c.await;
    }
    for f in flooders {
        let _ = f.await;
    }
    let (served, tried) = (
        served.load(Ordering::Relaxed),
        tried.load(Ordering::Relaxed),
    );
    println!(
        "cap {cap}, {}, flood from {} at {:.0} conn/s for {seconds} s: {served} of {tried} clients served ({:.1} %)",
        match (&tls, flood_shakes) {
            (None, _) => "plain HTTP",
            (Some(_), false) => "TLS, the flood sends nothing",
            (Some(_), true) => "TLS, the flood finishes its handshakes",
        },
        if same { "the clients' address" } else { "another address" },
        opened.load(Ordering::Relaxed) as f64 / seconds as f64,
        100.0 * served as f64 / tried.max(1) as f64
    );
    println!(
        "  of the clients not served: {} could not connect, {} failed their TLS handshake",
        CLIENT_FAILURES[0].load(Ordering::Relaxed),
        CLIENT_FAILURES[1].load(Ordering::Relaxed)
    );
    server.shutdown().await;
    Ok(())
}

/// The flood's clients that could not connect, and those whose TLS handshake failed.
static CLIENT_FAILURES: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// A flood's held connection (only held, never read).
enum Conn {
    Plain(#[allow(dead_code)] tokio::net::TcpStream),
    Tls(#[allow(dead_code)] Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// Waits 150 ms, sends `req`, and tells whether it was answered 200.
async fn served_after_wait<S>(mut s: S, req: &str) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.write_all(req.as_bytes()).await.is_ok()
        && attack::read_head(&mut s, LIMIT)
            .await
            .is_ok_and(|h| h.starts_with("HTTP/1.1 200"))
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent-attack: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let work = async {
        match args.first().map(String::as_str) {
            Some("heads") => heads(&args[1..]).await,
            Some("flood") => flood(&args[1..]).await,
            _ => run().await,
        }
    };
    match runtime.block_on(work) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent-attack: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
