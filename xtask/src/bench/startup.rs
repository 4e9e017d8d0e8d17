//! The `startup` family: the whole `agentctl health` process (spawn, one health
//! check against the test server, exit), timed from outside.

use std::fmt::Write as _;
use std::path::Path;

use super::measure::{
    alternate, machine, release_dir, report_dir, today, write_report, BenchServer, Contender,
    RunLog,
};
use super::BenchOptions;
use crate::XtaskError;

/// Runs the family (after its build step).
pub fn run(root: &Path, options: &BenchOptions) -> Result<(), XtaskError> {
    let runs = if options.quick { 3 } else { 20 };
    let release = release_dir(root);
    let server = BenchServer::start(&release.join("agent-bench"), &[10])?;
    let agentctl = release.join("agentctl");
    let mut log = RunLog::default();
    let summaries = alternate(
        "startup",
        &[Contender::whole_process(
            "agentctl health",
            &agentctl,
            &["--url", &server.url, "--token", &server.token, "health"],
        )],
        runs,
        &mut log,
    )?;
    drop(server);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "Measured {} with `cargo xtask bench startup` on {}; {runs} runs.\n",
        today(),
        machine()
    );
    let _ = writeln!(report, "| command | median wall time |");
    let _ = writeln!(report, "| --- | ---: |");
    for s in &summaries {
        let _ = writeln!(report, "| `{}` | {:.1} ms |", s.command, s.wall_ms);
    }
    println!();
    print!("{report}");
    let dir = report_dir(root)?;
    write_report(&dir.join("startup.md"), &report)?;
    write_report(&dir.join("startup-runs.jsonl"), &log.text())?;
    Ok(())
}
