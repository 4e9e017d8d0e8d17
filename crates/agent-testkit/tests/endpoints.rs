//! Every endpoint of the spec's table, with a plain HTTP client.

mod common;

use agent_testkit::sample::{
    FAILED_JOB, GPU_NODE, HEAD_NODE, PENDING_JOB, RUNNING_JOB, SERVE_APP, STOPPED_JOB,
    SUCCEEDED_JOB, TASKS_JOB,
};
use agent_testkit::{AgentTestServer, JobSpec, RouteKind};
use common::*;
use http::{Method, StatusCode};
use serde_json::{json, Value};

async fn sample() -> (AgentTestServer, Http) {
    let server = AgentTestServer::sample()
        .token("tok")
        .build()
        .await
        .unwrap();
    let http = Http::new(server.url(), Some("tok"));
    (server, http)
}

#[tokio::test]
async fn health_answers_ok() {
    let (_s, http) = sample().await;
    let a = http.get("health/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.json()["status"], "ok");
    assert_eq!(a.json()["ray_version"], "2.60.0");
}

#[tokio::test]
async fn the_token_is_required_and_never_echoed() {
    let s = AgentTestServer::sample()
        .token("tok")
        .journal_refused(true)
        .build()
        .await
        .unwrap();
    let none = Http::new(s.url(), None).get("jobs/").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let wrong = Http::new(s.url(), Some("tok-wrong-value"))
        .get("jobs/")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!wrong.text().contains("tok-wrong"), "{}", wrong.text());
    assert!(wrong.json()["detail"].is_string());
    // a scheme word is not accepted: the raw token only
    let bearer = Http::new(s.url(), Some("Bearer tok")).get("jobs/").await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);
    // the WebSocket too
    let path = format!("/jobs/{SUCCEEDED_JOB}/logs/");
    let refused = ws_connect(s.local_addr(), &path, Some("nope"))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED);
    // asked for, the journal has them all, tokens marked sensitive
    let j = s.journal();
    assert_eq!(j.len(), 4);
    let e = &j[1];
    assert_eq!(e.header("authorization"), Some("tok-wrong-value"));
    assert!(e.headers["authorization"].is_sensitive());
    assert!(!format!("{e:?}").contains("tok-wrong-value"));
    // by default, none of them
    let (s, _) = sample().await;
    let _ = Http::new(s.url(), Some("tok-wrong-value"))
        .get("jobs/")
        .await;
    assert!(s.journal().is_empty(), "{:?}", s.journal());
}

#[tokio::test]
async fn jobs_are_ray_job_infos() {
    let (_s, http) = sample().await;
    let a = http.get("jobs/").await;
    assert_eq!(a.status, StatusCode::OK);
    let jobs = a.json();
    let jobs = jobs.as_array().unwrap();
    let status = |id: &str| {
        jobs.iter()
            .find(|j| j["submission_id"] == id)
            .map(|j| j["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status(SUCCEEDED_JOB), "SUCCEEDED");
    assert_eq!(status(TASKS_JOB), "SUCCEEDED");
    assert_eq!(status(STOPPED_JOB), "STOPPED");
    assert_eq!(status(FAILED_JOB), "FAILED");
    assert_eq!(status(RUNNING_JOB), "RUNNING");
    assert_eq!(status(PENDING_JOB), "PENDING");
    for key in [
        "type",
        "job_id",
        "submission_id",
        "driver_info",
        "status",
        "entrypoint",
        "message",
        "error_type",
        "start_time",
        "end_time",
        "metadata",
        "runtime_env",
        "driver_agent_http_address",
        "driver_node_id",
        "driver_exit_code",
    ] {
        assert!(jobs.iter().all(|j| j.get(key).is_some()), "{key}");
    }
    // parses with the typed model
    let typed: Vec<agent_proto::Job> = serde_json::from_value(Value::Array(jobs.clone())).unwrap();
    assert_eq!(typed.len(), 6);
}

#[tokio::test]
async fn get_job_matches_the_recording() {
    let (_s, http) = sample().await;
    let a = http.get(&format!("jobs/{SUCCEEDED_JOB}/")).await;
    assert_eq!(a.status, StatusCode::OK);
    let recorded: Value = serde_json::from_str(include_str!(
        "../../agent-sample/fixtures/job_succeeded.json"
    ))
    .unwrap();
    let got = a.json();
    for key in [
        "type",
        "submission_id",
        "status",
        "entrypoint",
        "message",
        "start_time",
        "end_time",
        "metadata",
        "driver_exit_code",
        "driver_node_id",
        "driver_agent_http_address",
    ] {
        assert_eq!(got[key], recorded[key], "{key}");
    }
    let tasks_job = http.get(&format!("jobs/{TASKS_JOB}")).await.json();
    assert_eq!(tasks_job["job_id"], "02000000");
    assert_eq!(tasks_job["driver_info"]["id"], "02000000");
    let failed = http.get(&format!("jobs/{FAILED_JOB}/")).await.json();
    assert_eq!(failed["driver_exit_code"], 1);
    assert!(failed["message"]
        .as_str()
        .unwrap()
        .contains("ZeroDivisionError"));
    let pending = http.get(&format!("jobs/{PENDING_JOB}/")).await.json();
    assert_eq!(pending["message"], "Job has not started yet.");
    assert_eq!(pending["end_time"], Value::Null);
}

#[tokio::test]
async fn unknown_jobs_are_404_in_text_as_ray_says() {
    let (_s, http) = sample().await;
    for (m, p) in [
        (Method::GET, "jobs/nope/"),
        (Method::GET, "jobs/nope/logs/"),
        (Method::POST, "jobs/nope/stop/"),
        (Method::GET, "jobs/nope/logs/stream/"),
    ] {
        let a = http.call(m.clone(), p, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{m} {p}");
        assert_eq!(a.text(), "Job nope does not exist", "{m} {p}");
        assert!(a.header("content-type").unwrap().starts_with("text/plain"));
    }
}

#[tokio::test]
async fn job_logs_are_a_json_string() {
    let (_s, http) = sample().await;
    let a = http.get(&format!("jobs/{SUCCEEDED_JOB}/logs/")).await;
    assert_eq!(a.status, StatusCode::OK);
    let recorded: Value =
        serde_json::from_str(include_str!("../../agent-sample/fixtures/logs.json")).unwrap();
    assert_eq!(a.json(), recorded["logs"]);
    assert!(a.json().as_str().unwrap().ends_with("last line\n"));
}

#[tokio::test]
async fn stop_stops_a_running_job_once() {
    let (s, http) = sample().await;
    let a = http
        .post(&format!("jobs/{RUNNING_JOB}/stop/"), &json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"stopped": true}));
    let job = http.get(&format!("jobs/{RUNNING_JOB}/")).await.json();
    assert_eq!(job["status"], "STOPPED");
    assert_eq!(job["message"], "Job was intentionally stopped.");
    assert!(job["end_time"].is_u64());
    let again = http
        .post(&format!("jobs/{RUNNING_JOB}/stop/"), &json!({}))
        .await;
    assert_eq!(again.json(), json!({"stopped": false}));
    // a pending job can be stopped too
    let p = http
        .post(&format!("jobs/{PENDING_JOB}/stop/"), &json!({}))
        .await;
    assert_eq!(p.json(), json!({"stopped": true}));
    assert_eq!(s.requests(RouteKind::StopJob).len(), 3);
}

#[tokio::test]
async fn nodes_and_tasks() {
    let (_s, http) = sample().await;
    let nodes = http.get("nodes/").await.json();
    assert_eq!(nodes.as_array().unwrap().len(), 2);
    let head = http.get(&format!("nodes/{HEAD_NODE}/")).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.json()["is_head_node"], true);
    assert_eq!(head.json()["resources_total"]["CPU"], 2.0);
    let gpu = http.get(&format!("nodes/{GPU_NODE}/")).await.json();
    assert_eq!(gpu["resources_total"]["GPU"], 1.0);
    let missing = http.get("nodes/abc/").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["detail"].is_string());

    let tasks = http.get("tasks/").await.json();
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 4);
    assert!(tasks
        .iter()
        .all(|t| t["state"] == "FINISHED" && t["job_id"] == "02000000"));
    let id = tasks[0]["task_id"].as_str().unwrap();
    let one = http.get(&format!("tasks/{id}/")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["task_id"], id);
    assert_eq!(http.get("tasks/nope/").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn serve_applications_list_get_delete() {
    let (s, http) = sample().await;
    let apps = http.get("serve_applications/").await.json();
    assert_eq!(apps.as_array().unwrap().len(), 1);
    let hello = http.get(&format!("serve_applications/{SERVE_APP}/")).await;
    assert_eq!(hello.status, StatusCode::OK);
    assert_eq!(hello.json()["route_prefix"], "/hello");
    assert_eq!(hello.json()["status"], "RUNNING");
    let del = http
        .delete(&format!("serve_applications/{SERVE_APP}/"))
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert!(del.body.is_empty());
    assert!(s.serve_application_names().is_empty());
    let gone = http.get(&format!("serve_applications/{SERVE_APP}/")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = http
        .delete(&format!("serve_applications/{SERVE_APP}/"))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn plugin_releases_crud_and_pages() {
    let (s, http) = sample().await;
    let list = http.get("plugin_releases/").await;
    assert_eq!(list.status, StatusCode::OK);
    let page = list.json();
    assert_eq!(page["count"], 1);
    assert_eq!(page["next"], Value::Null);
    assert_eq!(page["results"][0]["code"], "demo");

    let by_lookup = http.get("plugin_releases/demo@1.0.0/").await;
    assert_eq!(by_lookup.status, StatusCode::OK);
    let by_id = http.get("plugin_releases/1").await;
    assert_eq!(by_id.json(), by_lookup.json());

    let created = http
        .post(
            "plugin_releases/",
            &json!({"plugin": "demo", "version": "1.1.0"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let c = created.json();
    assert_eq!(
        (c["plugin"].clone(), c["code"].clone(), c["version"].clone()),
        (json!("demo"), json!("demo"), json!("1.1.0"))
    );
    assert_eq!(c["id"], 2);
    let typed: agent_proto::PluginRelease = serde_json::from_value(c.clone()).unwrap();
    assert_eq!(typed.lookup().as_deref(), Some("demo@1.1.0"));

    let dup = http
        .post(
            "plugin_releases/",
            &json!({"plugin": "demo", "version": "1.1.0"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    let missing = http
        .post("plugin_releases/", &json!({"plugin": "demo"}))
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.json(),
        json!({"detail": [{"loc": ["body", "version"], "msg": "field required", "type": "missing"}]})
    );
    let not_json = http.call(Method::POST, "plugin_releases/", None).await;
    assert_eq!(not_json.status, StatusCode::UNPROCESSABLE_ENTITY);

    // pages, and query parameters pass through as filters
    s.add_plugin_release("other", "0.1.0");
    let p1 = http.get("plugin_releases/?page_size=2").await.json();
    assert_eq!(p1["count"], 3);
    assert_eq!(p1["results"].as_array().unwrap().len(), 2);
    // relative to the API's base (tests/page_links.rs has the rule)
    let next = p1["next"].as_str().unwrap();
    assert_eq!(next, "plugin_releases/?page=2&page_size=2");
    let p2 = http.get(next).await.json();
    assert_eq!(p2["results"].as_array().unwrap().len(), 1);
    assert!(p2["previous"].is_string());
    let filtered = http.get("plugin_releases/?plugin=other").await.json();
    assert_eq!(filtered["count"], 1);
    assert_eq!(
        http.get("plugin_releases/?page=9").await.status,
        StatusCode::NOT_FOUND
    );
    let journal_paths: Vec<String> = s
        .requests(RouteKind::ListPluginReleases)
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert!(journal_paths.contains(&"/plugin_releases/?plugin=other".to_owned()));

    let del = http.delete("plugin_releases/demo@1.1.0").await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        http.get("plugin_releases/demo@1.1.0/").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.delete("plugin_releases/2/").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn run_validates_action_and_starts_a_job() {
    let (s, http) = sample().await;
    let bad = http
        .post("plugin_releases/demo@1.0.0/run/", &json!({"params": {}}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.json(),
        json!({"detail": [{"loc": ["body", "action"], "msg": "field required", "type": "missing"}]})
    );
    assert_eq!(s.job_ids().len(), 6, "no job for a rejected run");

    let ok = http
        .post(
            "plugin_releases/demo@1.0.0/run/",
            &json!({"action": "train", "params": {"epochs": 3}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let job_id = ok.json()["job_id"].as_str().unwrap().to_owned();
    assert!(
        job_id.starts_with("raysubmit_") && job_id.len() == 26,
        "{job_id}"
    );
    let job = http.get(&format!("jobs/{job_id}/")).await.json();
    assert_eq!(job["metadata"]["action"], "train");
    let (lines, complete) =
        stream_lines(http.stream(&format!("jobs/{job_id}/logs/stream/")).await).await;
    assert!(complete);
    let events = sse_events(&lines);
    let msgs = log_messages(&events);
    assert!(
        msgs.iter()
            .any(|m| m.contains("Running action 'train' of plugin demo@1.0.0")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("\"epochs\":3")), "{msgs:?}");
    assert_eq!(events.last().unwrap()["type"], "complete");

    // the caller's job id is used, once
    let mine = http
        .post(
            "plugin_releases/1/run/",
            &json!({"action": "test", "job_id": "my-job-1"}),
        )
        .await;
    assert_eq!(mine.json(), json!({"job_id": "my-job-1"}));
    let dup = http
        .post(
            "plugin_releases/1/run/",
            &json!({"action": "test", "job_id": "my-job-1"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    let unknown = http
        .post("plugin_releases/nope@1.0/run/", &json!({"action": "test"}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // the POST arrived exactly once, whole
    let runs = s.requests(RouteKind::RunPluginRelease);
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|e| e.body_complete));
    assert_eq!(runs[1].json().unwrap()["params"]["epochs"], 3);
}

#[tokio::test]
async fn run_debug_validates_action_and_starts_a_job() {
    let (_s, http) = sample().await;
    let bad = http
        .post(
            "plugin_releases/run_debug/",
            &json!({"plugin_path": "/src"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["detail"][0]["loc"], json!(["body", "action"]));
    let ok = http
        .post(
            "plugin_releases/run_debug/",
            &json!({"action": "test", "plugin_path": "/src/plugin", "modules": {}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let id = ok.json()["job_id"].as_str().unwrap().to_owned();
    let logs = http.get(&format!("jobs/{id}/logs/")).await.json();
    assert!(logs.as_str().unwrap().contains("/src/plugin"), "{logs}");
}

#[tokio::test]
async fn on_run_makes_the_job() {
    let s = AgentTestServer::builder()
        .plugin_release("demo", "2.0.0")
        .on_run(|req| {
            JobSpec::new("ignored")
                .lines([format!("custom {}", req.action)])
                .keeps_running()
        })
        .build()
        .await
        .unwrap();
    let http = Http::new(s.url(), Some(s.token()));
    let r = http
        .post("plugin_releases/demo@2.0.0/run/", &json!({"action": "x"}))
        .await;
    let id = r.json()["job_id"].as_str().unwrap().to_owned();
    assert_eq!(s.job_log(&id).unwrap(), "custom x\n");
    assert_eq!(s.job_status(&id), Some(agent_proto::JobStatus::Running));
}

#[tokio::test]
async fn gpu_status_from_the_nodes_or_as_set() {
    let (s, http) = sample().await;
    let g = http.get("gpu_status/").await;
    assert_eq!(g.status, StatusCode::OK);
    let typed: agent_proto::GpuStatus = serde_json::from_value(g.json()).unwrap();
    assert!(typed.available);
    assert_eq!(typed.total_gpus, 1.0);
    assert_eq!(typed.nodes.len(), 1);
    s.set_gpu_status(Some(
        json!({"available": false, "total_gpus": 0.0, "available_gpus": 0.0}),
    ));
    assert_eq!(http.get("gpu_status/").await.json()["available"], false);
}

#[tokio::test]
async fn routing_errors() {
    let (_s, http) = sample().await;
    let unknown = http.get("nope/").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json(), json!({"detail": "Not Found"}));
    let wrong = http.call(Method::DELETE, "jobs/", None).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.header("allow"), Some("GET"));
    let post_get = http
        .call(Method::GET, &format!("jobs/{RUNNING_JOB}/stop/"), None)
        .await;
    assert_eq!(post_get.status, StatusCode::METHOD_NOT_ALLOWED);
    let bad = http.get("jobs/a%2Fb/").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["detail"].as_str().unwrap().contains("job id"));
    let dots = http.get("jobs/..").await;
    assert_ne!(dots.status, StatusCode::OK);
    // the trailing slash is optional
    assert_eq!(http.get("jobs").await.status, StatusCode::OK);
    assert_eq!(
        http.get(&format!("jobs/{SUCCEEDED_JOB}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_prefix_moves_the_whole_api() {
    let s = AgentTestServer::sample()
        .prefix("agent")
        .build()
        .await
        .unwrap();
    assert!(s.url().ends_with("/agent/"), "{}", s.url());
    let http = Http::new(s.url(), Some(s.token()));
    assert_eq!(http.get("jobs/").await.status, StatusCode::OK);
    let root = Http::new(format!("http://{}/", s.local_addr()), Some(s.token()));
    assert_eq!(root.get("jobs/").await.status, StatusCode::NOT_FOUND);
    let ws = ws_connect(
        s.local_addr(),
        &format!("/agent/jobs/{SUCCEEDED_JOB}/logs/"),
        Some(s.token()),
    )
    .await;
    assert!(ws.is_ok());
    assert_eq!(s.journal()[0].path, "/agent/jobs/");
}

#[tokio::test]
async fn synapse_headers_are_journaled() {
    let (s, http) = sample().await;
    let req = http
        .request(Method::POST, "plugin_releases/")
        .header("SYNAPSE-User", "Token user-1")
        .header("SYNAPSE-Tenant", "Token tenant-9")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            br#"{"plugin":"p","version":"1"}"#,
        )))
        .unwrap();
    let res = http.send(req).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let e = s.requests(RouteKind::CreatePluginRelease).pop().unwrap();
    assert_eq!(e.method, Method::POST);
    assert_eq!(e.header("synapse-user"), Some("Token user-1"));
    assert_eq!(e.header("synapse-tenant"), Some("Token tenant-9"));
    assert!(e.headers["synapse-user"].is_sensitive());
    assert_eq!(e.body.as_ref(), br#"{"plugin":"p","version":"1"}"#);
    assert!(e.body_complete);
    assert!(!e.upgrade);
    s.clear_journal();
    assert!(s.journal().is_empty());
}
