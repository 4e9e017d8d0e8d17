//! TLS termination (rustls with the ring provider; no OpenSSL): a certificate chain
//! and key from PEM files, optionally a CA whose client certificates are required
//! (mTLS), reloaded when the files change.
//!
//! Reload is by file change, not SIGHUP: the server reads the files again every
//! [`TlsFiles::reload_interval`] (5 s by default) and, when their bytes changed and
//! they still make a valid configuration, new connections get the new certificate
//! (open ones keep theirs). A bad or half-written file keeps the previous
//! configuration and logs a warning (target `agent_server::tls`), so renewing a
//! certificate is writing the new files, in any order, with no signal to send; it
//! also works where signals are awkward (containers, Windows, tests).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::sync::watch;

/// Where a server's certificate, key and (for mTLS) client CA are, and how often the
/// files are checked for changes.
///
/// ```
/// use agent_server::TlsFiles;
///
/// let tls = TlsFiles::new("/etc/agent/cert.pem", "/etc/agent/key.pem")
///     .client_ca("/etc/agent/clients-ca.pem");
/// assert!(tls.client_ca.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsFiles {
    /// The certificate chain (PEM), the server's own certificate first.
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (PEM).
    pub client_ca: Option<PathBuf>,
    /// How often the files are read again to pick up a renewed certificate.
    pub reload_interval: Duration,
}

impl TlsFiles {
    /// A certificate chain and key, no client certificates, checked every 5 s.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsFiles {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            reload_interval: Duration::from_secs(5),
        }
    }

    /// Requires client certificates signed by the CAs in `ca` (mTLS).
    pub fn client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.client_ca = Some(ca.into());
        self
    }

    /// Sets how often the files are checked for changes.
    pub fn reload_interval(mut self, every: Duration) -> Self {
        self.reload_interval = every;
        self
    }

    /// The files' bytes, in order: certificate, key, client CA.
    fn read(&self) -> std::io::Result<Vec<Vec<u8>>> {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot read {}: {e}", p.display()))
            })
        };
        let mut out = vec![read(&self.cert)?, read(&self.key)?];
        if let Some(ca) = &self.client_ca {
            out.push(read(ca)?);
        }
        Ok(out)
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what}: {e}"))
}

/// The rustls configuration the files' bytes make.
fn config(bytes: &[Vec<u8>]) -> std::io::Result<Arc<ServerConfig>> {
    let (cert, key) = match bytes {
        [cert, key, ..] => (cert, key),
        _ => return Err(invalid("TLS files", "missing")),
    };
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("TLS certificate", e))?;
    if chain.is_empty() {
        return Err(invalid("TLS certificate", "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| invalid("TLS key", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS configuration", e))?;
    let builder = match bytes.get(2) {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca) {
                let c = c.map_err(|e| invalid("client CA", e))?;
                roots.add(c).map_err(|e| invalid("client CA", e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| invalid("client CA", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| invalid("TLS certificate and key", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS side of a running server: the current configuration, swapped when the
/// files change.
#[derive(Debug)]
pub(crate) struct TlsState {
    current: RwLock<(Vec<Vec<u8>>, Arc<ServerConfig>)>,
    files: TlsFiles,
}

impl TlsState {
    /// Loads the files; an error names the file or part that is wrong.
    pub(crate) fn load(files: TlsFiles) -> std::io::Result<Arc<Self>> {
        let bytes = files.read()?;
        let config = config(&bytes)?;
        Ok(Arc::new(TlsState {
            current: RwLock::new((bytes, config)),
            files,
        }))
    }

    /// The acceptor for a new connection.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        tokio_rustls::TlsAcceptor::from(Arc::clone(&current.1))
    }

    /// Reads the files again; swaps the configuration when they changed and are
    /// valid. True when it swapped.
    pub(crate) fn reload(&self) -> bool {
        let bytes = match self.files.read() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(target: "agent_server::tls", "keeping the current certificate: {e}");
                return false;
            }
        };
        if self.current.read().unwrap_or_else(|e| e.into_inner()).0 == bytes {
            return false;
        }
        match config(&bytes) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = (bytes, config);
                tracing::info!(target: "agent_server::tls", "certificate reloaded");
                true
            }
            Err(e) => {
                tracing::warn!(target: "agent_server::tls", "keeping the current certificate: {e}");
                false
            }
        }
    }

    /// Checks the files every reload interval until `shutdown`.
    pub(crate) async fn watch(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let every = self.files.reload_interval.max(Duration::from_millis(10));
        loop {
            tokio::select! {
                () = crate::task::stopped(&mut shutdown) => return,
                () = tokio::time::sleep(every) => {}
            }
            // file reads and parsing are blocking work, but small and rare
            let me = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || me.reload()).await;
        }
    }
}
