//! The rest of synapse-sdk's `AgentClient` on [`AgentClient`], blocking: each
//! method runs its [`AsyncAgentClient`] twin on the client's thread (same names,
//! arguments and errors; see there for what each does).

use crate::client::AgentClient;
use agent_client_async::AsyncAgentClient;
use agent_proto::api::{Answer, Call, OperationId};
use agent_proto::{
    BuildStatus, ClientError, ClusterResources, ComposeConfig, Container, CreateContainer,
    CreateDockerContainer, DockerContainer, Feasibility, FeasibilityRequest, GatekeepingPolicy,
    Page, PluginRelease, RuntimePolicy, SystemOperation, SystemStatus, UpdateContainer,
    UpdateSystem,
};
use serde_json::Value;
use std::time::Duration;

/// Owned `(key, value)` pairs, to move a query onto the client's thread.
fn owned<K: AsRef<str>, V: AsRef<str>>(query: &[(K, V)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect()
}

impl AgentClient {
    /// Sends any operation of [`agent_proto::api`] (see [`AsyncAgentClient::call`]).
    pub fn call<B, A>(&self, call: Call<B, A>) -> Result<A, ClientError>
    where
        B: 'static,
        A: Answer + Send + 'static,
    {
        self.run(|c: AsyncAgentClient| async move { c.call(call).await })
    }

    /// Drops the pooled connections (see [`AsyncAgentClient::reset_connection`]).
    pub fn reset_connection(&self) -> Result<(), ClientError> {
        self.async_client().reset_connection()
    }

    /// `GET resources/cluster/` (see [`AsyncAgentClient::get_cluster_resources`]).
    pub fn get_cluster_resources(&self, use_cache: bool) -> Result<ClusterResources, ClientError> {
        self.run(|c| async move { c.get_cluster_resources(use_cache).await })
    }

    /// `POST resources/feasibility/` (see [`AsyncAgentClient::check_feasibility`]).
    pub fn check_feasibility(
        &self,
        request: &FeasibilityRequest,
    ) -> Result<Feasibility, ClientError> {
        let request = request.clone();
        self.run(|c| async move { c.check_feasibility(&request).await })
    }

    /// `GET resources/policy/` as the gatekeeping policy.
    pub fn get_gatekeeping_policy(&self) -> Result<GatekeepingPolicy, ClientError> {
        self.run(|c| async move { c.get_gatekeeping_policy().await })
    }

    /// `PATCH resources/policy/`, answered as the gatekeeping policy.
    pub fn update_gatekeeping_policy(
        &self,
        patch: &Value,
    ) -> Result<GatekeepingPolicy, ClientError> {
        let patch = patch.clone();
        self.run(|c| async move { c.update_gatekeeping_policy(&patch).await })
    }

    /// `GET resources/policy/` as the runtime policy.
    pub fn get_runtime_policy(&self) -> Result<RuntimePolicy, ClientError> {
        self.run(|c| async move { c.get_runtime_policy().await })
    }

    /// `PATCH resources/policy/`, answered as the runtime policy.
    pub fn update_runtime_policy(&self, patch: &Value) -> Result<RuntimePolicy, ClientError> {
        let patch = patch.clone();
        self.run(|c| async move { c.update_runtime_policy(&patch).await })
    }

    /// `GET system/compose-config/`.
    pub fn get_compose_config(&self) -> Result<ComposeConfig, ClientError> {
        self.run(|c| async move { c.get_compose_config().await })
    }

    /// `GET system/status/`.
    pub fn get_system_status(&self) -> Result<SystemStatus, ClientError> {
        self.run(|c| async move { c.get_system_status().await })
    }

    /// `POST system/update/`.
    pub fn update_system(&self, update: &UpdateSystem) -> Result<SystemOperation, ClientError> {
        let update = update.clone();
        self.run(|c| async move { c.update_system(&update).await })
    }

    /// `POST system/restart/`.
    pub fn restart_system(&self) -> Result<SystemOperation, ClientError> {
        self.run(|c| async move { c.restart_system().await })
    }

    /// Polls `system/status/` until ready (see
    /// [`AsyncAgentClient::wait_for_system_ready`]); a 408 of kind `Wait` after
    /// `timeout`.
    pub fn wait_for_system_ready(
        &self,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<SystemStatus, ClientError> {
        self.run(|c| async move { c.wait_for_system_ready(timeout, poll_interval).await })
    }

    /// `GET builds/{id}/`.
    pub fn get_build_status(&self, build_id: impl AsRef<str>) -> Result<BuildStatus, ClientError> {
        let id = build_id.as_ref().to_owned();
        self.run(|c| async move { c.get_build_status(id).await })
    }

    /// Polls a build until it finishes (see [`AsyncAgentClient::wait_for_build`]).
    pub fn wait_for_build(
        &self,
        build_id: impl AsRef<str>,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<BuildStatus, ClientError> {
        let id = build_id.as_ref().to_owned();
        self.run(|c| async move { c.wait_for_build(id, timeout, poll_interval).await })
    }

    /// `GET containers/docker/`.
    pub fn list_docker_containers(&self) -> Result<Vec<DockerContainer>, ClientError> {
        self.run(|c| async move { c.list_docker_containers().await })
    }

    /// `GET containers/docker/{id}`.
    pub fn get_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<DockerContainer, ClientError> {
        let id = container_id.as_ref().to_owned();
        self.run(|c| async move { c.get_docker_container(id).await })
    }

    /// `POST containers/docker/`.
    pub fn create_docker_container(
        &self,
        container: &CreateDockerContainer,
    ) -> Result<DockerContainer, ClientError> {
        let container = container.clone();
        self.run(|c| async move { c.create_docker_container(&container).await })
    }

    /// `DELETE containers/docker/{id}`.
    pub fn delete_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<(), ClientError> {
        let id = container_id.as_ref().to_owned();
        self.run(|c| async move { c.delete_docker_container(id).await })
    }

    /// `POST containers/docker/{id}/start/`.
    pub fn start_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<DockerContainer, ClientError> {
        let id = container_id.as_ref().to_owned();
        self.run(|c| async move { c.start_docker_container(id).await })
    }

    /// `POST containers/docker/{id}/stop/`.
    pub fn stop_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<DockerContainer, ClientError> {
        let id = container_id.as_ref().to_owned();
        self.run(|c| async move { c.stop_docker_container(id).await })
    }

    /// `POST containers/` (multipart when a plugin file is uploaded).
    pub fn create_container(&self, container: &CreateContainer) -> Result<Container, ClientError> {
        let container = container.clone();
        self.run(|c| async move { c.create_container(&container).await })
    }

    /// `GET containers/`: one page.
    pub fn list_containers<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Page<Container>, ClientError> {
        let query = owned(query);
        self.run(|c| async move { c.list_containers(&query).await })
    }

    /// Every plugin container, following `next` (the SDK's `list_all=True`).
    pub fn list_all_containers<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Vec<Container>, ClientError> {
        let query = owned(query);
        self.run(|c| async move { c.list_all_containers(&query).await })
    }

    /// Every plugin release, following `next` (the SDK's `list_all=True`).
    pub fn list_all_plugin_releases<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Vec<PluginRelease>, ClientError> {
        let query = owned(query);
        self.run(|c| async move { c.list_all_plugin_releases(&query).await })
    }

    /// `GET containers/{id}`.
    pub fn get_container(&self, container_id: impl AsRef<str>) -> Result<Container, ClientError> {
        let id = container_id.as_ref().to_owned();
        self.run(|c| async move { c.get_container(id).await })
    }

    /// `PATCH containers/{id}`.
    pub fn update_container(
        &self,
        container_id: impl AsRef<str>,
        update: &UpdateContainer,
    ) -> Result<Container, ClientError> {
        let (id, update) = (container_id.as_ref().to_owned(), update.clone());
        self.run(|c| async move { c.update_container(id, &update).await })
    }

    /// `DELETE containers/{id}`.
    pub fn delete_container(&self, container_id: impl AsRef<str>) -> Result<(), ClientError> {
        let id = container_id.as_ref().to_owned();
        self.run(|c| async move { c.delete_container(id).await })
    }

    /// synapse-sdk's `exists` (see [`AsyncAgentClient::exists`]).
    pub fn exists<K: AsRef<str>, V: AsRef<str>>(
        &self,
        operation: OperationId,
        query: &[(K, V)],
    ) -> Result<bool, ClientError> {
        let query = owned(query);
        self.run(|c| async move { c.exists(operation, &query).await })
    }
}
