//! The table backwards: from an incoming method and path to an [`Operation`], with
//! its segment percent-decoded and validated. agent-server's router is this.

use super::{Operation, OperationId};
use crate::query::decode_path_segment;
use http::Method;
use std::fmt;
use std::sync::OnceLock;

/// Why a request matches no operation. A server-side answer, not a client error:
/// the router turns it into 404, 405 or 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchError {
    /// No operation has this path: 404.
    NotFound,
    /// The path exists, not with this method: 405, with the methods it allows.
    MethodNotAllowed(Vec<Method>),
    /// A path segment breaks its id's rule: 400, with the reason.
    BadSegment(String),
}

impl MatchError {
    /// The HTTP status the router answers with.
    pub fn status(&self) -> u16 {
        match self {
            MatchError::NotFound => 404,
            MatchError::MethodNotAllowed(_) => 405,
            MatchError::BadSegment(_) => 400,
        }
    }
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchError::NotFound => f.write_str("Not Found"),
            MatchError::MethodNotAllowed(_) => f.write_str("Method Not Allowed"),
            MatchError::BadSegment(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for MatchError {}

/// A template's shape: its literal parts and where its placeholder is.
fn parts(path: &str) -> Vec<&str> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

fn is_placeholder(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

/// True when `segment` is one of the API's own words (a literal part of some
/// operation's path, `jobs`, `logs`, `run_debug`, ...), not an id: what a log
/// line may show of a path without showing a caller's ids.
///
/// ```
/// use agent_proto::api::is_route_word;
/// assert!(is_route_word("serve_applications") && is_route_word("compose-config"));
/// assert!(!is_route_word("raysubmit_1") && !is_route_word("{job_id}"));
/// ```
pub fn is_route_word(segment: &str) -> bool {
    !is_placeholder(segment)
        && OperationId::ALL
            .iter()
            .any(|op| op.template().split('/').any(|part| part == segment))
}

/// Every operation with its template cut into parts, once per process (the router
/// runs on every request).
fn templates() -> &'static [(OperationId, Vec<&'static str>)] {
    static TEMPLATES: OnceLock<Vec<(OperationId, Vec<&'static str>)>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        OperationId::ALL
            .iter()
            .map(|&op| (op, parts(op.template())))
            .collect()
    })
}

/// How `path`'s parts fit `template`'s: `Some((literal count, segment))` when
/// every literal part is equal.
fn fit(template: &[&str], path: &[&str]) -> Option<(usize, Option<String>)> {
    if template.len() != path.len() {
        return None;
    }
    let mut literals = 0;
    let mut segment = None;
    for (t, p) in template.iter().zip(path) {
        // decoded after the split, so an encoded `/` never makes a segment
        let p = decode_path_segment(p);
        if is_placeholder(t) {
            segment = Some(p);
        } else if *t == p {
            literals += 1;
        } else {
            return None;
        }
    }
    Some((literals, segment))
}

/// The operation of `method` on `path` (relative to the API's base, without the
/// query; a trailing slash is optional). `upgrade` tells a WebSocket upgrade
/// request, which reaches the WebSocket tail on its path.
///
/// Where a literal and a placeholder both fit (`containers/docker/` and
/// `containers/{container_id}`), the literal wins; every part of the path is
/// percent-decoded (after the split on `/`), the segment then validated by its id type (a 400 otherwise).
///
/// ```
/// use agent_proto::api::{match_request, MatchError, Operation};
/// use http::Method;
///
/// let op = match_request(&Method::GET, "jobs/raysubmit_1/logs/", true).unwrap();
/// assert!(matches!(op, Operation::TailWebSocket(_)));
/// let op = match_request(&Method::GET, "plugin_releases/demo%401.0", false).unwrap();
/// assert_eq!(op.segment(), Some("demo@1.0"));
/// assert_eq!(match_request(&Method::GET, "nope/", false), Err(MatchError::NotFound));
/// assert_eq!(
///     match_request(&Method::DELETE, "jobs/", false),
///     Err(MatchError::MethodNotAllowed(vec![Method::GET]))
/// );
/// assert!(matches!(match_request(&Method::GET, "jobs/a%2Fb/", false), Err(MatchError::BadSegment(_))));
/// ```
pub fn match_request(method: &Method, path: &str, upgrade: bool) -> Result<Operation, MatchError> {
    let path = parts(path);
    // every operation whose template fits, the most literal first, the WebSocket
    // tail first on an upgrade (stable: the table's order breaks ties)
    let mut fits: Vec<(OperationId, usize, Option<String>)> = templates()
        .iter()
        .filter(|(op, _)| upgrade || !op.websocket())
        .filter_map(|(op, template)| fit(template, &path).map(|(n, seg)| (*op, n, seg)))
        .collect();
    fits.sort_by_key(|(op, literals, _)| (std::cmp::Reverse(*literals), !op.websocket()));
    let chosen = fits
        .iter()
        .position(|(op, _, _)| op.method() == method)
        .unwrap_or(0);
    let Some((op, _, segment)) = fits.get(chosen).cloned() else {
        return Err(MatchError::NotFound);
    };
    // a bad segment is a 400 before a wrong method is a 405, as before the table
    let operation = op
        .with_segment(segment)
        .map_err(|e| MatchError::BadSegment(e.to_string()))?;
    if op.method() == method {
        return Ok(operation);
    }
    let mut allowed: Vec<Method> = Vec::new();
    for (op, _, _) in &fits {
        let m = op.method();
        if !allowed.contains(&m) {
            allowed.push(m);
        }
    }
    Err(MatchError::MethodNotAllowed(allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_its_placeholder_and_a_trailing_rule() {
        for op in OperationId::ALL {
            let t = op.template();
            assert!(!t.starts_with('/'), "{op:?}");
            let holes: Vec<_> = parts(t).into_iter().filter(|p| is_placeholder(p)).collect();
            match op.segment_name() {
                Some(name) => assert_eq!(holes, [format!("{{{name}}}")], "{op:?}"),
                None => assert!(holes.is_empty(), "{op:?}"),
            }
        }
    }

    #[test]
    fn idempotent_is_what_the_method_allows() {
        // the transport retries by method; the table must never say otherwise
        for op in OperationId::ALL {
            let by_method = matches!(op.method(), Method::GET | Method::DELETE);
            assert_eq!(op.idempotent(), by_method, "{op:?}");
        }
    }

    #[test]
    fn no_two_operations_share_a_method_and_a_template() {
        for (i, a) in OperationId::ALL.iter().enumerate() {
            for b in &OperationId::ALL[i + 1..] {
                let same = a.method() == b.method()
                    && a.template() == b.template()
                    && a.websocket() == b.websocket();
                assert!(!same, "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn literals_win_and_methods_choose() {
        let m = |method: Method, path: &str| match_request(&method, path, false).map(|o| o.id());
        assert_eq!(
            m(Method::GET, "containers/docker/"),
            Ok(OperationId::ListDockerContainers)
        );
        assert_eq!(
            m(Method::GET, "containers/docker"),
            Ok(OperationId::ListDockerContainers)
        );
        assert_eq!(
            m(Method::GET, "containers/7"),
            Ok(OperationId::GetContainer)
        );
        assert_eq!(
            m(Method::PATCH, "containers/7/"),
            Ok(OperationId::UpdateContainer)
        );
        assert_eq!(
            m(Method::GET, "plugin_releases/run_debug/"),
            Ok(OperationId::GetPluginRelease)
        );
        assert_eq!(
            m(Method::POST, "plugin_releases/run_debug/"),
            Ok(OperationId::RunDebugPluginRelease)
        );
        assert_eq!(m(Method::GET, "jobs/j1/logs/"), Ok(OperationId::JobLogs));
        assert_eq!(
            m(Method::PUT, "resources/policy/"),
            Err(MatchError::MethodNotAllowed(vec![
                Method::GET,
                Method::PATCH
            ]))
        );
        assert_eq!(m(Method::GET, ""), Err(MatchError::NotFound));
        assert!(matches!(
            m(Method::GET, "jobs//"),
            Err(MatchError::BadSegment(_))
        ));
        assert!(matches!(
            m(Method::POST, "jobs/../"),
            Err(MatchError::BadSegment(_))
        ));
    }
}
