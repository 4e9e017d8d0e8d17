//! Numbered lines and start positions through the gateway (issue 22), against the
//! stand-in Ray: the numbers are the log file's (empty lines count), a start skips
//! lines without sending them, and `?tail=N` (of `jobs/{id}/logs/`, and of a
//! finished job's tail) asks Ray's log-file API for the last N lines (`lines=N`)
//! instead of reading the whole file.

mod support;

use std::sync::atomic::Ordering;

use agent_gateway::GatewayConfig;
use proptest::prelude::*;
use support::standin::{self, Job, Log, State, DRIVER_NODE};
use support::{block_on, numbered_lines, raw_request, replayed, standin_gateway};

const TOKEN: &str = "tok";

async fn get(gw: &agent_gateway::Gateway, path: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut headers = vec![("host", "gateway.test"), ("authorization", TOKEN)];
    headers.extend_from_slice(extra);
    raw_request(gw.local_addr(), "GET", path, &headers, "").await
}

proptest! {
    #![proptest_config(replayed(12))]

    /// Over the gateway's HTTP tail: the numbers are exactly 1.. with no gap
    /// (empty lines count); from_line=K and Last-Event-ID: K-1 deliver exactly
    /// lines K..; tail=N the last min(N, len); all end with `complete`.
    #[test]
    fn the_gateway_numbers_the_file_s_lines(
        lines in prop::collection::vec(prop_oneof![1 => Just(String::new()), 3 => "[a-z]{1,6}"], 1..12),
        k in 1u64..15,
        n in 0u64..15,
    ) {
        block_on(async {
            let (ray, address, server) = standin::start(State::default()).await;
            let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
            ray.add("raysubmit_n", Job::new(Log::plain(log)));
            let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;
            let want = |from: u64, count: usize| -> Vec<(String, Option<u64>)> {
                lines
                    .iter()
                    .cloned()
                    .zip((1u64..).map(Some))
                    .skip(from as usize - 1)
                    .take(count)
                    .collect()
            };
            let path = "/jobs/raysubmit_n/logs/stream/";

            let (status, body) = get(&gw, path, &[]).await;
            prop_assert_eq!(status, 200);
            let (got, complete) = numbered_lines(&body);
            prop_assert!(complete);
            prop_assert_eq!(got, want(1, lines.len()));

            let from = k.min(lines.len() as u64 + 1);
            let (_, body) = get(&gw, &format!("{path}?from_line={k}"), &[]).await;
            let (got, complete) = numbered_lines(&body);
            prop_assert!(complete);
            prop_assert_eq!(&got, &want(from, lines.len()));
            let id = (k - 1).to_string();
            let (_, body) = get(&gw, path, &[("last-event-id", id.as_str())]).await;
            prop_assert_eq!(numbered_lines(&body).0, got);

            // the gateway's hub holds the finished job now (it was tailed): its
            // last lines come from there, numbered, and Ray is not asked again
            // (tail_n_of_a_big_log_reads_only_the_last_lines_from_ray covers a
            // job the hub does not hold)
            let reads = ray.requested("/api/");
            let (_, body) = get(&gw, &format!("{path}?tail={n}"), &[]).await;
            let (got, complete) = numbered_lines(&body);
            prop_assert!(complete);
            let keep = (n as usize).min(lines.len());
            prop_assert_eq!(got, want(lines.len() as u64 - keep as u64 + 1, keep));
            prop_assert_eq!(ray.requested("/api/"), reads);
            prop_assert_eq!(ray.requested("/api/v0/logs/file?"), 1);

            gw.shutdown().await;
            server.abort();
            Ok(())
        })?;
    }
}

/// `jobs/{id}/logs/?tail=N` asks Ray for `lines=N` and reads only those lines,
/// not the whole file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_n_of_a_big_log_reads_only_the_last_lines_from_ray() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: String = (1..=100_000).map(|i| format!("line {i}\n")).collect();
    ray.add("raysubmit_big", Job::new(Log::plain(log.clone())));
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;

    let (status, body) = get(&gw, "/jobs/raysubmit_big/logs/?tail=3", &[]).await;
    assert_eq!(status, 200);
    let text: String = serde_json::from_str(&body).unwrap();
    assert_eq!(text, "line 99998\nline 99999\nline 100000\n");
    let asked = format!(
        "/api/v0/logs/file?node_id={DRIVER_NODE}&filename=job-driver-raysubmit_big.log&lines=3"
    );
    assert_eq!(ray.requested(&asked), 1);
    assert_eq!(
        ray.requested("/api/v0/logs/file?"),
        1,
        "the whole file is never asked for"
    );
    assert_eq!(
        ray.log_file_bytes.load(Ordering::Relaxed),
        text.len() as u64,
        "Ray sent only the last lines"
    );

    // a tail of the finished job asked for its last lines reads only those too
    let (status, body) = get(&gw, "/jobs/raysubmit_big/logs/stream/?tail=2", &[]).await;
    assert_eq!(status, 200);
    let (got, complete) = numbered_lines(&body);
    assert!(complete);
    assert_eq!(
        got,
        [
            ("line 99999".to_owned(), None),
            ("line 100000".to_owned(), None)
        ]
    );
    assert_eq!(ray.requested("/api/v0/logs/file?"), 2);
    assert_eq!(
        ray.log_file_bytes.load(Ordering::Relaxed),
        (text.len() + "line 99999\nline 100000\n".len()) as u64
    );

    // the whole log, for comparison, is the whole file
    let (_, body) = get(&gw, "/jobs/raysubmit_big/logs/", &[]).await;
    let whole: String = serde_json::from_str(&body).unwrap();
    assert_eq!(whole, log);
    gw.shutdown().await;
    server.abort();
}

/// The lines-sent counter counts only lines sent: a resume near the end of a log
/// adds what it sent, never the lines it skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_counts_no_replayed_line() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
    ray.add("raysubmit_r", Job::new(Log::plain(log)));
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;
    let sent = |text: &str| -> u64 {
        text.lines()
            .find(|l| l.contains("tail_lines_sent") && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };
    let (_, before) = get(&gw, "/metrics", &[]).await;
    let (_, body) = get(&gw, "/jobs/raysubmit_r/logs/stream/?from_line=996", &[]).await;
    let (got, complete) = numbered_lines(&body);
    assert!(complete);
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], ("line 996".to_owned(), Some(996)));
    let (_, after) = get(&gw, "/metrics", &[]).await;
    assert_eq!(sent(&after) - sent(&before), 5, "{after}");
    gw.shutdown().await;
    server.abort();
}
