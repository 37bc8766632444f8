//! A distribution as CloudFront's configuration describes it: origins, origin groups, viewer
//! certificate, logging, custom error responses, and how CloudFront connects to each origin.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::functions::FunctionAssociation;
use crate::vpc_origin::VpcOriginRef;

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
    pub protocol_policy: OriginProtocolPolicy,
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

/// `OriginProtocolPolicy`: what CloudFront speaks to a custom origin (API reference,
/// CustomOriginConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OriginProtocolPolicy {
    /// HTTP on the HTTP port, whatever the viewer used.
    HttpOnly,
    /// HTTPS on the HTTPS port, whatever the viewer used.
    HttpsOnly,
    /// What the viewer used: HTTPS on the HTTPS port for an HTTPS viewer.
    MatchViewer,
}

impl OriginProtocolPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OriginProtocolPolicy::HttpOnly => "http-only",
            OriginProtocolPolicy::HttpsOnly => "https-only",
            OriginProtocolPolicy::MatchViewer => "match-viewer",
        }
    }
}

impl std::fmt::Display for OriginProtocolPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What CloudFront speaks to an origin on its port. Written `HTTPS` and `HTTP`, as a listener's
/// protocol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OriginProtocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

impl OriginProtocol {
    pub fn is_https(self) -> bool {
        self == OriginProtocol::Https
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OriginProtocol::Http => "HTTP",
            OriginProtocol::Https => "HTTPS",
        }
    }
}

impl std::fmt::Display for OriginProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How CloudFront connects to an origin: which protocol, on which port. The one way cf-doctor
/// says it, from the distribution to the load balancer it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginConnection {
    pub protocol: OriginProtocol,
    pub port: u16,
}

impl OriginConnection {
    pub fn is_https(&self) -> bool {
        self.protocol.is_https()
    }
}

impl std::fmt::Display for OriginConnection {
    /// "HTTPS port 443".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} port {}", self.protocol, self.port)
    }
}

impl CustomOrigin {
    /// How CloudFront reaches this origin for an HTTPS viewer (match-viewer then speaks HTTPS).
    pub fn connection(&self) -> OriginConnection {
        match self.protocol_policy {
            OriginProtocolPolicy::HttpOnly => OriginConnection {
                protocol: OriginProtocol::Http,
                port: self.http_port,
            },
            OriginProtocolPolicy::HttpsOnly | OriginProtocolPolicy::MatchViewer => {
                OriginConnection {
                    protocol: OriginProtocol::Https,
                    port: self.https_port,
                }
            }
        }
    }
}
