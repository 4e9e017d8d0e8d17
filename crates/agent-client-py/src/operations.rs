//! The Python package's requests, by operation: `_client.py` names an operation of
//! the description ([`agent_proto::api`]) by its SDK name (`get_job`,
//! `list_docker_containers`, ...) with its path segment, query and JSON body, and
//! the route, the segment's validation and the retries are the description's.
//! No route is written in Python.

use agent_client_async::AsyncAgentClient;
use agent_proto::api::{self, Call, JsonOrText, Operation, OperationId};
use agent_proto::{ClientError, CreateContainer, PluginFile};
use serde_json::Value;

/// The operation named `name` (its SDK name, [`OperationId::name`]) with `segment`
/// validated by its id type (a 400 otherwise). Tails stream and have no single
/// answer: they are refused (the package opens them with `Core.tail`).
pub fn operation(name: &str, segment: Option<String>) -> Result<Operation, ClientError> {
    let id = OperationId::from_name(name).ok_or_else(|| {
        ClientError::invalid("operation", format!("{name:?} is not an operation"))
    })?;
    if matches!(id, OperationId::TailWebSocket | OperationId::TailHttp) {
        return Err(ClientError::invalid(
            "operation",
            format!("{name} streams; open it as a tail"),
        ));
    }
    if segment.is_some() && id.segment_name().is_none() {
        return Err(ClientError::invalid(
            "operation",
            format!("{name} takes no id"),
        ));
    }
    id.with_segment(segment)
}

/// Every operation a `Core.op` call may name: `(name, method, path template)`,
/// the description's table as the package sees it (`_native.OPERATIONS`).
pub fn table() -> Vec<(&'static str, String, &'static str)> {
    OperationId::ALL
        .iter()
        .filter(|id| !matches!(id, OperationId::TailWebSocket | OperationId::TailHttp))
        .map(|id| (id.name(), id.method().to_string(), id.template()))
        .collect()
}

/// Sends `operation` with its query and JSON body; the answer as the agent's JSON
/// (a job's log as its text).
pub async fn send(
    client: &AsyncAgentClient,
    operation: Operation,
    query: &[(String, String)],
    body: Option<Value>,
) -> Result<Value, ClientError> {
    if let Operation::JobLogs(id) = operation {
        let log = client.call(api::get_job_logs(id).query(query)).await?;
        return Ok(Value::String(log));
    }
    // Read as the SDK reads it: JSON, or the text of a body that is not JSON.
    let call = Call::<Value, JsonOrText>::new(operation).query(query);
    let answer = match body {
        Some(body) => client.call(call.body(&body)).await?,
        None => client.call(call).await?,
    };
    Ok(answer.0)
}

/// `create_container` with a plugin archive: the fields (a JSON object, as the SDK
/// builds them) and the file, sent as multipart/form-data by the description's
/// `CreateContainer` body; the answer as the agent's JSON.
pub async fn create_container_with_file(
    client: &AsyncAgentClient,
    fields: Value,
    filename: String,
    bytes: Vec<u8>,
) -> Result<Value, ClientError> {
    let mut container: CreateContainer = serde_json::from_value(fields)
        .map_err(|e| ClientError::invalid("container", e.to_string()))?;
    if filename.is_empty() {
        return Err(ClientError::invalid("plugin_file", "has no file name"));
    }
    container.plugin_file = Some(PluginFile::new(filename, bytes));
    let call =
        Call::<CreateContainer, JsonOrText>::new(Operation::CreateContainer).body(&container);
    Ok(client.call(call).await?.0)
}
