//! From Ray's answers to the agent protocol's: pure functions, tested against the
//! answers recorded from Ray 2.60 (`fixtures/ray/` at the repository's root).

use agent_proto::id::MAX_ID_LEN;
use agent_proto::JobId;

use crate::GatewayError;
use serde_json::{json, Map, Value};

/// The longest message taken from a Ray error body.
const MAX_MESSAGE: usize = 2048;

/// The message of a Ray error body, for people: a State API envelope's `msg`, a
/// JSON `detail`/`message`/`error`, the last line of a Python stack trace (Ray
/// answers many 500s with `traceback.format_exc()`), or the text itself.
///
/// ```
/// use agent_gateway::mapping::ray_message;
///
/// assert_eq!(ray_message(b"Job nope does not exist"), "Job nope does not exist");
/// let trace = b"Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n    raise ValueError('bad')\nValueError: bad id\n";
/// assert_eq!(ray_message(trace), "ValueError: bad id");
/// ```
pub fn ray_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(json) = serde_json::from_str::<Value>(&text) {
        if let Some(obj) = json.as_object() {
            for key in ["msg", "detail", "message", "error"] {
                if let Some(Value::String(s)) = obj.get(key) {
                    if !s.trim().is_empty() {
                        return cut(strip_traceback(s).trim());
                    }
                }
            }
        }
        if let Value::String(s) = &json {
            return cut(strip_traceback(s).trim());
        }
    }
    cut(strip_traceback(&text).trim())
}

/// A Python stack trace reduced to its exception line(s): the last line that reads
/// `SomeError: message` (or the last non-blank line when none does). Text without
/// a trace is returned as it is.
fn strip_traceback(text: &str) -> &str {
    if !text.contains("Traceback (most recent call last)") {
        return text;
    }
    let is_exception_line = |line: &str| {
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        !line.starts_with(' ')
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && (name.ends_with("Error") || name.ends_with("Exception") || name.contains('.'))
    };
    text.lines()
        .rev()
        .find(|l| is_exception_line(l))
        .or_else(|| {
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty() && l.trim() != ".")
        })
        .unwrap_or("")
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &s[..end], s.len())
}

/// Maps a Ray error answer to the agent protocol's error: 404 stays 404 with Ray's
/// message, 400 stays 400, a submission id that already exists is a 400, a 5xx is a
/// 500 (a 502/503/504 keeps its code), with the message of [`ray_message`].
///
/// ```
/// use agent_gateway::mapping::ray_error;
///
/// let e = ray_error(404, b"Job nope does not exist");
/// assert_eq!(e.status_code(), 404);
/// assert!(e.to_string().ends_with("Job nope does not exist"));
/// ```
pub fn ray_error(status: u16, body: &[u8]) -> GatewayError {
    let mut message = ray_message(body);
    if message.is_empty() {
        message = format!("Ray answered {status} with an empty body");
    }
    match status {
        400 | 405 | 409 | 422 => GatewayError::BadRequest { message },
        404 => GatewayError::NotFound { message },
        401 | 403 => GatewayError::Server {
            status: 502,
            message: format!("Ray's dashboard refused the gateway ({status}): {message}"),
        },
        500 if message.contains("already exists") => GatewayError::BadRequest { message },
        501 => GatewayError::Server {
            status: 501,
            message: format!(
                "Ray does not offer this ({message}); is ray[serve] installed on the head?"
            ),
        },
        502..=504 => GatewayError::Unavailable { message },
        _ => GatewayError::Server {
            status: 500,
            message,
        },
    }
}

/// A value taken from one of Ray's answers that the gateway puts into a URL of its
/// own (a driver job id into a State API filter, a submission id into a log file's
/// name, a node id into the log-file API's query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RayValue {
    /// A job's driver job id (`job_id`): hex, e.g. `02000000`.
    DriverJobId,
    /// A job's submission id (`submission_id`): the agent API's job id rule
    /// ([`JobId`]), as the caller's own ids.
    SubmissionId,
    /// A node id (`driver_node_id`): hex.
    NodeId,
}

impl RayValue {
    fn what(self) -> &'static str {
        match self {
            RayValue::DriverJobId => "driver job id",
            RayValue::SubmissionId => "submission id",
            RayValue::NodeId => "node id",
        }
    }
}

/// The one check of every value from Ray that goes into a URL: `value` when it
/// follows the rule of its `kind`, else a 502 "Ray answered an invalid ..." (the
/// status the gateway gives Ray answering what it cannot use, as for a refused
/// dashboard), so that a crafted answer cannot add filters to a query or walk a
/// file name.
///
/// ```
/// use agent_gateway::mapping::{checked, RayValue};
///
/// assert_eq!(checked(RayValue::DriverJobId, "02000000").unwrap(), "02000000");
/// let e = checked(RayValue::DriverJobId, "02&filter_keys=state").unwrap_err();
/// assert_eq!(e.status_code(), 502);
/// assert!(checked(RayValue::SubmissionId, "raysubmit_abc").is_ok());
/// assert!(checked(RayValue::SubmissionId, "../../..\0").is_err());
/// ```
pub fn checked(kind: RayValue, value: &str) -> Result<&str, GatewayError> {
    let hex = |v: &str| {
        !v.is_empty() && v.len() <= MAX_ID_LEN && v.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let ok = match kind {
        RayValue::DriverJobId | RayValue::NodeId => hex(value),
        RayValue::SubmissionId => JobId::new(value).is_ok(),
    };
    if ok {
        return Ok(value);
    }
    let mut shown: String = value.chars().take(40).collect();
    if value.chars().count() > 40 {
        shown.push_str("...");
    }
    let rule = match kind {
        RayValue::DriverJobId | RayValue::NodeId => "hex digits",
        RayValue::SubmissionId => "A-Z, a-z, 0-9, '_' and '-'",
    };
    Err(GatewayError::Server {
        status: 502,
        message: format!(
            "Ray answered an invalid {what} {shown:?} (expected 1 to {MAX_ID_LEN} {rule}); \
             the gateway does not put it into a request",
            what = kind.what()
        ),
    })
}

/// The message inside an error, without the `not found (404): ` prefix its
/// `Display` adds (the status travels as the answer's status).
pub fn client_error_message(err: &GatewayError) -> String {
    err.message()
}

/// The items of a State API answer:
/// `{"result": true, "msg": "", "data": {"result": {"result": [...], ...}}}`.
/// An answer with `"result": false` is an error with Ray's `msg`.
///
/// ```
/// let body = br#"{"result": true, "msg": "", "data": {"result": {"total": 1, "result": [{"node_id": "a"}]}}}"#;
/// let items = agent_gateway::mapping::unwrap_state_envelope(body).unwrap();
/// assert_eq!(items[0]["node_id"], "a");
/// ```
pub fn unwrap_state_envelope(body: &[u8]) -> Result<Vec<Value>, GatewayError> {
    let json: Value = serde_json::from_slice(body).map_err(|e| GatewayError::Decode {
        message: format!("Ray's State API answered something that is not JSON: {e}"),
    })?;
    if json.get("result") == Some(&Value::Bool(false)) {
        let msg = json.get("msg").and_then(Value::as_str).unwrap_or("");
        let message = if msg.is_empty() {
            "Ray's State API refused the query".to_owned()
        } else {
            cut(strip_traceback(msg).trim())
        };
        return Err(GatewayError::BadRequest { message });
    }
    match json.pointer("/data/result/result") {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(Value::Null) | None => match json.pointer("/data/result") {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(GatewayError::Decode {
                message: "Ray's State API answer has no data.result.result list".into(),
            }),
        },
        Some(_) => Err(GatewayError::Decode {
            message: "Ray's State API answer's data.result.result is not a list".into(),
        }),
    }
}

/// The item whose `key` is `id`, or a 404 that names `what`.
///
/// ```
/// use serde_json::json;
/// let items = vec![json!({"node_id": "a"}), json!({"node_id": "b"})];
/// let b = agent_gateway::mapping::find_by("node", &items, "node_id", "b").unwrap();
/// assert_eq!(b["node_id"], "b");
/// assert_eq!(agent_gateway::mapping::find_by("node", &items, "node_id", "c").unwrap_err().status_code(), 404);
/// ```
pub fn find_by(what: &str, items: &[Value], key: &str, id: &str) -> Result<Value, GatewayError> {
    items
        .iter()
        .find(|item| item.get(key).and_then(Value::as_str) == Some(id))
        .cloned()
        .ok_or_else(|| GatewayError::NotFound {
            message: format!("{what} {id} does not exist"),
        })
}

/// The cluster's GPUs: `total_gpus` summed from the alive nodes' `resources_total`,
/// `available_gpus` from Ray's resource usage (`/api/cluster_status`; the total
/// when usage is unknown), and the nodes that have GPUs.
///
/// ```
/// use serde_json::json;
/// let nodes = vec![json!({"node_id": "a", "state": "ALIVE", "resources_total": {"CPU": 8.0, "GPU": 2.0}})];
/// let g = agent_gateway::mapping::gpu_status(&nodes, None);
/// assert_eq!(g["total_gpus"], 2.0);
/// assert_eq!(g["available"], true);
/// ```
pub fn gpu_status(nodes: &[Value], cluster_status: Option<&Value>) -> Value {
    let mut total = 0.0f64;
    let mut gpu_nodes = Vec::new();
    for node in nodes {
        if node.get("state").and_then(Value::as_str) != Some("ALIVE") {
            continue;
        }
        let resources = node.get("resources_total").and_then(Value::as_object);
        let gpus = resources
            .and_then(|r| r.get("GPU"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if gpus <= 0.0 {
            continue;
        }
        total += gpus;
        let types: Vec<&str> = resources
            .map(|r| {
                r.keys()
                    .filter_map(|k| k.strip_prefix("accelerator_type:"))
                    .collect()
            })
            .unwrap_or_default();
        gpu_nodes.push(json!({
            "node_id": node.get("node_id").cloned().unwrap_or(Value::Null),
            "node_ip": node.get("node_ip").cloned().unwrap_or(Value::Null),
            "gpus": gpus,
            "accelerator_types": types,
        }));
    }
    let used = cluster_status
        .and_then(|s| s.pointer("/data/clusterStatus/loadMetricsReport/usage/GPU"))
        .and_then(Value::as_array)
        .and_then(|pair| pair.first())
        .and_then(Value::as_f64);
    let available = (total - used.unwrap_or(0.0)).max(0.0);
    json!({
        "available": available > 0.0,
        "total_gpus": total,
        "available_gpus": available,
        "usage_known": used.is_some() || total == 0.0,
        "nodes": gpu_nodes,
    })
}

/// The applications of Serve's status answer, as a list (Ray keys them by name).
///
/// ```
/// use serde_json::json;
/// let status = json!({"applications": {"hello": {"name": "hello", "status": "RUNNING"}}});
/// assert_eq!(agent_gateway::mapping::serve_applications(&status)[0]["name"], "hello");
/// ```
pub fn serve_applications(status: &Value) -> Vec<Value> {
    status
        .get("applications")
        .and_then(Value::as_object)
        .map(|apps| {
            apps.iter()
                .map(|(name, app)| with_name(app, name))
                .collect()
        })
        .unwrap_or_default()
}

fn with_name(app: &Value, name: &str) -> Value {
    let mut app = app.clone();
    if let Some(obj) = app.as_object_mut() {
        obj.entry("name").or_insert_with(|| json!(name));
    }
    app
}

/// One application of Serve's status answer, or a 404.
pub fn serve_application(status: &Value, name: &str) -> Result<Value, GatewayError> {
    status
        .get("applications")
        .and_then(|apps| apps.get(name))
        .map(|app| with_name(app, name))
        .ok_or_else(|| GatewayError::NotFound {
            message: format!("Serve application {name} does not exist"),
        })
}

/// The declarative config that keeps every application but `name` running, for
/// a PUT to `/api/serve/applications/` (Ray's DELETE there removes *all* apps).
/// The proxy settings in force are kept. A 404 when `name` is not deployed; a 400
/// when another application was deployed imperatively (it has no config to keep).
///
/// ```
/// use serde_json::json;
/// let status = json!({
///     "proxy_location": "EveryNode",
///     "http_options": {"host": "127.0.0.1", "port": 8000, "ssl_keyfile": null},
///     "applications": {
///         "a": {"deployed_app_config": {"name": "a", "import_path": "a:app"}},
///         "b": {"deployed_app_config": {"name": "b", "import_path": "b:app"}},
///     }});
/// let config = agent_gateway::mapping::serve_config_without(&status, "a").unwrap();
/// assert_eq!(config["applications"], json!([{"name": "b", "import_path": "b:app"}]));
/// assert_eq!(config["http_options"], json!({"host": "127.0.0.1", "port": 8000}));
/// ```
pub fn serve_config_without(status: &Value, name: &str) -> Result<Value, GatewayError> {
    serve_application(status, name)?;
    let mut applications = Vec::new();
    if let Some(apps) = status.get("applications").and_then(Value::as_object) {
        for (other, app) in apps {
            if other == name {
                continue;
            }
            match app.get("deployed_app_config") {
                Some(config) if config.is_object() => applications.push(config.clone()),
                _ => {
                    return Err(GatewayError::BadRequest {
                        message: format!(
                            "Serve application {other} was not deployed from a config, so \
                             {name} cannot be deleted without removing it too"
                        ),
                    })
                }
            }
        }
    }
    let mut config = Map::new();
    if let Some(loc) = status.get("proxy_location").filter(|v| !v.is_null()) {
        config.insert("proxy_location".into(), loc.clone());
    }
    if let Some(http) = status.get("http_options").and_then(Value::as_object) {
        let kept: Map<String, Value> = http
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config.insert("http_options".into(), Value::Object(kept));
    }
    if let Some(tc) = status.get("target_capacity").filter(|v| !v.is_null()) {
        config.insert("target_capacity".into(), tc.clone());
    }
    config.insert("applications".into(), Value::Array(applications));
    Ok(Value::Object(config))
}

/// The health answer: `status` `ok` when the dashboard and Ray's GCS answer,
/// `degraded` when only the dashboard does, with Ray's version fields.
///
/// ```
/// use serde_json::json;
/// let h = agent_gateway::mapping::health(&json!({"ray_version": "2.60.0"}), Some(true), "http://127.0.0.1:8265");
/// assert_eq!(h["status"], "ok");
/// assert_eq!(h["ray_version"], "2.60.0");
/// ```
pub fn health(version: &Value, gcs_healthy: Option<bool>, address: &str) -> Value {
    let status = if gcs_healthy == Some(true) {
        "ok"
    } else {
        "degraded"
    };
    let mut out = Map::new();
    out.insert("status".into(), json!(status));
    out.insert("backend".into(), json!("ray"));
    out.insert("ray_address".into(), json!(address));
    out.insert(
        "gcs".into(),
        json!(match gcs_healthy {
            Some(true) => "ok",
            Some(false) => "unhealthy",
            None => "unknown",
        }),
    );
    for key in ["ray_version", "ray_commit", "session_name", "version"] {
        if let Some(v) = version.get(key) {
            let name = if key == "version" {
                "dashboard_api_version"
            } else {
                key
            };
            out.insert(name.into(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{json as fixture, read};

    #[test]
    fn nodes_fixture_unwraps_and_types() {
        let nodes = unwrap_state_envelope(read("nodes.json").as_bytes()).unwrap();
        assert_eq!(nodes.len(), 1);
        let node: agent_proto::Node = serde_json::from_value(nodes[0].clone()).unwrap();
        assert!(node.is_head_node);
        assert_eq!(node.resources_total.get("CPU"), Some(&2.0));
        let id = "fddbb195ce78652168eecbe943514ac95dcf06d80518d4bca140ebed";
        assert_eq!(
            find_by("node", &nodes, "node_id", id).unwrap()["node_ip"],
            "192.0.2.2"
        );
        let missing = find_by("node", &nodes, "node_id", "nope").unwrap_err();
        assert_eq!(missing.status_code(), 404);
        assert_eq!(client_error_message(&missing), "node nope does not exist");
    }

    #[test]
    fn tasks_fixture_unwraps_and_filters() {
        let tasks = unwrap_state_envelope(read("tasks.json").as_bytes()).unwrap();
        assert_eq!(tasks.len(), 4);
        for t in &tasks {
            let task: agent_proto::Task = serde_json::from_value(t.clone()).unwrap();
            assert_eq!(task.job_id.as_deref(), Some("02000000"));
            assert_eq!(task.state.as_deref(), Some("FINISHED"));
        }
        let one = find_by(
            "task",
            &tasks,
            "task_id",
            "e082c90ab8422b00ffffffffffffffffffffffff02000000",
        )
        .unwrap();
        assert_eq!(
            one["worker_id"],
            "98021c08fde0144c3d10d5bcced22f812fb3665f927375f9f6803ba3"
        );
    }

    #[test]
    fn a_refused_state_query_is_an_error_with_rays_message() {
        let body =
            br#"{"result": false, "msg": "Non-hexadecimal digit found", "data": {"result": null}}"#;
        let e = unwrap_state_envelope(body).unwrap_err();
        assert_eq!(e.status_code(), 400);
        assert_eq!(client_error_message(&e), "Non-hexadecimal digit found");
        assert!(unwrap_state_envelope(b"<html>").is_err());
    }

    #[test]
    fn gpu_status_of_the_fixture_cluster_has_none() {
        let nodes = unwrap_state_envelope(read("nodes.json").as_bytes()).unwrap();
        let g = gpu_status(&nodes, None);
        assert_eq!(g["total_gpus"], 0.0);
        assert_eq!(g["available"], false);
        let typed: agent_proto::GpuStatus = serde_json::from_value(g).unwrap();
        assert!(!typed.available);
    }

    #[test]
    fn gpu_status_sums_alive_nodes_and_subtracts_usage() {
        let nodes = vec![
            json!({"node_id": "a", "state": "ALIVE", "resources_total": {"GPU": 4.0, "accelerator_type:A100": 1.0}}),
            json!({"node_id": "b", "state": "ALIVE", "resources_total": {"GPU": 2.0}}),
            json!({"node_id": "c", "state": "DEAD", "resources_total": {"GPU": 8.0}}),
            json!({"node_id": "d", "state": "ALIVE", "resources_total": {"CPU": 8.0}}),
        ];
        let usage = json!({"data": {"clusterStatus": {"loadMetricsReport": {"usage": {"GPU": [5.0, 6.0]}}}}});
        let g = gpu_status(&nodes, Some(&usage));
        assert_eq!(g["total_gpus"], 6.0);
        assert_eq!(g["available_gpus"], 1.0);
        assert_eq!(g["available"], true);
        assert_eq!(g["nodes"].as_array().unwrap().len(), 2);
        assert_eq!(g["nodes"][0]["accelerator_types"], json!(["A100"]));
        let full = json!({"data": {"clusterStatus": {"loadMetricsReport": {"usage": {"GPU": [6.0, 6.0]}}}}});
        assert_eq!(gpu_status(&nodes, Some(&full))["available"], false);
    }

    #[test]
    fn jobs_fixtures_type_as_jobs() {
        for name in ["job_running.json", "job_succeeded.json"] {
            let job: agent_proto::Job = serde_json::from_value(fixture(name)).unwrap();
            assert_eq!(job.id(), Some("raysubmit_capture1"));
        }
        let jobs: Vec<agent_proto::Job> =
            serde_json::from_value(fixture("jobs_list.json")).unwrap();
        assert_eq!(jobs.len(), 3);
        assert_eq!(jobs[0].job_id.as_deref(), Some("02000000"));
        assert_eq!(jobs[1].status, agent_proto::JobStatus::Stopped);
        let stop: agent_proto::StopJobResponse =
            serde_json::from_value(fixture("stop.json")).unwrap();
        assert!(stop.stopped);
    }

    #[test]
    fn serve_fixture_lists_gets_and_deletes_one_app() {
        let status = fixture("serve_applications.json");
        let apps = serve_applications(&status);
        assert_eq!(apps.len(), 1);
        let app: agent_proto::ServeApplication = serde_json::from_value(apps[0].clone()).unwrap();
        assert_eq!(app.name, "hello");
        assert_eq!(app.status.as_deref(), Some("RUNNING"));
        assert!(app.deployments.contains_key("Hello"));
        assert_eq!(
            serve_application(&status, "hello").unwrap()["route_prefix"],
            "/hello"
        );
        assert_eq!(
            serve_application(&status, "nope")
                .unwrap_err()
                .status_code(),
            404
        );

        let config = serve_config_without(&status, "hello").unwrap();
        assert_eq!(config["applications"], json!([]));
        assert_eq!(config["http_options"]["host"], "0.0.0.0");
        assert!(config["http_options"].get("ssl_keyfile").is_none());
        assert_eq!(config["proxy_location"], "EveryNode");
        assert_eq!(
            serve_config_without(&status, "nope")
                .unwrap_err()
                .status_code(),
            404
        );
    }

    #[test]
    fn deleting_one_of_two_apps_keeps_the_other_config() {
        let mut status = fixture("serve_applications.json");
        let mut other = status["applications"]["hello"].clone();
        other["deployed_app_config"]["name"] = json!("other");
        other["deployed_app_config"]["route_prefix"] = json!("/other");
        status["applications"]["other"] = other;
        let config = serve_config_without(&status, "hello").unwrap();
        assert_eq!(
            config["applications"],
            json!([{"name": "other", "route_prefix": "/other", "import_path": "hello:app",
                    "runtime_env": {"working_dir": "file:///srv/demo/app.zip"}}])
        );
        status["applications"]["other"]["deployed_app_config"] = Value::Null;
        assert_eq!(
            serve_config_without(&status, "hello")
                .unwrap_err()
                .status_code(),
            400
        );
    }

    #[test]
    fn ray_errors_keep_the_message_and_lose_the_trace() {
        let e = ray_error(404, b"Job nope does not exist");
        assert_eq!(e.status_code(), 404);
        assert_eq!(client_error_message(&e), "Job nope does not exist");

        let trace = "Traceback (most recent call last):\n  File \"/ray/job_head.py\", line 428, in submit_job\n    submission_id = await self.get_job_manager().submit_job(\n  File \"/ray/job_manager.py\", line 553, in submit_job\n    raise ValueError(\nValueError: Job with submission_id raysubmit_x already exists. Please use a different submission_id.\n.\n";
        let e = ray_error(500, trace.as_bytes());
        assert_eq!(e.status_code(), 400);
        let m = client_error_message(&e);
        assert_eq!(m, "ValueError: Job with submission_id raysubmit_x already exists. Please use a different submission_id.");
        assert!(!m.contains("File"));

        let e = ray_error(500, b"Traceback (most recent call last):\n  File \"x\", line 1\nray.exceptions.RaySystemError: GCS down\n");
        assert_eq!(e.status_code(), 500);
        assert_eq!(
            client_error_message(&e),
            "ray.exceptions.RaySystemError: GCS down"
        );

        assert_eq!(ray_error(503, b"").status_code(), 503);
        assert_eq!(ray_error(501, b"Not Implemented").status_code(), 501);
        assert_eq!(
            ray_error(400, b"Can only stop submission type jobs").status_code(),
            400
        );
        let long = "x".repeat(10_000);
        assert!(client_error_message(&ray_error(500, long.as_bytes())).len() < 2100);
    }

    #[test]
    fn health_from_the_version_fixture() {
        let h = health(
            &fixture("version.json"),
            Some(true),
            "http://127.0.0.1:8265",
        );
        assert_eq!(h["status"], "ok");
        assert_eq!(h["ray_version"], "2.60.0");
        assert_eq!(h["dashboard_api_version"], "4");
        let typed: agent_proto::Health = serde_json::from_value(h).unwrap();
        assert_eq!(typed.status.as_deref(), Some("ok"));
        assert_eq!(
            health(&fixture("version.json"), None, "x")["status"],
            "degraded"
        );
    }
}
