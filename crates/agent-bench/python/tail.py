"""A whole log tail through the Python SDK: tail_job_logs of a finished job.

    python tail.py --client sync|async --protocol websocket|http --job ID --url URL --token TOKEN

The SDK's StreamLimits are raised (max_messages, max_lines, max_bytes) so the
tail is not cut at 10,000 messages / 50,000 lines / 50 MiB; max_message_size
stays 10,240 (the lines are 100 bytes). Each delivered line is counted with
its length, as a caller would touch it; the time runs from the call to the end
of the stream (connection set-up included, as on the Rust side).

synapse-sdk 2026.2.17's AsyncAgentClient cannot tail as released: its tail
methods call `self._get_url(...)`, which no class of the SDK defines
(AttributeError before any request). For the async peer to be measured at all,
a one-line shim supplies it, doing what the SDK's own `_request` does with a
relative path (`path.lstrip('/')`: the WebSocket URL becomes
`base_url + '/' + path`, the HTTP stream is relative to httpx's base_url). The
result line says `"shim": "_get_url"` when it was needed. Note also that the
async HTTP path yields the stream's raw lines (`data: {...}` events, the final
`complete` event included) without decoding them: it does less work per line
than the sync path, and counts one line more.
"""

import argparse
import asyncio
import time

from common import emit

RAISED = dict(max_messages=10**12, max_lines=10**12, max_bytes=10**15)
TIMEOUT = 120.0


def limits():
    from synapse_sdk.utils.network import StreamLimits

    return StreamLimits(**RAISED)


def run_sync(url, token, job, protocol):
    from synapse_sdk.clients.agent import AgentClient

    client = AgentClient(url, token)
    client.stream_limits = limits()
    lines = 0
    size = 0
    started = time.perf_counter()
    for line in client.tail_job_logs(job, TIMEOUT, protocol=protocol):
        lines += 1
        size += len(line)
    return time.perf_counter() - started, lines, size


def shim_async_get_url():
    """Supplies the `_get_url` the SDK's async tail calls; True if it was missing."""
    from synapse_sdk.clients.agent import AsyncAgentClient

    if hasattr(AsyncAgentClient, '_get_url'):
        return False
    AsyncAgentClient._get_url = lambda self, path: path.lstrip('/')
    return True


async def run_async(url, token, job, protocol):
    from synapse_sdk.clients.agent import AsyncAgentClient

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
    extra = {}
    if args.client == 'sync':
        seconds, lines, size = run_sync(args.url, args.token, args.job, args.protocol)
    else:
        if shim_async_get_url():
            extra['shim'] = '_get_url'
        seconds, lines, size = asyncio.run(
            run_async(args.url, args.token, args.job, args.protocol)
        )
    emit(
        'tail-' + args.protocol,
        'python-' + args.client,
        lines,
        seconds,
        bytes=size,
        **extra,
    )


if __name__ == '__main__':
    main()
