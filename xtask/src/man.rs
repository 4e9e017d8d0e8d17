//! `cargo xtask man`: writes agentctl's man pages into `target/man/` (`agentctl.1` and
//! one per subcommand).
//!
//! The page is rendered by agentctl itself (clap_mangen, behind its hidden
//! `generate-man` command), so it always matches the command line the binary parses,
//! and xtask keeps to the standard library.

use crate::step::cargo_program;
use crate::XtaskError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the pages go, relative to the workspace root: `agentctl.1` and one page
/// per subcommand (`agentctl-jobs-tail.1`, ...).
pub const DIR: &str = "target/man";

/// Builds agentctl, has it write its pages into [`DIR`]; returns the directory.
pub fn run(root: &Path) -> Result<PathBuf, XtaskError> {
    let dir = root.join(DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| XtaskError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let output = Command::new(cargo_program())
        .current_dir(root)
        .args(["run", "-q", "-p", "agentctl", "--", "generate-man", "--dir"])
        .arg(&dir)
        .output()
        .map_err(|e| XtaskError::Failed(format!("could not run cargo: {e}")))?;
    if !output.status.success() {
        return Err(XtaskError::Failed(format!(
            "agentctl generate-man failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let top = dir.join("agentctl.1");
    let page = std::fs::read(&top)
        .map_err(|e| XtaskError::Failed(format!("no man page at {}: {e}", top.display())))?;
    if !page.starts_with(b".ie") && !page.starts_with(b".TH") {
        return Err(XtaskError::Failed(
            "agentctl generate-man wrote no man page".to_owned(),
        ));
    }
    Ok(dir)
}
