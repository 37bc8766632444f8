//! Which load balancer serves an origin when the account's records link it to nothing: the one
//! whose DNS name is the origin domain or ends its CNAME chain; failing that, for an HTTPS origin,
//! the one load balancer whose HTTPS (or TLS) listener on the origin port has a certificate
//! covering the origin name (a guess, and the last one tried: a wrong certificate hides its own
//! load balancer). The certificates are read once per run for every origin (the index), every
//! call paced; several load balancers that fit are candidates, never one picked; a call that
//! fails stops the search and is a gap, so "not found" is said only when every load balancer was
//! read.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types as elb;

use super::{cache, OriginRef, RegionRun};
use crate::ratelimit::RateLimiter;
use crate::{acm, error_text};
use cf_doctor_model::aws_names::same_dns_name;
use cf_doctor_model::evidence::{AcmCertificate, Evidence, Gap, LoadBalancerCandidate, MatchedBy};
use cf_doctor_model::names;

/// Load balancers read per region when looking for one by certificate: a bound on the calls a
/// large account costs.
const MAX_SCANNED: usize = 100;

pub(super) enum Found {
    One {
        region: String,
        load_balancer: Box<elb::LoadBalancer>,
        /// `dns-name`, `route53-alias`, `route53-cname`, `cname`, `network-interface`,
        /// `elastic-ip` or `certificate`.
        matched_by: MatchedBy,
        /// The steps that led there, in words (Route53 records, addresses).
        via: Vec<String>,
    },
    /// An EC2 instance holds the origin's address: it serves CloudFront itself.
    Instance {
        region: String,
        instance_id: String,
        /// As DescribeInstances gave it while the addresses were looked up.
        described: Option<Box<aws_sdk_ec2::types::Instance>>,
        address: std::net::IpAddr,
        /// `elastic-ip` or `network-interface`.
        matched_by: MatchedBy,
        via: Vec<String>,
    },
    /// The origin is another kind of resource, or an address of the account that no load
    /// balancer or instance holds: named in words, nothing to inspect.
    Elsewhere {
        words: String,
    },
    Candidates {
        candidates: Vec<LoadBalancerCandidate>,
        search_complete: bool,
    },
    /// Nothing found, but not every load balancer could be read (gaps say which).
    Incomplete,
    None,
}

/// Every HTTPS and TLS listener certificate of a region's load balancers on the ports the run's
/// origins use, with the names each covers.
pub(super) struct CertificateIndex {
    entries: Vec<IndexedCertificate>,
    /// False when a load balancer or a certificate could not be read (a gap says which).
    complete: bool,
}

struct IndexedCertificate {
    load_balancer: elb::LoadBalancer,
    listener_arn: String,
    port: u16,
    certificate_arn: String,
    names: Vec<String>,
}

/// Finds the load balancer serving `origin` in `searched` regions. `https_ports` are the ports of
/// every HTTPS origin of the run: the certificate index is built for all of them at once.
pub(super) async fn find(
    origin: &OriginRef,
    searched: &[String],
    regions: &mut BTreeMap<String, RegionRun>,
    https_ports: &BTreeSet<u16>,
    evidence: &mut Evidence,
) -> Found {
    let mut listed_everywhere = true;
    for region in searched {
        let Some(load_balancers) = regions.get(region).and_then(|r| r.load_balancers.as_ref())
        else {
            listed_everywhere = false;
            continue;
        };
        if let Some(found) = by_dns(origin, load_balancers) {
            let (load_balancer, matched_by) = found;
            return Found::One {
                region: region.clone(),
                load_balancer: Box::new(load_balancer.clone()),
                matched_by,
                via: Vec::new(),
            };
        }
    }
    if !origin.connection.is_https() {
        return if listed_everywhere {
            Found::None
        } else {
            Found::Incomplete
        };
    }
    let mut complete = listed_everywhere;
    let mut fits: Vec<(String, &IndexedCertificate)> = Vec::new();
    for region in searched {
        let Some(run) = regions.get_mut(region) else {
            continue;
        };
        if run.certificates.is_none() {
            let index = build_index(run, https_ports, evidence).await;
            run.certificates = Some(index);
        }
    }
    for region in searched {
        let Some(index) = regions.get(region).and_then(|r| r.certificates.as_ref()) else {
            continue;
        };
        complete &= index.complete;
        for entry in index.entries.iter().filter(|e| {
            e.port == origin.connection.port && names::any_covers(&e.names, &origin.host)
        }) {
            let arn = entry.load_balancer.load_balancer_arn();
            if !fits
                .iter()
                .any(|(_, e)| e.load_balancer.load_balancer_arn() == arn)
            {
                fits.push((region.clone(), entry));
            }
        }
    }
    match fits.as_slice() {
        [] if complete => Found::None,
        [] => Found::Incomplete,
        [(region, only)] if complete => Found::One {
            region: region.clone(),
            load_balancer: Box::new(only.load_balancer.clone()),
            matched_by: MatchedBy::Certificate,
            via: Vec::new(),
        },
        _ => Found::Candidates {
            candidates: fits
                .iter()
                .map(|(region, e)| LoadBalancerCandidate {
                    arn: e
                        .load_balancer
                        .load_balancer_arn()
                        .unwrap_or_default()
                        .to_string(),
                    name: e
                        .load_balancer
                        .load_balancer_name()
                        .unwrap_or_default()
                        .to_string(),
                    region: region.clone(),
                    listener_arn: e.listener_arn.clone(),
                    certificate_arn: e.certificate_arn.clone(),
                })
                .collect(),
            search_complete: complete,
        },
    }
}

/// The load balancer whose DNS name is `name`.
pub(super) fn named<'a>(
    load_balancers: &'a [elb::LoadBalancer],
    name: &str,
) -> Option<&'a elb::LoadBalancer> {
    load_balancers
        .iter()
        .find(|lb| lb.dns_name().is_some_and(|dns| same_dns_name(dns, name)))
}

/// The load balancer whose DNS name is the origin domain, or ends its CNAME chain.
fn by_dns<'a>(
    origin: &OriginRef,
    load_balancers: &'a [elb::LoadBalancer],
) -> Option<(&'a elb::LoadBalancer, MatchedBy)> {
    let named = |name: &str| named(load_balancers, name);
    if let Some(lb) = named(&origin.host) {
        return Some((lb, MatchedBy::DnsName));
    }
    origin
        .cname_chain
        .iter()
        .find_map(|n| named(n))
        .map(|lb| (lb, MatchedBy::Cname))
}

/// Reads the listener certificates of up to `MAX_SCANNED` load balancers; the first call that
/// fails stops the search (a denied call would fail for every load balancer) and is a gap.
async fn build_index(
    run: &mut RegionRun,
    https_ports: &BTreeSet<u16>,
    evidence: &mut Evidence,
) -> CertificateIndex {
    let load_balancers = run.load_balancers.clone().unwrap_or_default();
    let region = run.name.clone();
    let mut index = CertificateIndex {
        entries: Vec::new(),
        complete: true,
    };
    let scanned = load_balancers.len().min(MAX_SCANNED);
    'scan: for (n, lb) in load_balancers.iter().take(MAX_SCANNED).enumerate() {
        let arn = lb.load_balancer_arn().unwrap_or_default();
        let lb_name = lb.load_balancer_name().unwrap_or_default();
        let unchecked = format!(
            "which load balancer in {region} serves an origin by its certificate ({} of {} load balancers not searched, from {lb_name} on)",
            scanned - n,
            load_balancers.len()
        );
        let listeners = match listeners_of(run, arn).await {
            Ok(listeners) => listeners,
            Err(error) => {
                evidence.gaps.push(Gap::new(
                    "elasticloadbalancing:DescribeListeners",
                    arn,
                    error,
                    &unchecked,
                ));
                index.complete = false;
                break 'scan;
            }
        };
        for listener in listeners.iter().filter(|l| {
            speaks_tls(l)
                && l.port()
                    .and_then(|p| u16::try_from(p).ok())
                    .is_some_and(|p| https_ports.contains(&p))
        }) {
            let listener_arn = listener.listener_arn().unwrap_or_default();
            let certificates = match certificates_of(run, listener).await {
                Ok(certificates) => certificates,
                Err(error) => {
                    evidence.gaps.push(Gap::new(
                        "elasticloadbalancing:DescribeListenerCertificates",
                        listener_arn,
                        error,
                        &unchecked,
                    ));
                    index.complete = false;
                    break 'scan;
                }
            };
            for certificate_arn in certificates {
                let used_as = format!("certificate of a listener of {lb_name}");
                match describe_certificate(run, &certificate_arn, &used_as).await {
                    Ok(described) => index.entries.push(IndexedCertificate {
                        load_balancer: lb.clone(),
                        listener_arn: listener_arn.to_string(),
                        port: listener.port().unwrap_or_default() as u16,
                        certificate_arn,
                        names: described.names(),
                    }),
                    Err(gap) => {
                        evidence.gaps.push(Gap {
                            unchecked: unchecked.clone(),
                            ..gap
                        });
                        index.complete = false;
                        break 'scan;
                    }
                }
            }
        }
    }
    if load_balancers.len() > MAX_SCANNED {
        evidence.gaps.push(Gap::new(
            "elasticloadbalancing:DescribeListeners",
            &region,
            format!("more than {MAX_SCANNED} load balancers"),
            &format!("whether a load balancer beyond the first {MAX_SCANNED} in {region} serves an origin by its certificate"),
        ));
        index.complete = false;
    }
    index
}

/// HTTPS (ALB) and TLS (NLB) listeners present a certificate.
pub(super) fn speaks_tls(listener: &elb::Listener) -> bool {
    listener
        .protocol()
        .is_some_and(|p| matches!(p, elb::ProtocolEnum::Https | elb::ProtocolEnum::Tls))
}

/// Every load balancer in the region, page by page.
pub(super) async fn list_load_balancers(run: &RegionRun) -> Result<Vec<elb::LoadBalancer>, String> {
    let client = &run.infra.elb;
    paged(&run.elb_pace, |marker| async move {
        let out = client
            .describe_load_balancers()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        Ok((
            out.load_balancers().to_vec(),
            out.next_marker().map(str::to_string),
        ))
    })
    .await
}

/// A load balancer's listeners, read once per run.
pub(super) async fn listeners_of(
    run: &RegionRun,
    lb_arn: &str,
) -> Result<Vec<elb::Listener>, String> {
    if let Some(known) = cache(&run.listeners).get(lb_arn) {
        return Ok(known.clone());
    }
    let client = &run.infra.elb;
    let out = paged(&run.elb_pace, |marker| async move {
        let out = client
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        Ok((
            out.listeners().to_vec(),
            out.next_marker().map(str::to_string),
        ))
    })
    .await?;
    cache(&run.listeners).insert(lb_arn.to_string(), out.clone());
    Ok(out)
}

/// Every certificate of a TLS listener: the default one (on the listener) and the SNI ones
/// (DescribeListenerCertificates, every page), read once per run.
pub(super) async fn certificates_of(
    run: &RegionRun,
    listener: &elb::Listener,
) -> Result<Vec<String>, String> {
    let arn = listener.listener_arn().unwrap_or_default();
    if let Some(known) = cache(&run.listener_certificates).get(arn) {
        return Ok(known.clone());
    }
    let client = &run.infra.elb;
    let listed = paged(&run.elb_pace, |marker| async move {
        let out = client
            .describe_listener_certificates()
            .listener_arn(arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        let arns = out
            .certificates()
            .iter()
            .filter_map(|c| c.certificate_arn().map(str::to_string))
            .collect();
        Ok((arns, out.next_marker().map(str::to_string)))
    })
    .await?;
    let mut out = certificates_on(listener);
    for c in listed {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    cache(&run.listener_certificates).insert(arn.to_string(), out.clone());
    Ok(out)
}

/// The certificates on the listener itself: its default one (DescribeListeners names it).
pub(super) fn certificates_on(listener: &elb::Listener) -> Vec<String> {
    listener
        .certificates()
        .iter()
        .filter_map(|c| c.certificate_arn().map(str::to_string))
        .collect()
}

/// Every page of a `Marker`/`NextMarker` call, each request paced by `pace`. A marker the service
/// hands back twice ends the loop rather than repeating it forever.
pub(super) async fn paged<T, F, Fut>(pace: &RateLimiter, mut page: F) -> Result<Vec<T>, String>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), String>>,
{
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        pace.acquire().await;
        let (items, next) = page(marker.clone()).await?;
        out.extend(items);
        match next.filter(|n| !n.is_empty()) {
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => return Ok(out),
        }
    }
}

/// DescribeCertificate, paced, once per certificate per run; `used_as` is why it was read.
pub(super) async fn describe_certificate(
    run: &RegionRun,
    arn: &str,
    used_as: &str,
) -> Result<AcmCertificate, Gap> {
    if let Some(known) = cache(&run.described).get(arn) {
        return Ok(AcmCertificate {
            used_as: vec![used_as.to_string()],
            ..known.clone()
        });
    }
    run.acm_pace.acquire().await;
    let described = acm::describe_certificate(&run.infra.acm, &run.name, arn, used_as).await?;
    cache(&run.described).insert(arn.to_string(), described.clone());
    Ok(described)
}
