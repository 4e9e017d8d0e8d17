//! The built `agentctl` through an HTTP proxy from the environment: the testkit's
//! recording proxy on loopback (`agent_testkit::RecordingProxy`), which forwards absolute-form requests, tunnels `CONNECT` and writes down each
//! request line and `Proxy-Authorization`. `HTTP_PROXY` and `ALL_PROXY` are
//! followed for requests and both tail protocols, `NO_PROXY` bypasses the proxy, and
//! the proxy's password never shows in agentctl's output, even with `-vv`.

use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::{AgentTestServer, BlockingTestServer, ProxiedRequest, RecordingProxy};

/// `Basic base64("agent-user:pa55word")`.
const GOOD_AUTH: &str = "Basic YWdlbnQtdXNlcjpwYTU1d29yZA==";
const PASSWORD: &str = "pa55word";
const WRONG_PASSWORD: &str = "wr0ng-pa55";

mod support;
use support::{command, run_cmd, Output};

/// agentctl against `server`, with `envs` set and no other proxy variable.
fn agentctl(server: &BlockingTestServer, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.env("AGENT_URL", server.url())
        .env("AGENT_TOKEN", server.token())
        .envs(envs.iter().copied())
        .args(["--connect-timeout", "5"])
        .args(args);
    run_cmd(cmd)
}

fn sample() -> BlockingTestServer {
    AgentTestServer::sample().start_blocking().expect("starts")
}

#[test]
fn requests_and_tails_go_through_the_proxy_of_the_environment() {
    let server = sample();
    let proxy = RecordingProxy::start_blocking(Some(GOOD_AUTH)).expect("proxy");
    let via = proxy.url(&format!("agent-user:{PASSWORD}@"));
    let origin = format!("http://{}/", server.local_addr());

    let out = agentctl(&server, &[("HTTP_PROXY", &via)], &["-vv", "jobs", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    let asked = proxy.requests();
    assert!(
        asked.contains(&ProxiedRequest {
            method: "GET".into(),
            target: format!("{origin}jobs/"),
            auth: Some(GOOD_AUTH.into()),
        }),
        "absolute form, with the credentials: {asked:?}"
    );
    assert!(
        !out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD),
        "{out:?}"
    );

    // Both tail protocols, through ALL_PROXY: HTTP streaming in absolute form, the
    // WebSocket through CONNECT.
    for (protocol, method) in [("http", "GET"), ("websocket", "CONNECT")] {
        let before = proxy.requests().len();
        let out = agentctl(
            &server,
            &[("ALL_PROXY", &via)],
            &["jobs", "tail", SUCCEEDED_JOB, "--protocol", protocol],
        );
        assert_eq!(out.code, 0, "{protocol}: {out:?}");
        assert!(out.stdout.ends_with("last line\n"), "{out:?}");
        let asked = proxy.requests();
        assert!(
            asked[before..].iter().any(|a| a.method == method
                && a.auth.as_deref() == Some(GOOD_AUTH)
                && (a.target.contains("/logs/") || method == "CONNECT")),
            "{protocol}: {asked:?}"
        );
    }

    // NO_PROXY: straight to the agent.
    let before = proxy.requests().len();
    let out = agentctl(
        &server,
        &[("HTTP_PROXY", &via), ("NO_PROXY", "127.0.0.1")],
        &["health"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(proxy.requests().len(), before, "{:?}", proxy.requests());
}

#[test]
fn a_refused_proxy_password_never_shows() {
    let server = sample();
    let proxy = RecordingProxy::start_blocking(Some(GOOD_AUTH)).expect("proxy");
    let wrong = proxy.url(&format!("agent-user:{WRONG_PASSWORD}@"));
    for args in [
        &["-vv", "health"][..],
        &[
            "-vv",
            "jobs",
            "tail",
            SUCCEEDED_JOB,
            "--protocol",
            "websocket",
        ][..],
    ] {
        let out = agentctl(&server, &[("HTTP_PROXY", &wrong)], args);
        assert_ne!(out.code, 0, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("407"),
            "the proxy's answer shows: {out:?}"
        );
        for secret in [WRONG_PASSWORD, PASSWORD, server.token()] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{secret} in {args:?}: {out:?}"
            );
        }
    }
    assert!(!proxy.requests().is_empty());
    assert!(server.journal().is_empty(), "{:?}", server.journal());
}

#[test]
fn the_embedded_agent_is_reached_without_the_proxy() {
    let server = sample();
    let proxy = RecordingProxy::start_blocking(Some(GOOD_AUTH)).expect("proxy");
    let via = proxy.url("");
    // `--embedded` wins over AGENT_URL; its agent is on this machine's loopback.
    let out = agentctl(
        &server,
        &[("HTTP_PROXY", &via), ("ALL_PROXY", &via)],
        &["--embedded", "health"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}
