//! Sweep behaviour moto cannot show (every summary field, EMAIL validation, renewal states) with
//! real SDK clients over aws-smithy-mocks rules: which certificates get described, the renewal
//! risk reasons found that way, and the DescribeCertificate rate, counted on paused time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
use aws_sdk_acm::operation::list_certificates::ListCertificatesOutput;
use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, CertificateSummary, CertificateType, DomainValidation,
    FailureReason, RenewalEligibility, RenewalStatus, RenewalSummary, ValidationMethod,
};
use aws_sdk_cloudfront::operation::list_distributions::ListDistributionsOutput;
use aws_sdk_cloudfront::types::DistributionList;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::DateTime;
use cf_doctor_collect::probe::{Prober, TlsSetup};
use cf_doctor_collect::sweep::{Scope, SweepOptions};
use cf_doctor_collect::Collector;
use cf_doctor_model::evidence::Thresholds;
use cf_doctor_model::Code;

fn in_days(days: i64) -> DateTime {
    DateTime::from_secs(chrono::Utc::now().timestamp() + days * 86_400 + 3_600)
}

fn arn(name: &str) -> String {
    format!("arn:aws:acm:us-east-1:123456789012:certificate/{name}")
}

fn summary(
    name: &str,
    kind: CertificateType,
    status: CertificateStatus,
    days: i64,
) -> CertificateSummary {
    CertificateSummary::builder()
        .certificate_arn(arn(name))
        .domain_name(format!("{name}.example"))
        .r#type(kind)
        .status(status)
        .not_after(in_days(days))
        .in_use(true)
        .renewal_eligibility(RenewalEligibility::Eligible)
        .build()
}

/// What DescribeCertificate says about the Amazon-issued certificates of the listing.
fn detail(name: &str, days: i64) -> CertificateDetail {
    let mut validation = DomainValidation::builder()
        .domain_name(format!("{name}.example"))
        .validation_method(ValidationMethod::Dns);
    let mut detail = CertificateDetail::builder()
        .certificate_arn(arn(name))
        .domain_name(format!("{name}.example"))
        .r#type(CertificateType::AmazonIssued)
        .status(CertificateStatus::Issued)
        .not_after(in_days(days))
        .renewal_eligibility(RenewalEligibility::Eligible);
    match name {
        "email" => validation = validation.validation_method(ValidationMethod::Email),
        "failed" => {
            detail = detail.renewal_summary(
                RenewalSummary::builder()
                    .renewal_status(RenewalStatus::Failed)
                    .renewal_status_reason(FailureReason::CaaError)
                    .domain_validation_options(validation.clone().build().unwrap())
                    .updated_at(in_days(-1))
                    .build()
                    .unwrap(),
            )
        }
        "pending" => {
            detail = detail.renewal_summary(
                RenewalSummary::builder()
                    .renewal_status(RenewalStatus::PendingValidation)
                    .domain_validation_options(validation.clone().build().unwrap())
                    .updated_at(in_days(-1))
                    .build()
                    .unwrap(),
            )
        }
        _ => {}
    }
    detail
        .domain_validation_options(validation.build().unwrap())
        .build()
}

fn collector(cloudfront: aws_sdk_cloudfront::Client, acm: aws_sdk_acm::Client) -> Collector {
    Collector {
        cloudfront,
        acm_by_region: BTreeMap::from([("us-east-1".to_string(), acm.clone())]),
        acm_us_east_1: acm,
        infra_by_region: BTreeMap::new(),
        sdk: aws_config::SdkConfig::builder().build(),
        prober: Arc::new(Prober {
            timeout: Duration::from_millis(500),
            resolve: BTreeMap::new(),
            tls: TlsSetup::new(None).unwrap(),
            resolver: None,
        }),
        cnames: None,
        thresholds: Thresholds::default(),
        emulated: true,
        endpoint: "mocked".into(),
        acm_pace: Default::default(),
        route53: aws_sdk_route53::Client::new(&aws_config::SdkConfig::builder().build()),
        route53_pace: Arc::new(cf_doctor_collect::ratelimit::RateLimiter::per_second(5)),
    }
}

fn no_distributions() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_cloudfront::Client::list_distributions).then_output(|| {
        ListDistributionsOutput::builder()
            .distribution_list(
                DistributionList::builder()
                    .marker("")
                    .max_items(100)
                    .is_truncated(false)
                    .quantity(0)
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

#[tokio::test]
async fn only_certificates_the_summary_cannot_decide_are_described_and_every_reason_is_found() {
    use CertificateStatus::*;
    use CertificateType::*;
    let listing = vec![
        summary("email", AmazonIssued, Issued, 50),
        summary("failed", AmazonIssued, Issued, 20),
        summary("pending", AmazonIssued, Issued, 40),
        summary("fine", AmazonIssued, Issued, 60),
        summary("far", AmazonIssued, Issued, 300),
        // Issue 14: imported certificates are a renewal risk only inside the warning window (this
        // one was at 100 days, which used to be a warning).
        summary("imported", Imported, Issued, 20),
        summary("imported-later", Imported, Issued, 100),
        summary("unvalidated", AmazonIssued, PendingValidation, 300),
    ];
    let list = mock!(aws_sdk_acm::Client::list_certificates).then_output(move || {
        ListCertificatesOutput::builder()
            .set_certificate_summary_list(Some(listing.clone()))
            .build()
    });
    let described = Arc::new(Mutex::new(Vec::new()));
    let seen = described.clone();
    let describe =
        mock!(aws_sdk_acm::Client::describe_certificate).then_compute_output(move |req| {
            let name = req
                .certificate_arn()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            seen.lock().unwrap().push(name.clone());
            let days = match name.as_str() {
                "failed" => 20,
                "pending" => 40,
                "fine" => 60,
                _ => 50,
            };
            DescribeCertificateOutput::builder()
                .certificate(detail(&name, days))
                .build()
        });
    let c = collector(
        mock_client!(
            aws_sdk_cloudfront,
            RuleMode::MatchAny,
            [&no_distributions()]
        ),
        mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&list, &describe]),
    );
    let evidence = c.sweep(&Scope::All, &SweepOptions::default()).await;

    let mut calls = described.lock().unwrap().clone();
    calls.sort();
    assert_eq!(
        calls,
        vec!["email", "failed", "fine", "pending"],
        "issued Amazon certificates within the renewal horizon only"
    );
    let d = cf_doctor_rules::diagnose(
        &evidence,
        cf_doctor_model::TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: "test".into(),
            distribution_id: None,
            status: None,
        },
        chrono::Utc::now(),
        0,
    );
    let reason = |name: &str| {
        d.findings
            .iter()
            .find(|f| f.code == Code::AcmCertRenewalAtRisk && f.resource == arn(name))
            .map(|f| f.evidence["reason"].as_str().unwrap().to_string())
    };
    assert_eq!(reason("email").as_deref(), Some("email-validation"));
    assert_eq!(reason("failed").as_deref(), Some("renewal-failed"));
    assert_eq!(reason("pending").as_deref(), Some("pending-validation"));
    assert_eq!(reason("imported").as_deref(), Some("imported"));
    assert_eq!(
        reason("imported-later"),
        None,
        "100 days: a count, not a finding"
    );
    assert_eq!(reason("fine"), None);
    assert!(d
        .findings
        .iter()
        .any(|f| f.code == Code::AcmCertNotIssued && f.resource == arn("unvalidated")));
    let failed = d
        .findings
        .iter()
        .find(|f| f.resource == arn("failed") && f.code == Code::AcmCertRenewalAtRisk)
        .unwrap();
    assert!(
        failed.remediation.contains("CAA_ERROR"),
        "the ACM reason is passed on: {}",
        failed.remediation
    );
}

#[tokio::test(start_paused = true)]
/// Issue 25: the sweep built its own limiters, so certificates described elsewhere in the same run
/// (a listener's, the viewer's, through the collector's shared pace) could add another 10 calls
/// in the same second. Here another part of the run describes 10 certificates while the sweep
/// describes 35: together they stay within ACM's 10 a second.
async fn describe_certificate_never_exceeds_its_rate_whatever_the_backlog() {
    let listing: Vec<CertificateSummary> = (0..35)
        .map(|i| {
            summary(
                &format!("c{i}"),
                CertificateType::AmazonIssued,
                CertificateStatus::Issued,
                20,
            )
        })
        .collect();
    let list = mock!(aws_sdk_acm::Client::list_certificates).then_output(move || {
        ListCertificatesOutput::builder()
            .set_certificate_summary_list(Some(listing.clone()))
            .build()
    });
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorder = calls.clone();
    let describe =
        mock!(aws_sdk_acm::Client::describe_certificate).then_compute_output(move |req| {
            recorder.lock().unwrap().push(tokio::time::Instant::now());
            let name = req
                .certificate_arn()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            DescribeCertificateOutput::builder()
                .certificate(detail(&name, 20))
                .build()
        });
    let c = collector(
        mock_client!(
            aws_sdk_cloudfront,
            RuleMode::MatchAny,
            [&no_distributions()]
        ),
        mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&list, &describe]),
    );
    let elsewhere = {
        let pace = c.acm_pace("us-east-1");
        let calls = calls.clone();
        async move {
            for _ in 0..10 {
                pace.acquire().await;
                calls.lock().unwrap().push(tokio::time::Instant::now());
            }
        }
    };
    let options = SweepOptions::default();
    tokio::join!(c.sweep(&Scope::All, &options), elsewhere);

    let mut at = calls.lock().unwrap().clone();
    at.sort();
    assert_eq!(
        at.len(),
        45,
        "every certificate described, the sweep's and the others"
    );
    let busiest = (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|t| **t < at[i] + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap();
    assert!(
        busiest <= 10,
        "{busiest} DescribeCertificate calls within one second"
    );
}
