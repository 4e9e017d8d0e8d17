//! The protocol-serving layer: a real HTTP + WebSocket server for the agent API in
//! front of any [`AgentBackend`].
//!
//! It parses and validates requests (every path segment through `agent-proto`'s id
//! types; 404 for unknown routes, 405 for wrong methods, 400 for bad segments, 422
//! FastAPI-style for bad bodies), checks `Authorization: <token>` (401 otherwise, the
//! token is never echoed), answers JSON, and serves log tails both ways:
//!
//! - GET `jobs/{id}/logs/` with a WebSocket upgrade: one text frame per event,
//!   `{"type":"log","message":...}`, then `{"type":"complete"}` and close 1000 (or
//!   `{"type":"error","message":...}` and close 1011); pings are answered;
//! - GET `jobs/{id}/logs/stream/`: a chunked body of `data: {event}\n\n` lines.
//!
//! GET `jobs/{id}/logs/` without an upgrade answers the whole log as one JSON string,
//! written piece by piece as the backend streams it ([`LogBody`]), so a log of any
//! size costs the server a 16 KiB window at a time; a source that fails after the
//! first byte breaks the body off, so a client never takes a shorter log for the
//! whole.
//!
//! The testkit's in-memory server and `agent-gateway` both run on [`serve`]; a
//! [`RequestHook`] sees every request first (the gateway logs with one).
//!
//! The `test-util` feature adds what exists only so that a test server can break the
//! protocol on purpose: [`TailEvent`]'s raw, fragment and abort events, and hooks
//! that change answers (`InterceptAction`: canned answers, stalls, cut bodies). Only
//! agent-testkit enables it; production builds (agent-gateway, agentctl's embedded
//! agent) do not carry it.
//!
//! It is built to face a hostile network ([`Limits`], safe by default): the token is
//! checked from the head before any body byte is read (so `100 Continue` only follows
//! a valid token); heads are capped (431), bodies per route; a slow head or body
//! times out; open connections are capped, unauthenticated ones giving way first; client WebSocket
//! frames are capped small. It terminates TLS ([`TlsFiles`]: rustls with ring, mTLS,
//! reload on file change), writes one `tracing` line per request (target
//! `agent_server::access`), serves `/metrics` (Prometheus text; [`MetricsAccess`]: public, behind the
//! token, or off), and shuts down
//! gracefully ([`ServerHandle::shutdown`], [`shutdown_signal`]).
//!
//! This crate is what a production binary (`agent-gateway`) links for its HTTP side;
//! it does not depend on the test kit. `agent_testkit::serve` re-exports it.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod access;
mod backend;
mod body;
mod conn;
mod gzip;
mod hook;
mod limits;
mod lines;
mod logbody;
mod metrics;
mod platform;
mod route;
mod server;
mod task;
mod tls;
mod ws;

pub use backend::{
    AgentBackend, BackendError, BackendResult, ErrorBody, LogBody, LogStream, RequestContext,
    ResponseHeaders, TailEvent, TailProtocol, TailStream, UploadedFile,
};
pub use body::event_json;
#[cfg(feature = "test-util")]
pub use hook::{CannedResponse, InterceptAction};
pub use hook::{Intercept, RequestHead, RequestHook};
pub use limits::{Limits, MIN_HEAD_BYTES};
pub use lines::{count_lines, lines_in, replayed_tail_at, LogStart, TailAt};
pub use metrics::MetricsAccess;
pub use route::{parse_route, Route, RouteError, RouteKind};
pub use server::{check_token, serve, ServeOptions, ServerHandle};
pub use task::{shutdown_signal, stopped, TaskSet};
pub use tls::TlsFiles;
