//! Bodies both ways: how a request body is encoded ([`RequestBody`]) and how an
//! answer's bytes are decoded ([`Answer`]).

use super::multipart::Multipart;
use crate::error::ClientError;
use crate::models::{
    BuildStatus, ClusterResources, ComposeConfig, Container, CreateContainer,
    CreateDockerContainer, CreatePluginRelease, DockerContainer, Feasibility, FeasibilityRequest,
    GatekeepingPolicy, GpuStatus, Health, Job, Node, Page, PluginRelease, RunDebugPluginRelease,
    RunPluginRelease, RuntimePolicy, ServeApplication, StopJobResponse, SystemOperation,
    SystemStatus, Task, UpdateContainer, UpdateSystem,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A request body, encoded: its bytes and their `Content-Type`.
#[derive(Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The `Content-Type` header's value.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Encoded {
    /// `value` as `application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, String> {
        Ok(Encoded {
            content_type: "application/json".into(),
            bytes: serde_json::to_vec(value).map_err(|e| e.to_string())?,
        })
    }
}

/// What a request body encodes to (`None`: no body).
pub trait RequestBody {
    /// The encoded body; the error says why it could not be encoded.
    fn encode(&self) -> Result<Option<Encoded>, String>;
}

impl RequestBody for () {
    fn encode(&self) -> Result<Option<Encoded>, String> {
        Ok(None)
    }
}

macro_rules! json_bodies {
    ($($t:ty),* $(,)?) => {$(
        impl RequestBody for $t {
            fn encode(&self) -> Result<Option<Encoded>, String> {
                Encoded::json(self).map(Some)
            }
        }
    )*};
}

json_bodies!(
    Value,
    CreatePluginRelease,
    RunPluginRelease,
    RunDebugPluginRelease,
    FeasibilityRequest,
    UpdateSystem,
    CreateDockerContainer,
    UpdateContainer,
);

impl RequestBody for CreateContainer {
    /// JSON, or multipart/form-data when a plugin file is uploaded: every other
    /// field a form field (strings as they are, the rest as JSON), the file last.
    fn encode(&self) -> Result<Option<Encoded>, String> {
        let Some(file) = &self.plugin_file else {
            return Encoded::json(self).map(Some);
        };
        let fields = match serde_json::to_value(self).map_err(|e| e.to_string())? {
            Value::Object(map) => map,
            _ => return Err("a container's fields must be an object".into()),
        };
        let mut form = Multipart::new();
        for (name, value) in &fields {
            match value {
                Value::String(s) => form.text(name, s),
                other => form.text(name, &other.to_string()),
            };
        }
        form.file(
            "plugin_file",
            &file.filename,
            &file.content_type,
            &file.bytes,
        );
        Ok(Some(form.finish()))
    }
}

/// Marks an operation whose answer is a stream of log lines (a tail): no
/// [`Answer`], so a tail cannot be read as one JSON answer by mistake.
#[derive(Debug)]
pub enum Streamed {}

/// How an answer's bytes become its type.
pub trait Answer: Sized {
    /// Decodes the body of a successful answer.
    fn from_body(body: &[u8]) -> Result<Self, ClientError>;
}

/// JSON, an empty body read as `null` (so that `Option` and defaults work).
fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ClientError::Decode {
        message: format!(
            "{e}; the answer began with {:?}",
            String::from_utf8_lossy(&body[..body.len().min(120)])
        ),
    })
}

macro_rules! json_answers {
    ($($t:ty),* $(,)?) => {$(
        impl Answer for $t {
            fn from_body(body: &[u8]) -> Result<Self, ClientError> {
                json(body)
            }
        }
    )*};
}

json_answers!(
    Value,
    Health,
    Job,
    StopJobResponse,
    GpuStatus,
    Node,
    Task,
    ServeApplication,
    PluginRelease,
    ClusterResources,
    Feasibility,
    GatekeepingPolicy,
    RuntimePolicy,
    ComposeConfig,
    SystemStatus,
    SystemOperation,
    BuildStatus,
    DockerContainer,
    Container,
);

impl<T: DeserializeOwned> Answer for Vec<T> {
    fn from_body(body: &[u8]) -> Result<Self, ClientError> {
        json(body)
    }
}

impl<T: DeserializeOwned> Answer for Page<T> {
    fn from_body(body: &[u8]) -> Result<Self, ClientError> {
        json(body)
    }
}

impl Answer for () {
    /// Whatever the body (deletes answer `204` or a small object): nothing to read.
    fn from_body(_: &[u8]) -> Result<Self, ClientError> {
        Ok(())
    }
}

/// Any answer as JSON, as a raw request reads it: JSON as it is, an empty body as
/// `null`, and a body that is not JSON as a JSON string of its text (a plain-text
/// log, an HTML error page).
///
/// ```
/// use agent_proto::api::{Answer, JsonOrText};
/// assert_eq!(JsonOrText::from_body(b"{\"a\":1}").unwrap().0, serde_json::json!({"a": 1}));
/// assert_eq!(JsonOrText::from_body(b"plain").unwrap().0, "plain");
/// assert!(JsonOrText::from_body(b" ").unwrap().0.is_null());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JsonOrText(pub Value);

impl Answer for JsonOrText {
    fn from_body(body: &[u8]) -> Result<Self, ClientError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonOrText(Value::Null));
        }
        Ok(JsonOrText(serde_json::from_slice(body).unwrap_or_else(
            |_| Value::String(String::from_utf8_lossy(body).into_owned()),
        )))
    }
}

impl Answer for String {
    /// A job's log: a JSON string, a `{"logs": "..."}` object, or plain text.
    fn from_body(body: &[u8]) -> Result<Self, ClientError> {
        Ok(match serde_json::from_slice::<Value>(body) {
            Ok(Value::String(s)) => s,
            Ok(Value::Object(map)) => match map.get("logs") {
                Some(Value::String(s)) => s.clone(),
                _ => Value::Object(map).to_string(),
            },
            _ => String::from_utf8_lossy(body).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_accept_every_shape() {
        let log = |b: &[u8]| String::from_body(b).unwrap();
        assert_eq!(log(br#""a\nb""#), "a\nb");
        assert_eq!(log(br#"{"logs":"x\n"}"#), "x\n");
        assert_eq!(log(b"plain\ntext"), "plain\ntext");
        assert_eq!(log(b""), "");
    }

    #[test]
    fn an_empty_answer_is_null() {
        assert_eq!(Value::from_body(b" ").unwrap(), Value::Null);
        assert_eq!(<()>::from_body(b"{}").unwrap(), ());
        let e = Job::from_body(b"<html>").unwrap_err();
        assert!(e.to_string().contains("<html>"), "{e}");
    }
}
