//! `resources`, `system`, `containers` and `builds`: synapse-sdk's platform methods,
//! each run through the client's typed method of the same name (the route is the
//! description's, [`agent_proto::api`]; nothing here writes a path).
//!
//! Input is checked when the plan is made ([`plan_resources`] and its siblings),
//! before any request, as for every other command (a 400, exit 2). The answer is the typed model, which keeps
//! every field the agent sent: `-o json`/`yaml` print it as JSON, the tables read
//! it. The waits (`system wait`, `builds wait`, `--wait`) exit 0 on success and 6
//! when their time-out runs out (the client's 408 of kind `wait`); a failed or
//! cancelled build exits 1 with the build's error.

use crate::exit::Failure;
use crate::platform_cli::{
    BuildsCmd, ContainerSettings, ContainersCmd, CreateContainerArgs, DockerCmd, FeasibilityArgs,
    PolicyCmd, PollArgs, ResourcesCmd, SystemCmd,
};
use crate::render::{value_text, Cell, Fit, Style, Table};
use crate::run::Printer;
use crate::views::{self, typed, ViewResult};
use agent_client_async::AsyncAgentClient;
use agent_proto::{
    BuildId, ClientError, Container, ContainerId, CreateContainer, CreateDockerContainer,
    DockerContainer, DockerContainerId, FeasibilityRequest, Page, PluginFile, UpdateContainer,
    UpdateSystem,
};
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::Write;
use std::time::Duration;

/// How long `system wait` waits by default (the SDK's `wait_for_system_ready`).
const SYSTEM_WAIT: Duration = Duration::from_secs(120);
/// How long `builds wait` waits by default (the SDK's `wait_for_build`).
const BUILD_WAIT: Duration = Duration::from_secs(300);
/// The SDK's poll interval.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The largest plugin archive `containers create --file` uploads (it is read into
/// memory and sent in one request).
pub const MAX_PLUGIN_FILE: u64 = 512 * 1024 * 1024;

/// A wait: its time-out and poll interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// Give up after this long (exit 6).
    pub timeout: Duration,
    /// Between two polls.
    pub interval: Duration,
}

/// One platform operation, its input checked.
#[derive(Debug)]
pub enum PlatformOp {
    /// `get_cluster_resources(use_cache)`
    ClusterResources {
        /// False with `--no-cache`.
        use_cache: bool,
    },
    /// `check_feasibility(...)`
    Feasibility(FeasibilityRequest),
    /// `get_gatekeeping_policy()`, or `get_runtime_policy()` with `runtime`.
    GetPolicy {
        /// Read as the runtime policy.
        runtime: bool,
    },
    /// `update_gatekeeping_policy(patch)`, or `update_runtime_policy(patch)`.
    PatchPolicy {
        /// The patch (a JSON object).
        patch: Value,
        /// Read the answer as the runtime policy.
        runtime: bool,
    },
    /// `get_compose_config()`
    ComposeConfig,
    /// `get_system_status()`
    SystemStatus,
    /// `wait_for_system_ready(timeout, poll_interval)`
    SystemWait(Poll),
    /// `update_system(...)`, then perhaps a wait.
    UpdateSystem(UpdateSystem, Option<Poll>),
    /// `restart_system()`, then perhaps a wait.
    RestartSystem(Option<Poll>),
    /// `list_docker_containers()`
    ListDocker,
    /// `get_docker_container(id)`
    GetDocker(DockerContainerId),
    /// `create_docker_container(...)`
    CreateDocker(CreateDockerContainer),
    /// `delete_docker_container(id)`
    DeleteDocker(DockerContainerId),
    /// `start_docker_container(id)`
    StartDocker(DockerContainerId),
    /// `stop_docker_container(id)`
    StopDocker(DockerContainerId),
    /// `list_containers(query)`, or with `all` every page (`list_all_containers`).
    ListContainers {
        /// The query passed through.
        query: Vec<(String, String)>,
        /// Follow every page.
        all: bool,
    },
    /// `get_container(id)`
    GetContainer(ContainerId),
    /// `create_container(...)`, then perhaps `wait_for_build` of its build.
    CreateContainer(Box<CreateContainer>, Option<Poll>),
    /// `update_container(id, ...)`
    UpdateContainer(ContainerId, UpdateContainer),
    /// `delete_container(id)`
    DeleteContainer(ContainerId),
    /// `get_build_status(id)`
    GetBuild(BuildId),
    /// `wait_for_build(id, timeout, poll_interval)`
    WaitBuild(BuildId, Poll),
}

// -- planning -------------------------------------------------------------------

/// `resources ...`
pub fn plan_resources(cmd: &ResourcesCmd) -> Result<PlatformOp, ClientError> {
    Ok(match cmd {
        ResourcesCmd::Cluster { no_cache } => PlatformOp::ClusterResources {
            use_cache: !no_cache,
        },
        ResourcesCmd::Feasibility(args) => PlatformOp::Feasibility(feasibility(args)?),
        ResourcesCmd::Policy { cmd } => match cmd {
            PolicyCmd::Get { runtime } => PlatformOp::GetPolicy { runtime: *runtime },
            PolicyCmd::Patch { patch, runtime } => PlatformOp::PatchPolicy {
                patch: Value::Object(json_object("patch", patch)?),
                runtime: *runtime,
            },
        },
    })
}

fn feasibility(args: &FeasibilityArgs) -> Result<FeasibilityRequest, ClientError> {
    let kind = args.kind.trim();
    if kind.is_empty() {
        return Err(ClientError::invalid("kind", "must not be empty"));
    }
    if !(args.cpus.is_finite() && args.cpus >= 0.0) {
        return Err(ClientError::invalid(
            "--cpus",
            "must be a number, 0 or more",
        ));
    }
    if !(args.gpus.is_finite() && args.gpus >= 0.0) {
        return Err(ClientError::invalid(
            "--gpus",
            "must be a number, 0 or more",
        ));
    }
    if args.replicas == 0 {
        return Err(ClientError::invalid("--replicas", "must be at least 1"));
    }
    let mut request = FeasibilityRequest::new(kind, args.cpus)
        .num_gpus(args.gpus)
        .replicas(args.replicas);
    if let Some(m) = args.memory {
        request = request.memory_bytes(m);
    }
    if let Some(m) = &args.metadata {
        request = request.metadata(json_object("metadata", m)?);
    }
    Ok(request)
}

/// `system ...`
pub fn plan_system(cmd: &SystemCmd) -> Result<PlatformOp, ClientError> {
    Ok(match cmd {
        SystemCmd::ComposeConfig => PlatformOp::ComposeConfig,
        SystemCmd::Status => PlatformOp::SystemStatus,
        SystemCmd::Wait(poll) => PlatformOp::SystemWait(poll_of(poll, SYSTEM_WAIT)?),
        SystemCmd::Update {
            api_tag,
            worker_tag,
            wait,
            poll,
        } => {
            let mut update = UpdateSystem::default();
            if let Some(t) = api_tag {
                update = update.api_tag(tag("--api-tag", t)?);
            }
            if let Some(t) = worker_tag {
                update = update.worker_tag(tag("--worker-tag", t)?);
            }
            PlatformOp::UpdateSystem(update, then_wait(*wait, poll, SYSTEM_WAIT)?)
        }
        SystemCmd::Restart { wait, poll } => {
            PlatformOp::RestartSystem(then_wait(*wait, poll, SYSTEM_WAIT)?)
        }
    })
}

fn tag(what: &'static str, t: &str) -> Result<String, ClientError> {
    let t = t.trim();
    if t.is_empty() {
        return Err(ClientError::invalid(what, "must not be empty"));
    }
    Ok(t.to_owned())
}

/// `containers ...`
pub fn plan_containers(cmd: &ContainersCmd) -> Result<PlatformOp, ClientError> {
    Ok(match cmd {
        ContainersCmd::Docker { cmd } => match cmd {
            DockerCmd::List => PlatformOp::ListDocker,
            DockerCmd::Get { id } => PlatformOp::GetDocker(DockerContainerId::new(id.as_str())?),
            DockerCmd::Create {
                plugin_release,
                settings,
            } => PlatformOp::CreateDocker(docker_container(plugin_release, settings)?),
            DockerCmd::Delete { id } => {
                PlatformOp::DeleteDocker(DockerContainerId::new(id.as_str())?)
            }
            DockerCmd::Start { id } => {
                PlatformOp::StartDocker(DockerContainerId::new(id.as_str())?)
            }
            DockerCmd::Stop { id } => PlatformOp::StopDocker(DockerContainerId::new(id.as_str())?),
        },
        ContainersCmd::List { all, query } => PlatformOp::ListContainers {
            query: crate::plan::query_pairs(query)?,
            all: *all,
        },
        ContainersCmd::Get { id } => PlatformOp::GetContainer(ContainerId::new(id.as_str())?),
        ContainersCmd::Create(args) => {
            let wait = then_wait(args.wait, &args.poll, BUILD_WAIT)?;
            PlatformOp::CreateContainer(Box::new(container(args)?), wait)
        }
        ContainersCmd::Update { id, status } => {
            let status = status.trim();
            if status.is_empty() {
                return Err(ClientError::invalid("--status", "must not be empty"));
            }
            PlatformOp::UpdateContainer(
                ContainerId::new(id.as_str())?,
                UpdateContainer::status(status),
            )
        }
        ContainersCmd::Delete { id } => PlatformOp::DeleteContainer(ContainerId::new(id.as_str())?),
    })
}

/// The settings both creates take: parameters, environment, metadata, labels.
struct Settings {
    params: Option<Value>,
    envs: Option<Map<String, Value>>,
    metadata: Option<Value>,
    labels: Option<Vec<String>>,
}

fn settings(s: &ContainerSettings) -> Result<Settings, ClientError> {
    let envs = if s.envs.is_empty() {
        None
    } else {
        let mut map = Map::new();
        for (k, v) in crate::plan::query_pairs(&s.envs)
            .map_err(|_| ClientError::invalid("--env", "expected KEY=VALUE"))?
        {
            map.insert(k, Value::String(v));
        }
        Some(map)
    };
    Ok(Settings {
        params: s
            .params
            .as_deref()
            .map(|p| crate::plan::json_arg("params", p))
            .transpose()?,
        envs,
        metadata: s
            .metadata
            .as_deref()
            .map(|m| crate::plan::json_arg("metadata", m))
            .transpose()?,
        labels: (!s.labels.is_empty()).then(|| s.labels.clone()),
    })
}

fn release(what: &'static str, r: &str) -> Result<String, ClientError> {
    match r.trim().rsplit_once('@') {
        Some((code, version)) if !code.is_empty() && !version.is_empty() => Ok(r.trim().to_owned()),
        _ => Err(ClientError::invalid(
            what,
            format!("{r:?}: expected CODE@VERSION"),
        )),
    }
}

fn docker_container(
    plugin_release: &str,
    s: &ContainerSettings,
) -> Result<CreateDockerContainer, ClientError> {
    let s = settings(s)?;
    let mut c = CreateDockerContainer::new(release("--plugin-release", plugin_release)?);
    c.params = s.params;
    c.envs = s.envs;
    c.metadata = s.metadata;
    c.labels = s.labels;
    Ok(c)
}

fn container(args: &CreateContainerArgs) -> Result<CreateContainer, ClientError> {
    let mut c = match (&args.plugin_release, &args.file) {
        (Some(r), None) => CreateContainer::release(release("--plugin-release", r)?),
        (None, Some(path)) => CreateContainer::upload(plugin_file(path)?),
        _ => {
            return Err(ClientError::invalid(
                "container",
                "needs --plugin-release or --file (one of them)",
            ))
        }
    };
    let s = settings(&args.settings)?;
    c.model = args.model;
    c.kind = args.kind.clone().filter(|k| !k.trim().is_empty());
    c.backend_container_id = args.backend_container_id;
    c.params = s.params;
    c.envs = s.envs;
    c.metadata = s.metadata;
    c.labels = s.labels;
    Ok(c)
}

/// The archive of `--file`, read whole (up to [`MAX_PLUGIN_FILE`]).
fn plugin_file(path: &std::path::Path) -> Result<PluginFile, ClientError> {
    let shown = path.display();
    let unreadable = |e: std::io::Error| ClientError::invalid("--file", format!("{shown}: {e}"));
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_PLUGIN_FILE {
        return Err(ClientError::invalid(
            "--file",
            format!("{shown} is {size} bytes, more than the {MAX_PLUGIN_FILE}-byte limit"),
        ));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ClientError::invalid("--file", format!("{shown} names no file")))?;
    Ok(PluginFile::new(name, bytes))
}

/// `builds ...`
pub fn plan_builds(cmd: &BuildsCmd) -> Result<PlatformOp, ClientError> {
    Ok(match cmd {
        BuildsCmd::Get { id } => PlatformOp::GetBuild(BuildId::new(id.as_str())?),
        BuildsCmd::Wait { id, poll } => {
            PlatformOp::WaitBuild(BuildId::new(id.as_str())?, poll_of(poll, BUILD_WAIT)?)
        }
    })
}

fn poll_of(args: &PollArgs, default_timeout: Duration) -> Result<Poll, ClientError> {
    Ok(Poll {
        timeout: match args.timeout {
            Some(s) => crate::plan::seconds("wait timeout", s)?,
            None => default_timeout,
        },
        interval: match args.poll_interval {
            Some(s) => crate::plan::seconds("poll interval", s)?,
            None => POLL_INTERVAL,
        },
    })
}

/// The wait of `--wait`; `--timeout` or `--poll-interval` without it is refused, so
/// that a command line never seems to wait when it does not.
fn then_wait(
    wait: bool,
    args: &PollArgs,
    default_timeout: Duration,
) -> Result<Option<Poll>, ClientError> {
    if wait {
        return poll_of(args, default_timeout).map(Some);
    }
    if args.timeout.is_some() || args.poll_interval.is_some() {
        return Err(ClientError::invalid(
            "--timeout / --poll-interval",
            "only mean something with --wait",
        ));
    }
    Ok(None)
}

fn json_object(what: &'static str, text: &str) -> Result<Map<String, Value>, ClientError> {
    match crate::plan::json_arg(what, text)? {
        Value::Object(map) => Ok(map),
        _ => Err(ClientError::invalid(what, "must be a JSON object")),
    }
}

// -- running --------------------------------------------------------------------

fn to_json<T: Serialize>(v: &T) -> Result<Value, ClientError> {
    serde_json::to_value(v).map_err(|e| ClientError::Decode {
        message: format!("could not show the answer: {e}"),
    })
}

/// Runs `op` through the client's typed method and prints its answer.
pub async fn run(
    client: &AsyncAgentClient,
    op: PlatformOp,
    p: &mut Printer<'_>,
) -> Result<(), Failure> {
    match op {
        PlatformOp::ClusterResources { use_cache } => {
            let v = to_json(&client.get_cluster_resources(use_cache).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::Feasibility(request) => {
            let v = to_json(&client.check_feasibility(&request).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::GetPolicy { runtime: false } => {
            let v = to_json(&client.get_gatekeeping_policy().await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::GetPolicy { runtime: true } => {
            let v = to_json(&client.get_runtime_policy().await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::PatchPolicy {
            patch,
            runtime: false,
        } => {
            let v = to_json(&client.update_gatekeeping_policy(&patch).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::PatchPolicy {
            patch,
            runtime: true,
        } => {
            let v = to_json(&client.update_runtime_policy(&patch).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::ComposeConfig => {
            let v = to_json(&client.get_compose_config().await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::SystemStatus => {
            let v = to_json(&client.get_system_status().await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::SystemWait(poll) => system_ready(client, poll, p).await,
        PlatformOp::UpdateSystem(update, wait) => {
            let v = to_json(&client.update_system(&update).await?)?;
            system_then(client, &v, wait, p).await
        }
        PlatformOp::RestartSystem(wait) => {
            let v = to_json(&client.restart_system().await?)?;
            system_then(client, &v, wait, p).await
        }
        PlatformOp::ListDocker => {
            let v = to_json(&client.list_docker_containers().await?)?;
            p.show(&v, docker_containers)
        }
        PlatformOp::GetDocker(id) => {
            let v = to_json(&client.get_docker_container(id.as_str()).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::CreateDocker(c) => {
            let v = to_json(&client.create_docker_container(&c).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::DeleteDocker(id) => {
            client.delete_docker_container(id.as_str()).await?;
            done(p, &format!("deleted Docker container {id}"))
        }
        PlatformOp::StartDocker(id) => {
            let v = to_json(&client.start_docker_container(id.as_str()).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::StopDocker(id) => {
            let v = to_json(&client.stop_docker_container(id.as_str()).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::ListContainers { query, all: false } => {
            let v = to_json(&client.list_containers(&query).await?)?;
            p.show(&v, container_page)
        }
        PlatformOp::ListContainers { query, all: true } => {
            let v = to_json(&client.list_all_containers(&query).await?)?;
            p.show(&v, containers)
        }
        PlatformOp::GetContainer(id) => {
            let v = to_json(&client.get_container(id.as_str()).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::CreateContainer(c, wait) => {
            let created = client.create_container(&c).await?;
            let v = to_json(&created)?;
            let (Some(poll), Some(build)) = (wait, created.build_id.as_deref()) else {
                return p.show(&v, views::details);
            };
            let build = BuildId::new(build)?;
            if p.mode.is_table() {
                p.show(&v, views::details)?;
                // the build's answer follows as a block of its own
                writeln!(p.out)?;
                eprintln!("agentctl: waiting for build {build}");
            } else if p.mode == crate::cli::Output::Jsonl {
                p.doc(&v)?;
            }
            build_done(client, &build, poll, p).await
        }
        PlatformOp::UpdateContainer(id, update) => {
            let v = to_json(&client.update_container(id.as_str(), &update).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::DeleteContainer(id) => {
            client.delete_container(id.as_str()).await?;
            done(p, &format!("deleted container {id}"))
        }
        PlatformOp::GetBuild(id) => {
            let v = to_json(&client.get_build_status(id.as_str()).await?)?;
            p.show(&v, views::details)
        }
        PlatformOp::WaitBuild(id, poll) => build_done(client, &id, poll, p).await,
    }
}

/// A delete's answer: a line for people; `{}` (the agent answers nothing) otherwise.
fn done(p: &mut Printer<'_>, line: &str) -> Result<(), Failure> {
    let line = line.to_owned();
    p.show(&Value::Object(Map::new()), move |_, _, out| {
        writeln!(out, "{line}")?;
        Ok(())
    })
}

/// `system wait`: the ready status (exit 0), or exit 6 past the time-out.
async fn system_ready(
    client: &AsyncAgentClient,
    poll: Poll,
    p: &mut Printer<'_>,
) -> Result<(), Failure> {
    let status = client
        .wait_for_system_ready(poll.timeout, poll.interval)
        .await?;
    p.show(&to_json(&status)?, views::details)
}

/// The answer of an update or restart, then with a wait the ready status (one
/// document in json and yaml: the status; jsonl: the answer, then the status).
async fn system_then(
    client: &AsyncAgentClient,
    answer: &Value,
    wait: Option<Poll>,
    p: &mut Printer<'_>,
) -> Result<(), Failure> {
    let Some(poll) = wait else {
        return p.show(answer, views::details);
    };
    match p.mode {
        crate::cli::Output::Table | crate::cli::Output::Wide => {
            p.show(answer, views::details)?;
            writeln!(p.out)?;
            eprintln!("agentctl: waiting for the system to be ready");
        }
        crate::cli::Output::Jsonl => p.doc(answer)?,
        crate::cli::Output::Json | crate::cli::Output::Yaml => {}
    }
    system_ready(client, poll, p).await
}

/// `builds wait`: the completed build (exit 0); a failed or cancelled one is the
/// client's 500 naming it (exit 1); exit 6 past the time-out.
async fn build_done(
    client: &AsyncAgentClient,
    id: &BuildId,
    poll: Poll,
    p: &mut Printer<'_>,
) -> Result<(), Failure> {
    let build = client
        .wait_for_build(id.as_str(), poll.timeout, poll.interval)
        .await?;
    p.show(&to_json(&build)?, views::details)
}

/// `containers docker list`: id, name, image, status.
fn docker_containers(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let list: Vec<DockerContainer> = typed(v)?;
    let mut t = Table::new(&["ID", "NAME", "IMAGE", "STATUS"]).fit(&[
        Fit::Id,
        Fit::Other,
        Fit::Text,
        Fit::Other,
    ]);
    for c in &list {
        t.row(vec![
            Cell::new(c.id.as_str()),
            Cell::opt(c.name.as_deref()),
            Cell::opt(c.image.as_deref()),
            Cell::opt(c.status.as_deref()),
        ]);
    }
    Ok(t.write(style, out)?)
}

fn container_table(list: &[Container]) -> Table {
    let mut t = Table::new(&["ID", "RELEASE", "STATUS", "BUILD", "DOCKER ID"]).fit(&[
        Fit::Id,
        Fit::Other,
        Fit::Other,
        Fit::Id,
        Fit::Text,
    ]);
    for c in list {
        t.row(vec![
            Cell::opt(c.id.as_ref().map(value_text)),
            Cell::opt(c.plugin_release.as_deref()),
            Cell::opt(c.status.as_deref()),
            Cell::opt(c.build_id.as_deref()),
            Cell::opt(c.container_id.as_deref()),
        ]);
    }
    t
}

/// `containers list --all`: every container.
fn containers(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let list: Vec<Container> = typed(v)?;
    Ok(container_table(&list).write(style, out)?)
}

/// `containers list`: a page, and how to see the rest.
fn container_page(v: &Value, style: &Style, out: &mut dyn Write) -> ViewResult {
    let page: Page<Container> = typed(v)?;
    container_table(&page.results).write(style, out)?;
    if let Some(count) = page.count {
        if count > page.results.len() as u64 {
            writeln!(
                out,
                "{} of {count} containers (all of them: --all)",
                page.results.len()
            )?;
        }
    }
    Ok(())
}
