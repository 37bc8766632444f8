//! Who a certificate reaches through a load balancer: ACM's InUseBy names the load balancer whose
//! listener serves the certificate, not the distributions in front of it. Its DNS name leads to
//! them: distributions whose origin is that name, a name the account's Route53 records point at
//! it (ALIAS or CNAME, followed inside the account's zones), or a name whose CNAME chain in public
//! DNS reaches it.

use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use futures::StreamExt;

use crate::probe::dns;
use crate::resolve::route53;
use crate::{error_text, Budget, Collector};
use cf_doctor_model::aws_names::same_dns_name;
use cf_doctor_model::evidence::{AcmCertificate, Distribution, Evidence, Gap, OriginKind};
use cf_doctor_model::{Check, CheckOutcome};

/// A load balancer ARN in InUseBy: `arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/...`
/// (application and network load balancers; a classic one has no `app/` or `net/` part).
fn load_balancer_region(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, region, _, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (service == "elasticloadbalancing"
        && (resource.starts_with("loadbalancer/app/") || resource.starts_with("loadbalancer/net/")))
    .then_some(region)
}

/// Origin names looked up at once when following CNAME chains.
const CNAME_CONCURRENCY: usize = 16;

impl Collector {
    /// For each load balancer the certificate is in use by, adds the distributions behind it to
    /// the evidence (and names them as the certificate's users). A lookup that fails is a gap.
    pub(crate) async fn follow_load_balancers(
        &self,
        certificate: &mut AcmCertificate,
        all_distributions: &[Distribution],
        evidence: &mut Evidence,
        budget: Budget,
    ) {
        let load_balancers: Vec<(String, String)> = certificate
            .in_use_by
            .iter()
            .filter_map(|arn| load_balancer_region(arn).map(|r| (arn.clone(), r.to_string())))
            .collect();
        // Where every origin name leads (the account's records, public DNS), read once for
        // every load balancer of the certificate.
        let mut leads: Option<Vec<Lead>> = None;
        for (arn, region) in load_balancers {
            if !budget.allows_start() {
                evidence.gaps.push(crate::not_in_time(
                    &format!("the distributions behind load balancer {arn}, which serves this certificate"),
                    &arn,
                ));
                continue;
            }
            let started = std::time::Instant::now();
            let (name, dns_name) = match dns_name_of(&self.infra_for(&region).elb, &arn).await {
                Ok(found) => found,
                Err(error) => {
                    evidence.checks.push(Check::since(
                        "certificate-load-balancer",
                        &arn,
                        CheckOutcome::Error,
                        started,
                        Some(error.clone()),
                    ));
                    evidence.gaps.push(Gap::new(
                        "elasticloadbalancing:DescribeLoadBalancers",
                        &arn,
                        error,
                        &format!(
                            "which distributions reach {} through this load balancer",
                            certificate.arn
                        ),
                    ));
                    continue;
                }
            };
            let leads = match &leads {
                Some(leads) => leads,
                None => {
                    let read = self.leads(all_distributions, evidence).await;
                    leads.insert(read)
                }
            };
            let behind = distributions_behind(&dns_name, all_distributions, leads);
            evidence.checks.push(Check::since(
                "certificate-load-balancer",
                &arn,
                CheckOutcome::Pass,
                started,
                Some(format!(
                    "{name} ({dns_name}) serves this certificate; {} distribution(s) behind it",
                    behind.len()
                )),
            ));
            for (distribution, via) in behind {
                let known_as = if distribution.aliases.is_empty() {
                    distribution.domain_name.clone()
                } else {
                    distribution.aliases.join(", ")
                };
                certificate.used_as.push(format!(
                    "listener certificate of load balancer {name}, the origin of {} ({known_as}) through {via}",
                    distribution.id
                ));
                if !evidence
                    .distributions
                    .iter()
                    .any(|d| d.id == distribution.id)
                {
                    evidence.distributions.push(distribution.clone());
                }
            }
        }
    }

    /// Where each custom origin name of `distributions` leads (each name once): the account's
    /// Route53 records (their gaps named) and the CNAME chain public DNS gives.
    async fn leads(&self, distributions: &[Distribution], evidence: &mut Evidence) -> Vec<Lead> {
        let mut hosts: Vec<String> = distributions
            .iter()
            .flat_map(|d| &d.origins)
            .filter(|o| matches!(o.kind, OriginKind::Custom(_)))
            .map(|o| o.domain_name.clone())
            .collect();
        hosts.sort();
        hosts.dedup();
        let zones = route53::list_zones(&self.route53, &self.route53_pace).await;
        evidence.gaps.extend(zones.gap.clone());
        let (zones, timeout, resolver) = (&zones, self.prober.timeout, self.cnames.as_deref());
        let leads: Vec<Lead> = futures::stream::iter(hosts.into_iter().map(|host| async move {
            let (records, chain) = tokio::join!(
                route53::follow(&self.route53, &self.route53_pace, zones, &host),
                async {
                    match resolver {
                        Some(resolver) => dns::cname_chain(resolver, &host, timeout).await,
                        None => Vec::new(),
                    }
                }
            );
            Lead {
                host,
                records,
                chain,
            }
        }))
        .buffered(CNAME_CONCURRENCY)
        .collect()
        .await;
        for lead in &leads {
            for gap in &lead.records.gaps {
                if !evidence.gaps.contains(gap) {
                    evidence.gaps.push(gap.clone());
                }
            }
        }
        leads
    }
}

/// Where one origin name leads.
struct Lead {
    host: String,
    records: route53::Followed,
    chain: Vec<String>,
}

/// The distributions with a custom origin at `dns_name`, directly, through the account's
/// Route53 records or through CNAME records in public DNS, each with the origin name that leads
/// there.
fn distributions_behind<'a>(
    dns_name: &str,
    distributions: &'a [Distribution],
    leads: &[Lead],
) -> Vec<(&'a Distribution, String)> {
    let mut found: Vec<(&Distribution, String)> = Vec::new();
    for d in distributions {
        for o in d
            .origins
            .iter()
            .filter(|o| matches!(o.kind, OriginKind::Custom(_)))
        {
            let host = &o.domain_name;
            if same_dns_name(host, dns_name) {
                found.push((d, host.clone()));
                continue;
            }
            let Some(lead) = leads.iter().find(|l| &l.host == host) else {
                continue;
            };
            if let Some(target) = lead
                .records
                .targets
                .iter()
                .find(|t| same_dns_name(&t.name, dns_name))
            {
                found.push((d, format!("{host} -> {}", target.via.join(" -> "))));
            } else if lead.chain.iter().any(|n| same_dns_name(n, dns_name)) {
                found.push((d, format!("{host} -> {}", lead.chain.join(" -> "))));
            }
        }
    }
    found.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    found.dedup_by(|a, b| a.0.id == b.0.id);
    found
}

/// The load balancer's name and DNS name.
async fn dns_name_of(client: &ElbClient, arn: &str) -> Result<(String, String), String> {
    let out = client
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    let lb = out
        .load_balancers()
        .first()
        .ok_or_else(|| "the answer named no load balancer".to_string())?;
    let dns_name = lb
        .dns_name()
        .ok_or_else(|| "the load balancer has no DNS name".to_string())?;
    Ok((
        lb.load_balancer_name().unwrap_or(arn).to_string(),
        dns_name.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_and_network_load_balancers_are_recognised_in_in_use_by() {
        assert_eq!(
            load_balancer_region(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188"
            ),
            Some("eu-west-1")
        );
        assert_eq!(
            load_balancer_region(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/tcp/0123"
            ),
            Some("us-east-1")
        );
        assert_eq!(
            load_balancer_region("arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE"),
            None
        );
        assert_eq!(
            load_balancer_region(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2"
            ),
            None
        );
    }

    #[test]
    fn a_dualstack_name_is_the_same_load_balancer() {
        assert!(same_dns_name(
            "dualstack.shop-1.us-east-1.elb.amazonaws.com",
            "Shop-1.us-east-1.elb.amazonaws.com."
        ));
        assert!(!same_dns_name(
            "shop-2.us-east-1.elb.amazonaws.com",
            "shop-1.us-east-1.elb.amazonaws.com"
        ));
    }
}
