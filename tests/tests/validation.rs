//! Every caller-supplied path segment is validated before any request ("we do
//! better" 1): hostile ids are refused with a 400 by every id-taking method of both
//! clients, and the server's journal shows that nothing was sent. Tail options and
//! request bodies are checked the same way.

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, Protocol, RunPluginRelease, StreamLimits, TailOptions,
};
use agent_client_blocking::AgentClient;
use agent_testkit::AgentTestServer;
use common::{async_client, blocking_client, on_thread};
use http::Method;
use std::time::Duration;

/// Ids that would change the URL (or are not ids at all).
fn hostile_ids() -> Vec<String> {
    vec![
        "../health".into(),
        "..".into(),
        ".".into(),
        "a?b".into(),
        "a#b".into(),
        "%2e".into(),
        "%2e%2e".into(),
        "a/b".into(),
        "a\\b".into(),
        "".into(),
        " ".into(),
        "a b".into(),
        "a\nb".into(),
        "é".into(),
        "x".repeat(101),
    ]
}

/// Plugin lookups (`id` or `code@version`) that would change the URL.
fn hostile_lookups() -> Vec<String> {
    let mut v = hostile_ids();
    v.extend(
        [
            "demo@../x",
            "demo@..",
            "demo@.",
            "demo@",
            "@1.0.0",
            "demo@1.0.0/run",
            "demo@1.0.0?x=1",
            "demo@1%2e0",
            "../demo@1.0.0",
        ]
        .map(String::from),
    );
    v
}

/// Raw paths that would escape or carry a query inside the path.
fn hostile_raw_paths() -> Vec<&'static str> {
    vec![
        "../health",
        "jobs/../health/",
        "jobs/./",
        "jobs/?x=1",
        "jobs/#x",
        "jobs/%2e%2e/",
        "jobs//x",
        "http://evil.example/",
        "",
        "/",
    ]
}

fn expect_400<T: std::fmt::Debug>(what: &str, input: &str, r: Result<T, ClientError>) {
    match r {
        Err(e @ ClientError::InvalidInput { .. }) => assert_eq!(e.status_code(), 400),
        other => panic!("{what}({input:?}): expected a 400 before any request, got {other:?}"),
    }
}

/// Calls every id-taking method of the async client with `id`.
async fn async_calls(c: &AsyncAgentClient, id: &str) {
    expect_400("get_job", id, c.get_job(id).await);
    expect_400("get_job_logs", id, c.get_job_logs(id).await);
    expect_400("stop_job", id, c.stop_job(id).await);
    for p in [Protocol::Auto, Protocol::WebSocket, Protocol::Http] {
        let r = c.tail_job_logs(id, TailOptions::new().protocol(p)).await;
        expect_400("tail_job_logs", id, r.map(|_| ()));
    }
    expect_400("get_node", id, c.get_node(id).await);
    expect_400("get_task", id, c.get_task(id).await);
    expect_400(
        "get_serve_application",
        id,
        c.get_serve_application(id).await,
    );
    expect_400(
        "delete_serve_application",
        id,
        c.delete_serve_application(id).await,
    );
}

async fn async_lookup_calls(c: &AsyncAgentClient, lookup: &str) {
    expect_400(
        "get_plugin_release",
        lookup,
        c.get_plugin_release(lookup).await,
    );
    expect_400(
        "delete_plugin_release",
        lookup,
        c.delete_plugin_release(lookup).await,
    );
    expect_400(
        "run_plugin_release",
        lookup,
        c.run_plugin_release(lookup, &RunPluginRelease::new("train"))
            .await,
    );
}

fn blocking_calls(c: &AgentClient, id: &str) {
    expect_400("get_job", id, c.get_job(id));
    expect_400("get_job_logs", id, c.get_job_logs(id));
    expect_400("stop_job", id, c.stop_job(id));
    for p in [Protocol::Auto, Protocol::WebSocket, Protocol::Http] {
        let r = c.tail_job_logs(id, TailOptions::new().protocol(p));
        expect_400("tail_job_logs", id, r.map(|_| ()));
    }
    expect_400("get_node", id, c.get_node(id));
    expect_400("get_task", id, c.get_task(id));
    expect_400("get_serve_application", id, c.get_serve_application(id));
    expect_400(
        "delete_serve_application",
        id,
        c.delete_serve_application(id),
    );
}

fn blocking_lookup_calls(c: &AgentClient, lookup: &str) {
    expect_400("get_plugin_release", lookup, c.get_plugin_release(lookup));
    expect_400(
        "delete_plugin_release",
        lookup,
        c.delete_plugin_release(lookup),
    );
    expect_400(
        "run_plugin_release",
        lookup,
        c.run_plugin_release(lookup, &RunPluginRelease::new("train")),
    );
}

async fn server() -> AgentTestServer {
    AgentTestServer::sample().build().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_are_refused_by_the_async_client_without_a_request() {
    let server = server().await;
    let c = async_client(&server);
    for id in hostile_ids() {
        async_calls(&c, &id).await;
    }
    for lookup in hostile_lookups() {
        async_lookup_calls(&c, &lookup).await;
    }
    for path in hostile_raw_paths() {
        let r = c
            .raw_request(Method::GET, path, &[] as &[(&str, &str)], None)
            .await;
        expect_400("raw_request", path, r);
    }
    assert!(server.journal().is_empty(), "{:?}", server.journal());
    // the same client does send valid ids (the refusals were not a broken client)
    assert!(c.get_job("raysubmit_capture1").await.is_ok());
    assert!(c.get_plugin_release("demo@1.0.0").await.is_ok());
    assert_eq!(server.journal().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_are_refused_by_the_blocking_client_without_a_request() {
    let server = server().await;
    let c = blocking_client(&server);
    let c2 = c.clone();
    on_thread(move || {
        for id in hostile_ids() {
            blocking_calls(&c2, &id);
        }
        for lookup in hostile_lookups() {
            blocking_lookup_calls(&c2, &lookup);
        }
        for path in hostile_raw_paths() {
            let r = c2.raw_request(Method::GET, path, &[] as &[(&str, &str)], None);
            expect_400("raw_request", path, r);
        }
    })
    .await;
    assert!(server.journal().is_empty(), "{:?}", server.journal());
    let ok = on_thread(move || c.get_job("raysubmit_capture1").is_ok()).await;
    assert!(ok);
    assert_eq!(server.journal().len(), 1);
}

/// Ids at the edges of the rule go out as they are: 100 characters of the allowed
/// set, `code@version` with dots and a plus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_ids_at_the_edges_are_sent_verbatim() {
    let server = server().await;
    let c = async_client(&server);
    let long = format!("raysubmit_{}", "A-z_9".repeat(18));
    assert_eq!(long.len(), 100);
    assert_eq!(c.get_job(&long).await.unwrap_err().status_code(), 404);
    assert_eq!(
        c.get_plugin_release("demo@1.0.0+build.5")
            .await
            .unwrap_err()
            .status_code(),
        404
    );
    let paths: Vec<String> = server.journal().into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        [
            format!("/jobs/{long}/"),
            "/plugin_releases/demo@1.0.0+build.5".to_owned()
        ]
    );
}

/// Tail time-outs (positive, at most 300 s), stream limits (positive), protocol
/// names, and run bodies (an action) are checked before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_options_and_bodies_are_checked_before_any_request() {
    let server = server().await;
    let a = async_client(&server);
    let b = blocking_client(&server);
    let zero_limit = StreamLimits {
        max_lines: 0,
        ..StreamLimits::default()
    };
    let bad_options = [
        TailOptions::new().timeout(Duration::ZERO),
        TailOptions::new().timeout(Duration::from_secs(301)),
        TailOptions::new().timeout(Duration::from_millis(300_001)),
        TailOptions::new().limits(zero_limit),
        TailOptions::new().limits(StreamLimits {
            queue_size: 0,
            ..StreamLimits::default()
        }),
    ];
    for opts in bad_options.clone() {
        let r = a.tail_job_logs("raysubmit_capture1", opts.clone()).await;
        expect_400("tail_job_logs", &format!("{opts:?}"), r.map(|_| ()));
    }
    for name in ["", "ws2", "grpc", "web socket", "HTTP/2"] {
        expect_400("Protocol::from_str", name, name.parse::<Protocol>());
    }
    expect_400(
        "run_plugin_release",
        "empty action",
        a.run_plugin_release("demo@1.0.0", &RunPluginRelease::new(""))
            .await,
    );
    on_thread(move || {
        for opts in bad_options {
            let r = b.tail_job_logs("raysubmit_capture1", opts.clone());
            expect_400("tail_job_logs", &format!("{opts:?}"), r.map(|_| ()));
        }
        expect_400(
            "run_plugin_release",
            "empty action",
            b.run_plugin_release("demo@1.0.0", &RunPluginRelease::new("")),
        );
    })
    .await;
    // a client built with bad settings is refused too
    for bad in [
        AsyncAgentClient::builder(server.url(), "").build(),
        AsyncAgentClient::builder(server.url(), "tok\nen").build(),
        AsyncAgentClient::builder("ftp://127.0.0.1/", "t").build(),
        AsyncAgentClient::builder("not a url", "t").build(),
        AsyncAgentClient::builder(server.url(), "t")
            .read_timeout(Duration::ZERO)
            .build(),
        AsyncAgentClient::builder(server.url(), "t")
            .stream_limits(zero_limit)
            .build(),
    ] {
        expect_400("build", "bad settings", bad);
    }
    let built = on_thread(|| AgentClient::builder("not a url", "t").build().map(drop)).await;
    expect_400("blocking build", "not a url", built);
    assert!(server.journal().is_empty(), "{:?}", server.journal());
}
