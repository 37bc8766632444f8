//! What EC2 answers that moto cannot: the network interfaces Elastic Load Balancing creates for a
//! load balancer (moto creates none, and does not filter interfaces by `association.public-ip`).
//! An application load balancer's interface in each of its subnets is described `ELB
//! app/NAME/ID`, requested and managed by `amazon-elb`, attached without an instance, and holds
//! the node's public address through an association owned by `amazon-elb`
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>).

use std::net::Ipv4Addr;

/// One interface of the load balancer whose ARN tail is `lb_tail` (`app/NAME/ID`), holding
/// `public_ip` in front of `private_ip`.
pub struct ElbInterface<'a> {
    pub lb_tail: &'a str,
    pub region: &'a str,
    pub public_ip: Ipv4Addr,
    pub private_ip: Ipv4Addr,
}

/// DescribeNetworkInterfaces' answer holding `interfaces`, as EC2 writes it (query protocol,
/// API version 2016-11-15).
pub fn describe_network_interfaces(interfaces: &[ElbInterface<'_>]) -> String {
    let items: String = interfaces.iter().enumerate().map(item).collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>5f0b6e1c-3c1c-4b5e-9f3a-2d7e1c0a9b11</requestId>
    <networkInterfaceSet>{items}
    </networkInterfaceSet>
</DescribeNetworkInterfacesResponse>"#
    )
}

fn item((n, eni): (usize, &ElbInterface<'_>)) -> String {
    let public = eni.public_ip;
    let private = eni.private_ip;
    let public_dns = format!(
        "ec2-{}.compute-1.amazonaws.com",
        public.to_string().replace('.', "-")
    );
    let private_dns = format!("ip-{}.ec2.internal", private.to_string().replace('.', "-"));
    let association = format!(
        "<association><publicIp>{public}</publicIp><publicDnsName>{public_dns}</publicDnsName><ipOwnerId>amazon-elb</ipOwnerId></association>"
    );
    format!(
        r#"
        <item>
            <networkInterfaceId>eni-0a1b2c3d4e5f6070{n}</networkInterfaceId>
            <subnetId>subnet-0123456789abcdef{n}</subnetId>
            <vpcId>vpc-0123456789abcdef0</vpcId>
            <availabilityZone>{region}a</availabilityZone>
            <description>ELB {tail}</description>
            <ownerId>123456789012</ownerId>
            <requesterId>amazon-elb</requesterId>
            <requesterManaged>true</requesterManaged>
            <status>in-use</status>
            <macAddress>0e:49:61:0f:c3:1{n}</macAddress>
            <privateIpAddress>{private}</privateIpAddress>
            <privateDnsName>{private_dns}</privateDnsName>
            <sourceDestCheck>true</sourceDestCheck>
            <groupSet>
                <item><groupId>sg-0123456789abcdef0</groupId><groupName>alb-sg</groupName></item>
            </groupSet>
            <attachment>
                <attachmentId>ela-attach-0a1b2c3d4e5f6070{n}</attachmentId>
                <instanceOwnerId>amazon-elb</instanceOwnerId>
                <deviceIndex>1</deviceIndex>
                <status>attached</status>
                <attachTime>2026-11-02T09:14:03.000Z</attachTime>
                <deleteOnTermination>false</deleteOnTermination>
            </attachment>
            {association}
            <tagSet/>
            <privateIpAddressesSet>
                <item>
                    <privateIpAddress>{private}</privateIpAddress>
                    <privateDnsName>{private_dns}</privateDnsName>
                    <primary>true</primary>
                    {association}
                </item>
            </privateIpAddressesSet>
            <ipv6AddressesSet/>
            <interfaceType>interface</interfaceType>
        </item>"#,
        region = eni.region,
        tail = eni.lb_tail,
    )
}
