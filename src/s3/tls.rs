//! The HTTPS client under the run's pacing: the SDK's default one; with `--ca-bundle` (or
//! `AWS_CA_BUNDLE`) the same client trusting that bundle's certificates instead of the
//! system's; with `--no-verify-ssl` a client of the same crates (hyper 1, hyper-rustls, rustls
//! with aws-lc) that accepts any certificate. The scan's HEADs around the SDK go through the
//! connector this client makes (`pace`), so they trust exactly what the SDK's requests trust.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use aws_sdk_s3::config::BehaviorVersion;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// How the endpoint's certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// `--ca-bundle`: trust these certificates (PEM) instead of the system's.
    pub ca_bundle: Option<PathBuf>,
    /// False with `--no-verify-ssl`.
    pub verify: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            ca_bundle: None,
            verify: true,
        }
    }
}

/// What `--no-verify-ssl` prints on stderr, once per connection.
pub const NO_VERIFY_WARNING: &str =
    "s3mend: warning: --no-verify-ssl: the endpoint's TLS certificate is not verified, so anyone on the path can read and change the requests";

/// The HTTPS client the options ask for. A bundle is read and checked here, before the first
/// request: the SDK's TLS layer would panic on a certificate it cannot parse.
pub(super) fn http_client(tls: &TlsOptions) -> anyhow::Result<SharedHttpClient> {
    if !tls.verify {
        eprintln!("{NO_VERIFY_WARNING}");
        return Ok(SharedHttpClient::new(AnyCertificate::default()));
    }
    match &tls.ca_bundle {
        None => default_http_client(),
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --ca-bundle {}", path.display()))?;
            check_bundle(path, &pem)?;
            Ok(trusting(pem))
        }
    }
}

/// The HTTPS client the SDK would pick by itself (hyper 1.x with rustls, proxies from the
/// environment), taken from the SDK's own default so that TLS and connection pooling stay exactly
/// as without pacing.
fn default_http_client() -> anyhow::Result<SharedHttpClient> {
    aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(BehaviorVersion::latest())
        .and_then(|plugin| {
            use aws_sdk_s3::config::RuntimePlugin;
            plugin
                .runtime_components(&RuntimeComponentsBuilder::new("s3mend"))
                .http_client()
        })
        .context("this build of the AWS SDK has no default HTTPS client")
}

/// The SDK's default client (as aws-smithy-runtime builds it: rustls with aws-lc, proxies from
/// the environment) with `pem` as its only trusted roots, as the AWS CLI uses a bundle.
fn trusting(pem: Vec<u8>) -> SharedHttpClient {
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
        .build()
        .expect("a TLS context without extra names always builds");
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut builder =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.tls_context(context.clone()).build()
    })
}

/// A bundle must hold at least one PEM certificate, and every one must be usable as a root.
fn check_bundle(path: &Path, pem: &[u8]) -> anyhow::Result<()> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "--ca-bundle {} is not a PEM certificate bundle: {e}",
                path.display()
            )
        })?;
    if certificates.is_empty() {
        bail!(
            "--ca-bundle {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    let mut roots = rustls::RootCertStore::empty();
    for (n, certificate) in certificates.into_iter().enumerate() {
        roots.add(certificate).map_err(|e| {
            anyhow::anyhow!(
                "--ca-bundle {}: certificate {} cannot be a trusted root: {e}",
                path.display(),
                n + 1
            )
        })?;
    }
    Ok(())
}

/// `--no-verify-ssl`: a hyper client whose TLS accepts any certificate for any name (the
/// handshake's signatures are still checked). One connection pool per connector settings, as in
/// the SDK's client; no proxy.
#[derive(Debug, Default)]
struct AnyCertificate {
    pools: Mutex<HashMap<PoolKey, SharedHttpConnector>>,
}

/// The connect and read timeouts, which the SDK's client also keeps a pool for each of.
type PoolKey = (Option<Duration>, Option<Duration>);

impl HttpClient for AnyCertificate {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        self.pools
            .lock()
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(unverified_connector(settings)))
            .clone()
    }
}

type Https = hyper_rustls::HttpsConnector<TcpConnector>;

#[derive(Debug, Clone)]
struct Unverified(HyperClient<Https, SdkBody>);

fn unverified_connector(settings: &HttpConnectorSettings) -> Unverified {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("aws-lc supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(settings.connect_timeout());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Unverified(HyperClient::builder(TokioExecutor::new()).build(https))
}

impl HttpConnector for Unverified {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            // Every failure here is the connection's (refused, reset, TLS): retryable, as the
            // SDK's own client classifies them.
            let response = client
                .request(request)
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Accepts any server certificate; the handshake's signatures are verified as usual.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_a_usable_certificate_is_refused_up_front() {
        let path = Path::new("ca.pem");
        let err = check_bundle(path, b"").unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let err = check_bundle(path, b"not a certificate at all\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = check_bundle(path, garbage).unwrap_err().to_string();
        assert!(err.contains("ca.pem"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
