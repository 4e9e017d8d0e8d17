//! Numbered lines and start positions (`?from_line=`, `Last-Event-ID`, `?tail=`)
//! against the real test agent, over both protocols (the spec's "Line numbers and
//! cursors", issue 22).

mod common;

use agent_testkit::{generated_line, AgentTestServer, JobSpec};
use common::*;
use fastwebsockets::FragmentCollector;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum Proto {
    Ws,
    Http,
    /// HTTP with `Last-Event-ID: K-1` instead of `?from_line=K`.
    LastEventId,
}

/// The lines a log message holds (the server's counting: `\n`-ended lines plus an
/// unended last one; an empty message is one empty line).
fn message_lines(m: &str) -> Vec<String> {
    if m.is_empty() {
        vec![String::new()]
    } else {
        m.split_terminator('\n').map(str::to_owned).collect()
    }
}

/// What a tail delivered: each line with its number (`None` when unnumbered), and
/// whether it ended with `complete`.
struct Delivered {
    lines: Vec<(String, Option<u64>)>,
    /// The raw events, for the checks on their shape.
    events: Vec<Value>,
    complete: bool,
}

fn delivered(events: Vec<Value>) -> Delivered {
    let mut lines = Vec::new();
    for e in &events {
        if e["type"] != "log" {
            continue;
        }
        let n = e.get("n").map(|n| n.as_u64().expect("n is a number"));
        for (i, l) in message_lines(e["message"].as_str().unwrap())
            .into_iter()
            .enumerate()
        {
            lines.push((l, n.map(|n| n + i as u64)));
        }
    }
    let complete = events.last().is_some_and(|e| e["type"] == "complete");
    Delivered {
        lines,
        events,
        complete,
    }
}

/// A whole tail of `job` over `proto`, with `query` (e.g. `from_line=3`).
async fn tail(s: &AgentTestServer, job: &str, proto: Proto, query: &str) -> Delivered {
    match proto {
        Proto::Ws => {
            let ws = ws_connect(
                s.local_addr(),
                &format!("/jobs/{job}/logs/?{query}"),
                Some(s.token()),
            )
            .await
            .unwrap();
            let t = ws_read_all(ws).await;
            assert_eq!(t.error, None);
            delivered(t.events())
        }
        Proto::Http | Proto::LastEventId => {
            let http = Http::new(s.url(), Some(s.token()));
            let res = match (proto, query.strip_prefix("from_line=")) {
                (Proto::LastEventId, Some(k)) => {
                    let id = k.parse::<u64>().unwrap() - 1;
                    let req = http
                        .request(Method::GET, &format!("jobs/{job}/logs/stream/"))
                        .header("Last-Event-ID", id.to_string())
                        .body(Full::new(bytes::Bytes::new()))
                        .unwrap();
                    http.send(req).await
                }
                _ => {
                    http.stream(&format!("jobs/{job}/logs/stream/?{query}"))
                        .await
                }
            };
            assert_eq!(res.status(), StatusCode::OK);
            let (lines, complete) = stream_lines(res).await;
            assert!(complete);
            assert!(
                lines
                    .iter()
                    .all(|l| l.is_empty() || l.starts_with("data: {")),
                "only data: events and blank lines, never id: or comments: {lines:?}"
            );
            delivered(sse_events(&lines))
        }
    }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A log: lines, some empty.
fn log_lines() -> impl Strategy<Value = Vec<String>> {
    let line = prop_oneof![1 => Just(String::new()), 3 => "[a-z ]{1,8}"];
    prop::collection::vec(line, 0..14)
}

fn proto() -> impl Strategy<Value = Proto> {
    prop_oneof![Just(Proto::Ws), Just(Proto::Http), Just(Proto::LastEventId)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A whole tail numbers its lines exactly 1.. in order with no gap; from_line=K
    /// (or Last-Event-ID: K-1) delivers exactly lines K..; tail=N exactly the last
    /// min(N, len); each ends with `complete`.
    #[test]
    fn numbers_and_starts_over_both_protocols(
        lines in log_lines(),
        batch in 1usize..4,
        k in 1u64..18,
        n in 0u64..18,
        proto in proto(),
    ) {
        run(async {
            let s = AgentTestServer::builder()
                .job(JobSpec::new("j").lines(lines.clone()).tail_batch(batch))
                .build()
                .await
                .unwrap();
            let numbered = |from: u64, count: usize| -> Vec<(String, Option<u64>)> {
                lines
                    .iter()
                    .cloned()
                    .zip((1u64..).map(Some))
                    .skip(from as usize - 1)
                    .take(count)
                    .collect()
            };

            let whole = tail(&s, "j", proto, "").await;
            prop_assert!(whole.complete);
            prop_assert_eq!(whole.lines, numbered(1, lines.len()));

            let from = tail(&s, "j", proto, &format!("from_line={k}")).await;
            prop_assert!(from.complete);
            prop_assert_eq!(&from.lines, &numbered(k.min(lines.len() as u64 + 1), lines.len()));
            // the start was honoured: the first event carries the number asked for
            if let Some(first) = from.events.first().filter(|e| e["type"] == "log") {
                prop_assert_eq!(first["n"].as_u64(), Some(k));
            }

            if !matches!(proto, Proto::LastEventId) {
                let last = tail(&s, "j", proto, &format!("tail={n}")).await;
                prop_assert!(last.complete);
                let keep = (n as usize).min(lines.len());
                prop_assert_eq!(last.lines, numbered(lines.len() as u64 - keep as u64 + 1, keep));
            }
            Ok(())
        })?;
    }

    /// `jobs/{id}/logs/?tail=N` answers the last N lines of the log so far.
    #[test]
    fn job_logs_answers_the_last_lines(lines in log_lines(), n in 0u64..18) {
        run(async {
            let s = AgentTestServer::builder()
                .job(JobSpec::new("j").lines(lines.clone()))
                .build()
                .await
                .unwrap();
            let http = Http::new(s.url(), Some(s.token()));
            let a = http.get(&format!("jobs/j/logs/?tail={n}")).await;
            prop_assert_eq!(a.status, StatusCode::OK);
            let keep = (n as usize).min(lines.len());
            let want: String = lines[lines.len() - keep..]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect();
            prop_assert_eq!(a.json(), Value::String(want));
            Ok(())
        })?;
    }
}

/// tail=N starts with the last N lines written so far, then follows the job to its
/// end, numbering on.
#[tokio::test]
async fn tail_n_then_follows() {
    let s = AgentTestServer::builder()
        .job(
            JobSpec::new("j")
                .lines(["1", "2", "3", "4"])
                .keeps_running(),
        )
        .build()
        .await
        .unwrap();
    let ws = ws_connect(s.local_addr(), "/jobs/j/logs/?tail=2", Some(s.token()))
        .await
        .unwrap();
    let mut ws = FragmentCollector::new(ws);
    let http = Http::new(s.url(), Some(s.token()));
    let stream = http.stream("jobs/j/logs/stream/?tail=2").await;
    for (want, n) in [("3", 3), ("4", 4)] {
        let ev: Value = serde_json::from_str(&ws_next_text(&mut ws).await).unwrap();
        assert_eq!(ev["message"], want);
        assert_eq!(ev["n"], n);
    }
    assert!(s.append_lines("j", ["5"]));
    assert!(s.finish_job("j"));
    let rest = delivered(ws_read_rest(&mut ws).await.events());
    assert!(rest.complete);
    assert_eq!(rest.lines, [("5".to_owned(), Some(5))]);
    let (lines, complete) = stream_lines(stream).await;
    assert!(complete);
    let d = delivered(sse_events(&lines));
    assert!(d.complete);
    let want: Vec<_> = [("3", 3), ("4", 4), ("5", 5)]
        .into_iter()
        .map(|(l, n)| (l.to_owned(), Some(n)))
        .collect();
    assert_eq!(d.lines, want);
}

/// A start past the end waits for that line: lines before it are never sent.
#[tokio::test]
async fn a_start_past_the_end_waits_for_its_line() {
    let s = AgentTestServer::builder()
        .job(JobSpec::new("j").lines(["1", "2"]).keeps_running())
        .build()
        .await
        .unwrap();
    let ws = ws_connect(s.local_addr(), "/jobs/j/logs/?from_line=4", Some(s.token()))
        .await
        .unwrap();
    let mut ws = FragmentCollector::new(ws);
    assert!(s.append_lines("j", ["3", "4", "5"]));
    assert!(s.finish_job("j"));
    let d = delivered(ws_read_rest(&mut ws).await.events());
    assert!(d.complete);
    assert_eq!(
        d.lines,
        [("4".to_owned(), Some(4)), ("5".to_owned(), Some(5))]
    );
}

/// Resuming near the end of a 10,000,000-line log sends only the lines asked for.
#[tokio::test]
async fn resuming_near_the_end_of_a_huge_log_moves_only_the_rest() {
    let s = AgentTestServer::builder()
        .job(JobSpec::new("big").generate(10_000_000, 0))
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    let res = http.stream("jobs/big/logs/stream/?from_line=9999001").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(body.len() < 1024 * 1024, "{} bytes", body.len());
    let text = String::from_utf8_lossy(&body).into_owned();
    let lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let d = delivered(sse_events(&lines));
    assert!(d.complete);
    assert_eq!(d.lines.len(), 1000);
    assert_eq!(
        d.lines[0],
        (generated_line(9_999_000, 0), Some(9_999_001)),
        "generated lines count from 0"
    );
    assert_eq!(d.lines[999].1, Some(10_000_000));

    let a = http.get("jobs/big/logs/?tail=3").await;
    let want: String = (9_999_997..10_000_000)
        .map(|i| format!("{}\n", generated_line(i, 0)))
        .collect();
    assert_eq!(a.json(), Value::String(want));
}

/// A bad start is a 400 with the SDK's error shape (`{"detail": ...}`), before any
/// upgrade.
#[tokio::test]
async fn a_bad_start_is_a_400() {
    let s = AgentTestServer::builder()
        .job(JobSpec::new("j").lines(["1"]))
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    for q in [
        "from_line=0",
        "from_line=x",
        "tail=-1",
        "tail=1&from_line=1",
    ] {
        let a = http.get(&format!("jobs/j/logs/stream/?{q}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(a.json()["detail"].is_string(), "{q}");
        let (status, body) = ws_connect(
            s.local_addr(),
            &format!("/jobs/j/logs/?{q}"),
            Some(s.token()),
        )
        .await
        .err()
        .expect("refused");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["detail"].is_string(), "{q}");
    }
    let a = http.get("jobs/j/logs/?tail=x").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let req = http
        .request(Method::GET, "jobs/j/logs/stream/")
        .header("Last-Event-ID", "nope")
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(http.send(req).await.status(), StatusCode::BAD_REQUEST);
}
