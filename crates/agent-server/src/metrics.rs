//! The server's metrics, served at `/metrics` in the Prometheus text format
//! (`prometheus-client` writes the exposition): requests by route and status, their
//! latency, open connections, open tails, log lines sent, refusals by cause, and
//! answers broken off after their head.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Who may read `/metrics` (`--metrics public|token|off` on the servers' command
/// lines). It is served at `/metrics` whatever the API's prefix (where Prometheus
/// looks by default).
///
/// ```
/// use agent_server::MetricsAccess;
///
/// assert_eq!("token".parse::<MetricsAccess>(), Ok(MetricsAccess::Token));
/// assert_eq!(MetricsAccess::default(), MetricsAccess::Public);
/// assert!("private".parse::<MetricsAccess>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAccess {
    /// Anyone who reaches the port (the default, as before: they hold counts and
    /// latencies, never a secret, and a scraper needs no token).
    #[default]
    Public,
    /// Only a caller with the API's token (`Authorization: <token>`, the same check
    /// as every route; 401 otherwise). A server without a token serves them.
    Token,
    /// Not served: `/metrics` is an unknown path (404).
    Off,
}

impl MetricsAccess {
    /// The spelling of the command lines: `public`, `token`, `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsAccess::Public => "public",
            MetricsAccess::Token => "token",
            MetricsAccess::Off => "off",
        }
    }
}

impl std::fmt::Display for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MetricsAccess {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(MetricsAccess::Public),
            "token" => Ok(MetricsAccess::Token),
            "off" => Ok(MetricsAccess::Off),
            other => Err(format!(
                "`{other}` is not a metrics access: public, token or off"
            )),
        }
    }
}

/// Why a connection or request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values, as Prometheus users spell them
pub(crate) enum Cause {
    /// Every place was held by an authenticated connection: 503 at accept.
    connection_limit,
    /// An unauthenticated connection gave its place to a newcomer.
    evicted,
    /// No or a wrong token: 401.
    unauthorized,
    /// A body over the route's cap: 413.
    body_too_large,
    /// A body not sent in time: 408.
    body_timeout,
    /// A body the client broke off.
    body_incomplete,
    /// A WebSocket frame over the cap: close 1009.
    ws_frame_too_large,
    /// A TLS handshake that failed or took too long.
    tls_handshake,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CauseLabel {
    cause: Cause,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The metrics of one server.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    open_connections: Gauge,
    open_tails: Gauge,
    lines_sent: Counter,
    refusals: Family<CauseLabel, Counter>,
    aborted_bodies: Counter,
    panics: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("agent_server");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let open_connections = Gauge::default();
        let open_tails = Gauge::default();
        let lines_sent = Counter::default();
        let refusals = Family::<CauseLabel, Counter>::default();
        let aborted_bodies = Counter::default();
        let panics = Counter::default();
        registry.register(
            "requests",
            "Requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's head to the end of its answer (tails: to their end)",
            latency.clone(),
        );
        registry.register(
            "open_connections",
            "Connections open now (WebSocket tails included)",
            open_connections.clone(),
        );
        registry.register("open_tails", "Log tails open now", open_tails.clone());
        registry.register(
            "tail_lines_sent",
            "Log lines sent in tails",
            lines_sent.clone(),
        );
        registry.register(
            "refusals",
            "Connections and requests refused, by cause",
            refusals.clone(),
        );
        registry.register(
            "aborted_bodies",
            "Answers broken off after their head was sent (e.g. a streamed log whose \
             source failed): the client sees an incomplete body",
            aborted_bodies.clone(),
        );
        registry.register(
            "panics",
            "Requests whose handling panicked (answered 500, or cut when the answer \
             had begun)",
            panics.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            open_connections,
            open_tails,
            lines_sent,
            refusals,
            aborted_bodies,
            panics,
        }
    }

    /// Counts a request whose handling panicked.
    pub(crate) fn panicked(&self) {
        self.panics.inc();
    }

    /// Counts an answer broken off after its head.
    pub(crate) fn aborted_body(&self) {
        self.aborted_bodies.inc();
    }

    /// Counts an answered request.
    pub(crate) fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a refusal.
    pub(crate) fn refused(&self, cause: Cause) {
        self.refusals.get_or_create(&CauseLabel { cause }).inc();
    }

    /// The gauge of open tails.
    pub(crate) fn open_tails(&self) -> &Gauge {
        &self.open_tails
    }

    /// The counter of tail lines sent.
    pub(crate) fn lines_sent(&self) -> &Counter {
        &self.lines_sent
    }

    /// The exposition, with the open connections as they are now.
    pub(crate) fn render(&self, open_connections: usize) -> String {
        self.open_connections
            .set(i64::try_from(open_connections).unwrap_or(i64::MAX));
        let mut out = String::new();
        // writing to a String does not fail
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
