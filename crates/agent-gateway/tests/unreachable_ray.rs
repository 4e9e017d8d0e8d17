//! A gateway whose Ray is down answers 503 with a message, never a stack trace nor
//! the dashboard's address; the token is still checked first. Start-up errors name
//! the flag and the fix. Needs no Ray.

use agent_client_async::{AsyncAgentClient, Protocol, RetryPolicy, TailOptions};
use agent_gateway::{Gateway, GatewayConfig};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ray_unreachable_is_503_and_tokens_are_checked() {
    // A port nobody listens on: bind one, note it, close it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ray = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = Gateway::start(
        GatewayConfig::new(ray.clone(), "tok").log_requests(false),
        listener,
    )
    .await
    .unwrap();
    let client = AsyncAgentClient::builder(gw.url(), "tok")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();

    let e = client.health_check().await.unwrap_err();
    assert_eq!(e.status_code(), 503, "{e}");
    let text = e.to_string();
    assert!(text.contains("unreachable"), "{text}");
    assert!(!text.contains("Traceback"), "{text}");
    // The dashboard's address stays private: the gateway's log has it, callers not.
    let hidden = ray.trim_start_matches("http://");
    assert!(!text.contains(hidden), "{text}");
    // A caller that retries (the client's default policy: 3 retries) gets the same
    // 503: the gateway does not retry on top, and its breaker answers at once.
    let retrying = AsyncAgentClient::new(gw.url(), "tok").unwrap();
    for _ in 0..3 {
        let e = retrying.list_jobs().await.unwrap_err();
        assert_eq!(e.status_code(), 503, "{e}");
        assert!(!e.to_string().contains(hidden), "{e}");
    }
    assert_eq!(client.list_jobs().await.unwrap_err().status_code(), 503);
    assert_eq!(
        client
            .get_job("raysubmit_x")
            .await
            .unwrap_err()
            .status_code(),
        503
    );
    assert_eq!(client.list_nodes().await.unwrap_err().status_code(), 503);
    let tail = client
        .tail_job_logs(
            "raysubmit_x",
            TailOptions::new()
                .protocol(Protocol::Http)
                .timeout(Duration::from_secs(5)),
        )
        .await;
    assert_eq!(tail.err().map(|e| e.status_code()), Some(503));

    // Plugin releases are the gateway's own: they answer without Ray.
    let page = client
        .list_plugin_releases(&[] as &[(&str, &str)])
        .await
        .unwrap();
    assert!(page.results.is_empty());
    // The run needs Ray: 404 for an unknown release comes first.
    let run = agent_proto::RunPluginRelease::new("go");
    assert_eq!(
        client
            .run_plugin_release("x@1", &run)
            .await
            .unwrap_err()
            .status_code(),
        404
    );

    // Releases come from the registry file unless the operator allows the API.
    let create = agent_proto::CreatePluginRelease::new("made", "1.0");
    assert_eq!(
        client
            .create_plugin_release(&create)
            .await
            .unwrap_err()
            .status_code(),
        403
    );

    let wrong = AsyncAgentClient::builder(gw.url(), "not-the-token")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    assert_eq!(wrong.health_check().await.unwrap_err().status_code(), 401);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_can_be_managed_through_the_api_when_allowed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = Gateway::start(
        GatewayConfig::new("http://127.0.0.1:9", "tok")
            .log_requests(false)
            .api_releases(true),
        listener,
    )
    .await
    .unwrap();
    let client = AsyncAgentClient::builder(gw.url(), "tok")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let mut create = agent_proto::CreatePluginRelease::new("made", "1.0");
    // Without an entrypoint: FastAPI's 422, naming the field.
    let e = client.create_plugin_release(&create).await.unwrap_err();
    assert_eq!(e.status_code(), 422);
    assert!(e.to_string().contains("entrypoint"), "{e}");
    create.extra.insert(
        "entrypoint".into(),
        serde_json::json!("python run.py {action} {params}"),
    );
    let made = client.create_plugin_release(&create).await.unwrap();
    assert_eq!(made.lookup().as_deref(), Some("made@1.0"));
    let got = client.get_plugin_release("made@1.0").await.unwrap();
    assert_eq!(got.extra["entrypoint"], "python run.py {action} {params}");
    // Running needs Ray, which is down here: 503.
    let run = agent_proto::RunPluginRelease::new("go");
    assert_eq!(
        client
            .run_plugin_release("made@1.0", &run)
            .await
            .unwrap_err()
            .status_code(),
        503
    );
    client.delete_plugin_release("made@1.0").await.unwrap();
    assert_eq!(
        client
            .get_plugin_release("made@1.0")
            .await
            .unwrap_err()
            .status_code(),
        404
    );
    gw.shutdown().await;
}

fn gateway(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_agent-gateway"));
    cmd.env_remove("AGENT_TOKEN")
        .env_remove("RAY_AUTH_TOKEN")
        .args(["--token", "tok"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Start-up errors name the flag, show the expected form and suggest the fix, with
/// no HTTP status in them (exit 2, as any bad command line).
#[test]
fn start_up_errors_name_the_flag_and_the_fix() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--ray-address", "127.0.0.1:8265"],
            &[
                "--ray-address",
                "http://HOST:PORT",
                "did you mean http://127.0.0.1:8265?",
            ],
        ),
        (
            &["--ray-address", "ftp://ray:8265"],
            &["--ray-address", "http://HOST:PORT"],
        ),
        (
            &["--listen", "8000"],
            &["--listen", "HOST:PORT", "did you mean 127.0.0.1:8000?"],
        ),
        (
            &["--listen", "http://0.0.0.0:8000/"],
            &["--listen", "did you mean 0.0.0.0:8000?"],
        ),
    ];
    for (args, wanted) in cases {
        let out = gateway(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for w in *wanted {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
        assert!(!err.contains("(400)"), "{err}");
    }
}

/// With Ray down at start-up, the warning calls Ray "Ray", names its address (the
/// gateway's own output) and the gateway serves anyway.
#[test]
fn the_start_up_warning_calls_ray_ray() {
    use std::io::BufRead;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ray = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut child = gateway(&["--ray-address", &ray, "--listen", "127.0.0.1:0", "--quiet"])
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let serving = line.contains("serving the agent API");
        lines.push(line);
        if serving {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let warning = lines
        .iter()
        .find(|l| l.contains("warning"))
        .unwrap_or_else(|| panic!("no warning: {lines:?}"));
    assert!(
        warning.contains(&format!("Ray is not answering at {ray}")),
        "{warning}"
    );
    assert!(!warning.contains("the agent"), "{warning}");
}
