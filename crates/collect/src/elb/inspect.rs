//! One load balancer as CloudFront meets it: the listener on the origin port, its TLS policy and
//! certificates, its rules and default action (where CloudFront's requests go), the health of the
//! target groups they may be forwarded to, and its security groups.

use aws_sdk_elasticloadbalancingv2::types as elb;

use super::find::{
    certificates_of, certificates_on, describe_certificate, listeners_of, speaks_tls,
};
use super::listener_rules::{final_action, listener_rules};
use super::{security_groups, OriginRef, RegionRun};
use crate::{error_text, metrics};
use cf_doctor_model::evidence::{
    CloudfrontHost, Evidence, Gap, Listener, ListenerPort, ListenerRule, LoadBalancer,
    LoadBalancerType, MatchedBy, TargetGroupHealth, TargetState,
};
use cf_doctor_model::routing::{self, Route};
use cf_doctor_model::{Check, CheckOutcome};

/// Reads one load balancer; its listener and its security groups side by side, and inside the
/// listener its certificates, TLS policy and rules (then the health of the groups they forward
/// to), each part into evidence of its own, folded back in a fixed order.
pub(super) async fn inspect(
    origin: &OriginRef,
    run: &RegionRun,
    lb: &elb::LoadBalancer,
    matched_by: MatchedBy,
    evidence: &mut Evidence,
) -> LoadBalancer {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let name = lb.load_balancer_name().unwrap_or_default().to_string();
    // The ARN's resource type (`app/`, `net/`) says it too, when the answer leaves Type out.
    let lb_type = lb
        .r#type()
        .and_then(|t| LoadBalancerType::from_aws(t.as_str()))
        .or_else(|| LoadBalancerType::from_arn(&arn));
    let mut out = LoadBalancer {
        arn: arn.clone(),
        name: name.clone(),
        dns_name: lb.dns_name().unwrap_or_default().to_string(),
        region: run.name.clone(),
        lb_type,
        matched_by,
        matched_via: Vec::new(),
        distribution_id: origin.distribution_id.clone(),
        origin_host: origin.host.clone(),
        origin_port: origin.connection.port,
        origin_protocol: origin.connection.protocol,
        origin_ssl_protocols: origin.ssl_protocols.clone(),
        cname_chain: origin.cname_chain.clone(),
        listeners: Vec::new(),
        listener: None,
        security_groups: None,
        cloudfront_prefix_list: None,
        cloudfront_host: origin.cloudfront_host.clone(),
        cloudfront_ranges: None,
    };
    let base = Evidence::default();
    let (mut on_listeners, mut on_groups) = (base.clone(), base.clone());
    // The metrics' window ends at the evidence's clock.
    let mut on_health = Evidence {
        now: evidence.now,
        ..Evidence::default()
    };
    let has_rules = lb_type == Some(LoadBalancerType::Application);
    let listeners = async {
        match listeners_of(run, &arn).await {
            Err(error) => {
                on_listeners.gaps.push(Gap::new(
                    "elasticloadbalancing:DescribeListeners",
                    &arn,
                    error,
                    &format!("the listener of {name} on port {}", origin.connection.port),
                ));
                (Vec::new(), None)
            }
            Ok(listeners) => {
                let ports = listeners
                    .iter()
                    .map(|l| ListenerPort {
                        port: l.port().unwrap_or_default() as u16,
                        protocol: l
                            .protocol()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                    })
                    .collect();
                let on_port = listeners
                    .iter()
                    .find(|l| l.port() == Some(i32::from(origin.connection.port)));
                let listener = match on_port {
                    Some(listener) => {
                        // The unhealthy targets of the groups the default action forwards to
                        // (CloudWatch has them per group only), read beside the listener.
                        let groups = final_action(listener.default_actions())
                            .target_groups()
                            .to_vec();
                        let (inspected, ()) = tokio::join!(
                            inspect_listener(
                                run,
                                &name,
                                has_rules,
                                origin,
                                listener,
                                &mut on_listeners,
                            ),
                            metrics::target_group_health(
                                &run.infra.cloudwatch,
                                &run.name,
                                &arn,
                                &groups,
                                &mut on_health,
                            )
                        );
                        Some(inspected)
                    }
                    None => None,
                };
                (ports, listener)
            }
        }
    };
    let group_ids = lb.security_groups().to_vec();
    let groups =
        security_groups::security_groups(run, &group_ids, origin.connection.port, &mut on_groups);
    let ((ports, listener), groups) = tokio::join!(listeners, groups);
    evidence.absorb(on_listeners, &base);
    evidence.absorb(on_groups, &base);
    evidence.absorb(on_health, &base);
    out.listeners = ports;
    out.listener = listener;
    out.security_groups = groups.verdicts;
    out.cloudfront_prefix_list = groups.cloudfront_prefix_list;
    out.cloudfront_ranges = groups.coverage;
    out
}

async fn inspect_listener(
    run: &RegionRun,
    lb_name: &str,
    has_rules: bool,
    origin: &OriginRef,
    listener: &elb::Listener,
    evidence: &mut Evidence,
) -> Listener {
    let arn = listener.listener_arn().unwrap_or_default().to_string();
    let used_as = format!(
        "listener certificate of {lb_name}:{} (origin {} of {})",
        origin.connection.port, origin.host, origin.distribution_id
    );
    let base = Evidence::default();
    let (mut on_certificates, mut on_policy, mut on_rules) =
        (base.clone(), base.clone(), base.clone());
    let certificates =
        listener_certificates_described(run, listener, &used_as, &mut on_certificates);
    let policy = policy_protocols(run, listener.ssl_policy(), &mut on_policy);
    let mut out = Listener {
        arn: arn.clone(),
        port: listener.port().unwrap_or_default() as u16,
        protocol: listener
            .protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        ssl_policy: listener.ssl_policy().map(str::to_string),
        policy_protocols: None,
        certificate_arns: Vec::new(),
        target_groups: None,
        default_action: Some(final_action(listener.default_actions())),
        rules: None,
    };
    let routed = rules_and_health(run, has_rules, origin, &out, &mut on_rules);
    let (certificate_arns, policy_protocols, (rules, target_groups)) =
        tokio::join!(certificates, policy, routed);
    evidence.absorb(on_certificates, &base);
    evidence.absorb(on_policy, &base);
    evidence.absorb(on_rules, &base);
    out.certificate_arns = certificate_arns;
    out.policy_protocols = policy_protocols;
    out.rules = rules;
    out.target_groups = target_groups;
    out
}

/// The listener's certificates, each described (all at once, within ACM's rate). The default
/// certificate is on the listener itself: it is described while the SNI ones are listed.
async fn listener_certificates_described(
    run: &RegionRun,
    listener: &elb::Listener,
    used_as: &str,
    evidence: &mut Evidence,
) -> Vec<String> {
    let on_listener = certificates_on(listener);
    let describe_all = |arns: Vec<String>| async move {
        futures::future::join_all(
            arns.iter()
                .map(|arn| describe_certificate(run, arn, used_as)),
        )
        .await
    };
    let (certificate_arns, mut described) = tokio::join!(
        listener_certificates(run, listener, evidence),
        describe_all(on_listener.clone())
    );
    let more: Vec<String> = certificate_arns
        .iter()
        .filter(|arn| !on_listener.contains(arn))
        .cloned()
        .collect();
    described.extend(describe_all(more).await);
    for result in described {
        match result {
            Ok(described) => evidence.add_certificate(described),
            Err(gap) => evidence.gaps.push(gap),
        }
    }
    certificate_arns
}

/// The TLS protocols the listener's security policy admits (DescribeSSLPolicies).
async fn policy_protocols(
    run: &RegionRun,
    policy: Option<&str>,
    evidence: &mut Evidence,
) -> Option<Vec<String>> {
    let policy = policy?;
    run.elb_pace.acquire().await;
    match run
        .infra
        .elb
        .describe_ssl_policies()
        .names(policy)
        .send()
        .await
    {
        Ok(out) => out
            .ssl_policies()
            .first()
            .map(|p| p.ssl_protocols().to_vec()),
        Err(e) => {
            evidence.gaps.push(Gap::new(
                "elasticloadbalancing:DescribeSSLPolicies",
                policy,
                error_text(&e),
                "which TLS protocols the listener admits",
            ));
            None
        }
    }
}

/// The listener's rules, where CloudFront's requests go by them, and the health of the target
/// groups they may be forwarded to.
async fn rules_and_health(
    run: &RegionRun,
    has_rules: bool,
    origin: &OriginRef,
    listener: &Listener,
    evidence: &mut Evidence,
) -> (Option<Vec<ListenerRule>>, Option<Vec<TargetGroupHealth>>) {
    let arn = &listener.arn;
    // The default action's groups are read while the rules are: most listeners send CloudFront's
    // requests there, and the rules only add groups to read.
    let default_groups: Vec<String> = listener
        .default_action
        .as_ref()
        .map(|a| a.target_groups().to_vec())
        .unwrap_or_default();
    let base = Evidence::default();
    let mut on_default = base.clone();
    let rules = async {
        if !has_rules {
            // Network load balancer listeners have no rules: the default action takes everything.
            return Ok(Vec::new());
        }
        listener_rules(run, arn).await
    };
    let (rules, default_health) = tokio::join!(
        rules,
        target_health(run, default_groups.clone(), &mut on_default)
    );
    let rules = match rules {
        Ok(rules) => Some(rules),
        Err(error) => {
            evidence.gaps.push(Gap::new(
                "elasticloadbalancing:DescribeRules",
                arn,
                error,
                "which of the listener's rules CloudFront's requests meet, and so which target groups serve them",
            ));
            None
        }
    };
    let routed = Listener {
        rules: rules.clone(),
        ..listener.clone()
    };
    let routes = routing::cloudfront_routes(&routed, &origin.cloudfront_host);
    let groups: Vec<String> = match &routes {
        Some(routes) => routes
            .iter()
            .flat_map(|r| r.action.target_groups().iter().cloned())
            .collect(),
        None => routed
            .default_action
            .as_ref()
            .map(|a| a.target_groups().to_vec())
            .unwrap_or_default(),
    };
    let detail = routes
        .as_ref()
        .map(|r| routes_in_words(&origin.cloudfront_host, r));
    let target_groups = routed_health(
        run,
        groups,
        default_groups,
        default_health,
        on_default,
        evidence,
    )
    .await;
    if let Some(detail) = detail {
        evidence.checks.push(Check::new(
            "origin-listener-rules",
            arn,
            CheckOutcome::Pass,
            0,
            Some(format!("{detail}{}", health_in_words(&target_groups))),
        ));
    }
    (rules, target_groups)
}

/// The health of the groups CloudFront's requests may be forwarded to: those of the default action,
/// already read (kept only if the routes still lead there), and the rest, read now.
async fn routed_health(
    run: &RegionRun,
    mut groups: Vec<String>,
    default_groups: Vec<String>,
    default_health: Option<Vec<TargetGroupHealth>>,
    on_default: Evidence,
    evidence: &mut Evidence,
) -> Option<Vec<TargetGroupHealth>> {
    groups.sort();
    groups.dedup();
    let routed_to_default = groups.iter().any(|g| default_groups.contains(g));
    if !routed_to_default {
        return target_health(run, groups, evidence).await;
    }
    // Only the groups CloudFront's requests may reach count: a default group the rules route
    // around is neither reported nor a gap.
    let mut failed = 0;
    for gap in on_default.gaps {
        if groups.contains(&gap.resource) {
            failed += 1;
            evidence.gaps.push(gap);
        }
    }
    let mut read: Vec<TargetGroupHealth> = default_health
        .unwrap_or_default()
        .into_iter()
        .filter(|h| groups.contains(&h.arn))
        .collect();
    let rest: Vec<String> = groups
        .iter()
        .filter(|g| !default_groups.contains(g))
        .cloned()
        .collect();
    if !rest.is_empty() {
        let mut on_rest = Evidence::default();
        let more = target_health(run, rest, &mut on_rest).await;
        failed += on_rest.gaps.len();
        evidence.gaps.append(&mut on_rest.gaps);
        read.extend(more.unwrap_or_default());
    }
    read.sort_by(|a, b| a.arn.cmp(&b.arn));
    // As from target_health: None only when every group that counts failed.
    (failed == 0 || !read.is_empty()).then_some(read)
}

/// The listener's certificates, default and SNI; when the SNI ones cannot be read, the default
/// one alone and a gap.
async fn listener_certificates(
    run: &RegionRun,
    listener: &elb::Listener,
    evidence: &mut Evidence,
) -> Vec<String> {
    let on_listener = certificates_on(listener);
    if !speaks_tls(listener) {
        return on_listener;
    }
    match certificates_of(run, listener).await {
        Ok(all) => all,
        Err(error) => {
            evidence.gaps.push(Gap::new(
                "elasticloadbalancing:DescribeListenerCertificates",
                listener.listener_arn().unwrap_or_default(),
                error,
                "the listener's additional (SNI) certificates",
            ));
            on_listener
        }
    }
}

/// "CloudFront sends Host app.example: every request meets rule 10 (...) -> forward to app-tg".
fn routes_in_words(host: &CloudfrontHost, routes: &[Route<'_>]) -> String {
    let sent = match host {
        CloudfrontHost::OriginDomain { host } => format!("CloudFront sends Host {host} (the origin domain)"),
        CloudfrontHost::Viewer { hosts } => {
            format!("CloudFront forwards the viewer's Host ({})", hosts.join(", "))
        }
        CloudfrontHost::Unknown => "The Host CloudFront sends is unknown (an origin request policy could not be read), so any host-header rule may match".to_string(),
    };
    let steps: Vec<String> = routes
        .iter()
        .map(|r| {
            let action = routing::describe_action(r.action);
            match (r.rule.is_some(), r.sure) {
                (true, true) => format!("every request meets {} -> {action}", r.name()),
                (true, false) => format!("requests may meet {} -> {action}", r.name()),
                (false, true) => {
                    format!("no rule matches, so every request gets the default action -> {action}")
                }
                (false, false) => format!("the rest get the default action -> {action}"),
            }
        })
        .collect();
    format!("{sent}: {}", steps.join("; "))
}

fn health_in_words(groups: &Option<Vec<TargetGroupHealth>>) -> String {
    match groups {
        None => String::new(),
        Some(groups) if groups.is_empty() => String::new(),
        Some(groups) => {
            let each: Vec<String> = groups
                .iter()
                .map(|g| {
                    format!(
                        "{} {} healthy, {} not",
                        routing::target_group_name(&g.arn),
                        g.healthy,
                        g.not_healthy.len()
                    )
                })
                .collect();
            format!(" (targets: {})", each.join("; "))
        }
    }
}

/// The health of each target group (once each); a group that cannot be read is a gap and is left
/// out, so its routes stay undecided. None when none could be read.
async fn target_health(
    run: &RegionRun,
    mut groups: Vec<String>,
    evidence: &mut Evidence,
) -> Option<Vec<TargetGroupHealth>> {
    groups.sort();
    groups.dedup();
    // Every group at once, within the ELB rate; answers kept in ARN order.
    let answers = futures::future::join_all(groups.iter().map(|arn| async move {
        run.elb_pace.acquire().await;
        let answer = run
            .infra
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await;
        (arn, answer)
    }))
    .await;
    let mut out = Vec::new();
    let mut failed = 0;
    for (arn, answer) in answers {
        match answer {
            Err(e) => {
                failed += 1;
                evidence.gaps.push(Gap::new(
                    "elasticloadbalancing:DescribeTargetHealth",
                    arn,
                    error_text(&e),
                    "the health of the targets behind the listener",
                ));
            }
            Ok(health) => out.push(group_health(arn, health.target_health_descriptions())),
        }
    }
    (failed == 0 || !out.is_empty()).then_some(out)
}

fn group_health(arn: &str, targets: &[elb::TargetHealthDescription]) -> TargetGroupHealth {
    let mut healthy = 0;
    let mut not_healthy = Vec::new();
    for t in targets {
        let health = t.target_health();
        let state = health
            .and_then(|h| h.state())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if state == "healthy" {
            healthy += 1;
        } else {
            not_healthy.push(TargetState {
                target: t
                    .target()
                    .and_then(|t| t.id())
                    .unwrap_or_default()
                    .to_string(),
                state,
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
            });
        }
    }
    TargetGroupHealth {
        arn: arn.to_string(),
        healthy,
        not_healthy,
    }
}
