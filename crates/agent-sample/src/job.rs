//! How a test describes a job: its log, its pace, and how it ends.

use std::time::Duration;

use agent_proto::JobStatus;
use serde_json::{Map, Value};

#[cfg(feature = "faults")]
use crate::fault::TailFault;

/// Where a job's log lines come from.
#[derive(Debug, Clone, PartialEq)]
pub enum LineSource {
    /// These lines, in order.
    Lines(Vec<String>),
    /// `count` generated lines (`None`: without end) of `bytes` bytes each (see
    /// [`crate::generated_line`]: `line {i}` padded with letters).
    Generated {
        /// How many lines; `None` writes lines until the job is finished or stopped.
        count: Option<u64>,
        /// The length of each line (at least `line {i}`).
        bytes: usize,
    },
}

/// How a job ends once its lines are written.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `SUCCEEDED`, `Job finished successfully.`, exit code 0.
    Succeed,
    /// `FAILED` with this message (`None`: Ray's message with the last lines), exit code 1.
    Fail(Option<String>),
    /// Stays `RUNNING` until a test finishes, fails or stops it.
    KeepRunning,
}

/// A job of the test cluster.
///
/// A job starts `PENDING`, turns `RUNNING` after its pending time, writes its lines
/// (at `rate` lines per second, or all at once), then ends as its [`Outcome`] says.
/// A job with no pending time and no rate is settled when it is added: its lines are
/// all there and its status final, so a test sees no intermediate state.
///
/// ```
/// use agent_sample::JobSpec;
/// use std::time::Duration;
///
/// let done = JobSpec::new("raysubmit_1").lines(["hello", "world"]);
/// let slow = JobSpec::new("raysubmit_2")
///     .generate(1_000, 80)
///     .rate(200.0)
///     .pending_for(Duration::from_millis(100));
/// let broken = JobSpec::new("raysubmit_3").lines(["Traceback ..."]).fails(None);
/// let forever = JobSpec::new("raysubmit_4").endless(0).rate(2.0);
/// # let _ = (done, slow, broken, forever);
/// ```
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub(crate) id: String,
    pub(crate) source: LineSource,
    pub(crate) rate: Option<f64>,
    pub(crate) pending: Duration,
    pub(crate) outcome: Outcome,
    pub(crate) settled: Option<JobStatus>,
    pub(crate) entrypoint: Option<String>,
    pub(crate) metadata: Option<Value>,
    pub(crate) runtime_env: Option<Value>,
    pub(crate) driver_job_id: Option<String>,
    pub(crate) start_time: Option<u64>,
    pub(crate) end_time: Option<u64>,
    pub(crate) message: Option<String>,
    pub(crate) extra: Map<String, Value>,
    #[cfg(feature = "faults")]
    pub(crate) tail_faults: Vec<TailFault>,
    pub(crate) tail_batch: usize,
}

impl JobSpec {
    /// A job `id` (a submission id such as `raysubmit_...`) with no lines that succeeds
    /// at once.
    pub fn new(id: impl Into<String>) -> Self {
        JobSpec {
            id: id.into(),
            source: LineSource::Lines(Vec::new()),
            rate: None,
            pending: Duration::ZERO,
            outcome: Outcome::Succeed,
            settled: None,
            entrypoint: None,
            metadata: None,
            runtime_env: None,
            driver_job_id: None,
            start_time: None,
            end_time: None,
            message: None,
            extra: Map::new(),
            #[cfg(feature = "faults")]
            tail_faults: Vec::new(),
            tail_batch: 1,
        }
    }

    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the job's lines come from.
    pub fn source(&self) -> &LineSource {
        &self.source
    }

    /// How the job ends once its lines are written.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// The job writes these lines (none holds a `\n`: split a text with `str::lines`).
    pub fn lines<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.source = LineSource::Lines(lines.into_iter().map(Into::into).collect());
        self
    }

    /// The job writes the lines of `text` (split at `\n`; a last `\n` ends the last line).
    pub fn log_text(self, text: &str) -> Self {
        self.lines(text.lines())
    }

    /// The job writes `count` generated lines of `bytes` bytes each.
    pub fn generate(mut self, count: u64, bytes: usize) -> Self {
        self.source = LineSource::Generated {
            count: Some(count),
            bytes,
        };
        self
    }

    /// The job writes generated lines of `bytes` bytes without end (at [`JobSpec::rate`],
    /// 1 line/s if none is set) and keeps running until a test ends it.
    pub fn endless(mut self, bytes: usize) -> Self {
        self.source = LineSource::Generated { count: None, bytes };
        self.outcome = Outcome::KeepRunning;
        self
    }

    /// Writes `lines_per_second` lines a second (the default is all at once).
    pub fn rate(mut self, lines_per_second: f64) -> Self {
        self.rate =
            (lines_per_second.is_finite() && lines_per_second > 0.0).then_some(lines_per_second);
        self
    }

    /// Stays `PENDING` this long before it runs.
    pub fn pending_for(mut self, pending: Duration) -> Self {
        self.pending = pending;
        self
    }

    /// Ends `FAILED` once its lines are written, with `message` (`None`: Ray's
    /// `Job entrypoint command failed with exit code 1, ...` and the last lines).
    pub fn fails(mut self, message: Option<&str>) -> Self {
        self.outcome = Outcome::Fail(message.map(str::to_owned));
        self
    }

    /// Stays `RUNNING` once its lines are written, until a test ends it.
    pub fn keeps_running(mut self) -> Self {
        self.outcome = Outcome::KeepRunning;
        self
    }

    /// Starts in `status` with all its lines written, and stays so (`PENDING` or
    /// `RUNNING` until a test changes it). For jobs that ran before the test.
    pub fn status(mut self, status: JobStatus) -> Self {
        self.settled = Some(status);
        self
    }

    /// The job's command (default: `python main.py`).
    pub fn entrypoint(mut self, entrypoint: impl Into<String>) -> Self {
        self.entrypoint = Some(entrypoint.into());
        self
    }

    /// The submitter's metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The runtime environment.
    pub fn runtime_env(mut self, runtime_env: Value) -> Self {
        self.runtime_env = Some(runtime_env);
        self
    }

    /// The driver's job id (hex, e.g. `02000000`), set once the job runs.
    pub fn driver_job_id(mut self, id: impl Into<String>) -> Self {
        self.driver_job_id = Some(id.into());
        self
    }

    /// Start and end times in milliseconds since the epoch (default: when added, and
    /// when it ends).
    pub fn times(mut self, start_ms: u64, end_ms: Option<u64>) -> Self {
        self.start_time = Some(start_ms);
        self.end_time = end_ms;
        self
    }

    /// Ray's message about the final status, instead of the usual one.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// An extra field of the job info (a field a newer agent might add).
    pub fn field(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// A fault of this job's tails (see [`TailFault`]; the `faults` feature).
    #[cfg(feature = "faults")]
    pub fn tail_fault(mut self, fault: TailFault) -> Self {
        self.tail_faults.push(fault);
        self
    }

    /// Sends up to `n` lines per log message, each followed by `\n`, as Ray's tail
    /// batches them (default 1: one line per message, without `\n`).
    pub fn tail_batch(mut self, n: usize) -> Self {
        self.tail_batch = n.max(1);
        self
    }
}
