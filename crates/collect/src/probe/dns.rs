//! DNS resolution of an origin name, or the --resolve override (the "hit the ALB directly" move).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use cf_doctor_model::evidence::{DnsResult, DnsSource, IpAddressType};

/// Resolved addresses are capped: a name with hundreds of records must not make a probe unbounded.
pub const MAX_ADDRESSES: usize = 64;

/// The addresses of `host` that CloudFront connects to under `family`, and the others the name
/// has (named in the evidence, not probed). `--resolve` overrides and IP literals come first;
/// then the configured DNS server (CF_DOCTOR_DNS_SERVER), else the system's resolver.
pub async fn resolve(
    host: &str,
    port: u16,
    family: IpAddressType,
    overrides: &BTreeMap<String, Vec<IpAddr>>,
    resolver: Option<&Resolver>,
    timeout: Duration,
) -> DnsResult {
    let started = Instant::now();
    let elapsed = || started.elapsed().as_millis() as u64;
    let key = host.trim_end_matches('.').to_ascii_lowercase();
    let literal = key
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let (found, source) = if let Some(addresses) = overrides.get(&key) {
        (Ok(addresses.clone()), DnsSource::Override)
    } else if let Some(ip) = literal {
        (Ok(vec![ip]), DnsSource::Literal)
    } else {
        let lookup = async {
            match resolver {
                Some(resolver) => lookup_with(resolver, &key, family).await,
                None => lookup_system(&key, port).await,
            }
        };
        match tokio::time::timeout(timeout, lookup).await {
            Err(_) => {
                return DnsResult::TimedOut {
                    duration_ms: elapsed(),
                }
            }
            Ok(found) => (found, DnsSource::Dns),
        }
    };
    let found = match found {
        Ok(found) => found,
        Err(error) => {
            return DnsResult::Failed {
                error,
                duration_ms: elapsed(),
            }
        }
    };
    let mut addresses: Vec<IpAddr> = Vec::new();
    let mut not_used: Vec<IpAddr> = Vec::new();
    for ip in found {
        let list = if family.uses(&ip) {
            &mut addresses
        } else {
            &mut not_used
        };
        if !list.contains(&ip) && list.len() < MAX_ADDRESSES {
            list.push(ip);
        }
    }
    if addresses.is_empty() {
        let error = if not_used.is_empty() {
            "the name resolved to no address".to_string()
        } else {
            format!(
                "no {} record: CloudFront reaches this origin over {} (IpAddressType {}), and the name has only {}",
                family.records(),
                match family {
                    IpAddressType::Ipv6 => "IPv6",
                    _ => "IPv4",
                },
                family.as_str(),
                not_used
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return DnsResult::Failed {
            error,
            duration_ms: elapsed(),
        };
    }
    DnsResult::Resolved {
        addresses,
        source,
        duration_ms: elapsed(),
        not_used,
    }
}

/// Both families from the system's resolver (getaddrinfo), split by the caller.
async fn lookup_system(host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    tokio::net::lookup_host((host.to_string(), port))
        .await
        .map(|found| found.map(|a| a.ip()).collect())
        .map_err(|e| e.to_string())
}

/// A and AAAA from the configured server: both are asked (the family's records are probed, the
/// others named), and only a failure of every asked-for query is an error.
async fn lookup_with(
    resolver: &Resolver,
    host: &str,
    family: IpAddressType,
) -> Result<Vec<IpAddr>, String> {
    let name = format!("{host}.");
    let (v4, v6) = tokio::join!(
        resolver.ipv4_lookup(name.clone()),
        resolver.ipv6_lookup(name)
    );
    let mut found: Vec<IpAddr> = Vec::new();
    let mut errors = Vec::new();
    // The answers hold the CNAME chain too: only the address records are addresses.
    use hickory_resolver::proto::rr::RData;
    match v4 {
        Ok(lookup) => found.extend(lookup.answers().iter().filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })),
        Err(e) => errors.push((IpAddressType::Ipv4, e)),
    }
    match v6 {
        Ok(lookup) => found.extend(lookup.answers().iter().filter_map(|r| match &r.data {
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })),
        Err(e) => errors.push((IpAddressType::Ipv6, e)),
    }
    if found.is_empty() {
        // Name the error of the records CloudFront needs (NXDOMAIN says the same for both).
        let error = errors
            .iter()
            .find(|(f, _)| family.uses_family_of(*f))
            .or(errors.first())
            .map(|(_, e)| e.to_string())
            .unwrap_or_else(|| "the name resolved to no address".to_string());
        return Err(error);
    }
    Ok(found)
}

/// Hops followed in a CNAME chain before giving up (a loop or a very long chain).
const MAX_CNAME_HOPS: usize = 8;

pub type Resolver = hickory_resolver::TokioResolver;

/// A resolver: the given server, or the system's configuration.
pub fn resolver(server: Option<std::net::SocketAddr>) -> Option<Resolver> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    match server {
        Some(addr) => {
            // UDP to the given port (a lab's server listens on any port, not only 53).
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let server = NameServerConfig::new(addr.ip(), true, vec![udp]);
            hickory_resolver::Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
            .build()
            .map_err(|e| tracing::warn!(error = %e, "the DNS resolver for {addr} could not be built: CNAME chains are not followed"))
            .ok()
        }
        None => hickory_resolver::Resolver::builder_tokio()
            .and_then(|b| b.build())
            .map_err(|e| tracing::warn!(error = %e, "the system's DNS configuration could not be read: CNAME chains are not followed"))
            .ok(),
    }
}

/// The names `host` points to through CNAME records, in order (empty when it has none).
pub async fn cname_chain(resolver: &Resolver, host: &str, timeout: Duration) -> Vec<String> {
    use hickory_resolver::proto::rr::{RData, RecordType};
    let mut chain: Vec<String> = Vec::new();
    let mut name = host.trim_end_matches('.').to_ascii_lowercase();
    for _ in 0..MAX_CNAME_HOPS {
        let lookup = tokio::time::timeout(
            timeout,
            resolver.lookup(format!("{name}."), RecordType::CNAME),
        )
        .await;
        let Ok(Ok(lookup)) = lookup else { break };
        let next = lookup.answers().iter().find_map(|r| match &r.data {
            RData::CNAME(target) => Some(
                target
                    .0
                    .to_string()
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            ),
            _ => None,
        });
        match next {
            Some(target) if !chain.contains(&target) && target != name => {
                chain.push(target.clone());
                name = target;
            }
            _ => break,
        }
    }
    chain
}
