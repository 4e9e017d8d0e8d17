"""Process life: an answer arriving while the interpreter exits never aborts the
process, and a client made before ``os.fork()`` raises a clear ``ClientError`` in
the child (never hangs), while a client made in the child works."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from typing import Callable

import pytest

from agent_client import AgentClient, AsyncAgentClient
from agent_client.exceptions import ClientError
from agent_client.testing import TestServer

# Each child gets this long; a hung child is killed and the test fails.
CHILD_LIMIT = 20.0


def test_an_answer_during_interpreter_exit_does_not_abort() -> None:
    # The request's answer comes 0.3 s after the script's last line, while the
    # interpreter finalizes or after (a module global's __del__ may hold it there).
    # A runtime thread entering Python then used to abort the process (SIGABRT:
    # CPython ends it with pthread_exit) or panic ("interpreter is not
    # initialized"); now it leaves Python alone.
    script = textwrap.dedent(
        """
        import asyncio, time
        from agent_client import AsyncAgentClient
        from agent_client.testing import TestServer

        class SlowExit:
            def __del__(self, sleep=time.sleep):
                sleep(1.5)

        server = TestServer()
        server.set_fault('health', 'delay', seconds=0.3)
        loop = asyncio.new_event_loop()
        client = AsyncAgentClient(server.url, server.token)

        async def start():
            return client._core.op_async('health_check')

        pending = loop.run_until_complete(start())
        loop.close()
        slow_exit = SlowExit()
        print('done', flush=True)
        """
    )
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == 'done', proc.stderr
    assert proc.returncode == 0, f'exit {proc.returncode}: {proc.stderr[-2000:]}'
    assert 'panicked' not in proc.stderr and 'Fatal Python error' not in proc.stderr, proc.stderr[-2000:]


def in_child(body: Callable[[], str]) -> str:
    """Runs ``body`` in a forked child and returns what it returned (or the text of
    what it raised); a child that does not answer within CHILD_LIMIT is killed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            answer = body()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            answer = f'raised {type(e).__name__}: {e}'
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + CHILD_LIMIT
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_end], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f'the forked child hung (no answer in {CHILD_LIMIT}s)')
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    return b''.join(chunks).decode()


fork_only = pytest.mark.skipif(not hasattr(os, 'fork'), reason='no os.fork on this platform')


@fork_only
def test_a_client_made_before_fork_raises_in_the_child(server: TestServer) -> None:
    client = AgentClient(server.url, server.token)
    assert client.health_check()['status'] == 'ok'  # its runtime and pool are live

    def child() -> str:
        try:
            client.health_check()
            return 'no error'
        except ClientError as e:
            first = f'{type(e).__name__} {e.status_code}: {e}'
        # a client made here works: the child has a runtime of its own
        fresh = AgentClient(server.url, server.token)
        return first + ' | fresh: ' + str(fresh.health_check()['status'])

    answer = in_child(child)
    assert answer.startswith('ClientError 500'), answer
    assert 'after the fork' in answer, answer
    assert answer.endswith('| fresh: ok'), answer
    # the parent's client is untouched by what the child did
    assert client.health_check()['status'] == 'ok'


@fork_only
def test_a_tail_opened_before_fork_raises_in_the_child(server: TestServer) -> None:
    client = AgentClient(server.url, server.token)
    tail = client.tail_job_logs('raysubmit_capture1', protocol='http')
    first = next(tail)

    def child() -> str:
        try:
            list(tail)
            return 'no error'
        except ClientError as e:
            return f'{type(e).__name__} {e.status_code}: {e}'

    answer = in_child(child)
    assert answer.startswith('ClientError 500') and 'after the fork' in answer, answer
    # the parent goes on reading its tail to the end
    rest = list(tail)
    assert first and rest


@fork_only
def test_an_async_client_made_before_fork_raises_in_the_child(server: TestServer) -> None:
    client = AsyncAgentClient(server.url, server.token)

    async def fresh() -> str:
        async with AsyncAgentClient(server.url, server.token) as c:
            return str((await c.health_check())['status'])

    async def parents() -> object:
        return await client.health_check()

    def child() -> str:
        try:
            asyncio.run(parents())
            return 'no error'
        except ClientError as e:
            return f'{type(e).__name__} {e.status_code}: {e} | fresh: {asyncio.run(fresh())}'

    answer = in_child(child)
    assert answer.startswith('ClientError 500') and 'after the fork' in answer, answer
    assert answer.endswith('| fresh: ok'), answer


@fork_only
def test_a_child_that_exits_normally_does_not_hang_on_the_parents_objects() -> None:
    # The child runs the interpreter's finalizers on the parent's client, tail and
    # TestServer (which it leaks rather than drops), and exits; the parent's go on.
    script = textwrap.dedent(
        """
        import os, sys
        from agent_client import AgentClient
        from agent_client.exceptions import ClientError
        from agent_client.testing import TestServer

        server = TestServer()
        client = AgentClient(server.url, server.token)
        tail = client.tail_job_logs('raysubmit_capture1', protocol='websocket')
        next(tail)
        pid = os.fork()
        if pid == 0:
            try:
                client.health_check()
            except ClientError as e:
                print('child', e.status_code, flush=True)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print('parent', status, client.health_check()['status'], len(list(tail)) > 0, flush=True)
        """
    )
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split('\n')[:2] == ['child 500', 'parent 0 ok True'], proc.stdout + proc.stderr
