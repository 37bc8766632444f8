//! Live origin probes: DNS, then for every resolved address TCP, TLS and a direct HTTP request, each
//! step bounded by the probe timeout, addresses and origins probed concurrently.

pub mod certinfo;
pub mod dns;
pub mod http;
pub mod tcp;
pub mod tls;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use cf_doctor_model::evidence::{
    AddressProbe, CustomOrigin, DnsResult, Handshake, HttpResult, OriginProbe, TcpResult,
    TlsResult, Verification,
};
use cf_doctor_model::{Check, CheckOutcome};
pub use tls::TlsSetup;

/// What every probe shares: built once per process.
#[derive(Debug)]
pub struct Prober {
    pub timeout: Duration,
    pub resolve: BTreeMap<String, Vec<IpAddr>>,
    pub tls: TlsSetup,
    /// The DNS server origin names are resolved with (CF_DOCTOR_DNS_SERVER); None: the system's.
    pub resolver: Option<std::sync::Arc<dns::Resolver>>,
}

/// One origin to probe, as one distribution reaches it with one Host.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub distribution_id: String,
    pub origin_id: String,
    /// The origin domain: what is resolved and connected to.
    pub host: String,
    pub origin: CustomOrigin,
    /// The SNI and Host CloudFront sends: the origin domain, or the forwarded viewer Host.
    pub server_name: String,
    /// The names CloudFront accepts the certificate for.
    pub accepted_names: Vec<String>,
    /// Why this server name, when it is not simply the origin domain.
    pub server_name_note: Option<String>,
}

impl Prober {
    pub async fn probe(&self, target: &ProbeTarget) -> (OriginProbe, Vec<Check>) {
        let connection = target.origin.connection();
        let (https, port) = (connection.is_https(), connection.port);
        let family = target.origin.ip_address_type;
        let server_name = target.server_name.clone();
        let mut checks = Vec::new();
        let endpoint = format!("{}:{port}", target.host);
        let dns = dns::resolve(
            &target.host,
            port,
            family,
            &self.resolve,
            self.resolver.as_deref(),
            self.timeout,
        )
        .await;
        let (dns_outcome, dns_ms, detail) = match &dns {
            DnsResult::Resolved {
                addresses,
                source,
                duration_ms,
                not_used,
            } => (
                CheckOutcome::Pass,
                *duration_ms,
                match not_used.len() {
                    0 => format!(
                        "{} address(es) from {source} (IpAddressType {})",
                        addresses.len(),
                        family.as_str()
                    ),
                    n => format!(
                        "{} address(es) from {source}; {n} not used by CloudFront (IpAddressType {})",
                        addresses.len(),
                        family.as_str()
                    ),
                },
            ),
            DnsResult::Failed { error, duration_ms } => {
                (CheckOutcome::Fail, *duration_ms, error.clone())
            }
            DnsResult::TimedOut { duration_ms } => {
                (CheckOutcome::Fail, *duration_ms, "timed out".to_string())
            }
        };
        checks.push(Check::new(
            "origin-dns",
            &endpoint,
            dns_outcome,
            dns_ms,
            Some(detail),
        ));
        let addresses = match &dns {
            DnsResult::Resolved { addresses, .. } => addresses.clone(),
            _ => Vec::new(),
        };
        let probes = futures::future::join_all(
            addresses
                .iter()
                .map(|address| self.probe_address(*address, port, https, &server_name, target)),
        )
        .await;
        let mut address_probes = Vec::new();
        for (probe, mut address_checks) in probes {
            address_probes.push(probe);
            checks.append(&mut address_checks);
        }
        let probe = OriginProbe {
            distribution_id: target.distribution_id.clone(),
            origin_id: target.origin_id.clone(),
            host: target.host.clone(),
            port,
            https,
            host_header: server_name.clone(),
            server_name,
            accepted_names: target.accepted_names.clone(),
            server_name_note: target.server_name_note.clone(),
            ssl_protocols: target.origin.ssl_protocols.clone(),
            ip_address_type: family,
            read_timeout_ms: u64::from(target.origin.read_timeout_s) * 1000,
            probe_timeout_ms: self.timeout.as_millis() as u64,
            dns,
            addresses: address_probes,
        };
        (probe, checks)
    }

    async fn probe_address(
        &self,
        address: IpAddr,
        port: u16,
        https: bool,
        server_name: &str,
        target: &ProbeTarget,
    ) -> (AddressProbe, Vec<Check>) {
        let at = format!("{}:{port}@{address}", target.host);
        let mut checks = Vec::new();
        let mut probe = AddressProbe {
            address,
            tcp: TcpResult::Failed {
                error: "not attempted".into(),
                duration_ms: 0,
            },
            tls: None,
            http: None,
        };
        let (tcp, stream) = tcp::connect(address, port, self.timeout).await;
        let (outcome, ms) = match &tcp {
            TcpResult::Connected { duration_ms } => (CheckOutcome::Pass, *duration_ms),
            TcpResult::Refused { duration_ms } | TcpResult::TimedOut { duration_ms } => {
                (CheckOutcome::Fail, *duration_ms)
            }
            TcpResult::Unreachable { duration_ms, .. } | TcpResult::Failed { duration_ms, .. } => {
                (CheckOutcome::Error, *duration_ms)
            }
        };
        checks.push(Check::new("origin-tcp", &at, outcome, ms, None));
        probe.tcp = tcp;
        let Some(stream) = stream else {
            return (probe, checks);
        };
        if !https {
            let http = http::get(stream, server_name, self.timeout, false).await;
            checks.push(http_check(&at, &http));
            probe.http = Some(http);
            return (probe, checks);
        }
        let versions = tls::cloudfront_versions();
        let (mut tls_result, tls_stream) = tls::handshake(
            &self.tls,
            stream,
            server_name,
            &target.accepted_names,
            &versions,
            self.timeout,
        )
        .await;
        if matches!(tls_result.handshake, Handshake::ProtocolMismatch { .. }) {
            tls_result.origin_speaks_tls13_only =
                Some(self.speaks_tls13(address, port, server_name).await);
        }
        checks.push(tls_check(&at, &tls_result));
        let unverified = !matches!(tls_result.verification, Verification::Trusted { .. });
        probe.tls = Some(tls_result);
        if let Some(tls_stream) = tls_stream {
            let http = http::get(tls_stream, server_name, self.timeout, unverified).await;
            checks.push(http_check(&at, &http));
            probe.http = Some(http);
        }
        (probe, checks)
    }

    /// A second handshake allowing only TLS 1.3, to say what a protocol-mismatched origin speaks.
    async fn speaks_tls13(&self, address: IpAddr, port: u16, server_name: &str) -> bool {
        let (_, Some(stream)) = tcp::connect(address, port, self.timeout).await else {
            return false;
        };
        let (result, _) = tls::handshake(
            &self.tls,
            stream,
            server_name,
            &[],
            &tls::tls13_only(),
            self.timeout,
        )
        .await;
        matches!(result.handshake, Handshake::Completed { .. })
    }
}

fn tls_check(at: &str, tls: &TlsResult) -> Check {
    let (outcome, detail) = match (&tls.handshake, &tls.verification) {
        (
            Handshake::Completed { protocol, .. },
            Verification::Trusted {
                trust_source,
                matched_name,
            },
        ) => (
            CheckOutcome::Pass,
            match matched_name {
                None => format!("{protocol}, trusted via {trust_source}"),
                Some(name) => {
                    format!("{protocol}, trusted via {trust_source} for {name} (the origin domain)")
                }
            },
        ),
        (Handshake::Completed { .. }, Verification::Rejected { error, .. }) => {
            (CheckOutcome::Fail, format!("certificate rejected: {error}"))
        }
        (Handshake::ProtocolMismatch { error, .. }, _) => (
            CheckOutcome::Fail,
            format!("no common protocol or cipher with this probe: {error}"),
        ),
        (Handshake::ClientCertificateRequired { error }, _) => (
            CheckOutcome::Error,
            format!("the origin demands a client certificate (origin mTLS): {error}"),
        ),
        (Handshake::Failed { error }, _) => (CheckOutcome::Fail, error.clone()),
        (Handshake::TimedOut, _) => (
            CheckOutcome::Fail,
            "no TLS answer within the probe timeout".into(),
        ),
        (Handshake::Completed { .. }, Verification::NotReached) => (
            CheckOutcome::Error,
            "handshake completed without a certificate".into(),
        ),
    };
    Check::new("origin-tls", at, outcome, tls.duration_ms, Some(detail))
}

fn http_check(at: &str, http: &HttpResult) -> Check {
    match http {
        HttpResult::Responded {
            status,
            time_to_first_byte_ms,
            ..
        } => Check::new(
            "origin-http",
            at,
            if *status >= 500 {
                CheckOutcome::Fail
            } else {
                CheckOutcome::Pass
            },
            *time_to_first_byte_ms,
            Some(format!("HTTP {status}")),
        ),
        HttpResult::TimedOut { waited_ms, .. } => Check::new(
            "origin-http",
            at,
            CheckOutcome::Fail,
            *waited_ms,
            Some("no response head within the probe timeout".into()),
        ),
        HttpResult::Failed { error } => Check::new(
            "origin-http",
            at,
            CheckOutcome::Error,
            0,
            Some(error.clone()),
        ),
    }
}
