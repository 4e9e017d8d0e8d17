"""agent_client: synapse-sdk's ``AgentClient`` API on the Rust core of agent-client-rs.

Moving over from synapse-sdk means changing one import line::

    from agent_client import AgentClient   # was: from synapse_sdk.clients.agent import AgentClient

    client = AgentClient(base_url="https://agent.example.com", agent_token="your-agent-token")
    status = client.health_check()
    for line in client.tail_job_logs('raysubmit_abc123'):
        print(line)

synapse-sdk's ``synapse_sdk.utils.network.StreamLimits`` is
:class:`agent_client.StreamLimits` (the same fields and defaults).

Errors are in :mod:`agent_client.exceptions` (synapse-sdk's names, each with
``status_code``); :class:`agent_client.testing.TestServer` runs a sample agent
in-process for tests.
"""

from importlib import metadata as _metadata

from agent_client import exceptions
from agent_client._client import AgentClient, AsyncAgentClient, AsyncLogTail, LongPollHandler, StreamLimits
from agent_client.exceptions import ClientError

try:
    __version__: str = _metadata.version('agent-client')
    """The package's version (the Rust workspace's), e.g. ``'0.1.0'``."""
except _metadata.PackageNotFoundError:  # run from a source tree, not installed
    __version__ = '0+unknown'

__all__ = [
    'AgentClient',
    'AsyncAgentClient',
    'AsyncLogTail',
    'LongPollHandler',
    'StreamLimits',
    'ClientError',
    'exceptions',
    '__version__',
]
