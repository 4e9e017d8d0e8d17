//! `agentctl`: the agent API from a shell.
//!
//! ```text
//! agentctl [--url URL] [--token TOKEN] [--context NAME] [--cacert FILE] [--embedded]
//!          [--client-cert FILE --client-key FILE]
//!          [-o table|wide|json|jsonl|yaml] [--utc] [-v...] <command>
//!   health
//!   jobs list | get ID | logs ID | stop ID [--wait] | wait ID [--timeout S]
//!   jobs tail ID [--protocol P] [--timeout S] [--max-* N]
//!   nodes list | get ID
//!   tasks list | get ID
//!   serve list | get NAME | delete NAME      (Ray Serve)
//!   dev-server --listen 127.0.0.1:PORT [--token T]   (the test agent, standalone)
//!   plugins list | get LOOKUP | create PLUGIN VERSION | delete LOOKUP
//!   plugins run LOOKUP --action A [--params JSON] [--follow]
//!   gpu
//!   resources cluster [--no-cache] | feasibility --kind K --cpus N ... | policy get|patch [--runtime]
//!   system compose-config | status | wait | update [--api-tag T] [--wait] | restart [--wait]
//!   containers list [--all] | get ID | create --plugin-release R|--file F [--wait] | update ID --status S | delete ID
//!   containers docker list | get ID | create --plugin-release R | delete ID | start ID | stop ID
//!   builds get ID | wait ID [--timeout S] [--poll-interval S]
//!   raw METHOD PATH [--body JSON] [--query K=V]
//!   config set-context | use-context | get-contexts | current-context | delete-context
//!   completions bash|zsh|fish|powershell|elvish
//!   options                                  (the global options, listed once)
//!   generate-man [--dir DIR]                 (man pages: one per subcommand)
//! ```
//!
//! Connection: `--url` / `AGENT_URL`, `--token` / `AGENT_TOKEN`, `--user-token` /
//! `AGENT_USER_TOKEN`, `--tenant` / `AGENT_TENANT`, `--connect-timeout`,
//! `--read-timeout`. Tokens are [`agent_proto::Secret`]s from the moment they are
//! parsed and never printed; every message agentctl prints is scrubbed of them.
//!
//! With no connection setting at all, or with `--embedded`, agentctl starts the
//! embedded test agent (agent-sample, sample cluster) in-process, says so in one line
//! on stderr, and runs the command against it, so `agentctl jobs tail
//! raysubmit_capture1` works on a fresh machine. A token without a URL is a usage
//! error: a forgotten URL must never act on sample data. A context's token goes only
//! to the context's URL: another `--url` needs its own `--token`.
//!
//! # Exit codes
//!
//! | code | class |
//! |---|---|
//! | 0 | success (tail, wait, run --follow: the job SUCCEEDED) |
//! | 1 | any other failure (the agent failed, a bad answer, an unreadable job status, ...) |
//! | 2 | usage: a bad command line, input refused before any request, or the agent's 400 / 422 |
//! | 3 | not found (404) |
//! | 4 | authentication (401, 403) |
//! | 5 | limits: a stream limit, or rate limiting (429) |
//! | 6 | unreachable or timed out (503, 408, `jobs wait --timeout`, `system wait`, `builds wait`) |
//! | 7 | the job FAILED |
//! | 8 | the job was STOPPED |
//! | 130 | interrupted (Ctrl-C) |
//!
//! Errors print one line on stderr: `error: [<status code>] <kind>: <message>`; the
//! status code appears only when the agent answered with one.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cli;
mod config;
mod embedded;
mod exit;
mod filter;
mod follow;
mod many;
mod plan;
mod platform;
mod platform_cli;
mod render;
mod run;
mod safe;
mod select;
mod spinner;
mod start;
mod time;
mod verbose;
mod views;
mod wait;
mod yaml;

use agent_client_async::{AsyncAgentClient, Identity};
use agent_proto::{Secret, Timeouts};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Connection};
use exit::Failure;
use plan::Plan;
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let parsed = cli::command()
        .try_get_matches_from(&args)
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return clap_failure(e, &args),
    };
    // `dev-server` takes a token from its command line only: a real agent's token
    // in AGENT_TOKEN must not guard (and so be known to) a test server.
    let token_flag = from_command_line(&matches, "token", cli.conn.token.clone());
    verbose::init(cli.verbose);
    // Flags, then the environment (clap), then the context.
    // (`config` and `dev-server` need no connection: a broken config file must not
    // stop `config set-context` from mending it.)
    let needs_connection = !matches!(
        cli.command,
        cli::Command::Config { .. }
            | cli::Command::DevServer(_)
            | cli::Command::Completions { .. }
            | cli::Command::GenerateMan { .. }
            | cli::Command::Options
    );
    let resolved = if needs_connection {
        config::resolve(&cli.conn)
    } else {
        Ok((cli.conn.clone(), None))
    };
    let (conn, context) = match resolved {
        Ok(resolved) => resolved,
        Err(e) => {
            let given: Vec<&Secret> = [&cli.conn.token, &cli.conn.user_token, &cli.conn.tenant]
                .into_iter()
                .flatten()
                .collect();
            return ExitCode::from(report(Err(e), &given));
        }
    };
    if let Some(name) = &context {
        tracing::info!(context = %name, "context");
    }
    let given = config::Given {
        url: from_command_line(&matches, "url", cli.conn.url.clone()),
        tenant: from_command_line(&matches, "tenant", cli.conn.tenant.clone())
            .map(|t| t.expose().to_owned()),
        cacert: from_command_line(&matches, "cacert", cli.conn.cacert.clone()),
        token_flags: [("token", "--token"), ("user_token", "--user-token")]
            .into_iter()
            .filter(|(id, _)| matches.value_source(id) == Some(ValueSource::CommandLine))
            .map(|(_, flag)| flag)
            .collect(),
    };
    let secrets: Vec<&Secret> = [&conn.token, &conn.user_token, &conn.tenant]
        .into_iter()
        .flatten()
        .collect();
    let code = report(
        execute(&cli, &conn, context.as_deref(), token_flag, given),
        &secrets,
    );
    ExitCode::from(code)
}

/// `value` when it came from the command line itself, not from the environment.
fn from_command_line<T>(matches: &clap::ArgMatches, id: &str, value: Option<T>) -> Option<T> {
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => value,
        _ => None,
    }
}

/// Prints what a failure has to say on stderr and returns the exit code.
fn report(result: Result<(), Failure>, secrets: &[&Secret]) -> u8 {
    match result {
        Ok(()) => exit::OK,
        Err(Failure::Interrupted) => exit::INTERRUPTED,
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(Failure::Io(e)) => {
            let line = exit::scrub(&format!("error: writing the output failed: {e}"), secrets);
            let _ = writeln!(io::stderr(), "{line}");
            exit::OTHER
        }
        Err(Failure::Client(e)) => {
            let _ = writeln!(io::stderr(), "{}", exit::error_line(&e, secrets));
            exit::code_of(&e)
        }
        Err(Failure::Job { code, note }) => {
            let _ = writeln!(
                io::stderr(),
                "{}",
                exit::plain_line("agentctl: ", &note, secrets)
            );
            code
        }
        Err(Failure::Local { code, message }) => {
            let _ = writeln!(
                io::stderr(),
                "{}",
                exit::plain_line("error: ", &message, secrets)
            );
            code
        }
    }
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

fn execute(
    cli: &Cli,
    conn: &Connection,
    context: Option<&str>,
    token_flag: Option<Secret>,
    given: config::Given,
) -> Result<(), Failure> {
    // Everything the command line says is checked before a runtime, a connection or
    // the embedded agent exists.
    let plan = plan::plan(cli)?;
    if cli.utc {
        time::use_utc();
    }
    let timeouts = plan::timeouts(cli.conn.connect_timeout, cli.conn.read_timeout)?;
    match plan {
        Plan::DevServer(addr, metrics) => {
            if token_flag
                .as_ref()
                .is_some_and(|t| t.expose().trim().is_empty())
            {
                return Err(Failure::Local {
                    code: exit::USAGE,
                    message: "dev-server: the token must not be empty (leave --token out for a random one)".into(),
                });
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(runtime_error)?;
            rt.block_on(embedded::serve_standalone(addr, token_flag, metrics))
        }
        Plan::Completions(shell) => {
            // Into memory first: clap_complete panics on a write error (`| head`).
            let mut script = Vec::new();
            // The derived command, whose subcommands keep the global options
            // visible: a shell completes `agentctl jobs list --ou<TAB>` too.
            clap_complete::generate(shell, &mut Cli::command(), "agentctl", &mut script);
            let mut out = io::stdout().lock();
            out.write_all(&script)?;
            out.flush()?;
            Ok(())
        }
        Plan::Man(None) => {
            let mut out = io::stdout().lock();
            clap_mangen::Man::new(cli::command()).render(&mut out)?;
            out.flush()?;
            Ok(())
        }
        Plan::Man(Some(dir)) => {
            clap_mangen::generate_to(cli::command(), &dir).map_err(|e| Failure::Local {
                code: exit::USAGE,
                message: format!("cannot write the man pages into {}: {e}", dir.display()),
            })?;
            let mut out = io::stdout().lock();
            writeln!(out, "wrote the man pages into {}", dir.display())?;
            out.flush()?;
            Ok(())
        }
        Plan::Options => {
            let mut out = io::stdout().lock();
            write!(out, "{}", cli::options_help())?;
            out.flush()?;
            Ok(())
        }
        Plan::Config => {
            let cli::Command::Config { cmd } = &cli.command else {
                return Ok(());
            };
            let mut out = io::stdout().lock();
            let style = render::Style::detect(cli.output == cli::Output::Wide);
            config::run(cmd, given, cli.output, &style, &mut out)
        }
        Plan::Call(op) => {
            let target = target(conn, context)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(runtime_error)?;
            rt.block_on(async {
                let (client, embedded) = connect(conn, target, timeouts).await?;
                let stdout = io::stdout();
                let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
                let mut printer = run::Printer {
                    mode: cli.output,
                    style: render::Style::detect(cli.output == cli::Output::Wide),
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
    Failure::Local {
        code: exit::OTHER,
        message: format!("could not start the async runtime: {e}"),
    }
}

/// Which agent a command talks to.
enum Target {
    /// The embedded test agent (no connection setting at all, or `--embedded`).
    Embedded {
        /// Why: for the note on stderr.
        why: &'static str,
    },
    /// The agent at this URL, with this token.
    Agent(String, Secret),
}

/// The agent the connection settings name. The embedded agent only when none is
/// given (or `--embedded`): a token without a URL means a URL was forgotten, and
/// acting on sample data then would be a silent lie.
fn target(conn: &Connection, context: Option<&str>) -> Result<Target, Failure> {
    if conn.embedded {
        return Ok(Target::Embedded { why: "--embedded" });
    }
    let url = conn.url.as_deref().filter(|u| !u.trim().is_empty());
    let other_setting = conn.user_token.is_some() || conn.tenant.is_some();
    match (url, &conn.token) {
        (Some(url), Some(token)) => Ok(Target::Agent(url.to_owned(), token.clone())),
        (Some(_), None) => Err(Failure::Local {
            code: exit::USAGE,
            message: match context {
                Some(name) => format!(
                    "context {name} names no token: pass --token, set AGENT_TOKEN, \
                     or `agentctl config set-context {name} --token-file FILE`"
                ),
                None => {
                    "the agent's URL is set but no token: pass --token or set AGENT_TOKEN".into()
                }
            },
        }),
        (None, None) if !other_setting => Ok(Target::Embedded {
            why: "no --url, --token or AGENT_URL given",
        }),
        (None, _) => Err(Failure::Local {
            code: exit::USAGE,
            message:
                "a token is set (--token, AGENT_TOKEN, --user-token or --tenant) but no agent URL: \
                      pass --url URL or set AGENT_URL (or --embedded for the sample test agent)"
                    .into(),
        }),
    }
}

/// The mutual-TLS identity of `--client-cert` and `--client-key` (both or neither:
/// anything else, or a file that cannot be read or holds no PEM, is a usage error).
fn client_identity(conn: &Connection) -> Result<Option<Identity>, Failure> {
    let usage = |message: String| Failure::Local {
        code: exit::USAGE,
        message,
    };
    let (cert, key) =
        match (&conn.client_cert, &conn.client_key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => return Err(usage(
                "--client-cert needs --client-key FILE (or AGENT_CLIENT_KEY) with its private key"
                    .into(),
            )),
            (None, Some(_)) => return Err(usage(
                "--client-key needs --client-cert FILE (or AGENT_CLIENT_CERT) with its certificate"
                    .into(),
            )),
        };
    let read = |file: &std::path::Path, what: &str| {
        std::fs::read(file).map_err(|e| {
            usage(format!(
                "cannot read the {what} file {}: {e}",
                file.display()
            ))
        })
    };
    let cert_pem = read(cert, "client certificate")?;
    let key_pem = read(key, "client key")?;
    // The library's message names which half is wrong and never quotes the key.
    Identity::from_pem(&cert_pem, &key_pem)
        .map(Some)
        .map_err(|e| {
            usage(format!(
                "--client-cert {} / --client-key {}: {}",
                cert.display(),
                key.display(),
                exit::describe(&e)
            ))
        })
}

/// A client of the agent the command line names, or of the embedded test agent.
async fn connect(
    conn: &Connection,
    target: Target,
    timeouts: Timeouts,
) -> Result<(AsyncAgentClient, Option<embedded::Embedded>), Failure> {
    let (url, token, embedded) = match target {
        Target::Agent(url, token) => (url, token, None),
        Target::Embedded { why } => {
            let server = embedded::Embedded::start(None).await?;
            let _ = writeln!(
                io::stderr(),
                "agentctl: {why}; using the embedded test agent at {} (sample cluster, \
                 afresh for each command: changes are not kept; `agentctl dev-server` keeps them)",
                server.url()
            );
            (
                server.url().to_owned(),
                server.token().clone(),
                Some(server),
            )
        }
    };
    tracing::info!(agent = %verbose::host_of(&url), embedded = embedded.is_some(), "agent");
    let mut builder = AsyncAgentClient::builder(url, token)
        .timeouts(timeouts)
        .compression(conn.compress);
    // Checked even for the embedded agent: half an identity is a mistake to report.
    let identity = client_identity(conn)?;
    if embedded.is_some() {
        // The embedded agent is on this machine's loopback: a proxy from the
        // environment (HTTPS_PROXY, ALL_PROXY) could not reach it.
        builder = builder.no_proxy();
    } else {
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        if let Some(file) = &conn.cacert {
            let pem = std::fs::read(file).map_err(|e| Failure::Local {
                code: exit::USAGE,
                message: format!("cannot read the CA file {}: {e}", file.display()),
            })?;
            builder = builder.add_root_certificate_pem(pem);
        }
        if let Some(u) = &conn.user_token {
            builder = builder.user_token(u.clone());
        }
        if let Some(t) = &conn.tenant {
            builder = builder.tenant(t.clone());
        }
    }
    Ok((builder.build()?, embedded))
}
