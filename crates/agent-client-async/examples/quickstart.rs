//! Quickstart of the async client: the seed document's usage, in Rust.
//!
//! ```text
//! cargo run --example quickstart_async -p agent-client-async
//! AGENT_URL=https://agent.example.com AGENT_TOKEN=... cargo run --example quickstart_async -p agent-client-async
//! ```
//!
//! Without `AGENT_URL` it starts the project's test server (agent-testkit) with its
//! sample cluster on loopback, so it runs out of the box. Against a real agent the
//! operations that change something (stop a job, delete an application) are skipped
//! unless `AGENT_QUICKSTART_WRITE=1`.

use agent_client_async::{
    AsyncAgentClient, ClientError, LogTail, Protocol, RetryPolicy, TailOptions,
};
use futures_core::Stream;
use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

/// The next line of a tail (what `futures::StreamExt::next` does).
async fn next_line(tail: &mut LogTail) -> Option<Result<String, ClientError>> {
    poll_fn(|cx| Pin::new(&mut *tail).poll_next(cx)).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Where the agent is: AGENT_URL / AGENT_TOKEN, or a test server of our own.
    let mut local = None;
    let (base_url, token) = match std::env::var("AGENT_URL") {
        Ok(url) => (url, std::env::var("AGENT_TOKEN").unwrap_or_default()),
        Err(_) => {
            let server = agent_testkit::AgentTestServer::sample().build().await?;
            println!(
                "AGENT_URL is not set: using a test agent at {}",
                server.url()
            );
            let found = (server.url(), server.token().to_owned());
            local = Some(server);
            found
        }
    };
    let writes = local.is_some() || std::env::var("AGENT_QUICKSTART_WRITE").as_deref() == Ok("1");

    let client = AsyncAgentClient::new(base_url, token)?;

    // Health check
    let status = client.health_check().await?;
    println!("Agent status: {status:?}");

    // Job operations
    let jobs = client.list_jobs().await?;
    println!("{} jobs", jobs.len());
    for job in &jobs {
        println!(
            "  {:<40} {:<10} {}",
            job.id().unwrap_or("?"),
            job.status,
            job.entrypoint.lines().next().unwrap_or("")
        );
    }
    // A finished job's log ends, so its tail does too.
    let finished = jobs
        .iter()
        .find(|j| j.status.is_terminal())
        .and_then(|j| j.id());
    if let Some(job_id) = finished.or_else(|| jobs.first().and_then(|j| j.id())) {
        let job = client.get_job(job_id).await?;
        println!("job {job_id}: {} ({:?})", job.status, job.message);

        let logs = client.get_job_logs(job_id).await?;
        println!("its log so far: {} bytes", logs.len());

        // Stream job logs asynchronously (WebSocket first, HTTP streaming as the
        // fallback).
        let options = TailOptions::new()
            .protocol(Protocol::Auto)
            .timeout(Duration::from_secs(10));
        let mut tail = client.tail_job_logs(job_id, options).await?;
        while let Some(line) = next_line(&mut tail).await {
            match line {
                Ok(line) => println!("| {line}"),
                Err(e) if e.status_code() == 408 => {
                    println!("(no log output for 10 s; the job still runs)");
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let c = tail.counters();
        println!(
            "tail over {}: {} lines, {} oversized skipped",
            tail.protocol_used(),
            c.delivered,
            c.skipped_oversized
        );
    }
    if let Some(running) = jobs
        .iter()
        .find(|j| !j.status.is_terminal())
        .and_then(|j| j.id())
    {
        if writes {
            // Stop a running job
            let result = client.stop_job(running).await?;
            println!("stop {running}: stopped = {}", result.stopped);
        } else {
            println!("(not stopping {running}: set AGENT_QUICKSTART_WRITE=1)");
        }
    }

    // Node operations
    let nodes = client.list_nodes().await?;
    println!("{} nodes", nodes.len());
    if let Some(node) = nodes.first() {
        let node = client.get_node(&node.node_id).await?;
        println!(
            "  {} {:?} head={}",
            node.node_id, node.node_ip, node.is_head_node
        );
    }

    // Task operations
    let tasks = client.list_tasks().await?;
    println!("{} tasks", tasks.len());
    if let Some(task) = tasks.first() {
        let task = client.get_task(&task.task_id).await?;
        println!("  {} {:?} {:?}", task.task_id, task.name, task.state);
    }

    // Ray Serve operations
    let apps = client.list_serve_applications().await?;
    println!("{} serve applications", apps.len());
    if let Some(app) = apps.first() {
        let app = client.get_serve_application(&app.name).await?;
        println!("  {} {:?} {:?}", app.name, app.route_prefix, app.status);
        if writes {
            client.delete_serve_application(&app.name).await?;
            println!("  deleted {}", app.name);
        } else {
            println!(
                "  (not deleting {}: set AGENT_QUICKSTART_WRITE=1)",
                app.name
            );
        }
    }

    // Error handling: every error has a status code.
    for job_id in ["invalid job id!", "raysubmit_does_not_exist"] {
        explain(job_id, tail_all(&client, job_id).await);
    }
    // An agent that cannot be reached (nothing listens on the discard port).
    let unreachable = AsyncAgentClient::builder("http://127.0.0.1:9", "token")
        .connect_timeout(Duration::from_secs(1))
        .retry_policy(RetryPolicy::none())
        .build()?;
    explain(
        "raysubmit_abc123",
        tail_all(&unreachable, "raysubmit_abc123").await,
    );

    // Without a context manager: close explicitly.
    client.close().await;
    if let Some(server) = local {
        server.shutdown().await;
    }
    Ok(())
}

/// Tails a job to its end.
async fn tail_all(client: &AsyncAgentClient, job_id: &str) -> Result<Vec<String>, ClientError> {
    let mut tail = client.tail_job_logs(job_id, TailOptions::new()).await?;
    let mut lines = Vec::new();
    while let Some(line) = next_line(&mut tail).await {
        lines.push(line?);
    }
    Ok(lines)
}

fn explain(job_id: &str, result: Result<Vec<String>, ClientError>) {
    match result {
        Ok(lines) => println!("{job_id:?}: {} lines", lines.len()),
        Err(e) => match e.status_code() {
            400 => println!("{job_id:?}: Invalid job ID or parameters ({e})"),
            404 => println!("{job_id:?}: Job not found ({e})"),
            503 => println!("{job_id:?}: Connection to agent failed ({e})"),
            _ => println!("{job_id:?}: Error: {e}"),
        },
    }
}
