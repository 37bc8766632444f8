//! Behind the origin: the AWS resource that serves a custom origin, known from the account's own
//! records (`crate::resolve`: the origin's own AWS name, Route53, Elastic IPs and network
//! interfaces), then by the listener certificates that cover the origin name (`find`, the last
//! resort). A load balancer's listener, rules, certificates and target health are read by
//! `inspect`; an instance's state by `instance`; whom either's security groups let in by
//! `security_groups`. What a run reads about a region is read once, paced within the published
//! API rates, and shared by every origin. Every call that fails is a gap naming the action; the
//! rest still completes.

mod admission;
mod cidr;
mod find;
mod inspect;
mod instance;
mod listener_rules;
mod security_groups;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use aws_sdk_elasticloadbalancingv2::types as elb;

use crate::ratelimit::RateLimiter;
use crate::resolve::addresses::{self, Holder, Owner, Owners};
use crate::resolve::route53::Zones;
use crate::resolve::{Links, Resources};
use crate::{Collector, InfraClients};
use cf_doctor_model::aws_names::AwsName;
use cf_doctor_model::evidence::{
    AcmCertificate, CloudfrontHost, Distribution, Evidence, Gap, IpAddressType,
    LoadBalancerCandidates, MatchedBy, Origin, OriginConnection, OriginKind,
};
use cf_doctor_model::{Check, CheckOutcome};

pub use security_groups::{CLOUDFRONT_PREFIX_LIST, CLOUDFRONT_PREFIX_LIST_IPV6};

/// ELB API v2: Describe* calls share a bucket of 40 tokens refilled at 10 per second per account
/// and region (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html).
/// At most the refill rate in any second (`RateLimiter`) never empties it, whatever else the
/// account does in bursts.
const ELB_DESCRIBE_PER_SECOND: u32 = 10;

/// One custom origin as CloudFront reaches it.
struct OriginRef {
    distribution_id: String,
    host: String,
    /// HTTPS or HTTP, on which port.
    connection: OriginConnection,
    ssl_protocols: Vec<String>,
    /// Where the origin name points through CNAME records, in order.
    cname_chain: Vec<String>,
    /// The Host header CloudFront sends it.
    cloudfront_host: CloudfrontHost,
    /// Which of its addresses CloudFront connects to (`IpAddressType`).
    family: IpAddressType,
}

impl OriginRef {
    fn target(&self) -> String {
        format!("{}:{}", self.host, self.connection.port)
    }
}

/// What one run reads about a region, once, for every origin that needs it. The caches are behind
/// locks (held only between awaits) so that the inspections of several load balancers, and the
/// parts of one, share them while they run side by side.
struct RegionRun {
    name: String,
    infra: InfraClients,
    elb_pace: RateLimiter,
    /// The collector's ACM pace for the region, shared with the viewer and mTLS certificates.
    acm_pace: std::sync::Arc<RateLimiter>,
    /// Every load balancer (None: DescribeLoadBalancers failed, a gap says why).
    load_balancers: Option<Vec<elb::LoadBalancer>>,
    /// Listener certificates by load balancer, built on the first origin that needs the search.
    certificates: Option<find::CertificateIndex>,
    /// DescribeListeners answers, by load balancer ARN (the search and the inspection share them).
    listeners: Mutex<BTreeMap<String, Vec<elb::Listener>>>,
    /// Every certificate ARN of a listener (default and SNI), by listener ARN.
    listener_certificates: Mutex<BTreeMap<String, Vec<String>>>,
    /// DescribeCertificate answers, by certificate ARN.
    described: Mutex<BTreeMap<String, AcmCertificate>>,
    /// CloudFront's managed prefix lists and the entries of every prefix list read so far.
    prefix_lists: Mutex<security_groups::PrefixLists>,
}

/// A run's cache, even if a task panicked while holding it (what it holds is still whole: every
/// write is a single insert).
fn cache<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RegionRun {
    fn new(name: &str, infra: InfraClients, acm_pace: std::sync::Arc<RateLimiter>) -> RegionRun {
        RegionRun {
            name: name.to_string(),
            infra,
            elb_pace: RateLimiter::per_second(ELB_DESCRIBE_PER_SECOND),
            acm_pace,
            load_balancers: None,
            certificates: None,
            listeners: Mutex::default(),
            listener_certificates: Mutex::default(),
            described: Mutex::default(),
            prefix_lists: Mutex::default(),
        }
    }
}

pub use cf_doctor_model::aws_names::region_of_elb_name;

/// The Host CloudFront sends `origin`: the viewer's (any alias; a wildcard alias stands for every
/// name under it) when its cache behaviours forward Host, and the origin domain too when some
/// behaviour that reaches it does not; else the origin domain. Unknown when a policy that decides
/// it could not be read.
fn cloudfront_host(
    distribution: &Distribution,
    origin: &Origin,
    policy_unread: bool,
) -> CloudfrontHost {
    match &origin.forwarded_host {
        Some(forwarded) => {
            let mut hosts = if distribution.aliases.is_empty() {
                vec![distribution.domain_name.clone()]
            } else {
                distribution.aliases.clone()
            };
            if forwarded.origin_domain_too {
                hosts.push(origin.domain_name.clone());
            }
            CloudfrontHost::Viewer { hosts }
        }
        None if policy_unread => CloudfrontHost::Unknown,
        None => CloudfrontHost::OriginDomain {
            host: origin.domain_name.clone(),
        },
    }
}

/// Every custom origin of the collected distributions, once per host, port and Host sent.
fn origin_refs(evidence: &Evidence) -> Vec<OriginRef> {
    let policy_unread = evidence.gaps.iter().any(|g| {
        g.action == "cloudfront:GetOriginRequestPolicy" || g.action == "cloudfront:GetCachePolicy"
    });
    let mut origins: Vec<OriginRef> = Vec::new();
    for d in &evidence.distributions {
        for o in &d.origins {
            // A VPC origin's load balancer is found by the DNS name DescribeLoadBalancers gave
            // for the ARN GetVpcOrigin named (see vpc_origin).
            let (lb_host, connection, ssl_protocols, family) = match &o.kind {
                OriginKind::Custom(custom) => (
                    o.domain_name.clone(),
                    custom.connection(),
                    custom.ssl_protocols.clone(),
                    custom.ip_address_type,
                ),
                OriginKind::Vpc(vpc) => {
                    let Some(lb) =
                        crate::vpc_origin::load_balancer_of(evidence, &vpc.vpc_origin_id)
                    else {
                        continue;
                    };
                    (
                        lb.host,
                        lb.connection,
                        lb.ssl_protocols,
                        IpAddressType::default(),
                    )
                }
                OriginKind::S3 => continue,
            };
            let host = cloudfront_host(d, o, policy_unread);
            if !origins.iter().any(|x| {
                x.host == lb_host && x.connection == connection && x.cloudfront_host == host
            }) {
                origins.push(OriginRef {
                    distribution_id: d.id.clone(),
                    host: lb_host,
                    connection,
                    ssl_protocols,
                    cname_chain: Vec::new(),
                    cloudfront_host: host,
                    family,
                });
            }
        }
    }
    origins
}

/// What is listed before the distribution is known (it needs nothing from it), to find what
/// stands behind its origins: the load balancers of the origin regions, each region with the gap
/// of a listing that failed (named only if an origin then needs that region), and the account's
/// hosted zones, still being listed in a task of their own (several pages, or Route53's account-
/// wide pace, must not hold up the parts that do not need them).
pub struct OriginDirectory {
    regions: BTreeMap<String, (RegionRun, Option<Gap>)>,
    zones: tokio::task::JoinHandle<Zones>,
}

/// One origin's search, before what it found is inspected.
struct Search {
    origin: OriginRef,
    found: find::Found,
    searched: Vec<String>,
    started: Instant,
}

/// The regions of one run: those listed ahead, and those an origin's names lead to.
struct Regions {
    pending: BTreeMap<String, (RegionRun, Option<Gap>)>,
    runs: BTreeMap<String, RegionRun>,
}

impl Collector {
    /// DescribeLoadBalancers in every origin region, all at once, beside ListHostedZones (left
    /// running: only the origins that need records wait for it).
    pub async fn origin_directory(&self) -> OriginDirectory {
        let (route53, pace) = (self.route53.clone(), self.route53_pace.clone());
        let zones =
            tokio::spawn(async move { crate::resolve::route53::list_zones(&route53, &pace).await });
        let listed = futures::future::join_all(
            self.origin_regions()
                .into_iter()
                .map(|region| async move { self.region_run(&region).await }),
        )
        .await;
        OriginDirectory {
            regions: listed
                .into_iter()
                .map(|(run, gap)| (run.name.clone(), (run, gap)))
                .collect(),
            zones,
        }
    }

    /// Finds and inspects what stands behind every custom origin of the collected distributions
    /// (a load balancer, an instance); listener certificates join `evidence.certificates`.
    /// `directory` holds what was listed ahead; any other region an origin leads to is listed
    /// here. What was found is inspected side by side, the load balancers with their metrics.
    pub async fn behind_origins(&self, evidence: &mut Evidence, directory: OriginDirectory) {
        let mut origins = origin_refs(evidence);
        if origins.is_empty() {
            return;
        }
        let OriginDirectory { regions, zones } = directory;
        let started = Instant::now();
        // Each origin name's links, once per name (one name may be reached on two ports, or
        // with two Hosts), all names at once.
        let mut hosts: Vec<&str> = origins.iter().map(|o| o.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        // An origin that is an AWS name needs no record: the zones are waited for only when
        // some origin's name is the account's own.
        let needs_records = hosts
            .iter()
            .any(|h| cf_doctor_model::aws_names::classify(h).is_none());
        let zones = if needs_records {
            zones.await.unwrap_or_else(|failed| Zones {
                zones: Vec::new(),
                gap: Some(Gap::new(
                    "route53:ListHostedZones",
                    "the account's hosted zones",
                    failed.to_string(),
                    "which of the account's Route53 records name the origins",
                )),
            })
        } else {
            zones.abort();
            Zones::default()
        };
        let by_host: BTreeMap<&str, Links> = hosts
            .iter()
            .copied()
            .zip(futures::future::join_all(hosts.iter().map(|h| self.links_of(h, &zones))).await)
            .collect();
        evidence.gaps.extend(zones.gap.clone());
        for links in by_host.values() {
            evidence.gaps.extend(links.gaps.iter().cloned());
        }
        let mut links: Vec<Links> = origins
            .iter()
            .map(|o| by_host[o.host.as_str()].clone())
            .collect();
        for (origin, links) in origins.iter_mut().zip(&mut links) {
            origin.cname_chain = links.cname_chain.clone();
            // Only the addresses CloudFront connects to (IpAddressType) lead to what serves it.
            links.addresses.retain(|(ip, _)| origin.family.uses(ip));
        }
        let mut regions = Regions {
            pending: regions,
            runs: BTreeMap::new(),
        };
        // 1. By name: the origin's own, or one its records lead to.
        let mut found: Vec<Option<(find::Found, Vec<String>)>> = Vec::new();
        for links in &links {
            found.push(self.by_name(links, &mut regions, evidence).await);
        }
        // 2. By address: the account's Elastic IPs and network interfaces, every region once.
        let unfound: Vec<usize> = (0..origins.len()).filter(|i| found[*i].is_none()).collect();
        let owners = self.owners_of(&unfound, &links, evidence).await;
        for i in unfound {
            let (searched, owned): (Vec<String>, Vec<&Owner>) = (
                self.address_regions(&links[i]),
                owners
                    .owners
                    .iter()
                    .filter(|o| links[i].addresses.iter().any(|(a, _)| *a == o.address))
                    .collect(),
            );
            if let Some(by_address) = self
                .by_owner(&owned, &owners.instances, &links[i], &mut regions, evidence)
                .await
            {
                found[i] = Some((by_address, searched));
            }
        }
        // 3. By certificate, for what nothing above linked to anything.
        let https_ports: BTreeSet<u16> = origins
            .iter()
            .filter(|o| o.connection.is_https())
            .map(|o| o.connection.port)
            .collect();
        let mut searches = Vec::new();
        for (origin, found) in origins.into_iter().zip(found) {
            let (found, searched) = match found {
                Some(found) => found,
                None => {
                    let searched = self.origin_regions();
                    for region in &searched {
                        self.region(region, &mut regions, evidence).await;
                    }
                    let found = find::find(
                        &origin,
                        &searched,
                        &mut regions.runs,
                        &https_ports,
                        evidence,
                    )
                    .await;
                    (found, searched)
                }
            };
            searches.push(Search {
                origin,
                found,
                searched,
                started,
            });
        }
        self.inspect_found(searches, &regions.runs, evidence).await;
    }

    /// The run of `region`: listed ahead, or listed now (its gap named once).
    async fn region(&self, region: &str, regions: &mut Regions, evidence: &mut Evidence) {
        if regions.runs.contains_key(region) {
            return;
        }
        let (run, gap) = match regions.pending.remove(region) {
            Some(listed) => listed,
            None => self.region_run(region).await,
        };
        evidence.gaps.extend(gap);
        regions.runs.insert(region.to_string(), run);
    }

    /// The resource an origin's names lead to: a load balancer by its DNS name, or another kind
    /// of AWS resource named as such. None when no name is an AWS one (or only an instance's,
    /// whose address decides).
    async fn by_name(
        &self,
        links: &Links,
        regions: &mut Regions,
        evidence: &mut Evidence,
    ) -> Option<(find::Found, Vec<String>)> {
        let link = match links.resources() {
            Resources::One(link) => link,
            Resources::None => return None,
            Resources::Several(several) => {
                let named: Vec<String> = several
                    .iter()
                    .map(|l| {
                        format!(
                            "{} ({})",
                            l.name,
                            l.aws.as_ref().map(AwsName::in_words).unwrap_or_default()
                        )
                    })
                    .collect();
                let words = format!(
                    "the account's records send the origin to {} resources (weighted, latency or geolocation routing): {}; CloudFront may be sent to any of them, so none is inspected ({})",
                    several.len(),
                    named.join(", "),
                    links.records.join("; ")
                );
                return Some((find::Found::Elsewhere { words }, Vec::new()));
            }
        };
        let aws = link.aws.as_ref()?;
        let region = match aws {
            AwsName::LoadBalancer { region } => region.clone(),
            AwsName::Ec2Instance { .. } => return None,
            other => {
                let words = format!(
                    "the origin is {}{}: no load balancer or instance to inspect",
                    other.in_words(),
                    matched_in_words(link.how, &link.via)
                );
                return Some((find::Found::Elsewhere { words }, Vec::new()));
            }
        };
        self.region(&region, regions, evidence).await;
        let searched = vec![region.clone()];
        let Some(listed) = regions
            .runs
            .get(&region)
            .and_then(|r| r.load_balancers.as_ref())
        else {
            return Some((find::Found::Incomplete, searched));
        };
        let found = match find::named(listed, &link.name) {
            Some(lb) => find::Found::One {
                region,
                load_balancer: Box::new(lb.clone()),
                matched_by: link.how,
                via: link.via.clone(),
            },
            // An ELB name no load balancer of the account has: a Classic one (DescribeLoadBalancers
            // of ELB v2 lists application and network ones), another account's, or deleted.
            None => find::Found::Elsewhere {
                words: format!(
                    "the origin is {} named {}{}, which is not one of the account's application or network load balancers in {region} (a Classic Load Balancer, another account's, or deleted)",
                    aws.in_words(),
                    link.name,
                    matched_in_words(link.how, &link.via)
                ),
            },
        };
        Some((found, searched))
    }

    /// Where an origin's addresses are looked for: the regions its names give, and the origin
    /// regions (a hint).
    fn address_regions(&self, links: &Links) -> Vec<String> {
        let mut regions: BTreeSet<String> = links.named_regions();
        regions.extend(self.origin_regions());
        regions.into_iter().collect()
    }

    /// What holds the addresses of the origins `which`: each region asked once for all of them,
    /// every region at once.
    async fn owners_of(&self, which: &[usize], links: &[Links], evidence: &mut Evidence) -> Owners {
        let mut by_region: BTreeMap<String, Vec<std::net::IpAddr>> = BTreeMap::new();
        for i in which {
            for region in self.address_regions(&links[*i]) {
                let wanted = by_region.entry(region).or_default();
                for (ip, _) in &links[*i].addresses {
                    if !wanted.contains(ip) {
                        wanted.push(*ip);
                    }
                }
            }
        }
        by_region.retain(|_, ips| !ips.is_empty());
        let answers = futures::future::join_all(by_region.iter().map(|(region, ips)| async move {
            addresses::owners(&self.infra_for(region).ec2, region, ips).await
        }))
        .await;
        let mut owners = Owners::default();
        for (found, gaps) in answers {
            owners.owners.extend(found.owners);
            owners.instances.extend(found.instances);
            evidence.gaps.extend(gaps);
        }
        owners
    }

    /// What an origin's addresses lead to: a load balancer first, then an instance, then what
    /// else holds them. None when the account holds none of them.
    async fn by_owner(
        &self,
        owned: &[&Owner],
        described: &[aws_sdk_ec2::types::Instance],
        links: &Links,
        regions: &mut Regions,
        evidence: &mut Evidence,
    ) -> Option<find::Found> {
        let via = |owner: &Owner| {
            let mut via = links
                .addresses
                .iter()
                .find(|(a, _)| *a == owner.address)
                .map(|(_, via)| via.clone())
                .unwrap_or_default();
            via.push(owner.words.clone());
            via
        };
        for owner in owned {
            let Holder::LoadBalancer(tail) = &owner.holder else {
                continue;
            };
            self.region(&owner.region, regions, evidence).await;
            let Some(listed) = regions
                .runs
                .get(&owner.region)
                .and_then(|r| r.load_balancers.as_ref())
            else {
                // The interface names a load balancer the region's listing could not show.
                return Some(find::Found::Incomplete);
            };
            let lb = listed.iter().find(|lb| {
                lb.load_balancer_arn()
                    .is_some_and(|arn| arn.ends_with(&format!(":loadbalancer/{tail}")))
            });
            if let Some(lb) = lb {
                return Some(find::Found::One {
                    region: owner.region.clone(),
                    load_balancer: Box::new(lb.clone()),
                    matched_by: owner.how,
                    via: via(owner),
                });
            }
        }
        let instance = owned.iter().find_map(|o| match &o.holder {
            Holder::Instance(id) => Some((o, id)),
            _ => None,
        });
        if let Some((owner, id)) = instance {
            self.region(&owner.region, regions, evidence).await;
            return Some(find::Found::Instance {
                region: owner.region.clone(),
                instance_id: id.clone(),
                described: described
                    .iter()
                    .find(|i| i.instance_id() == Some(id.as_str()))
                    .cloned()
                    .map(Box::new),
                address: owner.address,
                matched_by: owner.how,
                via: via(owner),
            });
        }
        let owner = owned.first()?;
        let words = match &owner.holder {
            Holder::Unassociated { .. } => format!(
                "the origin's address {} is an Elastic IP of the account associated with nothing: nothing answers CloudFront there ({})",
                owner.address,
                via(owner).join("; ")
            ),
            _ => format!(
                "the origin's address {} is held by no load balancer or instance: {}",
                owner.address,
                via(owner).join("; ")
            ),
        };
        Some(find::Found::Elsewhere { words })
    }

    /// Inspects everything found (and reads the load balancers' metrics) at once; what each adds
    /// is folded back in the origins' order, the metrics last.
    async fn inspect_found(
        &self,
        searches: Vec<Search>,
        regions: &BTreeMap<String, RegionRun>,
        evidence: &mut Evidence,
    ) {
        // The metrics' window ends at the evidence's clock.
        let base = Evidence {
            now: evidence.now,
            ..Evidence::default()
        };
        // Every load balancer found, once: its metrics are read while it is inspected.
        let mut found: Vec<(String, String)> = Vec::new();
        for search in &searches {
            if let find::Found::One {
                region,
                load_balancer,
                ..
            } = &search.found
            {
                let arn = load_balancer.load_balancer_arn().unwrap_or_default();
                if !found.iter().any(|(_, a)| a == arn) {
                    found.push((region.clone(), arn.to_string()));
                }
            }
        }
        let records = futures::future::join_all(searches.into_iter().map(|search| {
            let mut branch = base.clone();
            async move {
                self.record(search, regions, &mut branch).await;
                branch
            }
        }));
        let mut on_metrics = base.clone();
        let metrics = async {
            let pairs: Vec<(&str, &str)> = found
                .iter()
                .map(|(region, arn)| (region.as_str(), arn.as_str()))
                .collect();
            self.load_balancer_metrics(&pairs, &mut on_metrics).await;
        };
        let (records, ()) = tokio::join!(records, metrics);
        for branch in records {
            evidence.absorb(branch, &base);
        }
        evidence.absorb(on_metrics, &base);
    }

    /// A region's clients and pacing, and its load balancers (read once per run); the gap when
    /// they cannot be listed.
    async fn region_run(&self, region: &str) -> (RegionRun, Option<Gap>) {
        let mut run = RegionRun::new(region, self.infra_for(region), self.acm_pace(region));
        let gap = match find::list_load_balancers(&run).await {
            Ok(list) => {
                run.load_balancers = Some(list);
                None
            }
            Err(error) => Some(Gap::new(
                "elasticloadbalancing:DescribeLoadBalancers",
                region,
                error,
                &format!("which load balancer in {region} serves the origins"),
            )),
        };
        (run, gap)
    }

    /// Inspects what was found, or says in a check (and for candidates, in the evidence) why
    /// nothing was.
    async fn record(
        &self,
        search: Search,
        regions: &BTreeMap<String, RegionRun>,
        evidence: &mut Evidence,
    ) {
        let Search {
            origin,
            found,
            searched,
            started,
        } = search;
        let origin = &origin;
        let target = origin.target();
        let (check, outcome, detail) = match found {
            find::Found::One {
                region,
                load_balancer,
                matched_by,
                via,
            } => {
                let Some(run) = regions.get(&region) else {
                    // Unreachable: every region a search answers with was given a run first.
                    return;
                };
                let (outcome, detail) =
                    record_load_balancer(origin, run, &load_balancer, matched_by, via, evidence)
                        .await;
                ("origin-load-balancer", outcome, detail)
            }
            find::Found::Instance {
                region,
                instance_id,
                described,
                address,
                matched_by,
                via,
            } => {
                let Some(run) = regions.get(&region) else {
                    return;
                };
                let link = instance::Link {
                    instance_id: &instance_id,
                    described: described.map(|d| *d),
                    address,
                    matched_by,
                    via,
                };
                let (outcome, detail) = record_instance(origin, run, link, evidence).await;
                ("origin-resource", outcome, detail)
            }
            find::Found::Elsewhere { words } => ("origin-resource", CheckOutcome::Skipped, words),
            find::Found::Candidates {
                candidates,
                search_complete,
            } => {
                let candidates = LoadBalancerCandidates {
                    distribution_id: origin.distribution_id.clone(),
                    origin_host: origin.host.clone(),
                    origin_port: origin.connection.port,
                    candidates,
                    search_complete,
                };
                let detail = candidates_in_words(&candidates);
                evidence.load_balancer_candidates.push(candidates);
                ("origin-load-balancer", CheckOutcome::Skipped, detail)
            }
            find::Found::Incomplete => (
                "origin-load-balancer",
                CheckOutcome::Error,
                format!(
                    "unknown whether a load balancer in {} serves this origin: the search could not read every load balancer (see the gaps)",
                    searched.join(", ")
                ),
            ),
            find::Found::None => (
                "origin-load-balancer",
                CheckOutcome::Skipped,
                format!(
                    "no load balancer in {} serves this origin",
                    searched.join(", ")
                ),
            ),
        };
        evidence
            .checks
            .push(Check::since(check, &target, outcome, started, Some(detail)));
    }
}

/// The load balancer found for `origin`, inspected into the evidence; the check's outcome and
/// detail ("NAME in REGION, matched by HOW (how the name led there)").
async fn record_load_balancer(
    origin: &OriginRef,
    run: &RegionRun,
    load_balancer: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer,
    matched_by: MatchedBy,
    via: Vec<String>,
    evidence: &mut Evidence,
) -> (CheckOutcome, String) {
    let mut inspected = inspect::inspect(origin, run, load_balancer, matched_by, evidence).await;
    let mut detail = format!(
        "{} in {}, matched by {matched_by}",
        inspected.name, run.name
    );
    if matched_by == MatchedBy::Cname {
        detail.push_str(&format!(
            " ({} -> {})",
            origin.host,
            origin.cname_chain.join(" -> ")
        ));
    } else if !via.is_empty() {
        detail.push_str(&format!(" ({})", via.join("; ")));
    }
    inspected.matched_via = via;
    evidence.load_balancers.push(inspected);
    (CheckOutcome::Pass, detail)
}

/// The EC2 instance that holds `origin`'s address, inspected into the evidence; the check's
/// outcome and detail (its state, address and how it was found).
async fn record_instance(
    origin: &OriginRef,
    run: &RegionRun,
    link: instance::Link<'_>,
    evidence: &mut Evidence,
) -> (CheckOutcome, String) {
    let (instance_id, address, matched_by) =
        (link.instance_id.to_string(), link.address, link.matched_by);
    let region = &run.name;
    match instance::inspect(origin, run, link, evidence).await {
        Some(inspected) => {
            let state = match &inspected.state_since {
                Some(since) => format!(
                    "{} since {}",
                    inspected.state,
                    since.format("%Y-%m-%d %H:%M UTC")
                ),
                None => inspected.state.clone(),
            };
            let detail = format!(
                "EC2 instance {instance_id} in {region} ({state}) at {address}, matched by {matched_by} ({}); no load balancer in front of it",
                inspected.matched_via.join("; ")
            );
            evidence.instances.push(inspected);
            (CheckOutcome::Pass, detail)
        }
        None => (
            CheckOutcome::Error,
            format!("EC2 instance {instance_id} in {region} holds the origin's address {address}, but could not be described (see the gaps)"),
        ),
    }
}

/// ` (matched by route53-alias: step; step)`, or ` (matched by dns-name)` when no step led there.
fn matched_in_words(how: MatchedBy, via: &[String]) -> String {
    if via.is_empty() {
        format!(" (matched by {how})")
    } else {
        format!(" (matched by {how}: {})", via.join("; "))
    }
}

/// `2 candidate(s) by certificate, none inspected: a (eu-west-1), b (eu-west-1) ...`.
fn candidates_in_words(found: &LoadBalancerCandidates) -> String {
    let named: Vec<String> = found
        .candidates
        .iter()
        .map(|c| format!("{} ({})", c.name, c.region))
        .collect();
    let incomplete = if found.search_complete {
        ""
    } else {
        "; the search could not read every load balancer (see the gaps)"
    };
    format!(
        "{} candidate(s) by certificate, none inspected: {} (HTTPS listeners on port {} whose certificate covers {}){incomplete}; make the origin domain the load balancer's DNS name, or a CNAME to it, to have it inspected",
        named.len(),
        named.join(", "),
        found.origin_port,
        found.origin_host,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::{CustomOrigin, ForwardedHost, ViewerCertificate};

    fn distribution(aliases: &[&str], forwarded: Option<bool>) -> (Distribution, Origin) {
        let origin = Origin {
            id: "o".into(),
            domain_name: "origin.shop.example".into(),
            kind: OriginKind::Custom(CustomOrigin {
                protocol_policy: cf_doctor_model::evidence::OriginProtocolPolicy::HttpsOnly,
                http_port: 80,
                https_port: 443,
                ssl_protocols: vec!["TLSv1.2".into()],
                read_timeout_s: 30,
                connection_timeout_s: 10,
                ip_address_type: Default::default(),
                client_certificate_arn: None,
            }),
            // Some(origin_domain_too): Host is forwarded.
            forwarded_host: forwarded.map(|origin_domain_too| ForwardedHost {
                host: aliases.first().unwrap_or(&"d1.cloudfront.net").to_string(),
                wildcard_alias: None,
                forwarded_by: vec!["cache behaviour *: origin request policy AllViewer".into()],
                origin_domain_too,
            }),
        };
        let d = Distribution {
            id: "E1".into(),
            arn: "arn".into(),
            domain_name: "d1.cloudfront.net".into(),
            enabled: true,
            status: "Deployed".into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            viewer_certificate: ViewerCertificate::default(),
            origins: vec![origin.clone()],
            origin_groups: vec![],
            function_associations: vec![],
            custom_error_responses: vec![],
            logs: Default::default(),
        };
        (d, origin)
    }

    #[test]
    fn cloudfront_sends_the_origin_domain_unless_host_is_forwarded() {
        let (d, o) = distribution(&["www.shop.example", "shop.example"], None);
        assert_eq!(
            cloudfront_host(&d, &o, false),
            CloudfrontHost::OriginDomain {
                host: "origin.shop.example".into()
            }
        );
        assert_eq!(
            cloudfront_host(&d, &o, true),
            CloudfrontHost::Unknown,
            "an unread origin request policy may forward Host"
        );
        let (d, o) = distribution(&["www.shop.example", "shop.example"], Some(false));
        assert_eq!(
            cloudfront_host(&d, &o, false),
            CloudfrontHost::Viewer {
                hosts: vec!["www.shop.example".into(), "shop.example".into()]
            },
            "any alias a viewer asks for"
        );
        let (d, o) = distribution(&["*.shop.example"], Some(true));
        assert_eq!(
            cloudfront_host(&d, &o, false),
            CloudfrontHost::Viewer {
                hosts: vec!["*.shop.example".into(), "origin.shop.example".into()]
            },
            "a behaviour that does not forward Host sends the origin domain too"
        );
    }

    /// Issue 25: with no alias and Host forwarded, a listener rule written for the distribution's
    /// own cloudfront.net name is the one CloudFront's requests meet, not the origin domain's.
    #[test]
    fn without_an_alias_a_forwarded_host_is_the_cloudfront_net_name_rules_see() {
        use cf_doctor_model::evidence::{ListenerRule, RuleAction, RuleCondition};
        use cf_doctor_model::routing::{meets, Meets};
        let (d, o) = distribution(&[], Some(false));
        let host = cloudfront_host(&d, &o, false);
        assert_eq!(
            host,
            CloudfrontHost::Viewer {
                hosts: vec!["d1.cloudfront.net".into()]
            }
        );
        let rule = |value: &str| ListenerRule {
            arn: "rule".into(),
            priority: 1,
            conditions: vec![RuleCondition::HostHeader {
                values: vec![value.into()],
                regex_values: vec![],
            }],
            action: RuleAction::FixedResponse {
                status_code: "503".into(),
            },
        };
        assert_eq!(meets(&rule("d1.cloudfront.net"), &host), Meets::Yes);
        assert_eq!(meets(&rule("*.cloudfront.net"), &host), Meets::Yes);
        assert_eq!(meets(&rule("origin.shop.example"), &host), Meets::No);
    }
}
