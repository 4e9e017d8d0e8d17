//! The gateway's tail against a dashboard that misbehaves the way Ray is known to
//! (ray #46413, #48701, #60665), deterministically: a stand-in Ray on loopback whose
//! tail sockets end early (a normal close while the job runs, then a dropped
//! connection), cut batches mid-line, replay the log from the start on each new
//! socket, and lose the last lines of the finished job. Every line must still reach
//! the caller exactly once, in order, over both protocols, before `complete`.

use agent_client_async::{AsyncAgentClient, Protocol, RetryPolicy, StreamLimits, TailOptions};
use agent_gateway::{Gateway, GatewayConfig, TailSettings};
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload};
use futures_core::Stream;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LINES: usize = 30;

fn full_log() -> String {
    let mut log: String = (0..LINES).map(|i| format!("line {i}\n")).collect();
    log.push_str("last line");
    log
}

#[derive(Default)]
struct Job {
    sockets: u32,
    finished: bool,
}

#[derive(Default)]
struct LossyRay {
    jobs: Mutex<HashMap<String, Job>>,
}

impl LossyRay {
    fn status(&self, id: &str) -> Option<&'static str> {
        let jobs = self.jobs.lock().unwrap();
        jobs.get(id)
            .map(|j| if j.finished { "SUCCEEDED" } else { "RUNNING" })
    }
}

fn text(status: u16, body: impl Into<String>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body.into())))
        .unwrap()
}

async fn handle(
    ray: Arc<LossyRay>,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let answer = match parts.as_slice() {
        ["api", "version"] => text(200, r#"{"ray_version": "2.60.0"}"#),
        ["api", "gcs_healthz"] => text(200, "success"),
        ["api", "jobs", ""] | ["api", "jobs"] => text(
            500,
            "Traceback (most recent call last):\n  File \"job_head.py\", line 1, in list_jobs\nRuntimeError: GCS is down\n",
        ),
        ["api", "jobs", id] => match ray.status(id) {
            Some(s) => text(200, format!(r#"{{"submission_id": "{id}", "job_id": null, "status": "{s}", "entrypoint": "x"}}"#)),
            None => text(404, format!("Job {id} does not exist")),
        },
        ["api", "jobs", id, "logs"] => match ray.status(id) {
            Some(_) => text(200, serde_json::json!({ "logs": full_log() }).to_string()),
            None => text(404, format!("Job {id} does not exist")),
        },
        ["api", "jobs", id, "logs", "tail"] => {
            let id = id.to_string();
            let socket = {
                let mut jobs = ray.jobs.lock().unwrap();
                match jobs.get_mut(&id) {
                    Some(job) => {
                        job.sockets += 1;
                        job.sockets
                    }
                    None => return Ok(text(404, format!("Job {id} does not exist"))),
                }
            };
            let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut req).unwrap();
            let ray = Arc::clone(&ray);
            tokio::spawn(async move {
                let mut ws = upgrade.await.unwrap();
                let log = full_log();
                let send = |s: &str| Frame::text(Payload::Owned(s.as_bytes().to_vec()));
                match socket {
                    // A batch cut mid-line, then a normal close while the job runs.
                    1 => {
                        ws.write_frame(send(&log[..log.find("line 2").unwrap() + 3])).await.unwrap();
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let end = log.find("line 4").unwrap();
                        ws.write_frame(send(&log[log.find("line 2").unwrap() + 3..end])).await.unwrap();
                        ws.write_frame(Frame::close(1000, b"")).await.unwrap();
                    }
                    // The replay, batched otherwise, then the connection just drops.
                    2 => {
                        let end = log.find("line 6").unwrap();
                        ws.write_frame(send(&log[..end])).await.unwrap();
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        drop(ws);
                    }
                    // A longer replay; the job ends; the last lines are never sent.
                    _ => {
                        let end = log.find("line 12").unwrap();
                        for chunk in log[..end].split_inclusive("1\n") {
                            ws.write_frame(send(chunk)).await.unwrap();
                        }
                        ray.jobs.lock().unwrap().get_mut(&id).unwrap().finished = true;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let _ = ws.write_frame(Frame::new(true, OpCode::Close, None, Payload::Owned(1000u16.to_be_bytes().to_vec()))).await;
                    }
                }
            });
            return Ok(response.map(|_| Full::new(Bytes::new())));
        }
        _ => text(404, "Not Found"),
    };
    Ok(answer)
}

async fn lossy_ray() -> (Arc<LossyRay>, String, tokio::task::JoinHandle<()>) {
    let ray = Arc::new(LossyRay::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::clone(&ray);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (ray, format!("http://{addr}"), task)
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
        ray.jobs.lock().unwrap().insert(job.into(), Job::default());
        let lines = collect(&client, job, protocol).await;
        assert_eq!(lines, expected, "{protocol}");
        let sockets = ray.jobs.lock().unwrap()[job].sockets;
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
