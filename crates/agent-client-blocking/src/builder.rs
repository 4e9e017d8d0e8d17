//! Configuration of a blocking client: [`ClientBuilder`].

use crate::client::AgentClient;
use crate::runtime::RuntimeThread;
#[cfg(feature = "tls")]
use agent_client_async::Identity;
use agent_client_async::{AsyncAgentClient, Proxy, RetryPolicy, Transport};
use agent_proto::{ClientError, Secret, StreamLimits, Timeouts};
use std::sync::Arc;
use std::time::Duration;

/// Builds an [`AgentClient`]: the same settings as the async client's builder
/// (tokens, time-outs, stream limits, retries, TLS roots, a transport of your own).
///
/// ```
/// use std::time::Duration;
/// use agent_client_blocking::{AgentClient, StreamLimits};
///
/// let client = AgentClient::builder("https://agent.example.com/agent/", "agent-token")
///     .user_token("user-token")
///     .tenant("acme")
///     .connect_timeout(Duration::from_secs(2))
///     .read_timeout(Duration::from_secs(30))
///     .stream_limits(StreamLimits { max_lines: 1_000_000, ..StreamLimits::default() })
///     .build()?;
/// assert_eq!(client.stream_limits().max_lines, 1_000_000);
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    inner: agent_client_async::ClientBuilder,
}

impl ClientBuilder {
    pub(crate) fn new(base_url: impl Into<String>, agent_token: impl Into<Secret>) -> Self {
        ClientBuilder {
            inner: AsyncAgentClient::builder(base_url, agent_token),
        }
    }

    fn map(
        self,
        f: impl FnOnce(agent_client_async::ClientBuilder) -> agent_client_async::ClientBuilder,
    ) -> Self {
        ClientBuilder {
            inner: f(self.inner),
        }
    }

    /// The user token, sent as `SYNAPSE-User: Token <user_token>`.
    pub fn user_token(self, token: impl Into<Secret>) -> Self {
        self.map(|b| b.user_token(token))
    }

    /// The tenant, sent as `SYNAPSE-Tenant: Token <tenant>`.
    pub fn tenant(self, tenant: impl Into<Secret>) -> Self {
        self.map(|b| b.tenant(tenant))
    }

    /// Connect and read time-outs together (defaults 3 s and 10 s).
    pub fn timeouts(self, timeouts: Timeouts) -> Self {
        self.map(|b| b.timeouts(timeouts))
    }

    /// The connect time-out (default 3 s).
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.connect_timeout(timeout))
    }

    /// The read time-out of ordinary requests (default 10 s); log tails use their own
    /// idle time-out ([`agent_proto::TailOptions::timeout`]).
    pub fn read_timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.read_timeout(timeout))
    }

    /// The default limits of log tails (the reference defaults unless set).
    pub fn stream_limits(self, limits: StreamLimits) -> Self {
        self.map(|b| b.stream_limits(limits))
    }

    /// The retry policy (default: retries of idempotent requests on connect errors
    /// and 502/503/504; `RetryPolicy::none()` switches retries off).
    pub fn retry_policy(self, policy: RetryPolicy) -> Self {
        self.map(|b| b.retry_policy(policy))
    }

    /// How often a WebSocket tail pings a quiet server (default 10 s).
    pub fn ping_interval(self, interval: Duration) -> Self {
        self.map(|b| b.ping_interval(interval))
    }

    /// Whether to ask for compressed answers (default `false`): with `true`,
    /// requests carry `Accept-Encoding: gzip, deflate`, and agent-server gzips
    /// job logs and HTTP tails. Without, no `Accept-Encoding` is sent. A gzip or
    /// deflate answer is decoded either way; see
    /// [`agent_client_async::ClientBuilder::compression`].
    pub fn compression(self, enabled: bool) -> Self {
        self.map(|b| b.compression(enabled))
    }

    #[cfg(feature = "tls")]
    /// Trusts one more root certificate (PEM) besides the web's roots.
    pub fn add_root_certificate_pem(self, pem: impl Into<Vec<u8>>) -> Self {
        self.map(|b| b.add_root_certificate_pem(pem))
    }

    #[cfg(feature = "tls")]
    /// Presents this client certificate to an agent that asks for one (mutual TLS).
    pub fn identity(self, identity: Identity) -> Self {
        self.map(|b| b.identity(identity))
    }

    /// Which proxies connections go through (default: the environment's
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`).
    pub fn proxy(self, proxy: Proxy) -> Self {
        self.map(|b| b.proxy(proxy))
    }

    /// No proxy at all, whatever the environment says.
    pub fn no_proxy(self) -> Self {
        self.map(|b| b.no_proxy())
    }

    /// Uses a transport of your own instead of HTTP.
    pub fn transport(self, transport: Arc<dyn Transport>) -> Self {
        self.map(|b| b.transport(transport))
    }

    /// Checks the settings (a 400 on a bad URL, token or setting), starts the
    /// client's thread and builds the client. Opens no connection yet. Allowed
    /// inside an async runtime (the client's own runtime is on its own thread).
    pub fn build(self) -> Result<AgentClient, ClientError> {
        let (runtime, client) = RuntimeThread::start(|| self.inner.build())?;
        Ok(AgentClient::from_parts(client, runtime))
    }
}
