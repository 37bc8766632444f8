//! The real binary as Lambda runs it: AWS_LAMBDA_RUNTIME_API points at a loopback stand-in of the
//! Runtime API, which hands out every event in events/ (and one event cf-doctor does not accept)
//! and records the answers. Each sample is accepted and answered with the kind of result this file
//! names for it; a sample without an expectation here fails the test, so a new one gets one.

mod common;

use std::time::Duration;

use cf_doctor_testkit::{aws_proxy, moto, runtime_api, Fault, FaultKind};
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
    /// An error result whose message names this (an alarm on something this account lacks).
    Error(&'static str),
    /// A postmortem (schema cf-doctor/postmortem/v1).
    Postmortem,
}

fn expectation(file: &str) -> Expect {
    match file {
        "alarm-eventbridge.json" | "alarm-sns.json" | "alarm-direct.json" => {
            Expect::Diagnosis("alarm", Some("origin-cert-expired"))
        }
        "alarm-metric-math-two-distributions.json" => {
            Expect::Diagnoses(&["E2EXAMPLE", "E3EXAMPLE"])
        }
        "alarm-ok-eventbridge.json" | "alarm-composite.json" | "alarm-sns-other-namespace.json" => {
            Expect::Acknowledged
        }
        // The function alarm is diagnosed; the test account (moto) has no such function, so the
        // answer is the error that says so, as for an unknown distribution.
        "alarm-cloudfront-function.json" => Expect::Error("shop-url-rewrite"),
        "manual-diagnose.json" => Expect::Diagnosis("manual", Some("origin-cert-expired")),
        "manual-sweep.json" | "manual-sweep-include-disabled.json" => {
            Expect::Diagnosis("manual", None)
        }
        "schedule.json" => Expect::Diagnosis("schedule", None),
        // The test distribution has no logging: the postmortem says where it looked.
        "manual-postmortem.json" => Expect::Postmortem,
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
        if let Expect::Error(named) = expectation(name) {
            let error = answer.result.as_ref().expect_err("an error result");
            let message = error["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains(named), "{name}: {error}");
            continue;
        }
        let response = answer.result.as_ref().unwrap_or_else(|e| {
            panic!("{name} was answered with an error where a response is expected: {e}")
        });
        match expectation(name) {
            Expect::Acknowledged => {
                assert_eq!(response["acknowledged"], true, "{name}: {response}");
                assert!(response["note"].is_string(), "{name}: {response}");
            }
            Expect::Postmortem => {
                assert_eq!(
                    response["schema"], "cf-doctor/postmortem/v1",
                    "{name}: {response}"
                );
                assert_eq!(
                    response["distribution_id"],
                    id.as_str(),
                    "{name}: {response}"
                );
                assert!(
                    response["notes"].as_array().is_some_and(|n| !n.is_empty()),
                    "{name}: where it looked is said: {response}"
                );
            }
            Expect::Error(_) => unreachable!("handled above"),
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
    assert_lambda_log_format(&stderr, &answers);
    assert_metrics_of_every_sample(&stderr, &names, &answers, &id);
}

/// Every line is one JSON object with Lambda's log fields at the top; each diagnosis line names
/// its invocation and carries the probable cause as the contract spells it.
fn assert_lambda_log_format(stderr: &str, answers: &[runtime_api::Invocation]) {
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let line: Value = serde_json::from_str(line).unwrap();
        let at = line["timestamp"].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "timestamp (RFC 3339): {line}"
        );
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .contains(&line["level"].as_str().unwrap_or("")),
            "level: {line}"
        );
        assert!(line["message"].is_string(), "message: {line}");
    }
    for answer in answers {
        let Ok(response) = &answer.result else {
            continue;
        };
        if response["schema"] != "cf-doctor/diagnosis/v1" {
            continue;
        }
        let logged: Vec<Value> = stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["message"] == "diagnosis" && l["requestId"] == answer.request_id.as_str())
            .collect();
        assert_eq!(logged.len(), 1, "{}: one diagnosis line", answer.request_id);
        assert_eq!(logged[0]["verdict"], response["verdict"]);
        // The code itself, never a debug form like Some(OriginCertExpired); absent when none.
        assert_eq!(
            logged[0].get("probable_cause").unwrap_or(&Value::Null),
            &response["probable_cause"],
            "{}",
            logged[0]
        );
    }
}

/// The metrics lines of one invocation.
fn emf_of<'a>(docs: &'a [Value], answer: &runtime_api::Invocation) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["requestId"] == answer.request_id.as_str())
        .collect()
}

/// EMF lines on every run, valid per the specification, with the founding outage's values:
/// the alarm and manual diagnoses of the expired origin are critical with one critical finding,
/// and the sweeps see its certificate as expired.
fn assert_metrics_of_every_sample(
    stderr: &str,
    names: &[String],
    answers: &[runtime_api::Invocation],
    id: &str,
) {
    let docs = common::emf::documents(stderr);
    for doc in &docs {
        common::emf::check(doc).unwrap_or_else(|e| panic!("not valid EMF ({e}): {doc}"));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "CfDoctor");
    }
    for (index, answer) in answers.iter().enumerate() {
        let name = names
            .get(index)
            .map(String::as_str)
            .unwrap_or("the unknown event");
        let mine = emf_of(&docs, answer);
        let runs: Vec<&&Value> = mine
            .iter()
            .filter(|d| common::emf::dimensions(d).is_empty())
            .collect();
        assert_eq!(runs.len(), 1, "{name}: one run line: {mine:?}");
        let run = runs[0];
        assert_eq!(
            common::emf::metric_names(run),
            [
                "AwsCalls",
                "AwsRetries",
                "ProbeFailures",
                "DeliveryFailures"
            ],
            "{name}"
        );
        assert_eq!(run["DeliveryFailures"], 0, "{name}: nothing to deliver to");
        let by = |dimension: &str| -> Vec<&&Value> {
            mine.iter()
                .filter(|d| common::emf::dimensions(d) == [dimension])
                .collect()
        };
        let expected = names.get(index).map(|n| expectation(n));
        match expected {
            Some(Expect::Error(_)) => {
                assert_eq!(mine.len(), 1, "{name}: the run line only: {mine:?}");
                assert!(
                    run["AwsCalls"].as_u64() >= Some(1),
                    "{name}: the function was looked up: {run}"
                );
            }
            Some(Expect::Postmortem) => {
                assert_eq!(mine.len(), 1, "{name}: the run line only: {mine:?}");
                assert!(
                    run["AwsCalls"].as_u64() >= Some(1),
                    "{name}: the distribution and its logs were looked up: {run}"
                );
            }
            None | Some(Expect::Acknowledged) => {
                assert_eq!(mine.len(), 1, "{name}: the run line only: {mine:?}");
                if expected.is_none() {
                    assert_eq!(
                        run["AwsCalls"], 0,
                        "an event that is not accepted calls no AWS API"
                    );
                }
            }
            Some(Expect::Diagnosis(_, Some(_))) => {
                let diagnosis = by("DistributionId");
                assert_eq!(diagnosis.len(), 1, "{name}: {mine:?}");
                let d = diagnosis[0];
                assert_eq!(d["DistributionId"], id, "{name}");
                assert_eq!(d["Verdict"], 2, "{name}: critical is 2: {d}");
                assert_eq!(d["CriticalFindings"], 1, "{name}: {d}");
                assert!(
                    d["WarningFindings"].is_u64() && d["InfoFindings"].is_u64(),
                    "{d}"
                );
                assert_eq!(
                    run["ProbeFailures"], 1,
                    "{name}: the TLS handshake to the origin"
                );
                assert!(run["AwsCalls"].as_u64() >= Some(1), "{name}: {run}");
            }
            Some(Expect::Diagnoses(distributions)) => {
                let diagnoses = by("DistributionId");
                assert_eq!(
                    diagnoses.len(),
                    distributions.len(),
                    "{name}: one line per distribution diagnosed: {mine:?}"
                );
                for d in diagnoses {
                    assert_eq!(d["Verdict"], 2, "{name}: {d}");
                }
                assert_eq!(
                    run["ProbeFailures"],
                    distributions.len() as u64,
                    "{name}: one TLS handshake per origin"
                );
            }
            Some(Expect::Diagnosis(kind, None)) => {
                let sweep = by("Scope");
                assert_eq!(sweep.len(), 1, "{name}: {mine:?}");
                let s = sweep[0];
                let scope = if kind == "acm-event" {
                    "certificate"
                } else {
                    "account"
                };
                assert_eq!(s["Scope"], scope, "{name}");
                for metric in [
                    "Verdict",
                    "SweepDuration",
                    "DistributionsSeen",
                    "CertificatesSeen",
                    "InspectionGaps",
                ] {
                    assert!(s[metric].is_number(), "{name}: {metric} in {s}");
                }
                if scope == "account" {
                    assert!(s["DistributionsSeen"].as_u64() >= Some(1), "{name}: {s}");
                    // The founding outage's origin certificate expired a day ago.
                    assert!(s["CertificateDaysLeft"].as_i64() < Some(0), "{name}: {s}");
                    let expired = mine.iter().find(|d| d["Domain"] == "lambda.origin.test");
                    let expired = expired.unwrap_or_else(|| {
                        panic!("{name}: no line for the expired origin's certificate: {mine:?}")
                    });
                    assert_eq!(
                        common::emf::dimensions(expired),
                        ["CertificateId", "Domain"]
                    );
                    assert!(
                        expired["CertificateDaysLeft"].as_i64() < Some(0),
                        "{expired}"
                    );
                    assert!(mine.len() <= 2 + 20, "{name}: at most 20 certificate lines");
                }
            }
        }
    }
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
    let mut replayed = cf_doctor_rules::diagnose(
        &run.evidence,
        run.trigger.clone(),
        run.started_at,
        run.duration_ms,
    );
    // The rules are pure; the build that made the report is named where it leaves the binary.
    assert_eq!(saved.build, cf_doctor::version::build_info());
    replayed.build = saved.build.clone();
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

/// AwsCalls and AwsRetries count exactly the requests the invocation sent: the testkit proxy in
/// front of moto records every request, and throttles the first GetDistribution once (the SDK
/// retries it: one retry, not a second call).
#[tokio::test(flavor = "multi_thread")]
async fn aws_calls_and_retries_are_the_requests_each_invocation_sent() {
    let lab = lab().await;
    let (_origin, id) = lab.expired_origin("lambda-calls.origin.test", 1).await;
    let proxy = aws_proxy(&moto().endpoint).await;
    proxy.inject(Fault::on(
        "cloudfront",
        "GetDistribution",
        1,
        FaultKind::Throttle,
    ));
    let event = serde_json::json!({"diagnose": id});
    let api = runtime_api(vec![event.clone(), event], Duration::from_secs(300)).await;
    let bootstrap = Bootstrap::start(
        &proxy.endpoint,
        &api,
        &[
            ("CF_DOCTOR_RESOLVE", "lambda-calls.origin.test=127.0.0.1"),
            ("ORIGIN_CA_FILE", &lab.ca_file.path().to_string_lossy()),
            ("PROBE_TIMEOUT_MS", "1500"),
        ],
    );
    let answers = api.wait_for(2, Duration::from_secs(120)).await;
    let stderr = bootstrap.stop().await;
    assert_eq!(answers.len(), 2, "log:\n{stderr}");
    let docs = common::emf::documents(&stderr);
    let calls = proxy.calls();
    let mut counted = Vec::new();
    for answer in &answers {
        let run = emf_of(&docs, answer)
            .into_iter()
            .find(|d| d["AwsCalls"].is_u64())
            .unwrap_or_else(|| panic!("no run line for {}:\n{stderr}", answer.request_id));
        let (aws_calls, aws_retries) = (
            run["AwsCalls"].as_u64().unwrap(),
            run["AwsRetries"].as_u64().unwrap(),
        );
        // What the proxy received while this invocation was being served.
        let sent = calls
            .iter()
            .filter(|c| {
                let at = c.at.into_std();
                at >= answer.handed_out && at <= answer.answered
            })
            .count() as u64;
        assert_eq!(
            aws_calls + aws_retries,
            sent,
            "{}: {run}",
            answer.request_id
        );
        assert!(aws_calls >= 1, "{run}");
        counted.push((aws_calls, aws_retries));
    }
    assert_eq!(proxy.faults_left(), 0, "the throttle was used");
    assert_eq!(
        counted[0].1, 1,
        "the throttled GetDistribution was retried once"
    );
    assert_eq!(counted[1].1, 0);
    assert_eq!(
        counted[0].0, counted[1].0,
        "the same diagnosis makes the same calls"
    );
    assert_eq!(
        counted.iter().map(|(c, r)| c + r).sum::<u64>(),
        calls.len() as u64,
        "no request outside the invocations"
    );
}

/// A report that reaches neither channel (SNS answers NotFound, Slack 500): the invocation fails,
/// and the run line counts both failed deliveries while the diagnosis is still measured.
#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_are_counted_in_the_run_metrics() {
    let lab = lab().await;
    let (_origin, id) = lab
        .expired_origin("lambda-undelivered.origin.test", 1)
        .await;
    let slack = cf_doctor_testkit::slack_sink().await;
    slack.reply_with(vec![cf_doctor_testkit::Reply::Status(500)]);
    let api = runtime_api(
        vec![serde_json::json!({"diagnose": id})],
        Duration::from_secs(300),
    )
    .await;
    let bootstrap = Bootstrap::start(
        &moto().endpoint,
        &api,
        &[
            (
                "CF_DOCTOR_RESOLVE",
                "lambda-undelivered.origin.test=127.0.0.1",
            ),
            ("ORIGIN_CA_FILE", &lab.ca_file.path().to_string_lossy()),
            ("PROBE_TIMEOUT_MS", "1500"),
            (
                "SNS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:no-such-topic",
            ),
            ("SLACK_WEBHOOK_URL", &slack.url),
            ("METRICS_NAMESPACE", "Ops/CfDoctor"),
        ],
    );
    let answers = api.wait_for(1, Duration::from_secs(120)).await;
    let stderr = bootstrap.stop().await;
    assert!(
        answers[0].result.is_err(),
        "delivery failed: an error result"
    );
    let docs = common::emf::documents(&stderr);
    for doc in &docs {
        common::emf::check(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Ops/CfDoctor"
        );
    }
    let mine = emf_of(&docs, &answers[0]);
    let run = mine
        .iter()
        .find(|d| d["DeliveryFailures"].is_u64())
        .unwrap_or_else(|| panic!("no run line:\n{stderr}"));
    assert_eq!(run["DeliveryFailures"], 2, "SNS and Slack: {run}");
    let diagnosis = mine
        .iter()
        .find(|d| d["DistributionId"] == id.as_str())
        .expect("the diagnosis is measured though it was not delivered");
    assert_eq!(diagnosis["Verdict"], 2);
}
