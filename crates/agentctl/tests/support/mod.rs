//! What every agentctl test needs: the built binary with a clean environment, run
//! to completion under a deadline, its exit code and both outputs.

#![allow(dead_code)] // each test binary uses its own part

use agent_testkit::BlockingTestServer;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// No test waits longer than this for agentctl.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A token nobody else uses, to check that it is never printed.
pub const SECRET: &str = "s3cret-Token-never-printed";

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
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
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentctl"));
    for v in [
        "AGENT_URL",
        "AGENT_TOKEN",
        "AGENT_USER_TOKEN",
        "AGENT_TENANT",
        "AGENT_CACERT",
        "AGENT_CLIENT_CERT",
        "AGENT_CLIENT_KEY",
        "AGENTCTL_CONTEXT",
        // a test that wants a config file names it
        "AGENTCTL_CONFIG",
        // the test agents are on loopback: never through the caller's proxy
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(v);
    }
    // Never the config file of whoever runs the tests: the default location, in a
    // directory that does not exist (an explicit AGENTCTL_CONFIG must exist).
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("agentctl-tests-no-such-dir"),
    );
    cmd.env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn read_all(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Waits for `child` (killing it past the deadline) and collects its output.
pub fn finish(mut child: Child, stdout: thread::JoinHandle<String>) -> Output {
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

pub fn run_cmd(mut cmd: Command) -> Output {
    let mut child = cmd.spawn().expect("agentctl starts");
    let stdout = read_all(child.stdout.take().expect("stdout"));
    finish(child, stdout)
}

/// Runs agentctl against `server` (URL and token from the environment).
pub fn agentctl(server: &BlockingTestServer, args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .args(args);
    run_cmd(cmd)
}

pub fn ok(out: &Output) {
    assert_eq!(out.code, 0, "{out:?}");
}

/// agentctl under `script` (a pseudo-terminal) against `server`, with `NO_COLOR=1`
/// and `TERM=xterm` unless `env` says otherwise; `None` where `script` is missing.
pub fn on_a_terminal_with(
    server: &BlockingTestServer,
    env: &[(&str, &str)],
    args: &[&str],
) -> Option<Output> {
    let probe = Command::new("script").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("no `script` here: the terminal case is not run");
        return None;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_agentctl"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .env("TERM", "xterm")
        .envs(env.iter().copied())
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Some(run_cmd(cmd))
}
