//! The request journal: the requests the test server received, with their bodies, and
//! the hook that fills it and applies the HTTP faults.
//!
//! The journal is a bounded window: the latest requests up to a count and a size, each
//! body kept up to a small size. It holds authenticated requests only, so that
//! whoever lacks the token cannot push the requests of a test out of the window;
//! [`AgentTestServerBuilder::journal_refused`](crate::AgentTestServerBuilder::journal_refused)
//! adds the refused ones, with their head only (their body is never read).

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::fault::{Fault, FaultTarget};
use crate::serve::{Intercept, RequestHead, RequestHook, RouteKind};
use crate::util::lock;
use agent_sample::Armed;

/// One request as the server received it.
///
/// The values of `Authorization`, `SYNAPSE-User` and `SYNAPSE-Tenant` are marked
/// sensitive, so that printing an entry does not print a token.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    /// The request's number on this server, from 0 in arrival order.
    pub seq: u64,
    /// The method.
    pub method: Method,
    /// The path as sent, with the server's prefix and the query (`/agent/jobs/?x=1`).
    pub path: String,
    /// The route, when the path and method name one.
    pub route: Option<RouteKind>,
    /// True for a WebSocket upgrade request.
    pub upgrade: bool,
    /// The headers as sent.
    pub headers: HeaderMap,
    /// The body as far as it arrived (filled in once the body was read or the client
    /// hung up; empty until then, and for a refused request, if journaled), at most
    /// [`JournalLimits::max_body_bytes`] of it.
    pub body: Bytes,
    /// True once the whole body arrived and is all kept; false while it is being read,
    /// when the client hung up before its end, when it was not read (a refused token,
    /// too large) or when it is longer than the journal keeps.
    pub body_complete: bool,
}

/// How much of the request journal a test server keeps: the latest `max_entries`
/// requests, dropping the oldest once their heads and bodies pass `max_bytes`, each
/// body kept up to `max_body_bytes`.
///
/// ```
/// use agent_testkit::JournalLimits;
///
/// let l = JournalLimits::default();
/// assert_eq!((l.max_entries, l.max_body_bytes), (4096, 64 * 1024));
/// let small = JournalLimits { max_entries: 10, ..JournalLimits::default() };
/// # let _ = small;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalLimits {
    /// The most requests kept (default 4096).
    pub max_entries: usize,
    /// The most bytes of heads and bodies kept (default 16 MiB).
    pub max_bytes: usize,
    /// The most bytes of one body kept (default 64 KiB).
    pub max_body_bytes: usize,
}

impl Default for JournalLimits {
    fn default() -> Self {
        JournalLimits {
            max_entries: 4096,
            max_bytes: 16 << 20,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// The bytes an entry holds, as the window counts them.
fn entry_bytes(e: &JournalEntry) -> usize {
    let headers: usize = e
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    e.path.len() + headers + e.body.len()
}

/// The journal's window.
#[derive(Default)]
struct Window {
    entries: VecDeque<JournalEntry>,
    bytes: usize,
}

impl Window {
    fn push(&mut self, e: JournalEntry, limits: &JournalLimits) {
        self.bytes += entry_bytes(&e);
        self.entries.push_back(e);
        self.trim(limits);
    }

    fn trim(&mut self, limits: &JournalLimits) {
        while self.entries.len() > limits.max_entries.max(1)
            || (self.bytes > limits.max_bytes && self.entries.len() > 1)
        {
            match self.entries.pop_front() {
                Some(old) => self.bytes = self.bytes.saturating_sub(entry_bytes(&old)),
                None => break,
            }
        }
    }
}

impl JournalEntry {
    /// The value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Journal and faults of one test server: the [`RequestHook`] it serves with.
pub(crate) struct TestHook {
    limits: JournalLimits,
    /// Journal the requests refused for their token too (head only).
    refused: bool,
    journal: Mutex<Window>,
    faults: Mutex<Vec<(FaultTarget, Armed<Fault>)>>,
}

impl TestHook {
    pub(crate) fn new(limits: JournalLimits, refused: bool) -> Self {
        TestHook {
            limits,
            refused,
            journal: Mutex::new(Window::default()),
            faults: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.journal).entries.iter().cloned().collect()
    }

    pub(crate) fn clear_journal(&self) {
        *lock(&self.journal) = Window::default();
    }

    pub(crate) fn add_fault(&self, target: FaultTarget, fault: Fault) {
        let times = fault.times;
        lock(&self.faults).push((target, Armed::new(fault, times)));
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
    }
}

const SECRET_HEADERS: &[&str] = &["authorization", "synapse-user", "synapse-tenant"];

impl RequestHook for TestHook {
    fn on_request(&self, head: &RequestHead<'_>) -> Intercept {
        let mut headers = head.headers.clone();
        for name in SECRET_HEADERS {
            if let http::header::Entry::Occupied(mut e) = headers.entry(*name) {
                for v in e.iter_mut() {
                    v.set_sensitive(true);
                }
            }
        }
        let path = head
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| head.uri.path().to_owned());
        let entry = JournalEntry {
            seq: head.seq,
            method: head.method.clone(),
            path,
            route: head.route.map(|r| r.kind()),
            upgrade: head.upgrade,
            headers,
            body: Bytes::new(),
            body_complete: false,
        };
        if head.authenticated || self.refused {
            lock(&self.journal).push(entry, &self.limits);
        }
        let mut faults = lock(&self.faults);
        for (target, armed) in faults.iter_mut() {
            if target.matches(head) && armed.fire() {
                return armed.fault.intercept();
            }
        }
        Intercept::default()
    }

    fn on_body(&self, seq: u64, body: &Bytes, complete: bool) {
        let keep = body.len().min(self.limits.max_body_bytes);
        // a copy, so that the journal never pins a larger buffer than it counts
        let kept = Bytes::copy_from_slice(&body[..keep]);
        let mut journal = lock(&self.journal);
        let window = &mut *journal;
        if let Some(entry) = window.entries.iter_mut().rev().find(|e| e.seq == seq) {
            window.bytes = window.bytes - entry.body.len() + kept.len();
            entry.body = kept;
            entry.body_complete = complete && keep == body.len();
        }
        window.trim(&self.limits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(seq: u64, path_len: usize) -> JournalEntry {
        JournalEntry {
            seq,
            method: Method::GET,
            path: "p".repeat(path_len),
            route: None,
            upgrade: false,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            body_complete: false,
        }
    }

    proptest! {
        /// Whatever arrives, the window keeps at most its count and (beyond a single
        /// entry) its bytes, keeps the latest requests in order, and its byte count is
        /// what its entries hold.
        #[test]
        fn the_window_is_bounded(
            max_entries in 1usize..20,
            max_bytes in 1usize..4000,
            max_body in 0usize..300,
            reqs in proptest::collection::vec((0usize..200, 0usize..1000), 0..80),
        ) {
            let limits = JournalLimits { max_entries, max_bytes, max_body_bytes: max_body };
            let hook = TestHook::new(limits, false);
            for (seq, (path_len, body_len)) in reqs.iter().enumerate() {
                lock(&hook.journal).push(entry(seq as u64, *path_len), &limits);
                hook.on_body(seq as u64, &Bytes::from(vec![b'x'; *body_len]), true);
                let w = lock(&hook.journal);
                prop_assert!(w.entries.len() <= max_entries);
                prop_assert!(w.bytes <= max_bytes || w.entries.len() == 1);
                prop_assert_eq!(w.bytes, w.entries.iter().map(entry_bytes).sum::<usize>());
                prop_assert!(w.entries.iter().all(|e| e.body.len() <= max_body));
                prop_assert_eq!(w.entries.back().map(|e| e.seq), Some(seq as u64));
                prop_assert!(w.entries.iter().zip(w.entries.iter().skip(1)).all(|(a, b)| a.seq < b.seq));
            }
        }
    }
}
