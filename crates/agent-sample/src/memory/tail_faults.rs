//! The tail faults inside an in-memory tail (the `faults` feature): what a test arms
//! with [`crate::TailFault`] to make a tail break the protocol on purpose.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::fault::TailFaultKind;
use crate::memory::tail::Tail;
use crate::serve::{event_json, TailEvent, TailProtocol, TailStream};

/// The size of each piece of an endless line.
const ENDLESS_CHUNK: usize = 16 * 1024;

/// The faults of one tail and their state.
pub(crate) struct Faults {
    /// The faults, with whether their one-off action happened.
    kinds: Vec<(TailFaultKind, bool)>,
    /// Events delivered.
    events: u64,
    /// In an endless line: whether its first piece is still to go.
    endless: Option<bool>,
}

/// A scripted tail, when `faults` hold one: it replaces the job's log altogether.
pub(crate) fn script(faults: &[TailFaultKind], protocol: TailProtocol) -> Option<TailStream> {
    let (pieces, complete, fragment_size) = faults.iter().find_map(|k| match k {
        TailFaultKind::Script {
            pieces,
            complete,
            fragment_size,
        } => Some((pieces.clone(), *complete, *fragment_size)),
        _ => None,
    })?;
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
    Some(Box::pin(futures_util::stream::iter(events).then(
        |ev| async {
            tokio::task::yield_now().await;
            ev
        },
    )))
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

impl Faults {
    pub(crate) fn new(kinds: Vec<TailFaultKind>) -> Self {
        Faults {
            kinds: kinds.into_iter().map(|k| (k, false)).collect(),
            events: 0,
            endless: None,
        }
    }

    fn has(&self, kind: fn(&TailFaultKind) -> bool) -> bool {
        self.kinds.iter().any(|(k, _)| kind(k))
    }

    /// The next piece of an endless line, once one has begun.
    pub(crate) fn endless_piece(&mut self, protocol: TailProtocol) -> Option<TailEvent> {
        let first = self.endless?;
        self.endless = Some(false);
        let payload = Bytes::from(vec![b'x'; ENDLESS_CHUNK]);
        Some(match protocol {
            TailProtocol::Http => TailEvent::Raw(payload),
            TailProtocol::WebSocket => TailEvent::Fragment {
                payload,
                first,
                last: false,
            },
        })
    }

    /// Counts an event out, turning it into an abort where `DropAfter` says so.
    pub(crate) fn emit(&mut self, ev: TailEvent) -> TailEvent {
        let drop_at = self.kinds.iter().find_map(|(k, _)| match k {
            TailFaultKind::DropAfter { events } => Some(*events),
            _ => None,
        });
        if drop_at.is_some_and(|n| self.events >= n) {
            return TailEvent::Abort;
        }
        self.events += 1;
        ev
    }

    /// Lines that may go before the next one-off fault is due, at line `next`.
    pub(crate) fn lines_to_checkpoint(&self, next: u64) -> u64 {
        self.kinds
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
            .filter(|n| *n > next)
            .map(|n| n - next)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// A log event of `lines` (`text` as the protocol would send them) as the faults
    /// reshape it: bare lines, or lines that are not JSON.
    pub(crate) fn reshaped(
        &self,
        protocol: TailProtocol,
        lines: &[String],
        text: String,
    ) -> TailEvent {
        let bare = self.has(|k| matches!(k, TailFaultKind::BareLines));
        let not_json = self.has(|k| matches!(k, TailFaultKind::NotJson));
        match protocol {
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

impl Tail {
    /// Fires the one-off fault due now, if any: true when it did something.
    pub(crate) async fn checkpoint(&mut self) -> bool {
        let next = self.next;
        let Some(i) = self.faults.kinds.iter().position(|(k, fired)| {
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
        self.faults.kinds[i].1 = true;
        match self.faults.kinds[i].0.clone() {
            TailFaultKind::ErrorAfter { message, .. } => {
                self.queue.push_back(TailEvent::Error(message));
            }
            TailFaultKind::Oversized {
                bytes,
                fragment_size,
                ..
            } => self.oversized(bytes, fragment_size),
            TailFaultKind::EndlessLine { .. } => self.faults.endless = Some(true),
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
}
