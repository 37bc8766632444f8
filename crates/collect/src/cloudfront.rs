//! CloudFront: GetDistribution and ListDistributions mapped into the Evidence model, with the
//! policies that decide which Host each origin receives read once (see host_sent).

use std::collections::BTreeSet;

use aws_sdk_cloudfront::types as cf;

use crate::associations::associations;
use crate::host_sent::{self, CacheBehaviour, PolicyVerdicts};
use crate::{Budget, CollectError};
use cf_doctor_model::evidence::{
    CustomErrorResponse, CustomOrigin, Distribution, DistributionLogs, ForwardedHost, Gap,
    IpAddressType, Origin, OriginGroup, OriginKind, OriginProtocolPolicy, RealtimeLogUse,
    StandardLogging, ViewerCertificate,
};
use cf_doctor_model::functions::FunctionAssociation;
use cf_doctor_model::vpc_origin::VpcOriginRef;

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
    let policies = host_sent::policies_to_read(&distribution_behaviours(distribution));
    let (verdicts, gaps) = host_sent::read_policies(client, policies, budget).await;
    Ok((map_distribution(distribution, &verdicts), gaps))
}

fn distribution_behaviours(d: &cf::Distribution) -> Vec<CacheBehaviour<'_>> {
    d.distribution_config()
        .map(|c| host_sent::behaviours(c.default_cache_behavior(), c.cache_behaviors()))
        .unwrap_or_default()
}

pub fn map_distribution(d: &cf::Distribution, verdicts: &PolicyVerdicts) -> Distribution {
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
        verdicts,
        function_associations: config
            .map(|c| associations(c.default_cache_behavior(), c.cache_behaviors()))
            .unwrap_or_default(),
        logs: config.map(logs_of).unwrap_or_default(),
        custom_error_responses: config.and_then(|c| c.custom_error_responses()),
    })
}

/// Where CloudFront logs the distribution's requests: the real-time log configuration of each
/// cache behaviour (an empty ARN is none), and legacy standard logging when enabled.
fn logs_of(config: &cf::DistributionConfig) -> DistributionLogs {
    let mut realtime: Vec<RealtimeLogUse> = Vec::new();
    let default = config
        .default_cache_behavior()
        .and_then(|b| b.realtime_log_config_arn())
        .map(|arn| ("*", arn));
    let others = config
        .cache_behaviors()
        .map(|b| b.items())
        .unwrap_or_default()
        .iter()
        .filter_map(|b| {
            b.realtime_log_config_arn()
                .map(|arn| (b.path_pattern(), arn))
        });
    for (behaviour, arn) in default.into_iter().chain(others) {
        if arn.trim().is_empty() {
            continue;
        }
        match realtime.iter_mut().find(|r| r.arn == arn) {
            Some(known) => known.behaviours.push(behaviour.to_string()),
            None => realtime.push(RealtimeLogUse {
                arn: arn.to_string(),
                behaviours: vec![behaviour.to_string()],
            }),
        }
    }
    let standard = config
        .logging()
        .filter(|l| l.enabled() && !l.bucket().is_empty())
        .map(|l| StandardLogging {
            bucket: l.bucket().to_string(),
            prefix: l.prefix().to_string(),
        });
    DistributionLogs { realtime, standard }
}

/// A ListDistributions summary already carries origins, aliases and the viewer certificate: the
/// sweep needs no GetDistribution per distribution.
pub fn map_summary(d: &cf::DistributionSummary, verdicts: &PolicyVerdicts) -> Distribution {
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
        behaviours: host_sent::behaviours(d.default_cache_behavior(), d.cache_behaviors()),
        verdicts,
        function_associations: associations(d.default_cache_behavior(), d.cache_behaviors()),
        // A summary carries no logging settings; a sweep does not read the logs.
        logs: DistributionLogs::default(),
        custom_error_responses: d.custom_error_responses(),
    })
}

/// Every distribution in the account, page by page, and the gaps left by policies that could not
/// be read (each read once for the whole account). `on_page` gets each page's distributions as
/// soon as that page and the policies it names are read, so work on them can start while the
/// next page is on its way. A page that cannot be read ends the listing: what was listed before
/// it is kept (its origins may already be probed), and `failed` says why the rest is missing.
pub async fn list_distributions(
    client: &aws_sdk_cloudfront::Client,
    budget: &Budget,
    mut on_page: impl FnMut(&[Distribution]),
) -> Listing {
    let mut pages = client.list_distributions().into_paginator().send();
    let mut distributions = Vec::new();
    let mut verdicts = PolicyVerdicts::default();
    let mut attempted = BTreeSet::new();
    let mut gaps = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                return Listing {
                    distributions,
                    policy_gaps: gaps,
                    failed: Some(CollectError::aws(
                        "cloudfront:ListDistributions",
                        "all distributions",
                        &e,
                    )),
                }
            }
        };
        let summaries = page
            .distribution_list()
            .map(|l| l.items())
            .unwrap_or_default();
        let policies: BTreeSet<_> = summaries
            .iter()
            .flat_map(|d| {
                host_sent::policies_to_read(&host_sent::behaviours(
                    d.default_cache_behavior(),
                    d.cache_behaviors(),
                ))
            })
            .filter(|p| !attempted.contains(p))
            .collect();
        attempted.extend(policies.iter().cloned());
        let (read, policy_gaps) = host_sent::read_policies(client, policies, budget).await;
        verdicts.extend(read);
        gaps.extend(policy_gaps);
        let mapped: Vec<Distribution> = summaries
            .iter()
            .map(|d| map_summary(d, &verdicts))
            .collect();
        on_page(&mapped);
        distributions.extend(mapped);
    }
    Listing {
        distributions,
        policy_gaps: gaps,
        failed: None,
    }
}

/// What ListDistributions gave: every page read, or those before the one that failed.
pub struct Listing {
    pub distributions: Vec<Distribution>,
    /// Policies that could not be read.
    pub policy_gaps: Vec<Gap>,
    /// Why the listing stopped early (None: every page was read).
    pub failed: Option<CollectError>,
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
    verdicts: &'a PolicyVerdicts,
    function_associations: Vec<FunctionAssociation>,
    logs: DistributionLogs,
    custom_error_responses: Option<&'a cf::CustomErrorResponses>,
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
    let mut forwarded = host_sent::forwarded_hosts(
        &p.behaviours,
        p.verdicts,
        &origin_groups,
        &aliases,
        p.domain_name,
    );
    let origins = p
        .origins
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|origin| map_origin(origin, forwarded.remove(origin.id())))
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
        function_associations: p.function_associations,
        logs: p.logs,
        custom_error_responses: p
            .custom_error_responses
            .map(|r| r.items())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| {
                Some(CustomErrorResponse {
                    error_code: u16::try_from(r.error_code()).ok()?,
                    error_caching_min_ttl: r.error_caching_min_ttl(),
                })
            })
            .collect(),
    }
}

/// `OriginProtocolPolicy`, typed. A policy this SDK does not know yet is taken as https-only: the
/// origin is then probed over TLS, the stricter reading, as before it was typed.
pub(crate) fn protocol_policy(policy: &cf::OriginProtocolPolicy) -> OriginProtocolPolicy {
    match policy {
        cf::OriginProtocolPolicy::HttpOnly => OriginProtocolPolicy::HttpOnly,
        cf::OriginProtocolPolicy::MatchViewer => OriginProtocolPolicy::MatchViewer,
        _ => OriginProtocolPolicy::HttpsOnly,
    }
}

fn map_origin(origin: &cf::Origin, forwarded_host: Option<ForwardedHost>) -> Origin {
    let kind = match origin.custom_origin_config() {
        Some(custom) => OriginKind::Custom(CustomOrigin {
            protocol_policy: protocol_policy(custom.origin_protocol_policy()),
            http_port: port(custom.http_port(), 80),
            https_port: port(custom.https_port(), 443),
            ssl_protocols: custom
                .origin_ssl_protocols()
                .map(|p| p.items().iter().map(|s| s.as_str().to_string()).collect())
                .unwrap_or_else(|| vec!["TLSv1.2".to_string()]),
            read_timeout_s: custom.origin_read_timeout().unwrap_or(30).max(1) as u32,
            connection_timeout_s: origin.connection_timeout().unwrap_or(10).max(1) as u32,
            ip_address_type: match custom.ip_address_type() {
                Some(cf::IpAddressType::Ipv6) => IpAddressType::Ipv6,
                Some(cf::IpAddressType::DualStack) => IpAddressType::Dualstack,
                // Absent means CloudFront's default; a value this SDK does not know yet is taken
                // the same way (A records), and named in the origin's checks by the probe.
                _ => IpAddressType::Ipv4,
            },
            client_certificate_arn: custom
                .origin_mtls_config()
                .map(|m| m.client_certificate_arn().to_string())
                .filter(|arn| !arn.is_empty()),
        }),
        // A VPC origin has no CustomOriginConfig: it is not an S3 origin.
        None => match origin.vpc_origin_config() {
            Some(vpc) if !vpc.vpc_origin_id().is_empty() => OriginKind::Vpc(VpcOriginRef {
                vpc_origin_id: vpc.vpc_origin_id().to_string(),
                owner_account_id: vpc.owner_account_id().map(str::to_string),
                read_timeout_s: vpc.origin_read_timeout().unwrap_or(30).max(1) as u32,
            }),
            _ => OriginKind::S3,
        },
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
