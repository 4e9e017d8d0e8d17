//! A log tail of an in-memory job: the lines from the first on, following new ones as
//! they are written, then `complete` once the job ended; with the job's tail faults.
//!
//! The tail reads the job's log by index when its consumer asks for the next event,
//! so a slow client costs the server no buffer.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::fault::TailFaultKind;
use crate::memory::job::JobEntry;
use crate::serve::{event_json, TailEvent, TailProtocol, TailStream};

/// The size of each piece of an endless line.
const ENDLESS_CHUNK: usize = 16 * 1024;

struct Tail {
    job: Arc<JobEntry>,
    changes: watch::Receiver<()>,
    protocol: TailProtocol,
    /// Faults of this tail, with whether their one-off action happened.
    faults: Vec<(TailFaultKind, bool)>,
    batch: u64,
    /// Lines delivered (the index of the next line).
    next: u64,
    /// Events delivered.
    events: u64,
    queue: VecDeque<TailEvent>,
    /// In an endless line: whether its first piece is still to go.
    endless: Option<bool>,
    done: bool,
}

/// The tail of `job` over `protocol`, with `faults` applied.
pub(crate) fn tail(
    job: Arc<JobEntry>,
    protocol: TailProtocol,
    faults: Vec<TailFaultKind>,
    batch: usize,
) -> TailStream {
    // A scripted tail replaces the job's log altogether.
    let script = faults.iter().find_map(|k| match k {
        TailFaultKind::Script {
            pieces,
            complete,
            fragment_size,
        } => Some((pieces.clone(), *complete, *fragment_size)),
        _ => None,
    });
    if let Some((pieces, complete, fragment_size)) = script {
        let end = if complete {
            TailEvent::Complete
        } else {
            TailEvent::Abort
        };
        let events: Vec<TailEvent> = match fragment_size {
            Some(size) if protocol == TailProtocol::WebSocket => pieces
                .into_iter()
                .flat_map(|piece| fragments(piece, size))
                .collect(),
            _ => pieces.into_iter().map(TailEvent::Raw).collect(),
        };
        let events = events.into_iter().chain([end]);
        // A yield between pieces lets each go out on its own write, so that the
        // client reads them with the script's chunking more often than not.
        return Box::pin(futures_util::stream::iter(events).then(|ev| async {
            tokio::task::yield_now().await;
            ev
        }));
    }
    let state = Tail {
        changes: job.subscribe(),
        job,
        protocol,
        faults: faults.into_iter().map(|k| (k, false)).collect(),
        batch: batch.max(1) as u64,
        next: 0,
        events: 0,
        queue: VecDeque::new(),
        endless: None,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut t| async move {
        let ev = t.next_event().await?;
        Some((ev, t))
    }))
}

/// One WebSocket message as frames of `size` bytes (one empty frame for an empty
/// message).
fn fragments(message: Bytes, size: usize) -> Vec<TailEvent> {
    let size = size.max(1);
    let count = message.len().div_ceil(size).max(1);
    (0..count)
        .map(|i| TailEvent::Fragment {
            payload: message
                .slice((i * size).min(message.len())..((i + 1) * size).min(message.len())),
            first: i == 0,
            last: i + 1 == count,
        })
        .collect()
}

fn sse(payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl Tail {
    fn has(&self, kind: fn(&TailFaultKind) -> bool) -> bool {
        self.faults.iter().any(|(k, _)| kind(k))
    }

    async fn next_event(&mut self) -> Option<TailEvent> {
        loop {
            if self.done {
                return None;
            }
            if let Some(ev) = self.queue.pop_front() {
                return Some(self.emit(ev));
            }
            if let Some(first) = self.endless {
                self.endless = Some(false);
                let payload = Bytes::from(vec![b'x'; ENDLESS_CHUNK]);
                let ev = match self.protocol {
                    TailProtocol::Http => TailEvent::Raw(payload),
                    TailProtocol::WebSocket => TailEvent::Fragment {
                        payload,
                        first,
                        last: false,
                    },
                };
                return Some(self.emit(ev));
            }
            if self.checkpoint().await {
                continue;
            }
            self.changes.borrow_and_update();
            let limit = self.batch.min(self.lines_to_checkpoint());
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
                self.queue.push_back(TailEvent::Abort);
            }
        }
    }

    /// Counts an event out, turning it into an abort where `DropAfter` says so.
    fn emit(&mut self, ev: TailEvent) -> TailEvent {
        let drop_at = self.faults.iter().find_map(|(k, _)| match k {
            TailFaultKind::DropAfter { events } => Some(*events),
            _ => None,
        });
        if drop_at.is_some_and(|n| self.events >= n) {
            self.done = true;
            return TailEvent::Abort;
        }
        self.events += 1;
        if matches!(
            ev,
            TailEvent::Complete | TailEvent::Error(_) | TailEvent::Abort
        ) {
            self.done = true;
        }
        ev
    }

    /// Lines that may go before the next one-off fault is due.
    fn lines_to_checkpoint(&self) -> u64 {
        self.faults
            .iter()
            .filter(|(_, fired)| !fired)
            .filter_map(|(k, _)| match k {
                TailFaultKind::ErrorAfter { lines: n, .. }
                | TailFaultKind::Oversized { after_lines: n, .. }
                | TailFaultKind::EndlessLine { after_lines: n }
                | TailFaultKind::InvalidUtf8 { after_lines: n }
                | TailFaultKind::SilentFor { after_lines: n, .. } => Some(*n),
                _ => None,
            })
            .filter(|n| *n > self.next)
            .map(|n| n - self.next)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Fires the one-off fault due now, if any: true when it did something.
    async fn checkpoint(&mut self) -> bool {
        let next = self.next;
        let Some(i) = self.faults.iter().position(|(k, fired)| {
            !fired
                && match k {
                    TailFaultKind::ErrorAfter { lines: n, .. }
                    | TailFaultKind::Oversized { after_lines: n, .. }
                    | TailFaultKind::EndlessLine { after_lines: n }
                    | TailFaultKind::InvalidUtf8 { after_lines: n }
                    | TailFaultKind::SilentFor { after_lines: n, .. } => *n <= next,
                    _ => false,
                }
        }) else {
            return false;
        };
        self.faults[i].1 = true;
        match self.faults[i].0.clone() {
            TailFaultKind::ErrorAfter { message, .. } => {
                self.queue.push_back(TailEvent::Error(message));
            }
            TailFaultKind::Oversized {
                bytes,
                fragment_size,
                ..
            } => self.oversized(bytes, fragment_size),
            TailFaultKind::EndlessLine { .. } => self.endless = Some(true),
            TailFaultKind::InvalidUtf8 { .. } => {
                let payload: &[u8] = b"{\"type\":\"log\",\"message\":\"invalid \xff\xfe utf-8\"}";
                self.queue.push_back(TailEvent::Raw(match self.protocol {
                    TailProtocol::WebSocket => Bytes::from_static(payload),
                    TailProtocol::Http => sse(payload),
                }));
            }
            TailFaultKind::SilentFor { duration, .. } => tokio::time::sleep(duration).await,
            TailFaultKind::DropAfter { .. }
            | TailFaultKind::NotJson
            | TailFaultKind::BareLines
            | TailFaultKind::Script { .. } => {}
        }
        true
    }

    fn oversized(&mut self, bytes: usize, fragment_size: Option<usize>) {
        let message = "x".repeat(bytes);
        let Some(size) = fragment_size else {
            self.queue.push_back(TailEvent::Log(message));
            return;
        };
        let json = event_json(&TailEvent::Log(message)).unwrap_or_default();
        let whole = match self.protocol {
            TailProtocol::WebSocket => Bytes::from(json),
            TailProtocol::Http => sse(&json),
        };
        self.queue.extend(fragments(whole, size));
    }

    fn log_event(&self, lines: Vec<String>) -> TailEvent {
        let bare = self.has(|k| matches!(k, TailFaultKind::BareLines));
        let not_json = self.has(|k| matches!(k, TailFaultKind::NotJson));
        let text = if self.batch == 1 {
            lines.concat()
        } else {
            lines.iter().map(|l| format!("{l}\n")).collect()
        };
        match self.protocol {
            TailProtocol::WebSocket if bare || not_json => TailEvent::Raw(Bytes::from(text)),
            TailProtocol::Http if bare => TailEvent::Raw(Bytes::from(
                lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
            )),
            TailProtocol::Http if not_json => TailEvent::Raw(Bytes::from(
                lines
                    .iter()
                    .map(|l| format!("data: {l}\n\n"))
                    .collect::<String>(),
            )),
            _ => TailEvent::Log(text),
        }
    }
}
