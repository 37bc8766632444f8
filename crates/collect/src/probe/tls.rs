//! TLS to the origin the way CloudFront does it: SNI = origin domain (or forwarded Host), the
//! protocols of OriginSslProtocols that this TLS stack speaks (TLS 1.2), CloudFront's origin
//! cipher families as far as rustls has them (ECDHE with AES-GCM). One handshake both verifies
//! (against the public roots, plus --ca-file; for the SNI or any other name CloudFront accepts)
//! and captures the presented chain, so a broken certificate is still described and the direct
//! HTTP request can still be made. A refusal says what it was about (protocol version, cipher,
//! a client certificate the origin demands), because only some of those are the origin's fault.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::certinfo::describe_chain;
use cf_doctor_model::evidence::{
    Handshake, MismatchCause, TlsResult, TrustSource, Verification, VerifyFailure,
};

/// Roots and crypto, built once per process and shared by every probe.
#[derive(Debug)]
pub struct TlsSetup {
    provider: Arc<CryptoProvider>,
    public: Arc<WebPkiServerVerifier>,
    /// Public roots plus the extra CA file, and the trust source naming that file.
    with_extra: Option<(Arc<WebPkiServerVerifier>, TrustSource)>,
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
                Some((build(roots)?, TrustSource::CaFile(shown)))
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

/// What the probe offers an origin. OriginSslProtocols is the list of protocols CloudFront may use
/// (SSLv3, TLSv1, TLSv1.1, TLSv1.2: API reference, OriginSslProtocols); rustls speaks TLS 1.2 of
/// those, and nothing older. TLS 1.2 is offered even when the list lacks it, so the certificate is
/// still read; the rules compare what was offered with the list before judging a refusal.
pub fn cloudfront_versions() -> Vec<&'static rustls::SupportedProtocolVersion> {
    vec![&rustls::version::TLS12]
}

/// Captures what the origin presented and what verification said, then lets the handshake finish.
#[derive(Debug)]
struct CapturingVerifier {
    public: Arc<WebPkiServerVerifier>,
    with_extra: Option<(Arc<WebPkiServerVerifier>, TrustSource)>,
    /// Names other than the SNI that CloudFront accepts the certificate for (the origin domain,
    /// when the viewer's Host is forwarded and sent as SNI).
    also_accepted: Vec<ServerName<'static>>,
    seen: Mutex<Option<(Vec<CertificateDer<'static>>, Verification)>>,
}

/// Notes whether the origin asked for a client certificate; presents none (cf-doctor has no
/// access to CloudFront's origin mTLS certificate).
#[derive(Debug, Default)]
struct ClientCertRequests(std::sync::atomic::AtomicBool);

impl ResolvesClientCert for ClientCertRequests {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// Verifies for the SNI, then, on a name mismatch only, for each other accepted name. Returns the
/// other name that matched, if one had to.
fn verify_for_accepted_names(
    verifier: &WebPkiServerVerifier,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    also_accepted: &[ServerName<'static>],
    now: UnixTime,
) -> Result<Option<String>, rustls::Error> {
    let verify = |name: &ServerName<'_>| {
        verifier.verify_server_cert(end_entity, intermediates, name, &[], now)
    };
    match verify(server_name) {
        Ok(_) => Ok(None),
        Err(error) if is_name_mismatch(&error) => {
            for name in also_accepted {
                if verify(name).is_ok() {
                    return Ok(Some(name.to_str().into_owned()));
                }
            }
            Err(error)
        }
        Err(error) => Err(error),
    }
}

fn is_name_mismatch(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
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
        let _ = ocsp;
        let verify = |v: &WebPkiServerVerifier| {
            verify_for_accepted_names(
                v,
                end_entity,
                intermediates,
                server_name,
                &self.also_accepted,
                now,
            )
        };
        let verification = match verify(&self.public) {
            Ok(matched_name) => Verification::Trusted {
                trust_source: TrustSource::PublicRoots,
                matched_name,
            },
            Err(public_error) => match &self.with_extra {
                Some((extra, label)) => match verify(extra) {
                    Ok(matched_name) => Verification::Trusted {
                        trust_source: label.clone(),
                        matched_name,
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
        error: rejection_in_words(&error),
    }
}

/// rustls's verdict in the words and dates a finding uses: "certificate expired
/// 2026-12-02 10:07 UTC, 1 day(s) ago" rather than seconds since 1970.
fn rejection_in_words(error: &rustls::Error) -> String {
    let date = |t: &UnixTime| {
        chrono::DateTime::from_timestamp(t.as_secs() as i64, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| format!("{} (UNIX)", t.as_secs()))
    };
    let days = |now: &UnixTime, then: &UnixTime| {
        let at = |t: &UnixTime| chrono::DateTime::from_timestamp(t.as_secs() as i64, 0);
        match (at(now), at(then)) {
            (Some(now), Some(then)) => {
                cf_doctor_model::days_in_words(cf_doctor_model::days_between(now, then))
            }
            _ => String::new(),
        }
    };
    match error {
        rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { time, not_after }) => {
            let ago = match days(time, not_after).as_str() {
                "within a day" => "less than a day ago".to_string(),
                words => words.to_string(),
            };
            format!(
                "certificate expired {}, {ago} (checked at {})",
                date(not_after),
                date(time)
            )
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
            time,
            not_before,
        }) => format!(
            "certificate not valid before {}, {} (checked at {})",
            date(not_before),
            days(time, not_before),
            date(time)
        ),
        rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected,
            presented,
        }) => format!(
            "certificate names ({}) do not cover {}",
            presented.join(", "),
            expected.to_str()
        ),
        other => other.to_string(),
    }
}

/// One TLS handshake bounded by `timeout`, sending `server_name` as SNI and accepting the
/// certificate for it or any of `also_accepted`. Returns the evidence and, when the handshake
/// completed, the stream for the direct HTTP request.
pub async fn handshake(
    setup: &TlsSetup,
    tcp: TcpStream,
    server_name: &str,
    also_accepted: &[String],
    versions: &[&'static rustls::SupportedProtocolVersion],
    timeout: Duration,
) -> (TlsResult, Option<TlsStream<TcpStream>>) {
    let started = Instant::now();
    let verifier = Arc::new(CapturingVerifier {
        public: setup.public.clone(),
        with_extra: setup.with_extra.clone(),
        also_accepted: also_accepted
            .iter()
            .filter(|n| n.as_str() != server_name)
            .filter_map(|n| ServerName::try_from(n.clone()).ok())
            .collect(),
        seen: Mutex::new(None),
    });
    let client_cert = Arc::new(ClientCertRequests::default());
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
            .with_client_cert_resolver(client_cert.clone()),
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
        Ok(Err(e)) => {
            let asked = client_cert.0.load(std::sync::atomic::Ordering::Relaxed);
            (result(classify(&e, asked), verification, &chain), None)
        }
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
/// with supported ciphers/protocols"; a handshake ended after the origin asked for a client
/// certificate is origin mTLS; anything else is a plain handshake failure.
fn classify(error: &std::io::Error, asked_for_client_certificate: bool) -> Handshake {
    let text = error.to_string();
    if asked_for_client_certificate {
        return Handshake::ClientCertificateRequired { error: text };
    }
    let tls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let cause = match tls_error {
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)) => {
            Some(MismatchCause::Version)
        }
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure
            | rustls::AlertDescription::InsufficientSecurity,
        )) => Some(MismatchCause::Cipher),
        // A server older than the supported_versions extension answers with its own older
        // version, which rustls refuses itself.
        Some(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13,
        )) => Some(MismatchCause::Version),
        Some(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::NoCipherSuitesInCommon
            | rustls::PeerIncompatible::NoKxGroupsInCommon,
        )) => Some(MismatchCause::Cipher),
        Some(rustls::Error::PeerIncompatible(_)) => Some(MismatchCause::Unknown),
        _ => None,
    };
    match cause {
        Some(cause) => Handshake::ProtocolMismatch { error: text, cause },
        None => Handshake::Failed { error: text },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_verdicts_are_said_in_dates_and_the_findings_words() {
        let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
        // Expired 86,404 seconds (a day and 4 seconds) before it was checked: "1 day(s) ago".
        let expired = rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: at(1_796_347_673),
            not_after: at(1_796_261_269),
        });
        assert_eq!(
            rejection_in_words(&expired),
            "certificate expired 2026-12-03 01:27 UTC, 1 day(s) ago (checked at 2026-12-04 01:27 UTC)"
        );
        let early = rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
            time: at(1_796_261_269),
            not_before: at(1_796_261_269 + 3 * 86_400 + 60),
        });
        let words = rejection_in_words(&early);
        assert!(words.contains("in 3 day(s)"), "{words}");
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("origin.shop.example").unwrap(),
            presented: vec!["DnsName(\"other.example\")".into()],
        });
        assert!(rejection_in_words(&name).contains("do not cover origin.shop.example"));
    }
}
