//! The attacks of issue 12 against the gateway, in front of a stand-in Ray on
//! loopback (the same checks as agent-testkit's tests/attacks.rs, from
//! `agent_testkit::suite`): a body is never read before the token passed,
//! `100 Continue` only follows a valid token, stalled peers are dropped, attackers
//! holding connections do not keep a client out, oversized WebSocket frames close
//! the tail, and an empty token is refused.

mod stand_in;

use agent_gateway::{Gateway, GatewayConfig};
use agent_server::{Limits, MetricsAccess};
use agent_testkit::attack;
use agent_testkit::suite::{self, SelfSigned};
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
    suite::check_body_without_a_token_is_never_read(gw.local_addr(), "/plugin_releases/", LIMIT)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_only_after_the_token() {
    let gw = gateway(Limits::default()).await;
    let path = "/plugin_releases/run_debug/";
    suite::check_continue_only_after_the_token(gw.local_addr(), path, "t", LIMIT)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_route_cap_are_refused() {
    let gw = gateway(Limits::default()).await;
    suite::check_bodies_over_the_route_cap_are_refused(gw.local_addr(), "t", LIMIT)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_peers_are_dropped() {
    let gw = gateway(short()).await;
    let path = "/plugin_releases/run_debug/";
    suite::check_stalled_peers_are_dropped(gw.local_addr(), path, "t", LIMIT)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attackers_holding_connections_do_not_keep_a_client_out() {
    let gw = gateway(
        short()
            .header_timeout(Duration::from_secs(30))
            .body_timeout(Duration::from_secs(30)),
    )
    .await;
    let tail = format!("/jobs/{JOB}/logs/");
    suite::check_attackers_holding_connections_do_not_keep_a_client_out(
        gw.local_addr(),
        "t",
        &tail,
        16,
        LIMIT,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_websocket_frame_closes_the_tail() {
    let gw = gateway(Limits::default()).await;
    let tail = format!("/jobs/{JOB}/logs/");
    suite::check_an_oversized_websocket_frame_closes_the_tail(gw.local_addr(), &tail, "t", LIMIT)
        .await
        .unwrap();
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
    suite::check_an_empty_token_is_refused(gw.local_addr(), LIMIT)
        .await
        .unwrap();
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
    let tls = SelfSigned::new().unwrap();
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
