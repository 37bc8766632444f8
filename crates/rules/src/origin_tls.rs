//! Origin TLS rules: what CloudFront meets in the handshake (protocols, the certificate's dates,
//! names, trust and chain order), judged from the verification verdict and the presented chain.

use serde_json::json;

use crate::handshake;
use crate::per_address::group_by_code;
use cf_doctor_model::evidence::{
    CertInfo, Handshake, HttpResult, OriginProbe, Thresholds, TlsResult, Verification,
    VerifyFailure,
};
use cf_doctor_model::{days_between, names, Code, Evidence, Finding, Severity};

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
                    f.set_direct_request(direct.clone());
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
    let mut out: Vec<Finding> = handshake::findings(probe, tls, at).into_iter().collect();
    let mut certificate = certificate_findings(probe, tls, at, evidence.now, evidence.thresholds);
    if let Handshake::Failed { error } = &tls.handshake {
        if certificate.iter().all(|f| f.severity < Severity::Critical) {
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

/// The certificate as the origin presented it, and what verification said of it.
struct Presented<'a> {
    probe: &'a OriginProbe,
    tls: &'a TlsResult,
    /// `host:port@address`.
    at: &'a str,
    endpoint: String,
    now: chrono::DateTime<chrono::Utc>,
    /// The first non-CA certificate: with a shuffled chain it is not the first one sent.
    leaf: &'a CertInfo,
    leaf_evidence: serde_json::Value,
    leaf_days_left: i64,
    /// The subjects in presented order, when the chain is out of order.
    misordered: Option<Vec<String>>,
    rejected: Option<(VerifyFailure, String)>,
}

fn certificate_findings(
    probe: &OriginProbe,
    tls: &TlsResult,
    at: &str,
    now: chrono::DateTime<chrono::Utc>,
    thresholds: Thresholds,
) -> Vec<Finding> {
    let Some(leaf) = tls
        .presented_chain
        .iter()
        .find(|c| !c.is_ca)
        .or(tls.presented_chain.first())
    else {
        return Vec::new();
    };
    let presented = Presented {
        probe,
        tls,
        at,
        endpoint: probe.endpoint(),
        now,
        leaf,
        leaf_evidence: cert_evidence(leaf, now),
        leaf_days_left: days_between(now, leaf.not_after),
        misordered: chain_out_of_order(&tls.presented_chain),
        rejected: match &tls.verification {
            Verification::Rejected { reason, error } => Some((*reason, error.clone())),
            _ => None,
        },
    };
    let mut out: Vec<Finding> = [
        expired_in_chain(&presented),
        not_yet_valid(&presented),
        name_mismatch(&presented),
        untrusted(&presented),
        chain_order(&presented),
    ]
    .into_iter()
    .flatten()
    .collect();
    if out.is_empty() {
        // A specific fault above already explains a rejection; only an unexplained one is named.
        out.extend(rejected_otherwise(&presented));
    }
    if out.is_empty() {
        out.extend(expiring(&presented, thresholds));
    }
    out
}

/// An expired certificate the origin sends. On the path that verifies (the leaf, or an
/// intermediate between it and a trusted root) it breaks TLS: critical. An extra certificate off
/// that path (an old cross-signed root still sent) is ignored by path building: a warning to
/// clean up.
fn expired_in_chain(p: &Presented<'_>) -> Option<Finding> {
    let chain = &p.tls.presented_chain;
    let on_path = verified_path(p);
    let expired: Vec<usize> = (0..chain.len())
        .filter(|&i| chain[i].not_after < p.now)
        .collect();
    let position = expired
        .iter()
        .copied()
        .find(|i| on_path.contains(i))
        .or(expired.first().copied())?;
    let expired_cert = &chain[position];
    let is_on_path = on_path.contains(&position);
    let which = if std::ptr::eq(expired_cert, p.leaf) {
        "certificate"
    } else if is_on_path {
        "intermediate certificate"
    } else {
        "extra certificate, not on the path that verifies"
    };
    let mut evidence = cert_evidence(expired_cert, p.now);
    evidence["position_in_chain"] = json!(position);
    evidence["on_verified_path"] = json!(is_on_path);
    let finding = Finding::new(Code::OriginCertExpired, Severity::Critical, p.at)
        .title(format!(
            "Origin {} presents an expired {which} (expired {}, {})",
            p.endpoint,
            expired_cert.not_after.format("%Y-%m-%d %H:%M UTC"),
            // The rule `days_left` follows: 3 days and a minute ago is "3 day(s) ago".
            match days_between(p.now, expired_cert.not_after) {
                0 => "less than a day ago".to_string(),
                days => cf_doctor_model::days_in_words(days),
            }
        ))
        .evidence(evidence)
        .days_left(Some(days_between(p.now, expired_cert.not_after)));
    Some(if is_on_path {
        finding.statuses(&[502]).remediation(format!(
            "Install a valid certificate for {} on the origin (ALB: replace the listener's certificate in ACM). If it is an ACM certificate that used EMAIL validation, it did not renew because nobody approved the mail: request a DNS-validated certificate instead.",
            p.probe.server_name
        ))
    } else {
        Finding {
            severity: Severity::Warning,
            ..finding
        }
        .remediation(format!(
            "{} is expired but the chain verifies without it ({}): stop sending it (remove it from the PEM bundle on the origin) so that no client that builds paths differently trips over it.",
            expired_cert.subject,
            p.leaf.subject
        ))
    })
}

/// The positions in the presented chain of the certificates on the path that verifies. When
/// verification succeeded, an expired certificate cannot be on it (path building would have
/// failed): only the certificates it did not need can be expired. Otherwise the path is walked
/// from the leaf by issuer, preferring a certificate that is still valid where two could follow.
fn verified_path(p: &Presented<'_>) -> Vec<usize> {
    let chain = &p.tls.presented_chain;
    let trusted = matches!(p.tls.verification, Verification::Trusted { .. });
    let Some(start) = chain.iter().position(|c| std::ptr::eq(c, p.leaf)) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut current = &chain[start];
    while !current.self_signed && path.len() < chain.len() {
        let candidates: Vec<usize> = (0..chain.len())
            .filter(|i| !path.contains(i) && chain[*i].subject == current.issuer)
            .collect();
        let next = candidates
            .iter()
            .copied()
            .find(|i| chain[*i].not_after >= p.now)
            .or(candidates.first().copied());
        match next {
            Some(i) if trusted && chain[i].not_after < p.now => break,
            Some(i) => {
                path.push(i);
                current = &chain[i];
            }
            None => break,
        }
    }
    path
}

fn not_yet_valid(p: &Presented<'_>) -> Option<Finding> {
    (p.leaf.not_before > p.now).then(|| {
        Finding::new(Code::OriginCertNotYetValid, Severity::Critical, p.at)
            .statuses(&[502])
            .title(format!(
                "Origin {} presents a certificate not valid before {}",
                p.endpoint,
                p.leaf.not_before.format("%Y-%m-%d %H:%M UTC")
            ))
            .evidence(p.leaf_evidence.clone())
            .days_left(Some(p.leaf_days_left))
            .remediation("The certificate was installed before its validity starts (or the origin's clock is wrong): install one that is valid now.")
    })
}

/// AWS's 502 page: one of the certificate's names must match the origin domain or, when the Host
/// header is forwarded, the Host. Either will do.
fn name_mismatch(p: &Presented<'_>) -> Option<Finding> {
    let server_name = &p.probe.server_name;
    let accepted: Vec<&String> = if p.probe.accepted_names.is_empty() {
        vec![server_name]
    } else {
        p.probe.accepted_names.iter().collect()
    };
    let name_ok = accepted
        .iter()
        .any(|name| names::any_covers(&p.leaf.names, name));
    // A misordered chain makes the verifier complain about names it never got to check.
    let verifier_says_name =
        matches!(p.rejected, Some((VerifyFailure::NameMismatch, _))) && p.misordered.is_none();
    if name_ok && !verifier_says_name {
        return None;
    }
    let mut evidence = p.leaf_evidence.clone();
    evidence["expected_name"] = json!(server_name);
    if accepted.len() > 1 {
        evidence["accepted_names"] = json!(accepted);
    }
    let wanted = accepted
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    Some(
        Finding::new(Code::OriginCertNameMismatch, Severity::Critical, p.at)
            .statuses(&[502])
            .title(format!(
                "Origin certificate names ({}) do not cover {wanted}",
                p.leaf.names.join(", "),
            ))
            .evidence(evidence)
            .days_left(Some(p.leaf_days_left))
            .remediation(format!(
                "CloudFront requires the origin certificate to match the origin domain or, when the Host header is forwarded, the Host: add {wanted} to the certificate, or set the origin domain to a name it covers.",
            )),
    )
}

/// Self-signed, or issued by a CA the public roots do not hold.
fn untrusted(p: &Presented<'_>) -> Option<Finding> {
    if !matches!(p.rejected, Some((VerifyFailure::UnknownIssuer, _))) {
        return None;
    }
    Some(if p.leaf.self_signed {
        Finding::new(Code::OriginCertSelfSigned, Severity::Critical, p.at)
            .statuses(&[502])
            .title(format!("Origin {} presents a self-signed certificate", p.endpoint))
            .evidence(p.leaf_evidence.clone())
            .days_left(Some(p.leaf_days_left))
            .remediation("CloudFront accepts only certificates from a publicly trusted CA: use an ACM certificate on the load balancer, or one from a public CA.")
    } else {
        Finding::new(Code::OriginCertUntrusted, Severity::Critical, p.at)
            .statuses(&[502])
            .title(format!("Origin {} presents a certificate from an untrusted issuer ({})", p.endpoint, p.leaf.issuer))
            .evidence(json!({"leaf": p.leaf_evidence, "chain_length": p.tls.presented_chain.len()}))
            .remediation("Use a certificate from a publicly trusted CA and send the intermediate certificates with it.")
    })
}

fn chain_order(p: &Presented<'_>) -> Option<Finding> {
    let order = p.misordered.as_ref()?;
    Some(
        Finding::new(Code::OriginCertChainOrder, Severity::Critical, p.at)
            .statuses(&[502])
            .title(format!("Origin {} sends its certificate chain in the wrong order", p.endpoint))
            .evidence(json!({"presented": order}))
            .remediation("Send the chain leaf first, then each issuer in turn (the PEM bundle order on the server or load balancer)."),
    )
}

/// A rejection none of the specific findings explains.
fn rejected_otherwise(p: &Presented<'_>) -> Option<Finding> {
    let Some((VerifyFailure::Other, error)) = &p.rejected else {
        return None;
    };
    Some(
        Finding::new(Code::OriginTlsHandshakeFailed, Severity::Critical, p.at)
            .statuses(&[502])
            .title(format!("Origin {} certificate is rejected: {error}", p.endpoint))
            .evidence(json!({"error": error, "leaf": p.leaf_evidence}))
            .remediation("Install a certificate that a public CA issued for the origin domain, with a complete chain."),
    )
}

/// A certificate that works today but expires inside the thresholds.
fn expiring(p: &Presented<'_>, thresholds: Thresholds) -> Option<Finding> {
    let severity = thresholds.grade(p.leaf_days_left)?;
    let trust = match &p.tls.verification {
        Verification::Trusted { trust_source, .. } => Some(trust_source.clone()),
        _ => None,
    };
    let mut evidence = p.leaf_evidence.clone();
    evidence["trust_source"] = json!(trust);
    Some(
        Finding::new(Code::OriginCertExpiring, severity, p.at)
            .title(format!("Origin {} certificate expires {}", p.endpoint, cf_doctor_model::days_in_words(p.leaf_days_left)))
            .evidence(evidence)
            .days_left(Some(p.leaf_days_left))
            .remediation("Renew or replace the origin certificate before it expires; if it is in ACM, check that it is DNS-validated and in use so that it renews by itself."),
    )
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
