//! An ACM event about a load balancer's listener certificate reaches the distributions behind
//! that load balancer: InUseBy names the load balancer, its DNS name leads to the distributions
//! whose origin is that name, a name the account's Route53 records point at it (read through the
//! Route53 API), or a name whose CNAME chain reaches it (a loopback DNS server answers the CNAME). The load balancer is moto's; moto does not fill InUseBy for an elbv2
//! listener, so the testkit proxy answers DescribeCertificate with the JSON ACM sends for such a
//! certificate. The origins are real TLS servers on 127.0.0.1.

mod common;

use std::time::Duration;

use cf_doctor::config::Config;
use cf_doctor::RunOptions;
use cf_doctor_collect::sweep::Scope;
use cf_doctor_model::{Code, TriggerInfo};
use cf_doctor_testkit::route53::{hosted_zone, record, Target};
use cf_doctor_testkit::{
    aws_proxy, dns_server, import_certificate, moto, sdk_config, tls_origin, DistributionSpec,
    Fault, FaultKind, LeafSpec, OriginConfig,
};
use common::alb::{alb, AlbSpec};
use common::lab;

/// DescribeCertificate's answer for an imported certificate that a load balancer uses.
fn described(arn: &str, domain: &str, not_after: i64, load_balancer: &str) -> String {
    serde_json::json!({
        "Certificate": {
            "CertificateArn": arn,
            "DomainName": domain,
            "SubjectAlternativeNames": [domain],
            "Status": "ISSUED",
            "Type": "IMPORTED",
            "KeyAlgorithm": "RSA_2048",
            "NotBefore": not_after - 300 * 86_400,
            "NotAfter": not_after,
            "InUseBy": [load_balancer],
            "RenewalEligibility": "INELIGIBLE",
            "Issuer": "cf-doctor test root",
            "Serial": "0a:1b",
            "SignatureAlgorithm": "SHA256WITHRSA",
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acm_event_about_a_listener_certificate_reaches_the_distributions_behind_its_load_balancer(
) {
    let lab = lab().await;
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let listener_leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.shop-lb.test"]).expiring_in_days(5));
    let cert = import_certificate(&acm, &listener_leaf, &lab.ca.cert_pem()).await;
    let lb = alb(
        &lab.sdk,
        &AlbSpec::healthy("cfd-acm-event", 443, cert.clone()),
    )
    .await;

    // The origins themselves answer on loopback with a certificate for their names.
    let origin_leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&[&lb.dns_name, "app.shop-lb.test"]));
    let origin = tls_origin(OriginConfig::new(
        origin_leaf.full_chain(),
        origin_leaf.key_der.clone_key(),
    ))
    .await;
    let direct = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    let through_cname = lab
        .distribution(&DistributionSpec::https_origin(
            "app.shop-lb.test",
            origin.port(),
        ))
        .await;
    let unrelated = lab
        .distribution(&DistributionSpec::https_origin(
            "elsewhere.shop-lb.test",
            origin.port(),
        ))
        .await;
    let dns = dns_server(&[("app.shop-lb.test", &lb.dns_name)]).await;

    let proxy = aws_proxy(&moto().endpoint).await;
    let not_after = chrono::Utc::now().timestamp() + 5 * 86_400;
    proxy.inject(Fault::on(
        "acm",
        "DescribeCertificate",
        1,
        FaultKind::Status {
            status: 200,
            body: described(&cert, "*.shop-lb.test", not_after, &lb.arn),
            headers: vec![],
        },
    ));
    let mut config = Config {
        probe_timeout: Duration::from_millis(1500),
        ca_file: Some(lab.ca_file.path().to_path_buf()),
        origin_regions: vec!["us-east-1".into()],
        dns_server: Some(dns.addr),
        ..Config::default()
    };
    for host in [
        lb.dns_name.as_str(),
        "app.shop-lb.test",
        "elsewhere.shop-lb.test",
    ] {
        config.add_resolve(&format!("{host}=127.0.0.1")).unwrap();
    }
    let app = cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, config).unwrap();
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::AcmEvent,
        detail: format!("ACM Certificate Approaching Expiration for {cert}"),
        distribution_id: None,
        status: None,
    };
    let d = app
        .sweep(
            &Scope::Certificate(cert.clone()),
            trigger,
            &RunOptions::new(false),
        )
        .await;

    assert_eq!(proxy.faults_left(), 0, "DescribeCertificate was called");
    assert!(
        d.trigger
            .detail
            .contains("2 distribution(s), 1 certificate(s)"),
        "{}",
        d.trigger.detail
    );
    let probed: Vec<&str> = d
        .checks
        .iter()
        .filter(|c| c.name == "origin-tls")
        .map(|c| c.target.as_str())
        .collect();
    assert_eq!(probed.len(), 2, "{probed:?}");
    assert!(!probed.iter().any(|t| t.starts_with("elsewhere.")));
    let found = d
        .checks
        .iter()
        .find(|c| c.name == "certificate-load-balancer")
        .expect("the load balancer is looked up");
    assert!(
        found
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("cfd-acm-event"),
        "{found:?}"
    );
    let expiring = d
        .findings
        .iter()
        .find(|f| f.code == Code::AcmCertExpiring && f.resource == cert)
        .expect("the listener certificate's expiry is reported");
    let users = expiring.evidence["used_as"].to_string();
    assert!(
        users.contains(&direct) && users.contains(&through_cname) && !users.contains(&unrelated),
        "{users}"
    );
    assert!(
        users.contains("app.shop-lb.test -> "),
        "the CNAME chain is named: {users}"
    );
    assert!(
        expiring.title.contains("load balancer cfd-acm-event"),
        "{}",
        expiring.title
    );
}

// The same event when the origin name is the account's Route53 ALIAS to the load balancer (no
// public DNS answers here: the record is read through the Route53 API).
#[tokio::test(flavor = "multi_thread")]
async fn an_acm_event_reaches_a_distribution_whose_origin_is_a_route53_alias_to_the_load_balancer()
{
    let lab = lab().await;
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let host = "shop.acm-alias-records.test";
    let listener_leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&[host]).expiring_in_days(5));
    let cert = import_certificate(&acm, &listener_leaf, &lab.ca.cert_pem()).await;
    let lb = alb(
        &lab.sdk,
        &AlbSpec::healthy("cfd-acm-alias", 443, cert.clone()),
    )
    .await;
    let zone = hosted_zone(&lab.sdk, "acm-alias-records.test").await;
    record(
        &lab.sdk,
        &zone,
        host,
        Target::Alias {
            dns_name: format!("dualstack.{}", lb.dns_name),
            hosted_zone_id: lb.canonical_hosted_zone_id.clone(),
        },
    )
    .await;
    let origin = tls_origin(OriginConfig::new(
        listener_leaf.full_chain(),
        listener_leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(host, origin.port()))
        .await;

    let proxy = aws_proxy(&moto().endpoint).await;
    let not_after = chrono::Utc::now().timestamp() + 5 * 86_400;
    proxy.inject(Fault::on(
        "acm",
        "DescribeCertificate",
        1,
        FaultKind::Status {
            status: 200,
            body: described(&cert, host, not_after, &lb.arn),
            headers: vec![],
        },
    ));
    let mut config = Config {
        probe_timeout: Duration::from_millis(1500),
        ca_file: Some(lab.ca_file.path().to_path_buf()),
        origin_regions: vec!["us-east-1".into()],
        ..Config::default()
    };
    config.add_resolve(&format!("{host}=127.0.0.1")).unwrap();
    let app = cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, config).unwrap();
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::AcmEvent,
        detail: format!("ACM Certificate Approaching Expiration for {cert}"),
        distribution_id: None,
        status: None,
    };
    let d = app
        .sweep(
            &Scope::Certificate(cert.clone()),
            trigger,
            &RunOptions::new(false),
        )
        .await;

    assert_eq!(proxy.faults_left(), 0, "DescribeCertificate was called");
    let expiring = d
        .findings
        .iter()
        .find(|f| f.code == Code::AcmCertExpiring && f.resource == cert)
        .expect("the listener certificate's expiry is reported");
    let users = expiring.evidence["used_as"].to_string();
    assert!(
        users.contains(&id)
            && users.contains(&format!(
                "{host} -> Route53 public zone acm-alias-records.test ({zone}): {host} A ALIAS dualstack."
            )),
        "the distribution behind the ALIAS is named, with the record: {users}"
    );
    assert!(
        d.checks
            .iter()
            .any(|c| c.name == "origin-tls" && c.target.starts_with(host)),
        "its origin is probed: {:#?}",
        d.checks
    );
}
