//! One page per incident, as Lambda runs it: the real binary behind the Runtime API stand-in,
//! delivering to SNS (read back through an SQS queue in moto) and a local Slack sink, recording
//! each delivery in a DynamoDB table in moto. Lambda's retry of an event is the same event handed
//! out again (under a new request id, as a duplicate delivery by EventBridge would be).

mod common;

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use cf_doctor_testkit::{moto, receive_all, runtime_api, slack_sink, topic_with_queue, Reply};
use common::bootstrap::Bootstrap;
use common::lab;
use serde_json::Value;

/// A delivery table as the template creates it: key `id`, TTL on `expires_at`.
async fn delivery_table(sdk: &aws_config::SdkConfig, name: &str) {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// The alarm sample event, about `id`.
fn alarm_event(id: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/events/alarm-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("E2EXAMPLE", id);
    serde_json::from_str(&text).unwrap()
}

/// The DeliveryFailures of each invocation's run metrics line (EMF), in answer order.
fn delivery_failures(log: &str, answers: &[cf_doctor_testkit::Invocation]) -> Vec<u64> {
    let docs = common::emf::documents(log);
    answers
        .iter()
        .map(|answer| {
            docs.iter()
                .filter(|d| d["requestId"] == answer.request_id.as_str())
                .find_map(|d| d["DeliveryFailures"].as_u64())
                .unwrap_or_else(|| panic!("no run line for {}:\n{log}", answer.request_id))
        })
        .collect()
}

struct Setup {
    lab: common::Lab,
    _origin: cf_doctor_testkit::Origin,
    id: String,
    host: String,
    topic: String,
    queue: String,
    sqs: aws_sdk_sqs::Client,
}

async fn setup(name: &str) -> Setup {
    let lab = lab().await;
    let host = format!("{name}.origin.test");
    let (origin, id) = lab.expired_origin(&host, 1).await;
    let sns = aws_sdk_sns::Client::new(&lab.sdk);
    let sqs = aws_sdk_sqs::Client::new(&lab.sdk);
    let (topic, queue) = topic_with_queue(&sns, &sqs, name).await;
    Setup {
        lab,
        _origin: origin,
        id,
        host,
        topic,
        queue,
        sqs,
    }
}

impl Setup {
    fn env<'a>(&'a self, resolve: &'a str, more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("CF_DOCTOR_RESOLVE", resolve),
            ("PROBE_TIMEOUT_MS", "1500"),
            ("SNS_TOPIC_ARN", self.topic.as_str()),
        ];
        env.extend_from_slice(more);
        env
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_of_a_delivered_event_delivers_nothing_twice() {
    let s = setup("delivered-once").await;
    delivery_table(&s.lab.sdk, "deliveries-once").await;
    let sink = slack_sink().await;
    let event = alarm_event(&s.id);
    let api = runtime_api(vec![event.clone(), event], Duration::from_secs(300)).await;
    let resolve = format!("{}=127.0.0.1", s.host);
    let ca = s.lab.ca_file.path().to_string_lossy().to_string();
    let env = s.env(
        &resolve,
        &[
            ("ORIGIN_CA_FILE", &ca),
            ("SLACK_WEBHOOK_URL", &sink.url),
            ("DELIVERY_TABLE", "deliveries-once"),
        ],
    );
    let bootstrap = Bootstrap::start(&moto().endpoint, &api, &env);
    let answers = api.wait_for(2, Duration::from_secs(120)).await;
    let log = bootstrap.stop().await;
    assert_eq!(answers.len(), 2, "{log}");
    for answer in &answers {
        let d = answer.result.as_ref().expect("both invocations succeed");
        assert_eq!(d["probable_cause"], "origin-cert-expired");
    }
    assert_eq!(sink.posts().len(), 1, "Slack was paged once");
    assert_eq!(
        receive_all(&s.sqs, &s.queue, 1).await.len(),
        1,
        "SNS was published to once"
    );
    assert_eq!(
        log.matches("already delivered for this event").count(),
        2,
        "the retry names both channels it skipped:\n{log}"
    );
    assert_eq!(delivery_failures(&log, &answers), [0, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_delivery_fails_the_invocation_and_the_retry_delivers_only_to_slack() {
    let s = setup("partial").await;
    delivery_table(&s.lab.sdk, "deliveries-partial").await;
    let sink = slack_sink().await;
    sink.reply_with(vec![Reply::Status(500)]);
    let event = alarm_event(&s.id);
    let api = runtime_api(vec![event.clone(), event], Duration::from_secs(300)).await;
    let resolve = format!("{}=127.0.0.1", s.host);
    let ca = s.lab.ca_file.path().to_string_lossy().to_string();
    let env = s.env(
        &resolve,
        &[
            ("ORIGIN_CA_FILE", &ca),
            ("SLACK_WEBHOOK_URL", &sink.url),
            ("DELIVERY_TABLE", "deliveries-partial"),
        ],
    );
    let bootstrap = Bootstrap::start(&moto().endpoint, &api, &env);
    let answers = api.wait_for(2, Duration::from_secs(120)).await;
    let log = bootstrap.stop().await;
    assert_eq!(answers.len(), 2, "{log}");

    let failed = answers[0]
        .result
        .as_ref()
        .expect_err("Slack failed: the invocation fails so that Lambda retries");
    assert_eq!(failed["errorType"], "DeliveryFailed", "{failed}");
    assert!(
        failed["errorMessage"]
            .as_str()
            .unwrap()
            .contains("slack: the Slack webhook answered HTTP 500"),
        "{failed}"
    );
    let retried = answers[1].result.as_ref().expect("the retry succeeds");
    assert_eq!(retried["probable_cause"], "origin-cert-expired");

    assert_eq!(
        sink.posts().len(),
        2,
        "Slack: the failed post, then the retry's"
    );
    assert_eq!(
        receive_all(&s.sqs, &s.queue, 1).await.len(),
        1,
        "SNS got it on the first invocation and not again"
    );
    assert_eq!(
        delivery_failures(&log, &answers),
        [1, 0],
        "the failed Slack delivery is counted, the retry has none"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("delivery failed; full report follows")
                && l.contains("origin-cert-expired")),
        "the undelivered report is logged whole:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_table_unreachable_a_report_that_reached_one_channel_succeeds_and_the_failure_is_logged(
) {
    let s = setup("no-table").await;
    let sink = slack_sink().await;
    sink.reply_with(vec![Reply::Status(500)]);
    let api = runtime_api(vec![alarm_event(&s.id)], Duration::from_secs(300)).await;
    let resolve = format!("{}=127.0.0.1", s.host);
    let ca = s.lab.ca_file.path().to_string_lossy().to_string();
    let env = s.env(
        &resolve,
        &[
            ("ORIGIN_CA_FILE", &ca),
            ("SLACK_WEBHOOK_URL", &sink.url),
            ("DELIVERY_TABLE", "no-such-table"),
        ],
    );
    let bootstrap = Bootstrap::start(&moto().endpoint, &api, &env);
    let answers = api.wait_for(1, Duration::from_secs(120)).await;
    let log = bootstrap.stop().await;
    assert_eq!(answers.len(), 1, "{log}");
    answers[0]
        .result
        .as_ref()
        .expect("SNS got it and no record can be kept: a retry would page SNS again");
    assert_eq!(receive_all(&s.sqs, &s.queue, 1).await.len(), 1);
    assert!(
        log.contains("no delivery record can be kept"),
        "the missing table is said:\n{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("not retried")
            && l.contains("slack: the Slack webhook answered HTTP 500")),
        "the failed channel is logged:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("full report follows") && l.contains("origin-cert-expired")),
        "with the report:\n{log}"
    );
    assert_eq!(
        delivery_failures(&log, &answers),
        [1],
        "and counted, though the invocation succeeded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_result_stays_under_its_bound_and_the_log_has_the_whole_report() {
    let s = setup("bounded").await;
    let api = runtime_api(
        vec![serde_json::json!({"diagnose": s.id})],
        Duration::from_secs(300),
    )
    .await;
    let resolve = format!("{}=127.0.0.1", s.host);
    let ca = s.lab.ca_file.path().to_string_lossy().to_string();
    let env = s.env(
        &resolve,
        &[("ORIGIN_CA_FILE", &ca), ("RESULT_MAX_BYTES", "2048")],
    );
    let bootstrap = Bootstrap::start(&moto().endpoint, &api, &env);
    let answers = api.wait_for(1, Duration::from_secs(120)).await;
    let log = bootstrap.stop().await;
    let d = answers[0].result.as_ref().expect("a diagnosis");
    let size = d.to_string().len();
    assert!(size <= 2048, "{size} bytes: {d}");
    assert_eq!(d["probable_cause"], "origin-cert-expired");
    assert!(
        d["truncated"]["checks_omitted"].as_u64().unwrap() > 0,
        "{d}"
    );
    let logged: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "full report, part 1 of 1")
        .map(|l| serde_json::from_str(l["report_part"].as_str().unwrap()).unwrap())
        .unwrap_or_else(|| panic!("the full report is logged:\n{log}"));
    assert!(
        logged.to_string().len() > 2048,
        "the log has what the result left out"
    );
    assert!(!logged["checks"].as_array().unwrap().is_empty());
}
