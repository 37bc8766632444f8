//! The Evidence model: everything collected about a target, as plain serialisable data, so that a
//! diagnosis can be replayed offline and rules can be tested with hand-built values.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::{Check, CheckOutcome};
use crate::cloudfront_log::CloudfrontLog;
use crate::finding::Severity;
use crate::functions::{CloudfrontFunction, FunctionAssociation, LambdaEdgeFunction};
use crate::instance::InstanceOrigin;
use crate::vpc_origin::{VpcOrigin, VpcOriginRef};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The clock, read once by collect: rules never read it themselves.
    pub now: DateTime<Utc>,
    pub thresholds: Thresholds,
    pub distributions: Vec<Distribution>,
    pub certificates: Vec<AcmCertificate>,
    pub origin_probes: Vec<OriginProbe>,
    /// The load balancers found behind custom origins, with listener, security groups and targets.
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    /// Origins that several load balancers could serve (their HTTPS listeners on the origin port
    /// all have a certificate covering the origin name): named, none inspected.
    #[serde(default)]
    pub load_balancer_candidates: Vec<LoadBalancerCandidates>,
    /// EC2 instances that serve custom origins themselves, found from the account's records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceOrigin>,
    /// CloudWatch readings of the distribution and its load balancers (latest in the window).
    #[serde(default)]
    pub metrics: Vec<MetricReading>,
    /// Requests through the distribution itself, as a viewer makes them.
    #[serde(default)]
    pub edge_probes: Vec<EdgeProbe>,
    /// The Lambda@Edge functions the distributions' cache behaviours run.
    #[serde(default)]
    pub lambda_edge_functions: Vec<LambdaEdgeFunction>,
    /// The CloudFront Functions the distributions' cache behaviours run.
    #[serde(default)]
    pub cloudfront_functions: Vec<CloudfrontFunction>,
    /// The VPC origins the distributions' origins name.
    #[serde(default)]
    pub vpc_origins: Vec<VpcOrigin>,
    /// What CloudFront itself logged of the alarm's window (real-time logs), when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudfront_log: Option<CloudfrontLog>,
    /// What could not be inspected (denied, throttled, timed out): never mistaken for health.
    pub gaps: Vec<Gap>,
    pub checks: Vec<Check>,
    /// The AWS account it was collected in, when that is a member account reached through its
    /// role (an organization sweep, an alarm forwarded from a member account); None for the
    /// account cf-doctor runs in. Every finding then names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub expiry_warn_days: i64,
    pub expiry_critical_days: i64,
}

impl Thresholds {
    /// How urgent an expiry `days_left` away is: critical inside the critical window, a warning
    /// inside the warning window, nothing beyond it.
    pub fn grade(&self, days_left: i64) -> Option<Severity> {
        if days_left <= self.expiry_critical_days {
            Some(Severity::Critical)
        } else if days_left <= self.expiry_warn_days {
            Some(Severity::Warning)
        } else {
            None
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            expiry_warn_days: 30,
            expiry_critical_days: 7,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// What could not be done: an AWS API action (`acm:DescribeCertificate`), `deadline` for work
    /// the Lambda deadline left no time to start, or `sweep` for what a sweep did not reach. (Probe steps that could not succeed from
    /// here are findings with an `action` in their evidence, such as `origin-tcp`, not gaps.)
    pub action: String,
    pub resource: String,
    pub error: String,
    /// What is therefore unknown, in words.
    pub unchecked: String,
}

impl Evidence {
    /// One AWS call's outcome, recorded: a passing check named `check` for `target` and the
    /// value, or a check in error and the gap that says what is therefore unknown.
    pub fn recorded<T>(
        &mut self,
        check: &str,
        target: &str,
        started: std::time::Instant,
        result: Result<T, Gap>,
    ) -> Option<T> {
        match result {
            Ok(value) => {
                self.checks.push(Check::since(
                    check,
                    target,
                    CheckOutcome::Pass,
                    started,
                    None,
                ));
                Some(value)
            }
            Err(gap) => {
                self.checks.push(Check::since(
                    check,
                    target,
                    CheckOutcome::Error,
                    started,
                    Some(gap.error.clone()),
                ));
                self.gaps.push(gap);
                None
            }
        }
    }
}

impl Gap {
    pub fn new(action: &str, resource: &str, error: String, unchecked: &str) -> Gap {
        Gap {
            action: action.into(),
            resource: resource.into(),
            error,
            unchecked: unchecked.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub enabled: bool,
    /// `Deployed` or `InProgress`.
    pub status: String,
    pub aliases: Vec<String>,
    pub viewer_certificate: ViewerCertificate,
    pub origins: Vec<Origin>,
    #[serde(default)]
    pub origin_groups: Vec<OriginGroup>,
    /// The functions every cache behaviour runs (Lambda@Edge and CloudFront Functions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub function_associations: Vec<FunctionAssociation>,
    /// Where CloudFront logs this distribution's requests.
    #[serde(default, skip_serializing_if = "DistributionLogs::is_empty")]
    pub logs: DistributionLogs,
    /// Custom error responses: how long CloudFront caches an error status before asking the
    /// origin again (`ErrorCachingMinTTL`; 10 seconds for a status without one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_error_responses: Vec<CustomErrorResponse>,
}

/// One of a distribution's `CustomErrorResponses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomErrorResponse {
    pub error_code: u16,
    /// Seconds CloudFront caches this status (None: not set, CloudFront's default of 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_caching_min_ttl: Option<i64>,
}

impl Distribution {
    /// How long CloudFront caches an error response with this status, in seconds, and whether
    /// a custom error response sets it (CloudFront's default is 10 seconds).
    pub fn error_caching_seconds(&self, status: u16) -> (i64, bool) {
        match self
            .custom_error_responses
            .iter()
            .find(|r| r.error_code == status)
            .and_then(|r| r.error_caching_min_ttl)
        {
            Some(ttl) => (ttl, true),
            None => (DEFAULT_ERROR_CACHING_SECONDS, false),
        }
    }
}

/// CloudFront caches an error response for 10 seconds when no custom error response says
/// otherwise (developer guide, "Control how long CloudFront caches errors").
pub const DEFAULT_ERROR_CACHING_SECONDS: i64 = 10;

/// Where CloudFront keeps its own record of a distribution's requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionLogs {
    /// The real-time log configurations its cache behaviours use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realtime: Vec<RealtimeLogUse>,
    /// Legacy standard logging to S3 (`Logging`), when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard: Option<StandardLogging>,
}

impl DistributionLogs {
    pub fn is_empty(&self) -> bool {
        self.realtime.is_empty() && self.standard.is_none()
    }
}

/// A real-time log configuration, and the cache behaviours that use it (`*` is the default one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealtimeLogUse {
    pub arn: String,
    pub behaviours: Vec<String>,
}

/// `Logging`: the S3 bucket (`bucket.s3.amazonaws.com`) and prefix CloudFront writes hourly
/// gzipped log files to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardLogging {
    pub bucket: String,
    pub prefix: String,
}

impl StandardLogging {
    /// The bucket's name (`Logging.Bucket` is its domain name).
    pub fn bucket_name(&self) -> &str {
        self.bucket
            .split_once(".s3")
            .map(|(name, _)| name)
            .unwrap_or(&self.bucket)
    }

    /// `s3://bucket/prefix`.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket_name(), self.prefix)
    }
}

/// A failover group: CloudFront tries the members in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginGroup {
    pub id: String,
    /// Member origin ids, primary first.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViewerCertificate {
    pub acm_certificate_arn: Option<String>,
    pub iam_certificate_id: Option<String>,
    pub cloudfront_default: bool,
    pub minimum_protocol_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    pub id: String,
    pub domain_name: String,
    pub kind: OriginKind,
    /// The viewer Host CloudFront forwards to this origin, when a cache behaviour that reaches it
    /// forwards the Host header: then it is the TLS SNI, and the certificate must cover it or the
    /// origin domain.
    pub forwarded_host: Option<ForwardedHost>,
}

/// The Host CloudFront sends an origin whose cache behaviours forward the viewer's Host header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardedHost {
    /// The name a viewer sends, as probed: the first alias, or a concrete name under it when that
    /// alias is a wildcard (a wildcard is never a TLS server name).
    pub host: String,
    /// The alias as configured, when it is a wildcard (`*.shop.example`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard_alias: Option<String>,
    /// What forwards it, in words ("cache behaviour /api/*: origin request policy AllViewer").
    pub forwarded_by: Vec<String>,
    /// Some cache behaviour that reaches this origin does not forward Host: CloudFront then sends
    /// the origin domain, and both are probed.
    #[serde(default)]
    pub origin_domain_too: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum OriginKind {
    Custom(CustomOrigin),
    S3,
    /// Reached by CloudFront inside a VPC (`VpcOriginConfig`): private, not probed from here.
    Vpc(VpcOriginRef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomOrigin {
    /// `http-only`, `https-only` or `match-viewer`.
    pub protocol_policy: String,
    pub http_port: u16,
    pub https_port: u16,
    /// e.g. `["TLSv1.2"]`.
    pub ssl_protocols: Vec<String>,
    pub read_timeout_s: u32,
    pub connection_timeout_s: u32,
    /// Which addresses CloudFront connects to (`IpAddressType`).
    #[serde(default)]
    pub ip_address_type: IpAddressType,
    /// `OriginMtlsConfig.ClientCertificateArn`: the ACM certificate (us-east-1) CloudFront
    /// presents when the origin asks for a client certificate (origin mTLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_arn: Option<String>,
}

/// `CustomOriginConfig.IpAddressType`: which of the origin's DNS records CloudFront uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpAddressType {
    /// A records only: CloudFront's default.
    #[default]
    Ipv4,
    /// AAAA records only.
    Ipv6,
    /// Both.
    Dualstack,
}

impl IpAddressType {
    pub fn as_str(self) -> &'static str {
        match self {
            IpAddressType::Ipv4 => "ipv4",
            IpAddressType::Ipv6 => "ipv6",
            IpAddressType::Dualstack => "dualstack",
        }
    }

    /// Whether CloudFront connects to this address.
    pub fn uses(self, address: &IpAddr) -> bool {
        match self {
            IpAddressType::Ipv4 => address.is_ipv4(),
            IpAddressType::Ipv6 => address.is_ipv6(),
            IpAddressType::Dualstack => true,
        }
    }

    /// Whether CloudFront uses addresses of the family `other` stands for (Ipv4 or Ipv6).
    pub fn uses_family_of(self, other: IpAddressType) -> bool {
        self == IpAddressType::Dualstack || self == other
    }

    /// The DNS records CloudFront reads, in words.
    pub fn records(self) -> &'static str {
        match self {
            IpAddressType::Ipv4 => "A",
            IpAddressType::Ipv6 => "AAAA",
            IpAddressType::Dualstack => "A and AAAA",
        }
    }
}

/// How CloudFront connects to an origin: over TLS or not, and on which port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginConnection {
    pub https: bool,
    pub port: u16,
}

impl CustomOrigin {
    /// How CloudFront reaches this origin for an HTTPS viewer (match-viewer then speaks HTTPS).
    pub fn connection(&self) -> OriginConnection {
        match self.protocol_policy.as_str() {
            "http-only" => OriginConnection {
                https: false,
                port: self.http_port,
            },
            _ => OriginConnection {
                https: true,
                port: self.https_port,
            },
        }
    }
}

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

/// The live inspection of one origin, as CloudFront would reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginProbe {
    pub distribution_id: String,
    pub origin_id: String,
    pub host: String,
    pub port: u16,
    pub https: bool,
    /// SNI sent: the origin domain, or the forwarded viewer Host.
    pub server_name: String,
    /// The Host header of the direct request.
    pub host_header: String,
    /// The names the certificate may match for CloudFront: the origin domain, and the forwarded
    /// Host when there is one (AWS's 502 page: either will do).
    #[serde(default)]
    pub accepted_names: Vec<String>,
    /// Why this server name, when it is not simply the origin domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name_note: Option<String>,
    /// OriginSslProtocols: the protocols CloudFront offers this origin (a list, not a minimum).
    pub ssl_protocols: Vec<String>,
    #[serde(default)]
    pub ip_address_type: IpAddressType,
    pub read_timeout_ms: u64,
    pub probe_timeout_ms: u64,
    pub dns: DnsResult,
    pub addresses: Vec<AddressProbe>,
}

impl OriginProbe {
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DnsResult {
    /// `source` is `dns` or `override` (--resolve / CF_DOCTOR_RESOLVE). `addresses` are those
    /// CloudFront connects to (by IpAddressType); `not_used` the others the name has.
    Resolved {
        addresses: Vec<IpAddr>,
        source: String,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_used: Vec<IpAddr>,
    },
    Failed {
        error: String,
        duration_ms: u64,
    },
    TimedOut {
        duration_ms: u64,
    },
}

/// Every resolved address is probed: one bad ALB node or AZ shows up on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressProbe {
    pub address: IpAddr,
    pub tcp: TcpResult,
    pub tls: Option<TlsResult>,
    pub http: Option<HttpResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum TcpResult {
    Connected {
        duration_ms: u64,
    },
    /// A real RST: something answered on the address and refused the port.
    Refused {
        duration_ms: u64,
    },
    /// No answer at all: packets dropped on the way, or by a firewall.
    TimedOut {
        duration_ms: u64,
    },
    /// This machine cannot send to the address (no route, no address of that family): a fact
    /// about where cf-doctor runs, not about the origin.
    Unreachable {
        error: String,
        duration_ms: u64,
    },
    Failed {
        error: String,
        duration_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsResult {
    /// Protocols offered, as CloudFront would (TLS 1.2: OriginSslProtocols is only its minimum).
    pub offered: Vec<String>,
    pub handshake: Handshake,
    /// The verification verdict against the public roots (and the extra CA file, if any).
    pub verification: Verification,
    /// The chain as the origin sent it, in its order, verified or not.
    pub presented_chain: Vec<CertInfo>,
    /// When the handshake failed on the protocol: what the origin speaks if TLS 1.3 is allowed.
    pub origin_speaks_tls13_only: Option<bool>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Handshake {
    Completed {
        protocol: String,
        cipher_suite: String,
    },
    /// No common protocol version or cipher suite with what this probe offered.
    ProtocolMismatch {
        error: String,
        /// What the origin's refusal says it was about.
        #[serde(default)]
        cause: MismatchCause,
    },
    /// The origin asked for a client certificate (origin mTLS) and ended the handshake without
    /// one. The certificate it presented had been read by then.
    ClientCertificateRequired {
        error: String,
    },
    Failed {
        error: String,
    },
    /// Connected, but no TLS answer within the probe timeout.
    TimedOut,
}

/// What an origin's refusal of the handshake was about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MismatchCause {
    /// A `protocol_version` alert: it does not speak the protocol offered.
    Version,
    /// A `handshake_failure` or `insufficient_security` alert: no cipher suite in common.
    Cipher,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Verification {
    /// Trusted; `trust_source` is `public-roots` or `ca-file:<path>` (CloudFront itself accepts only
    /// publicly trusted origin certificates, so the report says when trust came from the file).
    Trusted {
        trust_source: String,
        /// The accepted name the certificate was verified for, when it is not the SNI sent (the
        /// origin domain, with the viewer Host forwarded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched_name: Option<String>,
    },
    Rejected {
        reason: VerifyFailure,
        error: String,
    },
    /// The handshake did not get as far as a certificate.
    NotReached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyFailure {
    Expired,
    NotYetValid,
    NameMismatch,
    UnknownIssuer,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// DNS names from subjectAltName (or the CN when there is none).
    pub names: Vec<String>,
    pub self_signed: bool,
    pub is_ca: bool,
    pub serial: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum HttpResult {
    Responded {
        status: u16,
        time_to_first_byte_ms: u64,
        server: Option<String>,
        /// The request went over a TLS session whose certificate did not verify: CloudFront would
        /// not have sent it; it shows what the origin does once TLS is fixed.
        over_unverified_tls: bool,
    },
    /// No response head within the probe timeout.
    TimedOut {
        waited_ms: u64,
        over_unverified_tls: bool,
    },
    Failed {
        error: String,
    },
}

/// A load balancer that serves a custom origin, and how it was recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub region: String,
    /// `application` or `network`.
    pub lb_type: String,
    /// How the origin was linked to it, surest first: `dns-name` (the origin domain is its DNS
    /// name), `route53-alias` or `route53-cname` (the account's Route53 records lead to it),
    /// `cname` (the origin domain's CNAME chain in DNS reaches it), `network-interface` (an
    /// address of the origin is on one of its interfaces), or `certificate` (an HTTPS listener's
    /// certificate covers the origin domain: the only link that is a guess).
    pub matched_by: String,
    /// How the origin name led to it, each step in words (Route53 records, addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_via: Vec<String>,
    pub distribution_id: String,
    pub origin_host: String,
    /// The port and protocol CloudFront uses (`HTTPS` or `HTTP`).
    pub origin_port: u16,
    pub origin_protocol: String,
    pub origin_ssl_protocols: Vec<String>,
    /// The CNAME chain from the origin domain, when it was followed.
    #[serde(default)]
    pub cname_chain: Vec<String>,
    /// Every listener, for the evidence of a missing one.
    pub listeners: Vec<ListenerPort>,
    /// The listener on the origin port, if any.
    pub listener: Option<Listener>,
    /// None when the security groups could not be read (a gap says why) or the type has none.
    pub security_groups: Option<Vec<SecurityGroupVerdict>>,
    /// The CloudFront origin-facing managed prefix list in this region, as looked up by name.
    pub cloudfront_prefix_list: Option<String>,
    /// The Host header CloudFront sends this origin: what the listener's host-header rules see.
    #[serde(default)]
    pub cloudfront_host: CloudfrontHost,
    /// When the security groups admit CloudFront by its ranges (a customer-managed prefix list or
    /// explicit CIDRs) rather than by the managed prefix list: how many of the ranges in the
    /// managed list they admit (None: not compared).
    #[serde(default)]
    pub cloudfront_ranges: Option<RangeCoverage>,
}

/// The Host header CloudFront sends an origin, which is what a listener's host-header conditions
/// are compared with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum CloudfrontHost {
    /// Host is not forwarded: CloudFront sends the origin domain.
    OriginDomain { host: String },
    /// The viewer's Host is forwarded: one of the distribution's aliases (its cloudfront.net
    /// domain when it has none), whichever the viewer asked for.
    Viewer { hosts: Vec<String> },
    /// Not known (evidence from before it was recorded, or an origin request policy that could
    /// not be read): any host-header rule may match.
    #[default]
    Unknown,
}

/// How many of CloudFront's origin-facing ranges (the entries of the managed prefix list) the
/// load balancer's security groups admit on the origin port, all groups together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeCoverage {
    pub admitted: usize,
    pub of: usize,
    /// The ranges not admitted (CloudFront connections from them are dropped).
    pub missing: Vec<String>,
}

/// An origin found by certificate on more than one load balancer (or on one, when the search
/// could not read every load balancer): which one serves it cannot be told from the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerCandidates {
    pub distribution_id: String,
    pub origin_host: String,
    pub origin_port: u16,
    pub candidates: Vec<LoadBalancerCandidate>,
    /// False when some load balancer could not be searched (a gap names it).
    pub search_complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerCandidate {
    pub arn: String,
    pub name: String,
    pub region: String,
    pub listener_arn: String,
    /// The listener certificate that covers the origin name.
    pub certificate_arn: String,
}

/// A listener as the list of all of them shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerPort {
    pub port: u16,
    /// `HTTPS`, `HTTP`, `TLS`, `TCP`, ...
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub arn: String,
    pub port: u16,
    pub protocol: String,
    pub ssl_policy: Option<String>,
    /// The protocols the TLS policy admits, e.g. `["TLSv1.2", "TLSv1.3"]` (None: not read).
    pub policy_protocols: Option<Vec<String>>,
    /// Every certificate of a TLS listener, the default one (the one it presents to a name no
    /// other covers) first, then those it selects by SNI.
    pub certificate_arns: Vec<String>,
    /// The health of every target group CloudFront's requests may be forwarded to: those of the
    /// rules that may match them and, unless a rule surely does, the default action's (evidence
    /// from before rules were read: the default action's only). None: not read.
    pub target_groups: Option<Vec<TargetGroupHealth>>,
    /// What the listener does with a request no rule matches (None: evidence from before it was
    /// recorded).
    #[serde(default)]
    pub default_action: Option<RuleAction>,
    /// The listener's other rules, in priority order (None: not read, a gap says why; always None
    /// for a network load balancer, which has no rules).
    #[serde(default)]
    pub rules: Option<Vec<ListenerRule>>,
}

/// One listener rule other than the default: if every condition holds, its action is taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerRule {
    pub arn: String,
    /// Lower numbers are evaluated first.
    pub priority: u32,
    pub conditions: Vec<RuleCondition>,
    pub action: RuleAction,
}

/// A rule condition, as far as cf-doctor can compare it with CloudFront's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
pub enum RuleCondition {
    /// The request's Host matches one of `values` (case-insensitive, `*` and `?` wildcards) or
    /// of `regex_values`.
    HostHeader {
        values: Vec<String>,
        #[serde(default)]
        regex_values: Vec<String>,
    },
    PathPattern {
        values: Vec<String>,
    },
    /// The header's name only: in AWS's custom-header pattern its value is the secret CloudFront
    /// adds to every request, and it never goes into the evidence.
    HttpHeader {
        name: String,
    },
    /// Query string, method or source IP: what CloudFront's requests carry there is not known.
    Other {
        name: String,
    },
}

/// What a rule (or the default action) finally does with a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RuleAction {
    Forward {
        target_groups: Vec<String>,
    },
    /// The load balancer answers itself, e.g. 403 in the custom-header pattern.
    FixedResponse {
        status_code: String,
    },
    Redirect {
        status_code: String,
    },
    /// An action without a final forward, fixed response or redirect.
    Other {
        name: String,
    },
}

impl RuleAction {
    pub fn target_groups(&self) -> &[String] {
        match self {
            RuleAction::Forward { target_groups } => target_groups,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroupHealth {
    pub arn: String,
    pub healthy: usize,
    /// Every target that is not healthy.
    pub not_healthy: Vec<TargetState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    pub target: String,
    /// `unhealthy`, `draining`, `unused`, ...
    pub state: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupVerdict {
    pub id: String,
    pub name: String,
    /// The rule that lets CloudFront in on the origin port, in words (None: no such rule).
    pub opens_port_to_cloudfront: Option<String>,
    /// Whom the group lets in on the origin port.
    #[serde(default)]
    pub admits: Admission,
    /// How CloudFront is let in, when it is.
    #[serde(default)]
    pub cloudfront_by: Option<AdmittedBy>,
    /// Why whom the group admits could not be decided (e.g. a prefix list that could not be
    /// read): such a group is never said to block CloudFront.
    #[serde(default)]
    pub undecided: Option<String>,
}

/// How a security group rule lets CloudFront in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdmittedBy {
    /// The AWS-managed prefix list `com.amazonaws.global.cloudfront.origin-facing` (or its IPv6
    /// twin).
    ManagedPrefixList,
    /// A customer-managed prefix list whose entries are CloudFront's origin-facing ranges.
    CustomerPrefixList,
    /// CloudFront's origin-facing ranges listed in the rule as CIDRs.
    CloudfrontCidrs,
    /// 0.0.0.0/0 or ::/0: CloudFront among everyone.
    Anyone,
}

/// Whom a security group lets in on the origin port. CloudFront-only is AWS's recommended set-up
/// (the managed prefix list `com.amazonaws.global.cloudfront.origin-facing`, a customer-managed
/// prefix list holding CloudFront's ranges, or CloudFront's published CIDRs): healthy, and the
/// reason a probe from outside CloudFront cannot connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Admission {
    /// Open to every address (0.0.0.0/0 or ::/0).
    Anyone,
    /// Open to CloudFront's origin-facing addresses only.
    CloudfrontOnly,
    /// No rule lets CloudFront in on the port.
    NotCloudfront,
    /// Not read (evidence from before it was), or could not be decided.
    #[default]
    Unknown,
}

impl LoadBalancer {
    /// The load balancer's security groups let CloudFront in on the origin port and nobody else:
    /// a connection from anywhere but CloudFront's edge is expected to be dropped.
    pub fn admits_only_cloudfront(&self) -> bool {
        admits_only_cloudfront(&self.security_groups)
    }

    /// The tail of its ARN, `app/NAME/ID` or `net/NAME/ID`: its CloudWatch dimension.
    pub fn dimension(&self) -> Option<&str> {
        self.arn.split_once(":loadbalancer/").map(|(_, tail)| tail)
    }
}

/// A set of security groups lets CloudFront in on the origin port and nobody else: a connection
/// from anywhere but CloudFront's edge is expected to be dropped. Unread groups say nothing.
pub fn admits_only_cloudfront(groups: &Option<Vec<SecurityGroupVerdict>>) -> bool {
    let Some(groups) = groups else {
        return false;
    };
    groups.iter().any(|g| g.admits == Admission::CloudfrontOnly)
        && groups.iter().all(|g| g.admits != Admission::Anyone)
}

/// The minutes of CloudWatch data a diagnosis reads, ending at its clock: long enough for a
/// 5-minute alarm period, short enough to be "now".
pub const METRIC_WINDOW_MINUTES: i64 = 15;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReading {
    /// `AWS/CloudFront`, `AWS/ApplicationELB`, `AWS/NetworkELB`, `AWS/Lambda`, ...
    pub namespace: String,
    pub metric: String,
    /// The distribution id or the load balancer (`app/name/id`, `net/name/id`).
    pub resource: String,
    pub statistic: String,
    /// The latest value in the window, or None when CloudWatch had no data.
    pub latest: Option<f64>,
    /// The highest value in the window.
    pub max: Option<f64>,
    /// The values in the window added up, for counts (errors, invocations, requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// The region whose CloudWatch holds it, when it is not us-east-1 (Lambda@Edge replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// A GET through the distribution, as a viewer would make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeProbe {
    pub distribution_id: String,
    /// The distribution's domain (what was resolved and connected to).
    pub domain: String,
    /// The Host and SNI sent: the first alias, or the domain.
    pub host: String,
    pub address: Option<IpAddr>,
    pub status: Option<u16>,
    /// `Error from cloudfront` when CloudFront itself generated the response.
    pub x_cache: Option<String>,
    pub pop: Option<String>,
    /// x-amz-cf-id, what AWS support asks for.
    pub request_id: Option<String>,
    pub time_to_first_byte_ms: Option<u64>,
    pub error: Option<String>,
}
