//! Models of `containers/`: the Docker containers the agent runs, and the plugin
//! containers it tracks.

use super::Extra;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A Docker container (`containers/docker/`).
///
/// ```
/// let c: agent_proto::DockerContainer =
///     serde_json::from_str(r#"{"id":"3f2a","status":"running","ports":{}}"#).unwrap();
/// assert_eq!(c.status.as_deref(), Some("running"));
/// assert!(c.extra.contains_key("ports"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DockerContainer {
    /// Docker's id.
    pub id: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `created`, `running`, `exited`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Its labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Map<String, Value>>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of `POST containers/docker/`: build and run a container for a plugin.
///
/// ```
/// let body = agent_proto::CreateDockerContainer::new("demo@1.0.0");
/// assert_eq!(serde_json::to_value(&body).unwrap(), serde_json::json!({"plugin_release": "demo@1.0.0"}));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateDockerContainer {
    /// The release to run, `code@version`.
    pub plugin_release: String,
    /// The plugin's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envs: Option<Map<String, Value>>,
    /// Metadata to keep with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

impl CreateDockerContainer {
    /// A container of `plugin_release` with nothing else set.
    pub fn new(plugin_release: impl Into<String>) -> Self {
        CreateDockerContainer {
            plugin_release: plugin_release.into(),
            ..Default::default()
        }
    }
}

/// A plugin container the agent tracks (`containers/`); the answer of creating
/// one names its build.
///
/// ```
/// let c: agent_proto::Container =
///     serde_json::from_str(r#"{"id":4,"status":"building","build_id":"b4"}"#).unwrap();
/// assert_eq!(c.build_id.as_deref(), Some("b4"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Container {
    /// The database id (a number or a string, as the agent gives it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// The release it runs, `code@version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_release: Option<String>,
    /// Its state (`building`, `running`, `stopped`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The build that makes it, while it is made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// The Docker container it runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Container {
    /// The id as a path segment's text (`4` or `"abc"` alike).
    pub fn id_text(&self) -> Option<String> {
        match self.id.as_ref()? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// A plugin archive to upload with [`CreateContainer`] (sent as multipart/form-data).
#[derive(Clone, PartialEq, Eq)]
pub struct PluginFile {
    /// The file's name as the agent sees it.
    pub filename: String,
    /// Its media type (`application/zip`, ...).
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl PluginFile {
    /// A file named `filename` holding `bytes` (`application/octet-stream`).
    pub fn new(filename: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        PluginFile {
            filename: filename.into(),
            content_type: "application/octet-stream".into(),
            bytes: bytes.into(),
        }
    }
}

impl fmt::Debug for PluginFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginFile")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The body of `POST containers/`: a plugin container from a release, or from an
/// uploaded plugin file (then sent as multipart/form-data, every other field a
/// form field). The fields are synapse-sdk's.
///
/// ```
/// let body = agent_proto::CreateContainer::release("demo@1.0.0");
/// let v = serde_json::to_value(&body).unwrap();
/// assert_eq!(v, serde_json::json!({"plugin_release":"demo@1.0.0","plugin":"demo","version":"1.0.0"}));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateContainer {
    /// The release, `code@version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_release: Option<String>,
    /// The plugin's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The release's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The action to serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The entrypoint's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// A model's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<i64>,
    /// The plugin's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envs: Option<Map<String, Value>>,
    /// Metadata to keep with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// The kind of container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The backend's id of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_container_id: Option<i64>,
    /// A plugin archive to upload instead of naming a release.
    #[serde(skip)]
    pub plugin_file: Option<PluginFile>,
}

impl CreateContainer {
    /// A container of `code@version` (plugin and version filled in from it, as the
    /// SDK does).
    pub fn release(plugin_release: impl Into<String>) -> Self {
        let release = plugin_release.into();
        let (plugin, version) = match release.rsplit_once('@') {
            Some((p, v)) => (Some(p.to_owned()), Some(v.to_owned())),
            None => (None, None),
        };
        CreateContainer {
            plugin_release: Some(release),
            plugin,
            version,
            ..Default::default()
        }
    }

    /// A container of an uploaded plugin archive.
    pub fn upload(file: PluginFile) -> Self {
        CreateContainer {
            plugin_file: Some(file),
            ..Default::default()
        }
    }
}

/// The body of `PATCH containers/{container_id}`.
///
/// ```
/// let body = agent_proto::UpdateContainer::status("stopped");
/// assert_eq!(serde_json::to_value(&body).unwrap(), serde_json::json!({"status":"stopped"}));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateContainer {
    /// The new status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Further fields the agent accepts.
    #[serde(flatten)]
    pub extra: Extra,
}

impl UpdateContainer {
    /// Sets the status.
    pub fn status(status: impl Into<String>) -> Self {
        UpdateContainer {
            status: Some(status.into()),
            extra: Extra::new(),
        }
    }
}
