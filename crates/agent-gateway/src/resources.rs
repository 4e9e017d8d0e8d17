//! What a Ray cluster can answer of `resources/`: the cluster's resources, from
//! Ray's node totals (State API) and its usage report (`/api/cluster_status`),
//! and the feasibility of a workload against them. The rest of the SDK's
//! platform (policies, system, builds, containers) has no Ray counterpart: the
//! serving layer's default answers it, a 501 naming the feature.

use crate::backend::to_backend;
use crate::ray::RayClient;
use agent_proto::{ClusterResources, Feasibility, FeasibilityRequest, RuntimePolicy};
use agent_server::{BackendError, BackendResult};
use serde_json::{json, Value};

/// The cluster's resources. A usage report Ray cannot give (an older Ray, a
/// head without the autoscaler) leaves use unknown, said by `usage_known: false`
/// (as `gpu_status/` does): totals are then read as all available.
pub(crate) async fn snapshot(ray: &RayClient) -> BackendResult<ClusterResources> {
    let nodes = ray.nodes().await.map_err(to_backend)?;
    let status = ray.cluster_status().await.ok();
    let usage = status
        .as_ref()
        .and_then(|s| s.pointer("/data/clusterStatus/loadMetricsReport/usage"))
        .and_then(Value::as_object);
    let mut snapshot = ClusterResources::from_ray(&nodes, usage);
    snapshot
        .extra
        .insert("usage_known".into(), json!(usage.is_some()));
    // running jobs, when Ray lists them (the snapshot stands without)
    if let Ok(Value::Array(jobs)) = ray.list_jobs().await {
        let running = jobs
            .iter()
            .filter(|j| j.get("status").and_then(Value::as_str) == Some("RUNNING"))
            .count();
        snapshot.running_jobs = u64::try_from(running).unwrap_or(u64::MAX);
    }
    Ok(snapshot)
}

/// GET `resources/cluster/`: always collected afresh (`use_cache` has nothing to
/// reuse here).
pub(crate) async fn cluster_resources(ray: &RayClient) -> BackendResult<Value> {
    let snapshot = snapshot(ray).await?;
    serde_json::to_value(snapshot).map_err(|e| BackendError::detail(500, e.to_string()))
}

/// POST `resources/feasibility/`: the workload against the cluster's free
/// resources. A gateway has no policy of its own: nothing is capped below 100%
/// and no job limit applies, so the answer is about resources alone.
pub(crate) async fn check_feasibility(ray: &RayClient, body: Value) -> BackendResult<Value> {
    let request: FeasibilityRequest = serde_json::from_value(body)
        .map_err(|e| BackendError::validation(vec![json!("body")], e.to_string(), "value_error"))?;
    let snapshot = snapshot(ray).await?;
    let resources_only = RuntimePolicy {
        max_concurrent_jobs: u64::MAX,
        cpu_max_utilization_percent: 100.0,
        memory_max_utilization_percent: 100.0,
        gpu_max_utilization_percent: 100.0,
        gpu_max_memory_percent: 100.0,
        ..RuntimePolicy::default()
    };
    let answer = Feasibility::evaluate(&snapshot, &request, &resources_only);
    serde_json::to_value(answer).map_err(|e| BackendError::detail(500, e.to_string()))
}
