"""AgentClient and AsyncAgentClient: synapse-sdk's API over the Rust core.

Every method has synapse-sdk 2026.2.17's name, arguments, defaults and return
shape. The plain JSON operations are written once, in ``_Operations``: each builds
its request and hands it to ``_run``, which the sync client answers with the value
and the async client with an awaitable. Path segments go through the core's
validation first (``get_job('../x')`` is a 400, never a path).
"""

import asyncio
import functools
import json
import os
from dataclasses import astuple, dataclass
import time
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
    cast,
)

from agent_client import _native
from agent_client.models import AgentRuntimePolicy, ClusterResourceSnapshot

__all__ = ['AgentClient', 'AsyncAgentClient', 'LongPollHandler', 'StreamLimits']

_DEFAULT_TIMEOUT = {'connect': 3, 'read': 10}

# (operation name, path segment, query, JSON body) of one request, as the core takes
# them: the route is the Rust description's (agent_proto::api), named by the SDK
# method's name; no route is written here.
_Request = Tuple[str, Optional[str], Optional[List[Tuple[str, str]]], Optional[str]]


@dataclass
class StreamLimits:
    """Limits of a log tail (synapse-sdk's ``synapse_sdk.utils.network.StreamLimits``).

    Attributes:
        max_messages: most messages one tail may receive (WebSocket messages;
            HTTP events or plain lines), on either protocol.
        max_lines: most lines one tail may deliver, on either protocol.
        max_bytes: most bytes of log text one tail may deliver.
        max_message_size: largest single message or line; larger ones are skipped.
        queue_size: most lines waiting between the network and the consumer.
    """

    max_messages: int = 10_000
    max_lines: int = 50_000
    max_bytes: int = 50 * 1024 * 1024
    max_message_size: int = 10_240
    queue_size: int = 1_000


class LongPollHandler(Protocol):
    """synapse-sdk's ``long_poll_handler``: carries requests to an agent that has no
    URL the client can reach (through a queue the agent polls, for instance).

    ``set_request`` gets the SDK's request dict, ``{'method': 'get', 'path': 'jobs/',
    'headers': {...}, 'params': {...}, 'data': ...}`` (``params`` and ``data`` only
    when there are some; the headers hold the tokens), queues it and returns an id
    (any object); ``get_response`` waits for that request's answer,
    ``{'status': 200, 'reason': 'OK', 'data': ...}``, and raises ``TimeoutError``
    when there is none in time (the client raises a 408 then). Calls run on a thread
    of the client's runtime, so an ``AsyncAgentClient`` never blocks its loop.
    """

    def set_request(self, request: Dict[str, Any]) -> Any: ...

    def get_response(self, request_id: Any) -> Mapping[str, Any]: ...


def _timeouts(timeout: Any) -> Tuple[float, float]:
    """(connect, read) seconds from a ``{'connect': s, 'read': s}`` dict or a number."""
    if timeout is None:
        timeout = _DEFAULT_TIMEOUT
    if isinstance(timeout, dict):
        connect = timeout.get('connect', _DEFAULT_TIMEOUT['connect'])
        read = timeout.get('read', _DEFAULT_TIMEOUT['read'])
        return float(connect), float(read)
    if isinstance(timeout, (tuple, list)):
        # requests' (connect, read), as synapse-sdk's run calls take it
        connect, read = timeout
        return float(connect), float(read)
    seconds = float(timeout)
    return seconds, seconds


def _query(params: Optional[Dict[str, Any]]) -> Optional[List[Tuple[str, str]]]:
    if not params:
        return None
    out = []
    for key, value in params.items():
        if isinstance(value, bool):
            value = str(value).lower()
        out.append((str(key), str(value)))
    return out


def _body(data: Any) -> Optional[str]:
    return None if data is None else json.dumps(data)


def _system_update_body(api_tag: Optional[str], worker_tag: Optional[str]) -> Optional[Dict[str, str]]:
    data = {}
    if api_tag is not None:
        data['api_tag'] = api_tag
    if worker_tag is not None:
        data['worker_tag'] = worker_tag
    return data or None


def _container_body(
    plugin_release: Any,
    model: Optional[int],
    params: Optional[Dict[str, Any]],
    envs: Optional[Dict[str, str]],
    metadata: Optional[Dict[str, Any]],
    labels: Optional[Iterable[str]],
    plugin_file: Any,
    kind: Optional[str],
    backend_container_id: Optional[int],
) -> Dict[str, Any]:
    """The fields of ``create_container``, as synapse-sdk builds them (a plugin file
    travels beside them, see :func:`_plugin_file`)."""
    if not plugin_release and not plugin_file:
        raise ValueError('Either "plugin_release" or "plugin_file" must be provided to create a container.')
    data: Dict[str, Any] = dict(_serialize_plugin_release(plugin_release)) if plugin_release else {}
    if model is not None:
        data['model'] = model
    optional = {
        'params': params,
        'envs': envs or None,
        'metadata': metadata or None,
        'labels': list(labels) if labels else None,
        'kind': kind or None,
        'backend_container_id': backend_container_id,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


# The largest plugin archive create_container uploads (read into memory, sent once).
_MAX_PLUGIN_FILE = 512 * 1024 * 1024


def _plugin_file(plugin_file: Any) -> Optional[Tuple[str, bytes]]:
    """``(file name, bytes)`` of a plugin archive given as a path, an open binary
    file or bytes (``plugin.zip`` when it has no name); ``None`` for none."""
    if plugin_file is None or plugin_file is False:
        return None
    if isinstance(plugin_file, (str, os.PathLike)):
        path = os.fspath(plugin_file)
        if os.path.getsize(path) > _MAX_PLUGIN_FILE:
            raise ValueError(f'plugin_file {path!r} is larger than {_MAX_PLUGIN_FILE} bytes')
        with open(path, 'rb') as f:
            return os.path.basename(path) or 'plugin.zip', f.read()
    if isinstance(plugin_file, (bytes, bytearray, memoryview)):
        data = bytes(plugin_file)
        name = 'plugin.zip'
    elif hasattr(plugin_file, 'read'):
        data = plugin_file.read(_MAX_PLUGIN_FILE + 1)
        name = os.path.basename(str(getattr(plugin_file, 'name', '') or '')) or 'plugin.zip'
        if not isinstance(data, bytes):
            raise TypeError('plugin_file must be opened in binary mode')
    else:
        raise TypeError('plugin_file must be a path, an open binary file or bytes')
    if len(data) > _MAX_PLUGIN_FILE:
        raise ValueError(f'plugin_file is larger than {_MAX_PLUGIN_FILE} bytes')
    return name, data


def _serialize_plugin_release(plugin_release: Any) -> Dict[str, Any]:
    """synapse-sdk's ``ContainerClientMixin._serialize_plugin_release``."""
    if hasattr(plugin_release, 'code') and hasattr(plugin_release, 'version'):
        payload: Dict[str, Any] = {
            'plugin_release': plugin_release.code,
            'plugin': getattr(plugin_release, 'plugin', None),
            'version': plugin_release.version,
        }
        config = getattr(plugin_release, 'config', None)
        if isinstance(config, dict) and config.get('actions'):
            action_name = next(iter(config['actions']))
            payload['action'] = action_name
            entrypoint = config['actions'][action_name].get('entrypoint')
            if entrypoint:
                # 'plugin.gradio_interface.app' -> 'plugin/gradio_interface.py'
                payload['entrypoint'] = entrypoint.rsplit('.', 1)[0].replace('.', '/') + '.py'
        return payload
    if isinstance(plugin_release, str):
        payload = {'plugin_release': plugin_release}
        if '@' in plugin_release:
            plugin, version = plugin_release.rsplit('@', 1)
            payload.setdefault('plugin', plugin)
            payload.setdefault('version', version)
        return payload
    raise TypeError('plugin_release must be a PluginRelease instance or a formatted string "code@version"')


def _build_outcome(build_id: str, status: Any) -> Optional[Dict[str, Any]]:
    """The result of a finished build, ``None`` while it runs; raises ``RuntimeError``
    for a failed or cancelled one (as synapse-sdk's ``wait_for_build``)."""
    build_status = status.get('status', '') if isinstance(status, dict) else ''
    if build_status == 'completed':
        return status.get('result', {})  # type: ignore[no-any-return]
    if build_status in ('failed', 'cancelled'):
        raise RuntimeError(f'Build {build_id} failed: {status.get("error", "Unknown error")}')
    return None


class _Operations:
    """The operations that are one JSON request each (shared by both clients)."""

    _core: _native.Core
    # (operation, segment=None, params=None, data=None, timeout=None): _Base answers
    # it, with the value (sync) or an awaitable (async)
    _run: Callable[..., Any]

    # -- health, jobs -------------------------------------------------------------

    def health_check(self) -> Dict[str, Any]:
        """Check agent health."""
        return self._run('health_check')

    def list_jobs(self) -> List[Dict[str, Any]]:
        """List all Ray jobs."""
        return self._run('list_jobs')

    def get_job(self, job_id: str) -> Dict[str, Any]:
        """Get a Ray job by ID."""
        return self._run('get_job', job_id)

    def stop_job(self, job_id: str) -> Dict[str, Any]:
        """Stop a running job."""
        return self._run('stop_job', job_id)

    # -- cluster ------------------------------------------------------------------

    def get_gpu_status(self) -> Dict[str, Any]:
        """Get aggregated GPU status from all Ray nodes."""
        return self._run('get_gpu_status')

    def list_nodes(self) -> List[Dict[str, Any]]:
        """List all Ray nodes."""
        return self._run('list_nodes')

    def get_node(self, node_id: str) -> Dict[str, Any]:
        """Get a Ray node by ID."""
        return self._run('get_node', node_id)

    def list_tasks(self) -> List[Dict[str, Any]]:
        """List all Ray tasks."""
        return self._run('list_tasks')

    def get_task(self, task_id: str) -> Dict[str, Any]:
        """Get a Ray task by ID."""
        return self._run('get_task', task_id)

    def list_serve_applications(self) -> List[Dict[str, Any]]:
        """List all Ray Serve applications."""
        return self._run('list_serve_applications')

    def get_serve_application(self, name: str) -> Dict[str, Any]:
        """Get a Ray Serve application by name."""
        return self._run('get_serve_application', name)

    def delete_serve_application(self, name: str) -> None:
        """Delete a Ray Serve application."""
        return self._run('delete_serve_application', name)

    # -- plugin releases ----------------------------------------------------------

    def get_plugin_release(self, lookup: str) -> Dict[str, Any]:
        """Get a plugin release by ID or code@version."""
        return self._run('get_plugin_release', lookup)

    def create_plugin_release(self, plugin: str, version: str) -> Dict[str, Any]:
        """Fetch and cache a plugin release."""
        return self._run('create_plugin_release', data={'plugin': plugin, 'version': version})

    def delete_plugin_release(self, lookup: str) -> None:
        """Delete a plugin release."""
        return self._run('delete_plugin_release', lookup)

    def run_plugin_release(
        self,
        lookup: str,
        action: Optional[str] = None,
        params: Optional[Dict[str, Any]] = None,
        *,
        data: Optional[Dict[str, Any]] = None,
        requirements: Optional[List[str]] = None,
        job_id: Optional[str] = None,
        language: Optional[str] = None,
        timeout: Optional[Tuple[int, int]] = None,
    ) -> Any:
        """Run a plugin release action (``data`` is sent as it is when given).

        ``timeout``: ``(connect, read)`` seconds for this call (as synapse-sdk's
        ``requests`` timeout), instead of the client's.
        """
        if data is not None:
            return self._run('run_plugin_release', lookup, data=data, timeout=timeout)
        body: Dict[str, Any] = {'action': action}
        for key, value in (('params', params), ('requirements', requirements), ('job_id', job_id), ('language', language)):
            if value is not None:
                body[key] = value
        return self._run('run_plugin_release', lookup, data=body, timeout=timeout)

    def run_debug_plugin_release(
        self,
        action: str,
        params: Optional[Dict[str, Any]] = None,
        *,
        plugin_path: Optional[str] = None,
        config: Optional[Dict[str, Any]] = None,
        modules: Optional[Dict[str, str]] = None,
        requirements: Optional[List[str]] = None,
        job_id: Optional[str] = None,
        language: Optional[str] = None,
        timeout: Optional[Tuple[int, int]] = None,
    ) -> Any:
        """Run a plugin in debug mode (from source path); ``timeout`` as in
        :meth:`run_plugin_release`."""
        body: Dict[str, Any] = {'action': action}
        for key, value in (
            ('params', params),
            ('plugin_path', plugin_path),
            ('config', config),
            ('modules', modules),
            ('requirements', requirements),
            ('job_id', job_id),
            ('language', language),
        ):
            if value is not None:
                body[key] = value
        return self._run('run_debug_plugin_release', data=body, timeout=timeout)

    # -- resources, system, builds, containers ------------------------------------------

    def check_feasibility(
        self,
        kind: str,
        num_cpus: float,
        num_gpus: float = 0.0,
        memory_bytes: Optional[int] = None,
        replicas: int = 1,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Run a dry-run gatekeeping evaluation against the agent's cluster."""
        return self._run(
            'check_feasibility',
            data={
                'kind': kind,
                'num_cpus': num_cpus,
                'num_gpus': num_gpus,
                'memory_bytes': memory_bytes,
                'replicas': replicas,
                'metadata': metadata or {},
            },
        )

    def get_gatekeeping_policy(self) -> Dict[str, Any]:
        """Read the agent's current gatekeeping policy."""
        return self._run('get_gatekeeping_policy')

    def update_gatekeeping_policy(self, patch: Dict[str, Any]) -> Dict[str, Any]:
        """Patch the agent's in-memory gatekeeping policy."""
        return self._run('update_gatekeeping_policy', data=patch)

    def get_compose_config(self) -> Dict[str, Any]:
        """The compose configuration of the agent's containers."""
        return self._run('get_compose_config')

    def get_system_status(self) -> Dict[str, Any]:
        """The agent's system status."""
        return self._run('get_system_status')

    def get_build_status(self, build_id: str) -> Dict[str, Any]:
        """The status of a container build."""
        return self._run('get_build_status', build_id)

    def list_docker_containers(self) -> List[Dict[str, Any]]:
        """List the Docker containers the agent runs."""
        return self._run('list_docker_containers')

    def get_docker_container(self, container_id: str) -> Dict[str, Any]:
        """One Docker container."""
        return self._run('get_docker_container', container_id)

    def create_docker_container(
        self,
        plugin_release: str,
        *,
        params: Optional[Dict[str, Any]] = None,
        envs: Optional[Dict[str, str]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        labels: Optional[List[str]] = None,
    ) -> Dict[str, Any]:
        """Build and run a Docker container for a plugin."""
        body: Dict[str, Any] = {'plugin_release': plugin_release}
        for key, value in (('params', params), ('envs', envs), ('metadata', metadata), ('labels', labels)):
            if value is not None:
                body[key] = value
        return self._run('create_docker_container', data=body)

    def delete_docker_container(self, container_id: str) -> None:
        """Delete a Docker container."""
        return self._run('delete_docker_container', container_id)

    def stop_docker_container(self, container_id: str) -> Dict[str, Any]:
        """Stop a Docker container."""
        return self._run('stop_docker_container', container_id)

    def start_docker_container(self, container_id: str) -> Dict[str, Any]:
        """Start a Docker container."""
        return self._run('start_docker_container', container_id)

    def get_container(self, container_id: int) -> Dict[str, Any]:
        """A tracked container by database ID."""
        return self._run('get_container', container_id)

    def update_container(self, container_id: int, *, status: Optional[str] = None) -> Dict[str, Any]:
        """Update a tracked container's status."""
        body = {} if status is None else {'status': status}
        return self._run('update_container', container_id, data=body)

    def delete_container(self, container_id: int) -> None:
        """Delete a tracked container (stops the Docker container too)."""
        return self._run('delete_container', container_id)


class _Base(_Operations):
    _stream_limits: Optional[StreamLimits] = None

    def __init__(
        self,
        base_url: str,
        agent_token: str,
        *,
        user_token: Optional[str] = None,
        tenant: Optional[str] = None,
        timeout: Any = None,
        long_poll_handler: Optional[LongPollHandler] = None,
    ):
        connect, read = _timeouts(timeout)
        self._core = _native.Core(base_url, agent_token, user_token, tenant, connect, read, long_poll_handler)
        self.base_url = self._core.base_url
        self.long_poll_handler = long_poll_handler

        # A call with time-outs of its own (``run_plugin_release(timeout=...)``) goes
        # through a core made for it; the tokens stay in this closure, never in an
        # attribute that a repr or vars() would show.
        def core_with(connect: float, read: float) -> _native.Core:
            return _native.Core(base_url, agent_token, user_token, tenant, connect, read, long_poll_handler)

        self._core_with: Callable[[float, float], _native.Core] = core_with

    def reset_connection(self) -> None:
        """Drops this client's pooled connections: the next request opens a new one
        (synapse-sdk: a fresh session). Tails already open go on; nothing is sent."""
        self._core.reset_connection()

    def __repr__(self) -> str:
        return f'{type(self).__name__}(base_url={self.base_url!r})'

    def _run(
        self,
        operation: str,
        segment: Any = None,
        params: Optional[Dict[str, Any]] = None,
        data: Any = None,
        timeout: Any = None,
    ) -> Any:
        """Sends the operation named ``operation`` (the SDK's method name; the route,
        the segment's validation and the retries are the Rust description's)."""
        segment_text = None if segment is None else str(segment)
        request: _Request = (operation, segment_text, _query(params), _body(data))
        if timeout is None:
            return self._send(self._core, False, request)
        # a core of its own for a call with its own time-outs, closed after it
        return self._send(self._core_with(*_timeouts(timeout)), True, request)

    def _send(self, core: _native.Core, owned: bool, request: _Request) -> Any:
        """Sends ``request`` through ``core`` (closing it after when ``owned``):
        the sync client answers with the value, the async one with an awaitable."""
        raise NotImplementedError

    @property
    def stream_limits(self) -> StreamLimits:
        """The limits of this client's log tails (synapse-sdk's defaults until set)."""
        if self._stream_limits is None:
            self._stream_limits = StreamLimits()
        return self._stream_limits

    @stream_limits.setter
    def stream_limits(self, value: StreamLimits) -> None:
        self._stream_limits = value

    def _limits(self) -> Tuple[int, int, int, int, int]:
        return astuple(self.stream_limits)  # type: ignore[return-value]


class AgentClient(_Base):
    """Sync client of the agent API (synapse-sdk's ``AgentClient``).

    Calls wait with the GIL released and can be interrupted with Ctrl-C; one client
    may be shared by several threads.
    """

    name = 'Agent'

    def __init__(
        self,
        base_url: str,
        agent_token: str,
        *,
        user_token: Optional[str] = None,
        tenant: Optional[str] = None,
        timeout: Optional[Dict[str, float]] = None,
        long_poll_handler: Optional[LongPollHandler] = None,
    ):
        super().__init__(
            base_url,
            agent_token,
            user_token=user_token,
            tenant=tenant,
            timeout=timeout,
            long_poll_handler=long_poll_handler,
        )

    def _send(self, core: _native.Core, owned: bool, request: _Request) -> Any:
        try:
            return core.op(*request)
        finally:
            if owned:
                core.close()

    def close(self) -> None:
        """Closes the client: open tails end, later calls fail."""
        self._core.close()

    def __enter__(self) -> 'AgentClient':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def get_job_logs(self, job_id: str) -> str:
        """Get all logs for a job (non-streaming)."""
        return self._core.job_logs(str(job_id))

    def list_job_logs(self, job_id: str) -> str:
        """Alias of :meth:`get_job_logs`."""
        return self.get_job_logs(job_id)

    def list_plugin_releases(
        self, params: Optional[Dict[str, Any]] = None, *, list_all: bool = False
    ) -> Union[Dict[str, Any], Tuple[Iterator[Dict[str, Any]], int]]:
        """A page of plugin releases; with ``list_all``, ``(every result, count)``."""
        return self._list('list_plugin_releases', params, list_all)

    def list_containers(
        self, params: Optional[Dict[str, Any]] = None, *, list_all: bool = False
    ) -> Union[Dict[str, Any], Tuple[Iterator[Dict[str, Any]], int]]:
        """Tracked containers; with ``list_all``, ``(every result, count)``."""
        return self._list('list_containers', params, list_all)

    def exists(self, api: str, *args: Any, **kwargs: Any) -> bool:
        """Whether the list method named ``api`` finds anything: its answer's
        ``count`` is positive (synapse-sdk's ``exists``), e.g.
        ``exists('list_plugin_releases', {'plugin': 'demo'})``."""
        return bool(getattr(self, api)(*args, **kwargs)['count'] > 0)

    def _list(self, operation: str, params: Optional[Dict[str, Any]], list_all: bool) -> Any:
        if not list_all:
            return self._run(operation, params=params)
        query = dict(params or {})
        query.setdefault('page_size', 100)
        first = self._run(operation, params={**query, 'page': 1})

        def pages() -> Iterator[Dict[str, Any]]:
            page, answer = 1, first
            while True:
                yield from answer.get('results', [])
                if not answer.get('next'):
                    return
                page += 1
                answer = self._run(operation, params={**query, 'page': page})

        return pages(), int(first.get('count', 0))

    # -- methods with logic of their own (waits, polling, typed answers) --------------

    def get_cluster_resources(self, use_cache: bool = True) -> ClusterResourceSnapshot:
        """The agent's cluster resource snapshot (``GET resources/cluster/``).

        synapse-sdk returns its pydantic ``ClusterResourceSnapshot``; this returns the
        dataclass of the same name, fields and defaults (``agent_client.models``):
        attribute access as there, ``model_dump()`` for the dict.
        """
        data = self._run('get_cluster_resources', params={'use_cache': use_cache})
        return ClusterResourceSnapshot.model_validate(data)

    def get_runtime_policy(self) -> AgentRuntimePolicy:
        """The agent's effective runtime policy, typed (``GET resources/policy/``).

        Returns the dataclass ``agent_client.models.AgentRuntimePolicy`` (synapse-sdk:
        the pydantic model of that name; same fields, defaults, ``model_dump()``).
        """
        # the same operation as the gatekeeping policy, read typed
        return AgentRuntimePolicy.model_validate(self._run('get_gatekeeping_policy'))

    def update_runtime_policy(self, patch: Dict[str, Any]) -> AgentRuntimePolicy:
        """Patches the runtime policy (``PATCH resources/policy/``); the typed effective
        policy, as :meth:`get_runtime_policy`."""
        return AgentRuntimePolicy.model_validate(self._run('update_gatekeeping_policy', data=patch))

    def wait_for_system_ready(self, *, timeout: float = 120, poll_interval: float = 2) -> bool:
        """Polls ``health_check`` every ``poll_interval`` seconds until it succeeds
        (``True``) or ``timeout`` seconds passed (``False``), as synapse-sdk does."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                self.health_check()
                return True
            except Exception:  # noqa: BLE001 - any failure means "not ready yet", as in the SDK
                pass
            time.sleep(poll_interval)
        return False

    def update_system(
        self,
        *,
        api_tag: Optional[str] = None,
        worker_tag: Optional[str] = None,
        wait: bool = False,
        timeout: float = 120,
        poll_interval: float = 2,
    ) -> Dict[str, Any]:
        """Pulls new images and restarts the system (``POST system/update/``).

        With ``wait``, waits for the system to come back (:meth:`wait_for_system_ready`
        after one ``poll_interval``); a request that fails while the agent restarts
        counts as started, as in synapse-sdk.
        """
        return self._system_operation(
            'update_system', _system_update_body(api_tag, worker_tag), 'updated', wait, timeout, poll_interval
        )

    def restart_system(self, *, wait: bool = False, timeout: float = 120, poll_interval: float = 2) -> Dict[str, Any]:
        """Restarts the system containers (``POST system/restart/``); ``wait`` as in
        :meth:`update_system`."""
        return self._system_operation('restart_system', None, 'restarted', wait, timeout, poll_interval)

    def _system_operation(
        self, operation: str, body: Any, done: str, wait: bool, timeout: float, poll_interval: float
    ) -> Dict[str, Any]:
        try:
            result = self._run(operation, data=body)
        except Exception:
            if wait:
                time.sleep(poll_interval)  # let the restart begin
                if self.wait_for_system_ready(timeout=timeout, poll_interval=poll_interval):
                    return {'status': 'success', 'message': f'System {done} and ready'}
            raise
        if wait and isinstance(result, dict) and result.get('status') == 'success':
            time.sleep(poll_interval)
            if self.wait_for_system_ready(timeout=timeout, poll_interval=poll_interval):
                result['message'] = f'System {done} and ready'
        return result  # type: ignore[no-any-return]

    def wait_for_build(self, build_id: str, *, timeout: float = 300, poll_interval: float = 2) -> Dict[str, Any]:
        """Polls ``get_build_status`` until the build completes (its ``result``).

        Raises ``TimeoutError`` after ``timeout`` seconds and ``RuntimeError`` for a
        failed or cancelled build, as synapse-sdk does.
        """
        started = time.monotonic()
        while True:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f'Build {build_id} did not complete within {timeout}s')
            outcome = _build_outcome(build_id, self.get_build_status(build_id))
            if outcome is not None:
                return outcome
            time.sleep(poll_interval)

    def create_container(
        self,
        plugin_release: Any = None,
        *,
        model: Optional[int] = None,
        params: Optional[Dict[str, Any]] = None,
        envs: Optional[Dict[str, str]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        labels: Optional[Iterable[str]] = None,
        plugin_file: Any = None,
        kind: Optional[str] = None,
        backend_container_id: Optional[int] = None,
        wait: bool = True,
        timeout: float = 300,
    ) -> Any:
        """Creates a plugin container (``POST containers/``).

        With ``wait`` (the default), waits for its build (:meth:`wait_for_build`) and
        returns the container; otherwise the build answer (``build_id``, ...).
        ``plugin_file`` (a path, an open binary file or bytes) is uploaded as
        multipart/form-data, as synapse-sdk does.
        """
        data = _container_body(
            plugin_release, model, params, envs, metadata, labels, plugin_file, kind, backend_container_id
        )
        upload = _plugin_file(plugin_file)
        if upload is None:
            response = self._run('create_container', data=data)
        else:
            response = self._core.create_container_with_file(json.dumps(data), *upload)
        if not wait:
            return response
        build_id = response.get('build_id') if isinstance(response, dict) else None
        if not build_id:
            return response
        return self.wait_for_build(build_id, timeout=timeout)

    def websocket_tail_job_logs(self, job_id: str, timeout: float = 30.0) -> Iterator[str]:
        """Follow a job's log over WebSocket only."""
        return self.tail_job_logs(job_id, timeout, protocol='websocket')

    def stream_tail_job_logs(self, job_id: str, timeout: float = 30.0) -> Iterator[str]:
        """Follow a job's log over HTTP chunked streaming only."""
        return self.tail_job_logs(job_id, timeout, protocol='http')

    def tail_job_logs(
        self,
        job_id: str,
        timeout: float = 30.0,
        protocol: str = 'auto',
        max_quiet: Optional[float] = None,
        *,
        tail: Optional[int] = None,
        from_line: Optional[int] = None,
    ) -> Iterator[str]:
        """Follow a job's log until it is complete: an iterator of lines.

        ``protocol``: ``'auto'`` (WebSocket, falling back to HTTP and resuming
        without repeating a line), ``'websocket'`` or ``'http'``. ``timeout``
        bounds the *server's* silence, in seconds, on both protocols: a tail that
        receives nothing from the server that long (no line, no pong, no
        heartbeat) raises ``ClientTimeoutError`` (408) rather than ending as if the
        log were complete; a quiet job on a live server never trips it.
        ``max_quiet`` (seconds, default ``None``: no bound) bounds the *job's*
        silence: no new line for that long raises ``ClientTimeoutError`` (408)
        saying the job was quiet. Leaving the loop (``break``) closes the
        connection.

        ``tail=N`` starts with the last N lines written so far, ``from_line=K`` at
        line K (1-based, empty lines count); at most one of them. They are asked
        of the server (``?tail=N``, ``?from_line=K``); a server that does not
        honour them (the SDK's agent) sends the log from its first line.
        """
        quiet = None if max_quiet is None else float(max_quiet)
        start = (tail, from_line)
        return _tail_lines(self._core, str(job_id), float(timeout), protocol, self._limits(), quiet, start)


def _tail_lines(
    core: _native.Core,
    job_id: str,
    timeout: float,
    protocol: str,
    limits: Any,
    max_quiet: Optional[float],
    start: Tuple[Optional[int], Optional[int]],
) -> Iterator[str]:
    # A generator, as synapse-sdk's: nothing happens until the first next(). When
    # the loop is left, the generator is closed and the tail with it.
    tail = core.tail(job_id, timeout, protocol, limits, max_quiet, *start)
    try:
        next_batch = tail.next_batch
        while True:
            batch = next_batch()
            if batch is None:
                return
            yield from batch
    finally:
        tail.close()


class AsyncLogTail:
    """An async iterator of a job's log lines (``async for``).

    Leaving the loop (the iterator is dropped) or cancelling the task closes the
    connection; :meth:`aclose` closes it explicitly.
    """

    __slots__ = ('_client', '_args', '_tail', '_batch', '_next', '_done')

    def __init__(self, client: 'AsyncAgentClient', args: Tuple[Any, ...]):
        self._client = client
        self._args = args
        self._tail: Optional[_native.Tail] = None
        self._batch: Sequence[str] = ()
        self._next = 0
        self._done = False

    def __aiter__(self) -> 'AsyncLogTail':
        return self

    async def __anext__(self) -> str:
        i = self._next
        if i < len(self._batch):
            self._next = i + 1
            return self._batch[i]
        if self._done:
            raise StopAsyncIteration
        try:
            if self._tail is None:
                self._client._check_loop()
                self._tail = await self._client._core.tail_async(*self._args)
            batch = await self._tail.next_batch_async()
        except BaseException:
            # An error, or the task was cancelled (CancelledError): either way the
            # tail is over, and its connection closes now.
            self._close_now()
            raise
        if batch is None:
            self._close_now()
            raise StopAsyncIteration
        self._batch = batch
        self._next = 1
        return batch[0]

    def _close_now(self) -> None:
        self._done = True
        self._batch = ()
        tail, self._tail = self._tail, None
        if tail is not None:
            tail.close()

    async def aclose(self) -> None:
        """Closes the tail (its connection closes)."""
        self._close_now()


class AsyncAgentClient(_Base):
    """Async client of the agent API (synapse-sdk's ``AsyncAgentClient``).

    An async context manager; ``await client.close()`` closes it. Bound to the
    event loop it is first used in: using it from another loop raises
    ``ClientError`` (500) saying so.
    """

    name = 'Agent'

    def __init__(
        self,
        base_url: str,
        agent_token: str,
        *,
        user_token: Optional[str] = None,
        tenant: Optional[str] = None,
        timeout: Union[Dict[str, float], float, None] = None,
        long_poll_handler: Optional[LongPollHandler] = None,
    ):
        super().__init__(
            base_url,
            agent_token,
            user_token=user_token,
            tenant=tenant,
            timeout=timeout,
            long_poll_handler=long_poll_handler,
        )
        try:
            self._loop: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def _check_loop(self) -> None:
        running = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = running
        elif self._loop is not running:
            from agent_client.exceptions import ClientError

            raise ClientError(
                500,
                'this AsyncAgentClient belongs to another event loop (the one it was first '
                'used in); make one client per event loop',
            )

    def _send(self, core: _native.Core, owned: bool, request: _Request) -> Any:
        self._check_loop()
        if not owned:
            return core.op_async(*request)

        async def once() -> Any:
            try:
                return await core.op_async(*request)
            finally:
                core.close()

        return once()

    async def close(self) -> None:
        """Closes the client: open tails end, later calls fail."""
        self._core.close()

    async def __aenter__(self) -> 'AsyncAgentClient':
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def get_job_logs(self, job_id: str) -> str:
        """Get all logs for a job (non-streaming)."""
        self._check_loop()
        return await self._core.job_logs_async(str(job_id))

    async def list_job_logs(self, job_id: str) -> str:
        """Alias of :meth:`get_job_logs`."""
        return await self.get_job_logs(job_id)

    async def list_plugin_releases(
        self, params: Optional[Dict[str, Any]] = None, *, list_all: bool = False
    ) -> Union[Dict[str, Any], Tuple[AsyncIterator[Dict[str, Any]], int]]:
        """A page of plugin releases; with ``list_all``, ``(async iterator of every
        result, count)``."""
        return await self._list('list_plugin_releases', params, list_all)  # type: ignore[no-any-return]

    async def list_containers(
        self, params: Optional[Dict[str, Any]] = None, *, list_all: bool = False
    ) -> Union[Dict[str, Any], Tuple[AsyncIterator[Dict[str, Any]], int]]:
        """Tracked containers; with ``list_all``, ``(async iterator of every result,
        count)``."""
        return await self._list('list_containers', params, list_all)  # type: ignore[no-any-return]

    async def exists(self, api: str, *args: Any, **kwargs: Any) -> bool:
        """Whether the list method named ``api`` finds anything (synapse-sdk's
        ``exists``), as :meth:`AgentClient.exists`, awaited."""
        answer = await getattr(self, api)(*args, **kwargs)
        return bool(answer['count'] > 0)

    async def _list(self, operation: str, params: Optional[Dict[str, Any]], list_all: bool) -> Any:
        """A page, or with ``list_all`` ``(async iterator of every result, count)``: the
        first page is read now (for the count), the next ones as the iterator
        reaches them (synapse-sdk's ``_list`` / ``_list_all``)."""
        if not list_all:
            return await self._run(operation, params=params)
        query = dict(params or {})
        query.setdefault('page_size', 100)
        first = await self._run(operation, params={**query, 'page': 1})

        async def pages() -> AsyncIterator[Dict[str, Any]]:
            page, answer = 1, first
            while True:
                for item in answer.get('results', []):
                    yield item
                if not answer.get('next'):
                    return
                page += 1
                answer = await self._run(operation, params={**query, 'page': page})

        return pages(), int(first.get('count', 0))

    # -- methods with logic of their own (waits, polling, typed answers) --------------

    async def get_cluster_resources(self, use_cache: bool = True) -> ClusterResourceSnapshot:
        """:meth:`AgentClient.get_cluster_resources`, awaited."""
        data = await self._run('get_cluster_resources', params={'use_cache': use_cache})
        return ClusterResourceSnapshot.model_validate(data)

    async def get_runtime_policy(self) -> AgentRuntimePolicy:
        """:meth:`AgentClient.get_runtime_policy`, awaited."""
        return AgentRuntimePolicy.model_validate(await self._run('get_gatekeeping_policy'))

    async def update_runtime_policy(self, patch: Dict[str, Any]) -> AgentRuntimePolicy:
        """:meth:`AgentClient.update_runtime_policy`, awaited."""
        return AgentRuntimePolicy.model_validate(await self._run('update_gatekeeping_policy', data=patch))

    async def wait_for_system_ready(self, *, timeout: float = 120, poll_interval: float = 2) -> bool:
        """:meth:`AgentClient.wait_for_system_ready`, awaited (sleeps with ``asyncio.sleep``).

        synapse-sdk's async client has no system methods; these follow its sync ones.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                # the async client's operations are coroutines (see _awaiting)
                await cast(Awaitable[Dict[str, Any]], self.health_check())
                return True
            except Exception:  # noqa: BLE001 - any failure means "not ready yet", as in the SDK
                pass
            await asyncio.sleep(poll_interval)
        return False

    async def update_system(
        self,
        *,
        api_tag: Optional[str] = None,
        worker_tag: Optional[str] = None,
        wait: bool = False,
        timeout: float = 120,
        poll_interval: float = 2,
    ) -> Dict[str, Any]:
        """:meth:`AgentClient.update_system`, awaited."""
        return await self._system_operation(
            'update_system', _system_update_body(api_tag, worker_tag), 'updated', wait, timeout, poll_interval
        )

    async def restart_system(
        self, *, wait: bool = False, timeout: float = 120, poll_interval: float = 2
    ) -> Dict[str, Any]:
        """:meth:`AgentClient.restart_system`, awaited."""
        return await self._system_operation('restart_system', None, 'restarted', wait, timeout, poll_interval)

    async def _system_operation(
        self, operation: str, body: Any, done: str, wait: bool, timeout: float, poll_interval: float
    ) -> Dict[str, Any]:
        try:
            result = await self._run(operation, data=body)
        except Exception:
            if wait:
                await asyncio.sleep(poll_interval)
                if await self.wait_for_system_ready(timeout=timeout, poll_interval=poll_interval):
                    return {'status': 'success', 'message': f'System {done} and ready'}
            raise
        if wait and isinstance(result, dict) and result.get('status') == 'success':
            await asyncio.sleep(poll_interval)
            if await self.wait_for_system_ready(timeout=timeout, poll_interval=poll_interval):
                result['message'] = f'System {done} and ready'
        return result  # type: ignore[no-any-return]

    async def wait_for_build(self, build_id: str, *, timeout: float = 300, poll_interval: float = 2) -> Dict[str, Any]:
        """:meth:`AgentClient.wait_for_build`, awaited."""
        started = time.monotonic()
        while True:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f'Build {build_id} did not complete within {timeout}s')
            status = await cast(Awaitable[Dict[str, Any]], self.get_build_status(build_id))
            outcome = _build_outcome(build_id, status)
            if outcome is not None:
                return outcome
            await asyncio.sleep(poll_interval)

    async def create_container(
        self,
        plugin_release: Any = None,
        *,
        model: Optional[int] = None,
        params: Optional[Dict[str, Any]] = None,
        envs: Optional[Dict[str, str]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        labels: Optional[Iterable[str]] = None,
        plugin_file: Any = None,
        kind: Optional[str] = None,
        backend_container_id: Optional[int] = None,
        wait: bool = True,
        timeout: float = 300,
    ) -> Any:
        """:meth:`AgentClient.create_container`, awaited."""
        data = _container_body(
            plugin_release, model, params, envs, metadata, labels, plugin_file, kind, backend_container_id
        )
        upload = _plugin_file(plugin_file)
        if upload is None:
            response = await self._run('create_container', data=data)
        else:
            self._check_loop()
            response = await self._core.create_container_with_file_async(json.dumps(data), *upload)
        if not wait:
            return response
        build_id = response.get('build_id') if isinstance(response, dict) else None
        if not build_id:
            return response
        return await self.wait_for_build(build_id, timeout=timeout)

    def websocket_tail_job_logs(self, job_id: str, timeout: float = 30.0) -> AsyncLogTail:
        """Follow a job's log over WebSocket only."""
        return self.tail_job_logs(job_id, timeout, protocol='websocket')

    def stream_tail_job_logs(self, job_id: str, timeout: float = 30.0) -> AsyncLogTail:
        """Follow a job's log over HTTP chunked streaming only."""
        return self.tail_job_logs(job_id, timeout, protocol='http')

    def tail_job_logs(
        self,
        job_id: str,
        timeout: float = 30.0,
        protocol: str = 'auto',
        max_quiet: Optional[float] = None,
        *,
        tail: Optional[int] = None,
        from_line: Optional[int] = None,
    ) -> AsyncLogTail:
        """Follow a job's log until it is complete: an async iterator of lines.

        The same protocols, time-outs (``timeout`` for the server's silence,
        ``max_quiet`` for the job's) and start (``tail``, ``from_line``) as
        :meth:`AgentClient.tail_job_logs`.
        """
        quiet = None if max_quiet is None else float(max_quiet)
        args = (str(job_id), float(timeout), protocol, self._limits(), quiet, tail, from_line)
        return AsyncLogTail(self, args)


def _awaiting(op: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """An operation of ``_Operations`` as a coroutine method of the async client:
    its signature, result type and docstring, so ``help()`` shows
    ``async get_job(self, job_id: str) -> Dict[str, Any]`` as the stubs say."""

    @functools.wraps(op)
    async def call(self: AsyncAgentClient, *args: Any, **kwargs: Any) -> Any:
        return await op(self, *args, **kwargs)

    return call


for _name, _op in list(vars(_Operations).items()):
    if not _name.startswith('_') and callable(_op) and _name not in vars(AsyncAgentClient):
        setattr(AsyncAgentClient, _name, _awaiting(_op))
del _name, _op
