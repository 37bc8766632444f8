//! An organization's sweep as plain data: what one member account's sweep hands to the merge
//! (bounded, so that it fits in a Step Functions state), and how account ids are recognised.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::build_info::BuildInfo;
use crate::diagnosis::Verdict;
use crate::finding::Finding;

pub const ACCOUNT_SWEEP_SCHEMA: &str = "cf-doctor/account-sweep/v1";

/// One account's sweep, as the organization digest merges it: the findings above info (each
/// naming the account), counts of the rest, and what gave way to keep it small. The account's
/// full digest is in the log of the run that swept it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountSweep {
    pub schema: String,
    /// The build that made it (`cf_doctor_version`, `cf_doctor_commit`), beside the schema.
    #[serde(flatten, default)]
    pub build: BuildInfo,
    pub account: String,
    /// The account's name in AWS Organizations, when the list came from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub verdict: Verdict,
    /// The account's own digest summary line.
    pub summary: String,
    /// Ranked, most urgent first; only findings above info (an account that could not be
    /// inspected has its `inspection-incomplete` finding here).
    pub findings: Vec<Finding>,
    pub counts: AccountCounts,
    /// What gave way to keep the summary under its bound, when anything did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    /// Why the account could not be inspected at all (its role could not be assumed, its sweep
    /// did not finish in time); None when it was swept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_inspected: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
}

/// What one account's sweep covered and found, counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountCounts {
    pub critical: usize,
    pub warning: usize,
    pub info: usize,
    pub distributions: usize,
    pub certificates: usize,
    pub checks: usize,
}

/// An AWS account id: exactly twelve digits (AWS's own form; surrounding blanks are ignored).
pub fn account_id(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_id_is_twelve_digits() {
        assert_eq!(account_id(" 111122223333 "), Some("111122223333".into()));
        for bad in [
            "11112222333",
            "1111222233334",
            "11112222333a",
            "",
            "arn:aws:iam::1",
        ] {
            assert_eq!(account_id(bad), None, "{bad:?}");
        }
    }
}
