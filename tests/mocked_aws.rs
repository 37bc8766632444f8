//! What moto cannot express (it reports EMAIL validation as DNS, has no renewal states, and does
//! not deny calls): the real SDK clients with aws-smithy-mocks rules in place of the service.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_acm::operation::describe_certificate::{
    DescribeCertificateError, DescribeCertificateOutput,
};
use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, CertificateType, DomainValidation, RenewalEligibility,
    ValidationMethod,
};
use aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput;
use aws_sdk_cloudfront::types as cf;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use cf_doctor_collect::probe::{Prober, TlsSetup};
use cf_doctor_collect::{Collector, InfraClients};
use cf_doctor_model::evidence::Thresholds;
use cf_doctor_model::{Code, TriggerInfo, Verdict};
use common::gaps;

const CERT_ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0e1f2a3b-email";

/// A mocked distribution's configuration with its one origin.
fn config_with(origin: cf::Origin) -> cf::builders::DistributionConfigBuilder {
    cf::DistributionConfig::builder()
        .caller_reference("mocked")
        .comment("mocked")
        .enabled(true)
        .origins(
            cf::Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
}

/// GetDistribution's answer for distribution E2MOCKED with `config`.
fn answer(config: cf::DistributionConfig) -> GetDistributionOutput {
    let distribution = cf::Distribution::builder()
        .id("E2MOCKED")
        .arn("arn:aws:cloudfront::123456789012:distribution/E2MOCKED")
        .status("Deployed")
        .domain_name("d111111abcdef8.cloudfront.net")
        .last_modified_time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
        .in_progress_invalidation_batches(0)
        .distribution_config(config)
        .build()
        .unwrap();
    GetDistributionOutput::builder()
        .distribution(distribution)
        .build()
}

/// A distribution with only an S3 origin (nothing to probe live) and an ACM viewer certificate.
fn distribution() -> GetDistributionOutput {
    let origin = cf::Origin::builder()
        .id("assets")
        .domain_name("assets.s3.us-east-1.amazonaws.com")
        .s3_origin_config(
            cf::S3OriginConfig::builder()
                .origin_access_identity("")
                .build(),
        )
        .build()
        .unwrap();
    let config = config_with(origin)
        .aliases(
            cf::Aliases::builder()
                .quantity(2)
                .items("shop.example")
                .items("www.shop.example")
                .build()
                .unwrap(),
        )
        .viewer_certificate(
            cf::ViewerCertificate::builder()
                .acm_certificate_arn(CERT_ARN)
                .ssl_support_method(cf::SslSupportMethod::SniOnly)
                .build(),
        )
        .build()
        .unwrap();
    answer(config)
}

fn email_validated_certificate(days_left: i64) -> DescribeCertificateOutput {
    let now = chrono::Utc::now().timestamp();
    let detail = CertificateDetail::builder()
        .certificate_arn(CERT_ARN)
        .domain_name("shop.example")
        .subject_alternative_names("shop.example")
        .subject_alternative_names("*.shop.example")
        .status(CertificateStatus::Issued)
        .r#type(CertificateType::AmazonIssued)
        .not_after(aws_smithy_types::DateTime::from_secs(
            now + days_left * 86_400 + 3600,
        ))
        .renewal_eligibility(RenewalEligibility::Eligible)
        .domain_validation_options(
            DomainValidation::builder()
                .domain_name("shop.example")
                .validation_method(ValidationMethod::Email)
                .build()
                .unwrap(),
        )
        .in_use_by("arn:aws:cloudfront::123456789012:distribution/E2MOCKED")
        .build();
    DescribeCertificateOutput::builder()
        .certificate(detail)
        .build()
}

/// CloudWatch has no data for the mocked distribution; the load balancer and EC2 clients are
/// never called (its only origin is S3), so they point nowhere.
fn infra(acm: &aws_sdk_acm::Client) -> InfraClients {
    let no_data = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
        aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder().build()
    });
    let unused = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    InfraClients {
        acm: acm.clone(),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&unused),
        ec2: aws_sdk_ec2::Client::new(&unused),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&no_data]),
    }
}

fn collector(cloudfront: aws_sdk_cloudfront::Client, acm: aws_sdk_acm::Client) -> Collector {
    Collector {
        cloudfront,
        acm_by_region: BTreeMap::from([("us-east-1".to_string(), acm.clone())]),
        infra_by_region: BTreeMap::from([("us-east-1".to_string(), infra(&acm))]),
        acm_us_east_1: acm,
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
        route53: no_hosted_zones(),
        route53_pace: Arc::new(cf_doctor_collect::ratelimit::RateLimiter::per_second(5)),
    }
}

/// An account with no hosted zone: the origins here are found by name only.
fn no_hosted_zones() -> aws_sdk_route53::Client {
    let none = mock!(aws_sdk_route53::Client::list_hosted_zones).then_output(|| {
        aws_sdk_route53::operation::list_hosted_zones::ListHostedZonesOutput::builder()
            .set_hosted_zones(Some(Vec::new()))
            .marker("")
            .is_truncated(false)
            .max_items(100)
            .build()
            .expect("every required field is set")
    });
    mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&none])
}

fn trigger() -> TriggerInfo {
    TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: "mocked alarm".into(),
        distribution_id: Some("E2MOCKED".into()),
        status: None,
    }
}

async fn diagnose(collector: &Collector) -> cf_doctor_model::Diagnosis {
    let evidence = collector
        .distribution("E2MOCKED")
        .await
        .expect("the inspection completes");
    cf_doctor_rules::diagnose(&evidence, trigger(), chrono::Utc::now(), 0)
}

#[tokio::test]
async fn an_email_validated_viewer_certificate_is_a_renewal_risk_and_critical_near_expiry() {
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(distribution);
    for (days_left, verdict) in [(60, Verdict::Warning), (5, Verdict::Critical)] {
        let describe = mock!(aws_sdk_acm::Client::describe_certificate)
            .then_output(move || email_validated_certificate(days_left));
        let c = collector(
            mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&get]),
            mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&describe]),
        );
        let d = diagnose(&c).await;
        assert_eq!(
            d.verdict, verdict,
            "{days_left} days left: {:#?}",
            d.findings
        );
        let risk = d
            .findings
            .iter()
            .find(|f| f.code == Code::AcmCertRenewalAtRisk)
            .expect("renewal risk reported");
        assert_eq!(risk.evidence["reason"], "email-validation");
        assert!(risk.docs.ends_with("email-renewal-validation.html"));
        assert!(
            risk.title.contains("viewer certificate of E2MOCKED"),
            "{}",
            risk.title
        );
        assert!(
            !d.findings
                .iter()
                .any(|f| f.code == Code::ViewerCertAliasUncovered),
            "the wildcard covers www"
        );
        assert!(
            !d.findings
                .iter()
                .any(|f| f.code == Code::OriginTlsHandshakeFailed),
            "S3 origins are not probed as custom origins"
        );
    }
}

#[tokio::test]
async fn access_denied_on_the_certificate_is_named_and_the_rest_still_completes() {
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(distribution);
    let denied = mock!(aws_sdk_acm::Client::describe_certificate).then_error(|| {
        DescribeCertificateError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("User: arn:aws:sts::123456789012:assumed-role/cf-doctor is not authorized to perform: acm:DescribeCertificate")
                .build(),
        )
    });
    let c = collector(
        mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&get]),
        mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&denied]),
    );
    let d = diagnose(&c).await;
    assert_eq!(
        d.verdict,
        Verdict::Unknown,
        "a gap is not health: {:#?}",
        d.findings
    );
    let gap = &d.findings[0];
    assert_eq!(gap.code, Code::InspectionIncomplete);
    assert_eq!(gap.evidence["action"], "acm:DescribeCertificate");
    assert!(gap.evidence["error"]
        .as_str()
        .unwrap()
        .starts_with("AccessDeniedException"));
    assert!(gap
        .remediation
        .starts_with("Grant the function acm:DescribeCertificate"));
    assert!(
        d.checks.iter().any(|c| c.name == "cloudfront-distribution"),
        "the distribution was still inspected"
    );
}

/// Clients with cf-doctor's own retry policy (standard, 4 attempts) and timeouts.
fn retrying(cloudfront: &aws_smithy_mocks::Rule, acm: &aws_smithy_mocks::Rule) -> Collector {
    collector(
        mock_client!(
            aws_sdk_cloudfront,
            RuleMode::MatchAny,
            [cloudfront],
            |b: aws_sdk_cloudfront::config::Builder| b
                .retry_config(cf_doctor_aws::retry_config())
                .timeout_config(cf_doctor_aws::timeout_config())
        ),
        mock_client!(
            aws_sdk_acm,
            RuleMode::MatchAny,
            [acm],
            |b: aws_sdk_acm::config::Builder| b
                .retry_config(cf_doctor_aws::retry_config())
                .timeout_config(cf_doctor_aws::timeout_config())
        ),
    )
}

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

/// Backoff waits on paused time: the test is fast and does not depend on wall-clock speed.
#[tokio::test(start_paused = true)]
async fn throttling_and_5xx_are_retried_until_every_report_completes() {
    const REPORTS: usize = 25;
    let (mut injected, mut completed) = (0, 0);
    for _ in 0..REPORTS {
        let get = mock!(aws_sdk_cloudfront::Client::get_distribution)
            .sequence()
            .http_status(503, None)
            .times(2)
            .output(distribution)
            .build();
        let describe = mock!(aws_sdk_acm::Client::describe_certificate)
            .sequence()
            .http_status(400, Some(THROTTLED.to_string()))
            .times(2)
            .http_status(500, None)
            .output(|| email_validated_certificate(60))
            .build();
        let d = diagnose(&retrying(&get, &describe)).await;
        injected += (get.num_calls() - 1) + (describe.num_calls() - 1);
        if !d
            .findings
            .iter()
            .any(|f| f.code == Code::InspectionIncomplete)
            && d.findings
                .iter()
                .any(|f| f.code == Code::AcmCertRenewalAtRisk)
        {
            completed += 1;
        }
    }
    println!("AWS faults injected: {injected} (503 x2 on GetDistribution, ThrottlingException x2 and 500 x1 on DescribeCertificate, per report); reports completed without a gap: {completed}/{REPORTS}");
    assert_eq!(injected, REPORTS * 5);
    assert_eq!(completed, REPORTS);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_keeps_failing_is_a_named_gap_after_the_retries() {
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(distribution);
    let failing = mock!(aws_sdk_acm::Client::describe_certificate)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let d = diagnose(&retrying(&get, &failing)).await;
    assert_eq!(
        failing.num_calls(),
        cf_doctor_aws::MAX_ATTEMPTS as usize,
        "every attempt was made, then it stopped"
    );
    let gap = d
        .findings
        .iter()
        .find(|f| f.code == Code::InspectionIncomplete)
        .expect("the failure is a named gap");
    assert_eq!(gap.evidence["action"], "acm:DescribeCertificate");
    assert!(
        d.checks.iter().any(|c| c.name == "cloudfront-distribution"),
        "the rest completed"
    );
}

/// A distribution whose only origin is a load balancer's DNS name (pinned to a closed loopback
/// port, so the live probe stays on this machine).
fn alb_distribution() -> GetDistributionOutput {
    let custom = cf::CustomOriginConfig::builder()
        .http_port(80)
        .https_port(443)
        .origin_protocol_policy(cf::OriginProtocolPolicy::HttpsOnly)
        .build()
        .unwrap();
    let origin = cf::Origin::builder()
        .id("alb")
        .domain_name(ALB_DNS)
        .custom_origin_config(custom)
        .build()
        .unwrap();
    let config = config_with(origin).build().unwrap();
    answer(config)
}

const ALB_DNS: &str = "shop-alb-1.us-east-1.elb.amazonaws.com";

fn denied(action: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder()
        .code("AccessDenied")
        .message(format!("User: arn:aws:sts::123456789012:assumed-role/cf-doctor is not authorized to perform: {action}"))
        .build()
}

async fn diagnose_with_infra(infra: InfraClients) -> cf_doctor_model::Diagnosis {
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(alb_distribution);
    let mut c = collector(
        mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&get]),
        infra.acm.clone(),
    );
    c.infra_by_region = BTreeMap::from([("us-east-1".to_string(), infra)]);
    let mut resolve = BTreeMap::new();
    resolve.insert(ALB_DNS.to_string(), vec!["127.0.0.1".parse().unwrap()]);
    c.prober = Arc::new(Prober {
        timeout: Duration::from_millis(500),
        resolve,
        tls: TlsSetup::new(None).unwrap(),
        resolver: None,
    });
    diagnose(&c).await
}

#[tokio::test]
async fn access_denied_on_elb_and_cloudwatch_is_named_and_the_live_probe_still_reports() {
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersError;
    let unused = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let elb =
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers).then_error(|| {
            DescribeLoadBalancersError::generic(denied(
                "elasticloadbalancing:DescribeLoadBalancers",
            ))
        });
    let cw = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .then_error(|| GetMetricDataError::generic(denied("cloudwatch:GetMetricData")));
    let infra = InfraClients {
        acm: aws_sdk_acm::Client::new(&unused),
        elb: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, [&elb]),
        ec2: aws_sdk_ec2::Client::new(&unused),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&cw]),
    };
    let d = diagnose_with_infra(infra).await;
    let gaps = gaps(&d);
    assert!(
        gaps.contains(&"elasticloadbalancing:DescribeLoadBalancers".to_string()),
        "{gaps:?}"
    );
    assert!(
        gaps.contains(&"cloudwatch:GetMetricData".to_string()),
        "{gaps:?}"
    );
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginConnectionRefused),
        "the live probe still reports: {:#?}",
        d.findings
    );
    let gap = d
        .findings
        .iter()
        .find(|f| f.evidence["action"] == "elasticloadbalancing:DescribeLoadBalancers")
        .unwrap();
    assert!(
        gap.remediation
            .starts_with("Grant the function elasticloadbalancing:DescribeLoadBalancers"),
        "{}",
        gap.remediation
    );
}

#[tokio::test]
async fn access_denied_on_ec2_names_the_security_group_gap_and_keeps_the_rest() {
    use aws_sdk_ec2::operation::describe_managed_prefix_lists::DescribeManagedPrefixListsError;
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsError;
    use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
    let unused = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let lbs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers).then_output(|| {
        DescribeLoadBalancersOutput::builder()
            .load_balancers(
                aws_sdk_elasticloadbalancingv2::types::LoadBalancer::builder()
                    .load_balancer_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-alb/1")
                    .load_balancer_name("shop-alb")
                    .dns_name(ALB_DNS)
                    .security_groups("sg-0123")
                    .build(),
            )
            .build()
    });
    let listeners = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners)
        .then_output(|| DescribeListenersOutput::builder().build());
    let prefix = mock!(aws_sdk_ec2::Client::describe_managed_prefix_lists).then_error(|| {
        DescribeManagedPrefixListsError::generic(denied("ec2:DescribeManagedPrefixLists"))
    });
    let groups = mock!(aws_sdk_ec2::Client::describe_security_groups)
        .then_error(|| DescribeSecurityGroupsError::generic(denied("ec2:DescribeSecurityGroups")));
    let no_data = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
        aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder().build()
    });
    let infra = InfraClients {
        acm: aws_sdk_acm::Client::new(&unused),
        elb: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            [&lbs, &listeners]
        ),
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&prefix, &groups]),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&no_data]),
    };
    let d = diagnose_with_infra(infra).await;
    let gaps = gaps(&d);
    assert!(
        gaps.contains(&"ec2:DescribeSecurityGroups".to_string())
            && gaps.contains(&"ec2:DescribeManagedPrefixLists".to_string()),
        "{gaps:?}"
    );
    assert!(
        d.findings
            .iter()
            .any(|f| f.code == Code::OriginListenerMissing),
        "the load balancer was still judged: {:#?}",
        d.findings
    );
    assert!(
        !d.findings
            .iter()
            .any(|f| f.code == Code::OriginSecurityGroupBlocksPort),
        "unread security groups are a gap, never a verdict"
    );
}

/// A loopback stand-in for the ACM endpoint that misbehaves on every connection (a fake: the
/// point is the misbehaviour); counts connections, so retries can be seen.
async fn broken_endpoint(hang: bool) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                if hang {
                    std::future::pending::<()>().await;
                }
                // Dropping the stream after reading the request: the connection is reset.
            });
        }
    });
    (url, connections)
}

fn acm_at(endpoint: &str) -> aws_sdk_acm::Client {
    let config = aws_sdk_acm::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_acm::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_acm::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .retry_config(cf_doctor_aws::retry_config())
        .timeout_config(cf_doctor_aws::timeout_config())
        .build();
    aws_sdk_acm::Client::from_conf(config)
}

#[tokio::test]
async fn a_resetting_aws_endpoint_is_retried_then_named_and_the_rest_completes() {
    let (endpoint, connections) = broken_endpoint(false).await;
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(distribution);
    let d = diagnose(&collector(
        mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&get]),
        acm_at(&endpoint),
    ))
    .await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        cf_doctor_aws::MAX_ATTEMPTS as usize,
        "each attempt reconnected"
    );
    let gap = d
        .findings
        .iter()
        .find(|f| f.code == Code::InspectionIncomplete)
        .expect("a named gap");
    assert_eq!(gap.evidence["action"], "acm:DescribeCertificate");
    assert!(
        d.checks.iter().any(|c| c.name == "cloudfront-distribution"),
        "the rest completed"
    );
}

/// Paused time: the 10 s attempt and 30 s operation timeouts pass without waiting for them.
#[tokio::test(start_paused = true)]
async fn a_silent_aws_endpoint_costs_the_operation_timeout_then_is_named() {
    let (endpoint, connections) = broken_endpoint(true).await;
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution).then_output(distribution);
    let started = tokio::time::Instant::now();
    let d = diagnose(&collector(
        mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&get]),
        acm_at(&endpoint),
    ))
    .await;
    let waited = started.elapsed();
    let gap = d
        .findings
        .iter()
        .find(|f| f.code == Code::InspectionIncomplete)
        .expect("a named gap");
    assert!(
        gap.evidence["error"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{}",
        gap.evidence
    );
    // Simulated time, not wall-clock: the policy bounds the wait.
    assert!(
        waited <= Duration::from_secs(31),
        "bounded by the 30 s operation timeout: {waited:?}"
    );
    assert!(connections.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}
