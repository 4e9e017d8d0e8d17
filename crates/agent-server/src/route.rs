//! The agent API's routes: from a method and a path to an operation, with every path
//! segment percent-decoded and validated by `agent-proto`'s id types.
//!
//! The routes are not written here: they are `agent_proto::api`'s table, read
//! backwards ([`agent_proto::api::match_request`]), the same table the clients
//! build their requests from. A route is an [`agent_proto::api::Operation`].

#[cfg(test)]
use http::Method;

/// A parsed request: the operation and its validated path segment.
pub type Route = agent_proto::api::Operation;

/// A route without its segment: what a fault or a journal entry refers to.
pub type RouteKind = agent_proto::api::OperationId;

/// Why a request has no route: 404, 405 with the methods the path allows, or 400
/// for a segment that breaks its id's rule. A server-side error, not a client's.
pub type RouteError = agent_proto::api::MatchError;

/// Finds the route of `method` and `path` (relative to the API root, without the
/// query; a trailing slash is optional). `upgrade` tells a WebSocket upgrade request.
///
/// ```
/// use agent_server::{parse_route, Route, RouteError};
/// use http::Method;
///
/// let r = parse_route(&Method::GET, "jobs/raysubmit_1/logs/", false).unwrap();
/// assert!(matches!(r, Route::JobLogs(_)));
/// let r = parse_route(&Method::GET, "jobs/raysubmit_1/logs/", true).unwrap();
/// assert!(matches!(r, Route::TailWebSocket(_)));
/// assert_eq!(parse_route(&Method::GET, "nope/", false), Err(RouteError::NotFound));
/// assert!(matches!(parse_route(&Method::DELETE, "jobs/", false), Err(RouteError::MethodNotAllowed(_))));
/// assert!(matches!(parse_route(&Method::GET, "jobs/a%2Fb/", false), Err(RouteError::BadSegment(_))));
/// ```
pub fn parse_route(method: &http::Method, path: &str, upgrade: bool) -> Result<Route, RouteError> {
    agent_proto::api::match_request(method, path, upgrade)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &[Method] = &[Method::POST];

    #[test]
    fn every_route_of_the_table_parses() {
        let cases: &[(Method, &str, bool, RouteKind)] = &[
            (Method::GET, "health/", false, RouteKind::Health),
            (Method::GET, "jobs/", false, RouteKind::ListJobs),
            (Method::GET, "jobs/j1/", false, RouteKind::GetJob),
            (Method::GET, "jobs/j1/logs/", false, RouteKind::JobLogs),
            (Method::GET, "jobs/j1/logs/", true, RouteKind::TailWebSocket),
            (
                Method::GET,
                "jobs/j1/logs/stream/",
                false,
                RouteKind::TailHttp,
            ),
            (Method::POST, "jobs/j1/stop/", false, RouteKind::StopJob),
            (Method::GET, "gpu_status/", false, RouteKind::GpuStatus),
            (Method::GET, "nodes/", false, RouteKind::ListNodes),
            (Method::GET, "nodes/n1/", false, RouteKind::GetNode),
            (Method::GET, "tasks/", false, RouteKind::ListTasks),
            (Method::GET, "tasks/t1/", false, RouteKind::GetTask),
            (
                Method::GET,
                "serve_applications/",
                false,
                RouteKind::ListServeApplications,
            ),
            (
                Method::GET,
                "serve_applications/hello/",
                false,
                RouteKind::GetServeApplication,
            ),
            (
                Method::DELETE,
                "serve_applications/hello/",
                false,
                RouteKind::DeleteServeApplication,
            ),
            (
                Method::GET,
                "plugin_releases/",
                false,
                RouteKind::ListPluginReleases,
            ),
            (
                Method::POST,
                "plugin_releases/",
                false,
                RouteKind::CreatePluginRelease,
            ),
            (
                Method::GET,
                "plugin_releases/demo@1.0.0",
                false,
                RouteKind::GetPluginRelease,
            ),
            (
                Method::DELETE,
                "plugin_releases/7/",
                false,
                RouteKind::DeletePluginRelease,
            ),
            (
                Method::POST,
                "plugin_releases/demo@1.0.0/run/",
                false,
                RouteKind::RunPluginRelease,
            ),
            (
                Method::POST,
                "plugin_releases/run_debug/",
                false,
                RouteKind::RunDebugPluginRelease,
            ),
        ];
        for (m, p, up, kind) in cases {
            let r = parse_route(m, p, *up).unwrap_or_else(|e| panic!("{m} {p}: {e}"));
            assert_eq!(r.kind(), *kind, "{m} {p}");
        }
    }

    #[test]
    fn wrong_methods_and_bad_segments() {
        assert!(matches!(
            parse_route(&Method::POST, "jobs/j1/", false),
            Err(RouteError::MethodNotAllowed(_))
        ));
        assert!(matches!(
            parse_route(&Method::GET, "jobs/j1/stop/", false),
            Err(RouteError::MethodNotAllowed(m)) if m == POST
        ));
        assert!(matches!(
            parse_route(&Method::GET, "jobs/../", false),
            Err(RouteError::BadSegment(_))
        ));
        assert_eq!(
            parse_route(&Method::GET, "", false),
            Err(RouteError::NotFound)
        );
        assert!(matches!(
            parse_route(&Method::GET, "jobs//", false),
            Err(RouteError::BadSegment(_))
        ));
        assert!(matches!(
            parse_route(&Method::GET, "plugin_releases/run_debug/", false),
            Ok(Route::GetPluginRelease(_))
        ));
    }
}
