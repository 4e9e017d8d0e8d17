//! Models of `resources/`: the cluster's resources, the feasibility check and the
//! agent's policies (synapse-sdk's `ClusterResourceSnapshot` and
//! `AgentRuntimePolicy`, same field names and defaults).

use super::Extra;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A resource's total, used and available amounts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceCounter {
    /// The whole amount.
    pub total: f64,
    /// The amount in use.
    pub used: f64,
    /// The amount free.
    pub available: f64,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ResourceCounter {
    /// A counter of `total` with `available` free (`used` is the difference).
    ///
    /// ```
    /// let c = agent_proto::ResourceCounter::of(8.0, 6.0);
    /// assert_eq!(c.used, 2.0);
    /// ```
    pub fn of(total: f64, available: f64) -> Self {
        ResourceCounter {
            total,
            used: (total - available).max(0.0),
            available,
            extra: Extra::new(),
        }
    }
}

/// The cluster's GPUs, summed up.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuSummary {
    /// GPUs in the cluster.
    pub total_gpus: f64,
    /// GPUs not in use.
    pub available_gpus: f64,
    /// GPU memory in all, in bytes.
    pub total_memory_bytes: u64,
    /// GPU memory free, in bytes.
    pub available_memory_bytes: u64,
    /// The busiest GPU's utilization (percent).
    pub max_utilization: f64,
    /// The mean utilization (percent).
    pub avg_utilization: f64,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One GPU of a node (memory in MB, as `nvidia-smi` reports it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuDevice {
    /// The GPU's index on its node.
    pub index: u32,
    /// Its model name.
    pub name: String,
    /// Its UUID.
    pub uuid: String,
    /// Utilization (percent), when known.
    pub utilization_gpu: Option<f64>,
    /// Memory in use (MB).
    pub memory_used: u64,
    /// Memory in all (MB).
    pub memory_total: u64,
    /// The processes using it, by pid.
    pub processes_pids: Option<Value>,
    /// `memory_used / memory_total`, when known.
    pub memory_used_ratio: Option<f64>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One node's resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeResource {
    /// The Ray node id.
    pub node_id: String,
    /// The node's host name.
    pub host_name: Option<String>,
    /// The node's IP address.
    pub ip: Option<String>,
    /// True for the head node.
    pub is_head_node: bool,
    /// `ALIVE` or `DEAD`.
    pub state: String,
    /// The accelerator type, if any.
    pub accelerator_type: Option<String>,
    /// CPUs.
    pub cpu: ResourceCounter,
    /// Memory, in bytes.
    pub memory: ResourceCounter,
    /// The node's GPUs.
    pub gpus: Vec<GpuDevice>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for NodeResource {
    fn default() -> Self {
        NodeResource {
            node_id: String::new(),
            host_name: None,
            ip: None,
            is_head_node: false,
            state: "ALIVE".into(),
            accelerator_type: None,
            cpu: ResourceCounter::default(),
            memory: ResourceCounter::default(),
            gpus: Vec::new(),
            extra: Extra::new(),
        }
    }
}

/// How many nodes, alive and dead.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeCounts {
    /// Nodes in all.
    pub total: u64,
    /// Nodes alive.
    pub alive: u64,
    /// Nodes dead.
    pub dead: u64,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET resources/cluster/`: a snapshot of the cluster's resources (synapse-sdk's
/// `ClusterResourceSnapshot`).
///
/// ```
/// let s: agent_proto::ClusterResources = serde_json::from_str(
///     r#"{"cpu":{"total":8,"used":2,"available":6},"stale":false,"new":1}"#,
/// ).unwrap();
/// assert_eq!(s.cpu.available, 6.0);
/// assert_eq!(s.extra["new"], 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterResources {
    /// When the snapshot was taken (ISO 8601).
    pub collected_at: Option<String>,
    /// True when the agent answered from a cache it could not refresh.
    pub stale: bool,
    /// CPUs.
    pub cpu: ResourceCounter,
    /// Memory, in bytes.
    pub memory: ResourceCounter,
    /// GPUs.
    pub gpu: GpuSummary,
    /// Ray's object store, in bytes, when known.
    pub object_store: Option<ResourceCounter>,
    /// Jobs running now.
    pub running_jobs: u64,
    /// Serve replicas in all.
    pub total_serve_replicas: u64,
    /// Nodes, alive and dead.
    pub node_counts: NodeCounts,
    /// Per node.
    pub nodes: Vec<NodeResource>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of `POST resources/feasibility/`: a workload to check, without
/// starting it.
///
/// ```
/// let body = agent_proto::FeasibilityRequest::new("job", 2.0).num_gpus(1.0);
/// let v = serde_json::to_value(&body).unwrap();
/// assert_eq!(v["kind"], "job");
/// assert_eq!(v["replicas"], 1);
/// assert!(v["memory_bytes"].is_null());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeasibilityRequest {
    /// What would run: `job` or `serve` (the agent's words).
    pub kind: String,
    /// CPUs per replica.
    pub num_cpus: f64,
    /// GPUs per replica.
    #[serde(default)]
    pub num_gpus: f64,
    /// Memory per replica, in bytes.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// How many replicas.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Anything the agent's policy reads.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

fn one() -> u32 {
    1
}

impl FeasibilityRequest {
    /// `kind` needing `num_cpus` CPUs, one replica (the SDK's defaults otherwise).
    pub fn new(kind: impl Into<String>, num_cpus: f64) -> Self {
        FeasibilityRequest {
            kind: kind.into(),
            num_cpus,
            num_gpus: 0.0,
            memory_bytes: None,
            replicas: 1,
            metadata: Map::new(),
        }
    }

    /// Sets the GPUs per replica.
    pub fn num_gpus(mut self, gpus: f64) -> Self {
        self.num_gpus = gpus;
        self
    }

    /// Sets the memory per replica, in bytes.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Sets the number of replicas.
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// The answer of `POST resources/feasibility/`: would the workload be admitted?
///
/// ```
/// let f: agent_proto::Feasibility = serde_json::from_str(
///     r#"{"feasible":false,"reasons":["needs 4 GPUs, 1 available"]}"#,
/// ).unwrap();
/// assert!(!f.feasible);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Feasibility {
    /// True when the cluster and the policy would admit it now.
    pub feasible: bool,
    /// Why not (or notes), in words.
    pub reasons: Vec<String>,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `resources/policy/` read as the gatekeeping policy: what the agent sent, as it
/// sent it (synapse-sdk returns the plain dict); known fields typed when present.
///
/// ```
/// let p: agent_proto::GatekeepingPolicy =
///     serde_json::from_str(r#"{"gatekeeping_enabled":false,"max_concurrent_jobs":2}"#).unwrap();
/// assert_eq!(p.gatekeeping_enabled, Some(false));
/// assert_eq!(p.extra["max_concurrent_jobs"], 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GatekeepingPolicy {
    /// Whether admission checks run at all, when the agent says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gatekeeping_enabled: Option<bool>,
    /// Every other field of the policy.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `resources/policy/` read as the runtime policy: every field with synapse-sdk's
/// default (`AgentRuntimePolicy`), so a missing field reads as the agent's default.
///
/// ```
/// let p: agent_proto::RuntimePolicy = serde_json::from_str(r#"{"max_concurrent_jobs":5}"#).unwrap();
/// assert_eq!(p.max_concurrent_jobs, 5);
/// assert_eq!(p.max_concurrent_serve_replicas, 16);
/// assert!(p.gatekeeping_enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimePolicy {
    /// Jobs that may run at once.
    pub max_concurrent_jobs: u64,
    /// Serve replicas that may run at once.
    pub max_concurrent_serve_replicas: u64,
    /// Whether admission checks run.
    pub gatekeeping_enabled: bool,
    /// CPU use above which new work waits (percent).
    pub cpu_max_utilization_percent: f64,
    /// Memory use above which new work waits (percent).
    pub memory_max_utilization_percent: f64,
    /// GPU use above which new work waits (percent).
    pub gpu_max_utilization_percent: f64,
    /// GPU memory use above which new work waits (percent).
    pub gpu_max_memory_percent: f64,
    /// Ray jobs that may run at once (0: no limit).
    pub max_concurrent_ray_jobs: u64,
    /// How long a resource snapshot is reused (seconds).
    pub resource_cache_ttl_seconds: f64,
    /// Everything else the agent reported.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for RuntimePolicy {
    fn default() -> Self {
        RuntimePolicy {
            max_concurrent_jobs: 3,
            max_concurrent_serve_replicas: 16,
            gatekeeping_enabled: true,
            cpu_max_utilization_percent: 90.0,
            memory_max_utilization_percent: 90.0,
            gpu_max_utilization_percent: 90.0,
            gpu_max_memory_percent: 90.0,
            max_concurrent_ray_jobs: 0,
            resource_cache_ttl_seconds: 5.0,
            extra: Extra::new(),
        }
    }
}

/// A number in a JSON object, 0 when missing.
fn number(map: Option<&Map<String, Value>>, key: &str) -> f64 {
    map.and_then(|m| m.get(key))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

impl ClusterResources {
    /// The snapshot of a Ray cluster: `nodes` as Ray's State API lists them
    /// (`node_id`, `node_ip`, `is_head_node`, `state`, `resources_total` with
    /// `CPU`, `GPU`, `memory`, `object_store_memory`), and the cluster-wide use
    /// as Ray's `/api/cluster_status` reports it (`loadMetricsReport.usage`:
    /// `{"CPU": [used, total], ...}`; `None`: unknown, read as nothing used).
    /// Dead nodes are counted, never summed. Ray reports use per cluster, not per
    /// node: a node's counters show its total as available.
    ///
    /// One rule for every server: the gateway reads Ray's answers with it, the test
    /// agent its sample cluster.
    ///
    /// ```
    /// use serde_json::json;
    /// let nodes = [json!({"node_id": "a", "state": "ALIVE", "resources_total": {"CPU": 8.0, "GPU": 1.0}})];
    /// let usage = json!({"CPU": [2.0, 8.0]});
    /// let r = agent_proto::ClusterResources::from_ray(&nodes, usage.as_object());
    /// assert_eq!((r.cpu.total, r.cpu.available), (8.0, 6.0));
    /// assert_eq!(r.gpu.available_gpus, 1.0);
    /// ```
    pub fn from_ray(nodes: &[Value], usage: Option<&Map<String, Value>>) -> Self {
        let mut out = ClusterResources::default();
        let (mut cpu, mut gpu, mut memory, mut store) = (0.0, 0.0, 0.0, 0.0);
        for node in nodes {
            let alive = node.get("state").and_then(Value::as_str) == Some("ALIVE");
            out.node_counts.total += 1;
            if !alive {
                out.node_counts.dead += 1;
            } else {
                out.node_counts.alive += 1;
            }
            let total = node.get("resources_total").and_then(Value::as_object);
            let text = |k: &str| node.get(k).and_then(Value::as_str).map(str::to_owned);
            let (n_cpu, n_gpu, n_mem) = (
                number(total, "CPU"),
                number(total, "GPU"),
                number(total, "memory"),
            );
            if alive {
                cpu += n_cpu;
                gpu += n_gpu;
                memory += n_mem;
                store += number(total, "object_store_memory");
            }
            out.nodes.push(NodeResource {
                node_id: text("node_id").unwrap_or_default(),
                host_name: text("node_name"),
                ip: text("node_ip"),
                is_head_node: node.get("is_head_node").and_then(Value::as_bool) == Some(true),
                state: text("state").unwrap_or_else(|| "ALIVE".into()),
                accelerator_type: total.and_then(|t| {
                    t.keys()
                        .find_map(|k| k.strip_prefix("accelerator_type:").map(str::to_owned))
                }),
                cpu: ResourceCounter::of(n_cpu, n_cpu),
                memory: ResourceCounter::of(n_mem, n_mem),
                gpus: Vec::new(),
                extra: Extra::new(),
            });
        }
        let used = |key: &str| {
            usage
                .and_then(|u| u.get(key))
                .and_then(Value::as_array)
                .and_then(|pair| pair.first())
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        };
        let counter =
            |total: f64, key: &str| ResourceCounter::of(total, (total - used(key)).max(0.0));
        out.cpu = counter(cpu, "CPU");
        out.memory = counter(memory, "memory");
        let gpus = counter(gpu, "GPU");
        out.gpu.total_gpus = gpus.total;
        out.gpu.available_gpus = gpus.available;
        out.object_store = Some(counter(store, "object_store_memory"));
        out
    }
}

impl Feasibility {
    /// Would `request` be admitted on a cluster in state `resources` under
    /// `policy`? Each replica's needs times the replicas, against what is
    /// available under the policy's utilization caps (`total * cap% - used`), and
    /// the policy's concurrency limit for jobs. With gatekeeping off, everything is.
    ///
    /// ```
    /// use agent_proto::{ClusterResources, Feasibility, FeasibilityRequest, ResourceCounter, RuntimePolicy};
    /// let mut cluster = ClusterResources::default();
    /// cluster.cpu = ResourceCounter::of(10.0, 10.0);
    /// let policy = RuntimePolicy::default(); // 90% caps
    /// assert!(Feasibility::evaluate(&cluster, &FeasibilityRequest::new("job", 9.0), &policy).feasible);
    /// let no = Feasibility::evaluate(&cluster, &FeasibilityRequest::new("job", 5.0).replicas(2), &policy);
    /// assert!(!no.feasible);
    /// assert!(no.reasons[0].contains("CPU"), "{:?}", no.reasons);
    /// ```
    pub fn evaluate(
        resources: &ClusterResources,
        request: &FeasibilityRequest,
        policy: &RuntimePolicy,
    ) -> Self {
        let mut reasons = Vec::new();
        if !policy.gatekeeping_enabled {
            return Feasibility {
                feasible: true,
                reasons: vec!["gatekeeping is disabled".into()],
                extra: Extra::new(),
            };
        }
        let replicas = f64::from(request.replicas.max(1));
        let room = |c: &ResourceCounter, cap: f64| (c.total * cap / 100.0 - c.used).max(0.0);
        let gpu = ResourceCounter::of(resources.gpu.total_gpus, resources.gpu.available_gpus);
        let mut check = |what: &str, need: f64, have: f64| {
            if need > have {
                reasons.push(format!(
                    "needs {need} {what}, {have} available under the policy"
                ));
            }
        };
        check(
            "CPU",
            request.num_cpus * replicas,
            room(&resources.cpu, policy.cpu_max_utilization_percent),
        );
        check(
            "GPU",
            request.num_gpus * replicas,
            room(&gpu, policy.gpu_max_utilization_percent),
        );
        if let Some(bytes) = request.memory_bytes {
            check(
                "bytes of memory",
                bytes as f64 * replicas,
                room(&resources.memory, policy.memory_max_utilization_percent),
            );
        }
        if request.kind == "job" && resources.running_jobs >= policy.max_concurrent_jobs {
            reasons.push(format!(
                "{} jobs are running, the policy allows {}",
                resources.running_jobs, policy.max_concurrent_jobs
            ));
        }
        Feasibility {
            feasible: reasons.is_empty(),
            reasons,
            extra: Extra::new(),
        }
    }
}
