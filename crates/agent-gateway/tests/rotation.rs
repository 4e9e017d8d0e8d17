//! A driver log rotated by copy-then-truncate (ray PR #65006: the active file is
//! copied to `.1`, older copies one number up, then truncated) read through the
//! gateway, against the stand-in Ray: whatever the points of rotation (before a
//! tail, while its sockets stream, before any log request of a read, the final
//! log's included), a tail sends every line exactly once, numbered as the whole
//! log's, then `complete`; `jobs/{id}/logs/` is the whole log and `?tail=N` its
//! last N lines, across the copies; lines truly gone (a copy deleted) are an
//! error, never other lines under their numbers.

mod support;

use agent_gateway::GatewayConfig;
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;
use std::time::Duration;
use support::standin::{self, Job, Log, Rotation, SocketStep, State};
use support::{block_on, raw_request, replayed, standin_gateway};

const TOKEN: &str = "tok";

/// What an SSE tail body held: its lines with their numbers, and how it ended
/// (`complete`, or the error's message).
#[derive(Debug)]
struct Tail {
    lines: Vec<(String, Option<u64>)>,
    end: Result<(), String>,
}

fn parse_tail(body: &str) -> Tail {
    let mut lines = Vec::new();
    let mut end = Err("no end event".to_owned());
    for l in body.split('\n').filter(|l| !l.is_empty()) {
        let Some(payload) = l.strip_prefix("data: ") else {
            continue; // comments (heartbeats), ids
        };
        let ev: Value = serde_json::from_str(payload).unwrap();
        match ev["type"].as_str() {
            Some("log") => {
                let n = ev.get("n").and_then(Value::as_u64);
                let m = ev["message"].as_str().unwrap();
                for (i, p) in m.split_terminator('\n').enumerate() {
                    lines.push((p.to_owned(), n.map(|n| n + i as u64)));
                }
            }
            Some("complete") => end = Ok(()),
            Some("error") => end = Err(ev["message"].as_str().unwrap_or("").to_owned()),
            other => panic!("unexpected event {other:?}"),
        }
    }
    Tail { lines, end }
}

async fn get(gw: &agent_gateway::Gateway, path: &str) -> (u16, String) {
    let headers = [("host", "gateway.test"), ("authorization", TOKEN)];
    raw_request(gw.local_addr(), "GET", path, &headers, "").await
}

async fn tail(gw: &agent_gateway::Gateway, id: &str) -> Tail {
    let (status, body) = get(gw, &format!("/jobs/{id}/logs/stream/")).await;
    assert_eq!(status, 200, "{body}");
    parse_tail(&body)
}

async fn whole_log(gw: &agent_gateway::Gateway, id: &str, query: &str) -> String {
    let (status, body) = get(gw, &format!("/jobs/{id}/logs/{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The lines of `log` as a tail sends them, numbered from 1.
fn numbered(log: &str) -> Vec<(String, Option<u64>)> {
    log.split_terminator('\n')
        .enumerate()
        .map(|(i, l)| (l.to_owned(), Some(i as u64 + 1)))
        .collect()
}

/// The last `n` lines of `log`.
fn last(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.split_inclusive('\n').collect();
    lines[lines.len().saturating_sub(n)..].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_rotated_before_it_is_read_is_read_whole_across_its_copies() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    let mut job = Job::new(Log::plain(log.clone()));
    job.rotate("line 1\nline 2\nline 3\n".len());
    job.rotate("line 4\nline 5\nli".len()); // mid-line, as a copy may cut it
    assert_eq!(job.backups.len(), 2);
    ray.add("raysubmit_rot", job);
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;

    // Ray's own Jobs API reads the active file only: the rotated lines are lost there
    let t = tail(&gw, "raysubmit_rot").await;
    assert_eq!(t.end, Ok(()));
    assert_eq!(t.lines, numbered(&log));
    assert_eq!(whole_log(&gw, "raysubmit_rot", "").await, log);
    // the last lines span the copy `.1` and the active file, and the copies
    for n in [1, 3, 5, 6, 8, 10, 11, 100] {
        assert_eq!(
            whole_log(&gw, "raysubmit_rot", &format!("?tail={n}")).await,
            last(&log, n),
            "tail={n}"
        );
    }
    // the copies were found through the listing, as Ray lists them
    assert!(ray.requested("/api/v0/logs?node_id=") > 0);
    assert!(ray.requested("/api/v0/logs/file?node_id=aaaa0000bbbb1111&filename=job-driver-raysubmit_rot.log.2&lines=-1") > 0);

    gw.shutdown().await;
    server.abort();
}

/// A rotation noticed before the first byte of `jobs/{id}/logs/` is a 503 (a client
/// retries it), then the log is read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_noticed_before_the_first_byte_is_a_503_then_the_log_is_whole() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: String = (1..=6).map(|i| format!("line {i}\n")).collect();
    let mut job = Job::new(Log::plain(log.clone()));
    job.rotate("line 1\n".len());
    // the log requests: the active file, the listing, `.1`'s last lines, the first
    // copy; then the check that no rotation came since: a rotation comes before it
    job.rotations = vec![Rotation {
        before_request: 5,
        at: "line 2\n".len(),
    }];
    ray.add("raysubmit_race", job);
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;

    let (status, body) = get(&gw, "/jobs/raysubmit_race/logs/").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("rotated the log"), "{body}");
    assert_eq!(whole_log(&gw, "raysubmit_race", "").await, log);

    // the oldest copy deleted (one copy kept) between the listing and its opening:
    // the rotation is the error, not Ray's "no such file"
    if let Some(j) = ray.jobs.lock().unwrap().get_mut("raysubmit_race") {
        j.max_backups = Some(1);
        j.log_requests = 0;
        j.rotations = vec![Rotation {
            before_request: 4,
            at: "line 3\n".len(),
        }];
    }
    let (status, body) = get(&gw, "/jobs/raysubmit_race/logs/").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("rotated the log"), "{body}");

    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_deleted_by_a_rotation_end_the_tail_with_an_error_not_renumbered() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: String = (1..=8).map(|i| format!("line {i}\n")).collect();
    let at = |s: &str| log.find(s).unwrap();
    let job = Job {
        finished: false,
        max_backups: Some(1),
        sockets: vec![
            // lines 1-3 sent; two rotations: the copy of lines 1-2 is deleted
            vec![
                SocketStep::Replay(Some(at("line 4"))),
                SocketStep::Rotate(at("line 3")),
                SocketStep::Rotate("line 3\n".len()),
                SocketStep::Close(1000),
            ],
            vec![
                SocketStep::Replay(None),
                SocketStep::Finish,
                SocketStep::Close(1000),
            ],
        ],
        ..Job::new(Log::plain(log.clone()))
    };
    ray.add("raysubmit_gone", job);
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;

    let t = tail(&gw, "raysubmit_gone").await;
    assert_eq!(
        t.lines,
        numbered(&log)[..3],
        "only the lines before the loss"
    );
    let e = t.end.unwrap_err();
    assert!(e.contains("gone"), "{e}");

    gw.shutdown().await;
    server.abort();
}

/// Ray's tail socket reads the file from a position: after a truncation it may send
/// the new file's bytes from the old position (lines out of place). The final log
/// then holds another line at the number of the last line sent: the tail ends with
/// an error, not `complete`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_read_past_a_truncation_ends_the_tail_with_an_error() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log: String = (1..=8).map(|i| format!("line {i}\n")).collect();
    let at = |s: &str| log.find(s).unwrap();
    let job = Job {
        finished: false,
        sockets: vec![vec![
            SocketStep::Replay(Some(at("line 4"))),
            SocketStep::Rotate(at("line 4")),
            SocketStep::Send(Bytes::from_static(b"line 6\nline 7\n")),
            SocketStep::Finish,
            SocketStep::Close(1000),
        ]],
        ..Job::new(Log::plain(log.clone()))
    };
    ray.add("raysubmit_stale", job);
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;

    let t = tail(&gw, "raysubmit_stale").await;
    let e = t.end.unwrap_err();
    assert!(e.contains("gone"), "{e}");
    assert_eq!(t.lines[..3], numbered(&log)[..3]);

    gw.shutdown().await;
    server.abort();
}

/// One generated case: a log, and where it rotates.
#[derive(Debug, Clone)]
struct Case {
    log: String,
    /// Rotations before the tail (bytes of the active file).
    before: Vec<usize>,
    /// The first socket replays this many bytes, may rotate, then closes early.
    first: (usize, Option<usize>),
    /// The second replays all or some, may rotate; the job ends (later ones replay
    /// all and do not rotate: the rotations are few, as Ray's, made at a size).
    second: (Option<usize>, Option<usize>),
    /// Rotations before the job's n-th log request (listings and file reads,
    /// those of the final log's read included).
    at_requests: Vec<(u32, usize)>,
}

fn case() -> impl Strategy<Value = Case> {
    let line = "[a-z]{0,12}";
    (prop::collection::vec(line, 1..24), any::<bool>()).prop_flat_map(|(words, unended)| {
        let mut log: String = words
            .iter()
            .enumerate()
            .map(|(i, w)| format!("line {i} {w}\n"))
            .collect();
        if unended {
            log.push_str("last line");
        }
        let len = log.len();
        let at = 0..=len;
        (
            Just(log),
            prop::collection::vec(at.clone(), 0..3),
            (at.clone(), prop::option::of(at.clone())),
            (prop::option::of(at.clone()), prop::option::of(at.clone())),
            prop::collection::vec((1u32..12, at), 0..3),
        )
            .prop_map(|(log, before, first, second, at_requests)| Case {
                log,
                before,
                first,
                second,
                at_requests,
            })
    })
}

proptest! {
    #![proptest_config(replayed(20))]

    /// Every line exactly once, numbered as the whole log's, then `complete`, over
    /// the gateway's HTTP tail, wherever the log rotates; then the whole log and
    /// its last lines are exactly the log's.
    #[test]
    fn every_line_exactly_once_wherever_the_log_rotates(case in case()) {
        block_on(async {
            let (ray, address, server) = standin::start(State::default()).await;
            let mut job = Job {
                finished: false,
                sockets: vec![
                    [SocketStep::Replay(Some(case.first.0))]
                        .into_iter()
                        .chain(case.first.1.map(SocketStep::Rotate))
                        .chain([SocketStep::Close(1000)])
                        .collect(),
                    [SocketStep::Replay(case.second.0)]
                        .into_iter()
                        .chain(case.second.1.map(SocketStep::Rotate))
                        .chain([
                            SocketStep::Finish,
                            SocketStep::Pause(Duration::from_millis(10)),
                            SocketStep::Close(1000),
                        ])
                        .collect(),
                    // every later socket (after a rotation the gateway saw): no rotation
                    vec![SocketStep::Replay(None), SocketStep::Finish, SocketStep::Close(1000)],
                ],
                rotations: case
                    .at_requests
                    .iter()
                    .map(|&(before_request, at)| Rotation { before_request, at })
                    .collect(),
                ..Job::new(Log::plain(Bytes::from(case.log.clone())))
            };
            for &at in &case.before {
                job.rotate(at);
            }
            ray.add("raysubmit_prop", job);
            let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;

            let t = tail(&gw, "raysubmit_prop").await;
            assert_eq!(t.end, Ok(()), "{case:?}");
            assert_eq!(t.lines, numbered(&case.log), "{case:?}");

            // no rotation to come: the whole log and its last lines, exactly
            if let Some(j) = ray.jobs.lock().unwrap().get_mut("raysubmit_prop") {
                j.rotations.clear();
            }
            assert_eq!(whole_log(&gw, "raysubmit_prop", "").await, case.log, "{case:?}");
            let lines = case.log.split_inclusive('\n').count();
            for n in [1, lines / 2 + 1, lines + 1] {
                let got = whole_log(&gw, "raysubmit_prop", &format!("?tail={n}")).await;
                assert_eq!(got, last(&case.log, n), "tail={n} {case:?}");
            }
            gw.shutdown().await;
            server.abort();
        });
    }
}

proptest! {
    #![proptest_config(replayed(48))]

    /// `jobs/{id}/logs/` and `?tail=N` of a log rotated anywhere (mid-line, empty
    /// copies, a copy of the whole active file), any number of times: exactly the
    /// log, and exactly its last N lines (across copies), each file read once
    /// per answer.
    #[test]
    fn the_whole_log_and_its_last_lines_across_any_copies(
        (log, cuts) in ("[a-z]{0,6}(\n[a-z ]{0,6}){0,12}\n?", prop::collection::vec(0usize..80, 0..6))
    ) {
        block_on(async {
            let (ray, address, server) = standin::start(State::default()).await;
            let mut job = Job::new(Log::plain(log.clone()));
            for at in cuts {
                job.rotate(at);
            }
            ray.add("raysubmit_cuts", job);
            let gw = standin_gateway(GatewayConfig::new(address, TOKEN)).await;
            assert_eq!(whole_log(&gw, "raysubmit_cuts", "").await, log);
            let lines = log.split_inclusive('\n').count();
            for n in 1..=lines + 1 {
                let got = whole_log(&gw, "raysubmit_cuts", &format!("?tail={n}")).await;
                assert_eq!(got, last(&log, n), "tail={n}");
            }
            gw.shutdown().await;
            server.abort();
        });
    }
}
