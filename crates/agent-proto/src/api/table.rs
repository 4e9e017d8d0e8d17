//! The table: every operation of the agent API, once.
//!
//! Each entry is one operation: its name, its path segment (a typed id), the
//! builder that makes its [`Call`], the method, the path template, the body type,
//! the answer type and its flags (`idempotent`: may be sent again; `websocket`:
//! only a WebSocket upgrade reaches it). The macro below turns the table into
//! [`Operation`] (with its ids), [`OperationId`] (without), the builders, and what
//! the router needs; nothing else in the workspace writes a route.

use super::{Call, Streamed};
use crate::id::{
    BuildId, ContainerId, DockerContainerId, JobId, NodeId, PluginLookup, ServeAppName, TaskId,
};
use crate::models::{
    BuildStatus, ClusterResources, ComposeConfig, Container, CreateContainer,
    CreateDockerContainer, CreatePluginRelease, DockerContainer, Feasibility, FeasibilityRequest,
    GatekeepingPolicy, GpuStatus, Health, Job, Node, Page, PluginRelease, RunDebugPluginRelease,
    RunPluginRelease, ServeApplication, StopJobResponse, SystemOperation, SystemStatus, Task,
    UpdateContainer, UpdateSystem,
};
use http::Method;
use serde_json::Value;

macro_rules! operations {
    ($(
        $(#[$doc:meta])*
        $op:ident ( $( $field:ident : $id:ty )? ) $builder:ident =
            $method:ident $template:literal, $body:ty => $answer:ty $(, $flag:ident)* ;
    )*) => {
        /// One operation of the agent API with its validated path segment: what a
        /// client sends and what the router finds.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Operation {
            $( $(#[$doc])* $op $( ($id) )?, )*
        }

        /// An operation without its path segment: what a fault, a journal entry or a
        /// metric refers to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OperationId {
            $( $(#[$doc])* $op, )*
        }

        impl OperationId {
            /// Every operation, in the table's order.
            pub const ALL: &'static [OperationId] = &[ $( OperationId::$op, )* ];

            /// The HTTP method.
            pub fn method(self) -> Method {
                match self { $( OperationId::$op => Method::$method, )* }
            }

            /// The path template, relative to the API's base URL (`jobs/{job_id}/`).
            pub fn template(self) -> &'static str {
                match self { $( OperationId::$op => $template, )* }
            }

            /// The name of the builder, as the SDK names the method (`get_job`).
            pub fn name(self) -> &'static str {
                match self { $( OperationId::$op => stringify!($builder), )* }
            }

            /// The name of the path segment's placeholder, if the path has one.
            pub fn segment_name(self) -> Option<&'static str> {
                match self { $( OperationId::$op => operations!(@name $($field)?), )* }
            }

            /// True when a request may be sent again without repeating a write
            /// (decides retries).
            pub fn idempotent(self) -> bool {
                match self { $( OperationId::$op => false $( || operations!(@idempotent $flag) )*, )* }
            }

            /// True for a WebSocket tail: only an upgrade request reaches it.
            pub fn websocket(self) -> bool {
                match self { $( OperationId::$op => false $( || operations!(@websocket $flag) )*, )* }
            }

            /// The Rust type of the request body (`()` for none).
            pub fn body_type(self) -> &'static str {
                match self { $( OperationId::$op => stringify!($body), )* }
            }

            /// The Rust type of the answer.
            pub fn answer_type(self) -> &'static str {
                match self { $( OperationId::$op => stringify!($answer), )* }
            }

            /// The operation of this id with `segment` (already percent-decoded) as
            /// its path segment, validated by its id type.
            pub fn with_segment(
                self,
                segment: Option<String>,
            ) -> Result<Operation, crate::error::ClientError> {
                let _ = &segment;
                Ok(match self {
                    $( OperationId::$op => Operation::$op $( (
                        <$id>::new(segment.ok_or_else(|| crate::error::ClientError::invalid(
                            stringify!($field), "is missing",
                        ))?)?
                    ) )?, )*
                })
            }
        }

        impl Operation {
            /// The operation without its segment.
            pub fn id(&self) -> OperationId {
                match self { $( Operation::$op { .. } => OperationId::$op, )* }
            }

            /// The path segment (job id, node id, name, lookup, ...), if any.
            pub fn segment(&self) -> Option<&str> {
                match self {
                    $( Operation::$op $( ($field) )? => operations!(@segment $($field)?), )*
                }
            }
        }

        $(
            $(#[$doc])*
            pub fn $builder($( $field: $id )?) -> Call<$body, $answer> {
                Call::new(Operation::$op $( ($field) )?)
            }
        )*
    };
    (@name) => { None };
    (@name $field:ident) => { Some(stringify!($field)) };
    (@segment) => { None };
    (@segment $field:ident) => { Some($field.as_str()) };
    (@idempotent idempotent) => { true };
    (@idempotent websocket) => { false };
    (@websocket websocket) => { true };
    (@websocket idempotent) => { false };
}

operations! {
    // -- health, jobs ----------------------------------------------------------------
    /// GET `health/`: the agent's health.
    Health() health_check = GET "health/", () => Health, idempotent;
    /// GET `jobs/`: every Ray job the agent knows.
    ListJobs() list_jobs = GET "jobs/", () => Vec<Job>, idempotent;
    /// GET `jobs/{job_id}/`: one job.
    GetJob(job_id: JobId) get_job = GET "jobs/{job_id}/", () => Job, idempotent;
    /// GET `jobs/{job_id}/logs/` without an upgrade: the whole log so far.
    JobLogs(job_id: JobId) get_job_logs = GET "jobs/{job_id}/logs/", () => String, idempotent;
    /// GET `jobs/{job_id}/logs/` with a WebSocket upgrade: a log tail.
    TailWebSocket(job_id: JobId) websocket_tail_job_logs =
        GET "jobs/{job_id}/logs/", () => Streamed, idempotent, websocket;
    /// GET `jobs/{job_id}/logs/stream/`: a log tail over HTTP.
    TailHttp(job_id: JobId) stream_tail_job_logs =
        GET "jobs/{job_id}/logs/stream/", () => Streamed, idempotent;
    /// POST `jobs/{job_id}/stop/`: asks the agent to stop a job.
    StopJob(job_id: JobId) stop_job = POST "jobs/{job_id}/stop/", () => StopJobResponse;

    // -- the cluster -----------------------------------------------------------------
    /// GET `gpu_status/`: the cluster's GPUs.
    GpuStatus() get_gpu_status = GET "gpu_status/", () => GpuStatus, idempotent;
    /// GET `nodes/`: the cluster's nodes.
    ListNodes() list_nodes = GET "nodes/", () => Vec<Node>, idempotent;
    /// GET `nodes/{node_id}/`: one node.
    GetNode(node_id: NodeId) get_node = GET "nodes/{node_id}/", () => Node, idempotent;
    /// GET `tasks/`: the cluster's tasks.
    ListTasks() list_tasks = GET "tasks/", () => Vec<Task>, idempotent;
    /// GET `tasks/{task_id}/`: one task.
    GetTask(task_id: TaskId) get_task = GET "tasks/{task_id}/", () => Task, idempotent;
    /// GET `serve_applications/`: the Ray Serve applications.
    ListServeApplications() list_serve_applications =
        GET "serve_applications/", () => Vec<ServeApplication>, idempotent;
    /// GET `serve_applications/{name}/`: one application.
    GetServeApplication(name: ServeAppName) get_serve_application =
        GET "serve_applications/{name}/", () => ServeApplication, idempotent;
    /// DELETE `serve_applications/{name}/`: removes one application.
    DeleteServeApplication(name: ServeAppName) delete_serve_application =
        DELETE "serve_applications/{name}/", () => (), idempotent;

    // -- plugin releases -------------------------------------------------------------
    /// GET `plugin_releases/`: a page of plugin releases (the query passes through).
    ListPluginReleases() list_plugin_releases =
        GET "plugin_releases/", () => Page<PluginRelease>, idempotent;
    /// POST `plugin_releases/`: creates a release (answered `201 Created`).
    CreatePluginRelease() create_plugin_release =
        POST "plugin_releases/", CreatePluginRelease => PluginRelease;
    /// POST `plugin_releases/run_debug/`: runs an action of a plugin in debug mode.
    RunDebugPluginRelease() run_debug_plugin_release =
        POST "plugin_releases/run_debug/", RunDebugPluginRelease => Value;
    /// GET `plugin_releases/{lookup}`: one release, by id or `code@version`.
    GetPluginRelease(lookup: PluginLookup) get_plugin_release =
        GET "plugin_releases/{lookup}", () => PluginRelease, idempotent;
    /// DELETE `plugin_releases/{lookup}`: deletes a release.
    DeletePluginRelease(lookup: PluginLookup) delete_plugin_release =
        DELETE "plugin_releases/{lookup}", () => (), idempotent;
    /// POST `plugin_releases/{lookup}/run/`: runs an action of a release.
    RunPluginRelease(lookup: PluginLookup) run_plugin_release =
        POST "plugin_releases/{lookup}/run/", RunPluginRelease => Value;

    // -- resources -------------------------------------------------------------------
    /// GET `resources/cluster/` (query `use_cache`): the cluster's resources.
    GetClusterResources() get_cluster_resources =
        GET "resources/cluster/", () => ClusterResources, idempotent;
    /// POST `resources/feasibility/`: would a workload be admitted (a dry run)?
    CheckFeasibility() check_feasibility =
        POST "resources/feasibility/", FeasibilityRequest => Feasibility;
    /// GET `resources/policy/`: the agent's policy (read as the gatekeeping policy
    /// here; [`get_runtime_policy`](super::get_runtime_policy) reads it typed).
    GetPolicy() get_gatekeeping_policy =
        GET "resources/policy/", () => GatekeepingPolicy, idempotent;
    /// PATCH `resources/policy/`: merges a patch into the agent's policy.
    UpdatePolicy() update_gatekeeping_policy =
        PATCH "resources/policy/", Value => GatekeepingPolicy;

    // -- system, builds --------------------------------------------------------------
    /// GET `system/compose-config/`: the compose configuration of the agent's services.
    GetComposeConfig() get_compose_config =
        GET "system/compose-config/", () => ComposeConfig, idempotent;
    /// GET `system/status/`: the agent's system status.
    GetSystemStatus() get_system_status =
        GET "system/status/", () => SystemStatus, idempotent;
    /// POST `system/update/`: pulls new images and recreates the services.
    UpdateSystem() update_system = POST "system/update/", UpdateSystem => SystemOperation;
    /// POST `system/restart/`: restarts the services.
    RestartSystem() restart_system = POST "system/restart/", () => SystemOperation;
    /// GET `builds/{build_id}/`: a container build's progress.
    GetBuildStatus(build_id: BuildId) get_build_status =
        GET "builds/{build_id}/", () => BuildStatus, idempotent;

    // -- Docker containers -----------------------------------------------------------
    /// GET `containers/docker/`: the Docker containers the agent runs.
    ListDockerContainers() list_docker_containers =
        GET "containers/docker/", () => Vec<DockerContainer>, idempotent;
    /// POST `containers/docker/`: builds and runs a Docker container for a plugin.
    CreateDockerContainer() create_docker_container =
        POST "containers/docker/", CreateDockerContainer => DockerContainer;
    /// GET `containers/docker/{container_id}`: one Docker container.
    GetDockerContainer(container_id: DockerContainerId) get_docker_container =
        GET "containers/docker/{container_id}", () => DockerContainer, idempotent;
    /// DELETE `containers/docker/{container_id}`: removes a Docker container.
    DeleteDockerContainer(container_id: DockerContainerId) delete_docker_container =
        DELETE "containers/docker/{container_id}", () => (), idempotent;
    /// POST `containers/docker/{container_id}/start/`: starts a Docker container.
    StartDockerContainer(container_id: DockerContainerId) start_docker_container =
        POST "containers/docker/{container_id}/start/", () => DockerContainer;
    /// POST `containers/docker/{container_id}/stop/`: stops a Docker container.
    StopDockerContainer(container_id: DockerContainerId) stop_docker_container =
        POST "containers/docker/{container_id}/stop/", () => DockerContainer;

    // -- plugin containers -----------------------------------------------------------
    /// GET `containers/`: a page of the plugin containers the agent tracks.
    ListContainers() list_containers =
        GET "containers/", () => Page<Container>, idempotent;
    /// POST `containers/`: creates a plugin container (multipart with a plugin file);
    /// the answer names its build.
    CreateContainer() create_container = POST "containers/", CreateContainer => Container;
    /// GET `containers/{container_id}`: one plugin container.
    GetContainer(container_id: ContainerId) get_container =
        GET "containers/{container_id}", () => Container, idempotent;
    /// PATCH `containers/{container_id}`: updates a plugin container.
    UpdateContainer(container_id: ContainerId) update_container =
        PATCH "containers/{container_id}", UpdateContainer => Container;
    /// DELETE `containers/{container_id}`: deletes a plugin container (and stops it).
    DeleteContainer(container_id: ContainerId) delete_container =
        DELETE "containers/{container_id}", () => (), idempotent;
}
