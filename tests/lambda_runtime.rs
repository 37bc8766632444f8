//! The real binary as Lambda runs it: AWS_LAMBDA_RUNTIME_API points at a loopback stand-in of the
//! Runtime API, which hands out every event in events/ (and one bad event) and records the answers.

mod common;

use std::time::Duration;

use cf_doctor_testkit::{
    aws_env, moto, runtime_api, tls_origin, DistributionSpec, LeafSpec, OriginConfig,
};
use common::lab;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_is_answered_by_the_lambda_face() {
    let lab = lab().await;
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["lambda.origin.test"]).expired_days_ago(1));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(
            "lambda.origin.test",
            origin.port(),
        ))
        .await;

    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut events: Vec<Value> = names
        .iter()
        .map(|n| {
            serde_json::from_str(
                &std::fs::read_to_string(format!("{dir}/{n}"))
                    .unwrap()
                    .replace("E2EXAMPLE", &id),
            )
            .unwrap()
        })
        .collect();
    events.push(serde_json::json!({"source": "aws.s3", "detail-type": "Object Created"}));
    let api = runtime_api(events.clone(), Duration::from_secs(300)).await;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .env_clear()
        .envs(aws_env(&moto().endpoint))
        .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
        .env("AWS_LAMBDA_FUNCTION_NAME", "cf-doctor")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("CF_DOCTOR_RESOLVE", "lambda.origin.test=127.0.0.1")
        .env("ORIGIN_CA_FILE", lab.ca_file.path())
        .env("PROBE_TIMEOUT_MS", "1500")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the bootstrap binary starts");
    let answers = api.wait_for(events.len(), Duration::from_secs(60)).await;
    child.kill().await.ok();
    assert_eq!(api.init_error(), None);
    assert_eq!(answers.len(), events.len(), "every event is answered");

    for (name, answer) in names.iter().zip(&answers) {
        let response = answer
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{name} answered with an error: {e}"));
        match name.as_str() {
            "alarm-ok-eventbridge.json" => assert_eq!(response["acknowledged"], true, "{name}"),
            n if n.starts_with("alarm-") || n == "manual-diagnose.json" => {
                assert_eq!(response["schema"], "cf-doctor/diagnosis/v1", "{name}");
                assert_eq!(
                    response["probable_cause"], "origin-cert-expired",
                    "{name}: {response}"
                );
            }
            "schedule.json" | "manual-sweep.json" => assert!(
                response["summary"].as_str().unwrap().contains("sweep"),
                "{name}: {}",
                response["summary"]
            ),
            "acm-approaching-expiration.json" => {
                assert_eq!(response["trigger"]["kind"], "acm-event", "{name}")
            }
            other => panic!("a sample event without an expectation here: {other}"),
        }
    }
    let bad = answers
        .last()
        .unwrap()
        .result
        .as_ref()
        .expect_err("an unknown event is an error result");
    let message = bad["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("source=\"aws.s3\"") && message.contains("accepted events"),
        "{message}"
    );
}
