//! Proves, through the real SDK, the shapes issue 21 diagnoses before any test leans on them:
//! - Route53 records as a team writes them: an A ALIAS to a load balancer's `dualstack.` name
//!   with its canonical hosted zone, a CNAME, and A records holding Elastic IPs, each read back
//!   with ListResourceRecordSets from the name (what cf-doctor asks);
//! - an EC2 instance origin: behind an Elastic IP at the address the test picked (associated with
//!   it, also once it is stopped), its security group admitting CloudFront's managed prefix list
//!   on the origin port, its state and status checks as DescribeInstances and
//!   DescribeInstanceStatus give them;
//! - the network interface of an application load balancer, as the proxy answers
//!   DescribeNetworkInterfaces for it (moto creates none): the SDK reads the description, the
//!   requester and the public address EC2 gives.

use std::net::{IpAddr, Ipv4Addr};

use aws_sdk_ec2::types::Filter;
use aws_sdk_route53::types::RrType;
use cf_doctor_testkit::alb::in_region;
use cf_doctor_testkit::ec2_xml::{describe_network_interfaces, ElbInterface};
use cf_doctor_testkit::instance::{ec2_origin, InstanceSpec};
use cf_doctor_testkit::route53::{hosted_zone, record, Target};
use cf_doctor_testkit::{aws_proxy, moto, sdk_config, Fault, FaultKind};

#[tokio::test(flavor = "multi_thread")]
async fn route53_records_read_back_as_a_team_wrote_them() {
    let sdk = sdk_config(&moto().endpoint).await;
    let zone = hosted_zone(&sdk, "records-shape.test").await;
    let lb = "shop-alb-1.eu-west-1.elb.amazonaws.com";
    record(
        &sdk,
        &zone,
        "shop.records-shape.test",
        Target::Alias {
            dns_name: format!("dualstack.{lb}"),
            hosted_zone_id: "Z32O12XQLNTSW2".into(),
        },
    )
    .await;
    record(
        &sdk,
        &zone,
        "www.records-shape.test",
        Target::Cname("shop.records-shape.test".into()),
    )
    .await;
    let eips: Vec<IpAddr> = vec![
        "203.0.113.50".parse().unwrap(),
        "203.0.113.51".parse().unwrap(),
    ];
    record(
        &sdk,
        &zone,
        "api.records-shape.test",
        Target::Addresses(eips),
    )
    .await;

    let route53 = aws_sdk_route53::Client::new(&sdk);
    let read = |name: &'static str| {
        let route53 = route53.clone();
        let zone = zone.clone();
        async move {
            route53
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .start_record_name(name)
                .max_items(20)
                .send()
                .await
                .unwrap()
                .resource_record_sets()
                .to_vec()
        }
    };
    let shop = read("shop.records-shape.test").await;
    assert_eq!(shop[0].name(), "shop.records-shape.test.");
    assert_eq!(shop[0].r#type(), &RrType::A);
    let alias = shop[0].alias_target().expect("an ALIAS record");
    assert_eq!(
        alias.dns_name().trim_end_matches('.'),
        format!("dualstack.{lb}")
    );
    assert!(
        shop[0].resource_records().is_empty(),
        "an ALIAS has no values"
    );
    let www = read("www.records-shape.test").await;
    assert_eq!(
        (www[0].r#type(), www[0].resource_records()[0].value()),
        (&RrType::Cname, "shop.records-shape.test")
    );
    let api = read("api.records-shape.test").await;
    let values: Vec<&str> = api[0]
        .resource_records()
        .iter()
        .map(|r| r.value())
        .collect();
    assert_eq!(values, ["203.0.113.50", "203.0.113.51"]);
    let zones = route53.list_hosted_zones().send().await.unwrap();
    let ours = zones
        .hosted_zones()
        .iter()
        .find(|z| z.name() == "records-shape.test.")
        .expect("the zone is listed");
    assert!(
        !ours.config().is_some_and(|c| c.private_zone()),
        "a public zone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_origin_keeps_its_elastic_ip_and_says_when_it_stopped() {
    let sdk = sdk_config(&moto().endpoint).await;
    let region = "eu-west-3";
    let ec2 = aws_sdk_ec2::Client::new(&in_region(&sdk, region));
    let eip = Ipv4Addr::new(203, 0, 113, 60);
    let origin = ec2_origin(
        &sdk,
        &InstanceSpec {
            region: region.into(),
            running: false,
            ..InstanceSpec::cloudfront_only("shape-instance", 8443, eip)
        },
    )
    .await;
    let addresses = ec2
        .describe_addresses()
        .filters(
            Filter::builder()
                .name("public-ip")
                .values(eip.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let address = &addresses.addresses()[0];
    assert_eq!(address.instance_id(), Some(origin.instance_id.as_str()));
    assert_eq!(address.allocation_id(), Some(origin.allocation_id.as_str()));

    let described = ec2
        .describe_instances()
        .instance_ids(&origin.instance_id)
        .send()
        .await
        .unwrap();
    let instance = &described.reservations()[0].instances()[0];
    assert_eq!(
        instance.state().unwrap().name().unwrap().as_str(),
        "stopped"
    );
    let reason = instance.state_transition_reason().unwrap();
    assert!(reason.starts_with("User initiated ("), "{reason}");
    assert_eq!(
        instance.security_groups()[0].group_id(),
        Some(origin.security_group.as_str())
    );
    let status = ec2
        .describe_instance_status()
        .instance_ids(&origin.instance_id)
        .include_all_instances(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.instance_statuses()[0]
            .instance_state()
            .unwrap()
            .name()
            .unwrap()
            .as_str(),
        "stopped"
    );

    let groups = ec2
        .describe_security_groups()
        .group_ids(&origin.security_group)
        .send()
        .await
        .unwrap();
    let rule = &groups.security_groups()[0].ip_permissions()[0];
    assert_eq!((rule.from_port(), rule.to_port()), (Some(8443), Some(8443)));
    assert_eq!(
        rule.prefix_list_ids().len(),
        1,
        "CloudFront's managed prefix list"
    );
    assert!(rule.ip_ranges().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_albs_network_interface_reads_as_ec2_describes_it() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let body = describe_network_interfaces(&[ElbInterface {
        lb_tail: "app/shop-alb/50dc6c495c0c9188",
        region: "us-east-1",
        public_ip: Ipv4Addr::new(203, 0, 113, 20),
        private_ip: Ipv4Addr::new(10, 0, 1, 23),
    }]);
    proxy.inject(Fault::on(
        "ec2",
        "DescribeNetworkInterfaces",
        1,
        FaultKind::Status {
            status: 200,
            body,
            headers: vec![],
        },
    ));
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&proxy.endpoint).await);
    let out = ec2
        .describe_network_interfaces()
        .filters(
            Filter::builder()
                .name("association.public-ip")
                .values("203.0.113.20")
                .build(),
        )
        .send()
        .await
        .expect("the SDK parses EC2's answer");
    let eni = &out.network_interfaces()[0];
    assert_eq!(eni.description(), Some("ELB app/shop-alb/50dc6c495c0c9188"));
    assert_eq!(eni.requester_id(), Some("amazon-elb"));
    assert_eq!(eni.requester_managed(), Some(true));
    assert_eq!(
        eni.association().and_then(|a| a.public_ip()),
        Some("203.0.113.20")
    );
    assert_eq!(
        eni.association().and_then(|a| a.ip_owner_id()),
        Some("amazon-elb")
    );
    assert_eq!(eni.attachment().and_then(|a| a.instance_id()), None);
    assert_eq!(
        eni.private_ip_addresses()[0].private_ip_address(),
        Some("10.0.1.23")
    );
}
