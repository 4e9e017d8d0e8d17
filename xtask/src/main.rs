//! Project tasks: `cargo xtask ci`, `cargo xtask bench`, `cargo xtask man`,
//! `cargo xtask fuzz-tails`, `cargo xtask mutants`, `cargo xtask help`.
//!
//! Standard library only, so it builds in seconds on a fresh machine.

mod bench;
mod ci;
mod fuzz_tails;
mod man;
mod mutants;
mod python;
mod step;

use std::fmt;
use std::process::ExitCode;

use bench::BenchOptions;
use ci::CiOptions;
use fuzz_tails::FuzzOptions;
use mutants::MutantsOptions;

/// What went wrong with a task.
#[derive(Debug)]
pub enum XtaskError {
    /// The command line was wrong (exit code 2).
    Usage(String),
    /// A task ran and failed, or could not run (exit code 1).
    Failed(String),
}

impl fmt::Display for XtaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XtaskError::Usage(message) | XtaskError::Failed(message) => f.write_str(message),
        }
    }
}

/// A task asked for on the command line.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    Help,
    Ci(CiOptions),
    Bench(BenchOptions),
    Man,
    FuzzTails(FuzzOptions),
    Mutants(MutantsOptions),
}

fn parse(args: &[String]) -> Result<Task, XtaskError> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Task::Help);
    };
    match command.as_str() {
        "help" | "--help" | "-h" => Ok(Task::Help),
        "ci" => CiOptions::parse(rest).map(Task::Ci),
        "bench" => BenchOptions::parse(rest).map(Task::Bench),
        "man" if rest.is_empty() => Ok(Task::Man),
        "man" => Err(XtaskError::Usage("`man` takes no options".to_owned())),
        "fuzz-tails" => FuzzOptions::parse(rest).map(Task::FuzzTails),
        "mutants" => MutantsOptions::parse(rest).map(Task::Mutants),
        other => Err(XtaskError::Usage(format!("unknown command `{other}`"))),
    }
}

fn help() -> String {
    let mut text = String::from(
        "\
Usage: cargo xtask <command> [options]

Commands:
  ci [--skip-deny] [--skip-python]
      The checks CI runs (`bash .ci/run` runs exactly this), in order,
      stopping at the first failure:
",
    );
    let steps = ci::steps(CiOptions::default());
    for (index, step) in steps.iter().enumerate() {
        text.push_str(&format!(
            "        {}. {:<11} {}\n",
            index + 1,
            step.name,
            step.command_line()
        ));
    }
    for (i, line) in python::command_lines().iter().enumerate() {
        let (number, name) = if i == 0 {
            (format!("{}.", steps.len() + 1), "python")
        } else {
            (String::new(), "")
        };
        text.push_str(&format!("        {number:<2} {name:<11} {line}\n"));
    }
    text.push_str(
        "      The test step runs unit, integration and doc tests. With AGENT_E2E_RAY
      set (a Ray head, `.ci/ray.sh start`), an `e2e-ray` step then runs
      agent-gateway's ignored end-to-end tests (`--test e2e_ray -- --ignored`),
      and an `e2e-archive` step the archive's (`--test e2e_archive`: it
      restarts the head); with CI=true and no AGENT_E2E_RAY, ci fails. Advisories are not
      checked: they need a network fetch.
      --skip-deny   leave out the deny steps (for a machine without cargo-deny;
                    install it with `cargo install --locked cargo-deny`)
      --skip-python leave out the python step (the agent_client wheel, built
                    with maturin into the virtualenv target/py-venv, and its
                    pytest suite; `bash .ci/run` sets up the virtualenv)
  bench [--quick] [--peers] [--baseline REV] [FAMILY...]
      Runs the benchmark families (all run by default, or those named); figures
      go in BENCHMARKS.md, reports in target/bench/. --quick makes short runs,
      for a smoke check only. --peers runs our clients beside the Python SDK
      (synapse-sdk, installed under target/peers-venv on first use; needs
      python3 >= 3.11 with venv and pip), hand-written reqwest and
      tokio-tungstenite clients and the wire floor; alone it runs only that
      comparison. server-move runs only when named; --baseline REV (default
      fa1c889^) is the revision it builds in target/bench-baseline.
      Families:
",
    );
    for family in bench::FAMILIES {
        text.push_str(&format!("        {:<16} {}\n", family.name, family.about));
    }
    text.push_str(
        "
  man
      Writes agentctl's man pages to target/man/ (agentctl.1 and one per
      subcommand; install them with
      `sudo install -m 644 target/man/*.1 /usr/local/share/man/man1/`).

  fuzz-tails [CASES]
      The tail property test (tests/tests/tail_properties.rs) with CASES
      generated cases (default 5000) instead of the few hundred of `cargo test`.

  mutants [CRATE]
      cargo-mutants on the sans-IO crates and the clients' tail and retry
      modules (or CRATE's target only); minutes each, so not part of ci. Needs
      `cargo install --locked cargo-mutants`. Figures go in TESTING.md.

  help
      This text.
",
    );
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(|task| {
        let root = step::workspace_root();
        match task {
            Task::Help => {
                print!("{}", help());
                Ok(())
            }
            Task::Ci(options) => ci::run(&root, options),
            Task::Bench(options) => bench::run(&root, &options),
            Task::Man => man::run(&root).map(|path| println!("wrote {}", path.display())),
            Task::FuzzTails(options) => fuzz_tails::run(&root, options),
            Task::Mutants(options) => mutants::run(&root, &options),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(XtaskError::Usage(message)) => {
            eprintln!("xtask: {message}");
            eprintln!("Run `cargo xtask help` for the commands.");
            ExitCode::from(2)
        }
        Err(XtaskError::Failed(message)) => {
            eprintln!();
            eprintln!("xtask: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn man_takes_no_options() {
        assert_eq!(parse(&args(&["man"])).ok(), Some(Task::Man));
        assert!(matches!(
            parse(&args(&["man", "--x"])),
            Err(XtaskError::Usage(_))
        ));
    }

    #[test]
    fn no_command_and_help_show_help() {
        assert_eq!(parse(&[]).ok(), Some(Task::Help));
        assert_eq!(parse(&args(&["help"])).ok(), Some(Task::Help));
        assert_eq!(parse(&args(&["--help"])).ok(), Some(Task::Help));
    }

    #[test]
    fn commands_parse_their_options() {
        assert_eq!(
            parse(&args(&["ci", "--skip-deny"])).ok(),
            Some(Task::Ci(CiOptions {
                skip_deny: true,
                ..CiOptions::default()
            }))
        );
        assert!(matches!(
            parse(&args(&["bench", "--quick"])),
            Ok(Task::Bench(BenchOptions { quick: true, .. }))
        ));
        assert!(matches!(
            parse(&args(&["deploy"])),
            Err(XtaskError::Usage(_))
        ));
    }

    #[test]
    fn help_lists_every_command_and_family() {
        let text = help();
        for word in [
            "ci",
            "bench",
            "fuzz-tails",
            "mutants",
            "help",
            "--skip-deny",
            "--skip-python",
            "pytest",
            "--quick",
            "--peers",
        ] {
            assert!(text.contains(word), "help lacks {word}");
        }
        for name in bench::family_names() {
            assert!(text.contains(name), "help lacks family {name}");
        }
    }
}
