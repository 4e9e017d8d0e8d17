//! Every operation of the user document and the spec's endpoint table, from both
//! clients, against the test server's sample cluster served under a path prefix:
//! typed results, unknown fields kept in `extra`, request bodies and headers as the
//! server's journal saw them.

mod common;

use agent_client_async::{
    AsyncAgentClient, CreatePluginRelease, Health, Job, JobStatus, Node, Page, PluginRelease,
    Protocol, RunDebugPluginRelease, RunPluginRelease, ServeApplication, StopJobResponse,
    TailOptions, Task,
};
use agent_client_blocking::AgentClient;
use agent_testkit::sample::{
    GPU_NODE, HEAD_NODE, PLUGIN_RELEASE, RUNNING_JOB, SERVE_APP, SUCCEEDED_JOB,
};
use agent_testkit::{AgentTestServer, Fault, JobSpec, RouteKind, TestHandle};
use common::{drain, drain_blocking, log_lines, on_thread};
use http::Method;
use serde_json::{json, Value};
use std::collections::HashSet;

const AGENT_TOKEN: &str = "agent-tok-ops-9c1";
const USER_TOKEN: &str = "user-tok-ops-4d2";
const TENANT: &str = "acme-tenant";
const EXTRA_JOB: &str = "raysubmit_extra1";

/// The sample cluster under `/agent/`, plus a job with a field a newer agent added.
async fn server() -> AgentTestServer {
    AgentTestServer::sample()
        .token(AGENT_TOKEN)
        .prefix("/agent/")
        .job(
            JobSpec::new(EXTRA_JOB)
                .lines(["only line"])
                .field("added_by_newer_agent", json!({"k": [1, 2]})),
        )
        .build()
        .await
        .unwrap()
}

fn async_client(server: &AgentTestServer) -> AsyncAgentClient {
    AsyncAgentClient::builder(server.url(), AGENT_TOKEN)
        .user_token(USER_TOKEN)
        .tenant(TENANT)
        .build()
        .unwrap()
}

fn blocking_client(server: &AgentTestServer) -> AgentClient {
    AgentClient::builder(server.url(), AGENT_TOKEN)
        .user_token(USER_TOKEN)
        .tenant(TENANT)
        .build()
        .unwrap()
}

/// What one client got from every operation.
struct Results {
    health: Health,
    jobs: Vec<Job>,
    job: Job,
    extra_job: Job,
    logs: String,
    stopped: StopJobResponse,
    tail_ws: Vec<String>,
    tail_http: Vec<String>,
    tail_auto: Vec<String>,
    nodes: Vec<Node>,
    gpu_node: Node,
    head_node: Node,
    tasks: Vec<Task>,
    task: Task,
    apps: Vec<ServeApplication>,
    app: ServeApplication,
    app_deleted: bool,
    app_gone_code: u16,
    releases: Page<PluginRelease>,
    release_by_lookup: PluginRelease,
    release_by_id: PluginRelease,
    created: PluginRelease,
    release_deleted: bool,
    run: Value,
    run_debug: Value,
    run_tail: Vec<String>,
    gpu: agent_client_async::GpuStatus,
    raw_health: Value,
    raw_page: Value,
}

/// The same checks for both clients.
fn check(r: &Results, handle: &TestHandle) {
    // health: typed status, and the rest kept
    assert_eq!(r.health.status.as_deref(), Some("ok"));
    assert!(r.health.extra["ray_version"].is_string(), "{:?}", r.health);

    // jobs
    // the sample's six, the extra one, and the one `run` started
    assert_eq!(r.jobs.len(), 8, "{:?}", r.jobs);
    let run_job = r.run["job_id"].as_str().unwrap();
    assert!(r.jobs.iter().any(|j| j.id() == Some(run_job)));
    let listed = r
        .jobs
        .iter()
        .find(|j| j.id() == Some(SUCCEEDED_JOB))
        .unwrap();
    assert_eq!(listed.status, JobStatus::Succeeded);
    assert_eq!(r.job.id(), Some(SUCCEEDED_JOB));
    assert_eq!(r.job.status, JobStatus::Succeeded);
    assert!(!r.job.entrypoint.is_empty());
    assert!(r.job.start_time.is_some());
    // unknown fields are reachable, typed and as raw JSON
    assert_eq!(
        r.extra_job.extra["added_by_newer_agent"],
        json!({"k": [1, 2]})
    );
    let raw = serde_json::to_value(&r.extra_job).unwrap();
    assert_eq!(raw["added_by_newer_agent"]["k"][1], 2);
    assert_eq!(raw["submission_id"], EXTRA_JOB);

    // logs
    assert_eq!(r.logs, handle.job_log(SUCCEEDED_JOB).unwrap());
    assert!(r.logs.trim_end().ends_with("last line"), "{}", r.logs);
    let whole = log_lines(handle, SUCCEEDED_JOB);
    assert_eq!(r.tail_ws, whole);
    assert_eq!(r.tail_http, whole);
    assert_eq!(r.tail_auto, whole);

    // stop
    assert!(r.stopped.stopped, "{:?}", r.stopped);
    assert_eq!(handle.job_status(RUNNING_JOB), Some(JobStatus::Stopped));

    // nodes
    assert_eq!(r.nodes.len(), 2);
    assert_eq!(r.gpu_node.node_id, GPU_NODE);
    assert_eq!(r.gpu_node.resources_total.get("GPU"), Some(&1.0));
    assert!(!r.gpu_node.is_head_node);
    assert!(r.head_node.is_head_node);
    assert!(
        r.head_node.extra.contains_key("state_message"),
        "{:?}",
        r.head_node
    );

    // tasks
    assert_eq!(r.tasks.len(), 4);
    assert_eq!(r.task.task_id, r.tasks[0].task_id);
    assert_eq!(r.task.state.as_deref(), Some("FINISHED"));
    assert!(r.task.extra.contains_key("worker_pid"), "{:?}", r.task);

    // serve applications
    assert_eq!(r.apps.len(), 1);
    assert_eq!(r.apps[0].name, SERVE_APP);
    assert_eq!(r.app.name, SERVE_APP);
    assert!(
        r.app.extra.contains_key("deployed_app_config"),
        "{:?}",
        r.app
    );
    assert!(r.app_deleted);
    assert_eq!(r.app_gone_code, 404);
    assert!(handle.serve_application_names().is_empty());

    // plugin releases
    assert_eq!(r.releases.count, Some(1));
    assert_eq!(
        r.releases.results[0].lookup().as_deref(),
        Some(PLUGIN_RELEASE)
    );
    assert_eq!(
        r.release_by_lookup.lookup().as_deref(),
        Some(PLUGIN_RELEASE)
    );
    assert!(r.release_by_lookup.extra.contains_key("config"));
    assert_eq!(r.release_by_id, r.release_by_lookup);
    assert_eq!(r.created.plugin.as_deref(), Some("other"));
    assert_eq!(r.created.version.as_deref(), Some("2.0.0"));
    assert!(r.created.id.is_some());
    assert!(r.release_deleted);
    assert_eq!(handle.plugin_releases().len(), 1);

    // runs: each answer names a job that exists and whose log tells what ran
    assert!(handle.job_status(run_job).is_some());
    assert!(
        r.run_tail
            .contains(&"Running action 'train' of plugin demo@1.0.0".to_owned()),
        "{:?}",
        r.run_tail
    );
    assert!(r.run_tail.contains(&r#"params: {"epochs":3}"#.to_owned()));
    let debug_job = r.run_debug["job_id"].as_str().unwrap();
    assert!(handle
        .job_log(debug_job)
        .unwrap()
        .contains("/src/my_plugin@debug"));

    // GPUs
    assert_eq!(r.gpu.total_gpus, 1.0);
    assert!(r.gpu.available);

    // raw requests
    assert_eq!(r.raw_health["status"], "ok");
    assert_eq!(r.raw_page["count"], 1);

    check_journal(handle);
}

/// Every request carried the three headers as the spec says, under the prefix; the
/// bodies are JSON with the right fields; every route of the API was called.
fn check_journal(handle: &TestHandle) {
    let journal = handle.journal();
    let mut routes = HashSet::new();
    for e in &journal {
        assert_eq!(e.header("authorization"), Some(AGENT_TOKEN), "{}", e.path);
        assert_eq!(
            e.header("synapse-user"),
            Some(format!("Token {USER_TOKEN}").as_str()),
            "{}",
            e.path
        );
        assert_eq!(
            e.header("synapse-tenant"),
            Some(format!("Token {TENANT}").as_str()),
            "{}",
            e.path
        );
        assert!(e.path.starts_with("/agent/"), "{}", e.path);
        routes.insert(e.route.unwrap_or_else(|| panic!("no route: {}", e.path)));
    }
    let all = [
        RouteKind::Health,
        RouteKind::ListJobs,
        RouteKind::GetJob,
        RouteKind::JobLogs,
        RouteKind::TailWebSocket,
        RouteKind::TailHttp,
        RouteKind::StopJob,
        RouteKind::GpuStatus,
        RouteKind::ListNodes,
        RouteKind::GetNode,
        RouteKind::ListTasks,
        RouteKind::GetTask,
        RouteKind::ListServeApplications,
        RouteKind::GetServeApplication,
        RouteKind::DeleteServeApplication,
        RouteKind::ListPluginReleases,
        RouteKind::CreatePluginRelease,
        RouteKind::GetPluginRelease,
        RouteKind::DeletePluginRelease,
        RouteKind::RunPluginRelease,
        RouteKind::RunDebugPluginRelease,
    ];
    for kind in all {
        assert!(routes.contains(&kind), "{kind:?} was never called");
    }
    assert!(handle
        .requests(RouteKind::TailWebSocket)
        .iter()
        .all(|e| e.upgrade));

    let list = handle.requests(RouteKind::ListPluginReleases);
    assert!(
        list.iter()
            .any(|e| e.path == "/agent/plugin_releases/?page=1"),
        "{list:?}"
    );

    let create = &handle.requests(RouteKind::CreatePluginRelease)[0];
    assert_eq!(create.method, Method::POST);
    assert_eq!(create.header("content-type"), Some("application/json"));
    assert_eq!(
        create.json().unwrap(),
        json!({"plugin": "other", "version": "2.0.0"})
    );

    let run = &handle.requests(RouteKind::RunPluginRelease)[0];
    assert_eq!(run.path, "/agent/plugin_releases/demo@1.0.0/run/");
    assert_eq!(run.header("content-type"), Some("application/json"));
    assert_eq!(
        run.json().unwrap(),
        json!({"action": "train", "params": {"epochs": 3}})
    );
    assert!(run.body_complete);

    let debug = &handle.requests(RouteKind::RunDebugPluginRelease)[0];
    assert_eq!(
        debug.json().unwrap(),
        json!({"action": "test", "plugin_path": "/src/my_plugin", "params": {"x": true}})
    );

    let stop = &handle.requests(RouteKind::StopJob)[0];
    assert_eq!(stop.method, Method::POST);
    assert_eq!(stop.path, format!("/agent/jobs/{RUNNING_JOB}/stop/"));
}

fn tail_opts(protocol: Protocol) -> TailOptions {
    TailOptions::new().protocol(protocol)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_from_the_async_client() {
    let server = server().await;
    let c = async_client(&server);
    let tail = |p: Protocol| {
        let c = c.clone();
        async move {
            let mut t = c.tail_job_logs(SUCCEEDED_JOB, tail_opts(p)).await.unwrap();
            let (lines, err) = drain(&mut t).await;
            assert!(err.is_none(), "{p}: {err:?}");
            lines
        }
    };
    let tasks = c.list_tasks().await.unwrap();
    let run = c
        .run_plugin_release(
            PLUGIN_RELEASE,
            &RunPluginRelease::new("train").params(json!({"epochs": 3})),
        )
        .await
        .unwrap();
    let run_job = run["job_id"].as_str().unwrap().to_owned();
    let mut run_tail = c.tail_job_logs(&run_job, TailOptions::new()).await.unwrap();
    let (run_tail, err) = drain(&mut run_tail).await;
    assert!(err.is_none(), "{err:?}");
    let results = Results {
        health: c.health_check().await.unwrap(),
        jobs: c.list_jobs().await.unwrap(),
        job: c.get_job(SUCCEEDED_JOB).await.unwrap(),
        extra_job: c.get_job(EXTRA_JOB).await.unwrap(),
        logs: c.get_job_logs(SUCCEEDED_JOB).await.unwrap(),
        stopped: c.stop_job(RUNNING_JOB).await.unwrap(),
        tail_ws: tail(Protocol::WebSocket).await,
        tail_http: tail(Protocol::Http).await,
        tail_auto: tail(Protocol::Auto).await,
        nodes: c.list_nodes().await.unwrap(),
        gpu_node: c.get_node(GPU_NODE).await.unwrap(),
        head_node: c.get_node(HEAD_NODE).await.unwrap(),
        task: c.get_task(&tasks[0].task_id).await.unwrap(),
        tasks,
        apps: c.list_serve_applications().await.unwrap(),
        app: c.get_serve_application(SERVE_APP).await.unwrap(),
        app_deleted: c.delete_serve_application(SERVE_APP).await.is_ok(),
        app_gone_code: c
            .get_serve_application(SERVE_APP)
            .await
            .unwrap_err()
            .status_code(),
        releases: c.list_plugin_releases(&[("page", "1")]).await.unwrap(),
        release_by_lookup: c.get_plugin_release(PLUGIN_RELEASE).await.unwrap(),
        release_by_id: c.get_plugin_release("1").await.unwrap(),
        created: c
            .create_plugin_release(&CreatePluginRelease::new("other", "2.0.0"))
            .await
            .unwrap(),
        release_deleted: c.delete_plugin_release("other@2.0.0").await.is_ok(),
        run,
        run_debug: c
            .run_debug_plugin_release(
                &RunDebugPluginRelease::new("test")
                    .plugin_path("/src/my_plugin")
                    .params(json!({"x": true})),
            )
            .await
            .unwrap(),
        run_tail,
        gpu: c.get_gpu_status().await.unwrap(),
        raw_health: c
            .raw_request(Method::GET, "health/", &[] as &[(&str, &str)], None)
            .await
            .unwrap(),
        raw_page: c
            .raw_request(Method::GET, "plugin_releases/", &[("page", "1")], None)
            .await
            .unwrap(),
    };
    check(&results, &server.handle());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_from_the_blocking_client() {
    let server = server().await;
    let c = blocking_client(&server);
    let results = on_thread(move || {
        let tail = |p: Protocol| {
            let mut t = c.tail_job_logs(SUCCEEDED_JOB, tail_opts(p)).unwrap();
            let (lines, err) = drain_blocking(&mut t);
            assert!(err.is_none(), "{p}: {err:?}");
            lines
        };
        let tasks = c.list_tasks().unwrap();
        let run = c
            .run_plugin_release(
                PLUGIN_RELEASE,
                &RunPluginRelease::new("train").params(json!({"epochs": 3})),
            )
            .unwrap();
        let run_job = run["job_id"].as_str().unwrap().to_owned();
        let mut run_tail = c.tail_job_logs(&run_job, TailOptions::new()).unwrap();
        let (run_tail, err) = drain_blocking(&mut run_tail);
        assert!(err.is_none(), "{err:?}");
        let r = Results {
            health: c.health_check().unwrap(),
            jobs: c.list_jobs().unwrap(),
            job: c.get_job(SUCCEEDED_JOB).unwrap(),
            extra_job: c.get_job(EXTRA_JOB).unwrap(),
            logs: c.get_job_logs(SUCCEEDED_JOB).unwrap(),
            stopped: c.stop_job(RUNNING_JOB).unwrap(),
            tail_ws: tail(Protocol::WebSocket),
            tail_http: tail(Protocol::Http),
            tail_auto: tail(Protocol::Auto),
            nodes: c.list_nodes().unwrap(),
            gpu_node: c.get_node(GPU_NODE).unwrap(),
            head_node: c.get_node(HEAD_NODE).unwrap(),
            task: c.get_task(&tasks[0].task_id).unwrap(),
            tasks,
            apps: c.list_serve_applications().unwrap(),
            app: c.get_serve_application(SERVE_APP).unwrap(),
            app_deleted: c.delete_serve_application(SERVE_APP).is_ok(),
            app_gone_code: c
                .get_serve_application(SERVE_APP)
                .unwrap_err()
                .status_code(),
            releases: c.list_plugin_releases(&[("page", "1")]).unwrap(),
            release_by_lookup: c.get_plugin_release(PLUGIN_RELEASE).unwrap(),
            release_by_id: c.get_plugin_release("1").unwrap(),
            created: c
                .create_plugin_release(&CreatePluginRelease::new("other", "2.0.0"))
                .unwrap(),
            release_deleted: c.delete_plugin_release("other@2.0.0").is_ok(),
            run,
            run_debug: c
                .run_debug_plugin_release(
                    &RunDebugPluginRelease::new("test")
                        .plugin_path("/src/my_plugin")
                        .params(json!({"x": true})),
                )
                .unwrap(),
            run_tail,
            gpu: c.get_gpu_status().unwrap(),
            raw_health: c
                .raw_request(Method::GET, "health/", &[] as &[(&str, &str)], None)
                .unwrap(),
            raw_page: c
                .raw_request(Method::GET, "plugin_releases/", &[("page", "1")], None)
                .unwrap(),
        };
        c.close();
        r
    })
    .await;
    check(&results, &server.handle());
}

/// A base URL with a prefix and no trailing slash joins the same way; without a user
/// token or tenant, their headers are absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_without_trailing_slash_and_no_optional_headers() {
    let server = server().await;
    let base = server.url().trim_end_matches('/').to_owned();
    assert!(base.ends_with("/agent"), "{base}");
    let c = AsyncAgentClient::new(base.clone(), AGENT_TOKEN).unwrap();
    assert_eq!(
        c.health_check().await.unwrap().status.as_deref(),
        Some("ok")
    );
    let mut t = c
        .tail_job_logs(EXTRA_JOB, tail_opts(Protocol::WebSocket))
        .await
        .unwrap();
    let (got, err) = drain(&mut t).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, ["only line"]);
    let b = AgentClient::new(base, AGENT_TOKEN).unwrap();
    let job = on_thread(move || b.get_job(EXTRA_JOB)).await.unwrap();
    assert_eq!(job.id(), Some(EXTRA_JOB));

    let journal = server.journal();
    let paths: Vec<&str> = journal.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/agent/health/",
            &format!("/agent/jobs/{EXTRA_JOB}/logs/"),
            &format!("/agent/jobs/{EXTRA_JOB}/"),
        ]
    );
    for e in &journal {
        assert_eq!(e.header("authorization"), Some(AGENT_TOKEN));
        assert_eq!(e.header("synapse-user"), None);
        assert_eq!(e.header("synapse-tenant"), None);
    }
}

/// `get_job_logs` takes a JSON string or plain text, from both clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_logs_as_json_string_or_plain_text() {
    let server = server().await;
    let a = async_client(&server);
    let b = blocking_client(&server);
    // the test server answers a JSON string
    let json_logs = a.get_job_logs(EXTRA_JOB).await.unwrap();
    assert_eq!(json_logs.trim_end(), "only line");
    // a proxy or an older agent answering plain text
    server.set_fault(
        RouteKind::JobLogs,
        Fault::text(200, "plain line 1\nplain line 2\n").times(2),
    );
    assert_eq!(
        a.get_job_logs(EXTRA_JOB).await.unwrap(),
        "plain line 1\nplain line 2\n"
    );
    let blocking = on_thread(move || b.get_job_logs(EXTRA_JOB)).await.unwrap();
    assert_eq!(blocking, "plain line 1\nplain line 2\n");
}
