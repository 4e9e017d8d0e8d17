//! Typed models of the agent's answers and request bodies.
//!
//! Agents add fields over time and older ones lack some: every model defaults what
//! is missing and keeps what it does not know in `extra`, so nothing the agent sent
//! is lost and a newer or older agent still parses. Serializing a model gives back
//! the fields it was read from.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

mod containers;
mod resources;
mod system;

pub use containers::{
    Container, CreateContainer, CreateDockerContainer, DockerContainer, PluginFile, UpdateContainer,
};
pub use resources::{
    ClusterResources, Feasibility, FeasibilityRequest, GatekeepingPolicy, GpuDevice, GpuSummary,
    NodeCounts, NodeResource, ResourceCounter, RuntimePolicy,
};
pub use system::{BuildStatus, ComposeConfig, SystemOperation, SystemStatus, UpdateSystem};

/// Fields a model does not know, kept as the agent sent them.
pub type Extra = Map<String, Value>;

/// The status of a Ray job.
///
/// ```
/// use agent_proto::JobStatus;
///
/// let s: JobStatus = serde_json::from_str("\"SUCCEEDED\"").unwrap();
/// assert!(s.is_terminal());
/// let future: JobStatus = serde_json::from_str("\"SUSPENDED\"").unwrap();
/// assert_eq!(future, JobStatus::Other("SUSPENDED".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum JobStatus {
    /// Submitted, not started yet.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Stopped on request.
    Stopped,
    /// Finished successfully.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// A status this client does not know (a newer agent), kept as sent.
    Other(String),
}

impl JobStatus {
    /// The status as Ray spells it.
    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Running => "RUNNING",
            JobStatus::Stopped => "STOPPED",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Other(s) => s,
        }
    }

    /// True once the job can no longer change: stopped, succeeded or failed.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Stopped | JobStatus::Succeeded | JobStatus::Failed
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for JobStatus {
    fn from(s: &str) -> Self {
        match s {
            "PENDING" => JobStatus::Pending,
            "RUNNING" => JobStatus::Running,
            "STOPPED" => JobStatus::Stopped,
            "SUCCEEDED" => JobStatus::Succeeded,
            "FAILED" => JobStatus::Failed,
            other => JobStatus::Other(other.to_owned()),
        }
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(s.as_deref().map(JobStatus::from).unwrap_or_default())
    }
}

/// The agent's health answer.
///
/// ```
/// let h: agent_proto::Health = serde_json::from_str(r#"{"status":"ok","ray":"2.60.0"}"#).unwrap();
/// assert_eq!(h.status.as_deref(), Some("ok"));
/// assert_eq!(h.extra["ray"], "2.60.0");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    /// `ok` when the agent is healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Ray job, as Ray's job info describes it.
///
/// ```
/// let job: agent_proto::Job = serde_json::from_str(
///     r#"{"submission_id":"raysubmit_1","status":"RUNNING","entrypoint":"python x.py","new_field":1}"#,
/// ).unwrap();
/// assert_eq!(job.id(), Some("raysubmit_1"));
/// assert!(!job.status.is_terminal());
/// assert_eq!(job.extra["new_field"], 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    /// `SUBMISSION` or `DRIVERLESS`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The driver job id (hex), once the driver started.
    pub job_id: Option<String>,
    /// The submission id (`raysubmit_...` or the caller's own).
    pub submission_id: Option<String>,
    /// The job's status.
    pub status: JobStatus,
    /// The command the job runs.
    pub entrypoint: String,
    /// Ray's message about the status.
    pub message: Option<String>,
    /// Ray's error type, when the job failed.
    pub error_type: Option<String>,
    /// Start, in milliseconds since the Unix epoch.
    pub start_time: Option<u64>,
    /// End, in milliseconds since the Unix epoch.
    pub end_time: Option<u64>,
    /// The submitter's metadata.
    pub metadata: Option<Map<String, Value>>,
    /// The job's runtime environment.
    pub runtime_env: Option<Value>,
    /// The driver's exit code, once it exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_exit_code: Option<i64>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Job {
    /// The id to address the job by: the submission id, else the driver job id.
    pub fn id(&self) -> Option<&str> {
        self.submission_id.as_deref().or(self.job_id.as_deref())
    }
}

/// The answer to stopping a job.
///
/// ```
/// let r: agent_proto::StopJobResponse = serde_json::from_str(r#"{"stopped": true}"#).unwrap();
/// assert!(r.stopped);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StopJobResponse {
    /// True when the job was running and is now stopping.
    pub stopped: bool,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Ray node, as Ray's State API describes it.
///
/// ```
/// let n: agent_proto::Node = serde_json::from_str(
///     r#"{"node_id":"abc","node_ip":"10.0.0.1","is_head_node":true,"state":"ALIVE","resources_total":{"CPU":2.0}}"#,
/// ).unwrap();
/// assert_eq!(n.resources_total.get("CPU"), Some(&2.0));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Node {
    /// The node id.
    pub node_id: String,
    /// The node's IP address.
    pub node_ip: Option<String>,
    /// True for the head node.
    pub is_head_node: bool,
    /// `ALIVE` or `DEAD`.
    pub state: Option<String>,
    /// The node's name.
    pub node_name: Option<String>,
    /// Resources in all (`CPU`, `GPU`, `memory`, ...).
    pub resources_total: std::collections::BTreeMap<String, f64>,
    /// The node's labels.
    pub labels: Map<String, Value>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Ray task, as Ray's State API describes it.
///
/// ```
/// let t: agent_proto::Task = serde_json::from_str(
///     r#"{"task_id":"39088be3","name":"f","state":"FINISHED","job_id":"02000000"}"#,
/// ).unwrap();
/// assert_eq!(t.state.as_deref(), Some("FINISHED"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    /// The task id.
    pub task_id: String,
    /// The task's name.
    pub name: Option<String>,
    /// `PENDING_ARGS_AVAIL`, `RUNNING`, `FINISHED`, `FAILED`, ...
    pub state: Option<String>,
    /// The driver job id the task belongs to.
    pub job_id: Option<String>,
    /// The node it ran on.
    pub node_id: Option<String>,
    /// `NORMAL_TASK`, `ACTOR_TASK`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The function or class name.
    pub func_or_class_name: Option<String>,
    /// Which attempt this is.
    pub attempt_number: Option<u64>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Ray Serve application.
///
/// ```
/// let a: agent_proto::ServeApplication = serde_json::from_str(
///     r#"{"name":"hello","route_prefix":"/hello","status":"RUNNING","deployments":{}}"#,
/// ).unwrap();
/// assert_eq!(a.status.as_deref(), Some("RUNNING"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServeApplication {
    /// The application's name.
    pub name: String,
    /// Its HTTP route prefix.
    pub route_prefix: Option<String>,
    /// `DEPLOYING`, `RUNNING`, `DEPLOY_FAILED`, `DELETING`, ...
    pub status: Option<String>,
    /// Serve's message about the status.
    pub message: Option<String>,
    /// When it was last deployed, in seconds since the Unix epoch.
    pub last_deployed_time_s: Option<f64>,
    /// Its deployments, by name.
    pub deployments: Map<String, Value>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A plugin release: a version of a plugin the agent can run.
///
/// ```
/// let r: agent_proto::PluginRelease = serde_json::from_str(
///     r#"{"id":7,"plugin":"demo","version":"1.0.0","code":"demo"}"#,
/// ).unwrap();
/// assert_eq!(r.lookup().as_deref(), Some("demo@1.0.0"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginRelease {
    /// The release id (a number or a string, as the agent gives it).
    pub id: Option<Value>,
    /// The plugin it releases.
    pub plugin: Option<String>,
    /// The release's version.
    pub version: Option<String>,
    /// The plugin's code (its short name).
    pub code: Option<String>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl PluginRelease {
    /// `code@version` when both are known.
    pub fn lookup(&self) -> Option<String> {
        let code = self.code.as_deref().or(self.plugin.as_deref())?;
        Some(format!("{code}@{}", self.version.as_deref()?))
    }
}

/// One page of a paginated list.
///
/// ```
/// let p: agent_proto::Page<agent_proto::PluginRelease> = serde_json::from_str(
///     r#"{"count":1,"next":null,"previous":null,"results":[{"id":1,"plugin":"demo","version":"1"}]}"#,
/// ).unwrap();
/// assert_eq!(p.results.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    /// How many items there are in all.
    #[serde(default)]
    pub count: Option<u64>,
    /// The next page's URL.
    #[serde(default)]
    pub next: Option<String>,
    /// The previous page's URL.
    #[serde(default)]
    pub previous: Option<String>,
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body that creates a plugin release.
///
/// ```
/// let body = agent_proto::CreatePluginRelease::new("demo", "1.0.0");
/// assert_eq!(serde_json::to_value(&body).unwrap(), serde_json::json!({"plugin":"demo","version":"1.0.0"}));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePluginRelease {
    /// The plugin (its code or id).
    pub plugin: String,
    /// The version to release.
    pub version: String,
    /// Further fields the agent accepts.
    #[serde(flatten)]
    pub extra: Extra,
}

impl CreatePluginRelease {
    /// A release of `plugin` at `version`.
    pub fn new(plugin: impl Into<String>, version: impl Into<String>) -> Self {
        CreatePluginRelease {
            plugin: plugin.into(),
            version: version.into(),
            extra: Extra::new(),
        }
    }
}

/// The body that runs an action of a plugin release.
///
/// ```
/// use serde_json::json;
/// let body = agent_proto::RunPluginRelease::new("train").params(json!({"epochs": 3}));
/// assert_eq!(serde_json::to_value(&body).unwrap(), json!({"action":"train","params":{"epochs":3}}));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunPluginRelease {
    /// The action to run.
    pub action: String,
    /// The action's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// Extra Python requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Vec<String>>,
    /// The job id to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The language of messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl RunPluginRelease {
    /// Runs `action` with no parameters.
    pub fn new(action: impl Into<String>) -> Self {
        RunPluginRelease {
            action: action.into(),
            ..Default::default()
        }
    }

    /// Sets the parameters.
    pub fn params(mut self, params: Value) -> Self {
        self.params = Some(params);
        self
    }

    /// Sets the requirements.
    pub fn requirements(mut self, requirements: Vec<String>) -> Self {
        self.requirements = Some(requirements);
        self
    }

    /// Sets the job id.
    pub fn job_id(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }

    /// Sets the language.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }
}

/// The body that runs an action of a plugin in debug mode (from a path or modules).
///
/// ```
/// let body = agent_proto::RunDebugPluginRelease::new("test").plugin_path("/src/plugin");
/// assert_eq!(body.plugin_path.as_deref(), Some("/src/plugin"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunDebugPluginRelease {
    /// The action to run.
    pub action: String,
    /// The action's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// Where the plugin's source is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_path: Option<String>,
    /// The plugin's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// The plugin's modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<Value>,
    /// Extra Python requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Vec<String>>,
    /// The job id to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The language of messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl RunDebugPluginRelease {
    /// Runs `action` with nothing else set.
    pub fn new(action: impl Into<String>) -> Self {
        RunDebugPluginRelease {
            action: action.into(),
            ..Default::default()
        }
    }

    /// Sets the parameters.
    pub fn params(mut self, params: Value) -> Self {
        self.params = Some(params);
        self
    }

    /// Sets the plugin's path.
    pub fn plugin_path(mut self, path: impl Into<String>) -> Self {
        self.plugin_path = Some(path.into());
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: Value) -> Self {
        self.config = Some(config);
        self
    }

    /// Sets the modules.
    pub fn modules(mut self, modules: Value) -> Self {
        self.modules = Some(modules);
        self
    }
}

/// GPU status of the cluster.
///
/// ```
/// let g: agent_proto::GpuStatus = serde_json::from_str(
///     r#"{"available":true,"total_gpus":4.0,"available_gpus":1.0}"#,
/// ).unwrap();
/// assert!(g.available);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuStatus {
    /// True when at least one GPU is free.
    pub available: bool,
    /// GPUs in the cluster.
    pub total_gpus: f64,
    /// GPUs not in use.
    pub available_gpus: f64,
    /// Per-node detail, as the agent gives it.
    pub nodes: Vec<Value>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_job_info_parses_and_round_trips() {
        let raw = r#"{"type": "SUBMISSION", "job_id": null, "submission_id": "raysubmit_capture1", "driver_info": null, "status": "SUCCEEDED", "entrypoint": "python -c x", "message": "Job finished successfully.", "error_type": null, "start_time": 1795477631229, "end_time": 1795477635816, "metadata": {"plugin": "demo"}, "runtime_env": null, "driver_agent_http_address": "http://192.0.2.2:52365", "driver_node_id": "fddb", "driver_exit_code": 0}"#;
        let job: Job = serde_json::from_str(raw).unwrap();
        assert_eq!(job.status, JobStatus::Succeeded);
        assert_eq!(job.id(), Some("raysubmit_capture1"));
        assert_eq!(job.end_time, Some(1795477635816));
        assert_eq!(job.driver_exit_code, Some(0));
        assert_eq!(job.extra["driver_node_id"], "fddb");
        let back: Value = serde_json::to_value(&job).unwrap();
        let orig: Value = serde_json::from_str(raw).unwrap();
        for (k, v) in orig.as_object().unwrap() {
            assert_eq!(back.get(k), Some(v), "field {k} lost");
        }
    }

    #[test]
    fn a_minimal_job_parses() {
        let job: Job = serde_json::from_str("{}").unwrap();
        assert_eq!(job.status, JobStatus::Pending);
        let job: Job = serde_json::from_str(r#"{"status": null}"#).unwrap();
        assert_eq!(job.status, JobStatus::Pending);
    }

    #[test]
    fn terminal_statuses() {
        for (s, t) in [
            ("PENDING", false),
            ("RUNNING", false),
            ("STOPPED", true),
            ("SUCCEEDED", true),
            ("FAILED", true),
            ("WEIRD", false),
        ] {
            assert_eq!(JobStatus::from(s).is_terminal(), t, "{s}");
            assert_eq!(JobStatus::from(s).as_str(), s);
        }
    }

    #[test]
    fn page_defaults_missing_fields() {
        let p: Page<PluginRelease> = serde_json::from_str(r#"{"results":[]}"#).unwrap();
        assert!(p.count.is_none());
        let p: Page<PluginRelease> = serde_json::from_str(r#"{}"#).unwrap();
        assert!(p.results.is_empty());
    }
}
