//! `cargo xtask mutants [CRATE]`: test strength, measured with cargo-mutants
//! (`cargo install --locked cargo-mutants`): the sans-IO crates whole, and the
//! clients' tail and retry modules. Minutes per target on a small machine, so it
//! is not part of `ci`; figures go in TESTING.md.

use std::path::Path;
use std::process::Command;

use crate::XtaskError;

/// One cargo-mutants run: a package, and the files of it to mutate (all when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The package.
    pub package: &'static str,
    /// Files to mutate, relative to the workspace root (empty: the whole package).
    pub files: &'static [&'static str],
}

/// Every target, in the order they run.
pub const TARGETS: &[Target] = &[
    Target {
        package: "agent-stream",
        files: &[],
    },
    Target {
        package: "agent-proto",
        files: &[],
    },
    Target {
        package: "agent-client-async",
        files: &["crates/agent-client-async/src/tail.rs"],
    },
    Target {
        package: "agent-transport",
        files: &["crates/agent-transport/src/retry.rs"],
    },
];

/// What `mutants` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutantsOptions {
    /// Only this package's target, or all.
    pub package: Option<String>,
}

impl MutantsOptions {
    /// `[CRATE]`: one of the targets' packages.
    pub fn parse(args: &[String]) -> Result<Self, XtaskError> {
        match args {
            [] => Ok(MutantsOptions { package: None }),
            [name] if TARGETS.iter().any(|t| t.package == name) => Ok(MutantsOptions {
                package: Some(name.clone()),
            }),
            [name] => Err(XtaskError::Usage(format!(
                "mutants: `{name}` is not one of {}",
                TARGETS
                    .iter()
                    .map(|t| t.package)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            _ => Err(XtaskError::Usage("mutants takes at most one crate".into())),
        }
    }

    /// The targets to run.
    pub fn targets(&self) -> Vec<Target> {
        TARGETS
            .iter()
            .copied()
            .filter(|t| self.package.as_deref().is_none_or(|p| p == t.package))
            .collect()
    }
}

/// The cargo arguments of one target's run. Only the package's own tests run
/// against each mutant (`--test-package`), which keeps a run to minutes.
pub fn cargo_args(target: &Target) -> Vec<String> {
    let mut args: Vec<String> = ["mutants", "--no-shuffle", "--package", target.package]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for file in target.files {
        args.push("--file".into());
        args.push((*file).into());
    }
    args.push("--output".into());
    args.push(format!("target/mutants/{}", target.package));
    args
}

/// Runs cargo-mutants on each target; reports every target, fails if one had
/// missed mutants or could not run.
pub fn run(root: &Path, options: &MutantsOptions) -> Result<(), XtaskError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let installed = Command::new(&cargo)
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        return Err(XtaskError::Failed(
            "cargo-mutants is not installed: `cargo install --locked cargo-mutants`".into(),
        ));
    }
    // cargo-mutants creates its output directory but not the parents.
    let parent = root.join("target").join("mutants");
    std::fs::create_dir_all(&parent).map_err(|e| {
        XtaskError::Failed(format!("mutants: cannot create {}: {e}", parent.display()))
    })?;
    let mut failed = Vec::new();
    for target in options.targets() {
        let args = cargo_args(&target);
        println!("\n==> xtask mutants: cargo {}", args.join(" "));
        let status = Command::new(&cargo)
            .args(&args)
            .current_dir(root)
            .status()
            .map_err(|e| XtaskError::Failed(format!("mutants: could not run cargo: {e}")))?;
        if !status.success() {
            failed.push(target.package);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(XtaskError::Failed(format!(
            "mutants: missed or unviable mutants, or a failed run, in {} (see target/mutants/<crate>/mutants.out)",
            failed.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_picks_its_target() {
        let all = MutantsOptions::parse(&[]).unwrap();
        assert_eq!(all.targets().len(), TARGETS.len());
        let one = MutantsOptions::parse(&["agent-stream".into()]).unwrap();
        assert_eq!(one.targets(), [TARGETS[0]]);
        assert!(MutantsOptions::parse(&["agentctl".into()]).is_err());
    }

    #[test]
    fn files_narrow_the_run() {
        let args = cargo_args(&TARGETS[2]);
        assert!(args
            .windows(2)
            .any(|w| w[0] == "--file" && w[1].ends_with("tail.rs")));
        assert!(!cargo_args(&TARGETS[0]).contains(&"--file".to_owned()));
    }
}
