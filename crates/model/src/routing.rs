//! Where an Application Load Balancer sends CloudFront's requests: its rules are evaluated in
//! priority order, the first whose conditions all hold takes the request, and the default action
//! takes what no rule does. Only host-header conditions can be compared with what CloudFront
//! sends; any other condition (a secret header, a path, a query string) may or may not hold.
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html>

use crate::evidence::{CloudfrontHost, Listener, ListenerRule, RuleAction, RuleCondition};

/// Whether CloudFront's requests meet a rule's conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meets {
    /// Every request CloudFront sends this origin does.
    Yes,
    /// Some may: a condition cannot be compared from here, or only some of the viewer hosts match.
    Maybe,
    No,
}

/// A rule (or the default action) that CloudFront's requests may reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Route<'a> {
    /// None: the default action.
    pub rule: Option<&'a ListenerRule>,
    pub action: &'a RuleAction,
    /// Every request CloudFront sends ends here (no rule before it may take some of them).
    pub sure: bool,
}

impl Route<'_> {
    /// `rule 10 (host-header app.shop.example)` or `the default action`.
    pub fn name(&self) -> String {
        match self.rule {
            None => "the default action".to_string(),
            Some(rule) => {
                let conditions: Vec<String> = rule.conditions.iter().map(describe).collect();
                format!("rule {} ({})", rule.priority, conditions.join(", "))
            }
        }
    }
}

/// The Host CloudFront sends, in words: `app.example (the origin domain)`, `the viewer's
/// (www.example, example)` or `unknown (...)`.
pub fn host_in_words(host: &CloudfrontHost) -> String {
    match host {
        CloudfrontHost::OriginDomain { host } => format!("{host} (the origin domain)"),
        CloudfrontHost::Viewer { hosts } => format!("the viewer's ({})", hosts.join(", ")),
        CloudfrontHost::Unknown => {
            "unknown (an origin request policy could not be read, or the evidence predates it)"
                .to_string()
        }
    }
}

/// A condition in words, without any value that may be a secret (header values).
pub fn describe(condition: &RuleCondition) -> String {
    match condition {
        RuleCondition::HostHeader {
            values,
            regex_values,
        } => {
            let all: Vec<&str> = values
                .iter()
                .chain(regex_values)
                .map(String::as_str)
                .collect();
            format!("host-header {}", all.join(" | "))
        }
        RuleCondition::PathPattern { values } => format!("path-pattern {}", values.join(" | ")),
        RuleCondition::HttpHeader { name } => format!("http-header {name}"),
        RuleCondition::Other { name } => name.clone(),
    }
}

/// An action in words: `forward to 2 target group(s)`, `fixed-response 403`, ...
pub fn describe_action(action: &RuleAction) -> String {
    match action {
        RuleAction::Forward { target_groups } => {
            let names: Vec<&str> = target_groups
                .iter()
                .map(|arn| target_group_name(arn))
                .collect();
            format!("forward to {}", names.join(", "))
        }
        RuleAction::FixedResponse { status_code } => format!("fixed-response {status_code}"),
        RuleAction::Redirect { status_code } => format!("redirect {status_code}"),
        RuleAction::Other { name } => name.clone(),
    }
}

/// The name in a target group ARN (`...:targetgroup/NAME/ID`), or the ARN itself.
pub fn target_group_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(arn)
}

/// A host-header pattern against one host: case-insensitive, `*` matches any run of characters
/// and `?` exactly one; a port on the host is not part of the name.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let pattern: Vec<char> = pattern.trim().to_ascii_lowercase().chars().collect();
    let host: Vec<char> = host.to_ascii_lowercase().chars().collect();
    wildcard(&pattern, &host)
}

/// Glob matching with `*` and `?`, iteratively (backtracking to the last `*`).
fn wildcard(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == '?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Whether CloudFront's requests meet one condition.
fn condition_meets(condition: &RuleCondition, host: &CloudfrontHost) -> Meets {
    let RuleCondition::HostHeader {
        values,
        regex_values,
    } = condition
    else {
        return Meets::Maybe;
    };
    let hosts: Vec<&str> = match host {
        CloudfrontHost::OriginDomain { host } => vec![host.as_str()],
        CloudfrontHost::Viewer { hosts } if !hosts.is_empty() => {
            hosts.iter().map(String::as_str).collect()
        }
        _ => return Meets::Maybe,
    };
    // A wildcard alias stands for every name under it: a pattern that matches it as written
    // matches them all; one that does not may still match some.
    let matching = hosts
        .iter()
        .filter(|h| values.iter().any(|v| host_matches(v, h)))
        .count();
    let some_of_a_wildcard = hosts
        .iter()
        .any(|h| h.contains(['*', '?']) && !values.iter().any(|v| host_matches(v, h)));
    if matching == hosts.len() {
        Meets::Yes
    } else if matching > 0 || some_of_a_wildcard || !regex_values.is_empty() {
        // A regular expression is not evaluated here: it may take the hosts the values do not.
        Meets::Maybe
    } else {
        Meets::No
    }
}

/// Whether CloudFront's requests meet every condition of `rule`.
pub fn meets(rule: &ListenerRule, host: &CloudfrontHost) -> Meets {
    rule.conditions
        .iter()
        .map(|c| condition_meets(c, host))
        .fold(Meets::Yes, |all, one| match (all, one) {
            (Meets::No, _) | (_, Meets::No) => Meets::No,
            (Meets::Maybe, _) | (_, Meets::Maybe) => Meets::Maybe,
            _ => Meets::Yes,
        })
}

/// The rules (and the default action) CloudFront's requests to this listener may end at, in the
/// order the load balancer tries them. None when the rules or the default action were not read.
pub fn cloudfront_routes<'a>(
    listener: &'a Listener,
    host: &CloudfrontHost,
) -> Option<Vec<Route<'a>>> {
    let default_action = listener.default_action.as_ref()?;
    let rules = listener.rules.as_ref()?;
    let mut ordered: Vec<&ListenerRule> = rules.iter().collect();
    ordered.sort_by_key(|r| r.priority);
    let mut routes = Vec::new();
    let mut uncertain_before = false;
    for rule in ordered {
        match meets(rule, host) {
            Meets::No => {}
            Meets::Maybe => {
                routes.push(Route {
                    rule: Some(rule),
                    action: &rule.action,
                    sure: false,
                });
                uncertain_before = true;
            }
            Meets::Yes => {
                routes.push(Route {
                    rule: Some(rule),
                    action: &rule.action,
                    sure: !uncertain_before,
                });
                return Some(routes);
            }
        }
    }
    routes.push(Route {
        rule: None,
        action: default_action,
        sure: !uncertain_before,
    });
    Some(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(priority: u32, conditions: Vec<RuleCondition>, group: &str) -> ListenerRule {
        ListenerRule {
            arn: format!("rule-{priority}"),
            priority,
            conditions,
            action: RuleAction::Forward {
                target_groups: vec![group.to_string()],
            },
        }
    }

    fn host_header(values: &[&str]) -> RuleCondition {
        RuleCondition::HostHeader {
            values: values.iter().map(|v| v.to_string()).collect(),
            regex_values: vec![],
        }
    }

    fn listener(rules: Vec<ListenerRule>) -> Listener {
        Listener {
            arn: "listener".into(),
            port: 443,
            protocol: "HTTPS".into(),
            ssl_policy: None,
            policy_protocols: None,
            certificate_arns: vec![],
            target_groups: None,
            default_action: Some(RuleAction::FixedResponse {
                status_code: "404".into(),
            }),
            rules: Some(rules),
        }
    }

    fn origin(host: &str) -> CloudfrontHost {
        CloudfrontHost::OriginDomain { host: host.into() }
    }

    fn names(routes: &[Route<'_>]) -> Vec<(String, bool)> {
        routes.iter().map(|r| (r.name(), r.sure)).collect()
    }

    #[test]
    fn host_patterns_are_case_insensitive_globs() {
        assert!(host_matches("App.Shop.Example", "app.shop.example"));
        assert!(host_matches("*.shop.example", "a.b.shop.example"));
        assert!(host_matches("app?.shop.example", "app1.shop.example"));
        assert!(!host_matches("app?.shop.example", "app.shop.example"));
        assert!(host_matches("app.shop.example", "app.shop.example:443"));
        assert!(!host_matches("*.shop.example", "shop.example"));
        assert!(host_matches("*", "anything.example"));
    }

    #[test]
    fn the_first_rule_whose_host_matches_takes_every_request_and_the_default_is_not_reached() {
        let l = listener(vec![
            rule(20, vec![host_header(&["admin.shop.example"])], "b"),
            rule(10, vec![host_header(&["app.shop.example"])], "a"),
            rule(30, vec![host_header(&["*.shop.example"])], "c"),
        ]);
        let routes = cloudfront_routes(&l, &origin("app.shop.example")).unwrap();
        assert_eq!(
            names(&routes),
            vec![("rule 10 (host-header app.shop.example)".to_string(), true)]
        );
        let routes = cloudfront_routes(&l, &origin("other.example")).unwrap();
        assert_eq!(
            names(&routes),
            vec![("the default action".to_string(), true)]
        );
    }

    #[test]
    fn a_secret_header_rule_may_match_so_the_default_is_reached_only_maybe() {
        let l = listener(vec![rule(
            1,
            vec![RuleCondition::HttpHeader {
                name: "X-Origin-Verify".into(),
            }],
            "app",
        )]);
        let routes = cloudfront_routes(&l, &origin("app.shop.example")).unwrap();
        assert_eq!(
            names(&routes),
            vec![
                ("rule 1 (http-header X-Origin-Verify)".to_string(), false),
                ("the default action".to_string(), false)
            ]
        );
    }

    #[test]
    fn an_unknown_host_may_meet_any_host_rule() {
        let l = listener(vec![
            rule(1, vec![host_header(&["a.example"])], "a"),
            rule(2, vec![host_header(&["b.example"])], "b"),
        ]);
        let routes = cloudfront_routes(&l, &CloudfrontHost::Unknown).unwrap();
        assert_eq!(routes.len(), 3);
        assert!(routes.iter().all(|r| !r.sure));
    }

    #[test]
    fn forwarded_viewer_hosts_meet_a_rule_surely_only_when_all_of_them_do() {
        let l = listener(vec![rule(1, vec![host_header(&["www.shop.example"])], "a")]);
        let all = CloudfrontHost::Viewer {
            hosts: vec!["www.shop.example".into()],
        };
        assert_eq!(cloudfront_routes(&l, &all).unwrap().len(), 1);
        let some = CloudfrontHost::Viewer {
            hosts: vec!["www.shop.example".into(), "shop.example".into()],
        };
        let routes = cloudfront_routes(&l, &some).unwrap();
        assert_eq!(
            routes.len(),
            2,
            "the other alias falls through to the default"
        );
        assert!(!routes[0].sure && !routes[1].sure);
    }

    #[test]
    fn a_wildcard_alias_meets_a_pattern_covering_it_surely_and_a_single_name_maybe() {
        let viewer = CloudfrontHost::Viewer {
            hosts: vec!["*.shop.example".into()],
        };
        let all = rule(1, vec![host_header(&["*.shop.example"])], "a");
        let one = rule(1, vec![host_header(&["app.shop.example"])], "a");
        let other = rule(1, vec![host_header(&["*.other.example"])], "a");
        assert_eq!(meets(&all, &viewer), Meets::Yes);
        assert_eq!(meets(&one, &viewer), Meets::Maybe);
        assert_eq!(
            meets(&other, &viewer),
            Meets::Maybe,
            "wildcards are not compared with one another"
        );
    }

    #[test]
    fn every_condition_must_hold() {
        let both = rule(
            1,
            vec![
                host_header(&["app.shop.example"]),
                RuleCondition::PathPattern {
                    values: vec!["/api/*".into()],
                },
            ],
            "api",
        );
        assert_eq!(meets(&both, &origin("app.shop.example")), Meets::Maybe);
        assert_eq!(meets(&both, &origin("www.shop.example")), Meets::No);
    }

    #[test]
    fn unread_rules_give_no_routes() {
        let mut l = listener(vec![]);
        l.rules = None;
        assert!(cloudfront_routes(&l, &origin("a.example")).is_none());
    }

    #[test]
    fn target_group_names_come_from_their_arns() {
        assert_eq!(
            target_group_name(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-tg/0123"
            ),
            "app-tg"
        );
        assert_eq!(target_group_name("tg"), "tg");
    }
}
