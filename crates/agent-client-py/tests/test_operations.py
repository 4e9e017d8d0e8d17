"""Every operation of the sync client returns synapse-sdk's plain shapes."""

from __future__ import annotations

import pytest

from agent_client import AgentClient
from agent_client.exceptions import NotFoundError, ValidationError
from agent_client.testing import TestServer


def test_jobs(server: TestServer, client: AgentClient) -> None:
    jobs = client.list_jobs()
    assert isinstance(jobs, list) and [j['submission_id'] for j in jobs] == server.job_ids()
    job = client.get_job('raysubmit_failed1')
    assert job['status'] == 'FAILED' and job['submission_id'] == 'raysubmit_failed1'
    logs = client.get_job_logs('raysubmit_failed1')
    assert isinstance(logs, str) and 'ZeroDivisionError' in logs
    assert client.list_job_logs('raysubmit_failed1') == logs
    stopped = client.stop_job('raysubmit_slow1')
    assert isinstance(stopped, dict)
    assert client.get_job('raysubmit_slow1')['status'] == 'STOPPED'


def test_cluster(client: AgentClient) -> None:
    nodes = client.list_nodes()
    assert len(nodes) == 2
    assert client.get_node(nodes[0]['node_id']) == nodes[0]
    tasks = client.list_tasks()
    assert len(tasks) == 4
    assert client.get_task(tasks[0]['task_id'])['task_id'] == tasks[0]['task_id']
    assert isinstance(client.get_gpu_status(), dict)


def test_serve(client: AgentClient) -> None:
    apps = client.list_serve_applications()
    assert [a['name'] for a in apps] == ['hello']
    assert client.get_serve_application('hello')['route_prefix'] == '/hello'
    assert client.delete_serve_application('hello') is None
    with pytest.raises(NotFoundError):
        client.get_serve_application('hello')


def test_plugin_releases(server: TestServer, client: AgentClient) -> None:
    page = client.list_plugin_releases()
    assert isinstance(page, dict) and [r['code'] for r in page['results']] == ['demo']
    results, count = client.list_plugin_releases(list_all=True)
    assert count == 1 and [r['code'] for r in results] == ['demo']
    created = client.create_plugin_release('hello', '2.0.0')
    assert created['version'] == '2.0.0'
    assert client.get_plugin_release('hello@2.0.0')['code'] == 'hello'
    run = client.run_plugin_release('demo@1.0.0', 'train', {'epochs': 3}, requirements=['numpy'])
    assert run['job_id'] in server.job_ids()
    assert 'params: {"epochs":3}' in '\n'.join(client.tail_job_logs(run['job_id']))
    debug = client.run_debug_plugin_release('test', {'x': 1}, plugin_path='/src/demo')
    assert debug['job_id'] in server.job_ids()
    assert client.delete_plugin_release('hello@2.0.0') is None
    with pytest.raises(NotFoundError):
        client.get_plugin_release('hello@2.0.0')
    with pytest.raises(ValidationError):
        client.get_plugin_release('../etc')


def test_passthroughs_use_the_sdk_paths(server: TestServer, client: AgentClient) -> None:
    # The sample agent serves these endpoints (issue 21): answers prove the request
    # went out to the SDK's path; unknown ids are a 404, and ids are checked like
    # every other segment.
    assert client.get_system_status()['status'] == 'ready'
    assert 'services' in client.get_compose_config()
    assert client.list_docker_containers() == []
    assert client.get_gatekeeping_policy()['gatekeeping_enabled'] is True
    assert client.check_feasibility('job', 2.0)['feasible'] is True
    created = client.create_docker_container('demo@1.0.0', envs={'A': 'b'})
    assert [c['id'] for c in client.list_docker_containers()] == [created['id']]
    for call in (
        lambda: client.get_build_status('b-1'),
        lambda: client.get_container(7),
        lambda: client.update_container(7, status='stopped'),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(ValidationError):
        client.get_docker_container('../../jobs')


def test_stream_limits_have_the_sdk_defaults(client: AgentClient) -> None:
    from agent_client import StreamLimits

    limits = client.stream_limits
    assert limits == StreamLimits()
    assert (limits.max_messages, limits.max_lines, limits.max_bytes, limits.max_message_size, limits.queue_size) == (
        10_000,
        50_000,
        50 * 1024 * 1024,
        10_240,
        1_000,
    )
    client.stream_limits = StreamLimits(max_lines=7)
    assert client.stream_limits.max_lines == 7


def test_bad_settings_are_refused_at_construction(server: TestServer) -> None:
    with pytest.raises(ValidationError):
        AgentClient(server.url, server.token, timeout={'connect': -1, 'read': 10})
    with pytest.raises(ValidationError):
        AgentClient('ftp://example.com/', server.token)
    with pytest.raises(ValidationError):
        list(AgentClient(server.url, server.token).tail_job_logs('raysubmit_capture1', protocol='auto', timeout=-5))
