//! The attacks of issue 12 against the gateway, in front of a stand-in Ray on
//! loopback (the same attacks as agent-testkit's tests/attacks.rs, from
//! `agent_testkit::attack`): a body is never read before the token passed,
//! `100 Continue` only follows a valid token, stalled peers are dropped, attackers
//! holding connections do not keep a client out, oversized WebSocket frames close
//! the tail, and an empty token is refused.

mod stand_in;

use agent_gateway::{Gateway, GatewayConfig};
use agent_server::{Limits, MetricsAccess, TlsFiles};
use agent_testkit::attack;
use stand_in::{ray, JOB};
use std::time::Duration;

/// A bound against hanging, not a timing check.
const LIMIT: Duration = Duration::from_secs(15);

async fn gateway(limits: Limits) -> Gateway {
    let mut config = GatewayConfig::new(ray().await, "t").log_requests(false);
    config.limits = limits;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Gateway::start(config, listener).await.unwrap()
}

fn short() -> Limits {
    Limits::new()
        .header_timeout(Duration::from_secs(1))
        .body_timeout(Duration::from_secs(1))
        .max_connections(16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_a_token_is_never_read() {
    let gw = gateway(Limits::default()).await;
    let addr = gw.local_addr();
    for _ in 0..40 {
        let head =
            attack::unauthenticated_body(addr, "/plugin_releases/", 16 << 20, 64 << 10, LIMIT)
                .await
                .unwrap();
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_only_after_the_token() {
    let gw = gateway(Limits::default()).await;
    let addr = gw.local_addr();
    let path = "/plugin_releases/run_debug/";
    let none = attack::expect_continue(addr, path, None, 1 << 30, LIMIT)
        .await
        .unwrap();
    assert!(none.starts_with("HTTP/1.1 401"), "{none}");
    let huge = attack::expect_continue(addr, path, Some("t"), 1 << 30, LIMIT)
        .await
        .unwrap();
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    let small = attack::expect_continue(addr, path, Some("t"), 40, LIMIT)
        .await
        .unwrap();
    assert!(small.starts_with("HTTP/1.1 100"), "{small}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_peers_are_dropped() {
    let gw = gateway(short()).await;
    let addr = gw.local_addr();
    let mut socks =
        attack::partial_bodies(addr, "/plugin_releases/run_debug/", Some("t"), 2, 1000, 10).await;
    for sock in &mut socks {
        let head = attack::read_head(sock, LIMIT).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        assert!(attack::closed_within(sock, LIMIT).await);
    }
    let mut idle = attack::idle_connections(addr, 2).await;
    for sock in &mut idle {
        assert!(attack::closed_within(sock, LIMIT).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attackers_holding_connections_do_not_keep_a_client_out() {
    let gw = gateway(
        short()
            .header_timeout(Duration::from_secs(30))
            .body_timeout(Duration::from_secs(30)),
    )
    .await;
    let addr = gw.local_addr();
    let _idle = attack::idle_connections(addr, 40).await;
    let _partial =
        attack::partial_bodies(addr, "/plugin_releases/", None, 40, 16 << 20, 1024).await;
    for _ in 0..5 {
        assert_eq!(
            attack::get_status(addr, "/health/", "t", LIMIT).await,
            Some(200)
        );
    }
    let mut tails = Vec::new();
    for _ in 0..16 {
        tails.push(
            attack::websocket(addr, &format!("/jobs/{JOB}/logs/"), "t", LIMIT)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        attack::get_status(addr, "/health/", "t", LIMIT).await,
        Some(503)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_websocket_frame_closes_the_tail() {
    let gw = gateway(Limits::default()).await;
    let addr = gw.local_addr();
    let path = format!("/jobs/{JOB}/logs/");
    let mut ws = attack::websocket(addr, &path, "t", LIMIT).await.unwrap();
    attack::send_frame_head(&mut ws, 63 << 20, 4096)
        .await
        .unwrap();
    assert_eq!(attack::close_code(&mut ws, LIMIT).await, Some(1009));
    let refused = attack::websocket(addr, &path, "nope", LIMIT)
        .await
        .unwrap_err();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_whitespace_tokens_are_refused() {
    for token in ["", "  \t"] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let e = Gateway::start(GatewayConfig::new("http://127.0.0.1:1", token), listener)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("empty or whitespace"), "{e}");
    }
    let gw = gateway(Limits::default()).await;
    assert_eq!(
        attack::get_status(gw.local_addr(), "/health/", "", LIMIT).await,
        Some(401)
    );
}

/// Issue 27: a head over the cap (default 16 KiB) is answered 431 and closed, so
/// an unfinished head costs the server at most the cap (`attack::check_heads_are_capped`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_head_is_answered_431() {
    let gw = gateway(Limits::default()).await;
    let addr = gw.local_addr();
    attack::check_heads_are_capped(addr, "t", LIMIT)
        .await
        .unwrap();
}

/// Issue 27: a flood from one source address evicts its own connections, never a
/// waiting client from another (`attack::check_flood_spares_other_sources`).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_source_spares_a_client_from_another() {
    let gw = gateway(short().header_timeout(Duration::from_secs(30))).await;
    let addr = gw.local_addr();
    attack::check_flood_spares_other_sources(addr, "t", 16, LIMIT)
        .await
        .unwrap();
}

/// Issue 27: a flood from the client's own address that does not finish TLS
/// handshakes never evicts a client that did
/// (`attack::check_flood_spares_a_client_past_its_handshake`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_in_its_handshakes_spares_a_client_past_its_own() {
    let tls = SelfSigned::new();
    let mut config = GatewayConfig::new(ray().await, "t").log_requests(false);
    config.limits = short().header_timeout(Duration::from_secs(30));
    config.tls = Some(tls.files.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = Gateway::start(config, listener).await.unwrap();
    let addr = gw.local_addr();
    attack::check_flood_spares_a_client_past_its_handshake(
        addr,
        "t",
        16,
        || tls.connect(addr),
        LIMIT,
    )
    .await
    .unwrap();
}

/// Issue 27: `--metrics public|token|off` (`attack::check_metrics_access`), the
/// token compared as the API's (wrong lengths included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_public_behind_the_token_or_off() {
    for access in [
        MetricsAccess::Public,
        MetricsAccess::Token,
        MetricsAccess::Off,
    ] {
        let mut config = GatewayConfig::new(ray().await, "tok-metrics").log_requests(false);
        config.metrics = access;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gw = Gateway::start(config, listener).await.unwrap();
        let addr = gw.local_addr();
        attack::check_metrics_access(addr, "tok-metrics", access, LIMIT)
            .await
            .unwrap();
    }
}

/// A self-signed certificate for 127.0.0.1 under the temp dir (removed on drop),
/// and a TLS 1.2 client trusting it. In TLS 1.2 the server's Finished is the last
/// message of the handshake, so once the client's handshake is done, the server's
/// is too (in 1.3 the client finishes first).
struct SelfSigned {
    dir: std::path::PathBuf,
    files: TlsFiles,
    connector: tokio_rustls::TlsConnector,
}

impl SelfSigned {
    fn new() -> SelfSigned {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("agent-attack-tls-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
        let files = TlsFiles::new(dir.join("cert.pem"), dir.join("key.pem"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        SelfSigned {
            dir,
            files,
            connector,
        }
    }

    /// A connection to `addr` with its handshake done.
    async fn connect(
        &self,
        addr: std::net::SocketAddr,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        self.connector.connect(name, tcp).await
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
