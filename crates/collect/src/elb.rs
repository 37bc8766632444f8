//! Behind the origin: the Elastic Load Balancer that serves a custom origin. Finding it (its DNS
//! name is the origin domain or ends the origin's CNAME chain, or exactly one load balancer's
//! HTTPS listener has a certificate covering the origin name) is `find`; reading its listener,
//! rules, certificates and target health is `inspect`; whom its security groups let in is
//! `security_groups`. What a run reads about a region is read once, paced within the published
//! API rates, and shared by every origin. Every call that fails is a gap naming the action; the
//! rest still completes.

mod admission;
mod cidr;
mod find;
mod inspect;
mod listener_rules;
mod security_groups;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use aws_sdk_elasticloadbalancingv2::types as elb;

use crate::probe::dns;
use crate::ratelimit::RateLimiter;
use crate::{Collector, InfraClients};
use cf_doctor_model::evidence::{
    AcmCertificate, CloudfrontHost, Distribution, Evidence, Gap, LoadBalancerCandidates, Origin,
    OriginKind,
};
use cf_doctor_model::names;
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
    port: u16,
    https: bool,
    ssl_protocols: Vec<String>,
    /// Where the origin name points through CNAME records, in order.
    cname_chain: Vec<String>,
    /// The Host header CloudFront sends it.
    cloudfront_host: CloudfrontHost,
}

impl OriginRef {
    fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
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

/// The region named in an ELB DNS name: `name-1.eu-west-1.elb.amazonaws.com` (ALB, CLB) or
/// `name-1.elb.eu-west-1.amazonaws.com` (NLB).
pub fn region_of_elb_name(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n >= 4 && labels[n - 2..] == ["amazonaws", "com"] {
        if labels[n - 3] == "elb" {
            return Some(labels[n - 4].to_string());
        }
        if n >= 5 && labels[n - 4] == "elb" {
            return Some(labels[n - 3].to_string());
        }
    }
    None
}

fn same_dns_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = names::normalise(s);
        s.strip_prefix("dualstack.")
            .map(str::to_string)
            .unwrap_or(s)
    };
    norm(a) == norm(b)
}

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
            let (lb_host, port, https, ssl_protocols) = match &o.kind {
                OriginKind::Custom(custom) => {
                    let connection = custom.connection();
                    let protocols = custom.ssl_protocols.clone();
                    (
                        o.domain_name.clone(),
                        connection.port,
                        connection.https,
                        protocols,
                    )
                }
                OriginKind::Vpc(vpc) => {
                    let Some(lb) =
                        crate::vpc_origin::load_balancer_of(evidence, &vpc.vpc_origin_id)
                    else {
                        continue;
                    };
                    (lb.host, lb.port, lb.https, lb.ssl_protocols)
                }
                OriginKind::S3 => continue,
            };
            let host = cloudfront_host(d, o, policy_unread);
            if !origins
                .iter()
                .any(|x| x.host == lb_host && x.port == port && x.cloudfront_host == host)
            {
                origins.push(OriginRef {
                    distribution_id: d.id.clone(),
                    host: lb_host,
                    port,
                    https,
                    ssl_protocols,
                    cname_chain: Vec::new(),
                    cloudfront_host: host,
                });
            }
        }
    }
    origins
}

/// The load balancers of the origin regions, listed before the distribution is known (the list
/// needs nothing from it), with the gap of a region that could not be listed: named only if an
/// origin then needs that region.
pub struct LoadBalancerLists {
    regions: BTreeMap<String, (RegionRun, Option<Gap>)>,
}

/// One origin's search, before its load balancer is inspected.
struct Search {
    origin: OriginRef,
    found: find::Found,
    searched: Vec<String>,
    started: Instant,
}

impl Collector {
    /// DescribeLoadBalancers in every origin region, all at once.
    pub async fn list_load_balancers(&self) -> LoadBalancerLists {
        let listed = futures::future::join_all(
            self.origin_regions()
                .into_iter()
                .map(|region| async move { self.region_run(&region).await }),
        )
        .await;
        LoadBalancerLists {
            regions: listed
                .into_iter()
                .map(|(run, gap)| (run.name.clone(), (run, gap)))
                .collect(),
        }
    }

    /// Finds and inspects the load balancer behind every custom origin of the collected
    /// distributions; listener certificates join `evidence.certificates`. `listed` are the
    /// regions already listed (`list_load_balancers`); any other region an origin names is
    /// listed here. The load balancers found are inspected side by side, with their metrics.
    pub async fn behind_origins(&self, evidence: &mut Evidence, listed: LoadBalancerLists) {
        let mut origins = origin_refs(evidence);
        if let Some(resolver) = &self.cnames {
            let chains = futures::future::join_all(
                origins
                    .iter()
                    .map(|o| dns::cname_chain(resolver, &o.host, self.prober.timeout)),
            )
            .await;
            for (origin, chain) in origins.iter_mut().zip(chains) {
                origin.cname_chain = chain;
            }
        }
        // The search by certificate reads every listener on these ports once, for all origins.
        let https_ports: BTreeSet<u16> =
            origins.iter().filter(|o| o.https).map(|o| o.port).collect();
        let mut pending = listed.regions;
        let mut regions: BTreeMap<String, RegionRun> = BTreeMap::new();
        let mut searches = Vec::new();
        for origin in origins {
            let started = Instant::now();
            let named = std::iter::once(&origin.host).chain(&origin.cname_chain);
            let searched = match named.filter_map(|n| region_of_elb_name(n)).next() {
                Some(region) => vec![region],
                None => self.origin_regions(),
            };
            for region in &searched {
                if regions.contains_key(region) {
                    continue;
                }
                let (run, gap) = match pending.remove(region) {
                    Some(listed) => listed,
                    None => self.region_run(region).await,
                };
                evidence.gaps.extend(gap);
                regions.insert(region.clone(), run);
            }
            let found = find::find(&origin, &searched, &mut regions, &https_ports, evidence).await;
            searches.push(Search {
                origin,
                found,
                searched,
                started,
            });
        }
        self.inspect_found(searches, &regions, evidence).await;
    }

    /// Inspects every load balancer found (and reads the application ones' metrics) at once;
    /// what each adds is folded back in the origins' order, the metrics last.
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
        let mut application: Vec<(String, String)> = Vec::new();
        for search in &searches {
            if let find::Found::One {
                region,
                load_balancer,
                ..
            } = &search.found
            {
                let is_application = load_balancer
                    .r#type()
                    .is_some_and(|t| *t == elb::LoadBalancerTypeEnum::Application);
                let arn = load_balancer.load_balancer_arn().unwrap_or_default();
                if is_application && !application.iter().any(|(_, a)| a == arn) {
                    application.push((region.clone(), arn.to_string()));
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
            let pairs: Vec<(&str, &str)> = application
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
        let (outcome, detail) = match found {
            find::Found::One {
                region,
                load_balancer,
                matched_by,
            } => {
                let Some(run) = regions.get(&region) else {
                    // Unreachable: find answers only regions it was given, and behind_origins
                    // made a run for each of those before asking.
                    return;
                };
                let inspected =
                    inspect::inspect(origin, run, &load_balancer, matched_by, evidence).await;
                let mut detail = format!("{} in {region}, matched by {matched_by}", inspected.name);
                if matched_by == "cname" {
                    detail.push_str(&format!(
                        " ({} -> {})",
                        origin.host,
                        origin.cname_chain.join(" -> ")
                    ));
                }
                evidence.load_balancers.push(inspected);
                (CheckOutcome::Pass, detail)
            }
            find::Found::Candidates {
                candidates,
                search_complete,
            } => {
                let candidates = LoadBalancerCandidates {
                    distribution_id: origin.distribution_id.clone(),
                    origin_host: origin.host.clone(),
                    origin_port: origin.port,
                    candidates,
                    search_complete,
                };
                let detail = candidates_in_words(&candidates);
                evidence.load_balancer_candidates.push(candidates);
                (CheckOutcome::Skipped, detail)
            }
            find::Found::Incomplete => (
                CheckOutcome::Error,
                format!(
                    "unknown whether a load balancer in {} serves this origin: the search could not read every load balancer (see the gaps)",
                    searched.join(", ")
                ),
            ),
            find::Found::None => (
                CheckOutcome::Skipped,
                format!(
                    "no load balancer in {} serves this origin",
                    searched.join(", ")
                ),
            ),
        };
        evidence.checks.push(Check::since(
            "origin-load-balancer",
            &target,
            outcome,
            started,
            Some(detail),
        ));
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

    #[test]
    fn the_region_is_read_from_alb_and_nlb_names() {
        assert_eq!(
            region_of_elb_name("shop-alb-1234.eu-west-1.elb.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_elb_name("dualstack.shop-alb-1234.eu-west-1.elb.amazonaws.com.").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_elb_name("shop-nlb-1234.elb.us-east-2.amazonaws.com").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_of_elb_name("origin.shop.example"), None);
    }

    #[test]
    fn a_dualstack_name_is_the_same_load_balancer() {
        assert!(same_dns_name(
            "dualstack.a-1.us-east-1.elb.amazonaws.com",
            "A-1.us-east-1.elb.amazonaws.com."
        ));
    }

    fn distribution(aliases: &[&str], forwarded: Option<bool>) -> (Distribution, Origin) {
        let origin = Origin {
            id: "o".into(),
            domain_name: "origin.shop.example".into(),
            kind: OriginKind::Custom(CustomOrigin {
                protocol_policy: "https-only".into(),
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
                host: aliases[0].to_string(),
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
}
