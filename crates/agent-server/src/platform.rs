//! Serving the SDK's other operations (resources, system, builds, containers):
//! their bodies checked, a multipart upload read with bounds, and each answered
//! from the backend (whose default is a 501 naming the feature).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::backend::{AgentBackend, BackendError, RequestContext, UploadedFile};
use crate::body::{empty, json_response, ResBody};
use crate::route::Route;
use crate::server::json_body;
use agent_proto::api::multipart::{self, ParseLimits};

/// A body that must be a JSON object, or nothing (then `{}`).
fn object_or_empty(body: &Bytes) -> Result<Value, BackendError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    json_body(body, &[])
}

/// The fields and the file of `POST containers/`: a JSON object, or a
/// multipart/form-data form (text fields become the object's strings, the part
/// named `plugin_file` the file). The body is already bounded by the route's cap;
/// parts and their headers are bounded here.
fn container_upload(
    body: &Bytes,
    content_type: Option<&str>,
) -> Result<(Value, Option<UploadedFile>), BackendError> {
    let is_form = content_type.is_some_and(|ct| multipart::boundary(ct).is_some());
    let (fields, file) = if is_form {
        let parts = multipart::parse(content_type.unwrap_or(""), body, ParseLimits::default())
            .map_err(|e| BackendError::detail(400, e.to_string()))?;
        let mut fields = Map::new();
        let mut file = None;
        for part in parts {
            if part.name == "plugin_file" {
                file = Some(UploadedFile {
                    filename: part.filename.unwrap_or_default(),
                    content_type: part.content_type,
                    bytes: Bytes::from(part.data),
                });
            } else {
                let text = String::from_utf8_lossy(&part.data).into_owned();
                fields.insert(part.name, Value::String(text));
            }
        }
        (Value::Object(fields), file)
    } else {
        (json_body(body, &[])?, None)
    };
    let named = fields
        .get("plugin_release")
        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    if !named && file.is_none() {
        return Err(BackendError::validation(
            vec![json!("body"), json!("plugin_release")],
            "either plugin_release or plugin_file is required",
            "missing",
        ));
    }
    Ok((fields, file))
}

/// Answers one of the operations of this module; `None` for any other route.
pub(crate) async fn dispatch(
    b: &dyn AgentBackend,
    ctx: &RequestContext,
    route: &Route,
    body: &Bytes,
    content_type: Option<&str>,
) -> Option<Result<Response<ResBody>, BackendError>> {
    let ok = |v: Value| json_response(StatusCode::OK, &v);
    let created = |v: Value| json_response(StatusCode::CREATED, &v);
    let no_content = || {
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    };
    let answer = async {
        Ok(Some(match route {
            Route::GetClusterResources => ok(b.cluster_resources(ctx).await?),
            Route::CheckFeasibility => ok(b
                .check_feasibility(ctx, json_body(body, &["kind"])?)
                .await?),
            Route::GetPolicy => ok(b.get_policy(ctx).await?),
            Route::UpdatePolicy => ok(b.update_policy(ctx, json_body(body, &[])?).await?),
            Route::GetComposeConfig => ok(b.compose_config(ctx).await?),
            Route::GetSystemStatus => ok(b.system_status(ctx).await?),
            Route::UpdateSystem => ok(b.update_system(ctx, object_or_empty(body)?).await?),
            Route::RestartSystem => ok(b.restart_system(ctx).await?),
            Route::GetBuildStatus(id) => ok(b.build_status(ctx, id).await?),
            Route::ListDockerContainers => ok(b.list_docker_containers(ctx).await?),
            Route::CreateDockerContainer => {
                let body = json_body(body, &["plugin_release"])?;
                created(b.create_docker_container(ctx, body).await?)
            }
            Route::GetDockerContainer(id) => ok(b.get_docker_container(ctx, id).await?),
            Route::DeleteDockerContainer(id) => {
                b.delete_docker_container(ctx, id).await?;
                no_content()
            }
            Route::StartDockerContainer(id) => ok(b.start_docker_container(ctx, id).await?),
            Route::StopDockerContainer(id) => ok(b.stop_docker_container(ctx, id).await?),
            Route::ListContainers => ok(b.list_containers(ctx).await?),
            Route::CreateContainer => {
                let (fields, file) = container_upload(body, content_type)?;
                created(b.create_container(ctx, fields, file).await?)
            }
            Route::GetContainer(id) => ok(b.get_container(ctx, id).await?),
            Route::UpdateContainer(id) => {
                ok(b.update_container(ctx, id, json_body(body, &[])?).await?)
            }
            Route::DeleteContainer(id) => {
                b.delete_container(ctx, id).await?;
                no_content()
            }
            _ => return Ok(None),
        }))
    };
    answer.await.transpose()
}
