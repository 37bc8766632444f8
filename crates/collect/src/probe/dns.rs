//! DNS resolution of an origin name, or the --resolve override (the "hit the ALB directly" move).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use cf_doctor_model::evidence::DnsResult;

/// Resolved addresses are capped: a name with hundreds of records must not make a probe unbounded.
pub const MAX_ADDRESSES: usize = 64;

pub async fn resolve(
    host: &str,
    port: u16,
    overrides: &BTreeMap<String, Vec<IpAddr>>,
    timeout: Duration,
) -> DnsResult {
    let started = Instant::now();
    let elapsed = || started.elapsed().as_millis() as u64;
    let key = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(addresses) = overrides.get(&key) {
        return DnsResult::Resolved {
            addresses: addresses.clone(),
            source: "override".into(),
            duration_ms: 0,
        };
    }
    if let Ok(ip) = key
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return DnsResult::Resolved {
            addresses: vec![ip],
            source: "literal".into(),
            duration_ms: 0,
        };
    }
    match tokio::time::timeout(timeout, tokio::net::lookup_host((key.clone(), port))).await {
        Err(_) => DnsResult::TimedOut {
            duration_ms: elapsed(),
        },
        Ok(Err(e)) => DnsResult::Failed {
            error: e.to_string(),
            duration_ms: elapsed(),
        },
        Ok(Ok(found)) => {
            let mut addresses: Vec<IpAddr> = Vec::new();
            for addr in found {
                if !addresses.contains(&addr.ip()) && addresses.len() < MAX_ADDRESSES {
                    addresses.push(addr.ip());
                }
            }
            if addresses.is_empty() {
                DnsResult::Failed {
                    error: "the name resolved to no address".into(),
                    duration_ms: elapsed(),
                }
            } else {
                DnsResult::Resolved {
                    addresses,
                    source: "dns".into(),
                    duration_ms: elapsed(),
                }
            }
        }
    }
}

/// Hops followed in a CNAME chain before giving up (a loop or a very long chain).
const MAX_CNAME_HOPS: usize = 8;

pub type CnameResolver = hickory_resolver::TokioResolver;

/// A resolver for CNAME lookups: the given server, or the system's configuration.
pub fn cname_resolver(server: Option<std::net::SocketAddr>) -> Option<CnameResolver> {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::name_server::TokioConnectionProvider;
    use hickory_resolver::proto::xfer::Protocol;
    match server {
        Some(addr) => {
            let mut config = ResolverConfig::new();
            config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
            Some(
                hickory_resolver::Resolver::builder_with_config(
                    config,
                    TokioConnectionProvider::default(),
                )
                .build(),
            )
        }
        None => hickory_resolver::Resolver::builder_tokio()
            .ok()
            .map(|b| b.build()),
    }
}

/// The names `host` points to through CNAME records, in order (empty when it has none).
pub async fn cname_chain(resolver: &CnameResolver, host: &str, timeout: Duration) -> Vec<String> {
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
        let next = lookup.iter().find_map(|r| match r {
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
