//! One upstream per job (issue 22, item 1), against the stand-in Ray: many tails
//! of a job cost Ray one tail socket, one read of the final log and a bounded
//! number of status reads; every subscriber gets exactly its lines, numbered, in
//! order, then `complete`, whether it keeps up (the ring), falls behind (the
//! spool) or the spool cannot serve it (its own Ray tail from its line); a
//! finished job is answered from the gateway for a while, and its raw log goes to
//! the `FinishedLogs` hook byte for byte.

mod support;

use agent_client_async::Protocol;
use agent_gateway::hub::{FinishedLog, FinishedLogs, HubSettings, JobHub};
use agent_gateway::lines::{decode, Line, LineSplitter};
use agent_gateway::{GatewayConfig, TailSettings};
use agent_proto::JobId;
use agent_server::{LogStart, TailEvent};
use bytes::Bytes;
use futures_util::StreamExt;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::standin::{self, Job, Log, SocketStep, State};
use support::{
    block_on, collect, numbered_lines, raw_request, replayed, standin_client, tail_options,
};

const TOKEN: &str = "tok";

fn tail_settings() -> TailSettings {
    TailSettings {
        status_interval: Duration::from_millis(50),
        reconnect_delay: Duration::from_millis(10),
        ..TailSettings::default()
    }
}

async fn gateway(address: &str, hub: HubSettings) -> agent_gateway::Gateway {
    let mut config = GatewayConfig::new(address, TOKEN).log_requests(false);
    config.tail = tail_settings();
    config.hub = hub;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    agent_gateway::Gateway::start(config, listener)
        .await
        .unwrap()
}

async fn get(gw: &agent_gateway::Gateway, path: &str) -> (u16, String) {
    let headers = [("host", "gateway.test"), ("authorization", TOKEN)];
    raw_request(gw.local_addr(), "GET", path, &headers, "").await
}

/// The lines of a log as the gateway sends them: every line of the file, an
/// oversized one as an empty message, invalid UTF-8 as U+FFFD.
fn lines_of(log: &[u8], max_line: usize) -> Vec<String> {
    let mut splitter = LineSplitter::new(max_line);
    let mut out = Vec::new();
    let mut keep = |l: Line<'_>| {
        out.push(match l {
            Line::Whole(b) => decode(b).into_owned(),
            Line::Oversized(_) => String::new(),
        })
    };
    splitter.push(log, &mut keep);
    splitter.finish(&mut keep);
    out
}

/// `n` tails at once over the gateway, a third each over the client's WebSocket
/// and HTTP tails and raw (numbered) SSE; each must get `lines` exactly, then
/// `complete`.
async fn hundred_tails(gw: &agent_gateway::Gateway, id: &str, lines: &[String], n: usize) {
    let mut tails = Vec::new();
    for i in 0..n {
        let url = gw.url();
        let addr = gw.local_addr();
        let id = id.to_owned();
        let lines = lines.to_vec();
        tails.push(tokio::spawn(async move {
            match i % 3 {
                0 | 1 => {
                    let protocol = if i % 3 == 0 {
                        Protocol::WebSocket
                    } else {
                        Protocol::Http
                    };
                    // a hundred handshakes at once on a busy machine: no
                    // connect time-out of 3 s
                    let client = agent_client_async::AsyncAgentClient::builder(url, TOKEN)
                        .stream_limits(agent_client_async::StreamLimits::unlimited())
                        .retry_policy(agent_client_async::RetryPolicy::none())
                        .connect_timeout(Duration::from_secs(60))
                        .build()
                        .unwrap();
                    let got = collect(&client, &id, tail_options(protocol))
                        .await
                        .unwrap_or_else(|e| panic!("{protocol} tail {i}: {e:?}"));
                    let shown: Vec<String> =
                        lines.iter().filter(|l| !l.is_empty()).cloned().collect();
                    assert_eq!(got, shown, "{protocol}");
                }
                _ => {
                    let headers = [("host", "gateway.test"), ("authorization", TOKEN)];
                    let path = format!("/jobs/{id}/logs/stream/");
                    let (status, body) = raw_request(addr, "GET", &path, &headers, "").await;
                    assert_eq!(status, 200);
                    let (got, complete) = numbered_lines(&body);
                    assert!(complete);
                    let want: Vec<(String, Option<u64>)> =
                        lines.iter().cloned().zip((1..).map(Some)).collect();
                    assert_eq!(got, want);
                }
            }
        }));
    }
    for t in tails {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_tails_of_a_finished_job_cost_ray_one_stream() {
    let (ray, address, server) = standin::start(State::default()).await;
    let lines: Vec<String> = (1..=3_000).map(|i| format!("line {i}")).collect();
    let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
    ray.add("raysubmit_f", Job::new(Log::plain(log)));
    let gw = gateway(&address, HubSettings::default()).await;

    hundred_tails(&gw, "raysubmit_f", &lines, 100).await;
    assert_eq!(ray.sockets("raysubmit_f"), 1, "one tail socket");
    assert_eq!(ray.requested("/api/v0/logs/file?"), 1, "one final-log read");
    let gets = ray.requested("/api/jobs/raysubmit_f?");
    assert!(
        gets <= 4,
        "{gets} job reads: one 404 check, the upstream's own"
    );

    // the hub holds the job now: a tail of it asks Ray nothing
    let before = ray.requested("/api/");
    hundred_tails(&gw, "raysubmit_f", &lines, 3).await;
    assert_eq!(ray.requested("/api/"), before);
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_tails_of_a_live_job_cost_ray_one_stream() {
    let (ray, address, server) = standin::start(State::default()).await;
    // every tenth line empty: numbered and counted, never shown by a client
    let lines: Vec<String> = (1..=2_000)
        .map(|i| {
            if i % 10 == 0 {
                String::new()
            } else {
                format!("live {i}")
            }
        })
        .collect();
    let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let half = log.len() / 2 + 3; // mid-line: the socket's batches are cut anywhere
    let mut job = Job::new(Log::plain(log.clone()));
    job.finished = false;
    job.sockets = vec![vec![
        SocketStep::Send(Bytes::copy_from_slice(&log.as_bytes()[..half])),
        SocketStep::Pause(Duration::from_millis(300)),
        SocketStep::Send(Bytes::copy_from_slice(&log.as_bytes()[half..])),
        SocketStep::Finish,
    ]];
    ray.add("raysubmit_l", job);
    let gw = gateway(&address, HubSettings::default()).await;

    hundred_tails(&gw, "raysubmit_l", &lines, 100).await;
    assert_eq!(ray.sockets("raysubmit_l"), 1, "one tail socket");
    assert_eq!(ray.requested("/api/v0/logs/file?"), 1, "one final-log read");
    // one 404 check, and the upstream's one status poll every 50 ms while the job
    // runs (not one per subscriber)
    let gets = ray.requested("/api/jobs/raysubmit_l?");
    assert!(gets < 100, "{gets} job reads");
    gw.shutdown().await;
    server.abort();
}

/// The first `n` numbered log events of an SSE tail at `path` (the job still
/// runs: the stream is left open, then dropped).
async fn first_events(addr: std::net::SocketAddr, path: &str, n: usize) -> Vec<(String, u64)> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: {TOKEN}\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut lines = tokio::io::BufReader::new(stream).lines();
    let mut got = Vec::new();
    while got.len() < n {
        let line = lines.next_line().await.unwrap().expect("the stream ended");
        if let Some(json) = line.strip_prefix("data: ") {
            let ev: serde_json::Value = serde_json::from_str(json).unwrap();
            if ev["type"] == "log" {
                let n = ev["n"].as_u64().unwrap();
                let lines = lines_in_message(ev["message"].as_str().unwrap());
                got.extend(lines.into_iter().zip(n..));
            }
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_n_of_a_live_job_starts_at_its_last_lines() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: String = (1..=50).map(|i| format!("line {i}\n")).collect();
    let mut job = Job::new(Log::plain(log.clone()));
    job.finished = false;
    job.sockets = vec![vec![
        SocketStep::Send(Bytes::from(log)),
        SocketStep::Pause(Duration::from_secs(3600)),
    ]];
    ray.add("raysubmit_t", job);
    let gw = gateway(&address, HubSettings::default()).await;
    // the hub does not follow the job yet: the start comes from Ray's count
    let path = "/jobs/raysubmit_t/logs/stream/?tail=3";
    let got = first_events(gw.local_addr(), path, 3).await;
    let want: Vec<(String, u64)> = (48..=50).map(|i| (format!("line {i}"), i)).collect();
    assert_eq!(got, want);
    drop(gw);
    server.abort();
}

/// Records what the hook gets, reading the file while it is called.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Seen>>);

/// The job, the log's bytes, its lines, its status.
type Seen = (String, Vec<u8>, u64, String);

impl FinishedLogs for Recorder {
    fn finished(&self, log: &FinishedLog) {
        let bytes = std::fs::read(&log.log).unwrap();
        let status = format!("{:?}", log.info.status);
        self.0
            .lock()
            .unwrap()
            .push((log.job.to_string(), bytes, log.lines, status));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_lingers_and_its_raw_log_goes_to_the_hook() {
    let (ray, address, server) = standin::start(State::default()).await;
    let long = "y".repeat(64);
    let log: Vec<u8> = [
        b"one\n\xff\xfe bad\n\n".as_ref(),
        long.as_bytes(),
        b"\r\nlast",
    ]
    .concat();
    // Ray's socket closes at once on a log that is not UTF-8: every line comes
    // from the final log
    ray.add("raysubmit_k", Job::new(Log::plain(log.clone())));
    let recorder = Arc::new(Recorder::default());
    let hub = HubSettings {
        finished_logs: Some(recorder.clone()),
        ..HubSettings::default()
    };
    let mut config = GatewayConfig::new(&address, TOKEN).log_requests(false);
    config.tail = TailSettings {
        max_message_size: 32,
        ..tail_settings()
    };
    config.hub = hub;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = agent_gateway::Gateway::start(config, listener)
        .await
        .unwrap();
    let want = lines_of(&log, 32);
    assert_eq!(want, ["one", "\u{FFFD}\u{FFFD} bad", "", "", "last"]);

    let (_, body) = get(&gw, "/jobs/raysubmit_k/logs/stream/").await;
    let (got, complete) = numbered_lines(&body);
    assert!(complete);
    let numbered: Vec<(String, Option<u64>)> = want.iter().cloned().zip((1..).map(Some)).collect();
    assert_eq!(got, numbered);
    let reads = ray.requested("/api/");

    // from the gateway, not Ray: tails from anywhere, the whole log, its end
    let (_, body) = get(&gw, "/jobs/raysubmit_k/logs/stream/?from_line=4").await;
    assert_eq!(numbered_lines(&body), (numbered[3..].to_vec(), true));
    let (_, body) = get(&gw, "/jobs/raysubmit_k/logs/stream/?tail=2").await;
    assert_eq!(numbered_lines(&body), (numbered[3..].to_vec(), true));
    let (status, body) = get(&gw, "/jobs/raysubmit_k/logs/").await;
    assert_eq!(status, 200);
    let whole: String = serde_json::from_str(&body).unwrap();
    assert_eq!(whole, String::from_utf8_lossy(&log));
    let (_, body) = get(&gw, "/jobs/raysubmit_k/logs/?tail=1").await;
    assert_eq!(serde_json::from_str::<String>(&body).unwrap(), "last");
    let (_, body) = get(&gw, "/jobs/raysubmit_k/logs/?tail=2").await;
    assert_eq!(
        serde_json::from_str::<String>(&body).unwrap(),
        format!("{long}\r\nlast")
    );
    // its final status too (agentctl reads it after a tail, for its exit code)
    let (status, body) = get(&gw, "/jobs/raysubmit_k/").await;
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["status"], "SUCCEEDED", "{info}");
    assert_eq!(ray.requested("/api/"), reads, "Ray was not asked again");

    // the hook got the raw log, byte for byte, once
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (job, bytes, lines, status) = &seen[0];
    assert_eq!(job, "raysubmit_k");
    assert_eq!(bytes, &log);
    assert_eq!(*lines, 5);
    assert!(
        status.contains("Succeeded") || status.contains("SUCCEEDED"),
        "{status}"
    );
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_final_read_starts_the_raw_log_over() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: Vec<u8> = [b"\xff not UTF-8\n".as_ref(), &b"line\n".repeat(200), b"end"].concat();
    let mut job = Job::new(Log::plain(log.clone()));
    // the first read of the file breaks off half-way; the retry gets it all
    job.file = standin::FileAnswer {
        cuts: vec![64],
        fail_after: Some(log.len() / 2),
        fail_answers: Some(1),
        ..standin::FileAnswer::default()
    };
    ray.add("raysubmit_r", job);
    let recorder = Arc::new(Recorder::default());
    let settings = HubSettings {
        finished_logs: Some(recorder.clone()),
        ..HubSettings::default()
    };
    let hub = hub_over(&address, tail_settings(), settings);
    let id = JobId::new("raysubmit_r").unwrap();
    let at = hub.subscribe(&id, LogStart::default()).await.unwrap();
    let (got, complete) = drain(at, None).await;
    assert!(complete);
    assert_eq!(got, lines_of(&log, agent_gateway::lines::DEFAULT_MAX_LINE));
    assert_eq!(ray.requested("/api/v0/logs/file?"), 2);
    // the hook runs after `complete`: wait for it
    while recorder.0.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].1 == log,
        "the raw log, from byte 0 of the retried read: {} bytes, want {}",
        seen[0].1.len(),
        log.len()
    );
    drop(hub);
    server.abort();
}

async fn metric(gw: &agent_gateway::Gateway, name: &str) -> i64 {
    let (status, body) = get(gw, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_metric_counts_open_ray_streams_and_returns_to_zero() {
    let (ray, address, server) = standin::start(State::quiet()).await;
    let hub = HubSettings {
        grace: Duration::from_millis(20),
        ..HubSettings::default()
    };
    let gw = gateway(&address, hub).await;
    assert_eq!(metric(&gw, "agent_gateway_upstream_tails").await, 0);

    let client = standin_client(gw.url(), TOKEN);
    let job = standin::QUIET_JOB;
    let a = client.tail_job_logs(job, tail_options(Protocol::WebSocket));
    let b = client.tail_job_logs(job, tail_options(Protocol::Http));
    let (a, b) = tokio::join!(a, b);
    let (a, b) = (a.unwrap(), b.unwrap());
    while ray.sockets(job) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(metric(&gw, "agent_gateway_upstream_tails").await, 1);
    assert_eq!(metric(&gw, "agent_gateway_hub_subscribers").await, 2);
    assert_eq!(ray.sockets(job), 1);

    // the last subscriber gone, the upstream closes Ray's socket (after the grace)
    drop((a, b));
    while metric(&gw, "agent_gateway_upstream_tails").await != 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(metric(&gw, "agent_gateway_hub_subscribers").await, 0);
    gw.shutdown().await;
    server.abort();
}

/// A hub of its own over the stand-in at `address`.
fn hub_over(address: &str, tail: TailSettings, settings: HubSettings) -> JobHub {
    let ray = agent_gateway::ray_client(&GatewayConfig::new(address, TOKEN)).unwrap();
    JobHub::new(ray, tail, settings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_hub_ends_its_upstreams() {
    let (ray, address, server) = standin::start(State::quiet()).await;
    let hub = hub_over(&address, tail_settings(), HubSettings::default());
    let gauges = hub.gauges();
    let job = JobId::new(standin::QUIET_JOB).unwrap();
    let mut at = hub.subscribe(&job, LogStart::default()).await.unwrap();
    while ray.sockets(standin::QUIET_JOB) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!((gauges.upstream_tails(), gauges.subscribers()), (1, 1));
    drop(hub);
    // the upstream's task is gone (its Ray socket with it); the subscriber stays
    // quiet (no event the log did not have) until its owner drops it
    while gauges.upstream_tails() != 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let quiet = tokio::time::timeout(Duration::from_millis(50), at.events.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");
    drop(at);
    assert_eq!(gauges.subscribers(), 0);
    server.abort();
}

/// One line of a generated log.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        6 => "[a-z ]{1,10}".prop_map(String::into_bytes),
        1 => Just(b"bad \xff\xfe!".to_vec()),
        1 => Just(vec![b'o'; 40]), // past max_message_size
    ]
}

/// How Ray's socket behaves.
#[derive(Debug, Clone)]
enum RaySocket {
    /// It sends the log (closing at once if not UTF-8), the job already finished.
    Plain,
    /// The first socket sends `cut` bytes and closes early, while the job runs;
    /// the next replays up to `lost` bytes from the end (losing them), then the
    /// job finishes and the connection drops.
    Lossy { cut: usize, lost: usize },
}

/// A subscriber: where it starts, whether it is read only once the log is
/// complete (falling behind a two-line ring), and after how many events it is
/// dropped.
#[derive(Debug, Clone)]
struct Sub {
    start: u64,
    slow: bool,
    dropped_after: Option<usize>,
}

fn sub() -> impl Strategy<Value = Sub> {
    (
        1u64..24,
        any::<bool>(),
        prop::option::weighted(0.2, 0usize..6),
    )
        .prop_map(|(start, slow, dropped_after)| Sub {
            start,
            slow,
            dropped_after,
        })
}

/// The lines of one message: several `\n`-ended ones, or one (maybe empty).
fn lines_in_message(m: &str) -> Vec<String> {
    if m.is_empty() {
        return vec![String::new()];
    }
    m.split_terminator('\n').map(str::to_owned).collect()
}

async fn drain(mut at: agent_server::TailAt, limit: Option<usize>) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut complete = false;
    while limit.is_none_or(|n| lines.len() < n) {
        match at.events.next().await {
            Some(TailEvent::Log(m)) => lines.extend(lines_in_message(&m)),
            Some(TailEvent::Complete) => complete = true,
            Some(other) => panic!("{other:?}"),
            None => break,
        }
    }
    (lines, complete)
}

proptest! {
    #![proptest_config(replayed(24))]

    /// Whatever the log, Ray's losses and the subscribers' pace: each surviving
    /// subscriber gets exactly the lines from its start, once, in order, then
    /// `complete` (from the ring, the spool, or with the spool capped, its own
    /// Ray tail); late subscribers of the finished job too.
    #[test]
    fn every_subscriber_gets_exactly_its_lines(
        lines in prop::collection::vec(line(), 0..30),
        unended in any::<bool>(),
        socket in prop_oneof![
            Just(RaySocket::Plain),
            (0usize..400, 0usize..60).prop_map(|(cut, lost)| RaySocket::Lossy { cut, lost }),
        ],
        subs in prop::collection::vec(sub(), 1..8),
        late in prop::collection::vec(1u64..24, 0..3),
        late_last in prop::option::of(0u64..12),
        spool_capped in any::<bool>(),
    ) {
        let mut log = lines.join(&b'\n');
        if !unended && !lines.is_empty() {
            log.push(b'\n');
        }
        let max_line = 32;
        let want = lines_of(&log, max_line);
        block_on(async {
            let (ray, address, server) = standin::start(State::default()).await;
            let mut job = Job::new(Log::plain(log.clone()));
            if let RaySocket::Lossy { cut, lost } = socket {
                let cut = cut.min(log.len());
                let kept = log.len() - lost.min(log.len());
                job.finished = false;
                job.sockets = vec![
                    vec![SocketStep::Send(Bytes::copy_from_slice(&log[..cut])), SocketStep::Close(1000)],
                    vec![SocketStep::Send(Bytes::copy_from_slice(&log[..kept])), SocketStep::Finish],
                ];
            }
            ray.add("raysubmit_p", job);
            let tail = TailSettings { max_message_size: max_line, ..tail_settings() };
            let settings = HubSettings {
                ring_lines: 2,
                ring_bytes: 64,
                spool_max_bytes: if spool_capped { 0 } else { 1 << 20 },
                ..HubSettings::default()
            };
            let hub = hub_over(&address, tail, settings);
            let id = JobId::new("raysubmit_p").unwrap();

            // everyone subscribes first; a fast reader from line 1 always runs
            let mut slow = Vec::new();
            let mut fast = Vec::new();
            let all = std::iter::once(Sub { start: 1, slow: false, dropped_after: None }).chain(subs);
            for s in all {
                let at = hub.subscribe(&id, LogStart::Line(s.start)).await.unwrap();
                prop_assert_eq!((at.first_line, at.from_line), (Some(s.start), s.start));
                if s.slow {
                    slow.push((s, at));
                } else {
                    fast.push((s.clone(), tokio::spawn(drain(at, s.dropped_after))));
                }
            }
            let expect = |s: &Sub| -> Vec<String> {
                want.iter().skip(s.start as usize - 1).cloned().collect()
            };
            // what one subscriber got: all its lines then complete, or, dropped
            // after n, at least n of them (a message may hold several lines)
            let check = |s: &Sub, got: Vec<String>, complete: bool| -> Result<(), TestCaseError> {
                match s.dropped_after {
                    Some(n) => {
                        prop_assert!(got.len() >= n.min(expect(s).len()));
                        prop_assert_eq!(&got[..], &expect(s)[..got.len()]);
                    }
                    None => {
                        prop_assert!(complete);
                        prop_assert_eq!(got, expect(s));
                    }
                }
                Ok(())
            };
            for (s, task) in fast {
                let (got, complete) = task.await.unwrap();
                check(&s, got, complete)?;
            }
            // the log is complete: the slow ones are far behind the ring
            let behind = slow
                .iter()
                .any(|(s, _)| s.dropped_after.is_none() && s.start + 2 <= want.len() as u64);
            for (s, at) in slow {
                let (got, complete) = drain(at, s.dropped_after).await;
                check(&s, got, complete)?;
            }
            for start in late {
                let at = hub.subscribe(&id, LogStart::Line(start)).await.unwrap();
                let (got, complete) = drain(at, None).await;
                prop_assert!(complete);
                let s = Sub { start, slow: true, dropped_after: None };
                prop_assert_eq!(got, expect(&s));
            }
            // (a job lingers, held by the hub, when its spool holds it all)
            if let (Some(n), false) = (late_last, spool_capped) {
                let at = hub.subscribe(&id, LogStart::Last(n)).await.unwrap();
                let first = (want.len() as u64).saturating_sub(n) + 1;
                prop_assert_eq!(at.first_line, Some(first));
                let (got, complete) = drain(at, None).await;
                prop_assert!(complete);
                prop_assert_eq!(got, want[first as usize - 1..].to_vec());
            }
            let reads = ray.requested("/api/v0/logs/file?");
            if spool_capped {
                // those behind the ring read Ray themselves
                prop_assert!(!behind || reads > 1, "{} reads", reads);
            } else {
                // every line came from the one upstream: the ring or the spool
                prop_assert_eq!(reads, 1);
            }
            drop(hub);
            server.abort();
            Ok(())
        })?;
    }
}
