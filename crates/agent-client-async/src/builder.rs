//! Configuration of a client: [`ClientBuilder`].

use crate::client::{AsyncAgentClient, Credentials, TransportFactory};
use agent_proto::{ClientError, Secret, StreamLimits, Timeouts};
#[cfg(feature = "tls")]
use agent_transport::Identity;
use agent_transport::{HttpTransport, Proxy, RetryPolicy, RetryingTransport, Transport};
use std::sync::Arc;
use std::time::Duration;

/// Builds an [`AsyncAgentClient`]: tokens, time-outs, stream limits, retries, TLS
/// roots, or a transport of your own.
///
/// ```
/// use std::time::Duration;
/// use agent_client_async::AsyncAgentClient;
///
/// let client = AsyncAgentClient::builder("https://agent.example.com/agent/", "agent-token")
///     .user_token("user-token")
///     .tenant("acme")
///     .connect_timeout(Duration::from_secs(2))
///     .read_timeout(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(client.base_url(), "https://agent.example.com/agent/");
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    agent_token: Secret,
    user_token: Option<Secret>,
    tenant: Option<Secret>,
    timeouts: Timeouts,
    limits: StreamLimits,
    retry: RetryPolicy,
    ping_interval: Duration,
    compression: bool,
    #[cfg(feature = "tls")]
    root_certificates_pem: Vec<Vec<u8>>,
    #[cfg(feature = "tls")]
    identity: Option<Identity>,
    proxy: Proxy,
    transport: Option<Arc<dyn Transport>>,
}

impl ClientBuilder {
    pub(crate) fn new(base_url: impl Into<String>, agent_token: impl Into<Secret>) -> Self {
        ClientBuilder {
            base_url: base_url.into(),
            agent_token: agent_token.into(),
            user_token: None,
            tenant: None,
            timeouts: Timeouts::default(),
            limits: StreamLimits::default(),
            retry: RetryPolicy::default(),
            ping_interval: Duration::from_secs(10),
            compression: false,
            #[cfg(feature = "tls")]
            root_certificates_pem: Vec::new(),
            #[cfg(feature = "tls")]
            identity: None,
            proxy: Proxy::from_env(),
            transport: None,
        }
    }

    /// The user token, sent as `SYNAPSE-User: Token <user_token>`.
    pub fn user_token(mut self, token: impl Into<Secret>) -> Self {
        self.user_token = Some(token.into());
        self
    }

    /// The tenant, sent as `SYNAPSE-Tenant: Token <tenant>`.
    pub fn tenant(mut self, tenant: impl Into<Secret>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Connect and read time-outs together (defaults 3 s and 10 s).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The connect time-out (default 3 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// The read time-out of ordinary requests (default 10 s). Log tails use their
    /// own idle time-out ([`agent_proto::TailOptions::timeout`]).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.read = timeout;
        self
    }

    /// The default limits of log tails (the reference defaults unless set).
    pub fn stream_limits(mut self, limits: StreamLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The retry policy (default: 3 retries of idempotent requests on connect
    /// errors and 502/503/504; `RetryPolicy::none()` switches retries off).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How often a WebSocket tail pings a quiet server (default 10 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Whether to ask for compressed answers (default `false`).
    ///
    /// With `true`, every request carries `Accept-Encoding: gzip, deflate`
    /// ([`agent_transport::ACCEPT_ENCODING`]), and agent-server gzips job logs
    /// (`get_job_logs`) and HTTP tails, flushed per batch so a tail stays live:
    /// logs compress several times over, which over a slow link is a tail's
    /// speed. With `false`, no `Accept-Encoding` is sent, so servers and proxies
    /// answer uncompressed. Either way a gzip or deflate answer is decoded as it
    /// streams (limits count decoded bytes) and any other coding is an error
    /// naming it. WebSocket tails are not compressed. Ignored with a
    /// [`transport`](ClientBuilder::transport) of your own.
    ///
    /// ```
    /// let client = agent_client_async::AsyncAgentClient::builder("https://agent.example.com", "t")
    ///     .compression(true)
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), agent_proto::ClientError>(())
    /// ```
    pub fn compression(mut self, enabled: bool) -> Self {
        self.compression = enabled;
        self
    }

    #[cfg(feature = "tls")]
    /// Trusts one more root certificate (PEM) besides the web's roots, for an agent
    /// behind a private certificate authority.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates_pem.push(pem.into());
        self
    }

    #[cfg(feature = "tls")]
    /// Presents this client certificate to an agent that asks for one (mutual
    /// TLS): [`Identity::from_pem`] takes the PEM certificate chain and key.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Which proxies connections go through. The default, [`Proxy::from_env`],
    /// follows `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (read when the
    /// client is built); [`Proxy::all`] and friends override them.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = proxy;
        self
    }

    /// No proxy at all, whatever the environment says: `proxy(Proxy::none())`.
    pub fn no_proxy(self) -> Self {
        self.proxy(Proxy::none())
    }

    /// Uses a transport of your own (a Unix socket, a broker, an in-memory one)
    /// instead of HTTP; time-outs and TLS settings are then the transport's business.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Checks the settings and builds the client (a 400 on a bad URL, token or
    /// setting). Builds no connection yet.
    pub fn build(self) -> Result<AsyncAgentClient, ClientError> {
        self.timeouts.validate()?;
        self.limits.validate()?;
        if self.ping_interval.is_zero() {
            return Err(ClientError::invalid("ping interval", "must be positive"));
        }
        let credentials = Credentials::new(self.agent_token, self.user_token, self.tenant)?;
        let retry = self.retry;
        let renew: TransportFactory = match self.transport {
            Some(t) => {
                let t: Arc<dyn Transport> = Arc::new(RetryingTransport::new(t, retry));
                Arc::new(move || Ok(Arc::clone(&t)))
            }
            None => {
                #[allow(unused_mut)] // without TLS there is nothing more to set
                let mut b = HttpTransport::builder(&self.base_url)
                    .timeouts(self.timeouts)
                    .compression(self.compression)
                    .proxy(self.proxy);
                #[cfg(feature = "tls")]
                {
                    if let Some(identity) = self.identity {
                        b = b.identity(identity);
                    }
                    for pem in &self.root_certificates_pem {
                        b = b.add_root_certificate_pem(pem)?;
                    }
                }
                // a new pool each time: reset_connection swaps it in
                Arc::new(move || {
                    let http: Arc<dyn Transport> = Arc::new(b.clone().build()?);
                    Ok(Arc::new(RetryingTransport::new(http, retry.clone())) as Arc<dyn Transport>)
                })
            }
        };
        AsyncAgentClient::from_parts(
            self.base_url,
            renew,
            credentials,
            self.limits,
            self.ping_interval,
        )
    }
}
