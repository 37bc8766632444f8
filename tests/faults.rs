//! Faults that must not lose anything: the Lambda deadline on every trigger kind, concurrent work
//! in one process, one delivery channel down while the other works, and credentials that must
//! never appear in output.

mod common;

use std::io::Write;
use std::time::Duration;

use cf_doctor::config::{Config, Secret};
use cf_doctor::trigger::Target;
use cf_doctor::{App, RunError, RunOptions, TargetResult};
use cf_doctor_model::{Code, Diagnosis, TriggerInfo};
use cf_doctor_testkit::{
    create_distribution, moto, sdk_config, slack_sink, tls_origin, DistributionSpec, LeafSpec,
    Moto, OriginConfig, TestCa,
};
use common::{alarm, lab};

fn sweep() -> Target {
    Target::Sweep {
        trigger: TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: "test sweep".into(),
            distribution_id: None,
            status: None,
        },
        include_disabled: false,
    }
}

/// What must be the same whether work ran alone or alongside other work.
fn shape(d: &Diagnosis) -> (String, Vec<(String, String)>, usize) {
    let mut findings: Vec<(String, String)> = d
        .findings
        .iter()
        .map(|f| (f.code.as_str().to_string(), f.resource.clone()))
        .collect();
    findings.sort();
    (d.verdict.as_str().to_string(), findings, d.checks.len())
}

fn diagnosed(outcome: TargetResult) -> Diagnosis {
    match outcome {
        TargetResult::Diagnosed(d) => *d,
        other => panic!("expected a diagnosis, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_too_close_still_gives_an_alarm_a_partial_report_naming_the_gaps() {
    let lab = lab().await;
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&["deadline.origin.test"]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(
            "deadline.origin.test",
            origin.port(),
        ))
        .await;
    let app = lab.app(lab.config("deadline.origin.test"));
    let options = RunOptions {
        deadline: Some(tokio::time::Instant::now() + Duration::from_millis(1)),
        ..RunOptions::new(false)
    };
    let target = Target::Distribution {
        id: id.clone(),
        trigger: alarm(&id, None),
    };
    let d = diagnosed(app.run_target(target, &options).await.unwrap());
    let unchecked: Vec<String> = d
        .findings
        .iter()
        .filter(|f| f.code == Code::InspectionIncomplete)
        .map(|f| f.evidence["unchecked"].as_str().unwrap().to_string())
        .collect();
    for stage in [
        "the live origin probes",
        "the load balancers behind the origins",
        "the CloudWatch metrics",
        "the request through the edge",
    ] {
        assert!(
            unchecked.iter().any(|u| u == stage),
            "{stage} missing from {unchecked:?}"
        );
    }
    assert!(
        d.checks.iter().any(|c| c.name == "cloudfront-distribution"),
        "what fits is still done"
    );
    assert_eq!(d.verdict.as_str(), "unknown", "gaps are never health");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sweeps_and_ten_alarm_diagnoses_at_once_equal_one_at_a_time() {
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let ca = TestCa::new("concurrency root");
    let good = ca.leaf(&LeafSpec::valid_for(&["*.concurrent.test"]));
    let bad = ca.leaf(&LeafSpec::valid_for(&["*.concurrent.test"]).expired_days_ago(2));
    let good_origin = tls_origin(OriginConfig::new(
        good.full_chain(),
        good.key_der.clone_key(),
    ))
    .await;
    let bad_origin = tls_origin(OriginConfig::new(bad.full_chain(), bad.key_der.clone_key())).await;
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let mut config = Config {
        probe_timeout: Duration::from_millis(1500),
        origin_regions: vec!["us-east-1".into()],
        ..Config::default()
    };
    let mut ids = Vec::new();
    for i in 0..10 {
        let host = format!("o{i}.concurrent.test");
        let port = if i % 3 == 0 {
            bad_origin.port()
        } else {
            good_origin.port()
        };
        ids.push(create_distribution(&cf, &DistributionSpec::https_origin(&host, port)).await);
        config.add_resolve(&format!("{host}=127.0.0.1")).unwrap();
    }
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca.cert_pem().as_bytes()).unwrap();
    config.ca_file = Some(ca_file.path().to_path_buf());
    let app = App::new(&sdk, config).unwrap();
    let options = RunOptions::new(false);
    let targets = || {
        let mut t: Vec<Target> = ids
            .iter()
            .map(|id| Target::Distribution {
                id: id.clone(),
                trigger: alarm(id, None),
            })
            .collect();
        t.push(sweep());
        t.push(sweep());
        t
    };
    let mut alone = Vec::new();
    for target in targets() {
        alone.push(shape(&diagnosed(
            app.run_target(target, &options).await.unwrap(),
        )));
    }
    let together =
        futures::future::join_all(targets().into_iter().map(|t| app.run_target(t, &options))).await;
    let together: Vec<_> = together
        .into_iter()
        .map(|o| shape(&diagnosed(o.unwrap())))
        .collect();
    assert_eq!(alone, together);
    assert_eq!(
        alone.iter().filter(|s| s.0 == "critical").count(),
        4 + 2,
        "distributions 0, 3, 6, 9 and both sweeps see the expired certificate"
    );
}

/// Changed by issue 14: with one channel down and no delivery record kept (as here, outside
/// Lambda), the run used to fail; a retry would then page again on the channel that worked. It
/// succeeds now, and the failed channel is logged with the report. With records (Lambda), a
/// failed channel fails the invocation: tests/lambda_delivery.rs.
#[tokio::test(flavor = "multi_thread")]
async fn with_sns_down_and_no_record_kept_slack_gets_the_report_and_the_run_succeeds() {
    let lab = lab().await;
    let (_origin, id) = lab.expired_origin("sns-down.origin.test", 1).await;
    let sink = slack_sink().await;
    let mut config = lab.config("sns-down.origin.test");
    config.sns_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:deleted-topic".into());
    config.slack_webhook_url = Some(Secret::new(sink.url.clone()));
    let app = lab.app(config);
    let result = app
        .run_targets(
            vec![Target::Distribution {
                id: id.clone(),
                trigger: alarm(&id, None),
            }],
            &RunOptions::new(true),
        )
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.posts().len(), 1, "Slack was still tried and got it");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_slack_down_sns_still_gets_the_report() {
    let lab = lab().await;
    let (_origin, id) = lab.expired_origin("slack-down.origin.test", 1).await;
    let sns = aws_sdk_sns::Client::new(&lab.sdk);
    let sqs = aws_sdk_sqs::Client::new(&lab.sdk);
    let (topic, queue) = cf_doctor_testkit::topic_with_queue(&sns, &sqs, "faults-slack-down").await;
    let mut config = lab.config("slack-down.origin.test");
    config.sns_topic_arn = Some(topic);
    config.slack_webhook_url = Some(Secret::new(format!(
        "http://127.0.0.1:{}/services/T/B/X",
        cf_doctor_testkit::closed_port()
    )));
    let app = lab.app(config);
    let result = app
        .run_targets(
            vec![Target::Distribution {
                id: id.clone(),
                trigger: alarm(&id, None),
            }],
            &RunOptions::new(true),
        )
        .await;
    assert!(result.is_ok(), "no record kept: not retried: {result:?}");
    assert_eq!(
        cf_doctor_testkit::receive_all(&sqs, &queue, 1).await.len(),
        1,
        "SNS got it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_every_channel_down_the_run_fails_carrying_the_report() {
    let lab = lab().await;
    let (_origin, id) = lab.expired_origin("all-down.origin.test", 1).await;
    let mut config = lab.config("all-down.origin.test");
    config.sns_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:deleted-topic".into());
    config.slack_webhook_url = Some(Secret::new(format!(
        "http://127.0.0.1:{}/services/T/B/X",
        cf_doctor_testkit::closed_port()
    )));
    let app = lab.app(config);
    let result = app
        .run_targets(
            vec![Target::Distribution {
                id: id.clone(),
                trigger: alarm(&id, None),
            }],
            &RunOptions::new(true),
        )
        .await;
    match result {
        Err(RunError::Delivery { error, reports }) => {
            assert_eq!(error.failures.len(), 2, "{error}");
            assert_eq!(
                reports.len(),
                1,
                "the report travels with the error, to be logged"
            );
            assert_eq!(reports[0].probable_cause, Some(Code::OriginCertExpired));
        }
        other => panic!("expected a delivery error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_appear_in_any_output_even_at_trace_level() {
    let canary = "CANARYsecretKEY0000000000000000000000000";
    let event = format!("{}/events/manual-sweep.json", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .args(["invoke", &event])
        .env_clear()
        .envs(cf_doctor_testkit::aws_env(&moto().endpoint))
        .env("AWS_SECRET_ACCESS_KEY", canary)
        .env("AWS_SESSION_TOKEN", "CANARYsessionTOKEN")
        .env("RUST_LOG", "trace")
        .output()
        .await
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.code().is_some_and(|c| c <= 3), "{output}");
    assert!(output.len() > 1000, "trace logging was on");
    assert!(
        !output.contains("CANARYsecretKEY") && !output.contains("CANARYsessionTOKEN"),
        "a credential leaked"
    );
}
