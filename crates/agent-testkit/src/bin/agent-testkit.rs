//! `agent-testkit`: runs the sample cluster as a standalone agent server, so that
//! anyone can try a client (or curl) against it.
//!
//! ```text
//! agent-testkit [--listen 127.0.0.1:8765] [--token TOKEN] [--prefix /agent/]
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use agent_testkit::{AgentTestServer, DEFAULT_TOKEN};

const USAGE: &str = "usage: agent-testkit [--listen ADDR:PORT] [--token TOKEN] [--prefix PATH]

Serves the agent API from a sample in-memory Ray cluster (jobs in every state,
a job that keeps printing, two nodes, four tasks, the Serve app `hello`, the
plugin release `demo@1.0.0`).

  --listen ADDR:PORT  where to listen (default 127.0.0.1:8765; port 0 picks one)
  --token TOKEN       the agent token clients send as `Authorization: TOKEN`
                      (default testkit-token)
  --prefix PATH       serve the API under PATH, e.g. /agent/ (default /)";

struct Args {
    listen: SocketAddr,
    token: String,
    prefix: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8765)),
        token: DEFAULT_TOKEN.to_owned(),
        prefix: "/".to_owned(),
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                let v = value("--listen")?;
                out.listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v:?}: {e} (expected e.g. 127.0.0.1:8765)"))?;
            }
            "--token" => {
                out.token = value("--token")?;
                if out.token.is_empty() {
                    return Err("--token must not be empty".to_owned());
                }
            }
            "--prefix" => out.prefix = value("--prefix")?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(out))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("agent-testkit: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent-testkit: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match AgentTestServer::sample()
            .token(args.token)
            .prefix(args.prefix)
            .listen(args.listen)
            .build()
            .await
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("agent-testkit: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("agent-testkit: serving the sample cluster");
        println!("url:    {}", server.url());
        println!("ws:     {}", server.ws_url());
        println!("token:  {}", server.token());
        println!();
        println!(
            "try:    curl -H 'Authorization: {}' {}jobs/",
            server.token(),
            server.url()
        );
        println!(
            "        curl -N -H 'Authorization: {}' {}jobs/raysubmit_slow1/logs/stream/",
            server.token(),
            server.url()
        );
        println!("stop with Ctrl-C (or SIGTERM)");
        if let Err(e) = agent_testkit::serve::shutdown_signal().await {
            eprintln!("agent-testkit: cannot wait for signals: {e}");
            return ExitCode::FAILURE;
        }
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse() {
        let a = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--token=abc",
            "--prefix",
            "/agent/",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.listen.port(), 0);
        assert_eq!(a.token, "abc");
        assert_eq!(a.prefix, "/agent/");
        let d = parse(&[]).unwrap().unwrap();
        assert_eq!(d.token, DEFAULT_TOKEN);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--listen", "nope"]).is_err());
        assert!(parse(&["--token"]).is_err());
        assert!(parse(&["--what"]).is_err());
    }
}
