//! TLS termination in the serving layer, with rcgen certificates: the gateway (in
//! front of a stand-in Ray) and the test server serve `https://` and `wss://` to both
//! clients; mTLS (`--client-ca`) lets in only a client with a certificate of the CA
//! (the clients have no client identity yet, so a raw rustls client stands in); a
//! certificate rewritten on disk is picked up by new connections.

mod stand_in;

use agent_client_async::{AsyncAgentClient, Protocol, RetryPolicy, TailOptions};
use agent_client_blocking::AgentClient;
use agent_gateway::{Gateway, GatewayConfig};
use agent_server::TlsFiles;
use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::AgentTestServer;
use futures_core::Stream;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use std::future::poll_fn;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate authority made for the test.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    /// A leaf certificate and its key (PEM) for `names`, for a server or a client.
    fn leaf(&self, names: &[&str], client: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params.signed_by(&key, &self.0).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A folder of its own under the temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p =
            std::env::temp_dir().join(format!("agent-tls-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Server certificate files signed by `ca`, for 127.0.0.1.
fn server_files(dir: &Dir, ca: &Ca) -> TlsFiles {
    let (cert, key) = ca.leaf(&["127.0.0.1", "localhost"], false);
    TlsFiles::new(dir.write("cert.pem", &cert), dir.write("key.pem", &key))
}

async fn gateway(tls: TlsFiles) -> Gateway {
    let mut config = GatewayConfig::new(stand_in::ray().await, "t").log_requests(false);
    config.tls = Some(tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Gateway::start(config, listener).await.unwrap()
}

fn async_client(url: &str, token: &str, root: &str) -> AsyncAgentClient {
    AsyncAgentClient::builder(url, token)
        .add_root_certificate_pem(root.as_bytes().to_vec())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

/// Runs blocking client code on a thread of its own (outside the runtime).
async fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.unwrap()
}

async fn drain(client: &AsyncAgentClient, protocol: Protocol) -> Vec<String> {
    let mut t = client
        .tail_job_logs(SUCCEEDED_JOB, TailOptions::new().protocol(protocol))
        .await
        .unwrap();
    let mut lines = Vec::new();
    while let Some(line) = poll_fn(|cx| Pin::new(&mut t).poll_next(cx)).await {
        lines.push(line.unwrap());
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clients_over_https_and_wss() {
    let ca = Ca::new("agent test CA");
    let dir = Dir::new("both");
    let gw = gateway(server_files(&dir, &ca)).await;
    assert!(gw.url().starts_with("https://127.0.0.1:"), "{}", gw.url());

    let a = async_client(&gw.url(), "t", &ca.pem());
    assert_eq!(
        a.health_check().await.unwrap().status.as_deref(),
        Some("ok")
    );
    let (url, root) = (gw.url(), ca.pem());
    let health = on_thread(move || {
        let b = AgentClient::builder(url, "t")
            .add_root_certificate_pem(root.into_bytes())
            .build()
            .unwrap();
        b.health_check()
    })
    .await;
    assert_eq!(health.unwrap().status.as_deref(), Some("ok"));
    // without the root, no request gets through
    let untrusting = AsyncAgentClient::builder(gw.url(), "t")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    assert_eq!(
        untrusting.health_check().await.unwrap_err().status_code(),
        503
    );

    // the test server's builder does the same: tails over wss:// and https://
    let dir2 = Dir::new("testkit");
    let s = AgentTestServer::sample()
        .tls(server_files(&dir2, &ca))
        .build()
        .await
        .unwrap();
    assert!(s.ws_url().starts_with("wss://"), "{}", s.ws_url());
    let a = async_client(&s.url(), s.token(), &ca.pem());
    let ws = drain(&a, Protocol::WebSocket).await;
    let http = drain(&a, Protocol::Http).await;
    assert!(
        ws.len() > 10 && ws.last().map(String::as_str) == Some("last line"),
        "{ws:?}"
    );
    assert_eq!(ws, http);
    let (url, token, root) = (s.url(), s.token().to_owned(), ca.pem());
    let blocking = on_thread(move || {
        let b = AgentClient::builder(url, token)
            .add_root_certificate_pem(root.into_bytes())
            .build()
            .unwrap();
        b.tail_job_logs(
            SUCCEEDED_JOB,
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
    })
    .await
    .unwrap();
    assert_eq!(blocking, ws);
}

/// GET health/ over TLS with a raw rustls client trusting `root`, presenting
/// `identity` (certificate and key PEM) when given: the status, or `None` when the
/// handshake or the exchange failed.
async fn raw_health(
    addr: std::net::SocketAddr,
    root: &str,
    identity: Option<(&str, &str)>,
) -> Option<u16> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(root.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.ok()?;
    let req = format!(
        "GET /health/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: t\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(req.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut out)).await;
    String::from_utf8_lossy(out.get(9..12)?).parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_lets_in_only_clients_of_the_ca() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let strangers = Ca::new("another CA");
    let dir = Dir::new("mtls");
    let files = server_files(&dir, &ca).client_ca(dir.write("clients.pem", &clients.pem()));
    let gw = gateway(files).await;
    let addr = gw.local_addr();

    let (cert, key) = clients.leaf(&["agent client"], true);
    assert_eq!(
        raw_health(addr, &ca.pem(), Some((&cert, &key))).await,
        Some(200)
    );
    assert_eq!(raw_health(addr, &ca.pem(), None).await, None);
    let (cert, key) = strangers.leaf(&["agent client"], true);
    assert_eq!(raw_health(addr, &ca.pem(), Some((&cert, &key))).await, None);
    // the clients present no certificate: refused too
    let a = async_client(&gw.url(), "t", &ca.pem());
    assert!(a.health_check().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_certificate_is_picked_up() {
    let old_ca = Ca::new("old CA");
    let new_ca = Ca::new("new CA");
    let dir = Dir::new("reload");
    let files = server_files(&dir, &old_ca).reload_interval(Duration::from_millis(50));
    let gw = gateway(files).await;
    let addr = gw.local_addr();
    assert_eq!(raw_health(addr, &old_ca.pem(), None).await, Some(200));
    assert_eq!(raw_health(addr, &new_ca.pem(), None).await, None);

    // a half-written (bad) key keeps the old certificate
    dir.write("key.pem", "-----BEGIN PRIVATE KEY-----\nnot a key\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(raw_health(addr, &old_ca.pem(), None).await, Some(200));

    // the renewed pair: new connections get it
    let (cert, key) = new_ca.leaf(&["127.0.0.1"], false);
    dir.write("cert.pem", &cert);
    dir.write("key.pem", &key);
    let mut renewed = false;
    for _ in 0..200 {
        if raw_health(addr, &new_ca.pem(), None).await == Some(200) {
            renewed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(renewed, "the new certificate was not picked up within 10 s");
    assert_eq!(raw_health(addr, &old_ca.pem(), None).await, None);
    let a = async_client(&gw.url(), "t", &new_ca.pem());
    assert!(a.health_check().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_or_invalid_files_are_refused_at_start() {
    let dir = Dir::new("bad");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = GatewayConfig::new("http://127.0.0.1:1", "t");
    config.tls = Some(TlsFiles::new(
        dir.0.join("missing.pem"),
        dir.0.join("key.pem"),
    ));
    let e = Gateway::start(config, listener).await.unwrap_err();
    assert!(e.to_string().contains("missing.pem"), "{e}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = GatewayConfig::new("http://127.0.0.1:1", "t");
    config.tls = Some(TlsFiles::new(
        dir.write("c.pem", "nothing"),
        dir.write("k.pem", "nothing"),
    ));
    let e = Gateway::start(config, listener).await.unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
}
