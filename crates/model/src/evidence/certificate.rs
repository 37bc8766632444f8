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
    /// ISSUED, PENDING_VALIDATION, EXPIRED, FAILED, REVOKED, INACTIVE, VALIDATION_TIMED_OUT
    pub status: String,
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
    /// Every name the certificate covers: its subject alternative names and its domain name.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.subject_alternative_names.clone();
        if !names.contains(&self.domain_name) {
            names.push(self.domain_name.clone());
        }
        names
    }
}
