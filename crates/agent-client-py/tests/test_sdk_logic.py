"""The synapse-sdk methods that hold logic (waits, polling, typed answers), sync and
async, against a Synapse agent on loopback (tests/synapse_agent.py), and the
async ``list_all``."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, Iterator, List

import pytest

from agent_client import AgentClient, AsyncAgentClient
from agent_client.exceptions import ClientConnectionError, ClientError, NotFoundError
from agent_client.models import AgentRuntimePolicy, ClusterResourceSnapshot

from synapse_agent import SynapseAgent, build_states

FAST = 0.05  # poll interval of the tests, seconds


@pytest.fixture
def agent() -> Iterator[SynapseAgent]:
    with SynapseAgent() as a:
        yield a


def sync_client(agent: SynapseAgent) -> AgentClient:
    return AgentClient(agent.url, agent.token)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- typed answers ------------------------------------------------------------------


def check_snapshot(snap: ClusterResourceSnapshot) -> None:
    assert isinstance(snap, ClusterResourceSnapshot)
    assert snap.collected_at == datetime.datetime(2026, 12, 2, 6, 0, tzinfo=datetime.timezone.utc)
    assert snap.cpu.available == 12.0 and snap.cpu.total == 16.0
    assert snap.memory.total == 0.0  # missing: the SDK model's default
    assert snap.gpu.total_gpus == 2 and snap.gpu.max_utilization == 0.0
    assert snap.object_store is None
    assert snap.node_counts.alive == 2 and snap.node_counts.dead == 0
    assert snap.nodes[0].node_id == 'n1' and snap.nodes[0].is_head_node
    assert snap.nodes[0].gpus[0].name == 'A100' and snap.nodes[0].state == 'ALIVE'
    dumped = snap.model_dump()
    assert dumped['cpu'] == {'total': 16.0, 'used': 4.0, 'available': 12.0}
    assert 'from_a_newer_agent' not in dumped  # unknown fields are ignored


def test_get_cluster_resources(agent: SynapseAgent) -> None:
    client = sync_client(agent)
    snap = client.get_cluster_resources()
    check_snapshot(snap)
    assert agent.last('GET', 'resources/cluster/')[0] == {'use_cache': ['true']}
    assert snap.stale
    assert not client.get_cluster_resources(use_cache=False).stale
    assert agent.last('GET', 'resources/cluster/')[0] == {'use_cache': ['false']}
    check_snapshot(run(AsyncAgentClient(agent.url, agent.token).get_cluster_resources()))


def test_runtime_policy_is_typed_and_tolerant(agent: SynapseAgent) -> None:
    client = sync_client(agent)
    policy = client.get_runtime_policy()
    assert isinstance(policy, AgentRuntimePolicy)
    # from the agent
    assert policy.max_concurrent_jobs == 5 and policy.gatekeeping_enabled is False
    # missing: the SDK model's defaults; unknown ('future_knob'): ignored
    assert policy.max_concurrent_serve_replicas == 16 and policy.resource_cache_ttl_seconds == 5.0
    assert 'future_knob' not in policy.model_dump()
    updated = client.update_runtime_policy({'max_concurrent_jobs': 9})
    assert agent.last('PATCH', 'resources/policy/')[1] == {'max_concurrent_jobs': 9}
    assert updated.max_concurrent_jobs == 9

    async def go() -> AgentRuntimePolicy:
        async with AsyncAgentClient(agent.url, agent.token) as c:
            assert (await c.get_runtime_policy()).max_concurrent_jobs == 9
            return await c.update_runtime_policy({'gatekeeping_enabled': True})

    assert run(go()).gatekeeping_enabled is True


# -- waits ----------------------------------------------------------------------------


def test_wait_for_system_ready(agent: SynapseAgent) -> None:
    client = sync_client(agent)
    assert client.wait_for_system_ready(timeout=5, poll_interval=FAST) is True
    agent.down_until = float('inf')  # never comes back
    assert client.wait_for_system_ready(timeout=0.3, poll_interval=FAST) is False

    async def go() -> List[bool]:
        async with AsyncAgentClient(agent.url, agent.token) as c:
            down = await c.wait_for_system_ready(timeout=0.3, poll_interval=FAST)
            agent.down_until = 0.0
            return [down, await c.wait_for_system_ready(timeout=5, poll_interval=FAST)]

    assert run(go()) == [False, True]


@pytest.mark.parametrize('kind', ['sync', 'async'])
def test_update_and_restart_system(agent: SynapseAgent, kind: str) -> None:
    def call(name: str, **kwargs: Any) -> Any:
        if kind == 'sync':
            return getattr(sync_client(agent), name)(**kwargs)

        async def go() -> Any:
            async with AsyncAgentClient(agent.url, agent.token) as c:
                return await getattr(c, name)(**kwargs)

        return run(go())

    # without wait: the agent's answer as it is; tags only when given
    assert call('update_system')['message'] == 'started'
    assert agent.last('POST', 'system/update/')[1] is None
    call('update_system', api_tag='v2', worker_tag='v2-gpu')
    assert agent.last('POST', 'system/update/')[1] == {'api_tag': 'v2', 'worker_tag': 'v2-gpu'}
    # with wait: the agent is down for a while after answering, and the call returns
    # once health answers again, with the SDK's message
    agent.restart_takes = 0.3
    before = len(agent.paths())
    done = call('restart_system', wait=True, timeout=5, poll_interval=FAST)
    assert done == {'status': 'success', 'message': 'System restarted and ready', 'up_output': 'recreated'}
    health = [p for p in agent.paths()[before:] if p == 'GET health/']
    assert health, agent.paths()[before:]
    # the restart cuts its own request: with wait, it still ends as ready
    agent.cut_restart = True
    assert call('update_system', wait=True, timeout=5, poll_interval=FAST) == {
        'status': 'success',
        'message': 'System updated and ready',
    }
    # ... and without wait, the connection error is raised
    with pytest.raises(ClientConnectionError):
        call('restart_system')
    agent.cut_restart = False
    # another operation running: 409 raised (with wait, synapse-sdk treats any
    # failure of the request as "restarting" and waits for health, and so does this)
    agent.operation_status = 'in_progress'
    with pytest.raises(ClientError) as err:
        call('update_system')
    assert err.value.status_code == 409


@pytest.mark.parametrize('kind', ['sync', 'async'])
def test_wait_for_build(agent: SynapseAgent, kind: str) -> None:
    def wait(build_id: str, timeout: float = 5) -> Any:
        if kind == 'sync':
            return sync_client(agent).wait_for_build(build_id, timeout=timeout, poll_interval=FAST)
        return run(AsyncAgentClient(agent.url, agent.token).wait_for_build(build_id, timeout=timeout, poll_interval=FAST))

    agent.builds['b-ok'] = build_states('queued', 'building', 'completed')
    assert wait('b-ok') == {'id': 9}
    assert agent.paths().count('GET builds/b-ok/') == 3
    agent.builds['b-bad'] = build_states('building', 'failed', error='no space left')
    with pytest.raises(RuntimeError, match='Build b-bad failed: no space left'):
        wait('b-bad')
    agent.builds['b-gone'] = build_states('cancelled')
    with pytest.raises(RuntimeError, match='b-gone failed'):
        wait('b-gone')
    agent.builds['b-slow'] = build_states('building')
    with pytest.raises(TimeoutError, match='b-slow did not complete within 0.3s'):
        wait('b-slow', timeout=0.3)
    with pytest.raises(NotFoundError):
        wait('b-unknown')


@pytest.mark.parametrize('kind', ['sync', 'async'])
def test_create_container(agent: SynapseAgent, kind: str) -> None:
    def create(*args: Any, **kwargs: Any) -> Any:
        if kind == 'sync':
            return sync_client(agent).create_container(*args, **kwargs)
        return run(AsyncAgentClient(agent.url, agent.token).create_container(*args, **kwargs))

    # wait (default): polls the build, returns the container
    container = create('demo@1.0.0', model=3, envs={'A': 'b'}, labels=('x',), kind='code_server')
    assert container == {'id': 42, 'endpoint': 'http://127.0.0.1:7860', 'status': 'running'}
    assert agent.last('POST', 'containers/')[1] == {
        'plugin_release': 'demo@1.0.0',
        'plugin': 'demo',
        'version': '1.0.0',
        'model': 3,
        'envs': {'A': 'b'},
        'labels': ['x'],
        'kind': 'code_server',
    }
    # without wait: the build answer
    answer = create('demo@1.0.0', wait=False, metadata={}, backend_container_id=5)
    assert answer['build_id'].startswith('b-') and 'status_url' in answer
    assert agent.last('POST', 'containers/')[1] == {
        'plugin_release': 'demo@1.0.0',
        'plugin': 'demo',
        'version': '1.0.0',
        'backend_container_id': 5,
    }

    class Release:  # a PluginRelease-like object, as the SDK accepts
        code = 'demo@2.0.0'
        plugin = 'demo'
        version = '2.0.0'
        config = {'actions': {'gradio': {'entrypoint': 'plugin.gradio_interface.app'}}}

    create(Release(), wait=False)
    assert agent.last('POST', 'containers/')[1] == {
        'plugin_release': 'demo@2.0.0',
        'plugin': 'demo',
        'version': '2.0.0',
        'action': 'gradio',
        'entrypoint': 'plugin/gradio_interface.py',
    }
    with pytest.raises(ValueError):
        create()
    with pytest.raises(TypeError):
        create(12)
    # an upload is read before anything is sent (test_platform.py uploads for real)
    with pytest.raises(FileNotFoundError):
        create(plugin_file='/no/such/dir/plugin.zip')


# -- list_all -------------------------------------------------------------------------


def test_async_list_all_mirrors_the_sync_one(agent: SynapseAgent) -> None:
    sync_results, sync_count = sync_client(agent).list_containers({'page_size': 3}, list_all=True)
    expected = list(sync_results)
    assert sync_count == 7 and len(expected) == 7

    async def go() -> Any:
        async with AsyncAgentClient(agent.url, agent.token) as c:
            page = await c.list_containers({'page_size': 3})
            results, count = await c.list_containers({'page_size': 3}, list_all=True)
            return page, [r async for r in results], count

    before = len(agent.paths())
    page, every, count = run(go())
    assert page['count'] == 7 and len(page['results']) == 3
    assert (every, count) == (expected, 7)
    # pages 1, 2 and 3 of size 3 (after the one-page call)
    queries = [q for m, p, q, _ in agent.requests[before:] if p == 'containers/']
    assert [q.get('page') for q in queries] == [None, ['1'], ['2'], ['3']]
    assert all(q.get('page_size') == ['3'] for q in queries)


def test_async_list_all_of_plugin_releases_pages_with_the_default_size(agent: SynapseAgent) -> None:
    async def go() -> Any:
        async with AsyncAgentClient(agent.url, agent.token) as c:
            with pytest.raises(NotFoundError):  # this agent serves no plugin releases
                await c.list_plugin_releases(list_all=True)

    run(go())
    assert agent.last('GET', 'plugin_releases/')[0] == {'page_size': ['100'], 'page': ['1']}


def test_a_wait_fails_fast_on_an_unknown_token(agent: SynapseAgent) -> None:
    # 401 is not "not ready yet" for the build poll: it is raised at once.
    from agent_client.exceptions import AuthenticationError

    client = AgentClient(agent.url, 'wrong-token')
    agent.builds['b-1'] = build_states('building')
    with pytest.raises(AuthenticationError):
        client.wait_for_build('b-1', timeout=5, poll_interval=FAST)
