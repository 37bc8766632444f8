//! One load balancer as CloudFront meets it: the listener on the origin port, its TLS policy and
//! certificates, its rules and default action (where CloudFront's requests go), the health of the
//! target groups they may be forwarded to, and its security groups.

use aws_sdk_elasticloadbalancingv2::types as elb;

use super::find::{certificates_of, describe_certificate, listeners_of, paged, speaks_tls};
use super::{security_groups, OriginRef, RegionRun};
use crate::error_text;
use cf_doctor_model::evidence::{
    CloudfrontHost, Evidence, Gap, Listener, ListenerPort, ListenerRule, LoadBalancer, RuleAction,
    RuleCondition, TargetGroupHealth, TargetState,
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

/// The listener's rules other than the default, every page, in priority order.
async fn listener_rules(run: &RegionRun, listener_arn: &str) -> Result<Vec<ListenerRule>, String> {
    let client = &run.infra.elb;
    let rules = paged(&run.elb_pace, |marker| async move {
        let out = client
            .describe_rules()
            .listener_arn(listener_arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        Ok((out.rules().to_vec(), out.next_marker().map(str::to_string)))
    })
    .await?;
    let mut out: Vec<ListenerRule> = rules
        .iter()
        .filter(|r| !r.is_default().unwrap_or(false))
        .filter_map(|r| {
            Some(ListenerRule {
                arn: r.rule_arn().unwrap_or_default().to_string(),
                // The default rule's priority is "default"; every other one is a number.
                priority: r.priority()?.parse().ok()?,
                conditions: r.conditions().iter().map(condition).collect(),
                action: final_action(r.actions()),
            })
        })
        .collect();
    out.sort_by_key(|r| r.priority);
    Ok(out)
}

/// A condition as the model keeps it: never an http-header condition's values, which in the
/// custom-header pattern are the secret CloudFront adds.
fn condition(c: &elb::RuleCondition) -> RuleCondition {
    let field = c.field().unwrap_or_default();
    match field {
        "host-header" => {
            let config = c.host_header_config();
            RuleCondition::HostHeader {
                values: merged(config.map(|h| h.values()), c.values()),
                regex_values: merged(config.map(|h| h.regex_values()), c.regex_values()),
            }
        }
        "path-pattern" => RuleCondition::PathPattern {
            values: merged(c.path_pattern_config().map(|p| p.values()), c.values()),
        },
        "http-header" => RuleCondition::HttpHeader {
            name: c
                .http_header_config()
                .and_then(|h| h.http_header_name())
                .unwrap_or_default()
                .to_string(),
        },
        other => RuleCondition::Other {
            name: other.to_string(),
        },
    }
}

/// A condition's values: AWS answers with both the config's list and the legacy `Values` (the
/// same names), moto with one of them.
fn merged(config: Option<&[String]>, legacy: &[String]) -> Vec<String> {
    let mut out: Vec<String> = config.unwrap_or_default().to_vec();
    for v in legacy {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// What a list of actions finally does: authentication actions come first (by `Order`), and the
/// last forward, fixed-response or redirect decides where the request ends.
fn final_action(actions: &[elb::Action]) -> RuleAction {
    let mut ordered: Vec<&elb::Action> = actions.iter().collect();
    ordered.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    let last = ordered.iter().rev().find_map(|a| match a.r#type()? {
        elb::ActionTypeEnum::Forward => {
            let mut groups: Vec<String> = a
                .target_group_arn()
                .map(str::to_string)
                .into_iter()
                .collect();
            if let Some(forward) = a.forward_config() {
                for g in forward
                    .target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn())
                {
                    if !groups.iter().any(|known| known == g) {
                        groups.push(g.to_string());
                    }
                }
            }
            Some(RuleAction::Forward {
                target_groups: groups,
            })
        }
        elb::ActionTypeEnum::FixedResponse => Some(RuleAction::FixedResponse {
            status_code: a
                .fixed_response_config()
                .and_then(|f| f.status_code())
                .unwrap_or_default()
                .to_string(),
        }),
        elb::ActionTypeEnum::Redirect => Some(RuleAction::Redirect {
            status_code: a
                .redirect_config()
                .and_then(|r| r.status_code())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        }),
        _ => None,
    });
    last.unwrap_or_else(|| RuleAction::Other {
        name: ordered
            .iter()
            .filter_map(|a| a.r#type().map(|t| t.as_str().to_string()))
            .collect::<Vec<_>>()
            .join(", "),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(group: &str, order: i32) -> elb::Action {
        elb::Action::builder()
            .r#type(elb::ActionTypeEnum::Forward)
            .target_group_arn(group)
            .order(order)
            .build()
    }

    #[test]
    fn authentication_comes_first_and_the_final_action_decides() {
        let authenticate = elb::Action::builder()
            .r#type(elb::ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .build();
        assert_eq!(
            final_action(&[forward("tg", 2), authenticate.clone()]),
            RuleAction::Forward {
                target_groups: vec!["tg".into()]
            }
        );
        assert_eq!(
            final_action(&[authenticate]),
            RuleAction::Other {
                name: "authenticate-oidc".into()
            }
        );
    }

    #[test]
    fn a_weighted_forward_names_every_group_once() {
        let weighted = elb::Action::builder()
            .r#type(elb::ActionTypeEnum::Forward)
            .target_group_arn("a")
            .forward_config(
                elb::ForwardActionConfig::builder()
                    .target_groups(
                        elb::TargetGroupTuple::builder()
                            .target_group_arn("a")
                            .build(),
                    )
                    .target_groups(
                        elb::TargetGroupTuple::builder()
                            .target_group_arn("b")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            final_action(&[weighted]),
            RuleAction::Forward {
                target_groups: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn a_header_condition_keeps_its_name_and_never_its_secret_value() {
        let c = elb::RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                elb::HttpHeaderConditionConfig::builder()
                    .http_header_name("X-Origin-Verify")
                    .values("s3cret-shared-with-cloudfront")
                    .build(),
            )
            .build();
        let kept = condition(&c);
        assert_eq!(
            kept,
            RuleCondition::HttpHeader {
                name: "X-Origin-Verify".into()
            }
        );
        assert!(!format!("{kept:?}").contains("s3cret"));
    }

    #[test]
    fn legacy_host_values_count_like_the_config_ones() {
        let c = elb::RuleCondition::builder()
            .field("host-header")
            .values("app.shop.example")
            .build();
        assert_eq!(
            condition(&c),
            RuleCondition::HostHeader {
                values: vec!["app.shop.example".into()],
                regex_values: vec![]
            }
        );
    }
}
