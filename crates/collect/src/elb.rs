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
/// Spacing calls at the refill rate never empties it, whatever else the account does in bursts.
const ELB_DESCRIBE_PER_SECOND: u32 = 10;
/// ACM DescribeCertificate: 10 requests per second per region (ACM quotas).
const ACM_DESCRIBE_PER_SECOND: u32 = 10;

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

/// What one run reads about a region, once, for every origin that needs it.
struct RegionRun {
    name: String,
    infra: InfraClients,
    elb_pace: RateLimiter,
    acm_pace: RateLimiter,
    /// Every load balancer (None: DescribeLoadBalancers failed, a gap says why).
    load_balancers: Option<Vec<elb::LoadBalancer>>,
    /// Listener certificates by load balancer, built on the first origin that needs the search.
    certificates: Option<find::CertificateIndex>,
    /// DescribeListeners answers, by load balancer ARN (the search and the inspection share them).
    listeners: BTreeMap<String, Vec<elb::Listener>>,
    /// Every certificate ARN of a listener (default and SNI), by listener ARN.
    listener_certificates: BTreeMap<String, Vec<String>>,
    /// DescribeCertificate answers, by certificate ARN.
    described: BTreeMap<String, AcmCertificate>,
    /// CloudFront's managed prefix lists and the entries of every prefix list read so far.
    prefix_lists: security_groups::PrefixLists,
}

impl RegionRun {
    fn new(name: &str, infra: InfraClients) -> RegionRun {
        RegionRun {
            name: name.to_string(),
            infra,
            elb_pace: RateLimiter::per_second(ELB_DESCRIBE_PER_SECOND),
            acm_pace: RateLimiter::per_second(ACM_DESCRIBE_PER_SECOND),
            load_balancers: None,
            certificates: None,
            listeners: BTreeMap::new(),
            listener_certificates: BTreeMap::new(),
            described: BTreeMap::new(),
            prefix_lists: security_groups::PrefixLists::default(),
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

impl Collector {
    /// Finds and inspects the load balancer behind every custom origin of the collected
    /// distributions; listener certificates join `evidence.certificates`.
    pub async fn behind_origins(&self, evidence: &mut Evidence) {
        let mut origins = origin_refs(evidence);
        if let Some(resolver) = &self.cnames {
            for origin in &mut origins {
                origin.cname_chain =
                    dns::cname_chain(resolver, &origin.host, self.prober.timeout).await;
            }
        }
        // The search by certificate reads every listener on these ports once, for all origins.
        let https_ports: BTreeSet<u16> =
            origins.iter().filter(|o| o.https).map(|o| o.port).collect();
        let mut regions: BTreeMap<String, RegionRun> = BTreeMap::new();
        for origin in &origins {
            let started = Instant::now();
            let named = std::iter::once(&origin.host).chain(&origin.cname_chain);
            let searched = match named.filter_map(|n| region_of_elb_name(n)).next() {
                Some(region) => vec![region],
                None => self.origin_regions(),
            };
            for region in &searched {
                if !regions.contains_key(region) {
                    let run = self.region_run(region, evidence).await;
                    regions.insert(region.clone(), run);
                }
            }
            let found = find::find(origin, &searched, &mut regions, &https_ports, evidence).await;
            self.record(origin, found, &searched, &mut regions, started, evidence)
                .await;
        }
    }

    /// A region's clients and pacing, and its load balancers (read once per run).
    async fn region_run(&self, region: &str, evidence: &mut Evidence) -> RegionRun {
        let mut run = RegionRun::new(region, self.infra_for(region));
        match find::list_load_balancers(&run).await {
            Ok(list) => run.load_balancers = Some(list),
            Err(error) => evidence.gaps.push(Gap::new(
                "elasticloadbalancing:DescribeLoadBalancers",
                region,
                error,
                &format!("which load balancer in {region} serves the origins"),
            )),
        }
        run
    }

    /// Inspects what was found, or says in a check (and for candidates, in the evidence) why
    /// nothing was.
    async fn record(
        &self,
        origin: &OriginRef,
        found: find::Found,
        searched: &[String],
        regions: &mut BTreeMap<String, RegionRun>,
        started: Instant,
        evidence: &mut Evidence,
    ) {
        let target = origin.target();
        let (outcome, detail) = match found {
            find::Found::One {
                region,
                load_balancer,
                matched_by,
            } => {
                // Found only in a region already read; a fresh run would simply read it again.
                let run = regions
                    .entry(region.clone())
                    .or_insert_with(|| RegionRun::new(&region, self.infra_for(&region)));
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
