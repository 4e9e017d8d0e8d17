//! The `server-move` family: the test server's throughput before and after the
//! serving layer moved to `agent-server` and was hardened (issue 12: "the
//! hardening must not cost more than 5%").
//!
//! The baseline is a revision before the move (`--baseline REV`, default
//! [`DEFAULT_BASELINE`], the parent of "Move the serving layer to a new crate
//! agent-server"). Its `agent-bench` is built in release in a git worktree at
//! `target/bench-baseline` (checked out again when it is at another revision,
//! reused as it is otherwise) with its own target directory there, so HEAD's
//! `target/release` is never overwritten; the first build takes minutes.
//!
//! Each run starts the baseline's `agent-bench server`, then HEAD's (A B A B
//! ..., same arguments: 3 small jobs and one finished tail job), and drives
//! each with the same client binary, HEAD's floor (a bare hyper client doing
//! nothing but the wire, so that the server sets the pace): sequential
//! `GET health/` on one connection, `GET health/` from 64 connections at once,
//! and a whole tail over WebSocket and over HTTP. Besides each rate, the server
//! process's own CPU time (`/proc/<pid>/stat`, read before and after each
//! client run) is reported per 10,000 requests or 1,000,000 lines: a cost that
//! depends less on what else the machine is doing than the rates do.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::clients::agent_bench;
use super::measure::{
    cpu_figure, machine, median, ratio, release_dir, report_dir, thousands, today, verdict,
    write_report, BenchServer, Contender,
};
use super::BenchOptions;
use crate::XtaskError;

/// The revision compared against by default: the parent of commit fa1c889,
/// "Move the serving layer to a new crate agent-server".
pub const DEFAULT_BASELINE: &str = "fa1c889^";

/// Where the baseline's worktree (and its target directory) live, under `target/`.
pub const BASELINE_DIR: &str = "bench-baseline";

/// The most HEAD may lose against the baseline (issue 12: 5%).
const MAX_LOSS: f64 = 0.05;

/// Sizes of a full run (and of a `--quick` one).
struct Sizes {
    runs: usize,
    gets: u64,
    concurrent: (u64, u64),
    tail_lines: u64,
}

impl Sizes {
    fn of(options: &BenchOptions) -> Self {
        if options.quick {
            Sizes {
                runs: 1,
                gets: 500,
                concurrent: (2_000, 64),
                tail_lines: 100_000,
            }
        } else {
            Sizes {
                runs: 5,
                gets: 5_000,
                concurrent: (20_000, 64),
                tail_lines: 1_000_000,
            }
        }
    }
}

fn failed(message: impl Into<String>) -> XtaskError {
    XtaskError::Failed(message.into())
}

/// `git ARGS` in `dir`: its trimmed stdout, or what went wrong.
fn git(dir: &Path, args: &[&str]) -> Result<String, XtaskError> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(failed(format!(
            "`git {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// The baseline's worktree at `commit`: reused when it is there already,
/// checked out at `commit` when it is at another one, added otherwise.
fn baseline_worktree(root: &Path, commit: &str) -> Result<PathBuf, XtaskError> {
    let dir = root.join("target").join(BASELINE_DIR);
    let dir_text = dir.display().to_string();
    // without its own `.git`, git would answer for the enclosing checkout
    if dir.join(".git").exists() {
        if git(&dir, &["rev-parse", "HEAD"])? != commit {
            println!("==> server-move: checking out {commit} in {dir_text}");
            git(
                &dir,
                &["checkout", "--quiet", "--force", "--detach", commit],
            )?;
        }
    } else if dir.exists() {
        return Err(failed(format!(
            "{dir_text} exists but is not a git worktree: remove it and run again"
        )));
    } else {
        println!("==> server-move: adding the worktree {dir_text} at {commit}");
        // --force: a worktree registered there before and deleted since (say
        // by `cargo clean`) is taken over rather than refused
        git(
            root,
            &["worktree", "add", "--force", "--detach", &dir_text, commit],
        )?;
    }
    Ok(dir)
}

/// Builds the baseline's `agent-bench` in release (its own target directory,
/// inside its worktree) and returns the binary.
fn build_baseline(dir: &Path) -> Result<PathBuf, XtaskError> {
    let target = dir.join("target");
    println!(
        "==> server-move: cargo build --release --locked -p agent-bench in {} \
         (target dir {}; the first build takes minutes)",
        dir.display(),
        target.display()
    );
    let status = Command::new(crate::step::cargo_program())
        .current_dir(dir)
        .args(["build", "--release", "--locked", "-p", "agent-bench"])
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| failed(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(failed(format!(
            "the baseline's agent-bench did not build ({status})"
        )));
    }
    Ok(target.join("release").join("agent-bench"))
}

/// One server under test.
struct Side {
    /// `baseline` or `HEAD`, for the tables.
    label: String,
    /// Its `agent-bench` (the server only: every client is HEAD's).
    bin: PathBuf,
}

/// One workload: how HEAD's floor drives a server.
struct Workload {
    name: &'static str,
    /// `req` or `lines`.
    unit: &'static str,
    /// Operations the server CPU figure is given per.
    per: f64,
    subcommand: &'static str,
    args: Vec<String>,
}

/// What one workload gave against one side over the runs.
#[derive(Default, Clone)]
struct Figures {
    rates: Vec<f64>,
    /// Server CPU seconds per operation, one per run.
    server_cpu: Vec<f64>,
    command: String,
}

fn workloads(sizes: &Sizes) -> Vec<Workload> {
    let job = format!("bench_tail_{}", sizes.tail_lines);
    let owned = |list: &[&str]| list.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    vec![
        Workload {
            name: "health/ sequential",
            unit: "req",
            per: 1e4,
            subcommand: "gets",
            args: owned(&["--path", "health/", "--n", &sizes.gets.to_string()]),
        },
        Workload {
            name: "health/ 64 at once",
            unit: "req",
            per: 1e4,
            subcommand: "concurrent",
            args: owned(&[
                "--path",
                "health/",
                "--n",
                &sizes.concurrent.0.to_string(),
                "--concurrency",
                &sizes.concurrent.1.to_string(),
            ]),
        },
        Workload {
            name: "tail websocket",
            unit: "lines",
            per: 1e6,
            subcommand: "tail",
            args: owned(&["--protocol", "websocket", "--job", &job]),
        },
        Workload {
            name: "tail http",
            unit: "lines",
            per: 1e6,
            subcommand: "tail",
            args: owned(&["--protocol", "http", "--job", &job]),
        },
    ]
}

/// Runs the family (after HEAD's build step).
pub fn run(root: &Path, options: &BenchOptions) -> Result<(), XtaskError> {
    let sizes = Sizes::of(options);
    let rev = options.baseline.as_deref().unwrap_or(DEFAULT_BASELINE);
    let commit = git(
        root,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    )?;
    let head = git(root, &["rev-parse", "--short", "HEAD"])?;
    let dir = baseline_worktree(root, &commit)?;
    let sides = [
        Side {
            label: format!("baseline {rev} ({})", &commit[..commit.len().min(9)]),
            bin: build_baseline(&dir)?,
        },
        Side {
            label: format!("HEAD ({head})"),
            bin: release_dir(root).join("agent-bench"),
        },
    ];
    let client = release_dir(root).join("agent-bench");
    let workloads = workloads(&sizes);
    let mut figures = vec![vec![Figures::default(); sides.len()]; workloads.len()];
    let mut log = String::new();
    for run in 1..=sizes.runs {
        for (s, side) in sides.iter().enumerate() {
            let server = BenchServer::start(&side.bin, &[sizes.tail_lines])?;
            for (w, workload) in workloads.iter().enumerate() {
                let args: Vec<&str> = workload.args.iter().map(String::as_str).collect();
                let contender: Contender = agent_bench(
                    &client,
                    &server,
                    "floor",
                    workload.subcommand,
                    "floor",
                    &args,
                );
                let before = server.cpu_seconds();
                let sample = contender.run().map_err(|e| {
                    failed(format!("{}, {}, run {run}: {e}", workload.name, side.label))
                })?;
                let server_cpu = match (before, server.cpu_seconds()) {
                    (Some(a), Some(b)) => (b - a) / sample.count,
                    _ => f64::NAN,
                };
                println!(
                    "    {:<20} {:<28} run {run}/{}: {:>12.0} {}/s  server cpu {:>8.1} ms",
                    workload.name,
                    side.label,
                    sizes.runs,
                    sample.rate,
                    workload.unit,
                    server_cpu * sample.count * 1e3
                );
                let _ = writeln!(
                    log,
                    "{{\"workload\":\"{}\",\"server\":\"{}\",\"run\":{run},\"server_cpu_s\":{:.3},\"result\":{}}}",
                    workload.name,
                    side.label,
                    server_cpu * sample.count,
                    sample.line
                );
                let kept = &mut figures[w][s];
                kept.rates.push(sample.rate);
                kept.server_cpu.push(server_cpu);
                kept.command = contender.command_line();
            }
            drop(server);
        }
    }
    let report = render(&sizes, &sides, &workloads, &figures);
    println!();
    print!("{report}");
    let dir = report_dir(root)?;
    write_report(&dir.join("server-move.md"), &report)?;
    write_report(&dir.join("server-move-runs.jsonl"), &log)?;
    Ok(())
}

fn render(
    sizes: &Sizes,
    sides: &[Side],
    workloads: &[Workload],
    figures: &[Vec<Figures>],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} with `cargo xtask bench server-move` on {}. The test server (`agent-bench server`) \
         of each revision in turn (baseline, HEAD, baseline, ...; a fresh server each time), {} runs \
         each, driven by the same client binary (HEAD's floor); medians (min-max of the rate in brackets). Server CPU: \
         the server process's user + system time during the client's run.\n",
        today(),
        machine(),
        sizes.runs
    );
    let (a, b) = (&sides[0].label, &sides[1].label);
    let _ = writeln!(
        out,
        "| workload | {a} | {b} | HEAD / baseline | target | server CPU s, baseline | HEAD | HEAD / baseline |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    );
    for (workload, pair) in workloads.iter().zip(figures) {
        let (base, head) = (&pair[0], &pair[1]);
        let rate = |f: &Figures| {
            let lo = f.rates.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = f.rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!(
                "{} {}/s ({}-{})",
                thousands(median(&f.rates)),
                workload.unit,
                thousands(lo),
                thousands(hi)
            )
        };
        let speed = median(&head.rates) / median(&base.rates);
        let cpu = |f: &Figures| median(&f.server_cpu) * workload.per;
        let per = if workload.per >= 1e6 { "1M" } else { "10k" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | at least {:.2}x: {} | {} / {per} | {} / {per} | {} |",
            workload.name,
            rate(base),
            rate(head),
            ratio(speed),
            1.0 - MAX_LOSS,
            verdict(speed >= 1.0 - MAX_LOSS),
            cpu_figure(cpu(base)),
            cpu_figure(cpu(head)),
            ratio(cpu(head) / cpu(base))
        );
    }
    let _ = writeln!(
        out,
        "\nClient commands (one run each; the URL is the server's of that run):\n"
    );
    for (workload, pair) in workloads.iter().zip(figures) {
        let _ = writeln!(out, "    {}  # {}", pair[1].command, workload.name);
    }
    let _ = writeln!(out, "\nServers:\n");
    for side in sides {
        let _ = writeln!(
            out,
            "    {} server --bytes 100 --token bench-token --lines {}  # {}",
            side.bin.display(),
            sizes.tail_lines,
            side.label
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_drives_the_floor_with_the_sizes_chosen() {
        let quick = Sizes::of(&BenchOptions {
            quick: true,
            ..BenchOptions::default()
        });
        let list = workloads(&quick);
        let names: Vec<&str> = list.iter().map(|w| w.name).collect();
        assert_eq!(
            names,
            [
                "health/ sequential",
                "health/ 64 at once",
                "tail websocket",
                "tail http"
            ]
        );
        assert!(list[0].args.windows(2).any(|p| p == ["--n", "500"]));
        assert!(list[0].args.windows(2).any(|p| p == ["--path", "health/"]));
        assert!(list[1]
            .args
            .windows(2)
            .any(|p| p == ["--concurrency", "64"]));
        assert!(list[3]
            .args
            .windows(2)
            .any(|p| p == ["--job", "bench_tail_100000"]));
    }

    #[test]
    fn render_compares_head_with_the_baseline_against_the_5_percent_target() {
        let sizes = Sizes::of(&BenchOptions::default());
        let sides = [
            Side {
                label: "baseline".into(),
                bin: PathBuf::from("a"),
            },
            Side {
                label: "HEAD".into(),
                bin: PathBuf::from("b"),
            },
        ];
        let list = workloads(&sizes);
        let figures: Vec<Vec<Figures>> = list
            .iter()
            .map(|_| {
                let of = |rate: f64| Figures {
                    rates: vec![rate, rate, rate],
                    server_cpu: vec![1e-5; 3],
                    command: "cmd".into(),
                };
                vec![of(1000.0), of(940.0)]
            })
            .collect();
        let text = render(&sizes, &sides, &list, &figures);
        assert!(text.contains("| health/ sequential | 1,000 req/s (1,000-1,000) | 940 req/s"));
        assert!(text.contains("| 0.94x | at least 0.95x: **missed** |"));
        assert!(text.contains("| 0.100 / 10k | 0.100 / 10k | 1.00x |"));
    }
}
