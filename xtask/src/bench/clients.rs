//! The `clients` family: `AsyncAgentClient` and `AgentClient` against the test
//! server, in one run (issue 4): sequential GETs, 64 concurrent GETs, tails over
//! each protocol, and a tail's peak memory at 1 M and 10 M lines; the wire floor
//! runs beside them for reference. Figures go in BENCHMARKS.md, "Clients".

use std::fmt::Write as _;
use std::path::Path;

use super::measure::{
    alternate, cpu_figure, machine, ratio, release_dir, report_dir, thousands, today, verdict,
    write_report, BenchServer, Contender, RunLog, Summary,
};
use super::BenchOptions;
use crate::XtaskError;

/// The sizes of a full run (and of a `--quick` one).
pub struct Sizes {
    /// Alternating runs of each contender.
    pub runs: usize,
    /// Sequential GETs per run.
    pub gets: u64,
    /// Concurrent GETs per run, and how many at once.
    pub concurrent: (u64, u64),
    /// Lines of the timed tails.
    pub tail_lines: u64,
    /// Lines of the long tail whose memory is compared with the timed one.
    pub long_tail_lines: u64,
}

impl Sizes {
    /// Full or quick sizes.
    pub fn of(options: &BenchOptions) -> Self {
        if options.quick {
            Sizes {
                runs: 1,
                gets: 500,
                concurrent: (2_000, 64),
                tail_lines: 100_000,
                long_tail_lines: 1_000_000,
            }
        } else {
            Sizes {
                runs: 5,
                gets: 5_000,
                concurrent: (20_000, 64),
                tail_lines: 1_000_000,
                long_tail_lines: 10_000_000,
            }
        }
    }
}

/// A contender run by `agent-bench`: `WORKLOAD --client CLIENT ARGS --url --token`.
pub fn agent_bench(
    bin: &Path,
    server: &BenchServer,
    name: &str,
    workload: &str,
    client: &str,
    extra: &[&str],
) -> Contender {
    let mut args = vec![workload, "--client", client];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--url", &server.url, "--token", &server.token]);
    Contender::new(name, bin, &args)
}

/// Runs the family (after its build step).
pub fn run(root: &Path, options: &BenchOptions) -> Result<(), XtaskError> {
    let sizes = Sizes::of(options);
    let bin = release_dir(root).join("agent-bench");
    let server = BenchServer::start(&bin, &[sizes.tail_lines, sizes.long_tail_lines])?;
    println!("==> clients: test server at {}", server.url);
    let mut log = RunLog::default();
    let n = sizes.gets.to_string();
    let gets = alternate(
        "gets",
        &[
            agent_bench(&bin, &server, "ours-async", "gets", "async", &["--n", &n]),
            agent_bench(
                &bin,
                &server,
                "ours-blocking",
                "gets",
                "blocking",
                &["--n", &n],
            ),
            agent_bench(&bin, &server, "floor", "gets", "floor", &["--n", &n]),
        ],
        sizes.runs,
        &mut log,
    )?;
    let (cn, cc) = (
        sizes.concurrent.0.to_string(),
        sizes.concurrent.1.to_string(),
    );
    let concurrent_args = ["--n", cn.as_str(), "--concurrency", cc.as_str()];
    let concurrent = alternate(
        "concurrent",
        &[
            agent_bench(
                &bin,
                &server,
                "ours-async",
                "concurrent",
                "async",
                &concurrent_args,
            ),
            agent_bench(
                &bin,
                &server,
                "floor",
                "concurrent",
                "floor",
                &concurrent_args,
            ),
        ],
        sizes.runs,
        &mut log,
    )?;
    let job = format!("bench_tail_{}", sizes.tail_lines);
    let long_job = format!("bench_tail_{}", sizes.long_tail_lines);
    let mut tails = Vec::new();
    for protocol in ["websocket", "http"] {
        let args = ["--protocol", protocol, "--job", job.as_str()];
        let workload = format!("tail-{protocol}");
        tails.push((
            protocol,
            alternate(
                &workload,
                &[
                    agent_bench(&bin, &server, "ours-async", "tail", "async", &args),
                    agent_bench(&bin, &server, "ours-blocking", "tail", "blocking", &args),
                    agent_bench(&bin, &server, "floor", "tail", "floor", &args),
                ],
                sizes.runs,
                &mut log,
            )?,
        ));
    }
    let mut long_tails = Vec::new();
    for protocol in ["websocket", "http"] {
        let args = ["--protocol", protocol, "--job", long_job.as_str()];
        long_tails.push((
            protocol,
            alternate(
                &format!("long-tail-{protocol}"),
                &[
                    agent_bench(&bin, &server, "ours-async", "tail", "async", &args),
                    agent_bench(&bin, &server, "ours-blocking", "tail", "blocking", &args),
                ],
                1,
                &mut log,
            )?,
        ));
    }
    drop(server);

    let report = render(&sizes, &gets, &concurrent, &tails, &long_tails);
    println!();
    print!("{report}");
    let dir = report_dir(root)?;
    write_report(&dir.join("clients.md"), &report)?;
    write_report(&dir.join("clients-runs.jsonl"), &log.text())?;
    Ok(())
}

fn rate_of(summaries: &[Summary], name: &str) -> f64 {
    Summary::find(summaries, name).map_or(f64::NAN, |s| s.rate)
}

fn render(
    sizes: &Sizes,
    gets: &[Summary],
    concurrent: &[Summary],
    tails: &[(&str, Vec<Summary>)],
    long_tails: &[(&str, Vec<Summary>)],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} with `cargo xtask bench clients` on {}. Medians of {} alternating runs per contender \
         (min-max of the rate in brackets); peak memory is the process's VmHWM; CPU is the \
         process's user + system time, whole process (start-up included), per 10,000 requests \
         or 1,000,000 lines.\n",
        today(),
        machine(),
        sizes.runs
    );
    let _ = writeln!(
        out,
        "| workload | contender | median rate | range | peak RSS | CPU s |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: |");
    let mut row = |workload: &str, unit: &str, s: &Summary| {
        let (per, label) = if unit == "req" {
            (1e4, "10k req")
        } else {
            (1e6, "1M lines")
        };
        let _ = writeln!(
            out,
            "| {workload} | {} | {} {unit}/s | {}-{} | {:.1} MiB | {} / {label} |",
            s.name,
            thousands(s.rate),
            thousands(s.rate_range.0),
            thousands(s.rate_range.1),
            s.peak_mib,
            cpu_figure(s.cpu_per_op * per)
        );
    };
    for s in gets {
        row(
            &format!("{} sequential GETs (list_jobs)", sizes.gets),
            "req",
            s,
        );
    }
    for s in concurrent {
        row(
            &format!(
                "{} GETs, {} at once",
                sizes.concurrent.0, sizes.concurrent.1
            ),
            "req",
            s,
        );
    }
    for (protocol, summaries) in tails {
        for s in summaries {
            row(
                &format!(
                    "tail {} lines x 100 B, {protocol}",
                    thousands(sizes.tail_lines as f64)
                ),
                "lines",
                s,
            );
        }
    }
    for (protocol, summaries) in long_tails {
        for s in summaries {
            row(
                &format!(
                    "tail {} lines x 100 B, {protocol} (1 run)",
                    thousands(sizes.long_tail_lines as f64)
                ),
                "lines",
                s,
            );
        }
    }

    let _ = writeln!(out, "\n| target | figure | verdict |");
    let _ = writeln!(out, "| --- | --- | --- |");
    let blocking_vs_async = rate_of(gets, "ours-blocking") / rate_of(gets, "ours-async");
    let _ = writeln!(
        out,
        "| blocking within 10% of async (sequential GETs) | blocking/async = {} | {} |",
        ratio(blocking_vs_async),
        verdict(blocking_vs_async >= 0.9)
    );
    for (protocol, summaries) in tails {
        for name in ["ours-async", "ours-blocking"] {
            let rate = rate_of(summaries, name);
            let _ = writeln!(
                out,
                "| tail above 1,000,000 lines/s, {protocol}, {name} | {} lines/s (floor {}) | {} |",
                thousands(rate),
                thousands(rate_of(summaries, "floor")),
                verdict(rate > 1_000_000.0)
            );
        }
    }
    // "flat": the long tail's peak is no higher than the short tails' highest
    // peak (+10%): the peak varies from run to run with how far the reader gets
    // ahead of the consumer, not with the length of the log.
    const LIMIT_MIB: f64 = 20_000_000.0 / 1_048_576.0;
    for ((protocol, short), (_, long)) in tails.iter().zip(long_tails) {
        for name in ["ours-async", "ours-blocking"] {
            let (Some(a), Some(b)) = (Summary::find(short, name), Summary::find(long, name)) else {
                continue;
            };
            let flat = b.peak_mib <= a.peak_range.1 * 1.10;
            let _ = writeln!(
                out,
                "| peak memory under 20 MB and flat, {protocol}, {name} | {:.1} MiB at {} lines (runs {:.1}-{:.1}), {:.1} MiB at {} | {} |",
                a.peak_mib,
                thousands(sizes.tail_lines as f64),
                a.peak_range.0,
                a.peak_range.1,
                b.peak_mib,
                thousands(sizes.long_tail_lines as f64),
                verdict(a.peak_range.1 < LIMIT_MIB && b.peak_mib < LIMIT_MIB && flat)
            );
        }
    }
    let _ = writeln!(out, "\nCommands (one run each):\n");
    for s in gets.iter().chain(concurrent) {
        let _ = writeln!(out, "    {}", s.command);
    }
    for (_, summaries) in tails.iter().chain(long_tails) {
        for s in summaries {
            let _ = writeln!(out, "    {}", s.command);
        }
    }
    out
}
