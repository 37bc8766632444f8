//! ACM certificate rules: expiry against the thresholds, issuance status, and renewal risk with its
//! reason (EMAIL validation needs a human to approve mail: the founding outage). A certificate
//! that nothing uses is housekeeping, not an incident: info, whatever its state.

use serde_json::json;

use cf_doctor_model::evidence::{AcmCertificate, Thresholds};
use cf_doctor_model::{days_between, Code, Evidence, Finding, Severity};

const EMAIL_RENEWAL_DOCS: &str =
    "https://docs.aws.amazon.com/acm/latest/userguide/email-renewal-validation.html";

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    evidence
        .certificates
        .iter()
        .flat_map(|cert| certificate_findings(cert, evidence.now, evidence.thresholds))
        .collect()
}

/// Nothing uses it: no distribution or load balancer in the evidence names it, and ACM says no
/// AWS resource does (the summary's InUse, or DescribeCertificate's empty InUseBy). When ACM did
/// not say, it counts as used: an expired certificate is never played down on a guess.
pub fn unused(cert: &AcmCertificate) -> bool {
    cert.used_as.is_empty() && cert.in_use_by.is_empty() && cert.in_use == Some(false)
}

fn base_evidence(cert: &AcmCertificate, days_left: Option<i64>) -> serde_json::Value {
    let mut evidence = json!({
        "domain_name": cert.domain_name,
        "subject_alternative_names": cert.subject_alternative_names,
        "status": cert.status,
        "type": cert.cert_type,
        "not_after": cert.not_after,
        "days_left": days_left,
        "renewal_eligibility": cert.renewal_eligibility,
        "renewal_status": cert.renewal_status,
        "renewal_status_reason": cert.renewal_status_reason,
        "validation_methods": cert.validation_methods,
        "used_as": cert.used_as,
        "in_use_by": cert.in_use_by,
        "region": cert.region,
    });
    if unused(cert) {
        evidence["unused"] = json!(true);
    }
    evidence
}

/// What is wrong with one certificate now (expired, not issued, expiring), and whether it will
/// fail to renew by itself.
fn certificate_findings(
    cert: &AcmCertificate,
    now: chrono::DateTime<chrono::Utc>,
    thresholds: Thresholds,
) -> Vec<Finding> {
    let days_left = cert.not_after.map(|t| days_between(now, t));
    // Expired is decided by the date (or ACM's status): within its last day `days_left` is 0.
    let expired = cert.has_status("EXPIRED") || cert.not_after.is_some_and(|t| t <= now);
    let evidence = base_evidence(cert, days_left);
    if unused(cert) {
        return unused_finding(cert, days_left, expired, thresholds, evidence)
            .into_iter()
            .collect();
    }
    let mut out: Vec<Finding> = state_finding(cert, days_left, expired, thresholds, &evidence)
        .into_iter()
        .collect();
    out.extend(renewal_finding(cert, days_left, thresholds, evidence));
    out
}

/// A certificate nothing uses cannot break anything: one info finding saying what to tidy up
/// (expired, not issued, expiring, or never to be renewed), or none when it is simply idle.
fn unused_finding(
    cert: &AcmCertificate,
    days_left: Option<i64>,
    expired: bool,
    thresholds: Thresholds,
    evidence: serde_json::Value,
) -> Option<Finding> {
    let name = &cert.domain_name;
    let (code, title, remediation) = if expired {
        (
            Code::AcmCertExpired,
            format!("ACM certificate for {name} expired{}, unused: delete it", since(cert)),
            "Nothing uses it (ACM's InUseBy is empty): delete it (ACM console, or aws acm delete-certificate) so that it stops appearing here.",
        )
    } else if let Some(status) = cert.not_issued() {
        (
            Code::AcmCertNotIssued,
            format!("ACM certificate for {name} is {status}, unused: delete it"),
            "It was never issued and nothing uses it: delete it, or complete its validation if it is still wanted.",
        )
    } else if days_left.is_some_and(|d| d <= thresholds.expiry_warn_days) {
        (
            Code::AcmCertExpiring,
            format!(
                "ACM certificate for {name} expires {}, unused: delete it or let it lapse",
                cf_doctor_model::days_in_words(days_left.unwrap_or_default())
            ),
            "Nothing uses it, so its expiry harms nothing: delete it, or attach it where it is needed and make sure it renews.",
        )
    } else if cert.cert_type == "AMAZON_ISSUED"
        && cert.renewal_eligibility.as_deref() == Some("INELIGIBLE")
    {
        (
            Code::AcmCertRenewalAtRisk,
            format!("ACM certificate for {name} will not renew: nothing uses it"),
            "ACM renews only certificates in use: attach it where it is needed, or delete it.",
        )
    } else {
        return None;
    };
    let mut evidence = evidence;
    if code == Code::AcmCertRenewalAtRisk {
        evidence["reason"] = json!("ineligible");
    }
    Some(
        Finding::new(code, Severity::Info, &cert.arn)
            .title(title)
            .evidence(evidence)
            .days_left(days_left)
            .remediation(remediation),
    )
}

/// Expired, not issued, or expiring inside the thresholds: at most one of them.
fn state_finding(
    cert: &AcmCertificate,
    days_left: Option<i64>,
    expired: bool,
    thresholds: Thresholds,
    evidence: &serde_json::Value,
) -> Option<Finding> {
    let used_as = cert.used_as.join("; ");
    let finding = if expired {
        Finding::new(Code::AcmCertExpired, Severity::Critical, &cert.arn)
            .title(format!(
                "ACM certificate for {} expired{} ({used_as})",
                cert.domain_name,
                since(cert)
            ))
            .remediation(format!(
                "Issue or import a valid certificate for {} and attach it where this one is used; then find out why it did not renew (see renewal status).",
                cert.domain_name
            ))
    } else if let Some(status) = cert.not_issued() {
        Finding::new(Code::AcmCertNotIssued, Severity::Critical, &cert.arn)
            .title(format!(
                "ACM certificate for {} is {status}, not ISSUED ({used_as})",
                cert.domain_name
            ))
            .remediation("Complete validation (ACM console: Certificates -> the certificate -> Domains) or request a new certificate; a certificate that is not ISSUED cannot serve TLS.")
    } else {
        let days = days_left?;
        let severity = thresholds.grade(days)?;
        Finding::new(Code::AcmCertExpiring, severity, &cert.arn)
            .title(format!(
                "ACM certificate for {} expires {} ({used_as})",
                cert.domain_name,
                cf_doctor_model::days_in_words(days)
            ))
            .remediation("Make sure it renews before then: check the renewal status and validation method, or replace it now.")
    };
    Some(finding.evidence(evidence.clone()).days_left(days_left))
}

/// A certificate that will not renew without a human: a warning weeks ahead, critical once
/// inside the critical window, where it is the outage to come.
fn renewal_finding(
    cert: &AcmCertificate,
    days_left: Option<i64>,
    thresholds: Thresholds,
    mut evidence: serde_json::Value,
) -> Option<Finding> {
    let (reason, remediation) = renewal_risk(cert)?;
    // An imported certificate is re-imported by hand before it expires: that is a task only once
    // the expiry is inside the warning window (the digest counts the others).
    if reason == "imported" && days_left.is_none_or(|d| d > thresholds.expiry_warn_days) {
        return None;
    }
    let severity = if days_left.is_some_and(|d| d <= thresholds.expiry_critical_days) {
        Severity::Critical
    } else {
        Severity::Warning
    };
    evidence["reason"] = json!(reason);
    let mut finding = Finding::new(Code::AcmCertRenewalAtRisk, severity, &cert.arn)
        .title(format!(
            "ACM certificate for {} will not renew by itself: {} ({})",
            cert.domain_name,
            reason_words(reason),
            cert.used_as.join("; ")
        ))
        .evidence(evidence)
        .days_left(days_left)
        .remediation(remediation);
    if reason == "email-validation" {
        finding = finding.docs(EMAIL_RENEWAL_DOCS);
    }
    Some(finding)
}

fn since(cert: &AcmCertificate) -> String {
    cert.not_after
        .map(|t| format!(" on {}", t.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default()
}

/// Why this certificate may not renew without a human, if it may not.
fn renewal_risk(cert: &AcmCertificate) -> Option<(&'static str, String)> {
    if cert.cert_type == "IMPORTED" {
        return Some((
            "imported",
            "Imported certificates never renew in ACM: re-import a renewed certificate before expiry, or replace it with an ACM-issued certificate using DNS validation.".into(),
        ));
    }
    match cert.renewal_status.as_deref() {
        Some("FAILED") => {
            return Some((
                "renewal-failed",
                format!(
                    "Renewal failed ({}): fix the cause and request a new certificate with DNS validation.",
                    cert.renewal_status_reason.as_deref().unwrap_or("no reason given")
                ),
            ))
        }
        Some("PENDING_VALIDATION") => {
            return Some((
                "pending-validation",
                "Renewal is waiting for validation: for DNS, make sure the CNAME record ACM gave is still in the zone; for EMAIL, approve the renewal mail.".into(),
            ))
        }
        _ => {}
    }
    if cert.validation_methods.iter().any(|m| m == "EMAIL") {
        return Some((
            "email-validation",
            "EMAIL-validated certificates renew only after someone approves the renewal mail, which is easy to miss. Replace it with a DNS-validated certificate (ACM: Request certificate -> DNS validation -> add the CNAME), or approve the pending renewal mail now.".into(),
        ));
    }
    if cert.cert_type == "AMAZON_ISSUED"
        && cert.renewal_eligibility.as_deref() == Some("INELIGIBLE")
    {
        return Some((
            "ineligible",
            "ACM renews only certificates in use by an AWS service: make sure it is attached where it should be, or it will expire.".into(),
        ));
    }
    None
}

fn reason_words(reason: &str) -> &'static str {
    match reason {
        "imported" => "it was imported, and ACM never renews imported certificates",
        "renewal-failed" => "its last renewal failed",
        "pending-validation" => "its renewal is waiting for validation",
        "email-validation" => {
            "it uses EMAIL validation, so renewal waits for someone to approve a mail"
        }
        _ => "ACM marks it ineligible for renewal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn cert(days_left: i64) -> AcmCertificate {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        AcmCertificate {
            arn: "arn:aws:acm:us-east-1:123456789012:certificate/abc".into(),
            region: "us-east-1".into(),
            domain_name: "shop.example".into(),
            subject_alternative_names: vec!["shop.example".into()],
            status: Some("ISSUED".into()),
            cert_type: "AMAZON_ISSUED".into(),
            not_before: Some(now - Duration::days(300)),
            not_after: Some(now + Duration::days(days_left) + Duration::hours(1)),
            renewal_eligibility: Some("ELIGIBLE".into()),
            renewal_status: None,
            renewal_status_reason: None,
            validation_methods: vec!["DNS".into()],
            in_use_by: vec![],
            in_use: None,
            used_as: vec!["viewer certificate of E1".into()],
        }
    }

    fn codes(cert: &AcmCertificate) -> Vec<(Code, Severity)> {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        certificate_findings(cert, now, Thresholds::default())
            .into_iter()
            .map(|f| (f.code, f.severity))
            .collect()
    }

    #[test]
    fn a_healthy_dns_validated_certificate_has_no_finding() {
        assert!(codes(&cert(200)).is_empty());
    }

    #[test]
    fn expiry_is_graded_by_the_thresholds() {
        assert_eq!(
            codes(&cert(20)),
            vec![(Code::AcmCertExpiring, Severity::Warning)]
        );
        assert_eq!(
            codes(&cert(3)),
            vec![(Code::AcmCertExpiring, Severity::Critical)]
        );
        assert_eq!(
            codes(&cert(-2)),
            vec![(Code::AcmCertExpired, Severity::Critical)]
        );
    }

    #[test]
    fn email_validation_is_a_renewal_risk_that_links_the_email_docs() {
        let mut c = cert(50);
        c.validation_methods = vec!["EMAIL".into()];
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let f = certificate_findings(&c, now, Thresholds::default());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::AcmCertRenewalAtRisk);
        assert_eq!(f[0].evidence["reason"], "email-validation");
        assert_eq!(f[0].docs, EMAIL_RENEWAL_DOCS);
    }

    #[test]
    fn every_renewal_risk_reason_is_named() {
        let reason = |c: &AcmCertificate| renewal_risk(c).map(|r| r.0);
        let mut c = cert(50);
        c.cert_type = "IMPORTED".into();
        assert_eq!(reason(&c), Some("imported"));
        let mut c = cert(50);
        c.renewal_eligibility = Some("INELIGIBLE".into());
        assert_eq!(reason(&c), Some("ineligible"));
        let mut c = cert(50);
        c.renewal_status = Some("FAILED".into());
        assert_eq!(reason(&c), Some("renewal-failed"));
        let mut c = cert(50);
        c.renewal_status = Some("PENDING_VALIDATION".into());
        assert_eq!(reason(&c), Some("pending-validation"));
    }

    fn unused_cert(days_left: i64) -> AcmCertificate {
        let mut c = cert(days_left);
        c.used_as.clear();
        c.in_use = Some(false);
        c
    }

    #[test]
    fn an_unused_certificate_is_info_whatever_its_state_and_a_used_one_is_not() {
        let expired = unused_cert(-40);
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let found = certificate_findings(&expired, now, Thresholds::default());
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].code, found[0].severity),
            (Code::AcmCertExpired, Severity::Info)
        );
        assert!(
            found[0].title.ends_with("unused: delete it"),
            "{}",
            found[0].title
        );
        assert_eq!(found[0].evidence["unused"], true);
        let mut not_issued = unused_cert(100);
        not_issued.status = Some("FAILED".into());
        assert_eq!(
            codes(&not_issued),
            vec![(Code::AcmCertNotIssued, Severity::Info)]
        );
        assert_eq!(
            codes(&unused_cert(3)),
            vec![(Code::AcmCertExpiring, Severity::Info)]
        );
        let mut ineligible = unused_cert(200);
        ineligible.renewal_eligibility = Some("INELIGIBLE".into());
        assert_eq!(
            codes(&ineligible),
            vec![(Code::AcmCertRenewalAtRisk, Severity::Info)]
        );
        assert!(
            codes(&unused_cert(200)).is_empty(),
            "idle and fine: nothing"
        );

        // Expired and used stays critical, whoever says it is used.
        let mut used_by_aws = unused_cert(-40);
        used_by_aws.in_use = Some(true);
        assert_eq!(
            codes(&used_by_aws),
            vec![(Code::AcmCertExpired, Severity::Critical)]
        );
        let mut in_use_by = unused_cert(-40);
        in_use_by.in_use_by =
            vec!["arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE".into()];
        assert_eq!(
            codes(&in_use_by),
            vec![(Code::AcmCertExpired, Severity::Critical)]
        );
        assert_eq!(
            codes(&cert(-40)),
            vec![(Code::AcmCertExpired, Severity::Critical)],
            "a distribution in the evidence uses it"
        );
        let mut unknown = unused_cert(-40);
        unknown.in_use = None;
        assert_eq!(
            codes(&unknown),
            vec![(Code::AcmCertExpired, Severity::Critical)],
            "when ACM did not say, it is not played down"
        );
        let mut ineligible_used = cert(200);
        ineligible_used.renewal_eligibility = Some("INELIGIBLE".into());
        assert_eq!(
            codes(&ineligible_used),
            vec![(Code::AcmCertRenewalAtRisk, Severity::Warning)]
        );
    }

    #[test]
    fn an_imported_certificate_is_a_renewal_risk_only_inside_the_warning_window() {
        let mut far = cert(40);
        far.cert_type = "IMPORTED".into();
        assert!(codes(&far).is_empty(), "40 days: nothing to do yet");
        let mut near = cert(20);
        near.cert_type = "IMPORTED".into();
        assert_eq!(
            codes(&near),
            vec![
                (Code::AcmCertExpiring, Severity::Warning),
                (Code::AcmCertRenewalAtRisk, Severity::Warning)
            ]
        );
    }

    #[test]
    fn a_certificate_not_issued_is_critical() {
        let mut c = cert(50);
        c.status = Some("PENDING_VALIDATION".into());
        assert_eq!(
            codes(&c),
            vec![(Code::AcmCertNotIssued, Severity::Critical)]
        );
    }
}
