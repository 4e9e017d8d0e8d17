//! `cargo xtask man`: writes agentctl's man page, `target/man/agentctl.1`.
//!
//! The page is rendered by agentctl itself (clap_mangen, behind its hidden
//! `generate-man` command), so it always matches the command line the binary parses,
//! and xtask keeps to the standard library.

use crate::step::cargo_program;
use crate::XtaskError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the page goes, relative to the workspace root.
pub const PAGE: &str = "target/man/agentctl.1";

/// Builds agentctl, has it render its page, writes it to [`PAGE`].
pub fn run(root: &Path) -> Result<PathBuf, XtaskError> {
    let output = Command::new(cargo_program())
        .current_dir(root)
        .args(["run", "-q", "-p", "agentctl", "--", "generate-man"])
        .output()
        .map_err(|e| XtaskError::Failed(format!("could not run cargo: {e}")))?;
    if !output.status.success() {
        return Err(XtaskError::Failed(format!(
            "agentctl generate-man failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    if !output.stdout.starts_with(b".ie") && !output.stdout.starts_with(b".TH") {
        return Err(XtaskError::Failed(
            "agentctl generate-man printed no man page".to_owned(),
        ));
    }
    let path = root.join(PAGE);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| XtaskError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&path, &output.stdout)
        .map_err(|e| XtaskError::Failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}
