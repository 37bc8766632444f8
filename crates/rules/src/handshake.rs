//! The TLS handshake as CloudFront would meet it. OriginSslProtocols is the list of protocols
//! CloudFront may use with the origin (SSLv3, TLSv1, TLSv1.1, TLSv1.2: API reference,
//! OriginSslProtocols), not a minimum, and CloudFront offers ECDHE and RSA suites with AES-GCM and
//! AES-CBC ("Supported protocols and ciphers between CloudFront and the origin"). The probe speaks
//! TLS 1.2 with ECDHE AES-GCM only, so a refusal is the origin's fault only where CloudFront would
//! have offered nothing more than the probe did; otherwise it cannot be tested from here, and the
//! finding says so.

use serde_json::json;

use cf_doctor_model::evidence::{Handshake, MismatchCause, OriginProbe, TlsResult};
use cf_doctor_model::tls::protocol_rank;
use cf_doctor_model::{Code, Finding, Severity};

const CIPHERS_DOC: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-ciphers-cloudfront-to-origin.html";

/// What the handshake itself says, apart from the certificate.
pub fn findings(probe: &OriginProbe, tls: &TlsResult, at: &str) -> Option<Finding> {
    let endpoint = probe.endpoint();
    let listed = &cf_doctor_model::tls::listed_or_default(&probe.ssl_protocols);
    let lists_tls12 = listed.iter().any(|p| p == "TLSv1.2");
    let older: Vec<&String> = listed
        .iter()
        .filter(|p| protocol_rank(p).is_some_and(|r| r < 3))
        .collect();
    let facts = |error: &str| {
        json!({
            "offered_by_probe": tls.offered, "origin_ssl_protocols": listed,
            "origin_speaks_tls13_only": tls.origin_speaks_tls13_only, "error": error,
        })
    };
    match &tls.handshake {
        Handshake::ProtocolMismatch { error, cause } => {
            if tls.origin_speaks_tls13_only == Some(true) {
                return Some(mismatch(at, facts(error)).title(format!(
                    "Origin {endpoint} speaks only TLS 1.3; CloudFront speaks at most TLS 1.2 to origins ({} listed)",
                    listed.join(", ")
                )));
            }
            match cause {
                MismatchCause::Version if !older.is_empty() => Some(untestable(
                    at,
                    "older-protocols-listed",
                    format!("Origin {endpoint} does not speak TLS 1.2; CloudFront may still connect with {}, listed in OriginSslProtocols, which cannot be tested from here", join(&older)),
                    facts(error),
                    "This probe speaks TLS 1.2 and 1.3 only. If the origin speaks only older protocols, CloudFront can connect, but those protocols are deprecated: move the origin to TLS 1.2.",
                )),
                MismatchCause::Cipher => Some(untestable(
                    at,
                    "no-cipher-this-probe-has",
                    format!("Origin {endpoint} shares no cipher suite with this probe (ECDHE with AES-GCM); CloudFront also offers CBC and RSA key-exchange suites, so whether it can connect cannot be tested from here"),
                    facts(error),
                    "Check the origin's cipher list against CloudFront's (the docs link); an origin offering one of them is reachable. Prefer ECDHE with AES-GCM on the origin: it is what this probe can verify.",
                ).docs(CIPHERS_DOC)),
                MismatchCause::Version | MismatchCause::Unknown => Some(
                    mismatch(at, facts(error)).title(if lists_tls12 {
                        format!("Origin {endpoint} refuses TLS 1.2, the only protocol OriginSslProtocols lets CloudFront use with it")
                    } else {
                        format!("Origin {endpoint} shares no TLS protocol with CloudFront")
                    }),
                ),
            }
        }
        Handshake::Completed { protocol, .. } if !lists_tls12 => Some(untestable(
            at,
            "tls12-not-listed",
            format!(
                "Origin {endpoint} speaks {protocol}, but OriginSslProtocols lets CloudFront use only {} with it; whether the origin accepts those cannot be tested from here",
                listed.join(", ")
            ),
            facts(""),
            "Add TLSv1.2 to the origin's OriginSslProtocols (origin settings: Minimum origin SSL protocol): modern origins refuse older protocols, and CloudFront would then get no handshake (502).",
        )),
        // Named once per origin by origin_mtls, with the client certificate checked instead.
        Handshake::ClientCertificateRequired { .. } => None,
        Handshake::TimedOut => Some(
            Finding::new(Code::OriginConnectionTimeout, Severity::Critical, at)
                .statuses(&[504])
                .title(format!("Origin {endpoint} accepts TCP but never answers the TLS handshake"))
                .evidence(json!({"waited_ms": tls.duration_ms, "server_name": probe.server_name}))
                .remediation("Something accepts the connection and then stays silent (a hung process, a proxy without a backend, a plain-HTTP service): check what listens on this port."),
        ),
        Handshake::Completed { .. } | Handshake::Failed { .. } => None,
    }
}

fn join(protocols: &[&String]) -> String {
    protocols
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn mismatch(at: &str, evidence: serde_json::Value) -> Finding {
    Finding::new(Code::OriginTlsProtocolMismatch, Severity::Critical, at)
        .statuses(&[502])
        .evidence(evidence)
        .remediation("Let the origin accept TLS 1.2 with an ECDHE-RSA/ECDSA AES-GCM cipher (ALB: a security policy that includes TLS 1.2, e.g. ELBSecurityPolicy-TLS13-1-2-2021-06), and keep TLSv1.2 in the origin's OriginSslProtocols.")
}

/// What this probe cannot test: a gap in what was seen, not a fault of the origin.
fn untestable(
    at: &str,
    reason: &str,
    title: String,
    mut facts: serde_json::Value,
    remediation: &str,
) -> Finding {
    facts["action"] = json!("origin-tls");
    facts["reason"] = json!(reason);
    facts["unchecked"] = json!("whether CloudFront completes the TLS handshake with this origin");
    Finding::new(Code::InspectionIncomplete, Severity::Warning, at)
        .title(title)
        .evidence(facts)
        .remediation(remediation)
}
