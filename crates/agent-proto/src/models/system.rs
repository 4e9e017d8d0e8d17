//! Models of `system/` and `builds/`: the agent's own containers, their status,
//! updates and restarts, and container builds.

use super::Extra;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `GET system/compose-config/`: the compose configuration of the agent's services.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ComposeConfig {
    /// The services, by name, when the agent gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Map<String, Value>>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET system/status/`: the agent's system status.
///
/// ```
/// let s: agent_proto::SystemStatus = serde_json::from_str(r#"{"status":"ready"}"#).unwrap();
/// assert!(s.is_ready());
/// let s: agent_proto::SystemStatus = serde_json::from_str(r#"{"status":"updating"}"#).unwrap();
/// assert!(!s.is_ready());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemStatus {
    /// The system's state in a word (`ready`, `updating`, `restarting`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// True once every service is up, when the agent says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Per-service detail, as the agent gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Value>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl SystemStatus {
    /// True when the system is ready: `ready: true`, or (without `ready`) a status
    /// of `ready`, `running`, `healthy` or `ok`.
    pub fn is_ready(&self) -> bool {
        match self.ready {
            Some(ready) => ready,
            None => matches!(
                self.status
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("ready" | "running" | "healthy" | "ok")
            ),
        }
    }
}

/// The body of `POST system/update/`: the image tags to pull (each optional).
///
/// ```
/// let body = agent_proto::UpdateSystem::default().api_tag("2026.2");
/// assert_eq!(serde_json::to_value(&body).unwrap(), serde_json::json!({"api_tag": "2026.2"}));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateSystem {
    /// The agent API image's tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_tag: Option<String>,
    /// The worker image's tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_tag: Option<String>,
}

impl UpdateSystem {
    /// Sets the API image's tag.
    pub fn api_tag(mut self, tag: impl Into<String>) -> Self {
        self.api_tag = Some(tag.into());
        self
    }

    /// Sets the worker image's tag.
    pub fn worker_tag(mut self, tag: impl Into<String>) -> Self {
        self.worker_tag = Some(tag.into());
        self
    }
}

/// The answer of `POST system/update/` and `POST system/restart/`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemOperation {
    /// `success` when the operation started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The agent's words about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET builds/{build_id}/`: a container build's progress.
///
/// ```
/// let b: agent_proto::BuildStatus =
///     serde_json::from_str(r#"{"build_id":"b1","status":"completed","result":{"id":3}}"#).unwrap();
/// assert!(b.is_finished() && b.is_completed());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildStatus {
    /// The build's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// What the build made, once completed (usually the container).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BuildStatus {
    /// True once the build completed successfully.
    pub fn is_completed(&self) -> bool {
        self.status == "completed"
    }

    /// True once the build failed or was cancelled.
    pub fn is_failed(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "cancelled")
    }

    /// True once the build can no longer change.
    pub fn is_finished(&self) -> bool {
        self.is_completed() || self.is_failed()
    }
}
