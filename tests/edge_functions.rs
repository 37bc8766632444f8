//! The edge's own code, diagnosed as an alarm would have it: Lambda@Edge versions created and
//! published in moto, CloudFront Functions created in moto, their metrics put into moto's
//! CloudWatch and their log lines into moto's CloudWatch Logs, all read back by cf-doctor. moto
//! drops function associations from the distributions it stores, so the proxy in front of it adds
//! them to GetDistribution and ListDistributions exactly as CloudFront sends them; moto describes
//! a CloudFront Function's DEVELOPMENT stage only (it does not publish), so the proxy shows it
//! published to LIVE. Every origin here is healthy unless a test says otherwise: what goes wrong
//! is the edge's own code.

mod common;

use aws_sdk_lambda::types::Runtime;
use cf_doctor_model::{Code, Diagnosis, Severity};
use cf_doctor_testkit::{
    aws_proxy, cloudfront_xml, moto, sdk_config, tls_origin, AwsProxy, DistributionSpec, Fault,
    FaultKind, LeafSpec, Origin, OriginConfig,
};
use common::edge::{
    cloudfront_function, distribution_metrics, lambda, lambda_role, lambda_version, log_lines,
    put_metrics, rewrite_distribution, unique,
};
use common::{alarm, codes, lab, Lab};

/// A distribution in front of a healthy (or, with `expired`, an expired-certificate) origin,
/// whose cache behaviours the proxy will describe.
struct Site {
    lab: Lab,
    proxy: AwsProxy,
    id: String,
    host: String,
    _origin: Origin,
}

async fn site(host: &str, expired: bool) -> Site {
    let lab = lab().await;
    let mut spec = LeafSpec::valid_for(&[host]);
    if expired {
        spec = spec.expired_days_ago(3);
    }
    let leaf = lab.ca.leaf(&spec);
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(host, origin.port()))
        .await;
    Site {
        proxy: aws_proxy(&moto().endpoint).await,
        lab,
        id,
        host: host.to_string(),
        _origin: origin,
    }
}

impl Site {
    async fn diagnose(&self, status: Option<u16>) -> Diagnosis {
        cf_doctor::App::new(
            &sdk_config(&self.proxy.endpoint).await,
            self.lab.config(&self.host),
        )
        .expect("the app starts")
        .diagnose(&self.id, alarm(&self.id, status))
        .await
        .expect("the inspection completes")
    }

    /// A published Lambda@Edge version (nodejs24.x, 5 s, 128 MB) associated with the default
    /// behaviour for `event_type`; returns (name, versioned ARN).
    async fn with_lambda(&self, event_type: &str) -> (String, String) {
        let role = lambda_role(&moto().endpoint).await;
        let name = unique("edge-fn");
        let arn = lambda_version(&self.lab.sdk, &role, &name, Runtime::Nodejs24x, 5, 128).await;
        let association = lambda(&arn, event_type);
        rewrite_distribution(&self.proxy, &self.id, move |xml| {
            cloudfront_xml::with_lambda_associations(xml, None, std::slice::from_ref(&association))
        });
        (name, arn)
    }

    /// A CloudFront Function on the default behaviour's viewer requests, published to LIVE.
    async fn with_cloudfront_function(&self) -> (String, String) {
        let name = unique("cff");
        let arn = cloudfront_function(&self.lab.cloudfront, &name).await;
        let associated = arn.clone();
        rewrite_distribution(&self.proxy, &self.id, move |xml| {
            cloudfront_xml::with_function_associations(
                xml,
                None,
                &[(&associated, "viewer-request")],
            )
        });
        self.proxy
            .rewrite("cloudfront", "DescribeFunction", cloudfront_xml::published);
        (name, arn)
    }

    /// What CloudFront says of the distribution: `requests` viewer requests in the window, and
    /// its 5xx rate (with the additional metrics, the 502 and 503 rates) in percent.
    async fn traffic(&self, requests: f64, rate_5xx: f64, rate_502: f64, rate_503: f64) {
        distribution_metrics(
            &self.lab.sdk,
            &self.id,
            &[
                ("Requests", requests),
                ("5xxErrorRate", rate_5xx),
                ("502ErrorRate", rate_502),
                ("503ErrorRate", rate_503),
            ],
        )
        .await;
    }
}

/// What a Lambda@Edge replica publishes in `region`.
async fn replica_metrics(lab: &Lab, name: &str, region: &str, values: &[(&str, f64)]) {
    let replica = format!("us-east-1.{name}");
    put_metrics(
        &lab.sdk,
        region,
        "AWS/Lambda",
        &[("FunctionName", &replica)],
        values,
    )
    .await;
}

fn finding(d: &Diagnosis, code: Code) -> &cf_doctor_model::Finding {
    d.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} among {:#?}", d.findings))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lambda_edge_function_that_throws_is_the_cause_of_a_503_alarm() {
    let site = site("lambda-throws.origin.test", false).await;
    let (name, arn) = site.with_lambda("origin-request").await;
    replica_metrics(
        &site.lab,
        &name,
        "eu-west-1",
        &[
            ("Invocations", 400.0),
            ("Errors", 120.0),
            ("Throttles", 0.0),
            ("Duration", 40.0),
        ],
    )
    .await;
    site.traffic(400.0, 30.0, 0.0, 30.0).await;
    let group = format!("/aws/lambda/us-east-1.{name}");
    log_lines(&site.lab.sdk, "eu-west-1", &group, &[
        "START RequestId: 6c0f Version: 1",
        "2026-11-25T03:14:59.001Z\t6c0f\tERROR\tInvoke Error \t{\"errorType\":\"TypeError\",\"errorMessage\":\"Cannot read properties of undefined (reading 'uri')\"}",
        "END RequestId: 6c0f",
    ])
    .await;

    let d = site.diagnose(Some(503)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::LambdaEdgeExecutionError),
        "{:#?}",
        d.findings
    );
    let cause = &d.findings[0];
    assert_eq!(cause.severity, Severity::Critical);
    assert_eq!(cause.status_codes, vec![503]);
    assert_eq!(cause.resource, arn);
    assert_eq!(cause.evidence["ran_in"], serde_json::json!(["eu-west-1"]));
    assert_eq!(cause.evidence["errors"], 120.0);
    let lines = cause.evidence["log_lines"].to_string();
    assert!(
        lines.contains("TypeError") && lines.contains("[eu-west-1]"),
        "{lines}"
    );
    assert!(
        !lines.contains("START RequestId"),
        "only error lines are evidence: {lines}"
    );
    assert!(cause.title.contains("30% of"), "{}", cause.title);
    // Where it ran is looked up in every regional edge cache region, once each; its logs are
    // read only where its metrics show errors.
    assert_eq!(site.proxy.count("monitoring", "ListMetrics"), 17);
    let log_reads: Vec<String> = site
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "FilterLogEvents")
        .map(|c| c.region)
        .collect();
    assert_eq!(log_reads, ["eu-west-1"]);
    assert!(
        d.checks.iter().any(|c| c.name == "lambda-edge-function"
            && c.detail
                .as_deref()
                .is_some_and(|t| t.contains("state Active")
                    && t.contains("origin-request of the default cache behaviour"))),
        "{:#?}",
        d.checks
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lambda_edge_response_cloudfront_rejects_is_a_502_with_cloudfront_s_own_log_line() {
    let site = site("lambda-invalid.origin.test", false).await;
    let (name, _) = site.with_lambda("origin-response").await;
    replica_metrics(
        &site.lab,
        &name,
        "us-east-1",
        &[("Invocations", 200.0), ("Errors", 0.0)],
    )
    .await;
    site.traffic(200.0, 25.0, 25.0, 0.0).await;
    distribution_metrics(&site.lab.sdk, &site.id, &[("LambdaValidationError", 50.0)]).await;
    let group = format!("/aws/cloudfront/LambdaEdge/{}", site.id);
    log_lines(&site.lab.sdk, "us-east-1", &group, &[
        "2026-11-25T03:15:02.117Z 4bd0b6fe Validation error: The Lambda function returned an invalid entry in the headers object: The header \"content-length\" is read-only",
    ])
    .await;

    let d = site.diagnose(Some(502)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::LambdaEdgeValidationError),
        "{:#?}",
        d.findings
    );
    let cause = &d.findings[0];
    assert_eq!(
        (cause.severity, cause.status_codes.clone()),
        (Severity::Critical, vec![502])
    );
    assert!(
        cause.evidence["log_lines"]
            .to_string()
            .contains("is read-only"),
        "{}",
        cause.evidence
    );
    assert!(
        !codes(&d).contains(&"lambda-edge-execution-error"),
        "{:?}",
        codes(&d)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_lambda_edge_function_is_lambda_limit_exceeded() {
    let site = site("lambda-throttled.origin.test", false).await;
    let (name, _) = site.with_lambda("viewer-request").await;
    replica_metrics(
        &site.lab,
        &name,
        "ap-northeast-1",
        &[
            ("Invocations", 900.0),
            ("Errors", 0.0),
            ("Throttles", 300.0),
        ],
    )
    .await;
    site.traffic(1200.0, 25.0, 0.0, 25.0).await;
    distribution_metrics(
        &site.lab.sdk,
        &site.id,
        &[("LambdaLimitExceededErrors", 300.0)],
    )
    .await;

    let d = site.diagnose(None).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::LambdaEdgeThrottled),
        "{:#?}",
        d.findings
    );
    assert_eq!(
        finding(&d, Code::LambdaEdgeThrottled).evidence["throttles"],
        300.0
    );
    assert!(!codes(&d).contains(&"lambda-edge-execution-error"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_association_with_latest_cannot_work() {
    let site = site("lambda-latest.origin.test", false).await;
    let role = lambda_role(&moto().endpoint).await;
    let name = unique("edge-latest");
    let version = lambda_version(&site.lab.sdk, &role, &name, Runtime::Nodejs24x, 5, 128).await;
    let latest = version.rsplit_once(':').unwrap().0.to_string() + ":$LATEST";
    let association = lambda(&latest, "viewer-request");
    rewrite_distribution(&site.proxy, &site.id, move |xml| {
        cloudfront_xml::with_lambda_associations(xml, None, std::slice::from_ref(&association))
    });

    let d = site.diagnose(None).await;

    let f = finding(&d, Code::LambdaEdgeMisconfigured);
    assert_eq!(f.severity, Severity::Critical, "{f:#?}");
    assert!(f.title.contains("$LATEST"), "{}", f.title);
    assert_eq!(d.probable_cause, Some(Code::LambdaEdgeMisconfigured));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cloudfront_function_that_throws_is_the_cause() {
    let site = site("cff-throws.origin.test", false).await;
    let (name, arn) = site.with_cloudfront_function().await;
    put_metrics(
        &site.lab.sdk,
        "us-east-1",
        "AWS/CloudFront",
        &[("FunctionName", &name), ("Region", "Global")],
        &[
            ("FunctionInvocations", 500.0),
            ("FunctionExecutionErrors", 200.0),
            ("FunctionValidationErrors", 0.0),
            ("FunctionThrottles", 0.0),
            ("FunctionComputeUtilization", 31.0),
        ],
    )
    .await;
    site.traffic(500.0, 40.0, 0.0, 40.0).await;

    let d = site.diagnose(Some(503)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::CloudfrontFunctionExecutionError),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.findings[0].resource, arn);
    assert_eq!(d.findings[0].evidence["live"]["stage"], "LIVE");
    assert!(
        d.checks.iter().any(|c| c.name == "cloudfront-function"
            && c.detail
                .as_deref()
                .is_some_and(|t| t.starts_with("LIVE stage: DEPLOYED"))),
        "{:#?}",
        d.checks
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cloudfront_function_that_breaks_a_read_only_header_is_a_502() {
    let site = site("cff-invalid.origin.test", false).await;
    let (name, _) = site.with_cloudfront_function().await;
    put_metrics(
        &site.lab.sdk,
        "us-east-1",
        "AWS/CloudFront",
        &[("FunctionName", &name), ("Region", "Global")],
        &[
            ("FunctionInvocations", 300.0),
            ("FunctionValidationErrors", 90.0),
        ],
    )
    .await;
    site.traffic(300.0, 30.0, 30.0, 0.0).await;

    let d = site.diagnose(Some(502)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::CloudfrontFunctionValidationError),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.findings[0].status_codes, vec![502]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_cloudfront_function_is_named_and_compute_at_the_limit_alone_is_not_a_cause() {
    let busy = site("cff-throttled.origin.test", false).await;
    let (name, _) = busy.with_cloudfront_function().await;
    put_metrics(
        &busy.lab.sdk,
        "us-east-1",
        "AWS/CloudFront",
        &[("FunctionName", &name), ("Region", "Global")],
        &[
            ("FunctionInvocations", 1000.0),
            ("FunctionThrottles", 250.0),
            ("FunctionComputeUtilization", 100.0),
        ],
    )
    .await;
    busy.traffic(1000.0, 25.0, 0.0, 25.0).await;
    let d = busy.diagnose(None).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::CloudfrontFunctionThrottled),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.findings[0].evidence["compute_utilization_max"], 100.0);

    let calm = site("cff-at-limit.origin.test", false).await;
    let (name, _) = calm.with_cloudfront_function().await;
    put_metrics(
        &calm.lab.sdk,
        "us-east-1",
        "AWS/CloudFront",
        &[("FunctionName", &name), ("Region", "Global")],
        &[
            ("FunctionInvocations", 1000.0),
            ("FunctionThrottles", 0.0),
            ("FunctionComputeUtilization", 100.0),
        ],
    )
    .await;
    let d = calm.diagnose(None).await;
    assert_eq!(
        finding(&d, Code::CloudfrontFunctionThrottled).severity,
        Severity::Info
    );
    assert_eq!(d.probable_cause, None, "{:#?}", d.findings);
}

// A function with zero errors is never a cause, even beside a broken origin, and even with a
// deprecated runtime (information only while it runs cleanly).
#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_function_never_appears_as_a_cause() {
    let site = site("healthy-fn.origin.test", true).await;
    let role = lambda_role(&moto().endpoint).await;
    let name = unique("edge-old");
    let arn = lambda_version(&site.lab.sdk, &role, &name, Runtime::Nodejs16x, 5, 128).await;
    let cff = unique("cff-ok");
    let cff_arn = cloudfront_function(&site.lab.cloudfront, &cff).await;
    let association = lambda(&arn, "origin-request");
    rewrite_distribution(&site.proxy, &site.id, move |xml| {
        let xml =
            cloudfront_xml::with_lambda_associations(xml, None, std::slice::from_ref(&association));
        cloudfront_xml::with_function_associations(&xml, None, &[(&cff_arn, "viewer-request")])
    });
    site.proxy
        .rewrite("cloudfront", "DescribeFunction", cloudfront_xml::published);
    replica_metrics(
        &site.lab,
        &name,
        "eu-central-1",
        &[
            ("Invocations", 500.0),
            ("Errors", 0.0),
            ("Throttles", 0.0),
            ("Duration", 12.0),
        ],
    )
    .await;
    put_metrics(
        &site.lab.sdk,
        "us-east-1",
        "AWS/CloudFront",
        &[("FunctionName", &cff), ("Region", "Global")],
        &[
            ("FunctionInvocations", 500.0),
            ("FunctionExecutionErrors", 0.0),
            ("FunctionValidationErrors", 0.0),
            ("FunctionThrottles", 0.0),
        ],
    )
    .await;
    site.traffic(500.0, 100.0, 100.0, 0.0).await;

    let d = site.diagnose(Some(502)).await;

    assert_eq!(
        d.probable_cause,
        Some(Code::OriginCertExpired),
        "{:#?}",
        d.findings
    );
    let edge_code: Vec<_> = d
        .findings
        .iter()
        .filter(|f| {
            f.code.as_str().starts_with("lambda-edge")
                || f.code.as_str().starts_with("cloudfront-function")
        })
        .collect();
    assert!(
        edge_code.iter().all(|f| f.severity == Severity::Info),
        "{edge_code:#?}"
    );
    let runtime = finding(&d, Code::LambdaEdgeMisconfigured);
    assert!(
        runtime.title.contains("nodejs16.x is deprecated"),
        "{}",
        runtime.title
    );
}

// An origin-request function erroring while the origin's certificate has expired: a 503 alarm is
// about the function, a 502 alarm about the certificate.
#[tokio::test(flavor = "multi_thread")]
async fn the_alarm_s_status_decides_between_a_failing_function_and_an_expired_origin() {
    let site = site("fn-and-cert.origin.test", true).await;
    let (name, _) = site.with_lambda("origin-request").await;
    replica_metrics(
        &site.lab,
        &name,
        "us-west-2",
        &[("Invocations", 600.0), ("Errors", 200.0)],
    )
    .await;
    site.traffic(1000.0, 60.0, 40.0, 20.0).await;

    let d503 = site.diagnose(Some(503)).await;
    assert_eq!(
        d503.probable_cause,
        Some(Code::LambdaEdgeExecutionError),
        "{:#?}",
        d503.findings
    );
    let d502 = site.diagnose(Some(502)).await;
    assert_eq!(
        d502.probable_cause,
        Some(Code::OriginCertExpired),
        "{:#?}",
        d502.findings
    );
    // Both are named either way.
    for d in [&d503, &d502] {
        assert!(
            codes(d).contains(&"lambda-edge-execution-error")
                && codes(d).contains(&"origin-cert-expired")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_could_not_be_read_about_a_function_is_a_gap() {
    let site = site("fn-denied.origin.test", false).await;
    let (name, _) = site.with_lambda("viewer-request").await;
    replica_metrics(
        &site.lab,
        &name,
        "eu-west-1",
        &[("Invocations", 100.0), ("Errors", 40.0)],
    )
    .await;
    site.traffic(100.0, 40.0, 0.0, 40.0).await;
    site.proxy.inject(Fault::on(
        "lambda",
        "GetFunctionConfiguration",
        3,
        FaultKind::AccessDenied,
    ));
    site.proxy.inject(Fault::on(
        "logs",
        "FilterLogEvents",
        3,
        FaultKind::AccessDenied,
    ));

    let d = site.diagnose(Some(503)).await;

    let gaps = common::gaps(&d);
    assert!(
        gaps.contains(&"lambda:GetFunctionConfiguration".to_string()),
        "{gaps:?}"
    );
    assert!(
        gaps.contains(&"logs:FilterLogEvents".to_string()),
        "{gaps:?}"
    );
    // The metrics were still read: the cause is still named.
    assert_eq!(
        d.probable_cause,
        Some(Code::LambdaEdgeExecutionError),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_on_a_cloudfront_function_diagnoses_the_function() {
    let site = site("fn-alarm.origin.test", false).await;
    let (name, _) = site.with_cloudfront_function().await;
    put_metrics(
        &site.lab.sdk,
        "us-east-1",
        "AWS/CloudFront",
        &[("FunctionName", &name), ("Region", "Global")],
        &[
            ("FunctionInvocations", 800.0),
            ("FunctionExecutionErrors", 400.0),
        ],
    )
    .await;
    site.traffic(800.0, 50.0, 0.0, 50.0).await;
    let app = cf_doctor::App::new(
        &sdk_config(&site.proxy.endpoint).await,
        site.lab.config(&site.host),
    )
    .unwrap();
    let trigger = cf_doctor_model::TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: format!("alarm \"{name}-errors\" -> ALARM"),
        distribution_id: None,
        status: cf_doctor::edge_function::function_alarm_status("FunctionExecutionErrors"),
    };
    let result = app
        .run_target(
            cf_doctor::trigger::Target::Function {
                name: name.clone(),
                trigger,
            },
            &cf_doctor::RunOptions::new(false),
        )
        .await
        .expect("the function is diagnosed");
    let cf_doctor::TargetResult::Diagnosed(d) = result else {
        panic!("a diagnosis, not {result:?}");
    };
    assert_eq!(
        d.probable_cause,
        Some(Code::CloudfrontFunctionExecutionError),
        "{:#?}",
        d.findings
    );
    // One distribution runs it: the report is about that distribution.
    assert_eq!(d.trigger.distribution_id.as_deref(), Some(site.id.as_str()));
    assert!(
        d.checks.iter().all(|c| !c.name.starts_with("origin-")),
        "origins are not probed: {:#?}",
        d.checks
    );

    // ListDistributions denied: which distributions run it is a gap; its own errors still speak.
    site.proxy.inject(Fault::on(
        "cloudfront",
        "ListDistributions",
        1,
        FaultKind::AccessDenied,
    ));
    let trigger = cf_doctor_model::TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: "test".into(),
        distribution_id: None,
        status: Some(503),
    };
    let result = app
        .run_target(
            cf_doctor::trigger::Target::Function {
                name: name.clone(),
                trigger,
            },
            &cf_doctor::RunOptions::new(false),
        )
        .await
        .expect("still diagnosed");
    let cf_doctor::TargetResult::Diagnosed(d) = result else {
        panic!("a diagnosis");
    };
    assert!(
        common::gaps(&d).contains(&"cloudfront:ListDistributions".to_string()),
        "{:#?}",
        d.findings
    );
    assert_eq!(
        d.probable_cause,
        Some(Code::CloudfrontFunctionExecutionError),
        "{:#?}",
        d.findings
    );
    assert!(
        d.summary.contains(&format!("CloudFront Function {name}")),
        "{}",
        d.summary
    );
    // The report is about the function its target named, in every format: an incident, not a
    // sweep's digest (before, SNS said "cf-doctor sweep" here).
    assert_eq!(d.trigger.function.as_deref(), Some(name.as_str()));
    assert!(!cf_doctor_render::is_digest(&d));
    let subject = cf_doctor_render::sns::subject(&d);
    assert!(
        subject.contains(&format!(
            "cf-doctor function {name}: cloudfront-function-execution-error"
        )),
        "{subject}"
    );

    let missing = app
        .run_target(
            cf_doctor::trigger::Target::Function {
                name: unique("no-such-function"),
                trigger: cf_doctor_model::TriggerInfo::manual("test", None),
            },
            &cf_doctor::RunOptions::new(false),
        )
        .await;
    assert!(missing.is_err(), "{missing:?}");
}

/// A stand-in for CloudFront's edge on 127.0.0.N:443 (a hand-written fake: no emulator serves
/// CloudFront's data plane) answering `status` with CloudFront's `x_cache` marker, for the alias
/// of distribution `site`; returns the edge (keep it) after pinning the distribution's domain
/// to it in `config`.
async fn edge_answering(
    site: &Site,
    alias: &str,
    status: u16,
    x_cache: &str,
    nth: u32,
    config: &mut cf_doctor::config::Config,
) -> Origin {
    let domain = site
        .lab
        .cloudfront
        .get_distribution()
        .id(&site.id)
        .send()
        .await
        .unwrap()
        .distribution
        .unwrap()
        .domain_name;
    let leaf = site.lab.ca.leaf(&LeafSpec::valid_for(&[alias]));
    let mut edge = OriginConfig::new(leaf.full_chain(), leaf.key_der.clone_key());
    edge.status = status;
    edge.headers = vec![
        ("X-Cache".into(), x_cache.into()),
        ("X-Amz-Cf-Pop".into(), "NRT57-P2".into()),
        ("X-Amz-Cf-Id".into(), "q1W2e3R4t5Y6==".into()),
    ];
    let ip = format!("127.0.{}.{}", 13 + nth, 10 + std::process::id() % 240);
    let edge = cf_doctor_testkit::tls_origin_at(edge, format!("{ip}:443").parse().unwrap()).await;
    config.add_resolve(&format!("{domain}={ip}")).unwrap();
    edge
}

// CloudFront's own marker in X-Cache is the evidence that viewers get the function's error now,
// before any metric shows it; it is not reported as a generic "Error from cloudfront".
#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_s_function_markers_in_x_cache_name_the_failing_code() {
    for (nth, marker, status, code) in [
        (
            0,
            "LambdaExecutionError from cloudfront",
            503,
            Code::LambdaEdgeExecutionError,
        ),
        (
            1,
            "FunctionValidationError from cloudfront",
            502,
            Code::CloudfrontFunctionValidationError,
        ),
    ] {
        let lab = lab().await;
        let host = format!("marker-{nth}.origin.test");
        let alias = format!("www.marker-{nth}.test");
        let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[&host]));
        let origin = tls_origin(OriginConfig::new(
            leaf.full_chain(),
            leaf.key_der.clone_key(),
        ))
        .await;
        let mut spec = DistributionSpec::https_origin(&host, origin.port());
        spec.aliases = vec![alias.clone()];
        let id = lab.distribution(&spec).await;
        let site = Site {
            proxy: aws_proxy(&moto().endpoint).await,
            lab,
            id,
            host: host.clone(),
            _origin: origin,
        };
        let arn = if code == Code::LambdaEdgeExecutionError {
            site.with_lambda("viewer-request").await.1
        } else {
            site.with_cloudfront_function().await.1
        };
        let mut config = site.lab.config(&host);
        let _edge = edge_answering(&site, &alias, status, marker, nth, &mut config).await;
        let d = cf_doctor::App::new(&sdk_config(&site.proxy.endpoint).await, config)
            .unwrap()
            .diagnose(&site.id, alarm(&site.id, Some(status)))
            .await
            .unwrap();

        assert_eq!(d.probable_cause, Some(code), "{marker}: {:#?}", d.findings);
        let cause = &d.findings[0];
        assert_eq!(
            (cause.severity, cause.resource.as_str()),
            (Severity::Critical, arn.as_str())
        );
        assert_eq!(cause.evidence["per_distribution"][0]["x_cache"], marker);
        assert!(cause.title.contains("get it now"), "{}", cause.title);
        assert!(
            !codes(&d).contains(&"edge-error-from-cloudfront"),
            "{:?}",
            codes(&d)
        );
    }
}

// The nightly sweep lists every function and every origin mTLS client certificate with its
// state, from the APIs alone (no metrics, logs or region lookups: that is the alarm path's work).
#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_lists_every_function_and_mtls_certificate_with_its_state() {
    let own = cf_doctor_testkit::Moto::start();
    let sdk = sdk_config(&own.endpoint).await;
    let ca = cf_doctor_testkit::TestCa::new("sweep edge root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&["sweep-edge.origin.test"]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let spec = DistributionSpec {
        behaviors: vec![cf_doctor_testkit::BehaviorSpec::new("/api/*")],
        ..DistributionSpec::https_origin("sweep-edge.origin.test", origin.port())
    };
    let id = cf_doctor_testkit::create_distribution(&cf, &spec).await;
    let role = lambda_role(&own.endpoint).await;
    let lambda_arn =
        lambda_version(&sdk, &role, "sweep-edge-fn", Runtime::Nodejs24x, 30, 512).await;
    let cff_arn = cloudfront_function(&cf, "sweep-rewrite").await;
    let client = ca.client_leaf(
        &LeafSpec::valid_for(&["cloudfront-client.sweep.example"]).expiring_in_days(20),
    );
    let client_arn = cf_doctor_testkit::import_certificate(
        &aws_sdk_acm::Client::new(&sdk),
        &client,
        &ca.cert_pem(),
    )
    .await;
    let proxy = aws_proxy(&own.endpoint).await;
    let (association, cff, cert) = (
        lambda(&lambda_arn, "origin-request"),
        cff_arn.clone(),
        client_arn.clone(),
    );
    rewrite_distribution(&proxy, &id, move |xml| {
        let xml = cloudfront_xml::with_lambda_associations(
            xml,
            Some("/api/*"),
            std::slice::from_ref(&association),
        );
        let xml = cloudfront_xml::with_lambda_associations(
            &xml,
            None,
            std::slice::from_ref(&association),
        );
        let xml =
            cloudfront_xml::with_function_associations(&xml, None, &[(&cff, "viewer-request")]);
        cloudfront_xml::with_origin_mtls(&xml, cf_doctor_testkit::aws::ORIGIN_ID, &cert)
    });
    proxy.rewrite("cloudfront", "DescribeFunction", cloudfront_xml::published);
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca_file, ca.cert_pem().as_bytes()).unwrap();
    let mut config = cf_doctor::config::Config {
        probe_timeout: std::time::Duration::from_millis(1500),
        ca_file: Some(ca_file.path().to_path_buf()),
        ..cf_doctor::config::Config::default()
    };
    config
        .add_resolve("sweep-edge.origin.test=127.0.0.1")
        .unwrap();
    let app = cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, config).unwrap();

    let d = app
        .sweep(
            &cf_doctor_collect::sweep::Scope::All,
            cf_doctor_model::TriggerInfo::manual("manual sweep", None),
            &cf_doctor::RunOptions::new(false),
        )
        .await;

    let check = |name: &str, target: &str| {
        d.checks
            .iter()
            .find(|c| c.name == name && c.target == target)
            .and_then(|c| c.detail.clone())
            .unwrap_or_else(|| panic!("no {name} check of {target}: {:#?}", d.checks))
    };
    let lambda_state = check("lambda-edge-function", &lambda_arn);
    assert!(
        lambda_state.starts_with(
            "state Active, last update Successful, runtime nodejs24.x, timeout 30 s, memory 512 MB"
        ),
        "{lambda_state}"
    );
    assert!(
        lambda_state.contains("origin-request of cache behaviour /api/*")
            && lambda_state.contains("origin-request of the default cache behaviour"),
        "{lambda_state}"
    );
    assert!(check("cloudfront-function", &cff_arn)
        .starts_with("LIVE stage: DEPLOYED, runtime cloudfront-js-2.0"));
    let mtls = check("origin-mtls-certificate", &client_arn);
    assert!(mtls.starts_with("IMPORTED ISSUED, expires"), "{mtls}");
    let expiring = d
        .findings
        .iter()
        .find(|f| f.code == Code::OriginMtlsCertExpiring && f.resource == client_arn)
        .unwrap_or_else(|| panic!("{:#?}", d.findings));
    assert_eq!(expiring.severity, Severity::Warning);
    // One configuration read per function version, however many behaviours run it; no metrics.
    assert_eq!(proxy.count("lambda", "GetFunctionConfiguration"), 1);
    assert_eq!(
        proxy.count("monitoring", "ListMetrics") + proxy.count("monitoring", "GetMetricData"),
        0
    );
}
