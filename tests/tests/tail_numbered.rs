//! Numbered lines on the client side (issue 22, items 2 and 3), against the test
//! agent on loopback: it numbers its lines (`"n"`) and honours `?from_line=` and
//! `?tail=`; with its `not_json` fault it sends plain, unnumbered lines, as a
//! server that does not number (the SDK's agent) does.
//!
//! - A WebSocket dropped mid-stream under `auto` resumes by number
//!   (`?from_line=K`, nothing replayed) on a numbering server, by the digest replay
//!   on one that does not: every line once, in order, on generated logs (empty
//!   lines, several lines per message) and generated drop points, with both
//!   clients.
//! - A resume near the end of a long log moves little (counted in bytes).
//! - Start positions (`TailStart`) are asked of the server, and known honoured
//!   only from the first event's number.

mod common;

use agent_client_async::{AsyncAgentClient, Protocol, StreamLimits, TailOptions, TailStart};
use agent_testkit::{AgentTestServer, JobSpec, RouteKind, TailFault};
use common::{async_client, blocking_client, drain, on_thread, tail_both, within, Proxy};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const JOB: &str = "raysubmit_numbered";

/// `from_line=K` of a journaled request's path, if any.
fn from_line(path: &str) -> Option<u64> {
    let query = path.split_once('?')?.1;
    agent_proto::query::param(Some(query), "from_line")?
        .parse()
        .ok()
}

#[derive(Debug, Clone)]
struct Case {
    log: Vec<String>,
    /// Lines per log message (as Ray batches them).
    batch: usize,
    /// The WebSocket drops after this many events.
    drop_after: u64,
    /// Whether the server numbers its lines.
    numbered: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(
            prop_oneof![2 => Just(String::new()), 1 => Just("tick".to_owned()), 4 => "[a-z .]{1,8}"],
            0..40,
        ),
        1usize..4,
        0u64..30,
        any::<bool>(),
    )
        .prop_map(|(log, batch, drop_after, numbered)| Case {
            log,
            batch,
            drop_after,
            numbered,
        })
}

async fn run_case(case: Case) -> Result<(), TestCaseError> {
    let mut job = JobSpec::new(JOB)
        .lines(case.log.clone())
        .tail_batch(case.batch)
        .tail_fault(TailFault::drop_after(case.drop_after).websocket_only());
    if !case.numbered {
        job = job.tail_fault(TailFault::not_json());
    }
    let server = AgentTestServer::builder().job(job).build().await.unwrap();
    let want: Vec<String> = case.log.iter().filter(|l| !l.is_empty()).cloned().collect();
    for o in tail_both(&server, JOB, TailOptions::new().protocol(Protocol::Auto)).await {
        prop_assert!(o.err.is_none(), "{:?}", o.err);
        prop_assert_eq!(&o.lines, &want);
        if case.numbered {
            prop_assert_eq!(o.counters.replayed, 0, "{:?}", o.counters);
        }
    }
    let total = case.log.len() as u64;
    for r in server.requests(RouteKind::TailHttp) {
        match from_line(&r.path) {
            // A resume by number asks for a line after the first, within the log.
            Some(k) => {
                prop_assert!(case.numbered, "{}", r.path);
                prop_assert!(k > 1 && k <= total + 1, "{} of {}", r.path, total);
            }
            None => prop_assert!(!case.numbered || case.drop_after == 0, "{}", r.path),
        }
    }
    Ok(())
}

/// Every line exactly once and in order across a dropped WebSocket, by number on a
/// numbering server (nothing replayed, the resume asks `from_line`), by the
/// digest replay on a server that does not number.
#[test]
fn a_dropped_websocket_resumes_by_number_or_by_replay() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |case| rt.block_on(run_case(case)))
        .unwrap();
}

/// The resume's own request: the next line counts the empty lines the client did
/// not deliver, and the counters show no replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resume_asks_for_the_next_line_counting_empty_ones() {
    // Lines 1..=6, two empty; the WebSocket drops after 4 events (lines 1..=4).
    let log = ["a", "", "b", "", "c", "d"];
    let server = AgentTestServer::builder()
        .job(
            JobSpec::new(JOB)
                .lines(log)
                .tail_fault(TailFault::drop_after(4).websocket_only()),
        )
        .build()
        .await
        .unwrap();
    let mut t = within(async_client(&server).tail_job_logs(JOB, TailOptions::new()))
        .await
        .unwrap();
    let (got, err) = drain(&mut t).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, ["a", "b", "c", "d"]);
    assert_eq!(t.counters().replayed, 0);
    let http = server.requests(RouteKind::TailHttp);
    assert_eq!(http.len(), 1);
    assert_eq!(from_line(&http[0].path), Some(5), "{}", http[0].path);
}

/// A resume near the end of a long log moves little: starting at line 999,001 of a
/// 1,000,000-line log brings its last 1,000 lines, not the log (bytes counted
/// through a proxy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_near_the_end_of_a_long_log_moves_little() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).generate(1_000_000, 20))
        .build()
        .await
        .unwrap();
    let proxy = Proxy::start(server.local_addr()).await;
    let client = AsyncAgentClient::new(proxy.http_url(), server.token()).unwrap();
    let opts = TailOptions::new()
        .protocol(Protocol::Http)
        .start(TailStart::FromLine(999_001));
    let mut t = within(client.tail_job_logs(JOB, opts)).await.unwrap();
    let (got, err) = drain(&mut t).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 1_000);
    assert_eq!(t.start_honoured(), Some(true));
    let moved = proxy.down_bytes();
    // about 60 bytes per numbered event: far under what the whole log would be
    // (tens of MB).
    assert!(moved < 256 * 1024, "{moved} bytes moved");
}

/// `TailStart::Last(N)` and `FromLine(K)` are asked of the server (`?tail=N`,
/// `?from_line=K`, on both protocols); a numbering server honours them. A server
/// that does not number sends the whole log: the tail says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_positions_are_asked_of_the_server_and_known_honoured() {
    let log: Vec<String> = (1..=50).map(|i| format!("line {i}")).collect();
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).lines(log.clone()))
        .job(
            JobSpec::new("raysubmit_plain")
                .lines(log.clone())
                .tail_fault(TailFault::not_json()),
        )
        .build()
        .await
        .unwrap();
    let client = async_client(&server);
    for protocol in [Protocol::WebSocket, Protocol::Http] {
        for (start, want, query) in [
            (TailStart::Last(5), &log[45..], "tail=5"),
            (TailStart::FromLine(48), &log[47..], "from_line=48"),
            (TailStart::Beginning, &log[..], ""),
        ] {
            let opts = TailOptions::new().protocol(protocol).start(start);
            let mut t = within(client.tail_job_logs(JOB, opts.clone()))
                .await
                .unwrap();
            let (got, err) = drain(&mut t).await;
            assert!(err.is_none(), "{err:?}");
            assert_eq!(got, want, "{protocol} {start:?}");
            assert_eq!(t.start_honoured(), Some(true), "{protocol} {start:?}");
            let route = match protocol {
                Protocol::WebSocket => RouteKind::TailWebSocket,
                _ => RouteKind::TailHttp,
            };
            let last = server.requests(route).pop().unwrap();
            assert!(last.path.ends_with(query), "{}", last.path);

            // The blocking client: the same, through the async tail.
            let blocking = blocking_client(&server);
            let o = opts.clone();
            let (got, honoured) = on_thread(move || {
                let mut t = blocking.tail_job_logs(JOB, o).unwrap();
                let got: Vec<String> = t.by_ref().collect::<Result<_, _>>().unwrap();
                (got, t.start_honoured())
            })
            .await;
            assert_eq!((got.as_slice(), honoured), (want, Some(true)));

            let mut t = within(client.tail_job_logs("raysubmit_plain", opts))
                .await
                .unwrap();
            let (got, err) = drain(&mut t).await;
            assert!(err.is_none(), "{err:?}");
            assert_eq!(got, log, "the whole log: the start was ignored");
            let honoured = start == TailStart::Beginning;
            assert_eq!(t.start_honoured(), Some(honoured), "{protocol} {start:?}");
        }
    }
}

/// A real resume near the end of a long log: the WebSocket of an `auto` tail of a
/// 1,000,000-line log drops after 999 events of 1,000 lines; the HTTP stream is
/// asked for line 999,001 and replays nothing (counted in events, not time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_near_the_end_of_a_long_log_replays_nothing() {
    let server = AgentTestServer::builder()
        .job(
            JobSpec::new(JOB)
                .generate(1_000_000, 10)
                .tail_batch(1_000)
                .tail_fault(TailFault::drop_after(999).websocket_only()),
        )
        .build()
        .await
        .unwrap();
    let opts = TailOptions::new().limits(StreamLimits::unlimited());
    let mut t = within(async_client(&server).tail_job_logs(JOB, opts))
        .await
        .unwrap();
    let mut delivered = 0u64;
    let mut batch = Vec::new();
    while let Some(got) = std::future::poll_fn(|cx| t.poll_next_batch(cx, &mut batch, 4096)).await {
        got.unwrap();
        delivered += batch.len() as u64;
        batch.clear();
    }
    assert_eq!(delivered, 1_000_000);
    assert_eq!(t.protocol_used(), Protocol::Http);
    let c = t.counters();
    assert_eq!(c.replayed, 0, "{c:?}");
    // 999 WebSocket events, then the HTTP stream's one event of 1,000 lines and
    // `complete`.
    assert_eq!(c.received, 1_001, "{c:?}");
    let http = server.requests(RouteKind::TailHttp);
    assert_eq!(from_line(&http[0].path), Some(999_001), "{}", http[0].path);
}
