"""Sequential small GETs through agent_client (this package): list_jobs, N times.

    python gets.py --client sync|async --n 5000 --url URL --token TOKEN

The same workload, written the same way, as the synapse-sdk peer
(crates/agent-bench/python/gets.py); only the import differs. One call first
opens the keep-alive connection (not timed). The result line is the peer
scripts' (crates/agent-bench/python/common.py), client `pyo3-sync|async`.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'agent-bench' / 'python'))
from common import emit  # noqa: E402


def run_sync(url, token, n):
    from agent_client import AgentClient

    client = AgentClient(url, token)
    jobs = client.list_jobs()
    assert isinstance(jobs, list), jobs
    started = time.perf_counter()
    for _ in range(n):
        client.list_jobs()
    return time.perf_counter() - started, len(jobs)


async def run_async(url, token, n):
    from agent_client import AsyncAgentClient

    async with AsyncAgentClient(url, token) as client:
        jobs = await client.list_jobs()
        assert isinstance(jobs, list), jobs
        started = time.perf_counter()
        for _ in range(n):
            await client.list_jobs()
        return time.perf_counter() - started, len(jobs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--client', choices=['sync', 'async'], required=True)
    parser.add_argument('--n', type=int, default=5000)
    parser.add_argument('--url', required=True)
    parser.add_argument('--token', required=True)
    args = parser.parse_args()
    if args.client == 'sync':
        seconds, jobs = run_sync(args.url, args.token, args.n)
    else:
        seconds, jobs = asyncio.run(run_async(args.url, args.token, args.n))
    emit('gets', 'pyo3-' + args.client, args.n, seconds, jobs=jobs)


if __name__ == '__main__':
    main()
