//! The sample cluster of [`crate::SampleServer::sample`], made from answers recorded
//! on a real Ray 2.60 cluster (`fixtures/`, copied from the project's Ray fixtures).
//!
//! | id | what |
//! |---|---|
//! | [`SUCCEEDED_JOB`] `raysubmit_capture1` | SUCCEEDED, Ray's recorded log (33 lines, ends with `last line`) |
//! | [`TASKS_JOB`] `raysubmit_tasks1` | SUCCEEDED, driver job `02000000`, ran the four tasks |
//! | [`STOPPED_JOB`] `raysubmit_long1` | STOPPED (`sleep 600`) |
//! | [`FAILED_JOB`] `raysubmit_failed1` | FAILED with a Python traceback |
//! | [`RUNNING_JOB`] `raysubmit_slow1` | RUNNING, prints `line N` twice a second until stopped |
//! | [`PENDING_JOB`] `raysubmit_pending1` | PENDING until a test starts it |
//!
//! Nodes [`HEAD_NODE`] (2 CPUs) and [`GPU_NODE`] (8 CPUs, 1 GPU); the four tasks of
//! `tasks.json`; the Serve application [`SERVE_APP`] (`hello`); the plugin release
//! [`PLUGIN_RELEASE`] (`demo@1.0.0`, id 1).

use serde_json::{json, Value};

use crate::job::JobSpec;
use crate::server::SampleServerBuilder;
use agent_proto::JobStatus;

/// A finished job with Ray's recorded log.
pub const SUCCEEDED_JOB: &str = "raysubmit_capture1";
/// A finished job whose driver ran the four sample tasks.
pub const TASKS_JOB: &str = "raysubmit_tasks1";
/// A stopped job.
pub const STOPPED_JOB: &str = "raysubmit_long1";
/// A failed job.
pub const FAILED_JOB: &str = "raysubmit_failed1";
/// A job that keeps running, printing a line every half second.
pub const RUNNING_JOB: &str = "raysubmit_slow1";
/// A job that stays pending.
pub const PENDING_JOB: &str = "raysubmit_pending1";
/// The head node's id.
pub const HEAD_NODE: &str = "fddbb195ce78652168eecbe943514ac95dcf06d80518d4bca140ebed";
/// The GPU worker node's id.
pub const GPU_NODE: &str = "7c3e5a1f0b9d4e2a8f6c1d3b5a7e9f0c2d4b6a8e1f3c5d7b9a0e2c4f";
/// The Serve application's name.
pub const SERVE_APP: &str = "hello";
/// The plugin release, as `code@version`.
pub const PLUGIN_RELEASE: &str = "demo@1.0.0";

const JOB_SUCCEEDED: &str = include_str!("../fixtures/job_succeeded.json");
const JOBS_LIST: &str = include_str!("../fixtures/jobs_list.json");
const LOGS: &str = include_str!("../fixtures/logs.json");
const NODES: &str = include_str!("../fixtures/nodes.json");
const TASKS: &str = include_str!("../fixtures/tasks.json");
const SERVE_APPLICATIONS: &str = include_str!("../fixtures/serve_applications.json");
const VERSION: &str = include_str!("../fixtures/version.json");

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Ray's State API envelope: `data.result.result`.
fn state_api_items(v: &Value) -> Vec<Value> {
    v.pointer("/data/result/result")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A recorded job as a spec: its id, entrypoint, metadata, times and status.
fn recorded(job: &Value, status: JobStatus) -> JobSpec {
    let mut spec = JobSpec::new(str_of(job, "submission_id").unwrap_or("raysubmit_x"))
        .entrypoint(str_of(job, "entrypoint").unwrap_or("python main.py"))
        .status(status);
    if let Some(m) = job.get("metadata").filter(|m| !m.is_null()) {
        spec = spec.metadata(m.clone());
    }
    if let Some(start) = job.get("start_time").and_then(Value::as_u64) {
        spec = spec.times(start, job.get("end_time").and_then(Value::as_u64));
    }
    if let Some(id) = str_of(job, "job_id") {
        spec = spec.driver_job_id(id);
    }
    spec
}

/// Adds the sample cluster to `builder`.
pub fn sample(builder: SampleServerBuilder) -> SampleServerBuilder {
    let succeeded = parse(JOB_SUCCEEDED);
    let list = parse(JOBS_LIST);
    let logs = parse(LOGS);
    let log_text = str_of(&logs, "logs").unwrap_or("");
    let by_id = |id: &str| {
        list.as_array()
            .and_then(|a| a.iter().find(|j| str_of(j, "submission_id") == Some(id)))
            .cloned()
            .unwrap_or(Value::Null)
    };

    let capture = recorded(&succeeded, JobStatus::Succeeded).log_text(log_text);
    let tasks_entry = by_id(TASKS_JOB);
    let tasks_job = recorded(&tasks_entry, JobStatus::Succeeded).lines([
        "2026-11-23 23:47:24,283\tINFO job_manager.py:581 -- Runtime env is setting up.".to_owned(),
        format!(
            "Running entrypoint for job {TASKS_JOB}: {}",
            str_of(&tasks_entry, "entrypoint").unwrap_or("python main.py")
        ),
        "2026-11-23 23:47:25,101\tINFO worker.py:1724 -- Connecting to existing Ray cluster at address: 192.0.2.2:6379...".to_owned(),
        "2026-11-23 23:47:25,118\tINFO worker.py:1915 -- Connected to Ray cluster. View the dashboard at \u{1b}[1m\u{1b}[32mhttp://127.0.0.1:8265 \u{1b}[39m\u{1b}[22m".to_owned(),
        "14".to_owned(),
    ]);
    let long = recorded(&by_id(STOPPED_JOB), JobStatus::Stopped).lines([
        "2026-11-23 23:47:36,530\tINFO job_manager.py:581 -- Runtime env is setting up.",
        "Running entrypoint for job raysubmit_long1: sleep 600",
    ]);
    let failed = JobSpec::new(FAILED_JOB)
        .entrypoint("python -c \"print('computing'); 1/0\"")
        .metadata(json!({ "plugin": "demo" }))
        .lines([
            "2026-11-23 23:48:02,114\tINFO job_manager.py:581 -- Runtime env is setting up.",
            "Running entrypoint for job raysubmit_failed1: python -c \"print('computing'); 1/0\"",
            "computing",
            "Traceback (most recent call last):",
            "  File \"<string>\", line 1, in <module>",
            "ZeroDivisionError: division by zero",
        ])
        .status(JobStatus::Failed);
    let slow = JobSpec::new(RUNNING_JOB)
        .entrypoint("python -c \"import time, itertools\nfor i in itertools.count():\n    print('line', i, flush=True); time.sleep(0.5)\"")
        .metadata(json!({ "plugin": "demo" }))
        .endless(0)
        .rate(2.0);
    let pending = JobSpec::new(PENDING_JOB)
        .entrypoint("python train.py --epochs 10")
        .metadata(json!({ "plugin": "demo", "action": "train" }))
        .status(JobStatus::Pending);

    let mut b = builder
        .job(capture)
        .job(tasks_job)
        .job(long)
        .job(failed)
        .job(slow)
        .job(pending);

    for node in state_api_items(&parse(NODES)) {
        b = b.node(node);
    }
    b = b.node(json!({
        "node_id": GPU_NODE,
        "node_ip": "192.0.2.3",
        "is_head_node": false,
        "state": "ALIVE",
        "state_message": null,
        "node_name": "192.0.2.3",
        "resources_total": {
            "memory": 64_000_000_000.0_f64,
            "object_store_memory": 2_000_000_000.0_f64,
            "CPU": 8.0,
            "GPU": 1.0,
            "accelerator_type:T4": 1.0,
            "node:192.0.2.3": 1.0
        },
        "labels": { "ray.io/node-id": GPU_NODE }
    }));
    for task in state_api_items(&parse(TASKS)) {
        b = b.task(task);
    }
    if let Some(app) = parse(SERVE_APPLICATIONS).pointer("/applications/hello") {
        b = b.serve_application(app.clone());
    }
    let version = parse(VERSION);
    b.plugin_release_json(json!({
        "id": 1,
        "plugin": "demo",
        "code": "demo",
        "version": "1.0.0",
        "name": "Demo",
        "created": "2026-11-23T23:40:00Z",
        "config": { "actions": { "train": { "entrypoint": "plugin.train.main" }, "test": { "entrypoint": "plugin.test.main" } } }
    }))
    .health(json!({
        "status": "ok",
        "ray_version": str_of(&version, "ray_version").unwrap_or("2.60.0"),
        "ray_commit": str_of(&version, "ray_commit").unwrap_or(""),
        "version": str_of(&version, "version").unwrap_or("4"),
    }))
}
