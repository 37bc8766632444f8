//! Origin mTLS. The ACM client certificate CloudFront presents (`OriginMtlsConfig`) is judged by
//! the same ACM rules as every certificate; an expired one means the origin refuses CloudFront
//! (502), so its expiry findings take their own codes. A probe that meets a certificate request
//! cannot present CloudFront's certificate: that is named, with what was checked instead, and is
//! never a protocol mismatch. An origin that demands a client certificate from a distribution
//! with no mutual TLS settings refuses CloudFront too.

use serde_json::json;

use cf_doctor_model::evidence::{AcmCertificate, Handshake, OriginKind, OriginProbe};
use cf_doctor_model::{Code, Evidence, Finding, Severity};

/// What an origin's mutual TLS settings name, if anything.
fn client_certificate_of<'a>(
    evidence: &'a Evidence,
    distribution: &str,
    origin: &str,
) -> Option<&'a str> {
    evidence
        .distributions
        .iter()
        .filter(|d| d.id == distribution)
        .flat_map(|d| &d.origins)
        .filter(|o| o.id == origin)
        .find_map(|o| match &o.kind {
            OriginKind::Custom(c) => c.client_certificate_arn.as_deref(),
            _ => None,
        })
}

/// Every client certificate the distributions' origins name.
fn client_certificates(evidence: &Evidence) -> Vec<&str> {
    evidence
        .distributions
        .iter()
        .flat_map(|d| &d.origins)
        .filter_map(|o| match &o.kind {
            OriginKind::Custom(c) => c.client_certificate_arn.as_deref(),
            _ => None,
        })
        .collect()
}

/// The ACM findings about client certificates, with their own codes: an expired or expiring
/// client certificate is an origin that will refuse CloudFront. A certificate also used for
/// something else keeps its ACM finding beside the mTLS one.
pub fn recode(findings: Vec<Finding>, evidence: &Evidence) -> Vec<Finding> {
    let clients = client_certificates(evidence);
    let mut out = Vec::with_capacity(findings.len());
    for finding in findings {
        let code = match finding.code {
            Code::AcmCertExpired => Code::OriginMtlsCertExpired,
            Code::AcmCertExpiring => Code::OriginMtlsCertExpiring,
            _ => {
                out.push(finding);
                continue;
            }
        };
        if !clients.contains(&finding.resource.as_str()) {
            out.push(finding);
            continue;
        }
        let cert = evidence
            .certificates
            .iter()
            .find(|c| c.arn == finding.resource);
        let only_mtls =
            cert.is_some_and(|c| c.used_as.iter().all(|u| u.starts_with("origin mTLS")));
        let mtls = as_mtls(&finding, code, cert);
        if !only_mtls {
            out.push(finding);
        }
        out.push(mtls);
    }
    out
}

fn as_mtls(finding: &Finding, code: Code, cert: Option<&AcmCertificate>) -> Finding {
    let domain = cert.map(|c| c.domain_name.as_str()).unwrap_or("?");
    let used_as = cert.map(|c| c.used_as.join("; ")).unwrap_or_default();
    let (statuses, title, remediation): (&[u16], String, &str) = if code
        == Code::OriginMtlsCertExpired
    {
        (
            &[502],
            format!("The client certificate CloudFront presents to the origin ({domain}) has expired: the origin refuses CloudFront's connections ({used_as})"),
            "Issue or import a new client certificate the origin trusts into ACM in us-east-1 and set it in the origin's mutual TLS settings (OriginMtlsConfig). Then find out why it did not renew: imported and private-CA certificates never renew in ACM by themselves.",
        )
    } else {
        (
            &[],
            format!("The client certificate CloudFront presents to the origin ({domain}) expires {} ({used_as})", cf_doctor_model::days_in_words(finding.facts.days_left.unwrap_or_default())),
            "Replace it before it expires: once it has, the origin refuses CloudFront (502). Put a renewed certificate the origin trusts in ACM (us-east-1) and set it in the origin's mutual TLS settings.",
        )
    };
    Finding::new(code, finding.severity, &finding.resource)
        .statuses(statuses)
        .title(title)
        .evidence(finding.evidence.clone())
        .days_left(finding.facts.days_left)
        .remediation(remediation)
}

/// Origins that demanded a client certificate from the probe: named with what was checked
/// instead; and, where the distribution configures no client certificate, the refusal CloudFront
/// meets too.
pub fn required(evidence: &Evidence) -> Vec<Finding> {
    evidence
        .origin_probes
        .iter()
        .flat_map(|probe| probe_findings(probe, evidence))
        .collect()
}

fn probe_findings(probe: &OriginProbe, evidence: &Evidence) -> Vec<Finding> {
    let demanding: Vec<String> = probe
        .addresses
        .iter()
        .filter(|a| {
            matches!(
                a.tls.as_ref().map(|t| &t.handshake),
                Some(Handshake::ClientCertificateRequired { .. })
            )
        })
        .map(|a| a.address.to_string())
        .collect();
    if demanding.is_empty() {
        return Vec::new();
    }
    let error = probe
        .addresses
        .iter()
        .find_map(|a| match a.tls.as_ref().map(|t| &t.handshake) {
            Some(Handshake::ClientCertificateRequired { error }) => Some(error.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let endpoint = probe.endpoint();
    let at = if demanding.len() == 1 && probe.addresses.len() == 1 {
        format!("{endpoint}@{}", demanding[0])
    } else {
        endpoint.clone()
    };
    let configured = client_certificate_of(evidence, &probe.distribution_id, &probe.origin_id);
    let client = configured.map(
        |arn| match evidence.certificates.iter().find(|c| c.arn == arn) {
            Some(c) => format!(
                "CloudFront's client certificate {arn} in ACM: {} {}, {}",
                c.cert_type,
                c.status_in_words(),
                cf_doctor_model::expiry_in_words(c.not_after, evidence.now)
            ),
            None => format!(
                "CloudFront's client certificate {arn} could not be read from ACM (see the gaps)"
            ),
        },
    );
    let mut checked = vec![format!(
        "the certificate the origin presented, by the same rules as CloudFront applies"
    )];
    checked.extend(client.clone());
    let mut out = vec![Finding::new(Code::OriginMtlsRequired, Severity::Info, &at)
        .title(format!(
            "Origin {endpoint} demands a client certificate (origin mTLS), which cf-doctor cannot present; checked instead: {}",
            checked.join("; ")
        ))
        .evidence(json!({
            "reason": "client-certificate-required", "addresses": demanding, "error": error,
            "server_name": probe.server_name, "client_certificate_arn": configured,
            "checked_instead": checked,
            "unchecked": "whether the origin accepts CloudFront's client certificate, and the origin's HTTP answer",
        }))
        .remediation(match configured {
            Some(_) => "Nothing to do if the client certificate is valid and issued by a CA the origin trusts; the direct HTTP request cannot be made from here.",
            None => "Set the origin's mutual TLS settings (OriginMtlsConfig) to a client certificate in ACM (us-east-1) that the origin trusts, or stop requiring client certificates on the origin.",
        })];
    if configured.is_none() {
        out.push(
            Finding::new(Code::OriginTlsHandshakeFailed, Severity::Critical, &at)
                .statuses(&[502])
                .title(format!(
                    "Origin {endpoint} demands a client certificate, and the distribution's origin has no mutual TLS settings: CloudFront presents none, so the handshake fails"
                ))
                .evidence(json!({"addresses": demanding, "error": error, "server_name": probe.server_name, "origin_mtls_config": null}))
                .remediation("Configure mutual TLS (origin) on the distribution's origin with a client certificate in ACM (us-east-1) the origin trusts, or stop requiring client certificates on the origin.")
                .docs(Code::OriginMtlsRequired.docs()),
        );
    }
    out
}
