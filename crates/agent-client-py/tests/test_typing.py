"""The stubs (agent_client/__init__.pyi, py.typed) are precise enough for
``mypy --strict`` on the seed document's examples (mypy comes from PyPI into
target/py-venv with maturin and pytest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_mypy_strict_accepts_the_seed_examples() -> None:
    seed = sorted(str(p) for p in (HERE / 'seed').glob('*.py'))
    assert len(seed) == 2
    done = subprocess.run(
        [sys.executable, '-m', 'mypy', '--strict', '--no-incremental', '--cache-dir=/dev/null', *seed],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Success: no issues found in 2 source files' in done.stdout


SDK_LOGIC = '''
import asyncio
from typing import Any, AsyncIterator, Dict, Iterator, Tuple

from agent_client import AgentClient, AsyncAgentClient
from agent_client.models import AgentRuntimePolicy, ClusterResourceSnapshot


def sync_calls(client: AgentClient) -> float:
    snap: ClusterResourceSnapshot = client.get_cluster_resources(use_cache=False)
    policy: AgentRuntimePolicy = client.update_runtime_policy({'max_concurrent_jobs': 2})
    ready: bool = client.wait_for_system_ready(timeout=10, poll_interval=1)
    done: Dict[str, Any] = client.restart_system(wait=True)
    built: Dict[str, Any] = client.wait_for_build('b-1', timeout=60)
    made: Dict[str, Any] = client.create_container('demo@1.0.0', wait=False)
    every: Tuple[Iterator[Dict[str, Any]], int] = client.list_containers(list_all=True)
    return snap.cpu.available + policy.max_concurrent_jobs + int(ready) + len(done) + len(built) + len(made) + every[1]


async def async_calls(client: AsyncAgentClient) -> int:
    policy = await client.get_runtime_policy()
    updated = await client.update_system(api_tag='v2', wait=False)
    results, count = await client.list_plugin_releases(list_all=True)
    names = [r['code'] async for r in results]
    snap = await client.get_cluster_resources()
    return policy.max_concurrent_jobs + len(updated) + count + len(names) + snap.node_counts.alive
'''


def test_mypy_strict_accepts_the_sdk_logic_methods(tmp_path: Path) -> None:
    source = tmp_path / 'sdk_logic.py'
    source.write_text(SDK_LOGIC)
    done = subprocess.run(
        [sys.executable, '-m', 'mypy', '--strict', '--no-incremental', '--cache-dir=/dev/null', str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
