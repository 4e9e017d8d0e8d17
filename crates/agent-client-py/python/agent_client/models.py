"""Typed answers of the resource endpoints, without pydantic.

synapse-sdk 2026.2.17 returns pydantic models from ``get_cluster_resources``
(``ClusterResourceSnapshot``) and the ``*_runtime_policy`` methods
(``AgentRuntimePolicy``). This package does not depend on pydantic, so these are
dataclasses with the same class names, field names, defaults and nesting, parsed
the same tolerant way (unknown fields ignored, missing fields defaulted), so the
SDK's callers keep working: attribute access (``snap.cpu.available``), and
``model_dump()`` for the plain ``dict``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Type, TypeVar

__all__ = [
    'AgentRuntimePolicy',
    'ClusterResourceSnapshot',
    'GpuDevice',
    'GpuSummary',
    'NodeCounts',
    'NodeResource',
    'ResourceCounter',
]

_M = TypeVar('_M', bound='_Model')


class _Model:
    """``model_validate`` / ``model_dump`` as pydantic's, for these dataclasses."""

    @classmethod
    def model_validate(cls: Type[_M], data: Any) -> _M:
        """Builds the model from a JSON object: unknown keys are ignored, missing
        ones take their defaults; a non-object raises ``ValueError``."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f'{cls.__name__} expects a JSON object, not {type(data).__name__}')
        kwargs: Dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                kwargs[f.name] = _parse(cls, f.name, data[f.name])
        return cls(**kwargs)

    def model_dump(self) -> Dict[str, Any]:
        """The model as a plain ``dict`` (nested models as dicts)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


def _parse(cls: type, name: str, value: Any) -> Any:
    nested = _NESTED.get((cls.__name__, name))
    if nested is None or value is None:
        if (cls.__name__, name) == ('ClusterResourceSnapshot', 'collected_at') and isinstance(value, str):
            # fromisoformat before 3.11 does not read a trailing 'Z'
            return datetime.fromisoformat(value[:-1] + '+00:00' if value.endswith('Z') else value)
        return value
    model, many = nested
    if many:
        return [model.model_validate(v) for v in value]
    return model.model_validate(value)


@dataclass
class ResourceCounter(_Model):
    """A resource's total, used and available amounts."""

    total: float = 0.0
    used: float = 0.0
    available: float = 0.0


@dataclass
class GpuSummary(_Model):
    """The cluster's GPUs, summed up."""

    total_gpus: int = 0
    available_gpus: int = 0
    total_memory_bytes: int = 0
    available_memory_bytes: int = 0
    max_utilization: float = 0.0
    avg_utilization: float = 0.0


@dataclass
class GpuDevice(_Model):
    """One GPU of a node (memory in MB)."""

    index: int = 0
    name: str = ''
    uuid: str = ''
    utilization_gpu: Optional[float] = None
    memory_used: int = 0
    memory_total: int = 0
    processes_pids: Optional[Dict[str, Any]] = None
    memory_used_ratio: Optional[float] = None


@dataclass
class NodeResource(_Model):
    """One Ray node's resources."""

    node_id: str = ''
    host_name: Optional[str] = None
    ip: Optional[str] = None
    is_head_node: bool = False
    state: str = 'ALIVE'
    accelerator_type: Optional[str] = None
    cpu: ResourceCounter = field(default_factory=ResourceCounter)
    memory: ResourceCounter = field(default_factory=ResourceCounter)
    gpus: List[GpuDevice] = field(default_factory=list)


@dataclass
class NodeCounts(_Model):
    """How many nodes, alive and dead."""

    total: int = 0
    alive: int = 0
    dead: int = 0


@dataclass
class ClusterResourceSnapshot(_Model):
    """``GET resources/cluster/``: the agent's cluster resource snapshot."""

    collected_at: Optional[datetime] = None
    stale: bool = False
    cpu: ResourceCounter = field(default_factory=ResourceCounter)
    memory: ResourceCounter = field(default_factory=ResourceCounter)
    gpu: GpuSummary = field(default_factory=GpuSummary)
    object_store: Optional[ResourceCounter] = None
    running_jobs: int = 0
    total_serve_replicas: int = 0
    node_counts: NodeCounts = field(default_factory=NodeCounts)
    nodes: List[NodeResource] = field(default_factory=list)


@dataclass
class AgentRuntimePolicy(_Model):
    """``resources/policy/``: the agent's effective runtime policy."""

    max_concurrent_jobs: int = 3
    max_concurrent_serve_replicas: int = 16
    gatekeeping_enabled: bool = True
    cpu_max_utilization_percent: float = 90.0
    memory_max_utilization_percent: float = 90.0
    gpu_max_utilization_percent: float = 90.0
    gpu_max_memory_percent: float = 90.0
    max_concurrent_ray_jobs: int = 0
    resource_cache_ttl_seconds: float = 5.0


_NESTED: Dict[Any, Any] = {
    ('NodeResource', 'cpu'): (ResourceCounter, False),
    ('NodeResource', 'memory'): (ResourceCounter, False),
    ('NodeResource', 'gpus'): (GpuDevice, True),
    ('ClusterResourceSnapshot', 'cpu'): (ResourceCounter, False),
    ('ClusterResourceSnapshot', 'memory'): (ResourceCounter, False),
    ('ClusterResourceSnapshot', 'gpu'): (GpuSummary, False),
    ('ClusterResourceSnapshot', 'object_store'): (ResourceCounter, False),
    ('ClusterResourceSnapshot', 'node_counts'): (NodeCounts, False),
    ('ClusterResourceSnapshot', 'nodes'): (NodeResource, True),
}
