//! A tail's memory does not grow with the log: a stand-in Ray sends a 128 MiB
//! line without a newline, over the tail WebSocket (in 1 MiB frames) and again
//! through the log-file API. The line is skipped (it is past max_message_size),
//! the lines around it arrive exactly once, and this process's peak RSS grows by
//! far less than the line.
//!
//! Alone in its test binary, so that the peak measured is this test's.

mod support;

use agent_client_async::{AsyncAgentClient, Protocol, RetryPolicy, StreamLimits, TailOptions};
use agent_gateway::GatewayConfig;
use bytes::Bytes;
use support::standin::{self, Job, Log, State};
use support::{collect, standin_gateway};

const LINE: u64 = 128 * 1024 * 1024;

/// This process's resident set high-water mark, in bytes (Linux), after
/// resetting it when the kernel allows.
fn peak_rss(reset: bool) -> Option<u64> {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_line_is_skipped_and_memory_stays_flat() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log = Log {
        before: Bytes::from_static(b"before\n"),
        filler: LINE,
        after: Bytes::from_static(b"\nafter\nlast"),
    };
    let mut job = Job::new(log);
    job.socket_sends = true;
    ray.add("raysubmit_huge", job);
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let client = AsyncAgentClient::builder(gw.url(), "tok")
        .stream_limits(StreamLimits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let options = TailOptions::new()
        .protocol(Protocol::WebSocket)
        .timeout(std::time::Duration::from_secs(120));

    // Warm up (connections, buffers), then measure from here.
    let warm = collect(&client, "raysubmit_huge", options.clone())
        .await
        .unwrap();
    assert_eq!(warm, ["before", "after", "last"]);
    let before = peak_rss(true);
    let lines = collect(&client, "raysubmit_huge", options).await.unwrap();
    assert_eq!(lines, ["before", "after", "last"]);
    let after = peak_rss(false);

    if let (Some(before), Some(after)) = (before, after) {
        let grown = after.saturating_sub(before);
        eprintln!(
            "peak RSS {} MiB before, {} MiB after a tail past a {} MiB line (grew {} MiB)",
            before >> 20,
            after >> 20,
            LINE >> 20,
            grown >> 20
        );
        // The whole line twice (socket and file) went through; a buffer holding
        // it would have grown the peak by 128 MiB at least.
        assert!(grown < 32 * 1024 * 1024, "peak RSS grew {grown} bytes");
    }
    gw.shutdown().await;
    server.abort();
}
