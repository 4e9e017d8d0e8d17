//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first
//! failure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::step::{cargo_program, seconds, Step};
use crate::XtaskError;

/// How to install cargo-deny, as told to whoever lacks it.
pub const INSTALL_CARGO_DENY: &str = "cargo install --locked cargo-deny";

/// Options of `cargo xtask ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CiOptions {
    /// Leave out the cargo-deny step (`--skip-deny`).
    pub skip_deny: bool,
    /// Run agent-gateway's end-to-end tests against a Ray head (set when
    /// `AGENT_E2E_RAY` names one; see [`e2e_ray`]).
    pub e2e_ray: bool,
    /// Leave out the Python step (`--skip-python`).
    pub skip_python: bool,
}

/// The environment variable naming the Ray dashboard of the end-to-end tests.
pub const AGENT_E2E_RAY: &str = "AGENT_E2E_RAY";

/// Whether to run the Ray end-to-end tests, from `AGENT_E2E_RAY` and `CI`: run
/// them when a Ray is given; without one, leave them out (they stay `ignored`
/// in the test step's count) unless this is CI, where a missing Ray is an error
/// rather than five tests silently not run.
pub fn e2e_ray(ray: Option<&str>, ci: Option<&str>) -> Result<bool, XtaskError> {
    let given = ray.is_some_and(|r| !r.trim().is_empty());
    let on_ci = ci.is_some_and(|c| c == "true" || c == "1");
    match (given, on_ci) {
        (true, _) => Ok(true),
        (false, false) => Ok(false),
        (false, true) => Err(XtaskError::Failed(format!(
            "CI is set but {AGENT_E2E_RAY} is not: agent-gateway's end-to-end tests need a Ray \
             head.\nStart one with `.ci/ray.sh start` and export {AGENT_E2E_RAY}=http://127.0.0.1:8265 \
             (`bash .ci/run` does both)"
        ))),
    }
}

impl CiOptions {
    /// Parses the arguments following `ci`.
    pub fn parse(args: &[String]) -> Result<Self, XtaskError> {
        let mut options = CiOptions::default();
        for arg in args {
            match arg.as_str() {
                "--skip-deny" => options.skip_deny = true,
                "--skip-python" => options.skip_python = true,
                other => {
                    return Err(XtaskError::Usage(format!(
                        "`ci` does not take `{other}` (it takes only --skip-deny and --skip-python)"
                    )))
                }
            }
        }
        Ok(options)
    }
}

/// The steps of `ci`, in the order they run.
pub fn steps(options: CiOptions) -> Vec<Step> {
    let mut steps = vec![
        Step::cargo("fmt", &["fmt", "--all", "--", "--check"]),
        Step::cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        ),
        // Unit, integration and doc tests; prints the `test result:` lines.
        Step::cargo("test", &["test", "--workspace", "--locked"]),
    ];
    if options.e2e_ray {
        // The `#[ignore]`d tests that need a Ray head (AGENT_E2E_RAY), one at a
        // time: they share the head's CPUs.
        steps.push(Step::cargo(
            "e2e-ray",
            &[
                "test",
                "-p",
                "agent-gateway",
                "--locked",
                "--test",
                "e2e_ray",
                "--",
                "--ignored",
                "--test-threads=1",
            ],
        ));
        // Logs that outlive Ray (issue 22 item 4): it restarts the head
        // (`.ci/ray.sh stop` / `start`), so it runs after the others; its
        // agentctl is the one the test step built.
        steps.push(Step::cargo(
            "e2e-archive",
            &[
                "test",
                "-p",
                "agent-gateway",
                "--locked",
                "--test",
                "e2e_archive",
                "--",
                "--ignored",
                "--test-threads=1",
            ],
        ));
    }
    steps.extend([
        // The feature combinations a user can pick (the default one was built
        // above): plain HTTP only, without rustls, and the system's roots instead of
        // the compiled-in ones. The blocking client depends on the async client and
        // the transport, so checking it checks all three with those features.
        Step::cargo(
            "no-tls",
            &[
                "check",
                "--locked",
                "-p",
                "agent-client-blocking",
                "--no-default-features",
            ],
        ),
        Step::cargo(
            "native-roots",
            &[
                "check",
                "--locked",
                "-p",
                "agent-client-blocking",
                "--no-default-features",
                "--features",
                "native-roots",
            ],
        ),
        // Every publishable crate packages, in dependency order, and its package
        // builds on its own (the verification build). `--allow-dirty`: this checks
        // that packaging works, it publishes nothing.
        Step::cargo(
            "package",
            &[
                "package",
                "--workspace",
                "--locked",
                "--allow-dirty",
                "--exclude",
                "agent-bench",
                "--exclude",
                "agent-tests",
                "--exclude",
                "xtask",
                "--exclude",
                "agent-attack",
                "--exclude",
                "agent-client-py",
            ],
        ),
    ]);
    if !options.skip_deny {
        // cargo-deny reads `cargo metadata` offline, which needs the crates of
        // every target platform, not only those the build above downloaded.
        steps.push(Step::cargo("deny-fetch", &["fetch", "--locked"]));
        // Advisories need the RustSec database from the network: not checked.
        steps.push(Step::cargo(
            "deny",
            &[
                "deny",
                "--offline",
                "--locked",
                "check",
                "licenses",
                "bans",
                "sources",
            ],
        ));
    }
    steps
}

/// Runs every step of `ci` from `root`, stopping at the first failure.
pub fn run(root: &Path, mut options: CiOptions) -> Result<(), XtaskError> {
    options.e2e_ray = e2e_ray(
        std::env::var(AGENT_E2E_RAY).ok().as_deref(),
        std::env::var("CI").ok().as_deref(),
    )?;
    if !options.skip_deny && !cargo_deny_installed() {
        return Err(XtaskError::Failed(format!(
            "cargo-deny is not installed, and `ci` ends with `cargo deny check`.\n\
             Install it with:  {INSTALL_CARGO_DENY}   (about 4 minutes)\n\
             or leave the licence/ban/source check out:  cargo xtask ci --skip-deny"
        )));
    }

    if !options.skip_python {
        // Before anything runs, as for cargo-deny: a missing tool is said at once.
        crate::python::check_tools(root)?;
    }
    let steps = steps(options);
    let total = steps.len() + usize::from(!options.skip_python);
    let mut timings: Vec<(&'static str, Duration)> = Vec::with_capacity(total);
    for (index, step) in steps.iter().enumerate() {
        if step.name == "package" {
            forget_unpacked_packages(root)?;
        }
        match step.run(root, (index + 1, total)) {
            Ok(elapsed) => timings.push((step.name, elapsed)),
            Err(failure) => {
                return Err(XtaskError::Failed(format!(
                    "ci stopped at step {}/{total}: {failure}",
                    index + 1
                )))
            }
        }
    }
    // The Python package last: its wheel builds on everything checked above.
    if !options.skip_python {
        let elapsed = crate::python::run(root, (total, total))
            .map_err(|e| XtaskError::Failed(format!("ci stopped at step {total}/{total}: {e}")))?;
        timings.push(("python", elapsed));
    }

    println!();
    println!("==> xtask ci: every step succeeded");
    for (name, elapsed) in &timings {
        println!("    {name:<12} {}", seconds(*elapsed));
    }
    if !options.e2e_ray {
        println!("    e2e-ray      skipped ({AGENT_E2E_RAY} is not set; `.ci/ray.sh start` starts a head)");
    }
    if options.skip_python {
        println!("    python       skipped (--skip-python)");
    }
    if options.skip_deny {
        println!("    deny         skipped (--skip-deny)");
    } else {
        println!("    (cargo-deny advisories are not checked: they need a network fetch)");
    }
    Ok(())
}

/// `cargo package --workspace` verifies each crate against the others as packaged:
/// from a temporary local registry, unpacked into
/// `$CARGO_HOME/registry/src/-<hash>/<name>-<version>/` and built into the target
/// directory. Cargo takes a registry crate of a given version to be immutable: it
/// never unpacks it again while that directory exists, and never rebuilds it while
/// its fingerprint is there. A second `ci` on one machine would then verify against
/// the workspace's crates as they were the first time (same version, older code).
/// Removing our crates' unpacked copies (local registries only: their directory
/// names start with `-`) and their fingerprints in `target/debug` makes every run
/// verify what it just packaged, as on a fresh machine; only our own crates are
/// rebuilt for it.
fn forget_unpacked_packages(root: &Path) -> Result<(), XtaskError> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    remove_ours_in(&target.join("debug").join(".fingerprint"))?;
    let cargo_home = match std::env::var_os("CARGO_HOME") {
        Some(home) => std::path::PathBuf::from(home),
        None => match std::env::var_os("HOME") {
            Some(home) => std::path::PathBuf::from(home).join(".cargo"),
            None => return Ok(()),
        },
    };
    let Ok(registries) = std::fs::read_dir(cargo_home.join("registry").join("src")) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        if registry.file_name().to_string_lossy().starts_with('-') {
            remove_ours_in(&registry.path())?;
        }
    }
    Ok(())
}

/// Removes the entries of `dir` named after one of our crates (a missing `dir` is
/// nothing to remove).
fn remove_ours_in(dir: &Path) -> Result<(), XtaskError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if is_ours(&entry.file_name().to_string_lossy()) {
            std::fs::remove_dir_all(entry.path()).map_err(|e| {
                XtaskError::Failed(format!(
                    "package: cannot remove the stale {}: {e}",
                    entry.path().display()
                ))
            })?;
        }
    }
    Ok(())
}

/// Whether an unpacked crate's directory (`<name>-<version>`) or a fingerprint's
/// (`<name>-<hash>`) is one of this workspace's crates.
fn is_ours(dir: &str) -> bool {
    dir.starts_with("agent-") || dir.starts_with("agentctl-")
}

/// Whether `cargo deny` is a command cargo can run.
fn cargo_deny_installed() -> bool {
    Command::new(cargo_program())
        .args(["deny", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_unpacked_crates_are_forgotten() {
        assert!(is_ours("agent-server-0.1.0"));
        assert!(is_ours("agentctl-0.1.0"));
        assert!(!is_ours("serde-1.0.228"));
        assert!(!is_ours("agentx-1.0.0"));
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    fn names(steps: &[Step]) -> Vec<&'static str> {
        steps.iter().map(|s| s.name).collect()
    }

    #[test]
    fn steps_run_fmt_clippy_test_features_then_deny() {
        let steps = steps(CiOptions::default());
        assert_eq!(
            names(&steps),
            [
                "fmt",
                "clippy",
                "test",
                "no-tls",
                "native-roots",
                "package",
                "deny-fetch",
                "deny"
            ]
        );
        assert_eq!(steps[0].command_line(), "cargo fmt --all -- --check");
        assert_eq!(
            steps[1].command_line(),
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        );
        assert_eq!(steps[2].command_line(), "cargo test --workspace --locked");
        assert_eq!(
            steps[3].command_line(),
            "cargo check --locked -p agent-client-blocking --no-default-features"
        );
        assert_eq!(
            steps[4].command_line(),
            "cargo check --locked -p agent-client-blocking --no-default-features --features native-roots"
        );
        assert_eq!(
            steps[5].command_line(),
            "cargo package --workspace --locked --allow-dirty --exclude agent-bench \
             --exclude agent-tests --exclude xtask --exclude agent-attack --exclude agent-client-py"
        );
        assert_eq!(
            steps[7].command_line(),
            "cargo deny --offline --locked check licenses bans sources"
        );
    }

    #[test]
    fn skip_deny_leaves_out_the_deny_steps() {
        let steps = steps(CiOptions {
            skip_deny: true,
            ..CiOptions::default()
        });
        assert_eq!(
            names(&steps),
            ["fmt", "clippy", "test", "no-tls", "native-roots", "package"]
        );
    }

    #[test]
    fn a_ray_adds_the_ignored_e2e_tests_after_the_test_step() {
        let steps = steps(CiOptions {
            skip_deny: true,
            e2e_ray: true,
            skip_python: false,
        });
        assert_eq!(
            names(&steps),
            [
                "fmt",
                "clippy",
                "test",
                "e2e-ray",
                "e2e-archive",
                "no-tls",
                "native-roots",
                "package"
            ]
        );
        assert_eq!(
            steps[3].command_line(),
            "cargo test -p agent-gateway --locked --test e2e_ray -- --ignored --test-threads=1"
        );
        assert_eq!(
            steps[4].command_line(),
            "cargo test -p agent-gateway --locked --test e2e_archive -- --ignored --test-threads=1"
        );
    }

    #[test]
    fn without_a_ray_e2e_is_skipped_but_on_ci_it_is_an_error() {
        let ray = Some("http://127.0.0.1:8265");
        assert!(e2e_ray(ray, None).unwrap());
        assert!(e2e_ray(ray, Some("true")).unwrap());
        assert!(!e2e_ray(None, None).unwrap());
        assert!(!e2e_ray(Some(" "), Some("false")).unwrap());
        let e = e2e_ray(None, Some("true")).unwrap_err().to_string();
        assert!(
            e.contains("AGENT_E2E_RAY") && e.contains(".ci/ray.sh start"),
            "{e}"
        );
        assert!(e2e_ray(Some(""), Some("1")).is_err());
    }

    #[test]
    fn parse_accepts_skip_deny_and_rejects_anything_else() {
        assert_eq!(
            CiOptions::parse(&args(&["--skip-deny"])).ok(),
            Some(CiOptions {
                skip_deny: true,
                ..CiOptions::default()
            })
        );
        assert_eq!(
            CiOptions::parse(&args(&["--skip-python", "--skip-deny"])).ok(),
            Some(CiOptions {
                skip_deny: true,
                skip_python: true,
                ..CiOptions::default()
            })
        );
        assert_eq!(CiOptions::parse(&[]).ok(), Some(CiOptions::default()));
        assert!(CiOptions::parse(&args(&["--quick"])).is_err());
    }
}
