"""A whole log tail through agent_client (this package): tail_job_logs of a
finished job.

    python tail.py --client sync|async --protocol websocket|http --job ID --url URL --token TOKEN

The same workload, written the same way, as the synapse-sdk peer
(crates/agent-bench/python/tail.py): the same raised StreamLimits (the SDK's
field names), each line counted with its length, the time from the call to the
end of the stream. Only the import differs.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'agent-bench' / 'python'))
from common import emit  # noqa: E402

RAISED = dict(max_messages=10**12, max_lines=10**12, max_bytes=10**15)
TIMEOUT = 120.0


def limits():
    from agent_client import StreamLimits

    return StreamLimits(**RAISED)


def run_sync(url, token, job, protocol):
    from agent_client import AgentClient

    client = AgentClient(url, token)
    client.stream_limits = limits()
    lines = 0
    size = 0
    started = time.perf_counter()
    for line in client.tail_job_logs(job, TIMEOUT, protocol=protocol):
        lines += 1
        size += len(line)
    return time.perf_counter() - started, lines, size


async def run_async(url, token, job, protocol):
    from agent_client import AsyncAgentClient

    async with AsyncAgentClient(url, token) as client:
        client.stream_limits = limits()
        lines = 0
        size = 0
        started = time.perf_counter()
        async for line in client.tail_job_logs(job, TIMEOUT, protocol=protocol):
            lines += 1
            size += len(line)
        return time.perf_counter() - started, lines, size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--client', choices=['sync', 'async'], required=True)
    parser.add_argument('--protocol', choices=['websocket', 'http'], required=True)
    parser.add_argument('--job', required=True)
    parser.add_argument('--url', required=True)
    parser.add_argument('--token', required=True)
    args = parser.parse_args()
    if args.client == 'sync':
        seconds, lines, size = run_sync(args.url, args.token, args.job, args.protocol)
    else:
        seconds, lines, size = asyncio.run(run_async(args.url, args.token, args.job, args.protocol))
    emit('tail-' + args.protocol, 'pyo3-' + args.client, lines, seconds, bytes=size)


if __name__ == '__main__':
    main()
