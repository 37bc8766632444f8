//! One load balancer as CloudFront meets it: the listener on the origin port, its TLS policy and
//! certificates, its rules and default action (where CloudFront's requests go), the health of the
//! target groups they may be forwarded to, and its security groups.

use aws_sdk_elasticloadbalancingv2::types as elb;

use super::find::{certificates_of, describe_certificate, listeners_of, speaks_tls};
use super::listener_rules::{final_action, listener_rules};
use super::{security_groups, OriginRef, RegionRun};
use crate::error_text;
use cf_doctor_model::evidence::{
    CloudfrontHost, Evidence, Gap, Listener, ListenerPort, LoadBalancer, TargetGroupHealth,
    TargetState,
};
use cf_doctor_model::routing::{self, Route};
use cf_doctor_model::{Check, CheckOutcome};

pub(super) async fn inspect(
    origin: &OriginRef,
    run: &mut RegionRun,
    lb: &elb::LoadBalancer,
    matched_by: &str,
    evidence: &mut Evidence,
) -> LoadBalancer {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let name = lb.load_balancer_name().unwrap_or_default().to_string();
    let lb_type = lb
        .r#type()
        .map(|t| t.as_str().to_string())
        .unwrap_or_default();
    let mut out = LoadBalancer {
        arn: arn.clone(),
        name: name.clone(),
        dns_name: lb.dns_name().unwrap_or_default().to_string(),
        region: run.name.clone(),
        lb_type: lb_type.clone(),
        matched_by: matched_by.to_string(),
        distribution_id: origin.distribution_id.clone(),
        origin_host: origin.host.clone(),
        origin_port: origin.port,
        origin_protocol: if origin.https { "HTTPS" } else { "HTTP" }.to_string(),
        origin_ssl_protocols: origin.ssl_protocols.clone(),
        cname_chain: origin.cname_chain.clone(),
        listeners: Vec::new(),
        listener: None,
        security_groups: None,
        cloudfront_prefix_list: None,
        cloudfront_host: origin.cloudfront_host.clone(),
        cloudfront_ranges: None,
    };
    match listeners_of(run, &arn).await {
        Err(error) => evidence.gaps.push(Gap::new(
            "elasticloadbalancing:DescribeListeners",
            &arn,
            error,
            &format!("the listener of {name} on port {}", origin.port),
        )),
        Ok(listeners) => {
            out.listeners = listeners
                .iter()
                .map(|l| ListenerPort {
                    port: l.port().unwrap_or_default() as u16,
                    protocol: l
                        .protocol()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                })
                .collect();
            if let Some(listener) = listeners
                .iter()
                .find(|l| l.port() == Some(i32::from(origin.port)))
            {
                let has_rules = lb_type == "application";
                out.listener =
                    Some(inspect_listener(run, &name, has_rules, origin, listener, evidence).await);
            }
        }
    }
    let group_ids = lb.security_groups().to_vec();
    let groups = security_groups::security_groups(run, &group_ids, origin.port, evidence).await;
    out.security_groups = groups.verdicts;
    out.cloudfront_prefix_list = groups.cloudfront_prefix_list;
    out.cloudfront_ranges = groups.coverage;
    out
}

async fn inspect_listener(
    run: &mut RegionRun,
    lb_name: &str,
    has_rules: bool,
    origin: &OriginRef,
    listener: &elb::Listener,
    evidence: &mut Evidence,
) -> Listener {
    let arn = listener.listener_arn().unwrap_or_default().to_string();
    let certificate_arns = listener_certificates(run, listener, evidence).await;
    let used_as = format!(
        "listener certificate of {lb_name}:{} (origin {} of {})",
        origin.port, origin.host, origin.distribution_id
    );
    for cert in &certificate_arns {
        if let Some(known) = evidence.certificates.iter_mut().find(|c| &c.arn == cert) {
            known.used_as.push(used_as.clone());
            continue;
        }
        match describe_certificate(run, cert, &used_as).await {
            Ok(described) => evidence.certificates.push(described),
            Err(gap) => evidence.gaps.push(gap),
        }
    }
    let policy_protocols = match listener.ssl_policy() {
        None => None,
        Some(policy) => {
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
    };
    let rules = if has_rules {
        match listener_rules(run, &arn).await {
            Ok(rules) => Some(rules),
            Err(error) => {
                evidence.gaps.push(Gap::new(
                    "elasticloadbalancing:DescribeRules",
                    &arn,
                    error,
                    "which of the listener's rules CloudFront's requests meet, and so which target groups serve them",
                ));
                None
            }
        }
    } else {
        // Network load balancer listeners have no rules: the default action takes everything.
        Some(Vec::new())
    };
    let mut out = Listener {
        arn: arn.clone(),
        port: listener.port().unwrap_or_default() as u16,
        protocol: listener
            .protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        ssl_policy: listener.ssl_policy().map(str::to_string),
        policy_protocols,
        certificate_arns,
        target_groups: None,
        default_action: Some(final_action(listener.default_actions())),
        rules,
    };
    let routes = routing::cloudfront_routes(&out, &origin.cloudfront_host);
    let groups: Vec<String> = match &routes {
        Some(routes) => routes
            .iter()
            .flat_map(|r| r.action.target_groups().iter().cloned())
            .collect(),
        None => out
            .default_action
            .as_ref()
            .map(|a| a.target_groups().to_vec())
            .unwrap_or_default(),
    };
    let detail = routes
        .as_ref()
        .map(|r| routes_in_words(&origin.cloudfront_host, r));
    out.target_groups = target_health(run, groups, evidence).await;
    if let Some(detail) = detail {
        evidence.checks.push(Check::new(
            "origin-listener-rules",
            &arn,
            CheckOutcome::Pass,
            0,
            Some(format!("{detail}{}", health_in_words(&out.target_groups))),
        ));
    }
    out
}

/// The listener's certificates, default and SNI; when the SNI ones cannot be read, the default
/// one alone and a gap.
async fn listener_certificates(
    run: &mut RegionRun,
    listener: &elb::Listener,
    evidence: &mut Evidence,
) -> Vec<String> {
    let on_listener: Vec<String> = listener
        .certificates()
        .iter()
        .filter_map(|c| c.certificate_arn().map(str::to_string))
        .collect();
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
    let mut out = Vec::new();
    let mut failed = 0;
    for arn in &groups {
        run.elb_pace.acquire().await;
        match run
            .infra
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
        {
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
