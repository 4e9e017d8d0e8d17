//! Final logs through Ray's log-file API, against a stand-in Ray that answers as
//! Ray 2.60 was measured to (tests/support/standin.rs): a log that is not UTF-8,
//! a Ray without the log-file API, and a dashboard that wants a Bearer token.

mod support;

use agent_client_async::{AsyncAgentClient, Protocol};
use agent_gateway::GatewayConfig;
use support::standin::{self, Job, Log, State, DRIVER_NODE};
use support::{collect, standin_client, standin_gateway, tail_options};

fn client(url: String) -> AsyncAgentClient {
    standin_client(url, "tok")
}

const PROTOCOLS: [Protocol; 3] = [Protocol::WebSocket, Protocol::Http, Protocol::Auto];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_is_not_utf8_is_tailed_and_read_with_replacement_characters() {
    let (ray, address, server) = standin::start(State::default()).await;
    let log = b"Runtime env is setting up.\nline 1\n\xff\xfe bad \xe2\x82\nline 3\nlast".to_vec();
    ray.add("raysubmit_bad", Job::new(Log::plain(log)));
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let client = client(gw.url());

    let expected = [
        "Runtime env is setting up.",
        "line 1",
        "\u{FFFD}\u{FFFD} bad \u{FFFD}",
        "line 3",
        "last",
    ];
    for protocol in PROTOCOLS {
        let lines = collect(&client, "raysubmit_bad", tail_options(protocol))
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(lines, expected, "{protocol}");
    }
    let whole = client.get_job_logs("raysubmit_bad").await.unwrap();
    assert_eq!(whole, expected.join("\n"));
    // Read from the driver's node, by file name; never from the Jobs API; once:
    // every tail shares the job's upstream, and the kept log answers `logs/`.
    let wanted = format!(
        "/api/v0/logs/file?node_id={DRIVER_NODE}&filename=job-driver-raysubmit_bad.log&lines=-1"
    );
    assert_eq!(ray.requested(&wanted), 1);
    assert_eq!(ray.requested("/api/jobs/raysubmit_bad/logs?"), 0);
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_then_file_sends_every_line_once() {
    let (ray, address, server) = standin::start(State::default()).await;
    let mut log: String = (0..500).map(|i| format!("line {i}\n")).collect();
    log.push_str("last line");
    let mut job = Job::new(Log::plain(log.clone()));
    job.socket_sends = true;
    ray.add("raysubmit_ok", job);
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let client = client(gw.url());
    let expected: Vec<String> = agent_gateway::lines::split_log(&log)
        .map(str::to_owned)
        .collect();
    for protocol in PROTOCOLS {
        let lines = collect(&client, "raysubmit_ok", tail_options(protocol))
            .await
            .unwrap();
        assert_eq!(lines, expected, "{protocol}");
    }
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_log_file_api_the_jobs_api_is_the_fallback() {
    let (ray, address, server) = standin::start(State {
        no_log_file_api: true,
        ..State::default()
    })
    .await;
    let mut job = Job::new(Log::plain("a\nb\nlast"));
    // Ray's socket loses everything: every line comes from the final log.
    job.socket_sends = false;
    ray.add("raysubmit_old", job);
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let client = client(gw.url());
    for protocol in PROTOCOLS {
        let lines = collect(&client, "raysubmit_old", tail_options(protocol))
            .await
            .unwrap();
        assert_eq!(lines, ["a", "b", "last"], "{protocol}");
    }
    assert_eq!(
        client.get_job_logs("raysubmit_old").await.unwrap(),
        "a\nb\nlast"
    );
    // once: the tails share the job's upstream, and the kept log answers `logs/`
    assert_eq!(ray.requested("/api/jobs/raysubmit_old/logs?"), 1);
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ray_token_is_sent_as_bearer_and_never_shown() {
    let secret = "ray-t0ken-s3cret";
    let (ray, address, server) = standin::start(State {
        token: Some(secret.into()),
        ..State::default()
    })
    .await;
    ray.add("raysubmit_auth", Job::new(Log::plain("one\ntwo\n")));

    // Without the token, Ray refuses the gateway: a 502 that says so.
    let gw = standin_gateway(GatewayConfig::new(address.clone(), "tok")).await;
    let e = client(gw.url())
        .get_job("raysubmit_auth")
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 502, "{e}");
    assert!(e.to_string().contains("refused the gateway (401)"), "{e}");
    gw.shutdown().await;

    let gw = standin_gateway(GatewayConfig::new(address, "tok").ray_token(secret)).await;
    let c = client(gw.url());
    let job = c.get_job("raysubmit_auth").await.unwrap();
    // Credentials in the job's runtime_env are hidden too.
    let shown = serde_json::to_string(&job).unwrap();
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("k3y"),
        "{shown}"
    );
    for protocol in PROTOCOLS {
        let lines = collect(&c, "raysubmit_auth", tail_options(protocol))
            .await
            .unwrap();
        assert_eq!(lines, ["one", "two"], "{protocol}");
    }
    assert_eq!(
        c.get_job_logs("raysubmit_auth").await.unwrap(),
        "one\ntwo\n"
    );
    // Every request (WebSocket upgrades and streamed logs included) carried it.
    let auths = ray.authorizations.lock().unwrap().clone();
    let sent = ray.requests.lock().unwrap().len();
    assert!(sent > 5);
    assert_eq!(
        auths
            .iter()
            .filter(|a| *a == &format!("Bearer {secret}"))
            .count(),
        sent - 1,
        "the first gateway's request had none"
    );
    let debug = format!(
        "{:?}",
        agent_gateway::ray_client(
            &GatewayConfig::new("http://127.0.0.1:1", "tok").ray_token(secret)
        )
        .unwrap()
    );
    assert!(!debug.contains(secret), "{debug}");
    gw.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_behind_tls_with_a_private_ca_is_trusted_with_ray_ca() {
    let (pem, acceptor) = standin::tls_identity();
    let (ray, address, server) = standin::start_with(State::default(), Some(acceptor)).await;
    assert!(address.starts_with("https://"));
    ray.add("raysubmit_tls", Job::new(Log::plain("over\ntls\n")));

    // Unknown CA: refused (a 503 naming the certificate problem).
    let gw = standin_gateway(GatewayConfig::new(address.clone(), "tok")).await;
    let e = client(gw.url()).get_job("raysubmit_tls").await.unwrap_err();
    assert_eq!(e.status_code(), 503, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
    gw.shutdown().await;

    // The binary reads --ray-ca FILE.
    let dir = support::TempDir::new("ray-ca");
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_agent-gateway"))
        .args([
            "--ray-address",
            &address,
            "--listen",
            "127.0.0.1:0",
            "--quiet",
            "--ray-ca",
        ])
        .arg(&ca)
        .env("AGENT_TOKEN", "tok")
        .env_remove("RAY_AUTH_TOKEN")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut saw_ray = false;
        loop {
            let line = lines.next().expect("agent-gateway exited").unwrap();
            // It reached Ray over TLS at start-up.
            saw_ray |= line.contains("Ray 2.60.0 at https://");
            if let Some(rest) = line.split("serving the agent API at ").nth(1) {
                assert!(saw_ray, "no TLS answer from Ray before: {line}");
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        }
    };
    let c = client(url);
    for protocol in PROTOCOLS {
        let lines = collect(&c, "raysubmit_tls", tail_options(protocol))
            .await
            .unwrap();
        assert_eq!(lines, ["over", "tls"], "{protocol}");
    }
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
}
