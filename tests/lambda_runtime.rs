//! The real binary as Lambda runs it: AWS_LAMBDA_RUNTIME_API points at a loopback stand-in of the
//! Runtime API, which hands out every event in events/ (and one event cf-doctor does not accept)
//! and records the answers. Each sample is accepted and answered with the kind of result this file
//! names for it; a sample without an expectation here fails the test, so a new one gets one.

mod common;

use std::time::Duration;

use cf_doctor_testkit::{moto, runtime_api};
use common::bootstrap::Bootstrap;
use common::lab;
use serde_json::Value;

/// What a sample event must be answered with.
enum Expect {
    /// A diagnosis (schema cf-doctor/diagnosis/v1) with this trigger kind and, when given, this
    /// probable cause.
    Diagnosis(&'static str, Option<&'static str>),
    /// One diagnosis per distribution the alarm names, in order (a metric-math alarm).
    Diagnoses(&'static [&'static str]),
    /// An acknowledgement (an alarm leaving ALARM, or one that is not about a distribution), a
    /// success with a note, not a diagnosis.
    Acknowledged,
}

fn expectation(file: &str) -> Expect {
    match file {
        "alarm-eventbridge.json" | "alarm-sns.json" | "alarm-direct.json" => {
            Expect::Diagnosis("alarm", Some("origin-cert-expired"))
        }
        "alarm-metric-math-two-distributions.json" => {
            Expect::Diagnoses(&["E2EXAMPLE", "E3EXAMPLE"])
        }
        "alarm-ok-eventbridge.json"
        | "alarm-composite.json"
        | "alarm-sns-other-namespace.json"
        | "alarm-cloudfront-function.json" => Expect::Acknowledged,
        "manual-diagnose.json" => Expect::Diagnosis("manual", Some("origin-cert-expired")),
        "manual-sweep.json" | "manual-sweep-include-disabled.json" => {
            Expect::Diagnosis("manual", None)
        }
        "schedule.json" => Expect::Diagnosis("schedule", None),
        "acm-approaching-expiration.json"
        | "acm-certificate-expired.json"
        | "acm-renewal-action-required.json"
        | "health-acm-renewal-state-change.json"
        | "health-acm-renewal-failure.json" => Expect::Diagnosis("acm-event", None),
        other => panic!("events/{other} has no expectation in tests/lambda_runtime.rs: add one"),
    }
}

/// The diagnosis JSON shape of docs/contract.md.
fn assert_diagnosis_shape(name: &str, d: &Value) {
    assert_eq!(d["schema"], "cf-doctor/diagnosis/v1", "{name}: {d}");
    assert!(
        ["critical", "warning", "ok", "unknown"].contains(&d["verdict"].as_str().unwrap_or("")),
        "{name}: verdict {}",
        d["verdict"]
    );
    assert!(
        d["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{name}: summary"
    );
    assert!(d["trigger"]["detail"].is_string(), "{name}: trigger.detail");
    assert!(
        d["probable_cause"].is_string() || d["probable_cause"].is_null(),
        "{name}: probable_cause"
    );
    let findings = d["findings"].as_array().expect("findings is an array");
    assert_eq!(
        d["probable_cause"],
        findings
            .first()
            .map(|f| f["code"].clone())
            .unwrap_or(Value::Null),
        "{name}: probable_cause is the first finding's code"
    );
    for f in findings {
        for field in [
            "code",
            "severity",
            "resource",
            "title",
            "remediation",
            "docs",
        ] {
            assert!(f[field].is_string(), "{name}: finding without {field}: {f}");
        }
    }
    for c in d["checks"].as_array().expect("checks is an array") {
        assert!(
            c["name"].is_string() && c["target"].is_string(),
            "{name}: {c}"
        );
        assert!(
            ["pass", "fail", "error", "skipped"].contains(&c["outcome"].as_str().unwrap_or("")),
            "{name}: check outcome {c}"
        );
        assert!(c["duration_ms"].is_u64(), "{name}: {c}");
    }
    assert!(
        chrono::DateTime::parse_from_rfc3339(d["started_at"].as_str().unwrap_or("")).is_ok(),
        "{name}: started_at {}",
        d["started_at"]
    );
    assert!(d["duration_ms"].is_u64(), "{name}: duration_ms");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_is_answered_by_the_lambda_face() {
    let lab = lab().await;
    let (_origin, id) = lab.expired_origin("lambda.origin.test", 1).await;
    let (_second_origin, second_id) = lab.expired_origin("lambda-2.origin.test", 2).await;

    let (dir, names) = common::sample_events();
    assert!(names.len() >= 8, "the samples in events/: {names:?}");
    // The alarm events name E2EXAMPLE (and E3EXAMPLE): the created distributions take their place.
    let mut events: Vec<Value> = names
        .iter()
        .map(|n| {
            serde_json::from_str(
                &std::fs::read_to_string(format!("{dir}/{n}"))
                    .unwrap()
                    .replace("E2EXAMPLE", &id)
                    .replace("E3EXAMPLE", &second_id),
            )
            .unwrap_or_else(|e| panic!("events/{n} is not JSON: {e}"))
        })
        .collect();
    events.push(serde_json::json!({"source": "aws.s3", "detail-type": "Object Created"}));
    let api = runtime_api(events.clone(), Duration::from_secs(300)).await;

    let bootstrap = Bootstrap::start(
        &moto().endpoint,
        &api,
        &[
            (
                "CF_DOCTOR_RESOLVE",
                "lambda.origin.test=127.0.0.1,lambda-2.origin.test=127.0.0.1",
            ),
            ("ORIGIN_CA_FILE", &lab.ca_file.path().to_string_lossy()),
            ("PROBE_TIMEOUT_MS", "1500"),
        ],
    );
    let answers = api.wait_for(events.len(), Duration::from_secs(120)).await;
    let stderr = bootstrap.stop().await;
    let tail: String = stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n");
    assert_eq!(api.init_error(), None, "init error; log tail:\n{tail}");
    assert_eq!(
        answers.len(),
        events.len(),
        "every event is answered; log tail:\n{tail}"
    );
    assert_eq!(
        api.unexpected(),
        Vec::<String>::new(),
        "requests outside the Runtime API"
    );
    assert!(api.first_next_at().is_some());

    for (name, answer) in names.iter().zip(&answers) {
        let response = answer.result.as_ref().unwrap_or_else(|e| {
            panic!("{name} was answered with an error where a response is expected: {e}")
        });
        match expectation(name) {
            Expect::Acknowledged => {
                assert_eq!(response["acknowledged"], true, "{name}: {response}");
                assert!(response["note"].is_string(), "{name}: {response}");
            }
            Expect::Diagnoses(distributions) => {
                let reports = response.as_array().expect("one report per distribution");
                let ids: Vec<&str> = reports
                    .iter()
                    .map(|d| {
                        assert_diagnosis_shape(name, d);
                        assert_eq!(d["probable_cause"], "origin-cert-expired", "{name}: {d}");
                        d["trigger"]["distribution_id"].as_str().unwrap_or("")
                    })
                    .collect();
                let expected: Vec<String> = distributions
                    .iter()
                    .map(|d| d.replace("E2EXAMPLE", &id).replace("E3EXAMPLE", &second_id))
                    .collect();
                assert_eq!(ids, expected, "{name}: each distribution diagnosed");
            }
            Expect::Diagnosis(kind, cause) => {
                assert_diagnosis_shape(name, response);
                assert_eq!(response["trigger"]["kind"], kind, "{name}: {response}");
                if let Some(cause) = cause {
                    assert_eq!(response["probable_cause"], cause, "{name}: {response}");
                }
            }
        }
    }
    // The unknown event: an error result naming what was received and what is accepted.
    let bad = answers
        .last()
        .unwrap()
        .result
        .as_ref()
        .expect_err("an unknown event is an error result");
    assert_eq!(
        bad["errorType"], "UnrecognisedEvent",
        "a type dead-letter triage can filter on: {bad}"
    );
    let message = bad["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("source=\"aws.s3\"") && message.contains("accepted events"),
        "{message}"
    );
    // ... and logged whole, as JSON lines.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("event not handled") && l.contains("Object Created")),
        "the unknown event is logged whole; log tail:\n{tail}"
    );
    assert!(
        stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| { serde_json::from_str::<Value>(l).is_ok() }),
        "every log line in Lambda is JSON; log tail:\n{tail}"
    );
}

/// With the AWS endpoint unreachable, Lambda gets an error result naming the endpoint (so its
/// retries or on-failure destination keep the event), and the log says what happened.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_aws_endpoint_is_an_error_result_naming_it() {
    let endpoint = format!("http://127.0.0.1:{}", cf_doctor_testkit::closed_port());
    let api = runtime_api(
        vec![serde_json::json!({"diagnose": "E1EXAMPLE"})],
        Duration::from_secs(300),
    )
    .await;
    let bootstrap = Bootstrap::start(&endpoint, &api, &[]);
    let answers = api.wait_for(1, Duration::from_secs(120)).await;
    let stderr = bootstrap.stop().await;
    assert_eq!(answers.len(), 1, "the event is answered; log:\n{stderr}");
    let error = answers[0]
        .result
        .as_ref()
        .expect_err("an unreachable endpoint is an error result");
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains(&endpoint) && message.contains("cloudfront:GetDistribution"),
        "{message}"
    );
    assert_eq!(error["errorType"], "AwsUnreachable", "{error}");
    assert!(
        stderr.lines().any(|l| l.contains(&endpoint)),
        "the log names the endpoint:\n{stderr}"
    );
}

/// With SAVE_EVIDENCE_BUCKET set, each invocation's evidence lands in S3 (moto) under
/// evidence/YYYY/MM/DD/REQUEST_ID.json, and replaying it gives the very report Lambda returned.
#[tokio::test(flavor = "multi_thread")]
async fn with_an_evidence_bucket_each_invocation_keeps_its_evidence_and_it_replays() {
    let lab = lab().await;
    let (_origin, id) = lab.expired_origin("lambda-evidence.origin.test", 2).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&lab.sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = "cf-doctor-evidence-test";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let api = runtime_api(
        vec![serde_json::json!({"diagnose": id})],
        Duration::from_secs(300),
    )
    .await;
    let bootstrap = Bootstrap::start(
        &moto().endpoint,
        &api,
        &[
            ("CF_DOCTOR_RESOLVE", "lambda-evidence.origin.test=127.0.0.1"),
            ("ORIGIN_CA_FILE", &lab.ca_file.path().to_string_lossy()),
            ("PROBE_TIMEOUT_MS", "1500"),
            ("SAVE_EVIDENCE_BUCKET", bucket),
        ],
    );
    let answers = api.wait_for(1, Duration::from_secs(120)).await;
    // The evidence is stored before the answer is sent; give the log a moment to flush.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stderr = bootstrap.stop().await;
    let response = answers[0].result.as_ref().expect("a diagnosis");
    assert_eq!(response["probable_cause"], "origin-cert-expired");

    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("evidence/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys.len(),
        1,
        "one object per invocation: {keys:?}\n{stderr}"
    );
    let today = chrono::Utc::now().format("evidence/%Y/%m/%d/").to_string();
    assert!(
        keys[0].starts_with(&today) && keys[0].ends_with(".json"),
        "{}",
        keys[0]
    );
    assert!(
        stderr.contains("evidence saved") && stderr.contains(keys[0]),
        "the log says where:\n{stderr}"
    );
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(keys[0])
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    let saved =
        cf_doctor_model::replay::SavedEvidence::parse(std::str::from_utf8(&body).unwrap()).unwrap();
    assert_eq!(saved.runs.len(), 1);
    let run = &saved.runs[0];
    let replayed = cf_doctor_rules::diagnose(
        &run.evidence,
        run.trigger.clone(),
        run.started_at,
        run.duration_ms,
    );
    assert_eq!(&serde_json::to_value(&replayed).unwrap(), response);
}

/// A failed invocation says what kind of failure it was (errorType), so that the failed-events
/// queue can be sorted without reading every message.
#[tokio::test(flavor = "multi_thread")]
async fn failed_invocations_carry_an_error_type_to_sort_dead_letters_by() {
    let events = vec![
        serde_json::json!({"diagnose": "ENOSUCHDIST1"}),
        serde_json::json!({"sweep": {"include_disabled": "yes"}}),
        serde_json::json!({"source": "aws.s3", "detail-type": "Object Created"}),
    ];
    let api = runtime_api(events, Duration::from_secs(300)).await;
    let bootstrap = Bootstrap::start(&moto().endpoint, &api, &[]);
    let answers = api.wait_for(3, Duration::from_secs(120)).await;
    let stderr = bootstrap.stop().await;
    let types: Vec<String> = answers
        .iter()
        .map(|a| {
            a.result.as_ref().expect_err("each one fails")["errorType"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(
        types,
        ["UnknownDistribution", "MalformedEvent", "UnrecognisedEvent"],
        "{stderr}"
    );
}
