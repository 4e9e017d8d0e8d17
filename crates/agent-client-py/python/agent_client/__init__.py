"""agent_client: synapse-sdk's ``AgentClient`` API on the Rust core of agent-client-rs.

Moving over from synapse-sdk means changing one import line::

    from agent_client import AgentClient   # was: from synapse_sdk.clients.agent import AgentClient

    client = AgentClient(base_url="https://agent.example.com", agent_token="your-agent-token")
    status = client.health_check()
    for line in client.tail_job_logs('raysubmit_abc123'):
        print(line)

Errors are in :mod:`agent_client.exceptions` (synapse-sdk's names, each with
``status_code``); :class:`agent_client.testing.TestServer` runs a sample agent
in-process for tests.
"""

from agent_client import exceptions
from agent_client._client import AgentClient, AsyncAgentClient, AsyncLogTail, StreamLimits
from agent_client.exceptions import ClientError

__all__ = ['AgentClient', 'AsyncAgentClient', 'AsyncLogTail', 'StreamLimits', 'ClientError', 'exceptions']
