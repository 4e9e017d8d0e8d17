//! Both clients over a long-poll handler (`LongPollTransport`, issue 21 item 3), for
//! an agent with no reachable URL: the handler keeps the queued requests in memory
//! and answers each `get_response` from the real test agent, as an agent polling a
//! queue would. Typed calls work unchanged, error answers map as over HTTP, the
//! handler sees synapse-sdk's request dict, and a tail fails with a clear error.

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, CreatePluginRelease, JobStatus, Protocol, TailOptions,
};
use agent_client_blocking::AgentClient;
use agent_testkit::sample::{PLUGIN_RELEASE, RUNNING_JOB, SUCCEEDED_JOB};
use agent_testkit::{AgentTestServer, TestHandle};
use agent_transport::long_poll::{
    LongPollHandler, LongPollRequest, LongPollResponse, LongPollTransport, NO_STREAMING,
};
use agent_transport::{HttpTransport, Request, Transport};
use bytes::Bytes;
use common::on_thread;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "long-poll-agent-token";

/// The in-memory handler: `set_request` queues, `get_response` has the test agent
/// answer (over HTTP, as the agent that polls the queue would) and hands back
/// synapse-sdk's `{"status", "reason", "data"}`.
#[derive(Debug)]
struct AgentBehindAQueue {
    agent: HttpTransport,
    queued: Mutex<HashMap<String, LongPollRequest>>,
    next_id: AtomicU64,
    /// Every request as the SDK's dict, in order.
    dicts: Mutex<Vec<Value>>,
}

impl AgentBehindAQueue {
    fn new(agent_url: &str) -> Arc<Self> {
        Arc::new(AgentBehindAQueue {
            agent: HttpTransport::builder(agent_url).build().unwrap(),
            queued: Mutex::default(),
            next_id: AtomicU64::new(1),
            dicts: Mutex::default(),
        })
    }

    fn dicts(&self) -> Vec<Value> {
        self.dicts.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl LongPollHandler for AgentBehindAQueue {
    async fn set_request(&self, request: LongPollRequest) -> Result<String, ClientError> {
        self.dicts.lock().unwrap().push(request.to_sdk_dict());
        let id = format!("req-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        self.queued.lock().unwrap().insert(id.clone(), request);
        Ok(id)
    }

    async fn get_response(&self, id: &str) -> Result<LongPollResponse, ClientError> {
        let queued = self.queued.lock().unwrap().remove(id);
        let queued = queued.ok_or_else(|| ClientError::protocol(format!("no request {id}")))?;
        let path = agent_proto::query::with_query(&queued.path, &queued.params);
        let mut http = Request::new(queued.method, path);
        http.headers = queued.headers;
        if let Some(data) = &queued.data {
            http.body = Bytes::from(serde_json::to_vec(data).unwrap());
        }
        let answer = self.agent.request(http).await?;
        let data = if answer.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into()))
        };
        let reason = http::StatusCode::from_u16(answer.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_owned();
        Ok(LongPollResponse {
            status: answer.status,
            reason,
            data,
        })
    }
}

async fn server() -> AgentTestServer {
    AgentTestServer::sample()
        .token(TOKEN)
        .build()
        .await
        .unwrap()
}

fn transport(handler: &Arc<AgentBehindAQueue>) -> Arc<dyn Transport> {
    Arc::new(LongPollTransport::new(Arc::clone(handler)))
}

/// What a client got through the handler, the same for both clients.
#[derive(Debug, PartialEq)]
struct Seen {
    health: Option<String>,
    jobs: usize,
    job_status: JobStatus,
    logs: String,
    stopped: bool,
    release_lookup: Option<String>,
    created_version: Option<String>,
    page_count: Option<u64>,
    missing: u16,
    tails: Vec<(String, u16)>,
}

fn check(seen: &Seen, handle: &TestHandle, handler: &AgentBehindAQueue) {
    assert_eq!(seen.health.as_deref(), Some("ok"));
    assert!(seen.jobs >= 6, "{seen:?}");
    assert_eq!(seen.job_status, JobStatus::Succeeded);
    assert_eq!(seen.logs, handle.job_log(SUCCEEDED_JOB).unwrap());
    assert!(seen.stopped);
    assert_eq!(handle.job_status(RUNNING_JOB), Some(JobStatus::Stopped));
    assert_eq!(seen.release_lookup.as_deref(), Some(PLUGIN_RELEASE));
    assert_eq!(seen.created_version.as_deref(), Some("2.0.0"));
    assert!(seen.page_count.is_some());
    assert_eq!(seen.missing, 404);
    assert_eq!(seen.tails.len(), 3);
    for (message, status) in &seen.tails {
        assert_eq!(*status, 500, "{message}");
        assert!(message.contains(NO_STREAMING), "{message}");
    }
    // The handler saw synapse-sdk's dicts: lower-case method, the relative path
    // without its query, the headers, `params` and `data`.
    let dicts = handler.dicts();
    let post = dicts
        .iter()
        .find(|d| d["method"] == "post" && d["path"] == "plugin_releases/")
        .unwrap_or_else(|| panic!("{dicts:?}"));
    assert_eq!(post["data"], json!({"plugin": "other", "version": "2.0.0"}));
    assert_eq!(post["headers"]["Authorization"], TOKEN);
    assert_eq!(post["headers"]["Content-Type"], "application/json");
    let page = dicts
        .iter()
        .find(|d| d["path"] == "plugin_releases/" && d["method"] == "get")
        .unwrap();
    assert_eq!(page["params"], json!({"page": "1", "page_size": "5"}));
    // No tail ever reached the handler.
    assert!(dicts
        .iter()
        .all(|d| !d["path"].as_str().unwrap().contains("/logs/stream/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_client_works_through_a_long_poll_handler() {
    let server = server().await;
    let handler = AgentBehindAQueue::new(&server.url());
    // The URL is never dialled: every request goes through the handler.
    let client = AsyncAgentClient::builder("http://no-reachable-url.invalid/", TOKEN)
        .transport(transport(&handler))
        .build()
        .unwrap();
    let mut tails = Vec::new();
    for protocol in [Protocol::Auto, Protocol::WebSocket, Protocol::Http] {
        let Err(e) = client
            .tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(protocol))
            .await
        else {
            panic!("a tail through a long-poll handler must fail");
        };
        tails.push((e.to_string(), e.status_code()));
    }
    let seen = Seen {
        health: client.health_check().await.unwrap().status,
        jobs: client.list_jobs().await.unwrap().len(),
        job_status: client.get_job(SUCCEEDED_JOB).await.unwrap().status,
        logs: client.get_job_logs(SUCCEEDED_JOB).await.unwrap(),
        stopped: client.stop_job(RUNNING_JOB).await.unwrap().stopped,
        release_lookup: client
            .get_plugin_release(PLUGIN_RELEASE)
            .await
            .unwrap()
            .lookup(),
        created_version: client
            .create_plugin_release(&CreatePluginRelease::new("other", "2.0.0"))
            .await
            .unwrap()
            .version,
        page_count: client
            .list_plugin_releases(&[("page", "1"), ("page_size", "5")])
            .await
            .unwrap()
            .count,
        missing: client.get_job("nope").await.unwrap_err().status_code(),
        tails,
    };
    check(&seen, &server.handle(), &handler);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_client_works_through_a_long_poll_handler() {
    let server = server().await;
    let handler = AgentBehindAQueue::new(&server.url());
    let transport = transport(&handler);
    let seen = on_thread(move || {
        let client = AgentClient::builder("http://no-reachable-url.invalid/", TOKEN)
            .transport(transport)
            .build()
            .unwrap();
        let mut tails = Vec::new();
        for protocol in [Protocol::Auto, Protocol::WebSocket, Protocol::Http] {
            let Err(e) = client.tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(protocol))
            else {
                panic!("a tail through a long-poll handler must fail");
            };
            tails.push((e.to_string(), e.status_code()));
        }
        Seen {
            health: client.health_check().unwrap().status,
            jobs: client.list_jobs().unwrap().len(),
            job_status: client.get_job(SUCCEEDED_JOB).unwrap().status,
            logs: client.get_job_logs(SUCCEEDED_JOB).unwrap(),
            stopped: client.stop_job(RUNNING_JOB).unwrap().stopped,
            release_lookup: client.get_plugin_release(PLUGIN_RELEASE).unwrap().lookup(),
            created_version: client
                .create_plugin_release(&CreatePluginRelease::new("other", "2.0.0"))
                .unwrap()
                .version,
            page_count: client
                .list_plugin_releases(&[("page", "1"), ("page_size", "5")])
                .unwrap()
                .count,
            missing: client.get_job("nope").unwrap_err().status_code(),
            tails,
        }
    })
    .await;
    check(&seen, &server.handle(), &handler);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_through_the_handler_map_as_over_http() {
    use agent_testkit::{Fault, RouteKind};
    let server = server().await;
    let handler = AgentBehindAQueue::new(&server.url());
    let client = AsyncAgentClient::builder("http://no-reachable-url.invalid/", TOKEN)
        .transport(transport(&handler))
        .build()
        .unwrap();
    server.handle().set_fault(
        RouteKind::CreatePluginRelease,
        Fault::validation("plugin", "field required"),
    );
    let e = client
        .create_plugin_release(&CreatePluginRelease::new("x", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Validation { ref details, .. } if details.len() == 1),
        "{e:?}"
    );
    let wrong = AsyncAgentClient::builder("http://no-reachable-url.invalid/", "not-the-token")
        .transport(transport(&handler))
        .build()
        .unwrap();
    let e = wrong.list_jobs().await.unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("not-the-token"));
}
