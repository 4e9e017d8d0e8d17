//! How the agent client talks to the agent.
//!
//! The clients need three things of a transport, and [`Transport`] is exactly those:
//! a request with its whole answer, a request whose answer body streams (the HTTP
//! log tail), and a WebSocket of text messages (the WebSocket log tail). A deployment
//! can put its own transport behind the clients (a Unix socket, a broker, an
//! in-memory one in tests); the default one speaks HTTP/1.1 and WebSocket over TCP,
//! with TLS through rustls.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod transport;

pub use transport::{
    BodyStream, Request, Response, StreamingResponse, Transport, WsMessage, WsOptions, WsStream,
};
