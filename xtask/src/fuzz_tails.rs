//! `cargo xtask fuzz-tails [CASES]`: the tail property test
//! (`tests/tests/tail_properties.rs`) with many more generated cases than
//! `cargo test` runs (default 5,000): random logs, encodings, chunkings and
//! WebSocket breaks through both clients against the test server.

use std::path::Path;
use std::process::Command;

use crate::XtaskError;

/// Cases when none are given.
pub const DEFAULT_CASES: u32 = 5_000;

/// What `fuzz-tails` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzOptions {
    /// How many generated cases to run.
    pub cases: u32,
}

impl FuzzOptions {
    /// `[CASES]`.
    pub fn parse(args: &[String]) -> Result<Self, XtaskError> {
        match args {
            [] => Ok(FuzzOptions {
                cases: DEFAULT_CASES,
            }),
            [n] => n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .map(|cases| FuzzOptions { cases })
                .ok_or_else(|| XtaskError::Usage(format!("fuzz-tails: `{n}` is not a case count"))),
            _ => Err(XtaskError::Usage(
                "fuzz-tails takes at most one argument".into(),
            )),
        }
    }
}

/// The cargo arguments of the run (the case count goes in the environment).
pub fn cargo_args() -> [&'static str; 8] {
    [
        "test",
        "--release",
        "-p",
        "agent-tests",
        "--test",
        "tail_properties",
        "--",
        "--nocapture",
    ]
}

/// Runs the property test with `options.cases` cases.
pub fn run(root: &Path, options: FuzzOptions) -> Result<(), XtaskError> {
    let args = cargo_args();
    println!(
        "==> xtask fuzz-tails: TAIL_PROPERTY_CASES={} cargo {}",
        options.cases,
        args.join(" ")
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args)
        .env("TAIL_PROPERTY_CASES", options.cases.to_string())
        .current_dir(root)
        .status()
        .map_err(|e| XtaskError::Failed(format!("fuzz-tails: could not run cargo: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(XtaskError::Failed(format!(
            "fuzz-tails: the property test failed ({status})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_parse() {
        assert_eq!(FuzzOptions::parse(&[]).unwrap().cases, DEFAULT_CASES);
        assert_eq!(FuzzOptions::parse(&["200".into()]).unwrap().cases, 200);
        assert!(FuzzOptions::parse(&["0".into()]).is_err());
        assert!(FuzzOptions::parse(&["many".into()]).is_err());
        assert!(FuzzOptions::parse(&["1".into(), "2".into()]).is_err());
    }
}
