//! `agent-gateway`: serves the agent API in front of a Ray cluster.
//!
//! ```text
//! agent-gateway --ray-address http://127.0.0.1:8265 --listen 127.0.0.1:8000 \
//!     --token "$AGENT_TOKEN" --plugins plugins.toml
//! ```

use agent_gateway::{Gateway, GatewayConfig, PluginRegistry};
use agent_proto::Secret;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// An agent API server backed by a Ray cluster (through the Ray dashboard's REST API).
#[derive(Parser)]
#[command(name = "agent-gateway", version, about)]
struct Args {
    /// The Ray dashboard's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8265")]
    ray_address: String,

    /// Where to serve the agent API (`HOST:PORT`; port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000")]
    listen: String,

    /// The token of a Ray dashboard started with `RAY_AUTH_MODE=token`, sent to it
    /// as `Authorization: Bearer <token>` (never logged).
    #[arg(
        long,
        env = "RAY_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    ray_token: Option<String>,

    /// PEM file of a private CA to trust for an `https://` Ray dashboard.
    #[arg(long, value_name = "FILE")]
    ray_ca: Option<PathBuf>,

    /// The agent token callers must send as `Authorization: <token>`.
    #[arg(
        long,
        env = "AGENT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: String,

    /// A TOML registry of plugin releases (code, version, entrypoint template,
    /// runtime_env) that `plugin_releases/{lookup}/run/` can run.
    #[arg(long, value_name = "FILE")]
    plugins: Option<PathBuf>,

    /// The path prefix the API is served under.
    #[arg(long, default_value = "/")]
    prefix: String,

    /// Let callers create and delete plugin releases through the API (kept in
    /// memory). Off by default: a release's entrypoint is a shell command run on the
    /// cluster, so only the registry file defines them.
    #[arg(long)]
    allow_api_releases: bool,

    /// Do not log one line per request.
    #[arg(long)]
    quiet: bool,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("ray_address", &self.ray_address)
            .field("listen", &self.listen)
            .field("token", &"[redacted]")
            .field("ray_token", &self.ray_token.as_ref().map(|_| "[redacted]"))
            .field("ray_ca", &self.ray_ca)
            .field("plugins", &self.plugins)
            .finish()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent-gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let plugins = match &args.plugins {
        Some(path) => PluginRegistry::load(path)?,
        None => PluginRegistry::new(),
    };
    let releases = plugins.len();
    let mut config = GatewayConfig::new(args.ray_address, Secret::new(args.token))
        .plugins(plugins)
        .log_requests(!args.quiet)
        .api_releases(args.allow_api_releases);
    config.prefix = args.prefix;
    if let Some(token) = args.ray_token.filter(|t| !t.is_empty()) {
        config = config.ray_token(Secret::new(token));
    }
    if let Some(path) = &args.ray_ca {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the Ray CA file {}: {e}", path.display()))?;
        config = config.ray_ca_pem(pem);
    }
    let ray = agent_gateway::ray_client(&config)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let gateway = Gateway::start(config, listener).await?;
    match ray.version().await {
        Ok(v) => eprintln!(
            "agent-gateway: Ray {} at {}",
            v.get("ray_version").and_then(|v| v.as_str()).unwrap_or("?"),
            ray.address()
        ),
        Err(e) => {
            eprintln!("agent-gateway: warning: Ray is not answering yet ({e}); serving anyway")
        }
    }
    eprintln!(
        "agent-gateway: serving the agent API at {} ({releases} plugin release(s))",
        gateway.url()
    );
    tokio::signal::ctrl_c().await?;
    eprintln!("agent-gateway: shutting down");
    gateway.shutdown().await;
    Ok(())
}
