//! TLS to the origin the way CloudFront does it: SNI = origin domain (or forwarded Host), only the
//! protocols in OriginSslProtocols up to TLS 1.2, CloudFront's origin cipher families. One handshake
//! both verifies (against the public roots, plus --ca-file) and captures the presented chain, so a
//! broken certificate is still described and the direct HTTP request can still be made.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::certinfo::describe_chain;
use cf_doctor_model::evidence::{Handshake, TlsResult, Verification, VerifyFailure};

/// Roots and crypto, built once per process and shared by every probe.
#[derive(Debug)]
pub struct TlsSetup {
    provider: Arc<CryptoProvider>,
    public: Arc<WebPkiServerVerifier>,
    /// Public roots plus the extra CA file, and the label naming that file.
    with_extra: Option<(Arc<WebPkiServerVerifier>, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the CA file {path}: {error}")]
    Read { path: String, error: String },
    #[error(
        "the CA file {path} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)"
    )]
    Empty { path: String },
    #[error("cannot build the TLS verifier: {0}")]
    Verifier(String),
}

impl TlsSetup {
    pub fn new(ca_file: Option<&Path>) -> Result<TlsSetup, TlsSetupError> {
        let provider = Arc::new(cloudfront_like_provider());
        let mut public_roots = RootCertStore::empty();
        public_roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let build = |roots: RootCertStore| {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsSetupError::Verifier(e.to_string()))
        };
        let with_extra = match ca_file {
            None => None,
            Some(path) => {
                let shown = path.display().to_string();
                let bytes = std::fs::read(path).map_err(|e| TlsSetupError::Read {
                    path: shown.clone(),
                    error: e.to_string(),
                })?;
                let mut roots = public_roots.clone();
                let mut added = 0;
                for cert in CertificateDer::pem_slice_iter(&bytes) {
                    let cert = cert.map_err(|e| TlsSetupError::Read {
                        path: shown.clone(),
                        error: e.to_string(),
                    })?;
                    roots.add(cert).map_err(|e| TlsSetupError::Read {
                        path: shown.clone(),
                        error: e.to_string(),
                    })?;
                    added += 1;
                }
                if added == 0 {
                    return Err(TlsSetupError::Empty { path: shown });
                }
                Some((build(roots)?, format!("ca-file:{shown}")))
            }
        };
        Ok(TlsSetup {
            public: build(public_roots)?,
            with_extra,
            provider,
        })
    }
}

/// CloudFront's origin cipher list is ECDHE/RSA with AES (GCM and CBC); rustls implements the
/// ECDHE AES-GCM ones, so those are offered, and ChaCha20 (which CloudFront does not offer) is not.
fn cloudfront_like_provider() -> CryptoProvider {
    let mut provider = aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|s| !format!("{:?}", s.suite()).contains("CHACHA20"));
    provider
}

/// What CloudFront offers an origin: OriginSslProtocols is the *minimum* it accepts (SSLv3 to
/// TLSv1.2), and it negotiates up to TLS 1.2, so TLS 1.2 is always on offer. rustls speaks no
/// older protocol, so an origin that only speaks TLS 1.0/1.1 shows as a protocol mismatch here
/// even where its configured minimum would let CloudFront connect; the finding says so.
pub fn cloudfront_versions() -> Vec<&'static rustls::SupportedProtocolVersion> {
    vec![&rustls::version::TLS12]
}

/// Captures what the origin presented and what verification said, then lets the handshake finish.
#[derive(Debug)]
struct CapturingVerifier {
    public: Arc<WebPkiServerVerifier>,
    with_extra: Option<(Arc<WebPkiServerVerifier>, String)>,
    seen: Mutex<Option<(Vec<CertificateDer<'static>>, Verification)>>,
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verify = |v: &WebPkiServerVerifier| {
            v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        };
        let verification = match verify(&self.public) {
            Ok(_) => Verification::Trusted {
                trust_source: "public-roots".into(),
            },
            Err(public_error) => match &self.with_extra {
                Some((extra, label)) => match verify(extra) {
                    Ok(_) => Verification::Trusted {
                        trust_source: label.clone(),
                    },
                    Err(e) => rejected(e),
                },
                None => rejected(public_error),
            },
        };
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some((chain, verification));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.public.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.public.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.public.supported_verify_schemes()
    }
}

fn rejected(error: rustls::Error) -> Verification {
    let reason = match &error {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                VerifyFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                VerifyFailure::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                VerifyFailure::NameMismatch
            }
            CertificateError::UnknownIssuer => VerifyFailure::UnknownIssuer,
            _ => VerifyFailure::Other,
        },
        _ => VerifyFailure::Other,
    };
    Verification::Rejected {
        reason,
        error: error.to_string(),
    }
}

/// One TLS handshake bounded by `timeout`. Returns the evidence and, when the handshake completed,
/// the stream for the direct HTTP request.
pub async fn handshake(
    setup: &TlsSetup,
    tcp: TcpStream,
    server_name: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    timeout: Duration,
) -> (TlsResult, Option<TlsStream<TcpStream>>) {
    let started = Instant::now();
    let verifier = Arc::new(CapturingVerifier {
        public: setup.public.clone(),
        with_extra: setup.with_extra.clone(),
        seen: Mutex::new(None),
    });
    let result = |handshake, verification, chain: &[CertificateDer<'static>]| TlsResult {
        offered: offered_clone(versions),
        handshake,
        verification,
        presented_chain: describe_chain(chain),
        origin_speaks_tls13_only: None,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let config = match ClientConfig::builder_with_provider(setup.provider.clone())
        .with_protocol_versions(versions)
    {
        Ok(builder) => builder
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth(),
        Err(e) => {
            return (
                result(
                    Handshake::Failed {
                        error: e.to_string(),
                    },
                    Verification::NotReached,
                    &[],
                ),
                None,
            )
        }
    };
    let name = match ServerName::try_from(server_name.to_string()) {
        Ok(name) => name,
        Err(e) => {
            return (
                result(
                    Handshake::Failed {
                        error: format!("{server_name:?} is not a valid TLS server name: {e}"),
                    },
                    Verification::NotReached,
                    &[],
                ),
                None,
            )
        }
    };
    let connector = TlsConnector::from(Arc::new(config));
    let outcome = tokio::time::timeout(timeout, connector.connect(name, tcp)).await;
    let (chain, verification) = verifier
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or((Vec::new(), Verification::NotReached));
    match outcome {
        Err(_) => (result(Handshake::TimedOut, verification, &chain), None),
        Ok(Err(e)) => (result(classify(&e), verification, &chain), None),
        Ok(Ok(stream)) => {
            let (_, session) = stream.get_ref();
            let protocol = session
                .protocol_version()
                .map(version_name)
                .unwrap_or_else(|| "unknown".into());
            let cipher_suite = session
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_else(|| "unknown".into());
            (
                result(
                    Handshake::Completed {
                        protocol,
                        cipher_suite,
                    },
                    verification,
                    &chain,
                ),
                Some(stream),
            )
        }
    }
}

fn offered_clone(versions: &[&'static rustls::SupportedProtocolVersion]) -> Vec<String> {
    versions.iter().map(|v| version_name(v.version)).collect()
}

pub fn tls13_only() -> Vec<&'static rustls::SupportedProtocolVersion> {
    vec![&rustls::version::TLS13]
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        other => format!("{other:?}"),
    }
}

/// A refusal to agree on version or cipher is what CloudFront reports as "origin not responding
/// with supported ciphers/protocols"; anything else is a plain handshake failure.
fn classify(error: &std::io::Error) -> Handshake {
    let text = error.to_string();
    let protocol = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .map(|e| {
            matches!(
                e,
                rustls::Error::AlertReceived(
                    rustls::AlertDescription::ProtocolVersion
                        | rustls::AlertDescription::HandshakeFailure
                        | rustls::AlertDescription::InsufficientSecurity
                ) | rustls::Error::PeerIncompatible(_)
            )
        })
        .unwrap_or(false);
    if protocol {
        Handshake::ProtocolMismatch { error: text }
    } else {
        Handshake::Failed { error: text }
    }
}
