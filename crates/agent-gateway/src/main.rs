//! `agent-gateway`: serves the agent API in front of a Ray cluster.
//!
//! ```text
//! agent-gateway --ray-address http://127.0.0.1:8265 --listen 127.0.0.1:8000 \
//!     --token "$AGENT_TOKEN" --plugins plugins.toml
//! ```

use agent_gateway::{Gateway, GatewayConfig, HubSettings, PluginRegistry, RayTokenHeader};
use agent_proto::Secret;
use agent_server::{Limits, MetricsAccess, TlsFiles};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// An agent API server backed by a Ray cluster (through the Ray dashboard's REST API).
#[derive(Parser)]
#[command(name = "agent-gateway", version, about)]
struct Args {
    /// The Ray dashboard's URL (`http://HOST:PORT` or `https://HOST:PORT`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8265", value_parser = ray_address)]
    ray_address: String,

    /// Where to serve the agent API (`HOST:PORT`; port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000", value_parser = listen_address)]
    listen: String,

    /// The token of a Ray dashboard started with `RAY_AUTH_MODE=token`, sent to it
    /// as `Authorization: Bearer <token>` (never logged; see --ray-token-header).
    #[arg(
        long,
        env = "RAY_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    ray_token: Option<String>,

    /// Which headers carry the Ray token, as `Bearer <token>`: `authorization`,
    /// `x-ray-authorization` (as KubeRay's dashboard client sends it, for a
    /// dashboard behind a proxy that consumes `Authorization`; Ray reads it when
    /// `Authorization` is absent) or `both`.
    #[arg(long, value_name = "HEADER", default_value_t = RayTokenHeader::default())]
    ray_token_header: RayTokenHeader,

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

    /// Do not log one line per request (method, path, status, bytes, latency; for
    /// tails the lines sent and how the tail ended; never a token).
    #[arg(long)]
    quiet: bool,

    /// The most connections open at once; beyond it a new connection replaces one
    /// that has not sent a valid token (the oldest of the source address holding
    /// the most such), or gets a 503.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections)]
    max_connections: usize,

    /// The largest request body of the small-JSON routes, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,

    /// The largest body of `plugin_releases/run_debug/`, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_large_body_bytes)]
    max_debug_body_bytes: usize,

    /// Seconds a client may take to send a request's head (and stay idle between
    /// requests).
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().header_timeout.as_secs_f64())]
    header_timeout: f64,

    /// Seconds a client may take to send a request's body.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().body_timeout.as_secs_f64())]
    body_timeout: f64,

    /// Serve HTTPS (and WSS) with this certificate chain (PEM; needs --tls-key). The
    /// files are read again every 5 s: a renewed certificate is picked up by new
    /// connections without a restart.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    client_ca: Option<PathBuf>,

    /// The API's base URL as clients reach it (prefix included), e.g.
    /// `https://agent.example/api/`: `next`/`previous` links are made absolute
    /// under it. Without it they are relative to the API's base; never built from
    /// a request's `Host` header.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,

    /// The largest WebSocket frame a client may send, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_ws_frame_bytes)]
    max_ws_frame_bytes: usize,

    /// The largest request head (request line and headers), in bytes (at least
    /// 8192); a larger one is answered 431.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_head_bytes)]
    max_head_bytes: usize,

    /// Who may read `/metrics` (Prometheus text, served at `/metrics` whatever
    /// --prefix): `public` (anyone; they hold counts, never a secret), `token`
    /// (only with the agent token, as the API), or `off`.
    #[arg(long, value_name = "public|token|off", default_value_t = MetricsAccess::Public)]
    metrics: MetricsAccess,

    /// Keep each finished job's final log and info in this directory (zstd, one
    /// file per job), and answer from it when Ray no longer knows the job (a
    /// restarted head, a re-created cluster). Off when not given.
    #[arg(long, value_name = "DIR")]
    archive_dir: Option<PathBuf>,

    /// The cap of --archive-dir's files, in bytes; the oldest entries are evicted
    /// first.
    #[arg(long, value_name = "BYTES", default_value_t = agent_gateway::archive::DEFAULT_MAX_BYTES, requires = "archive_dir")]
    archive_max_bytes: u64,

    /// Where the tails' spool is kept (a new directory in it, removed at exit):
    /// every job's lines, so that a tail that falls behind reads them from disk
    /// instead of asking Ray again, and finished jobs' logs while they linger.
    /// Default: the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,

    /// The most bytes the spool holds; past it, new lines are not spooled (a tail
    /// that falls behind then reads Ray itself) and finished logs go oldest first.
    #[arg(long, value_name = "BYTES", default_value_t = HubSettings::default().spool_max_bytes)]
    spool_max_bytes: u64,

    /// The most recent lines of each job kept in memory for its tails.
    #[arg(long, value_name = "N", default_value_t = HubSettings::default().ring_lines)]
    ring_lines: usize,

    /// The most bytes of recent lines of each job kept in memory for its tails.
    #[arg(long, value_name = "BYTES", default_value_t = HubSettings::default().ring_bytes)]
    ring_bytes: usize,

    /// Seconds a finished job's log is kept to answer its tails and
    /// `jobs/{id}/logs/` without asking Ray.
    #[arg(long, value_name = "SECS", default_value_t = HubSettings::default().linger.as_secs_f64())]
    log_linger: f64,
}

/// `--ray-address`: an `http://` or `https://` URL with a host. A start-up error
/// names the expected form and, for a bare `HOST:PORT`, the URL meant (clap puts
/// the flag's name in front).
fn ray_address(value: &str) -> Result<String, String> {
    let v = value.trim();
    let expected = "expected the Ray dashboard's URL, http://HOST:PORT or https://HOST:PORT";
    let Some((scheme, rest)) = v.split_once("://") else {
        return Err(format!("{expected}; did you mean http://{v}?"));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!("{expected}, not a {scheme}:// URL"));
    }
    let ok = v
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(|h| !h.is_empty()))
        .unwrap_or(false);
    if !ok || rest.trim_matches('/').is_empty() {
        return Err(format!("{expected} (e.g. http://127.0.0.1:8265)"));
    }
    Ok(v.to_owned())
}

/// `--listen`: `HOST:PORT` (a name such as `localhost:8000` is resolved when
/// binding). A bare port or a URL gets the `HOST:PORT` meant.
fn listen_address(value: &str) -> Result<String, String> {
    let v = value.trim();
    let expected = "expected HOST:PORT, e.g. 127.0.0.1:8000 (0.0.0.0:8000 for every interface)";
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{expected}; did you mean 127.0.0.1:{v}?"));
    }
    if let Some((_, rest)) = v.split_once("://") {
        let hostport = rest.trim_end_matches('/');
        return Err(format!("{expected}, not a URL; did you mean {hostport}?"));
    }
    if v.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(v.to_owned());
    }
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(v.to_owned()),
        _ => Err(expected.to_owned()),
    }
}

impl Args {
    /// The serving layer's bounds the flags ask for.
    fn limits(&self) -> Result<Limits, String> {
        let secs = |flag: &str, v: f64| {
            Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| format!("--{flag} must be a positive number of seconds"))
        };
        Ok(Limits::new()
            .max_connections(self.max_connections)
            .max_body_bytes(self.max_body_bytes)
            .max_large_body_bytes(self.max_debug_body_bytes)
            .header_timeout(secs("header-timeout", self.header_timeout)?)
            .body_timeout(secs("body-timeout", self.body_timeout)?)
            .max_ws_frame_bytes(self.max_ws_frame_bytes)
            .max_head_bytes(self.max_head_bytes))
    }
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("ray_address", &self.ray_address)
            .field("listen", &self.listen)
            .field("token", &"[redacted]")
            .field("ray_token", &self.ray_token.as_ref().map(|_| "[redacted]"))
            .field("ray_token_header", &self.ray_token_header)
            .field("ray_ca", &self.ray_ca)
            .field("plugins", &self.plugins)
            .finish_non_exhaustive()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.quiet {
        // agent-server's request lines (target `agent_server::access`) on stderr
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
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
    let limits = args.limits()?;
    let mut config = GatewayConfig::new(args.ray_address, Secret::new(args.token))
        .plugins(plugins)
        // the serving layer writes the request lines (through `tracing`, above)
        .log_requests(false)
        .api_releases(args.allow_api_releases);
    config.prefix = args.prefix;
    if let Some(token) = args.ray_token.filter(|t| !t.is_empty()) {
        config = config.ray_token(Secret::new(token));
    }
    config = config.ray_token_header(args.ray_token_header);
    if let Some(path) = &args.ray_ca {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the Ray CA file {}: {e}", path.display()))?;
        config = config.ray_ca_pem(pem);
    }
    config.limits = limits;
    config.public_url = args.public_url;
    config.metrics = args.metrics;
    config.hub = HubSettings {
        ring_lines: args.ring_lines,
        ring_bytes: args.ring_bytes,
        spool_dir: args.spool_dir,
        spool_max_bytes: args.spool_max_bytes,
        linger: Duration::try_from_secs_f64(args.log_linger)
            .map_err(|_| "--log-linger must be a number of seconds, 0 or more")?,
        ..HubSettings::default()
    };
    if let Some(dir) = &args.archive_dir {
        config = config.archive(dir, args.archive_max_bytes);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let mut tls = TlsFiles::new(cert, key);
        if let Some(ca) = &args.client_ca {
            tls = tls.client_ca(ca);
        }
        config.tls = Some(tls);
    }
    let ray = agent_gateway::ray_client(&config)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("--listen {}: cannot listen there: {e}", args.listen))?;
    let gateway = Gateway::start(config, listener).await?;
    match ray.version().await {
        Ok(v) => eprintln!(
            "agent-gateway: Ray {} at {}",
            v.get("ray_version").and_then(|v| v.as_str()).unwrap_or("?"),
            ray.address()
        ),
        Err(e) => {
            // The gateway's own output: Ray's address and the transport's reason.
            let why = ray.last_failure().unwrap_or_else(|| e.message());
            eprintln!(
                "agent-gateway: warning: Ray is not answering at {} yet ({why}); serving \
                 anyway (calls that need Ray get 503 until it answers)",
                ray.address()
            )
        }
    }
    eprintln!(
        "agent-gateway: serving the agent API at {} ({releases} plugin release(s))",
        gateway.url()
    );
    agent_server::shutdown_signal().await?;
    eprintln!("agent-gateway: shutting down");
    gateway.shutdown().await;
    Ok(())
}
