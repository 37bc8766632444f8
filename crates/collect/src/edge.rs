//! The edge: a GET through the distribution (its domain, with the first alias as Host and SNI),
//! recording status, X-Cache ("Error from cloudfront" means CloudFront generated the error),
//! x-amz-cf-id and x-amz-cf-pop. Against an emulator endpoint the distribution's domain is not
//! real, so the edge is probed only where --resolve pins it.

use std::time::Instant;

use crate::probe::{dns, http, tcp, tls};
use crate::Collector;
use cf_doctor_model::evidence::{
    DnsResult, EdgeProbe, Evidence, Handshake, IpAddressType, TcpResult,
};
use cf_doctor_model::{Check, CheckOutcome};

impl Collector {
    pub async fn edges(&self, evidence: &mut Evidence) {
        let targets: Vec<(String, String, String)> = evidence
            .distributions
            .iter()
            .filter(|d| d.enabled)
            .map(|d| {
                (
                    d.id.clone(),
                    d.domain_name.clone(),
                    // A viewer's Host: a plain alias, or a concrete name under a wildcard one.
                    crate::host_sent::viewer_host(&d.aliases)
                        .map(|(host, _)| host)
                        .unwrap_or_else(|| d.domain_name.clone()),
                )
            })
            .collect();
        for (distribution_id, domain, host) in targets {
            let started = Instant::now();
            let target = format!("{domain} (Host {host})");
            if self.emulated
                && !self
                    .prober
                    .resolve
                    .contains_key(&domain.to_ascii_lowercase())
            {
                evidence.checks.push(Check::since("edge", &target, CheckOutcome::Skipped, started, Some("an emulator endpoint is configured and the distribution's domain is not pinned with --resolve".into())));
                continue;
            }
            let probe = self.edge(&distribution_id, &domain, &host).await;
            let (outcome, detail) = match (&probe.status, &probe.error) {
                (Some(status), _) => (
                    if *status >= 500 {
                        CheckOutcome::Fail
                    } else {
                        CheckOutcome::Pass
                    },
                    format!(
                        "HTTP {status}, X-Cache: {}, POP {}",
                        probe.x_cache.as_deref().unwrap_or("-"),
                        probe.pop.as_deref().unwrap_or("-")
                    ),
                ),
                (None, Some(error)) => (CheckOutcome::Error, error.clone()),
                (None, None) => (CheckOutcome::Error, "no answer".into()),
            };
            evidence.checks.push(Check::since(
                "edge",
                &target,
                outcome,
                started,
                Some(detail),
            ));
            evidence.edge_probes.push(probe);
        }
    }

    async fn edge(&self, distribution_id: &str, domain: &str, host: &str) -> EdgeProbe {
        let timeout = self.prober.timeout;
        let mut probe = EdgeProbe {
            distribution_id: distribution_id.into(),
            domain: domain.into(),
            host: host.into(),
            address: None,
            status: None,
            x_cache: None,
            pop: None,
            request_id: None,
            time_to_first_byte_ms: None,
            error: None,
        };
        // Viewers reach CloudFront over either family; IPv4 first, as a client without IPv6
        // routes would (a Lambda outside a dual-stack VPC has none).
        let resolved = dns::resolve(
            domain,
            443,
            IpAddressType::Dualstack,
            &self.prober.resolve,
            self.prober.resolver.as_deref(),
            timeout,
        )
        .await;
        let address = match resolved {
            DnsResult::Resolved { addresses, .. } => addresses
                .iter()
                .find(|a| a.is_ipv4())
                .or(addresses.first())
                .copied(),
            DnsResult::Failed { error, .. } => {
                probe.error = Some(format!("{domain} does not resolve: {error}"));
                return probe;
            }
            DnsResult::TimedOut { .. } => None,
        };
        let Some(address) = address else {
            probe.error = Some(format!("{domain} did not resolve in time"));
            return probe;
        };
        probe.address = Some(address);
        let (tcp, stream) = tcp::connect(address, 443, timeout).await;
        let Some(stream) = stream else {
            probe.error = Some(match tcp {
                TcpResult::Refused { .. } => "connection refused".into(),
                TcpResult::TimedOut { .. } => "connection timed out".into(),
                TcpResult::Unreachable { error, .. } | TcpResult::Failed { error, .. } => error,
                TcpResult::Connected { .. } => "connected without a stream".into(),
            });
            return probe;
        };
        let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
        let (result, stream) =
            tls::handshake(&self.prober.tls, stream, host, &[], &versions, timeout).await;
        let Some(stream) = stream else {
            probe.error = Some(match result.handshake {
                Handshake::TimedOut => "no TLS answer".into(),
                Handshake::Failed { error }
                | Handshake::ProtocolMismatch { error, .. }
                | Handshake::ClientCertificateRequired { error } => error,
                Handshake::Completed { .. } => "handshake completed without a stream".into(),
            });
            return probe;
        };
        match http::exchange(stream, host, timeout).await {
            http::Exchange::Answered(answer) => {
                probe.status = Some(answer.status);
                probe.time_to_first_byte_ms = Some(answer.time_to_first_byte_ms);
                probe.x_cache = http::header(&answer.headers, "x-cache");
                probe.pop = http::header(&answer.headers, "x-amz-cf-pop");
                probe.request_id = http::header(&answer.headers, "x-amz-cf-id");
            }
            http::Exchange::TimedOut { waited_ms } => {
                probe.error = Some(format!("no response within {waited_ms} ms"))
            }
            http::Exchange::Failed(error) => probe.error = Some(error),
        }
        probe
    }
}
