"""``AgentClient(..., long_poll_handler=h)``, as synapse-sdk takes it (issue 21,
item 3): every request goes through ``h.set_request(dict)`` / ``h.get_response(id)``
instead of HTTP. The handler here keeps the queued requests in memory and has the
real test agent answer each one on ``get_response`` (as an agent polling a queue
would); the client's own URL is a closed port, never dialled."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Mapping

import pytest

from agent_client import AgentClient, AsyncAgentClient
from agent_client.exceptions import (
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    NotFoundError,
    ValidationError,
)
from agent_client.testing import TestServer

NOWHERE = 'http://127.0.0.1:9/'  # the discard port: nothing answers there
JOB = 'raysubmit_capture1'


class AgentBehindAQueue:
    """An in-memory long-poll handler answered by the test agent."""

    def __init__(self, server: TestServer):
        self._url = server.url
        self._lock = threading.Lock()
        self._queued: Dict[int, Dict[str, Any]] = {}
        self._next = 0
        self.dicts: List[Dict[str, Any]] = []
        # no proxy from the environment between the "agent" and the test server
        self._open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open

    def set_request(self, request: Dict[str, Any]) -> int:
        with self._lock:
            self._next += 1
            self._queued[self._next] = request
            self.dicts.append(request)
            return self._next  # an int: ids pass back as they are

    def get_response(self, request_id: Any) -> Mapping[str, Any]:
        with self._lock:
            request = self._queued.pop(request_id)
        url = self._url + request['path']
        if 'params' in request:
            url += '?' + urllib.parse.urlencode(request['params'])
        body = json.dumps(request['data']).encode() if 'data' in request else None
        http = urllib.request.Request(url, data=body, method=request['method'].upper(), headers=request['headers'])
        try:
            with self._open(http, timeout=10) as answer:
                status, reason, raw = answer.status, answer.reason, answer.read()
        except urllib.error.HTTPError as refused:
            status, reason, raw = refused.code, refused.reason, refused.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode()
        return {'status': status, 'reason': reason, 'data': data}


@pytest.fixture
def handler(server: TestServer) -> AgentBehindAQueue:
    return AgentBehindAQueue(server)


def test_every_request_goes_through_the_handler(server: TestServer, handler: AgentBehindAQueue) -> None:
    client = AgentClient(NOWHERE, server.token, user_token='user-tok', long_poll_handler=handler)
    assert client.long_poll_handler is handler
    assert client.health_check()['status'] == 'ok'
    assert any(j['submission_id'] == JOB for j in client.list_jobs())
    assert client.get_job(JOB)['status'] == 'SUCCEEDED'
    assert client.get_job_logs(JOB).rstrip().endswith('last line')
    assert client.create_plugin_release('other', '2.0.0')['version'] == '2.0.0'
    page = client.list_plugin_releases({'page_size': 5})
    assert isinstance(page, dict) and page['count'] >= 1
    # synapse-sdk's request dict: lower-case method, relative path, headers, params, data
    post = next(d for d in handler.dicts if d['method'] == 'post')
    assert post['path'] == 'plugin_releases/'
    assert post['data'] == {'plugin': 'other', 'version': '2.0.0'}
    assert post['headers']['Authorization'] == server.token
    assert post['headers']['SYNAPSE-User'] == 'Token user-tok'
    assert post['headers']['Content-Type'] == 'application/json'
    listed = [d for d in handler.dicts if d['path'] == 'plugin_releases/' and d['method'] == 'get']
    assert listed[0]['params'] == {'page_size': '5'}
    assert server.request_count('health') == 1


def test_error_answers_map_as_the_sdk_maps_them(server: TestServer, handler: AgentBehindAQueue) -> None:
    client = AgentClient(NOWHERE, server.token, long_poll_handler=handler)
    with pytest.raises(NotFoundError) as nf:
        client.get_job('nope')
    assert nf.value.status_code == 404
    server.set_fault('create_plugin_release', 'validation', field='plugin', text='field required', times=1)
    with pytest.raises(ValidationError) as invalid:
        client.create_plugin_release('demo', '2.0.0')
    assert invalid.value.status_code == 422
    assert invalid.value.detail == [{'loc': ['body', 'plugin'], 'msg': 'field required', 'type': 'missing'}]
    # ids are checked before anything is queued
    before = len(handler.dicts)
    with pytest.raises(ValidationError):
        client.get_job('../x')
    assert len(handler.dicts) == before


def test_a_tail_raises_a_clear_error(server: TestServer, handler: AgentBehindAQueue) -> None:
    client = AgentClient(NOWHERE, server.token, long_poll_handler=handler)
    for protocol in ('auto', 'websocket', 'http'):
        with pytest.raises(ClientError) as err:
            list(client.tail_job_logs(JOB, protocol=protocol))
        assert err.value.status_code == 500
        assert 'no streaming' in str(err.value), str(err.value)
    assert all('logs/stream' not in d['path'] for d in handler.dicts)


def test_a_handler_timeout_is_408(server: TestServer) -> None:
    class TimesOut:
        def set_request(self, request: Dict[str, Any]) -> str:
            return 'x'

        def get_response(self, request_id: Any) -> Mapping[str, Any]:
            raise TimeoutError('nobody answered')

    client = AgentClient(NOWHERE, server.token, long_poll_handler=TimesOut())
    with pytest.raises(ClientTimeoutError) as got:
        client.health_check()
    assert got.value.status_code == 408
    # a POST may have reached the agent: it says so, still with 408
    with pytest.raises(ClientResponseIncompleteError) as post:
        client.stop_job(JOB)
    assert post.value.status_code == 408


def test_a_handler_that_never_answers_is_408_within_the_read_timeout(server: TestServer) -> None:
    release = threading.Event()

    class Silent:
        def set_request(self, request: Dict[str, Any]) -> str:
            return 'x'

        def get_response(self, request_id: Any) -> Mapping[str, Any]:
            release.wait(30)
            return {'status': 200, 'data': {}}

    client = AgentClient(NOWHERE, server.token, timeout={'connect': 1, 'read': 0.3}, long_poll_handler=Silent())
    try:
        with pytest.raises(ClientTimeoutError):
            client.health_check()
    finally:
        release.set()


def test_the_handlers_own_exception_propagates_unchanged(server: TestServer) -> None:
    class BrokerDown(Exception):
        pass

    class Broken:
        def set_request(self, request: Dict[str, Any]) -> str:
            raise BrokerDown('the broker is down')

        def get_response(self, request_id: Any) -> Mapping[str, Any]:
            raise AssertionError('never called')

    client = AgentClient(NOWHERE, server.token, long_poll_handler=Broken())
    with pytest.raises(BrokerDown, match='the broker is down'):
        client.list_jobs()


def test_a_handler_without_the_two_methods_is_refused() -> None:
    with pytest.raises(TypeError, match='set_request'):
        AgentClient(NOWHERE, 'token', long_poll_handler=object())  # type: ignore[arg-type]


def test_the_async_client_goes_through_the_handler(server: TestServer, handler: AgentBehindAQueue) -> None:
    async def run() -> None:
        async with AsyncAgentClient(NOWHERE, server.token, long_poll_handler=handler) as client:
            assert (await client.health_check())['status'] == 'ok'
            assert (await client.get_job(JOB))['status'] == 'SUCCEEDED'
            assert (await client.stop_job('raysubmit_slow1'))['stopped'] is True
            with pytest.raises(NotFoundError):
                await client.get_job('nope')
            with pytest.raises(ClientError, match='no streaming'):
                async for _ in client.tail_job_logs(JOB):
                    pass
            assert await client.exists('list_plugin_releases')

    asyncio.run(run())
    assert [d['method'] for d in handler.dicts[:3]] == ['get', 'get', 'post']


def test_exists_and_reset_connection(server: TestServer, client: AgentClient) -> None:
    assert client.exists('list_plugin_releases') is True
    assert client.exists('list_plugin_releases', {'page_size': 1}) is True
    client.reset_connection()
    assert client.health_check()['status'] == 'ok'
