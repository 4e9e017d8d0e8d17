//! What the archive (`--archive-dir`) costs: run each step under `/usr/bin/time -v`
//! (CPU seconds, peak RSS) and look at the entry's size.
//!
//! ```text
//! cargo build --release -p agent-gateway --example archive_cost
//! E=target/release/examples/archive_cost
//! $E write /tmp/log-1m 1000000            # a training-style log, 1,000,000 lines
//! /usr/bin/time -v $E put /tmp/log-1m /tmp/arch   # compress, write, fsync, rename
//! /usr/bin/time -v $E get /tmp/arch               # check whole, then read it back
//! /usr/bin/time -v $E last /tmp/arch              # the last 10 lines only
//! ```

use agent_gateway::archive::Archive;
use agent_server::LogStart;
use std::io::{BufWriter, Write};
use std::path::Path;

const ID: &str = "raysubmit_cost";

fn info() -> agent_proto::Job {
    serde_json::from_value(serde_json::json!({
        "type": "SUBMISSION", "job_id": "02000000", "submission_id": ID,
        "status": "SUCCEEDED", "entrypoint": "python -u train.py", "message": "done",
        "error_type": null, "start_time": 1, "end_time": 2, "metadata": {},
        "runtime_env": null, "driver_node_id": "abc"
    }))
    .expect("a job info")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("write") => {
            let lines: u64 = args[3].parse()?;
            let mut out = BufWriter::new(std::fs::File::create(&args[2])?);
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for i in 0..lines {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let loss = (x % 100_000) as f64 / 40_000.0;
                writeln!(
                    out,
                    "2026-12-06 21:{:02}:{:02},{:03}\tINFO train.py:88 -- step {i} loss={loss:.6} lr=3.00e-04 tokens/s={}",
                    i / 60_000 % 60,
                    i / 1000 % 60,
                    i % 1000,
                    20_000 + x % 5000
                )?;
            }
            out.flush()?;
        }
        Some("put") => {
            let archive = Archive::open(&args[3], u64::MAX)?;
            archive.put_file(&info(), Path::new(&args[2]), None)?;
            let size: u64 = std::fs::read_dir(&args[3])?
                .flatten()
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum();
            let raw = std::fs::metadata(&args[2])?.len();
            println!("log {raw} bytes -> entry {size} bytes");
        }
        Some(mode @ ("get" | "last")) => {
            // `get`: checked, then read whole; `last`: the last 10 lines only
            let start = match mode {
                "get" => LogStart::Line(1),
                _ => LogStart::Last(10),
            };
            let archive = Archive::open(&args[2], u64::MAX)?;
            let entry = archive.get(ID, start).ok_or("no entry")?;
            let (lines, from) = (entry.lines(), entry.first_line());
            let runtime = tokio::runtime::Builder::new_current_thread().build()?;
            let read = runtime.block_on(async move {
                let mut log = entry.log();
                let mut read = 0usize;
                while let Some(piece) = std::future::poll_fn(|cx| {
                    futures_core::Stream::poll_next(std::pin::Pin::new(&mut log), cx)
                })
                .await
                {
                    read += piece?.len();
                }
                Ok::<_, agent_proto::ClientError>(read)
            })?;
            println!("{lines} lines; served {read} bytes from line {from}");
        }
        _ => {
            return Err(
                "usage: archive_cost write FILE LINES | put FILE DIR | get DIR | last DIR".into(),
            )
        }
    }
    Ok(())
}
