//! Reachability rules: DNS, TCP (refused gives 502, silence 504: CloudFront's 502 and 504 pages),
//! the direct HTTP answer and its speed against the origin read timeout. The probe runs where
//! cf-doctor runs, not at CloudFront's edge: a connection that could not have succeeded from here
//! (an origin that admits only CloudFront, an address this machine cannot route to) is a gap in
//! what could be seen, never a fault of the origin.

use serde_json::json;

use crate::instance;
use crate::per_address::group_by_code;
use cf_doctor_model::evidence::{
    DnsResult, DnsSource, HttpResult, OriginProbe, SecurityGroupVerdict, TcpResult,
};
use cf_doctor_model::{Code, Evidence, Finding, Severity};

pub fn findings(probe: &OriginProbe, evidence: &Evidence) -> Vec<Finding> {
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
    let locked = cloudfront_only(probe, evidence);
    let pinned =
        matches!(&probe.dns, DnsResult::Resolved { source, .. } if *source == DnsSource::Override);
    let mut per_address = Vec::new();
    for a in &probe.addresses {
        let at = format!("{endpoint}@{}", a.address);
        let address = a.address.to_string();
        // An instance the account's records show is not running explains a connection that
        // fails at its address: origin-instance-not-running says so, with its state.
        let explained =
            matches!(
                a.tcp,
                TcpResult::Refused { .. } | TcpResult::TimedOut { .. }
            ) && instance::not_answering(evidence, &probe.host, probe.port, &a.address, pinned)
                .is_some();
        if explained {
            continue;
        }
        let finding = match (&a.tcp, locked.as_ref()) {
            (TcpResult::Connected { .. }, _) => None,
            (TcpResult::Refused { .. } | TcpResult::TimedOut { .. }, Some(guard)) => {
                Some(admits_only_cloudfront(probe, &at, &a.tcp, guard))
            }
            (TcpResult::Refused { .. }, None) => Some(
                Finding::new(Code::OriginConnectionRefused, Severity::Critical, &at)
                    .statuses(&[502])
                    .title(format!("Origin {endpoint} refuses connections on port {}", probe.port))
                    .evidence(json!({"address": a.address, "port": probe.port, "https": probe.https}))
                    .remediation(format!(
                        "Nothing listens on port {} at the origin: add the listener (ALB: a listener on {}), or point the distribution's origin {} port at the port the origin serves.",
                        probe.port, probe.port, if probe.https { "HTTPS" } else { "HTTP" }
                    )),
            ),
            (TcpResult::TimedOut { duration_ms }, None) => Some(
                Finding::new(Code::OriginConnectionTimeout, Severity::Critical, &at)
                    .statuses(&[504])
                    .title(format!("Origin {endpoint} does not answer TCP on port {} (silently dropped)", probe.port))
                    .evidence(json!({"address": a.address, "port": probe.port, "waited_ms": duration_ms}))
                    .remediation(format!(
                        "Packets are dropped on the way: allow port {} from CloudFront (security group rule with the managed prefix list com.amazonaws.global.cloudfront.origin-facing, network ACLs, firewalls). If the origin is meant to admit only CloudFront, cf-doctor could not tell from the AWS APIs: its probe comes from where it runs, not from CloudFront.",
                        probe.port
                    )),
            ),
            (TcpResult::Unreachable { error, .. }, _) => Some(
                Finding::new(Code::InspectionIncomplete, Severity::Warning, &at)
                    .title(format!("Could not probe origin {endpoint} at {address} from here: {error}"))
                    .evidence(json!({
                        "action": "origin-tcp", "reason": "unreachable-from-here",
                        "address": a.address, "port": probe.port, "error": error,
                        "ip_address_type": probe.ip_address_type,
                        "unchecked": format!("whether {endpoint} accepts connections at {address} (this machine has no route to it)"),
                    }))
                    .remediation(format!(
                        "Nothing says the origin is at fault: the machine cf-doctor runs on cannot send to {address} at all. For IPv6 origins, run cf-doctor where IPv6 is routed (a dual-stack VPC: the template's VpcSubnetIds); or check the address from a host that can reach it."
                    )),
            ),
            (TcpResult::Failed { error, .. }, _) => Some(
                Finding::new(Code::InspectionIncomplete, Severity::Warning, &at)
                    .title(format!("Could not connect to origin {endpoint} at {address} from here: {error}"))
                    .evidence(json!({
                        "action": "origin-tcp", "reason": "connect-failed",
                        "address": a.address, "port": probe.port, "error": error,
                        "unchecked": format!("whether {endpoint} accepts connections at {address}"),
                    }))
                    .remediation("The probe got neither an answer nor a refusal: check the route to the origin from a host near CloudFront's edge, and the origin's firewall."),
            ),
        };
        per_address.extend(finding);
        if let Some(http) = &a.http {
            per_address.extend(http_findings(probe, &at, http));
        }
    }
    group_by_code(per_address, probe)
}

/// What stands in front of an origin that admits only CloudFront on its port, as the AWS APIs
/// show it (AWS's recommended set-up): then no connection from here can succeed.
struct Guard<'a> {
    /// The evidence key and value naming it: `load_balancer: shop-alb`, `instance: i-0abc`.
    key: &'static str,
    name: &'a str,
    groups: &'a Option<Vec<SecurityGroupVerdict>>,
    /// What was read from the AWS APIs instead of the wire.
    read_instead: &'static str,
}

/// The load balancer or the instance behind this origin, when its security groups admit only
/// CloudFront on the origin port.
fn cloudfront_only<'a>(probe: &OriginProbe, evidence: &'a Evidence) -> Option<Guard<'a>> {
    let load_balancer = evidence.load_balancers.iter().find(|lb| {
        lb.origin_host == probe.host && lb.origin_port == probe.port && lb.admits_only_cloudfront()
    });
    if let Some(lb) = load_balancer {
        return Some(Guard {
            key: "load_balancer",
            name: &lb.name,
            groups: &lb.security_groups,
            read_instead: "the load balancer's listener, certificates, targets and the metrics were read from the AWS APIs instead",
        });
    }
    evidence
        .instances
        .iter()
        .find(|i| {
            i.origin_host == probe.host && i.origin_port == probe.port && i.admits_only_cloudfront()
        })
        .map(|i| Guard {
            key: "instance",
            name: &i.instance_id,
            groups: &i.security_groups,
            read_instead:
                "the instance's state and security groups were read from the AWS APIs instead",
        })
}

/// A probe refused or dropped by an origin that admits only CloudFront: expected from here.
fn admits_only_cloudfront(
    probe: &OriginProbe,
    at: &str,
    tcp: &TcpResult,
    guard: &Guard<'_>,
) -> Finding {
    let what = match tcp {
        TcpResult::Refused { .. } => "the connection was refused",
        _ => "the connection timed out",
    };
    let rules: Vec<String> = guard
        .groups
        .iter()
        .flatten()
        .filter_map(|g| g.rule().map(|r| format!("{} ({}): {r}", g.id, g.name)))
        .collect();
    let mut evidence = json!({
        "action": "origin-tcp",
        "reason": "admits-only-cloudfront",
    });
    evidence[guard.key] = json!(guard.name);
    evidence["security_group_rules"] = json!(rules);
    evidence["unchecked"] = json!(format!(
        "the live TCP, TLS and HTTP checks of this origin; {}",
        guard.read_instead
    ));
    Finding::new(Code::InspectionIncomplete, Severity::Warning, at)
        .title(format!(
            "Origin {} admits only CloudFront, so it could not be probed from here ({what})",
            probe.endpoint()
        ))
        .evidence(evidence)
        .remediation("Expected: the origin's security groups let in CloudFront's origin-facing addresses only, and cf-doctor probes from where it runs. To probe it live, run cf-doctor with a fixed egress address the origin admits (the template's VpcSubnetIds and VpcSecurityGroupIds) and add that address to the origin's rules.")
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
