//! An EC2 instance that serves an origin itself: its state (DescribeInstances, usually read
//! already with the addresses), its status checks (DescribeInstanceStatus) beside whom the
//! security groups of the interface holding the origin's address let in on the origin port.

use std::net::IpAddr;

use aws_sdk_ec2::types::Instance;

use super::{security_groups, OriginRef, RegionRun};
use crate::error_text;
use cf_doctor_model::evidence::{Evidence, Gap, MatchedBy};
use cf_doctor_model::instance::{transition_time, InstanceOrigin, StatusChecks};

/// How an origin led to an instance.
pub(super) struct Link<'a> {
    pub instance_id: &'a str,
    /// As DescribeInstances already gave it (None: described here).
    pub described: Option<Instance>,
    /// The address the origin reaches it at.
    pub address: IpAddr,
    pub matched_by: MatchedBy,
    pub via: Vec<String>,
}

/// Reads the instance; None (and a gap) when EC2 would not describe it: an instance whose state
/// is unknown is never said to be down.
pub(super) async fn inspect(
    origin: &OriginRef,
    run: &RegionRun,
    link: Link<'_>,
    evidence: &mut Evidence,
) -> Option<InstanceOrigin> {
    let id = link.instance_id;
    let ec2 = &run.infra.ec2;
    let described = match link.described {
        Some(instance) => Ok(instance),
        None => ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| error_text(&e))
            .and_then(|out| {
                out.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .find(|i| i.instance_id() == Some(id))
                    .cloned()
                    .ok_or_else(|| "EC2 described no such instance".to_string())
            }),
    };
    let instance = match described {
        Ok(instance) => instance,
        Err(error) => {
            evidence.gaps.push(Gap::new(
                "ec2:DescribeInstances",
                id,
                error,
                &format!(
                    "the state and security groups of instance {id}, which holds the origin's address {}",
                    link.address
                ),
            ));
            return None;
        }
    };
    let group_ids = groups_holding(&instance, &link.address);
    let base = Evidence::default();
    let mut on_groups = base.clone();
    let (status, groups) = tokio::join!(
        ec2.describe_instance_status()
            .instance_ids(id)
            .include_all_instances(true)
            .send(),
        security_groups::security_groups(run, &group_ids, origin.connection.port, &mut on_groups)
    );
    let state = instance
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    let state_reason = instance
        .state_transition_reason()
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let status_checks = match status {
        Ok(out) => out
            .instance_statuses()
            .iter()
            .find(|s| s.instance_id() == Some(id))
            .and_then(|s| {
                let summary = |s: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
                    s.and_then(|s| s.status()).map(|s| s.as_str().to_string())
                };
                Some(StatusChecks {
                    system: summary(s.system_status())?,
                    instance: summary(s.instance_status())?,
                })
            }),
        Err(e) => {
            evidence.gaps.push(Gap::new(
                "ec2:DescribeInstanceStatus",
                id,
                error_text(&e),
                &format!("whether instance {id} passes its status checks"),
            ));
            None
        }
    };
    evidence.absorb(on_groups, &base);
    Some(InstanceOrigin {
        instance_id: id.to_string(),
        region: run.name.clone(),
        distribution_id: origin.distribution_id.clone(),
        origin_host: origin.host.clone(),
        origin_port: origin.connection.port,
        origin_protocol: origin.connection.protocol,
        state_since: state_reason
            .as_deref()
            .filter(|_| state != "running")
            .and_then(transition_time),
        state,
        state_reason,
        status_checks,
        address: link.address,
        matched_by: link.matched_by,
        matched_via: link.via,
        security_groups: groups.verdicts,
        cloudfront_prefix_list: groups.cloudfront_prefix_list,
        cloudfront_ranges: groups.coverage,
    })
}

/// The security groups of the interface that holds `address` (an instance may have several
/// interfaces, each with its own groups); the instance's own when none is found holding it.
fn groups_holding(instance: &Instance, address: &IpAddr) -> Vec<String> {
    let wanted = address.to_string();
    let holding = instance.network_interfaces().iter().find(|eni| {
        eni.association().and_then(|a| a.public_ip()) == Some(wanted.as_str())
            || eni.private_ip_address() == Some(wanted.as_str())
            || eni.private_ip_addresses().iter().any(|p| {
                p.private_ip_address() == Some(wanted.as_str())
                    || p.association().and_then(|a| a.public_ip()) == Some(wanted.as_str())
            })
            || eni
                .ipv6_addresses()
                .iter()
                .any(|a| a.ipv6_address() == Some(wanted.as_str()))
    });
    let groups = match holding {
        Some(eni) => eni.groups(),
        None => instance.security_groups(),
    };
    groups
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect()
}
