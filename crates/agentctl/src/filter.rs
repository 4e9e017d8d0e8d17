//! `--include REGEX` / `--exclude REGEX`: which log lines are printed (stern's
//! filters). A line is printed when it matches no `--exclude` and, if any
//! `--include` is given, at least one of them; the others are counted.

use agent_proto::ClientError;
use regex::{Regex, RegexSet};

/// The compiled filters of one command (each set matched in one pass per line).
#[derive(Debug, Clone, Default)]
pub struct LineFilter {
    include: Option<RegexSet>,
    exclude: Option<RegexSet>,
}

impl LineFilter {
    /// Compiles the patterns: a 400 naming the bad one otherwise. The `regex` crate's
    /// own size limits bound what a pattern may cost, and it matches in linear time.
    pub fn new(include: &[String], exclude: &[String]) -> Result<LineFilter, ClientError> {
        Ok(LineFilter {
            include: set("--include", include)?,
            exclude: set("--exclude", exclude)?,
        })
    }

    /// True when `line` is printed.
    pub fn keeps(&self, line: &str) -> bool {
        if self.exclude.as_ref().is_some_and(|x| x.is_match(line)) {
            return false;
        }
        self.include.as_ref().is_none_or(|i| i.is_match(line))
    }
}

fn set(flag: &'static str, patterns: &[String]) -> Result<Option<RegexSet>, ClientError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    // One by one first, so the error names the pattern that does not compile.
    for p in patterns {
        Regex::new(p).map_err(|e| ClientError::invalid(flag, one_line(&e.to_string())))?;
    }
    RegexSet::new(patterns)
        .map(Some)
        .map_err(|e| ClientError::invalid(flag, one_line(&e.to_string())))
}

/// The regex crate's errors draw a caret under the pattern over several lines.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn f(include: &[&str], exclude: &[&str]) -> LineFilter {
        let s = |v: &[&str]| v.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        LineFilter::new(&s(include), &s(exclude)).unwrap()
    }

    #[test]
    fn include_any_exclude_wins() {
        let filter = f(&["ERROR", "^Trace"], &["ignored"]);
        assert!(filter.keeps("an ERROR here"));
        assert!(filter.keeps("Traceback (most recent call last):"));
        assert!(!filter.keeps("  Traceback indented"));
        assert!(!filter.keeps("ERROR but ignored"));
        assert!(!filter.keeps("INFO fine"));
        assert!(f(&[], &[]).keeps("anything"));
        assert!(f(&[], &["x"]).keeps("abc"));
    }

    #[test]
    fn a_bad_pattern_is_a_400_that_names_the_flag() {
        let e = LineFilter::new(&["(".into()], &[]).unwrap_err();
        assert_eq!(e.status_code(), 400);
        assert!(e.to_string().contains("--include"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Kept and dropped lines partition the input: each line is one or the other,
        /// and a line is kept exactly when the rule says so.
        #[test]
        fn the_rule_holds_line_by_line(lines in proptest::collection::vec("[a-c ]{0,8}", 0..40)) {
            let filter = f(&["a"], &["bb"]);
            for l in &lines {
                prop_assert_eq!(filter.keeps(l), l.contains('a') && !l.contains("bb"));
            }
        }
    }
}
