"""AsyncAgentClient: the operations, the async tail, cancellation, event loops."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

from agent_client import AsyncAgentClient
from agent_client.exceptions import ClientError, NotFoundError, StreamError, ValidationError
from agent_client.testing import TestServer

from conftest import CountingProxy, lines

JOB = 'raysubmit_async1'


def test_operations_return_plain_values(server: TestServer) -> None:
    async def main() -> None:
        async with AsyncAgentClient(server.url, server.token) as c:
            assert (await c.health_check())['status'] == 'ok'
            jobs = await c.list_jobs()
            assert isinstance(jobs, list) and {j['submission_id'] for j in jobs} == set(server.job_ids())
            assert (await c.get_job('raysubmit_capture1'))['status'] == 'SUCCEEDED'
            assert 'last line' in await c.get_job_logs('raysubmit_capture1')
            assert isinstance(await c.list_nodes(), list)
            assert isinstance(await c.list_tasks(), list)
            assert (await c.get_serve_application('hello'))['name'] == 'hello'
            assert await c.delete_serve_application('hello') is None
            assert isinstance(await c.get_gpu_status(), dict)
            with pytest.raises(NotFoundError):
                await c.get_job('nope')
            with pytest.raises(ValidationError):
                await c.get_job('../x')

    asyncio.run(main())


@pytest.mark.parametrize('protocol', ['auto', 'websocket', 'http'])
def test_the_async_tail(server: TestServer, protocol: str) -> None:
    server.add_job(JOB, lines=lines('tail', 5000))

    async def main() -> List[str]:
        async with AsyncAgentClient(server.url, server.token) as c:
            return [line async for line in c.tail_job_logs(JOB, protocol=protocol)]

    assert asyncio.run(main()) == lines('tail', 5000)


def test_async_tail_errors(server: TestServer) -> None:
    server.add_job(JOB, lines=lines('tail', 10))
    server.set_tail_fault(JOB, 'error_after', lines=4, message='the worker died')

    async def main() -> List[str]:
        got: List[str] = []
        async with AsyncAgentClient(server.url, server.token) as c:
            with pytest.raises(StreamError) as e:
                async for line in c.tail_job_logs(JOB):
                    got.append(line)
            assert e.value.status_code == 500
            with pytest.raises(NotFoundError):
                async for line in c.tail_job_logs('raysubmit_nope'):
                    pass
        return got

    assert asyncio.run(main()) == lines('tail', 4)


def test_break_and_cancellation_close_the_connection(server: TestServer, proxy: CountingProxy) -> None:
    server.add_job(JOB, endless=True, line_bytes=30, rate=200.0)

    async def wait_closed() -> None:
        for _ in range(1000):
            if proxy.open == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f'{proxy.open} connections still open')

    async def main() -> None:
        c = AsyncAgentClient(proxy.url, server.token)
        for protocol in ['websocket', 'http']:
            # break
            async for _ in c.tail_job_logs(JOB, protocol=protocol):
                assert proxy.open == 1
                break
            await wait_closed()

            # cancelling the task that iterates
            started = asyncio.Event()

            async def follow() -> None:
                async for _ in c.tail_job_logs(JOB, protocol=protocol):
                    started.set()

            task = asyncio.ensure_future(follow())
            await started.wait()
            assert proxy.open == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await wait_closed()

            # a time-out around a quiet tail cancels it too
            server.add_job(f'raysubmit_quiet_{protocol}', lines=['only'], running=True)
            tail = c.tail_job_logs(f'raysubmit_quiet_{protocol}', protocol=protocol)
            assert await tail.__anext__() == 'only'
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(tail.__anext__(), 0.2)
            await wait_closed()
        await c.close()

    asyncio.run(main())


def test_another_event_loop_is_a_clear_error(server: TestServer) -> None:
    c = AsyncAgentClient(server.url, server.token)

    async def call() -> object:
        return await c.health_check()

    asyncio.run(call())
    with pytest.raises(ClientError) as e:
        asyncio.run(call())
    assert e.value.status_code == 500 and 'event loop' in str(e.value)


def test_concurrent_calls_on_one_loop(server: TestServer) -> None:
    async def main() -> None:
        async with AsyncAgentClient(server.url, server.token) as c:
            results = await asyncio.gather(*[c.get_job('raysubmit_capture1') for _ in range(50)])
            assert all(r['status'] == 'SUCCEEDED' for r in results)

    asyncio.run(main())
