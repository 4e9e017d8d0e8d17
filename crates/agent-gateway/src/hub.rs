//! One upstream per job: every tail of a job shares one Ray tail socket, one
//! status poll and one read of the final log ([`JobHub`]).
//!
//! Without it each subscriber ran its own [`crate::tail::run_tail`], so Ray's cost
//! grew with the number of viewers (100 tails of one finished job: 100 sockets,
//! 100 reads of the whole log). Now the first tail of a job makes the job's
//! *upstream*: one `run_tail` (still the one home of the exactly-once logic), whose
//! lines are numbered (the file's lines, 1-based: an empty or oversized line counts
//! and is sent as an empty message) and kept in two places:
//!
//! - a **ring** of recent lines in memory ([`HubSettings::ring_lines`] and
//!   [`HubSettings::ring_bytes`] bound it): subscribers that keep up read from it,
//!   sharing each line (`Arc<str>`), with no copy and no I/O;
//! - a **spool** file per job in the spool dir ([`HubSettings::spool_dir`]; all of
//!   the hub's files within [`HubSettings::spool_max_bytes`]), one line per entry,
//!   with a sparse index of line offsets (every [`INDEX_STRIDE`] lines) so that
//!   reading from line K seeks. A subscriber that falls behind the ring (or starts
//!   before it) reads from the spool, then rejoins the ring.
//!
//! Why both: a ring alone would have to grow without bound or leave slow
//! subscribers behind; a spool alone would put file I/O on every line of every
//! subscriber. Where the
//! spool cannot serve (its cap was reached, or I/O failed), a subscriber carries
//! on with its own private Ray tail ([`crate::tail::spawn_tail_after`]) starting
//! at its line, so it never loses one. The upstream never waits for a subscriber:
//! it appends to the spool and the ring and moves on; each subscriber holds at
//! most one batch ([`BATCH_LINES`] lines, [`BATCH_BYTES`] bytes, or one line
//! longer than that).
//!
//! Lines go out several to a message (`a\nb\n`, numbered from the first, as
//! the spec's "Line numbers and cursors" allows) up to [`MESSAGE_BYTES`]: one
//! JSON event per line per subscriber was most of the gateway's CPU.
//!
//! A job's hub is made once: concurrent first tails of a job wait for one
//! `get_job` (the 404 check), and a tail of a job whose hub exists asks Ray
//! nothing. A live upstream stops [`HubSettings::grace`] after its last
//! subscriber left. When the job finishes, the final log's raw bytes (as the
//! final-log phase reads them from Ray's log-file API, byte-exact) go to a file in
//! the spool dir; the hub then keeps the finished job for [`HubSettings::linger`]
//! (if its spool holds every line: its ring is then freed, so a kept job costs
//! disk within the cap, not memory; oldest first out when the cap needs the
//! room), answering its tails, `jobs/{id}/logs/`, `?tail=N` and `jobs/{id}/`
//! (the final info, as Ray answered it when the job turned terminal) without
//! asking Ray, and hands the file to
//! [`HubSettings::finished_logs`] (the archive) once. Every task belongs to the
//! hub: dropping it aborts them, and its spool dir is removed.

use crate::ray::RayClient;
use crate::tail::{
    spawn_tail_after, FinalLogCopy, TailEvent as RayEvent, TailHandle, TailSettings,
};
use agent_proto::{Job, JobId};
use agent_server::{BackendError, LogBody, LogStart, TailAt, TailEvent};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, OnceCell};

/// A line of the spool's index every this many lines.
pub const INDEX_STRIDE: u64 = 1024;
/// The most lines a subscriber takes at once.
pub const BATCH_LINES: usize = 256;
/// The most bytes a subscriber takes at once (beyond one line).
pub const BATCH_BYTES: usize = 256 * 1024;
/// The most bytes of lines sent in one message (below the clients' 10 KiB
/// default `max_message_size`).
pub const MESSAGE_BYTES: usize = 8 * 1024;

/// A finished job's complete raw log, as [`FinishedLogs`] gets it.
#[derive(Debug, Clone)]
pub struct FinishedLog {
    /// The job.
    pub job: JobId,
    /// Its final info (terminal), as Ray answered it.
    pub info: Job,
    /// The raw final log, complete: the log file's bytes from byte 0, as Ray's
    /// log-file API sent them (invalid UTF-8 and oversized lines included).
    pub log: PathBuf,
    /// How many lines it holds.
    pub lines: u64,
}

/// What gets each finished job's log (the archive): called once per finished job
/// (per upstream), from `tokio::task::spawn_blocking`, while the hub keeps the
/// file; the file may be gone after it returns.
pub trait FinishedLogs: Send + Sync + std::fmt::Debug {
    /// A job finished and its log is complete.
    fn finished(&self, log: &FinishedLog);
}

/// How the hub bounds itself.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// The most lines in a job's ring (default 4096).
    pub ring_lines: usize,
    /// The most bytes of lines in a job's ring (default 4 MiB).
    pub ring_bytes: usize,
    /// Where the spool dir is made (a new directory in it, removed with the hub);
    /// `None`: the system's temporary directory.
    pub spool_dir: Option<PathBuf>,
    /// The most bytes of all the spool's files (default 1 GiB); past it, new lines
    /// are not spooled (lagging subscribers then read Ray themselves).
    pub spool_max_bytes: u64,
    /// How long a finished job's log is kept to answer later tails and
    /// `jobs/{id}/logs/` (default 5 minutes).
    pub linger: Duration,
    /// How long a live job's upstream waits, once its last subscriber left, for a
    /// new one before it closes Ray's socket (default 2 s).
    pub grace: Duration,
    /// Gets each finished job's raw log (the archive); `None`: nothing does.
    pub finished_logs: Option<Arc<dyn FinishedLogs>>,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            ring_lines: 4096,
            ring_bytes: 4 * 1024 * 1024,
            spool_dir: None,
            spool_max_bytes: 1024 * 1024 * 1024,
            linger: Duration::from_secs(300),
            grace: Duration::from_secs(2),
            finished_logs: None,
        }
    }
}

/// The per-job hub of a backend: see the module docs.
#[derive(Debug)]
pub struct JobHub {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    ray: RayClient,
    tail: TailSettings,
    settings: HubSettings,
    spool: Arc<Spool>,
    metrics: Arc<HubMetrics>,
    jobs: Mutex<HashMap<JobId, Arc<Entry>>>,
}

/// One job in the hub's map.
#[derive(Debug)]
struct Entry {
    state: Arc<JobState>,
    /// The 404 check, made once for all the first subscribers.
    ready: OnceCell<Result<(), BackendError>>,
    /// The upstream task, aborted when the entry goes.
    task: Mutex<Option<AbortOnDrop>>,
}

#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The gauges of [`JobHub::render_metrics`].
#[derive(Debug, Default)]
struct HubMetrics {
    upstream_tails: AtomicI64,
    subscribers: AtomicI64,
}

/// A handle on a hub's gauges, valid after the hub is gone.
#[derive(Debug, Clone)]
pub struct HubGauges(Arc<HubMetrics>);

impl HubGauges {
    /// Ray tail streams open now: shared upstreams and lagging subscribers' own.
    pub fn upstream_tails(&self) -> i64 {
        self.0.upstream_tails.load(Ordering::Relaxed)
    }

    /// Tails served by the hub now.
    pub fn subscribers(&self) -> i64 {
        self.0.subscribers.load(Ordering::Relaxed)
    }
}

/// Adds one to a gauge for as long as it lives.
#[derive(Debug)]
struct GaugeGuard(Arc<HubMetrics>, fn(&HubMetrics) -> &AtomicI64);

impl GaugeGuard {
    fn new(metrics: &Arc<HubMetrics>, gauge: fn(&HubMetrics) -> &AtomicI64) -> Self {
        gauge(metrics).fetch_add(1, Ordering::Relaxed);
        GaugeGuard(Arc::clone(metrics), gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// How a job's log ended.
#[derive(Debug, Clone)]
enum End {
    Complete,
    Error(String),
}

/// What subscribers of one job share.
#[derive(Debug)]
struct JobState {
    job: JobId,
    inner: Mutex<Inner>,
    /// Bumped whenever lines arrive or the log ends.
    changed: watch::Sender<u64>,
    /// How many subscribers there are (changed under the hub's map lock when
    /// one comes, so that an idle upstream and a newcomer never cross).
    subscribers: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct Inner {
    ring: VecDeque<Arc<str>>,
    /// The number of `ring[0]` (when the ring is empty: `total + 1`).
    ring_first: u64,
    ring_bytes: usize,
    /// Lines produced so far.
    total: u64,
    /// The spool's file of lines: lines 1 to `spooled` can be read from it.
    spool: Option<Arc<SpoolFile>>,
    spooled: u64,
    /// The byte offset of line `i * INDEX_STRIDE + 1`.
    index: Vec<u64>,
    end: Option<End>,
    /// The raw final log, once complete.
    raw: Option<RawLog>,
    finished_at: Option<Instant>,
}

#[derive(Debug, Clone)]
struct RawLog {
    info: Job,
    file: Arc<SpoolFile>,
}

impl JobState {
    fn new(job: JobId) -> Self {
        JobState {
            job,
            inner: Mutex::new(Inner {
                ring_first: 1,
                ..Inner::default()
            }),
            changed: watch::channel(0).0,
            subscribers: watch::channel(0).0,
        }
    }

    fn end(&self, end: End) {
        {
            let mut inner = lock(&self.inner);
            if inner.end.is_some() {
                return;
            }
            if matches!(end, End::Complete) {
                inner.finished_at = Some(Instant::now());
            }
            inner.end = Some(end);
        }
        self.changed.send_modify(|n| *n += 1);
    }
}

impl JobHub {
    /// A hub over `ray`, its upstreams paced by `tail`.
    pub fn new(ray: RayClient, tail: TailSettings, settings: HubSettings) -> Self {
        let spool = Arc::new(Spool::new(
            settings.spool_dir.as_deref(),
            settings.spool_max_bytes,
        ));
        JobHub {
            shared: Arc::new(Shared {
                ray,
                tail,
                settings,
                spool,
                metrics: Arc::default(),
                jobs: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A tail of `job` from `start`, sharing the job's upstream (made here if
    /// there is none: after one `get_job`, shared by concurrent callers, so that an
    /// unknown job is a 404 before any stream starts). [`LogStart::Last`] counts
    /// the lines the hub has so far: for a job it does not hold yet, find the
    /// start from Ray first (the backend does).
    pub async fn subscribe(&self, job: &JobId, start: LogStart) -> Result<TailAt, BackendError> {
        let (entry, guard) = {
            let mut jobs = lock(&self.shared.jobs);
            let entry = Arc::clone(
                jobs.entry(job.clone())
                    .or_insert_with(|| Arc::new(Entry::new(job.clone()))),
            );
            // counted under the map lock: see `remove_if_idle`
            entry.state.subscribers.send_modify(|n| *n += 1);
            let guard = Subscribed {
                state: Arc::clone(&entry.state),
                _gauge: GaugeGuard::new(&self.shared.metrics, |m| &m.subscribers),
            };
            (entry, guard)
        };
        let ready = entry
            .ready
            .get_or_init(|| async {
                match self.shared.ray.get_job(job).await {
                    Ok(_) => {
                        let task = spawn_upstream(&self.shared, Arc::clone(&entry.state));
                        *lock(&entry.task) = Some(task);
                        Ok(())
                    }
                    Err(e) => Err(crate::backend::to_backend(e)),
                }
            })
            .await;
        if let Err(e) = ready {
            let e = e.clone();
            remove_entry(&self.shared, &entry.state);
            return Err(e);
        }
        let first = match start {
            LogStart::Line(k) => k.max(1),
            LogStart::Last(n) => lock(&entry.state.inner).total.saturating_sub(n) + 1,
        };
        let subscriber = Subscriber {
            shared: Arc::clone(&self.shared),
            state: Arc::clone(&entry.state),
            changed: entry.state.changed.subscribe(),
            next: first,
            ready: VecDeque::new(),
            private: None,
            ended: false,
            _subscribed: guard,
        };
        let events = futures_util::stream::unfold(subscriber, |mut s| async move {
            let event = s.next_event().await?;
            Some((event, s))
        });
        Ok(TailAt::new(Box::pin(events), Some(first), first))
    }

    /// Its gauges.
    pub fn gauges(&self) -> HubGauges {
        HubGauges(Arc::clone(&self.shared.metrics))
    }

    /// Whether the hub holds `job` now (its tails need no Ray call).
    pub fn holds(&self, job: &JobId) -> bool {
        lock(&self.shared.jobs).contains_key(job)
    }

    fn held_raw(&self, job: &JobId) -> Option<RawLog> {
        let jobs = lock(&self.shared.jobs);
        let inner = lock(&jobs.get(job)?.state.inner);
        match inner.end {
            Some(End::Complete) => inner.raw.clone(),
            _ => None,
        }
    }

    /// The final info of a finished job the hub keeps, as Ray answered it when the
    /// job was seen terminal (it no longer changes): `jobs/{id}/` of a job whose
    /// tails just ended (agentctl reads the status for its exit code) needs no
    /// Ray call.
    pub fn finished_info(&self, job: &JobId) -> Option<Job> {
        self.held_raw(job).map(|raw| raw.info)
    }

    /// `jobs/{id}/logs/` of a finished job the hub keeps (its last `last` lines
    /// when given, as Ray's `lines=N` cuts them), read from the raw file; `None`
    /// when the hub does not keep it.
    pub fn finished_log(&self, job: &JobId, last: Option<u64>) -> Option<LogBody> {
        let file = self.held_raw(job)?.file;
        // (the file, the open handle once the first piece was read, done)
        let state = (file, None::<std::fs::File>, false);
        let pieces = futures_util::stream::unfold(state, move |(file, fd, done)| async move {
            if done {
                return None;
            }
            let f = Arc::clone(&file);
            let read = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                let mut fd = match fd {
                    Some(fd) => fd,
                    None => {
                        let mut fd = std::fs::File::open(&f.path)?;
                        let at = match last {
                            Some(n) => last_lines_offset(&mut fd, n)?,
                            None => 0,
                        };
                        fd.seek(SeekFrom::Start(at))?;
                        fd
                    }
                };
                let mut buf = vec![0u8; crate::tail::SLICE];
                let n = fd.read(&mut buf)?;
                buf.truncate(n);
                Ok((fd, buf))
            })
            .await;
            match read {
                Ok(Ok((_, buf))) if buf.is_empty() => None,
                Ok(Ok((fd, buf))) => Some((Ok(Bytes::from(buf)), (file, Some(fd), false))),
                // never a quiet end: that would look like the whole log
                Ok(Err(e)) => Some((
                    Err(BackendError::detail(
                        500,
                        format!("the kept log could not be read: {e}"),
                    )),
                    (file, None, true),
                )),
                Err(e) => Some((
                    Err(BackendError::detail(
                        500,
                        format!("the kept log could not be read: {e}"),
                    )),
                    (file, None, true),
                )),
            }
        });
        Some(LogBody::wrap_stream(pieces))
    }

    /// Appends the hub's gauges (OpenMetrics text): `agent_gateway_upstream_tails`
    /// (open Ray tail streams: shared upstreams and lagging subscribers' own) and
    /// `agent_gateway_hub_subscribers` (tails served by the hub).
    pub fn render_metrics(&self, out: &mut String) {
        let m = self.gauges();
        for (name, help, value) in [
            (
                "agent_gateway_upstream_tails",
                "Ray tail streams open now (shared upstreams and lagging subscribers' own)",
                m.upstream_tails(),
            ),
            (
                "agent_gateway_hub_subscribers",
                "Log tails served by the gateway's per-job hub now",
                m.subscribers(),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}.\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
    }
}

impl Drop for JobHub {
    fn drop(&mut self) {
        // Every upstream is aborted with its entry; lingering logs go with them.
        // Their subscribers then wait, quiet, until their connection ends (the
        // serving layer's shutdown ends it: a close 1001, never an error the log
        // did not have).
        let jobs = std::mem::take(&mut *lock(&self.shared.jobs));
        drop(jobs);
    }
}

impl Entry {
    fn new(job: JobId) -> Self {
        Entry {
            state: Arc::new(JobState::new(job)),
            ready: OnceCell::new(),
            task: Mutex::new(None),
        }
    }
}

/// A subscriber counted in its job's state, for as long as it lives.
#[derive(Debug)]
struct Subscribed {
    state: Arc<JobState>,
    _gauge: GaugeGuard,
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.state
            .subscribers
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl JobHub {
    /// Drops the finished job kept for `job`, if any (a new job was submitted
    /// with its id: the old log must not be served as the new job's). A job
    /// still followed is left alone.
    pub fn forget_finished(&self, job: &JobId) {
        let removed = {
            let mut jobs = lock(&self.shared.jobs);
            let finished = jobs
                .get(job)
                .is_some_and(|e| lock(&e.state.inner).finished_at.is_some());
            if finished {
                jobs.remove(job)
            } else {
                None
            }
        };
        drop(removed);
    }
}

/// Removes `state`'s entry from the map (if it is still the job's).
fn remove_entry(shared: &Shared, state: &Arc<JobState>) {
    let removed = {
        let mut jobs = lock(&shared.jobs);
        match jobs.get(&state.job) {
            Some(e) if Arc::ptr_eq(&e.state, state) => jobs.remove(&state.job),
            _ => None,
        }
    };
    drop(removed);
}

/// Removes the entry of an upstream with no subscriber; false if one came.
fn remove_if_idle(shared: &Shared, state: &Arc<JobState>) -> bool {
    let mut jobs = lock(&shared.jobs);
    if *state.subscribers.borrow() > 0 {
        return false;
    }
    let removed = match jobs.get(&state.job) {
        Some(e) if Arc::ptr_eq(&e.state, state) => jobs.remove(&state.job),
        _ => None,
    };
    drop(jobs);
    drop(removed);
    true
}

/// Drops the finished job kept longest, to make room in the spool; false if
/// there is none.
fn evict_oldest_finished(shared: &Shared) -> bool {
    let removed = {
        let mut jobs = lock(&shared.jobs);
        let oldest = jobs
            .iter()
            .filter_map(|(id, e)| Some((lock(&e.state.inner).finished_at?, id.clone())))
            .min_by_key(|(at, _)| *at)
            .map(|(_, id)| id);
        oldest.and_then(|id| jobs.remove(&id))
    };
    removed.is_some()
}

fn spawn_upstream(shared: &Arc<Shared>, state: Arc<JobState>) -> AbortOnDrop {
    let weak = Arc::downgrade(shared);
    let ray = shared.ray.clone();
    let tail = shared.tail;
    let settings = shared.settings.clone();
    let spool = Arc::clone(&shared.spool);
    let metrics = Arc::clone(&shared.metrics);
    AbortOnDrop(tokio::spawn(async move {
        let live = async {
            let _gauge = GaugeGuard::new(&metrics, |m| &m.upstream_tails);
            let (tx, rx) = mpsc::channel(tail.queue.max(1));
            let mut copy = RawCopy {
                spool: Arc::clone(&spool),
                shared: weak.clone(),
                current: None,
                info: None,
                failed: false,
            };
            let tracker = crate::tail::TailTracker::new(tail.max_message_size);
            let mut writer = SpoolWriter {
                spool: Arc::clone(&spool),
                shared: weak.clone(),
                out: None,
                failed: false,
                lines: 0,
                offset: 0,
            };
            let ((), end) = tokio::join!(
                crate::tail::run_tail_with(&ray, &state.job, tx, tail, tracker, &mut copy),
                pump(rx, &state, &mut writer, &settings)
            );
            (end, copy)
        };
        let (end, copy) = tokio::select! {
            done = live => done,
            () = idle(&weak, &state, settings.grace) => return,
        };
        let End::Complete = end else {
            state.end(end);
            if let Some(shared) = weak.upgrade() {
                remove_entry(&shared, &state);
            }
            return;
        };
        let raw = copy.finish();
        let (lines, lingers) = {
            let mut inner = lock(&state.inner);
            inner.raw.clone_from(&raw);
            // A job lingers only if its spool holds it all: then its memory goes
            // (it is read from the spool), and a lingering job costs disk within
            // the spool's cap, not memory.
            let lingers = inner.spooled == inner.total;
            if lingers {
                inner.ring = VecDeque::new();
                inner.ring_bytes = 0;
                inner.ring_first = inner.total + 1;
            }
            (inner.total, lingers)
        };
        state.end(End::Complete);
        if let (Some(hook), Some(raw)) = (settings.finished_logs.clone(), raw) {
            let log = FinishedLog {
                job: state.job.clone(),
                info: raw.info,
                log: raw.file.path.clone(),
                lines,
            };
            // the file lives until the hook returns, even if the hub goes first
            let file = raw.file;
            let _ = tokio::task::spawn_blocking(move || {
                hook.finished(&log);
                drop(file);
            })
            .await;
        }
        if lingers {
            tokio::time::sleep(settings.linger).await;
        }
        if let Some(shared) = weak.upgrade() {
            remove_entry(&shared, &state);
        }
    }))
}

/// Returns once the upstream has had no subscriber for `grace` and its entry
/// is removed (never while the hub is gone: then the task is aborted anyway).
async fn idle(shared: &Weak<Shared>, state: &Arc<JobState>, grace: Duration) {
    let mut subscribers = state.subscribers.subscribe();
    loop {
        if subscribers.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        tokio::time::sleep(grace).await;
        match shared.upgrade() {
            Some(shared) if remove_if_idle(&shared, state) => return,
            Some(_) => {}
            None => return std::future::pending().await,
        }
    }
}

/// Moves the upstream's lines into the spool and the ring, never waiting for a
/// subscriber; returns how the log ended.
async fn pump(
    mut rx: mpsc::Receiver<RayEvent>,
    state: &JobState,
    writer: &mut SpoolWriter,
    settings: &HubSettings,
) -> End {
    let mut batch: Vec<Arc<str>> = Vec::new();
    loop {
        let Some(first) = rx.recv().await else {
            return End::Error("the log's upstream stopped".into());
        };
        let mut event = Some(first);
        let mut end = None;
        while let Some(e) = event.take() {
            match e {
                RayEvent::Line(line) => batch.push(Arc::from(line)),
                RayEvent::Complete => end = Some(End::Complete),
                RayEvent::Error(m) => end = Some(End::Error(m)),
            }
            if end.is_some() || batch.len() >= BATCH_LINES {
                break;
            }
            event = rx.try_recv().ok();
        }
        if !batch.is_empty() {
            publish(state, writer, &mut batch, settings);
        }
        if let Some(end) = end {
            return end;
        }
    }
}

fn publish(state: &JobState, writer: &mut SpoolWriter, batch: &mut Vec<Arc<str>>, s: &HubSettings) {
    let index = writer.write(batch);
    {
        let mut inner = lock(&state.inner);
        if inner.spool.is_none() {
            inner.spool = writer.out.as_ref().map(|(_, f)| Arc::clone(f));
        }
        inner.index.extend(index);
        inner.spooled = writer.lines;
        for line in batch.drain(..) {
            inner.total += 1;
            inner.ring_bytes += line.len();
            inner.ring.push_back(line);
        }
        while inner.ring.len() > s.ring_lines.max(1)
            || (inner.ring_bytes > s.ring_bytes && !inner.ring.is_empty())
        {
            if let Some(old) = inner.ring.pop_front() {
                inner.ring_bytes -= old.len();
            }
        }
        inner.ring_first = inner.total + 1 - inner.ring.len() as u64;
    }
    state.changed.send_modify(|n| *n += 1);
}

/// The hub's spool dir and its byte budget.
#[derive(Debug)]
struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    used: AtomicU64,
    files: AtomicU64,
}

static SPOOLS: AtomicU64 = AtomicU64::new(0);

impl Spool {
    fn new(parent: Option<&Path>, max_bytes: u64) -> Self {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let n = SPOOLS.fetch_add(1, Ordering::Relaxed);
        Spool {
            dir: parent.join(format!("agent-gateway-spool-{}-{n}", std::process::id())),
            max_bytes,
            used: AtomicU64::new(0),
            files: AtomicU64::new(0),
        }
    }

    /// Takes `n` bytes of the budget; false if they do not fit.
    fn reserve(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.max_bytes)
            })
            .is_ok()
    }

    /// A new file (`kind`: its name's end), removed when the last handle drops.
    fn create(self: &Arc<Self>, kind: &str) -> std::io::Result<(std::fs::File, Arc<SpoolFile>)> {
        // the job's output may be private: the spool is the gateway's user's only
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(&self.dir)?;
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{n}.{kind}"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let handle = SpoolFile {
            path,
            spool: Arc::clone(self),
            bytes: AtomicU64::new(0),
        };
        Ok((file, Arc::new(handle)))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file of the spool; removed (and its bytes given back) when dropped.
#[derive(Debug)]
struct SpoolFile {
    path: PathBuf,
    spool: Arc<Spool>,
    bytes: AtomicU64,
}

impl SpoolFile {
    /// Takes `n` more bytes of the spool's budget for this file, making room by
    /// dropping the oldest finished job if needed.
    fn reserve(&self, n: u64, shared: &Weak<Shared>) -> bool {
        let mut ok = self.spool.reserve(n);
        while !ok {
            match shared.upgrade() {
                Some(s) if evict_oldest_finished(&s) => ok = self.spool.reserve(n),
                _ => break,
            }
        }
        if ok {
            self.bytes.fetch_add(n, Ordering::Relaxed);
        }
        ok
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        self.spool
            .used
            .fetch_sub(self.bytes.load(Ordering::Relaxed), Ordering::AcqRel);
    }
}

/// The upstream's writer of a job's spool of lines: one line (decoded, never
/// holding `\n`) per `\n`-ended entry.
struct SpoolWriter {
    spool: Arc<Spool>,
    shared: Weak<Shared>,
    out: Option<(BufWriter<std::fs::File>, Arc<SpoolFile>)>,
    /// Set once the cap was reached or I/O failed: nothing more is spooled.
    failed: bool,
    /// Lines written and flushed.
    lines: u64,
    offset: u64,
}

impl SpoolWriter {
    /// Appends `batch` (all or none of it counts); returns the index entries of
    /// its lines.
    fn write(&mut self, batch: &[Arc<str>]) -> Vec<u64> {
        if self.failed {
            return Vec::new();
        }
        if self.out.is_none() {
            match self.spool.create("lines") {
                Ok((f, h)) => self.out = Some((BufWriter::new(f), h)),
                Err(_) => {
                    self.failed = true;
                    return Vec::new();
                }
            }
        }
        let Some((out, file)) = self.out.as_mut() else {
            return Vec::new();
        };
        let bytes: u64 = batch.iter().map(|l| l.len() as u64 + 1).sum();
        let mut index = Vec::new();
        let mut written = || -> std::io::Result<bool> {
            if !file.reserve(bytes, &self.shared) {
                return Ok(false);
            }
            let mut at = self.offset;
            for (i, line) in batch.iter().enumerate() {
                if (self.lines + i as u64) % INDEX_STRIDE == 0 {
                    index.push(at);
                }
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                at += line.len() as u64 + 1;
            }
            out.flush()?;
            Ok(true)
        };
        match written() {
            Ok(true) => {
                self.lines += batch.len() as u64;
                self.offset += bytes;
                index
            }
            _ => {
                // the file stays (subscribers may read its first lines)
                self.failed = true;
                Vec::new()
            }
        }
    }
}

/// The upstream's copy of the final log's raw bytes.
struct RawCopy {
    spool: Arc<Spool>,
    shared: Weak<Shared>,
    current: Option<(BufWriter<std::fs::File>, Arc<SpoolFile>)>,
    info: Option<Job>,
    failed: bool,
}

impl FinalLogCopy for RawCopy {
    fn start(&mut self, job: &Job) {
        // a retried read starts a new file (the old one is removed with its handle)
        self.current = None;
        self.info = Some(job.clone());
        match self.spool.create("log") {
            Ok((f, h)) => {
                self.current = Some((BufWriter::new(f), h));
                self.failed = false;
            }
            Err(_) => self.failed = true,
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        let ok = match self.current.as_mut() {
            Some((out, file)) => {
                file.reserve(bytes.len() as u64, &self.shared) && out.write_all(bytes).is_ok()
            }
            None => false,
        };
        if !ok {
            self.failed = true;
            self.current = None;
        }
    }
}

impl RawCopy {
    /// The complete copy, if every byte was kept.
    fn finish(mut self) -> Option<RawLog> {
        if self.failed {
            return None;
        }
        let (mut out, file) = self.current.take()?;
        out.flush().ok()?;
        Some(RawLog {
            info: self.info.take()?,
            file,
        })
    }
}

/// One tail served by the hub.
struct Subscriber {
    shared: Arc<Shared>,
    state: Arc<JobState>,
    changed: watch::Receiver<u64>,
    /// The number of the next line to send.
    next: u64,
    ready: VecDeque<Arc<str>>,
    /// A private Ray tail, once the spool could not serve this subscriber.
    private: Option<TailHandle>,
    ended: bool,
    _subscribed: Subscribed,
}

/// What a subscriber does next.
enum Step {
    Lines(Vec<Arc<str>>),
    Spool {
        file: Arc<SpoolFile>,
        offset: u64,
        skip: u64,
        count: u64,
    },
    Private,
    End(End),
    Wait,
}

impl Subscriber {
    async fn next_event(&mut self) -> Option<TailEvent> {
        loop {
            if let Some(private) = &mut self.private {
                return private.next().await.map(shown);
            }
            if let Some(message) = self.message() {
                return Some(TailEvent::Log(message));
            }
            if self.ended {
                return None;
            }
            self.changed.borrow_and_update();
            match self.step() {
                Step::Lines(lines) => {
                    self.next += lines.len() as u64;
                    self.ready.extend(lines);
                }
                Step::Spool {
                    file,
                    offset,
                    skip,
                    count,
                } => {
                    let read = tokio::task::spawn_blocking(move || {
                        read_spool(&file.path, offset, skip, count)
                    })
                    .await;
                    match read {
                        Ok(Ok(lines)) if !lines.is_empty() => {
                            self.next += lines.len() as u64;
                            self.ready.extend(lines);
                        }
                        _ => self.go_private(),
                    }
                }
                Step::Private => self.go_private(),
                Step::End(end) => {
                    self.ended = true;
                    return Some(match end {
                        End::Complete => TailEvent::Complete,
                        End::Error(m) => shown(RayEvent::Error(m)),
                    });
                }
                Step::Wait => {
                    // the state's sender lives in `self.state`: this never fails
                    let _ = self.changed.changed().await;
                }
            }
        }
    }

    /// The next message: the ready lines, several to a message (`a\nb\n`, each
    /// `\n`-ended, numbered from the first: the spec's "Line numbers and
    /// cursors") up to [`MESSAGE_BYTES`], which spares a JSON event per line; a
    /// line alone as it is (an empty or oversized one as an empty message).
    fn message(&mut self) -> Option<String> {
        let first = self.ready.pop_front()?;
        // (a line ending in `\r` goes alone: a client strips a `\r` before `\n`)
        let fits =
            |len: usize, line: &str| len + line.len() < MESSAGE_BYTES && !line.ends_with('\r');
        if first.ends_with('\r') {
            return Some(first.as_ref().to_owned());
        }
        if self
            .ready
            .front()
            .is_none_or(|next| !fits(first.len() + 1, next))
        {
            return Some(first.as_ref().to_owned());
        }
        let mut message = String::with_capacity(MESSAGE_BYTES);
        message.push_str(&first);
        message.push('\n');
        while let Some(next) = self.ready.front() {
            if !fits(message.len(), next) {
                break;
            }
            message.push_str(next);
            message.push('\n');
            self.ready.pop_front();
        }
        Some(message)
    }

    fn step(&self) -> Step {
        let inner = lock(&self.state.inner);
        if self.next < inner.ring_first {
            return match &inner.spool {
                Some(file) if self.next <= inner.spooled => {
                    let slot = (self.next - 1) / INDEX_STRIDE;
                    match inner.index.get(slot as usize) {
                        Some(&offset) => Step::Spool {
                            file: Arc::clone(file),
                            offset,
                            skip: (self.next - 1) % INDEX_STRIDE,
                            count: (inner.spooled + 1 - self.next).min(BATCH_LINES as u64),
                        },
                        None => Step::Private,
                    }
                }
                _ => Step::Private,
            };
        }
        if self.next <= inner.total {
            let from = (self.next - inner.ring_first) as usize;
            let mut bytes = 0;
            let lines: Vec<Arc<str>> = inner
                .ring
                .iter()
                .skip(from)
                .take(BATCH_LINES)
                .take_while(|l| {
                    let first = bytes == 0;
                    bytes += l.len() + 1;
                    first || bytes <= BATCH_BYTES
                })
                .cloned()
                .collect();
            return Step::Lines(lines);
        }
        match &inner.end {
            Some(end) => Step::End(end.clone()),
            None => Step::Wait,
        }
    }

    /// Carries on with a tail of its own from Ray, at its line.
    fn go_private(&mut self) {
        let gauge = GaugeGuard::new(&self.shared.metrics, |m| &m.upstream_tails);
        self.private = Some(spawn_tail_after(
            self.shared.ray.clone(),
            self.state.job.clone(),
            self.shared.tail,
            self.next.saturating_sub(1),
            gauge,
        ));
    }
}

/// A tail event on its way out: an error's message is cleaned as every answer is.
fn shown(event: RayEvent) -> TailEvent {
    match event {
        RayEvent::Line(line) => TailEvent::Log(line),
        RayEvent::Complete => TailEvent::Complete,
        RayEvent::Error(m) => TailEvent::Error(crate::redact::text(&m).into_owned()),
    }
}

/// `count` lines of a spool file, from the entry at `offset` after skipping `skip`.
fn read_spool(path: &Path, offset: u64, skip: u64, count: u64) -> std::io::Result<Vec<Arc<str>>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut lines = Vec::new();
    let mut bytes = 0;
    for i in 0..skip + count {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        if i < skip {
            continue;
        }
        buf.pop();
        bytes += buf.len() + 1;
        lines.push(Arc::from(String::from_utf8_lossy(&buf).as_ref()));
        if bytes > BATCH_BYTES {
            break;
        }
    }
    Ok(lines)
}

/// The offset where a file's last `n` lines start, as Ray's `lines=N` cuts them
/// (a final newline ends the last line; `n = 0`: the end), read from the end.
fn last_lines_offset(file: &mut std::fs::File, n: u64) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    let mut end = len;
    // a last `\n` ends the last line: it is not a line break to count
    if end > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(end - 1))?;
        file.read_exact(&mut last)?;
        if last[0] == b'\n' {
            end -= 1;
        }
    }
    let mut seen = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let piece = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(piece)?;
        for (i, &b) in piece.iter().enumerate().rev() {
            if b == b'\n' {
                seen += 1;
                if seen == n {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_offsets_cut_as_ray_does() {
        let dir = std::env::temp_dir().join(format!("hub-last-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        for (log, n, want) in [
            ("a\nb\nc\n", 1, "c\n"),
            ("a\nb\nc\n", 2, "b\nc\n"),
            ("a\nb\nc", 1, "c"),
            ("a\nb\nc", 9, "a\nb\nc"),
            ("a\nb\n", 0, ""),
            ("", 3, ""),
            ("\n\n", 1, "\n"),
        ] {
            std::fs::write(&path, log).unwrap();
            let mut f = std::fs::File::open(&path).unwrap();
            let at = last_lines_offset(&mut f, n).unwrap() as usize;
            assert_eq!(&log[at..], want, "{log:?} {n}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_spool_budget_is_kept() {
        let spool = Spool::new(None, 10);
        assert!(spool.reserve(6));
        assert!(!spool.reserve(5));
        assert!(spool.reserve(4));
    }
}
