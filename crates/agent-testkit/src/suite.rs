//! The hardening suite: the attacks of issue 12 with their verdicts, one function a
//! check, run against any agent server by its address. The test server's suite
//! (`agent-testkit`'s tests/attacks.rs) and the gateway's (`agent-gateway`'s
//! tests/attacks.rs) call the same functions, so every check runs against both;
//! each file adds only what belongs to its server (the journal, how a server refuses
//! a bad token at start).
//!
//! Each check returns `Err` with what did not hold, and is bounded by `limit`.
//!
//! ```
//! use agent_testkit::{suite, AgentTestServer};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tokio::runtime::Runtime::new()?.block_on(async {
//!     let server = AgentTestServer::sample().token("t").build().await?;
//!     let limit = Duration::from_secs(15);
//!     suite::check_continue_only_after_the_token(server.local_addr(), "/plugin_releases/", "t", limit).await?;
//!     Ok(())
//! })
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::attack;
use crate::serve::TlsFiles;

/// A body sent without the token is never read: 40 requests promising 16 MiB and
/// sending 64 KiB to `path` are each answered 401 with `Connection: close`, without
/// the rest.
pub async fn check_body_without_a_token_is_never_read(
    addr: SocketAddr,
    path: &str,
    limit: Duration,
) -> Result<(), String> {
    for _ in 0..40 {
        // 16 MiB promised, 64 KiB sent: the answer comes without the rest
        let head = attack::unauthenticated_body(addr, path, 16 << 20, 64 << 10, limit)
            .await
            .map_err(|e| format!("a body without a token: {e}"))?;
        if !head.starts_with("HTTP/1.1 401") {
            return Err(format!("a body without a token, not 401: {head}"));
        }
        if !head.to_ascii_lowercase().contains("connection: close") {
            return Err(format!("a body without a token, not closed: {head}"));
        }
    }
    Ok(())
}

/// `100 Continue` only follows a valid token: a request to `path` expecting it is
/// answered 401 without a token or with a wrong one, 413 with the token and a body
/// over the cap, 100 with the token and a small body.
pub async fn check_continue_only_after_the_token(
    addr: SocketAddr,
    path: &str,
    token: &str,
    limit: Duration,
) -> Result<(), String> {
    let wrong = format!("{token}-wrong");
    for (sent, size, want) in [
        (None, 1 << 30, "401"),
        (Some(wrong.as_str()), 1 << 30, "401"),
        (Some(token), 1 << 30, "413"),
        (Some(token), 40, "100"),
    ] {
        let head = attack::expect_continue(addr, path, sent, size, limit)
            .await
            .map_err(|e| format!("Expect: 100-continue: {e}"))?;
        if !head.starts_with(&format!("HTTP/1.1 {want}")) {
            let which = match sent {
                None => "no token",
                Some(t) if t == token => "the token",
                Some(_) => "a wrong token",
            };
            return Err(format!(
                "Expect: 100-continue with {which} and {size} bytes, not {want}: {head}"
            ));
        }
    }
    Ok(())
}

/// Bodies over the route's cap are refused: a `Content-Length` of 65 KiB to
/// `plugin_releases/` is answered 413 before a byte of the body, while
/// `plugin_releases/run_debug/` (module code) takes 512 KiB and waits for it.
pub async fn check_bodies_over_the_route_cap_are_refused(
    addr: SocketAddr,
    token: &str,
    limit: Duration,
) -> Result<(), String> {
    let mut socks =
        attack::partial_bodies(addr, "/plugin_releases/", Some(token), 1, 65 * 1024, 0).await;
    let sock = socks.first_mut().ok_or("plugin_releases/: no connection")?;
    let head = attack::read_head(sock, limit)
        .await
        .map_err(|e| format!("plugin_releases/ over the cap: {e}"))?;
    if !head.starts_with("HTTP/1.1 413") {
        return Err(format!("plugin_releases/ over the cap, not 413: {head}"));
    }
    let mut socks = attack::partial_bodies(
        addr,
        "/plugin_releases/run_debug/",
        Some(token),
        1,
        512 * 1024,
        0,
    )
    .await;
    let sock = socks.first_mut().ok_or("run_debug/: no connection")?;
    match attack::read_head(sock, Duration::from_millis(300)).await {
        Err(_) => Ok(()),
        Ok(head) => Err(format!("run_debug/ did not wait for its body: {head}")),
    }
}

/// Stalled peers are dropped (for a server with short time-outs): bodies to `path`
/// that stop coming are answered 408 and closed; a head that never ends and a
/// connection that sends nothing are closed.
pub async fn check_stalled_peers_are_dropped(
    addr: SocketAddr,
    path: &str,
    token: &str,
    limit: Duration,
) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut socks = attack::partial_bodies(addr, path, Some(token), 3, 1000, 10).await;
    for sock in &mut socks {
        let head = attack::read_head(sock, limit)
            .await
            .map_err(|e| format!("a stalled body: {e}"))?;
        if !head.starts_with("HTTP/1.1 408") {
            return Err(format!("a stalled body, not 408: {head}"));
        }
        if !attack::closed_within(sock, limit).await {
            return Err("a stalled body: the connection stayed open".into());
        }
    }
    let mut idle = attack::idle_connections(addr, 2).await;
    if let Some(first) = idle.first_mut() {
        first
            .write_all(b"GET /health/ HTTP/1.1\r\nHost: x\r\n")
            .await
            .map_err(|e| format!("a head that never ends: {e}"))?;
    }
    for sock in &mut idle {
        if !attack::closed_within(sock, limit).await {
            return Err("an idle connection (or an unfinished head) stayed open".into());
        }
    }
    Ok(())
}

/// Attackers holding connections do not keep a client out (for a server capped at
/// `cap` connections, with long time-outs): 40 idle connections and 40 partial
/// bodies without the token, and `token` is still served `health/`; once `cap`
/// authenticated WebSocket tails at `tail_path` hold every place, a newcomer is
/// answered 503 at once; once they go, `health/` is served again.
pub async fn check_attackers_holding_connections_do_not_keep_a_client_out(
    addr: SocketAddr,
    token: &str,
    tail_path: &str,
    cap: usize,
    limit: Duration,
) -> Result<(), String> {
    let _idle = attack::idle_connections(addr, 40).await;
    let _partial =
        attack::partial_bodies(addr, "/plugin_releases/", None, 40, 16 << 20, 1024).await;
    for _ in 0..5 {
        let got = attack::get_status(addr, "/health/", token, limit).await;
        if got != Some(200) {
            return Err(format!("health/ among the attackers: {got:?}"));
        }
    }
    let mut tails = Vec::new();
    for _ in 0..cap {
        tails.push(
            attack::websocket(addr, tail_path, token, limit)
                .await
                .map_err(|e| format!("a tail: {e}"))?,
        );
    }
    let got = attack::get_status(addr, "/health/", token, limit).await;
    if got != Some(503) {
        return Err(format!("health/ with every place held: {got:?}, not 503"));
    }
    drop(tails);
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if attack::get_status(addr, "/health/", token, limit).await == Some(200) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err("health/ was not served again once the tails went".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An oversized WebSocket frame closes the tail at `tail_path` with 1009 (the head
/// of a 63 MiB frame, and one of just over the 4 KiB cap); the upgrade itself needs
/// the token (401).
pub async fn check_an_oversized_websocket_frame_closes_the_tail(
    addr: SocketAddr,
    tail_path: &str,
    token: &str,
    limit: Duration,
) -> Result<(), String> {
    for (len, sent) in [(63u64 << 20, 4096), (4 * 1024 + 1, 0)] {
        let mut ws = attack::websocket(addr, tail_path, token, limit)
            .await
            .map_err(|e| format!("a tail: {e}"))?;
        attack::send_frame_head(&mut ws, len, sent)
            .await
            .map_err(|e| format!("a frame of {len} bytes: {e}"))?;
        let code = attack::close_code(&mut ws, limit).await;
        if code != Some(1009) {
            return Err(format!("a frame of {len} bytes: close {code:?}, not 1009"));
        }
    }
    match attack::websocket(addr, tail_path, &format!("{token}-wrong"), limit).await {
        Err(head) if head.starts_with("HTTP/1.1 401") => Ok(()),
        Err(head) => Err(format!("an upgrade with a wrong token, not 401: {head}")),
        Ok(_) => Err("an upgrade with a wrong token was accepted".into()),
    }
}

/// An empty `Authorization` header does not pass a real token: 401.
pub async fn check_an_empty_token_is_refused(
    addr: SocketAddr,
    limit: Duration,
) -> Result<(), String> {
    match attack::get_status(addr, "/health/", "", limit).await {
        Some(401) => Ok(()),
        other => Err(format!("health/ with an empty token: {other:?}, not 401")),
    }
}

/// A self-signed certificate for 127.0.0.1 under the temp dir (removed on drop),
/// the [`TlsFiles`] to serve it with, and a TLS 1.2 client trusting it. In TLS 1.2
/// the server's Finished is the last message of the handshake, so once the client's
/// handshake is done, the server's is too (in 1.3 the client finishes first).
pub struct SelfSigned {
    dir: std::path::PathBuf,
    /// The certificate and key files, for the server.
    pub files: TlsFiles,
    connector: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// The error of making a [`SelfSigned`].
pub type SelfSignedError = Box<dyn std::error::Error + Send + Sync>;

impl SelfSigned {
    /// Makes the certificate and its files; the client speaks TLS 1.2 only.
    pub fn new() -> Result<SelfSigned, SelfSignedError> {
        Self::with_versions(&[&rustls::version::TLS12])
    }

    /// Makes the certificate and its files; the client speaks TLS 1.2 and 1.3, as
    /// clients in the wild (`cargo xtask bench attack`'s flood).
    pub fn any_version() -> Result<SelfSigned, SelfSignedError> {
        Self::with_versions(rustls::DEFAULT_VERSIONS)
    }

    fn with_versions(
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<SelfSigned, SelfSignedError> {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("agent-attack-tls-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
        std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem())?;
        let files = TlsFiles::new(dir.join("cert.pem"), dir.join("key.pem"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(SelfSigned {
            dir,
            files,
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    /// A TLS connection over `tcp` (to 127.0.0.1), its handshake done within `limit`.
    pub async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
        limit: Duration,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let name = rustls::pki_types::ServerName::from(std::net::IpAddr::from([127, 0, 0, 1]));
        tokio::time::timeout(limit, self.connector.connect(name, tcp))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
    }

    /// A connection to `addr` with its handshake done.
    pub async fn connect(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::from(std::net::IpAddr::from([127, 0, 0, 1]));
        self.connector.connect(name, tcp).await
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
