//! The chain behind the origin, in moto: the same alarm gets a different probable cause when only
//! the security group, only the listener certificate, only the listener, or only target health is
//! broken. The live probes still meet a real TLS origin on 127.0.0.1 (the load balancer's DNS name
//! is pinned there), and CloudWatch readings put with PutMetricData come back as evidence.

mod common;

use cf_doctor_model::{Code, Diagnosis, Verdict};
use cf_doctor_testkit::{import_certificate, tls_origin, DistributionSpec, LeafSpec, OriginConfig};
use common::alb::{alb, AlbSpec, Ingress};
use common::{alarm, codes, lab};

#[derive(Clone, Copy)]
enum Broken {
    Nothing,
    SecurityGroup,
    ListenerCertificate,
    Listener,
    Targets,
}

/// One ALB in moto behind one distribution; `broken` says which single thing is wrong.
async fn diagnose(name: &str, broken: Broken) -> Diagnosis {
    let lab = lab().await;
    let spec = match broken {
        Broken::ListenerCertificate => {
            LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]).expiring_in_days(2)
        }
        _ => LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]),
    };
    let leaf = lab.ca.leaf(&spec);
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let cert = import_certificate(&acm, &leaf, &lab.ca.cert_pem()).await;
    let lb = alb(
        &lab.sdk,
        &AlbSpec {
            listener_port: if matches!(broken, Broken::Listener) {
                origin.port() + 1
            } else {
                origin.port()
            },
            ingress: if matches!(broken, Broken::SecurityGroup) {
                Ingress::Nothing
            } else {
                Ingress::CloudFrontPrefixList
            },
            instance_running: !matches!(broken, Broken::Targets),
            ..AlbSpec::healthy(name, origin.port(), cert)
        },
    )
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    let app = lab.app(lab.config(&lb.dns_name));
    app.diagnose(&id, alarm(&id, None))
        .await
        .expect("the inspection completes")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_chain_is_ok_and_the_load_balancer_is_named() {
    let d = diagnose("cfd-healthy", Broken::Nothing).await;
    let imported_risk: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.code != Code::AcmCertRenewalAtRisk)
        .collect();
    assert!(
        imported_risk.is_empty(),
        "only the imported certificate's renewal risk may remain: {:#?}",
        d.findings
    );
    let lb = d
        .checks
        .iter()
        .find(|c| c.name == "origin-load-balancer")
        .expect("the load balancer was looked for");
    assert!(
        lb.detail
            .as_deref()
            .unwrap()
            .contains("cfd-healthy in us-east-1, matched by dns-name"),
        "{lb:?}"
    );
    assert!(
        d.findings.iter().all(|f| f.evidence["used_as"]
            .to_string()
            .contains("listener certificate of cfd-healthy")),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_security_group_broken_points_at_the_security_group_and_expects_504() {
    let d = diagnose("cfd-sg", Broken::SecurityGroup).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginSecurityGroupBlocksPort),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.findings[0].status_codes, vec![504]);
    assert!(
        d.findings[0]
            .remediation
            .contains("com.amazonaws.global.cloudfront.origin-facing (pl-"),
        "{}",
        d.findings[0].remediation
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_listener_certificate_broken_points_at_the_certificate_and_names_its_listener() {
    let d = diagnose("cfd-cert", Broken::ListenerCertificate).await;
    assert_eq!(d.verdict, Verdict::Critical);
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginCertExpiring),
        "{:#?}",
        d.findings
    );
    let acm = d
        .findings
        .iter()
        .find(|f| f.code == Code::AcmCertExpiring)
        .expect("the ACM side of the same certificate");
    assert!(
        acm.evidence["used_as"]
            .to_string()
            .contains("listener certificate of cfd-cert"),
        "{}",
        acm.evidence
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_listener_missing_points_at_the_listener() {
    let d = diagnose("cfd-listener", Broken::Listener).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginListenerMissing),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_targets_unhealthy_points_at_target_health() {
    let d = diagnose("cfd-targets", Broken::Targets).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginNoHealthyTargets),
        "{:#?}",
        codes(&d)
    );
    assert_eq!(d.findings[0].evidence["not_healthy"][0]["state"], "unused");
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudwatch_readings_come_back_as_evidence_and_target_5xx_points_at_the_application() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let lab = lab().await;
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let cert = import_certificate(
        &aws_sdk_acm::Client::new(&lab.sdk),
        &leaf,
        &lab.ca.cert_pem(),
    )
    .await;
    let spec = AlbSpec::healthy("cfd-metrics", origin.port(), cert);
    let lb = alb(&lab.sdk, &spec).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&lab.sdk);
    let lb_dimension = lb.arn.split_once(":loadbalancer/").unwrap().1.to_string();
    let now = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp() - 120);
    let datum = |name: &str, dims: Vec<(&str, &str)>, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .set_dimensions(Some(
                dims.into_iter()
                    .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                    .collect(),
            ))
            .timestamp(now)
            .value(value)
            .build()
    };
    cloudwatch
        .put_metric_data()
        .namespace("AWS/CloudFront")
        .metric_data(datum(
            "5xxErrorRate",
            vec![("DistributionId", id.as_str()), ("Region", "Global")],
            38.5,
        ))
        .send()
        .await
        .unwrap();
    cloudwatch
        .put_metric_data()
        .namespace("AWS/ApplicationELB")
        .metric_data(datum(
            "HTTPCode_Target_5XX_Count",
            vec![("LoadBalancer", lb_dimension.as_str())],
            17.0,
        ))
        .send()
        .await
        .unwrap();

    let d = lab
        .app(lab.config(&lb.dns_name))
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    let reading = |metric: &str| {
        d.metrics
            .iter()
            .find(|m| m.metric == metric)
            .and_then(|m| m.latest)
    };
    assert_eq!(
        reading("5xxErrorRate"),
        Some(38.5),
        "{:#?}\n{:#?}",
        d.checks
            .iter()
            .filter(|c| c.name == "cloudwatch-metrics")
            .collect::<Vec<_>>(),
        d.findings
            .iter()
            .filter(|f| f.code == Code::InspectionIncomplete)
            .map(|f| &f.evidence)
            .collect::<Vec<_>>()
    );
    assert_eq!(reading("HTTPCode_Target_5XX_Count"), Some(17.0));
    assert_eq!(
        reading("504ErrorRate"),
        None,
        "no data is said, not invented"
    );
    let app_errors = d
        .findings
        .iter()
        .find(|f| f.code == Code::OriginHttpError)
        .expect("target 5xx points at the application");
    assert!(
        app_errors
            .title
            .contains("Targets behind cfd-metrics answered 5xx"),
        "{}",
        app_errors.title
    );
    assert!(
        cf_doctor_render::text::render(&d)
            .contains("Metrics (CloudWatch, last 15 minutes): 2 with data"),
        "the text report shows them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_behind_a_cname_chain_is_found_and_the_chain_named() {
    let lab = lab().await;
    let origin = cf_doctor_testkit::plain_http_origin(200, std::time::Duration::ZERO).await;
    let spec = AlbSpec {
        name: "cfd-cname".into(),
        listener_port: origin.port(),
        certificate_arn: None,
        ssl_policy: String::new(),
        ingress: Ingress::Nothing,
        ingress_port: origin.port(),
        instance_running: true,
    };
    let lb = alb(&lab.sdk, &spec).await;
    let dns = cf_doctor_testkit::dns_server(&[
        ("origin.cname.test", "www.cname.test"),
        ("www.cname.test", &lb.dns_name),
    ])
    .await;
    let mut dist = DistributionSpec::https_origin("origin.cname.test", 443);
    dist.protocol_policy = aws_sdk_cloudfront::types::OriginProtocolPolicy::HttpOnly;
    dist.http_port = i32::from(origin.port());
    let id = lab.distribution(&dist).await;
    let mut config = lab.config("origin.cname.test");
    config.dns_server = Some(dns.addr);
    let d = lab
        .app(config)
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    let found = d
        .checks
        .iter()
        .find(|c| c.name == "origin-load-balancer")
        .unwrap();
    assert!(
        found.detail.as_deref().unwrap().contains(&format!(
            "cfd-cname in us-east-1, matched by cname (origin.cname.test -> www.cname.test -> {})",
            lb.dns_name.to_ascii_lowercase()
        )),
        "{found:?}"
    );
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginSecurityGroupBlocksPort),
        "the load balancer found through DNS is judged: {:#?}",
        d.findings
    );
}
