//! Mutual TLS: a rustls server (written here, terminating TLS in front of the test
//! server) that requires a client certificate signed by its CA. Both clients get
//! through with an `Identity` made from the PEM chain and key, for requests and
//! WebSocket tails; without one, or with one from another CA, nothing reaches the
//! agent and the error is a 503 whose source chain holds the TLS failure.

mod common;

use agent_client_async::{AsyncAgentClient, ClientError, Identity, Protocol, TailOptions};
use agent_client_blocking::AgentClient;
use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::AgentTestServer;
use common::{drain, log_lines, on_thread, Proxy};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    /// A leaf certificate for `names` with `usage`: (certificate PEM, DER, key).
    fn leaf(
        &self,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (String, rustls::pki_types::CertificateDer<'static>, KeyPair) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), cert.der().clone(), key)
    }

    fn identity(&self) -> Identity {
        let (pem, _, key) = self.leaf(&["agent-client"], ExtendedKeyUsagePurpose::ClientAuth);
        Identity::from_pem(pem.as_bytes(), key.serialize_pem().as_bytes()).unwrap()
    }
}

/// A TLS acceptor that requires a client certificate signed by `ca`.
fn requiring_client_certs(ca: &Ca) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.issuer.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let (_, der, key) = ca.leaf(
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![der], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A refused handshake: a 503 (nothing was answered), with a rustls error in the
/// source chain (as itself or inside an `io::Error`).
fn is_tls_refusal(e: &ClientError) -> bool {
    let mut next = std::error::Error::source(e);
    let mut rustls_seen = false;
    while let Some(s) = next {
        let inner = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        rustls_seen |= s.downcast_ref::<rustls::Error>().is_some() || inner.is_some();
        next = s.source();
    }
    e.status_code() == 503 && rustls_seen
}

/// A refusal the client may see either way under TLS 1.3: the server checks the
/// client's certificate after the client considers the handshake done, so its
/// alert can arrive as a TLS error or, when the request was already on its way,
/// as the connection closing before any answer, or (when the alert closes the
/// connection before hyper handed it the request) as a connect error of a
/// connection that was never ready. All are a 503 and none may ever look like an
/// answer.
fn is_refused_at_the_door(e: &ClientError) -> bool {
    // The whole chain: a `ResponseIncomplete` says its cause as its source.
    let said = agent_proto::error_chain(e);
    is_tls_refusal(e)
        || (e.status_code() == 503 && said.contains("connection closed before"))
        || (e.is_connect() && said.contains("connection was not ready"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_identity_gets_both_clients_through() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let want = log_lines(&server.handle(), SUCCEEDED_JOB);
    let ca = Ca::new();
    let tls = Proxy::start_tls(server.local_addr(), Some(requiring_client_certs(&ca))).await;
    let ca_pem = ca.issuer.pem();

    let a = AsyncAgentClient::builder(tls.https_url(), server.token())
        .add_root_certificate_pem(ca_pem.clone())
        .identity(ca.identity())
        .build()
        .unwrap();
    a.health_check().await.unwrap();
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

    let b = AgentClient::builder(tls.https_url(), server.token())
        .add_root_certificate_pem(ca_pem)
        .identity(ca.identity())
        .build()
        .unwrap();
    let jobs = on_thread(move || b.list_jobs()).await.unwrap();
    assert!(!jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_accepted_identity_nothing_reaches_the_agent() {
    let server = AgentTestServer::sample().build().await.unwrap();
    let ca = Ca::new();
    let tls = Proxy::start_tls(server.local_addr(), Some(requiring_client_certs(&ca))).await;
    let stranger = Ca::new();
    for identity in [None, Some(stranger.identity())] {
        let mut builder = AsyncAgentClient::builder(tls.https_url(), server.token())
            .add_root_certificate_pem(ca.issuer.pem())
            .retry_policy(agent_client_async::RetryPolicy::none());
        if let Some(id) = identity.clone() {
            builder = builder.identity(id);
        }
        let a = builder.build().unwrap();
        let e = a.health_check().await.unwrap_err();
        assert!(is_refused_at_the_door(&e), "{}: {e:?}", identity.is_some());
        let e = a
            .tail_job_logs(
                SUCCEEDED_JOB,
                TailOptions::new().protocol(Protocol::WebSocket),
            )
            .await
            .unwrap_err();
        assert!(is_refused_at_the_door(&e), "{}: {e:?}", identity.is_some());
    }
    assert!(server.journal().is_empty(), "{:?}", server.journal());
}
