//! A listener's rules and actions as the model keeps them: conditions without any secret value,
//! and the action that finally decides where a request ends.

use aws_sdk_elasticloadbalancingv2::types as elb;

use super::find::paged;
use super::RegionRun;
use crate::error_text;
use cf_doctor_model::evidence::{ListenerRule, RuleAction, RuleCondition};

/// The listener's rules other than the default, every page, in priority order.
pub(super) async fn listener_rules(
    run: &RegionRun,
    listener_arn: &str,
) -> Result<Vec<ListenerRule>, String> {
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
pub(super) fn final_action(actions: &[elb::Action]) -> RuleAction {
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
