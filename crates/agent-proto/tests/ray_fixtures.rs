//! The typed models read the answers recorded from a real Ray 2.60.0 cluster
//! (`fixtures/ray/` at the repository's root, copied from the project's shared fixtures): every field Ray sent is either
//! typed or kept in `extra`, so a serialized model gives back what was read.

use agent_proto::{Job, JobStatus, Node, ServeApplication, StopJobResponse, Task};
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ray")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the Ray fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every field of `raw` comes back from the model, with the same value.
fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(raw: &Value) -> T {
    let model: T = serde_json::from_value(raw.clone()).unwrap();
    let back = serde_json::to_value(&model).unwrap();
    for (k, v) in raw.as_object().unwrap() {
        if v.is_null() {
            // a missing optional field and a null one mean the same
            assert!(back.get(k).is_none_or(Value::is_null), "{k}");
        } else {
            assert_eq!(back.get(k), Some(v), "field {k} lost or changed");
        }
    }
    model
}

#[test]
fn job_info_of_every_state() {
    let pending: Job = round_trips(&fixture("job_running.json"));
    assert_eq!(pending.status, JobStatus::Pending);
    assert_eq!(pending.id(), Some("raysubmit_capture1"));
    assert_eq!(pending.metadata.as_ref().unwrap()["plugin"], "demo");
    let done: Job = round_trips(&fixture("job_succeeded.json"));
    assert!(done.status.is_terminal());
    assert_eq!(done.driver_exit_code, Some(0));
    assert!(done.extra.contains_key("driver_node_id"));
    let list = fixture("jobs_list.json");
    let jobs: Vec<Job> = list.as_array().unwrap().iter().map(round_trips).collect();
    let stopped = jobs
        .iter()
        .find(|j| j.id() == Some("raysubmit_long1"))
        .unwrap();
    assert_eq!(stopped.status, JobStatus::Stopped);
    assert_eq!(
        stopped.message.as_deref(),
        Some("Job was intentionally stopped.")
    );
    let tasks_job = jobs
        .iter()
        .find(|j| j.id() == Some("raysubmit_tasks1"))
        .unwrap();
    assert_eq!(tasks_job.job_id.as_deref(), Some("02000000"));
    let stop: StopJobResponse = round_trips(&fixture("stop.json"));
    assert!(stop.stopped);
}

#[test]
fn state_api_nodes_and_tasks() {
    let nodes = fixture("nodes.json");
    let items = nodes["data"]["result"]["result"].as_array().unwrap();
    let node: Node = round_trips(&items[0]);
    assert!(node.is_head_node);
    assert_eq!(node.state.as_deref(), Some("ALIVE"));
    assert_eq!(node.resources_total["CPU"], 2.0);
    let tasks = fixture("tasks.json");
    let tasks: Vec<Task> = tasks["data"]["result"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(round_trips)
        .collect();
    assert_eq!(tasks.len(), 4);
    assert!(tasks.iter().all(|t| t.state.as_deref() == Some("FINISHED")
        && t.job_id.as_deref() == Some("02000000")
        && t.kind.as_deref() == Some("NORMAL_TASK")));
}

#[test]
fn serve_application() {
    let apps = fixture("serve_applications.json");
    let app: ServeApplication = round_trips(&apps["applications"]["hello"]);
    assert_eq!(app.name, "hello");
    assert_eq!(app.status.as_deref(), Some("RUNNING"));
    assert!(app.deployments.contains_key("Hello"));
    assert!(app.extra.contains_key("deployed_app_config"));
}
