//! The account's own DNS: its Route53 public hosted zones, listed once per run, and the records
//! that name an origin, followed through ALIAS targets and CNAMEs while they stay inside the
//! account's zones. Only public zones count: CloudFront resolves public DNS, and a private zone
//! answers only inside its VPCs (a team often keeps one for the same names, pointing elsewhere).
//! Two public zones of the same name cannot be told apart from the API (only the delegated one
//! answers): neither is trusted, and a gap says so. Of a failover pair only the primary is
//! followed, and a weighted set of weight 0 only when every set is: what CloudFront is sent to.
//! <https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListResourceRecordSets.html>

use std::collections::VecDeque;

use std::net::IpAddr;

use aws_sdk_route53::types::{ResourceRecordSet, RrType};

use crate::error_text;
use crate::ratelimit::RateLimiter;
use cf_doctor_model::aws_names;
use cf_doctor_model::evidence::{Gap, MatchedBy};
use cf_doctor_model::names;

/// Route53's API answers 5 requests per second per account, every action together
/// (<https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests>).
pub(crate) const ROUTE53_PER_SECOND: u32 = 5;

/// Pages of ListHostedZones read (100 zones each): a bound on what a large account costs.
const MAX_ZONE_PAGES: usize = 10;

/// Records sets of one name read at most (weighted, latency, failover sets share a name).
const MAX_RECORD_PAGES: usize = 3;

/// Names followed from one origin before giving up (a loop, or a very long chain).
const MAX_HOPS: usize = 8;

/// One hosted zone of the account.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    /// `Z1D633PJN98FT9` (the `/hostedzone/` prefix removed).
    pub id: String,
    /// `shop.example`, normalised.
    pub name: String,
    pub private: bool,
}

/// The account's hosted zones (listed beside GetDistribution: they need nothing from it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Zones {
    pub zones: Vec<Zone>,
    /// What kept the list from being whole (a denied or failed call, or more zones than read).
    pub gap: Option<Gap>,
}

/// Which of the account's zones answers for a name.
enum Holding<'a> {
    Zone(&'a Zone),
    /// Several public zones of the deepest name: which one is delegated cannot be told.
    Ambiguous(Vec<&'a Zone>),
    None,
}

impl Zones {
    /// The public zone that answers for `name`: the deepest holding it.
    fn holding(&self, name: &str) -> Holding<'_> {
        let name = names::normalise(name);
        let within: Vec<&Zone> = self
            .zones
            .iter()
            .filter(|z| !z.private && (name == z.name || name.ends_with(&format!(".{}", z.name))))
            .collect();
        let Some(deepest) = within.iter().map(|z| z.name.len()).max() else {
            return Holding::None;
        };
        let named: Vec<&Zone> = within
            .into_iter()
            .filter(|z| z.name.len() == deepest)
            .collect();
        match named.as_slice() {
            [only] => Holding::Zone(only),
            _ => Holding::Ambiguous(named),
        }
    }
}

/// Lists every hosted zone, page by page (bounded).
pub(crate) async fn list_zones(client: &aws_sdk_route53::Client, pace: &RateLimiter) -> Zones {
    let mut zones = Zones::default();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_ZONE_PAGES {
        pace.acquire().await;
        let page = match client
            .list_hosted_zones()
            .set_marker(marker.clone())
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) => {
                zones.gap = Some(Gap::new(
                    "route53:ListHostedZones",
                    "the account's hosted zones",
                    error_text(&e),
                    "which of the account's Route53 records name the origins (origins are then found by their DNS names and addresses only)",
                ));
                return zones;
            }
        };
        zones.zones.extend(page.hosted_zones().iter().map(|z| Zone {
            id: z.id().trim_start_matches("/hostedzone/").to_string(),
            name: names::normalise(z.name()),
            private: z.config().is_some_and(|c| c.private_zone()),
        }));
        match page.next_marker().filter(|_| page.is_truncated()) {
            Some(next) if Some(next) != marker.as_deref() => marker = Some(next.to_string()),
            _ => return zones,
        }
    }
    zones.gap = Some(Gap::new(
        "route53:ListHostedZones",
        "the account's hosted zones",
        format!("more than {} hosted zones", MAX_ZONE_PAGES * 100),
        "whether a hosted zone beyond the first listed holds an origin's records",
    ));
    zones
}

/// Where the account's records lead from one origin name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Followed {
    /// Names outside the account's zones that the records point at, with how and the steps.
    pub targets: Vec<Target>,
    /// A and AAAA values, each with the steps that led to it.
    pub addresses: Vec<(IpAddr, Vec<String>)>,
    /// Every record read, in words: `Route53 public zone shop.example (Z1): origin.shop.example A
    /// ALIAS dualstack.shop-1.us-east-1.elb.amazonaws.com`.
    pub steps: Vec<String>,
    pub gaps: Vec<Gap>,
}

#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub name: String,
    /// `route53-alias` or `route53-cname`.
    pub how: MatchedBy,
    pub via: Vec<String>,
}

/// Follows `origin`'s records in the account's zones: ALIAS and CNAME targets inside them are
/// followed in turn, the others named; A and AAAA values collected.
pub(crate) async fn follow(
    client: &aws_sdk_route53::Client,
    pace: &RateLimiter,
    zones: &Zones,
    origin: &str,
) -> Followed {
    let mut out = Followed::default();
    let mut queue: VecDeque<(String, Vec<String>, MatchedBy)> = VecDeque::from([(
        names::normalise(origin),
        Vec::new(),
        MatchedBy::Route53Alias,
    )]);
    let mut seen: Vec<String> = Vec::new();
    while let Some((name, via, how)) = queue.pop_front() {
        if seen.contains(&name) {
            continue;
        }
        if seen.len() >= MAX_HOPS {
            out.gaps.push(Gap::new(
                "route53:ListResourceRecordSets",
                origin,
                format!("the records lead through more than {MAX_HOPS} names"),
                &format!("where the account's records for {origin} lead past {name}"),
            ));
            break;
        }
        seen.push(name.clone());
        // An AWS name is the resource's own: no zone of the account answers for it.
        let holding = if aws_names::classify(&name).is_some() {
            Holding::None
        } else {
            zones.holding(&name)
        };
        let zone = match holding {
            Holding::Zone(zone) => zone,
            Holding::Ambiguous(named) => {
                let ids: Vec<&str> = named.iter().map(|z| z.id.as_str()).collect();
                out.gaps.push(Gap::new(
                    "route53:ListHostedZones",
                    &ids.join(","),
                    format!("{} public hosted zones are named {}", named.len(), named[0].name),
                    &format!("which of them answers for {name}: only the one its parent delegates to does, and the API does not say which"),
                ));
                continue;
            }
            Holding::None => {
                if !via.is_empty() {
                    out.targets.push(Target { name, how, via });
                }
                continue;
            }
        };
        let records = match records_of(client, pace, zone, &name).await {
            Ok(records) => records,
            Err(error) => {
                out.gaps.push(Gap::new(
                    "route53:ListResourceRecordSets",
                    &zone.id,
                    error,
                    &format!("where the account's record for {name} points"),
                ));
                continue;
            }
        };
        if records.truncated {
            out.gaps.push(Gap::new(
                "route53:ListResourceRecordSets",
                &zone.id,
                format!(
                    "more than {} record sets named {name}",
                    MAX_RECORD_PAGES * 20
                ),
                &format!("where the rest of the account's records for {name} point"),
            ));
        }
        if records.sets.is_empty() && !via.is_empty() {
            // A name the records point at but do not define: named as it is.
            out.targets.push(Target { name, how, via });
            continue;
        }
        for set in served(&records.sets) {
            let step = step_in_words(zone, set);
            out.steps.push(step.clone());
            let mut via = via.clone();
            via.push(step);
            if let Some(alias) = set.alias_target() {
                queue.push_back((
                    names::normalise(alias.dns_name()),
                    via,
                    MatchedBy::Route53Alias,
                ));
                continue;
            }
            match set.r#type() {
                RrType::Cname => {
                    for value in set.resource_records() {
                        queue.push_back((
                            names::normalise(value.value()),
                            via.clone(),
                            MatchedBy::Route53Cname,
                        ));
                    }
                }
                RrType::A | RrType::Aaaa => {
                    for value in set.resource_records() {
                        if let Ok(ip) = value.value().parse::<IpAddr>() {
                            if !out.addresses.iter().any(|(a, _)| *a == ip) {
                                out.addresses.push((ip, via.clone()));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The record sets CloudFront's resolver may be answered from: of a failover pair the primary
/// (the secondary answers only while the primary's health check fails), and of weighted sets
/// those of a weight above 0 unless every one is 0.
/// <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy.html>
fn served(sets: &[ResourceRecordSet]) -> Vec<&ResourceRecordSet> {
    use aws_sdk_route53::types::ResourceRecordSetFailover as Failover;
    let has_primary = sets
        .iter()
        .any(|s| s.failover() == Some(&Failover::Primary));
    let some_weight = sets.iter().any(|s| s.weight().is_some_and(|w| w > 0));
    sets.iter()
        .filter(|s| !(has_primary && s.failover() == Some(&Failover::Secondary)))
        .filter(|s| !(some_weight && s.weight() == Some(0)))
        .collect()
}

/// The record sets of one name, and whether more were left unread.
struct Records {
    sets: Vec<ResourceRecordSet>,
    truncated: bool,
}

/// The A, AAAA and CNAME record sets of exactly `name` in `zone` (every routing policy's), or,
/// when the name has no record of any type, those of the wildcard one label above it (a
/// wildcard answers only for names that do not exist).
async fn records_of(
    client: &aws_sdk_route53::Client,
    pace: &RateLimiter,
    zone: &Zone,
    name: &str,
) -> Result<Records, String> {
    let (exact, exists) = sets_named(client, pace, zone, name).await?;
    if exists {
        return Ok(exact);
    }
    match name.split_once('.') {
        Some((_, parent))
            if parent == zone.name || parent.ends_with(&format!(".{}", zone.name)) =>
        {
            Ok(sets_named(client, pace, zone, &format!("*.{parent}"))
                .await?
                .0)
        }
        _ => Ok(exact),
    }
}

/// ListResourceRecordSets from `name`: Route53 lists a name's own sets first (then the names
/// under it), so the pages stop at the first other name. Also says whether the name has a
/// record of any type.
async fn sets_named(
    client: &aws_sdk_route53::Client,
    pace: &RateLimiter,
    zone: &Zone,
    name: &str,
) -> Result<(Records, bool), String> {
    let mut out = Records {
        sets: Vec::new(),
        truncated: false,
    };
    let mut exists = false;
    let mut start = (name.to_string(), None::<RrType>, None::<String>);
    for page_number in 0..MAX_RECORD_PAGES {
        pace.acquire().await;
        let page = client
            .list_resource_record_sets()
            .hosted_zone_id(&zone.id)
            .start_record_name(&start.0)
            .set_start_record_type(start.1.clone())
            .set_start_record_identifier(start.2.clone())
            .max_items(20)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        let mut other_name = false;
        for set in page.resource_record_sets() {
            if record_name(set.name()) != names::normalise(name) {
                other_name = true;
                break;
            }
            exists = true;
            if matches!(set.r#type(), RrType::A | RrType::Aaaa | RrType::Cname) {
                out.sets.push(set.clone());
            }
        }
        match page
            .next_record_name()
            .filter(|_| page.is_truncated() && !other_name)
        {
            Some(next) => {
                out.truncated = page_number + 1 == MAX_RECORD_PAGES;
                start = (
                    next.to_string(),
                    page.next_record_type().cloned(),
                    page.next_record_identifier().map(str::to_string),
                )
            }
            None => break,
        }
    }
    Ok((out, exists))
}

/// A record name as Route53 writes it (`\052` for `*`, a trailing dot), normalised.
fn record_name(name: &str) -> String {
    names::normalise(&name.replace("\\052", "*"))
}

/// `Route53 public zone shop.example (Z1): origin.shop.example A ALIAS target` or
/// `... CNAME target`, `... A 203.0.113.10, 203.0.113.11`, with the set's identifier.
fn step_in_words(zone: &Zone, set: &ResourceRecordSet) -> String {
    let kind = if zone.private { "private" } else { "public" };
    let values = match set.alias_target() {
        Some(alias) => format!("ALIAS {}", names::normalise(alias.dns_name())),
        None => set
            .resource_records()
            .iter()
            .map(|r| names::normalise(r.value()))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let identifier = set
        .set_identifier()
        .map(|id| format!(" (set {id})"))
        .unwrap_or_default();
    format!(
        "Route53 {kind} zone {} ({}): {} {} {values}{identifier}",
        zone.name,
        zone.id,
        record_name(set.name()),
        set.r#type().as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, private: bool) -> Zone {
        Zone {
            id: format!("Z{}", name.len()),
            name: name.into(),
            private,
        }
    }

    fn held_by(zones: &Zones, name: &str) -> Option<String> {
        match zones.holding(name) {
            Holding::Zone(zone) => Some(zone.name.clone()),
            Holding::Ambiguous(_) => Some("ambiguous".into()),
            Holding::None => None,
        }
    }

    #[test]
    fn the_deepest_public_zone_answers_for_a_name() {
        let zones = Zones {
            zones: vec![
                zone("shop.example", false),
                zone("eu.shop.example", false),
                zone("eu.shop.example", true),
                zone("internal.example", true),
            ],
            gap: None,
        };
        assert_eq!(
            held_by(&zones, "origin.eu.shop.example."),
            Some("eu.shop.example".into())
        );
        assert_eq!(
            held_by(&zones, "www.shop.example"),
            Some("shop.example".into())
        );
        assert_eq!(
            held_by(&zones, "api.internal.example"),
            None,
            "a private zone never answers CloudFront"
        );
        assert!(held_by(&zones, "shopexample").is_none());
        assert!(held_by(&zones, "notshop.example").is_none());
    }

    #[test]
    fn two_public_zones_of_one_name_are_not_trusted() {
        let zones = Zones {
            zones: vec![zone("shop.example", false), zone("shop.example", false)],
            gap: None,
        };
        assert_eq!(
            held_by(&zones, "www.shop.example"),
            Some("ambiguous".into())
        );
    }

    #[test]
    fn only_what_cloudfront_is_sent_to_is_followed() {
        use aws_sdk_route53::types::ResourceRecordSetFailover as Failover;
        let set = |id: &str, failover: Option<Failover>, weight: Option<i64>| {
            ResourceRecordSet::builder()
                .name("www.shop.example.")
                .r#type(RrType::A)
                .set_identifier(id)
                .set_failover(failover)
                .set_weight(weight)
                .build()
                .unwrap()
        };
        let pair = [
            set("primary", Some(Failover::Primary), None),
            set("dr", Some(Failover::Secondary), None),
        ];
        let followed: Vec<_> = served(&pair).iter().map(|s| s.set_identifier()).collect();
        assert_eq!(followed, [Some("primary")]);
        let weighted = [set("blue", None, Some(100)), set("green", None, Some(0))];
        let followed: Vec<_> = served(&weighted)
            .iter()
            .map(|s| s.set_identifier())
            .collect();
        assert_eq!(followed, [Some("blue")]);
        let drained = [set("blue", None, Some(0)), set("green", None, Some(0))];
        assert_eq!(
            served(&drained).len(),
            2,
            "all at 0: Route53 answers with any"
        );
    }

    #[test]
    fn wildcard_names_are_read_back_as_written() {
        assert_eq!(record_name("\\052.shop.example."), "*.shop.example");
    }
}
