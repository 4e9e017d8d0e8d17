//! The gateway's tail against a dashboard that misbehaves the way Ray is known to
//! (ray #46413, #48701, #60665), deterministically: a stand-in Ray on loopback whose
//! tail sockets end early (a normal close while the job runs, then a dropped
//! connection), cut batches mid-line, replay the log from the start on each new
//! socket, and lose the last lines of the finished job. Every line must still reach
//! the caller exactly once, in order, over both protocols, before `complete`.

use agent_client_async::{AsyncAgentClient, Protocol, RetryPolicy, StreamLimits, TailOptions};
use agent_gateway::{Gateway, GatewayConfig, TailSettings};
use agent_testkit::ray::{self, Job, Log, SocketStep, State};
use bytes::Bytes;
use futures_core::Stream;
use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

const LINES: usize = 30;

fn full_log() -> String {
    let mut log: String = (0..LINES).map(|i| format!("line {i}\n")).collect();
    log.push_str("last line");
    log
}

/// A RUNNING job whose tail sockets lose lines three ways, one per socket.
fn lossy_job() -> Job {
    let log = full_log();
    let send = |s: &str| SocketStep::Send(Bytes::from(s.to_owned()));
    let cut = log.find("line 2").unwrap() + 3;
    let pause = |ms| SocketStep::Pause(Duration::from_millis(ms));
    let mut third: Vec<SocketStep> = log[..log.find("line 12").unwrap()]
        .split_inclusive("1\n")
        .map(send)
        .collect();
    third.extend([SocketStep::Finish, pause(50), SocketStep::Close(1000)]);
    Job {
        finished: false,
        sockets: vec![
            // A batch cut mid-line, then a normal close while the job runs.
            vec![
                send(&log[..cut]),
                pause(20),
                send(&log[cut..log.find("line 4").unwrap()]),
                SocketStep::Close(1000),
            ],
            // The replay, batched otherwise, then the connection just drops.
            vec![send(&log[..log.find("line 6").unwrap()]), pause(20)],
            // A longer replay; the job ends; the last lines are never sent.
            third,
        ],
        ..Job::new(Log::plain(log.clone()))
    }
}

/// The stand-in Ray (agent_testkit::ray), with no log-file API and a job list that
/// fails with a stack trace.
async fn lossy_ray() -> (std::sync::Arc<State>, String, tokio::task::JoinHandle<()>) {
    let state = State {
        no_log_file_api: true,
        ..State::default()
    };
    state.answer(
        "api/jobs",
        500,
        "Traceback (most recent call last):\n  File \"job_head.py\", line 1, in list_jobs\nRuntimeError: GCS is down\n",
    );
    ray::start(state).await.unwrap()
}

async fn collect(client: &AsyncAgentClient, job: &str, protocol: Protocol) -> Vec<String> {
    let options = TailOptions::new()
        .protocol(protocol)
        .timeout(Duration::from_secs(30));
    let mut tail = client.tail_job_logs(job, options).await.unwrap();
    let mut lines = Vec::new();
    while let Some(line) = poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await {
        lines.push(line.unwrap());
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_once_although_ray_closes_early_and_loses_the_end() {
    let (ray, address, server) = lossy_ray().await;
    let mut config = GatewayConfig::new(address, "tok").log_requests(false);
    config.tail = TailSettings {
        status_interval: Duration::from_millis(40),
        reconnect_delay: Duration::from_millis(10),
        ..TailSettings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = Gateway::start(config, listener).await.unwrap();
    let client = AsyncAgentClient::builder(gw.url(), "tok")
        .stream_limits(StreamLimits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    let mut expected: Vec<String> = (0..LINES).map(|i| format!("line {i}")).collect();
    expected.push("last line".into());
    for (job, protocol) in [
        ("raysubmit_ws", Protocol::WebSocket),
        ("raysubmit_http", Protocol::Http),
        ("raysubmit_auto", Protocol::Auto),
    ] {
        ray.add(job, lossy_job());
        let lines = collect(&client, job, protocol).await;
        assert_eq!(lines, expected, "{protocol}");
        let sockets = ray.sockets(job);
        assert!(sockets >= 3, "{protocol}: only {sockets} sockets");
    }

    // Ray's errors: a 404 stays a 404 with Ray's words; a stack trace is cut to
    // its last line.
    let e = client.get_job("raysubmit_nope").await.unwrap_err();
    assert_eq!(e.status_code(), 404);
    assert!(
        e.to_string().contains("Job raysubmit_nope does not exist"),
        "{e}"
    );
    let e = client.list_jobs().await.unwrap_err();
    assert_eq!(e.status_code(), 500);
    let text = e.to_string();
    assert!(text.contains("RuntimeError: GCS is down"), "{text}");
    assert!(
        !text.contains("Traceback") && !text.contains("job_head.py"),
        "{text}"
    );

    gw.shutdown().await;
    server.abort();
}
