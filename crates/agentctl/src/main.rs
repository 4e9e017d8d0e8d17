//! `agentctl`: the agent API from a shell.
//!
//! ```text
//! agentctl [--url URL] [--token TOKEN] [-o table|json] <command>
//!   health
//!   jobs list | get ID | logs ID | stop ID | tail ID [--protocol P] [--timeout S] [--max-* N]
//!   nodes list | get ID
//!   tasks list | get ID
//!   serve list | get NAME | delete NAME
//!   serve --listen 127.0.0.1:PORT          (the test agent, standalone)
//!   plugins list | get LOOKUP | create PLUGIN VERSION | delete LOOKUP
//!   plugins run LOOKUP --action A [--params JSON] [--follow]
//!   gpu
//!   raw METHOD PATH [--body JSON] [--query K=V]
//! ```
//!
//! Connection: `--url` / `AGENT_URL`, `--token` / `AGENT_TOKEN`, `--user-token` /
//! `AGENT_USER_TOKEN`, `--tenant` / `AGENT_TENANT`, `--connect-timeout`,
//! `--read-timeout`. Tokens are [`agent_proto::Secret`]s from the moment they are
//! parsed and never printed; every message agentctl prints is scrubbed of them.
//!
//! With no URL, agentctl starts the embedded test agent (agent-testkit, sample
//! cluster) in-process, says so in one line on stderr, and runs the command against
//! it, so `agentctl jobs tail raysubmit_capture1` works on a fresh machine.
//!
//! # Exit codes
//!
//! | code | class |
//! |---|---|
//! | 0 | success (a tail: the job's log is complete) |
//! | 1 | any other failure (the agent failed, a bad answer, ...) |
//! | 2 | usage: a bad command line, input refused before any request, or the agent's 400 / 422 |
//! | 3 | not found (404) |
//! | 4 | authentication (401, 403) |
//! | 5 | limits: a stream limit, or rate limiting (429) |
//! | 6 | unreachable or timed out (503, 408) |
//! | 130 | interrupted (Ctrl-C) |
//!
//! Errors print one line on stderr: `error: <status code> <kind>: <message>`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cli;
mod embedded;
mod exit;
mod follow;
mod plan;
mod render;
mod run;
mod spinner;
mod time;
mod views;

use agent_client_async::AsyncAgentClient;
use agent_proto::{ClientError, Secret, Timeouts};
use clap::Parser;
use cli::{Cli, Connection};
use exit::Failure;
use plan::Plan;
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return clap_failure(e, &args),
    };
    let conn = cli.conn.clone();
    let secrets: Vec<&Secret> = [&conn.token, &conn.user_token, &conn.tenant]
        .into_iter()
        .flatten()
        .collect();
    let code = match execute(&cli) {
        Ok(()) => exit::OK,
        Err(Failure::Interrupted) => exit::INTERRUPTED,
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(Failure::Io(e)) => {
            let line = exit::scrub(&format!("error: writing the output failed: {e}"), &secrets);
            let _ = writeln!(io::stderr(), "{line}");
            exit::OTHER
        }
        Err(Failure::Client(e)) => {
            let _ = writeln!(io::stderr(), "{}", exit::error_line(&e, &secrets));
            exit::code_of(&e)
        }
    };
    ExitCode::from(code)
}

/// A clap error (or `--help`, `--version`): printed as clap prints it, scrubbed of
/// any token in the command line or the environment.
fn clap_failure(e: clap::Error, args: &[OsString]) -> ExitCode {
    let secrets = secrets_in(args);
    let refs: Vec<&Secret> = secrets.iter().collect();
    let plain = e.render().to_string();
    let code = u8::try_from(e.exit_code()).unwrap_or(exit::USAGE);
    if refs.iter().any(|s| plain.contains(s.expose())) {
        let text = exit::scrub(&plain, &refs);
        if e.use_stderr() {
            let _ = write!(io::stderr(), "{text}");
        } else {
            let _ = write!(io::stdout(), "{text}");
        }
    } else {
        let _ = e.print();
    }
    ExitCode::from(code)
}

/// Token values the command line or the environment holds, for scrubbing a clap
/// error that could not be parsed into a [`Cli`].
fn secrets_in(args: &[OsString]) -> Vec<Secret> {
    const FLAGS: [&str; 3] = ["--token", "--user-token", "--tenant"];
    const VARS: [&str; 3] = ["AGENT_TOKEN", "AGENT_USER_TOKEN", "AGENT_TENANT"];
    let mut out = Vec::new();
    let mut next_is_secret = false;
    for a in args.iter().map(|a| a.to_string_lossy()) {
        if next_is_secret {
            out.push(Secret::new(a.as_ref()));
            next_is_secret = false;
            continue;
        }
        for f in FLAGS {
            if a == f {
                next_is_secret = true;
            } else if let Some(v) = a.strip_prefix(f).and_then(|r| r.strip_prefix('=')) {
                out.push(Secret::new(v));
            }
        }
    }
    for v in VARS {
        if let Some(val) = std::env::var_os(v) {
            out.push(Secret::new(val.to_string_lossy().as_ref()));
        }
    }
    out.retain(|s| !s.expose().is_empty());
    out
}

fn execute(cli: &Cli) -> Result<(), Failure> {
    // Everything the command line says is checked before a runtime, a connection or
    // the embedded agent exists.
    let plan = plan::plan(cli)?;
    let timeouts = plan::timeouts(cli.conn.connect_timeout, cli.conn.read_timeout)?;
    match plan {
        Plan::Serve(addr) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(runtime_error)?;
            rt.block_on(embedded::serve_standalone(addr, cli.conn.token.clone()))
        }
        Plan::Call(op) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(runtime_error)?;
            rt.block_on(async {
                let (client, embedded) = connect(&cli.conn, timeouts).await?;
                let stdout = io::stdout();
                let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
                let mut printer = run::Printer {
                    mode: cli.output,
                    style: render::Style::detect(),
                    out: &mut out,
                };
                let result = run::run(&client, op, &mut printer).await;
                let flushed = out.flush();
                client.close().await;
                if let Some(agent) = embedded {
                    agent.stop();
                }
                result?;
                flushed?;
                Ok(())
            })
        }
    }
}

fn runtime_error(e: io::Error) -> Failure {
    Failure::Client(ClientError::Usage {
        message: format!("could not start the async runtime: {e}"),
    })
}

/// A client of the agent the command line names, or of the embedded test agent when
/// it names none.
async fn connect(
    conn: &Connection,
    timeouts: Timeouts,
) -> Result<(AsyncAgentClient, Option<embedded::Embedded>), ClientError> {
    let (url, token, embedded) = match conn.url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => {
            let token = conn.token.clone().ok_or_else(|| {
                ClientError::invalid(
                    "agent token",
                    "no token: pass --token or set AGENT_TOKEN (the agent's URL is set)",
                )
            })?;
            (url.to_owned(), token, None)
        }
        None => {
            let server = embedded::Embedded::start(conn.token.clone()).await?;
            let _ = writeln!(
                io::stderr(),
                "agentctl: no --url or AGENT_URL given; using the embedded test agent at {} (sample cluster)",
                server.url()
            );
            (
                server.url().to_owned(),
                server.token().clone(),
                Some(server),
            )
        }
    };
    let mut builder = AsyncAgentClient::builder(url, token).timeouts(timeouts);
    if let Some(u) = &conn.user_token {
        builder = builder.user_token(u.clone());
    }
    if let Some(t) = &conn.tenant {
        builder = builder.tenant(t.clone());
    }
    Ok((builder.build()?, embedded))
}
