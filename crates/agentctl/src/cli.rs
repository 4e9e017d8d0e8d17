//! The command line: flags, environment variables and subcommands (clap).
//!
//! Parsing only: nothing here talks to an agent. Values that need more than a type
//! check (ids, protocol, JSON, time-outs) are checked in [`crate::plan`], before any
//! request, so their errors read like every other error of agentctl.

use agent_proto::Secret;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

/// The exit codes, shown at the end of `agentctl --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success (a tail: the job's log is complete)
  1    any other failure (the agent failed, an answer could not be decoded, ...)
  2    usage: a bad command line, or input refused before any request (an invalid
       id, an unknown protocol, bad JSON), or the agent refused it (400, 422)
  3    not found (404)
  4    authentication: the agent refused the token or the user (401, 403)
  5    limits: a stream limit was exceeded, or the agent rate-limited us (429)
  6    unreachable or timed out: connect error, 503, connect/read/idle time-out (408)
  130  interrupted (Ctrl-C)

Errors are one line on stderr: `error: <status code> <kind>: <message>`.

Without --url or AGENT_URL, agentctl starts the embedded test agent with its sample
cluster and runs the command against it (it says so on stderr).

Examples:
  agentctl jobs tail raysubmit_capture1
  agentctl --url https://agent.example.com --token \"$TOKEN\" jobs list
  agentctl -o json nodes list | jq '.[].node_id'
  agentctl serve --listen 127.0.0.1:8000";

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables and key/value views for people.
    Table,
    /// Exactly the agent's JSON, one document (a tail: one JSON string per line).
    Json,
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
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table, help_heading = "Output")]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Connection settings, from flags or the environment.
#[derive(Args, Clone)]
pub struct Connection {
    /// The agent's base URL; without it, the embedded test agent is used.
    #[arg(
        long,
        env = "AGENT_URL",
        global = true,
        help_heading = "Connection",
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// The agent token (sent as `Authorization`); never printed.
    #[arg(long, env = "AGENT_TOKEN", global = true, help_heading = "Connection", hide_env_values = true,
          value_name = "TOKEN", value_parser = secret)]
    pub token: Option<Secret>,
    /// The user token (sent as `SYNAPSE-User: Token ...`); never printed.
    #[arg(long, env = "AGENT_USER_TOKEN", global = true, help_heading = "Connection", hide_env_values = true,
          value_name = "TOKEN", value_parser = secret)]
    pub user_token: Option<Secret>,
    /// The tenant (sent as `SYNAPSE-Tenant: Token ...`); never printed.
    #[arg(long, env = "AGENT_TENANT", global = true, help_heading = "Connection", hide_env_values = true,
          value_name = "TENANT", value_parser = secret)]
    pub tenant: Option<Secret>,
    /// Connect time-out in seconds [default: 3].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Connection"
    )]
    pub connect_timeout: Option<f64>,
    /// Read time-out of ordinary requests in seconds [default: 10].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Connection"
    )]
    pub read_timeout: Option<f64>,
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
    /// Ray Serve applications (list, get, delete), or `serve --listen ADDR` to run the
    /// test agent standalone.
    #[command(
        after_help = "Examples:\n  agentctl serve list\n  agentctl serve --listen 127.0.0.1:8000"
    )]
    Serve(ServeArgs),
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
    #[command(after_help = "Example:\n  agentctl jobs list\n  agentctl -o json jobs list")]
    List,
    /// One job.
    #[command(after_help = "Example:\n  agentctl jobs get raysubmit_capture1")]
    Get {
        /// The job's submission id (or driver job id).
        id: String,
    },
    /// A job's whole log, as it is now.
    #[command(after_help = "Example:\n  agentctl jobs logs raysubmit_capture1")]
    Logs {
        /// The job's id.
        id: String,
    },
    /// Asks the agent to stop a job.
    #[command(after_help = "Example:\n  agentctl jobs stop raysubmit_long1")]
    Stop {
        /// The job's id.
        id: String,
    },
    /// Follows a job's log: prints each line as it arrives, exits 0 when the log is
    /// complete; Ctrl-C stops (exit 130).
    #[command(
        after_help = "Example:\n  agentctl jobs tail raysubmit_capture1\n  agentctl jobs tail raysubmit_capture1 --protocol http --timeout 60 --max-lines 100000"
    )]
    Tail(TailArgs),
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
    /// long fails with 408 (a quiet job is not a finished one).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// The most HTTP stream lines [default: 50000].
    #[arg(long, value_name = "N")]
    pub max_lines: Option<u64>,
    /// The most bytes of log text [default: 52428800].
    #[arg(long, value_name = "N")]
    pub max_bytes: Option<u64>,
    /// The most WebSocket messages [default: 10000].
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

/// `serve ...`: Ray Serve applications, or the standalone test agent.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    /// Run the embedded test agent (sample cluster) standalone on this address, e.g.
    /// 127.0.0.1:8000, until Ctrl-C; prints the URL and the token.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The Ray Serve subcommand.
    #[command(subcommand)]
    pub cmd: Option<ServeCmd>,
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
    /// Then follow the log of the job it started (as `jobs tail`).
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
