//! `agent-gateway`: an agent API server that answers from a real Ray cluster
//! through the Ray dashboard's REST API.
//!
//! The HTTP/WebSocket side (routes, token check, WebSocket and HTTP log tails) is
//! `agent-server`'s serving layer; this crate supplies the [`RayBackend`] behind it:
//!
//! | agent API | Ray dashboard |
//! |---|---|
//! | `health/` | `/api/version`, `/api/gcs_healthz` |
//! | `jobs/`, `jobs/{id}/`, `jobs/{id}/stop/` | `/api/jobs/...` (a submission id or a driver job id) |
//! | `jobs/{id}/logs/` | `/api/v0/logs/file?node_id=...&filename=job-driver-{id}.log` ([`joblog`]) |
//! | log tails (WebSocket and HTTP) | `/api/jobs/{id}/logs/tail`, then the log file, made exactly-once ([`tail`]); one upstream per job shared by every tail, recent lines in a ring, all in a spool, a finished job's log kept a while ([`hub`]) |
//! | `nodes/`, `tasks/` (`?job_id=` filters), `{id}/` | `/api/v0/nodes`, `/api/v0/tasks` |
//! | `gpu_status/` | nodes' `resources_total` summed, usage from `/api/cluster_status` |
//! | `serve_applications/` | `/api/serve/applications/` (a delete PUTs the config without the app) |
//! | `plugin_releases/...` | a TOML registry ([`plugins`]); `run/` submits a Ray job |
//! | a finished job Ray no longer knows (`--archive-dir`) | its log and info kept on the gateway's disk ([`archive`], [`archived`]) |
//!
//! ```no_run
//! use agent_gateway::{Gateway, GatewayConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let config = GatewayConfig::new("http://127.0.0.1:8265", "agent-token");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let gateway = Gateway::start(config, listener).await?;
//! println!("agent API at {}", gateway.url());
//! gateway.shutdown().await;
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod archive;
pub mod archived;
pub mod backend;
mod error;
pub mod hub;
pub mod joblog;
pub mod lines;
pub mod log;
pub mod mapping;
pub mod plugins;
pub mod ray;
pub mod redact;
pub mod requirement;
mod resources;
pub mod shell;
pub mod tail;

#[cfg(test)]
pub(crate) mod test_fixtures;

pub use backend::RayBackend;
pub use error::GatewayError;
pub use hub::{FinishedLog, FinishedLogs, HubSettings};
pub use plugins::PluginRegistry;
pub use ray::{RayClient, RayTokenHeader};
pub use tail::TailSettings;

use agent_proto::{Secret, Timeouts};
use agent_server::{serve, Limits, MetricsAccess, ServeOptions, ServerHandle, TlsFiles};
use agent_transport::{HttpTransport, RetryPolicy, RetryingTransport, Transport};
use std::sync::Arc;
use std::time::Duration;

/// What a gateway needs: where Ray is, the agent token, and the plugin releases.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The Ray dashboard's address, e.g. `http://127.0.0.1:8265`.
    pub ray_address: String,
    /// The agent token callers must send as `Authorization: <token>`.
    pub token: Secret,
    /// The plugin releases it can run.
    pub plugins: PluginRegistry,
    /// The path the API is served under (default `/`).
    pub prefix: String,
    /// Time-outs of requests to Ray (connect 3 s, read 60 s: a long job's whole
    /// log is one answer).
    pub ray_timeouts: Timeouts,
    /// How tails pace themselves.
    pub tail: TailSettings,
    /// How the per-job hub of tails bounds itself (ring, spool, linger; the
    /// archive's hook).
    pub hub: HubSettings,
    /// Log one line per request to standard error.
    pub log_requests: bool,
    /// Let callers create and delete plugin releases through the API (in memory;
    /// off by default: an entrypoint is a shell command run on the cluster).
    pub api_releases: bool,
    /// The token of a dashboard started with `RAY_AUTH_MODE=token`, sent as
    /// `Authorization: Bearer <token>` (never logged).
    pub ray_token: Option<Secret>,
    /// Which headers carry `ray_token` (`Authorization` by default; KubeRay's
    /// `X-Ray-Authorization` for a dashboard behind a proxy that consumes
    /// `Authorization`, or both).
    pub ray_token_header: RayTokenHeader,
    /// PEM certificates of a private CA to trust for an `https://` dashboard.
    pub ray_ca_pem: Option<Vec<u8>>,
    /// The largest whole answer read from Ray (streamed logs are not bounded by
    /// it: they are read piece by piece).
    pub ray_max_body: usize,
    /// The serving layer's bounds (body sizes, time-outs, connection and WebSocket
    /// frame caps); the defaults are safe.
    pub limits: Limits,
    /// Terminate TLS with these PEM files (optionally requiring client certificates;
    /// reloaded when they change); `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// The API's base URL as clients reach it (`--public-url`, prefix included), for
    /// absolute `next`/`previous` links; `None`: links relative to the API's base
    /// (never built from the caller's `Host` header).
    pub public_url: Option<String>,
    /// Who may read `/metrics` (default: anyone; see [`MetricsAccess`]).
    pub metrics: MetricsAccess,
    /// Keep finished jobs' final logs and infos in this directory (`--archive-dir`;
    /// `None`, the default: no archive), answering from it when Ray no longer
    /// knows a job ([`archive`]).
    pub archive_dir: Option<std::path::PathBuf>,
    /// The cap of the archive's files, in bytes (oldest evicted first; default
    /// [`archive::DEFAULT_MAX_BYTES`], 1 GiB).
    pub archive_max_bytes: u64,
}

impl GatewayConfig {
    /// A gateway in front of the dashboard at `ray_address`, with no plugin release.
    pub fn new(ray_address: impl Into<String>, token: impl Into<Secret>) -> Self {
        GatewayConfig {
            ray_address: ray_address.into(),
            token: token.into(),
            plugins: PluginRegistry::new(),
            prefix: "/".into(),
            ray_timeouts: Timeouts {
                connect: Duration::from_secs(3),
                read: Duration::from_secs(60),
            },
            tail: TailSettings::default(),
            hub: HubSettings::default(),
            log_requests: true,
            api_releases: false,
            ray_token: None,
            ray_token_header: RayTokenHeader::default(),
            ray_ca_pem: None,
            ray_max_body: backend::DEFAULT_MAX_LOG_BYTES,
            limits: Limits::default(),
            tls: None,
            public_url: None,
            metrics: MetricsAccess::default(),
            archive_dir: None,
            archive_max_bytes: archive::DEFAULT_MAX_BYTES,
        }
    }

    /// Keeps finished jobs' logs in `dir`, capped at `max_bytes` ([`archive`]).
    pub fn archive(mut self, dir: impl Into<std::path::PathBuf>, max_bytes: u64) -> Self {
        self.archive_dir = Some(dir.into());
        self.archive_max_bytes = max_bytes;
        self
    }

    /// Sets the token Ray's dashboard wants (`RAY_AUTH_MODE=token`).
    pub fn ray_token(mut self, token: impl Into<Secret>) -> Self {
        self.ray_token = Some(token.into());
        self
    }

    /// Sets which headers carry the Ray token ([`RayTokenHeader`]).
    pub fn ray_token_header(mut self, header: RayTokenHeader) -> Self {
        self.ray_token_header = header;
        self
    }

    /// Trusts the PEM certificates of `pem` (a private CA) for an `https://` dashboard.
    pub fn ray_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ray_ca_pem = Some(pem.into());
        self
    }

    /// Sets the plugin releases.
    pub fn plugins(mut self, plugins: PluginRegistry) -> Self {
        self.plugins = plugins;
        self
    }

    /// Sets whether callers may create and delete plugin releases through the API.
    pub fn api_releases(mut self, allowed: bool) -> Self {
        self.api_releases = allowed;
        self
    }

    /// Sets whether each request is logged.
    pub fn log_requests(mut self, on: bool) -> Self {
        self.log_requests = on;
        self
    }
}

/// A running gateway; dropping it stops it at once.
#[derive(Debug)]
pub struct Gateway {
    server: ServerHandle,
}

/// The Ray client a config describes (`http://` or `https://`, with its token and
/// CA if given).
pub fn ray_client(config: &GatewayConfig) -> Result<RayClient, GatewayError> {
    let address = config.ray_address.trim_end_matches('/').to_owned();
    let mut http = HttpTransport::builder(format!("{address}/"))
        .timeouts(config.ray_timeouts)
        .max_response_body(config.ray_max_body);
    if let Some(pem) = &config.ray_ca_pem {
        http = http.add_root_certificate_pem(pem)?;
    }
    // No retries towards Ray: the agent's callers retry a 503 (one layer of retries,
    // not two), and the Ray client's circuit breaker answers them at once while Ray
    // is down. The wrapper stays for its `agent.request` span.
    let transport: Arc<dyn Transport> = Arc::new(RetryingTransport::new(
        Arc::new(http.build()?),
        RetryPolicy::none(),
    ));
    let ray = RayClient::new(transport, address);
    match &config.ray_token {
        Some(token) => Ok(ray
            .with_token(token)?
            .with_token_header(config.ray_token_header)),
        None => Ok(ray),
    }
}

impl Gateway {
    /// Serves the agent API on `listener`, answering from Ray.
    pub async fn start(
        config: GatewayConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Gateway, Box<dyn std::error::Error + Send + Sync>> {
        agent_server::check_token(&config.token)?;
        let ray = ray_client(&config)?;
        let public_url = match &config.public_url {
            Some(url) => Some(backend::public_url(url)?),
            None => None,
        };
        let archive = match &config.archive_dir {
            Some(dir) => Some(Arc::new(archive::Archive::open(
                dir,
                config.archive_max_bytes,
            )?)),
            None => None,
        };
        let mut hub = config.hub;
        if let Some(archive) = &archive {
            // a tailed job's final log, read from Ray once, is archived as it is
            let keep: Arc<dyn FinishedLogs> = Arc::new(archived::KeepTailed(Arc::clone(archive)));
            hub.finished_logs = Some(keep);
        }
        let backend = RayBackend::new(ray, config.plugins)
            .with_archive(archive)
            .with_public_url(public_url)
            .with_max_log_bytes(config.ray_max_body)
            .with_tail_settings(config.tail)
            .with_hub_settings(hub)
            .with_api_releases(config.api_releases);
        let mut options = ServeOptions::new()
            .token(config.token)
            .prefix(config.prefix)
            .limits(config.limits)
            .metrics(config.metrics);
        if let Some(tls) = config.tls {
            options = options.tls(tls);
        }
        if config.log_requests {
            options = options.hook(Arc::new(log::RequestLog::stderr()));
        }
        let server = serve(listener, Arc::new(backend), options).await?;
        Ok(Gateway { server })
    }

    /// The agent API's base URL (`http://ADDR/` plus the prefix).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// Stops accepting, lets open requests finish briefly, then stops.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
