//! CloudFront: GetDistribution and ListDistributions, and the origin request policies that decide
//! which Host each origin receives, mapped into the Evidence model.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_cloudfront::types as cf;
use futures::StreamExt;

use crate::{error_text, Budget, CollectError};
use cf_doctor_model::evidence::{
    CustomOrigin, Distribution, Gap, Origin, OriginGroup, OriginKind, ViewerCertificate,
};

/// AWS's managed origin request policies (ids as AWS publishes them) and whether each forwards
/// the viewer's Host header. Any other policy is the account's own and is read with
/// GetOriginRequestPolicy.
const MANAGED_POLICIES: [(&str, bool); 8] = [
    ("216adef6-5c7f-47e4-b989-5492eafa07d3", true), // AllViewer
    ("33f36d7e-f396-46d9-90e0-52428a34d9dc", true), // AllViewerAndCloudFrontHeaders-2022-06
    ("bf0718e1-ba1e-49d1-88b1-f726733018ae", true), // HostHeaderOnly
    ("b689b0a8-53d0-40ab-baf2-68738e2966ac", false), // AllViewerExceptHostHeader
    ("59781a5b-3903-41f3-afcb-af62929ccde1", false), // CORS-CustomOrigin
    ("88a5eaf4-2fd4-4709-b370-b4c650ea3fcf", false), // CORS-S3Origin
    ("775133bc-15f2-49f9-abea-afb2e0bf67d2", false), // Elemental-MediaTailor-PersonalizedManifests
    ("acba4595-bd28-49b8-b9fe-13317c0390fa", false), // UserAgentRefererHeaders
];

/// Policies read at once: CloudFront's control plane is rate limited per account.
const POLICY_READS_AT_ONCE: usize = 4;

fn managed_forwards_host(policy: &str) -> Option<bool> {
    MANAGED_POLICIES
        .iter()
        .find(|(id, _)| *id == policy)
        .map(|(_, forwards)| *forwards)
}

/// Whether each origin request policy forwards the viewer's Host: the managed ones from the
/// table, the account's own as read. A policy missing here could not be read (a gap says so).
#[derive(Debug, Default)]
pub struct HostForwarding(HashMap<String, bool>);

impl HostForwarding {
    fn forwards_host(&self, policy: &str) -> bool {
        managed_forwards_host(policy)
            .or_else(|| self.0.get(policy).copied())
            .unwrap_or(false)
    }
}

/// Whether a policy's header settings send the viewer's Host to the origin.
pub fn headers_forward_host(config: &cf::OriginRequestPolicyHeadersConfig) -> bool {
    let listed = config.headers().is_some_and(|h| {
        h.items()
            .iter()
            .any(|name| name.eq_ignore_ascii_case("host"))
    });
    match config.header_behavior() {
        cf::OriginRequestPolicyHeaderBehavior::AllViewer
        | cf::OriginRequestPolicyHeaderBehavior::AllViewerAndWhitelistCloudFront => true,
        cf::OriginRequestPolicyHeaderBehavior::Whitelist => listed,
        cf::OriginRequestPolicyHeaderBehavior::AllExcept => !listed,
        _ => false,
    }
}

/// Reads each policy in `policies` that is not a managed one, once, within `budget`. One that
/// cannot be read (or not in time) is a gap: its origins are then probed with the origin domain as
/// SNI and Host.
pub async fn read_host_forwarding(
    client: &aws_sdk_cloudfront::Client,
    policies: BTreeSet<String>,
    budget: &Budget,
) -> (HostForwarding, Vec<Gap>) {
    let unknown: Vec<String> = policies
        .into_iter()
        .filter(|p| managed_forwards_host(p).is_none())
        .collect();
    let must_end = budget.deadline.map(|d| d - budget.reserve);
    let reads = futures::stream::iter(unknown)
        .map(|policy| async move {
            if !budget.allows_start() {
                let late = "not started: the deadline was too close to read it and still deliver the report";
                return (policy, Err(late.to_string()));
            }
            let call = client.get_origin_request_policy().id(&policy).send();
            let answer = match must_end {
                Some(end) => match tokio::time::timeout_at(end, call).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        let late = "stopped at the deadline, to leave time to deliver the report";
                        return (policy, Err(late.to_string()));
                    }
                },
                None => call.await,
            };
            let read = match answer {
                Ok(out) => out
                    .origin_request_policy()
                    .and_then(|p| p.origin_request_policy_config())
                    .map(|c| c.headers_config().is_some_and(headers_forward_host))
                    .ok_or_else(|| "the answer carried no policy".to_string()),
                Err(e) => Err(error_text(&e)),
            };
            (policy, read)
        })
        .buffer_unordered(POLICY_READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut forwarding = HostForwarding::default();
    let mut gaps = Vec::new();
    for (policy, read) in reads {
        match read {
            Ok(forwards) => {
                forwarding.0.insert(policy, forwards);
            }
            Err(error) => gaps.push(Gap::new(
                "cloudfront:GetOriginRequestPolicy",
                &policy,
                error,
                "whether the origins behind this origin request policy receive the viewer's Host (their probes use the origin domain as SNI and Host)",
            )),
        }
    }
    gaps.sort_by(|a, b| a.resource.cmp(&b.resource));
    (forwarding, gaps)
}

/// The origin request policies on a set of cache behaviours (an empty id means none: some
/// answers carry the element empty).
fn policies_of(behaviours: &[CacheBehaviour<'_>]) -> BTreeSet<String> {
    behaviours
        .iter()
        .filter_map(|b| b.origin_request_policy_id.filter(|p| !p.trim().is_empty()))
        .map(str::to_string)
        .collect()
}

/// One distribution, and the gaps left by origin request policies that could not be read.
pub async fn get_distribution(
    client: &aws_sdk_cloudfront::Client,
    id: &str,
    budget: &Budget,
) -> Result<(Distribution, Vec<Gap>), CollectError> {
    let out = client.get_distribution().id(id).send().await.map_err(|e| {
        let service = e.as_service_error();
        if service.is_some_and(|s| s.is_no_such_distribution()) {
            CollectError::DistributionNotFound(id.to_string())
        } else {
            CollectError::aws("cloudfront:GetDistribution", id, &e)
        }
    })?;
    let distribution = out.distribution().ok_or_else(|| CollectError::Aws {
        action: "cloudfront:GetDistribution".into(),
        resource: id.into(),
        error: "the answer carried no distribution".into(),
    })?;
    let policies = policies_of(&distribution_behaviours(distribution));
    let (forwarding, gaps) = read_host_forwarding(client, policies, budget).await;
    Ok((map_distribution(distribution, &forwarding), gaps))
}

fn distribution_behaviours(d: &cf::Distribution) -> Vec<CacheBehaviour<'_>> {
    d.distribution_config()
        .map(|c| behaviours(c.default_cache_behavior(), c.cache_behaviors()))
        .unwrap_or_default()
}

pub fn map_distribution(d: &cf::Distribution, forwarding: &HostForwarding) -> Distribution {
    let config = d.distribution_config();
    map_fields(DistributionFields {
        id: d.id(),
        arn: d.arn(),
        domain_name: d.domain_name(),
        status: d.status(),
        enabled: config.map(|c| c.enabled()).unwrap_or(true),
        aliases: config.and_then(|c| c.aliases()),
        origins: config.and_then(|c| c.origins()),
        origin_groups: config.and_then(|c| c.origin_groups()),
        viewer_certificate: config.and_then(|c| c.viewer_certificate()),
        behaviours: distribution_behaviours(d),
        forwarding,
    })
}

/// A ListDistributions summary already carries origins, aliases and the viewer certificate: the
/// sweep needs no GetDistribution per distribution.
pub fn map_summary(d: &cf::DistributionSummary, forwarding: &HostForwarding) -> Distribution {
    map_fields(DistributionFields {
        id: d.id(),
        arn: d.arn(),
        domain_name: d.domain_name(),
        status: d.status(),
        enabled: d.enabled(),
        aliases: d.aliases(),
        origins: d.origins(),
        origin_groups: d.origin_groups(),
        viewer_certificate: d.viewer_certificate(),
        behaviours: behaviours(d.default_cache_behavior(), d.cache_behaviors()),
        forwarding,
    })
}

/// Every distribution in the account, page by page, and the gaps left by origin request
/// policies that could not be read (each read once for the whole account).
pub async fn list_distributions(
    client: &aws_sdk_cloudfront::Client,
    budget: &Budget,
) -> Result<(Vec<Distribution>, Vec<Gap>), CollectError> {
    let mut pages = client.list_distributions().into_paginator().send();
    let mut summaries = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            CollectError::aws("cloudfront:ListDistributions", "all distributions", &e)
        })?;
        if let Some(list) = page.distribution_list() {
            summaries.extend(list.items().iter().cloned());
        }
    }
    let policies = summaries
        .iter()
        .flat_map(|d| policies_of(&behaviours(d.default_cache_behavior(), d.cache_behaviors())))
        .collect();
    let (forwarding, gaps) = read_host_forwarding(client, policies, budget).await;
    let distributions = summaries
        .iter()
        .map(|d| map_summary(d, &forwarding))
        .collect();
    Ok((distributions, gaps))
}

/// The fields both shapes (Distribution and DistributionSummary) share.
struct DistributionFields<'a> {
    id: &'a str,
    arn: &'a str,
    domain_name: &'a str,
    status: &'a str,
    enabled: bool,
    aliases: Option<&'a cf::Aliases>,
    origins: Option<&'a cf::Origins>,
    origin_groups: Option<&'a cf::OriginGroups>,
    viewer_certificate: Option<&'a cf::ViewerCertificate>,
    behaviours: Vec<CacheBehaviour<'a>>,
    forwarding: &'a HostForwarding,
}

fn map_fields(p: DistributionFields<'_>) -> Distribution {
    let aliases: Vec<String> = p.aliases.map(|a| a.items().to_vec()).unwrap_or_default();
    let origin_groups: Vec<OriginGroup> = p
        .origin_groups
        .map(|g| g.items())
        .unwrap_or_default()
        .iter()
        .map(|g| {
            let members = g.members().map(|m| m.items()).unwrap_or_default();
            OriginGroup {
                id: g.id().to_string(),
                members: members.iter().map(|m| m.origin_id().to_string()).collect(),
            }
        })
        .collect();
    let host_forwarding =
        origins_receiving_viewer_host(&p.behaviours, p.forwarding, &origin_groups);
    let origins = p
        .origins
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|origin| {
            let forwarded_host = host_forwarding
                .contains(&origin.id().to_string())
                .then(|| aliases.first().cloned())
                .flatten();
            map_origin(origin, forwarded_host)
        })
        .collect();
    Distribution {
        id: p.id.to_string(),
        arn: p.arn.to_string(),
        domain_name: p.domain_name.to_string(),
        enabled: p.enabled,
        status: p.status.to_string(),
        viewer_certificate: p
            .viewer_certificate
            .map(map_viewer_certificate)
            .unwrap_or_default(),
        aliases,
        origins,
        origin_groups,
    }
}

fn map_origin(origin: &cf::Origin, forwarded_host: Option<String>) -> Origin {
    let kind = match origin.custom_origin_config() {
        Some(custom) => OriginKind::Custom(CustomOrigin {
            protocol_policy: custom.origin_protocol_policy().as_str().to_string(),
            http_port: port(custom.http_port(), 80),
            https_port: port(custom.https_port(), 443),
            ssl_protocols: custom
                .origin_ssl_protocols()
                .map(|p| p.items().iter().map(|s| s.as_str().to_string()).collect())
                .unwrap_or_else(|| vec!["TLSv1.2".to_string()]),
            read_timeout_s: custom.origin_read_timeout().unwrap_or(30).max(1) as u32,
            connection_timeout_s: origin.connection_timeout().unwrap_or(10).max(1) as u32,
        }),
        None => OriginKind::S3,
    };
    Origin {
        id: origin.id().to_string(),
        domain_name: origin.domain_name().to_string(),
        kind,
        forwarded_host,
    }
}

fn port(value: i32, default: u16) -> u16 {
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .unwrap_or(default)
}

fn map_viewer_certificate(v: &cf::ViewerCertificate) -> ViewerCertificate {
    // Some implementations send empty elements for "none": treat them as absent.
    let present = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    ViewerCertificate {
        acm_certificate_arn: present(v.acm_certificate_arn()),
        iam_certificate_id: present(v.iam_certificate_id()),
        cloudfront_default: v.cloud_front_default_certificate().unwrap_or(false),
        minimum_protocol_version: v.minimum_protocol_version().map(|m| m.as_str().to_string()),
    }
}

/// What one cache behaviour (the default or a path pattern) says about the origin it targets.
#[derive(Debug, Clone, Copy)]
struct CacheBehaviour<'a> {
    /// An origin id, or an origin group id.
    target_origin_id: &'a str,
    origin_request_policy_id: Option<&'a str>,
    /// Legacy cache settings (before cache and origin request policies).
    forwarded_values: Option<&'a cf::ForwardedValues>,
}

// ForwardedValues is deprecated in the API, but distributions made before cache policies still
// use it, and it decides whether Host is forwarded.
#[allow(deprecated)]
fn behaviours<'a>(
    default: Option<&'a cf::DefaultCacheBehavior>,
    others: Option<&'a cf::CacheBehaviors>,
) -> Vec<CacheBehaviour<'a>> {
    let mut out: Vec<CacheBehaviour<'a>> = Vec::new();
    if let Some(b) = default {
        out.push(CacheBehaviour {
            target_origin_id: b.target_origin_id(),
            origin_request_policy_id: b.origin_request_policy_id(),
            forwarded_values: b.forwarded_values(),
        });
    }
    if let Some(list) = others {
        for b in list.items() {
            out.push(CacheBehaviour {
                target_origin_id: b.target_origin_id(),
                origin_request_policy_id: b.origin_request_policy_id(),
                forwarded_values: b.forwarded_values(),
            });
        }
    }
    out
}

/// The origins whose cache behaviours forward the viewer's Host header: CloudFront then sends that
/// Host (and SNI) to the origin, and the origin certificate must cover it.
/// A behaviour may target an origin group: its members then receive what the behaviour forwards.
fn origins_receiving_viewer_host(
    behaviours: &[CacheBehaviour<'_>],
    forwarding: &HostForwarding,
    origin_groups: &[OriginGroup],
) -> Vec<String> {
    behaviours
        .iter()
        .filter(|b| {
            let by_policy = b
                .origin_request_policy_id
                .is_some_and(|p| forwarding.forwards_host(p));
            let by_legacy = b
                .forwarded_values
                .and_then(|f| f.headers())
                .is_some_and(|h| {
                    h.items()
                        .iter()
                        .any(|h| h == "*" || h.eq_ignore_ascii_case("host"))
                });
            by_policy || by_legacy
        })
        .flat_map(
            |b| match origin_groups.iter().find(|g| g.id == b.target_origin_id) {
                Some(group) => group.members.clone(),
                None => vec![b.target_origin_id.to_string()],
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behaviour<'a>(target: &'a str, policy: Option<&'a str>) -> CacheBehaviour<'a> {
        CacheBehaviour {
            target_origin_id: target,
            origin_request_policy_id: policy,
            forwarded_values: None,
        }
    }

    fn headers(behavior: cf::OriginRequestPolicyHeaderBehavior, names: &[&str]) -> bool {
        let mut list = cf::Headers::builder().quantity(names.len() as i32);
        for name in names {
            list = list.items(*name);
        }
        let config = cf::OriginRequestPolicyHeadersConfig::builder()
            .header_behavior(behavior)
            .headers(list.build().unwrap())
            .build()
            .unwrap();
        headers_forward_host(&config)
    }

    #[test]
    fn each_header_behaviour_decides_host_as_cloudfront_does() {
        use cf::OriginRequestPolicyHeaderBehavior as B;
        assert!(headers(B::AllViewer, &[]));
        assert!(headers(
            B::AllViewerAndWhitelistCloudFront,
            &["CloudFront-Viewer-Country"]
        ));
        assert!(headers(B::Whitelist, &["Authorization", "host"]));
        assert!(!headers(B::Whitelist, &["Authorization"]));
        assert!(headers(B::AllExcept, &["Authorization"]));
        assert!(!headers(B::AllExcept, &["Host"]));
        assert!(!headers(B::None, &[]));
    }

    #[test]
    fn a_behaviour_targeting_an_origin_group_forwards_to_its_members() {
        let behaviours = vec![behaviour(
            "failover-group",
            Some("216adef6-5c7f-47e4-b989-5492eafa07d3"),
        )];
        let groups = vec![OriginGroup {
            id: "failover-group".to_string(),
            members: vec!["primary".to_string(), "secondary".to_string()],
        }];
        assert_eq!(
            origins_receiving_viewer_host(&behaviours, &HostForwarding::default(), &groups),
            vec!["primary".to_string(), "secondary".to_string()]
        );
    }

    #[test]
    fn an_empty_policy_id_is_no_policy() {
        let behaviours = vec![
            behaviour("a", Some("")),
            behaviour("b", None),
            behaviour("c", Some("custom")),
        ];
        assert_eq!(
            policies_of(&behaviours),
            BTreeSet::from(["custom".to_string()])
        );
    }

    #[test]
    fn managed_policies_are_known_by_id_and_others_are_not_guessed() {
        let none = HostForwarding::default();
        assert!(none.forwards_host("216adef6-5c7f-47e4-b989-5492eafa07d3"));
        assert!(!none.forwards_host("b689b0a8-53d0-40ab-baf2-68738e2966ac"));
        assert!(!none.forwards_host("a-policy-that-could-not-be-read"));
        let read = HostForwarding(HashMap::from([("custom".to_string(), true)]));
        assert!(read.forwards_host("custom"));
    }
}
