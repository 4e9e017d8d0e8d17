//! A gateway whose Ray is down answers 503 with a message, never a stack trace; the
//! token is still checked first. Needs no Ray.

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
