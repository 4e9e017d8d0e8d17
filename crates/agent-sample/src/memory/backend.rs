//! The agent operations answered from the in-memory cluster.

use std::sync::Arc;

use agent_proto::{
    BuildId, ContainerId, DockerContainerId, JobId, NodeId, PluginLookup, ServeAppName, TaskId,
};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::memory::cluster::{Cluster, RunRequest};
use crate::memory::job::JobEntry;
use crate::memory::platform::paginate;
use crate::serve::{
    AgentBackend, BackendError, BackendResult, LogBody, LogStart, RequestContext, RouteKind,
    TailAt, TailProtocol, TailStream, UploadedFile,
};
use crate::util::lock;

/// How many lines of a log one piece of a `jobs/{id}/logs/` answer holds.
const LOG_BATCH: u64 = 256;

/// The log of `j` so far from line index `from`, read by index a batch at a time as
/// the answer is sent: a large log is never copied whole, and the lines before
/// `from` are never read.
fn log_from(j: Arc<JobEntry>, from: u64) -> LogBody {
    let end = j.log_len();
    let pieces = futures_util::stream::unfold(from, move |from| {
        let j = Arc::clone(&j);
        async move {
            (from < end).then(|| {
                let n = LOG_BATCH.min(end - from);
                (Ok(Bytes::from(j.log_text_of(from, n))), from + n)
            })
        }
    });
    LogBody::wrap_stream(pieces)
}

/// The in-memory backend of the test server.
pub(crate) struct MemoryBackend {
    pub(crate) cluster: Arc<Cluster>,
}

fn no_job(id: &JobId) -> BackendError {
    // Ray answers unknown jobs in plain text
    BackendError::text(404, format!("Job {id} does not exist"))
}

fn find_by(list: &[Value], key: &str, id: &str) -> Option<Value> {
    list.iter()
        .find(|v| v.get(key).and_then(Value::as_str) == Some(id))
        .cloned()
}

fn release_matches(release: &Value, lookup: &str) -> bool {
    let id = release.get("id").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if id.as_deref() == Some(lookup) {
        return true;
    }
    let Some((code, version)) = lookup.split_once('@') else {
        return false;
    };
    let field = |k: &str| release.get(k).and_then(Value::as_str);
    (field("code") == Some(code) || field("plugin") == Some(code))
        && field("version") == Some(version)
}

fn release_not_found() -> BackendError {
    BackendError::detail(404, "Not found.")
}

#[async_trait]
impl AgentBackend for MemoryBackend {
    async fn health(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(lock(&self.cluster.health).clone())
    }

    async fn list_jobs(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(Value::Array(
            self.cluster.jobs().iter().map(|j| j.info()).collect(),
        ))
    }

    async fn get_job(&self, _ctx: &RequestContext, job: &JobId) -> BackendResult<Value> {
        let j = self.cluster.job(job.as_str()).ok_or_else(|| no_job(job))?;
        Ok(j.info())
    }

    async fn job_logs(&self, _ctx: &RequestContext, job: &JobId) -> BackendResult<LogBody> {
        let j = self.cluster.job(job.as_str()).ok_or_else(|| no_job(job))?;
        Ok(log_from(j, 0))
    }

    async fn job_logs_last(
        &self,
        _ctx: &RequestContext,
        job: &JobId,
        n: u64,
    ) -> BackendResult<LogBody> {
        let j = self.cluster.job(job.as_str()).ok_or_else(|| no_job(job))?;
        let from = j.log_len().saturating_sub(n);
        Ok(log_from(j, from))
    }

    async fn stop_job(&self, _ctx: &RequestContext, job: &JobId) -> BackendResult<Value> {
        let j = self.cluster.job(job.as_str()).ok_or_else(|| no_job(job))?;
        Ok(json!({ "stopped": j.stop() }))
    }

    async fn tail(
        &self,
        _ctx: &RequestContext,
        job: &JobId,
        protocol: TailProtocol,
    ) -> BackendResult<TailStream> {
        let j = self.cluster.job(job.as_str()).ok_or_else(|| no_job(job))?;
        Ok(self.cluster.tail(j, 0, protocol).events)
    }

    async fn tail_at(
        &self,
        _ctx: &RequestContext,
        job: &JobId,
        protocol: TailProtocol,
        start: LogStart,
    ) -> BackendResult<TailAt> {
        let j = self.cluster.job(job.as_str()).ok_or_else(|| no_job(job))?;
        // the log is indexed: the tail starts right at the line asked for
        let from = match start {
            LogStart::Line(k) => k.saturating_sub(1),
            LogStart::Last(n) => j.log_len().saturating_sub(n),
        };
        Ok(self.cluster.tail(j, from, protocol))
    }

    async fn list_nodes(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(Value::Array(lock(&self.cluster.nodes).clone()))
    }

    async fn get_node(&self, _ctx: &RequestContext, node: &NodeId) -> BackendResult<Value> {
        find_by(&lock(&self.cluster.nodes), "node_id", node.as_str())
            .ok_or_else(|| BackendError::detail(404, format!("Node {node} not found")))
    }

    async fn list_tasks(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(Value::Array(lock(&self.cluster.tasks).clone()))
    }

    async fn get_task(&self, _ctx: &RequestContext, task: &TaskId) -> BackendResult<Value> {
        find_by(&lock(&self.cluster.tasks), "task_id", task.as_str())
            .ok_or_else(|| BackendError::detail(404, format!("Task {task} not found")))
    }

    async fn list_serve_applications(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(Value::Array(lock(&self.cluster.serve_apps).clone()))
    }

    async fn get_serve_application(
        &self,
        _ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<Value> {
        find_by(&lock(&self.cluster.serve_apps), "name", name.as_str())
            .ok_or_else(|| BackendError::detail(404, format!("Application {name} not found")))
    }

    async fn delete_serve_application(
        &self,
        _ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<()> {
        let mut apps = lock(&self.cluster.serve_apps);
        let before = apps.len();
        apps.retain(|a| a.get("name").and_then(Value::as_str) != Some(name.as_str()));
        if apps.len() == before {
            return Err(BackendError::detail(
                404,
                format!("Application {name} not found"),
            ));
        }
        Ok(())
    }

    async fn list_plugin_releases(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let route = RouteKind::ListPluginReleases.template();
        paginate(ctx.query.as_deref(), &lock(&self.cluster.releases), route)
    }

    async fn get_plugin_release(
        &self,
        _ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<Value> {
        lock(&self.cluster.releases)
            .iter()
            .find(|r| release_matches(r, lookup.as_str()))
            .cloned()
            .ok_or_else(release_not_found)
    }

    async fn create_plugin_release(
        &self,
        _ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value> {
        let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let (plugin, version) = (field("plugin"), field("version"));
        let lookup = format!("{plugin}@{version}");
        if PluginLookup::new(lookup.clone()).is_err() {
            return Err(BackendError::json(
                400,
                json!({ "plugin": [format!("{lookup:?} is not a valid plugin@version")] }),
            ));
        }
        if lock(&self.cluster.releases)
            .iter()
            .any(|r| release_matches(r, &lookup))
        {
            return Err(BackendError::json(
                400,
                json!({ "non_field_errors": ["The fields plugin, version must make a unique set."] }),
            ));
        }
        let mut release = body;
        if let Some(obj) = release.as_object_mut() {
            obj.remove("id");
            obj.insert("code".into(), json!(plugin));
        }
        Ok(self.cluster.add_release(release))
    }

    async fn delete_plugin_release(
        &self,
        _ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<()> {
        let mut releases = lock(&self.cluster.releases);
        let before = releases.len();
        releases.retain(|r| !release_matches(r, lookup.as_str()));
        if releases.len() == before {
            return Err(release_not_found());
        }
        Ok(())
    }

    async fn run_plugin_release(
        &self,
        _ctx: &RequestContext,
        lookup: &PluginLookup,
        body: Value,
    ) -> BackendResult<Value> {
        let release = lock(&self.cluster.releases)
            .iter()
            .find(|r| release_matches(r, lookup.as_str()))
            .cloned()
            .ok_or_else(release_not_found)?;
        self.start_run(Some(release), body, false)
    }

    async fn run_debug_plugin_release(
        &self,
        _ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value> {
        self.start_run(None, body, true)
    }

    async fn gpu_status(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        if let Some(v) = lock(&self.cluster.gpu_status).clone() {
            return Ok(v);
        }
        let nodes = lock(&self.cluster.nodes).clone();
        let mut total = 0.0;
        let mut per_node = Vec::new();
        for n in &nodes {
            let gpus = n
                .get("resources_total")
                .and_then(|r| r.get("GPU"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            total += gpus;
            if gpus > 0.0 {
                per_node.push(json!({
                    "node_id": n.get("node_id"),
                    "node_ip": n.get("node_ip"),
                    "total_gpus": gpus,
                    "available_gpus": gpus,
                }));
            }
        }
        Ok(json!({
            "available": total > 0.0,
            "total_gpus": total,
            "available_gpus": total,
            "nodes": per_node,
        }))
    }

    async fn cluster_resources(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        let nodes = lock(&self.cluster.nodes).clone();
        Ok(self.cluster.platform.resources(&nodes, self.running_jobs()))
    }

    async fn check_feasibility(&self, _ctx: &RequestContext, body: Value) -> BackendResult<Value> {
        let nodes = lock(&self.cluster.nodes).clone();
        self.cluster
            .platform
            .feasibility(&nodes, self.running_jobs(), body)
    }

    async fn get_policy(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(self.cluster.platform.policy())
    }

    async fn update_policy(&self, _ctx: &RequestContext, patch: Value) -> BackendResult<Value> {
        self.cluster.platform.patch_policy(patch)
    }

    async fn compose_config(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(self.cluster.platform.compose_config())
    }

    async fn system_status(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(self.cluster.platform.system_status())
    }

    async fn update_system(&self, _ctx: &RequestContext, body: Value) -> BackendResult<Value> {
        self.cluster.platform.update_system(body)
    }

    async fn restart_system(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(self.cluster.platform.restart_system())
    }

    async fn build_status(&self, _ctx: &RequestContext, build: &BuildId) -> BackendResult<Value> {
        self.cluster.platform.build_status(build.as_str())
    }

    async fn list_docker_containers(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(self.cluster.platform.docker_list())
    }

    async fn create_docker_container(
        &self,
        _ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value> {
        Ok(self.cluster.platform.docker_create(body))
    }

    async fn get_docker_container(
        &self,
        _ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<Value> {
        self.cluster.platform.docker_get(container.as_str())
    }

    async fn delete_docker_container(
        &self,
        _ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<()> {
        self.cluster.platform.docker_delete(container.as_str())
    }

    async fn start_docker_container(
        &self,
        _ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<Value> {
        self.cluster
            .platform
            .docker_set_status(container.as_str(), "running")
    }

    async fn stop_docker_container(
        &self,
        _ctx: &RequestContext,
        container: &DockerContainerId,
    ) -> BackendResult<Value> {
        self.cluster
            .platform
            .docker_set_status(container.as_str(), "exited")
    }

    async fn list_containers(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let route = RouteKind::ListContainers.template();
        self.cluster
            .platform
            .containers_page(ctx.query.as_deref(), route)
    }

    async fn create_container(
        &self,
        _ctx: &RequestContext,
        fields: Value,
        file: Option<UploadedFile>,
    ) -> BackendResult<Value> {
        let known = fields
            .get("plugin_release")
            .and_then(Value::as_str)
            .is_some_and(|lookup| {
                lock(&self.cluster.releases)
                    .iter()
                    .any(|r| release_matches(r, lookup))
            });
        Ok(self.cluster.platform.container_create(fields, file, known))
    }

    async fn get_container(
        &self,
        _ctx: &RequestContext,
        container: &ContainerId,
    ) -> BackendResult<Value> {
        self.cluster.platform.container_get(container.as_str())
    }

    async fn update_container(
        &self,
        _ctx: &RequestContext,
        container: &ContainerId,
        body: Value,
    ) -> BackendResult<Value> {
        self.cluster
            .platform
            .container_update(container.as_str(), body)
    }

    async fn delete_container(
        &self,
        _ctx: &RequestContext,
        container: &ContainerId,
    ) -> BackendResult<()> {
        self.cluster.platform.container_delete(container.as_str())
    }
}

impl MemoryBackend {
    /// How many jobs are running now.
    fn running_jobs(&self) -> u64 {
        let running = self
            .cluster
            .jobs()
            .iter()
            .filter(|j| j.info().get("status").and_then(Value::as_str) == Some("RUNNING"))
            .count();
        u64::try_from(running).unwrap_or(u64::MAX)
    }

    fn start_run(&self, release: Option<Value>, body: Value, debug: bool) -> BackendResult<Value> {
        let job_id = match body.get("job_id") {
            None | Some(Value::Null) => self.cluster.fresh_job_id(),
            Some(Value::String(s)) => {
                if JobId::new(s.clone()).is_err() {
                    return Err(BackendError::validation(
                        vec![json!("body"), json!("job_id")],
                        "Invalid job id: 1 to 100 characters of [A-Za-z0-9_-]",
                        "value_error",
                    ));
                }
                if self.cluster.job(s).is_some() {
                    return Err(BackendError::detail(
                        400,
                        format!("Job with submission_id {s} already exists. Please use a different submission_id."),
                    ));
                }
                s.clone()
            }
            Some(_) => {
                return Err(BackendError::validation(
                    vec![json!("body"), json!("job_id")],
                    "Input should be a valid string",
                    "string_type",
                ))
            }
        };
        let req = RunRequest {
            job_id: job_id.clone(),
            release,
            action: body
                .get("action")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            body,
            debug,
        };
        let mut spec = self.cluster.run_job(&req);
        spec.id = job_id.clone();
        self.cluster
            .add_job(spec)
            .map_err(|e| BackendError::detail(400, e.to_string()))?;
        Ok(json!({ "job_id": job_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_match_by_id_or_code_at_version() {
        let r = json!({"id": 7, "plugin": "demo", "code": "demo", "version": "1.0.0"});
        assert!(release_matches(&r, "7"));
        assert!(release_matches(&r, "demo@1.0.0"));
        assert!(!release_matches(&r, "demo@1.0.1"));
        assert!(!release_matches(&r, "8"));
    }
}
