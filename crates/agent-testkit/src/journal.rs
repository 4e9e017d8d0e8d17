//! The request journal: every request the test server received, with its body, and
//! the hook that fills it and applies the HTTP faults.

use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::fault::{Armed, Fault, FaultTarget};
use crate::serve::{Intercept, RequestHead, RequestHook, RouteKind};
use crate::util::lock;

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
    /// hung up; empty until then).
    pub body: Bytes,
    /// True once the whole body arrived; false while it is being read, or when the
    /// client hung up before its end.
    pub body_complete: bool,
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
#[derive(Default)]
pub(crate) struct TestHook {
    journal: Mutex<Vec<JournalEntry>>,
    faults: Mutex<Vec<(FaultTarget, Armed<Fault>)>>,
}

impl TestHook {
    pub(crate) fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.journal).clone()
    }

    pub(crate) fn clear_journal(&self) {
        lock(&self.journal).clear();
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
        lock(&self.journal).push(JournalEntry {
            seq: head.seq,
            method: head.method.clone(),
            path,
            route: head.route.map(|r| r.kind()),
            upgrade: head.upgrade,
            headers,
            body: Bytes::new(),
            body_complete: false,
        });
        let mut faults = lock(&self.faults);
        for (target, armed) in faults.iter_mut() {
            if target.matches(head) && armed.fire() {
                return armed.fault.intercept();
            }
        }
        Intercept::default()
    }

    fn on_body(&self, seq: u64, body: &Bytes, complete: bool) {
        let mut journal = lock(&self.journal);
        if let Some(entry) = journal.iter_mut().rev().find(|e| e.seq == seq) {
            entry.body = body.clone();
            entry.body_complete = complete;
        }
    }
}
