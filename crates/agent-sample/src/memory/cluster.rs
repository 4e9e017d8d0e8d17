//! The in-memory cluster: jobs, nodes, tasks, Serve applications, plugin releases and
//! GPU status, shared by the backend (what the server answers) and the test handle
//! (what a test changes at run time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use agent_proto::JobId;
use serde_json::{json, Value};

use crate::error::SampleError;
#[cfg(feature = "faults")]
use crate::fault::{pick_tail_faults, Armed, TailFault};
use crate::job::JobSpec;
use crate::memory::job::{drive, JobEntry};
use crate::memory::tail;
use crate::serve::{TailAt, TailProtocol};
use crate::util::{lock, now_ms, TaskSet};

/// A request to run a plugin action, as the run hook of
/// [`crate::SampleServerBuilder::on_run`] sees it.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The id the new job gets (the body's `job_id`, or a fresh `raysubmit_...`).
    pub job_id: String,
    /// The release being run (`None` for `run_debug/`).
    pub release: Option<Value>,
    /// The action (`body["action"]`).
    pub action: String,
    /// The whole request body.
    pub body: Value,
    /// True for `run_debug/`.
    pub debug: bool,
}

/// Makes the job a run starts.
pub type RunHook = Arc<dyn Fn(&RunRequest) -> JobSpec + Send + Sync>;

pub(crate) struct Cluster {
    jobs: Mutex<Vec<Arc<JobEntry>>>,
    pub(crate) nodes: Mutex<Vec<Value>>,
    pub(crate) tasks: Mutex<Vec<Value>>,
    pub(crate) serve_apps: Mutex<Vec<Value>>,
    pub(crate) releases: Mutex<Vec<Value>>,
    next_release_id: AtomicU64,
    next_job: AtomicU64,
    seed: u64,
    pub(crate) gpu_status: Mutex<Option<Value>>,
    pub(crate) health: Mutex<Value>,
    #[cfg(feature = "faults")]
    global_tail_faults: Mutex<Vec<Armed<TailFault>>>,
    pub(crate) on_run: Mutex<Option<RunHook>>,
    /// Policy, system, builds and containers.
    pub(crate) platform: crate::memory::platform::Platform,
    drivers: TaskSet,
}

impl Cluster {
    pub(crate) fn new(runtime: tokio::runtime::Handle) -> Self {
        Cluster {
            jobs: Mutex::new(Vec::new()),
            nodes: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
            serve_apps: Mutex::new(Vec::new()),
            releases: Mutex::new(Vec::new()),
            next_release_id: AtomicU64::new(1),
            next_job: AtomicU64::new(1),
            seed: now_ms() ^ 0x9e37_79b9_7f4a_7c15,
            gpu_status: Mutex::new(None),
            health: Mutex::new(json!({
                "status": "ok",
                "ray_version": "2.60.0",
                "ray_commit": "b7f4259e944bf6959f721b106adc366ddfa0c356",
            })),
            #[cfg(feature = "faults")]
            global_tail_faults: Mutex::new(Vec::new()),
            on_run: Mutex::new(None),
            platform: Default::default(),
            drivers: TaskSet::new(runtime),
        }
    }

    /// Stops every job driver (the server is going away).
    pub(crate) fn abort_drivers(&self) {
        self.drivers.abort_all();
    }

    pub(crate) fn add_job(&self, spec: JobSpec) -> Result<(), SampleError> {
        let id = JobId::new(spec.id.clone())?;
        let mut jobs = lock(&self.jobs);
        if jobs.iter().any(|j| j.id == id) {
            return Err(SampleError::DuplicateJob(id.into_string()));
        }
        let (entry, plan) = JobEntry::new(id, spec);
        let entry = Arc::new(entry);
        jobs.push(Arc::clone(&entry));
        drop(jobs);
        if let Some(plan) = plan {
            self.drivers.spawn(drive(entry, plan));
        }
        Ok(())
    }

    pub(crate) fn job(&self, id: &str) -> Option<Arc<JobEntry>> {
        lock(&self.jobs)
            .iter()
            .find(|j| j.id.as_str() == id)
            .cloned()
    }

    pub(crate) fn jobs(&self) -> Vec<Arc<JobEntry>> {
        lock(&self.jobs).clone()
    }

    pub(crate) fn add_release(&self, mut release: Value) -> Value {
        if let Some(obj) = release.as_object_mut() {
            let id = match obj.get("id").and_then(Value::as_u64) {
                Some(id) => {
                    self.next_release_id.fetch_max(id + 1, Ordering::Relaxed);
                    id
                }
                None => self.next_release_id.fetch_add(1, Ordering::Relaxed),
            };
            obj.insert("id".into(), json!(id));
            if !obj.contains_key("code") {
                let code = obj.get("plugin").cloned().unwrap_or(Value::Null);
                obj.insert("code".into(), code);
            }
        }
        lock(&self.releases).push(release.clone());
        release
    }

    #[cfg(feature = "faults")]
    pub(crate) fn add_global_tail_fault(&self, fault: TailFault) {
        let times = fault.times;
        lock(&self.global_tail_faults).push(Armed::new(fault, times));
    }

    #[cfg(feature = "faults")]
    pub(crate) fn clear_global_tail_faults(&self) {
        lock(&self.global_tail_faults).clear();
    }

    /// A tail of `job` over `protocol` from line index `from` (0-based), spending
    /// the uses of the faults it picks.
    #[cfg(feature = "faults")]
    pub(crate) fn tail(&self, job: Arc<JobEntry>, from: u64, protocol: TailProtocol) -> TailAt {
        let mut kinds = pick_tail_faults(&mut lock(&self.global_tail_faults), protocol);
        let batch = job.with(|s| {
            kinds.extend(pick_tail_faults(&mut s.tail_faults, protocol));
            s.tail_batch
        });
        tail::tail(job, from, protocol, kinds, batch)
    }

    /// A tail of `job` from line index `from` (0-based; the same events over both
    /// protocols).
    #[cfg(not(feature = "faults"))]
    pub(crate) fn tail(&self, job: Arc<JobEntry>, from: u64, _protocol: TailProtocol) -> TailAt {
        let batch = job.with(|s| s.tail_batch);
        tail::tail(job, from, batch)
    }

    /// A fresh submission id: `raysubmit_` and 16 letters and digits, as Ray makes them.
    pub(crate) fn fresh_job_id(&self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        loop {
            let n = self.next_job.fetch_add(1, Ordering::Relaxed);
            // splitmix64: distinct counters give distinct, random-looking ids
            let mut x = self
                .seed
                .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^= x >> 31;
            let mut id = String::from("raysubmit_");
            let mut y = x;
            for _ in 0..16 {
                id.push(ALPHABET[(y % ALPHABET.len() as u64) as usize] as char);
                y /= ALPHABET.len() as u64;
                if y == 0 {
                    y = x.rotate_left(17) | 1;
                }
            }
            if self.job(&id).is_none() {
                return id;
            }
        }
    }

    /// The job a run starts: the run hook's, or a few realistic lines.
    pub(crate) fn run_job(&self, req: &RunRequest) -> JobSpec {
        let hook = lock(&self.on_run).clone();
        match hook {
            Some(hook) => hook(req),
            None => default_run_job(req),
        }
    }
}

/// The job a run starts by default: Ray's first lines, the action, its params, done.
pub(crate) fn default_run_job(req: &RunRequest) -> JobSpec {
    let (code, version) = match &req.release {
        Some(r) => (
            r.get("code")
                .or_else(|| r.get("plugin"))
                .and_then(Value::as_str)
                .unwrap_or("plugin")
                .to_owned(),
            r.get("version")
                .and_then(Value::as_str)
                .unwrap_or("0")
                .to_owned(),
        ),
        None => (
            req.body
                .get("plugin_path")
                .and_then(Value::as_str)
                .unwrap_or("debug")
                .to_owned(),
            "debug".to_owned(),
        ),
    };
    let entrypoint = format!(
        "python -m synapse_sdk.plugins.run {code}@{version} {}",
        req.action
    );
    let params = req.body.get("params").cloned().unwrap_or(json!({}));
    JobSpec::new(req.job_id.clone())
        .entrypoint(entrypoint.clone())
        .metadata(json!({ "plugin": code, "version": version, "action": req.action }))
        .lines([
            "2026-11-23 23:47:11,237\tINFO job_manager.py:581 -- Runtime env is setting up."
                .to_owned(),
            format!("Running entrypoint for job {}: {entrypoint}", req.job_id),
            format!("Running action '{}' of plugin {code}@{version}", req.action),
            format!("params: {params}"),
            format!("Action '{}' finished.", req.action),
        ])
}
