//! The Python step of `cargo xtask ci`: builds the `agent_client` wheel
//! (crates/agent-client-py) with maturin, installs it into the virtualenv
//! `target/py-venv`, and runs its pytest suite against it.
//!
//! The virtualenv and its tools (maturin, pytest and mypy, from PyPI) are set up by
//! `.ci/run`, as cargo-deny is; without them this step stops and says how to
//! get them. A pytest run that collects no test fails the step: a suite that
//! vanished must not pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::step::seconds;
use crate::XtaskError;

/// The virtualenv the wheel is installed into, relative to the workspace root.
pub const VENV: &str = "target/py-venv";

/// The crate whose wheel is built.
pub const CRATE_MANIFEST: &str = "crates/agent-client-py/Cargo.toml";

/// The pytest suite.
pub const TESTS: &str = "crates/agent-client-py/tests";

/// Where the wheel is built (emptied first, so that exactly one wheel is there).
pub const WHEEL_DIR: &str = "target/py-wheels/ci";

/// The cargo features of the wheel the suite tests: `faults` gives its `TestServer`
/// agent-testkit's faults and request journal (the wheel users install has neither).
pub const TEST_FEATURES: &str = "faults";

/// How to set up the virtualenv and its tools, as told to whoever lacks them.
pub const SET_UP: &str = "python3 -m venv target/py-venv && \
     target/py-venv/bin/python -m pip install 'maturin>=1.9,<2' 'pytest>=8' 'mypy>=1.10'";

/// pytest's exit code when it collected no test.
const PYTEST_NO_TESTS: i32 = 5;

/// The command lines of the step, for `cargo xtask help`.
pub fn command_lines() -> [String; 3] {
    [
        format!(
            "{VENV}/bin/maturin build --locked -m {CRATE_MANIFEST} --features {TEST_FEATURES} --out {WHEEL_DIR}"
        ),
        format!("{VENV}/bin/python -m pip install --force-reinstall --no-deps {WHEEL_DIR}/*.whl"),
        format!("{VENV}/bin/python -m pytest -p no:cacheprovider {TESTS}"),
    ]
}

fn failed(message: impl Into<String>) -> XtaskError {
    XtaskError::Failed(message.into())
}

/// Whether `program args` runs and succeeds, quietly.
fn succeeds(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Checks that the virtualenv and its tools are there, saying what is missing.
pub fn check_tools(root: &Path) -> Result<(PathBuf, PathBuf), XtaskError> {
    let python = root.join(VENV).join("bin").join("python");
    let maturin = root.join(VENV).join("bin").join("maturin");
    if !python.is_file() {
        let system = if succeeds(Path::new("python3"), &["--version"]) {
            "python3 is on PATH"
        } else {
            "python3 is not on PATH either (on Debian: apt-get install -y python3 python3-venv)"
        };
        return Err(failed(format!(
            "the Python step needs the virtualenv {VENV}, which is missing ({system}).\n\
             `bash .ci/run` sets it up; by hand:  {SET_UP}\n\
             or leave the Python step out:  cargo xtask ci --skip-python"
        )));
    }
    let mut missing = Vec::new();
    if !succeeds(&maturin, &["--version"]) {
        missing.push("maturin");
    }
    if !succeeds(&python, &["-m", "pytest", "--version"]) {
        missing.push("pytest");
    }
    // The suite runs `mypy --strict` on the seed's examples against the stubs.
    if !succeeds(&python, &["-m", "mypy", "--version"]) {
        missing.push("mypy");
    }
    if !missing.is_empty() {
        return Err(failed(format!(
            "{} missing in {VENV}. `bash .ci/run` installs them; by hand:  {SET_UP}",
            missing.join(", ")
        )));
    }
    Ok((python, maturin))
}

/// Removes `dir` if it is there, so that a build leaves exactly one wheel in it.
pub fn empty_dir(dir: &Path) -> Result<(), XtaskError> {
    if dir.exists() {
        fs::remove_dir_all(dir)
            .map_err(|e| failed(format!("could not empty {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// The wheel maturin built in `dir`.
pub fn wheel_in(dir: &Path) -> Result<PathBuf, XtaskError> {
    fs::read_dir(dir)
        .map_err(|e| failed(format!("could not read {}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| failed(format!("maturin built no wheel in {}", dir.display())))
}

fn run_command(label: &str, command: &mut Command) -> Result<i32, XtaskError> {
    println!("==> xtask python: {label}");
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|e| failed(format!("could not start {label}: {e}")))?;
    Ok(status.code().unwrap_or(-1))
}

/// Runs the step from `root`: build, install, test.
pub fn run(root: &Path, position: (usize, usize)) -> Result<Duration, XtaskError> {
    let (index, total) = position;
    println!();
    println!("==> xtask [{index}/{total}] python: agent_client wheel + pytest");
    let started = Instant::now();
    let (python, maturin) = check_tools(root)?;

    let wheels = root.join(WHEEL_DIR);
    empty_dir(&wheels)?;
    let build = run_command(
        "maturin build",
        Command::new(&maturin)
            .args([
                "build",
                "--locked",
                "-m",
                CRATE_MANIFEST,
                "--features",
                TEST_FEATURES,
                "--out",
                WHEEL_DIR,
            ])
            .current_dir(root),
    )?;
    if build != 0 {
        return Err(failed(format!(
            "step `python` failed: maturin could not build the wheel (exit {build})"
        )));
    }
    let wheel = wheel_in(&wheels)?;
    let install = run_command(
        "pip install the wheel",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(&wheel)
            .current_dir(root),
    )?;
    if install != 0 {
        return Err(failed(format!(
            "step `python` failed: pip could not install {} (exit {install})",
            wheel.display()
        )));
    }
    let pytest = run_command(
        "pytest",
        Command::new(&python)
            .args(["-m", "pytest", "-p", "no:cacheprovider", TESTS])
            .current_dir(root),
    )?;
    match pytest {
        0 => {}
        PYTEST_NO_TESTS => {
            return Err(failed(format!(
                "step `python` failed: pytest collected no test in {TESTS}"
            )))
        }
        code => {
            return Err(failed(format!(
                "step `python` failed: pytest {TESTS} (exit {code})"
            )))
        }
    }
    let elapsed = started.elapsed();
    println!(
        "==> xtask [{index}/{total}] python: ok ({})",
        seconds(elapsed)
    );
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_venv_says_how_to_set_it_up() {
        let dir = std::env::temp_dir().join(format!("xtask-python-{}", std::process::id()));
        let err = check_tools(&dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("target/py-venv"), "{err}");
        assert!(err.contains("bash .ci/run"), "{err}");
        assert!(err.contains("--skip-python"), "{err}");
    }

    #[test]
    fn the_commands_name_the_crate_and_the_tests() {
        let lines = command_lines();
        assert!(lines[0].contains(CRATE_MANIFEST));
        assert!(lines[2].ends_with(TESTS));
    }
}
