"""A test agent for your own tests: no cluster needed.

::

    from agent_client import AgentClient
    from agent_client.testing import TestServer

    with TestServer() as server:
        client = AgentClient(server.url, server.token)
        assert client.health_check()['status'] == 'ok'

``TestServer()`` serves the sample cluster on ``127.0.0.1`` from a thread of this
process: jobs in every state with real Ray logs (``raysubmit_capture1`` SUCCEEDED,
``raysubmit_failed1`` FAILED, ``raysubmit_slow1`` RUNNING, ...), two nodes, four
tasks, the Serve application ``hello`` and the plugin release ``demo@1.0.0``.

Faults on demand (:meth:`TestServer.set_fault`, :meth:`TestServer.set_tail_fault`)
and the request journal (:meth:`TestServer.request_count`) exist only in a wheel
built with the cargo feature ``faults`` (``cargo xtask ci`` tests one); the wheel
users install ships no test code, and these raise ``RuntimeError`` there.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from agent_client import _native

__all__ = ['TestServer']


class TestServer:
    """The sample agent, started at construction; a context manager that stops it."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self._server = _native.TestServer()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT/``."""
        return self._server.url

    @property
    def token(self) -> str:
        """The agent token it accepts."""
        return self._server.token

    def __repr__(self) -> str:
        return f'TestServer(url={self.url!r})'

    def __enter__(self) -> 'TestServer':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """Stops the server and closes its connections."""
        self._server.stop()

    def job_ids(self) -> List[str]:
        """The ids of its jobs."""
        return self._server.job_ids()

    def add_job(
        self,
        job_id: str,
        *,
        lines: Optional[List[str]] = None,
        generate: Optional[int] = None,
        line_bytes: int = 100,
        endless: bool = False,
        rate: Optional[float] = None,
        running: bool = False,
    ) -> None:
        """Adds a job: with ``lines``, ``generate`` lines of ``line_bytes`` bytes, or
        ``endless`` lines at ``rate`` a second; ``running`` keeps it RUNNING."""
        self._server.add_job(
            job_id, lines=lines, generate=generate, line_bytes=line_bytes, endless=endless, rate=rate, running=running
        )

    def add_node(self, node: Dict[str, Any]) -> None:
        """Adds a node (Ray's State API shape; ``node_id`` names it)."""
        self._server.add_object('node', json.dumps(node))

    def add_task(self, task: Dict[str, Any]) -> None:
        """Adds a task (Ray's State API shape; ``task_id`` names it)."""
        self._server.add_object('task', json.dumps(task))

    def add_serve_application(self, app: Dict[str, Any]) -> None:
        """Adds a Serve application (Ray's Serve API shape; ``name`` names it)."""
        self._server.add_object('serve', json.dumps(app))

    def append_lines(self, job_id: str, lines: List[str]) -> bool:
        """Appends lines to a job's log."""
        return self._server.append_lines(job_id, lines)

    def finish_job(self, job_id: str) -> bool:
        """Ends a running job as SUCCEEDED."""
        return self._server.finish_job(job_id)

    def _test_code(self, name: str) -> Any:
        """The native method ``name`` of the test wheel's server."""
        method = getattr(self._server, name, None)
        if method is None:
            raise RuntimeError(
                f'TestServer.{name} needs a wheel built with the cargo feature `faults` '
                '(faults and the request journal are test code, left out of the release wheel)'
            )
        return method

    def request_count(self, route: str) -> int:
        """How many requests of ``route`` (e.g. ``'list_jobs'``) arrived."""
        count: int = self._test_code('request_count')(route)
        return count

    def last_request_headers(self, route: str) -> Optional[Dict[str, str]]:
        """The headers of the last request of ``route``."""
        headers = self._test_code('last_request_headers')(route)
        return None if headers is None else dict(headers)

    def set_fault(
        self,
        route: str,
        kind: str = 'status',
        *,
        status: int = 500,
        body: Any = None,
        text: Optional[str] = None,
        field: Optional[str] = None,
        seconds: float = 0.0,
        bytes: int = 0,
        headers: Optional[Dict[str, str]] = None,
        times: Optional[int] = None,
        after: Optional[float] = None,
        id: Optional[str] = None,
    ) -> None:
        """Makes requests of ``route`` (or ``'any'``) misbehave.

        ``kind``: ``'status'`` (answer ``status`` with the JSON ``body`` or ``text``),
        ``'gpu_unavailable'`` (``text``: the detail), ``'validation'`` (``field``,
        ``text``), ``'not_json'``, ``'delay'`` (``seconds``), ``'stall'``,
        ``'close_after_bytes'`` (``bytes``). ``times``: the first N requests only.
        """
        header_list: Optional[List[Tuple[str, str]]] = list(headers.items()) if headers else None
        self._test_code('set_fault')(
            route,
            kind,
            status=status,
            body_json=None if body is None else json.dumps(body),
            text=text,
            field=field,
            seconds=seconds,
            bytes=bytes,
            headers=header_list,
            times=times,
            after=after,
            id=id,
        )

    def clear_faults(self) -> None:
        """Clears every HTTP fault."""
        self._test_code('clear_faults')()

    def set_tail_fault(
        self,
        job_id: Optional[str],
        kind: str,
        *,
        lines: int = 0,
        events: int = 0,
        bytes: int = 0,
        fragment: Optional[int] = None,
        seconds: float = 0.0,
        message: str = '',
        protocol: Optional[str] = None,
        times: Optional[int] = None,
    ) -> bool:
        """Makes the log tails of ``job_id`` (every job when ``None``) misbehave.

        ``kind``: ``'error_after'`` (``lines``, ``message``), ``'drop_after'``
        (``events``), ``'not_json'``, ``'bare_lines'``, ``'oversized'`` (``lines``,
        ``bytes``, ``fragment``), ``'endless_line'`` (``lines``), ``'invalid_utf8'``
        (``lines``), ``'silent_for'`` (``lines``, ``seconds``); ``protocol``:
        ``'websocket'`` or ``'http'`` only.
        """
        armed: bool = self._test_code('set_tail_fault')(
            job_id,
            kind,
            lines=lines,
            events=events,
            bytes=bytes,
            fragment=fragment,
            seconds=seconds,
            message=message,
            protocol=protocol,
            times=times,
        )
        return armed
