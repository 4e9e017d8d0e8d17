//! The rustls client configuration: the ring provider, certificate verification
//! always on, the web's roots (webpki-roots) plus the roots a caller adds.

use agent_proto::ClientError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::sync::Arc;

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

/// The client configuration: ring provider, safe default protocol versions (TLS 1.2
/// and 1.3), webpki-roots when `web_roots`, plus `extra_roots`, ALPN `http/1.1`.
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
    web_roots: bool,
) -> Result<Arc<ClientConfig>, ClientError> {
    let mut roots = RootCertStore::empty();
    if web_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| ClientError::invalid("root certificate", e.to_string()))?;
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::invalid("TLS configuration", e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
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
    fn default_config_builds() {
        let c = client_config(&[], true).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
