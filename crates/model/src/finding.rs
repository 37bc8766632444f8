//! Findings: the stable catalog of codes (docs/contract.md), severities, where on the wire a fault
//! sits, and one finding with its evidence.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::fix::Fix;

/// Declares the catalog once: each code's variant and its contract name, from which `as_str`,
/// parsing, serde and the list of every code all follow.
macro_rules! catalog {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every finding cf-doctor can report. The kebab-case names are a public contract (SNS
        /// filter policies match on them): never rename one, only add.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in catalog order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The contract name, e.g. `origin-cert-expired`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The code with this contract name.
            pub fn from_name(name: &str) -> Option<Code> {
                match name {
                    $($name => Some(Code::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

catalog! {
    OriginDnsFailure = "origin-dns-failure",
    OriginConnectionRefused = "origin-connection-refused",
    OriginConnectionTimeout = "origin-connection-timeout",
    OriginTlsHandshakeFailed = "origin-tls-handshake-failed",
    OriginTlsProtocolMismatch = "origin-tls-protocol-mismatch",
    OriginCertExpired = "origin-cert-expired",
    OriginCertNotYetValid = "origin-cert-not-yet-valid",
    OriginCertExpiring = "origin-cert-expiring",
    OriginCertNameMismatch = "origin-cert-name-mismatch",
    OriginCertSelfSigned = "origin-cert-self-signed",
    OriginCertUntrusted = "origin-cert-untrusted",
    OriginCertChainOrder = "origin-cert-chain-order",
    OriginHttpError = "origin-http-error",
    OriginSlow = "origin-slow",
    OriginSecurityGroupBlocksPort = "origin-security-group-blocks-port",
    OriginListenerMissing = "origin-listener-missing",
    OriginNoHealthyTargets = "origin-no-healthy-targets",
    OriginInstanceNotRunning = "origin-instance-not-running",
    AcmCertExpired = "acm-cert-expired",
    AcmCertExpiring = "acm-cert-expiring",
    AcmCertRenewalAtRisk = "acm-cert-renewal-at-risk",
    AcmCertNotIssued = "acm-cert-not-issued",
    ViewerCertAliasUncovered = "viewer-cert-alias-uncovered",
    DistributionDisabled = "distribution-disabled",
    DistributionDeploying = "distribution-deploying",
    EdgeErrorFromCloudfront = "edge-error-from-cloudfront",
    CloudfrontLoggedOriginErrors = "cloudfront-logged-origin-errors",
    LambdaEdgeExecutionError = "lambda-edge-execution-error",
    LambdaEdgeValidationError = "lambda-edge-validation-error",
    LambdaEdgeThrottled = "lambda-edge-throttled",
    LambdaEdgeMisconfigured = "lambda-edge-misconfigured",
    CloudfrontFunctionExecutionError = "cloudfront-function-execution-error",
    CloudfrontFunctionValidationError = "cloudfront-function-validation-error",
    CloudfrontFunctionThrottled = "cloudfront-function-throttled",
    OriginMtlsCertExpired = "origin-mtls-cert-expired",
    OriginMtlsCertExpiring = "origin-mtls-cert-expiring",
    OriginMtlsRequired = "origin-mtls-required",
    VpcOriginNotDeployed = "vpc-origin-not-deployed",
    InspectionIncomplete = "inspection-incomplete",
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Code::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!("{name:?} is not a cf-doctor finding code"))
        })
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const DOC_502: &str =
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-502-bad-gateway.html";
const DOC_503: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-503-service-unavailable.html";
const DOC_504: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-504-gateway-timeout.html";
const DOC_ACM_RENEWAL: &str =
    "https://docs.aws.amazon.com/acm/latest/userguide/troubleshooting-renewal.html";
const DOC_DISTRIBUTIONS: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/troubleshooting-distributions.html";
const DOC_LAMBDA_EDGE_RESTRICTIONS: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html";
const DOC_FUNCTION_COMPUTE: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-function-restrictions.html#cloudfront-function-restrictions-compute-utilization";
const DOC_ORIGIN_MTLS: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/origin-mtls-authentication.html";
const DOC_VPC_ORIGINS: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html";
const DOC_LOG_FIELDS: &str = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html";

/// Where on the path viewer -> CloudFront -> origin a fault sits, in the order CloudFront meets
/// them: among equally severe findings the nearer one is ranked first, because a refused port
/// hides any certificate problem behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    /// The distribution itself (disabled, deploying).
    Distribution,
    /// The edge's own code (Lambda@Edge, CloudFront Functions): it runs on the request before
    /// CloudFront connects to the origin, so a failing function hides whatever lies behind it.
    EdgeCode,
    Dns,
    /// TCP: the port, and what lets packets reach it (listener, security group).
    Connection,
    /// The TLS handshake: protocols and ciphers.
    Handshake,
    /// The certificate the origin presents.
    Certificate,
    /// The origin's own HTTP answer and what stands behind it (targets).
    Application,
    /// A certificate that still works but will not for long.
    ExpiryAhead,
    /// What viewers get at the edge.
    Edge,
    /// Certificates in ACM, judged from the API rather than the wire.
    AcmNow,
    AcmAhead,
    /// What could not be inspected.
    Gap,
}

impl Code {
    /// The AWS page that explains this failure (docs/contract.md, "Documentation links").
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
            | Code::OriginSecurityGroupBlocksPort
            | Code::OriginInstanceNotRunning => DOC_504.to_string(),
            Code::OriginNoHealthyTargets | Code::OriginHttpError => DOC_503.to_string(),
            Code::AcmCertRenewalAtRisk
            | Code::AcmCertExpired
            | Code::AcmCertExpiring
            | Code::AcmCertNotIssued => DOC_ACM_RENEWAL.to_string(),
            Code::ViewerCertAliasUncovered => "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html".to_string(),
            Code::DistributionDisabled
            | Code::DistributionDeploying
            | Code::EdgeErrorFromCloudfront => DOC_DISTRIBUTIONS.to_string(),
            Code::LambdaEdgeExecutionError | Code::CloudfrontFunctionExecutionError => {
                format!("{DOC_503}#http-503-lambda-execution-error")
            }
            Code::LambdaEdgeThrottled => format!("{DOC_503}#http-503-lambda-limit-exceeded-error"),
            Code::LambdaEdgeValidationError => anchored("http-502-lambda-validation-error"),
            Code::CloudfrontFunctionValidationError => {
                anchored("http-502-cloudfront-function-validation-error")
            }
            Code::LambdaEdgeMisconfigured => DOC_LAMBDA_EDGE_RESTRICTIONS.to_string(),
            Code::CloudfrontFunctionThrottled => DOC_FUNCTION_COMPUTE.to_string(),
            Code::OriginMtlsCertExpired | Code::OriginMtlsCertExpiring | Code::OriginMtlsRequired => {
                DOC_ORIGIN_MTLS.to_string()
            }
            Code::VpcOriginNotDeployed => DOC_VPC_ORIGINS.to_string(),
            Code::CloudfrontLoggedOriginErrors => DOC_LOG_FIELDS.to_string(),
            Code::InspectionIncomplete => {
                "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/security-iam.html"
                    .to_string()
            }
        }
    }

    pub fn layer(self) -> Layer {
        match self {
            Code::DistributionDisabled | Code::DistributionDeploying => Layer::Distribution,
            Code::LambdaEdgeExecutionError
            | Code::LambdaEdgeValidationError
            | Code::LambdaEdgeThrottled
            | Code::LambdaEdgeMisconfigured
            | Code::CloudfrontFunctionExecutionError
            | Code::CloudfrontFunctionValidationError
            | Code::CloudfrontFunctionThrottled => Layer::EdgeCode,
            Code::VpcOriginNotDeployed => Layer::Connection,
            Code::OriginMtlsCertExpired => Layer::Certificate,
            Code::OriginMtlsCertExpiring => Layer::ExpiryAhead,
            Code::OriginDnsFailure => Layer::Dns,
            Code::OriginConnectionRefused
            | Code::OriginConnectionTimeout
            | Code::OriginSecurityGroupBlocksPort
            | Code::OriginListenerMissing
            | Code::OriginInstanceNotRunning => Layer::Connection,
            Code::OriginTlsProtocolMismatch | Code::OriginTlsHandshakeFailed => Layer::Handshake,
            Code::OriginCertExpired
            | Code::OriginCertNotYetValid
            | Code::OriginCertSelfSigned
            | Code::OriginCertUntrusted
            | Code::OriginCertNameMismatch
            | Code::OriginCertChainOrder => Layer::Certificate,
            Code::OriginNoHealthyTargets | Code::OriginHttpError | Code::OriginSlow => {
                Layer::Application
            }
            Code::OriginCertExpiring => Layer::ExpiryAhead,
            Code::EdgeErrorFromCloudfront | Code::CloudfrontLoggedOriginErrors => Layer::Edge,
            Code::AcmCertExpired | Code::AcmCertNotIssued | Code::ViewerCertAliasUncovered => {
                Layer::AcmNow
            }
            Code::AcmCertRenewalAtRisk | Code::AcmCertExpiring => Layer::AcmAhead,
            Code::InspectionIncomplete | Code::OriginMtlsRequired => Layer::Gap,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
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

/// What ranking and the wording across findings rely on, typed. People read the same facts in
/// `evidence`, under the same names: each setter writes them there as it sets them, and parsing a
/// finding reads them back from there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Days until the certificate behind the finding expires (negative once expired): the sooner,
    /// the more urgent.
    pub days_left: Option<i64>,
    /// The direct request that bypasses CloudFront, in words ("HTTP 200 in 12 ms when asked
    /// directly, bypassing CloudFront"): the founding outage's turning point.
    pub direct_request: Option<String>,
    /// What viewers got through CloudFront at the same time, in words.
    pub via_cloudfront: Option<String>,
    /// What the resource behind the origin counted of the same failure, in words ("seen by the
    /// load balancer shop-alb: 812 failed TLS handshakes with clients in 15 minutes"): a cause
    /// its own metrics confirm ranks before one they do not.
    pub corroborated_by: Option<String>,
    /// What CloudFront's own logs say of this cause, in words, and whether they agree with it
    /// (the result types it logged are those this cause produces): an agreed cause ranks first.
    pub cloudfront_logged: Option<String>,
    pub cloudfront_agrees: Option<bool>,
}

impl Facts {
    const DAYS_LEFT: &'static str = "days_left";
    const DIRECT_REQUEST: &'static str = "direct_request";
    const VIA_CLOUDFRONT: &'static str = "via_cloudfront";
    const CORROBORATED_BY: &'static str = "corroborated_by";
    const CLOUDFRONT_LOGGED: &'static str = "cloudfront_logged";
    const CLOUDFRONT_AGREES: &'static str = "cloudfront_agrees";

    /// Writes the facts into an evidence object (a key already there keeps its place).
    fn write_into(&self, evidence: &mut Value) {
        let Value::Object(map) = evidence else {
            return;
        };
        if let Some(days) = self.days_left {
            map.insert(Self::DAYS_LEFT.into(), Value::from(days));
        }
        if let Some(direct) = &self.direct_request {
            map.insert(Self::DIRECT_REQUEST.into(), Value::from(direct.as_str()));
        }
        if let Some(via) = &self.via_cloudfront {
            map.insert(Self::VIA_CLOUDFRONT.into(), Value::from(via.as_str()));
        }
        if let Some(seen) = &self.corroborated_by {
            map.insert(Self::CORROBORATED_BY.into(), Value::from(seen.as_str()));
        }
        if let Some(logged) = &self.cloudfront_logged {
            map.insert(Self::CLOUDFRONT_LOGGED.into(), Value::from(logged.as_str()));
        }
        if let Some(agrees) = self.cloudfront_agrees {
            map.insert(Self::CLOUDFRONT_AGREES.into(), Value::from(agrees));
        }
    }

    fn read_from(evidence: &Value) -> Facts {
        let text = |key: &str| {
            evidence
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Facts {
            days_left: evidence.get(Self::DAYS_LEFT).and_then(Value::as_i64),
            direct_request: text(Self::DIRECT_REQUEST),
            via_cloudfront: text(Self::VIA_CLOUDFRONT),
            corroborated_by: text(Self::CORROBORATED_BY),
            cloudfront_logged: text(Self::CLOUDFRONT_LOGGED),
            cloudfront_agrees: evidence
                .get(Self::CLOUDFRONT_AGREES)
                .and_then(Value::as_bool),
        }
    }
}

/// One thing found wrong (or at risk), with the evidence that shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// The HTTP statuses viewers get from CloudFront because of this (empty: none directly).
    pub status_codes: Vec<u16>,
    /// An ARN, or `host:port` / `host:port@address` for a live origin.
    pub resource: String,
    pub title: String,
    /// What shows it, for people: key-value pairs rendered in every format.
    pub evidence: Value,
    pub remediation: String,
    pub docs: String,
    /// What to do about it, step by step, with the exact resources (every finding above info).
    pub fix: Option<Fix>,
    pub facts: Facts,
}

/// The contract's JSON shape of a finding (the facts live inside `evidence`).
#[derive(Serialize, Deserialize)]
struct FindingJson {
    code: Code,
    severity: Severity,
    status_codes: Vec<u16>,
    resource: String,
    title: String,
    evidence: Value,
    remediation: String,
    docs: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fix: Option<Fix>,
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FindingJson {
            code: self.code,
            severity: self.severity,
            status_codes: self.status_codes.clone(),
            resource: self.resource.clone(),
            title: self.title.clone(),
            evidence: self.evidence.clone(),
            remediation: self.remediation.clone(),
            docs: self.docs.clone(),
            fix: self.fix.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Finding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = FindingJson::deserialize(deserializer)?;
        Ok(Finding {
            facts: Facts::read_from(&json.evidence),
            code: json.code,
            severity: json.severity,
            status_codes: json.status_codes,
            resource: json.resource,
            title: json.title,
            evidence: json.evidence,
            remediation: json.remediation,
            docs: json.docs,
            fix: json.fix,
        })
    }
}

impl Finding {
    pub fn new(code: Code, severity: Severity, resource: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            status_codes: Vec::new(),
            resource: resource.into(),
            title: String::new(),
            evidence: Value::Null,
            remediation: String::new(),
            docs: code.docs(),
            fix: None,
            facts: Facts::default(),
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
    pub fn evidence(mut self, evidence: Value) -> Self {
        self.evidence = evidence;
        self.facts.write_into(&mut self.evidence);
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
    pub fn days_left(mut self, days: Option<i64>) -> Self {
        self.facts.days_left = days;
        self.facts.write_into(&mut self.evidence);
        self
    }

    /// Records what the origin answered when asked directly, bypassing CloudFront.
    pub fn set_direct_request(&mut self, direct: String) {
        self.facts.direct_request = Some(direct);
        self.facts.write_into(&mut self.evidence);
    }

    /// Records what viewers got through CloudFront at the same time.
    pub fn set_via_cloudfront(&mut self, via: String) {
        self.facts.via_cloudfront = Some(via);
        self.facts.write_into(&mut self.evidence);
    }

    /// Records what CloudFront's own logs say of this cause, and whether they agree with it.
    pub fn set_cloudfront_logged(&mut self, words: String, agrees: bool) {
        self.facts.cloudfront_logged = Some(words);
        self.facts.cloudfront_agrees = Some(agrees);
        self.facts.write_into(&mut self.evidence);
    }

    /// Records what the resource behind the origin counted of the same failure.
    pub fn set_corroborated_by(&mut self, seen: String) {
        self.facts.corroborated_by = Some(seen);
        self.facts.write_into(&mut self.evidence);
    }

    /// Whether this finding explains the status an alarm is about (any 5xx when it names none).
    pub fn explains(&self, alarm_status: Option<u16>) -> bool {
        match alarm_status {
            Some(status) => self.status_codes.contains(&status),
            None => self.status_codes.iter().any(|s| (500..600).contains(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_contract_names_and_parse_back() {
        let json = serde_json::to_string(&Code::OriginCertExpired).unwrap();
        assert_eq!(json, "\"origin-cert-expired\"");
        for code in Code::ALL {
            let text = serde_json::to_string(code).unwrap();
            assert_eq!(text, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<Code>(&text).unwrap(), *code);
        }
        let err = serde_json::from_str::<Code>("\"origin-on-fire\"").unwrap_err();
        assert!(
            err.to_string().contains("not a cf-doctor finding code"),
            "{err}"
        );
    }

    #[test]
    fn facts_are_shown_in_the_evidence_and_read_back_from_it() {
        let mut finding = Finding::new(Code::OriginCertExpired, Severity::Critical, "o:443")
            .days_left(Some(-3))
            .evidence(serde_json::json!({"subject": "CN=o", "days_left": -3, "serial": "01"}));
        finding.set_direct_request("HTTP 200 in 4 ms".into());
        let json = serde_json::to_value(&finding).unwrap();
        let keys: Vec<&String> = json["evidence"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["subject", "days_left", "serial", "direct_request"]);
        let back: Finding = serde_json::from_value(json).unwrap();
        assert_eq!(back.facts, finding.facts);
    }
}
