//! [`Core`]: the Rust client behind one Python `AgentClient` or `AsyncAgentClient`.
//!
//! Every operation comes in two forms: a blocking one (`op`, `job_logs`, `tail`,
//! ...) that waits with the GIL released ([`crate::runtime::wait`]), and an
//! awaitable one (`op_async`, ...) for asyncio ([`crate::runtime::awaitable`]).
//! `op` names an operation of the description ([`crate::operations`]); the path
//! segment a caller gives goes through the description's id type before any
//! request: `get_job("../x")` is a 400, never a path.

use std::time::Duration;

use agent_client_async::{AsyncAgentClient, ClientError, Protocol, StreamLimits};
use agent_proto::{Secret, Timeouts};
use agent_transport::long_poll::LongPollTransport;
use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::to_py;
use crate::errors::to_pyerr;
use crate::fork::ForkOwned;
use crate::long_poll::PyLongPollHandler;
use crate::operations;
use crate::runtime::{awaitable, wait, Convert};
use crate::tail::{open_tail, Tail};

/// One agent client: base URL, credentials, time-outs, connection pool.
///
/// Its `repr` shows the base URL only; the tokens live in `agent_proto::Secret`s,
/// which never print.
#[pyclass(frozen, module = "agent_client._native")]
pub struct Core {
    /// Refuses to work in a forked child (see [`crate::fork`]).
    client: ForkOwned<AsyncAgentClient>,
    base_url: String,
    /// Kept to scrub errors made here (a token passed as an id by mistake).
    secrets: Vec<Secret>,
}

impl Core {
    /// The operation a `op` call names, and its body, checked.
    fn prepare_op(
        &self,
        name: &str,
        segment: Option<String>,
        body: Option<&str>,
    ) -> Result<(agent_proto::api::Operation, Option<Value>), ClientError> {
        let operation = operations::operation(name, segment)?;
        let body = body.map(|b| json_text("request body", b)).transpose()?;
        Ok((operation, body))
    }

    /// The client, in the process that made it.
    fn client(&self, py: Python<'_>) -> PyResult<&AsyncAgentClient> {
        self.client.get().map_err(|e| to_pyerr(py, e))
    }

    /// Replaces every token this client holds in `err`'s text.
    fn scrub(&self, err: ClientError) -> ClientError {
        self.secrets.iter().fold(err, |e, s| e.scrub(s.expose()))
    }

    fn pyerr(&self, py: Python<'_>, err: ClientError) -> PyErr {
        to_pyerr(py, self.scrub(err))
    }
}

fn json_text(what: &'static str, text: &str) -> Result<Value, ClientError> {
    serde_json::from_str(text).map_err(|e| ClientError::invalid(what, format!("is not JSON: {e}")))
}

fn protocol(name: &str) -> Result<Protocol, ClientError> {
    name.parse::<Protocol>()
}

/// `StreamLimits` from the Python dataclass's fields, in order.
pub type LimitsTuple = (u64, u64, u64, usize, usize);

fn limits(
    (max_messages, max_lines, max_bytes, max_message_size, queue_size): LimitsTuple,
) -> StreamLimits {
    StreamLimits {
        max_messages,
        max_lines,
        max_bytes,
        max_message_size,
        queue_size,
    }
}

fn seconds(what: &'static str, s: f64) -> Result<Duration, ClientError> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| ClientError::invalid(what, "must be a positive number of seconds"))
}

#[pymethods]
impl Core {
    /// A client of the agent at `base_url`. `connect_timeout` / `read_timeout` are in
    /// seconds (`None`: the defaults, 3 and 10, as synapse-sdk's).
    #[new]
    ///
    /// With `long_poll_handler` (synapse-sdk's: `set_request(dict)` and
    /// `get_response(id)`), every request goes through it instead of HTTP
    /// ([`crate::long_poll`]); `read_timeout` then bounds each exchange.
    #[pyo3(signature = (base_url, agent_token, user_token=None, tenant=None, connect_timeout=None, read_timeout=None, long_poll_handler=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        base_url: String,
        agent_token: String,
        user_token: Option<String>,
        tenant: Option<String>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        long_poll_handler: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut secrets = vec![Secret::new(agent_token.clone())];
        secrets.extend(user_token.iter().map(|t| Secret::new(t.clone())));
        secrets.extend(tenant.iter().map(|t| Secret::new(t.clone())));
        let scrub = |e: ClientError| secrets.iter().fold(e, |e, s| e.scrub(s.expose()));
        let mut timeouts = Timeouts::default();
        if let Some(s) = connect_timeout {
            timeouts.connect = seconds("connect timeout", s).map_err(|e| to_pyerr(py, e))?;
        }
        if let Some(s) = read_timeout {
            timeouts.read = seconds("read timeout", s).map_err(|e| to_pyerr(py, e))?;
        }
        let mut builder = AsyncAgentClient::builder(base_url, agent_token).timeouts(timeouts);
        if let Some(t) = user_token {
            builder = builder.user_token(t);
        }
        if let Some(t) = tenant {
            builder = builder.tenant(t);
        }
        if let Some(handler) = long_poll_handler {
            let handler = PyLongPollHandler::new(&handler, timeouts.read)?;
            let transport = LongPollTransport::new(handler).timeout(timeouts.read);
            builder = builder.transport(std::sync::Arc::new(transport));
        }
        // The transport may look for the runtime while it is built.
        let _guard = crate::runtime::runtime()?.enter();
        let client = builder.build().map_err(|e| to_pyerr(py, scrub(e)))?;
        Ok(Core {
            base_url: client.base_url().to_owned(),
            client: ForkOwned::new(client),
            secrets,
        })
    }

    /// The base URL requests are relative to.
    #[getter]
    fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn __repr__(&self) -> String {
        format!("Core(base_url={:?})", self.base_url)
    }

    /// The operation named `name` (its SDK name: `get_job`, `list_containers`, ...;
    /// see [`crate::operations`]) with its path `segment` (validated by the
    /// description's id type), query and JSON body (text); the answer decoded as
    /// JSON (`None` when empty; a job's log as `str`).
    #[pyo3(signature = (name, segment=None, query=None, body=None))]
    fn op(
        &self,
        py: Python<'_>,
        name: &str,
        segment: Option<String>,
        query: Option<Vec<(String, String)>>,
        body: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let (operation, body) = self
            .prepare_op(name, segment, body)
            .map_err(|e| self.pyerr(py, e))?;
        let query = query.unwrap_or_default();
        let client = self.client(py)?;
        let out = wait(py, operations::send(client, operation, &query, body))?;
        let value = out.map_err(|e| self.pyerr(py, e))?;
        to_py(py, &value)
    }

    /// [`Core::op`], as an awaitable.
    #[pyo3(signature = (name, segment=None, query=None, body=None))]
    fn op_async<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        segment: Option<String>,
        query: Option<Vec<(String, String)>>,
        body: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (operation, body) = self
            .prepare_op(name, segment, body)
            .map_err(|e| self.pyerr(py, e))?;
        let query = query.unwrap_or_default();
        let client = self.client(py)?.clone();
        awaitable(py, async move {
            let out = operations::send(&client, operation, &query, body).await;
            Box::new(move |py: Python<'_>| match out {
                Ok(v) => to_py(py, &v),
                Err(e) => Err(to_pyerr(py, e)),
            }) as Convert
        })
    }

    /// `create_container` with a plugin archive: `fields` (JSON text) and the file's
    /// name and bytes, sent as multipart/form-data; the answer as JSON.
    fn create_container_with_file(
        &self,
        py: Python<'_>,
        fields: &str,
        filename: String,
        data: Vec<u8>,
    ) -> PyResult<Py<PyAny>> {
        let fields = json_text("container", fields).map_err(|e| self.pyerr(py, e))?;
        let client = self.client(py)?;
        let out = wait(
            py,
            operations::create_container_with_file(client, fields, filename, data),
        )?;
        let value = out.map_err(|e| self.pyerr(py, e))?;
        to_py(py, &value)
    }

    /// [`Core::create_container_with_file`], as an awaitable.
    fn create_container_with_file_async<'py>(
        &self,
        py: Python<'py>,
        fields: &str,
        filename: String,
        data: Vec<u8>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fields = json_text("container", fields).map_err(|e| self.pyerr(py, e))?;
        let client = self.client(py)?.clone();
        awaitable(py, async move {
            let out = operations::create_container_with_file(&client, fields, filename, data).await;
            Box::new(move |py: Python<'_>| match out {
                Ok(v) => to_py(py, &v),
                Err(e) => Err(to_pyerr(py, e)),
            }) as Convert
        })
    }

    /// Drops the pooled connections (synapse-sdk's `reset_connection`): later
    /// requests open new ones; tails already open go on.
    fn reset_connection(&self, py: Python<'_>) -> PyResult<()> {
        self.client(py)?
            .reset_connection()
            .map_err(|e| self.pyerr(py, e))
    }

    /// A job's whole log as text (`GET jobs/{id}/logs/`).
    fn job_logs(&self, py: Python<'_>, job_id: &str) -> PyResult<String> {
        wait(py, self.client(py)?.get_job_logs(job_id))?.map_err(|e| self.pyerr(py, e))
    }

    /// [`Core::job_logs`], as an awaitable.
    fn job_logs_async<'py>(&self, py: Python<'py>, job_id: String) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client(py)?.clone();
        awaitable(py, async move {
            let out = client.get_job_logs(&job_id).await;
            Box::new(move |py: Python<'_>| match out {
                Ok(s) => Ok(s.into_pyobject(py)?.into_any().unbind()),
                Err(e) => Err(to_pyerr(py, e)),
            }) as Convert
        })
    }

    /// Opens a tail of `job_id`'s log: `timeout` bounds the server's silence in
    /// seconds, `max_quiet` (seconds, `None`: no bound) the job's, `protocol`
    /// `auto`, `websocket` or `http`, `limits` the `StreamLimits` fields, `tail`
    /// and `from_line` where it starts (`TailStart`; at most one of them).
    #[pyo3(signature = (job_id, timeout, protocol, limits, max_quiet=None, tail=None, from_line=None))]
    #[allow(clippy::too_many_arguments)]
    fn tail(
        &self,
        py: Python<'_>,
        job_id: &str,
        timeout: f64,
        protocol: &str,
        limits: LimitsTuple,
        max_quiet: Option<f64>,
        tail: Option<i64>,
        from_line: Option<i64>,
    ) -> PyResult<Tail> {
        let options = self
            .tail_options(timeout, protocol, limits, max_quiet, (tail, from_line))
            .map_err(|e| self.pyerr(py, e))?;
        let client = self.client(py)?.clone();
        let tail = wait(py, open_tail(client, job_id.to_owned(), options))?;
        tail.map_err(|e| self.pyerr(py, e))
    }

    /// [`Core::tail`], as an awaitable.
    #[pyo3(signature = (job_id, timeout, protocol, limits, max_quiet=None, tail=None, from_line=None))]
    #[allow(clippy::too_many_arguments)]
    fn tail_async<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        timeout: f64,
        protocol: &str,
        limits: LimitsTuple,
        max_quiet: Option<f64>,
        tail: Option<i64>,
        from_line: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = self
            .tail_options(timeout, protocol, limits, max_quiet, (tail, from_line))
            .map_err(|e| self.pyerr(py, e))?;
        let client = self.client(py)?.clone();
        awaitable(py, async move {
            let out = open_tail(client, job_id, options).await;
            Box::new(move |py: Python<'_>| match out {
                Ok(t) => Ok(Py::new(py, t)?.into_any()),
                Err(e) => Err(to_pyerr(py, e)),
            }) as Convert
        })
    }

    /// Closes the client: open tails end, later calls fail (a `ClientError`, 500).
    /// In a forked child it does nothing: the connections are the parent's.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        match self.client.get_local() {
            Some(client) => wait(py, client.close()),
            None => Ok(()),
        }
    }

    /// True once `close()` was called (and in a forked child, where it is unusable).
    #[getter]
    fn closed(&self) -> bool {
        self.client.get_local().is_none_or(|c| c.is_closed())
    }
}

impl Core {
    fn tail_options(
        &self,
        timeout: f64,
        protocol_name: &str,
        fields: LimitsTuple,
        max_quiet: Option<f64>,
        (tail, from_line): (Option<i64>, Option<i64>),
    ) -> Result<agent_client_async::TailOptions, ClientError> {
        let timeout = seconds("stream timeout", timeout)?;
        let mut options = agent_client_async::TailOptions::new()
            .protocol(protocol(protocol_name)?)
            .timeout(timeout)
            .limits(limits(fields));
        if let Some(q) = max_quiet {
            options = options.max_quiet(seconds("max_quiet", q)?);
        }
        let count = |what: &'static str, n: i64| {
            u64::try_from(n).map_err(|_| ClientError::invalid(what, "must not be negative"))
        };
        options = options.start(match (tail, from_line) {
            (None, None) => agent_client_async::TailStart::Beginning,
            (Some(n), None) => agent_client_async::TailStart::Last(count("tail", n)?),
            (None, Some(k)) => agent_client_async::TailStart::FromLine(count("from_line", k)?),
            (Some(_), Some(_)) => {
                return Err(ClientError::invalid(
                    "tail",
                    "cannot be asked together with from_line",
                ))
            }
        });
        options.validate()?;
        Ok(options)
    }
}
