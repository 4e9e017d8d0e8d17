//! Log tails from both clients over WebSocket, HTTP streaming and `auto`, against
//! every tail fault the test server offers: mid-stream drops, refused upgrades,
//! `error` events, silences, oversized and non-JSON messages, endless lines, invalid
//! UTF-8, and the stream limits. Compared against the job's whole log as the test
//! server holds it: no line twice, none lost silently, and an end that is never a
//! silent success when the log did not complete.

mod common;

use agent_client_async::{AsyncAgentClient, ClientError, Protocol, StreamLimits, TailOptions};
use agent_client_blocking::AgentClient;
use agent_proto::{LimitKind, TimeoutKind};
use agent_testkit::{AgentTestServer, Fault, JobSpec, RouteKind, TailFault};
use common::{
    async_client, blocking_client, drain, drain_blocking, lines, log_lines, next, on_thread,
    read_nothing_until, tail_async, tail_blocking, tail_both, take, wait_until, within, Outcome,
    Proxy, IDLE,
};
use std::collections::HashSet;
use std::time::Duration;

const JOB: &str = "raysubmit_tail1";
const ALL: [Protocol; 3] = [Protocol::WebSocket, Protocol::Http, Protocol::Auto];

fn opts(protocol: Protocol) -> TailOptions {
    TailOptions::new().protocol(protocol)
}

/// A server with one job of `n` generated lines and these tail faults.
async fn server_with(n: usize, faults: Vec<TailFault>) -> AgentTestServer {
    let mut job = JobSpec::new(JOB).lines(lines("tail", n));
    for f in faults {
        job = job.tail_fault(f);
    }
    AgentTestServer::builder().job(job).build().await.unwrap()
}

#[track_caller]
fn assert_complete(o: &Outcome, want: &[String]) {
    assert!(o.err.is_none(), "{:?}", o.err);
    assert_eq!(o.lines, want);
    assert_eq!(o.counters.delivered, want.len() as u64, "{:?}", o.counters);
}

#[track_caller]
fn assert_no_duplicates(lines: &[String]) {
    let mut seen = HashSet::new();
    for l in lines {
        assert!(seen.insert(l), "line delivered twice: {l}");
    }
}

// ---------------------------------------------------------------- whole logs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_gives_the_same_lines_everywhere() {
    let server = AgentTestServer::sample()
        .job(JobSpec::new(JOB).generate(200, 60))
        .build()
        .await
        .unwrap();
    for job in [JOB, "raysubmit_capture1", "raysubmit_failed1"] {
        let want = log_lines(&server.handle(), job);
        assert!(!want.is_empty());
        for p in ALL {
            for o in tail_both(&server, job, opts(p)).await {
                assert_complete(&o, &want);
                let expected = if p == Protocol::Http {
                    Protocol::Http
                } else {
                    Protocol::WebSocket
                };
                assert_eq!(o.protocol, expected, "{job} {p}");
                assert_eq!(o.counters.skipped_oversized, 0);
            }
        }
    }
}

/// Ray batches several lines per message; a batch is split into its lines on both
/// protocols, so both protocols and both clients agree, line by line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_messages_are_the_same_over_both_protocols() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).lines(lines("b", 30)).tail_batch(4))
        .build()
        .await
        .unwrap();
    let mut seen = Vec::new();
    for p in ALL {
        for o in tail_both(&server, JOB, opts(p)).await {
            assert!(o.err.is_none(), "{p}: {:?}", o.err);
            seen.push(o.lines);
        }
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    assert_eq!(seen[0], lines("b", 30));
}

/// A running job is followed as it writes, and the tail ends when it finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_is_followed_to_its_end() {
    let mut builder = AgentTestServer::builder();
    for p in ALL {
        for who in ["a", "b"] {
            builder = builder.job(
                JobSpec::new(format!("raysubmit_{who}_{p}"))
                    .lines(lines("first", 5))
                    .keeps_running(),
            );
        }
    }
    let server = builder.build().await.unwrap();
    let a = async_client(&server);
    let b = blocking_client(&server);
    for p in ALL {
        let job = format!("raysubmit_a_{p}");
        let mut t = a.tail_job_logs(&job, opts(p)).await.unwrap();
        assert_eq!(take(&mut t, 5).await, lines("first", 5));
        server.append_lines(&job, lines("then", 5));
        assert_eq!(take(&mut t, 5).await, lines("then", 5));
        assert!(server.finish_job(&job));
        let (rest, err) = drain(&mut t).await;
        assert!(rest.is_empty() && err.is_none(), "{p}: {rest:?} {err:?}");

        let job = format!("raysubmit_b_{p}");
        let (b, handle) = (b.clone(), server.handle());
        on_thread(move || {
            let mut t = b.tail_job_logs(&job, opts(p)).unwrap();
            let first: Vec<String> = t.by_ref().take(5).map(Result::unwrap).collect();
            assert_eq!(first, lines("first", 5));
            handle.append_lines(&job, lines("then", 5));
            let then: Vec<String> = t.by_ref().take(5).map(Result::unwrap).collect();
            assert_eq!(then, lines("then", 5));
            assert!(handle.finish_job(&job));
            let (rest, err) = drain_blocking(&mut t);
            assert!(rest.is_empty() && err.is_none(), "{p}: {rest:?} {err:?}");
        })
        .await;
    }
}

/// A job that writes at its own pace (pending first, then a line every 2 ms) is
/// read whole, whatever the protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_writing_at_its_own_pace_is_read_whole() {
    let mut builder = AgentTestServer::builder();
    for p in ALL {
        builder = builder.job(
            JobSpec::new(format!("raysubmit_{p}"))
                .generate(100, 50)
                .rate(500.0)
                .pending_for(Duration::from_millis(50)),
        );
    }
    let server = builder.build().await.unwrap();
    let a = async_client(&server);
    for p in ALL {
        let job = format!("raysubmit_{p}");
        let o = tail_async(&a, &job, opts(p)).await;
        assert_complete(&o, &log_lines(&server.handle(), &job));
        assert_eq!(o.lines.len(), 100);
    }
}

// ---------------------------------------------------------------- mid-stream drops

/// A WebSocket-only or HTTP-only tail whose connection drops mid-stream fails (503):
/// never a silent success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_mid_stream_is_an_error_under_a_fixed_protocol() {
    let server = server_with(
        100,
        vec![
            TailFault::drop_after(30).websocket_only(),
            TailFault::drop_after(40).http_only(),
        ],
    )
    .await;
    let want = lines("tail", 100);
    for (p, n) in [(Protocol::WebSocket, 30), (Protocol::Http, 40)] {
        for o in tail_both(&server, JOB, opts(p)).await {
            let e = o.err.as_ref().unwrap_or_else(|| panic!("{p}: silent end"));
            assert_eq!(e.status_code(), 503, "{p}: {e:?}");
            assert_eq!(o.lines, want[..n], "{p}");
        }
    }
    // an HTTP stream cut after some bytes, by the HTTP layer
    server.clear_tail_faults(JOB);
    server.set_fault(RouteKind::TailHttp, Fault::close_after_bytes(700));
    for o in tail_both(&server, JOB, opts(Protocol::Http)).await {
        let e = o.err.as_ref().expect("silent end");
        assert_eq!(e.status_code(), 503, "{e:?}");
        assert!(o.lines.len() < 100);
        assert_eq!(o.lines, want[..o.lines.len()]);
    }
}

/// Under `auto`, a WebSocket that drops mid-stream is resumed over HTTP: every line
/// once, in order, none lost ("we do better" 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_resumes_a_dropped_websocket_without_duplicates_or_losses() {
    let server = AgentTestServer::builder()
        .job(
            JobSpec::new(JOB)
                .generate(100, 40)
                .tail_fault(TailFault::drop_after(30).websocket_only()),
        )
        .job(
            JobSpec::new("raysubmit_batched")
                .lines(lines("batched", 40))
                .tail_batch(3)
                .tail_fault(TailFault::drop_after(5).websocket_only()),
        )
        .build()
        .await
        .unwrap();
    let want = log_lines(&server.handle(), JOB);
    for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
        assert_complete(&o, &want);
        assert_eq!(o.protocol, Protocol::Http);
        // The test agent numbers its lines: resumed at line 31, nothing replayed
        // (issue 22; a server that does not number replays, `tail_numbered.rs`).
        assert_eq!(o.counters.replayed, 0, "{:?}", o.counters);
    }
    assert_eq!(server.requests(RouteKind::TailWebSocket).len(), 2);
    assert_eq!(server.requests(RouteKind::TailHttp).len(), 2);

    // batches of three lines per message: split into lines, and resumed by lines
    for o in tail_both(&server, "raysubmit_batched", opts(Protocol::Auto)).await {
        assert_complete(&o, &lines("batched", 40));
        assert_eq!(o.protocol, Protocol::Http);
    }
}

/// The same while the job still runs: the resumed HTTP stream goes on following it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_resumes_a_running_job_and_follows_it() {
    let server = AgentTestServer::builder()
        .job(
            JobSpec::new(JOB)
                .lines(lines("early", 20))
                .keeps_running()
                .tail_fault(TailFault::drop_after(25).websocket_only()),
        )
        .build()
        .await
        .unwrap();
    let a = async_client(&server);
    let mut t = a.tail_job_logs(JOB, opts(Protocol::Auto)).await.unwrap();
    let mut got = take(&mut t, 20).await;
    assert_eq!(t.protocol_used(), Protocol::WebSocket);
    server.append_lines(JOB, lines("late", 10));
    got.extend(take(&mut t, 10).await);
    assert_eq!(t.protocol_used(), Protocol::Http);
    server.append_lines(JOB, lines("later", 3));
    got.extend(take(&mut t, 3).await);
    assert!(server.finish_job(JOB));
    let (rest, err) = drain(&mut t).await;
    assert!(rest.is_empty() && err.is_none(), "{rest:?} {err:?}");
    assert_no_duplicates(&got);
    assert_eq!(got, log_lines(&server.handle(), JOB));
}

/// When the fallback breaks too, the tail fails; what it delivered is a prefix of
/// the log without repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_fails_when_the_resumed_stream_breaks_too() {
    let server = server_with(
        100,
        vec![
            TailFault::drop_after(10).websocket_only(),
            TailFault::drop_after(20).http_only(),
        ],
    )
    .await;
    let want = lines("tail", 100);
    for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
        let e = o.err.as_ref().expect("silent end");
        assert_eq!(e.status_code(), 503, "{e:?}");
        assert_no_duplicates(&o.lines);
        // Resumed at line 11 (numbered lines, issue 22), the HTTP stream's 20
        // events are lines 11 to 30.
        assert_eq!(o.lines, want[..30]);
    }
}

/// The WebSocket saw an event the HTTP stream does not have (an oversized message):
/// resuming by events would lose a line, resuming by delivered lines is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_resumes_exactly_when_the_streams_differ_in_events() {
    let server = server_with(
        100,
        vec![
            TailFault::oversized(5, 20_000).websocket_only(),
            TailFault::drop_after(30).websocket_only(),
        ],
    )
    .await;
    let want = lines("tail", 100);
    for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
        assert_complete(&o, &want);
        assert_eq!(o.protocol, Protocol::Http);
        assert_eq!(o.counters.skipped_oversized, 1, "{:?}", o.counters);
    }
}

// ---------------------------------------------------------------- refused upgrades

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_websocket_falls_back_to_http_under_auto_only() {
    let server = server_with(20, vec![]).await;
    let want = lines("tail", 20);
    for status in [503, 500] {
        server.clear_faults();
        server.set_fault(RouteKind::TailWebSocket, Fault::status(status));
        for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
            assert_complete(&o, &want);
            assert_eq!(o.protocol, Protocol::Http);
        }
        let a = async_client(&server);
        let e = a
            .tail_job_logs(JOB, opts(Protocol::WebSocket))
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), status, "{e:?}");
        let b = blocking_client(&server);
        let e = on_thread(move || b.tail_job_logs(JOB, opts(Protocol::WebSocket)).map(drop))
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), status, "{e:?}");
    }
    // a refusal that is not 500/503 is final, also under auto: no HTTP attempt
    server.clear_faults();
    server.clear_journal();
    server.set_fault(
        RouteKind::TailWebSocket,
        Fault::json(403, serde_json::json!({"detail": "no logs for you"})),
    );
    let e = async_client(&server)
        .tail_job_logs(JOB, opts(Protocol::Auto))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Forbidden { .. }), "{e:?}");
    assert!(server.requests(RouteKind::TailHttp).is_empty());
}

// ---------------------------------------------------------------- error events

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_event_is_a_500_with_its_message() {
    let server = server_with(50, vec![TailFault::error_after(5, "the worker died")]).await;
    for p in ALL {
        for o in tail_both(&server, JOB, opts(p)).await {
            match &o.err {
                Some(ClientError::StreamFailed { message }) => {
                    assert_eq!(message, "the worker died")
                }
                other => panic!("{p}: {other:?}"),
            }
            assert_eq!(o.err.as_ref().unwrap().status_code(), 500);
            assert_eq!(o.lines, lines("tail", 5), "{p}");
        }
    }
    // under auto an error event is the agent's verdict, not a broken connection: no
    // fallback to HTTP
    assert_eq!(server.requests(RouteKind::TailHttp).len(), 2);
    assert_eq!(server.requests(RouteKind::TailWebSocket).len(), 4);
}

// ---------------------------------------------------------------- silences

/// A tail that receives nothing for its time-out fails with 408 (idle), distinct
/// from completion ("we do better" 2): an HTTP stream without even a heartbeat, or a
/// WebSocket whose server answers nothing, pings included (a frozen proxy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_longer_than_the_timeout_is_a_408_not_an_end() {
    #[track_caller]
    fn assert_idle(p: Protocol, lines_got: &[String], err: Option<&ClientError>) {
        match err {
            Some(ClientError::Timeout {
                kind: TimeoutKind::Idle,
                after,
            }) => assert_eq!(*after, IDLE),
            other => panic!("{p}: expected an idle time-out, got {other:?}"),
        }
        assert_eq!(lines_got, lines("tail", 3), "{p}");
    }
    let server = server_with(10, vec![TailFault::silent_for(3, Duration::from_secs(20))]).await;
    for o in tail_both(&server, JOB, opts(Protocol::Http).timeout(IDLE)).await {
        assert_idle(Protocol::Http, &o.lines, o.err.as_ref());
    }
    for p in [Protocol::WebSocket, Protocol::Auto] {
        let proxy = Proxy::start(server.local_addr()).await;
        let a = AsyncAgentClient::new(proxy.http_url(), server.token()).unwrap();
        let mut t = a.tail_job_logs(JOB, opts(p).timeout(IDLE)).await.unwrap();
        let mut got = take(&mut t, 3).await;
        proxy.freeze();
        let (rest, err) = drain(&mut t).await;
        got.extend(rest);
        assert_idle(p, &got, err.as_ref());

        let proxy = Proxy::start(server.local_addr()).await;
        let b = AgentClient::new(proxy.http_url(), server.token()).unwrap();
        let (got, err) = on_thread(move || {
            let mut t = b.tail_job_logs(JOB, opts(p).timeout(IDLE)).unwrap();
            let mut got: Vec<String> = t.by_ref().take(3).map(Result::unwrap).collect();
            proxy.freeze();
            let (rest, err) = drain_blocking(&mut t);
            got.extend(rest);
            (got, err)
        })
        .await;
        assert_idle(p, &got, err.as_ref());
    }
}

/// A silence shorter than the time-out is nothing: the tail completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_shorter_than_the_timeout_goes_on() {
    let server = server_with(
        10,
        vec![TailFault::silent_for(3, Duration::from_millis(200))],
    )
    .await;
    for p in ALL {
        for o in tail_both(&server, JOB, opts(p).timeout(Duration::from_secs(5))).await {
            assert_complete(&o, &lines("tail", 10));
        }
    }
}

/// Over a WebSocket, pings keep a quiet tail alive: a silence much longer than the
/// idle time-out, with pings more often than it, is not a time-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_keep_a_quiet_websocket_alive() {
    let server = server_with(
        10,
        vec![TailFault::silent_for(3, Duration::from_millis(1500))],
    )
    .await;
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .ping_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let b = AgentClient::builder(server.url(), server.token())
        .ping_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let o = opts(Protocol::WebSocket).timeout(Duration::from_millis(500));
    assert_complete(&tail_async(&a, JOB, o.clone()).await, &lines("tail", 10));
    assert_complete(&tail_blocking(&b, JOB, o).await, &lines("tail", 10));

    // a running job with nothing to say: alive while pinged, then more lines, then done
    server
        .add_job(
            JobSpec::new("raysubmit_quiet")
                .lines(["hello"])
                .keeps_running(),
        )
        .unwrap();
    let mut t = a
        .tail_job_logs(
            "raysubmit_quiet",
            opts(Protocol::WebSocket).timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    assert_eq!(take(&mut t, 1).await, ["hello"]);
    // three idle time-outs long, and still open
    let quiet = tokio::time::timeout(Duration::from_millis(1000), next(&mut t)).await;
    assert!(quiet.is_err(), "the quiet tail ended: {quiet:?}");
    server.append_lines("raysubmit_quiet", ["awake again"]);
    assert_eq!(take(&mut t, 1).await, ["awake again"]);
    server.finish_job("raysubmit_quiet");
    let (rest, err) = drain(&mut t).await;
    assert!(rest.is_empty() && err.is_none(), "{rest:?} {err:?}");
}

// ---------------------------------------------------------------- odd messages

/// An oversized message is skipped, counted, and the tail goes on (both protocols,
/// one frame or fragments; "we do better" 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_skipped_and_counted() {
    let want = lines("tail", 20);
    for fault in [
        TailFault::oversized(5, 20_000),
        TailFault::oversized(5, 64 * 1024).fragmented(1000),
    ] {
        // armed for every job's tails, while the server runs
        let server = server_with(20, vec![]).await;
        server.set_tail_fault_all(fault.clone());
        for p in ALL {
            for o in tail_both(&server, JOB, opts(p)).await {
                assert_complete(&o, &want);
                assert_eq!(
                    o.counters.skipped_oversized, 1,
                    "{fault:?} {p}: {:?}",
                    o.counters
                );
                assert!(o.counters.skipped_bytes >= 20_000, "{:?}", o.counters);
            }
        }
    }
    // a small max_message_size: the same rule with the caller's limit
    let server = server_with(20, vec![TailFault::oversized(5, 300)]).await;
    let small = StreamLimits {
        max_message_size: 200,
        ..StreamLimits::default()
    };
    for p in ALL {
        for o in tail_both(&server, JOB, opts(p).limits(small)).await {
            assert_complete(&o, &want);
            assert_eq!(o.counters.skipped_oversized, 1, "{p}: {:?}", o.counters);
        }
    }
}

/// Frames that are not JSON, and HTTP lines without `data:`, are log lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_are_not_json_are_lines() {
    let want = lines("tail", 15);
    for fault in [TailFault::not_json(), TailFault::bare_lines()] {
        // armed for every job's tails, from the builder
        let server = AgentTestServer::builder()
            .job(JobSpec::new(JOB).lines(lines("tail", 15)))
            .tail_fault(fault)
            .build()
            .await
            .unwrap();
        for p in ALL {
            for o in tail_both(&server, JOB, opts(p)).await {
                assert_complete(&o, &want);
            }
        }
    }
}

/// Checks a tail of `JOB` (8 lines, invalid UTF-8 after the third) over `p`.
async fn check_invalid_utf8(server: &AgentTestServer, p: Protocol) {
    for o in tail_both(server, JOB, opts(p)).await {
        assert!(o.err.is_none(), "{p}: {:?}", o.err);
        assert_eq!(o.lines.len(), 9, "{p}: {:?}", o.lines);
        assert_eq!(o.lines[..3], lines("tail", 8)[..3]);
        assert_eq!(o.lines[4..], lines("tail", 8)[3..]);
        let odd = &o.lines[3];
        assert!(
            odd.starts_with("invalid ") && odd.ends_with(" utf-8"),
            "{odd:?}"
        );
        assert!(odd.contains('\u{fffd}'), "{odd:?}");
        assert_eq!(o.counters.invalid_utf8, 1, "{p}: {:?}", o.counters);
    }
}

/// Invalid UTF-8 is delivered with U+FFFD and counted: HTTP, and `auto`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_replaced_and_counted_over_http_and_auto() {
    let server = server_with(8, vec![TailFault::invalid_utf8(3)]).await;
    check_invalid_utf8(&server, Protocol::Http).await;
    check_invalid_utf8(&server, Protocol::Auto).await;
}

/// Over a WebSocket alone, a text frame that is not UTF-8 breaks RFC 6455 (which
/// requires failing the connection): the tail ends with a clear 500 after the lines
/// before it, never silently and never with a line lost unnoticed. (`auto` resumes over
/// HTTP instead, above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_over_a_websocket_alone_is_a_clear_protocol_error() {
    let server = server_with(8, vec![TailFault::invalid_utf8(3)]).await;
    for o in tail_both(&server, JOB, opts(Protocol::WebSocket)).await {
        let e = o.err.as_ref().expect("an invalid frame passed silently");
        assert_eq!(e.status_code(), 500, "{e:?}");
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
        assert_eq!(o.lines, lines("tail", 8)[..3]);
    }
}

/// An endless line cannot grow the client's memory nor pass for log text: over a
/// WebSocket the message never completes and the idle time-out ends the tail; over
/// HTTP the line is skipped as it streams (megabytes go by, nothing is delivered, no
/// error and no end: a skipped line never ends a tail, issue 11 item 3) until the
/// caller drops the tail, which closes the connection. The memory this costs is
/// measured in `tail_memory.rs` (a binary of its own, for its counting allocator).
/// An endless line is skipped as it streams, on both protocols (issue 24: a
/// WebSocket message is split as its fragments arrive, as an HTTP body is): nothing
/// delivered, no error, no end claimed, while megabytes go by; dropping the tail
/// closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_line_is_bounded() {
    let server = server_with(10, vec![TailFault::endless_line(3)]).await;
    let small = StreamLimits {
        max_message_size: 1024,
        ..StreamLimits::default()
    };
    let proxy = Proxy::start(server.local_addr()).await;
    let a = AsyncAgentClient::new(proxy.http_url(), server.token()).unwrap();
    for p in [Protocol::WebSocket, Protocol::Http] {
        let before = proxy.down_bytes();
        let mut t = a
            .tail_job_logs(JOB, opts(p).limits(small).timeout(IDLE))
            .await
            .unwrap();
        assert_eq!(take(&mut t, 3).await, lines("tail", 3), "{p}");
        // nothing delivered, no error, no end claimed: the line is being skipped
        read_nothing_until(&mut t, "4 MiB of the endless line", || {
            proxy.down_bytes() > before + (4 << 20)
        })
        .await;
        assert_eq!(t.counters().delivered, 3, "{p}");
        drop(t);
        wait_until("the proxy to see the connection closed", || {
            proxy.open() == 0
        })
        .await;
    }
}

// ---------------------------------------------------------------- limits

/// The limits end a tail with 429 the same way over both protocols and from both
/// clients ("we do better" 4; issue 24, item 6): `max_messages`, `max_lines` and
/// `max_bytes`, each on both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_end_the_tail_with_429_on_both_protocols() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).generate(100, 50))
        .build()
        .await
        .unwrap();
    let want = log_lines(&server.handle(), JOB);
    let counts = StreamLimits {
        max_messages: 10,
        max_lines: 10,
        ..StreamLimits::default()
    };
    // One line per message: the 11th message is refused before its line.
    for (p, kind) in [
        (Protocol::WebSocket, LimitKind::Messages),
        (Protocol::Http, LimitKind::Messages),
        (Protocol::Auto, LimitKind::Messages),
    ] {
        for o in tail_both(&server, JOB, opts(p).limits(counts)).await {
            match &o.err {
                Some(ClientError::LimitExceeded { kind: k, limit: 10 }) => {
                    assert_eq!(*k, kind, "{p}")
                }
                other => panic!("{p}: {other:?}"),
            }
            assert_eq!(o.err.as_ref().unwrap().status_code(), 429);
            assert_eq!(o.lines, want[..10], "{p}");
        }
    }
    // a limit is not a broken connection: auto does not fall back
    assert!(server
        .requests(RouteKind::TailHttp)
        .iter()
        .all(|e| !e.upgrade));
    assert_eq!(server.requests(RouteKind::TailHttp).len(), 2);

    let bytes = StreamLimits {
        max_bytes: 500,
        ..StreamLimits::default()
    };
    for p in ALL {
        for o in tail_both(&server, JOB, opts(p).limits(bytes)).await {
            match &o.err {
                Some(ClientError::LimitExceeded {
                    kind: LimitKind::Bytes,
                    limit: 500,
                }) => {}
                other => panic!("{p}: {other:?}"),
            }
            // 10 lines of 50 bytes make 500: the 11th would cross the limit
            assert_eq!(o.lines, want[..10], "{p}");
            assert!(o.counters.delivered_bytes <= 500, "{:?}", o.counters);
        }
    }

    // the client's default limits apply when the tail sets none
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .stream_limits(counts)
        .build()
        .unwrap();
    let o = tail_async(&a, JOB, opts(Protocol::Http)).await;
    assert!(
        matches!(o.err, Some(ClientError::LimitExceeded { .. })),
        "{:?}",
        o.err
    );
    let b = AgentClient::builder(server.url(), server.token())
        .stream_limits(counts)
        .build()
        .unwrap();
    let o = tail_blocking(&b, JOB, opts(Protocol::WebSocket)).await;
    assert!(
        matches!(o.err, Some(ClientError::LimitExceeded { .. })),
        "{:?}",
        o.err
    );
}

// ---------------------------------------------------------------- connections

/// Dropping a tail closes its connection (the proxy in front of the server sees it
/// close), for both protocols and both clients; the next tail works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_tail_closes_its_connection() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).endless(30).rate(200.0))
        .build()
        .await
        .unwrap();
    for p in [Protocol::WebSocket, Protocol::Http] {
        let proxy = Proxy::start(server.local_addr()).await;
        let a = AsyncAgentClient::new(proxy.http_url(), server.token()).unwrap();
        let mut t = a.tail_job_logs(JOB, opts(p)).await.unwrap();
        take(&mut t, 2).await;
        assert_eq!(proxy.open(), 1);
        drop(t);
        wait_until("the async tail's connection to close", || proxy.open() == 0).await;

        let b = AgentClient::new(proxy.http_url(), server.token()).unwrap();
        let b2 = b.clone();
        let t = on_thread(move || {
            let mut t = b2.tail_job_logs(JOB, opts(p)).unwrap();
            t.next().unwrap().unwrap();
            t
        })
        .await;
        assert_eq!(proxy.open(), 1, "{p}");
        on_thread(move || drop(t)).await;
        wait_until("the blocking tail's connection to close", || {
            proxy.open() == 0
        })
        .await;

        // the next tail works
        let line = on_thread(move || b.tail_job_logs(JOB, opts(p)).unwrap().next().unwrap())
            .await
            .unwrap();
        assert!(line.starts_with("line 0"), "{line}");
    }
}

/// A consumer that stops reading stops the reader: with a queue of 16 the tail reads
/// ahead at most the queue and the one network chunk being handed over (the server
/// sends at most 64 KiB of events per chunk, so at most 64 KiB / 40 B lines), far
/// from the whole log; with a queue of 1 every line still arrives in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_holds_the_reader_back() {
    const LINES: u64 = 20_000;
    const ONE_CHUNK: u64 = 64 * 1024 / 40;
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).generate(LINES, 40))
        .build()
        .await
        .unwrap();
    let want = log_lines(&server.handle(), JOB);
    let a = async_client(&server);
    let counts_raised = StreamLimits {
        max_messages: LINES + 1,
        max_lines: 2 * LINES + 1,
        ..StreamLimits::default()
    };
    for p in [Protocol::WebSocket, Protocol::Http] {
        let queue = StreamLimits {
            queue_size: 16,
            ..counts_raised
        };
        let mut t = a.tail_job_logs(JOB, opts(p).limits(queue)).await.unwrap();
        let mut got = take(&mut t, 1).await;
        // give an unbounded reader ample time to run ahead
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ahead = t.counters().delivered;
        assert!(
            ahead <= 1 + 16 + ONE_CHUNK,
            "{p}: {ahead} lines read ahead of the consumer"
        );
        assert!(ahead < LINES / 4, "{p}: read {ahead} lines ahead");
        let (rest, err) = drain(&mut t).await;
        assert!(err.is_none(), "{err:?}");
        got.extend(rest);
        assert_eq!(got, want, "{p}");

        let one = StreamLimits {
            queue_size: 1,
            ..counts_raised
        };
        assert_complete(&tail_async(&a, JOB, opts(p).limits(one)).await, &want);
    }
}

/// What a tail of a closed client ends with: a 500 `Usage` error.
#[track_caller]
fn assert_ended_by_close(p: Protocol, err: Option<&ClientError>) {
    match err {
        Some(e @ ClientError::Usage { .. }) => assert_eq!(e.status_code(), 500, "{p}"),
        other => panic!("{p}: {other:?}"),
    }
}

/// Closing the client ends its open tails with an error (500), not a silent end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_client_ends_its_open_tails() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).endless(30).rate(200.0))
        .build()
        .await
        .unwrap();
    for p in [Protocol::WebSocket, Protocol::Http] {
        let a = async_client(&server);
        let mut t = a.tail_job_logs(JOB, opts(p)).await.unwrap();
        take(&mut t, 2).await;
        a.close().await;
        let (_, err) = drain(&mut t).await;
        assert_ended_by_close(p, err.as_ref());
        assert_eq!(a.list_jobs().await.unwrap_err().status_code(), 500);
    }
}

/// The blocking client's tails are read on the caller's thread: closing the client
/// from another thread while a tail waits in `next()` ends that tail with a 500, and
/// a tail read after the close gets one too; never a panic of a runtime that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_blocking_client_ends_tails_read_on_other_threads() {
    let server = AgentTestServer::builder()
        .job(JobSpec::new(JOB).endless(3).rate(2.0))
        .build()
        .await
        .unwrap();
    for p in [Protocol::WebSocket, Protocol::Http] {
        let b = blocking_client(&server);
        let (waiting, closer) = (b.clone(), b.clone());
        let ended = on_thread(move || {
            let mut t = waiting.tail_job_logs(JOB, opts(p)).unwrap();
            t.next().unwrap().unwrap();
            let closing = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                closer.close();
            });
            // Waits for lines that come slowly until the close ends it.
            let rest: Vec<_> = t.by_ref().collect();
            closing.join().unwrap();
            (rest, t.next())
        });
        let (rest, after) = ended.await;
        let last = rest.last().expect("the tail ended with an error");
        assert_ended_by_close(p, last.as_ref().err());
        assert!(after.is_none(), "{p}: {after:?}");

        let late = blocking_client(&server);
        let mut t = on_thread({
            let late = late.clone();
            move || late.tail_job_logs(JOB, opts(p)).unwrap()
        })
        .await;
        on_thread(move || late.close()).await;
        let next = on_thread(move || t.next())
            .await
            .expect("an error, not the end");
        assert_ended_by_close(p, next.as_ref().err());
    }
}

// ---------------------------------------------------------------- issue 11: tails that never lie

/// A job whose WebSocket tail sends exactly `ws` (frames) and is then dropped, and
/// whose HTTP tail sends exactly `http` (chunks) and completes.
async fn scripted(ws: &[&str], http: &[&str]) -> AgentTestServer {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let job = JobSpec::new(JOB)
        .lines(["(scripted)"])
        .tail_fault(TailFault::script(owned(ws), false).websocket_only())
        .tail_fault(TailFault::script(owned(http), true).http_only());
    AgentTestServer::builder().job(job).build().await.unwrap()
}

fn json_log(message: &str) -> String {
    serde_json::json!({"type": "log", "message": message}).to_string()
}

fn sse(payload: &str) -> String {
    format!("data: {payload}\n\n")
}

/// Item 1: `auto` resumes by delivered lines, whatever the events were: each case
/// of the issue delivers exactly the log, through both clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_resumes_by_delivered_lines_in_every_case_of_issue_11() {
    let tick = json_log("tick");
    let empty = json_log("");
    // (case, WebSocket frames before the drop, HTTP chunks, the log's lines)
    type Case<'a> = (&'a str, Vec<String>, Vec<String>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "JSON events, a blank line as an empty message, a drop after three",
            vec![tick.clone(), empty.clone(), tick.clone()],
            ["tick", "", "tick", "tick", "done"]
                .iter()
                .map(|l| sse(&json_log(l)))
                .collect(),
            vec!["tick", "tick", "tick", "done"],
        ),
        (
            "the same log as raw text frames",
            vec!["tick".into(), String::new(), "tick".into()],
            vec!["tick\n\ntick\ntick\ndone\n".into()],
            vec!["tick", "tick", "tick", "done"],
        ),
        (
            "two blank lines first, a drop before any line",
            vec![String::new(), empty.clone()],
            vec!["\n\nfirst\nsecond\nthird\n".into()],
            vec!["first", "second", "third"],
        ),
        (
            "Ray-style batch frames, one line per HTTP event",
            vec!["tick\ntick".into(), "tick".into()],
            (0..4).map(|_| sse(&json_log("tick"))).collect(),
            vec!["tick", "tick", "tick", "tick"],
        ),
        (
            "distinct lines with a blank one",
            vec![json_log("a"), empty.clone(), json_log("b")],
            vec!["a\n\nb\nc\ndone\n".into()],
            vec!["a", "b", "c", "done"],
        ),
    ];
    for (case, ws, http, want) in cases {
        let ws: Vec<&str> = ws.iter().map(String::as_str).collect();
        let http: Vec<&str> = http.iter().map(String::as_str).collect();
        let server = scripted(&ws, &http).await;
        for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
            assert!(o.err.is_none(), "{case}: {:?}", o.err);
            assert_eq!(o.lines, want, "{case}");
            assert_eq!(o.protocol, Protocol::Http, "{case}");
        }
    }
}

/// Item 1: a replay whose prefix truly differs fails with a 500 naming both causes,
/// after exactly the lines the WebSocket delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_fails_loudly_when_the_replay_differs() {
    let server = scripted(&["tick", "tick"], &["tick\ntock\ndone\n"]).await;
    for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
        let e = o.err.as_ref().expect("a differing replay passed silently");
        assert_eq!(e.status_code(), 500, "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("WebSocket tail broke"),
            "the WebSocket's cause: {text}"
        );
        assert!(
            text.contains("repeat or lose lines"),
            "the mismatch: {text}"
        );
        assert_eq!(o.lines, ["tick", "tick"]);
    }
    // A replay shorter than what was delivered: the same.
    let server = scripted(&["a", "b", "c"], &["a\nb\n"]).await;
    for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
        assert_eq!(o.err.as_ref().map(ClientError::status_code), Some(500));
        assert_eq!(o.lines, ["a", "b", "c"]);
    }
}

/// Item 2: a resume right after a line at `max_message_size` (a 100-byte raw frame,
/// or a JSON event of exactly 100 bytes, replayed as `data:` lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_a_line_at_max_message_size_goes_on() {
    let limits = StreamLimits {
        max_message_size: 100,
        ..StreamLimits::default()
    };
    let long = "L".repeat(100);
    let json100 = {
        let empty = json_log("").len();
        json_log(&"j".repeat(100 - empty))
    };
    assert_eq!(json100.len(), 100);
    let json_text = "j".repeat(100 - json_log("").len());
    for (ws, want_first) in [(long.clone(), long.clone()), (json100.clone(), json_text)] {
        let http = [sse(&ws), "data: after\n".into(), "data: end\n".into()];
        let http: Vec<&str> = http.iter().map(String::as_str).collect();
        let server = scripted(&[&ws], &http).await;
        for o in tail_both(&server, JOB, opts(Protocol::Auto).limits(limits)).await {
            assert!(o.err.is_none(), "{:?}", o.err);
            assert_eq!(o.lines, [want_first.as_str(), "after", "end"]);
        }
    }
}

/// Item 3: a line over `max_message_size` is skipped and never ends a tail, nor
/// counts toward `max_bytes`, however it is chunked and over either protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_line_never_ends_a_tail_whatever_the_chunking() {
    let limits = StreamLimits {
        max_bytes: 1000,
        max_message_size: 100,
        ..StreamLimits::default()
    };
    let body = format!("a\n{}\nb\n", "x".repeat(2000));
    let (head, rest) = body.split_at(1500);
    for http in [vec![body.as_str()], vec![head, rest]] {
        let server = scripted(&[], &http).await;
        for o in tail_both(&server, JOB, opts(Protocol::Http).limits(limits)).await {
            assert!(o.err.is_none(), "{:?}", o.err);
            assert_eq!(o.lines, ["a", "b"]);
            assert_eq!(o.counters.skipped_oversized, 1, "{:?}", o.counters);
        }
    }
    let big = "x".repeat(2000);
    let job = JobSpec::new(JOB).lines(["(scripted)"]).tail_fault(
        TailFault::script(["a".to_owned(), big, "b".to_owned()], true).websocket_only(),
    );
    let server = AgentTestServer::builder().job(job).build().await.unwrap();
    for o in tail_both(&server, JOB, opts(Protocol::WebSocket).limits(limits)).await {
        assert!(o.err.is_none(), "{:?}", o.err);
        assert_eq!(o.lines, ["a", "b"]);
        assert_eq!(o.counters.skipped_oversized, 1, "{:?}", o.counters);
    }
}

/// Item 4: a plain-lines HTTP stream (no SSE framing) that ends cleanly is the end
/// of the log; once it carried an SSE event, the same clean end is a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_lines_body_that_ends_cleanly_is_the_whole_log() {
    let want = lines("plain", 30);
    let body: String = want.iter().map(|l| format!("{l}\r\n")).collect();
    let server = server_with(1, vec![]).await;
    server.set_fault(RouteKind::TailHttp, Fault::text(200, body.clone()));
    for o in tail_both(&server, JOB, opts(Protocol::Http)).await {
        assert_complete(&o, &want);
    }
    let server = server_with(1, vec![]).await;
    server.set_fault(
        RouteKind::TailHttp,
        Fault::text(200, format!("{body}data: x\n")),
    );
    for o in tail_both(&server, JOB, opts(Protocol::Http)).await {
        assert_eq!(o.err.as_ref().map(ClientError::status_code), Some(503));
    }
}

/// Item 5: a 503 with `Retry-After` on opening is the server's 503 with its
/// `retry_after()`, however the waits compare with the idle time-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_on_opening_stays_a_503_whatever_the_idle_timeout() {
    let server = server_with(3, vec![]).await;
    server.set_fault(
        RouteKind::TailHttp,
        Fault::text(503, "busy").header("Retry-After", "1"),
    );
    // 3 retries waiting 1 s each: longer than the idle time-out.
    let o = opts(Protocol::Http).timeout(Duration::from_millis(1500));
    let a = async_client(&server);
    let e = within(a.tail_job_logs(JOB, o.clone())).await.unwrap_err();
    assert_eq!(e.status_code(), 503, "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)), "{e:?}");
    let b = blocking_client(&server);
    let e = on_thread(move || b.tail_job_logs(JOB, o).unwrap_err()).await;
    assert_eq!(e.status_code(), 503, "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)), "{e:?}");
}

/// Item 6: a failed HTTP resume keeps the HTTP answer's own status (a 429 with its
/// `Retry-After`, a 404), with the WebSocket's cause in the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resume_keeps_the_http_answers_status() {
    for (fault, status, retry) in [
        (
            Fault::text(429, "slow down").header("Retry-After", "7"),
            429,
            Some(Duration::from_secs(7)),
        ),
        (Fault::text(404, "no such job"), 404, None),
    ] {
        let server = server_with(10, vec![TailFault::drop_after(4).websocket_only()]).await;
        server.set_fault(RouteKind::TailHttp, fault);
        for o in tail_both(&server, JOB, opts(Protocol::Auto)).await {
            let e = o.err.as_ref().expect("a failed resume passed silently");
            assert_eq!(e.status_code(), status, "{e:?}");
            assert_eq!(e.retry_after(), retry, "{e:?}");
            assert!(e.to_string().contains("WebSocket tail broke"), "{e}");
            assert_eq!(o.lines, lines("tail", 10)[..4]);
        }
    }
}

/// Item 7: with the default ping interval (10 s), a quiet job on a live server is
/// not a 408 whatever the idle time-out: pings go at least every third of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_job_on_a_live_server_is_never_a_408() {
    let server = server_with(
        6,
        vec![TailFault::silent_for(3, Duration::from_millis(2500)).websocket_only()],
    )
    .await;
    let o = opts(Protocol::WebSocket).timeout(Duration::from_millis(900));
    for o in tail_both(&server, JOB, o).await {
        assert_complete(&o, &lines("tail", 6));
    }
}

/// Item 8: one `Retry-After` parser everywhere: seconds of any size saturate (and are
/// capped at 60 s), an HTTP date counts on plain requests too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_read_one_way_everywhere() {
    let server = server_with(3, vec![]).await;
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .retry_policy(agent_client_async::RetryPolicy::none())
        .build()
        .unwrap();
    let b = AgentClient::builder(server.url(), server.token())
        .retry_policy(agent_client_async::RetryPolicy::none())
        .build()
        .unwrap();
    let date = |secs: u64| {
        let at = std::time::SystemTime::now() + Duration::from_secs(secs);
        httpdate::fmt_http_date(at)
    };
    for (value, low, high) in [
        ("99999999999999999999999".to_owned(), 60, 60),
        ("120".to_owned(), 60, 60),
        (date(30), 25, 31),
        (date(3600), 60, 60),
    ] {
        for route in [RouteKind::TailHttp, RouteKind::GetJob] {
            server.set_fault(
                route,
                Fault::text(503, "busy")
                    .header("Retry-After", &value)
                    .times(2),
            );
        }
        let tail = within(a.tail_job_logs(JOB, opts(Protocol::Http))).await;
        let get = within(a.get_job(JOB)).await;
        let b2 = b.clone();
        let (btail, bget) = on_thread(move || {
            (
                b2.tail_job_logs(JOB, opts(Protocol::Http)).map(|_| ()),
                b2.get_job(JOB).map(|_| ()),
            )
        })
        .await;
        for e in [
            tail.map(|_| ()).unwrap_err(),
            get.map(|_| ()).unwrap_err(),
            btail.unwrap_err(),
            bget.unwrap_err(),
        ] {
            assert_eq!(e.status_code(), 503, "{e:?}");
            let secs = e.retry_after().expect("a Retry-After was read").as_secs();
            assert!((low..=high).contains(&secs), "{value}: {secs} s ({e})");
            assert!(e.to_string().contains("retry after"), "{e}");
        }
    }
}

/// Item 9: an error body padded so that the token straddles the 2,048-byte cut
/// never shows any start of the token, through both clients; and a short token
/// leaves messages readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_straddling_the_cut_of_an_error_never_shows() {
    let server = server_with(3, vec![]).await;
    let token = server.token().to_owned();
    assert!(token.len() >= 8, "the test needs a real token");
    let pad = agent_proto::error::MAX_ERROR_MESSAGE - token.len() / 2;
    let body = format!("{}{token} and the rest of the page", "p".repeat(pad));
    server.set_fault(RouteKind::TailHttp, Fault::text(500, body.clone()));
    server.set_fault(RouteKind::GetJob, Fault::text(500, body));
    let a = async_client(&server);
    let b = blocking_client(&server);
    let tail = within(a.tail_job_logs(JOB, opts(Protocol::Http))).await;
    let get = within(a.get_job(JOB)).await;
    let (btail, bget) = on_thread(move || {
        (
            b.tail_job_logs(JOB, opts(Protocol::Http)).map(|_| ()),
            b.get_job(JOB).map(|_| ()),
        )
    })
    .await;
    for e in [
        tail.map(|_| ()).unwrap_err(),
        get.map(|_| ()).unwrap_err(),
        btail.unwrap_err(),
        bget.unwrap_err(),
    ] {
        let text = format!("{e} {e:?}");
        assert_eq!(e.status_code(), 500);
        assert!(
            !text.contains(&token[..4]),
            "a start of the token shows: {text}"
        );
        assert!(text.contains("[redacted]"), "{text}");
    }
}
