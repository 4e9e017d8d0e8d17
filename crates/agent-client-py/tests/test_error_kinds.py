"""Every Rust error kind crosses into Python as its documented exception class
(issue 21, item 4).

The Rust side chooses the class by an exhaustive match on ``ErrorKind``
(``crates/agent-client-py/src/errors.rs``), so a new Rust variant does not compile
until it has a class; ``_native.ERROR_CLASSES`` is that table. Here each kind is
produced for real, against the test agent, and must come out as the class of the
documented table (the README's and ``errors.rs``'s), with ``kind`` set.
"""

from __future__ import annotations

import socket
from typing import Callable, Dict, List, Literal, Tuple, Type

import pytest

from agent_client import AgentClient, StreamLimits, _native
from agent_client import exceptions
from agent_client.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    GpuUnavailableError,
    HTTPError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamError,
    StreamLimitExceededError,
    ValidationError,
    WebSocketError,
)
from agent_client.testing import TestServer

from conftest import lines

# The documented table: kind -> (class, status_code).
DOCUMENTED: Dict[str, Tuple[Type[ClientError], int]] = {
    'invalid_input': (ValidationError, 400),
    'bad_request': (ValidationError, 400),
    'unauthorized': (AuthenticationError, 401),
    'forbidden': (AuthorizationError, 403),
    'not_found': (NotFoundError, 404),
    'timeout': (ClientTimeoutError, 408),
    'validation': (ValidationError, 422),
    'rate_limited': (RateLimitError, 429),
    'limit_exceeded': (StreamLimitExceededError, 429),
    'server': (ServerError, 500),
    'stream_failed': (StreamError, 500),
    'unavailable': (ServerError, 503),
    'gpu_unavailable': (GpuUnavailableError, 503),
    'connect': (ClientConnectionError, 503),
    'response_incomplete': (ClientResponseIncompleteError, 503),
    'unexpected_status': (HTTPError, 418),
    'decode': (ClientError, 500),
    'protocol': (WebSocketError, 500),
    'usage': (ClientError, 500),
}

JOB = 'raysubmit_kinds1'


def _tail(client: AgentClient, protocol: Literal['websocket', 'http', 'auto']) -> None:
    for _ in client.tail_job_logs(JOB, protocol=protocol):
        pass


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _produce(kind: str, server: TestServer) -> Callable[[], object]:
    """Arms the test agent so that the returned call fails with an error of ``kind``."""
    client = AgentClient(server.url, server.token)
    server.add_job(JOB, lines=lines('kinds', 20))
    if kind == 'invalid_input':
        return lambda: client.get_job('../x')
    if kind == 'bad_request':
        server.set_fault('list_jobs', status=400, body={'detail': 'bad filter'})
        return client.list_jobs
    if kind == 'unauthorized':
        return AgentClient(server.url, 'not-the-token').list_jobs
    if kind == 'forbidden':
        server.set_fault('list_jobs', status=403)
        return client.list_jobs
    if kind == 'not_found':
        return lambda: client.get_job('nope')
    if kind == 'timeout':
        slow = AgentClient(server.url, server.token, timeout={'connect': 3, 'read': 0.2})
        server.set_fault('health', 'stall')
        return slow.health_check
    if kind == 'validation':
        server.set_fault('create_plugin_release', 'validation', field='plugin')
        return lambda: client.create_plugin_release('demo', '2.0.0')
    if kind == 'rate_limited':
        server.set_fault('list_jobs', status=429)
        return client.list_jobs
    if kind == 'limit_exceeded':
        client.stream_limits = StreamLimits(max_lines=3)
        return lambda: _tail(client, 'http')
    if kind == 'server':
        server.set_fault('list_nodes', status=500)
        return client.list_nodes
    if kind == 'stream_failed':
        server.set_tail_fault(JOB, 'error_after', lines=2, message='the worker died')
        return lambda: _tail(client, 'http')
    if kind == 'unavailable':
        server.set_fault('list_jobs', status=503)
        return client.list_jobs
    if kind == 'gpu_unavailable':
        server.set_fault('gpu_status', 'gpu_unavailable', text='no GPU')
        return client.get_gpu_status
    if kind == 'connect':
        return AgentClient(f'http://127.0.0.1:{_closed_port()}/', 'token').health_check
    if kind == 'response_incomplete':
        server.set_fault('run_plugin_release', 'close_after_bytes', bytes=3)
        return lambda: client.run_plugin_release('demo@1.0.0', 'train')
    if kind == 'unexpected_status':
        server.set_fault('list_nodes', status=418)
        return client.list_nodes
    if kind == 'decode':
        # A content coding the client cannot decode is named, never delivered.
        server.set_fault('list_jobs', status=200, text='x', headers={'Content-Encoding': 'br'})
        return client.list_jobs
    if kind == 'protocol':
        server.set_tail_fault(JOB, 'invalid_utf8', lines=2)
        return lambda: _tail(client, 'websocket')
    if kind == 'usage':
        client.close()
        return client.list_jobs
    raise AssertionError(f'no way to produce {kind!r}: add one to this test')


def test_the_table_names_every_rust_kind_once() -> None:
    kinds: List[str] = [k for k, _ in _native.ERROR_CLASSES]
    assert len(kinds) == len(set(kinds))
    assert set(kinds) == set(DOCUMENTED), 'a Rust error kind without a documented class'
    for kind, class_name in _native.ERROR_CLASSES:
        assert getattr(exceptions, class_name) is DOCUMENTED[kind][0], kind


@pytest.mark.parametrize('kind', sorted(DOCUMENTED))
def test_each_kind_raises_its_documented_class(server: TestServer, kind: str) -> None:
    cls, status = DOCUMENTED[kind]
    call = _produce(kind, server)
    with pytest.raises(ClientError) as info:
        call()
    err = info.value
    assert type(err) is cls, f'{kind}: {err!r}'
    assert err.kind == kind, f'{kind}: {err!r}'
    assert err.status_code == status, f'{kind}: {err!r}'


def test_an_exception_made_in_python_has_no_kind() -> None:
    assert NotFoundError('x').kind is None
