//! Every sample in events/ is accepted and classified as documented; bad input is refused with a
//! message that names what was received and what is accepted.

mod common;

use cf_doctor::trigger::{event_id, parse_event_text, Target, TriggerError};

fn parse_file(name: &str) -> Vec<Target> {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_event_text(&text).unwrap_or_else(|e| panic!("{name} rejected: {e}"))
}

#[test]
fn every_sample_event_is_accepted() {
    let (_, names) = common::sample_events();
    assert!(
        names.len() >= 8,
        "expected the documented samples in events/, found {names:?}"
    );
    for name in names {
        let targets = parse_file(&name);
        insta::assert_debug_snapshot!(name.trim_end_matches(".json").to_string(), targets);
    }
}

#[test]
fn an_eventbridge_alarm_names_its_distribution_and_any_5xx() {
    match &parse_file("alarm-eventbridge.json")[..] {
        [Target::Distribution { id, trigger }] => {
            assert_eq!(id, "E2EXAMPLE");
            assert_eq!(trigger.kind, cf_doctor_model::TriggerKind::Alarm);
            assert_eq!(trigger.status, None, "5xxErrorRate is about any 5xx");
            assert!(
                trigger.detail.contains("shop-cloudfront-5xx"),
                "{}",
                trigger.detail
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_direct_502_alarm_with_a_one_day_period_is_about_502() {
    match &parse_file("alarm-direct.json")[..] {
        [Target::Distribution { id, trigger }] => {
            assert_eq!(id, "E2EXAMPLE");
            assert_eq!(trigger.status, Some(502));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_sns_wrapped_alarm_is_unwrapped() {
    assert!(
        matches!(&parse_file("alarm-sns.json")[..], [Target::Distribution { id, .. }] if id == "E2EXAMPLE")
    );
}

#[test]
fn a_transition_to_ok_is_acknowledged_not_diagnosed() {
    match &parse_file("alarm-ok-eventbridge.json")[..] {
        [Target::Acknowledge { note, .. }] => assert!(note.contains("OK"), "{note}"),
        other => panic!("unexpected {other:?}"),
    }
}

/// The note of an event that is acknowledged, not diagnosed (a success, not an error).
fn acknowledged(targets: &[Target]) -> &str {
    match targets {
        [Target::Acknowledge { note, recovery, .. }] => {
            assert!(recovery.is_none(), "not a recovery: {targets:?}");
            note
        }
        other => panic!("expected one acknowledgement, got {other:?}"),
    }
}

/// Changed by issue 14: this used to be an error (TriggerError::NoDistribution), which cost two
/// Lambda retries and a dead-letter message for an alarm that can never be diagnosed.
#[test]
fn an_alarm_without_distribution_id_is_acknowledged_naming_its_dimensions() {
    let text = std::fs::read_to_string(format!(
        "{}/events/alarm-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("\"DistributionId\": \"E2EXAMPLE\", ", "");
    let targets = parse_event_text(&text).unwrap();
    let note = acknowledged(&targets);
    assert!(
        note.contains("without a DistributionId") && note.contains("Region=Global"),
        "{note}"
    );
}

#[test]
fn a_metric_math_alarm_over_two_distributions_diagnoses_each() {
    match &parse_file("alarm-metric-math-two-distributions.json")[..] {
        [Target::Distribution {
            id: first,
            trigger: t1,
        }, Target::Distribution {
            id: second,
            trigger: t2,
        }] => {
            assert_eq!(
                (first.as_str(), second.as_str()),
                ("E2EXAMPLE", "E3EXAMPLE")
            );
            assert_eq!(t1.distribution_id.as_deref(), Some("E2EXAMPLE"));
            assert_eq!(t2.distribution_id.as_deref(), Some("E3EXAMPLE"));
            assert!(
                t2.detail
                    .contains("distribution 2 of 2 in the alarm (E2EXAMPLE, E3EXAMPLE)"),
                "{}",
                t2.detail
            );
        }
        other => panic!("expected two distributions, got {other:?}"),
    }
}

#[test]
fn alarms_not_about_a_distribution_are_acknowledged_with_a_note_saying_why() {
    let composite = parse_file("alarm-composite.json");
    let note = acknowledged(&composite);
    assert!(
        note.contains("composite alarm") && note.contains("ALARM(shop-cloudfront-5xx)"),
        "{note}"
    );
    let other = parse_file("alarm-sns-other-namespace.json");
    let note = acknowledged(&other);
    assert!(
        note.contains("not about a CloudFront distribution")
            && note.contains("AWS/RDS CPUUtilization (DBInstanceIdentifier=checkout-db)"),
        "{note}"
    );
    // An alarm on a CloudFront Function is diagnosed (issue 13), no longer acknowledged.
    match parse_file("alarm-cloudfront-function.json").as_slice() {
        [Target::Function { name, trigger }] => {
            assert_eq!(name, "shop-url-rewrite");
            assert_eq!(
                trigger.status,
                Some(503),
                "FunctionExecutionErrors is about 503"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_search_expression_alarm_is_acknowledged() {
    let event = serde_json::json!({
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "id": "5e1c",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:any-distribution-5xx"],
        "detail": {
            "alarmName": "any-distribution-5xx",
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "2026-11-25T03:12:44.520+0000"},
            "configuration": {"metrics": [{
                "id": "e1",
                "expression": "MAX(SEARCH('{AWS/CloudFront,DistributionId,Region} MetricName=\"5xxErrorRate\"', 'Average', 60))",
                "returnData": true
            }]}
        }
    });
    let targets = parse_event_text(&event.to_string()).unwrap();
    let note = acknowledged(&targets);
    assert!(
        note.contains("SEARCH expression") && note.contains("MetricName"),
        "{note}"
    );
}

#[test]
fn a_sweep_event_may_ask_for_disabled_distributions_and_bad_options_are_refused() {
    assert!(matches!(
        &parse_file("manual-sweep-include-disabled.json")[..],
        [Target::Sweep {
            include_disabled: true,
            ..
        }]
    ));
    assert!(matches!(
        &parse_file("manual-sweep.json")[..],
        [Target::Sweep {
            include_disabled: false,
            ..
        }]
    ));
    for (bad, says) in [
        (
            r#"{"sweep": {"include_disabled": "yes"}}"#,
            "must be true or false, got a string",
        ),
        (
            r#"{"sweep": {"disabled": true}}"#,
            "unknown option \"disabled\"",
        ),
        (r#"{"sweep": 1}"#, "must be an object"),
    ] {
        let err = parse_event_text(bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn an_event_is_known_by_the_same_id_in_every_copy_of_it() {
    let id = |name: &str| {
        let text = std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        event_id(&serde_json::from_str(&text).unwrap())
    };
    assert_eq!(
        id("alarm-eventbridge.json").as_deref(),
        Some("eventbridge:c4c1c1c9-6542-e61b-6ef0-8c4d36933a92")
    );
    assert_eq!(
        id("alarm-sns.json").as_deref(),
        Some("sns:95df01b4-ee98-5cb9-9903-4c221d41eb5e")
    );
    assert_eq!(
        id("alarm-direct.json").as_deref(),
        Some("alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-cloudfront-502@2026-11-25T03:12:44.520+0000")
    );
    assert_eq!(id("manual-sweep.json"), None, "the request id stands in");
}

#[test]
fn malformed_and_truncated_events_are_refused_clearly() {
    let full = std::fs::read_to_string(format!(
        "{}/events/alarm-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for cut in [1, 10, full.len() / 2, full.len() - 3] {
        let err = parse_event_text(&full[..cut]).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
    let wrong_type = full.replace(
        "\"alarmName\": \"shop-cloudfront-5xx\"",
        "\"alarmName\": 42",
    );
    let err = parse_event_text(&wrong_type).unwrap_err();
    assert!(
        err.to_string().contains(
            "EventBridge CloudWatch Alarm State Change event does not have the expected shape"
        ),
        "{err}"
    );
    assert_eq!(parse_event_text("").unwrap_err(), TriggerError::Empty);
}

/// Issue 25: a missing or unknown alarm state was read as a move out of ALARM and acknowledged
/// ("moved to UNKNOWN", exit 0). Each envelope's state is now parsed once and refused when absent.
#[test]
fn an_alarm_whose_state_is_missing_or_unknown_is_refused_as_malformed_in_every_envelope() {
    let read = |name: &str| -> serde_json::Value {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let refused = |event: serde_json::Value, field: &str, what: &str| match parse_event_text(
        &event.to_string(),
    ) {
        Err(e @ TriggerError::Malformed { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(field)
                    && message.contains(what)
                    && message.contains("ALARM, OK or INSUFFICIENT_DATA"),
                "{message}"
            );
        }
        other => panic!("{field} {what}: expected a malformed event, got {other:?}"),
    };
    let mut eventbridge = read("alarm-eventbridge.json");
    eventbridge["detail"]["state"]
        .as_object_mut()
        .unwrap()
        .remove("value");
    refused(eventbridge.clone(), "detail.state.value", "missing");
    eventbridge["detail"]["state"]["value"] = serde_json::json!("ALARMING");
    refused(eventbridge, "detail.state.value", "\"ALARMING\"");

    let mut direct = read("alarm-direct.json");
    direct["alarmData"]["state"]
        .as_object_mut()
        .unwrap()
        .remove("value");
    refused(direct, "alarmData.state.value", "missing");

    let mut sns = read("alarm-sns.json");
    let message = sns["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .to_string();
    let mut alarm: serde_json::Value = serde_json::from_str(&message).unwrap();
    alarm["NewStateValue"] = serde_json::json!("UNKNOWN");
    sns["Records"][0]["Sns"]["Message"] = serde_json::json!(alarm.to_string());
    refused(sns, "NewStateValue", "\"UNKNOWN\"");

    // The states CloudWatch does send are still accepted.
    let mut insufficient = read("alarm-eventbridge.json");
    insufficient["detail"]["state"]["value"] = serde_json::json!("INSUFFICIENT_DATA");
    assert!(
        acknowledged(&parse_event_text(&insufficient.to_string()).unwrap())
            .contains("INSUFFICIENT_DATA")
    );
}

/// Issue 25: an ACM or Health event that lists a certificate twice handles it once.
#[test]
fn a_certificate_listed_twice_in_an_event_is_inspected_once() {
    let path = format!(
        "{}/events/health-acm-renewal-failure.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let first = event["resources"][0].clone();
    let other = serde_json::json!(
        "arn:aws:acm:us-east-1:123456789012:certificate/22222222-2222-2222-2222-222222222222"
    );
    event["resources"] = serde_json::json!([first, other, first]);
    let targets = parse_event_text(&event.to_string()).unwrap();
    let arns: Vec<&str> = targets
        .iter()
        .map(|t| match t {
            Target::Certificate { arn, .. } => arn.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(arns, [first.as_str().unwrap(), other.as_str().unwrap()]);
}
