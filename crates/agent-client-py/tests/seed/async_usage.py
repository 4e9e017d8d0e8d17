# The seed document's async examples, as a user would write them; only the import
# line differs from synapse-sdk's. The snippets are wrapped in coroutines so that
# they can run (the document shows them at top level), and the two undefined names
# of "Usage without Context Manager" are given the document's values.
import asyncio

from agent_client import AsyncAgentClient

base_url, agent_token = "https://agent.example.com", "your-agent-token"


async def with_context_manager() -> None:
    async with AsyncAgentClient(
    base_url="https://agent.example.com",
    agent_token="your-agent-token"
    ) as client:
        # Health check
        status = await client.health_check()

        # List Ray jobs
        jobs = await client.list_jobs()

        # Stream job logs asynchronously
        async for line in client.tail_job_logs('raysubmit_abc123'):
            print(line)

        # Unified Method (Async)
        async for line in client.tail_job_logs('job-id', protocol='auto'):
            print(line)
    print(f"status {status['status']}, {len(jobs)} jobs")


async def without_context_manager() -> None:
    client = AsyncAgentClient(base_url, agent_token)
    try:
        jobs = await client.list_jobs()
    finally:
        await client.close()
    print(f"{len(jobs)} jobs without a context manager")


asyncio.run(with_context_manager())
asyncio.run(without_context_manager())
