//! The built `agentctl` binary against a real test agent (agent-testkit on loopback):
//! every command in both output modes, every exit-code class, tails that follow a
//! job to completion over each protocol, job outcomes as exit codes, Ctrl-C, the
//! embedded default and the dev server.

use agent_client_async::AsyncAgentClient;
use agent_testkit::sample::{
    FAILED_JOB, GPU_NODE, HEAD_NODE, PENDING_JOB, PLUGIN_RELEASE, RUNNING_JOB, SERVE_APP,
    STOPPED_JOB, SUCCEEDED_JOB,
};
use agent_testkit::{
    AgentTestServer, BlockingTestServer, Fault, FaultTarget, JobSpec, RouteKind, TailFault,
};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod support;
use support::*;

fn sample() -> BlockingTestServer {
    AgentTestServer::sample()
        .start_blocking()
        .expect("test agent starts")
}

/// The first line of `text` that holds `needle` (the test fails without one).
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// The table row of `id` (the line that starts with it).
fn row_of<'a>(table: &'a str, id: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("no row of {id} in:\n{table}"))
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {out:?}"))
}

/// What the agent answers on `path`, fetched by the test itself.
fn agent_json(server: &BlockingTestServer, path: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = AsyncAgentClient::new(server.url(), server.token()).expect("client");
        let v = client
            .raw_request(http::Method::GET, path, &[] as &[(&str, &str)], None)
            .await
            .expect("the agent answers");
        client.close().await;
        v
    })
}

#[test]
fn read_commands_print_tables_and_exactly_the_agents_json() {
    let server = sample();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["health"], "status:", "health/"),
        (&["jobs", "list"], "JOB ID", "jobs/"),
        (
            &["jobs", "get", SUCCEEDED_JOB],
            "duration:",
            "jobs/raysubmit_capture1/",
        ),
        (
            &["jobs", "logs", SUCCEEDED_JOB],
            "last line",
            "jobs/raysubmit_capture1/logs/",
        ),
        (&["nodes", "list"], "NODE ID", "nodes/"),
        (
            &["nodes", "get", GPU_NODE],
            "192.0.2.3",
            &format!("nodes/{GPU_NODE}/"),
        ),
        (&["tasks", "list"], "TASK ID", "tasks/"),
        (&["serve", "list"], "ROUTE", "serve_applications/"),
        (
            &["serve", "get", SERVE_APP],
            "/hello",
            "serve_applications/hello/",
        ),
        (&["plugins", "list"], "demo@1.0.0", "plugin_releases/"),
        (
            &["plugins", "get", PLUGIN_RELEASE],
            "version:",
            "plugin_releases/demo@1.0.0",
        ),
        (&["gpu"], "total_gpus:", "gpu_status/"),
        (&["raw", "GET", "nodes/"], HEAD_NODE, "nodes/"),
    ];
    for (args, table_has, path) in cases {
        let table = agentctl(&server, args);
        ok(&table);
        assert!(table.stdout.contains(table_has), "{args:?}: {table:?}");
        assert!(table.stderr.is_empty(), "{args:?}: {table:?}");

        let mut json_args = vec!["--output", "json"];
        json_args.extend_from_slice(args);
        let json = agentctl(&server, &json_args);
        ok(&json);
        assert_eq!(json_of(&json), agent_json(&server, path), "{args:?}");
    }

    // A task, by an id taken from the list.
    let tasks = json_of(&agentctl(&server, &["-o", "json", "tasks", "list"]));
    let task_id = tasks[0]["task_id"].as_str().expect("a task id").to_owned();
    let table = agentctl(&server, &["tasks", "get", &task_id]);
    ok(&table);
    assert!(table.stdout.contains("FINISHED"), "{table:?}");
    let json = agentctl(&server, &["tasks", "get", &task_id, "-o", "json"]);
    assert_eq!(
        json_of(&json),
        agent_json(&server, &format!("tasks/{task_id}/"))
    );
}

#[test]
fn jobs_list_table_shows_status_local_times_and_durations() {
    let server = sample();
    let out = agentctl(&server, &["jobs", "list"]);
    ok(&out);
    let row = row_of(&out.stdout, SUCCEEDED_JOB);
    // TZ=UTC: Ray's recorded 1795477631229 ms is 2026-11-23 23:47:11 UTC.
    assert!(row.contains("SUCCEEDED"), "{row}");
    assert!(row.contains("2026-11-23 23:47:11"), "{row}");
    assert!(row.contains("4.6s"), "{row}");
    assert!(
        !out.stdout.contains('\x1b'),
        "no colour when piped: {out:?}"
    );
    let running = row_of(&out.stdout, RUNNING_JOB);
    assert!(
        running.contains("RUNNING") && running.contains("so far"),
        "{running}"
    );
}

#[test]
fn write_commands_in_both_modes() {
    let server = sample();
    // stop
    let out = agentctl(&server, &["jobs", "stop", RUNNING_JOB]);
    ok(&out);
    assert!(
        out.stdout.contains("stopping job raysubmit_slow1"),
        "{out:?}"
    );
    let out = agentctl(&server, &["-o", "json", "jobs", "stop", SUCCEEDED_JOB]);
    ok(&out);
    assert!(json_of(&out).get("stopped").is_some(), "{out:?}");

    // plugins create / delete
    let out = agentctl(&server, &["plugins", "create", "demo", "2.0.0"]);
    ok(&out);
    assert!(out.stdout.contains("2.0.0"), "{out:?}");
    let out = agentctl(
        &server,
        &["-o", "json", "plugins", "create", "demo", "3.0.0"],
    );
    ok(&out);
    assert_eq!(json_of(&out)["version"], "3.0.0");
    let out = agentctl(&server, &["plugins", "delete", "demo@2.0.0"]);
    ok(&out);
    assert!(
        out.stdout.contains("deleted plugin release demo@2.0.0"),
        "{out:?}"
    );
    let out = agentctl(&server, &["-o", "json", "plugins", "delete", "demo@3.0.0"]);
    ok(&out);
    json_of(&out);

    // serve delete
    let out = agentctl(&server, &["serve", "delete", SERVE_APP]);
    ok(&out);
    assert!(
        out.stdout.contains("deleted Ray Serve application hello"),
        "{out:?}"
    );
    assert!(server.serve_application_names().is_empty());
    let out = agentctl(&server, &["-o", "json", "serve", "delete", SERVE_APP]);
    assert_eq!(out.code, 3, "already gone: {out:?}");

    // plugins run, without and with --follow
    let out = agentctl(
        &server,
        &[
            "plugins",
            "run",
            PLUGIN_RELEASE,
            "--action",
            "train",
            "--params",
            r#"{"epochs": 3}"#,
        ],
    );
    ok(&out);
    assert!(
        out.stdout.contains("agentctl jobs tail raysubmit_"),
        "{out:?}"
    );
    let run = server
        .requests(RouteKind::RunPluginRelease)
        .pop()
        .expect("a run request");
    let body: Value = serde_json::from_slice(&run.body).expect("a JSON body");
    assert_eq!(
        body,
        serde_json::json!({"action": "train", "params": {"epochs": 3}})
    );

    let out = agentctl(
        &server,
        &[
            "-o",
            "json",
            "plugins",
            "run",
            PLUGIN_RELEASE,
            "--action",
            "test",
        ],
    );
    ok(&out);
    let job = json_of(&out)["job_id"].as_str().expect("job id").to_owned();

    let out = agentctl(
        &server,
        &[
            "plugins",
            "run",
            PLUGIN_RELEASE,
            "--action",
            "train",
            "--follow",
        ],
    );
    ok(&out);
    assert!(
        out.stdout.ends_with("Action 'train' finished.\n"),
        "{out:?}"
    );
    assert!(out.stderr.contains("following its log"), "{out:?}");

    let out = agentctl(
        &server,
        &[
            "-o",
            "json",
            "plugins",
            "run",
            PLUGIN_RELEASE,
            "--action",
            "train",
            "--follow",
            "--protocol",
            "http",
        ],
    );
    ok(&out);
    let mut lines = out.stdout.lines();
    let answer: Value = serde_json::from_str(lines.next().expect("the answer")).expect("JSON");
    assert!(answer["job_id"].is_string(), "{out:?}");
    let log: Vec<String> = lines
        .map(|l| serde_json::from_str(l).expect("a JSON string"))
        .collect();
    assert_eq!(
        log.last().map(String::as_str),
        Some("Action 'train' finished."),
        "{out:?}"
    );
    assert_ne!(job, answer["job_id"]);
}

#[test]
fn tail_follows_a_running_job_to_completion_over_each_protocol() {
    let server = sample();
    for (i, protocol) in ["websocket", "http", "auto"].iter().enumerate() {
        let id = format!("raysubmit_follow{i}");
        // 20 lines, 40 a second: the tail has to follow the job as it writes.
        server
            .add_job(
                JobSpec::new(id.as_str())
                    .generate(20, 16)
                    .rate(40.0)
                    .pending_for(Duration::from_millis(200)),
            )
            .expect("job added");
        server.clear_journal();
        let out = agentctl(&server, &["jobs", "tail", &id, "--protocol", protocol]);
        ok(&out);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 20, "{protocol}: {out:?}");
        for (n, line) in lines.iter().enumerate() {
            assert!(
                line.starts_with(&format!("line {n}")),
                "{protocol}: line {n}: {line}"
            );
        }
        assert!(out.stderr.is_empty(), "no spinner when piped: {out:?}");
        let routes: Vec<_> = server.journal().iter().filter_map(|e| e.route).collect();
        let want = if *protocol == "http" {
            RouteKind::TailHttp
        } else {
            RouteKind::TailWebSocket
        };
        assert!(routes.contains(&want), "{protocol}: {routes:?}");
        if *protocol == "websocket" {
            assert!(!routes.contains(&RouteKind::TailHttp), "{routes:?}");
        }
        assert_eq!(
            server.job_status(&id).map(|s| s.to_string()).as_deref(),
            Some("SUCCEEDED")
        );
    }
}

#[test]
fn tail_prints_json_strings_in_json_mode() {
    let server = sample();
    let out = agentctl(&server, &["-o", "json", "jobs", "tail", FAILED_JOB]);
    assert_eq!(out.code, 7, "the job failed: {out:?}");
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON string per line"))
        .collect();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("ZeroDivisionError: division by zero")
    );
    let text = agentctl(&server, &["jobs", "logs", FAILED_JOB]);
    assert_eq!(text.stdout.lines().collect::<Vec<_>>(), lines);
}

#[test]
fn a_tail_tells_what_it_skipped() {
    let server = sample();
    for protocol in ["websocket", "http"] {
        assert!(server.set_tail_fault(FAILED_JOB, TailFault::oversized(2, 4_000)));
        let out = agentctl(
            &server,
            &[
                "jobs",
                "tail",
                FAILED_JOB,
                "--protocol",
                protocol,
                "--max-message-size",
                "1000",
            ],
        );
        assert_eq!(out.code, 7, "the job failed: {out:?}");
        assert_eq!(out.stdout.lines().count(), 6, "{protocol}: {out:?}");
        assert!(
            out.stderr
                .starts_with("agentctl: 1 line(s) over --max-message-size were skipped"),
            "{protocol}: {out:?}"
        );
        assert!(
            out.stderr.ends_with(&format!("agentctl: job {FAILED_JOB} FAILED: Job entrypoint command failed with exit code 1\n")),
            "{protocol}: {out:?}"
        );
        assert!(server.clear_tail_faults(FAILED_JOB));
    }
}

#[test]
fn bad_input_exits_2_before_any_request() {
    let server = sample();
    server.clear_journal();
    let cases: &[&[&str]] = &[
        &["jobs", "get", "../health"],
        &[
            "jobs",
            "tail",
            SUCCEEDED_JOB,
            "--protocol",
            "carrier-pigeon",
        ],
        &["jobs", "tail", SUCCEEDED_JOB, "--timeout", "0"],
        &["jobs", "tail", SUCCEEDED_JOB, "--max-lines", "0"],
        &[
            "plugins",
            "run",
            PLUGIN_RELEASE,
            "--action",
            "train",
            "--params",
            "{not json",
        ],
        &["plugins", "get", "demo@../../x"],
        &["raw", "GET", "../jobs/"],
        &["raw", "POST", "jobs/", "--body", "{"],
        &["nodes", "get", "a/b"],
        &["--read-timeout=-1", "health"],
        &["--connect-timeout", "0", "health"],
    ];
    for args in cases {
        let out = agentctl(&server, args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr.starts_with("error: invalid "),
            "{args:?}: {out:?}"
        );
        assert_eq!(out.stderr.lines().count(), 1, "one line: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
    }
    assert!(
        server.journal().is_empty(),
        "a request went out: {:?}",
        server.journal()
    );

    // clap's own usage errors are exit 2 too
    for args in [
        &["jobs"][..],
        &["jobs", "frobnicate"],
        &["--output", "xml", "health"],
        &["serve"],
    ] {
        let out = agentctl(&server, args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
    }
    // and bad input is refused even with no agent at all (the embedded one never starts)
    let mut cmd = command();
    cmd.args(["jobs", "tail", "x y"]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!out.stderr.contains("embedded"), "{out:?}");
}

#[test]
fn every_error_class_has_its_exit_code_and_one_line() {
    let server = sample();
    // 3: not found
    let out = agentctl(&server, &["jobs", "get", "nope"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(
        out.stderr,
        "error: 404 not found: Job nope does not exist\n"
    );

    // 4: the agent refuses the token, which is never printed
    let mut cmd = command();
    cmd.args(["--url", &server.url(), "--token", SECRET, "jobs", "list"]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.starts_with("error: 401 unauthorized: "),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains(SECRET) && !out.stdout.contains(SECRET),
        "{out:?}"
    );

    // 5: a stream limit, on each protocol
    let out = agentctl(
        &server,
        &[
            "jobs",
            "tail",
            SUCCEEDED_JOB,
            "--protocol",
            "http",
            "--max-lines",
            "3",
        ],
    );
    assert_eq!(out.code, 5, "{out:?}");
    assert!(
        out.stderr.starts_with("error: stream limit exceeded: "),
        "{out:?}"
    );
    let out = agentctl(
        &server,
        &[
            "jobs",
            "tail",
            SUCCEEDED_JOB,
            "--protocol",
            "websocket",
            "--max-bytes",
            "100",
        ],
    );
    assert_eq!(out.code, 5, "{out:?}");
    // ... and the agent's own 429
    server.set_fault(RouteKind::ListNodes, Fault::status(429).times(1));
    let out = agentctl(&server, &["nodes", "list"]);
    assert_eq!(out.code, 5, "{out:?}");

    // 6: a quiet job with --max-quiet (a live server's heartbeats and pongs never
    // trip --timeout, issue 24) ...
    let out = agentctl(
        &server,
        &[
            "jobs",
            "tail",
            PENDING_JOB,
            "--protocol",
            "http",
            "--max-quiet",
            "1",
        ],
    );
    assert_eq!(out.code, 6, "{out:?}");
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "no spinner when piped: {out:?}"
    );
    assert!(
        out.stderr
            .starts_with("error: timeout: quiet job (no new log line"),
        "{out:?}"
    );
    // ... and an agent nobody answers for
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut cmd = command();
    cmd.args([
        "--url",
        &format!("http://127.0.0.1:{port}/"),
        "--token",
        SECRET,
        "health",
    ]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 6, "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: cannot reach the agent: could not connect to 127.0.0.1:"),
        "no status code: the agent never answered: {out:?}"
    );
    assert!(out.stderr.contains("refused"), "{out:?}");
    assert!(!out.stderr.contains(SECRET), "{out:?}");

    // 1: anything else (the agent failed; no GPU)
    server.set_fault(RouteKind::Health, Fault::status(500).times(1));
    let out = agentctl(&server, &["health"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("error: 500 agent failed"), "{out:?}");
    server.set_fault(
        RouteKind::GpuStatus,
        Fault::gpu_unavailable("no GPU in the cluster").times(1),
    );
    let out = agentctl(&server, &["gpu"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "error: 503 gpu unavailable: no GPU in the cluster\n"
    );

    // 2: the agent rejects a body (422)
    let out = agentctl(
        &server,
        &[
            "raw",
            "POST",
            "plugin_releases/",
            "--body",
            r#"{"version": "1"}"#,
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.starts_with("error: 422 rejected: "), "{out:?}");

    // a URL without a token is a usage error
    let mut cmd = command();
    cmd.args(["--url", &server.url(), "health"]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("pass --token"), "{out:?}");

    // the agent's JSON errors are rendered as words, not dumped
    server.set_fault(
        RouteKind::CreatePluginRelease,
        Fault::json(
            400,
            serde_json::json!({"non_field_errors": ["release demo@9 exists"], "version": ["taken"]}),
        )
        .times(1),
    );
    let out = agentctl(&server, &["plugins", "create", "demo", "9"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        out.stderr,
        "error: 400 bad request: release demo@9 exists; version: taken\n"
    );
}

#[test]
fn ctrl_c_stops_a_tail_cleanly_with_130() {
    let server = sample();
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .args(["jobs", "tail", RUNNING_JOB]);
    let mut child = cmd.spawn().expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            let _ = tx.send(());
            lines.push(line);
        }
        lines.join("\n")
    });
    // The first line arrived: the tail runs (and its Ctrl-C handler is in place).
    rx.recv_timeout(DEADLINE).expect("a first line");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let out = finish(child, reader);
    assert_eq!(out.code, 130, "{out:?}");
    assert!(out.stdout.starts_with("line 0"), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn with_no_url_the_embedded_agent_answers() {
    let mut cmd = command();
    cmd.args(["jobs", "tail", SUCCEEDED_JOB]);
    let out = run_cmd(cmd);
    ok(&out);
    assert!(out.stdout.ends_with("line 29\nlast line\n"), "{out:?}");
    // Ray's recorded log: 36 lines (the entrypoint spans four).
    assert_eq!(out.stdout.lines().count(), 36, "{out:?}");
    let note: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(note.len(), 1, "{out:?}");
    assert!(
        note[0].starts_with("agentctl: no --url, --token or AGENT_URL given; using the embedded test agent at http://127.0.0.1:")
            && note[0].contains("/ (sample cluster, afresh for each command"),
        "{out:?}"
    );

    let mut cmd = command();
    cmd.args(["-o", "json", "jobs", "list"]);
    let out = run_cmd(cmd);
    ok(&out);
    assert_eq!(json_of(&out).as_array().map(Vec::len), Some(6), "{out:?}");

    // --embedded wins over every other setting
    let mut cmd = command();
    cmd.env("AGENT_URL", "http://192.0.2.1:9/")
        .env("AGENT_TOKEN", SECRET)
        .args(["--embedded", "-o", "json", "jobs", "list"]);
    let out = run_cmd(cmd);
    ok(&out);
    assert_eq!(json_of(&out).as_array().map(Vec::len), Some(6), "{out:?}");
    assert!(out.stderr.contains("--embedded"), "{out:?}");
}

#[test]
fn a_token_without_a_url_never_reaches_the_sample_agent() {
    for (env, args) in [
        (
            Some(("AGENT_TOKEN", SECRET)),
            &["-o", "json", "jobs", "list"][..],
        ),
        (
            Some(("AGENT_TOKEN", SECRET)),
            &["jobs", "stop", RUNNING_JOB],
        ),
        (None, &["--token", SECRET, "jobs", "list"]),
        (Some(("AGENT_USER_TOKEN", SECRET)), &["health"]),
    ] {
        let mut cmd = command();
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        cmd.args(args);
        let out = run_cmd(cmd);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(!out.stderr.contains("embedded test agent at"), "{out:?}");
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains("--url"),
            "says how to give the URL: {out:?}"
        );
        assert!(!out.stderr.contains(SECRET), "{out:?}");
    }
}

/// Starts `agentctl dev-server` with `args`; returns the child, its stdout reader, and
/// the banner's URL and token lines.
fn dev_server(args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>, String, String) {
    let mut cmd = command();
    cmd.arg("dev-server").args(args);
    let mut child = cmd.spawn().expect("starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    let (mut url, mut token) = (None, None);
    while !banner.contains("try:") {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            let _ = child.kill();
            panic!("dev-server ended early: {banner}");
        }
        banner.push_str(&line);
        if let Some(u) = line.strip_prefix("url:") {
            url = Some(u.trim().to_owned());
        }
        if let Some(t) = line.strip_prefix("token:") {
            token = Some(t.trim().to_owned());
        }
    }
    (child, reader, url.expect("url"), token.expect("token"))
}

fn interrupt(child: &Child) {
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
}

#[test]
fn dev_server_runs_the_test_agent_until_ctrl_c_with_a_random_or_given_token() {
    let (child, reader, url, token) = dev_server(&["--listen", "127.0.0.1:0"]);
    assert!(token.len() >= 32, "a random token: {token}");
    let mut cmd = command();
    cmd.env("AGENT_URL", &url)
        .env("AGENT_TOKEN", &token)
        .args(["-o", "json", "health"]);
    let out = run_cmd(cmd);
    ok(&out);
    assert_eq!(json_of(&out)["status"], "ok");
    interrupt(&child);
    let out = finish(child, read_all(reader));
    assert_eq!(out.code, 0, "{out:?}");

    // Two servers, two tokens.
    let (child, reader, _, other) = dev_server(&["--listen", "127.0.0.1:0"]);
    assert_ne!(token, other);
    interrupt(&child);
    finish(child, read_all(reader));

    // A token given with --token is used, never printed; AGENT_TOKEN is not used.
    let (child, reader, url, shown) = dev_server(&["--listen", "127.0.0.1:0", "--token", SECRET]);
    assert_eq!(shown, "(the one given with --token)");
    let mut cmd = command();
    cmd.env("AGENT_URL", &url)
        .env("AGENT_TOKEN", SECRET)
        .args(["health"]);
    ok(&run_cmd(cmd));
    interrupt(&child);
    let out = finish(child, read_all(reader));
    assert!(!out.stdout.contains(SECRET), "{out:?}");

    // AGENT_TOKEN (perhaps a real agent's) never guards a dev server.
    let mut cmd = command();
    cmd.env("AGENT_TOKEN", SECRET)
        .args(["dev-server", "--listen", "127.0.0.1:0"]);
    let mut child = cmd.spawn().expect("starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    while !banner.contains("try:") {
        if reader.read_line(&mut banner).expect("read") == 0 {
            break;
        }
    }
    let shown = banner
        .lines()
        .find_map(|l| l.strip_prefix("token:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        shown.starts_with("dev-"),
        "AGENT_TOKEN is not a dev-server token: {shown}"
    );
    interrupt(&child);
    let out = finish(child, read_all(reader));
    assert!(!out.stdout.contains(SECRET), "{out:?}");
}

#[test]
fn dev_server_refuses_an_empty_token_and_a_busy_port_in_plain_words() {
    let mut cmd = command();
    cmd.args(["dev-server", "--listen", "127.0.0.1:0", "--token", ""]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: dev-server: the token must not be empty"),
        "{out:?}"
    );

    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let mut cmd = command();
    cmd.args(["dev-server", "--listen", &addr]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        format!("error: could not start the test agent on {addr}: the address is already in use\n")
    );

    // `serve` is Ray Serve only now.
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("unexpected argument '--listen'"),
        "{out:?}"
    );
}

#[test]
fn tails_and_waits_exit_by_the_jobs_outcome() {
    let server = AgentTestServer::sample()
        .on_run(|run| {
            JobSpec::new(run.job_id.as_str())
                .lines(["starting", "Traceback ..."])
                .fails(Some("the action failed"))
        })
        .start_blocking()
        .expect("test agent starts");
    for (job, code) in [(SUCCEEDED_JOB, 0), (FAILED_JOB, 7), (STOPPED_JOB, 8)] {
        for protocol in ["websocket", "http"] {
            let out = agentctl(&server, &["jobs", "tail", job, "--protocol", protocol]);
            assert_eq!(out.code, code, "{job} {protocol}: {out:?}");
            assert!(!out.stdout.is_empty(), "{out:?}");
        }
        let out = agentctl(&server, &["jobs", "wait", job]);
        assert_eq!(out.code, code, "{job}: {out:?}");
        assert!(out.stdout.starts_with(&format!("job {job} ")), "{out:?}");
        let out = agentctl(&server, &["-o", "json", "jobs", "wait", job]);
        assert_eq!(out.code, code, "{job}: {out:?}");
        assert_eq!(json_of(&out), agent_json(&server, &format!("jobs/{job}/")));
    }
    let out = agentctl(&server, &["jobs", "tail", FAILED_JOB]);
    assert!(
        out.stderr
            .starts_with(&format!("agentctl: job {FAILED_JOB} FAILED: ")),
        "{out:?}"
    );

    // plugins run --follow: the started job failed
    let out = agentctl(
        &server,
        &[
            "plugins",
            "run",
            PLUGIN_RELEASE,
            "--action",
            "train",
            "--follow",
        ],
    );
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(out.stdout, "starting\nTraceback ...\n", "{out:?}");
    assert!(
        out.stderr.ends_with("FAILED: the action failed\n"),
        "{out:?}"
    );

    // wait: a running job that the test ends while agentctl waits
    server
        .add_job(
            JobSpec::new("raysubmit_waited")
                .lines(["x"])
                .keeps_running(),
        )
        .expect("job added");
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .args(["jobs", "wait", "raysubmit_waited"]);
    let child = cmd.spawn().expect("starts");
    // agentctl reads the status at least once before the job fails.
    let start = Instant::now();
    while server.requests(RouteKind::GetJob).is_empty() && start.elapsed() < DEADLINE {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(server.fail_job("raysubmit_waited", "boom"));
    let mut child = child;
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let out = finish(child, stdout);
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(out.stdout, "job raysubmit_waited FAILED\n");

    // wait --timeout: still running, exit 6
    server
        .add_job(
            JobSpec::new("raysubmit_forever")
                .lines(["x"])
                .keeps_running(),
        )
        .expect("job added");
    let out = agentctl(
        &server,
        &["jobs", "wait", "raysubmit_forever", "--timeout", "0.5"],
    );
    assert_eq!(out.code, 6, "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: job raysubmit_forever is still RUNNING after"),
        "{out:?}"
    );

    // stop --wait: the job ends STOPPED
    let out = agentctl(&server, &["jobs", "stop", "raysubmit_forever", "--wait"]);
    assert_eq!(out.code, 8, "{out:?}");
    assert_eq!(
        out.stdout,
        "stopping job raysubmit_forever\njob raysubmit_forever STOPPED\n"
    );

    // the log is complete but the status cannot be read: exit 1, with a message
    server.set_fault(
        FaultTarget::route(RouteKind::GetJob).id(SUCCEEDED_JOB),
        Fault::status(500),
    );
    let out = agentctl(&server, &["jobs", "tail", SUCCEEDED_JOB]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.ends_with("last line\n"), "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "error: the log of job {SUCCEEDED_JOB} is complete, but its status could not be read: "
        )),
        "{out:?}"
    );
}

#[test]
fn a_long_log_is_tailed_to_its_end_with_no_flags() {
    const LINES: u64 = 200_000;
    let server = sample();
    server
        .add_job(JobSpec::new("raysubmit_long_log").generate(LINES, 24))
        .expect("job added");
    for protocol in ["auto", "http"] {
        let out = agentctl(
            &server,
            &["jobs", "tail", "raysubmit_long_log", "--protocol", protocol],
        );
        ok(&out);
        assert_eq!(out.stdout.lines().count() as u64, LINES, "{protocol}");
        assert!(out.stdout.starts_with("line 0"), "{protocol}");
        assert!(out.stderr.is_empty(), "{protocol}: {}", out.stderr);
    }
}

#[test]
fn help_shows_an_example_on_every_command_and_the_exit_codes() {
    let commands: &[&[&str]] = &[
        &[],
        &["health"],
        &["jobs"],
        &["jobs", "list"],
        &["jobs", "get"],
        &["jobs", "logs"],
        &["jobs", "stop"],
        &["jobs", "tail"],
        &["nodes"],
        &["nodes", "list"],
        &["nodes", "get"],
        &["tasks"],
        &["tasks", "list"],
        &["tasks", "get"],
        &["serve"],
        &["serve", "list"],
        &["serve", "get"],
        &["serve", "delete"],
        &["dev-server"],
        &["jobs", "wait"],
        &["config"],
        &["config", "set-context"],
        &["config", "use-context"],
        &["config", "get-contexts"],
        &["config", "current-context"],
        &["config", "delete-context"],
        &["completions"],
        &["plugins"],
        &["plugins", "list"],
        &["plugins", "get"],
        &["plugins", "create"],
        &["plugins", "delete"],
        &["plugins", "run"],
        &["gpu"],
        &["raw"],
    ];
    for path in commands {
        let mut cmd = command();
        cmd.args(*path).arg("--help").env("AGENT_TOKEN", SECRET);
        let out = run_cmd(cmd);
        ok(&out);
        assert!(out.stdout.contains("Example"), "{path:?}: {out:?}");
        assert!(out.stdout.contains("  agentctl "), "{path:?}: {out:?}");
        assert!(
            !out.stdout.contains(SECRET),
            "the token's value shows in help: {out:?}"
        );
    }
    // A sub-command's help shows its own options and points to `agentctl options`
    // for the global ones, which `agentctl --help` and `agentctl options` list once.
    let mut cmd = command();
    cmd.args(["jobs", "tail", "--help"]);
    let out = run_cmd(cmd);
    assert!(out.stdout.contains("--max-lines"), "{out:?}");
    assert!(out.stdout.contains("[default: no limit]"), "{out:?}");
    assert!(out.stdout.contains("see `agentctl options`"), "{out:?}");
    // None of the global options is repeated (they were 55 of the 106 lines): the
    // command's own flags and examples only.
    for global in [
        "--url <URL>",
        "--token <TOKEN>",
        "--context <NAME>",
        "--cacert <FILE>",
        "--embedded",
        "--output <",
    ] {
        assert!(!out.stdout.contains(global), "{global}: {out:?}");
    }
    for top in [&["--help"][..], &["options"]] {
        let mut cmd = command();
        cmd.args(top);
        let out = run_cmd(cmd);
        ok(&out);
        assert!(
            out.stdout.contains("Global options: connection:"),
            "{out:?}"
        );
        for flag in [
            "--url <URL>",
            "--token <TOKEN>",
            "--output <OUTPUT>",
            "--context <NAME>",
        ] {
            assert_eq!(out.stdout.matches(flag).count(), 1, "{flag}: {out:?}");
        }
        // An unset variable is named, not shown empty.
        assert!(out.stdout.contains("[env: AGENT_URL]"), "{out:?}");
        assert!(!out.stdout.contains("=]"), "no `[env: X=]`: {out:?}");
    }
    // The global options still parse after the subcommand.
    let server = sample();
    let out = agentctl(&server, &["jobs", "list", "-o", "json", "--utc"]);
    ok(&out);
    assert_eq!(json_of(&out), agent_json(&server, "jobs/"));
    // The jobs summary names every jobs command.
    let mut cmd = command();
    cmd.arg("--help");
    let out = run_cmd(cmd);
    let jobs = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("jobs "))
        .expect("the jobs line");
    for verb in ["list", "get", "logs", "stop", "tail", "wait"] {
        assert!(jobs.contains(verb), "{verb} missing: {jobs}");
    }

    let mut cmd = command();
    cmd.arg("--help");
    let out = run_cmd(cmd);
    for code in [
        "  2 ", "  3 ", "  4 ", "  5 ", "  6 ", "  7 ", "  8 ", "  130 ",
    ] {
        assert!(
            out.stdout.contains(code),
            "exit code {code} undocumented: {out:?}"
        );
    }
}

/// Runs agentctl against `server` on a pseudo-terminal (util-linux `script`), or
/// `None` where `script` is missing.
fn on_a_terminal(server: &BlockingTestServer, args: &[&str]) -> Option<Output> {
    on_a_terminal_with(server, &[], args)
}

#[test]
fn on_a_terminal_log_lines_cannot_drive_it_and_in_a_pipe_they_are_unchanged() {
    let server = sample();
    let hostile = [
        "\x1b]0;pwned\x07 sets the title",
        "\x1b[2J\x1b[H clears the screen",
        "\x1b[31mred\x1b[0m is only colour",
        "a\rcarriage return and \u{9b}6n a C1 query",
    ];
    server
        .add_job(
            JobSpec::new("raysubmit_hostile")
                .lines(hostile)
                .entrypoint("python \x1b[2J.py"),
        )
        .expect("job added");

    // In a pipe: byte for byte.
    let piped = agentctl(&server, &["jobs", "tail", "raysubmit_hostile"]);
    ok(&piped);
    assert_eq!(piped.stdout, format!("{}\n", hostile.join("\n")));
    let logs = agentctl(&server, &["jobs", "logs", "raysubmit_hostile"]);
    assert_eq!(logs.stdout, piped.stdout);

    for args in [
        &["jobs", "tail", "raysubmit_hostile"][..],
        &["jobs", "logs", "raysubmit_hostile"],
        &["jobs", "list"],
    ] {
        let Some(out) = on_a_terminal(&server, args) else {
            return;
        };
        ok(&out);
        let seen = out.stdout.replace("\r\n", "\n");
        for bad in ["\x1b]", "\x1b[2J", "\x1b[H", "\x07", "\u{9b}"] {
            assert!(
                !seen.contains(bad),
                "{args:?}: {bad:?} reached the terminal: {seen:?}"
            );
        }
        if args[1] != "list" {
            assert!(
                seen.contains("\\x1b]0;pwned\\x07 sets the title"),
                "{seen:?}"
            );
            assert!(
                seen.contains("\x1b[31mred\x1b[0m is only colour"),
                "{seen:?}"
            );
            assert!(
                seen.contains("a\\x0dcarriage return and \\x9b6n"),
                "{seen:?}"
            );
        } else {
            assert!(seen.contains("python \\x1b[2J.py"), "{seen:?}");
        }
    }
}

/// A fresh directory for one test's config file.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("agentctl-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// agentctl with `config` as its config file and nothing else set.
fn with_config(config: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.env("AGENTCTL_CONFIG", config).args(args);
    run_cmd(cmd)
}

#[test]
fn contexts_follow_kubectls_verbs_and_keep_tokens_out_of_the_file() {
    let server = sample();
    let dir = scratch("contexts");
    let config = dir.join("sub/config.toml");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{}\n", server.token())).expect("token file");

    // AGENTCTL_CONFIG names a file that is not there yet: only set-context makes it.
    let out = with_config(&config, &["config", "current-context"]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = with_config(
        &config,
        &[
            "config",
            "set-context",
            "local",
            "--url",
            &server.url(),
            "--token-file",
            token_file.to_str().expect("utf-8"),
        ],
    );
    ok(&out);
    // A second context, through an environment variable.
    let out = with_config(
        &config,
        &[
            "config",
            "set-context",
            "other",
            "--url",
            &server.url(),
            "--token-env",
            "OTHER_AGENT_TOKEN",
        ],
    );
    ok(&out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config)
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(!text.contains(server.token()), "{text}");

    // No current context yet: the embedded agent (no connection setting at all).
    let out = with_config(&config, &["health"]);
    ok(&out);
    assert!(out.stderr.contains("embedded"), "{out:?}");

    ok(&with_config(&config, &["config", "use-context", "local"]));
    let out = with_config(&config, &["config", "current-context"]);
    assert_eq!(out.stdout, "local\n");
    let out = with_config(&config, &["-o", "json", "jobs", "list"]);
    ok(&out);
    assert!(out.stderr.is_empty(), "no embedded agent: {out:?}");
    assert_eq!(json_of(&out), agent_json(&server, "jobs/"));

    let out = with_config(&config, &["config", "get-contexts"]);
    ok(&out);
    let current = out
        .stdout
        .lines()
        .find(|l| l.starts_with('*'))
        .expect("current");
    assert!(
        current.contains("local") && current.contains("file "),
        "{out:?}"
    );

    // --context picks another one; its token variable is not set: exit 2.
    let out = with_config(&config, &["--context", "other", "health"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("OTHER_AGENT_TOKEN is not set"),
        "{out:?}"
    );
    let mut cmd = command();
    cmd.env("AGENTCTL_CONFIG", &config)
        .env("OTHER_AGENT_TOKEN", server.token())
        .args(["--context", "other", "health"]);
    ok(&run_cmd(cmd));

    // Precedence: flags, then environment, then the context.
    let mut cmd = command();
    cmd.env("AGENTCTL_CONFIG", &config)
        .env("AGENT_TOKEN", SECRET)
        .args(["health"]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 4, "AGENT_TOKEN beats the context's file: {out:?}");
    let mut cmd = command();
    cmd.env("AGENTCTL_CONFIG", &config)
        .env("AGENT_TOKEN", SECRET)
        .args(["--token", server.token(), "health"]);
    ok(&run_cmd(cmd));
    // --url beats the context's, but the context's token stays with its own URL.
    let out = with_config(&config, &["--url", "http://127.0.0.1:9/", "health"]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = with_config(
        &config,
        &["--url", "http://127.0.0.1:9/", "--token", SECRET, "health"],
    );
    assert_eq!(out.code, 6, "--url beats the context's: {out:?}");

    ok(&with_config(
        &config,
        &["config", "delete-context", "local"],
    ));
    let out = with_config(&config, &["config", "current-context"]);
    assert_eq!(out.code, 1, "{out:?}");
    let out = with_config(&config, &["config", "use-context", "local"]);
    assert_eq!(out.code, 2, "{out:?}");

    // A file with an inline token is refused, and the token is not echoed.
    std::fs::write(
        &config,
        format!(
            "current-context = \"bad\"\n[contexts.bad]\nurl = \"{}\"\ntoken = \"{SECRET}\"\n",
            server.url()
        ),
    )
    .expect("write");
    let out = with_config(&config, &["health"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("never stored"), "{out:?}");
    assert!(!out.stderr.contains(SECRET), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_formats_for_scripts_and_people() {
    let server = sample();
    // jsonl: a list's items, one per line
    let out = agentctl(&server, &["-o", "jsonl", "jobs", "list"]);
    ok(&out);
    let items: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(Value::Array(items), agent_json(&server, "jobs/"));

    // yaml: block style, strings quoted
    let out = agentctl(&server, &["-o", "yaml", "jobs", "get", SUCCEEDED_JOB]);
    ok(&out);
    assert!(out.stdout.contains("\nstatus: \"SUCCEEDED\"\n"), "{out:?}");
    assert!(
        out.stdout
            .contains("\nsubmission_id: \"raysubmit_capture1\"\n"),
        "{out:?}"
    );

    // a tail in jsonl: {"line": ...} objects, then the end object
    let out = agentctl(&server, &["-o", "jsonl", "jobs", "tail", SUCCEEDED_JOB]);
    ok(&out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 37, "{out:?}");
    assert_eq!(lines[35], r#"{"line":"last line"}"#);
    assert_eq!(
        lines[36],
        r#"{"end":"complete","status":"SUCCEEDED","delivered":36,"skipped":0}"#
    );
    let out = agentctl(&server, &["-o", "jsonl", "jobs", "tail", FAILED_JOB]);
    assert_eq!(out.code, 7, "{out:?}");
    assert!(
        out.stdout.ends_with(
            "{\"end\":\"complete\",\"status\":\"FAILED\",\"delivered\":6,\"skipped\":0}\n"
        ),
        "{out:?}"
    );
    let out = agentctl(
        &server,
        &[
            "-o",
            "jsonl",
            "jobs",
            "tail",
            SUCCEEDED_JOB,
            "--max-lines",
            "3",
            "--protocol",
            "http",
        ],
    );
    assert_eq!(out.code, 5, "{out:?}");
    let last: Value =
        serde_json::from_str(out.stdout.lines().last().expect("an end")).expect("JSON");
    assert_eq!(last["end"], "error", "{out:?}");
    assert_eq!(last["error"]["code"], 5, "{out:?}");

    // times carry their zone; --utc forces UTC
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .env("TZ", "Asia/Tokyo")
        .args(["jobs", "get", SUCCEEDED_JOB]);
    let tokyo = run_cmd(cmd);
    assert!(
        tokyo.stdout.contains("2026-11-24 08:47:11 JST"),
        "{tokyo:?}"
    );
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .env("TZ", "Asia/Tokyo")
        .args(["--utc", "jobs", "list"]);
    let utc = run_cmd(cmd);
    assert!(utc.stdout.contains("2026-11-23 23:47:11 UTC"), "{utc:?}");

    // key/value views, not JSON blobs
    let out = agentctl(&server, &["nodes", "get", GPU_NODE]);
    ok(&out);
    assert!(out.stdout.contains("\nresources_total.GPU: "), "{out:?}");
    assert!(!out.stdout.contains('{'), "{out:?}");
    let out = agentctl(&server, &["gpu"]);
    assert!(out.stdout.contains("nodes[0].node_ip:"), "{out:?}");
    assert!(!out.stdout.contains('{'), "{out:?}");

    // logs --tail N, list --status S (in every format)
    let out = agentctl(&server, &["jobs", "logs", SUCCEEDED_JOB, "--tail", "2"]);
    assert_eq!(out.stdout, "line 29\nlast line\n");
    let out = agentctl(&server, &["jobs", "list", "--status", "failed"]);
    ok(&out);
    assert_eq!(out.stdout.lines().count(), 2, "{out:?}");
    assert!(out.stdout.contains(FAILED_JOB), "{out:?}");
    let out = agentctl(
        &server,
        &["-o", "json", "jobs", "list", "--status", "RUNNING"],
    );
    let jobs = json_of(&out);
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{out:?}");
    assert_eq!(jobs[0]["submission_id"], RUNNING_JOB);
}

#[test]
fn tables_fit_the_terminal_and_wide_shows_everything() {
    let server = sample();
    let env_cmd = |args: &[&str]| {
        let out = on_a_terminal_with(&server, &[("COLUMNS", "70")], args)?;
        Some(out.stdout.replace("\r\n", "\n"))
    };
    let Some(table) = env_cmd(&["jobs", "list"]) else {
        return;
    };
    for line in table.lines() {
        assert!(line.chars().count() <= 70, "{line:?} in\n{table}");
    }
    assert!(table.contains('…'), "{table}");
    let wide = env_cmd(&["-o", "wide", "jobs", "list"]).expect("script");
    assert!(wide.contains("sleep 600"), "{wide}");
    assert!(wide.lines().any(|l| l.chars().count() > 70), "{wide}");
    // In a pipe: no width to fit.
    let piped = agentctl(&server, &["jobs", "list"]);
    assert!(
        piped.stdout.lines().any(|l| l.chars().count() > 70),
        "{piped:?}"
    );
}

#[test]
fn completions_for_each_shell_and_a_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let mut cmd = command();
        cmd.args(["completions", shell]);
        let out = run_cmd(cmd);
        ok(&out);
        assert!(out.stdout.contains("agentctl"), "{shell}: {out:?}");
        assert!(out.stdout.contains("set-context"), "{shell}: {out:?}");
        assert!(out.stderr.is_empty(), "{shell}: {out:?}");
    }
    let mut cmd = command();
    cmd.args(["completions", "tcsh"]);
    assert_eq!(run_cmd(cmd).code, 2);

    // bash really completes with it
    if Command::new("bash").arg("--version").output().is_ok() {
        // What bash offers for `words`, the word at `cword` being completed
        // (`call` is the completion function's arguments: command, word, previous).
        let complete = |words: &str, cword: usize, call: &str| {
            let script = format!(
                "source <({bin} completions bash) && COMP_WORDS=({words}) && COMP_CWORD={cword} && _agentctl {call} && echo \"${{COMPREPLY[@]}}\"",
                bin = env!("CARGO_BIN_EXE_agentctl")
            );
            let mut cmd = Command::new("bash");
            cmd.args(["-c", &script])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            run_cmd(cmd)
        };
        let out = complete("agentctl jo", 1, "agentctl jo agentctl");
        assert_eq!(out.stdout.trim(), "jobs", "{out:?}");
        // The global options complete after a subcommand too (its help hides them).
        let out = complete("agentctl jobs list --outp", 3, "agentctl --outp list");
        assert_eq!(out.stdout.trim(), "--output", "{out:?}");
    }

    let mut cmd = command();
    cmd.arg("generate-man");
    let out = run_cmd(cmd);
    ok(&out);
    assert!(out.stdout.contains(".TH agentctl 1"), "{out:?}");
    assert!(out.stdout.contains("completions"), "{out:?}");
}

#[test]
fn verbose_shows_requests_and_fallbacks_never_tokens() {
    let server = AgentTestServer::sample()
        .token(SECRET)
        .start_blocking()
        .expect("test agent starts");
    let out = agentctl(&server, &["-v", "jobs", "list"]);
    ok(&out);
    assert!(
        out.stderr.contains("request method=GET path=jobs/"),
        "{out:?}"
    );
    assert!(out.stderr.contains("answered took="), "{out:?}");
    assert!(!out.stderr.contains(SECRET), "{out:?}");

    // A WebSocket that drops mid-log: `auto` falls back to HTTP, and -v says so.
    assert!(server.set_tail_fault(
        SUCCEEDED_JOB,
        TailFault::drop_after(3).websocket_only().times(1)
    ));
    let out = agentctl(&server, &["-vv", "jobs", "tail", SUCCEEDED_JOB]);
    ok(&out);
    assert_eq!(out.stdout.lines().count(), 36, "{out:?}");
    assert!(out.stderr.contains("tail opened"), "{out:?}");
    assert!(
        out.stderr.contains("tail protocol fallback") && out.stderr.contains("to=http"),
        "{out:?}"
    );
    assert!(out.stderr.contains("job status"), "-vv: {out:?}");
    assert!(!out.stderr.contains(SECRET), "{out:?}");
    assert!(
        !out.stdout.contains("tail opened"),
        "events go to stderr: {out:?}"
    );
}

#[test]
fn verbose_shows_the_librarys_retries_and_tail_end_never_tokens() {
    let server = AgentTestServer::sample()
        .token(SECRET)
        .start_blocking()
        .expect("test agent starts");
    // A busy agent once: the library waits as told and asks again.
    server.set_fault(
        RouteKind::ListJobs,
        Fault::status(503).header("Retry-After", "1").times(1),
    );
    let out = agentctl(&server, &["-v", "jobs", "list"]);
    ok(&out);
    let retry = line_with(&out.stderr, "agent.retry");
    assert!(
        retry.contains("reason=status 503") && retry.contains("wait_ms=1000"),
        "the reason and the wait: {out:?}"
    );
    assert!(!out.stderr.contains(SECRET), "{out:?}");
    // -v is INFO: the library's DEBUG request spans show from -vv only.
    assert!(!out.stderr.contains("agent.request"), "{out:?}");

    let out = agentctl(&server, &["-vv", "jobs", "tail", SUCCEEDED_JOB]);
    ok(&out);
    assert!(
        out.stderr.contains("agent.tail.end") && out.stderr.contains("outcome=\"complete\""),
        "the library's tail events: {out:?}"
    );
    assert!(!out.stderr.contains(SECRET), "{out:?}");

    // Without -v, nothing of it.
    server.set_fault(
        RouteKind::ListJobs,
        Fault::status(503).header("Retry-After", "1").times(1),
    );
    let out = agentctl(&server, &["jobs", "list"]);
    ok(&out);
    assert!(out.stderr.is_empty(), "{out:?}");
}

// --- issue 25: a newcomer's first hour ---

/// Item 1: a context's token goes only to the context's URL. With another `--url`
/// (or `AGENT_URL`) and no `--token` / `AGENT_TOKEN`, the command is refused (exit
/// 2, with a hint) and no request reaches the other agent.
#[test]
fn a_contexts_token_goes_only_to_its_own_url() {
    let server = sample();
    // The "other host": a test agent that would accept any request with its token;
    // its journal shows whether anything reached it.
    let other = AgentTestServer::sample()
        .token(SECRET)
        .journal_refused(true)
        .start_blocking()
        .expect("test agent starts");
    let dir = scratch("token-scope");
    let config = dir.join("config.toml");
    let token_file = dir.join("token");
    std::fs::write(&token_file, server.token()).expect("token file");
    let set = with_config(
        &config,
        &[
            "config",
            "set-context",
            "home",
            "--url",
            &server.url(),
            "--token-file",
            token_file.to_str().expect("utf-8"),
        ],
    );
    ok(&set);
    ok(&with_config(&config, &["config", "use-context", "home"]));
    // The context's own URL, given again (any trailing slash): its token is used.
    let own = server.url().trim_end_matches('/').to_owned();
    ok(&with_config(&config, &["--url", &own, "health"]));

    for by_env in [false, true] {
        let mut cmd = command();
        cmd.env("AGENTCTL_CONFIG", &config);
        if by_env {
            cmd.env("AGENT_URL", other.url()).args(["jobs", "list"]);
        } else {
            cmd.args(["--url", &other.url(), "jobs", "list"]);
        }
        let out = run_cmd(cmd);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            out.stderr.starts_with("error: ")
                && out.stderr.contains("--token")
                && out.stderr.contains("AGENT_TOKEN")
                && out.stderr.contains("context home"),
            "a hint: {out:?}"
        );
        assert!(!out.stderr.contains(server.token()), "{out:?}");
    }
    assert!(
        other.journal().is_empty(),
        "nothing reached the other agent: {:?}",
        other.journal()
    );
    // With its own token, the other agent is used (and only its token goes there).
    let mut cmd = command();
    cmd.env("AGENTCTL_CONFIG", &config)
        .env("AGENT_TOKEN", SECRET)
        .args(["--url", &other.url(), "-o", "json", "jobs", "list"]);
    ok(&run_cmd(cmd));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Item 2: `config set-context --token` is refused (tokens are never stored), naming
/// the flags that store where a token is; nothing is written.
#[test]
fn set_context_refuses_a_token_it_would_drop() {
    let dir = scratch("set-context-token");
    let config = dir.join("config.toml");
    for (flag, names) in [
        ("--token", &["--token-file", "--token-env"][..]),
        ("--user-token", &["--user-token-file"]),
    ] {
        let out = with_config(
            &config,
            &[
                "config",
                "set-context",
                "b",
                "--url",
                "http://127.0.0.1:9/",
                flag,
                SECRET,
            ],
        );
        assert_eq!(out.code, 2, "{out:?}");
        for name in names {
            assert!(out.stderr.contains(name), "{name}: {out:?}");
        }
        assert!(!out.stderr.contains(SECRET), "{out:?}");
        assert!(!out.stdout.contains("created"), "{out:?}");
        assert!(!config.exists(), "nothing written: {out:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Item 3: an explicit AGENTCTL_CONFIG must exist (no fallback to the sample agent);
/// TOML errors carry the line and column.
#[test]
fn an_explicit_config_must_exist_and_toml_errors_have_a_position() {
    let dir = scratch("config-missing");
    let missing = dir.join("typo.toml");
    for args in [&["jobs", "list"][..], &["config", "get-contexts"]] {
        let out = with_config(&missing, args);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(!out.stderr.contains("embedded"), "{out:?}");
        assert!(
            out.stderr.contains("AGENTCTL_CONFIG") && out.stderr.contains("typo.toml"),
            "{out:?}"
        );
    }
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "current-context = \"a\"\n\n[contexts.a]\nurl = \"http://h/\"\nbogus = 1\n",
    )
    .expect("write");
    let out = with_config(&bad, &["health"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("line 5, column 1"), "{out:?}");
    assert!(out.stderr.contains("bogus"), "{out:?}");
    std::fs::write(&bad, "current-context = \"a\n").expect("write");
    let out = with_config(&bad, &["health"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("line 1, column"), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Item 5: an unknown status is refused with the valid ones listed.
#[test]
fn jobs_list_refuses_an_unknown_status() {
    let server = sample();
    let out = agentctl(&server, &["jobs", "list", "--status", "runing"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    for status in ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"] {
        assert!(out.stderr.contains(status), "{status}: {out:?}");
    }
    assert!(
        server.journal().is_empty(),
        "no request: {:?}",
        server.journal()
    );
    let out = agentctl(&server, &["jobs", "list", "--status", "Running"]);
    ok(&out);
    assert!(out.stdout.contains(RUNNING_JOB), "{out:?}");
}

/// Item 6: `-o json jobs stop X --wait` prints one JSON document (the job's final
/// state); jsonl keeps one document per line.
#[test]
fn stop_and_wait_prints_one_json_document() {
    let server = sample();
    let stop = |format: &str| {
        let args = [
            "-o",
            format,
            "jobs",
            "stop",
            RUNNING_JOB,
            "--wait",
            "--timeout",
            "30",
        ];
        let out = agentctl(&server, &args);
        assert_eq!(out.code, 8, "{out:?}");
        out
    };
    let out = stop("json");
    let job = json_of(&out);
    assert_eq!(job["status"], "STOPPED", "{out:?}");
    assert_eq!(job["submission_id"], RUNNING_JOB, "{out:?}");
    let out = stop("jsonl");
    for line in out.stdout.lines() {
        let _: Value = serde_json::from_str(line).expect("one JSON document per line");
    }
}

/// Item 7: the embedded agent's banner says changes are not kept and names
/// `dev-server`.
#[test]
fn the_embedded_banner_says_changes_are_not_kept() {
    let mut cmd = command();
    cmd.args(["jobs", "stop", RUNNING_JOB]);
    let out = run_cmd(cmd);
    ok(&out);
    assert!(out.stderr.contains("not kept"), "{out:?}");
    assert!(out.stderr.contains("agentctl dev-server"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
}

/// Item 8: `-v` gives a failed request's status code; `-vv` shows the library's
/// `agent.request` spans.
#[test]
fn verbose_gives_status_codes_and_request_spans() {
    let server = AgentTestServer::sample()
        .token(SECRET)
        .start_blocking()
        .expect("test agent starts");
    let out = agentctl(&server, &["-v", "jobs", "get", "raysubmit_nope"]);
    assert_eq!(out.code, 3, "{out:?}");
    let failed = line_with(&out.stderr, "failed");
    assert!(failed.contains("status=404"), "{out:?}");
    let out = agentctl(&server, &["-vv", "jobs", "list"]);
    ok(&out);
    let span = line_with(&out.stderr, "agent.request{");
    assert!(
        span.contains("status=200") && span.contains("route=jobs/"),
        "{span}"
    );
    assert!(!out.stderr.contains(SECRET), "{out:?}");
}

/// Item 9: hints for a wrong path prefix (a 404 that names no resource) and for
/// `https://` against a plain-HTTP agent.
#[test]
fn hints_for_a_wrong_prefix_and_https_against_plain_http() {
    let server = sample();
    let mut cmd = command();
    cmd.env("AGENT_URL", format!("{}wrong/prefix/", server.url()))
        .env("AGENT_TOKEN", server.token())
        .args(["jobs", "list"]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("path prefix in --url"), "{out:?}");
    // A 404 of the agent's own (no such job) has no such hint.
    let out = agentctl(&server, &["jobs", "get", "raysubmit_nope"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(!out.stderr.contains("prefix"), "{out:?}");

    let https = server.url().replacen("http://", "https://", 1);
    let mut cmd = command();
    cmd.env("AGENT_URL", &https)
        .env("AGENT_TOKEN", server.token())
        .args(["--connect-timeout", "5", "health"]);
    let out = run_cmd(cmd);
    assert_eq!(out.code, 6, "{out:?}");
    assert!(out.stderr.contains("try http://"), "{out:?}");
}

/// Item 4: on an 80-column terminal, ids are never cut (the entrypoint gives way
/// first); `-o wide` shows a multi-line entrypoint whole, its newlines escaped.
#[test]
fn ids_are_never_cut_and_wide_shows_multi_line_cells() {
    let server = sample();
    let term = |args: &[&str]| {
        let out = on_a_terminal_with(&server, &[("COLUMNS", "80")], args)?;
        Some(out.stdout.replace("\r\n", "\n"))
    };
    let Some(jobs) = term(&["jobs", "list"]) else {
        return;
    };
    for id in [SUCCEEDED_JOB, RUNNING_JOB, FAILED_JOB, PENDING_JOB] {
        assert!(
            jobs.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id} cut: {jobs}"
        );
    }
    let nodes = term(&["nodes", "list"]).expect("script");
    for id in [HEAD_NODE, GPU_NODE] {
        assert!(nodes.contains(id), "{id} cut: {nodes}");
    }
    let tasks = json_of(&agentctl(&server, &["-o", "json", "tasks", "list"]));
    let table = term(&["tasks", "list"]).expect("script");
    for t in tasks.as_array().expect("a list") {
        for key in ["task_id", "node_id"] {
            let id = t[key].as_str().expect("an id");
            assert!(table.contains(id), "{key} {id} cut: {table}");
        }
    }
    let wide = term(&["-o", "wide", "jobs", "list"]).expect("script");
    let row = row_of(&wide, SUCCEEDED_JOB);
    assert!(
        row.contains("import time\\nfor i in range(30):") && row.contains("print('last line')"),
        "{row}"
    );
}

/// Item 11: one man page per subcommand, and `generate-man` is documented.
#[test]
fn a_man_page_for_every_subcommand() {
    let dir = scratch("man");
    let mut cmd = command();
    cmd.args(["generate-man", "--dir"]).arg(&dir);
    let out = run_cmd(cmd);
    ok(&out);
    for page in [
        "agentctl.1",
        "agentctl-jobs.1",
        "agentctl-jobs-tail.1",
        "agentctl-jobs-wait.1",
        "agentctl-config-set-context.1",
        "agentctl-plugins-run.1",
        "agentctl-options.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.starts_with(".TH"), "{page}");
    }
    let tail = std::fs::read_to_string(dir.join("agentctl-jobs-tail.1")).expect("page");
    assert!(tail.contains("max\\-lines"), "{tail}");
    let mut cmd = command();
    cmd.arg("--help");
    assert!(run_cmd(cmd).stdout.contains("generate-man"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--compress` (issue 24) asks for gzip (`Accept-Encoding: gzip, deflate`), which
/// the agent then sends, and prints the same log and the same tail as without.
#[test]
fn compress_asks_for_gzip_and_prints_the_same_log() {
    let server = sample();
    let logs: &[&str] = &["jobs", "logs", SUCCEEDED_JOB];
    let tail: &[&str] = &["jobs", "tail", SUCCEEDED_JOB, "--protocol", "http"];
    for (args, route) in [(logs, RouteKind::JobLogs), (tail, RouteKind::TailHttp)] {
        let plain = agentctl(&server, args);
        ok(&plain);
        let mut compressed = vec!["--compress"];
        compressed.extend_from_slice(args);
        let gz = agentctl(&server, &compressed);
        ok(&gz);
        assert_eq!(gz.stdout, plain.stdout, "{args:?}");
        let asked: Vec<Option<String>> = server
            .requests(route)
            .iter()
            .map(|r| {
                r.headers
                    .get("accept-encoding")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(asked, [None, Some("gzip, deflate".to_owned())], "{args:?}");
    }
}
