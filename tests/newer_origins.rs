//! The newer origins, diagnosed as an alarm would have them: origins that demand a client
//! certificate (origin mTLS: a real rustls origin with a client CA on loopback, the client
//! certificate imported into moto's ACM) and VPC origins (a load balancer built in moto behind a
//! VPC origin). moto drops OriginMtlsConfig and VpcOriginConfig from the distributions it stores
//! and serves no VPC origin API: the proxy adds those elements to GetDistribution exactly as
//! CloudFront sends them and answers GetVpcOrigin with CloudFront's XML. ACM (and moto) refuse to
//! import an expired certificate, so an expired client certificate is moto's DescribeCertificate
//! answer with the dates and status ACM gives an expired one.

mod common;

use cf_doctor_model::{CheckOutcome, Code, Diagnosis, Severity};
use cf_doctor_testkit::aws::ORIGIN_ID;
use cf_doctor_testkit::cloudfront_xml::{self, VpcOriginSpec};
use cf_doctor_testkit::{
    aws_proxy, import_certificate, moto, sdk_config, tls_origin, AwsProxy, DistributionSpec, Fault,
    LeafSpec, Origin, OriginConfig, TestCa,
};
use common::alb::{alb, AlbSpec, Ingress};
use common::edge::rewrite_distribution;
use common::{alarm, codes, lab, Lab};

fn finding(d: &Diagnosis, code: Code) -> &cf_doctor_model::Finding {
    d.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} among {:#?}", d.findings))
}

async fn diagnose(
    lab: &Lab,
    proxy: &AwsProxy,
    id: &str,
    host: &str,
    status: Option<u16>,
) -> Diagnosis {
    cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, lab.config(host))
        .expect("the app starts")
        .diagnose(id, alarm(id, status))
        .await
        .expect("the inspection completes")
}

/// An origin on loopback that demands a client certificate issued by its own client CA, and a
/// distribution in front of it; with `client_certificate`, the origin's OriginMtlsConfig names
/// it. Returns (origin, distribution id, proxy).
async fn mtls_site(
    lab: &Lab,
    host: &str,
    client_certificate: Option<String>,
) -> (Origin, String, AwsProxy) {
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[host]));
    let client_ca = TestCa::new("origin mtls client root");
    let mut config = OriginConfig::new(leaf.full_chain(), leaf.key_der.clone_key());
    config.client_ca = Some(client_ca.cert_der());
    let origin = tls_origin(config).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(host, origin.port()))
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    if let Some(arn) = client_certificate {
        rewrite_distribution(&proxy, &id, move |xml| {
            cloudfront_xml::with_origin_mtls(xml, ORIGIN_ID, &arn)
        });
    }
    (origin, id, proxy)
}

/// A client certificate (clientAuth) imported into ACM, valid for `days` more days.
async fn client_certificate(lab: &Lab, name: &str, days: i64) -> String {
    let ca = TestCa::new("cloudfront client certificates");
    let leaf = ca.client_leaf(&LeafSpec::valid_for(&[name]).expiring_in_days(days));
    import_certificate(&aws_sdk_acm::Client::new(&lab.sdk), &leaf, &ca.cert_pem()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_client_certificate_is_the_502_cause_of_an_origin_that_demands_one() {
    let lab = lab().await;
    let host = "mtls-expired.origin.test";
    let arn = client_certificate(&lab, "cloudfront-client.shop.example", 60).await;
    let (_origin, id, proxy) = mtls_site(&lab, host, Some(arn.clone())).await;
    proxy.expired_in_acm(&arn, 3);

    let d = diagnose(&lab, &proxy, &id, host, Some(502)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::OriginMtlsCertExpired),
        "{:#?}",
        d.findings
    );
    let cause = &d.findings[0];
    assert_eq!(
        (cause.severity, cause.status_codes.clone()),
        (Severity::Critical, vec![502])
    );
    assert_eq!(cause.resource, arn);
    // The proxy dates the expiry 3 days before it answers DescribeCertificate, a moment after the
    // run read its clock: 3 days less that moment, which whole days truncated toward zero (the
    // rule the words follow too) count as 2, or 3 when the moment rounds away within the second.
    let days_left = cause.evidence["days_left"].as_i64().expect("days_left");
    assert!((-3..=-2).contains(&days_left), "days_left {days_left}");
    // The ACM finding took the mTLS code: one cause, not two.
    assert!(!codes(&d).contains(&"acm-cert-expired"), "{:?}", codes(&d));
    let required = finding(&d, Code::OriginMtlsRequired);
    assert_eq!(required.severity, Severity::Info);
    assert!(
        required.title.contains("EXPIRED"),
        "what was checked instead is named: {}",
        required.title
    );
    assert!(
        !codes(&d).contains(&"origin-tls-handshake-failed"),
        "the origin's mTLS settings exist: {:?}",
        codes(&d)
    );
    assert!(
        d.checks
            .iter()
            .any(|c| c.name == "origin-mtls-certificate" && c.target == arn),
        "{:#?}",
        d.checks
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_near_expiry_is_a_warning_before_it_breaks_anything() {
    let lab = lab().await;
    let host = "mtls-expiring.origin.test";
    let arn = client_certificate(&lab, "cloudfront-client-soon.shop.example", 20).await;
    let (_origin, id, proxy) = mtls_site(&lab, host, Some(arn.clone())).await;

    let d = diagnose(&lab, &proxy, &id, host, None).await;

    let expiring = finding(&d, Code::OriginMtlsCertExpiring);
    assert_eq!(expiring.severity, Severity::Warning);
    assert!(expiring.status_codes.is_empty(), "nothing breaks yet");
    assert!(
        (19..=20).contains(&expiring.evidence["days_left"].as_i64().unwrap()),
        "{}",
        expiring.evidence
    );
    assert!(!codes(&d).contains(&"acm-cert-expiring"), "{:?}", codes(&d));
    assert!(
        d.findings.iter().all(|f| f.severity < Severity::Critical),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_demanding_a_client_certificate_from_a_distribution_without_mtls_settings_refuses_cloudfront(
) {
    let lab = lab().await;
    let host = "mtls-unset.origin.test";
    let (_origin, id, proxy) = mtls_site(&lab, host, None).await;

    let d = diagnose(&lab, &proxy, &id, host, Some(502)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::OriginTlsHandshakeFailed),
        "{:#?}",
        d.findings
    );
    assert!(
        d.findings[0].title.contains("no mutual TLS settings"),
        "{}",
        d.findings[0].title
    );
    assert_eq!(
        finding(&d, Code::OriginMtlsRequired).severity,
        Severity::Info
    );
    assert!(!codes(&d).contains(&"origin-tls-protocol-mismatch"));
}

/// A load balancer in moto behind VPC origin `vpc_origin_id` (status `status`), and a
/// distribution whose origin the proxy shows as that VPC origin. With `service_group`, the load
/// balancer's security group admits CloudFront's VPC origin service group on the port; else only
/// the VPC's own range.
async fn vpc_site(
    lab: &Lab,
    name: &str,
    status: &str,
    service_group: bool,
) -> (String, AwsProxy, String) {
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]));
    let cert = import_certificate(&acm, &leaf, &lab.ca.cert_pem()).await;
    let lb = alb(
        &lab.sdk,
        &AlbSpec {
            ingress: Ingress::Nothing,
            ..AlbSpec::healthy(name, 443, cert)
        },
    )
    .await;
    let ec2 = aws_sdk_ec2::Client::new(&lab.sdk);
    let vpc = ec2
        .describe_security_groups()
        .group_ids(&lb.security_group)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    let mut permission = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443);
    permission = if service_group {
        let service = ec2
            .create_security_group()
            .group_name(cf_doctor_model::vpc_origin::VPC_ORIGIN_SERVICE_GROUP)
            .description("CloudFront VPC origins service security group")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap();
        permission.user_id_group_pairs(
            aws_sdk_ec2::types::UserIdGroupPair::builder()
                .group_id(service)
                .build(),
        )
    } else {
        permission.ip_ranges(
            aws_sdk_ec2::types::IpRange::builder()
                .cidr_ip("100.64.0.0/16")
                .build(),
        )
    };
    ec2.authorize_security_group_ingress()
        .group_id(&lb.security_group)
        .ip_permissions(permission.build())
        .send()
        .await
        .unwrap();
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, 443))
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    let vpc_origin_id = format!("vo_{}", name.replace('-', ""));
    let named = vpc_origin_id.clone();
    rewrite_distribution(&proxy, &id, move |xml| {
        cloudfront_xml::with_vpc_origin(xml, ORIGIN_ID, &named)
    });
    let spec = VpcOriginSpec {
        status: status.to_string(),
        ..VpcOriginSpec::deployed(&vpc_origin_id, &lb.arn, 443)
    };
    proxy.inject(Fault::on(
        "cloudfront",
        "GetVpcOrigin",
        1,
        cloudfront_xml::answer(cloudfront_xml::vpc_origin(&spec)),
    ));
    (id, proxy, lb.dns_name)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_origin_that_is_not_deployed_is_the_cause_and_is_never_probed_or_taken_for_s3() {
    let lab = lab().await;
    for (status, severity) in [
        ("Failed", Severity::Critical),
        ("Deploying", Severity::Warning),
    ] {
        let name = format!("cfd-vpc-{}", status.to_lowercase());
        let (id, proxy, dns) = vpc_site(&lab, &name, status, true).await;

        let d = diagnose(&lab, &proxy, &id, &dns, Some(502)).await;

        let f = finding(&d, Code::VpcOriginNotDeployed);
        assert_eq!(
            (f.severity, f.status_codes.clone()),
            (severity, vec![502, 504]),
            "{status}"
        );
        assert_eq!(
            d.probable_cause,
            Some(Code::VpcOriginNotDeployed),
            "{status}: {:#?}",
            d.findings
        );
        let vpc = d
            .checks
            .iter()
            .find(|c| c.name == "origin-vpc")
            .expect("the VPC origin is a check");
        assert_eq!(vpc.outcome, CheckOutcome::Skipped);
        assert!(
            vpc.detail
                .as_deref()
                .unwrap()
                .contains("not probed from here"),
            "{vpc:?}"
        );
        assert!(
            !d.checks
                .iter()
                .any(|c| c.name == "origin-s3" || c.name.starts_with("origin-t")),
            "{:#?}",
            d.checks
        );
        assert_eq!(proxy.count("cloudfront", "GetVpcOrigin"), 1);
    }
}

// A deployed VPC origin: the load balancer behind it goes through the existing checks, and a
// security group that admits CloudFront's VPC origin service group admits CloudFront; one that
// admits only the VPC's own range blocks it (504).
#[tokio::test(flavor = "multi_thread")]
async fn the_load_balancer_behind_a_vpc_origin_must_admit_cloudfront_s_service_group() {
    let lab = lab().await;
    for (admits, name) in [(true, "cfd-vpc-admits"), (false, "cfd-vpc-cidr-only")] {
        let (id, proxy, dns) = vpc_site(&lab, name, "Deployed", admits).await;

        let d = diagnose(&lab, &proxy, &id, &dns, Some(504)).await;

        assert!(
            !codes(&d).contains(&"vpc-origin-not-deployed"),
            "{:?}",
            codes(&d)
        );
        assert!(
            d.checks.iter().any(|c| c.name == "origin-load-balancer"
                && c.detail.as_deref().is_some_and(|t| t.contains(name))),
            "the load balancer behind the VPC origin is inspected: {:#?}",
            d.checks
        );
        let blocked = codes(&d).contains(&"origin-security-group-blocks-port");
        assert_eq!(blocked, !admits, "{name}: {:#?}", d.findings);
        if admits {
            assert!(
                d.findings.iter().all(|f| f.severity < Severity::Critical),
                "{:#?}",
                d.findings
            );
        }
    }
}
