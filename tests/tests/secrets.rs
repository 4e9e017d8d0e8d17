//! Tokens never show ("we do better" 7): every error a broad list of scenarios
//! produces, from both clients, is searched (`{e}`, `{e:?}`, `{e:#?}`) for the agent
//! token, the user token, the tenant and a wrong token; so are the `Debug` prints of
//! clients, builders, tails and the requests a transport sees. Several faults echo
//! the tokens back in their bodies, to prove that server text is scrubbed.

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, CreatePluginRelease, Protocol, RetryPolicy, RunPluginRelease,
    StreamLimits, TailOptions,
};
use agent_client_blocking::AgentClient;
use agent_testkit::{AgentTestServer, Fault, JobSpec, RouteKind, TailFault};
use agent_transport::memory::{MemoryReply, MemoryTransport};
use common::{assert_clean, assert_error_clean, closed_port, drain, on_thread, IDLE};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const AGENT: &str = "agtok-5e1f9a77d3";
const USER: &str = "usrtok-c0ffee4242";
const TENANT: &str = "tenant-b1ab2c3d9";
const WRONG: &str = "wrongtok-77aa11ee";
const SECRETS: [&str; 4] = [AGENT, USER, TENANT, WRONG];
const JOB: &str = "raysubmit_sec1";

/// Text that holds every secret of the (right) client, the way a careless server
/// might echo them.
fn echo() -> String {
    format!("Authorization: {AGENT} / SYNAPSE-User: Token {USER} / SYNAPSE-Tenant: Token {TENANT}")
}

/// The same for the client with the wrong token.
fn echo_wrong() -> String {
    format!("the token {WRONG} is unknown (user Token {USER}, tenant {TENANT})")
}

async fn server() -> AgentTestServer {
    AgentTestServer::sample()
        .token(AGENT)
        .job(JobSpec::new(JOB).lines(common::lines("s", 20)))
        .job(JobSpec::new("raysubmit_endless").endless(20).rate(200.0))
        .build()
        .await
        .unwrap()
}

fn async_client(url: &str, token: &str) -> AsyncAgentClient {
    AsyncAgentClient::builder(url, token)
        .user_token(USER)
        .tenant(TENANT)
        .retry_policy(RetryPolicy::none())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

fn blocking_client(url: &str, token: &str) -> AgentClient {
    AgentClient::builder(url, token)
        .user_token(USER)
        .tenant(TENANT)
        .retry_policy(RetryPolicy::none())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

/// The errors of one run, with what produced them.
#[derive(Default)]
struct Errors(Vec<(String, ClientError)>);

impl Errors {
    fn add<T: std::fmt::Debug>(&mut self, what: &str, r: Result<T, ClientError>) {
        match r {
            Err(e) => self.0.push((what.to_owned(), e)),
            Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        }
    }

    /// Opens a tail and reads it to its end; adds the error it opened or ended with.
    async fn tail(&mut self, what: &str, c: &AsyncAgentClient, job: &str, o: TailOptions) {
        match c.tail_job_logs(job, o).await {
            Err(e) => self.0.push((what.to_owned(), e)),
            Ok(mut t) => {
                let (_, err) = drain(&mut t).await;
                assert_clean(&format!("{t:?} {t:#?}"), &SECRETS);
                let e = err.unwrap_or_else(|| panic!("{what}: the tail completed"));
                self.0.push((what.to_owned(), e));
            }
        }
    }

    fn check(&self) -> BTreeSet<u16> {
        let mut codes = BTreeSet::new();
        let mut leaks = Vec::new();
        for (what, e) in &self.0 {
            for text in [format!("{e}"), format!("{e:?}"), format!("{e:#?}")] {
                if SECRETS.iter().any(|s| text.contains(s)) {
                    leaks.push(format!("{what}: {text}"));
                }
            }
            codes.insert(e.status_code());
        }
        assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
        codes
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_of_the_async_client_shows_a_token() {
    let server = server().await;
    let c = async_client(&server.url(), AGENT);
    let wrong = async_client(&server.url(), WRONG);
    let mut errors = Errors::default();

    errors.add("401", wrong.list_jobs().await);
    errors.add(
        "401 tail",
        wrong.tail_job_logs(JOB, TailOptions::new()).await.map(drop),
    );
    server.set_fault(RouteKind::GetTask, Fault::text(401, echo_wrong()).times(1));
    errors.add("401 echo", wrong.get_task("t1").await);
    server.set_fault(
        RouteKind::ListNodes,
        Fault::json(403, json!({"detail": echo()})),
    );
    errors.add("403 echo", c.list_nodes().await);
    errors.add("404", c.get_job("raysubmit_nope").await);
    errors.add(
        "404 tail",
        c.tail_job_logs("raysubmit_nope", TailOptions::new())
            .await
            .map(drop),
    );
    errors.add("400 invalid", c.get_job("../health").await);
    server.set_fault(
        RouteKind::GetTask,
        Fault::json(400, json!({"detail": echo()})),
    );
    errors.add("400 echo", c.get_task("t1").await);
    server.set_fault(RouteKind::GetNode, Fault::text(500, echo()));
    errors.add("500 echo", c.get_node("n1").await);
    server.set_fault(
        RouteKind::CreatePluginRelease,
        Fault::json(
            422,
            json!({"detail": [{"loc": ["header", AGENT, USER], "msg": echo(), "type": TENANT}]}),
        ),
    );
    errors.add(
        "422 echo",
        c.create_plugin_release(&CreatePluginRelease::new("x", "1"))
            .await,
    );
    errors.add(
        "422 real",
        c.run_plugin_release("demo@1.0.0", &RunPluginRelease::new("a").job_id("bad id"))
            .await,
    );
    server.set_fault(
        RouteKind::ListTasks,
        Fault::text(429, echo()).header("Retry-After", "1"),
    );
    errors.add("429 echo", c.list_tasks().await);
    server.set_fault(
        RouteKind::ListServeApplications,
        Fault::text(503, echo()).header("Retry-After", "2"),
    );
    errors.add("503 echo", c.list_serve_applications().await);
    server.set_fault(RouteKind::GpuStatus, Fault::gpu_unavailable(echo()));
    errors.add("503 gpu echo", c.get_gpu_status().await);
    server.set_fault(
        RouteKind::ListJobs,
        Fault::bytes(200, format!("<html>{}</html>", echo())),
    );
    errors.add("decode echo", c.list_jobs().await);
    server.set_fault(RouteKind::StopJob, Fault::stall());
    errors.add("408 stall", c.stop_job(JOB).await);
    server.set_fault(RouteKind::Health, Fault::close_after_bytes(3));
    errors.add("503 cut", c.health_check().await);
    server.set_fault(RouteKind::GetJob, Fault::delay(Duration::from_secs(3)));
    errors.add("408 delay", c.get_job(JOB).await);
    let down = format!("http://{}/", closed_port().await);
    errors.add("503 refused", async_client(&down, AGENT).list_jobs().await);

    // tails
    server.set_tail_fault(JOB, TailFault::error_after(2, echo()).times(2));
    errors
        .tail(
            "error event ws",
            &c,
            JOB,
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await;
    errors
        .tail(
            "error event http",
            &c,
            JOB,
            TailOptions::new().protocol(Protocol::Http),
        )
        .await;
    server.clear_tail_faults(JOB);
    server.set_tail_fault(
        JOB,
        TailFault::silent_for(2, Duration::from_secs(10)).times(1),
    );
    errors
        // over HTTP: a WebSocket server that answers pings is alive (issue 11)
        .tail(
            "408 idle",
            &c,
            JOB,
            TailOptions::new().protocol(Protocol::Http).timeout(IDLE),
        )
        .await;
    server.clear_tail_faults(JOB);
    let tight = StreamLimits {
        max_messages: 3,
        max_lines: 3,
        ..StreamLimits::default()
    };
    errors
        .tail("429 limit", &c, JOB, TailOptions::new().limits(tight))
        .await;
    server.set_tail_fault(JOB, TailFault::drop_after(3).times(2));
    errors
        .tail(
            "503 drop ws",
            &c,
            JOB,
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await;
    errors
        .tail(
            "503 drop http",
            &c,
            JOB,
            TailOptions::new().protocol(Protocol::Http),
        )
        .await;
    server.clear_tail_faults(JOB);
    server.set_fault(RouteKind::TailWebSocket, Fault::text(403, echo()).times(1));
    errors
        .tail(
            "403 ws refused",
            &c,
            JOB,
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await;
    server.set_fault(RouteKind::TailWebSocket, Fault::text(503, echo()).times(1));
    server.set_fault(RouteKind::TailHttp, Fault::text(503, echo()).times(1));
    errors
        .tail("503 auto both refused", &c, JOB, TailOptions::new())
        .await;
    server.set_fault(RouteKind::TailHttp, Fault::text(404, echo()).times(1));
    errors
        .tail(
            "404 http refused",
            &c,
            JOB,
            TailOptions::new().protocol(Protocol::Http),
        )
        .await;
    server.set_tail_fault(JOB, TailFault::drop_after(3).websocket_only().times(1));
    server.set_tail_fault(JOB, TailFault::error_after(5, echo()).http_only().times(1));
    errors
        .tail("error after fallback", &c, JOB, TailOptions::new())
        .await;
    server.clear_tail_faults(JOB);

    // a closed client, and its open tail
    let mut open = c
        .tail_job_logs("raysubmit_endless", TailOptions::new())
        .await
        .unwrap();
    c.close().await;
    let (_, err) = drain(&mut open).await;
    errors.add("closed tail", err.map_or(Ok(()), Err));
    errors.add("closed", c.list_jobs().await);

    let codes = errors.check();
    for code in [400, 401, 403, 404, 408, 422, 429, 500, 503] {
        assert!(
            codes.contains(&code),
            "no error with code {code}: {codes:?}"
        );
    }
    assert!(errors.0.len() >= 30, "{}", errors.0.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_of_the_blocking_client_shows_a_token() {
    let server = server().await;
    let c = blocking_client(&server.url(), AGENT);
    let wrong = blocking_client(&server.url(), WRONG);
    server.set_fault(
        RouteKind::ListNodes,
        Fault::json(403, json!({"detail": echo()})),
    );
    server.set_fault(RouteKind::GetNode, Fault::text(500, echo()));
    server.set_fault(RouteKind::ListJobs, Fault::bytes(200, echo()));
    server.set_fault(RouteKind::StopJob, Fault::stall());
    server.set_fault(RouteKind::GpuStatus, Fault::gpu_unavailable(echo()));
    server.set_tail_fault(JOB, TailFault::error_after(2, echo()));
    server.set_fault(RouteKind::GetTask, Fault::text(401, echo_wrong()).times(1));
    let errors = on_thread(move || {
        let mut errors = Errors::default();
        errors.add("401", wrong.get_job(JOB));
        errors.add("401 echo", wrong.get_task("t1"));
        errors.add("403 echo", c.list_nodes());
        errors.add("500 echo", c.get_node("n1"));
        errors.add("decode echo", c.list_jobs());
        errors.add("408 stall", c.stop_job(JOB));
        errors.add("503 gpu echo", c.get_gpu_status());
        errors.add("400 invalid", c.get_task("a?b"));
        let mut t = c.tail_job_logs(JOB, TailOptions::new()).unwrap();
        let (_, err) = common::drain_blocking(&mut t);
        assert_clean(&format!("{t:?} {t:#?}"), &SECRETS);
        errors.add("error event", err.map_or(Ok(()), Err));
        c.close();
        errors.add("closed", c.list_tasks());
        errors
    })
    .await;
    // called inside a runtime: refused, and the refusal is clean too
    let inside = blocking_client(&server.url(), AGENT);
    let mut errors = errors;
    errors.add("inside a runtime", inside.health_check());
    let codes = errors.check();
    for code in [400, 401, 403, 408, 500, 503] {
        assert!(
            codes.contains(&code),
            "no error with code {code}: {codes:?}"
        );
    }
}

/// The `Debug` prints of clients, builders and the requests a transport receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_debug_print_shows_a_token() {
    let server = server().await;
    let builder = AsyncAgentClient::builder(server.url(), AGENT)
        .user_token(USER)
        .tenant(TENANT);
    assert_clean(&format!("{builder:?} {builder:#?}"), &SECRETS);
    let a = builder.build().unwrap();
    assert_clean(&format!("{a:?} {a:#?}"), &SECRETS);
    let bb = AgentClient::builder(server.url(), AGENT)
        .user_token(USER)
        .tenant(TENANT);
    assert_clean(&format!("{bb:?} {bb:#?}"), &SECRETS);
    let b = bb.build().unwrap();
    assert_clean(&format!("{b:?} {b:#?}"), &SECRETS);
    let mut t = a.tail_job_logs(JOB, TailOptions::new()).await.unwrap();
    assert_clean(&format!("{t:?} {t:#?}"), &SECRETS);
    drain(&mut t).await;

    // the requests as a transport sees them carry the tokens, marked sensitive
    let memory = MemoryTransport::new(|_| Ok(MemoryReply::body(200, "[]")));
    let m = AsyncAgentClient::builder("http://in-memory/", AGENT)
        .user_token(USER)
        .tenant(TENANT)
        .transport(Arc::new(memory.clone()))
        .build()
        .unwrap();
    m.list_jobs().await.unwrap();
    let requests = memory.requests();
    assert_eq!(requests[0].headers["authorization"], AGENT);
    assert_eq!(
        requests[0].headers["synapse-user"],
        format!("Token {USER}").as_str()
    );
    assert!(requests[0].headers["authorization"].is_sensitive());
    assert!(requests[0].headers["synapse-user"].is_sensitive());
    assert!(requests[0].headers["synapse-tenant"].is_sensitive());
    assert_clean(&format!("{requests:?} {requests:#?}"), &SECRETS);

    // and the server's journal, which the tests print on failure
    let journal = server.journal();
    assert!(!journal.is_empty());
    assert_clean(&format!("{journal:?}"), &SECRETS);
}

/// An id that happens to hold a token (a caller's mistake, or user input) is
/// refused without echoing it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_id_holding_a_token_is_not_echoed() {
    let server = server().await;
    let c = async_client(&server.url(), AGENT);
    let mut errors = Errors::default();
    errors.add("invalid id", c.get_job(format!("{AGENT}/x")).await);
    errors.add(
        "invalid lookup",
        c.get_plugin_release(format!("{USER}@1/x")).await,
    );
    errors.add(
        "invalid raw path",
        c.raw_request(
            http::Method::GET,
            &format!("{TENANT}/?x"),
            &[] as &[(&str, &str)],
            None,
        )
        .await,
    );
    // a valid id that holds a token reaches the agent, whose 404 names it
    errors.add("404 naming it", c.get_job(AGENT).await);
    for (what, e) in &errors.0 {
        assert!(
            e.status_code() == 400 || e.status_code() == 404,
            "{what}: {e:?}"
        );
    }
    errors.check();
}

#[test]
fn the_common_checker_sees_leaks() {
    let e = ClientError::from_response(500, None, AGENT.as_bytes());
    let caught = std::panic::catch_unwind(|| assert_error_clean(&e, &SECRETS));
    assert!(caught.is_err(), "the leak check itself is blind");
}
