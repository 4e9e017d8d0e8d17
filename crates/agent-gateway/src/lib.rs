//! `agent-gateway`: an agent API server that answers from a real Ray cluster
//! through the Ray dashboard's REST API.
//!
//! The HTTP/WebSocket side (routes, token check, WebSocket and HTTP log tails) is
//! `agent-server`'s serving layer; this crate supplies the [`RayBackend`] behind it:
//!
//! | agent API | Ray dashboard |
//! |---|---|
//! | `health/` | `/api/version`, `/api/gcs_healthz` |
//! | `jobs/`, `jobs/{id}/`, `jobs/{id}/logs/`, `jobs/{id}/stop/` | `/api/jobs/...` (a submission id or a driver job id) |
//! | log tails (WebSocket and HTTP) | `/api/jobs/{id}/logs/tail`, made exactly-once ([`tail`]) |
//! | `nodes/`, `tasks/` (`?job_id=` filters), `{id}/` | `/api/v0/nodes`, `/api/v0/tasks` |
//! | `gpu_status/` | nodes' `resources_total` summed, usage from `/api/cluster_status` |
//! | `serve_applications/` | `/api/serve/applications/` (a delete PUTs the config without the app) |
//! | `plugin_releases/...` | a TOML registry ([`plugins`]); `run/` submits a Ray job |
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

pub mod backend;
pub mod lines;
pub mod log;
pub mod mapping;
pub mod plugins;
pub mod ray;
pub mod tail;

#[cfg(test)]
pub(crate) mod test_fixtures;

pub use backend::RayBackend;
pub use plugins::PluginRegistry;
pub use ray::RayClient;
pub use tail::TailSettings;

use agent_proto::{ClientError, Secret, Timeouts};
use agent_server::{serve, Limits, ServeOptions, ServerHandle, TlsFiles};
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
    /// Log one line per request to standard error.
    pub log_requests: bool,
    /// Let callers create and delete plugin releases through the API (in memory;
    /// off by default: an entrypoint is a shell command run on the cluster).
    pub api_releases: bool,
    /// The serving layer's bounds (body sizes, time-outs, connection and WebSocket
    /// frame caps); the defaults are safe.
    pub limits: Limits,
    /// Terminate TLS with these PEM files (optionally requiring client certificates;
    /// reloaded when they change); `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
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
            log_requests: true,
            api_releases: false,
            limits: Limits::default(),
            tls: None,
        }
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

/// The Ray client a config describes (`http://` or `https://`).
pub fn ray_client(config: &GatewayConfig) -> Result<RayClient, ClientError> {
    let address = config.ray_address.trim_end_matches('/').to_owned();
    let http = HttpTransport::builder(format!("{address}/"))
        .timeouts(config.ray_timeouts)
        .build()?;
    let transport: Arc<dyn Transport> = Arc::new(RetryingTransport::new(
        Arc::new(http),
        RetryPolicy::default(),
    ));
    Ok(RayClient::new(transport, address))
}

impl Gateway {
    /// Serves the agent API on `listener`, answering from Ray.
    pub async fn start(
        config: GatewayConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Gateway, Box<dyn std::error::Error + Send + Sync>> {
        agent_server::check_token(&config.token)?;
        let ray = ray_client(&config)?;
        let backend = RayBackend::new(ray, config.plugins)
            .with_tail_settings(config.tail)
            .with_api_releases(config.api_releases);
        let mut options = ServeOptions::new()
            .token(config.token)
            .prefix(config.prefix)
            .limits(config.limits);
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
