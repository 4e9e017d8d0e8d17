//! A step: one named command run from the workspace root, announced before it
//! starts and reported with its outcome and duration.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// One cargo command of a task (`ci`, `bench`), with the name it is reported
/// under. Every step so far is a cargo command; a step running another program
/// (a Ray head, a Python peer) would add a program field here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Short name printed in progress and failure messages (`clippy`, `test`).
    pub name: &'static str,
    /// Arguments to cargo, exactly as they are passed.
    pub args: Vec<String>,
}

impl Step {
    /// A step running `cargo ARGS...`.
    pub fn cargo(name: &'static str, args: &[&str]) -> Self {
        Step {
            name,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// Appends arguments to the command line.
    pub fn with_args<I, S>(mut self, extra: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(extra.into_iter().map(Into::into));
        self
    }

    /// The command line as a person would type it.
    pub fn command_line(&self) -> String {
        let mut line = String::from("cargo");
        for arg in &self.args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }

    /// Runs the step from `root`, inheriting stdout and stderr, and reports
    /// how it ended. `position` is shown as `[i/n]`.
    pub fn run(&self, root: &Path, position: (usize, usize)) -> Result<Duration, StepFailure> {
        let (index, total) = position;
        println!();
        println!(
            "==> xtask [{index}/{total}] {}: {}",
            self.name,
            self.command_line()
        );
        let started = Instant::now();
        let status = self.command(root).status();
        let elapsed = started.elapsed();
        match status {
            Ok(status) if status.success() => {
                println!(
                    "==> xtask [{index}/{total}] {}: ok ({})",
                    self.name,
                    seconds(elapsed)
                );
                Ok(elapsed)
            }
            Ok(status) => Err(StepFailure {
                step: self.clone(),
                cause: FailureCause::Exit(status),
            }),
            Err(error) => Err(StepFailure {
                step: self.clone(),
                cause: FailureCause::Spawn(error.to_string()),
            }),
        }
    }

    fn command(&self, root: &Path) -> Command {
        let mut command = Command::new(cargo_program());
        command.args(&self.args).current_dir(root);
        command
    }
}

/// Why a step did not succeed.
#[derive(Debug)]
pub struct StepFailure {
    /// The step that failed.
    pub step: Step,
    /// What went wrong.
    pub cause: FailureCause,
}

/// The way a step failed.
#[derive(Debug)]
pub enum FailureCause {
    /// The command ran and exited unsuccessfully.
    Exit(ExitStatus),
    /// The command could not be started.
    Spawn(String),
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            FailureCause::Exit(status) => write!(
                f,
                "step `{}` failed ({status}): {}",
                self.step.name,
                self.step.command_line()
            ),
            FailureCause::Spawn(error) => write!(
                f,
                "step `{}` could not start `{}`: {error}",
                self.step.name,
                self.step.command_line()
            ),
        }
    }
}

/// The cargo to run nested commands with: the one that started us, so the
/// toolchain stays the same.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A duration as `12.3s`.
pub fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_joins_program_and_args() {
        let step = Step::cargo("fmt", &["fmt", "--all"]).with_args(["--", "--check"]);
        assert_eq!(step.command_line(), "cargo fmt --all -- --check");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
