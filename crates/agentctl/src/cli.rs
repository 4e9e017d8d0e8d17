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
  6    unreachable or timed out: connect error, 503, connect/read/idle time-out (408)
  7    the job FAILED (jobs tail, jobs wait, jobs stop --wait, plugins run --follow)
  8    the job was STOPPED (the same commands)
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
/// plugin releases, GPU status.
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
    /// Use the embedded test agent (sample cluster), whatever else is set.
    #[arg(long, global = true, help_heading = "Global options: connection")]
    pub embedded: bool,
    /// The context (from the config file) to use instead of the current one.
    #[arg(
        long,
        env = "AGENTCTL_CONTEXT",
        global = true,
        help_heading = "Global options: connection",
        value_name = "NAME"
    )]
    pub context: Option<String>,
    /// A PEM file of root certificates to trust besides the web's (a private CA).
    #[arg(
        long,
        env = "AGENT_CACERT",
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
        global = true,
        help_heading = "Global options: connection",
        value_name = "FILE"
    )]
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of --client-cert; never printed.
    #[arg(
        long,
        env = "AGENT_CLIENT_KEY",
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
    /// Ray jobs: list, get, logs, stop, tail.
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
    /// Prints the man page (roff); `cargo xtask man` writes it to a file.
    #[command(
        hide = true,
        after_help = "Example:\n  agentctl generate-man > agentctl.1"
    )]
    GenerateMan,
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
        /// Only jobs with this status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED;
        /// any case), in every output format.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
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
        /// Only the last N lines.
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
    #[command(
        after_help = "Example:\n  agentctl jobs tail raysubmit_capture1\n  agentctl jobs tail raysubmit_capture1 --protocol http --timeout 60 --max-lines 100000"
    )]
    Tail(TailArgs),
    /// Waits until a job has a final status (no log), prints it, and exits 0
    /// SUCCEEDED, 7 FAILED, 8 STOPPED.
    #[command(
        after_help = "Example:\n  agentctl jobs wait raysubmit_slow1\n  agentctl jobs wait raysubmit_slow1 --timeout 600 && echo done"
    )]
    Wait {
        /// The job's id.
        id: String,
        /// Give up after this many seconds (exit 6) [default: wait forever].
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
    },
}

/// How to follow a log.
#[derive(Args, Clone)]
pub struct TailArgs {
    /// The job's id.
    pub id: String,
    /// auto (WebSocket, then HTTP streaming), websocket or http.
    #[arg(long, default_value = "auto", value_name = "PROTOCOL")]
    pub protocol: String,
    /// Idle time-out in seconds (0 < S <= 300) [default: 30]: a log quiet for this
    /// long fails (exit 6): a quiet job is not a finished one.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Stop (exit 5) after this many HTTP stream lines [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_lines: Option<u64>,
    /// Stop (exit 5) after this many bytes of log text [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_bytes: Option<u64>,
    /// Stop (exit 5) after this many WebSocket messages [default: no limit].
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// The largest single message or line in bytes; larger ones are skipped and
    /// counted [default: 10240].
    #[arg(long, value_name = "N")]
    pub max_message_size: Option<usize>,
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
    #[arg(long, value_name = "public|token|off", default_value_t = agent_testkit::MetricsAccess::Public)]
    pub metrics: agent_testkit::MetricsAccess,
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
    /// Then follow the log of the job it started (as `jobs tail`: no line, message
    /// or byte limit; exit 0 SUCCEEDED, 7 FAILED, 8 STOPPED).
    #[arg(long)]
    pub follow: bool,
    /// How to follow (with --follow).
    #[command(flatten)]
    pub tail: FollowArgs,
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
    /// With --follow: idle time-out in seconds [default: 30].
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
