//! The rest of synapse-sdk's `AgentClient` on [`AsyncAgentClient`]: resources,
//! system, builds, Docker containers, plugin containers, `exists`, and the waits.
//! Each is one entry of [`agent_proto::api`]; the waits poll with a time-out and
//! end with a [`TimeoutKind::Wait`] 408 when it runs out.

use crate::client::AsyncAgentClient;
use agent_proto::api::{self, match_request, Call, OperationId};
use agent_proto::{
    query, BuildId, BuildStatus, ClientError, ClusterResources, ComposeConfig, Container,
    ContainerId, CreateContainer, CreateDockerContainer, DockerContainer, DockerContainerId,
    Feasibility, FeasibilityRequest, GatekeepingPolicy, Page, PluginRelease, RuntimePolicy,
    SystemOperation, SystemStatus, TimeoutKind, UpdateContainer, UpdateSystem,
};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Most pages a `list_all_*` follows: a server whose `next` never ends is an error,
/// not a loop.
const MAX_PAGES: usize = 10_000;

/// True when a failed poll means "not yet" (the agent restarting, unreachable for
/// a moment, or slow), not "never" (a refused token, a missing build, a 501).
fn not_yet(e: &ClientError) -> bool {
    e.is_transient() || e.status_code() == 408
}

impl AsyncAgentClient {
    // -- resources ----------------------------------------------------------------

    /// `GET resources/cluster/?use_cache=true|false`: a snapshot of the cluster's
    /// resources; `use_cache = false` asks the agent to collect it afresh.
    pub async fn get_cluster_resources(
        &self,
        use_cache: bool,
    ) -> Result<ClusterResources, ClientError> {
        let flag = if use_cache { "true" } else { "false" };
        self.call(api::get_cluster_resources().query(&[("use_cache", flag)]))
            .await
    }

    /// `POST resources/feasibility/`: would this workload be admitted now? A dry run
    /// of the agent's gatekeeping; nothing starts.
    pub async fn check_feasibility(
        &self,
        request: &FeasibilityRequest,
    ) -> Result<Feasibility, ClientError> {
        if request.kind.is_empty() {
            return Err(ClientError::invalid("kind", "must not be empty"));
        }
        self.call(api::check_feasibility().body(request)).await
    }

    /// `GET resources/policy/`: the gatekeeping policy, as the agent sent it.
    pub async fn get_gatekeeping_policy(&self) -> Result<GatekeepingPolicy, ClientError> {
        self.call(api::get_gatekeeping_policy()).await
    }

    /// `PATCH resources/policy/`: merges `patch` into the policy; the policy after.
    pub async fn update_gatekeeping_policy(
        &self,
        patch: &Value,
    ) -> Result<GatekeepingPolicy, ClientError> {
        self.call(api::update_gatekeeping_policy().body(patch))
            .await
    }

    /// `GET resources/policy/` read as the runtime policy (every field typed, the
    /// SDK's defaults for what is missing).
    pub async fn get_runtime_policy(&self) -> Result<RuntimePolicy, ClientError> {
        self.call(api::get_runtime_policy()).await
    }

    /// `PATCH resources/policy/`, the policy after read as the runtime policy.
    pub async fn update_runtime_policy(&self, patch: &Value) -> Result<RuntimePolicy, ClientError> {
        self.call(api::update_runtime_policy().body(patch)).await
    }

    // -- system, builds -----------------------------------------------------------

    /// `GET system/compose-config/`: the compose configuration of the agent's services.
    pub async fn get_compose_config(&self) -> Result<ComposeConfig, ClientError> {
        self.call(api::get_compose_config()).await
    }

    /// `GET system/status/`: the agent's system status.
    pub async fn get_system_status(&self) -> Result<SystemStatus, ClientError> {
        self.call(api::get_system_status()).await
    }

    /// `POST system/update/`: pulls new images (the tags given) and recreates the
    /// services. Not re-sent once it may have reached the agent.
    pub async fn update_system(
        &self,
        update: &UpdateSystem,
    ) -> Result<SystemOperation, ClientError> {
        self.call(api::update_system().body(update)).await
    }

    /// `POST system/restart/`: restarts the services.
    pub async fn restart_system(&self) -> Result<SystemOperation, ClientError> {
        self.call(api::restart_system()).await
    }

    /// Polls `system/status/` every `poll_interval` until the system is ready
    /// ([`SystemStatus::is_ready`]) and returns that status. While the agent
    /// restarts, a failed poll that means "not yet" (unreachable, 502/503/504, a
    /// time-out) is polled again; any other failure ends the wait. After `timeout`
    /// it fails with a 408 of kind [`TimeoutKind::Wait`] (agentctl exits 6).
    ///
    /// ```no_run
    /// # async fn run(client: agent_client_async::AsyncAgentClient) -> Result<(), agent_proto::ClientError> {
    /// use std::time::Duration;
    /// let status = client.wait_for_system_ready(Duration::from_secs(120), Duration::from_secs(2)).await?;
    /// # let _ = status; Ok(()) }
    /// ```
    pub async fn wait_for_system_ready(
        &self,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<SystemStatus, ClientError> {
        self.poll(timeout, poll_interval, || async {
            match self.get_system_status().await {
                Ok(status) if status.is_ready() => Ok(Some(status)),
                Ok(_) => Ok(None),
                Err(e) if not_yet(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// `GET builds/{id}/`: a container build's progress.
    pub async fn get_build_status(
        &self,
        build_id: impl AsRef<str>,
    ) -> Result<BuildStatus, ClientError> {
        let id = self.segment::<BuildId>(build_id.as_ref())?;
        self.call(api::get_build_status(id)).await
    }

    /// Polls a build every `poll_interval` until it finishes: its status once
    /// completed (what it made is in `result`); a 500 [`ClientError::Server`]
    /// naming the build and its error when it failed or was cancelled; a 408 of
    /// kind [`TimeoutKind::Wait`] after `timeout`.
    pub async fn wait_for_build(
        &self,
        build_id: impl AsRef<str>,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<BuildStatus, ClientError> {
        let id = self.segment::<BuildId>(build_id.as_ref())?;
        self.poll(timeout, poll_interval, || async {
            match self.call(api::get_build_status(id.clone())).await {
                Ok(b) if b.is_completed() => Ok(Some(b)),
                Ok(b) if b.is_failed() => Err(ClientError::Server {
                    status: 500,
                    message: format!(
                        "build {id} {}: {}",
                        b.status,
                        b.error.as_deref().unwrap_or("unknown error")
                    ),
                }),
                Ok(_) => Ok(None),
                Err(e) if not_yet(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Runs `check` every `poll_interval` until it answers `Some`, fails, or
    /// `timeout` runs out (each check is cut at the deadline too).
    async fn poll<T, F, Fut>(
        &self,
        timeout: Duration,
        poll_interval: Duration,
        mut check: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, ClientError>>,
    {
        if poll_interval.is_zero() {
            return Err(ClientError::invalid("poll interval", "must be positive"));
        }
        let deadline = Instant::now() + timeout;
        let expired = || ClientError::Timeout {
            kind: TimeoutKind::Wait,
            after: timeout,
        };
        loop {
            match tokio::time::timeout_at(deadline, check()).await {
                Ok(Ok(Some(done))) => return Ok(done),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(expired()),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(expired());
            }
            tokio::time::sleep_until((now + poll_interval).min(deadline)).await;
        }
    }

    // -- Docker containers --------------------------------------------------------

    /// `GET containers/docker/`: the Docker containers the agent runs.
    pub async fn list_docker_containers(&self) -> Result<Vec<DockerContainer>, ClientError> {
        self.call(api::list_docker_containers()).await
    }

    /// `GET containers/docker/{id}`: one Docker container.
    pub async fn get_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<DockerContainer, ClientError> {
        let id = self.segment::<DockerContainerId>(container_id.as_ref())?;
        self.call(api::get_docker_container(id)).await
    }

    /// `POST containers/docker/`: builds and runs a Docker container for a plugin.
    pub async fn create_docker_container(
        &self,
        container: &CreateDockerContainer,
    ) -> Result<DockerContainer, ClientError> {
        if container.plugin_release.is_empty() {
            return Err(ClientError::invalid("plugin_release", "must not be empty"));
        }
        self.call(api::create_docker_container().body(container))
            .await
    }

    /// `DELETE containers/docker/{id}`: removes a Docker container.
    pub async fn delete_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<(), ClientError> {
        let id = self.segment::<DockerContainerId>(container_id.as_ref())?;
        self.call(api::delete_docker_container(id)).await
    }

    /// `POST containers/docker/{id}/start/`: starts a Docker container.
    pub async fn start_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<DockerContainer, ClientError> {
        let id = self.segment::<DockerContainerId>(container_id.as_ref())?;
        self.call(api::start_docker_container(id)).await
    }

    /// `POST containers/docker/{id}/stop/`: stops a Docker container.
    pub async fn stop_docker_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<DockerContainer, ClientError> {
        let id = self.segment::<DockerContainerId>(container_id.as_ref())?;
        self.call(api::stop_docker_container(id)).await
    }

    // -- plugin containers --------------------------------------------------------

    /// `POST containers/`: creates a plugin container from a release, or from an
    /// uploaded plugin file (sent as multipart/form-data). The answer names the
    /// build that makes it (`build_id`; see [`wait_for_build`](Self::wait_for_build)).
    pub async fn create_container(
        &self,
        container: &CreateContainer,
    ) -> Result<Container, ClientError> {
        if container.plugin_release.is_none() && container.plugin_file.is_none() {
            return Err(ClientError::invalid(
                "container",
                "needs a plugin_release or a plugin_file",
            ));
        }
        self.call(api::create_container().body(container)).await
    }

    /// `GET containers/`: a page of plugin containers; `query` passes through.
    pub async fn list_containers<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Page<Container>, ClientError> {
        self.call(api::list_containers().query(query)).await
    }

    /// Every plugin container: the pages of [`list_containers`](Self::list_containers),
    /// following each page's `next` (the SDK's `list_all=True`).
    pub async fn list_all_containers<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Vec<Container>, ClientError> {
        self.list_all(api::list_containers().query(query)).await
    }

    /// Every plugin release: the pages of `list_plugin_releases`, following each
    /// page's `next` (the SDK's `list_all=True`).
    pub async fn list_all_plugin_releases<K: AsRef<str>, V: AsRef<str>>(
        &self,
        query: &[(K, V)],
    ) -> Result<Vec<PluginRelease>, ClientError> {
        self.list_all(api::list_plugin_releases().query(query))
            .await
    }

    /// `GET containers/{id}`: one plugin container.
    pub async fn get_container(
        &self,
        container_id: impl AsRef<str>,
    ) -> Result<Container, ClientError> {
        let id = self.segment::<ContainerId>(container_id.as_ref())?;
        self.call(api::get_container(id)).await
    }

    /// `PATCH containers/{id}`: updates a plugin container (its status, ...).
    pub async fn update_container(
        &self,
        container_id: impl AsRef<str>,
        update: &UpdateContainer,
    ) -> Result<Container, ClientError> {
        let id = self.segment::<ContainerId>(container_id.as_ref())?;
        self.call(api::update_container(id).body(update)).await
    }

    /// `DELETE containers/{id}`: deletes a plugin container (the agent stops it too).
    pub async fn delete_container(&self, container_id: impl AsRef<str>) -> Result<(), ClientError> {
        let id = self.segment::<ContainerId>(container_id.as_ref())?;
        self.call(api::delete_container(id)).await
    }

    // -- exists, list_all ---------------------------------------------------------

    /// synapse-sdk's `exists(api, ...)`: true when the paginated list `operation`
    /// (`list_plugin_releases` or `list_containers`) has at least one entry for
    /// `query` (its `count`, else its results). Any other operation is a 400.
    ///
    /// ```no_run
    /// # async fn run(client: agent_client_async::AsyncAgentClient) -> Result<(), agent_proto::ClientError> {
    /// use agent_proto::api::OperationId;
    /// let any = client.exists(OperationId::ListPluginReleases, &[("plugin", "demo")]).await?;
    /// # let _ = any; Ok(()) }
    /// ```
    pub async fn exists<K: AsRef<str>, V: AsRef<str>>(
        &self,
        operation: OperationId,
        query: &[(K, V)],
    ) -> Result<bool, ClientError> {
        if !operation.paginated() {
            return Err(ClientError::invalid(
                "exists",
                format!(
                    "takes a paginated list (list_plugin_releases, list_containers), not {}",
                    operation.name()
                ),
            ));
        }
        // a paginated list has no path segment
        let list = operation.with_segment(None)?;
        let page = self
            .call(Call::<(), Page<Value>>::new(list).query(query))
            .await?;
        Ok(match page.count {
            Some(n) => n > 0,
            None => !page.results.is_empty(),
        })
    }

    /// Every item of a paginated list, following each page's `next`. A `next` is
    /// followed only when it routes back to the same operation ([`match_request`])
    /// under this client's base URL: a link elsewhere (another host, another
    /// route) is a 500 [`ClientError::Protocol`], never a request carrying the token.
    async fn list_all<T: DeserializeOwned>(
        &self,
        first: Call<(), Page<T>>,
    ) -> Result<Vec<T>, ClientError> {
        let operation = first.operation().clone();
        let mut call = first;
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self.call(call).await?;
            items.extend(page.results);
            let Some(next) = page.next.filter(|n| !n.is_empty()) else {
                return Ok(items);
            };
            let refuse = |why: &str| ClientError::Protocol {
                message: format!("the page's next link {next:?} {why}"),
                source: None,
            };
            if !seen.insert(next.clone()) {
                return Err(refuse("repeats an earlier page"));
            }
            let base = format!("{}/", self.base_url().trim_end_matches('/'));
            // the base URL's own path (`/agent/`), for a link written from the host's root
            let base_path = base
                .parse::<http::Uri>()
                .map(|u| u.path().to_owned())
                .unwrap_or_else(|_| "/".into());
            let relative = match next.strip_prefix(&base) {
                Some(rest) => rest,
                None if next.contains("://") || next.starts_with("//") => {
                    return Err(refuse("leaves the agent's base URL"))
                }
                None if next.starts_with('/') => match next.strip_prefix(&base_path) {
                    Some(rest) => rest,
                    None => return Err(refuse("leaves the agent's base path")),
                },
                None => next.as_str(),
            };
            let (path, query) = match relative.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (relative, None),
            };
            match match_request(&Method::GET, path, false) {
                Ok(op) if op == operation => {}
                _ => return Err(refuse("is not a page of the same list")),
            }
            let pairs: Vec<(String, String)> = query::pairs(query).collect();
            call = Call::new(operation.clone()).query(&pairs);
        }
        Err(ClientError::Protocol {
            message: format!("the list has more than {MAX_PAGES} pages"),
            source: None,
        })
    }
}
