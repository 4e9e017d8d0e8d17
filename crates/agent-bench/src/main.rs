//! `agent-bench`: one benchmark contender per process, for `cargo xtask bench`.
//!
//! ```text
//! agent-bench server     [--listen ADDR] [--token T] [--lines N[,N...]] [--bytes B] [--threads K]
//! agent-bench gets       --client async|blocking|floor|reqwest --n N [--path P] --url U --token T
//! agent-bench concurrent --client async|floor --n N --concurrency C [--path P] --url U --token T
//! agent-bench tail       --client async|blocking|floor|reqwest|tungstenite --protocol websocket|http --job ID --url U --token T
//! agent-bench tails      --client async --protocol websocket|http --job ID --n N [--queue Q] --url U --token T
//! ```
//!
//! `tails` opens `n` tails of the job at once in one process and reads them all
//! to their end, concurrently: its `vmhwm_kb` is the memory of `n` open tails
//! (issue 26).
//!
//! Contenders: ours (`async`, `blocking`), the floor (a bare hyper client that
//! does nothing but the wire), and what a Rust user would write by hand instead
//! (issue 15): `reqwest` (GETs, HTTP tail) and `tungstenite` (WebSocket tail).
//! The floor's GETs take `--path` (default `jobs/`; the server-move family asks
//! for `health/`); the others always call `list_jobs`. The reqwest GETs take
//! `--timeout-ms` (reqwest's request time-out, unset by default): what a time-out
//! costs per request, which ours always has.
//!
//! Our async contenders and the hand-written ones run on tokio's default
//! multi-thread runtime (what `#[tokio::main]` gives); `--runtime current` runs
//! them on one thread instead. The floor always runs on one thread.
//!
//! Each workload prints one JSON line on stdout: `{"workload", "client", "count",
//! "bytes", "seconds", "rate", "vmhwm_kb"}` (the Python peer scripts under
//! `python/` print the same keys). The xtask runs the contenders one after another
//! against one `server`, watches their peak memory from outside, and reports
//! medians.

mod by_reqwest;
mod by_tungstenite;
mod floor;
mod ours;
mod report;
mod server;
mod target;

use std::collections::HashMap;
use std::process::ExitCode;

use agent_proto::Protocol;
use report::Outcome;
use target::Target;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "\
usage:
  agent-bench server     [--listen ADDR] [--token T] [--lines N[,N...]] [--bytes B] [--threads K]
  agent-bench gets       --client async|blocking|floor|reqwest --n N [--path P] --url U --token T
  agent-bench concurrent --client async|floor --n N --concurrency C [--path P] --url U --token T
  agent-bench tail       --client async|blocking|floor|reqwest|tungstenite --protocol websocket|http --job ID --url U --token T
  agent-bench tails      --client async --protocol websocket|http --job ID --n N [--queue Q] --url U --token T
  (async, reqwest, tungstenite: --runtime multi|current, default multi; --path: floor only, default jobs/;
   reqwest gets: --timeout-ms MS sets reqwest's request time-out, unset by default)";

/// `--key value` pairs after the subcommand.
struct Args {
    values: HashMap<String, String>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut iter = args.iter();
        while let Some(key) = iter.next() {
            let Some(name) = key.strip_prefix("--") else {
                return Err(format!("unexpected argument `{key}`"));
            };
            let value = iter
                .next()
                .ok_or_else(|| format!("`{key}` needs a value"))?;
            values.insert(name.to_owned(), value.clone());
        }
        Ok(Args { values })
    }

    fn get(&self, name: &str) -> Result<&str, String> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("missing --{name}"))
    }

    fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.values.get(name).map_or(default, String::as_str)
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v
                .replace('_', "")
                .parse()
                .map_err(|_| format!("--{name} takes a number, not `{v}`")),
        }
    }
}

fn protocol(args: &Args) -> Result<Protocol, String> {
    match args.get("protocol")? {
        "websocket" | "ws" => Ok(Protocol::WebSocket),
        "http" => Ok(Protocol::Http),
        other => Err(format!("--protocol is websocket or http, not `{other}`")),
    }
}

/// The runtime of our async contenders and of the hand-written ones: tokio's
/// default (`#[tokio::main]`, a worker per core), or one thread with
/// `--runtime current` (a diagnostic).
fn runtime(args: &Args) -> Result<tokio::runtime::Runtime, BoxError> {
    let mut builder = match args.get_or("runtime", "multi") {
        "multi" => tokio::runtime::Builder::new_multi_thread(),
        "current" => tokio::runtime::Builder::new_current_thread(),
        other => return Err(format!("--runtime is multi or current, not `{other}`").into()),
    };
    Ok(builder.enable_all().build()?)
}

/// The floor's runtime: one thread, so the connection and its reader never hand
/// data across threads (the cheapest way to drive a socket with tokio).
fn floor_runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn workload(command: &str, args: &Args) -> Result<Outcome, BoxError> {
    let url = args.get("url")?;
    let token = args.get("token")?;
    let client = args.get("client")?;
    let target = Target::parse(url)?;
    let path = args.get_or("path", target::list_jobs_path());
    if path != target::list_jobs_path() && client != "floor" {
        return Err(format!("--path is the floor's; `{client}` always calls list_jobs").into());
    }
    match command {
        "gets" => {
            let n = args.number("n", 5_000)?;
            match client {
                "async" => Ok(runtime(args)?.block_on(ours::gets_async(url, token, n))?),
                "blocking" => Ok(ours::gets_blocking(url, token, n)?),
                "floor" => floor_runtime()?.block_on(floor::gets(&target, token, path, n)),
                "reqwest" => {
                    let timeout = match args.number("timeout-ms", 0)? {
                        0 => None,
                        ms => Some(std::time::Duration::from_millis(ms)),
                    };
                    runtime(args)?.block_on(by_reqwest::gets(url, token, n, timeout))
                }
                other => Err(format!("gets: no client `{other}`").into()),
            }
        }
        "concurrent" => {
            let n = args.number("n", 20_000)?;
            let concurrency = args.number("concurrency", 64)?.max(1);
            match client {
                "async" => Ok(runtime(args)?.block_on(ours::concurrent_async(
                    url,
                    token,
                    n,
                    concurrency,
                ))?),
                "floor" => floor_runtime()?.block_on(floor::concurrent(
                    &target,
                    token,
                    path,
                    n,
                    concurrency,
                )),
                other => Err(format!("concurrent: no client `{other}`").into()),
            }
        }
        "tail" => {
            let job = args.get("job")?;
            let protocol = protocol(args)?;
            match (client, protocol) {
                ("async", p) => Ok(runtime(args)?.block_on(ours::tail_async(url, token, job, p))?),
                ("blocking", p) => Ok(ours::tail_blocking(url, token, job, p)?),
                ("floor", Protocol::Http) => {
                    floor_runtime()?.block_on(floor::tail_http(&target, token, job))
                }
                ("floor", _) => {
                    floor_runtime()?.block_on(floor::tail_websocket(&target, token, job))
                }
                ("reqwest", Protocol::Http) => {
                    runtime(args)?.block_on(by_reqwest::tail_http(url, token, job))
                }
                ("tungstenite", Protocol::WebSocket) => {
                    runtime(args)?.block_on(by_tungstenite::tail_websocket(&target, token, job))
                }
                ("reqwest", _) => Err("tail: reqwest is the HTTP tail's contender".into()),
                ("tungstenite", _) => {
                    Err("tail: tungstenite is the WebSocket tail's contender".into())
                }
                (other, _) => Err(format!("tail: no client `{other}`").into()),
            }
        }
        "tails" => {
            let job = args.get("job")?;
            let protocol = protocol(args)?;
            let n = args.number("n", 1_000)?.max(1);
            let queue = args.number("queue", 0)?;
            match client {
                "async" => Ok(runtime(args)?
                    .block_on(ours::tails_async(url, token, job, protocol, n, queue))?),
                other => Err(format!("tails: no client `{other}`").into()),
            }
        }
        other => Err(format!("no subcommand `{other}`\n{USAGE}").into()),
    }
}

fn server(args: &Args) -> Result<(), BoxError> {
    let tail_lines = args
        .get_or("lines", "1000000")
        .split(',')
        .map(|n| n.trim().replace('_', "").parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "--lines takes numbers separated by commas")?;
    let config = server::ServerConfig {
        listen: args.get_or("listen", "127.0.0.1:0").parse()?,
        token: args.get_or("token", "bench-token").to_owned(),
        tail_lines,
        line_bytes: usize::try_from(args.number("bytes", 100)?)?,
    };
    let threads = usize::try_from(args.number("threads", 2)?)?;
    Ok(server::run(&config, threads)?)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let args = match Args::parse(rest) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("agent-bench: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = if command == "server" {
        server(&args)
    } else {
        workload(command, &args).map(|outcome| println!("{}", outcome.to_json()))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("agent-bench {command}: {error}");
            ExitCode::FAILURE
        }
    }
}
