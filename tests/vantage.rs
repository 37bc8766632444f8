//! Issue 12's production shapes, each built in the testkit and proved there (testkit/tests/),
//! then diagnosed here as a real account would be: healthy shapes end without a CRITICAL and with
//! the verdict the contract gives, broken ones name their cause. The probe runs where cf-doctor
//! runs, not at CloudFront's edge, and says so when that is why it could not see something.

mod common;

use std::io::Write;

use cf_doctor_model::{Code, Diagnosis, Severity, Verdict};
use cf_doctor_testkit::{
    aws_proxy, cloudfront_xml, import_certificate, legacy_tls_origin, sdk_config, syn_dropper,
    tls_origin, AwsProxy, BehaviorSpec, CrossSignedChain, DistributionSpec, LeafSpec, LegacyTls,
    OriginConfig,
};
use common::alb::{alb, AlbSpec, Ingress};
use common::{alarm, codes, lab};

/// AWS's managed "AllViewer" origin request policy: forwards the viewer's Host.
const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

fn criticals(d: &Diagnosis) -> Vec<&'static str> {
    d.findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .map(|f| f.code.as_str())
        .collect()
}

/// The gap findings' reasons (`evidence.reason`).
fn gap_reasons(d: &Diagnosis) -> Vec<String> {
    d.findings
        .iter()
        .filter(|f| f.code == Code::InspectionIncomplete)
        .filter_map(|f| f.evidence["reason"].as_str().map(str::to_string))
        .collect()
}

async fn diagnose_through(
    proxy: &AwsProxy,
    id: &str,
    config: cf_doctor::config::Config,
) -> Diagnosis {
    cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, config)
        .expect("the app starts")
        .diagnose(id, alarm(id, None))
        .await
        .expect("the inspection completes")
}

// 1. An origin that admits only CloudFront: its load balancer's security group admits the managed
// prefix list only, and the port drops every SYN from here (the testkit's SYN dropper).
#[tokio::test(flavor = "multi_thread")]
async fn an_origin_that_admits_only_cloudfront_is_a_gap_not_a_timeout() {
    let lab = lab().await;
    let dropper = syn_dropper();
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]));
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let cert = import_certificate(&acm, &leaf, &lab.ca.cert_pem()).await;
    for (ingress, name) in [
        (Ingress::CloudFrontPrefixList, "cfd-locked"),
        (Ingress::Nothing, "cfd-blocked"),
    ] {
        let locked = matches!(ingress, Ingress::CloudFrontPrefixList);
        let lb = alb(
            &lab.sdk,
            &AlbSpec {
                ingress,
                ..AlbSpec::healthy(name, dropper.port(), cert.clone())
            },
        )
        .await;
        let id = lab
            .distribution(&DistributionSpec::https_origin(
                &lb.dns_name,
                dropper.port(),
            ))
            .await;
        let d = lab
            .app(lab.config(&lb.dns_name))
            .diagnose(&id, alarm(&id, Some(504)))
            .await
            .unwrap();
        if locked {
            assert_eq!(criticals(&d), Vec::<&str>::new(), "{:#?}", d.findings);
            assert!(
                gap_reasons(&d).contains(&"admits-only-cloudfront".to_string()),
                "{:#?}",
                d.findings
            );
            assert!(!codes(&d).contains(&"origin-connection-timeout"));
            assert!(
                d.checks.iter().any(|c| c.name == "origin-load-balancer"
                    && c.detail.as_deref().is_some_and(|t| t.contains(name))),
                "what is known comes from the AWS APIs: {:#?}",
                d.checks
            );
        } else {
            // The contrast: nothing admits CloudFront, so the timeout is the origin's fault.
            assert_eq!(d.verdict, Verdict::Critical, "{:#?}", d.findings);
            assert!(
                codes(&d).contains(&"origin-security-group-blocks-port"),
                "{:#?}",
                d.findings
            );
            assert!(
                codes(&d).contains(&"origin-connection-timeout"),
                "{:#?}",
                d.findings
            );
        }
    }
}

// 3. Host forwarded by a cache policy that puts Host in the cache key. moto stores CachePolicyId
// but does not serve GetCachePolicy: the proxy answers it with CloudFront's XML.
#[tokio::test(flavor = "multi_thread")]
async fn a_cache_policy_with_host_in_the_key_sends_the_viewer_host() {
    const POLICY: &str = "7c0ffee0-1234-4cde-8f00-000000000001";
    let lab = lab().await;
    let origin_name = "cachepolicy.origin.test";
    let alias = "www.cachepolicy.test";
    for (cert_names, mismatch) in [
        (vec![origin_name], false),
        (vec!["other.cachepolicy.test"], true),
    ] {
        let leaf = lab.ca.leaf(&LeafSpec::valid_for(&cert_names));
        let origin = tls_origin(OriginConfig::new(
            leaf.full_chain(),
            leaf.key_der.clone_key(),
        ))
        .await;
        let id = lab
            .distribution(&DistributionSpec {
                aliases: vec![alias.into()],
                cache_policy_id: Some(POLICY.into()),
                ..DistributionSpec::https_origin(origin_name, origin.port())
            })
            .await;
        let proxy = aws_proxy(&cf_doctor_testkit::moto().endpoint).await;
        proxy.inject(cf_doctor_testkit::Fault::on(
            "cloudfront",
            "GetCachePolicy",
            1,
            cloudfront_xml::answer(cloudfront_xml::cache_policy(POLICY, true)),
        ));
        let d = diagnose_through(&proxy, &id, lab.config(origin_name)).await;
        assert_eq!(proxy.count("cloudfront", "GetCachePolicy"), 1, "read once");
        assert!(
            !origin.sni_seen().is_empty() && origin.sni_seen().iter().all(|s| s == alias),
            "SNI is the viewer's Host: {:?}",
            origin.sni_seen()
        );
        assert_eq!(
            codes(&d).contains(&"origin-cert-name-mismatch"),
            mismatch,
            "{:#?}",
            d.findings
        );
    }
}

// 3. A wildcard alias is never a TLS server name; an origin behind behaviours that differ in
// forwarding Host is probed both ways.
#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_alias_and_mixed_behaviours_are_probed_as_cloudfront_sends_them() {
    let lab = lab().await;
    let origin_name = "mixed.origin.test";
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&[origin_name, "*.wild.test"]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec {
            aliases: vec!["*.wild.test".into()],
            origin_request_policy_id: Some(ALL_VIEWER.into()),
            behaviors: vec![BehaviorSpec::new("/static/*")],
            ..DistributionSpec::https_origin(origin_name, origin.port())
        })
        .await;
    let d = lab
        .app(lab.config(origin_name))
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    assert_eq!(d.verdict, Verdict::Ok, "{:#?}", d.findings);
    let mut snis = origin.sni_seen();
    snis.sort();
    snis.dedup();
    assert_eq!(
        snis,
        ["cf-doctor-probe.wild.test", origin_name],
        "the wildcard stands for a concrete name, and /static/* sends the origin domain"
    );
    assert!(snis.iter().all(|s| !s.contains('*')));
}

// 4. TLS as CloudFront negotiates it: what the probe cannot offer is named, not blamed.
#[tokio::test(flavor = "multi_thread")]
async fn origins_speaking_what_this_probe_cannot_are_untestable_unless_the_list_rules_them_out() {
    use aws_sdk_cloudfront::types::SslProtocol;
    let lab = lab().await;
    let cases: [(&str, LegacyTls, Vec<SslProtocol>, Option<&str>); 3] = [
        // TLS 1.0/1.1 only, and the list lets CloudFront use TLSv1.1: CloudFront connects.
        (
            "legacy-listed.origin.test",
            LegacyTls::Tls10And11,
            vec![SslProtocol::TlSv11, SslProtocol::TlSv12],
            None,
        ),
        // TLS 1.0/1.1 only, and the list has TLSv1.2 alone: a real mismatch.
        (
            "legacy-unlisted.origin.test",
            LegacyTls::Tls10And11,
            vec![SslProtocol::TlSv12],
            Some("origin-tls-protocol-mismatch"),
        ),
        // TLS 1.2 with CBC suites only: CloudFront offers them, this probe cannot.
        (
            "cbc.origin.test",
            LegacyTls::Tls12CbcOnly,
            vec![SslProtocol::TlSv12],
            None,
        ),
    ];
    for (name, speaks, listed, critical) in cases {
        let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[name]));
        let origin = legacy_tls_origin(speaks, &leaf);
        let d = lab
            .diagnose(name, origin.port(), |spec| {
                spec.ssl_protocols = listed.clone()
            })
            .await;
        match critical {
            Some(code) => assert_eq!(criticals(&d), [code], "{name}: {:#?}", d.findings),
            None => {
                assert_eq!(
                    criticals(&d),
                    Vec::<&str>::new(),
                    "{name}: {:#?}",
                    d.findings
                );
                assert_eq!(d.verdict, Verdict::Unknown, "{name}: {:#?}", d.findings);
                let gap = d
                    .findings
                    .iter()
                    .find(|f| f.code == Code::InspectionIncomplete)
                    .unwrap();
                assert!(
                    gap.title.contains("cannot be tested from here"),
                    "{name}: {}",
                    gap.title
                );
            }
        }
    }
}

// 4. A handshake refused because the origin demands a client certificate is named as such
// (origin-mtls-required, with what was checked instead), and the certificate it presented is still
// judged. This distribution has no origin mTLS settings, so CloudFront presents no certificate
// either: the handshake failure is named too.
#[tokio::test(flavor = "multi_thread")]
async fn an_origin_demanding_a_client_certificate_is_named_and_its_certificate_still_checked() {
    let lab = lab().await;
    let name = "mtls.origin.test";
    let client_ca = cf_doctor_testkit::TestCa::new("origin mtls client root");
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&[name]).expired_days_ago(2));
    let mut config = OriginConfig::new(leaf.full_chain(), leaf.key_der.clone_key());
    config.client_ca = Some(client_ca.cert_der());
    let origin = tls_origin(config).await;
    let d = lab.diagnose(name, origin.port(), |_| {}).await;
    assert!(
        codes(&d).contains(&"origin-mtls-required"),
        "{:#?}",
        d.findings
    );
    assert!(
        !gap_reasons(&d).contains(&"client-certificate-required".to_string()),
        "named by its own code, not as a gap: {:#?}",
        d.findings
    );
    assert!(codes(&d).contains(&"origin-tls-handshake-failed"));
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginCertExpired),
        "{:#?}",
        d.findings
    );
    assert!(!codes(&d).contains(&"origin-tls-protocol-mismatch"));
}

// 5. The chain is judged by the path that verifies: an old expired cross-signed root still sent
// is a warning; an expired intermediate on the path is the 502 cause.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_certificate_off_the_verified_path_is_only_a_warning() {
    let lab = lab().await;
    let name = "crosssigned.origin.test";
    let chain = CrossSignedChain::new(&[name]);
    let origin = tls_origin(OriginConfig::new(
        chain.served(),
        chain.leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(name, origin.port()))
        .await;
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(chain.root.cert_pem().as_bytes()).unwrap();
    let mut config = lab.config(name);
    config.ca_file = Some(ca_file.path().to_path_buf());
    let d = lab
        .app(config)
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    assert_eq!(criticals(&d), Vec::<&str>::new(), "{:#?}", d.findings);
    let extra = d
        .findings
        .iter()
        .find(|f| f.code == Code::OriginCertExpired)
        .expect("the expired cross certificate is named");
    assert_eq!(extra.severity, Severity::Warning);
    assert_eq!(extra.evidence["on_verified_path"], false);

    let name = "expired-intermediate.origin.test";
    let intermediate = lab.ca.expired_intermediate("expired intermediate", 5);
    let leaf = intermediate.leaf(&LeafSpec::valid_for(&[name]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let d = lab.diagnose(name, origin.port(), |_| {}).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginCertExpired),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.findings[0].severity, Severity::Critical);
    assert_eq!(d.findings[0].evidence["on_verified_path"], true);
}

// 6. The CA file is the lab's stand-in for the public roots: trust from it is named, and without
// it the same origin is what CloudFront would see: untrusted.
#[tokio::test(flavor = "multi_thread")]
async fn trust_from_the_ca_file_is_named_and_without_it_the_lab_origin_is_untrusted() {
    let lab = lab().await;
    let name = "public-roots.origin.test";
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[name]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(name, origin.port()))
        .await;
    let with_file = lab
        .app(lab.config(name))
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    assert_eq!(with_file.verdict, Verdict::Ok, "{:#?}", with_file.findings);
    let tls = with_file
        .checks
        .iter()
        .find(|c| c.name == "origin-tls")
        .unwrap();
    assert!(
        tls.detail
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("ca-file:{}", lab.ca_file.path().display())),
        "{tls:?}"
    );
    let mut public_only = lab.config(name);
    public_only.ca_file = None;
    let without = lab
        .app(public_only)
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    assert_eq!(
        without.probable_cause,
        Some(Code::OriginCertUntrusted),
        "{:#?}",
        without.findings
    );
}
