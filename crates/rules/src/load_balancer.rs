//! Rules for the load balancer behind an origin: the listener CloudFront needs, the TLS protocols
//! its policy admits, the security groups in front of it (a drop is a 504, a refusal a 502), and
//! whether any target behind it is healthy.

use serde_json::json;

use cf_doctor_model::evidence::{Listener, LoadBalancer, TargetGroupHealth};
use cf_doctor_model::routing;
use cf_doctor_model::{Code, Evidence, Finding, Severity};

use crate::security_groups::{self, Guarded};

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
    let speaks_origin_protocol = if lb.origin_protocol.is_https() {
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
                if lb.origin_protocol.is_https() && !common {
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
            out.extend(target_findings(lb, listener));
        }
    }
    out.extend(security_group_findings(lb, &at));
    out
}

/// A way CloudFront's requests can go through the listener, with the groups it forwards to.
struct Way {
    name: String,
    sure: bool,
    groups: Vec<String>,
}

/// Where CloudFront's requests may be forwarded. Evidence from before rules were read holds the
/// default action's groups only: they are then the one way. None when the rules could not be read.
fn ways(lb: &LoadBalancer, listener: &Listener) -> Option<Vec<Way>> {
    if listener.rules.is_none() && listener.default_action.is_none() {
        let groups = listener.target_groups.as_ref()?;
        return Some(vec![Way {
            name: "the default action".into(),
            sure: true,
            groups: groups.iter().map(|g| g.arn.clone()).collect(),
        }]);
    }
    let routes = routing::cloudfront_routes(listener, &lb.cloudfront_host)?;
    Some(
        routes
            .iter()
            .map(|r| Way {
                name: format!("{} -> {}", r.name(), routing::describe_action(r.action)),
                sure: r.sure,
                groups: r.action.target_groups().to_vec(),
            })
            .filter(|w| !w.groups.is_empty())
            .collect(),
    )
}

/// No healthy target where CloudFront's requests are forwarded: every way they can be forwarded
/// is critical; only some of the ways they may take is a warning. A way whose target groups were
/// not all read decides nothing. A fixed-response default action forwards nowhere and is normal.
fn target_findings(lb: &LoadBalancer, listener: &Listener) -> Option<Finding> {
    let health = listener.target_groups.as_ref()?;
    let ways = ways(lb, listener)?;
    let read = |w: &Way| {
        w.groups
            .iter()
            .map(|arn| health.iter().find(|g| &g.arn == arn))
            .collect::<Option<Vec<&TargetGroupHealth>>>()
    };
    let judged: Vec<(&Way, Vec<&TargetGroupHealth>)> =
        ways.iter().filter_map(|w| Some((w, read(w)?))).collect();
    let dead: Vec<&(&Way, Vec<&TargetGroupHealth>)> = judged
        .iter()
        .filter(|(_, groups)| groups.iter().all(|g| g.healthy == 0))
        .collect();
    if dead.is_empty() {
        return None;
    }
    let everywhere = judged.len() == ways.len() && dead.len() == ways.len();
    let groups: Vec<&TargetGroupHealth> =
        dead.iter().flat_map(|(_, g)| g.iter().copied()).collect();
    let not_healthy: Vec<_> = groups.iter().flat_map(|g| g.not_healthy.iter()).collect();
    let named: Vec<&str> = dead.iter().map(|(w, _)| w.name.as_str()).collect();
    let (severity, title) = if everywhere {
        (
            Severity::Critical,
            format!(
                "No healthy target behind {}:{} for CloudFront's requests ({} target group(s), {} target(s) not healthy)",
                lb.name,
                lb.origin_port,
                groups.len(),
                not_healthy.len()
            ),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "Some of CloudFront's requests to {}:{} may find no healthy target: {}",
                lb.name,
                lb.origin_port,
                named.join("; ")
            ),
        )
    };
    Some(
        Finding::new(Code::OriginNoHealthyTargets, severity, &listener.arn)
            .statuses(&[503, 502])
            .title(title)
            .evidence(json!({
                "target_groups": groups.iter().map(|g| &g.arn).collect::<Vec<_>>(),
                "not_healthy": not_healthy,
                "cloudfront_requests": named,
                "every_request": dead.iter().any(|(w, _)| w.sure),
                "cloudfront_host": routing::host_in_words(&lb.cloudfront_host),
            }))
            .remediation("The load balancer has nothing to send these requests to: check the targets' health check (path, port, security group from the load balancer), that instances are running, and the application logs."),
    )
}

/// Its security groups, as any origin's are judged.
fn security_group_findings(lb: &LoadBalancer, at: &str) -> Vec<Finding> {
    security_groups::findings(&Guarded::load_balancer(lb, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::{
        Admission, CloudfrontHost, ListenerPort, ListenerRule, RangeCoverage, RuleAction,
        RuleCondition, SecurityGroupVerdict, TargetState,
    };

    fn lb(origin_ssl_protocols: &[&str], policy: &[&str]) -> LoadBalancer {
        LoadBalancer {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1".into(),
            name: "a".into(),
            dns_name: "a-1.us-east-1.elb.amazonaws.com".into(),
            region: "us-east-1".into(),
            lb_type: Some(cf_doctor_model::evidence::LoadBalancerType::Application),
            matched_by: cf_doctor_model::evidence::MatchedBy::DnsName,
            matched_via: vec![],
            distribution_id: "E1".into(),
            origin_host: "a-1.us-east-1.elb.amazonaws.com".into(),
            origin_port: 443,
            origin_protocol: cf_doctor_model::evidence::OriginProtocol::Https,
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
                default_action: None,
                rules: None,
            }),
            security_groups: None,
            cloudfront_prefix_list: None,
            cloudfront_host: CloudfrontHost::Unknown,
            cloudfront_ranges: None,
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

    fn group(arn: &str, healthy: usize) -> TargetGroupHealth {
        TargetGroupHealth {
            arn: arn.into(),
            healthy,
            not_healthy: if healthy == 0 {
                vec![TargetState {
                    target: "i-1".into(),
                    state: "unhealthy".into(),
                    reason: "Target.FailedHealthChecks".into(),
                }]
            } else {
                vec![]
            },
        }
    }

    fn host_rule(priority: u32, host: &str, target_group: &str) -> ListenerRule {
        ListenerRule {
            arn: format!("rule-{priority}"),
            priority,
            conditions: vec![RuleCondition::HostHeader {
                values: vec![host.into()],
                regex_values: vec![],
            }],
            action: RuleAction::Forward {
                target_groups: vec![target_group.into()],
            },
        }
    }

    /// Host-based routing: the default answers 404, rule 10 sends app.shop.example to `a`, rule 20
    /// sends admin.shop.example to `b`.
    fn host_routed(host: CloudfrontHost, a: usize, b: usize) -> LoadBalancer {
        let mut lb = lb(&["TLSv1.2"], &["TLSv1.2"]);
        lb.cloudfront_host = host;
        let listener = lb.listener.as_mut().unwrap();
        listener.default_action = Some(RuleAction::FixedResponse {
            status_code: "404".into(),
        });
        listener.rules = Some(vec![
            host_rule(10, "app.shop.example", "a"),
            host_rule(20, "admin.shop.example", "b"),
        ]);
        listener.target_groups = Some(vec![group("a", a), group("b", b)]);
        lb
    }

    fn targets(lb: &LoadBalancer) -> Vec<(Severity, String)> {
        load_balancer_findings(lb)
            .into_iter()
            .filter(|f| f.code == Code::OriginNoHealthyTargets)
            .map(|f| (f.severity, f.title))
            .collect()
    }

    fn sent(host: &str) -> CloudfrontHost {
        CloudfrontHost::OriginDomain { host: host.into() }
    }

    #[test]
    fn only_the_rule_cloudfronts_host_meets_is_judged() {
        assert!(targets(&host_routed(sent("app.shop.example"), 2, 0)).is_empty());
        let found = targets(&host_routed(sent("admin.shop.example"), 2, 0));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Severity::Critical);
    }

    #[test]
    fn a_fixed_response_default_is_not_a_missing_target() {
        assert!(
            targets(&host_routed(sent("elsewhere.example"), 0, 0)).is_empty(),
            "CloudFront's Host meets no rule: the 404 is the listener's answer, not a target fault"
        );
    }

    #[test]
    fn an_unknown_host_makes_a_dead_rule_a_warning_not_a_critical() {
        let found = targets(&host_routed(CloudfrontHost::Unknown, 2, 0));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Severity::Warning);
        assert!(
            found[0]
                .1
                .contains("rule 20 (host-header admin.shop.example)"),
            "{}",
            found[0].1
        );
        let found = targets(&host_routed(CloudfrontHost::Unknown, 0, 0));
        assert_eq!(
            found[0].0,
            Severity::Critical,
            "no forwarded-to group is healthy"
        );
    }

    #[test]
    fn evidence_from_before_rules_were_read_judges_the_default_groups() {
        let mut lb = lb(&["TLSv1.2"], &["TLSv1.2"]);
        lb.listener.as_mut().unwrap().target_groups = Some(vec![group("a", 0)]);
        assert_eq!(targets(&lb)[0].0, Severity::Critical);
    }

    #[test]
    fn unread_rules_or_unread_health_decide_nothing() {
        let mut unread_rules = host_routed(sent("admin.shop.example"), 2, 0);
        unread_rules.listener.as_mut().unwrap().rules = None;
        assert!(targets(&unread_rules).is_empty());
        let mut unread_b = host_routed(sent("admin.shop.example"), 2, 0);
        unread_b.listener.as_mut().unwrap().target_groups = Some(vec![group("a", 2)]);
        assert!(targets(&unread_b).is_empty());
    }

    fn verdict(
        opens: Option<&str>,
        admits: Admission,
        undecided: Option<&str>,
    ) -> SecurityGroupVerdict {
        // Written as evidence of every age writes it, and read as such.
        serde_json::from_value(serde_json::json!({
            "id": "sg-1",
            "name": "alb",
            "opens_port_to_cloudfront": opens,
            "admits": admits,
            "undecided": undecided,
        }))
        .unwrap()
    }

    fn blocks(lb: &LoadBalancer) -> Vec<Severity> {
        load_balancer_findings(lb)
            .into_iter()
            .filter(|f| f.code == Code::OriginSecurityGroupBlocksPort)
            .map(|f| f.severity)
            .collect()
    }

    #[test]
    fn only_a_group_set_admitting_cloudfront_in_no_form_blocks_it() {
        let mut lb = lb(&["TLSv1.2"], &["TLSv1.2"]);
        lb.security_groups = Some(vec![verdict(None, Admission::NotCloudfront, None)]);
        assert_eq!(blocks(&lb), vec![Severity::Critical]);
        lb.security_groups = Some(vec![verdict(
            Some("tcp 443-443 from customer-managed prefix list pl-1"),
            Admission::CloudfrontOnly,
            None,
        )]);
        assert!(blocks(&lb).is_empty());
        lb.security_groups = Some(vec![verdict(
            None,
            Admission::Unknown,
            Some("prefix list pl-1 could not be read"),
        )]);
        assert!(blocks(&lb).is_empty(), "undecided is a gap, not a block");
    }

    #[test]
    fn a_partial_copy_of_cloudfronts_ranges_is_a_warning() {
        let mut lb = lb(&["TLSv1.2"], &["TLSv1.2"]);
        lb.security_groups = Some(vec![verdict(
            Some("tcp 443-443 from CloudFront's origin-facing ranges listed as CIDRs: 130.176.0.0/18"),
            Admission::CloudfrontOnly,
            None,
        )]);
        lb.cloudfront_ranges = Some(RangeCoverage {
            admitted: 9,
            of: 10,
            missing: vec!["15.158.0.0/16".into()],
        });
        assert_eq!(blocks(&lb), vec![Severity::Warning]);
        lb.cloudfront_ranges.as_mut().unwrap().admitted = 10;
        lb.cloudfront_ranges.as_mut().unwrap().missing.clear();
        assert!(blocks(&lb).is_empty());
    }
}
