"""Issue 25, item 17: what a newcomer to the package looks for first — its version,
``help()`` that shows the result types the stubs promise, and the per-call
``timeout`` of the plugin runs honoured."""

from __future__ import annotations

import asyncio
import inspect
import pydoc
import re

import pytest

import agent_client
from agent_client import AgentClient, AsyncAgentClient, StreamLimits
from agent_client.exceptions import ClientResponseIncompleteError
from agent_client.testing import TestServer


def test_the_package_has_a_version() -> None:
    assert re.fullmatch(r'\d+\.\d+\.\d+.*', agent_client.__version__), agent_client.__version__
    assert '__version__' in agent_client.__all__


def test_help_shows_the_result_types_of_both_clients() -> None:
    sync = pydoc.render_doc(AgentClient, renderer=pydoc.plaintext)
    assert 'get_job(self, job_id: str) -> Dict[str, Any]' in sync
    assert 'list_jobs(self) -> List[Dict[str, Any]]' in sync
    assert "-> 'Any'" not in sync and "-> 'Dict" not in sync
    text = pydoc.render_doc(AsyncAgentClient, renderer=pydoc.plaintext)
    assert 'async get_job(self, job_id: str) -> Dict[str, Any]' in text
    assert inspect.iscoroutinefunction(AsyncAgentClient.health_check)
    assert AsyncAgentClient.get_job.__doc__ == AgentClient.get_job.__doc__


def test_stream_limits_is_the_sdks() -> None:
    # synapse_sdk.utils.network.StreamLimits, same fields and defaults
    assert StreamLimits() == StreamLimits(10_000, 50_000, 50 * 1024 * 1024, 10_240, 1_000)


def test_run_plugin_release_honours_its_timeout(server: TestServer) -> None:
    # A client with a generous read time-out; the call's own (connect, read) wins.
    client = AgentClient(server.url, server.token, timeout={'connect': 3, 'read': 30})
    server.set_fault('run_plugin_release', 'delay', seconds=5, times=1)
    # A POST whose answer timed out may have run: the error says so, and names the
    # call's read time-out, not the client's 30 s.
    with pytest.raises(ClientResponseIncompleteError) as e:
        client.run_plugin_release('demo@1.0.0', 'train', timeout=(3, 0.3))
    assert 'read timed out after 300ms' in str(e.value)
    # Without one, the client's applies (and the call succeeds).
    run = client.run_plugin_release('demo@1.0.0', 'train', timeout=(3, 30))
    assert run
    server.set_fault('run_debug_plugin_release', 'delay', seconds=5, times=1)
    with pytest.raises(ClientResponseIncompleteError, match='after 300ms'):
        client.run_debug_plugin_release('train', timeout=(3, 0.3))
    client.close()


def test_async_run_plugin_release_honours_its_timeout(server: TestServer) -> None:
    async def main() -> None:
        async with AsyncAgentClient(server.url, server.token, timeout={'connect': 3, 'read': 30}) as client:
            server.set_fault('run_plugin_release', 'delay', seconds=5, times=1)
            with pytest.raises(ClientResponseIncompleteError, match='after 300ms'):
                await client.run_plugin_release('demo@1.0.0', 'train', timeout=(3, 0.3))
            assert await client.run_plugin_release('demo@1.0.0', 'train', timeout=(3, 30))
            job = await client.get_job('raysubmit_capture1')
            assert job['status'] == 'SUCCEEDED'

    asyncio.run(main())
