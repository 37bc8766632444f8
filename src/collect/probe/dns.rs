//! DNS resolution of an origin name, or the --resolve override (the "hit the ALB directly" move).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::evidence::DnsResult;

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
