//! Retries ("we do better" 6), counted in the server's journal: idempotent requests
//! are retried on 502/503/504 and honour a capped `Retry-After`; a POST is never
//! sent twice, and a POST whose answer was lost says so (`ResponseIncomplete`).

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, CreatePluginRelease, Protocol, RetryPolicy, RunPluginRelease,
    TailOptions,
};
use agent_client_blocking::AgentClient;
use agent_proto::TimeoutKind;
use agent_testkit::{AgentTestServer, Fault, RouteKind};
use common::{drain, on_thread, quick_retries, within};
use http::{HeaderMap, HeaderValue};
use serde_json::json;
use std::time::Duration;

async fn sample() -> AgentTestServer {
    AgentTestServer::sample().build().await.unwrap()
}

fn clients(server: &AgentTestServer, policy: RetryPolicy) -> (AsyncAgentClient, AgentClient) {
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .retry_policy(policy.clone())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let b = AgentClient::builder(server.url(), server.token())
        .retry_policy(policy)
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    (a, b)
}

#[test]
fn the_default_policy_caps_retry_after_at_60_seconds() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.max_retry_after, Duration::from_secs(60));
    assert_eq!(policy.retry_statuses, [502, 503, 504]);
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", HeaderValue::from_static("99999"));
    assert_eq!(policy.retry_after(&headers), Some(Duration::from_secs(60)));
    headers.insert("retry-after", HeaderValue::from_static("3"));
    assert_eq!(policy.retry_after(&headers), Some(Duration::from_secs(3)));
    assert_eq!(RetryPolicy::none().max_retries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_is_retried_on_503_then_succeeds() {
    let server = sample().await;
    let (a, b) = clients(&server, quick_retries());
    server.set_fault(RouteKind::ListJobs, Fault::status(503).times(2));
    assert_eq!(within(a.list_jobs()).await.unwrap().len(), 6);
    assert_eq!(server.requests(RouteKind::ListJobs).len(), 3);

    server.clear_journal();
    server.set_fault(
        RouteKind::ListJobs,
        Fault::text(502, "bad gateway").times(1),
    );
    server.set_fault(
        RouteKind::ListJobs,
        Fault::text(504, "gateway timeout").times(1),
    );
    let jobs = on_thread(move || b.list_jobs()).await.unwrap();
    assert_eq!(jobs.len(), 6);
    assert_eq!(server.requests(RouteKind::ListJobs).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_give_up_after_max_retries() {
    let server = sample().await;
    let (a, b) = clients(&server, quick_retries());
    server.set_fault(RouteKind::ListNodes, Fault::status(503));
    let e = within(a.list_nodes()).await.unwrap_err();
    assert!(matches!(e, ClientError::Unavailable { .. }), "{e:?}");
    assert_eq!(server.requests(RouteKind::ListNodes).len(), 4);
    let e = on_thread(move || b.list_nodes()).await.unwrap_err();
    assert_eq!(e.status_code(), 503);
    assert_eq!(server.requests(RouteKind::ListNodes).len(), 8);
}

/// `Retry-After: 99999` is honoured only up to the policy's cap: with a 50 ms cap the
/// retry happens (the test would hang for a day otherwise; `within` fails it after 30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_99999_is_capped() {
    let server = sample().await;
    let (a, b) = clients(&server, quick_retries());
    server.set_fault(
        RouteKind::Health,
        Fault::status(503).header("Retry-After", "99999").times(1),
    );
    assert_eq!(
        within(a.health_check()).await.unwrap().status.as_deref(),
        Some("ok")
    );
    assert_eq!(server.requests(RouteKind::Health).len(), 2);
    server.set_fault(
        RouteKind::Health,
        Fault::status(503)
            .header("Retry-After", "Fri, 31 Dec 2100 23:59:59 GMT")
            .times(1),
    );
    let health = on_thread(move || b.health_check()).await.unwrap();
    assert_eq!(health.status.as_deref(), Some("ok"));
    assert_eq!(server.requests(RouteKind::Health).len(), 4);

    // with retries off the caller sees the agent's Retry-After
    let (a, _) = clients(&server, RetryPolicy::none());
    server.set_fault(
        RouteKind::Health,
        Fault::status(503).header("Retry-After", "99999").times(1),
    );
    let e = within(a.health_check()).await.unwrap_err();
    assert!(e.retry_after().is_some(), "{e:?}");
    assert_eq!(server.requests(RouteKind::Health).len(), 5);
}

/// A POST read by the server whose answer never came: one POST in the journal, with
/// its whole body, and an error that says the write may have happened, although the
/// retry policy would allow three retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_post_is_sent_once_and_reported_incomplete() {
    let server = sample().await;
    let (a, b) = clients(&server, quick_retries());
    server.set_fault(RouteKind::RunPluginRelease, Fault::stall());
    let run = RunPluginRelease::new("train").params(json!({"epochs": 1}));
    let check = |e: &ClientError| {
        match e {
            ClientError::ResponseIncomplete {
                method,
                path,
                cause,
            } => {
                assert_eq!(method, "POST");
                assert_eq!(path, "plugin_releases/demo@1.0.0/run/");
                assert!(
                    matches!(
                        **cause,
                        ClientError::Timeout {
                            kind: TimeoutKind::Read,
                            ..
                        }
                    ),
                    "{cause:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.status_code(), 408);
        assert!(e.to_string().contains("may have reached the agent"), "{e}");
    };
    check(
        &within(a.run_plugin_release("demo@1.0.0", &run))
            .await
            .unwrap_err(),
    );
    let posts = server.requests(RouteKind::RunPluginRelease);
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].body_complete);
    assert_eq!(
        posts[0].json().unwrap(),
        json!({"action": "train", "params": {"epochs": 1}})
    );

    let run2 = run.clone();
    let e = on_thread(move || b.run_plugin_release("demo@1.0.0", &run2))
        .await
        .unwrap_err();
    check(&e);
    let posts = server.requests(RouteKind::RunPluginRelease);
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| p.body_complete));
    // and no job was started twice behind the caller's back
    assert_eq!(server.job_ids().len(), 6);
}

/// A POST whose answer broke off mid-body: sent once, reported incomplete (503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_cut_mid_answer_is_sent_once() {
    let server = sample().await;
    let (a, b) = clients(&server, quick_retries());
    server.set_fault(RouteKind::CreatePluginRelease, Fault::close_after_bytes(5));
    let e = within(a.create_plugin_release(&CreatePluginRelease::new("p", "1.0")))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
    assert_eq!(e.status_code(), 503);
    let e = on_thread(move || b.create_plugin_release(&CreatePluginRelease::new("q", "1.0")))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
    assert_eq!(server.requests(RouteKind::CreatePluginRelease).len(), 2);
}

/// A POST answered 503 is not re-sent (the agent may have acted before failing);
/// the next call, a new decision of the caller, goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_answered_503_is_not_resent() {
    let server = sample().await;
    let (a, b) = clients(&server, quick_retries());
    server.set_fault(RouteKind::StopJob, Fault::status(503).times(2));
    let e = within(a.stop_job("raysubmit_slow1")).await.unwrap_err();
    assert!(matches!(e, ClientError::Unavailable { .. }), "{e:?}");
    assert_eq!(server.requests(RouteKind::StopJob).len(), 1);
    let e = on_thread({
        let b = b.clone();
        move || b.stop_job("raysubmit_slow1")
    })
    .await
    .unwrap_err();
    assert_eq!(e.status_code(), 503);
    assert_eq!(server.requests(RouteKind::StopJob).len(), 2);
    // the fault is used up: the caller's own retry works
    assert!(
        on_thread(move || b.stop_job("raysubmit_slow1"))
            .await
            .unwrap()
            .stopped
    );
    assert_eq!(server.requests(RouteKind::StopJob).len(), 3);
}

/// A read time-out on a GET is not retried either: it may have reached the agent,
/// and the caller is told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_that_timed_out_is_not_retried() {
    let server = sample().await;
    let (a, _) = clients(&server, quick_retries());
    server.set_fault(RouteKind::ListTasks, Fault::stall().times(1));
    let e = within(a.list_tasks()).await.unwrap_err();
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
    assert_eq!(server.requests(RouteKind::ListTasks).len(), 1);
}

/// DELETE is idempotent: retried on 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_is_retried_on_503() {
    let server = sample().await;
    let (a, _) = clients(&server, quick_retries());
    server.set_fault(
        RouteKind::DeleteServeApplication,
        Fault::status(503).times(1),
    );
    within(a.delete_serve_application("hello")).await.unwrap();
    assert_eq!(server.requests(RouteKind::DeleteServeApplication).len(), 2);
    assert!(server.serve_application_names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_off_a_503_is_final() {
    let server = sample().await;
    let (a, b) = clients(&server, RetryPolicy::none());
    server.set_fault(RouteKind::ListJobs, Fault::status(503).times(2));
    assert_eq!(within(a.list_jobs()).await.unwrap_err().status_code(), 503);
    assert_eq!(
        on_thread(move || b.list_jobs())
            .await
            .unwrap_err()
            .status_code(),
        503
    );
    assert_eq!(server.requests(RouteKind::ListJobs).len(), 2);
}

/// Opening an HTTP tail is a GET: retried on 503 like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_an_http_tail_is_retried_on_503() {
    let server = sample().await;
    let (a, _) = clients(&server, quick_retries());
    server.set_fault(RouteKind::TailHttp, Fault::status(503).times(2));
    let mut tail = within(a.tail_job_logs(
        "raysubmit_capture1",
        TailOptions::new().protocol(Protocol::Http),
    ))
    .await
    .unwrap();
    let (lines, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        lines,
        common::log_lines(&server.handle(), "raysubmit_capture1")
    );
    assert_eq!(server.requests(RouteKind::TailHttp).len(), 3);
}
