//! The sample cluster's platform: its policy, system, builds, Docker containers
//! and plugin containers, with real state. What a test creates is listed; starts
//! and stops change a container's status; a build moves one step each time it is
//! read (`pending`, `running`, then `completed` or `failed`), so a wait ends
//! without a clock; a restart or an update is over after two status reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use agent_proto::query::{page_link, pairs};
use agent_proto::{ClusterResources, Feasibility, FeasibilityRequest, RuntimePolicy};
use serde_json::{json, Map, Value};

use crate::serve::{BackendError, BackendResult, UploadedFile};
use crate::util::lock;

/// The default page size of a paginated list.
const PAGE_SIZE: usize = 20;

/// Status reads a restart or an update lasts.
const SYSTEM_STEPS: u32 = 2;

/// The image tag the sample system runs until updated.
const SAMPLE_TAG: &str = "2026.2.17";

/// Page `page` of `items` under `route` (`?page=&page_size=`; other parameters
/// filter on the items' fields, an item without the field passing), as the
/// agent's paginated lists answer: `{"count", "next", "previous", "results"}`.
pub(crate) fn paginate(query: Option<&str>, items: &[Value], route: &str) -> BackendResult<Value> {
    let mut page = 1usize;
    let mut size = PAGE_SIZE;
    let mut filters = Vec::new();
    for (k, v) in pairs(query) {
        match k.as_str() {
            "page" => {
                page = v
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| BackendError::detail(404, "Invalid page."))?
            }
            "page_size" => size = v.parse().ok().filter(|s| *s >= 1).unwrap_or(PAGE_SIZE),
            _ => filters.push((k, v)),
        }
    }
    let all: Vec<&Value> = items
        .iter()
        .filter(|r| {
            filters.iter().all(|(k, v)| match r.get(k) {
                Some(Value::String(s)) => s == v,
                Some(other) => v.as_str() == other.to_string().as_str(),
                None => true,
            })
        })
        .collect();
    let count = all.len();
    let pages = count.div_ceil(size).max(1);
    if page > pages {
        return Err(BackendError::detail(404, "Invalid page."));
    }
    let results: Vec<Value> = all
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    // Relative to the API's base, as the gateway's: never from the caller's `Host`.
    let link = |p: usize| page_link("", route, &filters, p, size);
    let next = (page < pages).then(|| link(page + 1));
    let previous = (page > 1).then(|| link(page - 1));
    Ok(json!({ "count": count, "next": next, "previous": previous, "results": results }))
}

/// A build: how it will end, and how far it got.
struct Build {
    container: u64,
    /// `Err(why)` when it will fail.
    outcome: Result<(), String>,
    reads: u32,
}

/// What a restart or an update is doing, and for how many more status reads.
struct SystemPhase {
    status: &'static str,
    reads_left: u32,
}

/// The platform's state.
pub(crate) struct Platform {
    policy: Mutex<Value>,
    system: Mutex<Option<SystemPhase>>,
    tags: Mutex<(String, String)>,
    docker: Mutex<Vec<Value>>,
    containers: Mutex<Vec<Value>>,
    builds: Mutex<HashMap<String, Build>>,
    next_id: AtomicU64,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            policy: Mutex::new(
                serde_json::to_value(RuntimePolicy::default()).unwrap_or(Value::Null),
            ),
            system: Mutex::new(None),
            tags: Mutex::new((SAMPLE_TAG.to_owned(), SAMPLE_TAG.to_owned())),
            docker: Mutex::new(Vec::new()),
            containers: Mutex::new(Vec::new()),
            builds: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        }
    }
}

fn object(body: Value) -> Map<String, Value> {
    match body {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn not_found(what: &str, id: &str) -> BackendError {
    BackendError::detail(404, format!("{what} {id} not found"))
}

/// A 422 for a body that does not read as the model the route takes.
fn invalid(e: serde_json::Error) -> BackendError {
    BackendError::validation(vec![json!("body")], e.to_string(), "value_error")
}

impl Platform {
    fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The runtime policy in force (the stored object, read with the SDK's defaults).
    fn runtime_policy(&self) -> RuntimePolicy {
        serde_json::from_value(lock(&self.policy).clone()).unwrap_or_default()
    }

    // -- resources ------------------------------------------------------------------

    /// The cluster's resources: the nodes' totals, one CPU used per running job
    /// (read as Ray's usage report would give it).
    fn snapshot(nodes: &[Value], running_jobs: u64) -> ClusterResources {
        let usage = json!({ "CPU": [running_jobs as f64, 0.0] });
        let mut snapshot = ClusterResources::from_ray(nodes, usage.as_object());
        snapshot.running_jobs = running_jobs;
        snapshot
    }

    pub(crate) fn resources(&self, nodes: &[Value], running_jobs: u64) -> Value {
        serde_json::to_value(Self::snapshot(nodes, running_jobs)).unwrap_or(Value::Null)
    }

    pub(crate) fn feasibility(
        &self,
        nodes: &[Value],
        running_jobs: u64,
        body: Value,
    ) -> BackendResult<Value> {
        let request: FeasibilityRequest = serde_json::from_value(body).map_err(invalid)?;
        let snapshot = Self::snapshot(nodes, running_jobs);
        let answer = Feasibility::evaluate(&snapshot, &request, &self.runtime_policy());
        Ok(serde_json::to_value(answer).unwrap_or(Value::Null))
    }

    pub(crate) fn policy(&self) -> Value {
        lock(&self.policy).clone()
    }

    /// Merges `patch` into the policy, keeping it readable as the runtime policy.
    pub(crate) fn patch_policy(&self, patch: Value) -> BackendResult<Value> {
        let mut policy = lock(&self.policy);
        let mut merged = object(policy.clone());
        merged.extend(object(patch));
        let merged = Value::Object(merged);
        serde_json::from_value::<RuntimePolicy>(merged.clone()).map_err(invalid)?;
        *policy = merged.clone();
        Ok(merged)
    }

    // -- system ---------------------------------------------------------------------

    pub(crate) fn compose_config(&self) -> Value {
        let tags = lock(&self.tags);
        json!({
            "version": "3.8",
            "services": {
                "api": { "image": format!("synapse/agent-api:{}", tags.0), "restart": "always" },
                "worker": { "image": format!("synapse/agent-worker:{}", tags.1), "restart": "always" },
            }
        })
    }

    pub(crate) fn system_status(&self) -> Value {
        let mut phase = lock(&self.system);
        let busy = match phase.as_mut() {
            Some(p) if p.reads_left > 0 => {
                p.reads_left -= 1;
                Some(p.status)
            }
            _ => None,
        };
        if busy.is_none() {
            *phase = None;
        }
        let tags = lock(&self.tags);
        json!({
            "status": busy.unwrap_or("ready"),
            "ready": busy.is_none(),
            "services": {
                "api": { "image_tag": tags.0, "state": if busy.is_some() { "starting" } else { "running" } },
                "worker": { "image_tag": tags.1, "state": if busy.is_some() { "starting" } else { "running" } },
            }
        })
    }

    fn begin(&self, status: &'static str) {
        *lock(&self.system) = Some(SystemPhase {
            status,
            reads_left: SYSTEM_STEPS,
        });
    }

    pub(crate) fn update_system(&self, body: Value) -> BackendResult<Value> {
        let body = object(body);
        let tag = |k: &str| match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(BackendError::validation(
                vec![json!("body"), json!(k)],
                "Input should be a non-empty string",
                "string_type",
            )),
        };
        let (api, worker) = (tag("api_tag")?, tag("worker_tag")?);
        {
            let mut tags = lock(&self.tags);
            if let Some(t) = api {
                tags.0 = t;
            }
            if let Some(t) = worker {
                tags.1 = t;
            }
        }
        self.begin("updating");
        Ok(json!({ "status": "success", "message": "Pulling images and recreating the services" }))
    }

    pub(crate) fn restart_system(&self) -> Value {
        self.begin("restarting");
        json!({ "status": "success", "message": "Restarting the services" })
    }

    // -- builds ---------------------------------------------------------------------

    /// Reads a build, moving it one step on.
    pub(crate) fn build_status(&self, id: &str) -> BackendResult<Value> {
        let mut builds = lock(&self.builds);
        let build = builds.get_mut(id).ok_or_else(|| not_found("Build", id))?;
        build.reads = build.reads.saturating_add(1);
        let (status, error) = match (build.reads, &build.outcome) {
            (1, _) => ("pending", None),
            (2, _) => ("running", None),
            (_, Ok(())) => ("completed", None),
            (_, Err(why)) => ("failed", Some(why.clone())),
        };
        let container = build.container;
        drop(builds);
        let result = match status {
            "completed" => self.set_container_status(container, "running"),
            "failed" => {
                self.set_container_status(container, "failed");
                None
            }
            _ => None,
        };
        Ok(json!({ "build_id": id, "status": status, "result": result, "error": error }))
    }

    fn set_container_status(&self, id: u64, status: &str) -> Option<Value> {
        let mut containers = lock(&self.containers);
        let c = containers
            .iter_mut()
            .find(|c| c.get("id").and_then(Value::as_u64) == Some(id))?;
        c["status"] = json!(status);
        Some(c.clone())
    }

    // -- Docker containers ------------------------------------------------------------

    pub(crate) fn docker_list(&self) -> Value {
        Value::Array(lock(&self.docker).clone())
    }

    pub(crate) fn docker_create(&self, body: Value) -> Value {
        let body = object(body);
        let release = body
            .get("plugin_release")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let n = self.fresh_id();
        let code = release.split('@').next().unwrap_or("plugin");
        let container = json!({
            "id": format!("{n:012x}"),
            "name": format!("plugin-{code}-{n}"),
            "image": format!("synapse/plugin:{}", release.replace('@', "-")),
            "status": "running",
            "labels": { "synapse.plugin_release": release },
            "envs": body.get("envs").cloned().unwrap_or(Value::Null),
            "metadata": body.get("metadata").cloned().unwrap_or(Value::Null),
        });
        lock(&self.docker).push(container.clone());
        container
    }

    pub(crate) fn docker_get(&self, id: &str) -> BackendResult<Value> {
        lock(&self.docker)
            .iter()
            .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
            .cloned()
            .ok_or_else(|| not_found("Container", id))
    }

    pub(crate) fn docker_set_status(&self, id: &str, status: &str) -> BackendResult<Value> {
        let mut docker = lock(&self.docker);
        let c = docker
            .iter_mut()
            .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| not_found("Container", id))?;
        c["status"] = json!(status);
        Ok(c.clone())
    }

    pub(crate) fn docker_delete(&self, id: &str) -> BackendResult<()> {
        let mut docker = lock(&self.docker);
        let before = docker.len();
        docker.retain(|c| c.get("id").and_then(Value::as_str) != Some(id));
        if docker.len() == before {
            return Err(not_found("Container", id));
        }
        Ok(())
    }

    // -- plugin containers -------------------------------------------------------------

    pub(crate) fn containers_page(&self, query: Option<&str>, route: &str) -> BackendResult<Value> {
        paginate(query, &lock(&self.containers), route)
    }

    /// A new container and its build; the build will fail when the release is not
    /// one of `releases` (given as `code@version`) and no file came, or the file
    /// is empty.
    pub(crate) fn container_create(
        &self,
        fields: Value,
        file: Option<UploadedFile>,
        known_release: bool,
    ) -> Value {
        let mut fields = object(fields);
        let id = self.fresh_id();
        let build_id = format!("build-{id}");
        let outcome = match &file {
            Some(f) if f.bytes.is_empty() => {
                Err(format!("the plugin file {:?} is empty", f.filename))
            }
            Some(_) => Ok(()),
            None if known_release => Ok(()),
            None => Err(format!(
                "plugin release {} not found",
                fields
                    .get("plugin_release")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            )),
        };
        if let Some(f) = &file {
            fields.insert(
                "plugin_file".into(),
                json!({ "filename": f.filename, "size": f.bytes.len() }),
            );
        }
        fields.insert("id".into(), json!(id));
        fields.insert("status".into(), json!("building"));
        fields.insert("build_id".into(), json!(build_id));
        let container = Value::Object(fields);
        lock(&self.containers).push(container.clone());
        lock(&self.builds).insert(
            build_id,
            Build {
                container: id,
                outcome,
                reads: 0,
            },
        );
        container
    }

    fn position(containers: &[Value], id: &str) -> Option<usize> {
        containers
            .iter()
            .position(|c| c.get("id").map(|v| v.to_string()).as_deref() == Some(id))
    }

    pub(crate) fn container_get(&self, id: &str) -> BackendResult<Value> {
        let containers = lock(&self.containers);
        Self::position(&containers, id)
            .map(|i| containers[i].clone())
            .ok_or_else(|| not_found("Container", id))
    }

    pub(crate) fn container_update(&self, id: &str, body: Value) -> BackendResult<Value> {
        let mut containers = lock(&self.containers);
        let i = Self::position(&containers, id).ok_or_else(|| not_found("Container", id))?;
        let mut patch = object(body);
        patch.remove("id");
        if let Some(c) = containers[i].as_object_mut() {
            c.extend(patch);
        }
        Ok(containers[i].clone())
    }

    pub(crate) fn container_delete(&self, id: &str) -> BackendResult<()> {
        let mut containers = lock(&self.containers);
        let i = Self::position(&containers, id).ok_or_else(|| not_found("Container", id))?;
        containers.remove(i);
        Ok(())
    }
}
