//! Retries: which failures may be sent again, and when.
//!
//! The rule (the agent API's "we do better" point 6):
//! - a request that provably never left ([`ClientError::Connect`], a connect
//!   [`ClientError::Timeout`]) may be sent again, whatever its method;
//! - an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) answered with a
//!   transient status ([`TRANSIENT_STATUSES`]: 502, 503, 504, the same rule as
//!   [`ClientError::is_transient`]) may be sent again (a 503 that says
//!   `gpu_unavailable` is not transient and is not retried);
//! - POST and PATCH are never sent again once they may have reached the agent: not
//!   after a 5xx answer, not after a read error;
//! - a [`ClientError::ResponseIncomplete`] is never retried, whatever the method;
//! - waits grow exponentially with jitter up to `max_backoff`; a `Retry-After`
//!   replaces the back-off, capped at `max_retry_after`.

use crate::trace;
use crate::transport::{Request, Response, StreamingResponse, Transport, WsOptions, WsStream};
use crate::util::random_u64;
use agent_proto::{ClientError, TimeoutKind, TRANSIENT_STATUSES};
use http::header::RETRY_AFTER;
use http::HeaderMap;
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument;

/// When and how often to send a failed request again.
///
/// ```
/// use agent_transport::RetryPolicy;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.max_retries, 3);
/// assert_eq!(policy.backoff(0), Duration::from_millis(100));
/// assert_eq!(policy.backoff(1), Duration::from_millis(200));
/// assert_eq!(policy.backoff(10), Duration::from_secs(2));
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times a request may be sent again (0: never).
    pub max_retries: u32,
    /// The wait before the first retry; it doubles at each retry.
    pub initial_backoff: Duration,
    /// The longest wait between two tries (without a `Retry-After`).
    pub max_backoff: Duration,
    /// The longest wait a server's `Retry-After` can impose (default 60 s).
    pub max_retry_after: Duration,
    /// The answer statuses that make an idempotent request go again (502, 503, 504).
    pub retry_statuses: Vec<u16>,
}

impl Default for RetryPolicy {
    /// 3 retries, 100 ms doubling up to 2 s, `Retry-After` capped at 60 s, on 502,
    /// 503 and 504.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: MAX_RETRY_AFTER,
            retry_statuses: TRANSIENT_STATUSES.to_vec(),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The nominal wait before retry number `retry` (0 for the first):
    /// `initial_backoff * 2^retry`, at most `max_backoff`. The actual wait is
    /// jittered between half of it and all of it.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.checked_pow(retry.min(31)).unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// The back-off with "equal jitter": uniformly between half of
    /// [`RetryPolicy::backoff`] and all of it.
    fn jittered_backoff(&self, retry: u32) -> Duration {
        let full = self.backoff(retry);
        let half = full / 2;
        let spread = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        let extra = if spread == 0 {
            0
        } else {
            random_u64() % (spread + 1)
        };
        half + Duration::from_nanos(extra)
    }

    /// The answer's `Retry-After`, capped at `max_retry_after`.
    ///
    /// ```
    /// use agent_transport::RetryPolicy;
    /// use http::{HeaderMap, HeaderValue};
    /// use std::time::Duration;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", HeaderValue::from_static("99999"));
    /// assert_eq!(RetryPolicy::default().retry_after(&headers), Some(Duration::from_secs(60)));
    /// ```
    pub fn retry_after(&self, headers: &HeaderMap) -> Option<Duration> {
        parse_retry_after(headers).map(|d| d.min(self.max_retry_after))
    }

    /// True when an answer with this status (and body, when read) may make an
    /// idempotent request go again.
    fn retryable_answer(&self, status: u16, body: Option<&[u8]>) -> bool {
        if !self.retry_statuses.contains(&status) {
            return false;
        }
        // A status the caller added to the list is retried whatever it says; a
        // transient one only if its body does not say otherwise (gpu_unavailable).
        match body {
            Some(body) if TRANSIENT_STATUSES.contains(&status) => {
                ClientError::from_response(status, None, body).is_transient()
            }
            _ => true,
        }
    }
}

/// The longest `Retry-After` the client waits on or reports (also
/// [`RetryPolicy::default`]'s `max_retry_after`).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A `Retry-After` header: delay-seconds of any size (saturating: a number too large
/// for a `u64` is a very long wait, not an absent header) or an HTTP date (RFC 9110
/// section 10.2.3); a date in the past is zero. Not capped. The one parser of the
/// header, for every path of the client.
///
/// ```
/// use agent_transport::parse_retry_after;
/// use http::{HeaderMap, HeaderValue};
/// use std::time::Duration;
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(parse_retry_after(&headers), None);
/// headers.insert("retry-after", HeaderValue::from_static("7"));
/// assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
/// headers.insert("retry-after", HeaderValue::from_static("99999999999999999999999"));
/// assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(u64::MAX)));
/// headers.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
/// assert_eq!(parse_retry_after(&headers), Some(Duration::ZERO));
/// headers.insert("retry-after", HeaderValue::from_static("soon"));
/// assert_eq!(parse_retry_after(&headers), None);
/// ```
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.bytes().fold(0u64, |n, digit| {
            n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
        });
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// [`parse_retry_after`] capped at [`MAX_RETRY_AFTER`]: what an error carries as
/// its `retry_after()`, so that a caller that waits on it never waits longer.
///
/// ```
/// use agent_transport::capped_retry_after;
/// use http::{HeaderMap, HeaderValue};
/// use std::time::Duration;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", HeaderValue::from_static("99999999999999999999999"));
/// assert_eq!(capped_retry_after(&headers), Some(Duration::from_secs(60)));
/// ```
pub fn capped_retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers).map(|d| d.min(MAX_RETRY_AFTER))
}

/// True for an error that proves the request never left.
fn never_left(err: &ClientError) -> bool {
    matches!(
        err,
        ClientError::Connect { .. }
            | ClientError::Timeout {
                kind: TimeoutKind::Connect,
                ..
            }
    )
}

/// A [`Transport`] that sends failed requests again by a [`RetryPolicy`].
///
/// - [`Transport::request`] and [`Transport::stream`]: connect errors for every
///   method; 502/503/504 answers for idempotent methods only (the last answer is
///   returned when retries run out); never a [`ClientError::ResponseIncomplete`].
/// - [`Transport::websocket`]: connect errors only.
///
/// ```
/// use agent_transport::{HttpTransport, RetryPolicy, RetryingTransport, Transport};
/// use std::sync::Arc;
///
/// let http: Arc<dyn Transport> = Arc::new(HttpTransport::builder("http://127.0.0.1:8000/").build()?);
/// let transport = RetryingTransport::new(http, RetryPolicy::default());
/// assert_eq!(transport.policy().max_retries, 3);
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RetryingTransport<T> {
    inner: T,
    policy: RetryPolicy,
}

impl<T: Transport> RetryingTransport<T> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: T, policy: RetryPolicy) -> Self {
        RetryingTransport { inner, policy }
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

/// What to do after a try.
enum Next<R> {
    Done(Result<R, ClientError>),
    Retry(Result<R, ClientError>, Option<Duration>),
}

impl<T: Transport> RetryingTransport<T> {
    /// Tries until `judge` is content or the retries are spent, inside one
    /// `agent.request` span (see [`crate::trace`]) that ends with the status, the
    /// latency and the number of attempts; each retry is an event with its reason
    /// and wait.
    async fn run<R, F, Fut>(
        &self,
        span: tracing::Span,
        mut attempt: F,
        judge: impl Fn(Result<R, ClientError>) -> Next<R>,
        status_of: impl Fn(&R) -> Option<u16>,
    ) -> Result<R, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<R, ClientError>>,
    {
        let started = Instant::now();
        let this_span = span.clone();
        let tries = async {
            let mut retry = 0u32;
            loop {
                this_span.record("attempt", retry + 1);
                let result = attempt().await;
                match judge(result) {
                    Next::Done(result) => return result,
                    Next::Retry(result, retry_after) => {
                        if retry >= self.policy.max_retries {
                            if self.policy.max_retries > 0 {
                                tracing::info!(
                                    attempts = retry + 1,
                                    "agent.retries_exhausted: giving up"
                                );
                            }
                            return result;
                        }
                        let status = result.as_ref().ok().and_then(&status_of);
                        let reason = trace::retry_reason(&result, status);
                        // Drop an answer (and its connection) before waiting.
                        drop(result);
                        let wait =
                            retry_after.unwrap_or_else(|| self.policy.jittered_backoff(retry));
                        retry += 1;
                        tracing::info!(
                            retry,
                            reason = %reason,
                            wait_ms = wait.as_millis() as u64,
                            retry_after = retry_after.is_some(),
                            "agent.retry: sending the request again"
                        );
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        };
        let result = tries.instrument(span.clone()).await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok(r) => {
                if let Some(status) = status_of(r) {
                    span.record("status", status);
                }
            }
            Err(e) => {
                span.record("status", e.status_code());
                span.record("error", trace::error_kind(e));
            }
        }
        result
    }
}

#[async_trait::async_trait]
impl<T: Transport> Transport for RetryingTransport<T> {
    async fn request(&self, request: Request) -> Result<Response, ClientError> {
        let idempotent = request.is_idempotent();
        let policy = &self.policy;
        let span = trace::request_span(&request.method, &request.path, "request");
        self.run(
            span,
            || self.inner.request(request.clone()),
            |result| match result {
                Err(e) if never_left(&e) => Next::Retry(Err(e), None),
                Ok(resp)
                    if idempotent && policy.retryable_answer(resp.status, Some(&resp.body)) =>
                {
                    let wait = policy.retry_after(&resp.headers);
                    Next::Retry(Ok(resp), wait)
                }
                other => Next::Done(other),
            },
            |resp| Some(resp.status),
        )
        .await
    }

    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
        let idempotent = request.is_idempotent();
        let policy = &self.policy;
        let span = trace::request_span(&request.method, &request.path, "stream");
        self.run(
            span,
            || self.inner.stream(request.clone()),
            |result| match result {
                Err(e) if never_left(&e) => Next::Retry(Err(e), None),
                Ok(resp) if idempotent && policy.retryable_answer(resp.status, None) => {
                    let wait = policy.retry_after(&resp.headers);
                    Next::Retry(Ok(resp), wait)
                }
                other => Next::Done(other),
            },
            |resp| Some(resp.status),
        )
        .await
    }

    async fn websocket(
        &self,
        request: Request,
        options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        let span = trace::request_span(&request.method, &request.path, "websocket");
        self.run(
            span,
            || self.inner.websocket(request.clone(), options),
            |result| match result {
                Err(e) if never_left(&e) => Next::Retry(Err(e), None),
                other => Next::Done(other),
            },
            // An open WebSocket is a 101.
            |_| Some(101),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(3), Duration::from_millis(800));
        assert_eq!(p.backoff(5), Duration::from_secs(2));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(2));
        for retry in 0..8 {
            let j = p.jittered_backoff(retry);
            assert!(j >= p.backoff(retry) / 2 && j <= p.backoff(retry), "{j:?}");
        }
    }

    /// The jitter reaches both ends of its range (with a 2 ns back-off: 1 ns or
    /// 2 ns), and a range of one nanosecond is no division by zero.
    #[test]
    fn jitter_spans_half_to_all_of_the_backoff() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_nanos(2),
            max_backoff: Duration::from_nanos(2),
            ..RetryPolicy::default()
        };
        let seen: std::collections::BTreeSet<Duration> =
            (0..400).map(|_| p.jittered_backoff(0)).collect();
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [Duration::from_nanos(1), Duration::from_nanos(2)]
        );
    }

    /// A status the caller adds to the list is retried whatever its body says;
    /// the body is read only for the transient ones (gpu_unavailable).
    #[test]
    fn a_status_the_caller_lists_is_retried() {
        let p = RetryPolicy {
            retry_statuses: vec![500, 503],
            ..RetryPolicy::default()
        };
        assert!(p.retryable_answer(500, Some(b"boom")));
        assert!(!p.retryable_answer(503, Some(br#"{"error_type":"gpu_unavailable"}"#)));
        assert!(!p.retryable_answer(502, Some(b"bad gateway")), "not listed");
    }

    #[test]
    fn the_policy_is_the_one_given() {
        let policy = RetryPolicy {
            max_retries: 9,
            ..RetryPolicy::none()
        };
        let http = crate::HttpTransport::builder("http://127.0.0.1:1/")
            .build()
            .unwrap();
        let t = RetryingTransport::new(http, policy.clone());
        assert_eq!(t.policy(), &policy);
    }

    #[test]
    fn gpu_unavailable_is_not_retried() {
        let p = RetryPolicy::default();
        assert!(p.retryable_answer(503, Some(b"busy")));
        assert!(!p.retryable_answer(503, Some(br#"{"error_type":"gpu_unavailable"}"#)));
        assert!(p.retryable_answer(502, None));
        assert!(!p.retryable_answer(500, None));
    }
}
