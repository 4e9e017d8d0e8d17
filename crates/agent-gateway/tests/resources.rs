//! What the gateway answers of the SDK's platform: cluster resources and
//! feasibility from Ray's node totals and usage report (a stand-in Ray answering
//! the recorded State API nodes of fixtures/ray/nodes.json), and a 501 naming
//! the feature for what Ray has no counterpart of, never a 404.

mod support;

use agent_client_async::api::OperationId;
use agent_client_async::{
    CreateContainer, CreateDockerContainer, FeasibilityRequest, UpdateSystem,
};
use agent_gateway::GatewayConfig;
use support::standin::{self, State};
use support::{standin_client, standin_gateway};

/// Ray 2.60's `/api/cluster_status` shape, usage as `[used, total]` (written
/// here, not recorded: only `loadMetricsReport.usage` is read).
const CLUSTER_STATUS: &str = r#"{"result": true, "msg": "Got cluster status.", "data": {
  "autoscalingStatus": null, "autoscalingError": null,
  "clusterStatus": {"loadMetricsReport": {"usage": {
    "CPU": [1.0, 2.0], "memory": [0.0, 24606080512.0], "object_store_memory": [0.0, 200000000.0]
  }}}}}"#;

fn nodes_fixture() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/ray/nodes.json");
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_feasibility_come_from_ray() {
    let (ray, address, _server) = standin::start(State::default()).await;
    ray.answer("api/v0/nodes", 200, nodes_fixture());
    ray.answer("api/cluster_status", 200, CLUSTER_STATUS);
    ray.answer(
        "api/jobs",
        200,
        r#"[{"submission_id": "raysubmit_a", "status": "RUNNING"}]"#,
    );
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let c = standin_client(gw.url(), "tok");

    let r = c.get_cluster_resources(true).await.unwrap();
    assert_eq!((r.cpu.total, r.cpu.used, r.cpu.available), (2.0, 1.0, 1.0));
    assert_eq!(r.memory.total, 24606080512.0);
    assert_eq!(r.object_store.as_ref().unwrap().total, 200000000.0);
    assert_eq!(r.gpu.total_gpus, 0.0);
    assert_eq!(r.running_jobs, 1);
    assert_eq!(r.node_counts.alive, 1);
    assert!(r.nodes[0].is_head_node);
    assert_eq!(r.extra["usage_known"], true);

    let fits = c
        .check_feasibility(&FeasibilityRequest::new("job", 1.0))
        .await
        .unwrap();
    assert!(fits.feasible, "{fits:?}");
    let too_big = c
        .check_feasibility(&FeasibilityRequest::new("job", 1.0).replicas(2))
        .await
        .unwrap();
    assert!(!too_big.feasible);
    assert!(too_big.reasons[0].contains("CPU"), "{too_big:?}");
    let no_gpu = c
        .check_feasibility(&FeasibilityRequest::new("serve", 0.5).num_gpus(1.0))
        .await
        .unwrap();
    assert!(!no_gpu.feasible);

    // without a usage report, totals read as available, and the answer says so
    ray.answer("api/cluster_status", 404, "Not Found");
    let r = c.get_cluster_resources(false).await.unwrap();
    assert_eq!(r.cpu.available, 2.0);
    assert_eq!(r.extra["usage_known"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_ray_cannot_answer_is_a_501_naming_the_feature() {
    let (_ray, address, _server) = standin::start(State::default()).await;
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let c = standin_client(gw.url(), "tok");
    let cases = [
        (
            c.get_system_status().await.unwrap_err(),
            "system operations",
            OperationId::GetSystemStatus,
        ),
        (
            c.update_system(&UpdateSystem::default()).await.unwrap_err(),
            "system operations",
            OperationId::UpdateSystem,
        ),
        (
            c.get_gatekeeping_policy().await.unwrap_err(),
            "resource policies",
            OperationId::GetPolicy,
        ),
        (
            c.get_build_status("b1").await.unwrap_err(),
            "container builds",
            OperationId::GetBuildStatus,
        ),
        (
            c.list_docker_containers().await.unwrap_err(),
            "Docker containers",
            OperationId::ListDockerContainers,
        ),
        (
            c.create_docker_container(&CreateDockerContainer::new("demo@1.0.0"))
                .await
                .unwrap_err(),
            "Docker containers",
            OperationId::CreateDockerContainer,
        ),
        (
            c.create_container(&CreateContainer::release("demo@1.0.0"))
                .await
                .unwrap_err(),
            "plugin containers",
            OperationId::CreateContainer,
        ),
        (
            c.list_containers(&[] as &[(&str, &str)]).await.unwrap_err(),
            "plugin containers",
            OperationId::ListContainers,
        ),
    ];
    for (e, feature, op) in cases {
        assert_eq!(e.status_code(), 501, "{op:?}: {e}");
        let text = e.to_string();
        assert!(text.contains(feature), "{op:?}: {text}");
        assert!(text.contains(op.name()), "{op:?}: {text}");
    }
}
