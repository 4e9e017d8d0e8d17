//! The SDK's other operations (resources, policies, system, builds, Docker and
//! plugin containers, `exists`, `reset_connection`), from both clients, against
//! the test agent's sample cluster: the same scenario, the same checks.

mod common;

use agent_client_async::{
    api::OperationId, AsyncAgentClient, BuildStatus, ClientError, ClusterResources, ComposeConfig,
    Container, CreateContainer, CreateDockerContainer, DockerContainer, Feasibility,
    FeasibilityRequest, GatekeepingPolicy, Page, PluginFile, RuntimePolicy, SystemOperation,
    SystemStatus, TimeoutKind, UpdateContainer, UpdateSystem,
};
use agent_client_blocking::AgentClient;
use agent_testkit::sample::{GPU_NODE, PLUGIN_RELEASE};
use agent_testkit::{AgentTestServer, Fault, Limits, RouteKind};
use common::on_thread;
use serde_json::json;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(5);
const LONG: Duration = Duration::from_secs(30);

/// A plugin archive's bytes: every byte value, boundary-like text included.
fn archive() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    bytes.extend_from_slice(b"\r\n--agent-boundary-\r\n");
    bytes
}

/// What one client got.
#[derive(Debug)]
struct Results {
    resources: ClusterResources,
    feasible: Feasibility,
    too_many_gpus: Feasibility,
    default_policy: RuntimePolicy,
    patched: GatekeepingPolicy,
    runtime_after_patch: RuntimePolicy,
    gatekeeping_after_patch: GatekeepingPolicy,
    over_the_job_limit: Feasibility,
    ungated: RuntimePolicy,
    bad_patch: ClientError,
    compose: ComposeConfig,
    status_before: SystemStatus,
    restart: SystemOperation,
    status_restarting: SystemStatus,
    ready_after_restart: SystemStatus,
    update: SystemOperation,
    ready_after_update: SystemStatus,
    compose_after_update: ComposeConfig,
    docker_empty: Vec<DockerContainer>,
    docker_created: DockerContainer,
    docker_listed: Vec<DockerContainer>,
    docker_stopped: DockerContainer,
    docker_got_stopped: DockerContainer,
    docker_started: DockerContainer,
    docker_gone: ClientError,
    docker_after_delete: Vec<DockerContainer>,
    created: Container,
    build: BuildStatus,
    container_after_build: Container,
    failed_build: ClientError,
    uploaded: Container,
    uploaded_build: BuildStatus,
    first_page: Page<Container>,
    all: Vec<Container>,
    all_releases: usize,
    updated: Container,
    deleted_gone: ClientError,
    exists_running: bool,
    exists_none: bool,
    exists_wrong: ClientError,
    health_after_reset: bool,
}

const CONTAINERS: usize = 5;

async fn scenario_async(c: AsyncAgentClient) -> Results {
    let resources = c.get_cluster_resources(false).await.unwrap();
    let feasible = c
        .check_feasibility(&FeasibilityRequest::new("job", 2.0))
        .await
        .unwrap();
    let too_many_gpus = c
        .check_feasibility(&FeasibilityRequest::new("serve", 1.0).num_gpus(4.0))
        .await
        .unwrap();
    let default_policy = c.get_runtime_policy().await.unwrap();
    let patched = c
        .update_gatekeeping_policy(&json!({"max_concurrent_jobs": 1, "note": "night shift"}))
        .await
        .unwrap();
    let runtime_after_patch = c.get_runtime_policy().await.unwrap();
    let gatekeeping_after_patch = c.get_gatekeeping_policy().await.unwrap();
    let over_the_job_limit = c
        .check_feasibility(&FeasibilityRequest::new("job", 1.0))
        .await
        .unwrap();
    let ungated = c
        .update_runtime_policy(&json!({"gatekeeping_enabled": false}))
        .await
        .unwrap();
    let bad_patch = c
        .update_runtime_policy(&json!({"max_concurrent_jobs": "many"}))
        .await
        .unwrap_err();
    let compose = c.get_compose_config().await.unwrap();
    let status_before = c.get_system_status().await.unwrap();
    let restart = c.restart_system().await.unwrap();
    let status_restarting = c.get_system_status().await.unwrap();
    let ready_after_restart = c.wait_for_system_ready(LONG, TICK).await.unwrap();
    let update = c
        .update_system(&UpdateSystem::default().api_tag("2026.3.1"))
        .await
        .unwrap();
    let ready_after_update = c.wait_for_system_ready(LONG, TICK).await.unwrap();
    let compose_after_update = c.get_compose_config().await.unwrap();

    let docker_empty = c.list_docker_containers().await.unwrap();
    let docker_created = c
        .create_docker_container(&CreateDockerContainer::new(PLUGIN_RELEASE))
        .await
        .unwrap();
    let id = docker_created.id.clone();
    let docker_listed = c.list_docker_containers().await.unwrap();
    let docker_stopped = c.stop_docker_container(&id).await.unwrap();
    let docker_got_stopped = c.get_docker_container(&id).await.unwrap();
    let docker_started = c.start_docker_container(&id).await.unwrap();
    c.delete_docker_container(&id).await.unwrap();
    let docker_gone = c.get_docker_container(&id).await.unwrap_err();
    let docker_after_delete = c.list_docker_containers().await.unwrap();

    let created = c
        .create_container(&CreateContainer::release(PLUGIN_RELEASE))
        .await
        .unwrap();
    let build = c
        .wait_for_build(created.build_id.as_deref().unwrap(), LONG, TICK)
        .await
        .unwrap();
    let container_after_build = c.get_container(created.id_text().unwrap()).await.unwrap();
    let unknown = c
        .create_container(&CreateContainer::release("nope@9.9.9"))
        .await
        .unwrap();
    let failed_build = c
        .wait_for_build(unknown.build_id.as_deref().unwrap(), LONG, TICK)
        .await
        .unwrap_err();
    let mut upload = CreateContainer::upload(PluginFile::new("demo plugin.zip", archive()));
    upload.kind = Some("gradio".into());
    upload.params = Some(json!({"port": 7860}));
    let uploaded = c.create_container(&upload).await.unwrap();
    let uploaded_build = c
        .wait_for_build(uploaded.build_id.as_deref().unwrap(), LONG, TICK)
        .await
        .unwrap();
    for _ in 3..CONTAINERS {
        c.create_container(&CreateContainer::release(PLUGIN_RELEASE))
            .await
            .unwrap();
    }
    let first_page = c.list_containers(&[("page_size", "2")]).await.unwrap();
    let all = c.list_all_containers(&[("page_size", "2")]).await.unwrap();
    let all_releases = c
        .list_all_plugin_releases(&[("page_size", "1")])
        .await
        .unwrap()
        .len();
    let id = created.id_text().unwrap();
    let updated = c
        .update_container(&id, &UpdateContainer::status("stopped"))
        .await
        .unwrap();
    c.delete_container(&id).await.unwrap();
    let deleted_gone = c.get_container(&id).await.unwrap_err();

    let exists_running = c
        .exists(OperationId::ListContainers, &[("status", "running")])
        .await
        .unwrap();
    let exists_none = c
        .exists(OperationId::ListPluginReleases, &[("plugin", "nope")])
        .await
        .unwrap();
    let exists_wrong = c
        .exists(OperationId::ListJobs, &[] as &[(&str, &str)])
        .await
        .unwrap_err();
    c.reset_connection().unwrap();
    let health_after_reset = c.health_check().await.is_ok();
    Results {
        resources,
        feasible,
        too_many_gpus,
        default_policy,
        patched,
        runtime_after_patch,
        gatekeeping_after_patch,
        over_the_job_limit,
        ungated,
        bad_patch,
        compose,
        status_before,
        restart,
        status_restarting,
        ready_after_restart,
        update,
        ready_after_update,
        compose_after_update,
        docker_empty,
        docker_created,
        docker_listed,
        docker_stopped,
        docker_got_stopped,
        docker_started,
        docker_gone,
        docker_after_delete,
        created,
        build,
        container_after_build,
        failed_build,
        uploaded,
        uploaded_build,
        first_page,
        all,
        all_releases,
        updated,
        deleted_gone,
        exists_running,
        exists_none,
        exists_wrong,
        health_after_reset,
    }
}

fn scenario_blocking(c: AgentClient) -> Results {
    let resources = c.get_cluster_resources(false).unwrap();
    let feasible = c
        .check_feasibility(&FeasibilityRequest::new("job", 2.0))
        .unwrap();
    let too_many_gpus = c
        .check_feasibility(&FeasibilityRequest::new("serve", 1.0).num_gpus(4.0))
        .unwrap();
    let default_policy = c.get_runtime_policy().unwrap();
    let patched = c
        .update_gatekeeping_policy(&json!({"max_concurrent_jobs": 1, "note": "night shift"}))
        .unwrap();
    let runtime_after_patch = c.get_runtime_policy().unwrap();
    let gatekeeping_after_patch = c.get_gatekeeping_policy().unwrap();
    let over_the_job_limit = c
        .check_feasibility(&FeasibilityRequest::new("job", 1.0))
        .unwrap();
    let ungated = c
        .update_runtime_policy(&json!({"gatekeeping_enabled": false}))
        .unwrap();
    let bad_patch = c
        .update_runtime_policy(&json!({"max_concurrent_jobs": "many"}))
        .unwrap_err();
    let compose = c.get_compose_config().unwrap();
    let status_before = c.get_system_status().unwrap();
    let restart = c.restart_system().unwrap();
    let status_restarting = c.get_system_status().unwrap();
    let ready_after_restart = c.wait_for_system_ready(LONG, TICK).unwrap();
    let update = c
        .update_system(&UpdateSystem::default().api_tag("2026.3.1"))
        .unwrap();
    let ready_after_update = c.wait_for_system_ready(LONG, TICK).unwrap();
    let compose_after_update = c.get_compose_config().unwrap();

    let docker_empty = c.list_docker_containers().unwrap();
    let docker_created = c
        .create_docker_container(&CreateDockerContainer::new(PLUGIN_RELEASE))
        .unwrap();
    let id = docker_created.id.clone();
    let docker_listed = c.list_docker_containers().unwrap();
    let docker_stopped = c.stop_docker_container(&id).unwrap();
    let docker_got_stopped = c.get_docker_container(&id).unwrap();
    let docker_started = c.start_docker_container(&id).unwrap();
    c.delete_docker_container(&id).unwrap();
    let docker_gone = c.get_docker_container(&id).unwrap_err();
    let docker_after_delete = c.list_docker_containers().unwrap();

    let created = c
        .create_container(&CreateContainer::release(PLUGIN_RELEASE))
        .unwrap();
    let build = c
        .wait_for_build(created.build_id.as_deref().unwrap(), LONG, TICK)
        .unwrap();
    let container_after_build = c.get_container(created.id_text().unwrap()).unwrap();
    let unknown = c
        .create_container(&CreateContainer::release("nope@9.9.9"))
        .unwrap();
    let failed_build = c
        .wait_for_build(unknown.build_id.as_deref().unwrap(), LONG, TICK)
        .unwrap_err();
    let mut upload = CreateContainer::upload(PluginFile::new("demo plugin.zip", archive()));
    upload.kind = Some("gradio".into());
    upload.params = Some(json!({"port": 7860}));
    let uploaded = c.create_container(&upload).unwrap();
    let uploaded_build = c
        .wait_for_build(uploaded.build_id.as_deref().unwrap(), LONG, TICK)
        .unwrap();
    for _ in 3..CONTAINERS {
        c.create_container(&CreateContainer::release(PLUGIN_RELEASE))
            .unwrap();
    }
    let first_page = c.list_containers(&[("page_size", "2")]).unwrap();
    let all = c.list_all_containers(&[("page_size", "2")]).unwrap();
    let all_releases = c
        .list_all_plugin_releases(&[("page_size", "1")])
        .unwrap()
        .len();
    let id = created.id_text().unwrap();
    let updated = c
        .update_container(&id, &UpdateContainer::status("stopped"))
        .unwrap();
    c.delete_container(&id).unwrap();
    let deleted_gone = c.get_container(&id).unwrap_err();

    let exists_running = c
        .exists(OperationId::ListContainers, &[("status", "running")])
        .unwrap();
    let exists_none = c
        .exists(OperationId::ListPluginReleases, &[("plugin", "nope")])
        .unwrap();
    let exists_wrong = c
        .exists(OperationId::ListJobs, &[] as &[(&str, &str)])
        .unwrap_err();
    c.reset_connection().unwrap();
    let health_after_reset = c.health_check().is_ok();
    Results {
        resources,
        feasible,
        too_many_gpus,
        default_policy,
        patched,
        runtime_after_patch,
        gatekeeping_after_patch,
        over_the_job_limit,
        ungated,
        bad_patch,
        compose,
        status_before,
        restart,
        status_restarting,
        ready_after_restart,
        update,
        ready_after_update,
        compose_after_update,
        docker_empty,
        docker_created,
        docker_listed,
        docker_stopped,
        docker_got_stopped,
        docker_started,
        docker_gone,
        docker_after_delete,
        created,
        build,
        container_after_build,
        failed_build,
        uploaded,
        uploaded_build,
        first_page,
        all,
        all_releases,
        updated,
        deleted_gone,
        exists_running,
        exists_none,
        exists_wrong,
        health_after_reset,
    }
}

/// The same checks for both clients.
fn check(r: &Results, server: &AgentTestServer) {
    // resources: the sample's two nodes (2 + 8 CPUs, one GPU), one job running
    assert_eq!(r.resources.cpu.total, 10.0);
    assert_eq!(r.resources.cpu.available, 9.0);
    assert_eq!(r.resources.gpu.total_gpus, 1.0);
    assert_eq!(r.resources.running_jobs, 1);
    assert_eq!(r.resources.node_counts.alive, 2);
    let gpu_node = r
        .resources
        .nodes
        .iter()
        .find(|n| n.node_id == GPU_NODE)
        .unwrap();
    assert_eq!(gpu_node.accelerator_type.as_deref(), Some("T4"));
    let asked = server.requests(RouteKind::GetClusterResources);
    assert!(
        asked[0]
            .path
            .ends_with("resources/cluster/?use_cache=false"),
        "{}",
        asked[0].path
    );

    // feasibility, from the cluster and the policy
    assert!(r.feasible.feasible, "{:?}", r.feasible);
    assert!(!r.too_many_gpus.feasible);
    assert!(
        r.too_many_gpus.reasons.iter().any(|m| m.contains("GPU")),
        "{:?}",
        r.too_many_gpus
    );

    // policies: one route, two readings; a patch merges and is read back
    assert_eq!(r.default_policy, RuntimePolicy::default());
    assert_eq!(r.patched.extra["max_concurrent_jobs"], 1);
    assert_eq!(r.runtime_after_patch.max_concurrent_jobs, 1);
    assert_eq!(r.runtime_after_patch.extra["note"], "night shift");
    assert_eq!(r.gatekeeping_after_patch.extra["note"], "night shift");
    assert_eq!(r.gatekeeping_after_patch.gatekeeping_enabled, Some(true));
    assert!(!r.over_the_job_limit.feasible, "{:?}", r.over_the_job_limit);
    assert!(!r.ungated.gatekeeping_enabled);
    assert_eq!(r.ungated.max_concurrent_jobs, 1);
    assert_eq!(r.bad_patch.status_code(), 422, "{}", r.bad_patch);

    // system: restart and update are over once the status says ready
    let image = |c: &ComposeConfig| c.services.as_ref().unwrap()["api"]["image"].clone();
    assert_eq!(image(&r.compose), "synapse/agent-api:2026.2.17");
    assert!(r.status_before.is_ready());
    assert_eq!(r.restart.status.as_deref(), Some("success"));
    assert!(!r.status_restarting.is_ready());
    assert_eq!(r.status_restarting.status.as_deref(), Some("restarting"));
    assert!(r.ready_after_restart.is_ready());
    assert_eq!(r.update.status.as_deref(), Some("success"));
    assert!(r.ready_after_update.is_ready());
    assert_eq!(image(&r.compose_after_update), "synapse/agent-api:2026.3.1");

    // Docker containers: what is created is listed; stop and start change it
    assert!(r.docker_empty.is_empty());
    assert_eq!(r.docker_created.status.as_deref(), Some("running"));
    assert_eq!(r.docker_listed, vec![r.docker_created.clone()]);
    assert_eq!(r.docker_stopped.status.as_deref(), Some("exited"));
    assert_eq!(r.docker_got_stopped.status.as_deref(), Some("exited"));
    assert_eq!(r.docker_started.status.as_deref(), Some("running"));
    assert_eq!(r.docker_gone.status_code(), 404);
    assert!(r.docker_after_delete.is_empty());

    // plugin containers: builds end, a failed one is an error naming it
    assert_eq!(r.created.status.as_deref(), Some("building"));
    assert!(r.build.is_completed(), "{:?}", r.build);
    assert_eq!(r.build.result.as_ref().unwrap()["status"], "running");
    assert_eq!(r.container_after_build.status.as_deref(), Some("running"));
    assert_eq!(r.failed_build.status_code(), 500);
    assert!(
        r.failed_build.to_string().contains("nope@9.9.9 not found"),
        "{}",
        r.failed_build
    );

    // the upload: multipart on the wire, the file and the fields read back whole
    assert_eq!(
        r.uploaded.extra["plugin_file"]["filename"],
        "demo plugin.zip"
    );
    assert_eq!(r.uploaded.extra["plugin_file"]["size"], archive().len());
    assert_eq!(r.uploaded.extra["kind"], "gradio");
    assert_eq!(r.uploaded.extra["params"], r#"{"port":7860}"#);
    assert!(r.uploaded_build.is_completed());
    let sent = server
        .requests(RouteKind::CreateContainer)
        .into_iter()
        .find(|e| e.body.windows(8).any(|w| w == b"demo plu"))
        .unwrap();
    let content_type = sent.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );

    // pagination: a page, then every page through `next`
    assert_eq!(r.first_page.count, Some(CONTAINERS as u64));
    assert_eq!(r.first_page.results.len(), 2);
    assert!(r.first_page.next.is_some());
    assert_eq!(r.all.len(), CONTAINERS);
    let ids: std::collections::HashSet<_> = r.all.iter().map(|c| c.id_text()).collect();
    assert_eq!(ids.len(), CONTAINERS);
    assert_eq!(r.all_releases, 1);

    assert_eq!(r.updated.status.as_deref(), Some("stopped"));
    assert_eq!(r.deleted_gone.status_code(), 404);

    // exists, as the SDK: a paginated list has an entry
    assert!(r.exists_running);
    assert!(!r.exists_none);
    assert_eq!(r.exists_wrong.status_code(), 400);
    assert!(r.health_after_reset);
}

async fn sample() -> AgentTestServer {
    AgentTestServer::sample().build().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_operation_from_the_async_client() {
    let server = sample().await;
    let client = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let results = scenario_async(client).await;
    check(&results, &server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_operation_from_the_blocking_client() {
    let server = sample().await;
    let (url, token) = (server.url(), server.token().to_owned());
    let results = on_thread(move || scenario_blocking(AgentClient::new(url, token).unwrap())).await;
    check(&results, &server);
}

/// A wait that cannot end in time ends with a 408 of kind `Wait`, from both
/// clients: the system never answers, the build never finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_time_out_with_their_own_kind() {
    let server = sample().await;
    server.set_fault(RouteKind::GetSystemStatus, Fault::status(503));
    let c = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let built = c
        .create_container(&CreateContainer::release(PLUGIN_RELEASE))
        .await
        .unwrap();
    let build = built.build_id.clone().unwrap();
    server.set_fault(
        RouteKind::GetBuildStatus,
        Fault::json(200, json!({"status": "running"})),
    );
    let short = Duration::from_millis(100);
    let is_wait = |e: &ClientError| {
        matches!(e, ClientError::Timeout { kind: TimeoutKind::Wait, after } if *after == short)
            && e.status_code() == 408
    };
    let e = c.wait_for_system_ready(short, TICK).await.unwrap_err();
    assert!(is_wait(&e), "{e:?}");
    let e = c.wait_for_build(&build, short, TICK).await.unwrap_err();
    assert!(is_wait(&e), "{e:?}");

    let (url, token) = (server.url(), server.token().to_owned());
    let (system, build) = on_thread(move || {
        let c = AgentClient::new(url, token).unwrap();
        (
            c.wait_for_system_ready(short, TICK).unwrap_err(),
            c.wait_for_build(&build, short, TICK).unwrap_err(),
        )
    })
    .await;
    assert!(is_wait(&system), "{system:?}");
    assert!(is_wait(&build), "{build:?}");
    // a poll interval of zero would spin: refused before any request
    let e = c
        .wait_for_system_ready(short, Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 400);
}

/// The server reads an upload only up to its large-body cap (413 beyond), and a
/// container needs a release or a file (422), checked before the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_bounded_and_checked() {
    let server = AgentTestServer::sample()
        .limits(Limits::default().max_large_body_bytes(16 * 1024))
        .build()
        .await
        .unwrap();
    let c = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let big = CreateContainer::upload(PluginFile::new("big.zip", vec![7u8; 32 * 1024]));
    let e = c.create_container(&big).await.unwrap_err();
    assert_eq!(e.status_code(), 413, "{e}");
    let small = CreateContainer::upload(PluginFile::new("small.zip", vec![7u8; 1024]));
    assert!(c.create_container(&small).await.is_ok());
    // neither: the client refuses it; sent raw, the server answers 422
    let e = c
        .create_container(&CreateContainer::default())
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 400);
    let e = c
        .raw_request(
            http::Method::POST,
            "containers/",
            &[] as &[(&str, &str)],
            Some(json!({"kind": "x"})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 422, "{e}");
}

/// Every operation of the description, built by it and sent by the async client,
/// reaches that operation on the test agent's router (its journal says which):
/// the clients and the server read one table. Answers are not the point here (a
/// body-less POST may be a 422, a tail's answer is not JSON).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_reaches_its_own_route() {
    use agent_client_async::api::{Call, Operation};
    let server = sample().await;
    let c = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    for &id in OperationId::ALL {
        if id.websocket() {
            continue; // only an upgrade reaches it: the tail tests cover it
        }
        let segment = id.segment_name().map(|_| "demo-1".to_owned());
        let op: Operation = id.with_segment(segment).unwrap();
        let call = Call::<(), serde_json::Value>::new(op);
        let _ = tokio::time::timeout(Duration::from_secs(5), c.call(call)).await;
        let seen = server.requests(id);
        assert_eq!(seen.len(), 1, "{id:?} ({id}) was not routed to itself");
    }
}

/// `list_all_*` follows a `next` in any of the forms servers write (relative to
/// the base, from the host's root, absolute under the base URL), and refuses one
/// that leaves the agent or repeats a page: the token never goes elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_all_follows_next_only_within_the_agent() {
    let server = AgentTestServer::sample()
        .prefix("/agent/")
        .build()
        .await
        .unwrap();
    let c = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    for _ in 0..3 {
        c.create_container(&CreateContainer::release(PLUGIN_RELEASE))
            .await
            .unwrap();
    }
    let page_one = |next: &str| {
        Fault::json(
            200,
            json!({"count": 3, "next": next, "previous": null, "results": [{"id": 1}]}),
        )
        .times(1)
    };
    // the rest of the list comes from the server itself (page 2 of size 1: id 2)
    let absolute = format!("{}containers/?page=2&page_size=1", server.url());
    for next in [
        "containers/?page=2&page_size=1",
        "/agent/containers/?page=2&page_size=1",
        absolute.as_str(),
    ] {
        server.set_fault(RouteKind::ListContainers, page_one(next));
        let all = c.list_all_containers(&[("page_size", "1")]).await.unwrap();
        let ids: Vec<_> = all.iter().map(|c| c.id_text().unwrap()).collect();
        assert_eq!(ids, ["1", "2", "3"], "{next}");
    }
    for bad in [
        "http://elsewhere.example/agent/containers/?page=2",
        "//elsewhere.example/agent/containers/?page=2",
        "/other/containers/?page=2",
        "plugin_releases/?page=2",
    ] {
        server.set_fault(RouteKind::ListContainers, page_one(bad));
        let e = c
            .list_all_containers(&[("page_size", "1")])
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), 500, "{bad}: {e}");
        assert!(matches!(e, ClientError::Protocol { .. }), "{bad}: {e:?}");
    }
    // a server whose `next` points back at the same page forever
    server.set_fault(
        RouteKind::ListContainers,
        Fault::json(
            200,
            json!({"count": 9, "next": "containers/?page=2", "results": []}),
        ),
    );
    let e = c
        .list_all_containers(&[] as &[(&str, &str)])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("repeats"), "{e}");
}
