//! `cargo xtask bench`: the project's benchmarks, as a list of families.
//!
//! A family is one function turning [`BenchOptions`] into the cargo steps that
//! build or run it, and, for families that run processes of their own (a test
//! server, contenders, Python peers), a driver run by this process after them.
//! [`FAMILIES`] lists those `cargo xtask bench` runs; [`PEERS`] runs with
//! `--peers`.
//!
//! - `stream-decode`: agent-stream's criterion bench ("Stream decoder");
//! - `clients`: `AgentClient` and `AsyncAgentClient` against the test server
//!   (`BENCHMARKS.md`, "Clients"), see [`clients`];
//! - `startup`: the whole `agentctl health` process, see [`startup`];
//! - `--peers`: the same workloads through the Python SDK, beside ours, the
//!   hand-written reqwest and tokio-tungstenite clients and the wire floor
//!   ("Peers (Python SDK)"), see [`peers`];
//! - `server-move` (only when named): the test server before and after the move
//!   to `agent-server` (`--baseline REV`), see [`server_move`].
//!
//! Contenders are separate processes (`agent-bench`, the Python scripts under
//! `crates/agent-bench/python/`), timed and watched from here; see [`measure`]
//! for how peak memory and CPU time are read. Reports land in `target/bench/`.
//!
//! # Extension points
//!
//! Families planned by later issues (each added here once its bench target
//! exists, with a section of the same name in `BENCHMARKS.md`):
//!
//! - `gateway-ray`: `agent-gateway` answering from a real Ray head
//!   ("Gateway on Ray").
//!
//! To add a family: write `fn name(options: &BenchOptions) -> Vec<Step>` below
//! (and a driver if it runs more than cargo) and add a [`Family`] entry to
//! [`FAMILIES`].

mod clients;
mod measure;
mod peers;
mod server_move;
mod startup;

use std::path::Path;

use crate::step::Step;
use crate::XtaskError;

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BenchOptions {
    /// Shorter runs (criterion's `--quick`): for a smoke check, not for figures.
    pub quick: bool,
    /// Families to run, by name; empty means all of them (or none with `--peers`).
    pub only: Vec<String>,
    /// Run the comparison with the Python SDK peers (`--peers`).
    pub peers: bool,
    /// The revision `server-move` compares HEAD with (`--baseline REV`; its
    /// default is [`server_move::DEFAULT_BASELINE`]).
    pub baseline: Option<String>,
}

impl BenchOptions {
    /// Parses the arguments following `bench`.
    pub fn parse(args: &[String]) -> Result<Self, XtaskError> {
        let mut options = BenchOptions::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--peers" => options.peers = true,
                "--baseline" => {
                    let rev = args.next().filter(|rev| !rev.starts_with('-'));
                    options.baseline = Some(rev.cloned().ok_or_else(|| {
                        XtaskError::Usage("`--baseline` takes a revision (say fa1c889^)".into())
                    })?);
                }
                flag if flag.starts_with("--baseline=") => {
                    options.baseline = Some(flag["--baseline=".len()..].to_owned());
                }
                flag if flag.starts_with('-') => {
                    return Err(XtaskError::Usage(format!(
                    "`bench` does not take `{flag}` (it takes --quick, --peers, --baseline REV and family names)"
                )))
                }
                name => {
                    if family(name).is_none() {
                        return Err(XtaskError::Usage(format!(
                            "no benchmark family `{name}`; there are: {}",
                            family_names().join(", ")
                        )));
                    }
                    options.only.push(name.to_owned());
                }
            }
        }
        if options.baseline.is_some() && !options.only.iter().any(|n| n == "server-move") {
            return Err(XtaskError::Usage(
                "`--baseline` is for the server-move family: `bench server-move --baseline REV`"
                    .into(),
            ));
        }
        Ok(options)
    }
}

/// A family of benchmarks and how to run it.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Name used on the command line and in reports.
    pub name: &'static str,
    /// One line saying what it measures.
    pub about: &'static str,
    /// The cargo steps that build or run it.
    pub steps: fn(&BenchOptions) -> Vec<Step>,
    /// What runs after the steps, in this process (`None`: the steps are all).
    pub driver: Option<Driver>,
    /// Whether `cargo xtask bench` with no family named runs it (`false`: only
    /// when named).
    pub by_default: bool,
}

/// A family's in-process part: starts the test server and the contenders from
/// the workspace root, reports, and fails with a message saying what went wrong.
pub type Driver = fn(&Path, &BenchOptions) -> Result<(), XtaskError>;

/// Every family `cargo xtask bench` runs, in order.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "stream-decode",
        about: "agent-stream: line and event decoding throughput (criterion)",
        steps: stream_decode,
        driver: None,
        by_default: true,
    },
    Family {
        name: "clients",
        about: "AgentClient, AsyncAgentClient and the wire floor against the test server",
        steps: build_contenders,
        driver: Some(clients::run),
        by_default: true,
    },
    Family {
        name: "attack",
        about:
            "the test server and the gateway under attack (xtask/attack): health/ latency and RSS",
        steps: attack,
        driver: None,
        by_default: true,
    },
    Family {
        name: "startup",
        about: "the whole `agentctl health` process, spawn to exit",
        steps: build_contenders,
        driver: Some(startup::run),
        by_default: true,
    },
    Family {
        name: "server-move",
        about: "the test server before (--baseline REV, default fa1c889^) and after the move to agent-server",
        steps: build_contenders,
        driver: Some(server_move::run),
        by_default: false,
    },
];

/// The comparison with the Python SDK, run by `--peers` (not by default: it
/// needs Python and installs the SDK under `target/peers-venv` on first use).
pub const PEERS: Family = Family {
    name: "peers",
    about: "ours beside the Python SDK (synapse-sdk) and the wire floor, one server, one run",
    steps: build_contenders,
    driver: Some(peers::run),
    by_default: false,
};

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The names of all families.
pub fn family_names() -> Vec<&'static str> {
    FAMILIES.iter().map(|f| f.name).collect()
}

/// Runs the chosen families from `root`, stopping at the first failure.
pub fn run(root: &Path, options: &BenchOptions) -> Result<(), XtaskError> {
    let chosen = chosen(options);
    // a step shared by families (the contenders' build) runs once
    let mut seen: Vec<Step> = Vec::new();
    let plan: Vec<(&Family, Vec<Step>)> = chosen
        .iter()
        .map(|f| {
            let fresh: Vec<Step> = (f.steps)(options)
                .into_iter()
                .filter(|s| {
                    let new = !seen.contains(s);
                    if new {
                        seen.push(s.clone());
                    }
                    new
                })
                .collect();
            (*f, fresh)
        })
        .collect();
    let total: usize = plan
        .iter()
        .map(|(f, steps)| steps.len() + usize::from(f.driver.is_some()))
        .sum();
    let mut index = 0;
    for (family, steps) in plan {
        for step in steps {
            index += 1;
            step.run(root, (index, total)).map_err(|failure| {
                XtaskError::Failed(format!("bench stopped at step {index}/{total}: {failure}"))
            })?;
        }
        if let Some(driver) = family.driver {
            index += 1;
            println!();
            println!(
                "==> xtask [{index}/{total}] {}: {}",
                family.name, family.about
            );
            let started = std::time::Instant::now();
            driver(root, options).map_err(|e| {
                XtaskError::Failed(format!(
                    "bench stopped at step {index}/{total} ({}): {e}",
                    family.name
                ))
            })?;
            println!(
                "==> xtask [{index}/{total}] {}: ok ({})",
                family.name,
                crate::step::seconds(started.elapsed())
            );
        }
    }
    println!();
    println!(
        "==> xtask bench: done ({}); reports are in target/bench/ (criterion's under target/criterion/)",
        chosen.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// The families to run: those named (when none is named and `--peers` is not
/// given, those run by default), then the peers comparison with `--peers`.
fn chosen(options: &BenchOptions) -> Vec<&'static Family> {
    let mut chosen: Vec<&'static Family> = FAMILIES
        .iter()
        .filter(|f| {
            if options.only.is_empty() {
                !options.peers && f.by_default
            } else {
                options.only.iter().any(|n| n == f.name)
            }
        })
        .collect();
    if options.peers {
        chosen.push(&PEERS);
    }
    chosen
}

/// Builds the contenders in release: `agent-bench` (test server, our clients,
/// the floor) and `agentctl`.
fn build_contenders(_options: &BenchOptions) -> Vec<Step> {
    vec![Step::cargo(
        "build-contenders",
        &["build", "--release", "-p", "agent-bench", "-p", "agentctl"],
    )]
}

/// The attack load (`xtask/attack`, crate agent-attack): prints its tables.
fn attack(_options: &BenchOptions) -> Vec<Step> {
    vec![Step::cargo(
        "attack",
        &["run", "--release", "-p", "agent-attack"],
    )]
}

/// Arguments after `--` for a criterion bench target.
fn criterion_args(options: &BenchOptions) -> Vec<&'static str> {
    if options.quick {
        vec!["--", "--quick"]
    } else {
        Vec::new()
    }
}

/// `agent-stream`'s `decode` bench: LineDecoder and event decoding.
fn stream_decode(options: &BenchOptions) -> Vec<Step> {
    vec![Step::cargo(
        "stream-decode",
        &["bench", "-p", "agent-stream", "--bench", "decode"],
    )
    .with_args(criterion_args(options))]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn stream_decode_runs_the_criterion_target() {
        let steps = stream_decode(&BenchOptions::default());
        assert_eq!(
            steps[0].command_line(),
            "cargo bench -p agent-stream --bench decode"
        );
        let quick = BenchOptions {
            quick: true,
            ..BenchOptions::default()
        };
        assert_eq!(
            stream_decode(&quick)[0].command_line(),
            "cargo bench -p agent-stream --bench decode -- --quick"
        );
    }

    #[test]
    fn peers_runs_the_comparison_alone_or_beside_named_families() {
        let alone = BenchOptions::parse(&args(&["--peers"])).unwrap();
        assert!(alone.peers);
        let names: Vec<&str> = chosen(&alone).iter().map(|f| f.name).collect();
        assert_eq!(names, ["peers"]);
        let both = BenchOptions::parse(&args(&["clients", "--peers"])).unwrap();
        let names: Vec<&str> = chosen(&both).iter().map(|f| f.name).collect();
        assert_eq!(names, ["clients", "peers"]);
        let all = BenchOptions::default();
        let defaults: Vec<&str> = chosen(&all).iter().map(|f| f.name).collect();
        assert_eq!(defaults, ["stream-decode", "clients", "attack", "startup"]);
    }

    #[test]
    fn server_move_runs_only_when_named_and_takes_a_baseline() {
        let named = BenchOptions::parse(&args(&["server-move", "--baseline", "abc123"])).unwrap();
        assert_eq!(named.baseline.as_deref(), Some("abc123"));
        let names: Vec<&str> = chosen(&named).iter().map(|f| f.name).collect();
        assert_eq!(names, ["server-move"]);
        let equals = BenchOptions::parse(&args(&["--baseline=v1", "server-move"])).unwrap();
        assert_eq!(equals.baseline.as_deref(), Some("v1"));
        let default = BenchOptions::parse(&args(&["server-move", "--quick"])).unwrap();
        assert_eq!(default.baseline, None);
        assert!(BenchOptions::parse(&args(&["server-move", "--baseline"])).is_err());
        assert!(BenchOptions::parse(&args(&["server-move", "--baseline", "--quick"])).is_err());
        assert!(BenchOptions::parse(&args(&["clients", "--baseline", "x"])).is_err());
        assert!(!chosen(&BenchOptions::default())
            .iter()
            .any(|f| f.name == "server-move"));
    }

    #[test]
    fn process_families_build_their_contenders_first() {
        for family in FAMILIES.iter().chain([&PEERS]) {
            if family.driver.is_some() {
                let steps = (family.steps)(&BenchOptions::default());
                assert_eq!(
                    steps[0].command_line(),
                    "cargo build --release -p agent-bench -p agentctl"
                );
            }
        }
    }

    #[test]
    fn parse_takes_quick_and_known_family_names() {
        let options = BenchOptions::parse(&args(&["--quick", "stream-decode"])).ok();
        assert_eq!(
            options,
            Some(BenchOptions {
                quick: true,
                only: vec!["stream-decode".to_owned()],
                peers: false,
                baseline: None,
            })
        );
        assert!(BenchOptions::parse(&args(&["no-such-family"])).is_err());
        assert!(BenchOptions::parse(&args(&["--fast"])).is_err());
    }

    #[test]
    fn family_names_are_unique() {
        let mut names = family_names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len());
    }
}
