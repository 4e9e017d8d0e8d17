//! Sans-IO decoding of the agent's log tail, the same for both protocols and both
//! clients: no sockets, no runtime, just bytes in and log lines out.
//!
//! - [`LineDecoder`]: an HTTP body in chunks of any size to whole lines (`\n` or
//!   `\r\n`), lossy UTF-8, bounded memory (an over-long line is skipped while it
//!   streams);
//! - [`EventStreamParser`]: an HTTP body as plain lines or as server-sent events
//!   (the WHATWG `text/event-stream` rules: comments, fields, multi-line `data:`,
//!   a BOM, CR line ends), reusable on its own;
//! - [`decode_event`]: what a WebSocket message or a server-sent event means
//!   ([`Event`]): a log line (or several), an error, the end of the log, or nothing;
//! - [`LimitTracker`] and [`StreamCounters`]: [`StreamLimits`](agent_proto::StreamLimits)
//!   applied the same way to both protocols, and everything skipped counted: sizes
//!   are measured per delivered line, after a message is split;
//! - [`TailDecoder`]: all of the above together, what the clients run a tail through.
//!
//! ```
//! use agent_proto::{ClientError, StreamLimits};
//! use agent_stream::{TailDecoder, TailItem};
//!
//! // An HTTP tail body, arriving in arbitrary pieces.
//! let body: &[&[u8]] = &[
//!     b"data: {\"type\":\"log\",\"message\":\"loading\"}\n\nINFO plain li",
//!     b"ne\r\n: ping\r\n\r\ndata: {\"type\":\"complete\"}\n\n",
//! ];
//! let mut tail = TailDecoder::http(StreamLimits::default());
//! let mut out = Vec::new();
//! for chunk in body {
//!     tail.push_bytes(chunk, &mut out)?;
//! }
//! tail.finish(&mut out)?;
//! assert_eq!(out, [
//!     TailItem::Line("loading".into()),
//!     TailItem::Line("INFO plain line".into()),
//!     TailItem::Complete,
//! ]);
//! assert_eq!(tail.counters().delivered, 2);
//! # Ok::<(), ClientError>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod event;
pub mod limits;
pub mod line;
pub mod sse;
pub mod tail;

pub use event::{decode_event, decode_numbered, Event};
pub use limits::{LimitTracker, StreamCounters};
pub use line::{Line, LineDecoder};
pub use sse::{is_event_stream, EventStreamParser, SseEvent, SseItem};
pub use tail::{
    frame_cap_exceeded, LineDigest, Lines, Numbering, TailDecoder, TailItem, TailSink,
    DEFAULT_FRAME_CAP,
};
