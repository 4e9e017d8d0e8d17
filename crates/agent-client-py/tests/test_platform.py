"""synapse-sdk's platform methods (resources, system, builds, Docker and plugin
containers), each against the test agent, sync and async (issue 21, item 2); and
the route of every request is the Rust description's: ``_client.py`` names
operations, never paths."""

from __future__ import annotations

import ast
import asyncio
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from agent_client import AgentClient, AsyncAgentClient, _native
from agent_client import _client as client_module
from agent_client.exceptions import ClientError, NotFoundError, ValidationError
from agent_client.models import AgentRuntimePolicy, ClusterResourceSnapshot
from agent_client.testing import TestServer

FAST = 0.05  # poll interval of the tests, seconds
KINDS = ['sync', 'async']


class Caller:
    """Calls a method by name on a sync client, or on an async one (awaited)."""

    def __init__(self, server: TestServer, kind: str):
        self.server = server
        self.kind = kind
        self.sync = AgentClient(server.url, server.token)

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == 'sync':
            return getattr(self.sync, name)(*args, **kwargs)

        async def run() -> Any:
            async with AsyncAgentClient(self.server.url, self.server.token) as client:
                result = await getattr(client, name)(*args, **kwargs)
                if isinstance(result, tuple) and len(result) == 2 and hasattr(result[0], '__aiter__'):
                    return [item async for item in result[0]], result[1]
                return result

        return asyncio.run(run())


@pytest.fixture(params=KINDS)
def call(request: Any, server: TestServer) -> Iterator[Caller]:
    yield Caller(server, request.param)


def test_get_cluster_resources(server: TestServer, call: Caller) -> None:
    snap = call('get_cluster_resources', use_cache=False)
    assert isinstance(snap, ClusterResourceSnapshot)
    assert snap.node_counts.alive == 2 and snap.cpu.total > 0
    assert server.request_count('get_cluster_resources') == 1


def test_check_feasibility(server: TestServer, call: Caller) -> None:
    assert call('check_feasibility', 'job', 1.0)['feasible'] is True
    too_big = call('check_feasibility', 'job', 100_000.0, num_gpus=1, replicas=2, metadata={'team': 'x'})
    assert too_big['feasible'] is False and too_big['reasons']


def test_gatekeeping_and_runtime_policy(server: TestServer, call: Caller) -> None:
    policy = call('get_gatekeeping_policy')
    assert isinstance(policy, dict) and 'max_concurrent_jobs' in policy
    assert call('update_gatekeeping_policy', {'max_concurrent_jobs': 5})['max_concurrent_jobs'] == 5
    runtime = call('get_runtime_policy')
    assert isinstance(runtime, AgentRuntimePolicy) and runtime.max_concurrent_jobs == 5
    updated = call('update_runtime_policy', {'max_concurrent_jobs': 6})
    assert isinstance(updated, AgentRuntimePolicy) and updated.max_concurrent_jobs == 6


def test_compose_config_and_system_status(server: TestServer, call: Caller) -> None:
    assert 'services' in call('get_compose_config')
    assert call('get_system_status')['ready'] is True
    assert call('wait_for_system_ready', timeout=10, poll_interval=FAST) is True


def test_update_and_restart_system(server: TestServer, call: Caller) -> None:
    done = call('update_system', api_tag='2026.3.1', wait=True, timeout=10, poll_interval=FAST)
    assert done['status'] == 'success' and done['message'] == 'System updated and ready'
    assert '2026.3.1' in str(call('get_compose_config'))
    restarted = call('restart_system')
    assert restarted['status'] == 'success'
    assert call('restart_system', wait=True, poll_interval=FAST)['message'] == 'System restarted and ready'


def test_docker_containers(server: TestServer, call: Caller) -> None:
    made = call('create_docker_container', 'demo@1.0.0', envs={'A': 'b'}, labels=['x'])
    cid = made['id']
    assert [c['id'] for c in call('list_docker_containers')] == [cid]
    assert call('get_docker_container', cid)['status'] == 'running'
    assert call('stop_docker_container', cid)['status'] != 'running'
    assert call('start_docker_container', cid)['status'] == 'running'
    assert call('delete_docker_container', cid) is None
    with pytest.raises(NotFoundError):
        call('get_docker_container', cid)
    with pytest.raises(ValidationError):
        call('get_docker_container', '../../jobs')


def test_plugin_containers_builds_and_exists(server: TestServer, call: Caller) -> None:
    assert call('exists', 'list_containers') is False
    container = call('create_container', 'demo@1.0.0', params={'x': 1}, timeout=10)
    # wait=True: the build's result, the container now running
    assert container['status'] == 'running' and container['plugin_release'] == 'demo@1.0.0'
    answer = call('create_container', 'demo@1.0.0', wait=False)
    build = answer['build_id']
    assert call('get_build_status', build)['build_id'] == build
    assert call('wait_for_build', build, timeout=10, poll_interval=FAST)['status'] == 'running'
    with pytest.raises(RuntimeError, match='not found'):
        call('create_container', 'nope@9.9.9', timeout=10)
    assert call('exists', 'list_containers') is True

    page = call('list_containers', {'page_size': 2})
    assert page['count'] == 3 and len(page['results']) == 2
    every, count = call('list_containers', {'page_size': 2}, list_all=True)
    assert count == 3 and len(list(every)) == 3

    cid = container['id']
    assert call('get_container', cid)['id'] == cid
    assert call('update_container', cid, status='stopped')['status'] == 'stopped'
    assert call('delete_container', cid) is None
    with pytest.raises(NotFoundError):
        call('get_container', cid)
    with pytest.raises(NotFoundError):
        call('get_build_status', 'build-999')


def test_create_container_uploads_a_plugin_file(server: TestServer, call: Caller, tmp_path: Path) -> None:
    archive = tmp_path / 'my_plugin.zip'
    archive.write_bytes(b'PK\x03\x04 a plugin')
    made = call('create_container', plugin_file=str(archive), wait=False)
    assert made['plugin_file'] == {'filename': 'my_plugin.zip', 'size': len(archive.read_bytes())}
    with archive.open('rb') as f:
        opened = call('create_container', plugin_file=f, model=3, wait=False)
    # form fields travel as text in multipart
    assert opened['plugin_file']['filename'] == 'my_plugin.zip' and str(opened['model']) == '3'
    raw = call('create_container', plugin_file=b'bytes', wait=False)
    assert raw['plugin_file'] == {'filename': 'plugin.zip', 'size': 5}
    # an empty archive: the build fails, as synapse-sdk reports it
    empty = tmp_path / 'empty.zip'
    empty.write_bytes(b'')
    with pytest.raises(RuntimeError, match='is empty'):
        call('create_container', plugin_file=str(empty), timeout=10)
    with pytest.raises(FileNotFoundError):
        call('create_container', plugin_file=str(tmp_path / 'missing.zip'))
    with pytest.raises(TypeError):
        call('create_container', plugin_file=12)


def test_reset_connection_keeps_the_client_working(server: TestServer) -> None:
    client = AgentClient(server.url, server.token)
    assert client.health_check()['status'] == 'ok'
    client.reset_connection()
    assert client.health_check()['status'] == 'ok'
    client.close()
    with pytest.raises(ClientError):
        client.reset_connection()


def _code_strings(source: str) -> List[str]:
    """Every string literal of ``source`` that is not a docstring."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_every_route_comes_from_the_description() -> None:
    operations = {name for name, _, _ in _native.OPERATIONS}
    assert {'get_job', 'list_containers', 'create_container', 'get_cluster_resources'} <= operations
    roots = {template.split('/')[0] + '/' for _, _, template in _native.OPERATIONS}
    strings = _code_strings(inspect.getsource(client_module))
    routes = [s for s in strings if any(s.startswith(root) for root in roots)]
    assert routes == [], f'route strings in _client.py: {routes}'
    # every operation _client.py names is one of the description's
    named = {s for s in strings if s in operations}
    assert len(named) >= 30, named
    for name in named:
        assert name in operations


def test_an_unknown_operation_or_a_streamed_one_is_refused(client: AgentClient) -> None:
    core: Any = getattr(client, '_core')
    with pytest.raises(ValidationError, match='not an operation'):
        core.op('no_such_operation')
    with pytest.raises(ValidationError, match='streams'):
        core.op('stream_tail_job_logs', 'raysubmit_capture1')
    with pytest.raises(ValidationError, match='takes no id'):
        core.op('list_jobs', 'x')
    with pytest.raises(ValidationError):
        core.op('get_job', '../x')
    assert core.op('get_job', 'raysubmit_capture1')['status'] == 'SUCCEEDED'


PLATFORM_TYPES = '''
import asyncio
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

from agent_client import AgentClient, AsyncAgentClient, LongPollHandler


class Queue:
    def set_request(self, request: Dict[str, Any]) -> int:
        return 1

    def get_response(self, request_id: Any) -> Dict[str, Any]:
        return {'status': 200, 'data': {}}


def sync_calls(client: AgentClient) -> int:
    handler: LongPollHandler = Queue()
    other = AgentClient('http://x/', 't', long_poll_handler=handler)
    other.reset_connection()
    made: Any = client.create_container(plugin_file=Path('p.zip'), wait=False)
    with open('p.zip', 'rb') as f:
        client.create_container(plugin_file=f)
    client.create_container(plugin_file=b'zip')
    found: bool = client.exists('list_containers', {'status': 'running'})
    docker = client.create_docker_container('demo@1.0.0', envs={'A': 'b'})
    feas = client.check_feasibility('job', 2.0, num_gpus=1)
    return len(made) + int(found) + len(docker) + len(feas)


async def async_calls(client: AsyncAgentClient) -> bool:
    client.reset_connection()
    await client.create_container(plugin_file='p.zip', wait=False)
    return await client.exists('list_plugin_releases')
'''


def test_mypy_strict_accepts_the_platform_surface(tmp_path: Path) -> None:
    source = tmp_path / 'platform_types.py'
    source.write_text(PLATFORM_TYPES)
    done = subprocess.run(
        [sys.executable, '-m', 'mypy', '--strict', '--no-incremental', '--cache-dir=/dev/null', str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
