//! Whom the security groups in front of an origin (a load balancer's, or an instance's that
//! serves CloudFront itself) let in on the origin port. A set that admits CloudFront in none of
//! its forms drops its connections: CloudFront waits and returns 504 (a refused port would be
//! 502). One whose copy of CloudFront's ranges misses some drops the connections from those.

use serde_json::json;

use cf_doctor_model::evidence::{LoadBalancer, RangeCoverage, SecurityGroupVerdict};
use cf_doctor_model::instance::InstanceOrigin;
use cf_doctor_model::{Code, Finding, Severity};

/// A resource behind security groups, as the rules judge it.
pub(crate) struct Guarded<'a> {
    /// How the title names it: `shop-alb`, `instance i-0abc`.
    pub name: String,
    /// How the remediation says whose groups they are: `the load balancer's`.
    pub whose: &'static str,
    /// The finding's resource.
    pub at: &'a str,
    pub region: &'a str,
    pub port: u16,
    pub groups: &'a Option<Vec<SecurityGroupVerdict>>,
    pub prefix_list: Option<&'a str>,
    pub ranges: Option<&'a RangeCoverage>,
}

impl<'a> Guarded<'a> {
    pub fn load_balancer(lb: &'a LoadBalancer, at: &'a str) -> Guarded<'a> {
        Guarded {
            name: lb.name.clone(),
            whose: "the load balancer's",
            at,
            region: &lb.region,
            port: lb.origin_port,
            groups: &lb.security_groups,
            prefix_list: lb.cloudfront_prefix_list.as_deref(),
            ranges: lb.cloudfront_ranges.as_ref(),
        }
    }

    pub fn instance(instance: &'a InstanceOrigin, at: &'a str) -> Guarded<'a> {
        Guarded {
            name: format!("instance {}", instance.instance_id),
            whose: "the instance's",
            at,
            region: &instance.region,
            port: instance.origin_port,
            groups: &instance.security_groups,
            prefix_list: instance.cloudfront_prefix_list.as_deref(),
            ranges: instance.cloudfront_ranges.as_ref(),
        }
    }

    /// `the load balancer's security groups`, for a sentence.
    pub fn whose_groups(&self) -> String {
        format!("{} security groups", self.whose)
    }

    /// ` (pl-1234 in eu-west-1)` after the managed prefix list's name, when its id is known.
    fn prefix_list_named(&self) -> String {
        self.prefix_list
            .map(|id| format!(" ({id} in {})", self.region))
            .unwrap_or_default()
    }
}

pub(crate) fn findings(guarded: &Guarded<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(groups) = guarded.groups {
        if !groups.is_empty()
            && groups
                .iter()
                .all(SecurityGroupVerdict::shuts_out_cloudfront)
        {
            out.push(
                Finding::new(Code::OriginSecurityGroupBlocksPort, Severity::Critical, guarded.at)
                    .statuses(&[504])
                    .title(format!("No security group of {} lets CloudFront in on port {}", guarded.name, guarded.port))
                    .evidence(json!({
                        "security_groups": groups.iter().map(|g| format!("{} ({})", g.id, g.name)).collect::<Vec<_>>(),
                        "cloudfront_prefix_list": guarded.prefix_list,
                        "expect": "security groups drop packets silently, so CloudFront times out and returns 504 (a refused port would be 502)",
                    }))
                    .remediation(format!(
                        "Add an inbound rule for TCP {} from the managed prefix list com.amazonaws.global.cloudfront.origin-facing{} to one of {} security groups.",
                        guarded.port,
                        guarded.prefix_list_named(),
                        guarded.whose,
                    )),
            );
        }
    }
    if let Some(coverage) = guarded
        .ranges
        .filter(|c| c.admitted < c.of && c.admitted > 0)
    {
        let admitted_by: Vec<&str> = guarded
            .groups
            .iter()
            .flatten()
            .filter_map(SecurityGroupVerdict::rule)
            .collect();
        out.push(
            Finding::new(Code::OriginSecurityGroupBlocksPort, Severity::Warning, guarded.at)
                .statuses(&[504])
                .title(format!(
                    "The security groups of {} admit {} of CloudFront's {} origin-facing ranges on port {}: connections from the other {} are dropped",
                    guarded.name, coverage.admitted, coverage.of, guarded.port, coverage.missing.len()
                ))
                .evidence(json!({
                    "admitted_by": admitted_by,
                    "missing": coverage.missing,
                    "expect": "viewers served by edge servers in the missing ranges get 504; the others are served",
                }))
                .remediation(format!(
                    "Admit TCP {} from the managed prefix list com.amazonaws.global.cloudfront.origin-facing{}, which AWS keeps current, instead of a copy of its ranges.",
                    guarded.port,
                    guarded.prefix_list_named(),
                )),
        );
    }
    out
}
