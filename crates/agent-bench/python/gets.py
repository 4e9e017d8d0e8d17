"""Sequential small GETs through the Python SDK: list_jobs, N times, one client.

    python gets.py --client sync|async --n 5000 --url URL --token TOKEN

One call first opens the keep-alive connection (not timed); then N calls are
timed, one after the other, each decoding the JSON answer (what list_jobs
returns to a caller). The Rust side (`agent-bench gets`) does the same.
"""

import argparse
import asyncio
import time

from common import emit


def run_sync(url, token, n):
    from synapse_sdk.clients.agent import AgentClient

    client = AgentClient(url, token)
    jobs = client.list_jobs()
    assert isinstance(jobs, list), jobs
    started = time.perf_counter()
    for _ in range(n):
        client.list_jobs()
    return time.perf_counter() - started, len(jobs)


async def run_async(url, token, n):
    from synapse_sdk.clients.agent import AsyncAgentClient

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
    emit('gets', 'python-' + args.client, args.n, seconds, jobs=jobs)


if __name__ == '__main__':
    main()
