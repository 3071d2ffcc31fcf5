//! HTTPS for the lab (`testing` only): a test gives a certificate and its key (PEM), e.g. a
//! self-signed one it generated, and the lab speaks TLS with them on every connection, so a
//! client's trust settings (a CA bundle, or none) can be tested against it.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A certificate chain and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct LabTls {
    pub cert_pem: String,
    pub key_pem: String,
}

impl LabTls {
    /// The acceptor for the lab's connections; HTTP/1.1 only, as the lab serves.
    pub(super) fn acceptor(&self) -> std::io::Result<TlsAcceptor> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {e}"))
        };
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("the lab's certificate", &e))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| bad("the lab's key", &e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("TLS versions", &e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| bad("the lab's certificate and key", &e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
