//! The gateway's archive (`--archive-dir`, issue 22 item 4) against the stand-in
//! Ray: a finished job's log read once through the gateway is kept; once Ray
//! forgets the job (as after a head restart), `jobs/`, `jobs/{id}/`,
//! `jobs/{id}/logs/` (byte-identical, `?tail=N`) and tails (WebSocket and HTTP,
//! from a line or the last N) answer from the archive, marked as such, without a
//! Ray call; a corrupt entry is reported and answered 404, never served.

mod support;

use agent_client_async::{Protocol, TailStart};
use agent_gateway::GatewayConfig;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::standin::{self, FileAnswer, Job, Log, State};
use support::{
    collect, raw_request_headers, standin_client, standin_gateway, tail_options, GatewayProcess,
    TempDir, TOKEN,
};

const JOB: &str = "raysubmit_kept";
const SOURCE: &str = "x-agent-source";

/// A log with a line that is not UTF-8 and an unended last line.
fn log() -> Vec<u8> {
    let mut log: Vec<u8> = (1..=200)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    log.extend_from_slice(b"\xff\xfe not utf-8\n\nlast");
    log
}

/// GET `path`: status, the `X-Agent-Source` header, body.
async fn get(addr: SocketAddr, path: &str) -> (u16, Option<String>, String) {
    let host = addr.to_string();
    let auth = [("host", host.as_str()), ("authorization", TOKEN)];
    let (status, headers, body) = raw_request_headers(addr, "GET", path, &auth, "").await;
    let source = headers.get(SOURCE).map(|v| v.to_str().unwrap().to_owned());
    (status, source, body)
}

/// The archive's entries (`*.zst`) and temporary files in `dir`.
fn files(dir: &Path, suffix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix) || (suffix == ".tmp" && n.starts_with(".tmp-")))
        .collect()
}

/// Waits (bounded, not timed) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn total_requests(ray: &State) -> usize {
    ray.requests.lock().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_job_is_answered_from_the_archive() {
    let (ray, address, server) = standin::start(State::default()).await;
    ray.add(JOB, Job::new(Log::plain(log())));
    ray.add("raysubmit_live", Job::new(Log::plain("x\n")));
    let dir = TempDir::new("archive");
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN).archive(&dir.0, 1 << 20)).await;
    let addr = gw.local_addr();
    let client = standin_client(gw.url(), TOKEN);

    // read once from Ray: not marked, and kept
    let (status, source, from_ray) = get(addr, &format!("/jobs/{JOB}/logs/")).await;
    assert_eq!((status, source), (200, None));
    // (the entry is renamed in before its temporary copy is removed)
    until("the log is archived and its temporary copy gone", || {
        files(&dir.0, ".zst").len() == 1 && files(&dir.0, ".tmp").is_empty()
    })
    .await;

    assert!(ray.forget(JOB));
    let before = total_requests(&ray);
    let marked = Some("archive".to_owned());

    // the whole log, byte for byte, and the last lines; no Ray call
    let (status, source, archived) = get(addr, &format!("/jobs/{JOB}/logs/")).await;
    assert_eq!((status, &source), (200, &marked));
    assert_eq!(archived, from_ray);
    let whole: String = serde_json::from_str(&from_ray).unwrap();
    let lines: Vec<&str> = whole.split('\n').collect();
    let (status, source, last) = get(addr, &format!("/jobs/{JOB}/logs/?tail=3")).await;
    assert_eq!((status, &source), (200, &marked));
    assert_eq!(
        serde_json::from_str::<String>(&last).unwrap(),
        lines[lines.len() - 3..].join("\n")
    );
    assert_eq!(client.get_job_logs(JOB).await.unwrap(), whole);

    // tails, both ways, from a line and the last N (the clients skip empty lines)
    let shown = |from: usize| -> Vec<&str> {
        lines[from..]
            .iter()
            .copied()
            .filter(|l| !l.is_empty())
            .collect()
    };
    for protocol in [Protocol::WebSocket, Protocol::Http] {
        let all = collect(&client, JOB, tail_options(protocol)).await.unwrap();
        assert_eq!(all, shown(0), "{protocol}");
        let from = tail_options(protocol).start(TailStart::FromLine(199));
        let got = collect(&client, JOB, from).await.unwrap();
        assert_eq!(got, shown(198), "{protocol}");
        let last = tail_options(protocol).start(TailStart::Last(3));
        let got = collect(&client, JOB, last).await.unwrap();
        assert_eq!(got, shown(lines.len() - 3), "{protocol}");
    }
    let (status, source, events) =
        get(addr, &format!("/jobs/{JOB}/logs/stream/?from_line=202")).await;
    assert_eq!((status, &source), (200, &marked));
    assert!(
        events.contains(r#""message":"","n":202}"#) && events.contains("\"complete\""),
        "{events}"
    );
    assert!(!events.contains("line 200"), "{events}");
    assert_eq!(total_requests(&ray), before, "the archived log asked Ray");

    // the job itself: Ray says 404, the archive answers, credentials hidden
    let (status, source, info) = get(addr, &format!("/jobs/{JOB}/")).await;
    assert_eq!((status, &source), (200, &marked));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(
        (info["archived"].clone(), info["status"].clone()),
        (true.into(), "SUCCEEDED".into())
    );
    assert!(
        !info.to_string().contains("s3cr3t") && !info.to_string().contains("k3y"),
        "{info}"
    );
    let job = client.get_job(JOB).await.unwrap();
    assert_eq!(
        job.extra.get("archived"),
        Some(&serde_json::Value::Bool(true))
    );

    // a job Ray knows is answered by Ray, unmarked
    let (status, source, info) = get(addr, "/jobs/raysubmit_live/").await;
    assert_eq!((status, source), (200, None));
    assert!(!info.contains("archived"), "{info}");

    // the list: Ray's jobs, then the archived ones it no longer lists
    let jobs = client.list_jobs().await.unwrap();
    let ids: Vec<_> = jobs
        .iter()
        .map(|j| j.submission_id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["raysubmit_live", JOB]);
    let (_, _, list) = get(addr, "/jobs/").await;
    assert!(!list.contains("s3cr3t") && !list.contains("k3y"), "{list}");

    // a job neither knows: 404 as before
    let (status, _, _) = get(addr, "/jobs/raysubmit_never/logs/").await;
    assert_eq!(status, 404);
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_broken_off_or_of_a_running_job_is_not_kept() {
    let (ray, address, server) = standin::start(State::default()).await;
    let mut job = Job::new(Log::plain(log()));
    job.file = FileAnswer {
        fail_after: Some(700),
        ..FileAnswer::default()
    };
    ray.add(JOB, job);
    let mut running = Job::new(Log::plain("so far\n"));
    running.finished = false;
    ray.add("raysubmit_running", running);
    let dir = TempDir::new("archive-broken");
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN).archive(&dir.0, 1 << 20)).await;
    let client = standin_client(gw.url(), TOKEN);

    assert!(client.get_job_logs(JOB).await.is_err());
    assert_eq!(
        client.get_job_logs("raysubmit_running").await.unwrap(),
        "so far\n"
    );
    until("the copy is dropped", || files(&dir.0, ".tmp").is_empty()).await;
    assert!(files(&dir.0, ".zst").is_empty());

    // whole this time: kept
    ray.add(JOB, Job::new(Log::plain(log())));
    client.get_job_logs(JOB).await.unwrap();
    until("the log is archived", || files(&dir.0, ".zst").len() == 1).await;
    gw.shutdown().await;
    server.abort();
}

/// The binary, with `--archive-dir`: a corrupt entry is a line on its standard
/// error and a 404, never the wrong bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_entry_is_reported_and_never_served() {
    let (ray, address, server) = standin::start(State::default()).await;
    ray.add(JOB, Job::new(Log::plain(log())));
    let dir = TempDir::new("archive-corrupt");
    let archive_dir = dir.0.clone().into_os_string();
    let flags = [
        "--archive-dir".as_ref(),
        archive_dir.as_os_str(),
        "--archive-max-bytes".as_ref(),
        "1000000".as_ref(),
    ];
    let (gateway, rx) = GatewayProcess::start_with(&address, &flags);
    let addr: SocketAddr = gateway
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();

    let (status, _, _) = get(addr, &format!("/jobs/{JOB}/logs/")).await;
    assert_eq!(status, 200);
    until("the log is archived", || files(&dir.0, ".zst").len() == 1).await;
    ray.forget(JOB);
    // one byte flipped in the compressed log, written as a new file
    let entry = dir.0.join(&files(&dir.0, ".zst")[0]);
    let mut bytes = std::fs::read(&entry).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x20;
    let swap = dir.0.join("swap");
    std::fs::write(&swap, &bytes).unwrap();
    std::fs::rename(&swap, &entry).unwrap();

    for path in [
        format!("/jobs/{JOB}/logs/"),
        format!("/jobs/{JOB}/"),
        format!("/jobs/{JOB}/logs/stream/"),
    ] {
        let (status, source, body) = get(addr, &path).await;
        assert_eq!((status, source), (404, None), "{path}: {body}");
        assert!(!body.contains("line 1"), "{path}: {body}");
    }
    let reported = rx
        .iter()
        .find(|l| l.contains("archive:") && l.contains("is corrupt"))
        .unwrap();
    assert!(reported.contains(JOB), "{reported}");
    assert!(files(&dir.0, ".zst").is_empty());
    assert_eq!(files(&dir.0, ".corrupt").len(), 1);
    drop(gateway);
    server.abort();
}

/// The hub's hook: a job that was only tailed (never read through `logs/`) is
/// archived from the final log the tail read from Ray, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tailed_job_is_archived_from_its_tail() {
    let (ray, address, server) = standin::start(State::default()).await;
    ray.add(JOB, Job::new(Log::plain(log())));
    let dir = TempDir::new("archive-tailed");
    let mut config = GatewayConfig::new(address, TOKEN).archive(&dir.0, 1 << 20);
    // nothing lingers in the hub: later answers come from the archive
    config.hub.linger = Duration::ZERO;
    let gw = standin_gateway(config).await;
    let addr = gw.local_addr();
    let client = standin_client(gw.url(), TOKEN);

    let tailed = collect(&client, JOB, tail_options(Protocol::WebSocket))
        .await
        .unwrap();
    until("the tailed log is archived", || {
        files(&dir.0, ".zst").len() == 1
    })
    .await;
    assert!(ray.forget(JOB));
    let before = total_requests(&ray);
    // the hub lets the job go once the archive has it (right after the entry is
    // renamed in); until then its answers are the hub's, not Ray's either
    let start = Instant::now();
    let archived = loop {
        let (status, source, body) = get(addr, &format!("/jobs/{JOB}/logs/")).await;
        assert_eq!(status, 200);
        if source.as_deref() == Some("archive") {
            break body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never from the archive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let expected = String::from_utf8_lossy(&log()).into_owned();
    assert_eq!(serde_json::from_str::<String>(&archived).unwrap(), expected);
    let again = collect(&client, JOB, tail_options(Protocol::Http))
        .await
        .unwrap();
    assert_eq!(again, tailed);
    assert_eq!(total_requests(&ray), before, "the archived log asked Ray");
    gw.shutdown().await;
    server.abort();
}

/// A submission id used again by a new job (after the old one was forgotten, as
/// after a head restart) is never answered with the old job's archived log: once
/// the gateway sees Ray know another job by that id (its status, or a run through
/// the gateway), the entry is dropped and the new job's log is Ray's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_id_used_again_is_not_answered_from_the_old_entry() {
    let (ray, address, server) = standin::start(State::default()).await;
    ray.add(JOB, Job::new(Log::plain("old job\n")));
    let dir = TempDir::new("archive-reused");
    let gw = standin_gateway(GatewayConfig::new(address, TOKEN).archive(&dir.0, 1 << 20)).await;
    let addr = gw.local_addr();
    let (status, _, _) = get(addr, &format!("/jobs/{JOB}/logs/")).await;
    assert_eq!(status, 200);
    until("the log is archived", || files(&dir.0, ".zst").len() == 1).await;
    assert!(ray.forget(JOB));
    let (_, source, old) = get(addr, &format!("/jobs/{JOB}/logs/")).await;
    assert_eq!(source.as_deref(), Some("archive"));
    assert_eq!(serde_json::from_str::<String>(&old).unwrap(), "old job\n");

    // a new job by the same id: Ray's status names it, the old entry goes
    ray.add(
        JOB,
        Job {
            start_time: 2,
            ..Job::new(Log::plain("new job\n"))
        },
    );
    let (status, source, info) = get(addr, &format!("/jobs/{JOB}/")).await;
    assert_eq!((status, source), (200, None));
    assert!(info.contains(r#""start_time":2"#), "{info}");
    assert!(
        files(&dir.0, ".zst").is_empty(),
        "the old entry is still there"
    );
    let (status, source, log) = get(addr, &format!("/jobs/{JOB}/logs/")).await;
    assert_eq!((status, source), (200, None));
    assert_eq!(serde_json::from_str::<String>(&log).unwrap(), "new job\n");
    gw.shutdown().await;
    server.abort();
}
