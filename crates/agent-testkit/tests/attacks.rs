//! The attacks of issue 12, each against the test server on loopback: a body is never
//! read before the token passed, `100 Continue` only follows a valid token, stalled
//! peers are dropped, attackers holding connections do not keep a client out,
//! oversized WebSocket frames close the tail, the journal keeps no attacker's body,
//! and an empty token is refused. (`agent-gateway`'s tests/attacks.rs runs the same
//! attacks against the gateway.)

use std::time::Duration;

use agent_testkit::sample::RUNNING_JOB;
use agent_testkit::{
    attack, AgentTestServer, JournalLimits, Limits, MetricsAccess, TestkitError, TlsFiles,
};

/// A bound against hanging, not a timing check.
const LIMIT: Duration = Duration::from_secs(15);

/// Short time-outs, so that the tests see stalled peers dropped.
fn short() -> Limits {
    Limits::new()
        .header_timeout(Duration::from_secs(1))
        .body_timeout(Duration::from_secs(1))
        .max_connections(16)
}

async fn server(limits: Limits) -> AgentTestServer {
    AgentTestServer::sample()
        .token("t")
        .limits(limits)
        .build()
        .await
        .unwrap()
}

async fn eventually_async<F, Fut>(mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 15 s");
}

/// A body sent without the token is never read, and the request stays out of the
/// journal (so that it cannot push a test's requests out of the window); a test that
/// asks for refused requests gets their heads only.
#[tokio::test]
async fn a_body_without_a_token_is_never_read_nor_journaled() {
    for journal_refused in [false, true] {
        let s = AgentTestServer::sample()
            .token("t")
            .journal_refused(journal_refused)
            .build()
            .await
            .unwrap();
        let addr = s.local_addr();
        let releases = s.plugin_releases().len();
        for _ in 0..40 {
            // 16 MiB promised, 64 KiB sent: the answer comes without the rest
            let head =
                attack::unauthenticated_body(addr, "/plugin_releases/", 16 << 20, 64 << 10, LIMIT)
                    .await
                    .unwrap();
            assert!(head.starts_with("HTTP/1.1 401"), "{head}");
            assert!(
                head.to_ascii_lowercase().contains("connection: close"),
                "{head}"
            );
        }
        let j = s.journal();
        if journal_refused {
            assert_eq!(j.len(), 40);
            assert!(j.iter().all(|e| e.body.is_empty() && !e.body_complete));
        } else {
            assert!(j.is_empty(), "{j:?}");
        }
        assert_eq!(s.plugin_releases().len(), releases, "nothing was created");
    }
}

#[tokio::test]
async fn continue_only_after_the_token() {
    let s = server(Limits::default()).await;
    let addr = s.local_addr();
    let path = "/plugin_releases/";
    let none = attack::expect_continue(addr, path, None, 1 << 30, LIMIT)
        .await
        .unwrap();
    assert!(none.starts_with("HTTP/1.1 401"), "{none}");
    let wrong = attack::expect_continue(addr, path, Some("x"), 1 << 30, LIMIT)
        .await
        .unwrap();
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let huge = attack::expect_continue(addr, path, Some("t"), 1 << 30, LIMIT)
        .await
        .unwrap();
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    let small = attack::expect_continue(addr, path, Some("t"), 40, LIMIT)
        .await
        .unwrap();
    assert!(small.starts_with("HTTP/1.1 100"), "{small}");
}

#[tokio::test]
async fn bodies_over_the_route_cap_are_refused() {
    let s = server(Limits::default()).await;
    let addr = s.local_addr();
    // Content-Length tells: 413 before a byte of the body
    let mut socks =
        attack::partial_bodies(addr, "/plugin_releases/", Some("t"), 1, 65 * 1024, 0).await;
    let head = attack::read_head(&mut socks[0], LIMIT).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // run_debug takes more (module code), up to its own cap
    let mut socks = attack::partial_bodies(
        addr,
        "/plugin_releases/run_debug/",
        Some("t"),
        1,
        512 * 1024,
        0,
    )
    .await;
    let r = attack::read_head(&mut socks[0], Duration::from_millis(300)).await;
    assert!(r.is_err(), "waits for the body: {r:?}");
}

#[tokio::test]
async fn stalled_peers_are_dropped() {
    let s = server(short()).await;
    let addr = s.local_addr();
    // a body that stops coming: 408, closed
    let mut socks = attack::partial_bodies(addr, "/plugin_releases/", Some("t"), 3, 1000, 10).await;
    for sock in &mut socks {
        let head = attack::read_head(sock, LIMIT).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        assert!(attack::closed_within(sock, LIMIT).await);
    }
    // a head that never ends, and a connection that sends nothing: closed
    let mut idle = attack::idle_connections(addr, 2).await;
    use tokio::io::AsyncWriteExt;
    idle[0]
        .write_all(b"GET /health/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for sock in &mut idle {
        assert!(attack::closed_within(sock, LIMIT).await);
    }
}

#[tokio::test]
async fn attackers_holding_connections_do_not_keep_a_client_out() {
    let s = server(
        short()
            .header_timeout(Duration::from_secs(30))
            .body_timeout(Duration::from_secs(30)),
    )
    .await;
    let addr = s.local_addr();
    // far more unauthenticated connections than the cap, held open
    let _idle = attack::idle_connections(addr, 40).await;
    let _partial =
        attack::partial_bodies(addr, "/plugin_releases/", None, 40, 16 << 20, 1024).await;
    for _ in 0..5 {
        assert_eq!(
            attack::get_status(addr, "/health/", "t", LIMIT).await,
            Some(200)
        );
    }
    // once every place is held by an authenticated tail, a newcomer gets a 503 at once
    let mut tails = Vec::new();
    for _ in 0..16 {
        tails.push(
            attack::websocket(addr, &format!("/jobs/{RUNNING_JOB}/logs/"), "t", LIMIT)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        attack::get_status(addr, "/health/", "t", LIMIT).await,
        Some(503)
    );
    drop(tails);
    eventually_async(|| async {
        attack::get_status(addr, "/health/", "t", LIMIT).await == Some(200)
    })
    .await;
}

#[tokio::test]
async fn an_oversized_websocket_frame_closes_the_tail() {
    let s = server(Limits::default()).await;
    let addr = s.local_addr();
    let path = format!("/jobs/{RUNNING_JOB}/logs/");
    let mut ws = attack::websocket(addr, &path, "t", LIMIT).await.unwrap();
    attack::send_frame_head(&mut ws, 63 << 20, 4096)
        .await
        .unwrap();
    assert_eq!(attack::close_code(&mut ws, LIMIT).await, Some(1009));
    // just over the cap too
    let mut ws = attack::websocket(addr, &path, "t", LIMIT).await.unwrap();
    attack::send_frame_head(&mut ws, 4 * 1024 + 1, 0)
        .await
        .unwrap();
    assert_eq!(attack::close_code(&mut ws, LIMIT).await, Some(1009));
    // and the upgrade itself needs the token
    let refused = attack::websocket(addr, &path, "nope", LIMIT)
        .await
        .unwrap_err();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
}

#[tokio::test]
async fn the_journal_is_a_bounded_window() {
    let s = AgentTestServer::builder()
        .token("t")
        .journal_limits(JournalLimits {
            max_entries: 5,
            max_bytes: 1 << 20,
            max_body_bytes: 16,
        })
        .build()
        .await
        .unwrap();
    let addr = s.local_addr();
    for _ in 0..20 {
        assert_eq!(
            attack::get_status(addr, "/health/", "t", LIMIT).await,
            Some(200)
        );
    }
    let mut sock = attack::partial_bodies(addr, "/plugin_releases/", Some("t"), 1, 40, 40).await;
    let _ = attack::read_head(&mut sock[0], LIMIT).await.unwrap();
    let j = s.journal();
    assert_eq!(j.len(), 5);
    assert_eq!(j[4].seq, 20);
    assert_eq!(j[4].body.len(), 16, "a body is kept up to the cap");
    assert!(!j[4].body_complete);
}

#[tokio::test]
async fn empty_and_whitespace_tokens_are_refused() {
    for token in ["", " ", "\t \n"] {
        let e = AgentTestServer::builder()
            .token(token)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(e, TestkitError::InvalidToken(_)), "{e:?}");
        assert!(e.to_string().contains("empty or whitespace"), "{e}");
    }
    // and an empty Authorization header does not pass a real token
    let s = server(Limits::default()).await;
    assert_eq!(
        attack::get_status(s.local_addr(), "/health/", "", LIMIT).await,
        Some(401)
    );
}

/// Issue 27: a head over the cap (default 16 KiB) is answered 431 and closed, so
/// an unfinished head costs the server at most the cap (`attack::check_heads_are_capped`).
#[tokio::test]
async fn an_oversized_head_is_answered_431() {
    let s = server(Limits::default()).await;
    let addr = s.local_addr();
    attack::check_heads_are_capped(addr, "t", LIMIT)
        .await
        .unwrap();
}

/// Issue 27: a flood from one source address evicts its own connections, never a
/// waiting client from another (`attack::check_flood_spares_other_sources`).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_flood_from_one_source_spares_a_client_from_another() {
    let s = server(short().header_timeout(Duration::from_secs(30))).await;
    let addr = s.local_addr();
    attack::check_flood_spares_other_sources(addr, "t", 16, LIMIT)
        .await
        .unwrap();
}

/// Issue 27: a flood from the client's own address that does not finish TLS
/// handshakes never evicts a client that did
/// (`attack::check_flood_spares_a_client_past_its_handshake`).
#[tokio::test]
async fn a_flood_in_its_handshakes_spares_a_client_past_its_own() {
    let tls = SelfSigned::new();
    let s = AgentTestServer::sample()
        .token("t")
        .limits(short().header_timeout(Duration::from_secs(30)))
        .tls(tls.files.clone())
        .build()
        .await
        .unwrap();
    let addr = s.local_addr();
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
#[tokio::test]
async fn metrics_are_public_behind_the_token_or_off() {
    for access in [
        MetricsAccess::Public,
        MetricsAccess::Token,
        MetricsAccess::Off,
    ] {
        let s = AgentTestServer::sample()
            .token("tok-metrics")
            .metrics(access)
            .build()
            .await
            .unwrap();
        let addr = s.local_addr();
        attack::check_metrics_access(addr, "tok-metrics", access, LIMIT)
            .await
            .unwrap();
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 16,
        // the workspace's rule for integration tests (see streamed_logs.rs)
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Any head within the default cap (16 KiB) is read (401: no token), and any
    /// head of at least twice the cap is answered 431: what a connection's head can
    /// hold is bounded whatever its size. (Between the two, hyper's read may take in
    /// one buffer's slack more before it checks: either answer.)
    #[test]
    fn a_head_is_read_within_the_cap_and_refused_well_over_it(kib in 1usize..200) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let head = rt.block_on(async {
            let s = server(Limits::default()).await;
            // the request line and Host come on top of the padding
            attack::large_head(s.local_addr(), kib << 10, LIMIT).await.unwrap()
        });
        if kib < 16 {
            proptest::prop_assert!(head.starts_with("HTTP/1.1 401"), "{} KiB: {}", kib, head);
        } else if kib >= 32 {
            proptest::prop_assert!(head.starts_with("HTTP/1.1 431"), "{} KiB: {}", kib, head);
        }
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
