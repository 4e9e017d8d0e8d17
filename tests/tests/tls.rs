//! TLS with a self-signed certificate made in the test (rcgen), served by a TLS-
//! terminating proxy (tokio-rustls, ring) in front of the test server's plain port:
//! both clients fail closed without its root (503, nothing reaches the server), and
//! work with it added, for requests, `wss://` tails and HTTPS stream tails.

mod common;

use agent_client_async::{AsyncAgentClient, ClientError, Protocol, TailOptions};
use agent_client_blocking::AgentClient;
use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::{AgentTestServer, RouteKind};
use common::{drain, drain_blocking, log_lines, on_thread, self_signed, Proxy};

/// A 503 connect error whose message says "certificate" and whose source chain
/// holds the rustls error (an `io::Error` wrapping a `rustls::Error`).
fn is_certificate_failure(e: &ClientError) -> bool {
    matches!(e, ClientError::Connect { message, .. } if message.to_lowercase().contains("certificate"))
        && e.status_code() == 503
        && e.is_connect()
        && has_rustls_cause(e)
}

fn has_rustls_cause(e: &ClientError) -> bool {
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        let inner = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        if s.downcast_ref::<rustls::Error>().is_some() || inner.is_some() {
            return true;
        }
        next = s.source();
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_root_both_clients_fail_closed() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let cert = self_signed(&["localhost", "127.0.0.1"]);
    let proxy = Proxy::start_tls(server.local_addr(), Some(cert.acceptor.clone())).await;
    // (a certificate failure is a connect error, retried: quickly here)
    let a = AsyncAgentClient::builder(proxy.https_url(), server.token())
        .retry_policy(common::quick_retries())
        .build()
        .unwrap();
    let e = a.health_check().await.unwrap_err();
    assert!(is_certificate_failure(&e), "{e:?}");
    for p in [Protocol::WebSocket, Protocol::Http, Protocol::Auto] {
        let e = a
            .tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(p))
            .await
            .unwrap_err();
        assert!(is_certificate_failure(&e), "{p}: {e:?}");
    }
    let b = AgentClient::builder(proxy.https_url(), server.token())
        .retry_policy(common::quick_retries())
        .build()
        .unwrap();
    let e = on_thread(move || b.list_jobs()).await.unwrap_err();
    assert!(is_certificate_failure(&e), "{e:?}");
    // the connections were made, but no request got through
    assert!(proxy.accepted() > 0);
    assert!(server.journal().is_empty(), "{:?}", server.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_root_added_requests_and_tails_work() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let cert = self_signed(&["localhost", "127.0.0.1"]);
    let proxy = Proxy::start_tls(server.local_addr(), Some(cert.acceptor.clone())).await;
    let want = log_lines(&server.handle(), SUCCEEDED_JOB);

    let a = AsyncAgentClient::builder(proxy.https_url(), server.token())
        .add_root_certificate_pem(cert.pem.clone())
        .build()
        .unwrap();
    assert_eq!(
        a.health_check().await.unwrap().status.as_deref(),
        Some("ok")
    );
    assert_eq!(a.list_jobs().await.unwrap().len(), 6);
    for p in [Protocol::WebSocket, Protocol::Http] {
        let mut t = a
            .tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(p))
            .await
            .unwrap();
        let (lines, err) = drain(&mut t).await;
        assert!(err.is_none(), "{p}: {err:?}");
        assert_eq!(lines, want, "{p}");
        assert_eq!(t.protocol_used(), p);
    }

    let b = AgentClient::builder(proxy.https_url(), server.token())
        .add_root_certificate_pem(cert.pem.clone())
        .build()
        .unwrap();
    let (job, lines) = on_thread(move || {
        let job = b.get_job(SUCCEEDED_JOB).unwrap();
        let mut t = b
            .tail_job_logs(
                SUCCEEDED_JOB,
                TailOptions::new().protocol(Protocol::WebSocket),
            )
            .unwrap();
        let (lines, err) = drain_blocking(&mut t);
        assert!(err.is_none(), "{err:?}");
        (job, lines)
    })
    .await;
    assert_eq!(job.id(), Some(SUCCEEDED_JOB));
    assert_eq!(lines, want);

    // everything went through the TLS proxy, with the token
    assert_eq!(server.requests(RouteKind::TailWebSocket).len(), 2);
    assert_eq!(server.requests(RouteKind::TailHttp).len(), 1);
    assert!(server
        .journal()
        .iter()
        .all(|e| e.header("authorization") == Some(server.token())));
}

/// Trusting some other self-signed certificate does not help, nor does the right
/// root for a certificate that names another host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_root_or_a_wrong_name_still_fails_closed() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let served = self_signed(&["localhost", "127.0.0.1"]);
    let other = self_signed(&["localhost", "127.0.0.1"]);
    let proxy = Proxy::start_tls(server.local_addr(), Some(served.acceptor.clone())).await;
    let a = AsyncAgentClient::builder(proxy.https_url(), server.token())
        .add_root_certificate_pem(other.pem.clone())
        .retry_policy(common::quick_retries())
        .build()
        .unwrap();
    let e = a.health_check().await.unwrap_err();
    assert!(is_certificate_failure(&e), "{e:?}");

    let elsewhere = self_signed(&["agent.example.com"]);
    let proxy2 = Proxy::start_tls(server.local_addr(), Some(elsewhere.acceptor.clone())).await;
    let a = AsyncAgentClient::builder(proxy2.https_url(), server.token())
        .add_root_certificate_pem(elsewhere.pem.clone())
        .retry_policy(common::quick_retries())
        .build()
        .unwrap();
    let e = a.health_check().await.unwrap_err();
    assert!(is_certificate_failure(&e), "{e:?}");
    let e = a
        .tail_job_logs(
            SUCCEEDED_JOB,
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await
        .unwrap_err();
    assert!(is_certificate_failure(&e), "{e:?}");
    assert!(server.journal().is_empty());

    // a PEM without a certificate is refused when building
    let e = AsyncAgentClient::builder(proxy.https_url(), server.token())
        .add_root_certificate_pem(b"not a certificate".to_vec())
        .build()
        .unwrap_err();
    assert_eq!(e.status_code(), 400, "{e:?}");
}
