"""The seed document's examples, sync and async, run unchanged apart from their
import lines against a TestServer: the example URL and token are pointed at it."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

import agent_client
from agent_client.testing import TestServer

from conftest import lines

SEED = Path(__file__).parent / 'seed'


def seed_cluster(server: TestServer) -> None:
    """The ids the examples use: jobs, a node, a task, a Serve application."""
    server.add_job('raysubmit_abc123', lines=lines('abc', 3))
    server.add_job('job-id', lines=lines('unified', 2))
    server.add_node({'node_id': 'node-abc123', 'node_ip': '192.0.2.9', 'state': 'ALIVE', 'is_head_node': False})
    server.add_task({'task_id': 'task-xyz789', 'name': 'f', 'state': 'FINISHED'})
    server.add_serve_application({'name': 'my-app', 'route_prefix': '/my-app', 'status': 'RUNNING'})


@pytest.fixture
def pointed(server: TestServer, monkeypatch: pytest.MonkeyPatch) -> TestServer:
    """Makes ``AgentClient("https://agent.example.com", "your-agent-token")`` reach
    the test server: the examples' own URL and token stay as written."""
    seed_cluster(server)

    def redirect(cls: type) -> type:
        class Pointed(cls):  # type: ignore[misc, valid-type]
            def __init__(self, base_url: str, agent_token: str, **kwargs: object) -> None:
                assert base_url == 'https://agent.example.com' and agent_token == 'your-agent-token'
                super().__init__(server.url, server.token, **kwargs)

        Pointed.__name__ = cls.__name__
        return Pointed

    monkeypatch.setattr(agent_client, 'AgentClient', redirect(agent_client.AgentClient))
    monkeypatch.setattr(agent_client, 'AsyncAgentClient', redirect(agent_client.AsyncAgentClient))
    return server


def test_sync_examples(pointed: TestServer, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(SEED / 'sync_usage.py'), run_name='__main__')
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Agent status: {") and "'status': 'ok'" in out[0]
    assert out[1:4] == lines('abc', 3)
    assert out[4:6] == lines('unified', 2)
    assert out[6:] == ['Job not found']
    # the example really stopped the job and deleted the application
    assert pointed.request_count('stop_job') == 1
    assert pointed.request_count('delete_serve_application') == 1


def test_async_examples(pointed: TestServer, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(SEED / 'async_usage.py'), run_name='__main__')
    out = capsys.readouterr().out.splitlines()
    jobs = len(pointed.job_ids())
    assert out == lines('abc', 3) + lines('unified', 2) + [
        f'status ok, {jobs} jobs',
        f'{jobs} jobs without a context manager',
    ]
