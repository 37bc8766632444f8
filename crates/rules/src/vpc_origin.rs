//! VPC origins: CloudFront reaches one only once its status is Deployed ("Restrict access with
//! VPC origins"), and only while the load balancer it fronts exists. A VPC origin still deploying
//! is a warning (errors that began with the change may come from it); any other status, or a
//! load balancer that is gone, is critical: CloudFront has nowhere to send the requests.

use serde_json::json;

use cf_doctor_model::vpc_origin::{EndpointLoadBalancer, VpcOrigin};
use cf_doctor_model::{Code, Evidence, Finding, Severity};

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    evidence
        .vpc_origins
        .iter()
        .filter_map(not_deployed)
        .collect()
}

fn not_deployed(v: &VpcOrigin) -> Option<Finding> {
    let used_by = v.used_by.join("; ");
    let evidence = json!({
        "vpc_origin": v.id, "status": v.status, "endpoint": v.endpoint_arn, "endpoint_name": v.endpoint_name,
        "load_balancer": v.load_balancer, "used_by": v.used_by,
    });
    let finding = if !v.status.eq_ignore_ascii_case("Deployed") {
        let settling = ["deploying", "updating"]
            .iter()
            .any(|s| v.status.eq_ignore_ascii_case(s));
        let severity = if settling {
            Severity::Warning
        } else {
            Severity::Critical
        };
        Finding::new(Code::VpcOriginNotDeployed, severity, &v.arn)
            .title(format!("VPC origin {} is {}, not Deployed ({used_by})", v.id, v.status))
            .remediation(if settling {
                "CloudFront reaches a VPC origin once it is Deployed (up to 15 minutes after a change): wait for it, and look again if errors outlast it."
            } else {
                "CloudFront cannot use this VPC origin: check it in the CloudFront console (VPC origins), and that the load balancer it fronts is active, internal, in a subnet with a free address, and in a VPC with an internet gateway attached; recreate it if it stays failed."
            })
    } else if matches!(v.load_balancer, Some(EndpointLoadBalancer::Missing)) {
        Finding::new(Code::VpcOriginNotDeployed, Severity::Critical, &v.arn)
            .title(format!("VPC origin {} fronts a load balancer that no longer exists ({}; {used_by})", v.id, v.endpoint_arn))
            .remediation("Point the VPC origin at the load balancer that serves the site now (update it, or create a new VPC origin and use it in the distribution's origin).")
    } else {
        return None;
    };
    Some(finding.statuses(&[502, 504]).evidence(evidence))
}
