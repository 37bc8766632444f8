//! An EC2 instance that serves an origin itself, in moto through the real SDK, as a team runs one
//! without a load balancer: a VPC and subnet, a security group admitting what the spec says on
//! the origin port, and an Elastic IP at an address the test picks (moto's AllocateAddress honours
//! `Address`, as AWS does for an address being recovered), associated with the instance, which
//! then runs or is stopped. Nothing ever connects to that address: the live probe is pinned to a
//! loopback origin that stands in for what answers there.

use std::net::Ipv4Addr;

use aws_sdk_ec2::types::InstanceType;

use crate::alb::{admit, in_region, network, Ingress};

/// A moto default AMI (moto refuses unknown image ids).
const AMI: &str = "ami-03cf127a";

pub struct InstanceSpec {
    pub name: String,
    pub region: String,
    pub port: u16,
    pub ingress: Ingress,
    pub running: bool,
    pub elastic_ip: Ipv4Addr,
}

impl InstanceSpec {
    /// A running instance behind `elastic_ip`, its port open to CloudFront's prefix list only.
    pub fn cloudfront_only(name: &str, port: u16, elastic_ip: Ipv4Addr) -> InstanceSpec {
        InstanceSpec {
            name: name.to_string(),
            region: "us-east-1".into(),
            port,
            ingress: Ingress::CloudFrontPrefixList,
            running: true,
            elastic_ip,
        }
    }
}

pub struct Ec2Origin {
    pub instance_id: String,
    pub security_group: String,
    pub elastic_ip: Ipv4Addr,
    pub allocation_id: String,
}

pub async fn ec2_origin(sdk: &aws_config::SdkConfig, spec: &InstanceSpec) -> Ec2Origin {
    let ec2 = aws_sdk_ec2::Client::new(&in_region(sdk, &spec.region));
    let network = network(&ec2, &spec.region, "10.20", 1, &spec.name).await;
    let (subnet, sg) = (&network.subnets[0], network.security_group);
    admit(&ec2, &sg, &spec.ingress, spec.port, &spec.name).await;
    let instance_id = ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet)
        .security_group_ids(&sg)
        .send()
        .await
        .unwrap()
        .instances
        .unwrap()
        .remove(0)
        .instance_id
        .unwrap();
    let allocation_id = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .address(spec.elastic_ip.to_string())
        .send()
        .await
        .unwrap()
        .allocation_id
        .unwrap();
    ec2.associate_address()
        .allocation_id(&allocation_id)
        .instance_id(&instance_id)
        .send()
        .await
        .unwrap();
    if !spec.running {
        ec2.stop_instances()
            .instance_ids(&instance_id)
            .send()
            .await
            .unwrap();
    }
    Ec2Origin {
        instance_id,
        security_group: sg,
        elastic_ip: spec.elastic_ip,
        allocation_id,
    }
}
