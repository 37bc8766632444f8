//! Finding the load balancer behind an origin whose name is not the load balancer's, and reading
//! its listener whole, in moto through the testkit's proxy (which counts every call and answers
//! chosen ones with what moto cannot produce). Each test builds its load balancers in a region of
//! its own and has a proxy of its own, so the counts are that test's alone.

mod common;

use aws_sdk_cloudfront::types as cf;
use cf_doctor_model::evidence::Evidence;
use cf_doctor_model::{CheckOutcome, Diagnosis};
use cf_doctor_testkit::{
    aws_proxy, import_certificate, moto, sdk_config, tls_origin, AwsProxy, DistributionSpec, Fault,
    FaultKind, LeafSpec, Origin, OriginConfig,
};
use common::alb::{alb, in_region, Alb, AlbSpec};
use common::{alarm, gaps, lab, Lab};

/// A run of cf-doctor through its own proxy, with the origins pinned to loopback and
/// `region` as the origin region.
struct Run {
    evidence: Evidence,
    d: Diagnosis,
    proxy: AwsProxy,
}

async fn run(lab: &Lab, id: &str, hosts: &[&str], region: &str, faults: Vec<Fault>) -> Run {
    let proxy = aws_proxy(&moto().endpoint).await;
    for fault in faults {
        proxy.inject(fault);
    }
    let mut config = lab.config(hosts[0]);
    for host in &hosts[1..] {
        config.add_resolve(&format!("{host}=127.0.0.1")).unwrap();
    }
    config.origin_regions = vec![region.to_string()];
    let app = cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, config).unwrap();
    let evidence = app
        .collector
        .distribution(id)
        .await
        .expect("the inspection completes");
    let d = cf_doctor_rules::diagnose(&evidence, alarm(id, None), chrono::Utc::now(), 0);
    Run { evidence, d, proxy }
}

impl Run {
    /// Calls of `operation` into `region`.
    fn count(&self, region: &str, operation: &str) -> usize {
        self.proxy
            .calls()
            .iter()
            .filter(|c| c.region == region && c.operation == operation)
            .count()
    }

    fn check(&self, target: &str) -> (CheckOutcome, String) {
        let c = self
            .d
            .checks
            .iter()
            .find(|c| c.name == "origin-load-balancer" && c.target == target)
            .unwrap_or_else(|| {
                panic!(
                    "no origin-load-balancer check for {target}: {:#?}",
                    self.d.checks
                )
            });
        (c.outcome, c.detail.clone().unwrap_or_default())
    }
}

/// An ALB in `region` whose HTTPS listener on `port` holds a certificate for `names`.
async fn alb_for(lab: &Lab, region: &str, name: &str, port: u16, names: &[&str]) -> (Alb, String) {
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(names));
    let acm = aws_sdk_acm::Client::new(&in_region(&lab.sdk, region));
    let cert = import_certificate(&acm, &leaf, &lab.ca.cert_pem()).await;
    let mut spec = AlbSpec::healthy(name, port, cert.clone());
    spec.region = region.to_string();
    (alb(&lab.sdk, &spec).await, cert)
}

/// A loopback TLS origin serving a certificate for `names` (what the live probe meets).
async fn origin_for(lab: &Lab, names: &[&str]) -> Origin {
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(names));
    tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await
}

/// The names the listener certificate of `lb` on `port` covers, read through the SDK.
async fn listener_names(lab: &Lab, region: &str, lb: &Alb, port: u16) -> Vec<String> {
    let sdk = in_region(&lab.sdk, region);
    let listeners = aws_sdk_elasticloadbalancingv2::Client::new(&sdk)
        .describe_listeners()
        .load_balancer_arn(&lb.arn)
        .send()
        .await
        .unwrap();
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(i32::from(port)));
    assert_eq!(listener.protocol().map(|p| p.as_str()), Some("HTTPS"));
    let cert = listener.certificates()[0].certificate_arn().unwrap();
    let described = aws_sdk_acm::Client::new(&sdk)
        .describe_certificate()
        .certificate_arn(cert)
        .send()
        .await
        .unwrap();
    described
        .certificate()
        .unwrap()
        .subject_alternative_names()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_load_balancers_whose_certificates_cover_the_origin_are_candidates_and_none_is_inspected(
) {
    let region = "eu-west-3";
    let lab = lab().await;
    let origin = origin_for(&lab, &["shop.twins.test"]).await;
    let port = origin.port();
    let (a, _) = alb_for(&lab, region, "cfd-twin-a", port, &["*.twins.test"]).await;
    let (b, _) = alb_for(&lab, region, "cfd-twin-b", port, &["shop.twins.test"]).await;
    // The fixture: both HTTPS listeners on the origin port cover the origin name.
    assert_eq!(
        listener_names(&lab, region, &a, port).await,
        ["*.twins.test"]
    );
    assert_eq!(
        listener_names(&lab, region, &b, port).await,
        ["shop.twins.test"]
    );

    let id = lab
        .distribution(&DistributionSpec::https_origin("shop.twins.test", port))
        .await;
    let run = run(&lab, &id, &["shop.twins.test"], region, vec![]).await;
    assert!(
        run.evidence.load_balancers.is_empty(),
        "never one picked: {:#?}",
        run.evidence.load_balancers
    );
    let found = &run.evidence.load_balancer_candidates;
    assert_eq!(found.len(), 1);
    let mut names: Vec<&str> = found[0]
        .candidates
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["cfd-twin-a", "cfd-twin-b"]);
    assert!(found[0].search_complete);
    let (outcome, detail) = run.check(&format!("shop.twins.test:{port}"));
    assert_eq!(outcome, CheckOutcome::Skipped);
    assert!(
        detail.starts_with("2 candidate(s) by certificate, none inspected: ")
            && detail.contains("cfd-twin-a (eu-west-3)")
            && detail.contains("cfd-twin-b (eu-west-3)"),
        "{detail}"
    );
    for inspection in [
        "DescribeRules",
        "DescribeTargetHealth",
        "DescribeSSLPolicies",
    ] {
        assert_eq!(
            run.count(region, inspection),
            0,
            "{inspection}: no load balancer inspected"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_denied_during_the_search_is_a_gap_not_no_load_balancer() {
    let lab = lab().await;
    for (region, service, operation, action) in [
        (
            "eu-north-1",
            "elasticloadbalancing",
            "DescribeListeners",
            "elasticloadbalancing:DescribeListeners",
        ),
        (
            "eu-south-1",
            "acm",
            "DescribeCertificate",
            "acm:DescribeCertificate",
        ),
    ] {
        let host = format!("shop.{region}.denied.test");
        let origin = origin_for(&lab, &[&host]).await;
        let port = origin.port();
        let name = format!("cfd-denied-{region}");
        let (lb, _) = alb_for(&lab, region, &name, port, &[&host]).await;
        assert_eq!(
            listener_names(&lab, region, &lb, port).await,
            [host.as_str()],
            "the fixture: it would be found"
        );
        let id = lab
            .distribution(&DistributionSpec::https_origin(&host, port))
            .await;
        let denied = Fault::on(service, operation, 1, FaultKind::AccessDenied);
        let run = run(&lab, &id, &[&host], region, vec![denied]).await;
        assert_eq!(
            run.proxy.faults_left(),
            0,
            "{operation} was called and denied"
        );
        assert!(
            gaps(&run.d).contains(&action.to_string()),
            "{action}: {:?}",
            gaps(&run.d)
        );
        let (outcome, detail) = run.check(&format!("{host}:{port}"));
        assert_eq!(outcome, CheckOutcome::Error, "{detail}");
        assert!(
            detail.contains("could not read every load balancer")
                && !detail.contains(&format!(
                    "no load balancer in {region}, us-east-1 serves this origin"
                )),
            "{detail}"
        );
    }
}

/// A distribution whose two custom origins are `hosts`, both HTTPS on `port`.
async fn two_origins(lab: &Lab, hosts: [&str; 2], port: u16) -> String {
    let origins: Vec<cf::Origin> = hosts
        .iter()
        .map(|host| {
            let custom = cf::CustomOriginConfig::builder()
                .http_port(80)
                .https_port(i32::from(port))
                .origin_protocol_policy(cf::OriginProtocolPolicy::HttpsOnly)
                .origin_ssl_protocols(
                    cf::OriginSslProtocols::builder()
                        .quantity(1)
                        .items(cf::SslProtocol::TlSv12)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            cf::Origin::builder()
                .id(*host)
                .domain_name(*host)
                .custom_origin_config(custom)
                .build()
                .unwrap()
        })
        .collect();
    let behaviour = cf::DefaultCacheBehavior::builder()
        .target_origin_id(hosts[0])
        .viewer_protocol_policy(cf::ViewerProtocolPolicy::RedirectToHttps)
        // AWS's managed CachingOptimized policy.
        .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
        .build()
        .unwrap();
    let config = cf::DistributionConfig::builder()
        .caller_reference(format!("cfd-two-origins-{}", hosts[0]))
        .comment("two origins behind one load balancer")
        .enabled(true)
        .origins(
            cf::Origins::builder()
                .quantity(2)
                .set_items(Some(origins))
                .build()
                .unwrap(),
        )
        .default_cache_behavior(behaviour)
        .build()
        .unwrap();
    lab.cloudfront
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .unwrap()
        .distribution
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_reads_each_load_balancer_once_for_a_distribution_with_two_origins() {
    let region = "ap-southeast-2";
    let lab = lab().await;
    let origin = origin_for(&lab, &["*.both.test"]).await;
    let port = origin.port();
    for decoy in ["cfd-decoy-1", "cfd-decoy-2", "cfd-decoy-3"] {
        alb_for(
            &lab,
            region,
            decoy,
            port,
            &[&format!("{decoy}.elsewhere.test")],
        )
        .await;
    }
    alb_for(&lab, region, "cfd-both", port, &["*.both.test"]).await;
    let id = two_origins(&lab, ["a.both.test", "b.both.test"], port).await;
    let d = lab
        .cloudfront
        .get_distribution()
        .id(&id)
        .send()
        .await
        .unwrap();
    let stored = d.distribution().unwrap().distribution_config().unwrap();
    assert_eq!(
        stored.origins().unwrap().quantity(),
        2,
        "the fixture has two origins"
    );

    let run = run(&lab, &id, &["a.both.test", "b.both.test"], region, vec![]).await;
    for host in ["a.both.test", "b.both.test"] {
        let (outcome, detail) = run.check(&format!("{host}:{port}"));
        assert_eq!(outcome, CheckOutcome::Pass, "{detail}");
        assert_eq!(detail, "cfd-both in ap-southeast-2, matched by certificate");
    }
    println!(
        "calls into {region} for two origins over 4 load balancers: {:?}",
        run.proxy
            .calls()
            .iter()
            .filter(|c| c.region == region)
            .map(|c| c.operation.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(run.count(region, "DescribeLoadBalancers"), 1);
    assert_eq!(
        run.count(region, "DescribeListeners"),
        4,
        "one per load balancer, whatever the number of origins"
    );
    assert_eq!(run.count(region, "DescribeListenerCertificates"), 4);
    assert_eq!(
        run.count(region, "DescribeCertificate"),
        4,
        "each certificate once, the found one's included"
    );
}

/// DescribeListenerCertificates' first page as ELB sends it when there are more: the default
/// certificate and a NextMarker (moto answers every certificate at once, so the proxy answers
/// this page and moto the next).
fn first_page(default_certificate: &str) -> FaultKind {
    FaultKind::Status {
        status: 200,
        body: format!(
            r#"<DescribeListenerCertificatesResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeListenerCertificatesResult>
    <Certificates>
      <member>
        <CertificateArn>{default_certificate}</CertificateArn>
        <IsDefault>true</IsDefault>
      </member>
    </Certificates>
    <NextMarker>cfd-page-2</NextMarker>
  </DescribeListenerCertificatesResult>
  <ResponseMetadata>
    <RequestId>5e4a3c2b-0d1f-4e6a-9b8c-7d6e5f4a3b2c</RequestId>
  </ResponseMetadata>
</DescribeListenerCertificatesResponse>"#
        ),
        headers: vec![],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sni_certificates_beyond_the_first_page_are_read() {
    let region = "us-west-2";
    let lab = lab().await;
    let origin = origin_for(&lab, &["*.us-west-2.elb.amazonaws.com"]).await;
    let port = origin.port();
    let sni_leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["sni.pages.test"]).expiring_in_days(5));
    let acm = aws_sdk_acm::Client::new(&in_region(&lab.sdk, region));
    let sni = import_certificate(&acm, &sni_leaf, &lab.ca.cert_pem()).await;
    let default_leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-west-2.elb.amazonaws.com"]));
    let default = import_certificate(&acm, &default_leaf, &lab.ca.cert_pem()).await;
    let mut spec = AlbSpec::healthy("cfd-sni", port, default.clone());
    spec.region = region.into();
    spec.sni_certificates = vec![sni.clone()];
    let lb = alb(&lab.sdk, &spec).await;
    // The fixture: the listener serves both; moto lists them in one page.
    let listed = aws_sdk_elasticloadbalancingv2::Client::new(&in_region(&lab.sdk, region))
        .describe_listener_certificates()
        .listener_arn(&lb.listener)
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = listed
        .certificates()
        .iter()
        .filter_map(|c| c.certificate_arn())
        .collect();
    assert_eq!(arns, [default.as_str(), sni.as_str()]);
    assert_eq!(listed.next_marker(), None);

    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, port))
        .await;
    let page = Fault::on(
        "elasticloadbalancing",
        "DescribeListenerCertificates",
        1,
        first_page(&default),
    );
    let run = run(&lab, &id, &[&lb.dns_name], region, vec![page]).await;
    assert_eq!(
        run.count(region, "DescribeListenerCertificates"),
        2,
        "both pages were asked for"
    );
    let listener = run.evidence.load_balancers[0].listener.as_ref().unwrap();
    assert!(
        listener.certificate_arns.contains(&sni),
        "the SNI certificate on the second page: {:?}",
        listener.certificate_arns
    );
    let described = run
        .evidence
        .certificates
        .iter()
        .find(|c| c.arn == sni)
        .expect("described");
    assert!(
        described.used_as[0].starts_with("listener certificate of cfd-sni"),
        "{:?}",
        described.used_as
    );
}
