//! The built `agentctl` binary against the test agent, for synapse-sdk's platform
//! methods (issue 21): `resources`, `system`, `containers` (Docker and plugin) and
//! `builds`, in table and JSON output, with their exit codes (a wait exits 0 when
//! done and 6 past its time-out), and bad input refused before any request.

use agent_client_async::AsyncAgentClient;
use agent_testkit::sample::PLUGIN_RELEASE;
use agent_testkit::{AgentTestServer, BlockingTestServer, Fault, RouteKind};
use serde_json::{json, Value};

mod support;
use support::*;

fn sample() -> BlockingTestServer {
    AgentTestServer::sample()
        .start_blocking()
        .expect("test agent starts")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {out:?}"))
}

/// `agentctl -o json ARGS`, which must succeed; its one JSON document.
fn json(server: &BlockingTestServer, args: &[&str]) -> Value {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let out = agentctl(server, &all);
    ok(&out);
    json_of(&out)
}

/// What the typed client answers, as JSON (what `-o json` must print).
fn typed<T, F, Fut>(server: &BlockingTestServer, call: F) -> Value
where
    T: serde::Serialize,
    F: FnOnce(AsyncAgentClient) -> Fut,
    Fut: std::future::Future<Output = Result<T, agent_proto::ClientError>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = AsyncAgentClient::new(server.url(), server.token()).expect("client");
        let v = call(client).await.expect("the agent answers");
        serde_json::to_value(v).expect("json")
    })
}

/// The path (with its query) of the last request the agent got for `kind`.
fn last_path(server: &BlockingTestServer, kind: RouteKind) -> String {
    let requests = server.handle().requests(kind);
    requests
        .last()
        .unwrap_or_else(|| panic!("no {kind:?} request"))
        .path
        .clone()
}

#[test]
fn resources_show_the_cluster_feasibility_and_both_policies() {
    let server = sample();
    let table = agentctl(&server, &["resources", "cluster"]);
    ok(&table);
    assert!(table.stdout.contains("nodes"), "{table:?}");
    let cluster = json(&server, &["resources", "cluster", "--no-cache"]);
    assert!(last_path(&server, RouteKind::GetClusterResources).contains("use_cache=false"));
    assert_eq!(
        cluster,
        typed(
            &server,
            |c| async move { c.get_cluster_resources(false).await }
        )
    );
    json(&server, &["resources", "cluster"]);
    assert!(last_path(&server, RouteKind::GetClusterResources).contains("use_cache=true"));

    let fits = json(
        &server,
        &["resources", "feasibility", "--kind", "job", "--cpus", "1"],
    );
    assert_eq!(fits["feasible"], true, "{fits}");
    let too_big = json(
        &server,
        &[
            "resources",
            "feasibility",
            "--kind",
            "job",
            "--cpus",
            "100000",
            "--gpus",
            "1",
            "--replicas",
            "2",
            "--metadata",
            r#"{"team": "vision"}"#,
        ],
    );
    assert_eq!(too_big["feasible"], false, "{too_big}");
    let sent = server.handle().requests(RouteKind::CheckFeasibility);
    let body: Value = serde_json::from_slice(&sent.last().expect("sent").body).expect("json");
    assert_eq!(body["num_cpus"], 100000.0);
    assert_eq!(body["replicas"], 2);
    assert_eq!(body["metadata"], json!({"team": "vision"}));

    let policy = json(&server, &["resources", "policy", "get"]);
    assert_eq!(
        policy,
        typed(&server, |c| async move { c.get_gatekeeping_policy().await })
    );
    let patched = json(
        &server,
        &[
            "resources",
            "policy",
            "patch",
            r#"{"max_concurrent_jobs": 3}"#,
            "--runtime",
        ],
    );
    assert_eq!(patched["max_concurrent_jobs"], 3, "{patched}");
    let runtime = json(&server, &["resources", "policy", "get", "--runtime"]);
    assert_eq!(runtime["max_concurrent_jobs"], 3);
    assert!(runtime.get("gatekeeping_enabled").is_some(), "{runtime}");
    let table = agentctl(&server, &["resources", "policy", "get", "--runtime"]);
    ok(&table);
    assert!(table.stdout.contains("max_concurrent_jobs"), "{table:?}");
}

#[test]
fn system_status_update_restart_and_waits() {
    let server = sample();
    let compose = agentctl(&server, &["system", "compose-config"]);
    ok(&compose);
    assert!(compose.stdout.contains("services"), "{compose:?}");
    let status = json(&server, &["system", "status"]);
    assert_eq!(status["ready"], true, "{status}");

    // An update, then a wait until the services are back.
    let ready = json(
        &server,
        &[
            "system",
            "update",
            "--api-tag",
            "2026.3.1",
            "--wait",
            "--timeout",
            "30",
            "--poll-interval",
            "0.05",
        ],
    );
    assert_eq!(ready["ready"], true, "{ready}");
    assert!(
        server.handle().requests(RouteKind::GetSystemStatus).len() >= 3,
        "it polled until ready"
    );
    let compose = json(&server, &["system", "compose-config"]);
    assert!(compose.to_string().contains("2026.3.1"), "{compose}");

    // Without --wait: the agent's answer, once.
    let restarted = json(&server, &["system", "restart"]);
    assert_eq!(restarted["status"], "success", "{restarted}");
    let waited = agentctl(&server, &["system", "wait", "--poll-interval", "0.05"]);
    ok(&waited);
    // jsonl with --wait: the answer, then the ready status.
    let out = agentctl(
        &server,
        &[
            "-o",
            "jsonl",
            "system",
            "restart",
            "--wait",
            "--poll-interval",
            "0.05",
        ],
    );
    ok(&out);
    let docs: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(docs.len(), 2, "{out:?}");
    assert_eq!(
        (&docs[0]["status"], &docs[1]["ready"]),
        (&json!("success"), &json!(true))
    );

    // A system that never becomes ready: exit 6, naming the wait.
    server.handle().set_fault(
        RouteKind::GetSystemStatus,
        Fault::json(200, json!({"status": "updating", "ready": false})),
    );
    let out = agentctl(
        &server,
        &[
            "system",
            "wait",
            "--timeout",
            "0.3",
            "--poll-interval",
            "0.05",
        ],
    );
    assert_eq!(out.code, 6, "{out:?}");
    assert!(out.stderr.contains("timed out"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn docker_containers_from_create_to_delete() {
    let server = sample();
    let created = json(
        &server,
        &[
            "containers",
            "docker",
            "create",
            "--plugin-release",
            PLUGIN_RELEASE,
            "--env",
            "MODE=prod",
            "--label",
            "team",
            "--params",
            r#"{"port": 7860}"#,
        ],
    );
    let id = created["id"].as_str().expect("an id").to_owned();
    let sent = server.handle().requests(RouteKind::CreateDockerContainer);
    let body: Value = serde_json::from_slice(&sent[0].body).expect("json");
    assert_eq!(
        body,
        json!({"plugin_release": PLUGIN_RELEASE, "params": {"port": 7860},
               "envs": {"MODE": "prod"}, "labels": ["team"]})
    );

    let table = agentctl(&server, &["containers", "docker", "list"]);
    ok(&table);
    assert!(table.stdout.starts_with("ID"), "{table:?}");
    assert!(table.stdout.contains(&id), "{table:?}");
    assert_eq!(
        json(&server, &["containers", "docker", "list"]),
        typed(&server, |c| async move { c.list_docker_containers().await })
    );
    let stopped = json(&server, &["containers", "docker", "stop", &id]);
    assert_ne!(stopped["status"], "running", "{stopped}");
    let started = json(&server, &["containers", "docker", "start", &id]);
    assert_eq!(started["status"], "running", "{started}");
    assert_eq!(
        json(&server, &["containers", "docker", "get", &id])["id"],
        id
    );

    let deleted = agentctl(&server, &["containers", "docker", "delete", &id]);
    ok(&deleted);
    assert!(deleted
        .stdout
        .contains(&format!("deleted Docker container {id}")));
    let gone = agentctl(&server, &["containers", "docker", "get", &id]);
    assert_eq!(gone.code, 3, "{gone:?}");
    assert_eq!(json(&server, &["containers", "docker", "list"]), json!([]));
}

#[test]
fn plugin_containers_and_their_builds() {
    let server = sample();
    // Created from a release, then its build waited for: exit 0, the build's result.
    let done = json(
        &server,
        &[
            "containers",
            "create",
            "--plugin-release",
            PLUGIN_RELEASE,
            "--wait",
            "--poll-interval",
            "0.05",
        ],
    );
    assert_eq!(done["status"], "completed", "{done}");
    let id = done["result"]["id"].to_string();
    assert_eq!(
        json(&server, &["containers", "get", &id])["status"],
        "running"
    );

    // Created without a wait: the answer names the build; builds get / wait.
    let created = json(
        &server,
        &["containers", "create", "--plugin-release", PLUGIN_RELEASE],
    );
    let build = created["build_id"].as_str().expect("a build").to_owned();
    let status = json(&server, &["builds", "get", &build]);
    assert_eq!(status["build_id"], build.as_str());
    let table = agentctl(
        &server,
        &["builds", "wait", &build, "--poll-interval", "0.05"],
    );
    ok(&table);
    assert!(table.stdout.contains("completed"), "{table:?}");

    // An upload: multipart, the file's name and bytes reach the agent.
    let dir = std::env::temp_dir().join(format!("agentctl-sdk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let archive = dir.join("my_plugin.zip");
    std::fs::write(&archive, b"PK\x03\x04 not really a zip").expect("write");
    let uploaded = json(
        &server,
        &[
            "containers",
            "create",
            "--file",
            archive.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        uploaded["plugin_file"]["filename"], "my_plugin.zip",
        "{uploaded}"
    );
    let sent = server.handle().requests(RouteKind::CreateContainer);
    let content_type = sent
        .last()
        .and_then(|r| r.headers.get("content-type"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("multipart/form-data"),
        "{content_type}"
    );

    // A build that fails: exit 1 with the build's error.
    let empty = dir.join("empty.zip");
    std::fs::write(&empty, b"").expect("write");
    let failed = agentctl(
        &server,
        &[
            "containers",
            "create",
            "--file",
            empty.to_str().expect("utf-8"),
            "--wait",
            "--poll-interval",
            "0.05",
        ],
    );
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(failed.stderr.contains("is empty"), "{failed:?}");

    // Lists: a page, and every page.
    let page = json(&server, &["containers", "list", "--query", "page_size=2"]);
    assert_eq!(page["count"], 4, "{page}");
    assert_eq!(page["results"].as_array().map(Vec::len), Some(2));
    let all = json(
        &server,
        &["containers", "list", "--all", "--query", "page_size=2"],
    );
    assert_eq!(all.as_array().map(Vec::len), Some(4), "{all}");
    let table = agentctl(&server, &["containers", "list", "--query", "page_size=2"]);
    ok(&table);
    assert!(
        table
            .stdout
            .contains("2 of 4 containers (all of them: --all)"),
        "{table:?}"
    );

    let updated = json(
        &server,
        &["containers", "update", &id, "--status", "stopped"],
    );
    assert_eq!(updated["status"], "stopped");
    let deleted = agentctl(&server, &["containers", "delete", &id]);
    ok(&deleted);
    assert_eq!(agentctl(&server, &["containers", "get", &id]).code, 3);
    assert_eq!(agentctl(&server, &["builds", "wait", "build-999"]).code, 3);

    // A build that never finishes: exit 6.
    server.handle().set_fault(
        RouteKind::GetBuildStatus,
        Fault::json(200, json!({"build_id": build, "status": "running"})),
    );
    let out = agentctl(
        &server,
        &[
            "builds",
            "wait",
            &build,
            "--timeout",
            "0.3",
            "--poll-interval",
            "0.05",
        ],
    );
    assert_eq!(out.code, 6, "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2_before_any_request() {
    let server = sample();
    let cases: &[&[&str]] = &[
        &["containers", "get", "../x"],
        &["containers", "docker", "stop", "a b"],
        &["builds", "get", "../b"],
        &["builds", "wait", "b1", "--timeout", "0"],
        &["builds", "wait", "b1", "--poll-interval", "-1"],
        &[
            "resources",
            "feasibility",
            "--kind",
            "job",
            "--cpus",
            "1",
            "--replicas",
            "0",
        ],
        &["resources", "feasibility", "--kind", " ", "--cpus", "1"],
        &["resources", "feasibility", "--kind", "job", "--cpus", "NaN"],
        &[
            "resources",
            "feasibility",
            "--kind",
            "job",
            "--cpus",
            "1",
            "--metadata",
            "[1]",
        ],
        &["resources", "policy", "patch", "[1]"],
        &["resources", "policy", "patch", "{nope"],
        &["system", "update", "--api-tag", " "],
        &["system", "restart", "--timeout", "5"],
        &["containers", "create", "--plugin-release", "no-version"],
        &[
            "containers",
            "create",
            "--plugin-release",
            PLUGIN_RELEASE,
            "--env",
            "NOKEY",
        ],
        &[
            "containers",
            "create",
            "--plugin-release",
            PLUGIN_RELEASE,
            "--params",
            "{",
        ],
        &["containers", "create", "--file", "/no/such/file.zip"],
        &["containers", "create"],
        &["containers", "docker", "create", "--plugin-release", "x"],
        &["containers", "update", "4", "--status", ""],
        &["containers", "list", "--query", "nokey"],
    ];
    for args in cases {
        let out = agentctl(&server, args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    assert!(
        server.handle().journal().is_empty(),
        "no request may have been sent"
    );
}

#[test]
fn help_completions_and_the_embedded_agent_know_the_new_commands() {
    for args in [
        &["resources", "--help"][..],
        &["system", "wait", "--help"],
        &["containers", "create", "--help"],
        &["containers", "docker", "--help"],
        &["builds", "wait", "--help"],
    ] {
        let mut cmd = command();
        cmd.args(args);
        let out = run_cmd(cmd);
        ok(&out);
        assert!(
            out.stdout.contains("agentctl "),
            "{args:?} has no example: {out:?}"
        );
    }
    let mut cmd = command();
    cmd.args(["completions", "bash"]);
    let out = run_cmd(cmd);
    ok(&out);
    for word in [
        "resources",
        "system",
        "containers",
        "builds",
        "feasibility",
        "--no-cache",
    ] {
        assert!(out.stdout.contains(word), "bash completion lacks {word}");
    }
    // With no connection setting: the embedded test agent answers them too.
    let mut cmd = command();
    cmd.args(["-o", "json", "system", "status"]);
    let out = run_cmd(cmd);
    ok(&out);
    assert_eq!(json_of(&out)["ready"], true, "{out:?}");
}

/// `plugins run-debug` is synapse-sdk's `run_debug_plugin_release`: its body goes
/// to `plugin_releases/run_debug/` as the SDK writes it, `--follow` tails the job it
/// started to its outcome, and both runs carry the SDK's optional arguments.
#[test]
fn plugins_run_debug_and_the_runs_optional_arguments() {
    let server = sample();

    let started = json(
        &server,
        &[
            "plugins",
            "run-debug",
            "--action",
            "test",
            "--params",
            r#"{"epochs": 1}"#,
            "--plugin-path",
            "/src/demo",
            "--config",
            r#"{"name": "demo"}"#,
            "--modules",
            r#"["a", "b"]"#,
            "--requirement",
            "numpy==2.0",
            "--requirement",
            "pandas",
            "--job-id",
            "debug_run_1",
            "--language",
            "ko",
        ],
    );
    assert_eq!(started["job_id"], "debug_run_1", "{started}");
    let sent = server.handle().requests(RouteKind::RunDebugPluginRelease);
    let body: Value =
        serde_json::from_slice(&sent.last().expect("a debug run").body).expect("a JSON body");
    assert_eq!(
        body,
        json!({
            "action": "test",
            "params": {"epochs": 1},
            "plugin_path": "/src/demo",
            "config": {"name": "demo"},
            "modules": ["a", "b"],
            "requirements": ["numpy==2.0", "pandas"],
            "job_id": "debug_run_1",
            "language": "ko",
        })
    );

    // The same optional arguments on a release's run.
    json(
        &server,
        &[
            "plugins",
            "run",
            PLUGIN_RELEASE,
            "--action",
            "train",
            "--requirement",
            "torch",
            "--job-id",
            "release_run_1",
            "--language",
            "en",
        ],
    );
    let sent = server.handle().requests(RouteKind::RunPluginRelease);
    let body: Value =
        serde_json::from_slice(&sent.last().expect("a run").body).expect("a JSON body");
    assert_eq!(
        body,
        json!({"action": "train", "requirements": ["torch"], "job_id": "release_run_1", "language": "en"})
    );

    // --follow: the job's log, then its outcome as the exit code.
    let out = agentctl(
        &server,
        &["plugins", "run-debug", "--action", "test", "--follow"],
    );
    ok(&out);
    assert!(!out.stdout.is_empty(), "the job's log: {out:?}");
    assert!(out.stderr.contains("following its log"), "{out:?}");

    // Bad input is refused before any request (exit 2).
    let before = server
        .handle()
        .requests(RouteKind::RunDebugPluginRelease)
        .len();
    for bad in [
        vec!["plugins", "run-debug", "--action", " "],
        vec!["plugins", "run-debug", "--action", "t", "--config", "{"],
        vec!["plugins", "run-debug", "--action", "t", "--job-id", "a/b"],
        vec!["plugins", "run-debug", "--action", "t", "--requirement", ""],
        vec!["plugins", "run-debug", "--action", "t", "--plugin-path", ""],
        vec![
            "plugins",
            "run-debug",
            "--action",
            "t",
            "--protocol",
            "http",
        ],
    ] {
        let out = agentctl(&server, &bad);
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
    }
    assert_eq!(
        server
            .handle()
            .requests(RouteKind::RunDebugPluginRelease)
            .len(),
        before,
        "no request for bad input"
    );
}
