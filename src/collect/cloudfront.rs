//! CloudFront: GetDistribution, mapped into the Evidence model.

use aws_sdk_cloudfront::types as cf;

use super::CollectError;
use crate::evidence::{CustomOrigin, Distribution, Origin, OriginKind, ViewerCertificate};

/// The managed origin request policy "AllViewer": forwards every viewer header, Host included.
const MANAGED_ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

pub async fn get_distribution(
    client: &aws_sdk_cloudfront::Client,
    id: &str,
) -> Result<Distribution, CollectError> {
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
    Ok(map_distribution(distribution))
}

pub fn map_distribution(d: &cf::Distribution) -> Distribution {
    let config = d.distribution_config();
    map_parts(Parts {
        id: d.id(),
        arn: d.arn(),
        domain_name: d.domain_name(),
        status: d.status(),
        enabled: config.map(|c| c.enabled()).unwrap_or(true),
        aliases: config.and_then(|c| c.aliases()),
        origins: config.and_then(|c| c.origins()),
        origin_groups: config.and_then(|c| c.origin_groups()),
        viewer_certificate: config.and_then(|c| c.viewer_certificate()),
        behaviours: config
            .map(|c| behaviours(c.default_cache_behavior(), c.cache_behaviors()))
            .unwrap_or_default(),
    })
}

/// A ListDistributions summary already carries origins, aliases and the viewer certificate: the
/// sweep needs no GetDistribution per distribution.
pub fn map_summary(d: &cf::DistributionSummary) -> Distribution {
    map_parts(Parts {
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
    })
}

/// Every distribution in the account, page by page.
pub async fn list_distributions(
    client: &aws_sdk_cloudfront::Client,
) -> Result<Vec<Distribution>, CollectError> {
    let mut pages = client.list_distributions().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            CollectError::aws("cloudfront:ListDistributions", "all distributions", &e)
        })?;
        if let Some(list) = page.distribution_list() {
            out.extend(list.items().iter().map(map_summary));
        }
    }
    Ok(out)
}

/// The fields both shapes (Distribution and DistributionSummary) share.
struct Parts<'a> {
    id: &'a str,
    arn: &'a str,
    domain_name: &'a str,
    status: &'a str,
    enabled: bool,
    aliases: Option<&'a cf::Aliases>,
    origins: Option<&'a cf::Origins>,
    origin_groups: Option<&'a cf::OriginGroups>,
    viewer_certificate: Option<&'a cf::ViewerCertificate>,
    behaviours: Vec<Behaviour<'a>>,
}

fn map_parts(p: Parts<'_>) -> Distribution {
    let aliases: Vec<String> = p.aliases.map(|a| a.items().to_vec()).unwrap_or_default();
    let host_forwarding = origins_receiving_viewer_host(&p.behaviours);
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
        origin_groups: p
            .origin_groups
            .map(|g| g.items())
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let members = g.members().map(|m| m.items()).unwrap_or_default();
                (
                    g.id().to_string(),
                    members.iter().map(|m| m.origin_id().to_string()).collect(),
                )
            })
            .collect(),
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

/// (target origin, origin request policy, legacy forwarded values) of one cache behaviour.
type Behaviour<'a> = (&'a str, Option<&'a str>, Option<&'a cf::ForwardedValues>);

// ForwardedValues is deprecated in the API, but distributions made before cache policies still
// use it, and it decides whether Host is forwarded.
#[allow(deprecated)]
fn behaviours<'a>(
    default: Option<&'a cf::DefaultCacheBehavior>,
    others: Option<&'a cf::CacheBehaviors>,
) -> Vec<Behaviour<'a>> {
    let mut out: Vec<Behaviour<'a>> = Vec::new();
    if let Some(b) = default {
        out.push((
            b.target_origin_id(),
            b.origin_request_policy_id(),
            b.forwarded_values(),
        ));
    }
    if let Some(list) = others {
        for b in list.items() {
            out.push((
                b.target_origin_id(),
                b.origin_request_policy_id(),
                b.forwarded_values(),
            ));
        }
    }
    out
}

/// The origins whose cache behaviours forward the viewer's Host header: CloudFront then sends that
/// Host (and SNI) to the origin, and the origin certificate must cover it.
fn origins_receiving_viewer_host(behaviours: &[Behaviour<'_>]) -> Vec<String> {
    behaviours
        .iter()
        .filter(|(_, policy, forwarded)| {
            let by_policy = *policy == Some(MANAGED_ALL_VIEWER);
            let by_legacy = forwarded.and_then(|f| f.headers()).is_some_and(|h| {
                h.items()
                    .iter()
                    .any(|h| h == "*" || h.eq_ignore_ascii_case("host"))
            });
            by_policy || by_legacy
        })
        .map(|(origin, _, _)| origin.to_string())
        .collect()
}
