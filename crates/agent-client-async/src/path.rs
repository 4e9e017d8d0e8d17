//! Building request paths from validated segments, query strings, and raw paths.
//!
//! Every segment a caller supplies reaches a path only through an `agent_proto` id
//! type or [`RawPath`], so no caller input can change which endpoint is called.

use agent_proto::ClientError;

pub(crate) use agent_proto::query::with_query;

/// A caller-supplied path for a raw request, checked segment by segment.
///
/// Segments are 1 to 200 characters of `[A-Za-z0-9_.@+-]`, never `.` or `..`; a
/// trailing slash is kept (the agent's paths end with one). A query goes in the
/// raw request's separate `query` argument, where it is percent-encoded.
///
/// ```
/// use agent_client_async::RawPath;
///
/// assert_eq!(RawPath::new("jobs/raysubmit_1/").unwrap().as_str(), "jobs/raysubmit_1/");
/// assert_eq!(RawPath::new("../health").unwrap_err().status_code(), 400);
/// assert_eq!(RawPath::new("jobs/?x=1").unwrap_err().status_code(), 400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawPath(String);

impl RawPath {
    /// Checks `path` (a leading slash is dropped).
    pub fn new(path: &str) -> Result<Self, ClientError> {
        const WHAT: &str = "raw path";
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        if trimmed.is_empty() {
            return Err(ClientError::invalid(WHAT, "must not be empty"));
        }
        if trimmed.len() > 2048 {
            return Err(ClientError::invalid(WHAT, "is longer than 2048 bytes"));
        }
        let body = trimmed.strip_suffix('/').unwrap_or(trimmed);
        for seg in body.split('/') {
            if seg.is_empty() {
                return Err(ClientError::invalid(WHAT, "has an empty segment (\"//\")"));
            }
            if seg == "." || seg == ".." {
                return Err(ClientError::invalid(
                    WHAT,
                    "must not contain \".\" or \"..\" segments",
                ));
            }
            if seg.len() > 200 {
                return Err(ClientError::invalid(
                    WHAT,
                    "has a segment longer than 200 bytes",
                ));
            }
            let ok =
                |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '+');
            if let Some(bad) = seg.chars().find(|c| !ok(*c)) {
                return Err(ClientError::invalid(
                    WHAT,
                    format!("contains {bad:?}; segments allow A-Z, a-z, 0-9 and '_', '-', '.', '@', '+' (pass a query separately)"),
                ));
            }
        }
        Ok(RawPath(trimmed.to_owned()))
    }

    /// The path, relative to the base URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_encoded() {
        assert_eq!(
            with_query("plugin_releases/", &[("search", "a b&c=d"), ("page", "2")]),
            "plugin_releases/?search=a%20b%26c%3Dd&page=2"
        );
        assert_eq!(with_query::<&str, &str>("jobs/", &[]), "jobs/");
        assert_eq!(with_query("x/", &[("k", "é")]), "x/?k=%C3%A9");
    }

    #[test]
    fn raw_paths_refuse_what_could_escape() {
        for ok in [
            "health/",
            "/jobs/",
            "plugin_releases/demo@1.0.0/run/",
            "a/b/c",
        ] {
            assert!(RawPath::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/",
            "..",
            "a/../b",
            "./a",
            "a//b",
            "a?b",
            "a#b",
            "a%2e",
            "a b",
            "a\nb",
            "http://x/",
        ] {
            assert_eq!(
                RawPath::new(bad).map_err(|e| e.status_code()),
                Err(400),
                "{bad:?}"
            );
        }
    }
}
