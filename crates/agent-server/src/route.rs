//! The agent API's routes: from a method and a path to an operation, with every path
//! segment validated by `agent-proto`'s id types.

use std::fmt;

use agent_proto::{ClientError, JobId, NodeId, PluginLookup, ServeAppName, TaskId};
use http::Method;

/// A parsed request: the operation and its validated path segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// GET `health/`.
    Health,
    /// GET `jobs/`.
    ListJobs,
    /// GET `jobs/{id}/`.
    GetJob(JobId),
    /// GET `jobs/{id}/logs/` without an upgrade.
    JobLogs(JobId),
    /// GET `jobs/{id}/logs/` with a WebSocket upgrade.
    TailWebSocket(JobId),
    /// GET `jobs/{id}/logs/stream/`.
    TailHttp(JobId),
    /// POST `jobs/{id}/stop/`.
    StopJob(JobId),
    /// GET `gpu_status/`.
    GpuStatus,
    /// GET `nodes/`.
    ListNodes,
    /// GET `nodes/{id}/`.
    GetNode(NodeId),
    /// GET `tasks/`.
    ListTasks,
    /// GET `tasks/{id}/`.
    GetTask(TaskId),
    /// GET `serve_applications/`.
    ListServeApplications,
    /// GET `serve_applications/{name}/`.
    GetServeApplication(ServeAppName),
    /// DELETE `serve_applications/{name}/`.
    DeleteServeApplication(ServeAppName),
    /// GET `plugin_releases/`.
    ListPluginReleases,
    /// POST `plugin_releases/`.
    CreatePluginRelease,
    /// GET `plugin_releases/{lookup}/`.
    GetPluginRelease(PluginLookup),
    /// DELETE `plugin_releases/{lookup}/`.
    DeletePluginRelease(PluginLookup),
    /// POST `plugin_releases/{lookup}/run/`.
    RunPluginRelease(PluginLookup),
    /// POST `plugin_releases/run_debug/`.
    RunDebugPluginRelease,
}

/// A route without its segments: what a fault or a journal entry refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// GET `health/`.
    Health,
    /// GET `jobs/`.
    ListJobs,
    /// GET `jobs/{id}/`.
    GetJob,
    /// GET `jobs/{id}/logs/` without an upgrade.
    JobLogs,
    /// GET `jobs/{id}/logs/` with a WebSocket upgrade.
    TailWebSocket,
    /// GET `jobs/{id}/logs/stream/`.
    TailHttp,
    /// POST `jobs/{id}/stop/`.
    StopJob,
    /// GET `gpu_status/`.
    GpuStatus,
    /// GET `nodes/`.
    ListNodes,
    /// GET `nodes/{id}/`.
    GetNode,
    /// GET `tasks/`.
    ListTasks,
    /// GET `tasks/{id}/`.
    GetTask,
    /// GET `serve_applications/`.
    ListServeApplications,
    /// GET `serve_applications/{name}/`.
    GetServeApplication,
    /// DELETE `serve_applications/{name}/`.
    DeleteServeApplication,
    /// GET `plugin_releases/`.
    ListPluginReleases,
    /// POST `plugin_releases/`.
    CreatePluginRelease,
    /// GET `plugin_releases/{lookup}/`.
    GetPluginRelease,
    /// DELETE `plugin_releases/{lookup}/`.
    DeletePluginRelease,
    /// POST `plugin_releases/{lookup}/run/`.
    RunPluginRelease,
    /// POST `plugin_releases/run_debug/`.
    RunDebugPluginRelease,
}

impl Route {
    /// The route without its segments.
    pub fn kind(&self) -> RouteKind {
        match self {
            Route::Health => RouteKind::Health,
            Route::ListJobs => RouteKind::ListJobs,
            Route::GetJob(_) => RouteKind::GetJob,
            Route::JobLogs(_) => RouteKind::JobLogs,
            Route::TailWebSocket(_) => RouteKind::TailWebSocket,
            Route::TailHttp(_) => RouteKind::TailHttp,
            Route::StopJob(_) => RouteKind::StopJob,
            Route::GpuStatus => RouteKind::GpuStatus,
            Route::ListNodes => RouteKind::ListNodes,
            Route::GetNode(_) => RouteKind::GetNode,
            Route::ListTasks => RouteKind::ListTasks,
            Route::GetTask(_) => RouteKind::GetTask,
            Route::ListServeApplications => RouteKind::ListServeApplications,
            Route::GetServeApplication(_) => RouteKind::GetServeApplication,
            Route::DeleteServeApplication(_) => RouteKind::DeleteServeApplication,
            Route::ListPluginReleases => RouteKind::ListPluginReleases,
            Route::CreatePluginRelease => RouteKind::CreatePluginRelease,
            Route::GetPluginRelease(_) => RouteKind::GetPluginRelease,
            Route::DeletePluginRelease(_) => RouteKind::DeletePluginRelease,
            Route::RunPluginRelease(_) => RouteKind::RunPluginRelease,
            Route::RunDebugPluginRelease => RouteKind::RunDebugPluginRelease,
        }
    }

    /// The route's path segment (job id, node id, name or lookup), if it has one.
    pub fn segment(&self) -> Option<&str> {
        match self {
            Route::GetJob(j)
            | Route::JobLogs(j)
            | Route::TailWebSocket(j)
            | Route::TailHttp(j)
            | Route::StopJob(j) => Some(j.as_str()),
            Route::GetNode(n) => Some(n.as_str()),
            Route::GetTask(t) => Some(t.as_str()),
            Route::GetServeApplication(a) | Route::DeleteServeApplication(a) => Some(a.as_str()),
            Route::GetPluginRelease(l)
            | Route::DeletePluginRelease(l)
            | Route::RunPluginRelease(l) => Some(l.as_str()),
            _ => None,
        }
    }
}

/// Why a request has no route.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteError {
    /// No route has this path: 404.
    NotFound,
    /// The path exists, not with this method: 405, with the methods it allows.
    MethodNotAllowed(&'static [Method]),
    /// A path segment breaks the id rule: 400, with the reason.
    BadSegment(String),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NotFound => f.write_str("Not Found"),
            RouteError::MethodNotAllowed(_) => f.write_str("Method Not Allowed"),
            RouteError::BadSegment(reason) => f.write_str(reason),
        }
    }
}

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const GET_POST: &[Method] = &[Method::GET, Method::POST];
const GET_DELETE: &[Method] = &[Method::GET, Method::DELETE];

fn seg<T>(r: Result<T, ClientError>) -> Result<T, RouteError> {
    r.map_err(|e| RouteError::BadSegment(e.to_string()))
}

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
pub fn parse_route(method: &Method, path: &str, upgrade: bool) -> Result<Route, RouteError> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let parts: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    let allow = |allowed: &'static [Method], route: Route| -> Result<Route, RouteError> {
        if allowed.contains(method) {
            Ok(route)
        } else {
            Err(RouteError::MethodNotAllowed(allowed))
        }
    };
    let is = |m: Method| *method == m;
    match parts.as_slice() {
        ["health"] => allow(GET, Route::Health),
        ["gpu_status"] => allow(GET, Route::GpuStatus),
        ["jobs"] => allow(GET, Route::ListJobs),
        ["jobs", id] => {
            let id = seg(JobId::new(*id))?;
            allow(GET, Route::GetJob(id))
        }
        ["jobs", id, "logs"] => {
            let id = seg(JobId::new(*id))?;
            if upgrade {
                allow(GET, Route::TailWebSocket(id))
            } else {
                allow(GET, Route::JobLogs(id))
            }
        }
        ["jobs", id, "logs", "stream"] => {
            let id = seg(JobId::new(*id))?;
            allow(GET, Route::TailHttp(id))
        }
        ["jobs", id, "stop"] => {
            let id = seg(JobId::new(*id))?;
            allow(POST, Route::StopJob(id))
        }
        ["nodes"] => allow(GET, Route::ListNodes),
        ["nodes", id] => {
            let id = seg(NodeId::new(*id))?;
            allow(GET, Route::GetNode(id))
        }
        ["tasks"] => allow(GET, Route::ListTasks),
        ["tasks", id] => {
            let id = seg(TaskId::new(*id))?;
            allow(GET, Route::GetTask(id))
        }
        ["serve_applications"] => allow(GET, Route::ListServeApplications),
        ["serve_applications", name] => {
            let name = seg(ServeAppName::new(*name))?;
            if is(Method::DELETE) {
                Ok(Route::DeleteServeApplication(name))
            } else {
                allow(GET_DELETE, Route::GetServeApplication(name))
            }
        }
        ["plugin_releases"] => {
            if is(Method::POST) {
                Ok(Route::CreatePluginRelease)
            } else {
                allow(GET_POST, Route::ListPluginReleases)
            }
        }
        ["plugin_releases", "run_debug"] if is(Method::POST) => Ok(Route::RunDebugPluginRelease),
        ["plugin_releases", lookup] => {
            let lookup = seg(PluginLookup::new(*lookup))?;
            if is(Method::DELETE) {
                Ok(Route::DeletePluginRelease(lookup))
            } else {
                allow(GET_DELETE, Route::GetPluginRelease(lookup))
            }
        }
        ["plugin_releases", lookup, "run"] => {
            let lookup = seg(PluginLookup::new(*lookup))?;
            allow(POST, Route::RunPluginRelease(lookup))
        }
        _ => Err(RouteError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
