//! Know each origin by what it is: the AWS resource behind a custom origin is found from the
//! account's own records, never from the origin's answer (a wrong certificate hides its own load
//! balancer; a dropped probe says nothing). In order, each link named in the report:
//!
//! 1. the origin domain is a resource's own DNS name (`aws_names`: a load balancer, an instance's
//!    public name, an API Gateway, a Lambda function URL, an S3 website endpoint, CloudFront);
//! 2. the account's Route53 records for it (`route53`: ALIAS and CNAME targets, followed while
//!    they stay in the account's zones, and A/AAAA values);
//! 3. the CNAME chain public DNS gives;
//! 4. its addresses (Route53's values, the DNS answer, an instance name's) matched to the
//!    account's Elastic IPs and network interfaces (`addresses`).
//!
//! The search by listener certificate (`elb::find`) comes last, and only when none of these links
//! the origin to anything.

pub(crate) mod addresses;
pub(crate) mod route53;

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::probe::dns;
use crate::Collector;
use cf_doctor_model::aws_names::{self, AwsName};
use cf_doctor_model::evidence::{Gap, IpAddressType, MatchedBy};

/// A name that leads to the origin's resource, and how it was reached.
#[derive(Debug, Clone)]
pub(crate) struct NameLink {
    pub name: String,
    /// `dns-name` (the origin domain itself), `route53-alias`, `route53-cname` or `cname`.
    pub how: MatchedBy,
    pub via: Vec<String>,
    pub aws: Option<AwsName>,
}

/// Everything the account's records and DNS say about one origin name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    /// Names that may name the resource, surest first.
    pub names: Vec<NameLink>,
    /// The CNAME chain public DNS gives (kept in the load balancer's evidence).
    pub cname_chain: Vec<String>,
    /// Addresses, each with the steps that led to it.
    pub addresses: Vec<(IpAddr, Vec<String>)>,
    /// Every Route53 record read, in words.
    pub records: Vec<String>,
    pub gaps: Vec<Gap>,
}

/// The AWS resources an origin's names lead to.
pub(crate) enum Resources<'a> {
    None,
    One(&'a NameLink),
    /// Records that send viewers to several (weighted, latency, geolocation routing).
    Several(Vec<&'a NameLink>),
}

impl Links {
    /// What the surest names say the resource is: the origin's own AWS name; else where the
    /// account's records lead; else the first AWS name of the CNAME chain public DNS gives.
    pub fn resources(&self) -> Resources<'_> {
        let aws = |how: fn(MatchedBy) -> bool| -> Vec<&NameLink> {
            let mut distinct: Vec<&NameLink> = Vec::new();
            for link in self.names.iter().filter(|n| n.aws.is_some() && how(n.how)) {
                if !distinct
                    .iter()
                    .any(|d| aws_names::same_dns_name(&d.name, &link.name))
                {
                    distinct.push(link);
                }
            }
            distinct
        };
        let own = aws(|how| how == MatchedBy::DnsName);
        let records = aws(|how| how.is_route53());
        let chain = aws(|how| how == MatchedBy::Cname);
        let surest = if !own.is_empty() {
            own
        } else if !records.is_empty() {
            records
        } else {
            chain.into_iter().take(1).collect()
        };
        match surest.as_slice() {
            [] => Resources::None,
            [one] => Resources::One(one),
            _ => Resources::Several(surest),
        }
    }

    /// The regions the names put the resource in.
    pub fn named_regions(&self) -> BTreeSet<String> {
        self.names
            .iter()
            .filter_map(|n| n.aws.as_ref().and_then(AwsName::region))
            .map(str::to_string)
            .collect()
    }

    fn add_address(&mut self, ip: IpAddr, via: Vec<String>) {
        if !self.addresses.iter().any(|(a, _)| *a == ip) {
            self.addresses.push((ip, via));
        }
    }
}

impl Collector {
    /// What the account's records and DNS say about `host`, the origin domain.
    pub(crate) async fn links_of(&self, host: &str, zones: &route53::Zones) -> Links {
        let mut links = Links::default();
        links.names.push(NameLink {
            name: host.to_string(),
            how: MatchedBy::DnsName,
            via: Vec::new(),
            aws: aws_names::classify(host),
        });
        if links.names[0].aws.is_some() {
            // A resource's own name is the surest link there is: nothing else is read.
            self.add_named_address(&mut links);
            return links;
        }
        let timeout = self.prober.timeout;
        let (followed, chain, resolved) = tokio::join!(
            route53::follow(&self.route53, &self.route53_pace, zones, host),
            async {
                match &self.cnames {
                    Some(resolver) => dns::cname_chain(resolver, host, timeout).await,
                    None => Vec::new(),
                }
            },
            self.resolved_addresses(host)
        );
        links.records = followed.steps;
        links.gaps = followed.gaps;
        for target in followed.targets {
            links.names.push(NameLink {
                aws: aws_names::classify(&target.name),
                name: target.name,
                how: target.how,
                via: target.via,
            });
        }
        for (i, name) in chain.iter().enumerate() {
            let mut via = vec![host.to_string()];
            via.extend(chain[..i].iter().cloned());
            links.names.push(NameLink {
                name: name.clone(),
                how: MatchedBy::Cname,
                via: vec![format!("DNS: {} -> {name}", via.join(" -> "))],
                aws: aws_names::classify(name),
            });
        }
        links.cname_chain = chain;
        for (ip, via) in followed.addresses {
            links.add_address(ip, via);
        }
        for ip in resolved {
            links.add_address(ip, vec![format!("DNS: {host} resolves to {ip}")]);
        }
        self.add_named_address(&mut links);
        links
    }

    /// An instance's public DNS name spells its address.
    fn add_named_address(&self, links: &mut Links) {
        let named: Vec<(IpAddr, String)> = links
            .names
            .iter()
            .filter_map(|n| match &n.aws {
                Some(AwsName::Ec2Instance { address, .. }) => Some((
                    IpAddr::V4(*address),
                    format!("{} is the public DNS name of {address}", n.name),
                )),
                _ => None,
            })
            .collect();
        for (ip, words) in named {
            links.add_address(ip, vec![words]);
        }
    }

    /// The addresses `host` has (both families): the --resolve overrides (where the probe is
    /// pinned) and what the DNS resolver the CNAME chains use answers (none against an emulator
    /// without CF_DOCTOR_DNS_SERVER: its names are not real).
    async fn resolved_addresses(&self, host: &str) -> Vec<IpAddr> {
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        let mut found: Vec<IpAddr> = self.prober.resolve.get(&key).cloned().unwrap_or_default();
        if let Some(resolver) = &self.cnames {
            let answered = dns::resolve(
                host,
                443,
                IpAddressType::Dualstack,
                &Default::default(),
                Some(resolver),
                self.prober.timeout,
            )
            .await;
            if let cf_doctor_model::evidence::DnsResult::Resolved { addresses, .. } = answered {
                for address in addresses {
                    if !found.contains(&address) {
                        found.push(address);
                    }
                }
            }
        }
        found
    }
}
