"""What Python users need beyond the API: the GIL is released during I/O, Ctrl-C
interrupts a blocking call or a tail, leaving a loop closes the tail's connection,
threads share a client."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Callable, List

import pytest

from agent_client import AgentClient
from agent_client.testing import TestServer

from conftest import CountingProxy, lines

JOB = 'raysubmit_follow1'


def wait_until(what: str, cond: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f'never happened: {what}')
        time.sleep(0.01)


@pytest.mark.parametrize('protocol', ['websocket', 'http'])
def test_another_thread_runs_while_a_tail_waits(server: TestServer, client: AgentClient, protocol: str) -> None:
    # The writer below needs the GIL to reach the server. Were the tail holding the
    # GIL while it waits, the writer could not run, and the tail would end with its
    # idle time-out (408) instead of the writer's lines and the end of the job.
    server.add_job(JOB, lines=['first'], running=True)
    it = client.tail_job_logs(JOB, timeout=20, protocol=protocol)
    assert next(it) == 'first'
    progress: List[int] = []

    def writer() -> None:
        for i in range(200_000):  # Python work, under the GIL
            if i % 50_000 == 0:
                progress.append(i)
        server.append_lines(JOB, ['from the other thread'])
        server.finish_job(JOB)

    t = threading.Thread(target=writer)
    t.start()
    assert list(it) == ['from the other thread']
    t.join()
    assert len(progress) == 4


def test_a_blocking_call_lets_other_threads_run(server: TestServer) -> None:
    client = AgentClient(server.url, server.token, timeout={'connect': 3, 'read': 20})
    server.set_fault('health', 'stall', times=1)
    released = threading.Event()

    def other() -> None:
        released.set()  # runs only if the stalled call released the GIL
        server.stop()  # ends the stalled answer

    t = threading.Timer(0.2, other)
    t.start()
    with pytest.raises(Exception):
        client.health_check()
    t.join()
    assert released.is_set()


CHILD = textwrap.dedent(
    '''
    import sys
    from agent_client import AgentClient
    url, token, what = sys.argv[1:4]
    client = AgentClient(url, token, timeout={'connect': 3, 'read': 60})
    try:
        if what == 'tail':
            it = client.tail_job_logs('raysubmit_follow1', timeout=60)
            print(next(it), flush=True)
            print('waiting', flush=True)
            next(it)
        else:
            print('waiting', flush=True)
            client.health_check()
        print('not interrupted', flush=True)
    except KeyboardInterrupt:
        print('interrupted', flush=True)
    '''
)


@pytest.mark.parametrize('what', ['tail', 'get'])
def test_ctrl_c_interrupts_a_waiting_call(server: TestServer, what: str) -> None:
    server.add_job(JOB, lines=['first'], running=True)  # then silent
    server.set_fault('health', 'stall')
    child = subprocess.Popen(
        [sys.executable, '-c', CHILD, server.url, server.token, what],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        while child.stdout.readline().strip() != 'waiting':
            pass
        time.sleep(0.3)  # let it block in the wait
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=20)
    finally:
        child.kill()
    assert out.strip() == 'interrupted'
    assert child.returncode == 0


@pytest.mark.parametrize('protocol', ['websocket', 'http'])
def test_break_closes_the_connection(server: TestServer, proxy: CountingProxy, protocol: str) -> None:
    server.add_job(JOB, endless=True, line_bytes=30, rate=200.0)
    client = AgentClient(proxy.url, server.token)
    seen = 0
    for _ in client.tail_job_logs(JOB, protocol=protocol):
        seen += 1
        if seen == 2:
            assert proxy.open == 1
            break
    wait_until('the tail connection to close', lambda: proxy.open == 0)
    # the next tail works
    assert next(iter(client.tail_job_logs(JOB, protocol=protocol))).startswith('line 0')


def test_threads_share_one_client(server: TestServer, client: AgentClient) -> None:
    server.add_job(JOB, lines=lines('tail', 300))
    want_jobs = client.list_jobs()
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(20):
                assert client.list_jobs() == want_jobs
                assert client.get_job(JOB)['submission_id'] == JOB
            protocol = ['websocket', 'http', 'auto'][n % 3]
            assert list(client.tail_job_logs(JOB, protocol=protocol)) == lines('tail', 300)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
