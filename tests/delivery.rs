//! Delivery as the receiving end sees it: a local Slack sink (429 with Retry-After, 500, a hang),
//! the webhook read from Secrets Manager and SSM in moto, SNS -> SQS with a filter policy on
//! `verdict`, the recovery note, and a canary webhook that must never show up in any output.

mod common;

use std::time::Duration;

use cf_doctor::config::Secret;
use cf_doctor::notify::slack::{SlackChannel, WebhookSource};
use cf_doctor::notify::sns::SnsChannel;
use cf_doctor::notify::{Notice, Notifier};
use cf_doctor_model::{Code, Diagnosis, Finding, Severity, TriggerInfo};
use cf_doctor_testkit::{moto, receive_all, sdk_config, slack_sink, topic_with_queue, Reply};
use serde_json::Value;

fn report(severity: Option<Severity>) -> Diagnosis {
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: "test alarm".into(),
        distribution_id: Some("E2DELIVERY".into()),
        status: None,
    };
    let findings = severity
        .map(|s| {
            vec![Finding::new(Code::OriginCertExpired, s, "origin.test:443")
                .statuses(&[502])
                .title("Origin presents an expired certificate")]
        })
        .unwrap_or_default();
    cf_doctor_rules::assemble(trigger, findings, vec![], chrono::Utc::now(), 1)
}

fn slack(url: &str, timeout: Duration) -> Notifier {
    Notifier {
        sns: None,
        slack: Some(SlackChannel::new(
            WebhookSource::Url(Secret::new(url)),
            timeout,
        )),
    }
}

#[tokio::test]
async fn slack_rate_limiting_is_waited_out_as_retry_after_says() {
    let sink = slack_sink().await;
    sink.reply_with(vec![Reply::RateLimited { retry_after_s: 1 }, Reply::Ok]);
    let started = std::time::Instant::now();
    let delivered = slack(&sink.url, Duration::from_secs(5))
        .deliver(Notice::Report(&report(Some(Severity::Critical))))
        .await
        .unwrap();
    assert_eq!(delivered, vec!["slack"]);
    assert_eq!(
        sink.posts().len(),
        2,
        "the same message was posted again after the 429"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn slack_errors_and_hangs_are_reported_without_the_webhook() {
    let sink = slack_sink().await;
    sink.reply_with(vec![Reply::Status(500)]);
    let err = slack(&sink.url, Duration::from_secs(5))
        .deliver(Notice::Report(&report(Some(Severity::Critical))))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(
        !text.contains(&sink.url) && !text.contains("/services/"),
        "{text}"
    );

    let hanging = slack_sink().await;
    hanging.reply_with(vec![Reply::Hang]);
    let err = slack(&hanging.url, Duration::from_millis(500))
        .deliver(Notice::Report(&report(Some(Severity::Critical))))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("did not answer within 500 ms"),
        "{err}"
    );
}

#[tokio::test]
async fn the_webhook_is_read_from_secrets_manager_or_ssm() {
    let sdk = sdk_config(&moto().endpoint).await;
    let sink = slack_sink().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    secrets
        .create_secret()
        .name("cf-doctor/slack-webhook")
        .secret_string(format!("{{\"webhook_url\": \"{}\"}}", sink.url))
        .send()
        .await
        .unwrap();
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    ssm.put_parameter()
        .name("/cf-doctor/slack-webhook")
        .value(&sink.url)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    for id in ["cf-doctor/slack-webhook", "/cf-doctor/slack-webhook"] {
        let source = WebhookSource::from_secret_id(id, &sdk);
        let notifier = Notifier {
            sns: None,
            slack: Some(SlackChannel::new(source, Duration::from_secs(5))),
        };
        notifier
            .deliver(Notice::Report(&report(Some(Severity::Warning))))
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
    assert_eq!(sink.posts().len(), 2);

    let missing = Notifier {
        sns: None,
        slack: Some(SlackChannel::new(
            WebhookSource::from_secret_id("no-such-secret", &sdk),
            Duration::from_secs(5),
        )),
    };
    let err = missing
        .deliver(Notice::Report(&report(Some(Severity::Warning))))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read the webhook from Secrets Manager secret no-such-secret"),
        "{err}"
    );
}

/// A webhook that Slack says is gone (403, 404, 410) is read again from its secret, once: a
/// rotated secret delivers; a secret that still holds the dead webhook is said, with no second
/// re-read. Secrets Manager is moto's, behind the testkit proxy that counts the reads.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_slack_says_is_gone_is_read_again_from_its_secret_once() {
    let proxy = cf_doctor_testkit::aws_proxy(&moto().endpoint).await;
    let sdk = sdk_config(&proxy.endpoint).await;
    let sink = slack_sink().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = "cf-doctor/rotated-webhook";
    secrets
        .create_secret()
        .name(name)
        .secret_string(format!("{}/old", sink.url))
        .send()
        .await
        .unwrap();
    let notifier = Notifier {
        sns: None,
        slack: Some(SlackChannel::new(
            WebhookSource::from_secret_id(name, &sdk),
            Duration::from_secs(5),
        )),
    };
    let reads = || proxy.count("secretsmanager", "GetSecretValue");
    let notice = report(Some(Severity::Critical));
    notifier.deliver(Notice::Report(&notice)).await.unwrap();
    assert_eq!(reads(), 1, "read on first use");

    // The webhook is rotated: the old one answers 410 (channel archived), the secret the new one.
    secrets
        .put_secret_value()
        .secret_id(name)
        .secret_string(format!("{}/new", sink.url))
        .send()
        .await
        .unwrap();
    sink.reply_with(vec![Reply::Status(410)]);
    notifier.deliver(Notice::Report(&notice)).await.unwrap();
    assert_eq!(reads(), 2, "read again once");
    let paths: Vec<String> = sink.posts().iter().map(|p| p.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/services/T000/B000/XXXX/old",
            "/services/T000/B000/XXXX/old",
            "/services/T000/B000/XXXX/new"
        ]
    );
    notifier.deliver(Notice::Report(&notice)).await.unwrap();
    assert_eq!(reads(), 2, "the new webhook is kept");

    // Revoked and not rotated: one re-read, no loop, and the error says what to do.
    sink.reply_with(vec![Reply::Status(403), Reply::Status(403)]);
    let err = notifier
        .deliver(Notice::Report(&notice))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(reads(), 3, "one re-read, not more");
    assert_eq!(
        sink.posts().len(),
        5,
        "the re-read found the same webhook: not posted again"
    );
    assert!(
        err.contains("HTTP 403") && err.contains("still holds the same webhook: rotate it"),
        "{err}"
    );
    assert!(!err.contains(&sink.url), "{err}");
}

#[tokio::test]
async fn sns_subscribers_get_json_email_gets_text_and_a_filter_policy_pages_only_on_critical() {
    let sdk = sdk_config(&moto().endpoint).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (topic, everything) = topic_with_queue(&sns, &sqs, "delivery-all").await;
    let paging = sqs
        .create_queue()
        .queue_name("delivery-paging")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let paging_arn = sqs
        .get_queue_attributes()
        .queue_url(&paging)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    // The filter policy docs/delivery.md documents for paging.
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&paging_arn)
        .attributes("FilterPolicy", r#"{"verdict": ["critical"]}"#)
        .send()
        .await
        .unwrap();
    let notifier = Notifier {
        sns: Some(SnsChannel {
            client: sns.clone(),
            topic_arn: topic.clone(),
        }),
        slack: None,
    };
    for severity in [Some(Severity::Warning), Some(Severity::Critical), None] {
        notifier
            .deliver(Notice::Report(&report(severity)))
            .await
            .unwrap();
    }
    let all = receive_all(&sqs, &everything, 3).await;
    assert_eq!(all.len(), 3);
    let paged = receive_all(&sqs, &paging, 1).await;
    assert_eq!(paged.len(), 1, "only the critical report passes the filter");
    assert_eq!(
        paged[0]["MessageAttributes"]["verdict"]["Value"],
        "critical"
    );
    let body: Value = serde_json::from_str(paged[0]["Message"].as_str().unwrap())
        .expect("SQS gets the JSON (the default part)");
    assert_eq!(body["probable_cause"], "origin-cert-expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_is_announced_and_no_output_ever_contains_the_webhook() {
    let sdk = sdk_config(&moto().endpoint).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (topic, queue) = topic_with_queue(&sns, &sqs, "delivery-recovery").await;
    let sink = slack_sink().await;
    let canary = format!("{}/CANARY-7f3a9c", sink.url);
    let event = format!(
        "{}/events/alarm-ok-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .args(["invoke", &event, "--notify"])
        .env_clear()
        .envs(cf_doctor_testkit::aws_env(&moto().endpoint))
        .env("SNS_TOPIC_ARN", &topic)
        .env("SLACK_WEBHOOK_URL", &canary)
        .env("RUST_LOG", "trace")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posts = sink.posts();
    assert_eq!(posts.len(), 1);
    assert!(posts[0].json()["text"]
        .as_str()
        .unwrap()
        .contains("Recovered: alarm shop-cloudfront-5xx on distribution E2EXAMPLE"));
    let messages = receive_all(&sqs, &queue, 1).await;
    assert!(messages[0]["Subject"]
        .as_str()
        .unwrap()
        .starts_with("[RECOVERED] cf-doctor E2EXAMPLE"));
    assert_eq!(
        messages[0]["MessageAttributes"]["verdict"]["Value"],
        "recovered"
    );
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        output.len() > 1000,
        "trace logging was on: {} bytes",
        output.len()
    );
    assert!(
        !output.contains("CANARY-7f3a9c"),
        "the webhook leaked into the output"
    );
}
