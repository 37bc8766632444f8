//! Origin TLS rules: what CloudFront meets in the handshake (protocols, the certificate's dates,
//! names, trust and chain order), judged from the verification verdict and the presented chain.

use serde_json::json;

use super::{days_between, group_by_code, names};
use crate::diagnosis::{Code, Finding, Severity};
use crate::evidence::{
    CertInfo, Evidence, Handshake, HttpResult, OriginProbe, TlsResult, Verification, VerifyFailure,
};

pub fn findings(probe: &OriginProbe, evidence: &Evidence) -> Vec<Finding> {
    let mut per_address = Vec::new();
    for a in &probe.addresses {
        if let Some(tls) = &a.tls {
            let at = format!("{}@{}", probe.endpoint(), a.address);
            let mut found = address_findings(probe, tls, &at, evidence);
            if let Some(HttpResult::Responded {
                status,
                time_to_first_byte_ms,
                ..
            }) = &a.http
            {
                // The founding outage's turning point: the origin itself answers once TLS is set aside.
                let direct = format!("HTTP {status} in {time_to_first_byte_ms} ms when asked directly, bypassing CloudFront");
                for f in &mut found {
                    if let serde_json::Value::Object(map) = &mut f.evidence {
                        map.insert("direct_request".into(), json!(direct));
                    }
                }
            }
            per_address.extend(found);
        }
    }
    group_by_code(per_address, probe)
}

fn cert_evidence(cert: &CertInfo, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    json!({
        "subject": cert.subject, "issuer": cert.issuer, "names": cert.names,
        "not_before": cert.not_before, "not_after": cert.not_after,
        "days_left": days_between(now, cert.not_after), "serial": cert.serial,
    })
}

fn address_findings(
    probe: &OriginProbe,
    tls: &TlsResult,
    at: &str,
    evidence: &Evidence,
) -> Vec<Finding> {
    let endpoint = probe.endpoint();
    let now = evidence.now;
    let mut out = Vec::new();
    match &tls.handshake {
        Handshake::ProtocolMismatch { error } => {
            let tls13 = tls.origin_speaks_tls13_only == Some(true);
            out.push(
                Finding::new(Code::OriginTlsProtocolMismatch, Severity::Critical, at)
                    .statuses(&[502])
                    .title(if tls13 {
                        format!("Origin {endpoint} speaks only TLS 1.3; CloudFront offers {} to it", tls.offered.join(", "))
                    } else {
                        format!("Origin {endpoint} shares no TLS protocol or cipher with CloudFront")
                    })
                    .evidence(json!({"offered": tls.offered, "origin_ssl_protocols": probe.ssl_protocols, "origin_speaks_tls13_only": tls.origin_speaks_tls13_only, "error": error}))
                    .remediation("Let the origin accept TLS 1.2 with an ECDHE-RSA/ECDSA AES-GCM cipher (ALB: a security policy that includes TLS 1.2, e.g. ELBSecurityPolicy-TLS13-1-2-2021-06), and keep TLSv1.2 in the origin's OriginSslProtocols."),
            );
        }
        Handshake::Failed { .. } => {}
        Handshake::TimedOut => out.push(
            Finding::new(Code::OriginConnectionTimeout, Severity::Critical, at)
                .statuses(&[504])
                .title(format!("Origin {endpoint} accepts TCP but never answers the TLS handshake"))
                .evidence(json!({"waited_ms": tls.duration_ms, "server_name": probe.server_name}))
                .remediation("Something accepts the connection and then stays silent (a hung process, a proxy without a backend, a plain-HTTP service): check what listens on this port."),
        ),
        Handshake::Completed { .. } => {}
    }
    let mut certificate = certificate_findings(probe, tls, at, now, evidence.thresholds);
    if let Handshake::Failed { error } = &tls.handshake {
        if certificate.is_empty() {
            out.push(
                Finding::new(Code::OriginTlsHandshakeFailed, Severity::Critical, at)
                    .statuses(&[502])
                    .title(format!("TLS handshake with origin {endpoint} failed"))
                    .evidence(json!({"error": error, "server_name": probe.server_name, "offered": tls.offered}))
                    .remediation("The origin does not complete a TLS handshake on this port: check that the port serves HTTPS (not plain HTTP) and the listener's certificate and policy."),
            );
        } else {
            // A specific certificate fault explains the failed handshake: one cause, not two.
            for f in &mut certificate {
                f.evidence["handshake_error"] = json!(error);
            }
        }
    }
    out.extend(certificate);
    out
}

fn certificate_findings(
    probe: &OriginProbe,
    tls: &TlsResult,
    at: &str,
    now: chrono::DateTime<chrono::Utc>,
    thresholds: crate::evidence::Thresholds,
) -> Vec<Finding> {
    let endpoint = probe.endpoint();
    // The leaf is the first non-CA certificate: with a shuffled chain it is not the first one sent.
    let Some(leaf) = tls
        .presented_chain
        .iter()
        .find(|c| !c.is_ca)
        .or(tls.presented_chain.first())
    else {
        return Vec::new();
    };
    let order = chain_out_of_order(&tls.presented_chain);
    let mut out = Vec::new();
    let leaf_evidence = cert_evidence(leaf, now);
    let trust = match &tls.verification {
        Verification::Trusted { trust_source } => Some(trust_source.clone()),
        _ => None,
    };
    let rejected = match &tls.verification {
        Verification::Rejected { reason, error } => Some((*reason, error.clone())),
        _ => None,
    };
    if let Some(expired) = tls.presented_chain.iter().find(|c| c.not_after < now) {
        let which = if std::ptr::eq(expired, leaf) {
            "certificate"
        } else {
            "intermediate certificate"
        };
        let mut evidence = cert_evidence(expired, now);
        evidence["position_in_chain"] = json!(tls
            .presented_chain
            .iter()
            .position(|c| std::ptr::eq(c, expired)));
        out.push(
            Finding::new(Code::OriginCertExpired, Severity::Critical, at)
                .statuses(&[502])
                .title(format!(
                    "Origin {endpoint} presents an expired {which} (expired {}, {})",
                    expired.not_after.format("%Y-%m-%d %H:%M UTC"),
                    // Whole days elapsed: 3 days and a minute ago is "3 day(s) ago".
                    match days_between(expired.not_after, now) {
                        0 => "less than a day ago".to_string(),
                        days => format!("{days} day(s) ago"),
                    }
                ))
                .evidence(evidence)
                .remediation(format!(
                    "Install a valid certificate for {} on the origin (ALB: replace the listener's certificate in ACM). If it is an ACM certificate that used EMAIL validation, it did not renew because nobody approved the mail: request a DNS-validated certificate instead.",
                    probe.server_name
                )),
        );
    }
    if leaf.not_before > now {
        out.push(
            Finding::new(Code::OriginCertNotYetValid, Severity::Critical, at)
                .statuses(&[502])
                .title(format!(
                    "Origin {endpoint} presents a certificate not valid before {}",
                    leaf.not_before.format("%Y-%m-%d %H:%M UTC")
                ))
                .evidence(leaf_evidence.clone())
                .remediation("The certificate was installed before its validity starts (or the origin's clock is wrong): install one that is valid now."),
        );
    }
    let name_ok = names::any_covers(&leaf.names, &probe.server_name);
    let verifier_says_name =
        matches!(rejected, Some((VerifyFailure::NameMismatch, _))) && order.is_none();
    if !name_ok || verifier_says_name {
        let mut evidence = leaf_evidence.clone();
        evidence["expected_name"] = json!(probe.server_name);
        out.push(
            Finding::new(Code::OriginCertNameMismatch, Severity::Critical, at)
                .statuses(&[502])
                .title(format!(
                    "Origin certificate names ({}) do not cover {}",
                    leaf.names.join(", "),
                    probe.server_name
                ))
                .evidence(evidence)
                .remediation(format!(
                    "CloudFront requires the origin certificate to match the origin domain (or the forwarded Host): add {} to the certificate, or set the origin domain to a name it covers.",
                    probe.server_name
                )),
        );
    }
    let unknown_issuer = matches!(rejected, Some((VerifyFailure::UnknownIssuer, _)));
    if unknown_issuer && leaf.self_signed {
        out.push(
            Finding::new(Code::OriginCertSelfSigned, Severity::Critical, at)
                .statuses(&[502])
                .title(format!("Origin {endpoint} presents a self-signed certificate"))
                .evidence(leaf_evidence.clone())
                .remediation("CloudFront accepts only certificates from a publicly trusted CA: use an ACM certificate on the load balancer, or one from a public CA."),
        );
    } else if unknown_issuer {
        out.push(
            Finding::new(Code::OriginCertUntrusted, Severity::Critical, at)
                .statuses(&[502])
                .title(format!("Origin {endpoint} presents a certificate from an untrusted issuer ({})", leaf.issuer))
                .evidence(json!({"leaf": leaf_evidence, "chain_length": tls.presented_chain.len()}))
                .remediation("Use a certificate from a publicly trusted CA and send the intermediate certificates with it."),
        );
    }
    if let Some(order) = order {
        out.push(
            Finding::new(Code::OriginCertChainOrder, Severity::Critical, at)
                .statuses(&[502])
                .title(format!("Origin {endpoint} sends its certificate chain in the wrong order"))
                .evidence(json!({"presented": order}))
                .remediation("Send the chain leaf first, then each issuer in turn (the PEM bundle order on the server or load balancer)."),
        );
    }
    if let Some((VerifyFailure::Other, error)) = &rejected {
        if out.is_empty() {
            out.push(
                Finding::new(Code::OriginTlsHandshakeFailed, Severity::Critical, at)
                    .statuses(&[502])
                    .title(format!("Origin {endpoint} certificate is rejected: {error}"))
                    .evidence(json!({"error": error, "leaf": leaf_evidence}))
                    .remediation("Install a certificate that a public CA issued for the origin domain, with a complete chain."),
            );
        }
    }
    let days_left = days_between(now, leaf.not_after);
    if out.is_empty() && days_left <= thresholds.expiry_warn_days {
        let severity = if days_left <= thresholds.expiry_critical_days {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let mut evidence = leaf_evidence;
        evidence["trust_source"] = json!(trust);
        out.push(
            Finding::new(Code::OriginCertExpiring, severity, at)
                .title(format!("Origin {endpoint} certificate expires in {days_left} day(s)"))
                .evidence(evidence)
                .remediation("Renew or replace the origin certificate before it expires; if it is in ACM, check that it is DNS-validated and in use so that it renews by itself."),
        );
    }
    out
}

/// The subjects in presented order when each certificate is not followed by its issuer although
/// the issuer is in the chain (a complete but shuffled chain, which CloudFront rejects).
fn chain_out_of_order(chain: &[CertInfo]) -> Option<Vec<String>> {
    if chain.len() < 2 {
        return None;
    }
    let misplaced = chain.windows(2).any(|pair| {
        let (cert, next) = (&pair[0], &pair[1]);
        !cert.self_signed
            && next.subject != cert.issuer
            && chain.iter().any(|c| c.subject == cert.issuer)
    });
    let leaf_not_first = chain[0].is_ca && chain.iter().skip(1).any(|c| !c.is_ca);
    (misplaced || leaf_not_first).then(|| chain.iter().map(|c| c.subject.clone()).collect())
}
