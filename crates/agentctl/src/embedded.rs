//! The embedded test agent: agent-sample's server with its sample cluster, run
//! in-process (no faults, no request journal: those are agent-testkit's, for tests).
//!
//! - With no connection setting at all, or `--embedded`, a command runs against it
//!   (see `target` in `main.rs`): it listens on a free loopback port for the life of
//!   the command, with the sample server's default token (it never leaves the process).
//! - `agentctl dev-server --listen ADDR [--token T]` runs it standalone until Ctrl-C,
//!   for curl, the Python SDK and demos, with `T` or a random token (printed).

use crate::exit::{self, Failure};
use agent_proto::{ClientError, Secret};
use agent_sample::sample::{PENDING_JOB, RUNNING_JOB, SUCCEEDED_JOB};
use agent_sample::{MetricsAccess, SampleServer, DEFAULT_TOKEN};
use std::io::{self, Write};
use std::net::SocketAddr;

/// A running embedded agent; dropping it stops it at once.
pub struct Embedded {
    server: SampleServer,
    url: String,
    token: Secret,
}

impl Embedded {
    /// Starts the sample cluster on a free loopback port, with `token` (or the
    /// sample server's default).
    pub async fn start(token: Option<Secret>) -> Result<Embedded, ClientError> {
        Self::start_on(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            token,
            MetricsAccess::default(),
        )
        .await
    }

    async fn start_on(
        addr: SocketAddr,
        token: Option<Secret>,
        metrics: MetricsAccess,
    ) -> Result<Embedded, ClientError> {
        let token = token.unwrap_or_else(|| Secret::new(DEFAULT_TOKEN));
        let server = SampleServer::sample()
            .token(token.expose())
            .listen(addr)
            .metrics(metrics)
            .build()
            .await
            .map_err(|e| ClientError::Usage {
                message: format!(
                    "could not start the test agent on {addr}: {}",
                    io_reason(&e).unwrap_or_else(|| e.to_string())
                ),
            })?;
        let url = server.url();
        Ok(Embedded { server, url, token })
    }

    /// Its base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its token.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// Stops it: open requests are cut (the command is over).
    pub fn stop(self) {
        drop(self.server);
    }
}

/// The reason of the first I/O error in `e`'s chain, in plain words (`address
/// already in use`), without the OS error number.
fn io_reason(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(match io.kind() {
                io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
                io::ErrorKind::AddrNotAvailable => {
                    "the address is not available on this machine".to_owned()
                }
                io::ErrorKind::PermissionDenied => {
                    "permission denied (a port below 1024 needs privileges)".to_owned()
                }
                _ => io.to_string(),
            });
        }
        cur = err.source();
    }
    None
}

/// A random token for a dev server: 128 bits from the standard library's per-process
/// random hash keys (seeded by the OS), mixed with the time and the process id. It
/// guards a test server, not a secret store.
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = String::from("dev-");
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(i);
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// `agentctl dev-server --listen ADDR`: serves until Ctrl-C, after printing the URL
/// and the token on stdout (the token only when agentctl chose it: one given with
/// `--token` is never echoed).
pub async fn serve_standalone(
    addr: SocketAddr,
    token: Option<Secret>,
    metrics: MetricsAccess,
) -> Result<(), Failure> {
    let given = token.is_some();
    let token = token.unwrap_or_else(|| Secret::new(random_token()));
    let agent = Embedded::start_on(addr, Some(token), metrics)
        .await
        .map_err(|e| match e {
            ClientError::Usage { message } => Failure::Local {
                code: exit::OTHER,
                message,
            },
            other => Failure::Client(other),
        })?;
    let url = agent.url().to_owned();
    let token_line = if given {
        "(the one given with --token)".to_owned()
    } else {
        agent.token().expose().to_owned()
    };
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "agentctl: serving the test agent (sample cluster); Ctrl-C stops it"
    )?;
    writeln!(out, "url:   {url}")?;
    writeln!(out, "token: {token_line}")?;
    writeln!(
        out,
        "jobs:  {SUCCEEDED_JOB} (succeeded), {RUNNING_JOB} (running), {PENDING_JOB} (pending), ..."
    )?;
    let env_token = if given {
        "<your token>".to_owned()
    } else {
        agent.token().expose().to_owned()
    };
    writeln!(
        out,
        "try:   AGENT_URL={url} AGENT_TOKEN={env_token} agentctl jobs tail {RUNNING_JOB}"
    )?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await.map_err(|e| Failure::Local {
        code: exit::OTHER,
        message: format!("could not wait for Ctrl-C: {e}"),
    })?;
    agent.server.shutdown().await;
    Ok(())
}
