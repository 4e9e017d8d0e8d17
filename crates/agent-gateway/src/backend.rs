//! [`RayBackend`]: the agent operations answered from a Ray cluster, as the
//! serving layer (`agent-server`) asks for them ([`AgentBackend`]).
//!
//! The routes are answered by `Routes`; [`RayBackend`] is the boundary every answer
//! crosses on its way out, where credentials are hidden ([`redact::answer`]) from
//! every JSON answer, error message and tail error, whatever route made it.

use crate::archive::{Archive, Entry};
use crate::hub::{HubSettings, JobHub};
use crate::mapping::{self, client_error_message};
use crate::plugins::{self, PluginRegistry};
use crate::ray::RayClient;
use crate::redact;
use crate::tail::TailSettings;
use crate::GatewayError;
use agent_proto::query::{page_link, param as query_param};
use agent_proto::{JobId, NodeId, PluginLookup, ServeAppName, TaskId};
use agent_server::{
    AgentBackend, BackendError, BackendResult, ErrorBody, LogBody, LogStart, RequestContext,
    TailAt, TailProtocol, TailStream,
};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};

/// The agent API over a Ray cluster: jobs, logs and tails from Ray's Jobs API,
/// nodes and tasks from its State API, Serve applications, GPU status, and the
/// plugin releases of a [`PluginRegistry`].
#[derive(Debug)]
pub struct RayBackend {
    routes: Routes,
}

/// The routes' answers as made from Ray's (credentials still in them).
#[derive(Debug)]
struct Routes {
    ray: RayClient,
    plugins: RwLock<PluginRegistry>,
    tail: TailSettings,
    hub_settings: HubSettings,
    /// Every tail of a job shares one upstream from Ray ([`crate::hub`]).
    hub: JobHub,
    api_releases: bool,
    max_log_bytes: usize,
    /// The API's base URL as clients reach it, for absolute links (`None`: links
    /// are relative to the API's base).
    public_url: Option<String>,
    /// Finished jobs' logs and infos kept on disk (`--archive-dir`).
    archive: Option<Arc<Archive>>,
}

/// The default largest log read whole from the Jobs API (`jobs/{id}/logs/` where
/// the log-file API is unavailable): 64 MiB (a longer log is tailed). A log read
/// through the log-file API is streamed, of any size.
pub const DEFAULT_MAX_LOG_BYTES: usize = 64 * 1024 * 1024;

impl RayBackend {
    /// A backend over `ray` running the releases of `plugins`.
    pub fn new(ray: RayClient, plugins: PluginRegistry) -> Self {
        let hub = JobHub::new(ray.clone(), TailSettings::default(), HubSettings::default());
        RayBackend {
            routes: Routes {
                ray,
                plugins: RwLock::new(plugins),
                tail: TailSettings::default(),
                hub_settings: HubSettings::default(),
                hub,
                api_releases: false,
                max_log_bytes: DEFAULT_MAX_LOG_BYTES,
                public_url: None,
                archive: None,
            },
        }
    }

    /// Sets the largest log `jobs/{id}/logs/` reads whole from the Jobs API, where
    /// the log-file API is unavailable (a log file is streamed, of any size; a tail
    /// streams any log).
    pub fn with_max_log_bytes(mut self, max: usize) -> Self {
        self.routes.max_log_bytes = max;
        self
    }

    /// Lets callers create and delete releases through the API (in memory). Off by
    /// default: a release's entrypoint is a shell command run on the cluster, so
    /// by default only the operator's registry file defines them.
    pub fn with_api_releases(mut self, allowed: bool) -> Self {
        self.routes.api_releases = allowed;
        self
    }

    /// Makes the `next` and `previous` links of paged answers absolute, under
    /// `url` (the API's base URL as clients reach it, prefix included, checked by
    /// [`public_url`]). Without it they are relative to the API's base
    /// (`plugin_releases/?page=2&page_size=10`): never built from the caller's
    /// `Host` header, which anyone can set.
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.routes.public_url = url;
        self
    }

    /// Sets how tails pace themselves.
    pub fn with_tail_settings(mut self, settings: TailSettings) -> Self {
        self.routes.tail = settings;
        self.routes.new_hub();
        self
    }

    /// Sets how the per-job hub of tails bounds itself ([`crate::hub`]).
    pub fn with_hub_settings(mut self, settings: HubSettings) -> Self {
        self.routes.hub_settings = settings;
        self.routes.new_hub();
        self
    }

    /// The Ray client underneath.
    pub fn ray(&self) -> &RayClient {
        &self.routes.ray
    }

    /// Keeps finished jobs' final logs and infos in `archive`, and answers from it
    /// for a job Ray no longer knows ([`crate::archive`]): `jobs/` adds the archived
    /// jobs Ray does not list, `jobs/{id}/` answers an archived job Ray answers 404
    /// for, and an archived job's log and tails are served from the archive
    /// without asking Ray (a finished log never changes). Those answers carry
    /// `"archived": true` and the header `X-Agent-Source: archive`.
    pub fn with_archive(mut self, archive: Option<Arc<Archive>>) -> Self {
        self.routes.archive = archive;
        self
    }

    /// The archive, if any: a finished tail's final log goes into it with
    /// [`Archive::put_file`].
    pub fn archive(&self) -> Option<&Arc<Archive>> {
        self.routes.archive.as_ref()
    }
}

impl Routes {
    /// The hub for the settings as they are now (made before any tail).
    fn new_hub(&mut self) {
        self.hub = JobHub::new(self.ray.clone(), self.tail, self.hub_settings.clone());
    }

    fn check_api_releases(&self) -> BackendResult<()> {
        if self.api_releases {
            Ok(())
        } else {
            Err(BackendError::detail(
                403,
                "this gateway's plugin releases come from its registry file; \
                 start it with --allow-api-releases to create or delete them through the API",
            ))
        }
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, PluginRegistry> {
        match self.plugins.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, PluginRegistry> {
        match self.plugins.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The driver job id (hex) of a submission id or job id, if its driver started.
    async fn driver_job_id(&self, id: &str) -> BackendResult<Option<String>> {
        let job = JobId::new(id).map_err(to_backend)?;
        let job = self.ray.get_job(&job).await.map_err(to_backend)?;
        Ok(job.job_id)
    }
}

/// The answer for a failed operation: the error's status, and FastAPI's
/// `{"detail": message}` (a 422 keeps its detail list). The one place where the
/// gateway's errors ([`GatewayError`]) meet the agent API's answers.
pub fn to_backend(err: impl Into<GatewayError>) -> BackendError {
    let err = err.into();
    let status = err.status_code();
    match err {
        GatewayError::Validation { details, .. } if !details.is_empty() => {
            BackendError::json(422, json!({ "detail": details }))
        }
        other => BackendError::detail(status, client_error_message(&other)),
    }
}

/// Checks a public URL (`--public-url`): `http://` or `https://`, a host, no
/// query, fragment or userinfo; returned with a trailing `/`, ready for links.
///
/// ```
/// use agent_gateway::backend::public_url;
///
/// assert_eq!(public_url("https://agent.example/api").unwrap(), "https://agent.example/api/");
/// assert_eq!(public_url("evil.example").unwrap_err().status_code(), 400);
/// ```
pub fn public_url(url: &str) -> Result<String, GatewayError> {
    let invalid = |reason: &str| GatewayError::invalid("public URL", format!("{url:?}: {reason}"));
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(invalid("has no host"));
    }
    if host.contains('@') {
        return Err(invalid("must not hold a user or password"));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not hold a query, a fragment or blanks"));
    }
    let mut url = url.to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    Ok(url)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Routes' answers, with Ray's credentials still in them.
impl Routes {
    async fn health(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        let version = self.ray.version().await.map_err(to_backend)?;
        let gcs = self.ray.gcs_healthy().await.ok();
        Ok(mapping::health(&version, gcs, self.ray.address()))
    }

    async fn list_jobs(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        let listed = self.ray.list_jobs().await.map_err(to_backend)?;
        match (&self.archive, listed) {
            (Some(archive), Value::Array(jobs)) => {
                Ok(Value::Array(crate::archived::with_archived(jobs, archive)))
            }
            (_, listed) => Ok(listed),
        }
    }

    async fn get_job(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<Value> {
        // A finished job the gateway keeps: its final info no longer changes, so
        // Ray is not asked (N tails each reading the status at their end would
        // cost Ray N reads); from the archive when it holds the job, said so.
        if let Some(info) = self.hub.finished_info(job) {
            // (checked whole, as every answer from an entry: once per process)
            if let Some(entry) = self.archived(ctx, job, LogStart::Line(1)).await {
                return Ok(entry.info());
            }
            return serde_json::to_value(info)
                .map_err(|e| BackendError::detail(500, e.to_string()));
        }
        match self.ray.get_job_value(job).await {
            Err(e) if e.status_code() == 404 => {
                match self.archived(ctx, job, LogStart::Line(1)).await {
                    Some(entry) => Ok(entry.info()),
                    None => Err(to_backend(e)),
                }
            }
            Ok(info) => {
                self.drop_stale_archive(job, &info).await;
                Ok(info)
            }
            Err(e) => Err(to_backend(e)),
        }
    }

    /// Ray knows a job by `job`'s id: an archived entry of that id that is not
    /// this job (another start time: the submission id was used again, e.g.
    /// after a head restart) is dropped, so that its old log is never served as
    /// this job's.
    async fn drop_stale_archive(&self, job: &JobId, info: &Value) {
        let Some(archive) = &self.archive else {
            return;
        };
        let id = info
            .get("submission_id")
            .and_then(Value::as_str)
            .unwrap_or(job.as_str());
        let Some(archived) = archive.archived_info(id) else {
            return;
        };
        let started = |v: &Value| v.get("start_time").cloned();
        if started(&archived) != started(info) {
            self.forget_archived(id, "Ray now knows another job by this submission id")
                .await;
        }
    }

    /// [`Archive::forget`], on a blocking thread (it removes a file).
    async fn forget_archived(&self, id: &str, why: &'static str) {
        if let Some(archive) = &self.archive {
            let (archive, id) = (Arc::clone(archive), id.to_owned());
            let _ = tokio::task::spawn_blocking(move || archive.forget(&id, why)).await;
        }
    }

    /// The archived entry of `job`, checked to be served from `start`, if there
    /// is one; the answer is then marked as coming from the archive.
    async fn archived(&self, ctx: &RequestContext, job: &JobId, start: LogStart) -> Option<Entry> {
        let entry = crate::archived::lookup(self.archive.as_ref()?, job, start).await?;
        ctx.response_headers
            .insert(crate::archived::SOURCE_HEADER, "archive");
        Some(entry)
    }

    /// An archived log as tail events from its first line, numbered from there.
    fn archived_tail(&self, entry: Entry) -> TailAt {
        let from = entry.first_line();
        let source = crate::joblog::LogSource::File(Box::new(entry.log()));
        let events =
            crate::joblog::line_events(source, self.tail.max_message_size, self.tail.read_timeout);
        TailAt::new(events, Some(from), from)
    }

    /// `jobs/{id}/logs/`: a finished job's log from the hub while it keeps it,
    /// else from the archive, else from Ray (kept in the archive as it streams).
    async fn job_logs(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<LogBody> {
        if let Some(kept) = self.hub.finished_log(job, None) {
            return Ok(kept);
        }
        if let Some(entry) = self.archived(ctx, job, LogStart::Line(1)).await {
            return Ok(crate::archived::log_body(entry));
        }
        if let Some(archive) = &self.archive {
            return crate::archived::logs_kept(
                archive,
                &self.ray,
                job,
                self.max_log_bytes,
                self.tail.read_timeout,
            )
            .await
            .map_err(to_backend);
        }
        crate::joblog::stream_all(&self.ray, job, self.max_log_bytes, self.tail.read_timeout)
            .await
            .map_err(to_backend)
    }

    /// The tail of a finished job asked for its last `n` lines (`?tail=N`): those
    /// lines read from the end of the log file (Ray's `lines=N`), then `complete`;
    /// `None` for a job still running (its tail follows the live log). The lines'
    /// numbers are not known without reading the whole file, so they go out
    /// unnumbered (a client then keeps the last N itself, and gets no more).
    async fn finished_tail_last(&self, job: &JobId, n: u64) -> BackendResult<Option<TailAt>> {
        let info = self.ray.get_job(job).await.map_err(to_backend)?;
        if !info.status.is_terminal() {
            return Ok(None);
        }
        let source = if n == 0 {
            crate::joblog::LogSource::JobsApi(String::new())
        } else {
            crate::joblog::open_last(&self.ray, job, &info, Some(n))
                .await
                .map_err(to_backend)?
        };
        let events =
            crate::joblog::line_events(source, self.tail.max_message_size, self.tail.read_timeout);
        Ok(Some(TailAt::new(events, None, 1)))
    }

    async fn job_logs_last(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        n: u64,
    ) -> BackendResult<LogBody> {
        if let Some(kept) = self.hub.finished_log(job, Some(n)) {
            return Ok(kept);
        }
        if let Some(entry) = self.archived(ctx, job, LogStart::Last(n)).await {
            return Ok(crate::archived::log_body(entry));
        }
        crate::joblog::stream_last(
            &self.ray,
            job,
            Some(n),
            self.max_log_bytes,
            self.tail.read_timeout,
        )
        .await
        .map_err(to_backend)
    }

    async fn stop_job(&self, _ctx: &RequestContext, job: &JobId) -> BackendResult<Value> {
        let stopped = self.ray.stop_job(job).await.map_err(to_backend)?;
        serde_json::to_value(stopped).map_err(|e| BackendError::detail(500, e.to_string()))
    }

    /// A tail of `job` from `start`, served by the job's hub (an unknown job is a
    /// plain 404 before any upgrade or body). Where the hub does not hold the job
    /// yet, its last N lines are found from Ray: a finished job's from the end of
    /// its log file; a live job's start by counting the lines of its log so far
    /// (the hub's count would be that of an upstream only just started).
    async fn tail_at(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        start: LogStart,
    ) -> BackendResult<TailAt> {
        // The hub first (a live job, or a finished one it keeps), then the
        // archive (a finished log never changes: no Ray call), then Ray.
        if !self.hub.holds(job) {
            if let Some(entry) = self.archived(ctx, job, start).await {
                return Ok(self.archived_tail(entry));
            }
        }
        if let LogStart::Last(n) = start {
            if !self.hub.holds(job) {
                if let Some(at) = self.finished_tail_last(job, n).await? {
                    return Ok(at);
                }
                let total = agent_server::count_lines(self.job_logs(ctx, job).await?).await?;
                let first = total.saturating_sub(n) + 1;
                return self.hub.subscribe(job, LogStart::Line(first)).await;
            }
        }
        self.hub.subscribe(job, start).await
    }

    async fn list_nodes(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        Ok(Value::Array(self.ray.nodes().await.map_err(to_backend)?))
    }

    async fn get_node(&self, _ctx: &RequestContext, node: &NodeId) -> BackendResult<Value> {
        let nodes = self.ray.nodes().await.map_err(to_backend)?;
        mapping::find_by("node", &nodes, "node_id", node.as_str()).map_err(to_backend)
    }

    async fn list_tasks(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let filter = query_param(ctx.query.as_deref(), "job_id");
        let tasks = match filter {
            None => self.ray.tasks(None).await,
            Some(id) => match self.driver_job_id(&id).await? {
                Some(driver) => self.ray.tasks(Some(&driver)).await,
                // The driver has not started: the job has no task yet.
                None => Ok(Vec::new()),
            },
        };
        Ok(Value::Array(tasks.map_err(to_backend)?))
    }

    async fn get_task(&self, _ctx: &RequestContext, task: &TaskId) -> BackendResult<Value> {
        let not_found = || {
            to_backend(GatewayError::NotFound {
                message: format!("task {task} does not exist"),
            })
        };
        // Ray's task ids are hex; anything else cannot name a task.
        if !is_hex(task.as_str()) {
            return Err(not_found());
        }
        let attempts = self.ray.task(task.as_str()).await.map_err(to_backend)?;
        attempts
            .into_iter()
            .filter(|t| t.get("task_id").and_then(Value::as_str) == Some(task.as_str()))
            .max_by_key(|t| t.get("attempt_number").and_then(Value::as_u64).unwrap_or(0))
            .ok_or_else(not_found)
    }

    async fn list_serve_applications(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        let status = self.ray.serve_status().await.map_err(to_backend)?;
        Ok(Value::Array(mapping::serve_applications(&status)))
    }

    async fn get_serve_application(
        &self,
        _ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<Value> {
        let status = self.ray.serve_status().await.map_err(to_backend)?;
        mapping::serve_application(&status, name.as_str()).map_err(to_backend)
    }

    async fn delete_serve_application(
        &self,
        _ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<()> {
        let status = self.ray.serve_status().await.map_err(to_backend)?;
        let config = mapping::serve_config_without(&status, name.as_str()).map_err(to_backend)?;
        self.ray.put_serve_config(&config).await.map_err(to_backend)
    }

    async fn list_plugin_releases(&self, ctx: &RequestContext) -> BackendResult<Value> {
        let query = ctx.query.as_deref();
        let code = query_param(query, "plugin").or_else(|| query_param(query, "code"));
        let version = query_param(query, "version");
        let page_size = query_param(query, "page_size")
            .and_then(|p| p.parse::<usize>().ok())
            .filter(|p| *p > 0)
            .unwrap_or(100)
            .min(1000);
        let page = query_param(query, "page")
            .and_then(|p| p.parse::<usize>().ok())
            .filter(|p| *p > 0)
            .unwrap_or(1);
        let registry = self.registry();
        let matching: Vec<Value> = registry
            .releases()
            .iter()
            .filter(|r| code.as_deref().is_none_or(|c| c == r.code))
            .filter(|r| version.as_deref().is_none_or(|v| v == r.version))
            .map(|r| r.to_json())
            .collect();
        let count = matching.len();
        let start = (page - 1).saturating_mul(page_size).min(count);
        let end = start.saturating_add(page_size).min(count);
        let filters: Vec<(&str, &str)> =
            [("plugin", code.as_deref()), ("version", version.as_deref())]
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?)))
                .collect();
        let base = self.public_url.as_deref().unwrap_or("");
        let route = agent_server::RouteKind::ListPluginReleases.template();
        let link = |p: usize| json!(page_link(base, route, &filters, p, page_size));
        Ok(json!({
            "count": count,
            "next": if end < count { link(page + 1) } else { Value::Null },
            "previous": if page > 1 && start > 0 { link(page - 1) } else { Value::Null },
            "results": matching[start..end],
        }))
    }

    async fn get_plugin_release(
        &self,
        _ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<Value> {
        self.registry()
            .get(lookup)
            .map(|r| r.to_json())
            .map_err(to_backend)
    }

    async fn create_plugin_release(
        &self,
        _ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value> {
        self.check_api_releases()?;
        self.registry_mut()
            .create(&body)
            .map(|r| r.to_json())
            .map_err(to_backend)
    }

    async fn delete_plugin_release(
        &self,
        _ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<()> {
        self.check_api_releases()?;
        self.registry_mut().delete(lookup).map_err(to_backend)
    }

    async fn run_plugin_release(
        &self,
        _ctx: &RequestContext,
        lookup: &PluginLookup,
        body: Value,
    ) -> BackendResult<Value> {
        let (submission, release) = {
            let registry = self.registry();
            let release = registry.get(lookup).map_err(to_backend)?;
            (
                plugins::submission(release, &body).map_err(to_backend)?,
                release.lookup(),
            )
        };
        let answer = self.ray.submit_job(&submission).await.map_err(to_backend)?;
        let id = answer
            .get("submission_id")
            .or_else(|| answer.get("job_id"))
            .cloned()
            .unwrap_or(Value::Null);
        // A submission id may be used again (the SDK's `job_id`): what the gateway
        // kept of an earlier job by that id is not this job's.
        if let Some(new) = id.as_str().and_then(|i| JobId::new(i).ok()) {
            self.hub.forget_finished(&new);
            self.forget_archived(
                new.as_str(),
                "a new job was submitted with its submission id",
            )
            .await;
        }
        Ok(json!({
            "job_id": id,
            "submission_id": id,
            "plugin_release": release,
            "action": body.get("action").cloned().unwrap_or(Value::Null),
        }))
    }

    async fn run_debug_plugin_release(
        &self,
        _ctx: &RequestContext,
        _body: Value,
    ) -> BackendResult<Value> {
        Err(BackendError::detail(
            501,
            "agent-gateway runs registered plugin releases only (plugin_releases/{lookup}/run/); \
             register the plugin in the gateway's registry file instead of running it in debug mode",
        ))
    }

    async fn gpu_status(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        let nodes = self.ray.nodes().await.map_err(to_backend)?;
        let usage = self.ray.cluster_status().await.ok();
        Ok(mapping::gpu_status(&nodes, usage.as_ref()))
    }
}

/// An answer on its way out: credentials hidden wherever they sit.
fn shown(answer: BackendResult<Value>) -> BackendResult<Value> {
    match answer {
        Ok(mut value) => {
            redact::answer(&mut value);
            Ok(value)
        }
        Err(e) => Err(shown_error(e)),
    }
}

/// An error on its way out: its message may quote Ray's (a runtime_env that
/// failed to set up names its URL), so it is cleaned as an answer is.
fn shown_error(mut err: BackendError) -> BackendError {
    match &mut err.body {
        ErrorBody::Json(value) => redact::answer(value),
        ErrorBody::Text(text) => {
            if let std::borrow::Cow::Owned(clean) = redact::text(text) {
                *text = clean;
            }
        }
    }
    err
}

/// The boundary: every route's answer passes through [`shown`] (or its error
/// through [`shown_error`]) and nothing else is added here.
#[async_trait]
impl AgentBackend for RayBackend {
    async fn health(&self, ctx: &RequestContext) -> BackendResult<Value> {
        shown(self.routes.health(ctx).await)
    }

    async fn list_jobs(&self, ctx: &RequestContext) -> BackendResult<Value> {
        shown(self.routes.list_jobs(ctx).await)
    }

    async fn get_job(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<Value> {
        shown(self.routes.get_job(ctx, job).await)
    }

    async fn job_logs(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<LogBody> {
        // The log is the job's own output, shown as it printed it.
        self.routes.job_logs(ctx, job).await.map_err(shown_error)
    }

    async fn job_logs_last(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        n: u64,
    ) -> BackendResult<LogBody> {
        self.routes
            .job_logs_last(ctx, job, n)
            .await
            .map_err(shown_error)
    }

    async fn stop_job(&self, ctx: &RequestContext, job: &JobId) -> BackendResult<Value> {
        shown(self.routes.stop_job(ctx, job).await)
    }

    async fn tail(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        _protocol: TailProtocol,
    ) -> BackendResult<TailStream> {
        let at = self.routes.tail_at(ctx, job, LogStart::default()).await;
        Ok(at.map_err(shown_error)?.events)
    }

    async fn tail_at(
        &self,
        ctx: &RequestContext,
        job: &JobId,
        _protocol: TailProtocol,
        start: LogStart,
    ) -> BackendResult<TailAt> {
        self.routes
            .tail_at(ctx, job, start)
            .await
            .map_err(shown_error)
    }

    fn render_metrics(&self, out: &mut String) {
        self.routes.hub.render_metrics(out);
    }

    async fn list_nodes(&self, ctx: &RequestContext) -> BackendResult<Value> {
        shown(self.routes.list_nodes(ctx).await)
    }

    async fn get_node(&self, ctx: &RequestContext, node: &NodeId) -> BackendResult<Value> {
        shown(self.routes.get_node(ctx, node).await)
    }

    async fn list_tasks(&self, ctx: &RequestContext) -> BackendResult<Value> {
        shown(self.routes.list_tasks(ctx).await)
    }

    async fn get_task(&self, ctx: &RequestContext, task: &TaskId) -> BackendResult<Value> {
        shown(self.routes.get_task(ctx, task).await)
    }

    async fn list_serve_applications(&self, ctx: &RequestContext) -> BackendResult<Value> {
        shown(self.routes.list_serve_applications(ctx).await)
    }

    async fn get_serve_application(
        &self,
        ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<Value> {
        shown(self.routes.get_serve_application(ctx, name).await)
    }

    async fn delete_serve_application(
        &self,
        ctx: &RequestContext,
        name: &ServeAppName,
    ) -> BackendResult<()> {
        self.routes
            .delete_serve_application(ctx, name)
            .await
            .map_err(shown_error)
    }

    async fn list_plugin_releases(&self, ctx: &RequestContext) -> BackendResult<Value> {
        shown(self.routes.list_plugin_releases(ctx).await)
    }

    async fn get_plugin_release(
        &self,
        ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<Value> {
        shown(self.routes.get_plugin_release(ctx, lookup).await)
    }

    async fn create_plugin_release(
        &self,
        ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value> {
        shown(self.routes.create_plugin_release(ctx, body).await)
    }

    async fn delete_plugin_release(
        &self,
        ctx: &RequestContext,
        lookup: &PluginLookup,
    ) -> BackendResult<()> {
        self.routes
            .delete_plugin_release(ctx, lookup)
            .await
            .map_err(shown_error)
    }

    async fn run_plugin_release(
        &self,
        ctx: &RequestContext,
        lookup: &PluginLookup,
        body: Value,
    ) -> BackendResult<Value> {
        shown(self.routes.run_plugin_release(ctx, lookup, body).await)
    }

    async fn run_debug_plugin_release(
        &self,
        ctx: &RequestContext,
        body: Value,
    ) -> BackendResult<Value> {
        shown(self.routes.run_debug_plugin_release(ctx, body).await)
    }

    async fn gpu_status(&self, ctx: &RequestContext) -> BackendResult<Value> {
        shown(self.routes.gpu_status(ctx).await)
    }

    async fn cluster_resources(&self, _ctx: &RequestContext) -> BackendResult<Value> {
        shown(crate::resources::cluster_resources(&self.routes.ray).await)
    }

    async fn check_feasibility(&self, _ctx: &RequestContext, body: Value) -> BackendResult<Value> {
        shown(crate::resources::check_feasibility(&self.routes.ray, body).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked() {
        for bad in [
            "",
            "ftp://h/",
            "https://",
            "https://u:p@h/",
            "https://h/?a",
            "https://h /",
        ] {
            assert_eq!(public_url(bad).unwrap_err().status_code(), 400, "{bad}");
        }
    }

    #[test]
    fn errors_become_detail_answers() {
        let e = to_backend(mapping::ray_error(404, b"Job nope does not exist"));
        assert_eq!(e.status.as_u16(), 404);
        assert_eq!(
            e.body,
            agent_server::ErrorBody::Json(json!({"detail": "Job nope does not exist"}))
        );
        let v = plugins::PluginRegistry::new()
            .create(&json!({"plugin": "a"}))
            .unwrap_err();
        let e = to_backend(v);
        assert_eq!(e.status.as_u16(), 422);
    }
}
