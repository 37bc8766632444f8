//! An EC2 instance that serves a custom origin itself, with no load balancer in front: found from
//! the account's own records (a Route53 value, an Elastic IP, a network interface, the instance's
//! public DNS name), never from the origin's answer.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::evidence::{MatchedBy, OriginProtocol, RangeCoverage, SecurityGroupVerdict};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceOrigin {
    pub instance_id: String,
    pub region: String,
    pub distribution_id: String,
    pub origin_host: String,
    pub origin_port: u16,
    /// `HTTPS` or `HTTP`: what CloudFront speaks on the port.
    pub origin_protocol: OriginProtocol,
    /// EC2's state name: `pending`, `running`, `stopping`, `stopped`, `shutting-down`,
    /// `terminated`.
    pub state: String,
    /// When it entered that state, as EC2's state transition reason dates it (None: EC2 did not
    /// say, as for a running instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_since: Option<DateTime<Utc>>,
    /// Why, in EC2's words (`User initiated (2026-12-01 10:00:00 GMT)`, `Server.InternalError`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// The status checks of a running instance (None: not read, or not running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_checks: Option<StatusChecks>,
    /// The address that led to it: the one CloudFront connects to.
    pub address: IpAddr,
    /// `elastic-ip` (an Elastic IP of the account associated with it) or `network-interface` (the
    /// address is on one of its interfaces), after whatever Route53 records led to the address.
    pub matched_by: MatchedBy,
    /// How the origin name led to the address, each step in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_via: Vec<String>,
    /// None when the security groups could not be read (a gap says why).
    pub security_groups: Option<Vec<SecurityGroupVerdict>>,
    /// The CloudFront origin-facing managed prefix list in its region, as looked up by name.
    pub cloudfront_prefix_list: Option<String>,
    /// How many of CloudFront's ranges its groups admit, when they admit it by its ranges.
    #[serde(default)]
    pub cloudfront_ranges: Option<RangeCoverage>,
}

/// EC2's two status checks (DescribeInstanceStatus): `ok`, `impaired`, `insufficient-data`,
/// `not-applicable` or `initializing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChecks {
    /// AWS's side: the host, its power and network.
    pub system: String,
    /// The instance's own: its operating system and network configuration.
    pub instance: String,
}

impl StatusChecks {
    /// Whether a check failed.
    pub fn impaired(&self) -> bool {
        self.system == "impaired" || self.instance == "impaired"
    }
}

impl InstanceOrigin {
    /// Running (or starting), with no failed status check: it can answer CloudFront.
    pub fn can_answer(&self) -> bool {
        self.state == "running" && !self.status_checks.as_ref().is_some_and(|c| c.impaired())
    }

    /// Its security groups let CloudFront in on the origin port and nobody else.
    pub fn admits_only_cloudfront(&self) -> bool {
        crate::evidence::admits_only_cloudfront(&self.security_groups)
    }

    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.origin_host, self.origin_port)
    }
}

/// The date in EC2's state transition reason, `User initiated (2026-12-01 10:00:00 GMT)` (moto
/// writes UTC): when the instance entered its state.
pub fn transition_time(reason: &str) -> Option<DateTime<Utc>> {
    let inner = reason.rsplit_once('(')?.1.strip_suffix(')')?;
    let stamp = inner
        .strip_suffix(" GMT")
        .or_else(|| inner.strip_suffix(" UTC"))?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_reason_dates_the_state() {
        let t = transition_time("User initiated (2026-12-01 10:00:05 GMT)").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T10:00:05+00:00");
        assert!(transition_time("User initiated (2026-12-01 10:00:05 UTC)").is_some());
        assert_eq!(transition_time("Server.InternalError"), None);
        assert_eq!(transition_time(""), None);
    }

    #[test]
    fn an_impaired_check_means_it_cannot_answer() {
        let checks = |system: &str, instance: &str| StatusChecks {
            system: system.into(),
            instance: instance.into(),
        };
        assert!(!checks("ok", "ok").impaired());
        assert!(checks("ok", "impaired").impaired());
        assert!(checks("impaired", "initializing").impaired());
        assert!(!checks("insufficient-data", "initializing").impaired());
    }
}
