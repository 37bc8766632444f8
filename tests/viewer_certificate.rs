//! The viewer certificate as ACM (moto) describes it: expiry against the thresholds and aliases the
//! certificate does not cover, next to a healthy origin.

mod common;

use cf_doctor_model::{Code, Severity, Verdict};
use cf_doctor_testkit::{import_certificate, tls_origin, DistributionSpec, LeafSpec, OriginConfig};
use common::{alarm, lab};

#[tokio::test]
async fn an_expiring_viewer_certificate_that_misses_an_alias_is_reported_with_its_users() {
    let lab = lab().await;
    let host = "viewer.origin.test";
    let origin_leaf = lab.ca.leaf(&LeafSpec::valid_for(&[host]));
    let origin = tls_origin(OriginConfig::new(
        origin_leaf.full_chain(),
        origin_leaf.key_der,
    ))
    .await;
    let viewer_leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["shop.example", "www.shop.example"]).expiring_in_days(10));
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let arn = import_certificate(&acm, &viewer_leaf, &lab.ca.cert_pem()).await;

    let mut spec = DistributionSpec::https_origin(host, origin.port());
    spec.aliases = vec![
        "shop.example".into(),
        "www.shop.example".into(),
        "api.shop.example".into(),
    ];
    spec.viewer_acm_arn = Some(arn.clone());
    let id = lab.distribution(&spec).await;
    let d = lab
        .app(lab.config(host))
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();

    assert_eq!(d.verdict, Verdict::Critical, "{:#?}", d.findings);
    let uncovered = d
        .findings
        .iter()
        .find(|f| f.code == Code::ViewerCertAliasUncovered)
        .expect("alias finding");
    assert_eq!(
        uncovered.evidence["uncovered_aliases"],
        serde_json::json!(["api.shop.example"])
    );
    let expiring = d
        .findings
        .iter()
        .find(|f| f.code == Code::AcmCertExpiring)
        .expect("expiry finding");
    assert_eq!(
        expiring.severity,
        Severity::Warning,
        "10 days: inside 30, outside 7"
    );
    assert_eq!(expiring.resource, arn);
    assert!(
        expiring
            .title
            .contains(&format!("viewer certificate of {id}")),
        "{}",
        expiring.title
    );
    assert!(d
        .checks
        .iter()
        .any(|c| c.name == "acm-certificate" && c.target == arn));
}
