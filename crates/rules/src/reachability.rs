//! Reachability rules: DNS, TCP (refused gives 502, silence 504), the direct HTTP answer and its
//! speed against the origin read timeout.

use serde_json::json;

use crate::per_address::group_by_code;
use cf_doctor_model::evidence::{DnsResult, HttpResult, OriginProbe, TcpResult};
use cf_doctor_model::{Code, Finding, Severity};

pub fn findings(probe: &OriginProbe) -> Vec<Finding> {
    let endpoint = probe.endpoint();
    match &probe.dns {
        DnsResult::Resolved { .. } => {}
        DnsResult::Failed { error, .. } => return vec![dns_failure(probe, error)],
        DnsResult::TimedOut { duration_ms } => {
            return vec![dns_failure(
                probe,
                &format!("no answer within {duration_ms} ms"),
            )]
        }
    }
    let mut per_address = Vec::new();
    for a in &probe.addresses {
        let at = format!("{endpoint}@{}", a.address);
        match &a.tcp {
            TcpResult::Connected { .. } => {}
            TcpResult::Refused { .. } => per_address.push(
                Finding::new(Code::OriginConnectionRefused, Severity::Critical, &at)
                    .statuses(&[502])
                    .title(format!("Origin {endpoint} refuses connections on port {}", probe.port))
                    .evidence(json!({"address": a.address, "port": probe.port, "https": probe.https}))
                    .remediation(format!(
                        "Nothing listens on port {} at the origin: add the listener (ALB: a listener on {}), or point the distribution's origin {} port at the port the origin serves.",
                        probe.port, probe.port, if probe.https { "HTTPS" } else { "HTTP" }
                    )),
            ),
            TcpResult::TimedOut { duration_ms } => per_address.push(
                Finding::new(Code::OriginConnectionTimeout, Severity::Critical, &at)
                    .statuses(&[504])
                    .title(format!("Origin {endpoint} does not answer TCP on port {} (silently dropped)", probe.port))
                    .evidence(json!({"address": a.address, "port": probe.port, "waited_ms": duration_ms}))
                    .remediation(format!(
                        "Packets are dropped on the way: allow port {} from CloudFront (security group rule with the managed prefix list com.amazonaws.global.cloudfront.origin-facing, network ACLs, firewalls).",
                        probe.port
                    )),
            ),
            TcpResult::Failed { error, .. } => per_address.push(
                Finding::new(Code::OriginConnectionRefused, Severity::Critical, &at)
                    .statuses(&[502])
                    .title(format!("TCP connection to origin {endpoint} failed: {error}"))
                    .evidence(json!({"address": a.address, "port": probe.port, "error": error}))
                    .remediation("Check the origin's address and the routes to it."),
            ),
        }
        if let Some(http) = &a.http {
            per_address.extend(http_findings(probe, &at, http));
        }
    }
    group_by_code(per_address, probe)
}

fn dns_failure(probe: &OriginProbe, error: &str) -> Finding {
    Finding::new(Code::OriginDnsFailure, Severity::Critical, probe.endpoint())
        .statuses(&[502])
        .title(format!("Origin name {} does not resolve", probe.host))
        .evidence(json!({"host": probe.host, "error": error}))
        .remediation(format!(
            "CloudFront cannot resolve {} (NonS3OriginDnsError): check the DNS record and the delegation of its zone, or fix the origin domain in the distribution.",
            probe.host
        ))
}

fn http_findings(probe: &OriginProbe, at: &str, http: &HttpResult) -> Vec<Finding> {
    let endpoint = probe.endpoint();
    let read_timeout_s = probe.read_timeout_ms / 1000;
    match http {
        HttpResult::Responded { status, time_to_first_byte_ms, server, over_unverified_tls } => {
            let mut out = Vec::new();
            let evidence = json!({
                "status": status, "time_to_first_byte_ms": time_to_first_byte_ms, "server": server,
                "host_header": probe.host_header, "over_unverified_tls": over_unverified_tls,
                "origin_read_timeout_ms": probe.read_timeout_ms,
            });
            if *status >= 500 {
                out.push(
                    Finding::new(Code::OriginHttpError, Severity::Critical, at)
                        .statuses(&[*status])
                        .title(format!("Origin {endpoint} itself answers HTTP {status} (direct request, bypassing CloudFront)"))
                        .evidence(evidence.clone())
                        .remediation("The origin is reachable but failing: look behind it (load balancer target health, application logs). CloudFront passes this status on to viewers."),
                );
            }
            if *time_to_first_byte_ms > probe.read_timeout_ms {
                out.push(slow(at, Severity::Critical, format!(
                    "Origin {endpoint} took {time_to_first_byte_ms} ms to answer, longer than the origin read timeout ({read_timeout_s} s)"
                ), evidence));
            } else if *time_to_first_byte_ms * 10 > probe.read_timeout_ms * 8 {
                out.push(slow(at, Severity::Warning, format!(
                    "Origin {endpoint} took {time_to_first_byte_ms} ms to answer, close to the origin read timeout ({read_timeout_s} s)"
                ), evidence));
            }
            out
        }
        HttpResult::TimedOut { waited_ms, over_unverified_tls } => {
            let evidence = json!({
                "waited_ms": waited_ms, "origin_read_timeout_ms": probe.read_timeout_ms,
                "probe_timeout_ms": probe.probe_timeout_ms, "over_unverified_tls": over_unverified_tls,
            });
            let (severity, title) = if *waited_ms >= probe.read_timeout_ms {
                (Severity::Critical, format!(
                    "Origin {endpoint} sent no response within {waited_ms} ms, past the origin read timeout ({read_timeout_s} s)"
                ))
            } else {
                (Severity::Warning, format!(
                    "Origin {endpoint} sent no response within the probe timeout ({waited_ms} ms); CloudFront waits up to {read_timeout_s} s"
                ))
            };
            vec![slow(at, severity, title, evidence)]
        }
        HttpResult::Failed { error } => vec![Finding::new(Code::OriginHttpError, Severity::Critical, at)
            .statuses(&[502])
            .title(format!("Origin {endpoint} broke off the direct HTTP request: {error}"))
            .evidence(json!({"error": error, "host_header": probe.host_header}))
            .remediation("The origin accepted the connection but gave no valid HTTP answer: check the listener's protocol and the application.")],
    }
}

fn slow(at: &str, severity: Severity, title: String, evidence: serde_json::Value) -> Finding {
    let statuses: &[u16] = if severity == Severity::Critical {
        &[504]
    } else {
        &[]
    };
    Finding::new(Code::OriginSlow, severity, at)
        .statuses(statuses)
        .title(title)
        .evidence(evidence)
        .remediation("Make the origin answer faster (its own latency, target capacity), or raise the origin read timeout (origin settings, up to 60 s by default, more on request).")
}
