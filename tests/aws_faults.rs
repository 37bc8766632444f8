//! AWS faults on the wire: the real binary, with cf-doctor's own retry and timeout policy
//! (src/aws.rs), diagnoses the founding outage behind an ALB in moto while the testkit's proxy
//! between them answers chosen calls with throttling, 5xx, AccessDenied or a reset connection.
//! Transient faults are retried until every report is whole; persistent ones become a gap named
//! by its IAM action, and the rest of the report (the expired origin certificate) still comes.
//! tests/mocked_aws.rs holds the same promises at the client level with aws-smithy-mocks.

mod common;

use std::process::Stdio;
use std::time::Duration;

use cf_doctor_testkit::{
    aws_env, aws_proxy, import_certificate, moto, tls_origin, AwsProxy, DistributionSpec, Fault,
    FaultKind, LeafSpec, Origin, OriginConfig,
};
use common::alb::{alb, AlbSpec};
use common::lab;
use serde_json::Value;

/// The founding outage in moto, reached through a fault proxy: an ALB whose DNS name is pinned to
/// a loopback origin serving an expired certificate.
struct Outage {
    proxy: AwsProxy,
    id: String,
    resolve: String,
    ca_file: tempfile::NamedTempFile,
    _origin: Origin,
}

async fn outage(name: &str) -> Outage {
    let lab = lab().await;
    let expired = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]).expired_days_ago(3));
    let origin = tls_origin(OriginConfig::new(
        expired.full_chain(),
        expired.key_der.clone_key(),
    ))
    .await;
    // moto refuses to import an expired certificate: the listener holds a valid one, the origin
    // serves the expired one (what CloudFront meets is what the probe meets).
    let listener = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]));
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let cert = import_certificate(&acm, &listener, &lab.ca.cert_pem()).await;
    let lb = alb(&lab.sdk, &AlbSpec::healthy(name, origin.port(), cert)).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    Outage {
        proxy: aws_proxy(&moto().endpoint).await,
        id,
        resolve: format!("{}=127.0.0.1", lb.dns_name),
        ca_file: lab.ca_file,
        _origin: origin,
    }
}

struct Run {
    code: i32,
    report: Value,
    stderr: String,
}

impl Outage {
    /// `cf-doctor diagnose ID --format json` with AWS_ENDPOINT_URL at the proxy.
    async fn diagnose(&self) -> Run {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
            .args(["diagnose", &self.id, "--format", "json"])
            .args(["--resolve", &self.resolve])
            .arg("--ca-file")
            .arg(self.ca_file.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(aws_env(&self.proxy.endpoint))
            .env("PROBE_TIMEOUT_MS", "2000")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("the cf-doctor binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("stdout is the diagnosis JSON ({e}); stderr:\n{stderr}"));
        Run {
            code: out.status.code().unwrap_or(-1),
            report,
            stderr,
        }
    }

    fn faults_injected(&self) -> usize {
        self.proxy
            .calls()
            .iter()
            .filter(|c| c.fault.is_some())
            .count()
    }
}

/// The IAM actions named by `inspection-incomplete` findings.
fn gaps(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "inspection-incomplete")
        .map(|f| f["evidence"]["action"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The founding outage was found: critical, the expired origin certificate first.
fn assert_found(run: &Run) {
    assert_eq!(
        run.report["probable_cause"], "origin-cert-expired",
        "{}\nstderr:\n{}",
        run.report, run.stderr
    );
    assert_eq!(
        run.code, 2,
        "exit 2 for a critical verdict; stderr:\n{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_faults_on_every_service_are_retried_until_each_report_is_whole() {
    let o = outage("cfd-faults-transient").await;
    let baseline = o.diagnose().await;
    assert_found(&baseline);
    assert_eq!(
        gaps(&baseline.report),
        Vec::<String>::new(),
        "no gap without faults"
    );
    let checks_without_faults = baseline.report["checks"].as_array().unwrap().len();

    // One script per report, one or two faults on each service cf-doctor calls.
    let script = || {
        vec![
            Fault::on("cloudfront", "GetDistribution", 2, FaultKind::Throttle),
            Fault::on("acm", "DescribeCertificate", 1, FaultKind::status(500)),
            Fault::on(
                "elasticloadbalancing",
                "DescribeLoadBalancers",
                1,
                FaultKind::Reset,
            ),
            Fault::on(
                "elasticloadbalancing",
                "DescribeTargetHealth",
                1,
                FaultKind::Throttle,
            ),
            Fault::on("ec2", "DescribeSecurityGroups", 1, FaultKind::Throttle),
            Fault::on("monitoring", "GetMetricData", 1, FaultKind::status(503)),
            Fault::on(
                "elasticloadbalancing",
                "DescribeListeners",
                1,
                FaultKind::Delay(Duration::from_millis(300)),
            ),
        ]
    };
    let reports = 5;
    let mut whole = 0;
    for _ in 0..reports {
        o.proxy.reset();
        for fault in script() {
            o.proxy.inject(fault);
        }
        let run = o.diagnose().await;
        assert_eq!(o.proxy.faults_left(), 0, "every scripted fault was met");
        assert_found(&run);
        assert_eq!(
            gaps(&run.report),
            Vec::<String>::new(),
            "retried, not given up; stderr:\n{}",
            run.stderr
        );
        assert_eq!(
            run.report["checks"].as_array().unwrap().len(),
            checks_without_faults,
            "the same checks as without faults"
        );
        whole += 1;
    }
    let per_report = o.faults_injected();
    println!(
        "faults injected: {} per report, {} in all; reports whole: {whole} of {reports}",
        per_report,
        per_report * reports
    );
    assert_eq!(per_report, 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_is_not_retried_and_becomes_a_named_gap() {
    let o = outage("cfd-faults-denied").await;
    o.proxy.inject(Fault::on(
        "elasticloadbalancing",
        "DescribeLoadBalancers",
        100,
        FaultKind::AccessDenied,
    ));
    let run = o.diagnose().await;
    assert_found(&run);
    assert_eq!(
        o.proxy
            .count("elasticloadbalancing", "DescribeLoadBalancers"),
        1,
        "AccessDenied is final: asked once"
    );
    assert_eq!(
        gaps(&run.report),
        vec!["elasticloadbalancing:DescribeLoadBalancers".to_string()],
        "{}",
        run.report
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_failing_every_time_costs_the_attempts_then_is_a_named_gap() {
    let o = outage("cfd-faults-persistent").await;
    o.proxy.inject(Fault::on(
        "monitoring",
        "GetMetricData",
        100,
        FaultKind::status(500),
    ));
    let run = o.diagnose().await;
    assert_found(&run);
    // Three GetMetricData calls, each failing every time, each its own gap naming what it would
    // have read: the distribution's metrics (read beside GetDistribution, they need only its id),
    // the load balancer's own counts (read once it is found), and the unhealthy targets of the
    // listener's target group (published per group, read once the listener is).
    assert_eq!(
        o.proxy.count("monitoring", "GetMetricData"),
        3 * cf_doctor_aws::MAX_ATTEMPTS as usize,
        "for each call the first attempt and the retries, no more"
    );
    assert_eq!(
        gaps(&run.report),
        vec![
            "cloudwatch:GetMetricData".to_string(),
            "cloudwatch:GetMetricData".to_string(),
            "cloudwatch:GetMetricData".to_string()
        ],
        "{}",
        run.report
    );
}
