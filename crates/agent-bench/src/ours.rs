//! Our contenders: `AsyncAgentClient` and `AgentClient`, used as a caller would.
//!
//! Requests call `list_jobs` (the answer decoded into typed jobs); tails call
//! `tail_job_logs` with [`StreamLimits::unlimited`] (so no limit stops them) and
//! touch every line (count and length).

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_client_async::AsyncAgentClient;
use agent_client_blocking::AgentClient;
use agent_proto::{ClientError, Protocol, StreamLimits, TailOptions};
use futures_core::Stream;

use crate::report::Outcome;

/// The idle time-out of benchmark tails (they never sit idle).
const TAIL_IDLE: Duration = Duration::from_secs(120);

fn tail_options(protocol: Protocol) -> TailOptions {
    TailOptions::new()
        .protocol(protocol)
        .timeout(TAIL_IDLE)
        .limits(StreamLimits::unlimited())
}

fn workload_of(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "tail-http",
        _ => "tail-websocket",
    }
}

/// `n` sequential `list_jobs` on one `AsyncAgentClient` (one untimed call first).
pub async fn gets_async(url: &str, token: &str, n: u64) -> Result<Outcome, ClientError> {
    let client = AsyncAgentClient::new(url, token)?;
    let jobs = client.list_jobs().await?.len() as u64;
    let started = Instant::now();
    for _ in 0..n {
        client.list_jobs().await?;
    }
    let elapsed = started.elapsed();
    client.close().await;
    Ok(Outcome {
        workload: "gets".into(),
        client: "async".into(),
        count: n,
        bytes: jobs,
        elapsed,
    })
}

/// `n` sequential `list_jobs` on one `AgentClient` (one untimed call first).
pub fn gets_blocking(url: &str, token: &str, n: u64) -> Result<Outcome, ClientError> {
    let client = AgentClient::new(url, token)?;
    let jobs = client.list_jobs()?.len() as u64;
    let started = Instant::now();
    for _ in 0..n {
        client.list_jobs()?;
    }
    let elapsed = started.elapsed();
    client.close();
    Ok(Outcome {
        workload: "gets".into(),
        client: "blocking".into(),
        count: n,
        bytes: jobs,
        elapsed,
    })
}

/// `n` `list_jobs` made by `concurrency` tasks at once on one `AsyncAgentClient`
/// (its connection pool grows to `concurrency` connections during an untimed
/// warm-up round).
pub async fn concurrent_async(
    url: &str,
    token: &str,
    n: u64,
    concurrency: u64,
) -> Result<Outcome, ClientError> {
    let client = AsyncAgentClient::new(url, token)?;
    let run = |total: u64| {
        let next = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let client = client.clone();
                let next = Arc::clone(&next);
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        client.list_jobs().await?;
                    }
                    Ok::<(), ClientError>(())
                })
            })
            .collect();
        async move {
            for worker in workers {
                worker.await.map_err(|e| ClientError::Usage {
                    message: format!("a worker panicked: {e}"),
                })??;
            }
            Ok::<(), ClientError>(())
        }
    };
    run(concurrency).await?;
    let started = Instant::now();
    run(n).await?;
    let elapsed = started.elapsed();
    client.close().await;
    Ok(Outcome {
        workload: "concurrent".into(),
        client: "async".into(),
        count: n,
        bytes: 0,
        elapsed,
    })
}

/// `n` whole tails of `job` at once on one `AsyncAgentClient`: all are opened,
/// then all are read to their end, each by a task of its own; what the process
/// holds at its peak is what `n` open tails cost. `queue` (when not 0) is the
/// tails' `queue_size`: how many decoded lines each may hold for its reader.
pub async fn tails_async(
    url: &str,
    token: &str,
    job: &str,
    protocol: Protocol,
    n: u64,
    queue: u64,
) -> Result<Outcome, ClientError> {
    let client = AsyncAgentClient::new(url, token)?;
    let mut options = tail_options(protocol);
    if queue > 0 {
        options = options.limits(StreamLimits {
            queue_size: usize::try_from(queue).unwrap_or(usize::MAX),
            ..StreamLimits::unlimited()
        });
    }
    let started = Instant::now();
    let opening: Vec<_> = (0..n)
        .map(|_| {
            let (client, job, options) = (client.clone(), job.to_owned(), options.clone());
            tokio::spawn(async move { client.tail_job_logs(job, options).await })
        })
        .collect();
    let mut tails = Vec::new();
    for open in opening {
        tails.push(open.await.map_err(panicked)??);
    }
    let reading: Vec<_> = tails
        .into_iter()
        .map(|mut tail| {
            tokio::spawn(async move {
                let (mut lines, mut bytes) = (0u64, 0u64);
                while let Some(line) = poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await {
                    let line = line?;
                    lines += 1;
                    bytes += line.len() as u64;
                }
                Ok::<_, ClientError>((lines, bytes))
            })
        })
        .collect();
    let (mut lines, mut bytes) = (0u64, 0u64);
    for read in reading {
        let (l, b) = read.await.map_err(panicked)??;
        lines += l;
        bytes += b;
    }
    let elapsed = started.elapsed();
    client.close().await;
    Ok(Outcome {
        workload: format!("{} x{n}", workload_of(protocol)),
        client: "async".into(),
        count: lines,
        bytes,
        elapsed,
    })
}

fn panicked(e: tokio::task::JoinError) -> ClientError {
    ClientError::Usage {
        message: format!("a task panicked: {e}"),
    }
}

/// A whole tail of `job` through `AsyncAgentClient::tail_job_logs`.
pub async fn tail_async(
    url: &str,
    token: &str,
    job: &str,
    protocol: Protocol,
) -> Result<Outcome, ClientError> {
    let client = AsyncAgentClient::new(url, token)?;
    let started = Instant::now();
    let mut tail = client.tail_job_logs(job, tail_options(protocol)).await?;
    let mut lines = 0u64;
    let mut bytes = 0u64;
    while let Some(line) = poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await {
        let line = line?;
        lines += 1;
        bytes += line.len() as u64;
    }
    let elapsed = started.elapsed();
    drop(tail);
    client.close().await;
    Ok(Outcome {
        workload: workload_of(protocol).into(),
        client: "async".into(),
        count: lines,
        bytes,
        elapsed,
    })
}

/// A whole tail of `job` through `AgentClient::tail_job_logs`.
pub fn tail_blocking(
    url: &str,
    token: &str,
    job: &str,
    protocol: Protocol,
) -> Result<Outcome, ClientError> {
    let client = AgentClient::new(url, token)?;
    let started = Instant::now();
    let mut lines = 0u64;
    let mut bytes = 0u64;
    for line in client.tail_job_logs(job, tail_options(protocol))? {
        let line = line?;
        lines += 1;
        bytes += line.len() as u64;
    }
    let elapsed = started.elapsed();
    client.close();
    Ok(Outcome {
        workload: workload_of(protocol).into(),
        client: "blocking".into(),
        count: lines,
        bytes,
        elapsed,
    })
}
