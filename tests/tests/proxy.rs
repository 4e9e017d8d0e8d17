//! Both clients through an HTTP proxy: the testkit's recording proxy on loopback
//! (`agent_testkit::RecordingProxy`), which answers `CONNECT` with a tunnel and forwards absolute-form
//! requests, and writes down every request line and `Proxy-Authorization` it was
//! sent. Plain `http` requests go in absolute form with the credentials; `https`,
//! `wss` and `ws` go through `CONNECT`; `NO_PROXY` and `Proxy::none` bypass it; the
//! environment's variables are honoured; credentials never show in an error.

mod common;

use agent_client_async::{AsyncAgentClient, ClientError, Protocol, Proxy, TailOptions};
use agent_client_blocking::AgentClient;
use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::{AgentTestServer, ProxiedRequest, RecordingProxy};
use common::{drain, log_lines, on_thread, self_signed};
use std::sync::Mutex;

/// `Basic base64("agent-user:pa55word")`.
const GOOD_AUTH: &str = "Basic YWdlbnQtdXNlcjpwYTU1d29yZA==";
const PASSWORD: &str = "pa55word";

fn target_of(server: &AgentTestServer) -> String {
    server.local_addr().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_go_in_absolute_form_with_the_credentials() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let proxy = RecordingProxy::start(Some(GOOD_AUTH)).await.unwrap();
    let via = Proxy::all(&proxy.url("agent-user:pa55word@")).unwrap();
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .proxy(via.clone())
        .build()
        .unwrap();
    a.health_check().await.unwrap();
    let jobs = a.list_jobs().await.unwrap();
    assert!(!jobs.is_empty());
    let b = AgentClient::builder(server.url(), server.token())
        .proxy(via)
        .build()
        .unwrap();
    on_thread(move || b.list_jobs()).await.unwrap();

    let asked = proxy.requests();
    assert!(!asked.is_empty());
    let origin = format!("http://{}/", target_of(&server));
    for a in &asked {
        assert_ne!(a.method, "CONNECT", "{asked:?}");
        assert!(a.target.starts_with(&origin), "{asked:?}");
        assert_eq!(a.auth.as_deref(), Some(GOOD_AUTH), "{asked:?}");
    }
    assert!(asked.iter().any(|a| a.target == format!("{origin}health/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_tails_go_through_connect() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let want = log_lines(&server.handle(), SUCCEEDED_JOB);
    let proxy = RecordingProxy::start(Some(GOOD_AUTH)).await.unwrap();
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .proxy(Proxy::all(&proxy.url("agent-user:pa55word@")).unwrap())
        .build()
        .unwrap();
    let mut tail = a
        .tail_job_logs(
            SUCCEEDED_JOB,
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await
        .unwrap();
    let (lines, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, want);
    let asked = proxy.requests();
    assert_eq!(
        asked,
        vec![ProxiedRequest {
            method: "CONNECT".into(),
            target: target_of(&server),
            auth: Some(GOOD_AUTH.into()),
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_go_through_connect_with_tls_inside() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let want = log_lines(&server.handle(), SUCCEEDED_JOB);
    let cert = self_signed(&["localhost", "127.0.0.1"]);
    let tls = common::Proxy::start_tls(server.local_addr(), Some(cert.acceptor.clone())).await;
    let proxy = RecordingProxy::start(None).await.unwrap();
    let a = AsyncAgentClient::builder(tls.https_url(), server.token())
        .add_root_certificate_pem(cert.pem.clone())
        .proxy(Proxy::https(&proxy.url("")).unwrap())
        .build()
        .unwrap();
    a.health_check().await.unwrap();
    for p in [Protocol::WebSocket, Protocol::Http] {
        let mut tail = a
            .tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(p))
            .await
            .unwrap();
        let (lines, err) = drain(&mut tail).await;
        assert!(err.is_none(), "{p}: {err:?}");
        assert_eq!(lines, want, "{p}");
    }
    // (the HTTP tail may reuse the tunnel the health check opened; the WebSocket
    // tail always opens its own)
    let asked = proxy.requests();
    assert!(asked.len() >= 2, "{asked:?}");
    for a in &asked {
        assert_eq!(a.method, "CONNECT", "{asked:?}");
        assert_eq!(a.target, tls.addr.to_string(), "{asked:?}");
        assert_eq!(a.auth, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_a_connect_error_that_never_shows_them() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let cert = self_signed(&["localhost", "127.0.0.1"]);
    let tls = common::Proxy::start_tls(server.local_addr(), Some(cert.acceptor.clone())).await;
    let proxy = RecordingProxy::start(Some(GOOD_AUTH)).await.unwrap();
    let wrong = Proxy::all(&proxy.url("agent-user:wr0ng-pa55@")).unwrap();
    let a = AsyncAgentClient::builder(tls.https_url(), server.token())
        .add_root_certificate_pem(cert.pem.clone())
        .retry_policy(agent_client_async::RetryPolicy::none())
        .proxy(wrong.clone())
        .build()
        .unwrap();
    let e = a.health_check().await.unwrap_err();
    assert!(
        matches!(e, ClientError::Connect { .. }) && e.is_connect(),
        "{e:?}"
    );
    assert!(e.to_string().contains("407"), "{e}");
    common::assert_error_clean(&e, &["wr0ng-pa55", PASSWORD]);
    // Not in the builder's Debug either.
    let builder = AsyncAgentClient::builder(tls.https_url(), server.token()).proxy(wrong);
    assert!(!format!("{builder:?}").contains("wr0ng-pa55"));
    // A ws tail over plain http is tunnelled too, and refused the same way.
    let plain = AsyncAgentClient::builder(server.url(), server.token())
        .retry_policy(agent_client_async::RetryPolicy::none())
        .proxy(Proxy::all(&proxy.url("agent-user:wr0ng-pa55@")).unwrap())
        .build()
        .unwrap();
    let e = plain
        .tail_job_logs(
            SUCCEEDED_JOB,
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e:?}");
    common::assert_error_clean(&e, &["wr0ng-pa55", PASSWORD]);
    assert!(server.journal().is_empty(), "{:?}", server.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_and_proxy_none_go_straight_to_the_agent() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let proxy = RecordingProxy::start(None).await.unwrap();
    let bypass = Proxy::all(&proxy.url(""))
        .unwrap()
        .no_proxy("example.com, 127.0.0.0/8");
    let a = AsyncAgentClient::builder(server.url(), server.token())
        .proxy(bypass)
        .build()
        .unwrap();
    a.health_check().await.unwrap();
    let b = AgentClient::builder(server.url(), server.token())
        .no_proxy()
        .build()
        .unwrap();
    on_thread(move || b.health_check()).await.unwrap();
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

/// The environment is process-wide: tests that change it take this lock, and every
/// other test here gives its proxies explicitly (which ignores the environment).
static ENV: Mutex<()> = Mutex::new(());

/// Sets `vars` (and removes every other proxy variable) while `f` builds clients,
/// then restores the environment.
fn with_env<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    const ALL: [&str; 8] = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ];
    let _guard = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let saved: Vec<_> = ALL.iter().map(|k| (*k, std::env::var_os(k))).collect();
    for k in ALL {
        std::env::remove_var(k);
    }
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let out = f();
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_names_the_proxy_in_either_case() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let proxy = RecordingProxy::start(None).await.unwrap();
    let url = proxy.url("");
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        let before = proxy.requests().len();
        let a = with_env(&[(var, &url)], || {
            AsyncAgentClient::new(server.url(), server.token()).unwrap()
        });
        a.health_check().await.unwrap();
        assert_eq!(proxy.requests().len(), before + 1, "{var}");
    }
    // NO_PROXY (either case) wins over HTTP_PROXY; builder settings win over both.
    for no in ["NO_PROXY", "no_proxy"] {
        let a = with_env(&[("HTTP_PROXY", &url), (no, "127.0.0.1")], || {
            AsyncAgentClient::new(server.url(), server.token()).unwrap()
        });
        a.health_check().await.unwrap();
    }
    let a = with_env(&[("HTTP_PROXY", &url)], || {
        AsyncAgentClient::builder(server.url(), server.token())
            .no_proxy()
            .build()
            .unwrap()
    });
    a.health_check().await.unwrap();
    // HTTPS_PROXY is not for http:// agents.
    let a = with_env(&[("HTTPS_PROXY", &url)], || {
        AsyncAgentClient::new(server.url(), server.token()).unwrap()
    });
    a.health_check().await.unwrap();
    assert_eq!(proxy.requests().len(), 4, "{:?}", proxy.requests());
}
