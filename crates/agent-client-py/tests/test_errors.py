"""Every HTTP fault the Rust integration tests cover (tests/tests/errors.rs),
through Python: the exception class of agent_client.exceptions and status_code."""

from __future__ import annotations

import socket
from typing import Any, Callable, Type

import pytest

from agent_client import AgentClient
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
    ValidationError,
)
from agent_client.testing import TestServer


def raises(cls: Type[ClientError], status: int, call: Callable[[], Any]) -> ClientError:
    with pytest.raises(cls) as info:
        call()
    assert type(info.value) is cls, repr(info.value)
    assert info.value.status_code == status, repr(info.value)
    return info.value


def test_a_wrong_token_is_authentication_error_401(server: TestServer) -> None:
    c = AgentClient(server.url, 'not-the-token')
    e = raises(AuthenticationError, 401, c.list_jobs)
    assert 'not-the-token' not in str(e) and 'not-the-token' not in repr(e)


def test_403_is_authorization_error(server: TestServer, client: AgentClient) -> None:
    server.set_fault('list_jobs', status=403, body={'detail': 'user may not read this tenant'})
    e = raises(AuthorizationError, 403, client.list_jobs)
    assert e.detail == 'user may not read this tenant'


def test_unknown_ids_are_not_found_404(client: AgentClient) -> None:
    raises(NotFoundError, 404, lambda: client.get_job('nope'))
    raises(NotFoundError, 404, lambda: client.get_node('nope'))
    raises(NotFoundError, 404, lambda: client.get_task('nope'))
    raises(NotFoundError, 404, lambda: client.get_serve_application('nope'))
    raises(NotFoundError, 404, lambda: client.get_plugin_release('nope@1.0.0'))
    raises(NotFoundError, 404, lambda: client.stop_job('nope'))
    raises(NotFoundError, 404, lambda: client.get_job_logs('nope'))


def test_a_404_fault_on_health(server: TestServer, client: AgentClient) -> None:
    server.set_fault('health', status=404, times=1)
    raises(NotFoundError, 404, client.health_check)
    assert client.health_check()['status'] == 'ok'


@pytest.mark.parametrize('bad', ['../x', 'a/b', '', 'x' * 300, 'job id', '%2e%2e'])
def test_ids_are_checked_before_any_request(server: TestServer, client: AgentClient, bad: str) -> None:
    for call in (client.get_job, client.stop_job, client.get_job_logs, client.get_node, client.get_task):
        raises(ValidationError, 400, lambda: call(bad))
    raises(ValidationError, 400, lambda: list(client.tail_job_logs(bad)))
    raises(ValidationError, 400, lambda: client.get_build_status(bad))
    assert server.request_count('get_job') == 0 and server.request_count('stop_job') == 0


def test_bad_tail_arguments_are_400(client: AgentClient) -> None:
    raises(ValidationError, 400, lambda: list(client.tail_job_logs('raysubmit_capture1', protocol='carrier-pigeon')))
    raises(ValidationError, 400, lambda: list(client.tail_job_logs('raysubmit_capture1', timeout=0)))
    raises(ValidationError, 400, lambda: list(client.tail_job_logs('raysubmit_capture1', timeout=10_000)))


def test_a_read_timeout_is_408(server: TestServer) -> None:
    c = AgentClient(server.url, server.token, timeout={'connect': 3, 'read': 0.3})
    server.set_fault('health', 'delay', seconds=3, times=2)
    raises(ClientTimeoutError, 408, c.health_check)


def test_a_stalled_answer_is_408(server: TestServer) -> None:
    c = AgentClient(server.url, server.token, timeout={'connect': 3, 'read': 0.3})
    server.set_fault('health', 'stall', times=2)
    raises(ClientTimeoutError, 408, c.health_check)


def test_422_is_validation_error_with_fastapi_details(server: TestServer, client: AgentClient) -> None:
    server.set_fault('create_plugin_release', 'validation', field='plugin', text='field required', times=1)
    e = raises(ValidationError, 422, lambda: client.create_plugin_release('demo', '2.0.0'))
    assert e.detail == [{'loc': ['body', 'plugin'], 'msg': 'field required', 'type': 'missing'}]
    assert 'body -> plugin: field required (type=missing)' in str(e)


def test_400_from_the_agent_is_validation_error(server: TestServer, client: AgentClient) -> None:
    server.set_fault('list_jobs', status=400, body={'detail': 'bad filter'})
    raises(ValidationError, 400, client.list_jobs)


def test_429_is_rate_limit_error_with_retry_after(server: TestServer, client: AgentClient) -> None:
    server.set_fault('list_jobs', status=429, body={'detail': 'slow down'}, headers={'Retry-After': '7'})
    e = raises(RateLimitError, 429, client.list_jobs)
    assert isinstance(e, RateLimitError) and e.retry_after == 7.0


@pytest.mark.parametrize('status', [500, 502, 504])
def test_5xx_is_server_error(server: TestServer, client: AgentClient, status: int) -> None:
    server.set_fault('list_nodes', status=status, text='the state API failed')
    raises(ServerError, status, client.list_nodes)


def test_503_is_server_error(server: TestServer, client: AgentClient) -> None:
    server.set_fault('list_jobs', status=503, text='down for maintenance')
    e = raises(ServerError, 503, client.list_jobs)
    assert 'down for maintenance' in str(e)


def test_gpu_unavailable_503(server: TestServer, client: AgentClient) -> None:
    server.set_fault('gpu_status', 'gpu_unavailable', text='no GPU in the cluster')
    e = raises(GpuUnavailableError, 503, client.get_gpu_status)
    assert 'no GPU in the cluster' in str(e)


def test_an_unexpected_status_is_http_error(server: TestServer, client: AgentClient) -> None:
    server.set_fault('list_nodes', status=418, text='teapot')
    raises(HTTPError, 418, client.list_nodes)


def test_an_answer_that_is_not_json_is_not_a_dict(server: TestServer, client: AgentClient) -> None:
    # synapse-sdk hands back the text of a body that is not JSON; so do we.
    server.set_fault('list_jobs', 'not_json', times=1)
    assert client.list_jobs() == '<html><body>this is not JSON</body></html>'


def test_faults_aimed_at_one_id_or_at_everything(server: TestServer, client: AgentClient) -> None:
    server.set_fault('get_job', status=503, id='raysubmit_failed1')
    raises(ServerError, 503, lambda: client.get_job('raysubmit_failed1'))
    assert client.get_job('raysubmit_capture1')['status'] == 'SUCCEEDED'
    server.set_fault('any', status=500, text='everything is broken')
    raises(ServerError, 500, client.health_check)
    server.clear_faults()
    assert client.health_check()['status'] == 'ok'


def test_an_unreachable_agent_is_client_connection_error_503() -> None:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    c = AgentClient(f'http://127.0.0.1:{port}/', 'token')
    raises(ClientConnectionError, 503, c.health_check)


def test_an_answer_cut_after_a_post_is_response_incomplete(server: TestServer, client: AgentClient) -> None:
    server.set_fault('run_plugin_release', 'close_after_bytes', bytes=3)
    e = raises(ClientResponseIncompleteError, 503, lambda: client.run_plugin_release('demo@1.0.0', 'train'))
    assert isinstance(e, ClientConnectionError)
    # a POST is never re-sent once it may have reached the agent
    assert server.request_count('run_plugin_release') == 1


def test_tokens_never_appear_in_errors_or_repr(server: TestServer) -> None:
    secret_user, secret_tenant = 'user-s3cret-token', 'tenant-s3cret'
    c = AgentClient(server.url, server.token, user_token=secret_user, tenant=secret_tenant)
    assert server.token not in repr(c) and secret_user not in repr(c)
    # a server that echoes the token back, and a token passed as an id by mistake
    server.set_fault('list_jobs', status=401, text=f'bad token {server.token} for {secret_user}')
    e = raises(AuthenticationError, 401, c.list_jobs)
    server.clear_faults()
    e2 = raises(ValidationError, 400, lambda: c.get_job(secret_user + '/x'))
    for err in (e, e2):
        text = f'{err} {err!r} {err.detail}'
        for secret in (server.token, secret_user):
            assert secret not in text, text
    # the headers did go out
    headers = server.last_request_headers('list_jobs')
    assert headers is not None and headers['synapse-user'] == f'Token {secret_user}'
    assert headers['synapse-tenant'] == f'Token {secret_tenant}'


def test_a_closed_client_refuses_calls(client: AgentClient) -> None:
    client.close()
    raises(ClientError, 500, client.list_jobs)
