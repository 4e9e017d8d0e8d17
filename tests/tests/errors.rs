//! Every row of the spec's error table, reached from both clients through the real
//! wire: the agent's statuses (from the test server's own answers where it has them,
//! from faults otherwise), time-outs, an unreachable agent, and answers that are not
//! JSON. Each error carries its status code and the variant a caller can match on.

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, CreatePluginRelease, Protocol, RetryPolicy, RunPluginRelease,
    TailOptions,
};
use agent_client_blocking::AgentClient;
use agent_proto::TimeoutKind;
use agent_testkit::{AgentTestServer, Fault, FaultTarget, RouteKind};
use common::{closed_port, on_thread};
use serde_json::json;
use std::time::Duration;

/// Calls `method(args)` on the async client, then on the blocking one (on a thread
/// of its own), and returns both results.
macro_rules! both {
    ($a:expr, $b:expr, $method:ident ( $($arg:expr),* )) => {{
        let ra = $a.$method($($arg),*).await;
        let b = $b.clone();
        let rb = on_thread(move || b.$method($($arg),*)).await;
        (ra, rb)
    }};
}

/// Both results are errors with `code` that `check` accepts; returns them.
#[track_caller]
fn both_fail<T: std::fmt::Debug>(
    code: u16,
    (a, b): (Result<T, ClientError>, Result<T, ClientError>),
    check: impl Fn(&ClientError) -> bool,
) -> [ClientError; 2] {
    let a = a.expect_err("the async client succeeded");
    let b = b.expect_err("the blocking client succeeded");
    for (who, e) in [("async", &a), ("blocking", &b)] {
        assert_eq!(e.status_code(), code, "{who}: {e:?}");
        assert!(check(e), "{who}: unexpected error {e:?}");
    }
    [a, b]
}

/// The kinds of every `io::Error` in `e`'s source chain.
fn io_errors(e: &ClientError) -> Vec<std::io::ErrorKind> {
    let mut kinds = Vec::new();
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            kinds.push(io.kind());
        }
        next = s.source();
    }
    kinds
}

/// Clients that do not retry, with a short read time-out.
fn clients(server: &AgentTestServer) -> (AsyncAgentClient, AgentClient) {
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .retry_policy(RetryPolicy::none())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let b = AgentClient::builder(server.url(), server.token())
        .retry_policy(RetryPolicy::none())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    (a, b)
}

async fn sample() -> AgentTestServer {
    AgentTestServer::sample().build().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_400_from_the_agent() {
    let server = sample().await;
    let (a, b) = clients(&server);
    // the test server's own 400: a release that exists already
    let [e, _] = both_fail(
        400,
        both!(
            a,
            b,
            create_plugin_release(&CreatePluginRelease::new("demo", "1.0.0"))
        ),
        |e| matches!(e, ClientError::BadRequest { .. }),
    );
    assert!(e.to_string().contains("unique"), "{e}");
    // a fault's 400 with a FastAPI `detail` string
    server.set_fault(
        RouteKind::GetJob,
        Fault::json(
            400,
            json!({"detail": "the job id is not known to this cluster"}),
        )
        .times(2),
    );
    let [e, _] = both_fail(
        400,
        both!(a, b, get_job("raysubmit_capture1")),
        |e| matches!(e, ClientError::BadRequest { message } if message == "the job id is not known to this cluster"),
    );
    assert_eq!(
        e.to_string(),
        "bad request (400): the job id is not known to this cluster"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_401_for_a_wrong_token_and_403_for_a_refused_user() {
    let server = sample().await;
    let a = AsyncAgentClient::new(server.url(), "not-the-token").unwrap();
    let b = AgentClient::new(server.url(), "not-the-token").unwrap();
    both_fail(
        401,
        both!(a, b, list_jobs()),
        |e| matches!(e, ClientError::Unauthorized { message } if message.contains("agent token")),
    );
    // the tails are refused the same way, whatever the protocol
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let e = a
            .tail_job_logs("raysubmit_capture1", TailOptions::new().protocol(p))
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Unauthorized { .. }), "{p}: {e:?}");
    }

    let (a, b) = clients(&server);
    server.set_fault(
        RouteKind::ListNodes,
        Fault::json(403, json!({"detail": "user may not read this tenant"})).times(2),
    );
    both_fail(
        403,
        both!(a, b, list_nodes()),
        |e| matches!(e, ClientError::Forbidden { message } if message == "user may not read this tenant"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_404_for_every_kind_of_resource() {
    let server = sample().await;
    let (a, b) = clients(&server);
    let [e, _] = both_fail(404, both!(a, b, get_job("raysubmit_nope")), |e| {
        matches!(e, ClientError::NotFound { .. })
    });
    // Ray answers unknown jobs in plain text: the message is that text
    assert_eq!(
        e.to_string(),
        "not found (404): Job raysubmit_nope does not exist"
    );
    let not_found = |e: &ClientError| matches!(e, ClientError::NotFound { .. });
    both_fail(404, both!(a, b, get_job_logs("raysubmit_nope")), not_found);
    both_fail(404, both!(a, b, stop_job("raysubmit_nope")), not_found);
    both_fail(404, both!(a, b, get_node("nope")), not_found);
    both_fail(404, both!(a, b, get_task("nope")), not_found);
    both_fail(404, both!(a, b, get_serve_application("nope")), not_found);
    both_fail(
        404,
        both!(a, b, delete_serve_application("nope")),
        not_found,
    );
    both_fail(404, both!(a, b, get_plugin_release("nope@1.0")), not_found);
    both_fail(
        404,
        both!(a, b, delete_plugin_release("nope@1.0")),
        not_found,
    );
    both_fail(
        404,
        both!(
            a,
            b,
            run_plugin_release("nope@1.0", &RunPluginRelease::new("train"))
        ),
        not_found,
    );
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let opts = TailOptions::new().protocol(p);
        let e = a
            .tail_job_logs("raysubmit_nope", opts.clone())
            .await
            .unwrap_err();
        assert!(not_found(&e), "{p}: {e:?}");
        let b2 = b.clone();
        let e = on_thread(move || b2.tail_job_logs("raysubmit_nope", opts).map(drop))
            .await
            .unwrap_err();
        assert!(not_found(&e), "{p}: {e:?}");
    }
    // a 404 with an empty body still says what happened
    server.set_fault(RouteKind::Health, Fault::status(404).times(2));
    let [e, _] = both_fail(404, both!(a, b, health_check()), not_found);
    assert!(e.to_string().contains("404"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_408_when_the_answer_is_late_or_never_comes() {
    let server = sample().await;
    let (a, b) = clients(&server);
    let read_timeout = |e: &ClientError| match e {
        ClientError::ResponseIncomplete { cause, .. } => matches!(
            **cause,
            ClientError::Timeout {
                kind: TimeoutKind::Read,
                ..
            }
        ),
        _ => false,
    };
    // answered, but later than the read time-out
    server.set_fault(
        RouteKind::GetJob,
        Fault::delay(Duration::from_secs(3)).times(2),
    );
    both_fail(
        408,
        both!(a, b, get_job("raysubmit_capture1")),
        read_timeout,
    );
    // read, never answered
    server.set_fault(RouteKind::Health, Fault::stall().times(2));
    both_fail(408, both!(a, b, health_check()), read_timeout);
    // the opening of a tail waits for its answer as long as the tail's time-out
    server.set_fault(
        RouteKind::TailHttp,
        Fault::delay(Duration::from_secs(3)).times(1),
    );
    let e = a
        .tail_job_logs(
            "raysubmit_capture1",
            TailOptions::new()
                .protocol(Protocol::Http)
                .timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 408, "{e:?}");
    // a time-out is never retried blindly: each client sent each request once
    assert_eq!(server.requests(RouteKind::GetJob).len(), 2);
    assert_eq!(server.requests(RouteKind::Health).len(), 2);
}

/// A connection whose TLS handshake never completes: the connect time-out (TCP and
/// TLS together) is a 408 of kind `Connect`, and the request never left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_408_when_connecting_takes_too_long() {
    let silent = common::SilentListener::start().await;
    let url = format!("https://{}/", silent.addr);
    let a = AsyncAgentClient::builder(&url, "t")
        .connect_timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let b = AgentClient::builder(&url, "t")
        .connect_timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let connect_timeout = |e: &ClientError| {
        matches!(
            e,
            ClientError::Timeout {
                kind: TimeoutKind::Connect,
                ..
            }
        ) && e.is_transient()
    };
    both_fail(408, both!(a, b, list_jobs()), connect_timeout);
    both_fail(408, both!(a, b, stop_job("raysubmit_1")), connect_timeout);
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let e = a
            .tail_job_logs("raysubmit_1", TailOptions::new().protocol(p))
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), 408, "{p}: {e:?}");
    }
}

/// Faults aimed at one id, or at every request, and faults that act late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_aimed_at_one_id_or_at_everything() {
    let server = sample().await;
    let (a, b) = clients(&server);
    server.set_fault(
        FaultTarget::route(RouteKind::GetJob).id("raysubmit_failed1"),
        Fault::status(503),
    );
    both_fail(503, both!(a, b, get_job("raysubmit_failed1")), |e| {
        matches!(e, ClientError::Unavailable { .. })
    });
    // the other jobs are answered
    assert!(a.get_job("raysubmit_capture1").await.is_ok());
    // a fault that answers late: the read time-out comes first
    server.set_fault(
        RouteKind::ListTasks,
        Fault::text(500, "late").after(Duration::from_secs(3)),
    );
    let e = a.list_tasks().await.unwrap_err();
    assert_eq!(e.status_code(), 408, "{e:?}");
    // every request
    server.clear_faults();
    server.set_fault(FaultTarget::any(), Fault::text(500, "everything is broken"));
    both_fail(
        500,
        both!(a, b, health_check()),
        |e| matches!(e, ClientError::Server { message, .. } if message == "everything is broken"),
    );
    let e = a
        .tail_job_logs("raysubmit_capture1", TailOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 500, "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_422_renders_fastapi_details() {
    let server = sample().await;
    let (a, b) = clients(&server);
    // the test server's own 422: a job id in the body that is not an id
    let run = RunPluginRelease::new("train").job_id("not an id!");
    let [e, _] = both_fail(
        422,
        both!(a, b, run_plugin_release("demo@1.0.0", &run)),
        |e| matches!(e, ClientError::Validation { details, .. } if details.len() == 1),
    );
    assert!(
        e.to_string().contains("body -> job_id: Invalid job id"),
        "{e}"
    );
    // a fault's 422
    server.set_fault(
        RouteKind::CreatePluginRelease,
        Fault::validation("plugin", "field required").times(2),
    );
    let [e, _] = both_fail(
        422,
        both!(
            a,
            b,
            create_plugin_release(&CreatePluginRelease::new("x", "1"))
        ),
        |e| matches!(e, ClientError::Validation { .. }),
    );
    assert_eq!(
        e.to_string(),
        "the agent rejected the request (422):\nbody -> plugin: field required"
    );
    match &e {
        ClientError::Validation { details, .. } => {
            assert_eq!(details[0].loc, [json!("body"), json!("plugin")]);
            assert_eq!(details[0].kind, "missing");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_429_when_rate_limited() {
    let server = sample().await;
    // the default retry policy: a 429 is not a transient failure, it is not retried
    let a = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let b = AgentClient::new(server.url(), server.token()).unwrap();
    server.set_fault(
        RouteKind::ListTasks,
        Fault::json(429, json!({"detail": "slow down"}))
            .header("Retry-After", "7")
            .times(2),
    );
    let [e, _] = both_fail(429, both!(a, b, list_tasks()), |e| {
        matches!(e, ClientError::RateLimited { retry_after: Some(d), message }
            if *d == Duration::from_secs(7) && message == "slow down")
    });
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(server.requests(RouteKind::ListTasks).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_500_and_other_server_failures() {
    let server = sample().await;
    let a = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let b = AgentClient::new(server.url(), server.token()).unwrap();
    server.set_fault(
        RouteKind::GetTask,
        Fault::json(500, json!({"detail": "the state API failed"})).times(2),
    );
    both_fail(
        500,
        both!(a, b, get_task("x")),
        |e| matches!(e, ClientError::Server { status: 500, message } if message == "the state API failed"),
    );
    // a 500 is not transient: sent once by each client despite the default retries
    assert_eq!(server.requests(RouteKind::GetTask).len(), 2);

    // a status outside the table keeps its code
    let (a, b) = clients(&server);
    server.set_fault(RouteKind::ListNodes, Fault::text(418, "teapot").times(2));
    both_fail(418, both!(a, b, list_nodes()), |e| {
        matches!(e, ClientError::UnexpectedStatus { status: 418, .. })
    });
    server.set_fault(
        RouteKind::ListTasks,
        Fault::text(502, "bad gateway").times(2),
    );
    both_fail(502, both!(a, b, list_tasks()), |e| {
        matches!(e, ClientError::Server { status: 502, .. })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_503_with_retry_after_and_gpu_unavailable() {
    let server = sample().await;
    let (a, b) = clients(&server);
    server.set_fault(
        RouteKind::ListJobs,
        Fault::text(503, "down for maintenance")
            .header("Retry-After", "5")
            .times(2),
    );
    let [e, _] = both_fail(503, both!(a, b, list_jobs()), |e| {
        matches!(e, ClientError::Unavailable { retry_after: Some(d), message }
            if *d == Duration::from_secs(5) && message == "down for maintenance")
    });
    assert!(e.is_transient());

    // gpu_unavailable is its own 503, and not retried even by the default policy
    let a = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let b = AgentClient::new(server.url(), server.token()).unwrap();
    server.set_fault(
        RouteKind::GpuStatus,
        Fault::gpu_unavailable("no GPU in the cluster").times(2),
    );
    let [e, _] = both_fail(
        503,
        both!(a, b, get_gpu_status()),
        |e| matches!(e, ClientError::GpuUnavailable { message } if message == "no GPU in the cluster"),
    );
    assert!(!e.is_transient());
    assert_eq!(server.requests(RouteKind::GpuStatus).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_503_when_the_agent_cannot_be_reached() {
    let addr = closed_port().await;
    let url = format!("http://{addr}/");
    let a = AsyncAgentClient::builder(&url, "t")
        .retry_policy(common::quick_retries())
        .build()
        .unwrap();
    let b = AgentClient::builder(&url, "t")
        .retry_policy(common::quick_retries())
        .build()
        .unwrap();
    let connect = |e: &ClientError| matches!(e, ClientError::Connect { .. }) && e.is_connect();
    let [ea, eb] = both_fail(503, both!(a, b, health_check()), connect);
    // The source chain reaches the refused connect's `io::Error`, for `anyhow`
    // reports and for callers that downcast.
    for e in [&ea, &eb] {
        let refused = io_errors(e).contains(&std::io::ErrorKind::ConnectionRefused);
        assert!(refused, "{e:?}: {:?}", io_errors(e));
        assert!(!e.is_timeout() && !e.is_status() && !e.is_limit());
    }
    // a POST that never left is as safe to report as a GET
    both_fail(
        503,
        both!(
            a,
            b,
            run_plugin_release("demo@1.0.0", &RunPluginRelease::new("x"))
        ),
        connect,
    );
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let e = a
            .tail_job_logs("raysubmit_1", TailOptions::new().protocol(p))
            .await
            .unwrap_err();
        assert!(connect(&e), "{p}: {e:?}");
        assert_eq!(e.status_code(), 503);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_is_not_json_is_a_decode_error() {
    let server = sample().await;
    let (a, b) = clients(&server);
    server.set_fault(RouteKind::ListJobs, Fault::not_json().times(2));
    let [e, _] = both_fail(500, both!(a, b, list_jobs()), |e| {
        matches!(e, ClientError::Decode { .. })
    });
    assert!(e.to_string().contains("not JSON"), "{e}");
    // JSON of the wrong shape is a decode error too
    server.set_fault(
        RouteKind::GetJob,
        Fault::json(200, json!(["not", "a", "job"])).times(2),
    );
    both_fail(500, both!(a, b, get_job("raysubmit_capture1")), |e| {
        matches!(e, ClientError::Decode { .. })
    });
    // raw requests take any body: text comes back as a JSON string
    server.set_fault(RouteKind::Health, Fault::not_json().times(1));
    let v = a
        .raw_request(http::Method::GET, "health/", &[] as &[(&str, &str)], None)
        .await
        .unwrap();
    assert!(v.as_str().unwrap().contains("not JSON"), "{v}");
}

/// The table's codes, each reached above; here the mapping is checked once more in
/// one place against the status the agent sent, so a new variant cannot silently
/// change a code callers match on.
#[test]
fn the_error_table_codes() {
    for (status, code) in [
        (400, 400),
        (401, 401),
        (403, 403),
        (404, 404),
        (408, 408),
        (422, 422),
        (429, 429),
        (500, 500),
        (503, 503),
    ] {
        let e = ClientError::from_response(status, None, b"{}");
        assert_eq!(e.status_code(), code, "{e:?}");
        // The variant too: a fallback variant (`UnexpectedStatus`, `Server`) passes
        // any code straight through, so the code alone cannot catch a wrong mapping.
        let variant_ok = match status {
            400 => matches!(e, ClientError::BadRequest { .. }),
            401 => matches!(e, ClientError::Unauthorized { .. }),
            403 => matches!(e, ClientError::Forbidden { .. }),
            404 => matches!(e, ClientError::NotFound { .. }),
            408 => matches!(
                e,
                ClientError::Timeout {
                    kind: TimeoutKind::Read,
                    ..
                }
            ),
            422 => matches!(e, ClientError::Validation { .. }),
            429 => matches!(e, ClientError::RateLimited { .. }),
            500 => matches!(e, ClientError::Server { status: 500, .. }),
            503 => matches!(e, ClientError::Unavailable { .. }),
            _ => false,
        };
        assert!(variant_ok, "{status} became {e:?}");
        assert!(e.is_status(), "{e:?}");
    }
}
