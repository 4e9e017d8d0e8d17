//! What a Rust user would write instead of our clients, on reqwest (issue 15):
//! the sequential GETs and the HTTP tail, idiomatic and short, not tuned.
//!
//! One `reqwest::Client` with the token as a default header (reqwest 0.13 on
//! rustls with the ring provider, installed as the process default as reqwest's
//! `rustls-no-provider` feature asks). GETs decode `jobs/` into the same typed
//! [`Job`]s our `list_jobs` returns. The HTTP tail reads `bytes_stream()`,
//! splits it at `\n`, and decodes each `data:` event with serde into an owned
//! [`TailEvent`], as a user writing this by hand would.

use std::time::{Duration, Instant};

use agent_proto::Job;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use crate::report::Outcome;
use crate::target::{list_jobs_path, tail_path};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One event of a tail, as a user would declare it: `{"type": ..., "message": ...}`.
#[derive(Debug, serde::Deserialize)]
pub struct TailEvent {
    /// `log`, `error` or `complete`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The log line (or the error's text).
    #[serde(default)]
    pub message: Option<String>,
}

/// What a tail event means to the loop reading it.
pub enum Step {
    /// A log line of this many bytes.
    Line(usize),
    /// Nothing to count (an empty or unknown event).
    Skip,
    /// The log is complete.
    Done,
}

impl TailEvent {
    /// Decodes one event payload (a WebSocket text message or an SSE `data:`).
    pub fn decode(payload: &str) -> Result<Step, BoxError> {
        let event: TailEvent = serde_json::from_str(payload)?;
        match (event.kind.as_str(), event.message) {
            ("log", Some(line)) if !line.is_empty() => Ok(Step::Line(line.len())),
            ("complete", _) => Ok(Step::Done),
            ("error", message) => Err(format!("the tail failed: {message:?}").into()),
            _ => Ok(Step::Skip),
        }
    }
}

/// `url` with exactly one `/` before `path`.
pub fn join(url: &str, path: &str) -> String {
    format!("{}/{path}", url.trim_end_matches('/'))
}

/// The client; with `timeout`, reqwest's whole-request time-out too (not set by
/// default, as a user would leave it; `--timeout-ms` measures what it costs).
fn client(token: &str, timeout: Option<Duration>) -> Result<reqwest::Client, BoxError> {
    // reqwest's `rustls-no-provider`: the process picks the crypto provider
    // (an Err only says one is installed already)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(token)?);
    let mut builder = reqwest::Client::builder().default_headers(headers);
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    Ok(builder.build()?)
}

async fn list_jobs(client: &reqwest::Client, url: &str) -> Result<Vec<Job>, BoxError> {
    Ok(client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json::<Vec<Job>>()
        .await?)
}

/// `n` sequential `GET jobs/` on one `reqwest::Client` (one untimed call first).
pub async fn gets(
    url: &str,
    token: &str,
    n: u64,
    timeout: Option<Duration>,
) -> Result<Outcome, BoxError> {
    let client = client(token, timeout)?;
    let jobs_url = join(url, list_jobs_path());
    let jobs = list_jobs(&client, &jobs_url).await?.len() as u64;
    let started = Instant::now();
    for _ in 0..n {
        list_jobs(&client, &jobs_url).await?;
    }
    Ok(Outcome {
        workload: "gets".into(),
        client: "reqwest".into(),
        count: n,
        bytes: jobs,
        elapsed: started.elapsed(),
    })
}

/// The HTTP tail `jobs/{job}/logs/stream/` read to its `complete` event.
pub async fn tail_http(url: &str, token: &str, job: &str) -> Result<Outcome, BoxError> {
    let client = client(token, None)?;
    let started = Instant::now();
    let response = client
        .get(join(url, &tail_path(job, false)?))
        .send()
        .await?
        .error_for_status()?;
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    'read: while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk?);
        let mut start = 0;
        while let Some(end) = buffer[start..].iter().position(|&b| b == b'\n') {
            let line = std::str::from_utf8(&buffer[start..start + end])?;
            start += end + 1;
            let Some(payload) = line.strip_prefix("data:") else {
                continue;
            };
            match TailEvent::decode(payload.trim_start())? {
                Step::Line(len) => {
                    lines += 1;
                    bytes += len as u64;
                }
                Step::Skip => {}
                Step::Done => break 'read,
            }
        }
        buffer.drain(..start);
    }
    Ok(Outcome {
        workload: "tail-http".into(),
        client: "reqwest".into(),
        count: lines,
        bytes,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_three_kinds_of_event() {
        assert!(matches!(
            TailEvent::decode(r#"{"type":"log","message":"hello"}"#),
            Ok(Step::Line(5))
        ));
        assert!(matches!(
            TailEvent::decode(r#"{"type":"log","message":""}"#),
            Ok(Step::Skip)
        ));
        assert!(matches!(
            TailEvent::decode(r#"{"type":"complete"}"#),
            Ok(Step::Done)
        ));
        assert!(TailEvent::decode(r#"{"type":"error","message":"boom"}"#).is_err());
        assert!(TailEvent::decode("not json").is_err());
        assert_eq!(join("http://h:1/", "jobs/"), "http://h:1/jobs/");
        assert_eq!(join("http://h:1/agent", "jobs/"), "http://h:1/agent/jobs/");
    }
}
