//! The rustls client configuration: the ring provider, certificate verification
//! always on, the web's roots (webpki-roots) plus the roots a caller adds.

use agent_proto::ClientError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use std::fmt;
use std::sync::Arc;

/// A client certificate and its private key, presented to an agent that asks for
/// one (mutual TLS).
///
/// Made from PEM: the certificate chain (the client's certificate first, then any
/// intermediates) and the private key (PKCS#8, PKCS#1 or SEC1). `Debug` prints
/// neither the key nor the certificates.
///
/// ```
/// use agent_transport::{HttpTransport, Identity};
/// # let cert = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
/// # let (chain_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
///
/// let identity = Identity::from_pem(chain_pem.as_bytes(), key_pem.as_bytes())?;
/// assert!(!format!("{identity:?}").contains("PRIVATE"));
/// let transport = HttpTransport::builder("https://agent.example.com/")
///     .identity(identity)
///     .build()?;
/// # drop(transport);
/// # Ok::<(), agent_proto::ClientError>(())
/// ```
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Identity {
    /// Parses a PEM certificate chain and a PEM private key (a 400 when either is
    /// missing or broken; the message never quotes the key).
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, ClientError> {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::invalid("client certificate", format!("bad PEM: {e}")))?;
        if chain.is_empty() {
            return Err(ClientError::invalid(
                "client certificate",
                "the PEM document holds no CERTIFICATE block",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| {
            ClientError::invalid(
                "client key",
                "no PKCS#8, PKCS#1 or SEC1 private key in the PEM document",
            )
        })?;
        Ok(Identity {
            chain,
            key: Arc::new(key),
        })
    }
}

/// Parses every `CERTIFICATE` block of a PEM document (a 400 when there is none or
/// one is broken).
pub(crate) fn certificates_from_pem(
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::invalid("root certificate", format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ClientError::invalid(
            "root certificate",
            "the PEM document holds no CERTIFICATE block",
        ));
    }
    for cert in &certs {
        check_root(cert)?;
    }
    Ok(certs)
}

/// Checks that `cert` can serve as a trust anchor (a 400 otherwise).
pub(crate) fn check_root(cert: &CertificateDer<'_>) -> Result<(), ClientError> {
    RootCertStore::empty()
        .add(cert.clone().into_owned())
        .map_err(|e| ClientError::invalid("root certificate", e.to_string()))
}

/// The roots the enabled features bring: Mozilla's list compiled in
/// (`webpki-roots`, the default) and the operating system's store
/// (`native-roots`, read through rustls-native-certs each time a transport is
/// built). With neither, only the roots a caller adds are trusted.
fn add_built_in_roots(roots: &mut RootCertStore) {
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        if !found.errors.is_empty() {
            tracing::warn!(
                errors = found.errors.len(),
                loaded = found.certs.len(),
                "agent.tls: some of the system's root certificates could not be read"
            );
        }
        // A certificate the store holds but rustls cannot use is skipped, as
        // reqwest does.
        let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    }
    #[cfg(not(any(feature = "webpki-roots", feature = "native-roots")))]
    let _ = roots;
}

/// The client configuration: ring provider, safe default protocol versions (TLS 1.2
/// and 1.3), the built-in roots when `web_roots`, plus `extra_roots`, ALPN `http/1.1`.
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
    web_roots: bool,
    identity: Option<&Identity>,
) -> Result<Arc<ClientConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    if web_roots {
        add_built_in_roots(&mut roots);
    }
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| ClientError::invalid("root certificate", e.to_string()))?;
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::invalid("TLS configuration", e.to_string()))?
            .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| ClientError::invalid("client identity", e.to_string()))?,
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_certificates_is_refused() {
        let e = certificates_from_pem(b"hello").unwrap_err();
        assert_eq!(e.status_code(), 400);
    }

    #[test]
    fn identities_need_a_certificate_and_a_key() {
        let cert = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
        let (chain, key) = (cert.cert.pem(), cert.signing_key.serialize_pem());
        let id = Identity::from_pem(chain.as_bytes(), key.as_bytes()).unwrap();
        assert!(client_config(&[], false, Some(&id))
            .unwrap()
            .client_auth_cert_resolver
            .has_certs());
        let e = Identity::from_pem(b"", key.as_bytes()).unwrap_err();
        assert_eq!(e.status_code(), 400);
        let e = Identity::from_pem(chain.as_bytes(), chain.as_bytes()).unwrap_err();
        assert_eq!(e.status_code(), 400);
        // The key never prints.
        let secret_line = key.lines().nth(1).unwrap();
        assert!(!format!("{id:?}").contains(secret_line));
        // A key that is not the certificate's is refused when the config is built.
        let other = rcgen::generate_simple_self_signed(vec!["other".into()]).unwrap();
        let mismatched = Identity::from_pem(
            chain.as_bytes(),
            other.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        assert_eq!(
            client_config(&[], false, Some(&mismatched))
                .map(|_| ())
                .unwrap_err()
                .status_code(),
            400
        );
    }

    #[test]
    fn default_config_builds() {
        let c = client_config(&[], true, None).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
