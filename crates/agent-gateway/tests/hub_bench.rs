//! What N concurrent tails of one finished job cost Ray and the gateway (issue
//! 22's table), against the stand-in Ray: Ray's side as the requests, tail
//! sockets and log-file bytes it served; the gateway's as the CPU time and peak
//! RSS of its process (the `agent-gateway` binary of this build). A measurement,
//! not a test: `#[ignore]`d, run by hand:
//!
//! ```text
//! cargo test -p agent-gateway --test hub_bench -- --ignored --nocapture
//! ```
//!
//! (`HUB_BENCH_N=1,20,100` and `HUB_BENCH_LINES=10000` by default.)

mod support;

use std::sync::atomic::Ordering;
use support::standin::{self, Job, Log, State};
use support::{numbered_lines, raw_request, GatewayProcess, TOKEN};

/// The process's user plus system CPU time, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // the fields after the command (which may hold blanks), from `state` on
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0 // CLK_TCK is 100 on Linux
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo test -p agent-gateway --test hub_bench -- --ignored --nocapture"]
async fn n_tails_of_a_finished_job() {
    let lines: usize = env_or("HUB_BENCH_LINES", "10000").parse().unwrap();
    let log: String = (1..=lines).map(|i| format!("line {i}\n")).collect();
    println!(
        "| N | Ray: tail sockets | Ray: log-file reads | Ray: log-file bytes | Ray: job GETs | \
         gateway CPU | gateway peak RSS |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in env_or("HUB_BENCH_N", "1,20,100").split(',') {
        let n: usize = n.trim().parse().unwrap();
        let (ray, address, server) = standin::start(State::default()).await;
        ray.add("raysubmit_bench", Job::new(Log::plain(log.clone())));
        let gw = GatewayProcess::start(&address);
        let addr: std::net::SocketAddr = gw
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let cpu_before = cpu_seconds(gw.child.id());
        let tails: Vec<_> = (0..n)
            .map(|_| {
                tokio::spawn(async move {
                    let headers = [("host", "bench"), ("authorization", TOKEN)];
                    let path = "/jobs/raysubmit_bench/logs/stream/";
                    let (status, body) = raw_request(addr, "GET", path, &headers, "").await;
                    assert_eq!(status, 200);
                    let (lines, complete) = numbered_lines(&body);
                    assert!(complete);
                    lines.len()
                })
            })
            .collect();
        for t in tails {
            assert_eq!(t.await.unwrap(), lines);
        }
        let cpu = cpu_seconds(gw.child.id()) - cpu_before;
        println!(
            "| {n} | {} | {} | {} | {} | {cpu:.2} s | {:.1} MiB |",
            ray.sockets("raysubmit_bench"),
            ray.requested("/api/v0/logs/file?"),
            ray.log_file_bytes.load(Ordering::Relaxed),
            ray.requested("/api/jobs/raysubmit_bench?"),
            gw.peak_rss() as f64 / (1024.0 * 1024.0)
        );
        drop(gw);
        server.abort();
    }
}
