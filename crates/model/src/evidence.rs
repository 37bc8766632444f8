//! The Evidence model: everything collected about a target, as plain serialisable data, so that a
//! diagnosis can be replayed offline and rules can be tested with hand-built values.
//!
//! One module per layer (the distribution, its certificates, the live probes, the load balancers);
//! every type is re-exported here, so `evidence::OriginProbe` names it wherever it lives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::{Check, CheckOutcome};
use crate::cloudfront_log::CloudfrontLog;
use crate::finding::Severity;
use crate::functions::{CloudfrontFunction, LambdaEdgeFunction};
use crate::instance::InstanceOrigin;
use crate::vpc_origin::VpcOrigin;

mod certificate;
mod distribution;
mod load_balancer;
mod probe;

pub use certificate::*;
pub use distribution::*;
pub use load_balancer::*;
pub use probe::*;

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

/// Reads a string that older evidence wrote as `""` when it was not known: `""` and null are None.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|s| !s.is_empty()))
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
