//! `--cacert` against a TLS-terminating forwarder (tokio-rustls) in front of the test
//! agent, with certificates made in the test (rcgen): refused without the root, with
//! the host and the reason named; accepted with it, from the flag, the environment or
//! a context; a certificate for another name or an expired one is refused and says so.
//! `--client-cert`/`--client-key` against a forwarder that requires a client
//! certificate signed by its CA (mutual TLS).

use agent_testkit::sample::SUCCEEDED_JOB;
use agent_testkit::{AgentTestServer, BlockingTestServer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

mod support;
use support::{command, run_cmd, Output};

fn agentctl(envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.envs(envs.iter().copied())
        .args(["--connect-timeout", "5"])
        .args(args);
    run_cmd(cmd)
}

/// A certificate for `names`, valid now or expired; its PEM and the key pair.
fn certificate(names: &[&str], expired: bool) -> (String, rustls::ServerConfig) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).expect("params");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    let der_key = rustls::pki_types::PrivateKeyDer::Pkcs8(
        rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()),
    );
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], der_key)
    .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (cert.pem(), config)
}

/// A TLS forwarder to `upstream` on its own thread and runtime; stops with the test.
fn tls_forwarder(upstream: SocketAddr, config: rustls::ServerConfig) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("listening")
}

fn sample() -> BlockingTestServer {
    AgentTestServer::sample().start_blocking().expect("starts")
}

fn pem_file(name: &str, pem: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("agentctl-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("pem");
    path
}

#[test]
fn a_private_ca_is_trusted_with_cacert_and_refused_without_it() {
    let server = sample();
    let (pem, config) = certificate(&["localhost"], false);
    let addr = tls_forwarder(server.local_addr(), config);
    let url = format!("https://localhost:{}/", addr.port());
    let ca = pem_file("ca.pem", &pem);
    let ca = ca.to_str().expect("utf-8");
    let conn = [("AGENT_URL", url.as_str()), ("AGENT_TOKEN", server.token())];

    let out = agentctl(&conn, &["health"]);
    assert_eq!(out.code, 6, "{out:?}");
    assert!(
        out.stderr.starts_with("error: TLS: ") && out.stderr.contains("localhost"),
        "names the host: {out:?}"
    );
    assert!(
        out.stderr.contains("unknown issuer"),
        "and the reason: {out:?}"
    );
    assert!(out.stderr.contains("--cacert"), "and the way out: {out:?}");

    let out = agentctl(&conn, &["--cacert", ca, "-o", "json", "health"]);
    assert_eq!(out.code, 0, "{out:?}");
    for protocol in ["websocket", "http"] {
        let out = agentctl(
            &conn,
            &[
                "--cacert",
                ca,
                "jobs",
                "tail",
                SUCCEEDED_JOB,
                "--protocol",
                protocol,
            ],
        );
        assert_eq!(out.code, 0, "{protocol}: {out:?}");
        assert!(out.stdout.ends_with("last line\n"), "{out:?}");
    }
    let mut env = conn.to_vec();
    env.push(("AGENT_CACERT", ca));
    assert_eq!(agentctl(&env, &["health"]).code, 0);

    // ... and from a context
    let dir = std::env::temp_dir().join(format!("agentctl-tls-ctx-{}", std::process::id()));
    let config = dir.join("config.toml");
    let config = config.to_str().expect("utf-8");
    let token = dir.join("token");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(&token, server.token()).expect("token");
    let with_config = [("AGENTCTL_CONFIG", config)];
    let out = agentctl(
        &with_config,
        &[
            "config",
            "set-context",
            "tls",
            "--url",
            &url,
            "--token-file",
            token.to_str().expect("utf-8"),
            "--cacert",
            ca,
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let out = agentctl(&with_config, &["--context", "tls", "health"]);
    assert_eq!(out.code, 0, "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);

    let out = agentctl(&conn, &["--cacert", "/no/such/ca.pem", "health"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("/no/such/ca.pem"), "{out:?}");
}

#[test]
fn a_wrong_name_or_an_expired_certificate_says_so() {
    let server = sample();
    for (names, expired, reason) in [
        (&["other.example"][..], false, "not valid for this name"),
        (&["localhost"][..], true, "expired"),
    ] {
        let (pem, config) = certificate(names, expired);
        let addr = tls_forwarder(server.local_addr(), config);
        let url = format!("https://localhost:{}/", addr.port());
        let ca = pem_file(&format!("ca-{}.pem", addr.port()), &pem);
        let out = agentctl(
            &[("AGENT_URL", url.as_str()), ("AGENT_TOKEN", server.token())],
            &["--cacert", ca.to_str().expect("utf-8"), "health"],
        );
        assert_eq!(out.code, 6, "{out:?}");
        assert!(out.stderr.contains("localhost"), "{out:?}");
        assert!(out.stderr.contains(reason), "{reason}: {out:?}");
    }
}

/// A CA, a server certificate for localhost signed by it, and a forwarder config that
/// requires a client certificate of that CA: (CA PEM, issuer, server config).
fn mutual_tls() -> (
    String,
    rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    rustls::ServerConfig,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer =
        rcgen::CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(issuer.der().clone()).expect("root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let (_, der, key) = leaf(
        &issuer,
        "localhost",
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        key.serialize_der(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![der], key)
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (issuer.pem(), issuer, config)
}

/// A certificate for `name` signed by `issuer`: (PEM, DER, key pair).
fn leaf(
    issuer: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    name: &str,
    usage: rcgen::ExtendedKeyUsagePurpose,
) -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rcgen::KeyPair,
) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params");
    params.extended_key_usages = vec![usage];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("signed");
    (cert.pem(), cert.der().clone(), key)
}

#[test]
fn a_client_certificate_gets_through_mutual_tls_and_half_of_one_is_a_usage_error() {
    let server = sample();
    let (ca_pem, issuer, config) = mutual_tls();
    let addr = tls_forwarder(server.local_addr(), config);
    let url = format!("https://localhost:{}/", addr.port());
    let ca = pem_file(&format!("mtls-ca-{}.pem", addr.port()), &ca_pem);
    let ca = ca.to_str().expect("utf-8");
    let (cert_pem, _, key) = leaf(
        &issuer,
        "agent-client",
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    );
    let key_pem = key.serialize_pem();
    let cert = pem_file(&format!("mtls-client-{}.pem", addr.port()), &cert_pem);
    let cert = cert.to_str().expect("utf-8");
    let key_file = pem_file(&format!("mtls-client-{}.key", addr.port()), &key_pem);
    let key_file = key_file.to_str().expect("utf-8");
    let conn = [
        ("AGENT_URL", url.as_str()),
        ("AGENT_TOKEN", server.token()),
        ("AGENT_CACERT", ca),
    ];
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();

    // Without a certificate the forwarder lets nothing through.
    let out = agentctl(&conn, &["health"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert_ne!(out.code, 2, "not a usage error: {out:?}");
    assert!(
        out.stderr.contains("CertificateRequired"),
        "the server's refusal shows: {out:?}"
    );

    // With one, from the flags or the environment, requests and tails get through.
    let out = agentctl(
        &conn,
        &[
            "--client-cert",
            cert,
            "--client-key",
            key_file,
            "-o",
            "json",
            "health",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    for protocol in ["websocket", "http"] {
        let out = agentctl(
            &conn,
            &[
                "--client-cert",
                cert,
                "--client-key",
                key_file,
                "jobs",
                "tail",
                SUCCEEDED_JOB,
                "--protocol",
                protocol,
            ],
        );
        assert_eq!(out.code, 0, "{protocol}: {out:?}");
        assert!(out.stdout.ends_with("last line\n"), "{out:?}");
    }
    let mut env = conn.to_vec();
    env.extend([("AGENT_CLIENT_CERT", cert), ("AGENT_CLIENT_KEY", key_file)]);
    let out = agentctl(&env, &["health"]);
    assert_eq!(out.code, 0, "{out:?}");

    // Half an identity, an unreadable file or one that is not PEM: usage errors
    // that name the problem and never show the key.
    let not_pem = pem_file(
        &format!("mtls-not-pem-{}.txt", addr.port()),
        "not a PEM file",
    );
    let not_pem = not_pem.to_str().expect("utf-8");
    for (args, says) in [
        (vec!["--client-cert", cert], "--client-key"),
        (vec!["--client-key", key_file], "--client-cert"),
        (
            vec![
                "--client-cert",
                "/no/such/client.pem",
                "--client-key",
                key_file,
            ],
            "/no/such/client.pem",
        ),
        (
            vec!["--client-cert", cert, "--client-key", "/no/such/client.key"],
            "/no/such/client.key",
        ),
        (
            vec!["--client-cert", not_pem, "--client-key", key_file],
            "client certificate",
        ),
        (
            vec!["--client-cert", cert, "--client-key", not_pem],
            "client key",
        ),
        // the key where the certificate goes: no CERTIFICATE block
        (
            vec!["--client-cert", key_file, "--client-key", key_file],
            "client certificate",
        ),
    ] {
        let mut all = args.clone();
        all.push("health");
        let out = agentctl(&conn, &all);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?} says {says}: {out:?}");
        assert!(!out.stderr.contains(&key_body[..40]), "{out:?}");
        assert!(!out.stdout.contains(&key_body[..40]), "{out:?}");
    }
}
