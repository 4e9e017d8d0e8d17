//! Tail faults (the `faults` feature): how the in-memory tails of a job misbehave
//! on demand: an `error` event after N lines, a dropped connection after N events,
//! frames that are not JSON, an oversized message (also in fragments), an endless
//! line, invalid UTF-8, a long silence, or a whole scripted tail (exact WebSocket
//! frames or HTTP chunks, for property tests). agent-testkit enables the feature and
//! re-exports these; the sample server of agentctl and the Python package leaves it
//! off, so that they ship no way to break the protocol.

use std::time::Duration;

use bytes::Bytes;

use agent_server::TailProtocol;

/// What a [`TailFault`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum TailFaultKind {
    /// After `lines` lines: `{"type":"error","message":MESSAGE}`, then the end (close 1011).
    ErrorAfter {
        /// Lines sent first.
        lines: u64,
        /// The error's message.
        message: String,
    },
    /// After `events` events, drop the connection: no close frame, no last chunk.
    DropAfter {
        /// Events sent first.
        events: u64,
    },
    /// Log lines are sent as plain text, not JSON: a WebSocket text frame `LINE`, an
    /// HTTP event `data: LINE`.
    NotJson,
    /// HTTP: log lines as bare lines `LINE\n` (no `data:`); WebSocket: like [`TailFaultKind::NotJson`].
    BareLines,
    /// After `after_lines` lines, one log message of `bytes` bytes (of `x`), then the
    /// tail goes on. With `fragment_size`, the WebSocket message is sent in frames of
    /// that many bytes (a text frame, then continuation frames) and the HTTP event in
    /// chunks of that size.
    Oversized {
        /// Lines sent first.
        after_lines: u64,
        /// The message's length.
        bytes: usize,
        /// Frame (or chunk) size, if fragmented.
        fragment_size: Option<usize>,
    },
    /// After `after_lines` lines, an endless line of `x` without a newline: the HTTP
    /// body never ends; on a WebSocket, an endless fragmented message (continuation
    /// frames without FIN). Stops when the client hangs up.
    EndlessLine {
        /// Lines sent first.
        after_lines: u64,
    },
    /// After `after_lines` lines, one log event whose bytes are not valid UTF-8: a
    /// WebSocket text frame, or an HTTP `data:` line, holding `\xff\xfe`.
    InvalidUtf8 {
        /// Lines sent first.
        after_lines: u64,
    },
    /// After `after_lines` lines, send nothing for `duration` without closing (pings
    /// are still answered), then go on.
    SilentFor {
        /// Lines sent first.
        after_lines: u64,
        /// How long to stay silent.
        duration: Duration,
    },
    /// The whole tail, scripted: the job's log is not read. Each piece is sent as is,
    /// in order: on a WebSocket one text frame per piece (not checked for UTF-8), over
    /// HTTP one body chunk per piece (no framing added). Then, with `complete`, a
    /// `{"type":"complete"}` event and a clean end (close 1000, or the last chunk);
    /// without, the connection is dropped (no close frame, no last chunk).
    Script {
        /// The frames (WebSocket) or chunks (HTTP), in order.
        pieces: Vec<Bytes>,
        /// Whether the tail ends with `complete` (else it is dropped).
        complete: bool,
        /// With [`TailFault::fragmented`]: each WebSocket piece is one message sent
        /// in frames of this many bytes (a text frame, then continuations).
        fragment_size: Option<usize>,
    },
}

impl TailFaultKind {
    /// Whether the fault puts events of its own into a tail (bytes sent as is, or
    /// a line the job's log does not hold): such a tail's events are not the log's
    /// lines, and it is not numbered.
    pub fn adds_events(&self) -> bool {
        matches!(
            self,
            TailFaultKind::NotJson
                | TailFaultKind::BareLines
                | TailFaultKind::Oversized { .. }
                | TailFaultKind::EndlessLine { .. }
                | TailFaultKind::InvalidUtf8 { .. }
        )
    }
}

/// A fault in the log tails of a job (or of every job): see [`TailFaultKind`].
///
/// ```
/// use agent_sample::TailFault;
/// use std::time::Duration;
///
/// let f = TailFault::error_after(3, "worker died").websocket_only().times(1);
/// let g = TailFault::oversized(0, 64 * 1024).fragmented(1024);
/// let h = TailFault::silent_for(2, Duration::from_secs(5));
/// # let _ = (f, g, h);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TailFault {
    pub(crate) kind: TailFaultKind,
    pub(crate) protocol: Option<TailProtocol>,
    pub(crate) times: Option<u32>,
}

impl TailFault {
    /// A fault of this kind, for both protocols, every time.
    pub fn new(kind: TailFaultKind) -> Self {
        TailFault {
            kind,
            protocol: None,
            times: None,
        }
    }

    /// See [`TailFaultKind::ErrorAfter`].
    pub fn error_after(lines: u64, message: impl Into<String>) -> Self {
        Self::new(TailFaultKind::ErrorAfter {
            lines,
            message: message.into(),
        })
    }

    /// See [`TailFaultKind::DropAfter`].
    pub fn drop_after(events: u64) -> Self {
        Self::new(TailFaultKind::DropAfter { events })
    }

    /// See [`TailFaultKind::NotJson`].
    pub fn not_json() -> Self {
        Self::new(TailFaultKind::NotJson)
    }

    /// See [`TailFaultKind::BareLines`].
    pub fn bare_lines() -> Self {
        Self::new(TailFaultKind::BareLines)
    }

    /// See [`TailFaultKind::Oversized`] (one message, one frame).
    pub fn oversized(after_lines: u64, bytes: usize) -> Self {
        Self::new(TailFaultKind::Oversized {
            after_lines,
            bytes,
            fragment_size: None,
        })
    }

    /// Sends an [`TailFault::oversized`] message, or each WebSocket message of a
    /// [`TailFault::script`], in pieces of `fragment_size` bytes.
    pub fn fragmented(mut self, fragment_size: usize) -> Self {
        if let TailFaultKind::Oversized {
            fragment_size: f, ..
        }
        | TailFaultKind::Script {
            fragment_size: f, ..
        } = &mut self.kind
        {
            *f = Some(fragment_size.max(1));
        }
        self
    }

    /// See [`TailFaultKind::EndlessLine`].
    pub fn endless_line(after_lines: u64) -> Self {
        Self::new(TailFaultKind::EndlessLine { after_lines })
    }

    /// See [`TailFaultKind::InvalidUtf8`].
    pub fn invalid_utf8(after_lines: u64) -> Self {
        Self::new(TailFaultKind::InvalidUtf8 { after_lines })
    }

    /// See [`TailFaultKind::SilentFor`].
    pub fn silent_for(after_lines: u64, duration: Duration) -> Self {
        Self::new(TailFaultKind::SilentFor {
            after_lines,
            duration,
        })
    }

    /// See [`TailFaultKind::Script`]: a tail of exactly these frames or chunks. Meant
    /// for one protocol ([`TailFault::websocket_only`], [`TailFault::http_only`]):
    /// frames and chunks do not mean the same.
    ///
    /// ```
    /// use agent_sample::TailFault;
    ///
    /// // A WebSocket that sends a batch frame, then breaks; an HTTP stream that
    /// // replays the log one line per chunk and completes.
    /// let ws = TailFault::script(["tick\ntick\n"], false).websocket_only().times(1);
    /// let http = TailFault::script(["tick\n", "tick\n", "done\n"], true).http_only();
    /// # let _ = (ws, http);
    /// ```
    pub fn script<I, P>(pieces: I, complete: bool) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Bytes>,
    {
        Self::new(TailFaultKind::Script {
            pieces: pieces.into_iter().map(Into::into).collect(),
            complete,
            fragment_size: None,
        })
    }

    /// Applies to WebSocket tails only.
    pub fn websocket_only(mut self) -> Self {
        self.protocol = Some(TailProtocol::WebSocket);
        self
    }

    /// Applies to HTTP stream tails only.
    pub fn http_only(mut self) -> Self {
        self.protocol = Some(TailProtocol::Http);
        self
    }

    /// Applies to the first `n` tails only (of the job, or of all jobs for a global fault).
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// The fault's kind.
    pub fn kind(&self) -> &TailFaultKind {
        &self.kind
    }
}

/// A fault and how often it may still fire (agent-testkit's HTTP faults use it too).
#[derive(Debug, Clone)]
pub struct Armed<F> {
    /// The fault.
    pub fault: F,
    /// Uses left (`None`: without end).
    pub remaining: Option<u32>,
}

impl<F> Armed<F> {
    /// `fault`, for `times` uses (`None`: without end).
    pub fn new(fault: F, times: Option<u32>) -> Self {
        Armed {
            fault,
            remaining: times,
        }
    }

    /// Spends one use; false when it has none left.
    pub fn fire(&mut self) -> bool {
        match &mut self.remaining {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }
}

/// Picks the tail faults of one tail over `protocol` from `armed`, spending their uses.
pub(crate) fn pick_tail_faults(
    armed: &mut [Armed<TailFault>],
    protocol: TailProtocol,
) -> Vec<TailFaultKind> {
    armed
        .iter_mut()
        .filter(|a| a.fault.protocol.is_none_or(|p| p == protocol))
        .filter_map(|a| a.fire().then(|| a.fault.kind.clone()))
        .collect()
}
