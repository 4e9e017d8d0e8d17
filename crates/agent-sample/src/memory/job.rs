//! A job of the in-memory cluster: its Ray job info, its log, and the task that moves
//! it through PENDING -> RUNNING -> SUCCEEDED / FAILED / STOPPED as time passes.

use std::sync::Mutex;
use std::time::Duration;

use agent_proto::{JobId, JobStatus};
use serde_json::{json, Map, Value};
use tokio::sync::watch;
use tokio::time::Instant;

#[cfg(feature = "faults")]
use crate::fault::{Armed, TailFault};
use crate::job::{JobSpec, LineSource, Outcome};
use crate::memory::log::LogStore;
use crate::util::{lock, now_ms};

/// The head node of the recorded cluster: drivers run there.
pub(crate) const HEAD_NODE_ID: &str = "fddbb195ce78652168eecbe943514ac95dcf06d80518d4bca140ebed";
const HEAD_NODE_IP: &str = "192.0.2.2";
const DRIVER_AGENT: &str = "http://192.0.2.2:52365";

/// The mutable part of a job.
pub(crate) struct JobState {
    pub(crate) status: JobStatus,
    message: String,
    error_type: Option<String>,
    final_message: Option<String>,
    start_time: u64,
    end_time: Option<u64>,
    exit_code: Option<i64>,
    started: bool,
    entrypoint: String,
    metadata: Option<Value>,
    runtime_env: Option<Value>,
    driver_job_id: Option<String>,
    extra: Map<String, Value>,
    pub(crate) log: LogStore,
    #[cfg(feature = "faults")]
    pub(crate) tail_faults: Vec<Armed<TailFault>>,
    pub(crate) tail_batch: usize,
}

/// A job: shared by the cluster, its driver task and its tails.
pub(crate) struct JobEntry {
    pub(crate) id: JobId,
    state: Mutex<JobState>,
    changed: watch::Sender<()>,
}

fn status_message(status: &JobStatus) -> &'static str {
    match status {
        JobStatus::Pending => "Job has not started yet.",
        JobStatus::Running => "Job is currently running.",
        JobStatus::Succeeded => "Job finished successfully.",
        JobStatus::Stopped => "Job was intentionally stopped.",
        JobStatus::Failed => "Job failed.",
        JobStatus::Other(_) => "",
    }
}

/// What the driver task has to do.
pub(crate) struct DrivePlan {
    pending: Duration,
    source: LineSource,
    rate: Option<f64>,
    outcome: Outcome,
}

impl JobEntry {
    /// A job from `spec`, settled where no time is involved. Returns the plan of the
    /// driver task when the job still has to move on.
    pub(crate) fn new(id: JobId, spec: JobSpec) -> (JobEntry, Option<DrivePlan>) {
        let generated_bytes = match spec.source {
            LineSource::Generated { bytes, .. } => bytes,
            LineSource::Lines(_) => 0,
        };
        let entrypoint = spec
            .entrypoint
            .clone()
            .unwrap_or_else(|| "python main.py".to_owned());
        let state = JobState {
            status: JobStatus::Pending,
            message: status_message(&JobStatus::Pending).to_owned(),
            error_type: None,
            final_message: spec.message.clone(),
            start_time: spec.start_time.unwrap_or_else(now_ms),
            end_time: None,
            exit_code: None,
            started: false,
            entrypoint,
            metadata: spec.metadata.clone(),
            runtime_env: spec.runtime_env.clone(),
            driver_job_id: spec.driver_job_id.clone(),
            extra: spec.extra.clone(),
            log: LogStore::new(generated_bytes),
            #[cfg(feature = "faults")]
            tail_faults: spec
                .tail_faults
                .iter()
                .map(|f| Armed::new(f.clone(), f.times))
                .collect(),
            tail_batch: spec.tail_batch,
        };
        let (changed, _) = watch::channel(());
        let job = JobEntry {
            id,
            state: Mutex::new(state),
            changed,
        };

        if let Some(status) = spec.settled {
            job.write_all(&spec.source);
            let mut s = lock(&job.state);
            s.started = status != JobStatus::Pending;
            if status.is_terminal() {
                s.end_time = Some(spec.end_time.unwrap_or_else(now_ms).max(s.start_time));
                s.exit_code = match status {
                    JobStatus::Succeeded => Some(0),
                    JobStatus::Failed => Some(1),
                    _ => None,
                };
            }
            if status == JobStatus::Failed {
                s.error_type = Some("JOB_ENTRYPOINT_COMMAND_ERROR".to_owned());
            }
            s.message = match (&status, &s.final_message) {
                (JobStatus::Failed, None) => failure_message(&s.log),
                (_, Some(m)) if status.is_terminal() => m.clone(),
                _ => status_message(&status).to_owned(),
            };
            s.status = status;
            drop(s);
            return (job, None);
        }

        let finite = !matches!(spec.source, LineSource::Generated { count: None, .. });
        if spec.pending.is_zero() {
            job.set_running();
            if spec.rate.is_none() && finite {
                job.write_all(&spec.source);
                job.finish(&spec.outcome);
                return (job, None);
            }
        }
        let plan = DrivePlan {
            pending: spec.pending,
            source: spec.source,
            rate: spec.rate,
            outcome: spec.outcome,
        };
        (job, Some(plan))
    }

    fn notify(&self) {
        self.changed.send_replace(());
    }

    /// A receiver that wakes on every change of the job (lines or status).
    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// Runs `f` on the job's state (no notification).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut JobState) -> R) -> R {
        f(&mut lock(&self.state))
    }

    /// Runs `f` on the job's state, then wakes its tails.
    fn change<R>(&self, f: impl FnOnce(&mut JobState) -> R) -> R {
        let r = f(&mut lock(&self.state));
        self.notify();
        r
    }

    fn write_all(&self, source: &LineSource) {
        self.change(|s| match source {
            LineSource::Lines(lines) => {
                for l in lines {
                    s.log.push(l);
                }
            }
            LineSource::Generated { count, .. } => {
                s.log.push_generated(0, count.unwrap_or(0));
            }
        });
    }

    /// The job's status.
    pub(crate) fn status(&self) -> JobStatus {
        lock(&self.state).status.clone()
    }

    /// True once the job is stopped, succeeded or failed.
    pub(crate) fn is_terminal(&self) -> bool {
        lock(&self.state).status.is_terminal()
    }

    /// PENDING -> RUNNING; false when it was not pending.
    pub(crate) fn set_running(&self) -> bool {
        self.change(|s| {
            if s.status != JobStatus::Pending {
                return false;
            }
            s.status = JobStatus::Running;
            s.started = true;
            s.message = status_message(&JobStatus::Running).to_owned();
            true
        })
    }

    /// Appends lines (to a job in any state).
    pub(crate) fn append<S: AsRef<str>>(&self, lines: &[S]) {
        self.change(|s| {
            for l in lines {
                s.log.push(l.as_ref());
            }
        });
    }

    /// Ends the job as `outcome` says; false when it had already ended.
    pub(crate) fn finish(&self, outcome: &Outcome) -> bool {
        let status = match outcome {
            Outcome::Succeed => JobStatus::Succeeded,
            Outcome::Fail(_) => JobStatus::Failed,
            Outcome::KeepRunning => return false,
        };
        self.change(|s| {
            if s.status.is_terminal() {
                return false;
            }
            s.started = true;
            s.end_time = Some(now_ms().max(s.start_time));
            match outcome {
                Outcome::Fail(message) => {
                    s.exit_code = Some(1);
                    s.error_type = Some("JOB_ENTRYPOINT_COMMAND_ERROR".to_owned());
                    s.message = message
                        .clone()
                        .or_else(|| s.final_message.clone())
                        .unwrap_or_else(|| failure_message(&s.log));
                }
                _ => {
                    s.exit_code = Some(0);
                    s.message = s
                        .final_message
                        .clone()
                        .unwrap_or_else(|| status_message(&status).to_owned());
                }
            }
            s.status = status;
            true
        })
    }

    /// Stops a pending or running job; false when it had already ended.
    pub(crate) fn stop(&self) -> bool {
        self.change(|s| {
            if s.status.is_terminal() {
                return false;
            }
            s.status = JobStatus::Stopped;
            s.message = status_message(&JobStatus::Stopped).to_owned();
            s.end_time = Some(now_ms().max(s.start_time));
            true
        })
    }

    /// The Ray job info, shaped as Ray's `GET /api/jobs/{id}` answers.
    pub(crate) fn info(&self) -> Value {
        let s = lock(&self.state);
        let driver_id = if s.started {
            s.driver_job_id.clone()
        } else {
            None
        };
        let driver_info = match &driver_id {
            Some(id) => json!({ "id": id, "node_ip_address": HEAD_NODE_IP, "pid": "11796" }),
            None => Value::Null,
        };
        let mut v = json!({
            "type": "SUBMISSION",
            "job_id": driver_id,
            "submission_id": self.id.as_str(),
            "driver_info": driver_info,
            "status": s.status.as_str(),
            "entrypoint": s.entrypoint,
            "message": s.message,
            "error_type": s.error_type,
            "start_time": s.start_time,
            "end_time": s.end_time,
            "metadata": s.metadata,
            "runtime_env": s.runtime_env,
            "driver_agent_http_address": if s.started { Some(DRIVER_AGENT) } else { None },
            "driver_node_id": if s.started { Some(HEAD_NODE_ID) } else { None },
            "driver_exit_code": s.exit_code,
        });
        if let Some(obj) = v.as_object_mut() {
            for (k, val) in &s.extra {
                obj.insert(k.clone(), val.clone());
            }
        }
        v
    }

    /// The whole log so far.
    pub(crate) fn log_text(&self) -> String {
        lock(&self.state).log.text()
    }

    /// Lines `from..from + max` of the log (fewer at its end), each followed by `\n`.
    pub(crate) fn log_text_of(&self, from: u64, max: u64) -> String {
        let lines = lock(&self.state).log.lines(from, max);
        let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }

    /// How many lines the log has.
    pub(crate) fn log_len(&self) -> u64 {
        lock(&self.state).log.len()
    }
}

/// Ray's message for a failed entrypoint.
fn failure_message(log: &LogStore) -> String {
    let mut m = String::from(
        "Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\n",
    );
    for l in log.last_lines(10) {
        m.push_str(&l);
        m.push('\n');
    }
    m
}

/// The task that moves a job on: waits out its pending time, writes its lines at
/// its rate, then ends it. Stops early once the job ended some other way.
pub(crate) async fn drive(job: std::sync::Arc<JobEntry>, plan: DrivePlan) {
    if !plan.pending.is_zero() {
        tokio::time::sleep(plan.pending).await;
        if !job.set_running() {
            return; // stopped while pending
        }
    }
    let total = match &plan.source {
        LineSource::Lines(l) => Some(l.len() as u64),
        LineSource::Generated { count, .. } => *count,
    };
    let Some(rate) = plan.rate.or(if total.is_none() { Some(1.0) } else { None }) else {
        job.write_all(&plan.source);
        job.finish(&plan.outcome);
        return;
    };
    let start = Instant::now();
    let mut written: u64 = 0;
    loop {
        if job.is_terminal() {
            return;
        }
        let due = (start.elapsed().as_secs_f64() * rate) as u64 + 1;
        let due = total.map_or(due, |t| due.min(t));
        if due > written {
            job.change(|s| match &plan.source {
                LineSource::Lines(lines) => {
                    for l in &lines[written as usize..due as usize] {
                        s.log.push(l);
                    }
                }
                LineSource::Generated { .. } => s.log.push_generated(written, due - written),
            });
            written = due;
        }
        if total.is_some_and(|t| written >= t) {
            break;
        }
        let next = start + Duration::from_secs_f64(written as f64 / rate);
        let next = next.max(Instant::now() + Duration::from_millis(1));
        tokio::time::sleep_until(next).await;
    }
    job.finish(&plan.outcome);
}
