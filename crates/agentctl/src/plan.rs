//! From a parsed command line to a checked operation, before any request.
//!
//! Every id, protocol, time-out, limit and JSON document is checked here, so that
//! bad input is refused with a 400 (exit 2) before a connection is opened or the
//! embedded agent is started.

use crate::cli::{
    Cli, Command, FollowArgs, JobsCmd, NodesCmd, PluginsCmd, RunExtraArgs, ServeCmd, TailArgs,
    TasksCmd,
};
use crate::filter::LineFilter;
use crate::many::ManyTail;
use crate::select::Pick;
use crate::start::Start;
use crate::wait::Wait;
use agent_client_async::RawPath;
use agent_proto::api::{self, Operation};
use agent_proto::{
    ClientError, CreatePluginRelease, JobId, NodeId, PluginLookup, Protocol, RunDebugPluginRelease,
    RunPluginRelease, ServeAppName, StreamLimits, TailOptions, TaskId, Timeouts,
};
use http::Method;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// What agentctl will do.
#[derive(Debug)]
// One per process, on the stack for the life of the command: its size costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Plan {
    /// Run the test agent standalone (`dev-server`), with who may read its metrics.
    DevServer(SocketAddr, agent_sample::MetricsAccess),
    /// Read or write the config file (`config ...`; see [`crate::config`]).
    Config,
    /// Print a completion script.
    Completions(clap_complete::Shell),
    /// Print the man page, or write one per subcommand into a directory.
    Man(Option<std::path::PathBuf>),
    /// Print the global options (`agentctl options`).
    Options,
    /// Call the agent.
    Call(Op),
}

/// One operation of the agent API, its input checked.
#[derive(Debug)]
pub enum Op {
    /// `GET health/`
    Health,
    /// `GET jobs/`, perhaps only those of one status (upper case).
    ListJobs(Option<String>),
    /// `GET jobs/{id}/`
    GetJob(JobId),
    /// `GET jobs/{id}/logs/`, perhaps only its last lines.
    JobLogs(JobId, Option<usize>),
    /// `POST jobs/{id}/stop/`, then perhaps a wait for the final status.
    StopJob(JobId, Option<Wait>),
    /// A log tail, then the job's final status.
    TailJob(JobId, TailOptions),
    /// The tails of several jobs (or of one with the flags of many), then their
    /// final statuses.
    TailMany(Box<ManyTail>),
    /// Waits for the job's final status.
    WaitJob(JobId, Wait),
    /// Waits for the final status of several jobs.
    WaitMany(Pick, Wait),
    /// `GET nodes/`
    ListNodes,
    /// `GET nodes/{id}/`
    GetNode(NodeId),
    /// `GET tasks/`
    ListTasks,
    /// `GET tasks/{id}/`
    GetTask(TaskId),
    /// `GET serve_applications/`
    ListServe,
    /// `GET serve_applications/{name}/`
    GetServe(ServeAppName),
    /// `DELETE serve_applications/{name}/`
    DeleteServe(ServeAppName),
    /// `GET plugin_releases/?...`
    ListPlugins(Vec<(String, String)>),
    /// `GET plugin_releases/{lookup}`
    GetPlugin(PluginLookup),
    /// `POST plugin_releases/`
    CreatePlugin(CreatePluginRelease),
    /// `DELETE plugin_releases/{lookup}`
    DeletePlugin(PluginLookup),
    /// `POST plugin_releases/{lookup}/run/`, then perhaps a tail of the job it started.
    RunPlugin {
        /// What it runs (boxed: it is the largest operation by far).
        run: Box<PluginRun>,
        /// Tail options when `--follow` was given.
        follow: Option<TailOptions>,
    },
    /// `GET gpu_status/`
    Gpu,
    /// `resources`, `system`, `containers`, `builds` (see [`crate::platform`]).
    Platform(Box<crate::platform::PlatformOp>),
    /// Any request.
    Raw {
        /// The method.
        method: Method,
        /// The path.
        path: RawPath,
        /// The query.
        query: Vec<(String, String)>,
        /// The JSON body.
        body: Option<Value>,
    },
}

/// One HTTP request: what `--output json` prints the answer of, as the agent sent it.
#[derive(Debug)]
pub struct Call {
    /// The operation of the description (`agent_proto::api`), `None` for `raw`.
    pub operation: Option<Operation>,
    /// The method.
    pub method: Method,
    /// The path relative to the base URL.
    pub path: String,
    /// The query.
    pub query: Vec<(String, String)>,
    /// The JSON body.
    pub body: Option<Value>,
}

impl Call {
    /// The request of `operation`: its method and path from the description.
    fn of(operation: Operation) -> Call {
        Call {
            method: operation.id().method(),
            path: operation.path(),
            operation: Some(operation),
            query: Vec::new(),
            body: None,
        }
    }

    fn with_body(self, body: Value) -> Call {
        Call {
            body: Some(body),
            ..self
        }
    }

    fn with_query(self, query: Vec<(String, String)>) -> Call {
        Call { query, ..self }
    }

    /// The description's call of a known operation, its answer read as the agent
    /// sent it (`None` for `raw`).
    pub fn described(&self) -> Option<api::Call<Value, api::JsonOrText>> {
        let call = api::Call::new(self.operation.clone()?).query(&self.query);
        Some(match &self.body {
            Some(body) => call.body(body),
            None => call,
        })
    }
}

impl Op {
    /// The request of this operation (`None` for a tail, which streams).
    pub fn call(&self) -> Result<Option<Call>, ClientError> {
        use Operation as O;
        Ok(Some(match self {
            Op::Health => Call::of(O::Health),
            Op::ListJobs(_) => Call::of(O::ListJobs),
            Op::GetJob(id) => Call::of(O::GetJob(id.clone())),
            // `?tail=N`: an agent that numbers its lines answers only the last N (spec:
            // "Line numbers and cursors"); one that ignores it sends the whole log,
            // which the answer's view trims.
            Op::JobLogs(id, tail) => Call::of(O::JobLogs(id.clone())).with_query(
                tail.map(|n| vec![("tail".to_owned(), n.to_string())])
                    .unwrap_or_default(),
            ),
            Op::StopJob(id, _) => Call::of(O::StopJob(id.clone())),
            Op::TailJob(..)
            | Op::TailMany(_)
            | Op::WaitJob(..)
            | Op::WaitMany(..)
            | Op::Platform(_) => return Ok(None),
            Op::ListNodes => Call::of(O::ListNodes),
            Op::GetNode(id) => Call::of(O::GetNode(id.clone())),
            Op::ListTasks => Call::of(O::ListTasks),
            Op::GetTask(id) => Call::of(O::GetTask(id.clone())),
            Op::ListServe => Call::of(O::ListServeApplications),
            Op::GetServe(name) => Call::of(O::GetServeApplication(name.clone())),
            Op::DeleteServe(name) => Call::of(O::DeleteServeApplication(name.clone())),
            Op::ListPlugins(query) => Call::of(O::ListPluginReleases).with_query(query.clone()),
            Op::GetPlugin(lookup) => Call::of(O::GetPluginRelease(lookup.clone())),
            Op::CreatePlugin(body) => Call::of(O::CreatePluginRelease).with_body(to_json(body)?),
            Op::DeletePlugin(lookup) => Call::of(O::DeletePluginRelease(lookup.clone())),
            Op::RunPlugin { run, .. } => match &**run {
                PluginRun::Release(lookup, body) => {
                    Call::of(O::RunPluginRelease(lookup.clone())).with_body(to_json(body)?)
                }
                PluginRun::Debug(body) => {
                    Call::of(O::RunDebugPluginRelease).with_body(to_json(body)?)
                }
            },
            Op::Gpu => Call::of(O::GpuStatus),
            Op::Raw {
                method,
                path,
                query,
                body,
            } => Call {
                operation: None,
                method: method.clone(),
                path: path.as_str().to_owned(),
                query: query.clone(),
                body: body.clone(),
            },
        }))
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ClientError> {
    serde_json::to_value(v).map_err(|e| ClientError::Decode {
        message: format!("could not encode the request body: {e}"),
    })
}

/// Checks the command line and makes the plan.
pub fn plan(cli: &Cli) -> Result<Plan, ClientError> {
    let op = match &cli.command {
        Command::Health => Op::Health,
        Command::Gpu => Op::Gpu,
        Command::Jobs { cmd } => match cmd {
            JobsCmd::List { status } => Op::ListJobs(status.map(|s| s.as_str().to_owned())),
            JobsCmd::Get { id } => Op::GetJob(JobId::new(id.as_str())?),
            JobsCmd::Logs { id, tail } => Op::JobLogs(JobId::new(id.as_str())?, *tail),
            JobsCmd::Stop { id, wait, timeout } => {
                let wait = if *wait {
                    Some(wait_for(*timeout)?)
                } else {
                    None
                };
                Op::StopJob(JobId::new(id.as_str())?, wait)
            }
            JobsCmd::Tail(args) => tail_plan(args)?,
            JobsCmd::Wait {
                ids,
                timeout,
                select,
            } => match crate::select::pick(ids, select)? {
                Pick::Ids(mut one) if one.len() == 1 => {
                    Op::WaitJob(one.remove(0), wait_for(*timeout)?)
                }
                pick => Op::WaitMany(pick, wait_for(*timeout)?),
            },
        },
        Command::Nodes { cmd } => match cmd {
            NodesCmd::List => Op::ListNodes,
            NodesCmd::Get { id } => Op::GetNode(NodeId::new(id.as_str())?),
        },
        Command::Tasks { cmd } => match cmd {
            TasksCmd::List => Op::ListTasks,
            TasksCmd::Get { id } => Op::GetTask(TaskId::new(id.as_str())?),
        },
        Command::DevServer(args) => return Ok(Plan::DevServer(args.listen, args.metrics)),
        Command::Config { .. } => return Ok(Plan::Config),
        Command::Completions { shell } => return Ok(Plan::Completions(*shell)),
        Command::GenerateMan { dir } => return Ok(Plan::Man(dir.clone())),
        Command::Options => return Ok(Plan::Options),
        Command::Serve { cmd } => match cmd {
            ServeCmd::List => Op::ListServe,
            ServeCmd::Get { name } => Op::GetServe(ServeAppName::new(name.as_str())?),
            ServeCmd::Delete { name } => Op::DeleteServe(ServeAppName::new(name.as_str())?),
        },
        Command::Plugins { cmd } => match cmd {
            PluginsCmd::List { query } => Op::ListPlugins(query_pairs(query)?),
            PluginsCmd::Get { lookup } => Op::GetPlugin(PluginLookup::new(lookup.as_str())?),
            PluginsCmd::Create { plugin, version } => {
                if plugin.trim().is_empty() {
                    return Err(ClientError::invalid("plugin", "must not be empty"));
                }
                if version.trim().is_empty() {
                    return Err(ClientError::invalid("version", "must not be empty"));
                }
                Op::CreatePlugin(CreatePluginRelease::new(plugin.as_str(), version.as_str()))
            }
            PluginsCmd::Delete { lookup } => Op::DeletePlugin(PluginLookup::new(lookup.as_str())?),
            PluginsCmd::Run(args) => {
                let lookup = PluginLookup::new(args.lookup.as_str())?;
                let mut run = RunPluginRelease::new(action(&args.action)?);
                if let Some(p) = &args.params {
                    run = run.params(json_arg("params", p)?);
                }
                let extra = run_extra(&args.extra)?;
                run.requirements = extra.requirements;
                run.job_id = extra.job_id;
                run.language = extra.language;
                Op::RunPlugin {
                    run: Box::new(PluginRun::Release(lookup, run)),
                    follow: follow_if(args.follow, &args.tail)?,
                }
            }
            PluginsCmd::RunDebug(args) => {
                let mut run = RunDebugPluginRelease::new(action(&args.action)?);
                if let Some(p) = &args.params {
                    run = run.params(json_arg("params", p)?);
                }
                if let Some(path) = &args.plugin_path {
                    if path.trim().is_empty() {
                        return Err(ClientError::invalid("plugin-path", "must not be empty"));
                    }
                    run = run.plugin_path(path.as_str());
                }
                run.config = args
                    .config
                    .as_deref()
                    .map(|c| json_arg("config", c))
                    .transpose()?;
                run.modules = args
                    .modules
                    .as_deref()
                    .map(|m| json_arg("modules", m))
                    .transpose()?;
                let extra = run_extra(&args.extra)?;
                run.requirements = extra.requirements;
                run.job_id = extra.job_id;
                run.language = extra.language;
                Op::RunPlugin {
                    run: Box::new(PluginRun::Debug(run)),
                    follow: follow_if(args.follow, &args.tail)?,
                }
            }
        },
        Command::Resources { cmd } => platform(crate::platform::plan_resources(cmd)?),
        Command::System { cmd } => platform(crate::platform::plan_system(cmd)?),
        Command::Containers { cmd } => platform(crate::platform::plan_containers(cmd)?),
        Command::Builds { cmd } => platform(crate::platform::plan_builds(cmd)?),
        Command::Raw(args) => Op::Raw {
            method: method(&args.method)?,
            path: RawPath::new(&args.path)?,
            query: query_pairs(&args.query)?,
            body: args
                .body
                .as_deref()
                .map(|b| json_arg("body", b))
                .transpose()?,
        },
    };
    Ok(Plan::Call(op))
}

/// What `plugins run` or `plugins run-debug` starts.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginRun {
    /// A registered release (`run_plugin_release`).
    Release(PluginLookup, RunPluginRelease),
    /// A plugin from its source (`run_debug_plugin_release`).
    Debug(RunDebugPluginRelease),
}

/// The SDK's optional run arguments, checked: what both run bodies carry.
struct RunExtra {
    requirements: Option<Vec<String>>,
    job_id: Option<String>,
    language: Option<String>,
}

fn action(action: &str) -> Result<&str, ClientError> {
    if action.trim().is_empty() {
        return Err(ClientError::invalid("action", "must not be empty"));
    }
    Ok(action)
}

fn run_extra(args: &RunExtraArgs) -> Result<RunExtra, ClientError> {
    if args.requirements.iter().any(|r| r.trim().is_empty()) {
        return Err(ClientError::invalid("requirement", "must not be empty"));
    }
    // The agent starts the job under this id: it must be one the API can name.
    let job_id = args
        .job_id
        .as_deref()
        .map(|id| JobId::new(id).map(|id| id.as_str().to_owned()))
        .transpose()?;
    if args
        .language
        .as_deref()
        .is_some_and(|l| l.trim().is_empty())
    {
        return Err(ClientError::invalid("language", "must not be empty"));
    }
    Ok(RunExtra {
        requirements: (!args.requirements.is_empty()).then(|| args.requirements.clone()),
        job_id,
        language: args.language.clone(),
    })
}

fn follow_if(follow: bool, tail: &FollowArgs) -> Result<Option<TailOptions>, ClientError> {
    if follow {
        follow_options(tail).map(Some)
    } else {
        Ok(None)
    }
}

fn platform(op: crate::platform::PlatformOp) -> Op {
    Op::Platform(Box::new(op))
}

/// The connect and read time-outs from the command line.
pub fn timeouts(connect: Option<f64>, read: Option<f64>) -> Result<Timeouts, ClientError> {
    let mut t = Timeouts::default();
    if let Some(s) = connect {
        t.connect = seconds("connect timeout", s)?;
    }
    if let Some(s) = read {
        t.read = seconds("read timeout", s)?;
    }
    t.validate()?;
    Ok(t)
}

pub(crate) fn seconds(what: &'static str, s: f64) -> Result<Duration, ClientError> {
    match Duration::try_from_secs_f64(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(ClientError::invalid(
            what,
            format!("{s} is not a positive number of seconds"),
        )),
    }
}

fn protocol(s: &str) -> Result<Protocol, ClientError> {
    s.parse()
}

/// `--timeout` in seconds; its range is [`TailOptions::validate`]'s to check.
fn stream_timeout(s: Option<f64>) -> Result<Option<Duration>, ClientError> {
    s.map(|s| seconds("stream timeout", s)).transpose()
}

/// The limits of an agentctl tail: no count or byte limit unless one is given (a
/// command line that follows a log follows it to its end, as `kubectl logs -f` does),
/// and the library's `max_message_size` and queue, which keep memory bounded.
fn cli_limits(
    max_lines: Option<u64>,
    max_bytes: Option<u64>,
    max_messages: Option<u64>,
    max_message_size: Option<usize>,
) -> StreamLimits {
    let d = StreamLimits::default();
    StreamLimits {
        max_lines: max_lines.unwrap_or(u64::MAX),
        max_bytes: max_bytes.unwrap_or(u64::MAX),
        max_messages: max_messages.unwrap_or(u64::MAX),
        max_message_size: max_message_size.unwrap_or(d.max_message_size),
        queue_size: d.queue_size,
    }
}

fn tail_options(args: &TailArgs) -> Result<TailOptions, ClientError> {
    let mut opts = TailOptions::new()
        .protocol(protocol(&args.protocol)?)
        .limits(cli_limits(
            args.max_lines,
            args.max_bytes,
            args.max_messages,
            args.max_message_size,
        ));
    if let Some(t) = stream_timeout(args.timeout)? {
        opts = opts.timeout(t);
    }
    if let Some(q) = &args.max_quiet {
        opts = opts.max_quiet(duration("max quiet", q)?);
    }
    opts.validate()?;
    Ok(opts)
}

/// `jobs tail`: one id and none of the flags of many is the single-job tail as it
/// always was; anything else follows many.
fn tail_plan(args: &TailArgs) -> Result<Op, ClientError> {
    let opts = tail_options(args)?;
    let m = &args.many;
    let pick = crate::select::pick(&args.ids, &m.select)?;
    let many_flags = m.watch
        || m.prefix
        || m.no_prefix
        || !m.include.is_empty()
        || !m.exclude.is_empty()
        || m.tail.is_some()
        || m.from_line.is_some();
    match pick {
        Pick::Ids(mut one) if one.len() == 1 && !many_flags => {
            return Ok(Op::TailJob(one.remove(0), opts))
        }
        Pick::Ids(ref ids) if ids.len() > m.max_log_requests => {
            return Err(crate::select::too_many(ids.len(), m.max_log_requests))
        }
        Pick::Ids(_) if m.watch => {
            return Err(ClientError::invalid(
                "--watch",
                "follows jobs picked by --selector / --status (ids name jobs that exist already)",
            ))
        }
        _ => {}
    }
    if m.max_log_requests == 0 {
        return Err(ClientError::invalid(
            "--max-log-requests",
            "must be at least 1",
        ));
    }
    let start = match (m.tail, m.from_line) {
        (Some(n), _) => Start::Last(n),
        // Line 0 is line 1, as it always was here.
        (None, Some(k)) => Start::FromLine(k.max(1)),
        (None, None) => Start::Beginning,
    };
    Ok(Op::TailMany(Box::new(ManyTail {
        pick,
        // Asked of the server; `Window` is the fallback when it is not honoured.
        opts: opts.start(start),
        filter: LineFilter::new(&m.include, &m.exclude)?,
        start,
        prefix: if m.prefix {
            Some(true)
        } else if m.no_prefix {
            Some(false)
        } else {
            None
        },
        watch: m.watch,
        max: m.max_log_requests,
    })))
}

/// A positive duration: seconds, or a number with `s`, `m` or `h` (`90`, `1.5m`).
fn duration(what: &'static str, s: &str) -> Result<Duration, ClientError> {
    let s = s.trim();
    let (number, unit) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1.0),
        Some((i, 'm')) => (&s[..i], 60.0),
        Some((i, 'h')) => (&s[..i], 3600.0),
        _ => (s, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(n) => seconds(what, n * unit),
        Err(_) => Err(ClientError::invalid(
            what,
            format!("{s:?} is not a duration (90, 90s, 10m, 1h)"),
        )),
    }
}

fn follow_options(args: &FollowArgs) -> Result<TailOptions, ClientError> {
    let mut opts = TailOptions::new()
        .protocol(protocol(&args.protocol)?)
        .limits(cli_limits(None, None, None, None));
    if let Some(t) = stream_timeout(args.timeout)? {
        opts = opts.timeout(t);
    }
    opts.validate()?;
    Ok(opts)
}

fn wait_for(timeout: Option<f64>) -> Result<Wait, ClientError> {
    Ok(Wait {
        timeout: timeout.map(|s| seconds("wait timeout", s)).transpose()?,
    })
}

pub(crate) fn json_arg(what: &'static str, text: &str) -> Result<Value, ClientError> {
    serde_json::from_str(text).map_err(|e| ClientError::invalid(what, format!("is not JSON: {e}")))
}

pub(crate) fn query_pairs(items: &[String]) -> Result<Vec<(String, String)>, ClientError> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(ClientError::invalid(
                "query",
                format!("{item:?}: expected KEY=VALUE"),
            )),
        })
        .collect()
}

fn method(s: &str) -> Result<Method, ClientError> {
    match s.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        "HEAD" => Ok(Method::HEAD),
        _ => Err(ClientError::invalid(
            "method",
            format!(
                "{:?}: expected GET, POST, PUT, PATCH, DELETE or HEAD",
                s.chars().take(20).collect::<String>()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan_of(args: &[&str]) -> Result<Plan, ClientError> {
        let cli = Cli::try_parse_from(std::iter::once("agentctl").chain(args.iter().copied()))
            .map_err(|e| ClientError::invalid("command", e.to_string()))?;
        plan(&cli)
    }

    fn refused(args: &[&str]) -> String {
        match plan_of(args) {
            Err(e) => {
                assert_eq!(e.status_code(), 400, "{e}");
                e.to_string()
            }
            Ok(p) => panic!("{args:?} was accepted: {p:?}"),
        }
    }

    #[test]
    fn bad_input_is_refused() {
        refused(&["jobs", "get", "../health"]);
        refused(&["jobs", "tail", "j1", "--protocol", "carrier-pigeon"]);
        refused(&["jobs", "tail", "j1", "--timeout", "0"]);
        refused(&["jobs", "tail", "j1", "--timeout", "301"]);
        refused(&["jobs", "tail", "j1", "--timeout", "-1"]);
        refused(&["jobs", "tail", "j1", "--max-quiet", "0"]);
        refused(&["jobs", "tail", "j1", "--max-quiet", "soon"]);
        for (arg, secs) in [("90", 90.0), ("90s", 90.0), ("1.5m", 90.0), ("1h", 3600.0)] {
            let Plan::Call(Op::TailJob(_, opts)) =
                plan_of(&["jobs", "tail", "j1", "--max-quiet", arg]).unwrap()
            else {
                panic!("{arg}")
            };
            assert_eq!(opts.max_quiet, Some(Duration::from_secs_f64(secs)), "{arg}");
        }
        refused(&["jobs", "tail", "j1", "--max-lines", "0"]);
        refused(&[
            "plugins",
            "run",
            "demo@1.0.0",
            "--action",
            "x",
            "--params",
            "{nope",
        ]);
        refused(&["plugins", "get", "demo@../x"]);
        refused(&["raw", "GET", "../x"]);
        refused(&["raw", "BREW", "jobs/"]);
        refused(&["raw", "POST", "jobs/", "--body", "{"]);
        refused(&["raw", "GET", "jobs/", "--query", "nokey"]);
        refused(&["jobs", "wait", "j1", "--timeout", "0"]);
        refused(&["jobs", "stop", "j1", "--wait", "--timeout", "-3"]);
        refused(&["nodes", "get", "a b"]);
        assert!(timeouts(Some(0.0), None).is_err());
        assert!(timeouts(None, Some(f64::NAN)).is_err());
        assert_eq!(
            timeouts(Some(1.5), None).unwrap().connect,
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn good_input_plans_its_request() {
        let Plan::Call(op) = plan_of(&[
            "plugins",
            "run",
            "demo@1.0.0",
            "--action",
            "train",
            "--params",
            r#"{"epochs":3}"#,
        ])
        .unwrap() else {
            panic!()
        };
        let call = op.call().unwrap().unwrap();
        assert_eq!(call.method, Method::POST);
        assert_eq!(call.path, "plugin_releases/demo@1.0.0/run/");
        assert_eq!(
            call.body.unwrap(),
            serde_json::json!({"action":"train","params":{"epochs":3}})
        );

        let Plan::Call(Op::TailJob(id, opts)) = plan_of(&[
            "jobs",
            "tail",
            "j1",
            "--protocol",
            "http",
            "--timeout",
            "2.5",
            "--max-lines",
            "7",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(id.as_str(), "j1");
        assert_eq!(opts.protocol, Protocol::Http);
        assert_eq!(opts.timeout, Duration::from_millis(2500));
        assert_eq!(opts.max_quiet, None, "no bound on a quiet job unless given");
        let limits = opts.limits.unwrap();
        assert_eq!(limits.max_lines, 7);
        assert_eq!(limits.max_messages, u64::MAX, "no limit unless given");
        assert_eq!(
            limits.max_message_size,
            StreamLimits::default().max_message_size
        );

        assert!(matches!(
            plan_of(&["dev-server", "--listen", "127.0.0.1:0"]).unwrap(),
            Plan::DevServer(_, agent_sample::MetricsAccess::Public)
        ));
        assert!(matches!(
            plan_of(&[
                "dev-server",
                "--listen",
                "127.0.0.1:0",
                "--metrics",
                "token"
            ])
            .unwrap(),
            Plan::DevServer(_, agent_sample::MetricsAccess::Token)
        ));
        assert!(plan_of(&["dev-server", "--listen", "127.0.0.1:0", "--metrics", "no"]).is_err());
        let Plan::Call(Op::WaitJob(_, wait)) =
            plan_of(&["jobs", "wait", "j1", "--timeout", "2"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(wait.timeout, Some(Duration::from_secs(2)));
        let Plan::Call(op) = plan_of(&[
            "raw",
            "delete",
            "/serve_applications/x/",
            "--query",
            "a=b c",
        ])
        .unwrap() else {
            panic!()
        };
        let call = op.call().unwrap().unwrap();
        assert_eq!(
            (call.method, call.path.as_str()),
            (Method::DELETE, "serve_applications/x/")
        );
        assert_eq!(call.query, vec![("a".to_owned(), "b c".to_owned())]);
    }
}
