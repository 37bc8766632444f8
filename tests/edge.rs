//! Via CloudFront vs direct to origin, the move from the founding outage: a stand-in edge on
//! 127.0.0.N:443 (a hand-written fake: no emulator serves CloudFront's data plane) answers 502
//! "Error from cloudfront" while the origin answers 200 directly over an expired certificate.

mod common;

use cf_doctor_model::{CheckOutcome, Code};
use cf_doctor_testkit::{tls_origin, tls_origin_at, DistributionSpec, LeafSpec, OriginConfig};
use common::{alarm, lab};

#[tokio::test(flavor = "multi_thread")]
async fn the_report_puts_what_viewers_get_beside_what_the_origin_answers() {
    let lab = lab().await;
    let origin_leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["edge-case.origin.test"]).expired_days_ago(3));
    let origin = tls_origin(OriginConfig::new(
        origin_leaf.full_chain(),
        origin_leaf.key_der.clone_key(),
    ))
    .await;
    let mut spec = DistributionSpec::https_origin("edge-case.origin.test", origin.port());
    spec.aliases = vec!["edge.shop.example".into()];
    let id = lab.distribution(&spec).await;
    let domain = lab
        .cloudfront
        .get_distribution()
        .id(&id)
        .send()
        .await
        .unwrap()
        .distribution
        .unwrap()
        .domain_name;

    let edge_leaf = lab.ca.leaf(&LeafSpec::valid_for(&["edge.shop.example"]));
    let mut edge = OriginConfig::new(edge_leaf.full_chain(), edge_leaf.key_der.clone_key());
    edge.status = 502;
    edge.headers = vec![
        ("X-Cache".into(), "Error from cloudfront".into()),
        ("X-Amz-Cf-Pop".into(), "FRA56-P1".into()),
        ("X-Amz-Cf-Id".into(), "aBcD1234efGh==".into()),
    ];
    let edge_ip = format!("127.0.0.{}", 10 + std::process::id() % 240);
    let _edge = tls_origin_at(edge, format!("{edge_ip}:443").parse().unwrap()).await;

    let mut config = lab.config("edge-case.origin.test");
    config.add_resolve(&format!("{domain}={edge_ip}")).unwrap();
    let d = lab
        .app(config)
        .diagnose(&id, alarm(&id, Some(502)))
        .await
        .unwrap();

    assert_eq!(
        d.probable_cause,
        Some(Code::OriginCertExpired),
        "{:#?}",
        d.findings
    );
    let cause = &d.findings[0];
    assert_eq!(
        cause.evidence["via_cloudfront"],
        "HTTP 502 (Error from cloudfront) for edge.shop.example at POP FRA56-P1"
    );
    assert!(
        cause.evidence["direct_request"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 200"),
        "{}",
        cause.evidence
    );
    let edge_finding = d
        .findings
        .iter()
        .find(|f| f.code == Code::EdgeErrorFromCloudfront)
        .expect("the edge's own error is reported");
    assert_eq!(edge_finding.evidence["x_amz_cf_id"], "aBcD1234efGh==");
    assert_eq!(edge_finding.status_codes, vec![502]);
    let slack = cf_doctor_render::slack::payload(&d).to_string();
    assert!(
        slack.contains("*Via CloudFront:* HTTP 502 (Error from cloudfront)"),
        "{slack}"
    );
}

#[tokio::test]
async fn against_an_emulator_an_unpinned_edge_is_skipped_and_says_why() {
    let lab = lab().await;
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&["unpinned.origin.test"]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let d = lab
        .diagnose("unpinned.origin.test", origin.port(), |_| {})
        .await;
    let edge = d
        .checks
        .iter()
        .find(|c| c.name == "edge")
        .expect("the edge is accounted for");
    assert_eq!(edge.outcome, CheckOutcome::Skipped);
    assert!(
        edge.detail
            .as_deref()
            .unwrap()
            .contains("not pinned with --resolve"),
        "{edge:?}"
    );
}
