//! Quickstart of the blocking client: the seed document's usage, in Rust.
//!
//! ```text
//! cargo run --example quickstart -p agent-client-blocking
//! AGENT_URL=https://agent.example.com AGENT_TOKEN=... cargo run --example quickstart -p agent-client-blocking
//! ```
//!
//! Without `AGENT_URL` it starts the project's test server (agent-testkit) with its
//! sample cluster on loopback, so it runs out of the box. Against a real agent the
//! operations that change something (stop a job, delete an application) are skipped
//! unless `AGENT_QUICKSTART_WRITE=1`.

use agent_client_blocking::{AgentClient, ClientError, Protocol, TailOptions};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Where the agent is: AGENT_URL / AGENT_TOKEN, or a test server of our own.
    let (base_url, token, local) = match std::env::var("AGENT_URL") {
        Ok(url) => (url, std::env::var("AGENT_TOKEN").unwrap_or_default(), None),
        Err(_) => {
            // The sample cluster, served on a thread of its own.
            let local = agent_testkit::AgentTestServer::sample().start_blocking()?;
            println!(
                "AGENT_URL is not set: using a test agent at {}",
                local.url()
            );
            (local.url(), local.token().to_owned(), Some(local))
        }
    };
    let writes = local.is_some() || std::env::var("AGENT_QUICKSTART_WRITE").as_deref() == Ok("1");

    let client = AgentClient::new(base_url, token)?;

    // Health check
    let status = client.health_check()?;
    println!("Agent status: {status:?}");

    // Job operations
    let jobs = client.list_jobs()?;
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
        let job = client.get_job(job_id)?;
        println!("job {job_id}: {} ({:?})", job.status, job.message);

        let logs = client.get_job_logs(job_id)?;
        println!("its log so far: {} bytes", logs.len());

        // Stream job logs (WebSocket first, HTTP streaming as the fallback).
        let options = TailOptions::new()
            .protocol(Protocol::Auto)
            .timeout(Duration::from_secs(10));
        let mut tail = client.tail_job_logs(job_id, options)?;
        for line in &mut tail {
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
            let result = client.stop_job(running)?;
            println!("stop {running}: stopped = {}", result.stopped);
        } else {
            println!("(not stopping {running}: set AGENT_QUICKSTART_WRITE=1)");
        }
    }

    // Node operations
    let nodes = client.list_nodes()?;
    println!("{} nodes", nodes.len());
    if let Some(node) = nodes.first() {
        let node = client.get_node(&node.node_id)?;
        println!(
            "  {} {:?} head={}",
            node.node_id, node.node_ip, node.is_head_node
        );
    }

    // Task operations
    let tasks = client.list_tasks()?;
    println!("{} tasks", tasks.len());
    if let Some(task) = tasks.first() {
        let task = client.get_task(&task.task_id)?;
        println!("  {} {:?} {:?}", task.task_id, task.name, task.state);
    }

    // Ray Serve operations
    let apps = client.list_serve_applications()?;
    println!("{} serve applications", apps.len());
    if let Some(app) = apps.first() {
        let app = client.get_serve_application(&app.name)?;
        println!("  {} {:?} {:?}", app.name, app.route_prefix, app.status);
        if writes {
            client.delete_serve_application(&app.name)?;
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
        explain(job_id, tail_all(&client, job_id));
    }
    // An agent that cannot be reached (nothing listens on the discard port).
    let unreachable = AgentClient::builder("http://127.0.0.1:9", "token")
        .connect_timeout(Duration::from_secs(1))
        .retry_policy(agent_client_blocking::RetryPolicy::none())
        .build()?;
    explain(
        "raysubmit_abc123",
        tail_all(&unreachable, "raysubmit_abc123"),
    );

    client.close();
    drop(local);
    Ok(())
}

/// Tails a job to its end.
fn tail_all(client: &AgentClient, job_id: &str) -> Result<Vec<String>, ClientError> {
    client.tail_job_logs(job_id, TailOptions::new())?.collect()
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
