//! The embedded test agent: agent-testkit's server with its sample cluster, run
//! in-process.
//!
//! - With no `--url` / `AGENT_URL`, a command runs against it (see `connect` in
//!   `main.rs`): it listens on a free loopback port for the life of the command.
//! - `agentctl serve --listen ADDR` runs it standalone until Ctrl-C, for curl, the
//!   Python SDK and demos.
//!
//! Its token is the one given with `--token` / `AGENT_TOKEN`, else the testkit's
//! default (`testkit-token`), which is printed: it guards nothing but a test server.

use crate::exit::Failure;
use agent_proto::{ClientError, Secret};
use agent_testkit::sample::{PENDING_JOB, RUNNING_JOB, SUCCEEDED_JOB};
use agent_testkit::{AgentTestServer, DEFAULT_TOKEN};
use std::io::{self, Write};
use std::net::SocketAddr;

/// A running embedded agent; dropping it stops it at once.
pub struct Embedded {
    server: AgentTestServer,
    url: String,
    token: Secret,
}

impl Embedded {
    /// Starts the sample cluster on a free loopback port, with `token` (or the
    /// testkit's default).
    pub async fn start(token: Option<Secret>) -> Result<Embedded, ClientError> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), token).await
    }

    async fn start_on(addr: SocketAddr, token: Option<Secret>) -> Result<Embedded, ClientError> {
        let token = token.unwrap_or_else(|| Secret::new(DEFAULT_TOKEN));
        let server = AgentTestServer::sample()
            .token(token.expose())
            .listen(addr)
            .build()
            .await
            .map_err(|e| ClientError::Usage {
                message: format!("could not start the embedded test agent on {addr}: {e}"),
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

/// `agentctl serve --listen ADDR`: serves until Ctrl-C, after printing the URL and
/// the token on stdout (the token only when agentctl chose it: one given on the
/// command line or in the environment is never echoed).
pub async fn serve_standalone(addr: SocketAddr, token: Option<Secret>) -> Result<(), Failure> {
    let given = token.is_some();
    let agent = Embedded::start_on(addr, token).await?;
    let url = agent.url().to_owned();
    let token_line = if given {
        "(the one given with --token / AGENT_TOKEN)".to_owned()
    } else {
        agent.token().expose().to_owned()
    };
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "agentctl: serving the embedded test agent (sample cluster); Ctrl-C stops it"
    )?;
    writeln!(out, "url:   {url}")?;
    writeln!(out, "token: {token_line}")?;
    writeln!(
        out,
        "jobs:  {SUCCEEDED_JOB} (succeeded), {RUNNING_JOB} (running), {PENDING_JOB} (pending), ..."
    )?;
    let env_token = if given {
        "$AGENT_TOKEN".to_owned()
    } else {
        agent.token().expose().to_owned()
    };
    writeln!(
        out,
        "try:   AGENT_URL={url} AGENT_TOKEN={env_token} agentctl jobs tail {RUNNING_JOB}"
    )?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| ClientError::Usage {
            message: format!("could not wait for Ctrl-C: {e}"),
        })?;
    agent.server.shutdown().await;
    Ok(())
}
