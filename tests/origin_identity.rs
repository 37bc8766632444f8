//! Issue 21's shapes: each origin known by what it is from the account's own records (Route53,
//! Elastic IPs, network interfaces, instances), never from the answer of the thing that may be
//! broken. Each shape is AWS's recommended set-up, where the origin admits only CloudFront: the
//! live probe is dropped (the testkit's SYN dropper) and the diagnosis rests on the AWS APIs.
//! Everything runs in moto through the testkit's proxy, which counts the calls; where moto lacks
//! what AWS sends (an ELB's network interfaces, an expired certificate) the proxy answers as AWS
//! does, and the test says so. Each test builds in regions and zones of its own.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use cf_doctor::config::Config;
use cf_doctor_model::evidence::Evidence;
use cf_doctor_model::{Code, Diagnosis, Severity};
use cf_doctor_testkit::alb::{alb, Alb, AlbSpec, Ingress};
use cf_doctor_testkit::ec2_xml::{describe_network_interfaces, ElbInterface};
use cf_doctor_testkit::instance::{ec2_origin, InstanceSpec};
use cf_doctor_testkit::route53::{hosted_zone, record, Target};
use cf_doctor_testkit::{
    aws_proxy, dns_server_with, import_certificate, moto, sdk_config, syn_dropper, tls_origin,
    AwsProxy, DistributionSpec, Fault, FaultKind, LeafSpec, OriginConfig, Record,
};
use common::{alarm, codes, lab, Lab};

struct Run {
    evidence: Evidence,
    d: Diagnosis,
    proxy: AwsProxy,
}

/// Diagnoses `id` through a proxy of its own, as an alarm about `status` would.
async fn run(id: &str, config: Config, status: Option<u16>, proxy: AwsProxy) -> Run {
    let app = cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, config).unwrap();
    let evidence = app
        .collector
        .distribution(id)
        .await
        .expect("the inspection completes");
    let d = cf_doctor_rules::diagnose(&evidence, alarm(id, status), chrono::Utc::now(), 0);
    Run { evidence, d, proxy }
}

impl Run {
    fn criticals(&self) -> Vec<&'static str> {
        self.d
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Critical)
            .map(|f| f.code.as_str())
            .collect()
    }

    fn gap_reasons(&self) -> Vec<String> {
        self.d
            .findings
            .iter()
            .filter(|f| f.code == Code::InspectionIncomplete)
            .filter_map(|f| f.evidence["reason"].as_str().map(str::to_string))
            .collect()
    }

    fn check(&self, name: &str) -> String {
        self.d
            .checks
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.detail.clone())
            .unwrap_or_else(|| panic!("no {name} check: {:#?}", self.d.checks))
    }

    fn count(&self, operation: &str) -> usize {
        self.proxy
            .calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }
}

/// The probe pinned to the SYN dropper (a port that admits nobody from here), in `region`.
fn config(lab: &Lab, host: &str, region: &str) -> Config {
    let mut config = lab.config(host);
    config.origin_regions = vec![region.to_string()];
    config
}

/// A CloudFront-only ALB in `region` whose HTTPS listener on `port` holds a certificate for
/// `names`, as ACM has it.
async fn cloudfront_only_alb(
    lab: &Lab,
    region: &str,
    name: &str,
    port: u16,
    names: &[&str],
) -> (Alb, String) {
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(names));
    let acm = aws_sdk_acm::Client::new(&common::alb::in_region(&lab.sdk, region));
    let cert = import_certificate(&acm, &leaf, &lab.ca.cert_pem()).await;
    let mut spec = AlbSpec::healthy(name, port, cert.clone());
    spec.region = region.to_string();
    (alb(&lab.sdk, &spec).await, cert)
}

/// `name` in a public zone of its own, as an ALIAS to `lb`.
async fn alias_to(lab: &Lab, zone: &str, name: &str, lb: &Alb) {
    let zone = hosted_zone(&lab.sdk, zone).await;
    record(
        &lab.sdk,
        &zone,
        name,
        Target::Alias {
            dns_name: format!("dualstack.{}", lb.dns_name),
            hosted_zone_id: lb.canonical_hosted_zone_id.clone(),
        },
    )
    .await;
}

// 1. Route53 ALIAS -> an ALB that admits only CloudFront. The search by certificate can only find
// a load balancer whose certificate covers the origin name: with a wrong certificate attached it
// found nothing, and the dropped probe read as a CRICITAL timeout. The ALIAS names the load
// balancer whatever its certificate says; the certificate is then judged from ACM.
#[tokio::test(flavor = "multi_thread")]
async fn an_alias_to_a_cloudfront_only_alb_is_judged_by_its_listener_certificate() {
    let lab = lab().await;
    let dropper = syn_dropper();
    let port = dropper.port();
    for (case, region, listener_names) in [
        (
            "wrong-name",
            "ca-central-1",
            vec!["www.renewed-elsewhere.test"],
        ),
        ("expired", "sa-east-1", vec!["shop.alias-expired.test"]),
        ("valid", "ap-northeast-3", vec!["shop.alias-valid.test"]),
    ] {
        let host = format!("shop.alias-{case}.test");
        let (lb, cert) = cloudfront_only_alb(
            &lab,
            region,
            &format!("cfd-alias-{case}"),
            port,
            &listener_names,
        )
        .await;
        alias_to(&lab, &format!("alias-{case}.test"), &host, &lb).await;
        let id = lab
            .distribution(&DistributionSpec::https_origin(&host, port))
            .await;
        let proxy = aws_proxy(&moto().endpoint).await;
        if case == "expired" {
            // moto refuses to import an expired certificate: the proxy describes this one as ACM
            // describes an expired one.
            proxy.expired_in_acm(&cert, 3);
        }
        let run = run(&id, config(&lab, &host, region), Some(502), proxy).await;

        assert!(
            run.check("origin-load-balancer").starts_with(&format!(
                "cfd-alias-{case} in {region}, matched by route53-alias (Route53 public zone alias-{case}.test"
            )),
            "{case}: {}",
            run.check("origin-load-balancer")
        );
        assert!(
            !codes(&run.d).contains(&"origin-connection-timeout"),
            "{case}: a probe dropped by a CloudFront-only origin is a gap: {:?}",
            codes(&run.d)
        );
        assert!(
            run.gap_reasons()
                .contains(&"admits-only-cloudfront".to_string()),
            "{case}: {:?}",
            run.gap_reasons()
        );
        match case {
            "wrong-name" => {
                assert_eq!(
                    run.criticals(),
                    ["origin-cert-name-mismatch"],
                    "{:#?}",
                    run.d.findings
                );
                let cause = &run.d.findings[0];
                assert_eq!(cause.code, Code::OriginCertNameMismatch);
                assert_eq!(cause.status_codes, [502]);
                assert_eq!(cause.evidence["seen_on_wire"], false);
                assert_eq!(
                    cause.evidence["presented_certificate"]["arn"],
                    cert.as_str()
                );
                assert!(
                    cause.title.contains("not seen on the wire"),
                    "{}",
                    cause.title
                );
            }
            "expired" => {
                // An imported certificate is also one ACM never renews.
                assert_eq!(
                    run.criticals(),
                    ["acm-cert-expired", "acm-cert-renewal-at-risk"],
                    "{:#?}",
                    run.d.findings
                );
                let cause = &run.d.findings[0];
                assert!(
                    cause
                        .title
                        .contains("listener certificate of cfd-alias-expired"),
                    "{}",
                    cause.title
                );
                // The certificate the listener gives CloudFront: what viewers get 502 for.
                assert_eq!(cause.status_codes, [502]);
                assert_eq!(
                    cause.evidence["presented_to_cloudfront"],
                    format!("listener HTTPS:{port} of cfd-alias-expired presents it to CloudFront for {host}")
                );
            }
            _ => {
                assert!(run.criticals().is_empty(), "{:#?}", run.d.findings);
                assert!(!codes(&run.d).contains(&"origin-cert-name-mismatch"));
            }
        }
        assert_eq!(
            run.count("DescribeListenerCertificates"),
            1,
            "{case}: the listener is read once, no search by certificate"
        );
    }
}

// 2. A CNAME inside Route53 (not in public DNS: the resolver here knows nothing of it).
#[tokio::test(flavor = "multi_thread")]
async fn a_cname_inside_route53_leads_to_the_load_balancer() {
    let lab = lab().await;
    let origin = tls_origin_for(&lab, "shop.cname-records.test").await;
    let region = "eu-north-1";
    let (lb, _) = cloudfront_only_alb(
        &lab,
        region,
        "cfd-cname-records",
        origin.port(),
        &["shop.cname-records.test"],
    )
    .await;
    let zone = hosted_zone(&lab.sdk, "cname-records.test").await;
    record(
        &lab.sdk,
        &zone,
        "shop.cname-records.test",
        Target::Cname(lb.dns_name.clone()),
    )
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(
            "shop.cname-records.test",
            origin.port(),
        ))
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    let run = run(
        &id,
        config(&lab, "shop.cname-records.test", region),
        None,
        proxy,
    )
    .await;
    let detail = run.check("origin-load-balancer");
    assert_eq!(
        detail,
        format!(
            "cfd-cname-records in {region}, matched by route53-cname (Route53 public zone cname-records.test ({zone}): shop.cname-records.test CNAME {})",
            lb.dns_name.to_ascii_lowercase()
        )
    );
    assert_eq!(run.evidence.load_balancers.len(), 1);
    assert_eq!(
        run.evidence.load_balancers[0].matched_by.as_str(),
        "route53-cname"
    );
    assert!(run.criticals().is_empty(), "{:#?}", run.d.findings);
}

// 3. The load balancer lives in a region ORIGIN_REGIONS does not list: its name says which.
#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_in_a_region_not_listed_is_found_by_its_name() {
    let lab = lab().await;
    let dropper = syn_dropper();
    let (lb, _) = cloudfront_only_alb(
        &lab,
        "eu-west-2",
        "cfd-unlisted",
        dropper.port(),
        &["shop.unlisted.test"],
    )
    .await;
    alias_to(&lab, "unlisted.test", "shop.unlisted.test", &lb).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(
            "shop.unlisted.test",
            dropper.port(),
        ))
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    // The origin regions are us-east-1 (always) and the one configured: not eu-west-2.
    let run = run(
        &id,
        config(&lab, "shop.unlisted.test", "eu-south-2"),
        Some(504),
        proxy,
    )
    .await;
    assert!(
        run.check("origin-load-balancer")
            .starts_with("cfd-unlisted in eu-west-2, matched by route53-alias"),
        "{}",
        run.check("origin-load-balancer")
    );
    assert!(run.criticals().is_empty(), "{:#?}", run.d.findings);
    let regions: Vec<String> = run
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "DescribeListeners")
        .map(|c| c.region.clone())
        .collect();
    assert_eq!(regions, ["eu-west-2"]);
}

/// A loopback TLS origin with a valid certificate for `host` (what answers CloudFront there).
async fn tls_origin_for(lab: &Lab, host: &str) -> cf_doctor_testkit::Origin {
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[host]));
    tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await
}

/// An EC2 instance behind the Elastic IP `eip`, named by an A record in a zone of its own; the
/// distribution's origin is that name, on the SYN dropper's port.
async fn instance_site(
    lab: &Lab,
    case: &str,
    region: &str,
    eip: Ipv4Addr,
    port: u16,
    ingress: Ingress,
    running: bool,
) -> (String, String, String) {
    let origin = ec2_origin(
        &lab.sdk,
        &InstanceSpec {
            region: region.to_string(),
            ingress,
            running,
            ..InstanceSpec::cloudfront_only(&format!("cfd-{case}"), port, eip)
        },
    )
    .await;
    let host = format!("www.{case}.test");
    let zone = hosted_zone(&lab.sdk, &format!("{case}.test")).await;
    record(
        &lab.sdk,
        &zone,
        &host,
        Target::Addresses(vec![IpAddr::V4(eip)]),
    )
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&host, port))
        .await;
    (origin.instance_id, host, id)
}

// 4. An EC2 instance behind a Route53 A record (its Elastic IP), admitting only CloudFront: a
// healthy origin cf-doctor cannot reach from here. Before: a CRITICAL timeout.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_that_admits_only_cloudfront_is_a_gap_not_a_critical() {
    let lab = lab().await;
    let dropper = syn_dropper();
    let region = "us-west-1";
    let eip = Ipv4Addr::new(203, 0, 113, 41);
    let (instance, host, id) = instance_site(
        &lab,
        "instance-locked",
        region,
        eip,
        dropper.port(),
        Ingress::CloudFrontPrefixList,
        true,
    )
    .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    let run = run(&id, config(&lab, &host, region), Some(504), proxy).await;

    assert!(run.criticals().is_empty(), "{:#?}", run.d.findings);
    assert!(!codes(&run.d).contains(&"origin-connection-timeout"));
    let gap = run
        .d
        .findings
        .iter()
        .find(|f| f.evidence["reason"] == "admits-only-cloudfront")
        .expect("the dropped probe is a gap");
    assert_eq!(gap.evidence["instance"], instance.as_str());
    let detail = run.check("origin-resource");
    assert!(
        detail.starts_with(&format!("EC2 instance {instance} in {region} (running) at {eip}, matched by elastic-ip (Route53 public zone instance-locked.test")),
        "{detail}"
    );
    assert!(detail.contains(&format!("Elastic IP {eip}")), "{detail}");
    assert_eq!(run.evidence.instances.len(), 1);
    let described: Vec<String> = run
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "DescribeInstances")
        .map(|c| c.region.clone())
        .collect();
    assert_eq!(
        described.iter().filter(|r| *r == region).count(),
        1,
        "the instance is described once, in the round trip that looks its address up: {described:?}"
    );
    assert_eq!(
        run.evidence.instances[0]
            .status_checks
            .as_ref()
            .map(|c| c.system.as_str()),
        Some("ok")
    );
}

// 5. The same instance whose security group lets nobody in on the origin port: the 504's cause.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_whose_security_group_closes_the_port_is_the_cause() {
    let lab = lab().await;
    let dropper = syn_dropper();
    let region = "us-west-2";
    let eip = Ipv4Addr::new(203, 0, 113, 42);
    let (instance, host, id) = instance_site(
        &lab,
        "instance-closed",
        region,
        eip,
        dropper.port(),
        Ingress::Nothing,
        true,
    )
    .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    let run = run(&id, config(&lab, &host, region), Some(504), proxy).await;

    let blocked = run
        .d
        .findings
        .iter()
        .find(|f| f.code == Code::OriginSecurityGroupBlocksPort)
        .unwrap_or_else(|| panic!("{:#?}", run.d.findings));
    assert_eq!(blocked.severity, Severity::Critical);
    assert_eq!(
        blocked.title,
        format!(
            "No security group of instance {instance} lets CloudFront in on port {}",
            dropper.port()
        )
    );
    assert!(!run
        .gap_reasons()
        .contains(&"admits-only-cloudfront".to_string()));
}

// 6. The instance is stopped, behind its Elastic IP: what the engineer must read first.
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_instance_behind_an_elastic_ip_is_the_cause() {
    let lab = lab().await;
    let dropper = syn_dropper();
    let region = "ap-south-1";
    let eip = Ipv4Addr::new(203, 0, 113, 43);
    let (instance, host, id) = instance_site(
        &lab,
        "instance-stopped",
        region,
        eip,
        dropper.port(),
        Ingress::CloudFrontPrefixList,
        false,
    )
    .await;
    // The fixture: EC2 says it is stopped, and the Elastic IP stays with it.
    let ec2 = aws_sdk_ec2::Client::new(&common::alb::in_region(&lab.sdk, region));
    let described = ec2
        .describe_instances()
        .instance_ids(&instance)
        .send()
        .await
        .unwrap();
    let state = described.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(state, "stopped");

    let proxy = aws_proxy(&moto().endpoint).await;
    let run = run(&id, config(&lab, &host, region), Some(504), proxy).await;
    assert_eq!(
        run.d.probable_cause,
        Some(Code::OriginInstanceNotRunning),
        "{:#?}",
        run.d.findings
    );
    let cause = &run.d.findings[0];
    assert_eq!(cause.severity, Severity::Critical);
    assert_eq!(cause.evidence["instance_id"], instance.as_str());
    assert_eq!(cause.evidence["state"], "stopped");
    assert_eq!(cause.evidence["address"], eip.to_string());
    assert!(
        cause.evidence["state_since"].is_string(),
        "{}",
        cause.evidence
    );
    assert!(
        cause.title.starts_with(&format!(
            "Origin {host}:{} is EC2 instance {instance}, which is stopped since ",
            dropper.port()
        )),
        "{}",
        cause.title
    );
    assert!(
        !codes(&run.d).contains(&"origin-connection-timeout")
            && !run
                .gap_reasons()
                .contains(&"admits-only-cloudfront".to_string()),
        "the stopped instance explains the dropped probe, whatever its security groups: {:?}",
        codes(&run.d)
    );
}

// 7. Two load balancers whose certificates both cover the origin name: by certificate they are
// candidates, never one picked. The origin's address tells them apart: public DNS answers
// 203.0.113.20, and that address is on an interface of the first. moto creates no interfaces for
// a load balancer and cannot filter interfaces by public address: the proxy answers that
// DescribeNetworkInterfaces in each region searched with what EC2 sends there (the ALB's
// interface in its region, none in us-east-1).
#[tokio::test(flavor = "multi_thread")]
async fn two_candidate_load_balancers_are_told_apart_by_address() {
    let lab = lab().await;
    let host = "shop.twins-by-address.test";
    let origin = tls_origin_for(&lab, host).await;
    let region = "me-south-1";
    let (first, _) = cloudfront_only_alb(
        &lab,
        region,
        "cfd-address-a",
        origin.port(),
        &["*.twins-by-address.test"],
    )
    .await;
    cloudfront_only_alb(&lab, region, "cfd-address-b", origin.port(), &[host]).await;
    let node = Ipv4Addr::new(203, 0, 113, 20);
    let dns = dns_server_with(&[(host, Record::A(node))]).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(host, origin.port()))
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    let tail = first
        .arn
        .split_once(":loadbalancer/")
        .unwrap()
        .1
        .to_string();
    let body = describe_network_interfaces(&[ElbInterface {
        lb_tail: &tail,
        region,
        public_ip: node,
        private_ip: Ipv4Addr::new(10, 0, 1, 23),
    }]);
    for (in_region, body) in [
        (region, body),
        ("us-east-1", describe_network_interfaces(&[])),
    ] {
        proxy.inject(
            Fault::on(
                "ec2",
                "DescribeNetworkInterfaces",
                1,
                FaultKind::Status {
                    status: 200,
                    body,
                    headers: vec![],
                },
            )
            .when_body_contains("association.public-ip")
            .in_region(in_region),
        );
    }
    let mut config = config(&lab, host, region);
    config.dns_server = Some(dns.addr);
    let run = run(&id, config, None, proxy).await;

    assert_eq!(
        run.proxy.faults_left(),
        0,
        "the interface was looked up by its public address"
    );
    assert!(
        run.evidence.load_balancer_candidates.is_empty(),
        "{:#?}",
        run.evidence.load_balancer_candidates
    );
    assert_eq!(run.evidence.load_balancers.len(), 1);
    let lb = &run.evidence.load_balancers[0];
    assert_eq!(
        (lb.name.as_str(), lb.matched_by.as_str()),
        ("cfd-address-a", "network-interface")
    );
    assert!(
        lb.matched_via
            .iter()
            .any(|step| step.contains("203.0.113.20 is on network interface")
                && step.contains(&format!("ELB {tail}"))),
        "{:?}",
        lb.matched_via
    );
    assert!(run.criticals().is_empty(), "{:#?}", run.d.findings);
}

// 8. Routing policies: of a failover pair CloudFront is sent to the primary while it is healthy
// (the secondary is a pilot-light copy in another region, with no healthy target); weighted sets
// to two load balancers may send it to either, so neither is picked.
#[tokio::test(flavor = "multi_thread")]
async fn a_failover_secondary_is_not_judged_and_weighted_load_balancers_are_not_picked() {
    use aws_sdk_route53::types::ResourceRecordSetFailover;
    use cf_doctor_testkit::route53::{alias_set, create};
    let lab = lab().await;
    let dropper = syn_dropper();
    let port = dropper.port();
    let (primary, _) = cloudfront_only_alb(
        &lab,
        "eu-central-1",
        "cfd-primary",
        port,
        &["shop.failover.test"],
    )
    .await;
    let dr_leaf = lab.ca.leaf(&LeafSpec::valid_for(&["shop.failover.test"]));
    let dr_cert = import_certificate(
        &aws_sdk_acm::Client::new(&common::alb::in_region(&lab.sdk, "eu-central-2")),
        &dr_leaf,
        &lab.ca.cert_pem(),
    )
    .await;
    let dr = alb(
        &lab.sdk,
        &AlbSpec {
            region: "eu-central-2".into(),
            instance_running: false,
            ..AlbSpec::healthy("cfd-pilot-light", port, dr_cert)
        },
    )
    .await;
    let zone = hosted_zone(&lab.sdk, "failover.test").await;
    let set = |lb: &Alb, id: &str| {
        alias_set(
            "shop.failover.test",
            &format!("dualstack.{}", lb.dns_name),
            &lb.canonical_hosted_zone_id,
        )
        .set_identifier(id)
    };
    create(
        &lab.sdk,
        &zone,
        vec![
            set(&primary, "primary")
                .failover(ResourceRecordSetFailover::Primary)
                .build()
                .unwrap(),
            set(&dr, "dr")
                .failover(ResourceRecordSetFailover::Secondary)
                .build()
                .unwrap(),
        ],
    )
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin("shop.failover.test", port))
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    let failover = run(
        &id,
        config(&lab, "shop.failover.test", "eu-central-1"),
        Some(503),
        proxy,
    )
    .await;
    assert!(
        failover
            .check("origin-load-balancer")
            .starts_with("cfd-primary in eu-central-1, matched by route53-alias"),
        "{}",
        failover.check("origin-load-balancer")
    );
    assert!(
        !codes(&failover.d).contains(&"origin-no-healthy-targets"),
        "{:#?}",
        failover.d.findings
    );
    assert!(
        failover.criticals().is_empty(),
        "{:#?}",
        failover.d.findings
    );

    // Weighted: both at weight 50.
    let zone = hosted_zone(&lab.sdk, "weighted.test").await;
    let weighted = |lb: &Alb, id: &str| {
        alias_set(
            "shop.weighted.test",
            &format!("dualstack.{}", lb.dns_name),
            &lb.canonical_hosted_zone_id,
        )
        .set_identifier(id)
        .weight(50)
        .build()
        .unwrap()
    };
    create(
        &lab.sdk,
        &zone,
        vec![weighted(&primary, "blue"), weighted(&dr, "green")],
    )
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin("shop.weighted.test", port))
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    let run = run(
        &id,
        config(&lab, "shop.weighted.test", "eu-central-1"),
        Some(503),
        proxy,
    )
    .await;
    assert!(
        run.evidence.load_balancers.is_empty(),
        "{:#?}",
        run.evidence.load_balancers
    );
    let detail = run.check("origin-resource");
    assert!(
        detail.starts_with("the account's records send the origin to 2 resources (weighted, latency or geolocation routing)")
            && detail.contains("cfd-primary")
            && detail.contains("cfd-pilot-light"),
        "{detail}"
    );
    assert!(!codes(&run.d).contains(&"origin-no-healthy-targets"));
}
