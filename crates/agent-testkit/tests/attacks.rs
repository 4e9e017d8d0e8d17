//! The attacks of issue 12, each against the test server on loopback: a body is never
//! read before the token passed, `100 Continue` only follows a valid token, stalled
//! peers are dropped, attackers holding connections do not keep a client out,
//! oversized WebSocket frames close the tail, the journal keeps no attacker's body,
//! and an empty token is refused. The checks are `agent_testkit::suite`'s, which
//! `agent-gateway`'s tests/attacks.rs runs against the gateway; this file adds the
//! journal's.

use std::time::Duration;

use agent_testkit::sample::RUNNING_JOB;
use agent_testkit::suite::{self, SelfSigned};
use agent_testkit::{attack, AgentTestServer, JournalLimits, Limits, MetricsAccess, TestkitError};

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
        suite::check_body_without_a_token_is_never_read(addr, "/plugin_releases/", LIMIT)
            .await
            .unwrap();
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
    suite::check_continue_only_after_the_token(s.local_addr(), "/plugin_releases/", "t", LIMIT)
        .await
        .unwrap();
}

#[tokio::test]
async fn bodies_over_the_route_cap_are_refused() {
    let s = server(Limits::default()).await;
    suite::check_bodies_over_the_route_cap_are_refused(s.local_addr(), "t", LIMIT)
        .await
        .unwrap();
}

#[tokio::test]
async fn stalled_peers_are_dropped() {
    let s = server(short()).await;
    suite::check_stalled_peers_are_dropped(s.local_addr(), "/plugin_releases/", "t", LIMIT)
        .await
        .unwrap();
}

#[tokio::test]
async fn attackers_holding_connections_do_not_keep_a_client_out() {
    let s = server(
        short()
            .header_timeout(Duration::from_secs(30))
            .body_timeout(Duration::from_secs(30)),
    )
    .await;
    let tail = format!("/jobs/{RUNNING_JOB}/logs/");
    suite::check_attackers_holding_connections_do_not_keep_a_client_out(
        s.local_addr(),
        "t",
        &tail,
        16,
        LIMIT,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_oversized_websocket_frame_closes_the_tail() {
    let s = server(Limits::default()).await;
    let tail = format!("/jobs/{RUNNING_JOB}/logs/");
    suite::check_an_oversized_websocket_frame_closes_the_tail(s.local_addr(), &tail, "t", LIMIT)
        .await
        .unwrap();
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
    suite::check_an_empty_token_is_refused(s.local_addr(), LIMIT)
        .await
        .unwrap();
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
    let tls = SelfSigned::new().unwrap();
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
