//! The built `agentctl` binary against a real test agent (agent-testkit on loopback):
//! every command in both output modes, every exit-code class, tails that follow a
//! job to completion over each protocol, Ctrl-C, and the embedded default.

use agent_client_async::AsyncAgentClient;
use agent_testkit::sample::{
    FAILED_JOB, GPU_NODE, HEAD_NODE, PENDING_JOB, PLUGIN_RELEASE, RUNNING_JOB, SERVE_APP,
    SUCCEEDED_JOB,
};
use agent_testkit::{AgentTestServer, BlockingTestServer, Fault, JobSpec, RouteKind, TailFault};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// No test waits longer than this for agentctl.
const DEADLINE: Duration = Duration::from_secs(60);

/// A token nobody else uses, to check that it is never printed.
const SECRET: &str = "s3cret-Token-never-printed";

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A command for the binary with no AGENT_* variable from the caller's environment.
fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentctl"));
    for v in [
        "AGENT_URL",
        "AGENT_TOKEN",
        "AGENT_USER_TOKEN",
        "AGENT_TENANT",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn read_all(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Waits for `child` (killing it past the deadline) and collects its output.
fn finish(mut child: Child, stdout: thread::JoinHandle<String>) -> Output {
    let stderr = read_all(child.stderr.take().expect("stderr"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("agentctl ran past {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

fn run_cmd(mut cmd: Command) -> Output {
    let mut child = cmd.spawn().expect("agentctl starts");
    let stdout = read_all(child.stdout.take().expect("stdout"));
    finish(child, stdout)
}

/// Runs agentctl against `server` (URL and token from the environment).
fn agentctl(server: &BlockingTestServer, args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .args(args);
    run_cmd(cmd)
}

fn ok(out: &Output) {
    assert_eq!(out.code, 0, "{out:?}");
}

fn sample() -> BlockingTestServer {
    AgentTestServer::sample()
        .start_blocking()
        .expect("test agent starts")
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
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(SUCCEEDED_JOB))
        .expect("the succeeded job's row");
    // TZ=UTC: Ray's recorded 1795477631229 ms is 2026-11-23 23:47:11 UTC.
    assert!(row.contains("SUCCEEDED"), "{row}");
    assert!(row.contains("2026-11-23 23:47:11"), "{row}");
    assert!(row.contains("4.6s"), "{row}");
    assert!(
        !out.stdout.contains('\x1b'),
        "no colour when piped: {out:?}"
    );
    let running = out
        .stdout
        .lines()
        .find(|l| l.starts_with(RUNNING_JOB))
        .expect("row");
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
    ok(&out);
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
        ok(&out);
        assert_eq!(out.stdout.lines().count(), 6, "{protocol}: {out:?}");
        assert!(
            out.stderr
                .starts_with("agentctl: 1 line(s) over --max-message-size were skipped"),
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
            out.stderr.starts_with("error: 400 invalid "),
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
        &["--output", "yaml", "health"],
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
        out.stderr.starts_with("error: 429 stream limit exceeded: "),
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

    // 6: an idle time-out (a pending job says nothing, over HTTP with no heartbeat
    // within the time-out; a WebSocket server that answers pings is alive, issue 11) ...
    let out = agentctl(
        &server,
        &[
            "jobs",
            "tail",
            PENDING_JOB,
            "--protocol",
            "http",
            "--timeout",
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
            .starts_with("error: 408 timeout: idle stream timed out"),
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
        out.stderr.starts_with("error: 503 unreachable: "),
        "{out:?}"
    );
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
        note[0].starts_with("agentctl: no --url or AGENT_URL given; using the embedded test agent at http://127.0.0.1:")
            && note[0].ends_with("/ (sample cluster)"),
        "{out:?}"
    );

    let mut cmd = command();
    cmd.args(["-o", "json", "jobs", "list"]);
    let out = run_cmd(cmd);
    ok(&out);
    assert_eq!(json_of(&out).as_array().map(Vec::len), Some(6), "{out:?}");
}

#[test]
fn serve_runs_the_test_agent_standalone_until_ctrl_c() {
    let mut cmd = command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let mut child = cmd.spawn().expect("starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            panic!("serve ended early: {banner}");
        }
        banner.push_str(&line);
        if let Some(u) = line.strip_prefix("url:") {
            url = Some(u.trim().to_owned());
        }
        if let Some(t) = line.strip_prefix("token:") {
            token = Some(t.trim().to_owned());
        }
    }
    let (url, token) = (url.expect("url"), token.expect("token"));
    let mut cmd = command();
    cmd.env("AGENT_URL", &url)
        .env("AGENT_TOKEN", &token)
        .args(["-o", "json", "health"]);
    let out = run_cmd(cmd);
    ok(&out);
    assert_eq!(json_of(&out)["status"], "ok");

    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let out = finish(child, read_all(reader));
    assert_eq!(out.code, 0, "{banner}{out:?}");

    // A token given to `serve` is used, never printed.
    let mut cmd = command();
    cmd.env("AGENT_TOKEN", SECRET)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let mut child = cmd.spawn().expect("starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    while !banner.contains("try:") {
        if reader.read_line(&mut banner).expect("read") == 0 {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = finish(child, read_all(reader));
    assert!(banner.contains("token: (the one given"), "{banner}");
    assert!(
        !banner.contains(SECRET) && !out.stdout.contains(SECRET),
        "{banner}{out:?}"
    );
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
    let mut cmd = command();
    cmd.arg("--help");
    let out = run_cmd(cmd);
    for code in ["  2 ", "  3 ", "  4 ", "  5 ", "  6 ", "  130 "] {
        assert!(
            out.stdout.contains(code),
            "exit code {code} undocumented: {out:?}"
        );
    }
}
