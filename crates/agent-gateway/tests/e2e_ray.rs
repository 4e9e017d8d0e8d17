//! End to end: our clients -> agent-gateway -> a real Ray head.
//!
//! Each test is `#[ignore]`d: `cargo test` lists it as ignored. `cargo xtask ci`
//! runs them (`-- --ignored`) once `AGENT_E2E_RAY` names a Ray dashboard
//! (`.ci/ray.sh start` prints it), and fails when `CI=true` and none is given; run
//! by hand without `AGENT_E2E_RAY`, they fail instead of passing unrun.

mod support;

use agent_client_async::{AsyncAgentClient, JobStatus, Protocol, StreamLimits, TailOptions};
use agent_gateway::ray::RayClient;
use futures_core::Stream;
use serde_json::{json, Value};
use std::pin::Pin;
use std::time::{Duration, Instant};
use support::*;

/// On CI a Ray head must be given: the ignored tests below would otherwise be
/// left out without anyone noticing.
#[test]
fn a_ray_head_is_given_on_ci() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let ray = std::env::var("AGENT_E2E_RAY").is_ok_and(|v| !v.trim().is_empty());
    assert!(
        !ci || ray,
        "CI is set but AGENT_E2E_RAY is not: {NEEDS_RAY}"
    );
}

fn tail_options(protocol: Protocol) -> TailOptions {
    TailOptions::new()
        .protocol(protocol)
        .timeout(Duration::from_secs(120))
}

/// The lines of the job's final log (as the gateway answers `jobs/{id}/logs/`),
/// blank ones left out (the protocol never sends a blank line).
async fn final_log_lines(client: &agent_client_async::AsyncAgentClient, job: &str) -> Vec<String> {
    let log = client.get_job_logs(job).await.unwrap();
    agent_gateway::lines::split_log(&log)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn tails_deliver_every_line_once_in_order_over_every_protocol() {
    let ray = ray_address();
    let gw = gateway(&ray).await;
    let client = client(&gw);
    let count = 25;

    let mut runs = Vec::new();
    for protocol in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let tag = tag(&format!("tail-{protocol}"));
        let job = run(&client, "count", count_params(&tag, count, 0.1)).await;
        let client = client.clone();
        runs.push(tokio::spawn(async move {
            // Tail right away: the job is still PENDING, so the tail sees it start,
            // run and end.
            let lines = collect(&client, &job, tail_options(protocol))
                .await
                .unwrap_or_else(|e| panic!("{protocol}: {e}"));
            (protocol, tag, job, lines)
        }));
    }

    // The blocking client, from a thread of its own, on a job of its own.
    let blocking_tag = tag("tail-blocking");
    let blocking_job = run(&client, "count", count_params(&blocking_tag, count, 0.1)).await;
    let url = gw.url();
    let bjob = blocking_job.clone();
    let blocking = std::thread::spawn(move || {
        let c = agent_client_blocking::AgentClient::builder(url, TOKEN)
            .stream_limits(agent_client_async::StreamLimits::unlimited())
            .build()
            .unwrap();
        let lines: Result<Vec<String>, _> = c
            .tail_job_logs(&bjob, tail_options(Protocol::Auto))
            .unwrap()
            .collect();
        lines.unwrap()
    });

    for r in runs {
        let (protocol, tag, job, lines) = r.await.unwrap();
        let mine: Vec<String> = lines
            .iter()
            .filter(|l| l.starts_with(&tag))
            .cloned()
            .collect();
        assert_eq!(mine, expected_count_lines(&tag, count), "{protocol}");
        // Every line of the final log, once, in order: Ray's lines included.
        assert_eq!(lines, final_log_lines(&client, &job).await, "{protocol}");
        let j = client.get_job(&job).await.unwrap();
        assert_eq!(j.status, JobStatus::Succeeded, "{protocol}");
    }
    let lines = tokio::task::spawn_blocking(move || blocking.join().unwrap())
        .await
        .unwrap();
    let mine: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with(&blocking_tag))
        .cloned()
        .collect();
    assert_eq!(mine, expected_count_lines(&blocking_tag, count), "blocking");
    assert_eq!(lines, final_log_lines(&client, &blocking_job).await);

    // A finished job tails at once, whole.
    let again = collect(&client, &blocking_job, tail_options(Protocol::WebSocket))
        .await
        .unwrap();
    assert_eq!(again, lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn a_long_job_stops_and_its_tail_completes() {
    let ray = ray_address();
    let gw = gateway(&ray).await;
    let client = client(&gw);
    let tag = tag("stop");
    let job = run(&client, "sleep", json!({"tag": tag, "seconds": 600})).await;
    wait_job(&client, &job, Duration::from_secs(60), |s| {
        *s == JobStatus::Running
    })
    .await;
    // Wait for the job to have printed its line, so the tail has it.
    let start = Instant::now();
    while !client
        .get_job_logs(&job)
        .await
        .unwrap()
        .contains("sleeping")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job never printed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let tail = {
        let client = client.clone();
        let job = job.clone();
        tokio::spawn(async move { collect(&client, &job, tail_options(Protocol::Auto)).await })
    };
    let stopped = client.stop_job(&job).await.unwrap();
    assert!(stopped.stopped);
    let j = wait_job(
        &client,
        &job,
        Duration::from_secs(60),
        JobStatus::is_terminal,
    )
    .await;
    assert_eq!(j.status, JobStatus::Stopped);
    let lines = tail.await.unwrap().unwrap();
    assert!(lines.contains(&format!("{tag} sleeping")), "{lines:?}");
    // Stopping it again says it was not running.
    assert!(!client.stop_job(&job).await.unwrap().stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn nodes_and_the_tasks_of_a_job() {
    let ray = ray_address();
    let gw = gateway(&ray).await;
    let client = client(&gw);

    let health = client.health_check().await.unwrap();
    assert_eq!(health.status.as_deref(), Some("ok"));
    assert_eq!(health.extra["ray_version"], "2.60.0");

    let nodes = client.list_nodes().await.unwrap();
    let head = nodes.iter().find(|n| n.is_head_node).expect("a head node");
    assert_eq!(head.state.as_deref(), Some("ALIVE"));
    let again = client.get_node(&head.node_id).await.unwrap();
    assert_eq!(again.node_id, head.node_id);
    assert_eq!(
        client.get_node("ffff0000").await.unwrap_err().status_code(),
        404
    );
    let gpu = client.get_gpu_status().await.unwrap();
    assert_eq!(gpu.total_gpus, 0.0);
    assert!(!gpu.available);

    let tag = tag("tasks");
    let job = run(&client, "tasks", json!({"tag": tag})).await;
    let lines = collect(&client, &job, tail_options(Protocol::Auto))
        .await
        .unwrap();
    assert!(lines.contains(&format!("{tag} sum 14")), "{lines:?}");
    let info = client.get_job(&job).await.unwrap();
    assert_eq!(info.status, JobStatus::Succeeded);
    let driver = info.job_id.clone().expect("a driver job id");
    // The job answers to its driver id too.
    assert_eq!(
        client
            .get_job(&driver)
            .await
            .unwrap()
            .submission_id
            .as_deref(),
        Some(job.as_str())
    );

    // Ray's task events reach the State API a little after the job ends.
    let start = Instant::now();
    let tasks = loop {
        let all = client.list_tasks().await.unwrap();
        let mine: Vec<_> = all
            .into_iter()
            .filter(|t| {
                t.job_id.as_deref() == Some(driver.as_str()) && t.name.as_deref() == Some("square")
            })
            .collect();
        if mine.len() == 4 && mine.iter().all(|t| t.state.as_deref() == Some("FINISHED")) {
            break mine;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "tasks: {mine:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Filtered by the job, by its submission id or its driver id.
    for id in [job.as_str(), driver.as_str()] {
        let filtered = client
            .raw_request(http::Method::GET, "tasks/", &[("job_id", id)], None)
            .await
            .unwrap();
        let filtered = filtered.as_array().unwrap();
        assert!(filtered.iter().all(|t| t["job_id"] == driver.as_str()));
        assert_eq!(
            filtered.iter().filter(|t| t["name"] == "square").count(),
            4,
            "{id}"
        );
    }
    let one = client.get_task(&tasks[0].task_id).await.unwrap();
    assert_eq!(one.task_id, tasks[0].task_id);
    assert_eq!(one.job_id.as_deref(), Some(driver.as_str()));
    assert_eq!(
        client
            .get_task("ffffffffffffffffffffffffffffffffffffffff02000000")
            .await
            .unwrap_err()
            .status_code(),
        404
    );
    assert_eq!(
        client.get_task("not-hex").await.unwrap_err().status_code(),
        404
    );
}

const HELLO_PY: &str = r#"from ray import serve


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.1})
class Hello:
    def __call__(self, request):
        return "hello"


app = Hello.bind()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn serve_applications_deploy_get_and_delete_one() {
    let address = ray_address();
    let gw = gateway(&address).await;
    let client = client(&gw);
    let ray = ray_for_tests(&address);

    let dir = std::env::temp_dir().join(format!("agent-gateway-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zip = dir.join("hello_app.zip");
    std::fs::write(&zip, zip_stored("hello_app", &[("hello.py", HELLO_PY)])).unwrap();
    let app = |name: &str| {
        json!({"name": name, "route_prefix": format!("/{name}"), "import_path": "hello:app",
               "runtime_env": {"working_dir": format!("file://{}", zip.display())}})
    };
    // Add ours to whatever the cluster already runs (kept as deployed), with
    // Serve's proxy on loopback when this test starts Serve.
    let before = ray.serve_status().await.unwrap();
    let mut apps: Vec<Value> = before["applications"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|a| a.get("deployed_app_config").cloned())
                .filter(Value::is_object)
                .collect()
        })
        .unwrap_or_default();
    let others = apps.len();
    apps.push(app("e2e-hello-a"));
    apps.push(app("e2e-hello-b"));
    let mut config = json!({ "applications": apps });
    if others == 0 {
        config["http_options"] = json!({"host": "127.0.0.1", "port": 8000});
    } else if let Some(http) = before.get("http_options").and_then(Value::as_object) {
        let kept: serde_json::Map<String, Value> = http
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config["http_options"] = Value::Object(kept);
    }
    ray.put_serve_config(&config).await.unwrap();

    let start = Instant::now();
    loop {
        let apps = client.list_serve_applications().await.unwrap();
        let running = apps
            .iter()
            .filter(|a| a.name.starts_with("e2e-hello-") && a.status.as_deref() == Some("RUNNING"))
            .count();
        if running == 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "apps not running: {apps:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let a = client.get_serve_application("e2e-hello-a").await.unwrap();
    assert_eq!(a.route_prefix.as_deref(), Some("/e2e-hello-a"));
    assert!(a.deployments.contains_key("Hello"));

    client
        .delete_serve_application("e2e-hello-a")
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        match client.get_serve_application("e2e-hello-a").await {
            Err(e) if e.status_code() == 404 => break,
            Ok(app) => assert!(
                start.elapsed() < Duration::from_secs(60),
                "still there: {app:?}"
            ),
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The other one kept running.
    let b = client.get_serve_application("e2e-hello-b").await.unwrap();
    assert_eq!(b.status.as_deref(), Some("RUNNING"));
    assert_eq!(
        client
            .delete_serve_application("e2e-hello-a")
            .await
            .unwrap_err()
            .status_code(),
        404
    );

    client
        .delete_serve_application("e2e-hello-b")
        .await
        .unwrap();
    // Serve was started for this test: shut it down, for the other tests' CPUs.
    if others == 0 {
        let _ = ray.delete_all_serve_applications().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn unknown_things_are_404_and_the_token_is_checked() {
    let ray = ray_address();
    let gw = gateway(&ray).await;
    let client = client(&gw);
    let nope = "raysubmit_doesnotexist";
    let e = client.get_job(nope).await.unwrap_err();
    assert_eq!(e.status_code(), 404);
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(
        client.get_job_logs(nope).await.unwrap_err().status_code(),
        404
    );
    assert_eq!(client.stop_job(nope).await.unwrap_err().status_code(), 404);
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let e = collect(&client, nope, tail_options(p)).await.unwrap_err();
        assert_eq!(e.status_code(), 404, "{p}: {e}");
    }
    assert_eq!(
        client
            .get_plugin_release("nope@1.0")
            .await
            .unwrap_err()
            .status_code(),
        404
    );
    let run = agent_proto::RunPluginRelease::new("count");
    assert_eq!(
        client
            .run_plugin_release("nope@1.0", &run)
            .await
            .unwrap_err()
            .status_code(),
        404
    );
    let releases = client
        .list_plugin_releases(&[] as &[(&str, &str)])
        .await
        .unwrap();
    assert_eq!(releases.results.len(), 1);
    assert_eq!(releases.results[0].lookup().as_deref(), Some("e2e@1.0.0"));

    let wrong = agent_client_async::AsyncAgentClient::new(gw.url(), "wrong-token").unwrap();
    assert_eq!(wrong.list_jobs().await.unwrap_err().status_code(), 401);
    let jobs = client.list_jobs().await.unwrap();
    let raw: Value = client
        .raw_request(http::Method::GET, "jobs/", &[] as &[(&str, &str)], None)
        .await
        .unwrap();
    assert!(raw.as_array().unwrap().len() >= jobs.len());
}

/// The lines of a tail that start with `tag`.
fn mine(lines: &[String], tag: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with(tag))
        .cloned()
        .collect()
}

/// A Ray client for what the agent API does not do (pinning a job to a node).
fn ray_for_tests(address: &str) -> RayClient {
    agent_gateway::ray_client(&gateway_config(address)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn a_job_on_the_worker_node_is_tailed_once_over_every_protocol_and_both_clients() {
    let address = ray_address();
    let gw = gateway(&address).await;
    let client = client(&gw);
    let ray = ray_for_tests(&address);

    // Both nodes are listed: the head and the worker `.ci/ray.sh` starts.
    let nodes = client.list_nodes().await.unwrap();
    let alive: Vec<_> = nodes
        .iter()
        .filter(|n| n.state.as_deref() == Some("ALIVE"))
        .collect();
    assert_eq!(alive.len(), 2, "{nodes:?}");
    let worker = alive
        .iter()
        .find(|n| !n.is_head_node)
        .expect("a worker node");
    assert!(alive.iter().any(|n| n.is_head_node));

    let count = 25;
    let registry = registry();
    let template = &registry.releases()[0].entrypoint;
    let mut jobs = Vec::new();
    for who in ["websocket", "http", "auto", "blocking"] {
        let tag = tag(&format!("worker-{who}"));
        // Pinned to the worker through its `side` resource.
        let answer = ray
            .submit_job(&json!({
                "entrypoint": template.render("count", &count_params(&tag, count, 0.05)),
                "entrypoint_resources": {"side": 1},
            }))
            .await
            .unwrap();
        let id = answer["submission_id"].as_str().unwrap().to_owned();
        jobs.push((who, tag, id));
    }
    let mut tails = Vec::new();
    for (who, _, id) in &jobs {
        let (who, id) = (*who, id.clone());
        if who == "blocking" {
            let url = gw.url();
            // The blocking client refuses to run on a runtime thread: a thread of
            // its own, joined off the runtime.
            let thread = std::thread::spawn(move || {
                let c = agent_client_blocking::AgentClient::builder(url, TOKEN)
                    .stream_limits(agent_client_async::StreamLimits::unlimited())
                    .build()
                    .unwrap();
                let lines: Result<Vec<String>, _> = c
                    .tail_job_logs(&id, tail_options(Protocol::Auto))
                    .unwrap()
                    .collect();
                lines.unwrap()
            });
            tails.push(tokio::task::spawn_blocking(move || thread.join().unwrap()));
        } else {
            let protocol = match who {
                "websocket" => Protocol::WebSocket,
                "http" => Protocol::Http,
                _ => Protocol::Auto,
            };
            let client = client.clone();
            tails.push(tokio::spawn(async move {
                collect(&client, &id, tail_options(protocol)).await.unwrap()
            }));
        }
    }
    for ((who, tag, id), tail) in jobs.iter().zip(tails) {
        let lines = tail.await.unwrap();
        assert_eq!(mine(&lines, tag), expected_count_lines(tag, count), "{who}");
        assert_eq!(lines, final_log_lines(&client, id).await, "{who}");
        let job: Value = client
            .raw_request(
                http::Method::GET,
                &format!("jobs/{id}/"),
                &[] as &[(&str, &str)],
                None,
            )
            .await
            .unwrap();
        assert_eq!(job["status"], "SUCCEEDED", "{who}");
        assert_eq!(
            job["driver_node_id"],
            worker.node_id.as_str(),
            "{who}: ran elsewhere"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn a_job_printing_invalid_utf8_is_tailed_with_replacement_characters() {
    let address = ray_address();
    let gw = gateway(&address).await;
    let client = client(&gw);
    let tag = tag("bad-utf8");
    let job = run(&client, "bad_utf8", json!({"tag": tag})).await;
    let expected = [
        format!("{tag} good 1"),
        format!("{tag} bad \u{FFFD}\u{FFFD} end"),
        format!("{tag} cut \u{FFFD}"),
        format!("{tag} good 2"),
        format!("{tag} last line"),
    ];
    for protocol in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let lines = collect(&client, &job, tail_options(protocol))
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(mine(&lines, &tag), expected, "{protocol}");
        // Ray's own lines too, each once.
        assert_eq!(lines, final_log_lines(&client, &job).await, "{protocol}");
    }
    let log = client.get_job_logs(&job).await.unwrap();
    assert!(log.contains(&expected[1]), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn a_tail_stays_open_through_40_quiet_seconds() {
    let address = ray_address();
    let gw = gateway(&address).await;
    let client = client(&gw);
    let tag = tag("quiet");
    let job = run(&client, "quiet", json!({"tag": tag, "seconds": 40})).await;
    let mut tails = Vec::new();
    for protocol in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let (client, job) = (client.clone(), job.clone());
        tails.push(tokio::spawn(async move {
            (
                protocol,
                collect(&client, &job, tail_options(protocol)).await,
            )
        }));
    }
    let expected = [
        format!("{tag} before"),
        format!("{tag} after"),
        format!("{tag} last line"),
    ];
    for tail in tails {
        let (protocol, lines) = tail.await.unwrap();
        let lines = lines.unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(mine(&lines, &tag), expected, "{protocol}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn twenty_clients_tail_100000_lines_each_exactly_once() {
    let address = ray_address();
    let gw = GatewayProcess::start(&address);
    let client = AsyncAgentClient::builder(gw.url.clone(), TOKEN)
        .stream_limits(StreamLimits::unlimited())
        .read_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let count: usize = 100_000;
    let tag = tag("flood");
    let job = run(&client, "flood", json!({"tag": tag, "count": count})).await;
    let protocols = [Protocol::WebSocket, Protocol::Http, Protocol::Auto];
    let mut tails = Vec::new();
    for i in 0..20 {
        let (client, job, tag) = (client.clone(), job.clone(), tag.clone());
        let protocol = protocols[i % 3];
        tails.push(tokio::spawn(async move {
            // Counted as they come (never held): line i of ours is `TAG {i:08} x...`.
            let mut tail = client
                .tail_job_logs(&job, tail_options(protocol))
                .await
                .unwrap();
            let mut next = 0usize;
            let mut last = false;
            let prefix = format!("{tag} ");
            while let Some(line) =
                std::future::poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await
            {
                let line = line.unwrap_or_else(|e| panic!("{protocol}: {e}"));
                let Some(rest) = line.strip_prefix(&prefix) else {
                    continue;
                };
                assert!(!last, "{protocol}: a line after the last one: {line}");
                if rest == "last line" {
                    last = true;
                    continue;
                }
                let n: usize = rest[..8].parse().unwrap();
                assert_eq!(n, next, "{protocol}: out of order or repeated");
                assert_eq!(line.len(), 99, "{protocol}: {line}");
                next += 1;
            }
            (protocol, next, last)
        }));
    }
    for tail in tails {
        let (protocol, lines, last) = tail.await.unwrap();
        assert_eq!(lines, count, "{protocol}");
        assert!(last, "{protocol}: no last line");
    }
    let peak = gw.peak_rss();
    eprintln!(
        "agent-gateway peak RSS, 20 concurrent tails of {count} lines: {:.1} MiB",
        peak as f64 / 1048576.0
    );
}

/// A gauge of the gateway's `/metrics`, as a number (`None` while absent).
async fn gauge(gw: &agent_gateway::Gateway, name: &str) -> Option<i64> {
    let host = gw.local_addr().to_string();
    let (status, text) = raw_request(
        gw.local_addr(),
        "GET",
        "/metrics",
        &[("host", host.as_str())],
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Issue 22, items 1 and 2 on the two-node Ray: twenty tails of one live job
/// share one Ray stream (the gateway's gauge says so while they run), each gets
/// every line once; then tails that start at a line or at the last N lines get
/// exactly those, numbered as the log's lines, and the Ray streams close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Ray head: AGENT_E2E_RAY (cargo xtask ci runs it after .ci/ray.sh start)"]
async fn twenty_tails_of_a_live_job_share_one_ray_stream_and_resume_by_line() {
    use agent_client_async::TailStart;
    let ray = ray_address();
    let gw = gateway(&ray).await;
    let client = client(&gw);
    let count = 150;
    let tag = tag("shared");
    let job = run(&client, "count", count_params(&tag, count, 0.05)).await;
    let protocols = [Protocol::WebSocket, Protocol::Http];
    let mut tails = Vec::new();
    for i in 0..20 {
        let (client, job) = (client.clone(), job.clone());
        let protocol = protocols[i % 2];
        tails.push(tokio::spawn(async move {
            let lines = collect(&client, &job, tail_options(protocol))
                .await
                .unwrap_or_else(|e| panic!("{protocol}: {e}"));
            (protocol, lines)
        }));
    }
    // while they follow the running job: one Ray stream for all twenty
    let start = Instant::now();
    let mut shared = None;
    while start.elapsed() < Duration::from_secs(60) {
        let subscribers = gauge(&gw, "agent_gateway_hub_subscribers").await;
        if subscribers == Some(20) {
            shared = gauge(&gw, "agent_gateway_upstream_tails").await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shared, Some(1), "twenty tails, Ray streams open");
    let expected = expected_count_lines(&tag, count);
    let mut first = None;
    for t in tails {
        let (protocol, lines) = t.await.unwrap();
        assert_eq!(mine(&lines, &tag), expected, "{protocol}");
        first.get_or_insert(lines);
    }
    let all = first.unwrap();
    assert_eq!(all, final_log_lines(&client, &job).await);

    // Start positions, numbered as the log's lines (the final log's, blank ones
    // included in the numbering): from line K, and the last N.
    let log = client.get_job_logs(&job).await.unwrap();
    let numbered: Vec<&str> = agent_gateway::lines::split_log(&log).collect();
    let k = numbered.len() - 20;
    let shown = |from: usize| -> Vec<String> {
        numbered[from - 1..]
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| (*l).to_owned())
            .collect()
    };
    for protocol in protocols {
        let from = tail_options(protocol).start(TailStart::FromLine(k as u64));
        let got = collect(&client, &job, from).await.unwrap();
        assert_eq!(got, shown(k), "{protocol} from line {k}");
        let last = tail_options(protocol).start(TailStart::Last(5));
        let got = collect(&client, &job, last).await.unwrap();
        assert_eq!(got, shown(numbered.len() - 4), "{protocol} last 5");
    }
    // the job is finished: no Ray stream stays open
    let start = Instant::now();
    while gauge(&gw, "agent_gateway_upstream_tails").await != Some(0) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Ray streams left open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
