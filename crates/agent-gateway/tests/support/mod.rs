//! Shared by the end-to-end tests: a gateway in-process in front of the Ray head
//! named by `AGENT_E2E_RAY`, with the test plugin registered.
#![allow(dead_code)]

use agent_client_async::{
    AsyncAgentClient, JobStatus, Protocol, RetryPolicy, StreamLimits, TailOptions,
};
use agent_gateway::plugins::shell_quote;
use agent_gateway::{Gateway, GatewayConfig, PluginRegistry};
use agent_proto::ClientError;
use futures_core::Stream;
use serde_json::{json, Value};
use std::future::poll_fn;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub const TOKEN: &str = "e2e-agent-token";

/// Why the end-to-end tests are `#[ignore]`d by default.
pub const NEEDS_RAY: &str =
    "needs a Ray head: `.ci/ray.sh start`, then AGENT_E2E_RAY=http://127.0.0.1:8265 cargo test -p agent-gateway --test e2e_ray -- --ignored (cargo xtask ci does this when AGENT_E2E_RAY is set)";

/// The Ray dashboard to test against (`AGENT_E2E_RAY`). The tests calling this are
/// `#[ignore]`d, so they run only when asked for: asked for without a Ray, they
/// fail rather than pass without having run.
pub fn ray_address() -> String {
    match std::env::var("AGENT_E2E_RAY") {
        Ok(a) if !a.trim().is_empty() => a.trim().to_owned(),
        _ => panic!(
            "AGENT_E2E_RAY is not set: start a Ray head (.ci/ray.sh start) and set \
             AGENT_E2E_RAY=http://127.0.0.1:8265 to run the end-to-end tests"
        ),
    }
}

/// The test plugin's path.
pub fn plugin_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/plugin.py")
}

/// The registry file the tests use: `e2e@1.0.0` runs `plugin.py ACTION PARAMS`.
pub fn registry_text() -> String {
    let script = plugin_script();
    let entrypoint = format!(
        "python -u {} {{action}} {{params}}",
        shell_quote(&script.display().to_string())
    );
    format!(
        "[[releases]]\ncode = \"e2e\"\nversion = \"1.0.0\"\nentrypoint = {}\n",
        toml_string(&entrypoint)
    )
}

/// The registry the tests use.
pub fn registry() -> PluginRegistry {
    PluginRegistry::from_toml(&registry_text()).unwrap()
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The token of the Ray head under test, when it was started with token auth
/// (`AGENT_E2E_RAY_TOKEN`, set by `.ci/ray.sh start` with `RAY_E2E_AUTH=token`).
pub fn ray_token() -> Option<String> {
    std::env::var("AGENT_E2E_RAY_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
}

/// The gateway's config for the Ray head at `ray` (its token included).
pub fn gateway_config(ray: &str) -> GatewayConfig {
    let config = GatewayConfig::new(ray, TOKEN)
        .plugins(registry())
        .log_requests(false);
    match ray_token() {
        Some(t) => config.ray_token(t),
        None => config,
    }
}

/// A gateway on a free loopback port in front of `ray`.
pub async fn gateway(ray: &str) -> Gateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Gateway::start(gateway_config(ray), listener).await.unwrap()
}

/// The `agent-gateway` binary, started in front of `ray` with the test registry on
/// a free port (a process of its own, for measuring its memory). Killed on drop.
pub struct GatewayProcess {
    pub child: std::process::Child,
    pub url: String,
    _dir: TempDir,
}

impl GatewayProcess {
    pub fn start(ray: &str) -> GatewayProcess {
        Self::start_with(ray, &[]).0
    }

    /// [`GatewayProcess::start`] with more flags; also the lines of its standard
    /// error after the one that says where it serves.
    pub fn start_with(
        ray: &str,
        args: &[&std::ffi::OsStr],
    ) -> (GatewayProcess, std::sync::mpsc::Receiver<String>) {
        use std::io::BufRead;
        let dir = TempDir::new("gateway-process");
        let registry = dir.0.join("plugins.toml");
        std::fs::write(&registry, registry_text()).unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_agent-gateway"));
        command
            .args(["--ray-address", ray, "--listen", "127.0.0.1:0", "--quiet"])
            .arg("--plugins")
            .arg(&registry)
            .args(args)
            .env("AGENT_TOKEN", TOKEN)
            .env_remove("RAY_AUTH_TOKEN")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(t) = ray_token() {
            command.env("RAY_AUTH_TOKEN", t);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("agent-gateway exited before serving")
                .unwrap();
            if let Some(rest) = line.split("serving the agent API at ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining its standard error so that it never blocks on it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let process = GatewayProcess {
            child,
            url,
            _dir: dir,
        };
        (process, rx)
    }

    /// The process's peak resident set (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        kib * 1024
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("agent-gateway-{name}-{}", tag("d")));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An async client of `gateway` with limits that never stop a long tail.
pub fn client(gateway: &Gateway) -> AsyncAgentClient {
    AsyncAgentClient::builder(gateway.url(), TOKEN)
        .stream_limits(StreamLimits::unlimited())
        .read_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A tag unique to this run, for a test's lines.
pub fn tag(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{name}-{}-{nanos:x}", std::process::id())
}

/// Runs `action` of the test plugin; returns the job id the gateway answered.
pub async fn run(client: &AsyncAgentClient, action: &str, params: Value) -> String {
    let body = agent_proto::RunPluginRelease::new(action).params(params);
    let answer = client.run_plugin_release("e2e@1.0.0", &body).await.unwrap();
    answer["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no job_id in {answer}"))
        .to_owned()
}

/// Every line of a tail, until `complete` (an error fails).
pub async fn collect(
    client: &AsyncAgentClient,
    job: &str,
    options: TailOptions,
) -> Result<Vec<String>, ClientError> {
    let mut tail = client.tail_job_logs(job, options).await?;
    let mut lines = Vec::new();
    while let Some(line) = poll_fn(|cx| Pin::new(&mut tail).poll_next(cx)).await {
        lines.push(line?);
    }
    Ok(lines)
}

/// Polls until `done` holds for the job, up to `limit`.
pub async fn wait_job(
    client: &AsyncAgentClient,
    job: &str,
    limit: Duration,
    done: impl Fn(&JobStatus) -> bool,
) -> agent_proto::Job {
    let start = Instant::now();
    loop {
        let j = client.get_job(job).await.unwrap();
        if done(&j.status) {
            return j;
        }
        assert!(
            start.elapsed() < limit,
            "job {job} still {} after {limit:?}",
            j.status
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The lines a `count` run prints.
pub fn expected_count_lines(tag: &str, count: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..count).map(|i| format!("{tag} line {i}")).collect();
    v.push(format!("{tag} last line"));
    v
}

/// Params of a `count` run.
pub fn count_params(tag: &str, count: usize, delay: f64) -> Value {
    json!({"tag": tag, "count": count, "delay": delay})
}

/// A zip archive (stored, no compression) of `files` under one top-level folder,
/// as Ray's `working_dir` URIs want.
pub fn zip_stored(folder: &str, files: &[(&str, &str)]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    let entries: Vec<(String, &[u8])> = std::iter::once((format!("{folder}/"), &b""[..]))
        .chain(
            files
                .iter()
                .map(|(n, c)| (format!("{folder}/{n}"), c.as_bytes())),
        )
        .collect();
    for (name, data) in &entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let le16 = |v: u16| v.to_le_bytes();
        let le32 = |v: u32| v.to_le_bytes();
        // local file header
        out.extend_from_slice(&le32(0x0403_4b50));
        out.extend_from_slice(&le16(20)); // version needed
        out.extend_from_slice(&le16(0)); // flags
        out.extend_from_slice(&le16(0)); // stored
        out.extend_from_slice(&le16(0)); // time
        out.extend_from_slice(&le16(0x21)); // date: 1980-01-01
        out.extend_from_slice(&le32(crc));
        out.extend_from_slice(&le32(data.len() as u32));
        out.extend_from_slice(&le32(data.len() as u32));
        out.extend_from_slice(&le16(name.len() as u16));
        out.extend_from_slice(&le16(0));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // central directory entry
        central.extend_from_slice(&le32(0x0201_4b50));
        central.extend_from_slice(&le16(20)); // made by
        central.extend_from_slice(&le16(20)); // needed
        central.extend_from_slice(&le16(0));
        central.extend_from_slice(&le16(0));
        central.extend_from_slice(&le16(0));
        central.extend_from_slice(&le16(0x21));
        central.extend_from_slice(&le32(crc));
        central.extend_from_slice(&le32(data.len() as u32));
        central.extend_from_slice(&le32(data.len() as u32));
        central.extend_from_slice(&le16(name.len() as u16));
        central.extend_from_slice(&le16(0)); // extra
        central.extend_from_slice(&le16(0)); // comment
        central.extend_from_slice(&le16(0)); // disk
        central.extend_from_slice(&le16(0)); // internal attrs
        central.extend_from_slice(&le32(0)); // external attrs
        central.extend_from_slice(&le32(offset));
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_len = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

pub mod standin;

/// A gateway on a free loopback port in front of a stand-in Ray at `ray`, with
/// fast tail pacing.
pub async fn standin_gateway(config: GatewayConfig) -> Gateway {
    let mut config = config.log_requests(false);
    config.tail.status_interval = Duration::from_millis(50);
    config.tail.reconnect_delay = Duration::from_millis(10);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Gateway::start(config, listener).await.unwrap()
}

/// `cases` generated cases; a failing case is saved beside the test's file and
/// its seed printed, so the next run replays it (the workspace's rule for
/// integration tests).
pub fn replayed(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::with_cases(cases)
    }
}

/// A client of a gateway in front of a stand-in, at `url` with `token`: no
/// retries (a test sees the first answer) and no stream limits.
pub fn standin_client(url: String, token: &str) -> AsyncAgentClient {
    AsyncAgentClient::builder(url, token)
        .stream_limits(StreamLimits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

/// A tail over `protocol` that gives up after 30 s.
pub fn tail_options(protocol: Protocol) -> TailOptions {
    TailOptions::new()
        .protocol(protocol)
        .timeout(Duration::from_secs(30))
}

/// One request to `addr` over a connection of its own, with exactly the headers
/// given (a `Host` of the test's choosing included): the answer's status and body
/// as text (a chunked body is put back together).
pub async fn raw_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = raw_request_headers(addr, method, path, headers, body).await;
    (status, body)
}

/// [`raw_request`], with the answer's headers.
pub async fn raw_request_headers(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, http::HeaderMap, String) {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let mut request = hyper::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let answer_headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    driver.abort();
    (
        status,
        answer_headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The lines of an SSE tail body with their numbers, and whether it ended with
/// `complete`.
pub fn numbered_lines(body: &str) -> (Vec<(String, Option<u64>)>, bool) {
    let mut lines = Vec::new();
    let mut complete = false;
    for l in body.split('\n') {
        if l.is_empty() {
            continue;
        }
        let payload = l
            .strip_prefix("data: ")
            .expect("only data: lines and blanks");
        let ev: Value = serde_json::from_str(payload).unwrap();
        match ev["type"].as_str() {
            Some("log") => {
                let n = ev.get("n").and_then(Value::as_u64);
                let m = ev["message"].as_str().unwrap();
                let parts: Vec<&str> = if m.is_empty() {
                    vec![""]
                } else {
                    m.split_terminator('\n').collect()
                };
                for (i, p) in parts.into_iter().enumerate() {
                    lines.push((p.to_owned(), n.map(|n| n + i as u64)));
                }
            }
            Some("complete") => complete = true,
            other => panic!("unexpected event {other:?}"),
        }
    }
    (lines, complete)
}

/// Runs `f` on a runtime of its own, two workers (for a proptest's case).
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
