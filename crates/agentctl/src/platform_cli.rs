//! The command line of the agent's platform operations (issue 21): `resources`,
//! `system`, `containers` and `builds`, synapse-sdk's methods beyond jobs and
//! plugin releases. Parsing only, as [`crate::cli`]; [`crate::platform`] checks and
//! runs them.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `resources ...`
#[derive(Subcommand)]
pub enum ResourcesCmd {
    /// A snapshot of the cluster's resources (CPUs, GPUs, memory, nodes).
    #[command(
        after_help = "Examples:\n  agentctl resources cluster\n  agentctl resources cluster --no-cache\n  agentctl -o json resources cluster | jq .cpu"
    )]
    Cluster {
        /// Ask the agent to collect the snapshot afresh instead of its cached one.
        #[arg(long)]
        no_cache: bool,
    },
    /// Would a workload be admitted now? A dry run of the agent's gatekeeping:
    /// nothing starts.
    #[command(
        after_help = "Examples:\n  agentctl resources feasibility --kind job --cpus 4 --gpus 1\n  agentctl resources feasibility --kind serve --cpus 2 --memory 8589934592 --replicas 3"
    )]
    Feasibility(FeasibilityArgs),
    /// The agent's resource policy: get or patch it, as the gatekeeping policy
    /// (the agent's JSON as it is) or the runtime policy (--runtime: every field,
    /// with the defaults the SDK gives missing ones).
    #[command(
        after_help = "Examples:\n  agentctl resources policy get\n  agentctl resources policy get --runtime\n  agentctl resources policy patch '{\"max_gpus_per_job\": 2}'"
    )]
    Policy {
        /// The policy subcommand.
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
}

/// `resources feasibility ...`
#[derive(Args)]
pub struct FeasibilityArgs {
    /// The kind of workload: job, serve, container or task.
    #[arg(long, value_name = "KIND")]
    pub kind: String,
    /// CPUs one replica needs.
    #[arg(long, value_name = "N")]
    pub cpus: f64,
    /// GPUs one replica needs [default: 0].
    #[arg(long, value_name = "N", default_value_t = 0.0)]
    pub gpus: f64,
    /// Memory one replica needs, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<u64>,
    /// How many replicas [default: 1].
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub replicas: u32,
    /// Metadata for the policy, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
}

/// `resources policy get | patch`
#[derive(Subcommand)]
pub enum PolicyCmd {
    /// The policy.
    #[command(
        after_help = "Examples:\n  agentctl resources policy get\n  agentctl -o yaml resources policy get --runtime"
    )]
    Get {
        /// Read it as the runtime policy (every field typed, defaults filled in).
        #[arg(long)]
        runtime: bool,
    },
    /// Merges a JSON patch into the policy; prints the policy after.
    #[command(
        after_help = "Examples:\n  agentctl resources policy patch '{\"max_gpus_per_job\": 2}'\n  agentctl resources policy patch '{\"allow_preemption\": false}' --runtime"
    )]
    Patch {
        /// The patch, a JSON object.
        #[arg(value_name = "JSON")]
        patch: String,
        /// Print the policy after as the runtime policy.
        #[arg(long)]
        runtime: bool,
    },
}

/// `system ...`
#[derive(Subcommand)]
pub enum SystemCmd {
    /// The compose configuration of the agent's own services.
    #[command(after_help = "Example:\n  agentctl system compose-config")]
    ComposeConfig,
    /// The agent's system status.
    #[command(after_help = "Example:\n  agentctl system status")]
    Status,
    /// Waits until the system is ready (exit 0), or gives up after --timeout (exit
    /// 6); while the agent restarts, failed polls count as "not yet".
    #[command(
        after_help = "Examples:\n  agentctl system wait\n  agentctl system wait --timeout 300 --poll-interval 5 && echo ready"
    )]
    Wait(PollArgs),
    /// Pulls new images (the tags given) and recreates the agent's services; with
    /// --wait, then waits until the system is ready again.
    #[command(
        after_help = "Examples:\n  agentctl system update --api-tag 2026.2.17\n  agentctl system update --worker-tag 2026.2.17 --wait --timeout 600"
    )]
    Update {
        /// The agent API image's tag.
        #[arg(long, value_name = "TAG")]
        api_tag: Option<String>,
        /// The worker image's tag.
        #[arg(long, value_name = "TAG")]
        worker_tag: Option<String>,
        /// Then wait until the system is ready (exit 6 past --timeout).
        #[arg(long)]
        wait: bool,
        /// How to wait (with --wait).
        #[command(flatten)]
        poll: PollArgs,
    },
    /// Restarts the agent's services; with --wait, then waits until the system is
    /// ready again.
    #[command(
        after_help = "Examples:\n  agentctl system restart\n  agentctl system restart --wait --timeout 300"
    )]
    Restart {
        /// Then wait until the system is ready (exit 6 past --timeout).
        #[arg(long)]
        wait: bool,
        /// How to wait (with --wait).
        #[command(flatten)]
        poll: PollArgs,
    },
}

/// How long to wait and how often to ask (`system wait`, `builds wait`, ...).
#[derive(Args, Clone, Copy, Debug)]
pub struct PollArgs {
    /// Give up after this many seconds (exit 6) [default: 120 for the system, 300
    /// for a build].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Seconds between two polls [default: 2].
    #[arg(long, value_name = "SECONDS")]
    pub poll_interval: Option<f64>,
}

/// `containers ...`
#[derive(Subcommand)]
pub enum ContainersCmd {
    /// The Docker containers the agent runs: list, get, create, delete, start, stop.
    #[command(
        after_help = "Examples:\n  agentctl containers docker list\n  agentctl containers docker create --plugin-release demo@1.0.0"
    )]
    Docker {
        /// The Docker subcommand.
        #[command(subcommand)]
        cmd: DockerCmd,
    },
    /// A page of the plugin containers the agent tracks; --all follows every page.
    #[command(
        after_help = "Examples:\n  agentctl containers list\n  agentctl containers list --all\n  agentctl containers list --query status=running"
    )]
    List {
        /// Every container, following the pages (the SDK's list_all).
        #[arg(long)]
        all: bool,
        /// A query parameter passed through, KEY=VALUE (repeatable).
        #[arg(long = "query", value_name = "KEY=VALUE")]
        query: Vec<String>,
    },
    /// One plugin container.
    #[command(after_help = "Example:\n  agentctl containers get 4")]
    Get {
        /// The container's id.
        id: String,
    },
    /// Creates a plugin container from a release (--plugin-release) or an uploaded
    /// plugin archive (--file); with --wait, waits for its build (exit 0 when it
    /// completed, 6 past --timeout).
    #[command(
        after_help = "Examples:\n  agentctl containers create --plugin-release demo@1.0.0\n  agentctl containers create --file ./my_plugin.zip --wait --timeout 600\n  agentctl containers create --plugin-release demo@1.0.0 --env MODE=prod --label team=vision"
    )]
    Create(Box<CreateContainerArgs>),
    /// Updates a plugin container's status.
    #[command(after_help = "Example:\n  agentctl containers update 4 --status stopped")]
    Update {
        /// The container's id.
        id: String,
        /// The new status.
        #[arg(long, value_name = "STATUS")]
        status: String,
    },
    /// Deletes a plugin container (the agent stops it too).
    #[command(after_help = "Example:\n  agentctl containers delete 4")]
    Delete {
        /// The container's id.
        id: String,
    },
}

/// What `containers create` and `containers docker create` both take.
#[derive(Args, Clone, Debug, Default)]
pub struct ContainerSettings {
    /// The plugin's parameters, a JSON document.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    /// An environment variable, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub envs: Vec<String>,
    /// Metadata to keep with it, a JSON document.
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
    /// A label (repeatable).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
}

/// `containers create ...`
#[derive(Args)]
pub struct CreateContainerArgs {
    /// The release to run, CODE@VERSION.
    #[arg(
        long,
        value_name = "CODE@VERSION",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub plugin_release: Option<String>,
    /// A plugin archive to upload instead (sent as multipart/form-data).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// A model's id.
    #[arg(long, value_name = "ID")]
    pub model: Option<i64>,
    /// The kind of container.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// The backend's id of the container.
    #[arg(long, value_name = "ID")]
    pub backend_container_id: Option<i64>,
    /// Parameters, environment, metadata, labels.
    #[command(flatten)]
    pub settings: ContainerSettings,
    /// Then wait for its build to finish (exit 0 completed, 1 failed, 6 past --timeout).
    #[arg(long)]
    pub wait: bool,
    /// How to wait (with --wait).
    #[command(flatten)]
    pub poll: PollArgs,
}

/// `containers docker ...`
#[derive(Subcommand)]
pub enum DockerCmd {
    /// Every Docker container the agent runs.
    #[command(after_help = "Example:\n  agentctl containers docker list")]
    List,
    /// One Docker container.
    #[command(after_help = "Example:\n  agentctl containers docker get 3f2a9c")]
    Get {
        /// Docker's id of the container.
        id: String,
    },
    /// Builds and runs a Docker container for a plugin release.
    #[command(
        after_help = "Example:\n  agentctl containers docker create --plugin-release demo@1.0.0 --params '{\"port\": 7860}'"
    )]
    Create {
        /// The release to run, CODE@VERSION.
        #[arg(long, value_name = "CODE@VERSION")]
        plugin_release: String,
        /// Parameters, environment, metadata, labels.
        #[command(flatten)]
        settings: ContainerSettings,
    },
    /// Removes a Docker container.
    #[command(after_help = "Example:\n  agentctl containers docker delete 3f2a9c")]
    Delete {
        /// Docker's id of the container.
        id: String,
    },
    /// Starts a Docker container.
    #[command(after_help = "Example:\n  agentctl containers docker start 3f2a9c")]
    Start {
        /// Docker's id of the container.
        id: String,
    },
    /// Stops a Docker container.
    #[command(after_help = "Example:\n  agentctl containers docker stop 3f2a9c")]
    Stop {
        /// Docker's id of the container.
        id: String,
    },
}

/// `builds ...`
#[derive(Subcommand)]
pub enum BuildsCmd {
    /// A container build's progress.
    #[command(after_help = "Example:\n  agentctl builds get b4")]
    Get {
        /// The build's id.
        id: String,
    },
    /// Waits until a build finishes: exit 0 when it completed, 1 when it failed or
    /// was cancelled, 6 past --timeout.
    #[command(
        after_help = "Examples:\n  agentctl builds wait b4\n  agentctl builds wait b4 --timeout 900 --poll-interval 5"
    )]
    Wait {
        /// The build's id.
        id: String,
        /// How to wait.
        #[command(flatten)]
        poll: PollArgs,
    },
}
