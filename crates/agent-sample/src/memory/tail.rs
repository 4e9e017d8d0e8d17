//! A log tail of an in-memory job: the lines from the first on, following new ones as
//! they are written, then `complete` once the job ended; with the `faults` feature,
//! with the job's tail faults (`tail_faults.rs`).
//!
//! The tail reads the job's log by index when its consumer asks for the next event,
//! so a slow client costs the server no buffer.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::watch;

#[cfg(feature = "faults")]
use crate::fault::TailFaultKind;
use crate::memory::job::JobEntry;
#[cfg(feature = "faults")]
use crate::memory::tail_faults::Faults;
#[cfg(feature = "faults")]
use crate::serve::TailProtocol;
use crate::serve::{TailAt, TailEvent, TailStream};

pub(crate) struct Tail {
    job: Arc<JobEntry>,
    changes: watch::Receiver<()>,
    #[cfg(feature = "faults")]
    pub(crate) protocol: TailProtocol,
    pub(crate) batch: u64,
    /// Lines delivered (the index of the next line).
    pub(crate) next: u64,
    pub(crate) queue: VecDeque<TailEvent>,
    done: bool,
    /// The faults of this tail.
    #[cfg(feature = "faults")]
    pub(crate) faults: Faults,
}

/// The tail of `job` over `protocol` from line index `from` (0-based), with `faults`
/// applied.
#[cfg(feature = "faults")]
pub(crate) fn tail(
    job: Arc<JobEntry>,
    from: u64,
    protocol: TailProtocol,
    faults: Vec<TailFaultKind>,
    batch: usize,
) -> TailAt {
    // A scripted tail replaces the job's log altogether: it starts at its line 1
    if let Some(script) = crate::memory::tail_faults::script(&faults, protocol) {
        return TailAt::new(script, Some(1), from.saturating_add(1));
    }
    // Faults that put events of their own into a tail (bytes sent as is, a line
    // the log does not hold) make its events differ from the log's lines: such a
    // tail is served as a server that does not number serves it, unnumbered from
    // line 1 whatever the start asked (a client resumes it by the digest replay).
    if faults.iter().any(TailFaultKind::adds_events) {
        let state = Tail::new(job, 0, batch, protocol, Faults::new(faults));
        return TailAt::new(stream(state), None, 1);
    }
    at(Tail::new(job, from, batch, protocol, Faults::new(faults)))
}

/// The tail of `job` from line index `from` (0-based; the same events over both
/// protocols).
#[cfg(not(feature = "faults"))]
pub(crate) fn tail(job: Arc<JobEntry>, from: u64, batch: usize) -> TailAt {
    at(Tail::new(job, from, batch))
}

/// The tail `state` starts, numbered from its first line: the log is read by index
/// from there, so the lines before it are never even read.
fn at(state: Tail) -> TailAt {
    let first = state.next.saturating_add(1);
    TailAt::new(stream(state), Some(first), first)
}

fn stream(state: Tail) -> TailStream {
    Box::pin(futures_util::stream::unfold(state, |mut t| async move {
        let ev = t.next_event().await?;
        Some((ev, t))
    }))
}

impl Tail {
    fn new(
        job: Arc<JobEntry>,
        from: u64,
        batch: usize,
        #[cfg(feature = "faults")] protocol: TailProtocol,
        #[cfg(feature = "faults")] faults: Faults,
    ) -> Self {
        Tail {
            changes: job.subscribe(),
            job,
            #[cfg(feature = "faults")]
            protocol,
            batch: batch.max(1) as u64,
            next: from,
            queue: VecDeque::new(),
            done: false,
            #[cfg(feature = "faults")]
            faults,
        }
    }

    async fn next_event(&mut self) -> Option<TailEvent> {
        loop {
            if self.done {
                return None;
            }
            if let Some(ev) = self.queue.pop_front() {
                return Some(self.emit(ev));
            }
            #[cfg(feature = "faults")]
            {
                if let Some(ev) = self.faults.endless_piece(self.protocol) {
                    return Some(self.emit(ev));
                }
                if self.checkpoint().await {
                    continue;
                }
            }
            self.changes.borrow_and_update();
            #[cfg(feature = "faults")]
            let limit = self.batch.min(self.faults.lines_to_checkpoint(self.next));
            #[cfg(not(feature = "faults"))]
            let limit = self.batch;
            let (lines, terminal) = self
                .job
                .with(|s| (s.log.lines(self.next, limit), s.status.is_terminal()));
            if !lines.is_empty() {
                self.next += lines.len() as u64;
                let ev = self.log_event(lines);
                self.queue.push_back(ev);
                continue;
            }
            if terminal {
                self.queue.push_back(TailEvent::Complete);
                continue;
            }
            if self.changes.changed().await.is_err() {
                // the job is gone (the server is going away): the end without a final
                // event, which drops the connection
                self.done = true;
            }
        }
    }

    /// Counts an event out: a final event ends the tail (and, with the faults, an
    /// event past `DropAfter` becomes an abort).
    fn emit(&mut self, ev: TailEvent) -> TailEvent {
        #[cfg(feature = "faults")]
        let ev = self.faults.emit(ev);
        if matches!(ev, TailEvent::Complete | TailEvent::Error(_)) {
            self.done = true;
        }
        #[cfg(feature = "faults")]
        if matches!(ev, TailEvent::Abort) {
            self.done = true;
        }
        ev
    }

    fn log_event(&self, lines: Vec<String>) -> TailEvent {
        let text = if self.batch == 1 {
            lines.concat()
        } else {
            lines.iter().map(|l| format!("{l}\n")).collect()
        };
        #[cfg(feature = "faults")]
        return self.faults.reshaped(self.protocol, &lines, text);
        #[cfg(not(feature = "faults"))]
        TailEvent::Log(text)
    }
}
