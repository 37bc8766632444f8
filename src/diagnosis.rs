//! The diagnosis vocabulary: finding codes (the stable catalog of CONTRACT.md), severities,
//! findings, and how findings are ranked into one report.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Every finding cf-doctor can report. The kebab-case names are a public contract (SNS filter
/// policies match on them): never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    OriginDnsFailure,
    OriginConnectionRefused,
    OriginConnectionTimeout,
    OriginTlsHandshakeFailed,
    OriginTlsProtocolMismatch,
    OriginCertExpired,
    OriginCertNotYetValid,
    OriginCertExpiring,
    OriginCertNameMismatch,
    OriginCertSelfSigned,
    OriginCertUntrusted,
    OriginCertChainOrder,
    OriginHttpError,
    OriginSlow,
    OriginSecurityGroupBlocksPort,
    OriginListenerMissing,
    OriginNoHealthyTargets,
    AcmCertExpired,
    AcmCertExpiring,
    AcmCertRenewalAtRisk,
    AcmCertNotIssued,
    ViewerCertAliasUncovered,
    DistributionDisabled,
    DistributionDeploying,
    EdgeErrorFromCloudfront,
    InspectionIncomplete,
}

const DOC_502: &str =
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-502-bad-gateway.html";
const DOC_503: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-503-service-unavailable.html";
const DOC_504: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-504-gateway-timeout.html";

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::OriginDnsFailure => "origin-dns-failure",
            Code::OriginConnectionRefused => "origin-connection-refused",
            Code::OriginConnectionTimeout => "origin-connection-timeout",
            Code::OriginTlsHandshakeFailed => "origin-tls-handshake-failed",
            Code::OriginTlsProtocolMismatch => "origin-tls-protocol-mismatch",
            Code::OriginCertExpired => "origin-cert-expired",
            Code::OriginCertNotYetValid => "origin-cert-not-yet-valid",
            Code::OriginCertExpiring => "origin-cert-expiring",
            Code::OriginCertNameMismatch => "origin-cert-name-mismatch",
            Code::OriginCertSelfSigned => "origin-cert-self-signed",
            Code::OriginCertUntrusted => "origin-cert-untrusted",
            Code::OriginCertChainOrder => "origin-cert-chain-order",
            Code::OriginHttpError => "origin-http-error",
            Code::OriginSlow => "origin-slow",
            Code::OriginSecurityGroupBlocksPort => "origin-security-group-blocks-port",
            Code::OriginListenerMissing => "origin-listener-missing",
            Code::OriginNoHealthyTargets => "origin-no-healthy-targets",
            Code::AcmCertExpired => "acm-cert-expired",
            Code::AcmCertExpiring => "acm-cert-expiring",
            Code::AcmCertRenewalAtRisk => "acm-cert-renewal-at-risk",
            Code::AcmCertNotIssued => "acm-cert-not-issued",
            Code::ViewerCertAliasUncovered => "viewer-cert-alias-uncovered",
            Code::DistributionDisabled => "distribution-disabled",
            Code::DistributionDeploying => "distribution-deploying",
            Code::EdgeErrorFromCloudfront => "edge-error-from-cloudfront",
            Code::InspectionIncomplete => "inspection-incomplete",
        }
    }

    /// The AWS page that explains this failure (CONTRACT.md, "Where a finding's docs link points").
    pub fn docs(self) -> String {
        let anchored = |anchor: &str| format!("{DOC_502}#{anchor}");
        match self {
            Code::OriginCertExpired | Code::OriginCertNotYetValid | Code::OriginCertExpiring => {
                anchored("ssl-certificate-expired")
            }
            Code::OriginTlsProtocolMismatch => {
                anchored("origin-not-responding-with-supported-ciphers-protocols")
            }
            Code::OriginTlsHandshakeFailed
            | Code::OriginCertNameMismatch
            | Code::OriginCertSelfSigned
            | Code::OriginCertUntrusted
            | Code::OriginCertChainOrder => anchored("ssl-negotitation-failure"),
            Code::OriginConnectionRefused | Code::OriginListenerMissing => {
                anchored("origin-not-responding-on-specified-ports")
            }
            Code::OriginDnsFailure => anchored("http-502-dns-error"),
            Code::OriginConnectionTimeout
            | Code::OriginSlow
            | Code::OriginSecurityGroupBlocksPort => DOC_504.to_string(),
            Code::OriginNoHealthyTargets | Code::OriginHttpError => DOC_503.to_string(),
            Code::AcmCertRenewalAtRisk => {
                "https://docs.aws.amazon.com/acm/latest/userguide/troubleshooting-renewal.html"
                    .to_string()
            }
            Code::AcmCertExpired | Code::AcmCertExpiring | Code::AcmCertNotIssued => {
                "https://docs.aws.amazon.com/acm/latest/userguide/troubleshooting-renewal.html"
                    .to_string()
            }
            Code::ViewerCertAliasUncovered => "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html".to_string(),
            Code::DistributionDisabled | Code::DistributionDeploying | Code::EdgeErrorFromCloudfront => {
                "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/troubleshooting-distributions.html".to_string()
            }
            Code::InspectionIncomplete => {
                "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/security-iam.html"
                    .to_string()
            }
        }
    }

    /// Where on the path viewer -> CloudFront -> origin the fault sits; a lower layer is ranked first
    /// among equally severe findings because it is what CloudFront meets first on the wire.
    fn layer(self) -> u8 {
        match self {
            Code::DistributionDisabled | Code::DistributionDeploying => 0,
            Code::OriginDnsFailure => 1,
            Code::OriginConnectionRefused
            | Code::OriginConnectionTimeout
            | Code::OriginSecurityGroupBlocksPort
            | Code::OriginListenerMissing => 2,
            Code::OriginTlsProtocolMismatch | Code::OriginTlsHandshakeFailed => 3,
            Code::OriginCertExpired
            | Code::OriginCertNotYetValid
            | Code::OriginCertSelfSigned
            | Code::OriginCertUntrusted
            | Code::OriginCertNameMismatch
            | Code::OriginCertChainOrder => 4,
            Code::OriginNoHealthyTargets | Code::OriginHttpError | Code::OriginSlow => 5,
            Code::OriginCertExpiring => 6,
            Code::EdgeErrorFromCloudfront => 7,
            Code::AcmCertExpired | Code::AcmCertNotIssued | Code::ViewerCertAliasUncovered => 8,
            Code::AcmCertRenewalAtRisk | Code::AcmCertExpiring => 9,
            Code::InspectionIncomplete => 10,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warning,
    Critical,
    /// Nothing wrong was found, but something could not be checked: not the same as healthy.
    Unknown,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl Verdict {
    /// Monitoring-plugin exit codes (CONTRACT.md).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
            Verdict::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One thing found wrong (or at risk), with the evidence that shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// The HTTP statuses viewers get from CloudFront because of this (empty: none directly).
    pub status_codes: Vec<u16>,
    /// An ARN, or `host:port` / `host:port@address` for a live origin.
    pub resource: String,
    pub title: String,
    pub evidence: serde_json::Value,
    pub remediation: String,
    pub docs: String,
}

impl Finding {
    pub fn new(code: Code, severity: Severity, resource: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            status_codes: Vec::new(),
            resource: resource.into(),
            title: String::new(),
            evidence: serde_json::Value::Null,
            remediation: String::new(),
            docs: code.docs(),
        }
    }
    pub fn statuses(mut self, codes: &[u16]) -> Self {
        self.status_codes = codes.to_vec();
        self
    }
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
    pub fn evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = evidence;
        self
    }
    pub fn remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = remediation.into();
        self
    }
    pub fn docs(mut self, docs: impl Into<String>) -> Self {
        self.docs = docs.into();
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Error,
    Skipped,
}

/// One thing that was looked at, passed or not: so that "nothing found" can be trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub target: String,
    pub outcome: Outcome,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    pub fn new(
        name: &str,
        target: &str,
        outcome: Outcome,
        duration_ms: u64,
        detail: Option<String>,
    ) -> Check {
        Check {
            name: name.into(),
            target: target.into(),
            outcome,
            duration_ms,
            detail,
        }
    }

    /// A check timed from `started` until now.
    pub fn since(
        name: &str,
        target: &str,
        outcome: Outcome,
        started: std::time::Instant,
        detail: Option<String>,
    ) -> Check {
        Check::new(
            name,
            target,
            outcome,
            started.elapsed().as_millis() as u64,
            detail,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerInfo {
    /// alarm | schedule | acm-event | manual
    pub kind: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_id: Option<String>,
    /// The status the alarm is about (502 for a 502ErrorRate alarm); None for 5xxErrorRate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

pub const SCHEMA: &str = "cf-doctor/diagnosis/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub schema: String,
    pub trigger: TriggerInfo,
    pub verdict: Verdict,
    pub summary: String,
    pub probable_cause: Option<Code>,
    pub findings: Vec<Finding>,
    pub checks: Vec<Check>,
    /// CloudWatch readings of the distribution and its load balancers, when any were read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<crate::evidence::MetricReading>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
}

impl Diagnosis {
    /// Ranks the findings and derives verdict, probable cause and summary from them.
    pub fn assemble(
        trigger: TriggerInfo,
        mut findings: Vec<Finding>,
        checks: Vec<Check>,
        started_at: DateTime<Utc>,
        duration_ms: u64,
    ) -> Diagnosis {
        rank(&mut findings, trigger.status);
        let verdict = verdict_of(&findings);
        let probable_cause = findings
            .first()
            .filter(|f| f.severity > Severity::Info)
            .map(|f| f.code);
        let summary = summarise(&trigger, verdict, &findings);
        Diagnosis {
            schema: SCHEMA.to_string(),
            trigger,
            verdict,
            summary,
            probable_cause,
            findings,
            checks,
            metrics: Vec::new(),
            started_at,
            duration_ms,
        }
    }

    pub fn codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<_> = self.findings.iter().map(|f| f.code.as_str()).collect();
        codes.dedup();
        let mut seen = std::collections::BTreeSet::new();
        codes.retain(|c| seen.insert(*c));
        codes
    }
}

/// Most severe first; among equals, the finding that explains the alarmed status, then the one
/// nearest to CloudFront on the wire (a refused port hides any certificate problem behind it).
pub fn rank(findings: &mut [Finding], alarm_status: Option<u16>) {
    let explains = |f: &Finding| match alarm_status {
        Some(status) => f.status_codes.contains(&status),
        None => f.status_codes.iter().any(|s| (500..600).contains(s)),
    };
    // Sooner is more urgent: a certificate 2 days from expiry before one 10 days away.
    let days_left = |f: &Finding| {
        f.evidence
            .get("days_left")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(i64::MAX)
    };
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| explains(b).cmp(&explains(a)))
            .then_with(|| days_left(a).cmp(&days_left(b)))
            .then_with(|| a.code.layer().cmp(&b.code.layer()))
            .then_with(|| a.resource.cmp(&b.resource))
    });
}

fn verdict_of(findings: &[Finding]) -> Verdict {
    let worst = findings
        .iter()
        .filter(|f| f.code != Code::InspectionIncomplete)
        .map(|f| f.severity)
        .max();
    match worst {
        Some(Severity::Critical) => Verdict::Critical,
        Some(Severity::Warning) => Verdict::Warning,
        _ if findings
            .iter()
            .any(|f| f.code == Code::InspectionIncomplete) =>
        {
            Verdict::Unknown
        }
        _ => Verdict::Ok,
    }
}

fn summarise(trigger: &TriggerInfo, verdict: Verdict, findings: &[Finding]) -> String {
    let subject = trigger
        .distribution_id
        .as_deref()
        .map(|id| format!("distribution {id}"))
        .unwrap_or_else(|| match trigger.kind.as_str() {
            "acm-event" => "certificate".to_string(),
            _ => "sweep".to_string(),
        });
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity).or_default() += 1;
    }
    match (verdict, findings.first()) {
        (Verdict::Ok, _) => format!("{subject}: no problem found"),
        (Verdict::Unknown, _) => format!(
            "{subject}: nothing wrong found, but the inspection was incomplete (see inspection-incomplete)"
        ),
        (_, Some(first)) if trigger.distribution_id.is_none() => {
            let counted: Vec<String> = [(Severity::Critical, "critical"), (Severity::Warning, "warning")]
                .iter()
                .filter_map(|(s, name)| counts.get(s).map(|n| format!("{n} {name}")))
                .collect();
            format!("{}: {subject}: {}; most urgent: {}", verdict.as_str().to_uppercase(), counted.join(", "), first.title)
        }
        (_, Some(first)) => {
            let others = findings.len() - 1;
            let more = match others {
                0 => String::new(),
                1 => " (+1 more finding)".to_string(),
                n => format!(" (+{n} more findings)"),
            };
            format!("{}: {}: {}{more}", verdict.as_str().to_uppercase(), subject, first.title)
        }
        (_, None) => format!("{subject}: {}", verdict.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: Code, severity: Severity, statuses: &[u16]) -> Finding {
        Finding::new(code, severity, "r")
            .statuses(statuses)
            .title(code.as_str())
    }

    #[test]
    fn codes_serialise_as_their_contract_names() {
        let json = serde_json::to_string(&Code::OriginCertExpired).unwrap();
        assert_eq!(json, "\"origin-cert-expired\"");
        assert_eq!(
            Code::AcmCertRenewalAtRisk.as_str(),
            "acm-cert-renewal-at-risk"
        );
    }

    #[test]
    fn the_finding_that_explains_the_alarmed_status_comes_first() {
        let mut findings = vec![
            finding(Code::OriginConnectionTimeout, Severity::Critical, &[504]),
            finding(Code::OriginCertExpired, Severity::Critical, &[502]),
        ];
        rank(&mut findings, Some(502));
        assert_eq!(findings[0].code, Code::OriginCertExpired);
        rank(&mut findings, Some(504));
        assert_eq!(findings[0].code, Code::OriginConnectionTimeout);
    }

    #[test]
    fn severity_outranks_layer() {
        let mut findings = vec![
            finding(Code::OriginCertExpiring, Severity::Warning, &[]),
            finding(Code::AcmCertExpired, Severity::Critical, &[]),
        ];
        rank(&mut findings, None);
        assert_eq!(findings[0].code, Code::AcmCertExpired);
    }

    #[test]
    fn a_gap_alone_is_unknown_not_ok() {
        let findings = vec![finding(Code::InspectionIncomplete, Severity::Warning, &[])];
        assert_eq!(verdict_of(&findings), Verdict::Unknown);
        assert_eq!(verdict_of(&[]), Verdict::Ok);
    }
}
