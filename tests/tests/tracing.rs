//! What the clients tell `tracing`, captured by a subscriber written here that keeps
//! every span (name and fields, recorded values included) and every event, at every
//! level. A run through requests, a retry, an error that echoes the tokens, tails
//! that complete, fall back, resume and hit a limit proves the span and events are
//! there, and that no token appears anywhere in what was recorded.

mod common;

use agent_client_async::{AsyncAgentClient, Protocol, StreamLimits, TailOptions};
use agent_testkit::{AgentTestServer, Fault, JobSpec, RouteKind, TailFault};
use common::drain;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const AGENT: &str = "agtok-trace-5e1f9a77";
const USER: &str = "usrtok-trace-c0ffee42";
const TENANT: &str = "tenant-trace-b1ab2c3d";
const JOB: &str = "raysubmit_trace1";

/// Every line the subscriber saw: `span <id> <name> k=v ...`, `record <id> k=v`,
/// `event <level> <span id> k=v ...`.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture {
    next: AtomicU64,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut f = Fields(format!("span {id} {}", span.metadata().name()));
        span.record(&mut f);
        SEEN.lock().unwrap().push(f.0);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut f = Fields(format!("record {}", span.into_u64()));
        values.record(&mut f);
        SEEN.lock().unwrap().push(f.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut f = Fields(format!("event {}", event.metadata().level()));
        event.record(&mut f);
        SEEN.lock().unwrap().push(f.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture {
            next: AtomicU64::new(1),
        })
        .expect("the only subscriber of this test binary");
    });
}

fn seen() -> Vec<String> {
    SEEN.lock().unwrap().clone()
}

fn echo() -> String {
    format!("Authorization: {AGENT} / SYNAPSE-User: Token {USER} / SYNAPSE-Tenant: Token {TENANT}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_events_say_what_happened_and_never_hold_a_token() {
    install();
    let server = AgentTestServer::sample()
        .token(AGENT)
        .job(JobSpec::new(JOB).lines(common::lines("t", 30)))
        .build()
        .await
        .unwrap();
    let client = AsyncAgentClient::builder(server.url(), AGENT)
        .user_token(USER)
        .tenant(TENANT)
        .retry_policy(common::quick_retries())
        .build()
        .unwrap();

    // A request retried once after a 503 that echoes the tokens.
    server.set_fault(RouteKind::GetJob, Fault::text(503, echo()).times(1));
    client.get_job(JOB).await.unwrap();
    // An error answer that echoes them, not retried.
    server.set_fault(RouteKind::ListNodes, Fault::text(401, echo()).times(1));
    client.list_nodes().await.unwrap_err();
    // Tails: complete over WebSocket; `auto` falling back when the WebSocket is
    // refused; `auto` resuming when it breaks; a limit.
    let mut tail = client
        .tail_job_logs(JOB, TailOptions::new().protocol(Protocol::WebSocket))
        .await
        .unwrap();
    assert!(drain(&mut tail).await.1.is_none());
    server.set_fault(RouteKind::TailWebSocket, Fault::text(503, echo()).times(1));
    let mut tail = client
        .tail_job_logs(JOB, TailOptions::new().protocol(Protocol::Auto))
        .await
        .unwrap();
    assert!(drain(&mut tail).await.1.is_none());
    server.set_tail_fault(JOB, TailFault::drop_after(5).websocket_only().times(1));
    let mut tail = client
        .tail_job_logs(JOB, TailOptions::new().protocol(Protocol::Auto))
        .await
        .unwrap();
    assert!(drain(&mut tail).await.1.is_none());
    let limited = StreamLimits {
        max_lines: 3,
        ..StreamLimits::default()
    };
    let mut tail = client
        .tail_job_logs(
            JOB,
            TailOptions::new().protocol(Protocol::Http).limits(limited),
        )
        .await
        .unwrap();
    let (_, err) = drain(&mut tail).await;
    assert!(err.is_some_and(|e| e.is_limit()));
    // An idle time-out.
    server.set_tail_fault(
        JOB,
        TailFault::silent_for(2, std::time::Duration::from_secs(10)).times(1),
    );
    let mut tail = client
        .tail_job_logs(
            JOB,
            TailOptions::new()
                .protocol(Protocol::Http)
                .timeout(common::IDLE),
        )
        .await
        .unwrap();
    let (_, err) = drain(&mut tail).await;
    assert!(err.is_some_and(|e| e.is_timeout()));
    // Let the tails' tasks record their ends.
    common::wait_until("the tails' end events", || {
        seen()
            .iter()
            .filter(|l| l.contains("agent.tail.end"))
            .count()
            >= 5
    })
    .await;

    let seen = seen();
    let all = seen.join("\n");
    for secret in [AGENT, USER, TENANT] {
        assert!(!all.contains(secret), "a token in the trace:\n{all}");
    }
    let has = |needle: &str| seen.iter().any(|l| l.contains(needle));
    // The request span: method, route template (no id), attempts, status, latency.
    assert!(has("span") && has("agent.request"), "{all}");
    assert!(has("route=jobs/{id}/"), "{all}");
    assert!(!all.contains(&format!("route=jobs/{JOB}")), "{all}");
    assert!(has("http.method=GET"), "{all}");
    assert!(has("attempt=2"), "{all}");
    assert!(has("status=200") && has("status=401"), "{all}");
    assert!(has("latency_ms="), "{all}");
    // The retry: its reason and wait, no server text.
    assert!(
        seen.iter().any(|l| l.contains("agent.retry")
            && l.contains("reason=status 503")
            && l.contains("wait_ms=")),
        "{all}"
    );
    // The tails.
    assert!(has("agent.tail.fallback"), "{all}");
    assert!(has("agent.tail.resume"), "{all}");
    assert!(has("agent.tail.limit"), "{all}");
    assert!(has("agent.tail.idle_timeout"), "{all}");
    assert!(
        seen.iter().any(|l| l.contains("agent.tail.end")
            && l.contains("outcome=complete")
            && l.contains("delivered=30")),
        "{all}"
    );
}
