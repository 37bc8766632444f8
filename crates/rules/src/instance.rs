//! Rules for an EC2 instance that serves an origin itself: an instance that is not running (or
//! fails a status check) cannot answer CloudFront, whatever a probe from elsewhere sees; its
//! security groups are judged as a load balancer's are.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-504-gateway-timeout.html>

use serde_json::json;

use cf_doctor_model::evidence::TcpResult;
use cf_doctor_model::instance::InstanceOrigin;
use cf_doctor_model::{Code, Evidence, Finding, Severity};

use crate::security_groups::{self, Guarded};

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    let mut out = Vec::new();
    for instance in &evidence.instances {
        let at = format!("{} ({})", instance.instance_id, instance.endpoint());
        out.extend(not_running(
            instance,
            &at,
            answered_here(instance, evidence),
        ));
        out.extend(security_groups::findings(&Guarded::instance(instance, &at)));
    }
    out
}

/// The instance behind `host:port` that cannot answer at `address`, if the evidence holds one:
/// what a connection there meets is its state, not the network. The instance at that address
/// decides. A probe pinned elsewhere with --resolve (`pinned`: the address is the user's, not
/// DNS's) is explained when every instance behind the origin is down; an address DNS gave that
/// no instance holds never is (it may be another server's).
pub(crate) fn not_answering<'a>(
    evidence: &'a Evidence,
    host: &str,
    port: u16,
    address: &std::net::IpAddr,
    pinned: bool,
) -> Option<&'a InstanceOrigin> {
    let behind: Vec<&InstanceOrigin> = evidence
        .instances
        .iter()
        .filter(|i| i.origin_host == host && i.origin_port == port)
        .collect();
    match behind.iter().find(|i| i.address == *address) {
        Some(at_address) => (!at_address.can_answer()).then_some(*at_address),
        None if pinned => behind
            .iter()
            .all(|i| !i.can_answer())
            .then(|| behind.first().copied())
            .flatten(),
        None => None,
    }
}

/// Whether a probe from here connected to the instance's address: then something answers
/// there, whatever EC2 says of the instance (a status check that lags, or another machine).
fn answered_here(instance: &InstanceOrigin, evidence: &Evidence) -> bool {
    evidence
        .origin_probes
        .iter()
        .filter(|p| p.host == instance.origin_host && p.port == instance.origin_port)
        .flat_map(|p| &p.addresses)
        .any(|a| a.address == instance.address && matches!(a.tcp, TcpResult::Connected { .. }))
}

fn not_running(instance: &InstanceOrigin, at: &str, answered: bool) -> Option<Finding> {
    // A state EC2 did not give decides nothing.
    if instance.can_answer() || instance.state.is_empty() {
        return None;
    }
    let since = instance
        .state_since
        .map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    let id = &instance.instance_id;
    let region = &instance.region;
    let (what, remediation) = match instance.state.as_str() {
        "running" => {
            let checks = instance.status_checks.as_ref();
            let system = checks.is_some_and(|c| c.system == "impaired");
            (
                format!(
                    "runs but fails its {} status check",
                    if system { "system" } else { "instance" }
                ),
                if system {
                    format!("The system status check failed: AWS's host under the instance has a problem. Stop and start the instance (aws ec2 stop-instances --instance-ids {id} --region {region}, then start-instances) to move it to healthy hardware; a reboot does not.")
                } else {
                    format!("The instance status check failed: its operating system or network configuration does not answer. Look at its console output (aws ec2 get-console-output --instance-id {id} --region {region}) and reboot it, or replace it.")
                },
            )
        }
        "pending" => (
            "is starting (pending)".to_string(),
            format!("It is starting: CloudFront's requests fail until it runs. If it stays pending, look at its state reason (aws ec2 describe-instances --instance-ids {id} --region {region})."),
        ),
        "terminated" | "shutting-down" => (
            format!("is {}", instance.state),
            format!("A terminated instance never comes back: point the origin's DNS record (or the Elastic IP {}) at a running instance or a load balancer, or change the distribution's origin.", instance.address),
        ),
        state => (
            format!("is {state}{since}"),
            format!("Start it (aws ec2 start-instances --instance-ids {id} --region {region}) and find out who stopped it ({}); CloudFront's requests fail until it runs. Without an Elastic IP a started instance gets a new public address: check that the origin's record still points at it.", instance.state_reason.as_deref().unwrap_or("EC2 gives no reason")),
        ),
    };
    // Starting is transient; a connection that succeeded at its address contradicts EC2's word
    // (a status check that lags, or the address is another machine's): neither is the cause.
    let (severity, note) = if answered {
        (
            Severity::Warning,
            "; yet a connection from here to its address succeeded",
        )
    } else if instance.state == "pending" {
        (Severity::Warning, "")
    } else {
        (Severity::Critical, "")
    };
    Some(
        Finding::new(Code::OriginInstanceNotRunning, severity, at)
            .statuses(if severity == Severity::Critical {
                &[502, 504]
            } else {
                &[]
            })
            .title(format!(
                "Origin {} is EC2 instance {id}, which {what}{note}",
                instance.endpoint()
            ))
            .evidence(json!({
                "instance_id": id,
                "region": region,
                "state": instance.state,
                "state_since": instance.state_since,
                "state_reason": instance.state_reason,
                "status_checks": instance.status_checks,
                "address": instance.address,
                "matched_by": instance.matched_by,
                "matched_via": instance.matched_via,
                "expect": "nothing answers CloudFront at the instance's address: connections time out (504) or are refused (502)",
            }))
            .remediation(remediation),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::{GroupAccess, SecurityGroupVerdict};
    use cf_doctor_model::instance::StatusChecks;

    pub(crate) fn instance(state: &str) -> InstanceOrigin {
        InstanceOrigin {
            instance_id: "i-0abc".into(),
            region: "eu-west-1".into(),
            distribution_id: "E1".into(),
            origin_host: "origin.shop.example".into(),
            origin_port: 443,
            origin_protocol: cf_doctor_model::evidence::OriginProtocol::Https,
            state: state.into(),
            state_since: None,
            state_reason: Some("User initiated (2026-12-01 10:00:00 GMT)".into()),
            status_checks: None,
            address: "203.0.113.10".parse().unwrap(),
            matched_by: cf_doctor_model::evidence::MatchedBy::ElasticIp,
            matched_via: vec![],
            security_groups: None,
            cloudfront_prefix_list: None,
            cloudfront_ranges: None,
        }
    }

    fn codes(instance: InstanceOrigin) -> Vec<(Code, Severity)> {
        let evidence = Evidence {
            instances: vec![instance],
            ..Evidence::default()
        };
        findings(&evidence)
            .into_iter()
            .map(|f| (f.code, f.severity))
            .collect()
    }

    #[test]
    fn a_stopped_or_terminated_instance_cannot_answer() {
        for state in ["stopped", "stopping", "terminated", "shutting-down"] {
            assert_eq!(
                codes(instance(state)),
                [(Code::OriginInstanceNotRunning, Severity::Critical)],
                "{state}"
            );
        }
        assert_eq!(
            codes(instance("pending")),
            [(Code::OriginInstanceNotRunning, Severity::Warning)],
            "starting is transient"
        );
        assert!(codes(instance("running")).is_empty());
        assert!(codes(instance("")).is_empty(), "a state EC2 did not give");
    }

    #[test]
    fn a_connection_that_succeeded_at_its_address_contradicts_ec2_and_is_no_cause() {
        use cf_doctor_model::evidence::{AddressProbe, DnsResult, OriginProbe};
        let stopped = instance("stopped");
        let probe = OriginProbe {
            distribution_id: "E1".into(),
            origin_id: "o".into(),
            host: stopped.origin_host.clone(),
            port: 443,
            https: true,
            server_name: stopped.origin_host.clone(),
            host_header: stopped.origin_host.clone(),
            accepted_names: vec![],
            server_name_note: None,
            ssl_protocols: vec![],
            ip_address_type: Default::default(),
            read_timeout_ms: 30_000,
            probe_timeout_ms: 5_000,
            dns: DnsResult::Resolved {
                addresses: vec![stopped.address],
                source: cf_doctor_model::evidence::DnsSource::Dns,
                duration_ms: 1,
                not_used: vec![],
            },
            addresses: vec![AddressProbe {
                address: stopped.address,
                tcp: TcpResult::Connected { duration_ms: 3 },
                tls: None,
                http: None,
            }],
        };
        let evidence = Evidence {
            instances: vec![stopped],
            origin_probes: vec![probe],
            ..Evidence::default()
        };
        let found = findings(&evidence);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0].status_codes.is_empty());
        assert!(found[0]
            .title
            .ends_with("yet a connection from here to its address succeeded"));
    }

    #[test]
    fn a_failed_status_check_is_as_bad_as_a_stopped_instance() {
        let mut failing = instance("running");
        failing.status_checks = Some(StatusChecks {
            system: "impaired".into(),
            instance: "ok".into(),
        });
        let evidence = Evidence {
            instances: vec![failing],
            ..Evidence::default()
        };
        let found = findings(&evidence);
        assert_eq!(found[0].code, Code::OriginInstanceNotRunning);
        assert!(
            found[0].title.contains("system status check"),
            "{}",
            found[0].title
        );
        let mut initializing = instance("running");
        initializing.status_checks = Some(StatusChecks {
            system: "initializing".into(),
            instance: "initializing".into(),
        });
        assert!(codes(initializing).is_empty());
    }

    #[test]
    fn a_probe_at_an_address_no_instance_holds_is_explained_only_when_all_are_down() {
        let mut stopped = instance("stopped");
        stopped.address = "203.0.113.10".parse().unwrap();
        let mut running = instance("running");
        running.address = "203.0.113.11".parse().unwrap();
        let pinned: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let host = "origin.shop.example";
        let only_stopped = Evidence {
            instances: vec![stopped.clone()],
            ..Evidence::default()
        };
        assert!(not_answering(&only_stopped, host, 443, &pinned, true).is_some());
        assert!(not_answering(&only_stopped, host, 80, &pinned, true).is_none());
        let elsewhere: std::net::IpAddr = "198.51.100.7".parse().unwrap();
        assert!(
            not_answering(&only_stopped, host, 443, &elsewhere, false).is_none(),
            "an address DNS gave that no instance holds may be another server's"
        );
        let both = Evidence {
            instances: vec![stopped.clone(), running.clone()],
            ..Evidence::default()
        };
        assert!(not_answering(&both, host, 443, &pinned, true).is_none());
        assert!(not_answering(&both, host, 443, &stopped.address, false).is_some());
        assert!(not_answering(&both, host, 443, &running.address, false).is_none());
    }

    #[test]
    fn its_security_groups_are_judged_as_a_load_balancers() {
        let mut closed = instance("running");
        closed.security_groups = Some(vec![SecurityGroupVerdict {
            id: "sg-1".into(),
            name: "web".into(),
            access: GroupAccess::NotCloudfront,
        }]);
        assert_eq!(
            codes(closed),
            [(Code::OriginSecurityGroupBlocksPort, Severity::Critical)]
        );
    }
}
