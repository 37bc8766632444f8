//! ACM: DescribeCertificate, mapped into the Evidence model.

use aws_sdk_acm::types::CertificateDetail;
use chrono::{DateTime, Utc};

use crate::{error_text, CollectError};
use cf_doctor_model::evidence::{AcmCertificate, Gap};

/// Describes one certificate; a failure is a gap in the evidence, not a failed inspection.
pub async fn describe_certificate(
    client: &aws_sdk_acm::Client,
    region: &str,
    arn: &str,
    used_as: &str,
) -> Result<AcmCertificate, Gap> {
    let gap = |error: String| Gap {
        action: "acm:DescribeCertificate".into(),
        resource: arn.into(),
        error,
        unchecked: format!("expiry and renewal of the {used_as}"),
    };
    let out = client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(|e| gap(error_text(&e)))?;
    let detail = out
        .certificate()
        .ok_or_else(|| gap("the answer carried no certificate".into()))?;
    Ok(map_certificate(detail, region, arn, used_as))
}

pub fn map_certificate(
    c: &CertificateDetail,
    region: &str,
    arn: &str,
    used_as: &str,
) -> AcmCertificate {
    let mut validation_methods: Vec<String> = c
        .domain_validation_options()
        .iter()
        .filter_map(|d| d.validation_method().map(|m| m.as_str().to_string()))
        .collect();
    validation_methods.sort();
    validation_methods.dedup();
    let renewal = c.renewal_summary();
    AcmCertificate {
        arn: c.certificate_arn().unwrap_or(arn).to_string(),
        region: region.to_string(),
        domain_name: c.domain_name().unwrap_or_default().to_string(),
        subject_alternative_names: c.subject_alternative_names().to_vec(),
        status: c.status().map(|s| s.as_str().to_string()),
        cert_type: c
            .r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        not_before: c.not_before().and_then(to_chrono),
        not_after: c.not_after().and_then(to_chrono),
        renewal_eligibility: c.renewal_eligibility().map(|r| r.as_str().to_string()),
        renewal_status: renewal.map(|r| r.renewal_status().as_str().to_string()),
        renewal_status_reason: renewal
            .and_then(|r| r.renewal_status_reason())
            .map(|r| r.as_str().to_string()),
        validation_methods,
        in_use_by: c.in_use_by().to_vec(),
        in_use: Some(!c.in_use_by().is_empty()),
        used_as: vec![used_as.to_string()],
    }
}

pub fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// The region an ACM ARN lives in (arn:aws:acm:REGION:ACCOUNT:certificate/ID).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Every certificate in one region, from ListCertificates summaries (pages of up to 1000), all key
/// types included (by default ACM lists only RSA_1024 and RSA_2048).
pub async fn list_certificates(
    client: &aws_sdk_acm::Client,
    region: &str,
) -> Result<Vec<AcmCertificate>, CollectError> {
    use aws_sdk_acm::types::{Filters, KeyAlgorithm};
    let mut filters = Filters::builder();
    for key in KeyAlgorithm::values() {
        filters = filters.key_types(KeyAlgorithm::from(*key));
    }
    let mut pages = client
        .list_certificates()
        .includes(filters.build())
        .max_items(1000)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| CollectError::aws("acm:ListCertificates", region, &e))?;
        out.extend(
            page.certificate_summary_list()
                .iter()
                .map(|s| map_summary(s, region)),
        );
    }
    Ok(out)
}

fn map_summary(s: &aws_sdk_acm::types::CertificateSummary, region: &str) -> AcmCertificate {
    AcmCertificate {
        arn: s.certificate_arn().unwrap_or_default().to_string(),
        region: region.to_string(),
        domain_name: s.domain_name().unwrap_or_default().to_string(),
        subject_alternative_names: s.subject_alternative_name_summaries().to_vec(),
        status: s.status().map(|v| v.as_str().to_string()),
        cert_type: s
            .r#type()
            .map(|v| v.as_str().to_string())
            .unwrap_or_default(),
        not_before: s.not_before().and_then(to_chrono),
        not_after: s.not_after().and_then(to_chrono),
        renewal_eligibility: s.renewal_eligibility().map(|v| v.as_str().to_string()),
        renewal_status: None,
        renewal_status_reason: None,
        validation_methods: Vec::new(),
        in_use_by: Vec::new(),
        in_use: s.in_use(),
        used_as: Vec::new(),
    }
}

/// ACM starts managed renewal 60 days before expiry; describing certificates inside this horizon
/// shows a stuck renewal (EMAIL validation, pending or failed) weeks before it becomes an outage.
pub const RENEWAL_HORIZON_DAYS: i64 = 90;

/// Whether the summary leaves the risk undecided: an issued Amazon certificate near expiry whose
/// validation method and renewal state only DescribeCertificate shows. Imported, private, expired
/// or not-issued certificates are decided by the summary alone.
pub fn needs_describe(cert: &AcmCertificate, now: DateTime<Utc>) -> bool {
    if cert.cert_type != "AMAZON_ISSUED" || !cert.has_status("ISSUED") {
        return false;
    }
    match cert.not_after {
        None => true,
        Some(t) => (t - now).num_days() <= RENEWAL_HORIZON_DAYS,
    }
}

/// Fills a summary in with what DescribeCertificate adds, keeping who uses it. It counts as in
/// use when either answer says so: a certificate is never called unused on one of two readings.
pub fn merge_described(summary: &mut AcmCertificate, described: AcmCertificate) {
    let used_as = std::mem::take(&mut summary.used_as);
    let in_use = match (summary.in_use, described.in_use) {
        (None, None) => None,
        (a, b) => Some(a == Some(true) || b == Some(true)),
    };
    *summary = AcmCertificate {
        used_as,
        in_use,
        ..described
    };
}
