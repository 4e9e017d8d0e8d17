//! The stand-in Ray dashboard (`agent_testkit::ray`) as a process of its
//! own, for measuring the gateway's memory without a Ray cluster: one finished job,
//! `raysubmit_big`, whose driver log is `first line\n`, then BYTES bytes of `x`,
//! then `\nlast line\n`, generated as it is sent (the stand-in holds none of it).
//!
//! ```text
//! cargo build --release -p agent-gateway --example standin_ray
//! target/release/examples/standin_ray 1073741824    # prints its address, serves until killed
//! ```
//!
//! `examples/rss_bench.sh logs BYTES` starts it, a gateway in front of it, and reads
//! `jobs/raysubmit_big/logs/` with curl.

use agent_testkit::ray as standin;
use bytes::Bytes;
use std::io::Write;

/// The stand-in's one job.
const JOB: &str = "raysubmit_big";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let bytes = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: standin_ray BYTES (the size of the job's generated log line)");
            std::process::exit(2);
        }
    };
    let (state, address, server) = match standin::start(standin::State::default()).await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("standin_ray: could not start: {e}");
            std::process::exit(1);
        }
    };
    let log = standin::Log {
        before: Bytes::from_static(b"first line\n"),
        filler: bytes,
        after: Bytes::from_static(b"\nlast line\n"),
    };
    state.add(JOB, standin::Job::new(log));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{address} {JOB}");
    let _ = out.flush();
    drop(out);
    let _ = server.await;
}
