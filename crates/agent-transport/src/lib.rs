//! How the agent client talks to the agent.
//!
//! The clients need three things of a transport, and [`Transport`] is exactly those:
//! a request with its whole answer, a request whose answer body streams (the HTTP
//! log tail), and a WebSocket of text messages (the WebSocket log tail). A deployment
//! can put its own transport behind the clients (a Unix socket, a broker, an
//! in-memory one in tests: [`memory::MemoryTransport`]); the default one,
//! [`HttpTransport`], speaks HTTP/1.1 and WebSocket over TCP, with TLS through rustls
//! (ring provider, certificates always verified). [`RetryingTransport`] wraps any
//! transport with a [`RetryPolicy`] that never re-sends a write that may have
//! happened.
//!
//! ```no_run
//! use agent_transport::{HttpTransport, Request, RetryPolicy, RetryingTransport, Transport};
//! use agent_proto::Timeouts;
//! use http::{HeaderValue, Method};
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), agent_proto::ClientError> {
//! let http = HttpTransport::builder("https://agent.example.com/agent/")
//!     .timeouts(Timeouts { connect: Duration::from_secs(3), read: Duration::from_secs(10) })
//!     .build()?;
//! let transport = RetryingTransport::new(http, RetryPolicy::default());
//!
//! let mut request = Request::new(Method::GET, "jobs/");
//! let mut token = HeaderValue::from_static("agent-token");
//! token.set_sensitive(true);
//! request.headers.insert(http::header::AUTHORIZATION, token);
//!
//! let response = transport.request(request).await?;
//! println!("{} {}", response.status, String::from_utf8_lossy(&response.body));
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod coding;
mod connector;
mod http;
pub mod long_poll;
pub mod memory;
mod proxy;
mod retry;
#[cfg(feature = "tls")]
mod tls;
pub mod trace;
mod transport;
mod util;
mod websocket;

pub use crate::http::{
    HttpTransport, HttpTransportBuilder, DEFAULT_MAX_RESPONSE_BODY, DEFAULT_USER_AGENT,
};
pub use coding::ACCEPT_ENCODING;
pub use proxy::Proxy;
pub use retry::{
    capped_retry_after, parse_retry_after, RetryPolicy, RetryingTransport, MAX_RETRY_AFTER,
};
#[cfg(feature = "tls")]
pub use tls::Identity;
pub use transport::{
    BodyStream, Request, Response, StreamingResponse, Transport, WsMessage, WsOptions, WsStream,
};
pub use websocket::MAX_WS_FRAME_SIZE;
