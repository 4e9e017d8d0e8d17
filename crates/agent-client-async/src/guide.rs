//! Guides: how to do the usual things with the client, each with an example that
//! compiles (the examples are doctests).
//!
//! # Features
//!
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `tls` | yes | TLS through rustls (ring provider) for `https://` and `wss://`; client identities (mTLS); extra roots |
//! | `webpki-roots` | yes | trusts Mozilla's roots, compiled in (implies `tls`) |
//! | `native-roots` | no | trusts the operating system's roots through rustls-native-certs (implies `tls`) |
//!
//! With `default-features = false` the client speaks plain `http://` and `ws://`
//! only (for an agent behind a TLS-terminating sidecar), and rustls is not compiled
//! at all; an `https://` URL is then refused with a 400 when the client is built.
//! The system's roots instead of Mozilla's:
//!
//! ```toml
//! agent-client-async = { version = "0.1", default-features = false, features = ["native-roots"] }
//! ```
//!
//! `agent-client-blocking` has the same three features.
//!
//! # TLS and roots
//!
//! Certificates are always verified. Besides the built-in roots (by feature, see
//! above), a private certificate authority can be trusted, and a client certificate
//! presented to an agent that asks for one (mutual TLS):
//!
//! ```no_run
//! # #[cfg(feature = "tls")]
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use agent_client_async::{AsyncAgentClient, Identity};
//!
//! let ca = std::fs::read("ca.pem")?;
//! let identity = Identity::from_pem(&std::fs::read("client.pem")?, &std::fs::read("client.key")?)?;
//! let client = AsyncAgentClient::builder("https://agent.internal:8443/", "agent-token")
//!     .add_root_certificate_pem(ca)
//!     .identity(identity)
//!     .build()?;
//! # drop(client);
//! # Ok(()) }
//! ```
//!
//! # Proxies
//!
//! By default the client follows `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
//! `NO_PROXY` (upper or lower case), read once when it is built. `NO_PROXY` takes
//! host names (which cover their subdomains), IP addresses, CIDR ranges and `*`.
//! `https://` and `wss://` go through a `CONNECT` tunnel (TLS stays end to end),
//! plain `http://` requests go to the proxy in absolute form, and `ws://` tails
//! through `CONNECT`. Credentials in the proxy URL are sent as
//! `Proxy-Authorization: Basic` and never appear in an error, `Debug` or a log.
//!
//! ```
//! use agent_client_async::{AsyncAgentClient, Proxy};
//!
//! let via = Proxy::all("http://user:password@proxy.corp:3128")?.no_proxy("localhost, .corp, 10.0.0.0/8");
//! let client = AsyncAgentClient::builder("http://agent.example.com/", "agent-token")
//!     .proxy(via)
//!     .build()?;
//! // Or ignore the environment: straight to the agent.
//! let direct = AsyncAgentClient::builder("http://agent.example.com/", "agent-token")
//!     .no_proxy()
//!     .build()?;
//! # drop((client, direct));
//! # Ok::<(), agent_client_async::ClientError>(())
//! ```
//!
//! # Errors and matching on them
//!
//! Every failure is a [`ClientError`](crate::ClientError) with a status code
//! ([`status_code`](crate::ClientError::status_code)): match on the code as the
//! Python SDK's users do, on the variant for details, or ask a predicate
//! ([`is_connect`](crate::ClientError::is_connect),
//! [`is_timeout`](crate::ClientError::is_timeout),
//! [`is_status`](crate::ClientError::is_status),
//! [`is_limit`](crate::ClientError::is_limit)). `source()` leads to the underlying
//! `io::Error`, rustls or hyper error, so `anyhow`'s `{:#}` shows the cause.
//!
//! ```no_run
//! use agent_client_async::{AsyncAgentClient, ClientError};
//!
//! # async fn run(client: AsyncAgentClient) {
//! match client.get_job("raysubmit_abc123").await {
//!     Ok(job) => println!("{}", job.status),
//!     Err(ClientError::NotFound { .. }) => println!("no such job"),
//!     Err(e) if e.is_connect() || e.is_timeout() => println!("agent unreachable: {e}"),
//!     Err(e) => {
//!         let mut cause = std::error::Error::source(&e);
//!         while let Some(c) = cause {
//!             if let Some(io) = c.downcast_ref::<std::io::Error>() {
//!                 println!("io error: {:?}", io.kind());
//!             }
//!             cause = c.source();
//!         }
//!         println!("{} {e}", e.status_code());
//!     }
//! }
//! # }
//! ```
//!
//! # Limits
//!
//! A log tail stops with a 429 [`ClientError::LimitExceeded`](crate::ClientError::LimitExceeded)
//! when it passes one of its [`StreamLimits`](crate::StreamLimits) (messages, lines,
//! bytes); a single line larger than `max_message_size` is skipped and counted,
//! not fatal. Set them per client or per tail. Tails are streams: read them with
//! `futures_util::StreamExt`.
//!
//! ```no_run
//! use agent_client_async::{AsyncAgentClient, StreamLimits, TailOptions};
//! use futures_util::StreamExt;
//!
//! # async fn run(client: AsyncAgentClient) -> Result<(), agent_client_async::ClientError> {
//! let limits = StreamLimits { max_lines: 10_000, ..StreamLimits::default() };
//! let mut tail = client.tail_job_logs("raysubmit_abc123", TailOptions::new().limits(limits)).await?;
//! while let Some(line) = tail.next().await {
//!     match line {
//!         Ok(line) => println!("{line}"),
//!         Err(e) if e.is_limit() => { eprintln!("stopped: {e}"); break; }
//!         Err(e) => return Err(e),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Retries and idempotency
//!
//! A request that provably never left (the connection did not open) is sent again,
//! whatever its method; an idempotent one (GET, HEAD, PUT, DELETE) also after a 502,
//! 503 or 504, honouring `Retry-After`. A POST is never sent twice once it may have
//! reached the agent: a failure after that point is a
//! [`ResponseIncomplete`](crate::ClientError::ResponseIncomplete), which says so.
//!
//! ```
//! use agent_client_async::{AsyncAgentClient, RetryPolicy};
//! use std::time::Duration;
//!
//! let policy = RetryPolicy { max_retries: 5, max_backoff: Duration::from_secs(5), ..RetryPolicy::default() };
//! let client = AsyncAgentClient::builder("http://agent.example.com/", "agent-token")
//!     .retry_policy(policy) // or RetryPolicy::none()
//!     .build()?;
//! # drop(client);
//! # Ok::<(), agent_client_async::ClientError>(())
//! ```
//!
//! # Time-outs
//!
//! Four waits, each a 408 [`ClientError::Timeout`](crate::ClientError::Timeout)
//! whose [`TimeoutKind`](crate::TimeoutKind) says which: connecting (TCP and TLS,
//! default 3 s), reading an answer (default 10 s), a tail whose *server* sends
//! nothing for its time-out (`TailOptions::timeout`, default 30 s; WebSocket pongs
//! and HTTP heartbeats count, so a quiet job on a live server never trips it), and,
//! only when asked, a tail whose *job* writes no new line for
//! `TailOptions::max_quiet` ([`TimeoutKind::Quiet`](crate::TimeoutKind::Quiet)),
//! the same on both protocols.
//!
//! ```
//! use agent_client_async::{AsyncAgentClient, TailOptions};
//! use std::time::Duration;
//!
//! let client = AsyncAgentClient::builder("http://agent.example.com/", "agent-token")
//!     .connect_timeout(Duration::from_secs(2))
//!     .read_timeout(Duration::from_secs(30))
//!     .build()?;
//! let quiet_job = TailOptions::new().timeout(Duration::from_secs(600));
//! # drop((client, quiet_job));
//! # Ok::<(), agent_client_async::ClientError>(())
//! ```
//!
//! # Tracing
//!
//! The client emits [`tracing`](https://docs.rs/tracing) spans and events; install
//! any subscriber to see them. Each request is an `agent.request` span (method,
//! route template such as `jobs/{id}/`, attempt, status, latency); retries are
//! `agent.retry` events; tails run in an `agent.tail` span with
//! `agent.tail.fallback`, `agent.tail.resume`, `agent.tail.limit`,
//! `agent.tail.idle_timeout` and `agent.tail.end` events. No token, header or
//! server text is ever recorded.
//!
//! # Testing your code against `agent-testkit`
//!
//! `agent-testkit` is a real agent on loopback (HTTP and WebSocket) with an
//! in-memory cluster and faults on demand; point the client at it.
//!
//! ```
//! use agent_client_async::AsyncAgentClient;
//! use agent_testkit::{AgentTestServer, Fault, RouteKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = AgentTestServer::sample().build().await?;
//! let client = AsyncAgentClient::new(server.url(), server.token())?;
//! assert!(!client.list_jobs().await?.is_empty());
//!
//! server.set_fault(RouteKind::ListJobs, Fault::status(500).times(1));
//! assert_eq!(client.list_jobs().await.unwrap_err().status_code(), 500);
//! # Ok(()) }
//! ```
//!
//! # Plugging in your own `Transport`
//!
//! The client needs three things of a transport: a request, a request with a
//! streamed answer, and a WebSocket ([`Transport`](crate::Transport)). Give it
//! yours (a Unix socket, a broker, a recording double) with
//! [`ClientBuilder::transport`](crate::ClientBuilder::transport); retries still
//! apply. `agent_transport::memory::MemoryTransport` is a ready-made one for tests:
//!
//! ```
//! use agent_client_async::AsyncAgentClient;
//! use agent_transport::memory::{MemoryReply, MemoryTransport};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), agent_client_async::ClientError> {
//! let transport = MemoryTransport::new(|req| match req.path.as_str() {
//!     "jobs/" => Ok(MemoryReply::body(200, r#"[{"job_id": "raysubmit_1", "status": "RUNNING"}]"#)),
//!     _ => Ok(MemoryReply::body(404, r#"{"detail":"Not found."}"#)),
//! });
//! let client = AsyncAgentClient::builder("http://in-memory/", "agent-token")
//!     .transport(Arc::new(transport))
//!     .build()?;
//! assert_eq!(client.list_jobs().await?[0].id(), Some("raysubmit_1"));
//! assert_eq!(client.get_job("raysubmit_2").await.unwrap_err().status_code(), 404);
//! # Ok(()) }
//! ```
