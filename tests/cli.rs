//! The cf-doctor binary as a user runs it: exit codes by verdict, every bad input answered with a
//! clear message and the right code, and delivery to SNS (read back through a subscribed SQS
//! queue in moto) and to a local Slack sink.

mod common;

use std::process::Output;

use cf_doctor_testkit::{aws_env, moto, receive_all, slack_sink, topic_with_queue};
use common::lab;
use serde_json::Value;

/// Runs the real binary against moto, with `stdin` as its standard input.
async fn cf_doctor(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(aws_env(&moto().endpoint))
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("the cf-doctor binary runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.expect("cf-doctor finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An origin with an expired certificate behind a fresh distribution: the founding outage.
struct Outage {
    lab: common::Lab,
    id: String,
    _origin: cf_doctor_testkit::Origin,
    resolve: String,
}

async fn outage(host: &str) -> Outage {
    let lab = lab().await;
    let (origin, id) = lab.expired_origin(host, 3).await;
    Outage {
        resolve: format!("{host}=127.0.0.1"),
        lab,
        id,
        _origin: origin,
    }
}

impl Outage {
    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("CF_DOCTOR_RESOLVE", self.resolve.as_str()),
            ("ORIGIN_CA_FILE", self.lab.ca_file.path().to_str().unwrap()),
            ("PROBE_TIMEOUT_MS", "1500"),
        ]
    }
    fn alarm_event(&self) -> String {
        std::fs::read_to_string(format!(
            "{}/events/alarm-eventbridge.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .replace("E2EXAMPLE", &self.id)
    }
}

/// Whether this checkout is a git checkout (CI's clean clone is): then the build names a commit.
fn in_a_checkout() -> bool {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|out| out.status.success())
}

#[tokio::test(flavor = "multi_thread")]
async fn version_names_the_release_and_the_commit_it_was_built_from() {
    let out = cf_doctor(&["--version"], &[], "").await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let printed = text(&out.stdout);
    let expected = format!("cf-doctor {}", env!("CARGO_PKG_VERSION"));
    // The commit build.rs read when this build was made (HEAD may have moved since).
    match cf_doctor::version::commit() {
        Some(commit) => {
            assert_eq!(commit.len(), 40, "{commit}");
            assert!(commit.chars().all(|c| c.is_ascii_hexdigit()), "{commit}");
            assert_eq!(printed.trim(), format!("{expected} ({})", &commit[..12]));
        }
        None => {
            assert!(
                !in_a_checkout(),
                "built in a git checkout, yet no commit was named"
            );
            assert_eq!(printed.trim(), expected);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnose_prints_json_when_piped_and_exits_2_for_a_critical_verdict() {
    let o = outage("cli-expired.origin.test").await;
    let out = cf_doctor(&["diagnose", &o.id], &o.env(), "").await;
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout when piped");
    assert_eq!(d["schema"], "cf-doctor/diagnosis/v1");
    assert_eq!(d["cf_doctor_version"], env!("CARGO_PKG_VERSION"));
    match cf_doctor::version::commit() {
        Some(commit) => assert_eq!(d["cf_doctor_commit"], commit),
        None => assert!(d.get("cf_doctor_commit").is_none(), "{d}"),
    }
    assert_eq!(d["verdict"], "critical");
    assert_eq!(d["probable_cause"], "origin-cert-expired");
    assert_eq!(d["trigger"]["kind"], "manual");
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_runs_the_handler_on_an_alarm_event_from_stdin_and_prints_text_on_request() {
    let o = outage("cli-invoke.origin.test").await;
    let out = cf_doctor(
        &["invoke", "-", "--format", "text"],
        &o.env(),
        &o.alarm_event(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.starts_with("CRITICAL: distribution "), "{report}");
    assert!(
        report.contains("probable cause: origin-cert-expired"),
        "{report}"
    );
    assert!(
        report.contains("shop-cloudfront-5xx"),
        "the alarm is named: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ok_transition_is_acknowledged_with_exit_0() {
    let path = format!(
        "{}/events/alarm-ok-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = cf_doctor(&["invoke", &path], &[], "").await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let ack: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ack["acknowledged"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_message_and_exit_64() {
    let no_dimension = std::fs::read_to_string(format!(
        "{}/events/alarm-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("\"DistributionId\": \"E2EXAMPLE\", ", "");
    // (arguments, extra environment, standard input, what stderr must say)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, String, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["invoke", "-"],
            vec![],
            String::new(),
            "the event is empty",
        ),
        (
            vec!["invoke", "-"],
            vec![],
            "{\"Records\": [".into(),
            "not valid JSON",
        ),
        (
            vec!["invoke", "-"],
            vec![],
            "{\"source\": \"aws.s3\", \"detail-type\": \"Object Created\"}".into(),
            "unrecognised event",
        ),
        (
            vec!["invoke", "-"],
            vec![],
            "{\"sweep\": {\"include_disabled\": \"yes\"}}".into(),
            "\"include_disabled\" must be true or false",
        ),
        (
            vec!["invoke", "/nonexistent/event.json"],
            vec![],
            String::new(),
            "cannot read the event /nonexistent/event.json",
        ),
        (
            vec!["diagnose", "not an id!"],
            vec![],
            String::new(),
            "is not a CloudFront distribution id",
        ),
        (
            vec!["diagnose", "E1"],
            vec![("PROBE_TIMEOUT_MS", "soon")],
            String::new(),
            "PROBE_TIMEOUT_MS=\"soon\" is not valid",
        ),
        (
            vec!["diagnose", "E1", "--resolve", "origin.test"],
            vec![],
            String::new(),
            "--resolve \"origin.test\" is not valid",
        ),
        (
            vec!["diagnose", "E1", "--format", "yaml"],
            vec![],
            String::new(),
            "invalid value 'yaml'",
        ),
        (
            vec!["frobnicate"],
            vec![],
            String::new(),
            "unrecognized subcommand",
        ),
        (
            vec!["diagnose", "E1", "--ca-file", "/nonexistent/ca.pem"],
            vec![],
            String::new(),
            "cannot read the CA file /nonexistent/ca.pem",
        ),
    ];
    for (args, env, stdin, expected) in cases {
        let out = cf_doctor(&args, &env, &stdin).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: stderr: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // Changed by issue 14: an alarm without a DistributionId is not bad input but an alarm
    // cf-doctor cannot diagnose: acknowledged with a note saying why, exit 0.
    let out = cf_doctor(&["invoke", "-", "--format", "json"], &[], &no_dimension).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["acknowledged"], true, "{answer}");
    assert!(
        answer["note"]
            .as_str()
            .unwrap()
            .contains("without a DistributionId dimension"),
        "{answer}"
    );
}

/// A bad id or event is refused before any AWS client exists: no region or credential lookup, so
/// a typo costs nothing and touches nothing. aws-config logs its provider chains at debug level;
/// IMDS is disabled so that a regression here still never leaves loopback.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_any_aws_lookup() {
    use tokio::io::AsyncWriteExt;
    let home = tempfile::tempdir().unwrap();
    for (args, stdin, expected) in [
        (
            vec!["diagnose", "not an id!"],
            "",
            "is not a CloudFront distribution id",
        ),
        (
            vec!["invoke", "-"],
            "{\"source\": \"aws.s3\"}",
            "unrecognised event",
        ),
        (vec!["invoke", "-"], "{", "not valid JSON"),
    ] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", home.path().join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
            .env("RUST_LOG", "debug")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the cf-doctor binary runs");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("aws_config") && !stderr.contains("aws_smithy"),
            "{args:?}: the SDK was set up before the input was checked:\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_distribution_exits_3_and_says_so() {
    let out = cf_doctor(&["diagnose", "E0NOSUCHTHING"], &[], "").await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("distribution E0NOSUCHTHING does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_aws_endpoint_exits_3_naming_the_endpoint() {
    let endpoint = format!("http://127.0.0.1:{}", cf_doctor_testkit::closed_port());
    let out = cf_doctor(
        &["diagnose", "E1EXAMPLE"],
        &[("AWS_ENDPOINT_URL", endpoint.as_str())],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&endpoint), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_delivers_to_sns_with_filter_attributes_and_to_slack() {
    let o = outage("cli-notify.origin.test").await;
    let sns = aws_sdk_sns::Client::new(&o.lab.sdk);
    let sqs = aws_sdk_sqs::Client::new(&o.lab.sdk);
    let (topic, queue) = topic_with_queue(&sns, &sqs, "cli-notify-diagnoses").await;
    let slack = slack_sink().await;
    let mut env = o.env();
    env.push(("SNS_TOPIC_ARN", topic.as_str()));
    env.push(("SLACK_WEBHOOK_URL", slack.url.as_str()));
    let out = cf_doctor(&["invoke", "-", "--notify"], &env, &o.alarm_event()).await;
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));

    let envelopes = receive_all(&sqs, &queue, 1).await;
    assert_eq!(envelopes.len(), 1, "one message per diagnosis");
    let envelope = &envelopes[0];
    let subject = envelope["Subject"].as_str().unwrap();
    assert!(
        subject.len() <= 100 && subject.starts_with("[CRITICAL] cf-doctor "),
        "{subject}"
    );
    let attributes = &envelope["MessageAttributes"];
    assert_eq!(attributes["verdict"]["Value"], "critical");
    assert_eq!(attributes["distribution_id"]["Value"], o.id.as_str());
    assert_eq!(attributes["codes"]["Type"], "String.Array");
    assert!(attributes["codes"]["Value"]
        .as_str()
        .unwrap()
        .contains("origin-cert-expired"));
    let body: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(body["probable_cause"], "origin-cert-expired");

    let posts = slack.posts();
    assert_eq!(posts.len(), 1);
    let payload = posts[0].json();
    assert!(
        payload["text"].as_str().unwrap().contains("expired"),
        "{payload}"
    );
    assert!(
        !text(&out.stderr).contains(&slack.url),
        "the webhook URL never appears in output"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_delivery_fails_the_report_is_still_printed_and_the_run_fails() {
    let o = outage("cli-undeliverable.origin.test").await;
    let slack = slack_sink().await;
    slack.reply_with(vec![cf_doctor_testkit::Reply::Status(500)]);
    let mut env = o.env();
    env.push((
        "SNS_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:no-such-topic",
    ));
    env.push(("SLACK_WEBHOOK_URL", slack.url.as_str()));
    let out = cf_doctor(&["invoke", "-", "--notify"], &env, &o.alarm_event()).await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("sns:") && stderr.contains("slack:"),
        "both failures are named: {stderr}"
    );
    assert!(
        !stderr.contains(&slack.url),
        "the webhook URL never appears: {stderr}"
    );
    let d: Value = serde_json::from_slice(&out.stdout).expect("the report is still printed");
    assert_eq!(d["probable_cause"], "origin-cert-expired");
    assert!(
        stderr.contains("full report follows"),
        "the report is logged whole: {stderr}"
    );
}
