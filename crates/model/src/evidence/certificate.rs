//! An ACM certificate as ACM describes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A certificate as ACM describes it (viewer certificates, listener certificates, the sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcmCertificate {
    pub arn: String,
    pub region: String,
    pub domain_name: String,
    pub subject_alternative_names: Vec<String>,
    /// ISSUED, PENDING_VALIDATION, EXPIRED, FAILED, REVOKED, INACTIVE, VALIDATION_TIMED_OUT; None
    /// when ACM did not say (written `""` by builds before it was an `Option`).
    #[serde(default, deserialize_with = "super::empty_as_none")]
    pub status: Option<String>,
    /// AMAZON_ISSUED, IMPORTED, PRIVATE
    pub cert_type: String,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// ELIGIBLE or INELIGIBLE
    pub renewal_eligibility: Option<String>,
    pub renewal_status: Option<String>,
    pub renewal_status_reason: Option<String>,
    /// EMAIL, DNS or HTTP, one per validated domain.
    pub validation_methods: Vec<String>,
    pub in_use_by: Vec<String>,
    /// Whether an AWS resource uses it, as ACM says: the summary's InUse flag, or whether
    /// DescribeCertificate's InUseBy names anything. None when ACM did not say (older evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_use: Option<bool>,
    /// Why cf-doctor looked at it, e.g. "viewer certificate of E2EXAMPLE (shop.example)".
    pub used_as: Vec<String>,
}

impl AcmCertificate {
    /// Its status when ACM said one and it is not ISSUED: the certificate cannot serve TLS.
    pub fn not_issued(&self) -> Option<&str> {
        self.status.as_deref().filter(|s| *s != "ISSUED")
    }

    pub fn has_status(&self, status: &str) -> bool {
        self.status.as_deref() == Some(status)
    }

    /// Its status in ACM's word, or "status unknown".
    pub fn status_in_words(&self) -> &str {
        self.status.as_deref().unwrap_or("status unknown")
    }

    /// Every name the certificate covers: its subject alternative names and its domain name.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.subject_alternative_names.clone();
        if !names.contains(&self.domain_name) {
            names.push(self.domain_name.clone());
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_status(status: serde_json::Value) -> AcmCertificate {
        serde_json::from_value(serde_json::json!({
            "arn": "arn:aws:acm:us-east-1:123456789012:certificate/1",
            "region": "us-east-1",
            "domain_name": "shop.example",
            "subject_alternative_names": [],
            "status": status,
            "cert_type": "AMAZON_ISSUED",
            "not_before": null,
            "not_after": null,
            "renewal_eligibility": null,
            "renewal_status": null,
            "renewal_status_reason": null,
            "validation_methods": [],
            "in_use_by": [],
            "used_as": [],
        }))
        .unwrap()
    }

    #[test]
    fn a_status_acm_did_not_give_is_unknown_never_not_issued() {
        for unknown in [serde_json::json!(""), serde_json::Value::Null] {
            let cert = with_status(unknown);
            assert_eq!(cert.status, None);
            assert_eq!(cert.not_issued(), None);
            assert_eq!(cert.status_in_words(), "status unknown");
        }
        assert_eq!(with_status("FAILED".into()).not_issued(), Some("FAILED"));
        assert_eq!(with_status("ISSUED".into()).not_issued(), None);
    }
}
