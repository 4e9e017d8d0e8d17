//! `agent-bench server`: the project's test server ([`AgentTestServer`]) with the
//! benchmark jobs, until its standard input closes.
//!
//! Jobs: three small finished jobs (the short list that `list_jobs` answers) and,
//! for each `--lines N`, a finished job `bench_tail_N` of N generated lines of
//! `--bytes` bytes (generated on demand by the testkit: the server holds no copy).
//! It prints one JSON line, `{"url", "token", "jobs"}`, once it accepts
//! connections; the xtask reads it, runs the contenders, then closes stdin.

use std::io::Read;
use std::net::SocketAddr;

use agent_testkit::{AgentTestServer, JobSpec};
use serde_json::json;

/// What the server is started with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// The agent token.
    pub token: String,
    /// One tail job per entry, with this many lines.
    pub tail_lines: Vec<u64>,
    /// The length of every tail line.
    pub line_bytes: usize,
}

/// The id of the tail job of `lines` lines.
pub fn tail_job_id(lines: u64) -> String {
    format!("bench_tail_{lines}")
}

/// Runs the server until stdin reaches its end (or fails).
pub fn run(config: &ServerConfig, threads: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
    runtime.block_on(async {
        let mut builder = AgentTestServer::builder()
            .token(config.token.clone())
            .listen(config.listen);
        for i in 1..=3 {
            builder = builder.job(
                JobSpec::new(format!("bench_small_{i}"))
                    .lines(["starting", "done"])
                    .entrypoint("python main.py --small"),
            );
        }
        let mut jobs = Vec::new();
        for &lines in &config.tail_lines {
            let id = tail_job_id(lines);
            builder = builder.job(JobSpec::new(id.clone()).generate(lines, config.line_bytes));
            jobs.push(id);
        }
        let server = builder
            .build()
            .await
            .map_err(|e| format!("cannot start the test server: {e}"))?;
        println!(
            "{}",
            json!({ "url": server.url(), "token": config.token, "jobs": jobs })
        );
        // the parent ends the server by closing our stdin (or by ending us)
        let waited = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut sink);
        })
        .await;
        server.shutdown().await;
        waited.map_err(|e| format!("stdin watcher failed: {e}"))
    })
}
