//! Issue 22: CloudFront's own record of the alarm's window beside what cf-doctor measured. The
//! real-time logs are moto's Kinesis stream, filled as CloudFront fills it (one record per
//! request, tab-separated in the configuration's field order, `-` for empty); moto keeps the
//! distribution's RealtimeLogConfigArn but serves neither GetRealtimeLogConfig nor
//! GetMonitoringSubscription, so the testkit's proxy answers those two with CloudFront's XML, and
//! each test says so.

mod common;

use chrono::{Duration, Utc};

use cf_doctor_model::evidence::Evidence;
use cf_doctor_model::{Code, Diagnosis, Severity};
use cf_doctor_testkit::cloudfront_xml::{
    answer, no_monitoring_subscription, realtime_log_config, realtime_log_config_arn,
};
use cf_doctor_testkit::kinesis::{put_lines, realtime_stream, record_line};
use cf_doctor_testkit::{
    aws_proxy, moto, sdk_config, tls_origin, AwsProxy, DistributionSpec, Fault, LeafSpec,
    OriginConfig,
};
use common::{alarm, codes, lab, Lab};

/// The fields of the tests' configuration, in CloudFront's delivery order.
const FIELDS: [&str; 9] = [
    "timestamp",
    "c-ip",
    "sc-status",
    "cs-uri-stem",
    "x-edge-location",
    "x-edge-result-type",
    "x-edge-detailed-result-type",
    "cache-behavior-path-pattern",
    "origin-fbl",
];

/// `n` requests logged `minutes_ago`, each answered `status` with `result_type`.
fn requests(n: usize, minutes_ago: i64, status: &str, result_type: &str) -> Vec<String> {
    let at = Utc::now() - Duration::minutes(minutes_ago);
    (0..n)
        .map(|i| {
            let stamp = format!("{}.{:03}", at.timestamp(), i % 1000);
            let plain = if status.starts_with('5') {
                "Error"
            } else {
                "Miss"
            };
            let location = if i % 2 == 0 { "IAD89-C1" } else { "FRA56-P1" };
            record_line(&[
                &stamp,
                "203.0.113.9",
                status,
                "/api/cart?id=7",
                location,
                plain,
                result_type,
                "/api/*",
                if status.starts_with('5') { "" } else { "0.031" },
            ])
        })
        .collect()
}

struct Site {
    id: String,
    host: String,
    _origin: cf_doctor_testkit::Origin,
    proxy: AwsProxy,
}

/// A distribution whose default behaviour logs to a real-time configuration (`sampling`
/// percent) on a stream of its own holding `lines`; the origin serves a certificate that expired
/// `expired` days ago, or a valid one.
async fn site(
    lab: &Lab,
    name: &str,
    expired: Option<i64>,
    sampling: u32,
    lines: &[String],
) -> Site {
    let host = format!("{name}.logs.test");
    let spec = LeafSpec::valid_for(&[&host]);
    let leaf = lab.ca.leaf(&match expired {
        Some(days) => spec.expired_days_ago(days),
        None => spec,
    });
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let stream = realtime_stream(&lab.sdk, &format!("{name}-realtime"), 2).await;
    put_lines(&lab.sdk, &stream, lines).await;
    let id = lab
        .distribution(&DistributionSpec {
            realtime_log_config_arn: Some(realtime_log_config_arn(name)),
            ..DistributionSpec::https_origin(&host, origin.port())
        })
        .await;
    let proxy = aws_proxy(&moto().endpoint).await;
    // moto serves no GetRealtimeLogConfig: the proxy answers as CloudFront does.
    proxy.inject(Fault::on(
        "cloudfront",
        "GetRealtimeLogConfig",
        1,
        answer(realtime_log_config(name, sampling, &stream, &FIELDS)),
    ));
    Site {
        id,
        host,
        _origin: origin,
        proxy,
    }
}

async fn diagnose(lab: &Lab, site: &Site, status: Option<u16>) -> (Evidence, Diagnosis) {
    let app = cf_doctor::App::new(
        &sdk_config(&site.proxy.endpoint).await,
        lab.config(&site.host),
    )
    .unwrap();
    let evidence = app.collector.distribution(&site.id).await.unwrap();
    let d = cf_doctor_rules::diagnose(&evidence, alarm(&site.id, status), Utc::now(), 0);
    (evidence, d)
}

#[tokio::test(flavor = "multi_thread")]
async fn logged_origin_connect_errors_agree_with_an_expired_origin_certificate() {
    let lab = lab().await;
    let mut lines = requests(40, 5, "502", "OriginConnectError");
    lines.extend(requests(10, 6, "200", "Miss"));
    let site = site(&lab, "agree", Some(3), 100, &lines).await;
    let (_, d) = diagnose(&lab, &site, Some(502)).await;

    assert_eq!(site.proxy.faults_left(), 0, "the configuration was read");
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginCertExpired),
        "{:#?}",
        d.findings
    );
    let cause = &d.findings[0];
    assert_eq!(cause.facts.cloudfront_agrees, Some(true));
    assert_eq!(
        cause.evidence["cloudfront_logged"],
        "CloudFront logged 40 of its 40 5xx in the window as OriginConnectError, what this cause produces"
    );
    assert!(
        !codes(&d).contains(&"cloudfront-logged-origin-errors"),
        "{:?}",
        codes(&d)
    );
    let log = d.cloudfront_log.as_ref().expect("what CloudFront logged");
    assert_eq!((log.records, log.errors_5xx), (50, 40));
    assert_eq!(log.by_result_type["OriginConnectError"], 40);
    assert_eq!(log.by_status["502"], 40);
    assert_eq!(log.by_edge_location["IAD89-C1"], 20);
    assert_eq!(log.by_path["/api/*"], 40);
    assert_eq!(log.sampling_rate, Some(100));
    assert!(
        log.source
            .starts_with("real-time log config agree (Kinesis stream agree-realtime)"),
        "{}",
        log.source
    );
    let json: serde_json::Value = serde_json::to_value(&d).unwrap();
    for key in [
        "source",
        "sampling_rate",
        "window",
        "records",
        "errors_5xx",
        "by_result_type",
        "by_status",
        "by_edge_location",
        "by_path",
        "first_error_at",
        "last_error_at",
    ] {
        assert!(
            json["cloudfront_log"].get(key).is_some(),
            "cloudfront_log.{key}: {}",
            json["cloudfront_log"]
        );
    }
    let text = cf_doctor_render::render(&d, cf_doctor_render::Format::Text);
    assert!(text.contains("What CloudFront logged:"), "{text}");
    assert!(
        text.contains("by result type: OriginConnectError 40"),
        "{text}"
    );
    let slack = cf_doctor_render::slack::payload(&d).to_string();
    assert!(slack.contains("What CloudFront logged"), "{slack}");
}

#[tokio::test(flavor = "multi_thread")]
async fn origin_errors_cloudfront_logged_that_the_probe_does_not_see_are_a_finding() {
    let lab = lab().await;
    // Sampled at 10%: 30 records stand for about 300 requests.
    let lines = requests(30, 4, "502", "OriginDnsError");
    let site = site(&lab, "disagree", None, 10, &lines).await;
    let (_, d) = diagnose(&lab, &site, Some(502)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::CloudfrontLoggedOriginErrors),
        "{:#?}",
        d.findings
    );
    let finding = &d.findings[0];
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.status_codes, [502]);
    assert_eq!(
        finding.title,
        "CloudFront logged 30 OriginDnsError (sampled at 10%: about 300 requests) at 2 edge location(s) that nothing cf-doctor measured explains"
    );
    assert_eq!(finding.evidence["result_type"], "OriginDnsError");
    assert_eq!(d.cloudfront_log.as_ref().unwrap().sampling_rate, Some(10));
    let text = cf_doctor_render::render(&d, cf_doctor_render::Format::Text);
    assert!(text.contains("10% of requests sampled"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_with_nothing_in_the_window_says_so_and_finds_nothing() {
    let lab = lab().await;
    // What the stream holds was logged two hours ago: outside the alarm's window.
    let lines = requests(5, 120, "502", "OriginConnectError");
    let site = site(&lab, "quiet", None, 100, &lines).await;
    let (_, d) = diagnose(&lab, &site, None).await;

    let log = d.cloudfront_log.as_ref().unwrap();
    assert_eq!((log.records, log.errors_5xx), (0, 0));
    assert!(!codes(&d).contains(&"cloudfront-logged-origin-errors"));
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    let text = cf_doctor_render::render(&d, cf_doctor_render::Format::Text);
    assert!(
        text.contains(": 0 of 0 logged requests answered 5xx"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_real_time_configuration_the_report_says_where_the_record_is() {
    let lab = lab().await;
    let host = "standard-only.logs.test";
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[host]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec {
            logging: Some(("shop-logs.s3.amazonaws.com".into(), "cdn/".into())),
            ..DistributionSpec::https_origin(host, origin.port())
        })
        .await;
    // 5xxErrorRate has data and the 502/503/504 split none: whether the distribution has the
    // additional metrics is asked (moto serves no GetMonitoringSubscription: the proxy answers
    // with CloudFront's error for a distribution that never had them).
    common::edge::distribution_metrics(&lab.sdk, &id, &[("5xxErrorRate", 12.5)]).await;
    let proxy = aws_proxy(&moto().endpoint).await;
    proxy.inject(Fault::on(
        "cloudfront",
        "GetMonitoringSubscription",
        1,
        no_monitoring_subscription(),
    ));
    let app = cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, lab.config(host)).unwrap();
    let d = app.diagnose(&id, alarm(&id, None)).await.unwrap();

    assert!(d.cloudfront_log.is_none());
    let check = |name: &str| {
        d.checks
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.detail.clone())
            .unwrap_or_else(|| panic!("no {name} check: {:#?}", d.checks))
    };
    assert_eq!(
        check("cloudfront-log"),
        format!("no cache behaviour has a real-time log configuration: CloudFront's own record of these requests is only in its standard logs (s3://shop-logs/cdn/), delivered within the hour; `cf-doctor postmortem {id} --from ... --to ...` reads them then")
    );
    assert_eq!(
        proxy.faults_left(),
        0,
        "GetMonitoringSubscription was asked"
    );
    assert!(
        check("cloudfront-additional-metrics").contains(&format!(
            "aws cloudfront create-monitoring-subscription --distribution-id {id}"
        )),
        "{}",
        check("cloudfront-additional-metrics")
    );
    let text = cf_doctor_render::render(&d, cf_doctor_render::Format::Text);
    assert!(
        text.contains(
            "What CloudFront logged:\n  no cache behaviour has a real-time log configuration"
        ),
        "{text}"
    );
}
