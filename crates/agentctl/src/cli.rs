//! The command line: flags, environment variables and subcommands (clap).
//!
//! Parsing only: nothing here talks to an agent. Values that need more than a type
//! check (ids, protocol, JSON, time-outs) are checked in [`crate::plan`], before any
//! request, so their errors read like every other error of agentctl.

use agent_proto::Secret;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The exit codes, shown at the end of `agentctl --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success (tail, wait, run --follow: the job SUCCEEDED)
  1    any other failure (the agent failed, an answer could not be decoded, a
       job's final status could not be read, ...)
  2    usage: a bad command line, or input refused before any request (an invalid
       id, an unknown protocol, bad JSON), or the agent refused it (400, 422)
  3    not found (404)
  4    authentication: the agent refused the token or the user (401, 403)
  5    limits: a stream limit was exceeded, or the agent rate-limited us (429)
  6    unreachable or timed out: connect error, 503, connect/read/idle time-out, a
       quiet job past --max-quiet, or a wait past its --timeout (408)
  7    a job FAILED (jobs tail, jobs wait, jobs stop --wait, plugins run --follow)
  8    a job was STOPPED (the same commands)
  130  interrupted (Ctrl-C)

Errors are one line on stderr: `error: <kind>: <message>`, with the agent's status
code in front of the kind when the agent answered with one (`error: 404 not found: ...`).

With no connection setting at all (no --url, --token, AGENT_URL, AGENT_TOKEN), or with
--embedded, agentctl starts the embedded test agent with its sample cluster and runs
the command against it (it says so on stderr). A token without a URL is a usage error.

Examples:
  agentctl jobs tail raysubmit_capture1
  agentctl --url https://agent.example.com --token \"$TOKEN\" jobs list
  agentctl -o json nodes list | jq '.[].node_id'
  agentctl dev-server --listen 127.0.0.1:8000";

/// The pointer each subcommand's help ends with, in place of the global options.
const GLOBALS_POINTER: &str =
    "Global options (--url, --token, --context, -o, --utc, -v, ...) go before or \
after any command: see `agentctl options`.";

/// The command line agentctl parses: the derived [`Cli`], with the global options
/// listed once, in `agentctl --help` and `agentctl options`. Each subcommand keeps
/// them (hidden: they still parse after the subcommand's name) and its help points
/// to `agentctl options` instead of repeating them, as `kubectl options` does.
pub fn command() -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    hide_globals(cmd, &globals)
}

fn hide_globals(cmd: clap::Command, globals: &[clap::Arg]) -> clap::Command {
    cmd.mut_subcommands(|sc| {
        let after = match sc.get_after_help() {
            Some(text) => format!("{text}\n\n{GLOBALS_POINTER}"),
            None => GLOBALS_POINTER.to_owned(),
        };
        let sc = globals
            .iter()
            .fold(sc, |sc, a| sc.arg(a.clone().hide(true)))
            .after_help(after);
        hide_globals(sc, globals)
    })
}

/// `agentctl options`: the global options alone, under their headings.
pub fn options_help() -> String {
    let cmd = <Cli as clap::CommandFactory>::command();
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .map(|a| a.global(false))
        .collect();
    clap::Command::new("agentctl")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .help_template(
            "The global options of every agentctl command (before or after it). \
             Precedence: flags, then environment variables, then the context.\n\n{all-args}",
        )
        .args(globals)
        .render_long_help()
        .to_string()
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables and key/value views for people, fitted to the terminal's width.
    Table,
    /// Tables with every cell whole, however wide.
    Wide,
    /// Exactly the agent's JSON, one document (a tail: one JSON string per line).
    Json,
    /// One JSON document per line: a list's items; a tail's `{"line": ...}` objects,
    /// then `{"end": "complete", "status": ..., "delivered": N, "skipped": K}` (or
    /// `{"end": "error", ...}`).
    Jsonl,
    /// The agent's answer as YAML.
    Yaml,
}

impl Output {
    /// Tables and key/value views (not a machine format).
    pub fn is_table(self) -> bool {
        matches!(self, Output::Table | Output::Wide)
    }
}

fn secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

/// agentctl: the agent API from a shell: jobs, log tails, nodes, tasks, Ray Serve,
/// plugin releases, GPU status, resources, the agent's system, containers, builds.
#[derive(Parser)]
#[command(name = "agentctl", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Where the agent is and how to talk to it.
    #[command(flatten)]
    pub conn: Connection,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table, help_heading = "Global options: output")]
    pub output: Output,
    /// Show times in UTC instead of the local time zone.
    #[arg(long, global = true, help_heading = "Global options: output")]
    pub utc: bool,
    /// Show on stderr what agentctl does: -v requests, tail protocols and fallbacks;
    /// -vv job statuses and tail counters; -vvv everything. Tokens never appear.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true, help_heading = "Global options: output")]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Connection settings, from flags or the environment.
#[derive(Args, Clone)]
pub struct Connection {
    /// The agent's base URL.
    #[arg(
        long,
        env = "AGENT_URL",
        hide_env_values = true,
        global = true,
        help_heading = "Global options: connection",
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// The agent token (sent as `Authorization`); never printed.
    #[arg(long, env = "AGENT_TOKEN", global = true, help_heading = "Global options: connection", hide_env_values = true,
          value_name = "TOKEN", value_parser = secret)]
    pub token: Option<Secret>,
    /// The user token (sent as `SYNAPSE-User: Token ...`); never printed.
    #[arg(long, env = "AGENT_USER_TOKEN", global = true, help_heading = "Global options: connection", hide_env_values = true,
          value_name = "TOKEN", value_parser = secret)]
    pub user_token: Option<Secret>,
    /// The tenant (sent as `SYNAPSE-Tenant: Token ...`); never printed.
    #[arg(long, env = "AGENT_TENANT", global = true, help_heading = "Global options: connection", hide_env_values = true,
          value_name = "TENANT", value_parser = secret)]
    pub tenant: Option<Secret>,
    /// Connect time-out in seconds [default: 3].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Global options: connection"
    )]
    pub connect_timeout: Option<f64>,
    /// Read time-out of ordinary requests in seconds [default: 10].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Global options: connection"
    )]
    pub read_timeout: Option<f64>,
    /// Ask the agent for compressed answers (Accept-Encoding: gzip, deflate): job
    /// logs and HTTP tails come gzipped from agent-server. gzip and deflate answers
    /// are decoded either way.
    #[arg(long, global = true, help_heading = "Global options: connection")]
    pub compress: bool,
    /// Use the embedded test agent (sample cluster), whatever else is set.
    #[arg(long, global = true, help_heading = "Global options: connection")]
    pub embedded: bool,
    /// The context (from the config file) to use instead of the current one.
    #[arg(
        long,
        env = "AGENTCTL_CONTEXT",
        hide_env_values = true,
        global = true,
        help_heading = "Global options: connection",
        value_name = "NAME"
    )]
    pub context: Option<String>,
    /// A PEM file of root certificates to trust besides the web's (a private CA).
    #[arg(
        long,
        env = "AGENT_CACERT",
        hide_env_values = true,
        global = true,
        help_heading = "Global options: connection",
        value_name = "FILE"
    )]
    pub cacert: Option<PathBuf>,
    /// A PEM client certificate (chain) to present to an agent that asks for one
    /// (mutual TLS); needs --client-key.
    #[arg(
        long,
        env = "AGENT_CLIENT_CERT",
        hide_env_values = true,
        global = true,
        help_heading = "Global options: connection",
        value_name = "FILE"
    )]
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of --client-cert; never printed.
    #[arg(
        long,
        env = "AGENT_CLIENT_KEY",
        hide_env_values = true,
        global = true,
        help_heading = "Global options: connection",
        value_name = "FILE"
    )]
    pub client_key: Option<PathBuf>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// The agent's health.
    #[command(after_help = "Example:\n  agentctl health")]
    Health,
    /// Ray jobs: list, get, logs, stop, tail, wait.
    #[command(
        after_help = "Example:\n  agentctl jobs list\n  agentctl jobs tail raysubmit_capture1"
    )]
    Jobs {
        /// The jobs subcommand.
        #[command(subcommand)]
        cmd: JobsCmd,
    },
    /// The cluster's nodes.
    #[command(after_help = "Example:\n  agentctl nodes list")]
    Nodes {
        /// The nodes subcommand.
        #[command(subcommand)]
        cmd: NodesCmd,
    },
    /// The cluster's tasks.
    #[command(after_help = "Example:\n  agentctl tasks list")]
    Tasks {
        /// The tasks subcommand.
        #[command(subcommand)]
        cmd: TasksCmd,
    },
    /// Ray Serve applications: list, get, delete.
    #[command(after_help = "Examples:\n  agentctl serve list\n  agentctl serve get hello")]
    Serve {
        /// The Ray Serve subcommand.
        #[command(subcommand)]
        cmd: ServeCmd,
    },
    /// Runs the test agent (sample cluster) on ADDR until Ctrl-C, for curl, the Python
    /// SDK and demos; prints its URL and token.
    ///
    /// The token is --token when given on the command line (never printed), else a
    /// random one (printed); an empty token is refused.
    #[command(
        after_help = "Example:\n  agentctl dev-server --listen 127.0.0.1:8000\n  agentctl dev-server --listen 127.0.0.1:8000 --token \"$(cat token.txt)\""
    )]
    DevServer(DevServerArgs),
    /// Plugin releases: list, get, create, delete, run.
    #[command(
        after_help = "Example:\n  agentctl plugins run demo@1.0.0 --action train --params '{\"epochs\": 3}' --follow"
    )]
    Plugins {
        /// The plugins subcommand.
        #[command(subcommand)]
        cmd: PluginsCmd,
    },
    /// The cluster's GPU status.
    #[command(after_help = "Example:\n  agentctl gpu")]
    Gpu,
    /// The cluster's resources, a dry-run admission check, and the resource policy.
    #[command(
        after_help = "Examples:\n  agentctl resources cluster --no-cache\n  agentctl resources feasibility --kind job --cpus 4 --gpus 1\n  agentctl resources policy get --runtime"
    )]
    Resources {
        /// The resources subcommand.
        #[command(subcommand)]
        cmd: crate::platform_cli::ResourcesCmd,
    },
    /// The agent's own services: compose config, status, wait, update, restart.
    #[command(
        after_help = "Examples:\n  agentctl system status\n  agentctl system restart --wait --timeout 300"
    )]
    System {
        /// The system subcommand.
        #[command(subcommand)]
        cmd: crate::platform_cli::SystemCmd,
    },
    /// Docker containers and plugin containers: list, get, create, update, delete.
    #[command(
        after_help = "Examples:\n  agentctl containers list --all\n  agentctl containers create --plugin-release demo@1.0.0 --wait\n  agentctl containers docker list"
    )]
    Containers {
        /// The containers subcommand.
        #[command(subcommand)]
        cmd: crate::platform_cli::ContainersCmd,
    },
    /// Container builds: get, wait.
    #[command(
        after_help = "Examples:\n  agentctl builds get b4\n  agentctl builds wait b4 --timeout 900"
    )]
    Builds {
        /// The builds subcommand.
        #[command(subcommand)]
        cmd: crate::platform_cli::BuildsCmd,
    },
    /// Contexts: named connections in the config file (kubectl's verbs).
    ///
    /// The file is $AGENTCTL_CONFIG, else $XDG_CONFIG_HOME/agentctl/config.toml, else
    /// ~/.config/agentctl/config.toml, written with mode 0600. Tokens are never stored
    /// in it: a context names a token file or an environment variable. Precedence:
    /// flags, then environment variables, then the context.
    #[command(
        after_help = "Examples:\n  agentctl config set-context prod --url https://agent.example.com --token-file ~/.agent-token\n  agentctl config use-context prod\n  agentctl --context staging jobs list"
    )]
    Config {
        /// The config subcommand.
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Prints a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(
        after_help = "Examples:\n  agentctl completions bash > ~/.local/share/bash-completion/completions/agentctl\n  agentctl completions zsh > \"${fpath[1]}/_agentctl\"\n  agentctl completions fish > ~/.config/fish/completions/agentctl.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Prints the global options, which every command takes (before or after it).
    #[command(
        after_help = "Example:\n  agentctl options\n  agentctl jobs list -o json --url https://agent.example.com"
    )]
    Options,
    /// Writes the man pages: agentctl.1 and one per subcommand (agentctl-jobs-tail.1,
    /// ...) into DIR; without --dir, prints agentctl.1 on stdout.
    #[command(
        after_help = "Example:\n  agentctl generate-man --dir ~/.local/share/man/man1 && man agentctl-jobs-tail\n  agentctl generate-man > agentctl.1"
    )]
    GenerateMan {
        /// The directory to write the pages into (it must exist).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Any endpoint: METHOD PATH [--body JSON]; the answer as JSON.
    #[command(
        after_help = "Example:\n  agentctl raw GET jobs/\n  agentctl raw POST plugin_releases/ --body '{\"plugin\": \"demo\", \"version\": \"2.0.0\"}'"
    )]
    Raw(RawArgs),
}

/// `jobs ...`
#[derive(Subcommand)]
pub enum JobsCmd {
    /// Every job: id, status, start, duration, entrypoint.
    #[command(
        after_help = "Example:\n  agentctl jobs list\n  agentctl jobs list --status failed\n  agentctl -o json jobs list"
    )]
    List {
        /// Only jobs with this status (any case), in every output format.
        #[arg(long, value_name = "STATUS", value_enum, ignore_case = true)]
        status: Option<JobStatusArg>,
    },
    /// One job.
    #[command(after_help = "Example:\n  agentctl jobs get raysubmit_capture1")]
    Get {
        /// The job's submission id (or driver job id).
        id: String,
    },
    /// A job's whole log, as it is now.
    #[command(
        after_help = "Example:\n  agentctl jobs logs raysubmit_capture1\n  agentctl jobs logs raysubmit_capture1 --tail 5"
    )]
    Logs {
        /// The job's id.
        id: String,
        /// Only the last N lines (asked of the agent as `?tail=N`; an agent that
        /// ignores it sends the whole log, which agentctl then trims).
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
    /// Asks the agent to stop a job; with --wait, waits for its final status (exit
    /// 0 SUCCEEDED, 7 FAILED, 8 STOPPED).
    #[command(
        after_help = "Example:\n  agentctl jobs stop raysubmit_slow1\n  agentctl jobs stop raysubmit_slow1 --wait --timeout 60"
    )]
    Stop {
        /// The job's id.
        id: String,
        /// Then wait until the job has a final status, and exit as `jobs wait`.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds (exit 6) [default: wait forever].
        #[arg(long, value_name = "SECONDS", requires = "wait")]
        timeout: Option<f64>,
    },
    /// Follows a job's log: prints each line as it arrives; when the log is complete,
    /// reads the job's status and exits 0 SUCCEEDED, 7 FAILED, 8 STOPPED (1 when the
    /// status cannot be read); Ctrl-C stops (exit 130).
    ///
    /// No limit on the number of lines, messages or bytes unless one is given (a log
    /// is followed to its end, as `kubectl logs -f` does); single lines over
    /// --max-message-size are skipped and counted, so memory stays bounded.
    ///
    /// Several jobs (several ids, or --selector / --status): one connection per job,
    /// each line whole and prefixed with its job's id, one summary line per job on
    /// stderr at the end. Exit 0 only when every job SUCCEEDED; else the first of
    /// 1-6 when a tail itself failed, else 7 when a job FAILED, else 8 when one was
    /// STOPPED.
    #[command(
        after_help = "Examples:\n  agentctl jobs tail raysubmit_capture1\n  agentctl jobs tail raysubmit_capture1 --protocol http --timeout 60 --max-lines 100000\n  agentctl jobs tail raysubmit_a raysubmit_b raysubmit_c\n  agentctl jobs tail -l sweep=lr,team=vision --max-log-requests 30\n  agentctl jobs tail --status running --watch\n  agentctl jobs tail raysubmit_a raysubmit_b --no-prefix\n  agentctl jobs tail raysubmit_a --prefix\n  agentctl jobs tail -l sweep=lr --include 'ERROR|Traceback' --exclude 'DEBUG'\n  agentctl jobs tail raysubmit_capture1 --tail 20\n  agentctl jobs tail raysubmit_capture1 --from-line 1000\n  agentctl -o jsonl jobs tail -l sweep=lr | jq -c 'select(.end)'"
    )]
    Tail(Box<TailArgs>),
    /// Waits until a job has a final status (no log), prints it, and exits 0
    /// SUCCEEDED, 7 FAILED, 8 STOPPED.
    ///
    /// Several jobs (several ids, or --selector / --status): one line per job as it
    /// ends; exit 0 only when every job SUCCEEDED, else the first of 1-6 when a wait
    /// itself failed, else 7 when a job FAILED, else 8 when one was STOPPED.
    #[command(
        after_help = "Examples:\n  agentctl jobs wait raysubmit_slow1\n  agentctl jobs wait raysubmit_slow1 --timeout 600 && echo done\n  agentctl jobs wait raysubmit_a raysubmit_b raysubmit_c\n  agentctl jobs wait -l sweep=lr --timeout 3600\n  agentctl jobs wait --status running"
    )]
    Wait {
        /// The jobs' ids (or pick them with --selector / --status).
        #[arg(
            value_name = "ID",
            required_unless_present_any = ["selector", "status"],
            conflicts_with_all = ["selector", "status"]
        )]
        ids: Vec<String>,
        /// Give up after this many seconds (exit 6) [default: wait forever].
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
        /// Which jobs, when no id is given.
        #[command(flatten)]
        select: Select,
    },
}

/// A job status `--status` picks (`jobs list`, `jobs tail`, `jobs wait`): Ray's five, so that a typo is
/// refused (exit 2, listing them) rather than answered with an empty table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JobStatusArg {
    /// Submitted, not started yet.
    #[value(name = "PENDING")]
    Pending,
    /// Running.
    #[value(name = "RUNNING")]
    Running,
    /// Finished successfully.
    #[value(name = "SUCCEEDED")]
    Succeeded,
    /// Finished with an error.
    #[value(name = "FAILED")]
    Failed,
    /// Stopped on request.
    #[value(name = "STOPPED")]
    Stopped,
}

impl JobStatusArg {
    /// The status as Ray spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatusArg::Pending => "PENDING",
            JobStatusArg::Running => "RUNNING",
            JobStatusArg::Succeeded => "SUCCEEDED",
            JobStatusArg::Failed => "FAILED",
            JobStatusArg::Stopped => "STOPPED",
        }
    }
}

/// Picks jobs by their status or metadata (`jobs tail`, `jobs wait`), instead of ids.
#[derive(Args, Clone, Default, Debug)]
pub struct Select {
    /// The jobs with this status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED; any
    /// case), e.g. `--status running`.
    #[arg(
        long,
        value_name = "STATUS",
        value_enum,
        ignore_case = true,
        hide_possible_values = true
    )]
    pub status: Option<JobStatusArg>,
    /// The jobs whose metadata has every KEY=VALUE, e.g. `-l sweep=lr,team=vision`
    /// (repeatable: all must hold).
    #[arg(short = 'l', long, value_name = "KEY=VALUE[,KEY=VALUE]")]
    pub selector: Vec<String>,
}

/// What `jobs tail` adds for many jobs: which, how many at once, how lines look,
/// which lines, from where.
#[derive(Args, Clone, Debug)]
pub struct ManyArgs {
    /// Which jobs, when no id is given.
    #[command(flatten)]
    pub select: Select,
    /// With --selector / --status: also follow matching jobs that start later, until
    /// Ctrl-C, e.g. `-l sweep=lr --watch`.
    #[arg(long)]
    pub watch: bool,
    /// The most logs followed at once; more matching jobs is a usage error (exit 2)
    /// that says how many matched, e.g. `--max-log-requests 30`.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_log_requests: usize,
    /// Prefix every line with its job's id, even for one job, e.g. `ID --prefix`
    /// [default: with more than one job].
    #[arg(long, overrides_with = "no_prefix")]
    pub prefix: bool,
    /// Never prefix lines with their job's id, e.g. `ID1 ID2 --no-prefix`.
    #[arg(long, overrides_with = "prefix")]
    pub no_prefix: bool,
    /// Only lines matching this regular expression (repeatable: any may match),
    /// e.g. `--include 'ERROR|Traceback'`; the others are counted in the summary.
    #[arg(long, value_name = "REGEX")]
    pub include: Vec<String>,
    /// No line matching this regular expression (repeatable), e.g. `--exclude DEBUG`;
    /// counted in the summary.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Vec<String>,
    /// Start with the last N lines written so far, then follow, e.g. `--tail 20`.
    #[arg(long, value_name = "N", conflicts_with = "from_line")]
    pub tail: Option<u64>,
    /// Start at line K (1 is the first line), then follow, e.g. `--from-line 1000`.
    #[arg(long, value_name = "K")]
    pub from_line: Option<u64>,
}

/// How to follow a log.
#[derive(Args, Clone)]
pub struct TailArgs {
    /// The jobs' ids (several: each line prefixed with its job's id; or pick them
    /// with --selector / --status).
    #[arg(
        value_name = "ID",
        required_unless_present_any = ["selector", "status"],
        conflicts_with_all = ["selector", "status"]
    )]
    pub ids: Vec<String>,
    /// auto (WebSocket, then HTTP streaming), websocket or http.
    #[arg(long, default_value = "auto", value_name = "PROTOCOL")]
    pub protocol: String,
    /// How long the *server* may send nothing, in seconds (0 < S <= 300) [default:
    /// 30]; then exit 6. Pings (WebSocket) and heartbeats (HTTP) count: a quiet job
    /// on a live server never trips it, on either protocol.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// How long the *job* may write no new line (90, 90s, 10m, 1h) before the tail
    /// gives up (exit 6, "quiet job"), on either protocol [default: no limit].
    #[arg(long, value_name = "DURATION")]
    pub max_quiet: Option<String>,
    /// Stop (exit 5) after this many lines delivered, on either protocol [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_lines: Option<u64>,
    /// Stop (exit 5) after this many bytes of log text [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_bytes: Option<u64>,
    /// Stop (exit 5) after this many messages received (WebSocket messages; HTTP events or plain lines) [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// The longest line delivered, in bytes (a message holding several lines is
    /// split first); longer lines are skipped and counted [default: 10240].
    #[arg(long, value_name = "N")]
    pub max_message_size: Option<usize>,
    /// Many jobs, filters and start positions.
    #[command(flatten)]
    pub many: ManyArgs,
}

/// `nodes ...`
#[derive(Subcommand)]
pub enum NodesCmd {
    /// Every node: id, IP, head, state, resources.
    #[command(after_help = "Example:\n  agentctl nodes list")]
    List,
    /// One node.
    #[command(after_help = "Example:\n  agentctl nodes get <NODE_ID from `nodes list`>")]
    Get {
        /// The node's id.
        id: String,
    },
}

/// `tasks ...`
#[derive(Subcommand)]
pub enum TasksCmd {
    /// Every task: id, name, state, job, node.
    #[command(after_help = "Example:\n  agentctl tasks list")]
    List,
    /// One task.
    #[command(after_help = "Example:\n  agentctl tasks get <TASK_ID from `tasks list`>")]
    Get {
        /// The task's id.
        id: String,
    },
}

/// `dev-server --listen ADDR`
#[derive(Args)]
pub struct DevServerArgs {
    /// The address to listen on, e.g. 127.0.0.1:8000 (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Who may read `/metrics` (Prometheus text): `public` (anyone; counts, never
    /// a secret), `token` (only with the agent token, as the API), or `off`.
    #[arg(long, value_name = "public|token|off", default_value_t = agent_sample::MetricsAccess::Public)]
    pub metrics: agent_sample::MetricsAccess,
}

/// `serve list | get | delete`
#[derive(Subcommand)]
pub enum ServeCmd {
    /// Every Ray Serve application.
    #[command(after_help = "Example:\n  agentctl serve list")]
    List,
    /// One application.
    #[command(after_help = "Example:\n  agentctl serve get hello")]
    Get {
        /// The application's name.
        name: String,
    },
    /// Deletes one application.
    #[command(after_help = "Example:\n  agentctl serve delete hello")]
    Delete {
        /// The application's name.
        name: String,
    },
}

/// `plugins ...`
#[derive(Subcommand)]
pub enum PluginsCmd {
    /// A page of plugin releases.
    #[command(
        after_help = "Example:\n  agentctl plugins list\n  agentctl plugins list --query page=2"
    )]
    List {
        /// A query parameter passed through, KEY=VALUE (repeatable).
        #[arg(long = "query", value_name = "KEY=VALUE")]
        query: Vec<String>,
    },
    /// One release, by id or CODE@VERSION.
    #[command(after_help = "Example:\n  agentctl plugins get demo@1.0.0")]
    Get {
        /// An id or CODE@VERSION.
        lookup: String,
    },
    /// Creates a release of PLUGIN at VERSION.
    #[command(after_help = "Example:\n  agentctl plugins create demo 2.0.0")]
    Create {
        /// The plugin (its code or id).
        plugin: String,
        /// The version to release.
        version: String,
    },
    /// Deletes a release.
    #[command(after_help = "Example:\n  agentctl plugins delete demo@2.0.0")]
    Delete {
        /// An id or CODE@VERSION.
        lookup: String,
    },
    /// Runs an action of a release; --follow tails the job it started.
    #[command(
        after_help = "Example:\n  agentctl plugins run demo@1.0.0 --action train --params '{\"epochs\": 3}' --follow"
    )]
    Run(RunArgs),
    /// Runs an action of a plugin from its source rather than a release (the agent's
    /// debug run); --follow tails the job it started.
    #[command(
        after_help = "Example:\n  agentctl plugins run-debug --action test --plugin-path /src/demo --follow\n  agentctl plugins run-debug --action train --params '{\"epochs\": 1}' --config '{\"name\": \"demo\"}'"
    )]
    RunDebug(RunDebugArgs),
}

/// `plugins run ...`
#[derive(Args)]
pub struct RunArgs {
    /// An id or CODE@VERSION.
    pub lookup: String,
    /// The action to run.
    #[arg(long, value_name = "ACTION")]
    pub action: String,
    /// The action's parameters, a JSON document.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    /// What both runs take besides the action and its parameters.
    #[command(flatten)]
    pub extra: RunExtraArgs,
    /// Then follow the log of the job it started (as `jobs tail`: no line, message
    /// or byte limit; exit 0 SUCCEEDED, 7 FAILED, 8 STOPPED).
    #[arg(long)]
    pub follow: bool,
    /// How to follow (with --follow).
    #[command(flatten)]
    pub tail: FollowArgs,
}

/// `plugins run-debug ...`: the body of `run_debug_plugin_release`.
#[derive(Args)]
pub struct RunDebugArgs {
    /// The action to run.
    #[arg(long, value_name = "ACTION")]
    pub action: String,
    /// The action's parameters, a JSON document.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    /// Where the plugin's source is, on the agent's machine.
    #[arg(long, value_name = "PATH")]
    pub plugin_path: Option<String>,
    /// The plugin's configuration, a JSON document.
    #[arg(long, value_name = "JSON")]
    pub config: Option<String>,
    /// The plugin's modules, a JSON document.
    #[arg(long, value_name = "JSON")]
    pub modules: Option<String>,
    /// What both runs take besides the action and its parameters.
    #[command(flatten)]
    pub extra: RunExtraArgs,
    /// Then follow the log of the job it started (as `jobs tail`: no line, message
    /// or byte limit; exit 0 SUCCEEDED, 7 FAILED, 8 STOPPED).
    #[arg(long)]
    pub follow: bool,
    /// How to follow (with --follow).
    #[command(flatten)]
    pub tail: FollowArgs,
}

/// The SDK's optional run arguments, the same for `plugins run` and `plugins run-debug`.
#[derive(Args, Clone)]
pub struct RunExtraArgs {
    /// An extra Python requirement for the job (repeatable).
    #[arg(long = "requirement", value_name = "REQUIREMENT")]
    pub requirements: Vec<String>,
    /// The job id (submission id) to start the job under.
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// The language of the action's messages (e.g. en, ko).
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,
}

/// The tail settings of `plugins run --follow`.
#[derive(Args, Clone)]
pub struct FollowArgs {
    /// With --follow: auto, websocket or http.
    #[arg(
        long,
        default_value = "auto",
        value_name = "PROTOCOL",
        requires = "follow"
    )]
    pub protocol: String,
    /// With --follow: how long the server may send nothing, in seconds [default:
    /// 30] (pings and heartbeats count: a quiet job never trips it).
    #[arg(long, value_name = "SECONDS", requires = "follow")]
    pub timeout: Option<f64>,
}

/// `config ...`
#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Creates or updates a context. Its URL, tenant and CA file come from the global
    /// --url, --tenant and --cacert given on this command line (not from the
    /// environment).
    #[command(
        after_help = "Example:\n  agentctl config set-context prod --url https://agent.example.com --token-file ~/.agent-token --tenant acme\n  agentctl config set-context ci --url https://agent.ci:8000 --token-env CI_AGENT_TOKEN --cacert ca.pem"
    )]
    SetContext(SetContextArgs),
    /// Makes a context the current one.
    #[command(after_help = "Example:\n  agentctl config use-context prod")]
    UseContext {
        /// The context's name.
        name: String,
    },
    /// Lists the contexts (the current one marked `*`).
    #[command(after_help = "Example:\n  agentctl config get-contexts")]
    GetContexts,
    /// Prints the current context's name (exit 1 when none is set).
    #[command(after_help = "Example:\n  agentctl config current-context")]
    CurrentContext,
    /// Deletes a context.
    #[command(after_help = "Example:\n  agentctl config delete-context staging")]
    DeleteContext {
        /// The context's name.
        name: String,
    },
}

/// `config set-context NAME ...`
#[derive(Args)]
pub struct SetContextArgs {
    /// The context's name.
    pub name: String,
    /// A file holding the agent token (read each time the context is used).
    #[arg(long, value_name = "FILE", conflicts_with = "token_env")]
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the agent token.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// A file holding the user token.
    #[arg(long, value_name = "FILE")]
    pub user_token_file: Option<PathBuf>,
}

/// `raw METHOD PATH [--body JSON]`
#[derive(Args)]
pub struct RawArgs {
    /// GET, POST, PUT, PATCH, DELETE or HEAD.
    pub method: String,
    /// A path relative to the agent's base URL, e.g. `jobs/`.
    pub path: String,
    /// A JSON request body.
    #[arg(long, value_name = "JSON")]
    pub body: Option<String>,
    /// A query parameter, KEY=VALUE (repeatable; percent-encoded for you).
    #[arg(long = "query", value_name = "KEY=VALUE")]
    pub query: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str) {
            let path = format!("{path} {}", cmd.get_name());
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(help.contains("agentctl "), "{path} has no example");
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &path);
                }
            }
        }
        walk(&Cli::command(), "");
    }
}
