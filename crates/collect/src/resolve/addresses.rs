//! Which of the account's resources holds an address, as EC2 records it: an Elastic IP
//! (DescribeAddresses) names the instance or the network interface it is associated with, and a
//! network interface (DescribeNetworkInterfaces) names what it belongs to: Elastic Load Balancing
//! describes the interfaces it creates as `ELB app/NAME/ID` or `ELB net/NAME/ID`, an instance's
//! interface is attached to it.
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>

use std::net::IpAddr;

use aws_sdk_ec2::types::{Filter, Instance, NetworkInterface};

use crate::error_text;
use cf_doctor_model::aws_names;
use cf_doctor_model::evidence::{Gap, MatchedBy};

/// What holds an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A load balancer, by the tail of its ARN: `app/NAME/ID` or `net/NAME/ID`.
    LoadBalancer(String),
    Instance(String),
    /// Another kind of interface (a NAT gateway, an endpoint, ...): named, not inspected.
    Interface {
        id: String,
        description: String,
    },
    /// An Elastic IP of the account associated with nothing: nothing answers there.
    Unassociated {
        allocation_id: String,
    },
}

/// An address of an origin and what holds it.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub address: IpAddr,
    pub region: String,
    pub holder: Holder,
    /// `elastic-ip` or `network-interface`.
    pub how: MatchedBy,
    /// The record that says so, in words.
    pub words: String,
}

/// What the address lookups found: who holds which address, and the instances among them as
/// DescribeInstances gave them (read in the same round trip, so that an instance's state is
/// known as soon as its address is).
#[derive(Debug, Clone, Default)]
pub(crate) struct Owners {
    pub owners: Vec<Owner>,
    pub instances: Vec<Instance>,
}

/// An address CloudFront can connect to that an AWS resource can hold: not loopback,
/// unspecified, link-local, multicast, nor in a VPC's private ranges (CloudFront reaches those
/// only through a VPC origin, found by its ARN; and private addresses repeat across VPCs, so one
/// would say nothing sure).
fn routable(ip: &IpAddr) -> bool {
    if private(ip) {
        return false;
    }
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// An address of a VPC's own ranges: RFC 1918 or shared address space, or IPv6 unique local.
fn private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn filter(name: &str, values: &[IpAddr]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(IpAddr::to_string).collect()))
        .build()
}

/// What holds each of `addresses` in `region` (addresses no resource of the account holds are
/// left out), and the gaps of the calls that failed.
pub(crate) async fn owners(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    addresses: &[IpAddr],
) -> (Owners, Vec<Gap>) {
    let addresses: Vec<IpAddr> = addresses.iter().copied().filter(routable).collect();
    let public: Vec<IpAddr> = addresses.iter().copied().filter(IpAddr::is_ipv4).collect();
    let v6: Vec<IpAddr> = addresses.iter().copied().filter(IpAddr::is_ipv6).collect();
    let mut gaps = Vec::new();
    let mut owners = Vec::new();
    let gap = |action: &str, of: &[IpAddr], error: String| {
        let named: Vec<String> = of.iter().map(IpAddr::to_string).collect();
        Gap::new(
            action,
            region,
            error,
            &format!(
                "which resource in {region} holds {} (the account's Elastic IPs and network interfaces)",
                named.join(", ")
            ),
        )
    };
    // Elastic IPs, the instances holding the addresses (their own public address or an Elastic
    // IP), and the interfaces holding IPv6 addresses, at once.
    let (elastic, by_v6, described) = tokio::join!(
        async {
            if public.is_empty() {
                return Ok(Vec::new());
            }
            ec2.describe_addresses()
                .filters(filter("public-ip", &public))
                .send()
                .await
                .map(|out| out.addresses().to_vec())
                .map_err(|e| error_text(&e))
        },
        interfaces(ec2, "ipv6-addresses.ipv6-address", &v6),
        instances(ec2, "ip-address", &public),
    );
    let described = match described {
        Ok(found) => found,
        Err(error) => {
            gaps.push(gap("ec2:DescribeInstances", &public, error));
            Vec::new()
        }
    };
    let mut on_interfaces: Vec<EipOnInterface> = Vec::new();
    match elastic {
        Ok(elastic) => {
            let (held, pending) = elastic_ip_owners(&elastic, region);
            owners.extend(held);
            on_interfaces = pending;
        }
        Err(error) => gaps.push(gap("ec2:DescribeAddresses", &public, error)),
    }
    match by_v6 {
        Ok(found) => owners.extend(found.iter().flat_map(|eni| holders(eni, region, &v6))),
        Err(error) => gaps.push(gap("ec2:DescribeNetworkInterfaces", &v6, error)),
    }
    let own = own_public_addresses(&described, &addresses, &owners, &on_interfaces, region);
    owners.extend(own);
    // Public addresses that are no Elastic IP (a load balancer's, an instance's own public
    // address), and the interfaces Elastic IPs are associated with, at once.
    let unexplained: Vec<IpAddr> = public
        .iter()
        .copied()
        .filter(|ip| {
            !owners.iter().any(|o| o.address == *ip)
                && !on_interfaces.iter().any(|e| e.address == *ip)
        })
        .collect();
    let ids: Vec<String> = on_interfaces
        .iter()
        .map(|e| e.interface_id.clone())
        .collect();
    let (by_public, by_id) = tokio::join!(
        interfaces(ec2, "association.public-ip", &unexplained),
        async {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            ec2.describe_network_interfaces()
                .set_network_interface_ids(Some(ids.clone()))
                .send()
                .await
                .map(|out| out.network_interfaces().to_vec())
                .map_err(|e| error_text(&e))
        }
    );
    match by_public {
        Ok(found) => owners.extend(
            found
                .iter()
                .flat_map(|eni| holders(eni, region, &unexplained)),
        ),
        Err(error) => gaps.push(gap("ec2:DescribeNetworkInterfaces", &unexplained, error)),
    }
    match by_id {
        Ok(found) => {
            for pending in &on_interfaces {
                let id = Some(pending.interface_id.as_str());
                if let Some(eni) = found.iter().find(|e| e.network_interface_id() == id) {
                    owners.push(Owner {
                        address: pending.address,
                        region: region.to_string(),
                        holder: holder_of(eni),
                        how: MatchedBy::ElasticIp,
                        words: format!(
                            "{} is associated with {}",
                            pending.words,
                            interface_in_words(eni)
                        ),
                    });
                }
            }
        }
        Err(error) => {
            let of: Vec<IpAddr> = on_interfaces.iter().map(|e| e.address).collect();
            gaps.push(gap("ec2:DescribeNetworkInterfaces", &of, error));
        }
    }
    owners.sort_by_key(|o| o.address);
    let instances = described
        .into_iter()
        .filter(|i| {
            owners
                .iter()
                .any(|o| matches!(&o.holder, Holder::Instance(id) if i.instance_id() == Some(id)))
        })
        .collect();
    (Owners { owners, instances }, gaps)
}

/// An Elastic IP associated with a network interface: who holds the interface is asked next.
struct EipOnInterface {
    address: IpAddr,
    interface_id: String,
    /// "Elastic IP 203.0.113.7 (eipalloc-...)".
    words: String,
}

/// What DescribeAddresses says holds each Elastic IP: an instance, nothing, or a network
/// interface still to be described.
fn elastic_ip_owners(
    elastic: &[aws_sdk_ec2::types::Address],
    region: &str,
) -> (Vec<Owner>, Vec<EipOnInterface>) {
    let mut owners = Vec::new();
    let mut on_interfaces = Vec::new();
    for eip in elastic {
        let Some(ip) = eip.public_ip().and_then(|ip| ip.parse::<IpAddr>().ok()) else {
            continue;
        };
        let allocation = eip.allocation_id().unwrap_or_default().to_string();
        let words = format!("Elastic IP {ip} ({allocation})");
        if let Some(instance) = eip.instance_id().filter(|i| !i.is_empty()) {
            owners.push(Owner {
                address: ip,
                region: region.to_string(),
                holder: Holder::Instance(instance.to_string()),
                how: MatchedBy::ElasticIp,
                words: format!("{words} is associated with instance {instance}"),
            });
        } else if let Some(eni) = eip.network_interface_id().filter(|i| !i.is_empty()) {
            on_interfaces.push(EipOnInterface {
                address: ip,
                interface_id: eni.to_string(),
                words,
            });
        } else {
            owners.push(Owner {
                address: ip,
                region: region.to_string(),
                holder: Holder::Unassociated {
                    allocation_id: allocation,
                },
                how: MatchedBy::ElasticIp,
                words: format!("{words} is associated with nothing"),
            });
        }
    }
    (owners, on_interfaces)
}

/// Instances whose own public address (one no Elastic IP explains) is one of `addresses`.
fn own_public_addresses(
    described: &[aws_sdk_ec2::types::Instance],
    addresses: &[IpAddr],
    owners: &[Owner],
    on_interfaces: &[EipOnInterface],
    region: &str,
) -> Vec<Owner> {
    let mut found: Vec<Owner> = Vec::new();
    for instance in described {
        let id = instance.instance_id().unwrap_or_default();
        let Some(ip) = instance
            .public_ip_address()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
        else {
            continue;
        };
        let claimed = owners.iter().chain(&found).any(|o| o.address == ip)
            || on_interfaces.iter().any(|e| e.address == ip);
        if addresses.contains(&ip) && !claimed {
            found.push(Owner {
                address: ip,
                region: region.to_string(),
                holder: Holder::Instance(id.to_string()),
                how: MatchedBy::NetworkInterface,
                words: format!("{ip} is the public address of instance {id}"),
            });
        }
    }
    found
}

/// The instances holding any of `addresses` by `filter_name`.
async fn instances(
    ec2: &aws_sdk_ec2::Client,
    filter_name: &str,
    addresses: &[IpAddr],
) -> Result<Vec<Instance>, String> {
    if addresses.is_empty() {
        return Ok(Vec::new());
    }
    ec2.describe_instances()
        .filters(filter(filter_name, addresses))
        .send()
        .await
        .map(|out| {
            out.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .cloned()
                .collect()
        })
        .map_err(|e| error_text(&e))
}

/// The interfaces holding any of `addresses` by `filter_name`.
async fn interfaces(
    ec2: &aws_sdk_ec2::Client,
    filter_name: &str,
    addresses: &[IpAddr],
) -> Result<Vec<NetworkInterface>, String> {
    if addresses.is_empty() {
        return Ok(Vec::new());
    }
    ec2.describe_network_interfaces()
        .filters(filter(filter_name, addresses))
        .send()
        .await
        .map(|out| out.network_interfaces().to_vec())
        .map_err(|e| error_text(&e))
}

/// Every one of `addresses` the interface holds, as an owner.
fn holders(eni: &NetworkInterface, region: &str, addresses: &[IpAddr]) -> Vec<Owner> {
    let mut held: Vec<IpAddr> = eni
        .private_ip_addresses()
        .iter()
        .filter_map(|p| p.private_ip_address())
        .chain(eni.private_ip_address())
        .chain(eni.association().and_then(|a| a.public_ip()))
        .chain(
            eni.private_ip_addresses()
                .iter()
                .filter_map(|p| p.association().and_then(|a| a.public_ip())),
        )
        .chain(eni.ipv6_addresses().iter().filter_map(|a| a.ipv6_address()))
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .filter(|ip| addresses.contains(ip))
        .collect();
    held.sort();
    held.dedup();
    held.into_iter()
        .map(|ip| Owner {
            address: ip,
            region: region.to_string(),
            holder: holder_of(eni),
            how: MatchedBy::NetworkInterface,
            words: format!("{ip} is on {}", interface_in_words(eni)),
        })
        .collect()
}

fn holder_of(eni: &NetworkInterface) -> Holder {
    let description = eni.description().unwrap_or_default();
    if let Some(tail) = aws_names::load_balancer_of_interface(description) {
        return Holder::LoadBalancer(tail.to_string());
    }
    if let Some(instance) = eni.attachment().and_then(|a| a.instance_id()) {
        return Holder::Instance(instance.to_string());
    }
    Holder::Interface {
        id: eni.network_interface_id().unwrap_or_default().to_string(),
        description: description.to_string(),
    }
}

/// `network interface eni-1 (ELB app/shop/1)` or `network interface eni-1 of instance i-1`.
fn interface_in_words(eni: &NetworkInterface) -> String {
    let id = eni.network_interface_id().unwrap_or_default();
    match (
        eni.attachment().and_then(|a| a.instance_id()),
        eni.description(),
    ) {
        (Some(instance), _) => format!("network interface {id} of instance {instance}"),
        (None, Some(description)) if !description.is_empty() => {
            format!("network interface {id} ({description})")
        }
        _ => format!("network interface {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_cloudfront_can_reach_are_looked_up() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "224.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert!(!routable(&ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.113.10", "100.128.0.1", "2600:1f18::1"] {
            assert!(routable(&ip.parse().unwrap()), "{ip}");
        }
    }
}
