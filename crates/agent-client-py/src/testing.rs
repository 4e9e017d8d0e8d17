//! [`TestServer`]: agent-sample's sample cluster in-process, for Python tests.
//!
//! The server runs on a thread of its own (`start_blocking`), so it answers while
//! Python code holds the GIL.
//!
//! With the crate's `faults` feature (the test wheel, not the one users install) it
//! is agent-testkit's server instead: faults on demand are armed by name (routes are
//! the snake_case names of `RouteKind`: `list_jobs`, `tail_websocket`, ... or `any`)
//! and the request journal is read.

#[cfg(feature = "faults")]
use std::time::Duration;

use agent_sample::JobSpec;
#[cfg(feature = "faults")]
use agent_testkit::{Fault, FaultTarget, RouteKind, TailFault};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::Mutex;

use crate::fork::ForkOwned;

/// The server on its thread: agent-testkit's with the `faults` feature, else
/// agent-sample's (the same cluster, no faults, no journal).
#[cfg(feature = "faults")]
type BlockingServer = agent_testkit::BlockingTestServer;
/// The server on its thread: agent-testkit's with the `faults` feature, else
/// agent-sample's (the same cluster, no faults, no journal).
#[cfg(not(feature = "faults"))]
type BlockingServer = agent_sample::BlockingSampleServer;

/// Starts the sample cluster's server on a thread of its own.
fn start() -> Result<BlockingServer, agent_sample::SampleError> {
    #[cfg(feature = "faults")]
    return agent_testkit::AgentTestServer::sample().start_blocking();
    #[cfg(not(feature = "faults"))]
    agent_sample::SampleServer::sample().start_blocking()
}

#[cfg(feature = "faults")]
const ROUTES: &[(&str, RouteKind)] = &[
    ("health", RouteKind::Health),
    ("list_jobs", RouteKind::ListJobs),
    ("get_job", RouteKind::GetJob),
    ("job_logs", RouteKind::JobLogs),
    ("tail_websocket", RouteKind::TailWebSocket),
    ("tail_http", RouteKind::TailHttp),
    ("stop_job", RouteKind::StopJob),
    ("gpu_status", RouteKind::GpuStatus),
    ("list_nodes", RouteKind::ListNodes),
    ("get_node", RouteKind::GetNode),
    ("list_tasks", RouteKind::ListTasks),
    ("get_task", RouteKind::GetTask),
    ("list_serve_applications", RouteKind::ListServeApplications),
    ("get_serve_application", RouteKind::GetServeApplication),
    (
        "delete_serve_application",
        RouteKind::DeleteServeApplication,
    ),
    ("list_plugin_releases", RouteKind::ListPluginReleases),
    ("create_plugin_release", RouteKind::CreatePluginRelease),
    ("get_plugin_release", RouteKind::GetPluginRelease),
    ("delete_plugin_release", RouteKind::DeletePluginRelease),
    ("run_plugin_release", RouteKind::RunPluginRelease),
    ("run_debug_plugin_release", RouteKind::RunDebugPluginRelease),
];

/// A route by its name here, else by its operation's SDK name in the description
/// (`get_system_status`, `create_container`, ...).
#[cfg(feature = "faults")]
fn route(name: &str) -> PyResult<RouteKind> {
    ROUTES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .or_else(|| RouteKind::from_name(name))
        .ok_or_else(|| PyValueError::new_err(format!("unknown route {name:?}")))
}

#[cfg(feature = "faults")]
fn secs(s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The sample cluster served on `127.0.0.1` (see `agent_sample::sample`):
/// jobs in every state with real Ray logs, two nodes, four tasks, the Serve app
/// `hello`, the plugin release `demo@1.0.0`. `stop()` (or dropping it) stops it.
#[pyclass(frozen, module = "agent_client._native")]
pub struct TestServer {
    /// Leaked, never stopped, in a forked child: its thread is the parent's.
    server: ForkOwned<Mutex<Option<BlockingServer>>>,
    url: String,
    token: String,
}

impl TestServer {
    fn with<T>(&self, f: impl FnOnce(&BlockingServer) -> T) -> PyResult<T> {
        let guard = self
            .server
            .get()
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the test server's lock is poisoned"))?;
        match guard.as_ref() {
            Some(s) => Ok(f(s)),
            None => Err(PyRuntimeError::new_err("the test server was stopped")),
        }
    }
}

#[pymethods]
impl TestServer {
    /// Starts the sample cluster's server.
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let server = py
            .detach(start)
            .map_err(|e| PyRuntimeError::new_err(format!("the test server did not start: {e}")))?;
        Ok(TestServer {
            url: server.url(),
            token: server.token().to_owned(),
            server: ForkOwned::new(Mutex::new(Some(server))),
        })
    }

    /// The base URL (`http://127.0.0.1:PORT/`).
    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    /// The agent token the server accepts.
    #[getter]
    fn token(&self) -> String {
        self.token.clone()
    }

    fn __repr__(&self) -> String {
        format!("TestServer(url={:?})", self.url)
    }

    /// Stops the server (its connections close); idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let Some(server) = self.server.get_local() else {
            return Ok(()); // a forked child: the server is the parent's
        };
        let taken = server
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the test server's lock is poisoned"))?
            .take();
        py.detach(move || drop(taken));
        Ok(())
    }

    /// The job ids, in the order the server lists them.
    fn job_ids(&self) -> PyResult<Vec<String>> {
        self.with(|s| s.job_ids())
    }

    /// Adds a finished job: `lines` given, or `generate` lines of `line_bytes` bytes;
    /// `endless=True` writes lines of `line_bytes` bytes at `rate` a second until
    /// stopped; `running=True` keeps it RUNNING once its lines are written.
    #[pyo3(signature = (job_id, *, lines=None, generate=None, line_bytes=100, endless=false, rate=None, running=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_job(
        &self,
        job_id: String,
        lines: Option<Vec<String>>,
        generate: Option<u64>,
        line_bytes: usize,
        endless: bool,
        rate: Option<f64>,
        running: bool,
    ) -> PyResult<()> {
        let mut spec = JobSpec::new(job_id);
        if let Some(lines) = lines {
            spec = spec.lines(lines);
        }
        if let Some(n) = generate {
            spec = spec.generate(n, line_bytes);
        }
        if endless {
            spec = spec.endless(line_bytes);
        }
        if let Some(r) = rate {
            spec = spec.rate(r);
        }
        if running {
            spec = spec.keeps_running();
        }
        self.with(|s| s.add_job(spec))?
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Adds a node, a task or a Serve application (`kind`: `node`, `task`, `serve`)
    /// from its JSON (as Ray's State or Serve API describes it).
    fn add_object(&self, kind: &str, json: &str) -> PyResult<()> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| PyValueError::new_err(e.to_string()))?;
        match kind {
            "node" => self.with(|s| s.add_node(value)),
            "task" => self.with(|s| s.add_task(value)),
            "serve" => self.with(|s| s.add_serve_application(value)),
            other => Err(PyValueError::new_err(format!("unknown kind {other:?}"))),
        }
    }

    /// Appends lines to a job's log; False when there is no such job.
    fn append_lines(&self, job_id: &str, lines: Vec<String>) -> PyResult<bool> {
        self.with(|s| s.append_lines(job_id, lines))
    }

    /// Ends a running job as SUCCEEDED; False when there is no such job.
    fn finish_job(&self, job_id: &str) -> PyResult<bool> {
        self.with(|s| s.finish_job(job_id))
    }

    #[cfg(feature = "faults")]
    /// How many requests of `route` the server received.
    fn request_count(&self, route_name: &str) -> PyResult<usize> {
        let kind = route(route_name)?;
        self.with(|s| s.requests(kind).len())
    }

    #[cfg(feature = "faults")]
    /// The headers (name, value) of the last request of `route`, if any.
    fn last_request_headers(&self, route_name: &str) -> PyResult<Option<Vec<(String, String)>>> {
        let kind = route(route_name)?;
        self.with(|s| {
            s.requests(kind).last().map(|e| {
                e.headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect()
            })
        })
    }

    #[cfg(feature = "faults")]
    /// Arms an HTTP fault on `route` (or `any`), optionally for one `id` only.
    ///
    /// `kind`: `status` (answers `status` with `body_json` or `text`, or empty),
    /// `gpu_unavailable` (`text` is the detail), `validation` (`field`, `text`),
    /// `not_json`, `delay` (`seconds`), `stall`, `close_after_bytes` (`bytes`).
    /// `headers` are added to the answer, `times` limits it to the first N requests,
    /// `after` waits that many seconds first.
    #[pyo3(signature = (route_name, kind, *, status=500, body_json=None, text=None, field=None, seconds=0.0, bytes=0, headers=None, times=None, after=None, id=None))]
    #[allow(clippy::too_many_arguments)]
    fn set_fault(
        &self,
        route_name: &str,
        kind: &str,
        status: u16,
        body_json: Option<&str>,
        text: Option<String>,
        field: Option<&str>,
        seconds: f64,
        bytes: u64,
        headers: Option<Vec<(String, String)>>,
        times: Option<u32>,
        after: Option<f64>,
        id: Option<String>,
    ) -> PyResult<()> {
        let mut fault = match kind {
            "status" => match (body_json, text) {
                (Some(j), _) => Fault::json(
                    status,
                    serde_json::from_str(j).map_err(|e| PyValueError::new_err(e.to_string()))?,
                ),
                (None, Some(t)) => Fault::text(status, t),
                (None, None) => Fault::status(status),
            },
            "gpu_unavailable" => Fault::gpu_unavailable(text.unwrap_or_default()),
            "validation" => Fault::validation(
                field.unwrap_or("field"),
                text.as_deref().unwrap_or("field required"),
            ),
            "not_json" => Fault::not_json(),
            "delay" => Fault::delay(secs(seconds)?),
            "stall" => Fault::stall(),
            "close_after_bytes" => Fault::close_after_bytes(bytes),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown fault kind {other:?}"
                )))
            }
        };
        for (k, v) in headers.unwrap_or_default() {
            fault = fault.header(&k, &v);
        }
        if let Some(n) = times {
            fault = fault.times(n);
        }
        if let Some(a) = after {
            fault = fault.after(secs(a)?);
        }
        let mut target = if route_name == "any" {
            FaultTarget::any()
        } else {
            FaultTarget::route(route(route_name)?)
        };
        if let Some(id) = id {
            target = target.id(id);
        }
        self.with(|s| s.set_fault(target, fault))
    }

    #[cfg(feature = "faults")]
    /// Clears every HTTP fault.
    fn clear_faults(&self) -> PyResult<()> {
        self.with(|s| s.clear_faults())
    }

    #[cfg(feature = "faults")]
    /// Arms a fault inside the log tails of `job_id` (or of every job when `None`).
    ///
    /// `kind`: `error_after` (`lines`, `message`), `drop_after` (`events`),
    /// `not_json`, `bare_lines`, `oversized` (`lines`, `bytes`, `fragment`),
    /// `endless_line` (`lines`), `invalid_utf8` (`lines`), `silent_for` (`lines`,
    /// `seconds`). `protocol` `websocket` or `http` limits it to one protocol.
    #[pyo3(signature = (job_id, kind, *, lines=0, events=0, bytes=0, fragment=None, seconds=0.0, message=String::new(), protocol=None, times=None))]
    #[allow(clippy::too_many_arguments)]
    fn set_tail_fault(
        &self,
        job_id: Option<&str>,
        kind: &str,
        lines: u64,
        events: u64,
        bytes: usize,
        fragment: Option<usize>,
        seconds: f64,
        message: String,
        protocol: Option<&str>,
        times: Option<u32>,
    ) -> PyResult<bool> {
        let mut fault = match kind {
            "error_after" => TailFault::error_after(lines, message),
            "drop_after" => TailFault::drop_after(events),
            "not_json" => TailFault::not_json(),
            "bare_lines" => TailFault::bare_lines(),
            "oversized" => {
                let f = TailFault::oversized(lines, bytes);
                match fragment {
                    Some(n) => f.fragmented(n),
                    None => f,
                }
            }
            "endless_line" => TailFault::endless_line(lines),
            "invalid_utf8" => TailFault::invalid_utf8(lines),
            "silent_for" => TailFault::silent_for(lines, secs(seconds)?),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown tail fault kind {other:?}"
                )))
            }
        };
        fault = match protocol {
            None => fault,
            Some("websocket") => fault.websocket_only(),
            Some("http") => fault.http_only(),
            Some(other) => {
                return Err(PyValueError::new_err(format!("unknown protocol {other:?}")))
            }
        };
        if let Some(n) = times {
            fault = fault.times(n);
        }
        self.with(|s| match job_id {
            Some(job) => s.set_tail_fault(job, fault),
            None => {
                s.set_tail_fault_all(fault);
                true
            }
        })
    }
}
