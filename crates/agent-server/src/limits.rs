//! The bounds a server keeps against misbehaving or hostile peers: head and body
//! sizes, how long a peer may take to send its head and body, how many connections
//! may be open, and how large a WebSocket frame a client may send.

use std::time::Duration;

/// The smallest [`Limits::max_head_bytes`]: hyper's smallest read buffer.
pub const MIN_HEAD_BYTES: usize = 8 * 1024;

/// Every bound of a server; the defaults are safe for a server on a network.
///
/// ```
/// use agent_server::Limits;
/// use std::time::Duration;
///
/// let l = Limits::default();
/// assert_eq!(l.max_body_bytes, 64 * 1024);
/// assert_eq!(l.max_head_bytes, 16 * 1024);
/// // hyper's smallest read buffer is the floor
/// assert_eq!(Limits::new().max_head_bytes(100).max_head_bytes, 8 * 1024);
/// assert!(l.header_timeout <= Duration::from_secs(10));
/// let roomy = Limits::new().max_connections(10_000);
/// # let _ = roomy;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest request head (request line and headers) a connection may send,
    /// which is also the most a connection's read buffer holds; a larger head is
    /// answered 431 (by hyper) and the connection closed. It bounds what an
    /// unfinished head costs: open connections times this. Default 16 KiB; at
    /// least [`MIN_HEAD_BYTES`].
    pub max_head_bytes: usize,
    /// The largest request body of the routes that take small JSON (all but
    /// `plugin_releases/run_debug/`); larger ones get 413 before a byte is read when
    /// `Content-Length` tells, else once the cap is passed. Default 64 KiB.
    pub max_body_bytes: usize,
    /// The largest body of `plugin_releases/run_debug/`, which carries module code and
    /// requirements. Default 1 MiB.
    pub max_large_body_bytes: usize,
    /// How long a peer may take to send a request's head (also: how long a kept-alive
    /// connection may stay idle). Default 10 s.
    pub header_timeout: Duration,
    /// How long a peer may take to send a request's body, from its head on; then it
    /// gets 408 and the connection is closed. Default 10 s.
    pub body_timeout: Duration,
    /// The most connections open at once (WebSocket tails included). When it is
    /// reached, a new connection takes the place of one that has not yet sent an
    /// authenticated request: the oldest of the source address (IPv4, or IPv6 /64)
    /// holding the most such connections, the newcomer's own first on a tie, so
    /// that a flood from one source evicts its own; when every open one has, the
    /// new one gets a 503 at once and is closed. Default 1024.
    pub max_connections: usize,
    /// The largest WebSocket frame a client may send (it only ever needs pings and a
    /// close); a larger one closes the tail with 1009. Default 4 KiB.
    pub max_ws_frame_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            max_large_body_bytes: 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_ws_frame_bytes: 4 * 1024,
        }
    }
}

impl Limits {
    /// The default limits (see each field).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Limits::max_head_bytes`] (at least [`MIN_HEAD_BYTES`]).
    pub fn max_head_bytes(mut self, n: usize) -> Self {
        self.max_head_bytes = n.max(MIN_HEAD_BYTES);
        self
    }

    /// Sets [`Limits::max_body_bytes`].
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Sets [`Limits::max_large_body_bytes`].
    pub fn max_large_body_bytes(mut self, n: usize) -> Self {
        self.max_large_body_bytes = n;
        self
    }

    /// Sets [`Limits::header_timeout`].
    pub fn header_timeout(mut self, t: Duration) -> Self {
        self.header_timeout = t;
        self
    }

    /// Sets [`Limits::body_timeout`].
    pub fn body_timeout(mut self, t: Duration) -> Self {
        self.body_timeout = t;
        self
    }

    /// Sets [`Limits::max_connections`] (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`Limits::max_ws_frame_bytes`].
    pub fn max_ws_frame_bytes(mut self, n: usize) -> Self {
        self.max_ws_frame_bytes = n;
        self
    }
}
