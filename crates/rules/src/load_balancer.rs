//! Rules for the load balancer behind an origin: the listener CloudFront needs, the TLS protocols
//! its policy admits, the security groups in front of it (a drop is a 504, a refusal a 502), and
//! whether any target behind it is healthy.

use serde_json::json;

use cf_doctor_model::evidence::LoadBalancer;
use cf_doctor_model::{Code, Evidence, Finding, Severity};

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    let mut out: Vec<Finding> = evidence
        .load_balancers
        .iter()
        .flat_map(load_balancer_findings)
        .collect();
    out.extend(
        evidence
            .load_balancers
            .iter()
            .filter_map(|lb| target_errors(lb, evidence)),
    );
    out
}

/// Targets answering 5xx (CloudWatch HTTPCode_Target_5XX_Count) point at the application behind
/// the load balancer, not at CloudFront or the load balancer itself.
fn target_errors(lb: &LoadBalancer, evidence: &Evidence) -> Option<Finding> {
    let dimension = lb.arn.split_once(":loadbalancer/")?.1;
    let reading = |metric: &str| {
        evidence
            .metrics
            .iter()
            .find(|m| m.resource == dimension && m.metric == metric)
            .and_then(|m| m.max)
    };
    let target_5xx = reading("HTTPCode_Target_5XX_Count").filter(|n| *n > 0.0)?;
    let elb_5xx = reading("HTTPCode_ELB_5XX_Count");
    Some(
        Finding::new(Code::OriginHttpError, Severity::Warning, &lb.arn)
            .title(format!("Targets behind {} answered 5xx ({} in one minute at most, last 15 minutes): the application is failing", lb.name, target_5xx))
            .evidence(json!({"HTTPCode_Target_5XX_Count_max": target_5xx, "HTTPCode_ELB_5XX_Count_max": elb_5xx, "load_balancer": lb.name}))
            .remediation("The load balancer passes the application's errors on: look at the targets' logs and recent deploys."),
    )
}

fn load_balancer_findings(lb: &LoadBalancer) -> Vec<Finding> {
    let mut out = Vec::new();
    let at = format!("{} ({}:{})", lb.arn, lb.origin_host, lb.origin_port);
    let speaks_origin_protocol = if lb.origin_protocol == "HTTPS" {
        ["HTTPS", "TLS"]
    } else {
        ["HTTP", "TCP"]
    };
    let listeners: Vec<String> = lb
        .listeners
        .iter()
        .map(|l| format!("{}:{}", l.protocol, l.port))
        .collect();
    match &lb.listener {
        None => out.push(
            Finding::new(Code::OriginListenerMissing, Severity::Critical, &at)
                .statuses(&[502])
                .title(format!("Load balancer {} has no listener on port {}, where CloudFront connects", lb.name, lb.origin_port))
                .evidence(json!({"load_balancer": lb.name, "matched_by": lb.matched_by, "listeners": listeners, "origin_port": lb.origin_port, "origin_protocol": lb.origin_protocol}))
                .remediation(format!(
                    "Add a {} listener on port {} to {} (EC2 console -> Load Balancers -> Listeners), or set the origin's {} port to a port the load balancer listens on.",
                    lb.origin_protocol, lb.origin_port, lb.name, lb.origin_protocol
                )),
        ),
        Some(listener) if !speaks_origin_protocol.contains(&listener.protocol.as_str()) => out.push(
            Finding::new(Code::OriginListenerMissing, Severity::Critical, &listener.arn)
                .statuses(&[502])
                .title(format!("Load balancer {} listens on port {} with {}, but CloudFront speaks {} there", lb.name, lb.origin_port, listener.protocol, lb.origin_protocol))
                .evidence(json!({"load_balancer": lb.name, "listener_protocol": listener.protocol, "origin_protocol": lb.origin_protocol, "listeners": listeners}))
                .remediation("Make the listener's protocol match the origin protocol policy (an HTTPS listener for https-only), or change the origin protocol policy."),
        ),
        Some(listener) => {
            if let Some(admitted) = &listener.policy_protocols {
                // OriginSslProtocols lists what CloudFront may use (not a minimum); CloudFront
                // never speaks TLS 1.3 to origins. A protocol in both lists is a handshake.
                let listed = cf_doctor_model::tls::listed_or_default(&lb.origin_ssl_protocols);
                let common = listed.iter().any(|p| admitted.contains(p));
                if lb.origin_protocol == "HTTPS" && !common {
                    out.push(
                        Finding::new(Code::OriginTlsProtocolMismatch, Severity::Critical, &listener.arn)
                            .statuses(&[502])
                            .title(format!(
                                "Listener TLS policy {} of {} admits {}, none of which CloudFront may use with this origin ({})",
                                listener.ssl_policy.as_deref().unwrap_or("?"), lb.name, admitted.join(", "), lb.origin_ssl_protocols.join(", ")
                            ))
                            .evidence(json!({"ssl_policy": listener.ssl_policy, "policy_protocols": admitted, "origin_ssl_protocols": lb.origin_ssl_protocols}))
                            .remediation("Add TLSv1.2 to the origin's OriginSslProtocols and choose a listener security policy that includes TLS 1.2 (e.g. ELBSecurityPolicy-TLS13-1-2-2021-06): CloudFront speaks at most TLS 1.2 to origins."),
                    );
                }
            }
            if let Some(groups) = &listener.target_groups {
                let healthy: usize = groups.iter().map(|g| g.healthy).sum();
                if healthy == 0 {
                    let not_healthy: Vec<_> = groups.iter().flat_map(|g| g.not_healthy.iter()).collect();
                    out.push(
                        Finding::new(Code::OriginNoHealthyTargets, Severity::Critical, &listener.arn)
                            .statuses(&[503, 502])
                            .title(format!("No healthy target behind {}:{} ({} target group(s), {} target(s) not healthy)", lb.name, lb.origin_port, groups.len(), not_healthy.len()))
                            .evidence(json!({"target_groups": groups.iter().map(|g| &g.arn).collect::<Vec<_>>(), "not_healthy": not_healthy}))
                            .remediation("The load balancer has nothing to send requests to: check the targets' health check (path, port, security group from the load balancer), that instances are running, and the application logs."),
                    );
                }
            }
        }
    }
    if let Some(groups) = &lb.security_groups {
        if !groups.is_empty() && groups.iter().all(|g| g.opens_port_to_cloudfront.is_none()) {
            out.push(
                Finding::new(Code::OriginSecurityGroupBlocksPort, Severity::Critical, &at)
                    .statuses(&[504])
                    .title(format!("No security group of {} lets CloudFront in on port {}", lb.name, lb.origin_port))
                    .evidence(json!({
                        "security_groups": groups.iter().map(|g| format!("{} ({})", g.id, g.name)).collect::<Vec<_>>(),
                        "cloudfront_prefix_list": lb.cloudfront_prefix_list,
                        "expect": "security groups drop packets silently, so CloudFront times out and returns 504 (a refused port would be 502)",
                    }))
                    .remediation(format!(
                        "Add an inbound rule for TCP {} from the managed prefix list com.amazonaws.global.cloudfront.origin-facing{} to one of the load balancer's security groups.",
                        lb.origin_port,
                        lb.cloudfront_prefix_list.as_deref().map(|id| format!(" ({id} in {})", lb.region)).unwrap_or_default()
                    )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::{Listener, ListenerPort};

    fn lb(origin_ssl_protocols: &[&str], policy: &[&str]) -> LoadBalancer {
        LoadBalancer {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1".into(),
            name: "a".into(),
            dns_name: "a-1.us-east-1.elb.amazonaws.com".into(),
            region: "us-east-1".into(),
            lb_type: "application".into(),
            matched_by: "dns-name".into(),
            distribution_id: "E1".into(),
            origin_host: "a-1.us-east-1.elb.amazonaws.com".into(),
            origin_port: 443,
            origin_protocol: "HTTPS".into(),
            origin_ssl_protocols: origin_ssl_protocols.iter().map(|s| s.to_string()).collect(),
            cname_chain: vec![],
            listeners: vec![ListenerPort {
                port: 443,
                protocol: "HTTPS".into(),
            }],
            listener: Some(Listener {
                arn: "listener".into(),
                port: 443,
                protocol: "HTTPS".into(),
                ssl_policy: Some("policy".into()),
                policy_protocols: Some(policy.iter().map(|s| s.to_string()).collect()),
                certificate_arns: vec![],
                target_groups: None,
            }),
            security_groups: None,
            cloudfront_prefix_list: None,
        }
    }

    fn mismatch(origin: &[&str], policy: &[&str]) -> bool {
        load_balancer_findings(&lb(origin, policy))
            .iter()
            .any(|f| f.code == Code::OriginTlsProtocolMismatch)
    }

    // Corrected (issue 12): these tests once read OriginSslProtocols as a minimum, so a listener
    // admitting TLS 1.2 matched an origin listing only TLSv1. It is the list of protocols
    // CloudFront may use (API reference, OriginSslProtocols).
    #[test]
    fn origin_ssl_protocols_is_a_list_so_only_a_shared_protocol_matches() {
        assert!(!mismatch(&["TLSv1.2"], &["TLSv1.2", "TLSv1.3"]));
        assert!(
            !mismatch(&[], &["TLSv1.2"]),
            "an empty list is the default, TLSv1.2"
        );
        assert!(!mismatch(&["TLSv1.1", "TLSv1.2"], &["TLSv1.2"]));
        assert!(!mismatch(
            &["TLSv1", "TLSv1.1", "TLSv1.2"],
            &["TLSv1", "TLSv1.1"]
        ));
        assert!(
            mismatch(&["TLSv1"], &["TLSv1.2", "TLSv1.3"]),
            "CloudFront may use only TLSv1, which the listener does not admit"
        );
    }

    #[test]
    fn a_tls13_only_policy_or_one_without_a_listed_protocol_is_a_mismatch() {
        assert!(mismatch(&["TLSv1.2"], &["TLSv1.3"]));
        assert!(mismatch(&["TLSv1.2"], &["TLSv1", "TLSv1.1"]));
    }
}
