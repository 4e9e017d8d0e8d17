//! `cargo xtask bench --peers`: our clients side by side with the client users
//! have today, the Python SDK (synapse-sdk 2026.2.17: `AgentClient`,
//! `AsyncAgentClient`), and with the floor (a client doing nothing but the wire),
//! in one run, on one machine, against one test server (issue 7). Figures go in
//! BENCHMARKS.md, "Peers (Python SDK)".
//!
//! The Python SDK runs from a virtualenv under `target/peers-venv`, created on
//! first use (see [`ensure_venv`]); its scripts are `crates/agent-bench/python/`.
//!
//! Beside them, what a Rust user would write by hand instead (issue 15), from the
//! bench crate: `reqwest` (GETs and the HTTP tail) and `tungstenite`
//! (tokio-tungstenite, the WebSocket tail). Every contender's CPU time, as a
//! whole process, is reported per 10,000 GETs and per 1,000,000 tail lines
//! (see [`measure`](super::measure) for how it is read), with the targets of
//! issue 15: ours at most reqwest's per GET and tokio-tungstenite's per
//! WebSocket line, and at most 1/30 of the Python SDK's per tail line.
//!
//! This repository's own Python package, `agent_client` (crates/agent-client-py,
//! the SDK's API on our Rust core), runs as two more contenders (`pyo3-sync`,
//! `pyo3-async`): its release wheel is built with maturin (from `target/py-venv`,
//! as `cargo xtask ci` uses it) and installed into the same virtualenv on every
//! run; its scripts are `crates/agent-client-py/bench/`, the SDK's scripts with
//! the import changed (issue 16).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::clients::agent_bench;
use super::measure::{
    alternate, cpu_figure, machine, ratio, release_dir, report_dir, thousands, today, verdict,
    write_report, BenchServer, Contender, RunLog, Summary,
};
use super::BenchOptions;
use crate::XtaskError;

/// The peer: the Python SDK release compared against.
pub const SYNAPSE_SDK: &str = "synapse-sdk==2026.2.17";

/// What the SDK's agent client imports (its wheel declares none of it usable on
/// Python 3.11, so it is installed with `--no-deps --ignore-requires-python`).
pub const SDK_DEPENDENCIES: &[&str] = &[
    "pydantic",
    "requests",
    "urllib3<3",
    "httpx",
    "aiohttp",
    "pyyaml",
    "pyjwt",
    "websocket-client",
    "websockets",
];

/// The start-up contender on the Python side: `python -c` with one health check.
pub const PYTHON_HEALTH: &str = "import sys\nfrom synapse_sdk.clients.agent import AgentClient\nprint(AgentClient(sys.argv[1], sys.argv[2]).health_check())";

/// Sizes of a full run (and of a `--quick` one).
struct Sizes {
    runs: usize,
    startup_runs: usize,
    gets: u64,
    tail_lines: u64,
}

impl Sizes {
    fn of(options: &BenchOptions) -> Self {
        if options.quick {
            Sizes {
                runs: 1,
                startup_runs: 2,
                gets: 500,
                tail_lines: 100_000,
            }
        } else {
            Sizes {
                runs: 5,
                startup_runs: 10,
                gets: 5_000,
                tail_lines: 1_000_000,
            }
        }
    }
}

fn failed(message: impl Into<String>) -> XtaskError {
    XtaskError::Failed(message.into())
}

/// Runs `program args`, quietly; `Ok(stdout)` when it succeeds.
fn quiet(program: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        let err = String::from_utf8_lossy(&output.stderr);
        let last: Vec<&str> = err.lines().rev().take(5).collect();
        Err(format!(
            "{} ({})",
            last.into_iter().rev().collect::<Vec<_>>().join(" | "),
            output.status
        ))
    }
}

/// The virtualenv's Python, with the SDK importable: creates
/// `target/peers-venv` and installs the SDK there on first use, and says clearly
/// what is missing (Python, venv, pip) instead of failing obscurely.
pub fn ensure_venv(root: &Path) -> Result<PathBuf, XtaskError> {
    let venv = root.join("target").join("peers-venv");
    let python = venv.join("bin").join("python");
    let check = [
        "-c",
        "from synapse_sdk.clients.agent import AgentClient, AsyncAgentClient",
    ];
    if python.is_file() && quiet(&python, &check).is_ok() {
        return Ok(python);
    }
    let system = PathBuf::from("python3");
    let version = quiet(&system, &["--version"]).map_err(|e| {
        failed(format!(
            "Python is missing: `cargo xtask bench --peers` runs the Python SDK and needs `python3` \
             (3.11 or newer) on PATH, with its venv module and pip (`python3 --version` failed: {e}). \
             On Debian: apt-get install -y python3 python3-venv python3-pip"
        ))
    })?;
    let minor_ok = quiet(
        &system,
        &[
            "-c",
            "import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)",
        ],
    )
    .is_ok();
    if !minor_ok {
        return Err(failed(format!(
            "{version} is too old for the Python SDK's agent client: it needs Python 3.11 or newer"
        )));
    }
    println!(
        "==> peers: creating {} ({version}) and installing {SYNAPSE_SDK}",
        venv.display()
    );
    let venv_text = venv.display().to_string();
    quiet(&system, &["-m", "venv", &venv_text]).map_err(|e| {
        failed(format!(
            "`python3 -m venv {venv_text}` failed: {e}. The venv module is missing \
             (on Debian: apt-get install -y python3-venv)"
        ))
    })?;
    quiet(&python, &["-m", "pip", "--version"]).map_err(|e| {
        failed(format!(
            "pip is missing in {venv_text} ({e}). On Debian: apt-get install -y python3-pip python3-venv"
        ))
    })?;
    let mut install = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    install.extend_from_slice(SDK_DEPENDENCIES);
    quiet(&python, &install)
        .map_err(|e| failed(format!("pip could not install the SDK's dependencies: {e}")))?;
    quiet(
        &python,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--ignore-requires-python",
            SYNAPSE_SDK,
        ],
    )
    .map_err(|e| failed(format!("pip could not install {SYNAPSE_SDK}: {e}")))?;
    quiet(&python, &check).map_err(|e| {
        failed(format!(
            "{SYNAPSE_SDK} is installed in {venv_text} but its agent client does not import: {e}"
        ))
    })?;
    Ok(python)
}

/// Builds the `agent_client` release wheel with maturin and installs it into the
/// peers' virtualenv, so that the run measures the code of this checkout.
fn install_package(root: &Path, python: &Path) -> Result<(), XtaskError> {
    let (_, maturin) = crate::python::check_tools(root)?;
    let wheels = root.join("target").join("py-wheels").join("bench");
    crate::python::empty_dir(&wheels)?;
    let out = wheels.display().to_string();
    let manifest = root
        .join(crate::python::CRATE_MANIFEST)
        .display()
        .to_string();
    println!("==> peers: building the agent_client release wheel (maturin build --release)");
    quiet(
        &maturin,
        &[
            "build",
            "--release",
            "--locked",
            "--quiet",
            "-m",
            &manifest,
            "--out",
            &out,
        ],
    )
    .map_err(|e| {
        failed(format!(
            "maturin could not build the agent_client wheel: {e}"
        ))
    })?;
    let wheel = crate::python::wheel_in(&wheels)?.display().to_string();
    quiet(
        python,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--force-reinstall",
            "--no-deps",
            &wheel,
        ],
    )
    .map_err(|e| failed(format!("pip could not install {wheel}: {e}")))?;
    Ok(())
}

/// The installed versions of the packages that matter, for the report.
fn python_versions(python: &Path) -> String {
    let code = "import sys, importlib.metadata as m\n\
                names = ['synapse-sdk', 'agent-client', 'requests', 'urllib3', 'httpx', 'websocket-client', 'websockets']\n\
                print('Python ' + sys.version.split()[0] + ', ' + ', '.join(n + ' ' + m.version(n) for n in names))";
    quiet(python, &["-c", code]).unwrap_or_else(|e| format!("(versions unknown: {e})"))
}

/// A Python peer running one script of `crates/agent-bench/python/`.
fn python_script(
    python: &Path,
    scripts: &Path,
    server: &BenchServer,
    name: &str,
    script: &str,
    extra: &[&str],
) -> Contender {
    let path = scripts.join(script).display().to_string();
    let mut args = vec![path.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--url", &server.url, "--token", &server.token]);
    Contender::new(name, python, &args)
}

/// Runs the comparison (after the build step).
pub fn run(root: &Path, options: &BenchOptions) -> Result<(), XtaskError> {
    let sizes = Sizes::of(options);
    let python = ensure_venv(root)?;
    install_package(root, &python)?;
    let versions = python_versions(&python);
    println!("==> peers: {versions}");
    let scripts = root.join("crates").join("agent-bench").join("python");
    let ours_py = root.join("crates").join("agent-client-py").join("bench");
    let release = release_dir(root);
    let bin = release.join("agent-bench");
    let agentctl = release.join("agentctl");
    let server = BenchServer::start(&bin, &[sizes.tail_lines])?;
    println!("==> peers: test server at {}", server.url);
    let mut log = RunLog::default();

    // 1. sequential small GETs on one keep-alive connection
    let n = sizes.gets.to_string();
    let gets = alternate(
        "gets",
        &[
            python_script(
                &python,
                &scripts,
                &server,
                "python-sync",
                "gets.py",
                &["--client", "sync", "--n", &n],
            ),
            agent_bench(
                &bin,
                &server,
                "ours-blocking",
                "gets",
                "blocking",
                &["--n", &n],
            ),
            python_script(
                &python,
                &scripts,
                &server,
                "python-async",
                "gets.py",
                &["--client", "async", "--n", &n],
            ),
            agent_bench(&bin, &server, "ours-async", "gets", "async", &["--n", &n]),
            agent_bench(&bin, &server, "reqwest", "gets", "reqwest", &["--n", &n]),
            agent_bench(&bin, &server, "floor", "gets", "floor", &["--n", &n]),
            python_script(
                &python,
                &ours_py,
                &server,
                "pyo3-sync",
                "gets.py",
                &["--client", "sync", "--n", &n],
            ),
            python_script(
                &python,
                &ours_py,
                &server,
                "pyo3-async",
                "gets.py",
                &["--client", "async", "--n", &n],
            ),
        ],
        sizes.runs,
        &mut log,
    )?;

    // 2. tails of a finished job, each protocol
    let job = format!("bench_tail_{}", sizes.tail_lines);
    let mut tails = Vec::new();
    for protocol in ["websocket", "http"] {
        let args = ["--protocol", protocol, "--job", job.as_str()];
        let py_sync = [
            "--client",
            "sync",
            "--protocol",
            protocol,
            "--job",
            job.as_str(),
        ];
        let py_async = [
            "--client",
            "async",
            "--protocol",
            protocol,
            "--job",
            job.as_str(),
        ];
        // the hand-written Rust contender of this protocol
        let by_hand = by_hand(protocol);
        tails.push((
            protocol,
            alternate(
                &format!("tail-{protocol}"),
                &[
                    python_script(
                        &python,
                        &scripts,
                        &server,
                        "python-sync",
                        "tail.py",
                        &py_sync,
                    ),
                    agent_bench(&bin, &server, "ours-blocking", "tail", "blocking", &args),
                    python_script(
                        &python,
                        &scripts,
                        &server,
                        "python-async",
                        "tail.py",
                        &py_async,
                    ),
                    agent_bench(&bin, &server, "ours-async", "tail", "async", &args),
                    agent_bench(&bin, &server, by_hand, "tail", by_hand, &args),
                    agent_bench(&bin, &server, "floor", "tail", "floor", &args),
                    python_script(&python, &ours_py, &server, "pyo3-sync", "tail.py", &py_sync),
                    python_script(
                        &python,
                        &ours_py,
                        &server,
                        "pyo3-async",
                        "tail.py",
                        &py_async,
                    ),
                ],
                sizes.runs,
                &mut log,
            )?,
        ));
    }

    // 3. whole-process start-up: one health check
    let startup = alternate(
        "startup",
        &[
            Contender::whole_process(
                "python -c",
                &python,
                &["-c", PYTHON_HEALTH, &server.url, &server.token],
            ),
            Contender::whole_process(
                "agentctl health",
                &agentctl,
                &["--url", &server.url, "--token", &server.token, "health"],
            ),
        ],
        sizes.startup_runs,
        &mut log,
    )?;
    drop(server);

    let report = render(&sizes, &versions, &gets, &tails, &startup);
    println!();
    print!("{report}");
    let dir = report_dir(root)?;
    write_report(&dir.join("peers.md"), &report)?;
    write_report(&dir.join("peers-runs.jsonl"), &log.text())?;
    Ok(())
}

/// The hand-written Rust contender of a tail protocol (issue 15): tokio-tungstenite
/// over WebSocket, reqwest over HTTP (also the `agent-bench --client` name).
fn by_hand(protocol: &str) -> &'static str {
    if protocol == "websocket" {
        "tungstenite"
    } else {
        "reqwest"
    }
}

/// CPU seconds per 10,000 GETs of a summary.
fn cpu_per_10k(s: &Summary) -> f64 {
    s.cpu_per_op * 1e4
}

/// CPU seconds per 1,000,000 lines of a summary.
fn cpu_per_1m(s: &Summary) -> f64 {
    s.cpu_per_op * 1e6
}

/// The CPU targets of issue 15: ours against the hand-written Rust clients and
/// against the Python SDK, per GET and per tail line, whole processes.
fn render_cpu(out: &mut String, gets: &[Summary], tails: &[(&str, Vec<Summary>)]) {
    let _ = writeln!(
        out,
        "\n**CPU per operation** (issue 15: the client process's user + system CPU, whole process \
         from spawn to exit, start-up included, read from `/proc/<pid>/stat` before it is reaped; \
         medians of the runs)\n"
    );
    let _ = writeln!(
        out,
        "| workload | pair | ours | peer | ours / peer | target | verdict |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | --- | --- |");
    let reqwest = get(gets, "reqwest");
    for ours in ["ours-async", "ours-blocking"] {
        let o = get(gets, ours);
        let r = o.cpu_per_op / reqwest.cpu_per_op;
        let _ = writeln!(
            out,
            "| GETs (CPU s / 10k) | {ours} / reqwest | {} | {} | {} | at most 1x | {} |",
            cpu_figure(cpu_per_10k(&o)),
            cpu_figure(cpu_per_10k(&reqwest)),
            ratio(r),
            verdict(r <= 1.0)
        );
    }
    for (protocol, summaries) in tails {
        if *protocol == "websocket" {
            let peer = get(summaries, "tungstenite");
            for ours in ["ours-async", "ours-blocking"] {
                let o = get(summaries, ours);
                let r = o.cpu_per_op / peer.cpu_per_op;
                let _ = writeln!(
                    out,
                    "| tail {protocol} (CPU s / 1M lines) | {ours} / tungstenite | {} | {} | {} | at most 1x | {} |",
                    cpu_figure(cpu_per_1m(&o)),
                    cpu_figure(cpu_per_1m(&peer)),
                    ratio(r),
                    verdict(r <= 1.0)
                );
            }
        }
        for (ours, peer) in [
            ("ours-blocking", "python-sync"),
            ("ours-async", "python-async"),
        ] {
            let (o, p) = (get(summaries, ours), get(summaries, peer));
            let r = o.cpu_per_op / p.cpu_per_op;
            let _ = writeln!(
                out,
                "| tail {protocol} (CPU s / 1M lines) | {ours} / {peer} | {} | {} | {} (1/{:.0}) | at most 1/30 | {} |",
                cpu_figure(cpu_per_1m(&o)),
                cpu_figure(cpu_per_1m(&p)),
                ratio(r),
                1.0 / r,
                verdict(r <= 1.0 / 30.0)
            );
        }
    }
}

/// The targets of the Python package `agent_client` (issue 16): against the SDK
/// it replaces, and against our Rust blocking client on the same tails.
fn render_package(out: &mut String, gets: &[Summary], tails: &[(&str, Vec<Summary>)]) {
    let _ = writeln!(
        out,
        "\n**Python package `agent_client`** (`pyo3-sync`, `pyo3-async`: the SDK's API on our core)\n"
    );
    let _ = writeln!(
        out,
        "| workload | pair | rate ratio | target | peak RSS ratio | target | verdict |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | --- | ---: | --- | --- |");
    for (ours, peer) in [("pyo3-sync", "python-sync"), ("pyo3-async", "python-async")] {
        let (o, p) = (get(gets, ours), get(gets, peer));
        let (speed, memory) = (o.rate / p.rate, o.peak_mib / p.peak_mib);
        let _ = writeln!(
            out,
            "| GETs | {ours} / {peer} | {} | at least 2x | {} | at most 1x | {} |",
            ratio(speed),
            ratio(memory),
            verdict(speed >= 2.0 && memory <= 1.0)
        );
    }
    for (protocol, summaries) in tails {
        for (ours, peer) in [("pyo3-sync", "python-sync"), ("pyo3-async", "python-async")] {
            let (o, p) = (get(summaries, ours), get(summaries, peer));
            let (speed, memory) = (o.rate / p.rate, o.peak_mib / p.peak_mib);
            // The SDK's HTTP tail is close to what this server sends: no speed target.
            let (target, met) = if *protocol == "websocket" {
                ("at least 10x", speed >= 10.0)
            } else {
                ("-", true)
            };
            let _ = writeln!(
                out,
                "| tail {protocol} | {ours} / {peer} | {} | {target} | {} | at most 1x | {} |",
                ratio(speed),
                ratio(memory),
                verdict(met && memory <= 1.0)
            );
        }
        let blocking = get(summaries, "ours-blocking");
        for ours in ["pyo3-sync", "pyo3-async"] {
            let speed = get(summaries, ours).rate / blocking.rate;
            let _ = writeln!(
                out,
                "| tail {protocol} | {ours} / ours-blocking | {} | at least 0.5x | - | - | {} |",
                ratio(speed),
                verdict(speed >= 0.5)
            );
        }
    }
}

/// The summary of `name`; every contender named here ran (the run fails
/// otherwise), so a miss is a bug of this file: it renders as NaN, never as
/// another contender's figure.
fn get(summaries: &[Summary], name: &str) -> Summary {
    Summary::find(summaries, name).cloned().unwrap_or(Summary {
        name: name.to_owned(),
        rate: f64::NAN,
        count: f64::NAN,
        peak_mib: f64::NAN,
        peak_range: (f64::NAN, f64::NAN),
        wall_ms: f64::NAN,
        rate_range: (f64::NAN, f64::NAN),
        cpu_per_op: f64::NAN,
        command: String::new(),
    })
}

fn render(
    sizes: &Sizes,
    versions: &str,
    gets: &[Summary],
    tails: &[(&str, Vec<Summary>)],
    startup: &[Summary],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} with `cargo xtask bench --peers` on {}; {versions}. \
         Contenders alternate run by run (A B C ...); medians of {} runs each \
         (min-max of the rate in brackets); peak RSS is the client process's VmHWM; CPU is the \
         client process's user + system time, whole process (start-up included).\n",
        today(),
        machine(),
        sizes.runs
    );

    let _ = writeln!(
        out,
        "**1. Sequential small GETs** (`list_jobs` of 3 jobs, {} calls on one keep-alive connection)\n",
        thousands(sizes.gets as f64)
    );
    let _ = writeln!(
        out,
        "| contender | requests/s | range | peak RSS | CPU s / 10k GETs |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    for s in gets {
        let _ = writeln!(
            out,
            "| {} | {} | {}-{} | {:.1} MiB | {} |",
            s.name,
            thousands(s.rate),
            thousands(s.rate_range.0),
            thousands(s.rate_range.1),
            s.peak_mib,
            cpu_figure(cpu_per_10k(s))
        );
    }
    let py_sync = get(gets, "python-sync").rate;
    let floor = get(gets, "floor").rate;
    let _ = writeln!(out, "\n| pair | ratio | target | verdict |");
    let _ = writeln!(out, "| --- | ---: | --- | --- |");
    for ours in ["ours-blocking", "ours-async"] {
        let rate = get(gets, ours).rate;
        let _ = writeln!(
            out,
            "| {ours} / python-sync | {} | at least 10x | {} |",
            ratio(rate / py_sync),
            verdict(rate / py_sync >= 10.0)
        );
    }
    let _ = writeln!(
        out,
        "| ours-async / python-async | {} | (pair) | - |",
        ratio(get(gets, "ours-async").rate / get(gets, "python-async").rate)
    );
    for ours in ["ours-blocking", "ours-async"] {
        let rate = get(gets, ours).rate;
        let _ = writeln!(
            out,
            "| {ours} / floor | {} | at least 0.8x | {} |",
            ratio(rate / floor),
            verdict(rate / floor >= 0.8)
        );
    }

    let _ = writeln!(
        out,
        "\n**2. Tail of a finished job** ({} lines of 100 bytes; limits raised for every client)\n",
        thousands(sizes.tail_lines as f64)
    );
    let _ = writeln!(
        out,
        "| protocol | contender | lines/s | range | lines seen | peak RSS | CPU s / 1M lines |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for (protocol, summaries) in tails {
        for s in summaries {
            let _ = writeln!(
                out,
                "| {protocol} | {} | {} | {}-{} | {} | {:.1} MiB | {} |",
                s.name,
                thousands(s.rate),
                thousands(s.rate_range.0),
                thousands(s.rate_range.1),
                thousands(s.count),
                s.peak_mib,
                cpu_figure(cpu_per_1m(s))
            );
        }
    }
    let _ = writeln!(
        out,
        "\n| protocol | pair | lines/s ratio | target | peak RSS ratio | target | verdict |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | --- | ---: | --- | --- |");
    for (protocol, summaries) in tails {
        for (ours, peer) in [
            ("ours-blocking", "python-sync"),
            ("ours-async", "python-async"),
        ] {
            let (o, p) = (get(summaries, ours), get(summaries, peer));
            let speed = o.rate / p.rate;
            let memory = o.peak_mib / p.peak_mib;
            let _ = writeln!(
                out,
                "| {protocol} | {ours} / {peer} | {} | at least 30x | {} | at most 0.20x | {} |",
                ratio(speed),
                ratio(memory),
                verdict(speed >= 30.0 && memory <= 0.2)
            );
        }
        let floor = get(summaries, "floor");
        for ours in ["ours-blocking", "ours-async"] {
            let speed = get(summaries, ours).rate / floor.rate;
            let _ = writeln!(
                out,
                "| {protocol} | {ours} / floor | {} | at least 0.7x | - | - | {} |",
                ratio(speed),
                verdict(speed >= 0.7)
            );
        }
    }

    render_cpu(&mut out, gets, tails);
    render_package(&mut out, gets, tails);

    let _ = writeln!(
        out,
        "\n**3. Whole-process start-up** (one health check, spawn to exit; {} runs each)\n",
        sizes.startup_runs
    );
    let _ = writeln!(out, "| contender | median wall time |");
    let _ = writeln!(out, "| --- | ---: |");
    for s in startup {
        let _ = writeln!(out, "| {} | {:.1} ms |", s.name, s.wall_ms);
    }
    let (ours, peer) = (get(startup, "agentctl health"), get(startup, "python -c"));
    let _ = writeln!(
        out,
        "\nagentctl / python time ratio: {} (python takes {} as long).",
        ratio(ours.wall_ms / peer.wall_ms),
        ratio(peer.wall_ms / ours.wall_ms)
    );

    let _ = writeln!(out, "\nCommands (one run each):\n");
    for s in gets
        .iter()
        .chain(tails.iter().flat_map(|(_, s)| s))
        .chain(startup)
    {
        let _ = writeln!(out, "    {}", s.command.replace('\n', "; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cpu(name: &str, cpu_per_op: f64) -> Summary {
        Summary {
            cpu_per_op,
            ..get(&[], name)
        }
    }

    #[test]
    fn the_cpu_table_compares_ours_with_reqwest_tungstenite_and_the_sdk() {
        let gets = [
            with_cpu("ours-async", 1.0e-4),
            with_cpu("ours-blocking", 2.0e-4),
            with_cpu("reqwest", 1.5e-4),
        ];
        let tail = |ours: f64| {
            vec![
                with_cpu("ours-async", ours),
                with_cpu("ours-blocking", ours),
                with_cpu("tungstenite", 1.0e-6),
                with_cpu("python-sync", 40.0e-6),
                with_cpu("python-async", 20.0e-6),
            ]
        };
        let tails = [("websocket", tail(0.5e-6)), ("http", tail(1.0e-6))];
        let mut out = String::new();
        render_cpu(&mut out, &gets, &tails);
        assert!(out.contains("| GETs (CPU s / 10k) | ours-async / reqwest | 1.000 | 1.500 | 0.67x | at most 1x | met |"));
        assert!(out.contains(
            "| ours-blocking / reqwest | 2.000 | 1.500 | 1.33x | at most 1x | **missed** |"
        ));
        assert!(out.contains("| tail websocket (CPU s / 1M lines) | ours-async / tungstenite | 0.500 | 1.000 | 0.50x | at most 1x | met |"));
        // no tungstenite row for HTTP (reqwest is the HTTP tail's hand-written peer)
        assert!(!out.contains("tail http (CPU s / 1M lines) | ours-async / tungstenite"));
        assert!(out.contains("| tail websocket (CPU s / 1M lines) | ours-blocking / python-sync | 0.500 | 40.0 | 0.01x (1/80) | at most 1/30 | met |"));
        assert!(out.contains("| tail http (CPU s / 1M lines) | ours-async / python-async | 1.000 | 20.0 | 0.05x (1/20) | at most 1/30 | **missed** |"));
    }

    #[test]
    fn each_tail_protocol_has_its_hand_written_contender() {
        assert_eq!(by_hand("websocket"), "tungstenite");
        assert_eq!(by_hand("http"), "reqwest");
    }
}
