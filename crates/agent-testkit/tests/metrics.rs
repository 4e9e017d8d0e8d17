//! `/metrics` in the Prometheus text format, without a token: requests by route and
//! status, latencies, open connections, open tails, lines sent, refusals by cause.

use std::time::Duration;

use agent_testkit::sample::{RUNNING_JOB, SUCCEEDED_JOB};
use agent_testkit::{attack, AgentTestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(10);

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(LIMIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_tails_and_refusals() {
    let s = AgentTestServer::sample().token("t").build().await.unwrap();
    let addr = s.local_addr();
    for _ in 0..3 {
        assert_eq!(
            attack::get_status(addr, "/health/", "t", LIMIT).await,
            Some(200)
        );
    }
    assert_eq!(
        attack::get_status(addr, "/jobs/", "nope", LIMIT).await,
        Some(401)
    );
    let mut big = attack::partial_bodies(addr, "/plugin_releases/", Some("t"), 1, 1 << 30, 0).await;
    let _ = attack::read_head(&mut big[0], LIMIT).await.unwrap();
    // a finished tail, and an open one
    let mut done = attack::websocket(addr, &format!("/jobs/{SUCCEEDED_JOB}/logs/"), "t", LIMIT)
        .await
        .unwrap();
    assert_eq!(attack::close_code(&mut done, LIMIT).await, Some(1000));
    drop(done);
    let _open = attack::websocket(addr, &format!("/jobs/{RUNNING_JOB}/logs/"), "t", LIMIT)
        .await
        .unwrap();

    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(addr).await;
        if text.contains("route=\"TailWebSocket\",status=\"101\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        value(
            &text,
            "agent_server_requests_total{route=\"Health\",status=\"200\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "agent_server_requests_total{route=\"ListJobs\",status=\"401\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&text, "agent_server_refusals_total{cause=\"unauthorized\"}"),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "agent_server_refusals_total{cause=\"body_too_large\"}"
        ),
        1.0
    );
    assert!(
        value(&text, "agent_server_tail_lines_sent_total") >= 30.0,
        "{text}"
    );
    assert_eq!(value(&text, "agent_server_open_tails"), 1.0);
    assert!(
        value(&text, "agent_server_open_connections") >= 2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "agent_server_request_duration_seconds_count{route=\"Health\"}"
        ),
        3.0
    );
    assert!(
        text.contains("# TYPE agent_server_requests counter"),
        "{text}"
    );
    assert!(!text.contains("\"t\""), "no token: {text}");
}
