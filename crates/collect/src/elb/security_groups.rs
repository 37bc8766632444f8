//! Whom a load balancer's security groups let in on the origin port. CloudFront is let in by the
//! AWS-managed prefix list `com.amazonaws.global.cloudfront.origin-facing` (or its IPv6 twin), by
//! a customer-managed prefix list holding CloudFront's ranges, or by those ranges listed in the
//! rule as CIDRs; the last two are told from other addresses by comparing them with the entries
//! of the managed list (GetManagedPrefixListEntries). Security groups drop what they do not
//! admit, so a group set that admits none of these means CloudFront times out (504).
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/LocationsOfEdgeServers.html#managed-prefix-list>

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use super::admission::{coverage, kind_of, openings, verdict, Kind, Opening, Source};
use super::cidr::Cidr;
use super::{cache, RegionRun};
use crate::error_text;
use cf_doctor_model::evidence::{Evidence, Gap, RangeCoverage, SecurityGroupVerdict};

pub const CLOUDFRONT_PREFIX_LIST: &str = "com.amazonaws.global.cloudfront.origin-facing";
pub const CLOUDFRONT_PREFIX_LIST_IPV6: &str = "com.amazonaws.global.ipv6.cloudfront.origin-facing";

/// Prefix lists read in a region during one run.
#[derive(Debug, Default)]
pub(super) struct PrefixLists {
    /// CloudFront's managed lists, id -> name: None until looked up, Some(None) when the look-up
    /// failed (a gap says why).
    cloudfront: Option<Option<BTreeMap<String, String>>>,
    /// Entries by prefix list id (Err: could not be read, a gap says why).
    entries: BTreeMap<String, Result<Vec<Cidr>, String>>,
}

/// The verdict on a load balancer's security groups.
pub(super) struct Groups {
    /// None when the groups could not be read.
    pub verdicts: Option<Vec<SecurityGroupVerdict>>,
    /// The IPv4 CloudFront managed prefix list's id in the region.
    pub cloudfront_prefix_list: Option<String>,
    pub coverage: Option<RangeCoverage>,
}

pub(super) async fn security_groups(
    run: &RegionRun,
    ids: &[String],
    port: u16,
    evidence: &mut Evidence,
) -> Groups {
    if ids.is_empty() {
        return Groups {
            verdicts: Some(Vec::new()),
            cloudfront_prefix_list: None,
            coverage: None,
        };
    }
    // The managed lists' ids and the groups are read side by side; the look-up's gap comes first.
    let base = Evidence::default();
    let mut on_lists = base.clone();
    let (managed, described) = tokio::join!(
        cloudfront_lists(run, &mut on_lists),
        run.infra
            .ec2
            .describe_security_groups()
            .set_group_ids(Some(ids.to_vec()))
            .send()
    );
    evidence.absorb(on_lists, &base);
    let cloudfront_prefix_list = managed.as_ref().and_then(|m| {
        m.iter()
            .find(|(_, name)| name.as_str() == CLOUDFRONT_PREFIX_LIST)
            .map(|(id, _)| id.clone())
    });
    let groups = match described {
        Ok(out) => out.security_groups().to_vec(),
        Err(e) => {
            evidence.gaps.push(Gap::new(
                "ec2:DescribeSecurityGroups",
                &ids.join(","),
                error_text(&e),
                &format!("whether the security groups let CloudFront in on port {port}"),
            ));
            return Groups {
                verdicts: None,
                cloudfront_prefix_list,
                coverage: None,
            };
        }
    };
    let openings: Vec<Vec<Opening>> = groups
        .iter()
        .map(|g| {
            g.ip_permissions()
                .iter()
                .flat_map(|p| openings(p, port))
                .collect()
        })
        .collect();
    let ranges = read_entries(run, managed.as_ref(), &openings, evidence).await;
    let lists = &cache(&run.prefix_lists).entries.clone();
    let kinds: Vec<Vec<(Opening, Kind)>> = openings
        .into_iter()
        .map(|group| {
            group
                .into_iter()
                .map(|o| {
                    let kind = kind_of(&o.source, managed.as_ref(), lists, ranges.as_deref());
                    (o, kind)
                })
                .collect()
        })
        .collect();
    let verdicts: Vec<SecurityGroupVerdict> = groups
        .iter()
        .zip(&kinds)
        .map(|(g, kinds)| verdict(g, kinds, managed.as_ref()))
        .collect();
    let coverage = coverage(&verdicts, &kinds, lists, ranges.as_deref());
    Groups {
        verdicts: Some(verdicts),
        cloudfront_prefix_list,
        coverage,
    }
}

/// CloudFront's managed prefix lists in the region (their ids differ per region), looked up by
/// name once per run.
async fn cloudfront_lists(
    run: &RegionRun,
    evidence: &mut Evidence,
) -> Option<BTreeMap<String, String>> {
    if let Some(known) = &cache(&run.prefix_lists).cloudfront {
        return known.clone();
    }
    let found = match run
        .infra
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            Filter::builder()
                .name("prefix-list-name")
                .values(CLOUDFRONT_PREFIX_LIST)
                .values(CLOUDFRONT_PREFIX_LIST_IPV6)
                .build(),
        )
        .send()
        .await
    {
        Ok(out) => Some(
            out.prefix_lists()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.prefix_list_id()?.to_string(),
                        p.prefix_list_name()?.to_string(),
                    ))
                })
                .collect(),
        ),
        Err(e) => {
            evidence.gaps.push(Gap::new(
                "ec2:DescribeManagedPrefixLists",
                &run.name,
                error_text(&e),
                "the id of the CloudFront origin-facing prefix list",
            ));
            None
        }
    };
    cache(&run.prefix_lists).cloudfront = Some(found.clone());
    found
}

/// Reads what the comparison needs: the entries of every customer-managed list the groups name
/// and, when anything is to be compared, CloudFront's own ranges (None when they cannot be read).
async fn read_entries(
    run: &RegionRun,
    managed: Option<&BTreeMap<String, String>>,
    openings: &[Vec<Opening>],
    evidence: &mut Evidence,
) -> Option<Vec<Cidr>> {
    let is_managed = |id: &str| managed.is_some_and(|m| m.contains_key(id));
    let mut customer: Vec<&str> = Vec::new();
    let mut compare = false;
    for o in openings.iter().flatten() {
        match &o.source {
            Source::PrefixList(id) if !is_managed(id) => {
                compare = true;
                if !customer.contains(&id.as_str()) {
                    customer.push(id);
                }
            }
            Source::Cidr(c) => compare |= !Cidr::parse(c).is_some_and(|c| c.is_everything()),
            Source::PrefixList(_) => {}
        }
    }
    if !compare {
        return None;
    }
    // Every list at once; each read keeps its gap in evidence of its own, folded back in order.
    let base = Evidence::default();
    let customer_reads = customer.iter().map(|id| {
        let mut on_list = base.clone();
        async move {
            let unchecked =
                format!("whether prefix list {id} holds CloudFront's origin-facing ranges");
            // Kept in the run's cache (a failure as a gap) for kind_of to read.
            let _ = entries(run, id, &unchecked, &mut on_list).await;
            on_list
        }
    });
    let managed_ids: Vec<&String> = managed.map(|m| m.keys().collect()).unwrap_or_default();
    let managed_reads = managed_ids.iter().map(|id| {
        let mut on_list = base.clone();
        async move {
            let unchecked = "CloudFront's origin-facing ranges, to compare the security groups' prefix lists and CIDRs with";
            let read = entries(run, id, unchecked, &mut on_list).await;
            (read, on_list)
        }
    });
    let (customer_read, managed_read) = tokio::join!(
        futures::future::join_all(customer_reads),
        futures::future::join_all(managed_reads)
    );
    for on_list in customer_read {
        evidence.absorb(on_list, &base);
    }
    managed?;
    let mut ranges = Some(Vec::new());
    for (read, on_list) in managed_read {
        evidence.absorb(on_list, &base);
        match (read, &mut ranges) {
            (Ok(entries), Some(ranges)) => ranges.extend(entries),
            _ => ranges = None,
        }
    }
    ranges.filter(|r| !r.is_empty())
}

/// A prefix list's entries (every page), read once per run.
async fn entries(
    run: &RegionRun,
    id: &str,
    unchecked: &str,
    evidence: &mut Evidence,
) -> Result<Vec<Cidr>, String> {
    if let Some(known) = cache(&run.prefix_lists).entries.get(id) {
        return known.clone();
    }
    let mut pages = run
        .infra
        .ec2
        .get_managed_prefix_list_entries()
        .prefix_list_id(id)
        .into_paginator()
        .send();
    let mut read: Result<Vec<Cidr>, String> = Ok(Vec::new());
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                if let Ok(list) = &mut read {
                    list.extend(page.entries().iter().filter_map(|e| Cidr::parse(e.cidr()?)));
                }
            }
            Err(e) => {
                let error = error_text(&e);
                evidence.gaps.push(Gap::new(
                    "ec2:GetManagedPrefixListEntries",
                    id,
                    error.clone(),
                    unchecked,
                ));
                read = Err(error);
                break;
            }
        }
    }
    cache(&run.prefix_lists)
        .entries
        .insert(id.to_string(), read.clone());
    read
}
