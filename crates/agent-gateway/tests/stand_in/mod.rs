//! A stand-in Ray dashboard on loopback for the gateway's tests that need a healthy
//! Ray but no real one: healthy, one running job whose log tail stays open and quiet.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::time::Duration;

/// The stand-in's one job (RUNNING).
pub const JOB: &str = "raysubmit_attacked";

fn text(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// A Ray dashboard that is healthy, has one running job whose log tail stays open and
/// quiet, and knows nothing else.
async fn stand_in_ray(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    Ok(match parts.as_slice() {
        ["api", "version"] => text(200, r#"{"ray_version": "2.60.0"}"#),
        ["api", "gcs_healthz"] => text(200, "success"),
        ["api", "jobs", id] if *id == JOB => text(
            200,
            &format!(
                r#"{{"submission_id": "{JOB}", "job_id": null, "status": "RUNNING", "entrypoint": "x"}}"#
            ),
        ),
        ["api", "jobs", id, "logs"] if *id == JOB => text(200, r#"{"logs": ""}"#),
        ["api", "jobs", id, "logs", "tail"] if *id == JOB => {
            let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut req).unwrap();
            tokio::spawn(async move {
                if let Ok(ws) = upgrade.await {
                    // quiet while the job runs; dropped with the server's runtime
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(ws);
                }
            });
            response.map(|_| Full::new(Bytes::new()))
        }
        ["api", "jobs", ..] => text(404, "Job does not exist"),
        _ => text(404, "Not Found"),
    })
}

/// Starts the stand-in Ray on a free port: its address.
pub async fn ray() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(stream),
                        hyper::service::service_fn(stand_in_ray),
                    )
                    .with_upgrades()
                    .await;
            });
        }
    });
    format!("http://{addr}")
}
