//! Whom one inbound rule source admits on the origin port, compared with CloudFront's
//! origin-facing ranges, and the verdict on a security group made of such sources: pure, so
//! every form (managed list, customer-managed copy, CIDRs, everyone, an unrelated range) is
//! unit-tested without AWS.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{IpPermission, SecurityGroup};

use super::cidr::Cidr;
use super::security_groups::CLOUDFRONT_PREFIX_LIST;
use cf_doctor_model::evidence::{AdmittedBy, GroupAccess, RangeCoverage, SecurityGroupVerdict};

/// Where an inbound rule lets traffic in from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Source {
    PrefixList(String),
    Cidr(String),
}

/// One inbound rule source that covers the origin port.
#[derive(Debug, Clone)]
pub(super) struct Opening {
    /// `tcp 443-443` or `all traffic`.
    pub ports: String,
    pub source: Source,
}

/// Whom one source admits.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    Anyone,
    /// CloudFront's ranges and nothing else.
    Cloudfront(AdmittedBy),
    /// CloudFront's ranges among other addresses.
    CloudfrontAndMore(AdmittedBy),
    Unrelated,
    /// Could not be compared (the reason).
    Undecided(String),
}

/// The sources of `p` that let traffic in on `port`.
pub(super) fn openings(p: &IpPermission, port: u16) -> Vec<Opening> {
    let protocol = p.ip_protocol().unwrap_or_default();
    let covers_port = match protocol {
        "-1" => true,
        "tcp" | "6" => {
            let (from, to) = (p.from_port().unwrap_or(0), p.to_port().unwrap_or(65535));
            (from..=to).contains(&i32::from(port))
        }
        _ => false,
    };
    if !covers_port {
        return Vec::new();
    }
    let ports = if protocol == "-1" {
        "all traffic".to_string()
    } else {
        format!(
            "tcp {}-{}",
            p.from_port().unwrap_or(0),
            p.to_port().unwrap_or(65535)
        )
    };
    let lists = p
        .prefix_list_ids()
        .iter()
        .filter_map(|l| l.prefix_list_id())
        .map(|id| Source::PrefixList(id.to_string()));
    let v4 = p.ip_ranges().iter().filter_map(|r| r.cidr_ip());
    let v6 = p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6());
    lists
        .chain(v4.chain(v6).map(|c| Source::Cidr(c.to_string())))
        .map(|source| Opening {
            ports: ports.clone(),
            source,
        })
        .collect()
}

pub(super) fn kind_of(
    source: &Source,
    managed: Option<&BTreeMap<String, String>>,
    lists: &BTreeMap<String, Result<Vec<Cidr>, String>>,
    ranges: Option<&[Cidr]>,
) -> Kind {
    match source {
        Source::PrefixList(id) if managed.is_some_and(|m| m.contains_key(id)) => {
            Kind::Cloudfront(AdmittedBy::ManagedPrefixList)
        }
        Source::PrefixList(id) => match lists.get(id) {
            Some(Ok(entries)) => classify(entries, ranges, AdmittedBy::CustomerPrefixList),
            _ => Kind::Undecided(format!("prefix list {id} could not be read")),
        },
        Source::Cidr(text) => match Cidr::parse(text) {
            Some(c) => classify(&[c], ranges, AdmittedBy::CloudfrontCidrs),
            None => Kind::Undecided(format!("{text} is not an address range")),
        },
    }
}

/// Whom `entries` admit, compared with CloudFront's ranges (None: they could not be read).
fn classify(entries: &[Cidr], ranges: Option<&[Cidr]>, by: AdmittedBy) -> Kind {
    if entries.iter().any(Cidr::is_everything) {
        return Kind::Anyone;
    }
    if entries.is_empty() {
        return Kind::Unrelated;
    }
    let Some(ranges) = ranges else {
        return Kind::Undecided(
            "CloudFront's origin-facing ranges could not be read to compare with".into(),
        );
    };
    let inside = |e: &Cidr| ranges.iter().any(|r| r.contains(e));
    if entries.iter().all(inside) {
        Kind::Cloudfront(by)
    } else if entries.iter().any(|e| ranges.iter().any(|r| r.overlaps(e))) {
        Kind::CloudfrontAndMore(by)
    } else {
        Kind::Unrelated
    }
}

fn source_in_words(
    source: &Source,
    managed: Option<&BTreeMap<String, String>>,
    kind: &Kind,
) -> String {
    match (source, kind) {
        (Source::PrefixList(id), Kind::Cloudfront(AdmittedBy::ManagedPrefixList)) => {
            let name = managed
                .and_then(|m| m.get(id))
                .map(String::as_str)
                .unwrap_or(CLOUDFRONT_PREFIX_LIST);
            format!("{name} ({id})")
        }
        (Source::PrefixList(id), Kind::Cloudfront(_)) => format!(
            "customer-managed prefix list {id}, whose entries are all CloudFront origin-facing ranges"
        ),
        (Source::PrefixList(id), Kind::CloudfrontAndMore(_)) => format!(
            "prefix list {id}, which holds CloudFront origin-facing ranges and other addresses"
        ),
        (Source::PrefixList(id), _) => format!("prefix list {id}"),
        (Source::Cidr(c), Kind::CloudfrontAndMore(_)) => {
            format!("{c}, which holds CloudFront origin-facing ranges and other addresses")
        }
        (Source::Cidr(c), _) => c.clone(),
    }
}

/// The group's verdict: anyone beats CloudFront among others, which beats CloudFront only,
/// which beats undecided.
pub(super) fn verdict(
    g: &SecurityGroup,
    kinds: &[(Opening, Kind)],
    managed: Option<&BTreeMap<String, String>>,
) -> SecurityGroupVerdict {
    let words = |o: &Opening, k: &Kind| {
        format!(
            "{} from {}",
            o.ports,
            source_in_words(&o.source, managed, k)
        )
    };
    let first = |wanted: &dyn Fn(&Kind) -> bool| kinds.iter().find(|(_, k)| wanted(k));
    let access = if let Some((o, k)) = first(&|k| *k == Kind::Anyone) {
        GroupAccess::Anyone { rule: words(o, k) }
    } else if let Some((o, k @ Kind::CloudfrontAndMore(by))) =
        first(&|k| matches!(k, Kind::CloudfrontAndMore(_)))
    {
        GroupAccess::CloudfrontAmongOthers {
            rule: words(o, k),
            by: *by,
        }
    } else if let Some((o, Kind::Cloudfront(by))) = first(&|k| matches!(k, Kind::Cloudfront(_))) {
        let cidrs: Vec<&str> = kinds
            .iter()
            .filter(|(_, k)| *k == Kind::Cloudfront(AdmittedBy::CloudfrontCidrs))
            .filter_map(|(o, _)| match &o.source {
                Source::Cidr(c) => Some(c.as_str()),
                Source::PrefixList(_) => None,
            })
            .collect();
        let rule = match by {
            AdmittedBy::CloudfrontCidrs => format!(
                "{} from CloudFront's origin-facing ranges listed as CIDRs: {}",
                o.ports,
                cidrs.join(", ")
            ),
            _ => words(o, &Kind::Cloudfront(*by)),
        };
        GroupAccess::CloudfrontOnly {
            rule,
            by: Some(*by),
        }
    } else if let Some((_, Kind::Undecided(why))) = first(&|k| matches!(k, Kind::Undecided(_))) {
        GroupAccess::Undecided { why: why.clone() }
    } else {
        GroupAccess::NotCloudfront
    };
    SecurityGroupVerdict {
        id: g.group_id().unwrap_or_default().to_string(),
        name: g.group_name().unwrap_or_default().to_string(),
        access,
    }
}

/// When CloudFront is let in by a copy of its ranges (not the managed list, not everyone): how
/// many of the managed list's ranges the groups admit together, in the address families they
/// admit at all.
pub(super) fn coverage(
    verdicts: &[SecurityGroupVerdict],
    kinds: &[Vec<(Opening, Kind)>],
    lists: &BTreeMap<String, Result<Vec<Cidr>, String>>,
    ranges: Option<&[Cidr]>,
) -> Option<RangeCoverage> {
    if verdicts.iter().any(|v| {
        matches!(
            v.cloudfront_by(),
            Some(AdmittedBy::Anyone | AdmittedBy::ManagedPrefixList)
        )
    }) {
        return None;
    }
    let admitted: Vec<Cidr> = kinds
        .iter()
        .flatten()
        .filter(|(_, k)| matches!(k, Kind::Cloudfront(_) | Kind::CloudfrontAndMore(_)))
        .flat_map(|(o, _)| match &o.source {
            Source::Cidr(c) => Cidr::parse(c).into_iter().collect::<Vec<_>>(),
            Source::PrefixList(id) => lists
                .get(id)
                .and_then(|l| l.clone().ok())
                .unwrap_or_default(),
        })
        .collect();
    if admitted.is_empty() {
        return None;
    }
    let considered: Vec<&Cidr> = ranges?
        .iter()
        .filter(|r| admitted.iter().any(|a| a.is_v6() == r.is_v6()))
        .collect();
    let missing: Vec<String> = considered
        .iter()
        .filter(|r| !admitted.iter().any(|a| a.contains(r)))
        .map(|r| r.to_string())
        .collect();
    Some(RangeCoverage {
        admitted: considered.len() - missing.len(),
        of: considered.len(),
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::Admission;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| Cidr::parse(c).unwrap()).collect()
    }

    const CLOUDFRONT: &[&str] = &["130.176.0.0/18", "15.158.0.0/16", "2600:9000::/28"];

    #[test]
    fn entries_inside_cloudfront_ranges_admit_cloudfront_only() {
        let ranges = cidrs(CLOUDFRONT);
        let by = AdmittedBy::CustomerPrefixList;
        assert_eq!(
            classify(
                &cidrs(&["130.176.0.0/18", "15.158.0.0/16"]),
                Some(&ranges),
                by
            ),
            Kind::Cloudfront(by)
        );
        assert_eq!(
            classify(&cidrs(&["130.176.0.0/19"]), Some(&ranges), by),
            Kind::Cloudfront(by),
            "a part of a range is still only CloudFront"
        );
        assert_eq!(
            classify(
                &cidrs(&["130.176.0.0/18", "198.51.100.0/24"]),
                Some(&ranges),
                by
            ),
            Kind::CloudfrontAndMore(by)
        );
        assert_eq!(
            classify(&cidrs(&["130.0.0.0/8"]), Some(&ranges), by),
            Kind::CloudfrontAndMore(by)
        );
        assert_eq!(
            classify(&cidrs(&["198.51.100.0/24"]), Some(&ranges), by),
            Kind::Unrelated
        );
        assert_eq!(
            classify(&cidrs(&["0.0.0.0/0"]), None, by),
            Kind::Anyone,
            "everyone needs no comparison"
        );
        assert!(matches!(
            classify(&cidrs(&["198.51.100.0/24"]), None, by),
            Kind::Undecided(_)
        ));
    }

    fn opening(source: Source, kind: Kind) -> (Opening, Kind) {
        (
            Opening {
                ports: "tcp 443-443".into(),
                source,
            },
            kind,
        )
    }

    fn group() -> SecurityGroup {
        SecurityGroup::builder()
            .group_id("sg-1")
            .group_name("alb")
            .build()
    }

    #[test]
    fn each_form_says_how_cloudfront_is_admitted() {
        let cidr = AdmittedBy::CloudfrontCidrs;
        let v = verdict(
            &group(),
            &[
                opening(
                    Source::Cidr("130.176.0.0/18".into()),
                    Kind::Cloudfront(cidr),
                ),
                opening(Source::Cidr("15.158.0.0/16".into()), Kind::Cloudfront(cidr)),
                opening(Source::Cidr("198.51.100.0/24".into()), Kind::Unrelated),
            ],
            None,
        );
        assert_eq!(v.admits(), Admission::CloudfrontOnly);
        assert_eq!(v.cloudfront_by(), Some(cidr));
        assert_eq!(
            v.rule(),
            Some("tcp 443-443 from CloudFront's origin-facing ranges listed as CIDRs: 130.176.0.0/18, 15.158.0.0/16")
        );
        let list = AdmittedBy::CustomerPrefixList;
        let v = verdict(
            &group(),
            &[opening(
                Source::PrefixList("pl-team".into()),
                Kind::Cloudfront(list),
            )],
            None,
        );
        assert_eq!(v.admits(), Admission::CloudfrontOnly);
        assert!(v
            .rule()
            .unwrap()
            .contains("customer-managed prefix list pl-team"));
        let v = verdict(
            &group(),
            &[opening(
                Source::Cidr("198.51.100.0/24".into()),
                Kind::Unrelated,
            )],
            None,
        );
        assert_eq!((v.admits(), v.rule()), (Admission::NotCloudfront, None));
    }

    #[test]
    fn an_undecided_source_never_reads_as_blocking() {
        let v = verdict(
            &group(),
            &[opening(
                Source::PrefixList("pl-unread".into()),
                Kind::Undecided("prefix list pl-unread could not be read".into()),
            )],
            None,
        );
        assert_eq!(v.admits(), Admission::Unknown);
        assert!(matches!(v.access, GroupAccess::Undecided { .. }));
    }

    #[test]
    fn a_stale_copy_of_the_ranges_admits_only_part_of_cloudfront() {
        let ranges = cidrs(CLOUDFRONT);
        let kinds = vec![vec![opening(
            Source::Cidr("130.176.0.0/18".into()),
            Kind::Cloudfront(AdmittedBy::CloudfrontCidrs),
        )]];
        let v = verdict(&group(), &kinds[0], None);
        let c = coverage(&[v], &kinds, &BTreeMap::new(), Some(&ranges)).unwrap();
        assert_eq!(
            (c.admitted, c.of),
            (1, 2),
            "IPv6 ranges are not counted when no IPv6 is admitted"
        );
        assert_eq!(c.missing, vec!["15.158.0.0/16"]);
    }
}
