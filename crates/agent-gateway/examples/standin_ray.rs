//! The tests' stand-in Ray dashboard (tests/support/standin.rs) as a process of its
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

#[allow(dead_code)]
#[path = "../tests/support/standin.rs"]
mod standin;

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
    let (state, address, server) = standin::start(standin::State::default()).await;
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
