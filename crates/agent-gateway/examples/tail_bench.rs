//! Tail timings through the gateway against Ray's own Python client, on one Ray head
//! in one run (alternating, so both see the same machine load).
//!
//! ```text
//! .ci/ray.sh start
//! cargo run --release -p agent-gateway --example tail_bench -- \
//!     --ray http://127.0.0.1:8265 --lines 200000 --runs 5 --python target/ray-venv/bin/python
//! ```
//!
//! Against a cluster with token auth (`.ci/ray.sh` starts one), export
//! `RAY_AUTH_MODE=token RAY_AUTH_TOKEN="$(cat target/ray-auth-token)"` first.
//!
//! Each run submits a job printing `--lines` lines of 100 bytes (then a last line)
//! and measures, from just before the submission: the first tailed line, and the
//! whole tail until its end, counting the job's lines (every one must arrive, in
//! order). Ours: `run_plugin_release` through the gateway, then
//! `AsyncAgentClient::tail_job_logs` (WebSocket, and HTTP streaming). Ray's:
//! `JobSubmissionClient.submit_job` and `tail_job_logs` (examples/ray_tail_bench.py).
//! A short job (5 lines) and a slow one (10 lines, 0.3 s apart, then a last line)
//! measure the first line of small jobs.

use agent_client_async::{AsyncAgentClient, Protocol, StreamLimits, TailOptions};
use agent_gateway::plugins::shell_quote;
use agent_gateway::{Gateway, GatewayConfig, PluginRegistry};
use futures_core::Stream;
use serde_json::{json, Value};
use std::future::poll_fn;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

struct Args {
    ray: String,
    lines: u64,
    runs: usize,
    python: String,
}

fn args() -> Args {
    let mut a = Args {
        ray: "http://127.0.0.1:8265".into(),
        lines: 200_000,
        runs: 3,
        python: "target/ray-venv/bin/python".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--ray" => a.ray = value,
            "--lines" => a.lines = value.parse().unwrap_or(a.lines),
            "--runs" => a.runs = value.parse().unwrap_or(a.runs),
            "--python" => a.python = value,
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

fn plugin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/plugin.py")
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    first_line: f64,
    total: f64,
    lines: u64,
    in_order: bool,
}

async fn ours(
    client: &AsyncAgentClient,
    protocol: Protocol,
    tag: &str,
    action: &str,
    count: u64,
) -> Sample {
    let params = json!({"tag": tag, "count": count, "delay": SLOW_DELAY});
    let run = agent_proto::RunPluginRelease::new(action).params(params);
    let t0 = Instant::now();
    let answer = client.run_plugin_release("bench@1", &run).await.unwrap();
    let job = answer["job_id"].as_str().unwrap().to_owned();
    let options = TailOptions::new()
        .protocol(protocol)
        .timeout(Duration::from_secs(300));
    let mut tail = client.tail_job_logs(&job, options).await.unwrap();
    let mut first = None;
    let mut mine = 0u64;
    let mut in_order = true;
    let prefix = format!("{tag} ");
    while let Some(line) = poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await {
        let line = line.unwrap();
        if first.is_none() {
            first = Some(t0.elapsed().as_secs_f64());
        }
        if let Some(rest) = line.strip_prefix(&prefix) {
            let expected_index = format!("{mine:08} ");
            let expected_count = format!("line {mine}");
            if rest != "last line" && !rest.starts_with(&expected_index) && rest != expected_count {
                in_order = false;
            }
            mine += 1;
        }
    }
    Sample {
        first_line: first.unwrap_or(f64::NAN),
        total: t0.elapsed().as_secs_f64(),
        lines: mine,
        in_order,
    }
}

/// The pause between two lines of the slow job.
const SLOW_DELAY: f64 = 0.3;

fn rays(python: &str, ray: &str, tag: &str, action: &str, count: u64) -> Sample {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/ray_tail_bench.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(ray)
        .arg(plugin())
        .arg(tag)
        .arg(count.to_string())
        .arg(action)
        .arg(SLOW_DELAY.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "ray_tail_bench.py said: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    Sample {
        first_line: v["first_line_s"].as_f64().unwrap_or(f64::NAN),
        total: v["total_s"].as_f64().unwrap_or(f64::NAN),
        lines: v["lines"].as_u64().unwrap_or(0),
        in_order: v["in_order"].as_bool().unwrap_or(false),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn report(name: &str, samples: &[Sample], expected: u64) {
    let firsts: Vec<f64> = samples.iter().map(|s| s.first_line).collect();
    let totals: Vec<f64> = samples.iter().map(|s| s.total).collect();
    let complete = samples
        .iter()
        .filter(|s| s.lines == expected && s.in_order)
        .count();
    let lines: Vec<String> = samples.iter().map(|s| s.lines.to_string()).collect();
    println!(
        "{name:<34} first line median {:>6.2} s  total median {:>6.2} s  (totals {})  every line in order: {complete}/{}  (lines {})",
        median(firsts),
        median(totals.clone()),
        totals.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>().join(" "),
        samples.len(),
        lines.join(" "),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let entrypoint = format!(
        "python -u {} {{action}} {{params}}",
        shell_quote(&plugin().display().to_string())
    );
    let registry = PluginRegistry::from_toml(&format!(
        "[[releases]]\ncode = \"bench\"\nversion = \"1\"\nentrypoint = {}\n",
        serde_json::to_string(&entrypoint).unwrap()
    ))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // A cluster with token auth: RAY_AUTH_TOKEN for the gateway, and (with
    // RAY_AUTH_MODE=token) for Ray's own Python client, which reads both.
    let mut config = GatewayConfig::new(a.ray.clone(), "bench-token")
        .plugins(registry)
        .log_requests(false);
    if let Ok(token) = std::env::var("RAY_AUTH_TOKEN") {
        config = config.ray_token(token);
    }
    let gateway = Gateway::start(config, listener).await.unwrap();
    let client = AsyncAgentClient::builder(gateway.url(), "bench-token")
        .stream_limits(StreamLimits::unlimited())
        .read_timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let (mut ws, mut http, mut ray) = (Vec::new(), Vec::new(), Vec::new());
    let (mut short_ours, mut short_ray) = (Vec::new(), Vec::new());
    let (mut slow_ours, mut slow_ray) = (Vec::new(), Vec::new());
    for run in 0..a.runs {
        let tag = |what: &str| format!("b{run}{what}");
        // Alternate who goes first.
        if run % 2 == 0 {
            ws.push(ours(&client, Protocol::WebSocket, &tag("w"), "flood", a.lines).await);
            ray.push(rays(&a.python, &a.ray, &tag("r"), "flood", a.lines));
        } else {
            ray.push(rays(&a.python, &a.ray, &tag("r"), "flood", a.lines));
            ws.push(ours(&client, Protocol::WebSocket, &tag("w"), "flood", a.lines).await);
        }
        http.push(ours(&client, Protocol::Http, &tag("h"), "flood", a.lines).await);
        short_ours.push(ours(&client, Protocol::WebSocket, &tag("sw"), "flood", 5).await);
        short_ray.push(rays(&a.python, &a.ray, &tag("sr"), "flood", 5));
        slow_ours.push(ours(&client, Protocol::WebSocket, &tag("lw"), "count", 10).await);
        slow_ray.push(rays(&a.python, &a.ray, &tag("lr"), "count", 10));
        eprintln!(
            "run {run}: ws {:.2} s, http {:.2} s, ray {:.2} s",
            ws[run].total, http[run].total, ray[run].total
        );
    }
    println!(
        "{} lines of 100 bytes, {} runs, Ray at {}",
        a.lines, a.runs, a.ray
    );
    report("gateway + AsyncAgentClient (ws)", &ws, a.lines + 1);
    report("gateway + AsyncAgentClient (http)", &http, a.lines + 1);
    report("Ray JobSubmissionClient.tail_job_logs", &ray, a.lines + 1);
    report("short job, gateway (ws)", &short_ours, 6);
    report("short job, Ray's client", &short_ray, 6);
    report("slow job (10 x 0.3 s), gateway (ws)", &slow_ours, 11);
    report("slow job (10 x 0.3 s), Ray's client", &slow_ray, 11);
    gateway.shutdown().await;
}
