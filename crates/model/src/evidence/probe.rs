//! The live inspection of an origin as CloudFront reaches it (DNS, TCP, TLS, a direct request),
//! and a request through the distribution as a viewer makes it.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::IpAddressType;

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

/// Where a probe's addresses came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsSource {
    /// This machine's resolver, as CloudFront would ask.
    Dns,
    /// Pinned by the user (`--resolve`, `CF_DOCTOR_RESOLVE`): DNS was not asked.
    Override,
    /// The origin's name is an address: there was nothing to resolve.
    Literal,
}

impl std::fmt::Display for DnsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DnsSource::Dns => "dns",
            DnsSource::Override => "override",
            DnsSource::Literal => "literal",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DnsResult {
    /// `addresses` are those CloudFront connects to (by IpAddressType); `not_used` the others the
    /// name has.
    Resolved {
        addresses: Vec<IpAddr>,
        source: DnsSource,
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
    /// Trusted (CloudFront itself accepts only publicly trusted origin certificates, so the report
    /// says when trust came from a CA file).
    Trusted {
        trust_source: TrustSource,
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

/// What a trusted origin certificate chained to. Written `public-roots` or `ca-file:<path>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TrustSource {
    /// The public roots (webpki-roots): what CloudFront trusts too.
    PublicRoots,
    /// The extra CA file the user gave (`--ca-file`, `ORIGIN_CA_FILE`), as shown to them:
    /// CloudFront would not trust it.
    CaFile(String),
}

impl TrustSource {
    const CA_FILE: &'static str = "ca-file:";
}

impl std::fmt::Display for TrustSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustSource::PublicRoots => f.write_str("public-roots"),
            TrustSource::CaFile(path) => write!(f, "{}{path}", TrustSource::CA_FILE),
        }
    }
}

impl From<TrustSource> for String {
    fn from(source: TrustSource) -> String {
        source.to_string()
    }
}

impl TryFrom<String> for TrustSource {
    type Error = String;

    fn try_from(value: String) -> Result<TrustSource, String> {
        if value == "public-roots" {
            return Ok(TrustSource::PublicRoots);
        }
        match value.strip_prefix(TrustSource::CA_FILE) {
            Some(path) => Ok(TrustSource::CaFile(path.to_string())),
            None => Err(format!(
                "unknown trust source {value:?}; expected public-roots or ca-file:<path>"
            )),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_source_is_written_as_older_builds_wrote_it() {
        for (source, word) in [
            (TrustSource::PublicRoots, "\"public-roots\""),
            (
                TrustSource::CaFile("/tmp/ca.pem".into()),
                "\"ca-file:/tmp/ca.pem\"",
            ),
        ] {
            assert_eq!(serde_json::to_string(&source).unwrap(), word);
            assert_eq!(serde_json::from_str::<TrustSource>(word).unwrap(), source);
        }
        let refused = serde_json::from_str::<TrustSource>("\"system-roots\"").unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("expected public-roots or ca-file:<path>"),
            "{refused}"
        );
    }

    #[test]
    fn an_unknown_dns_source_is_refused_with_the_words_accepted() {
        let refused = serde_json::from_str::<DnsSource>("\"hosts-file\"").unwrap_err();
        assert!(refused.to_string().contains("`override`"), "{refused}");
    }
}
