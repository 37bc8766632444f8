//! Every sample in events/ is accepted and classified as documented; bad input is refused with a
//! message that names what was received and what is accepted.

mod common;

use cf_doctor::trigger::{parse_event_text, Target, TriggerError};

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
            assert_eq!(trigger.kind, "alarm");
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

#[test]
fn an_alarm_without_distribution_id_says_which_dimensions_it_had() {
    let text = std::fs::read_to_string(format!(
        "{}/events/alarm-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("\"DistributionId\": \"E2EXAMPLE\", ", "");
    let err = parse_event_text(&text).unwrap_err();
    assert!(
        matches!(err, TriggerError::NoDistribution { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("DistributionId") && message.contains("Region=Global"),
        "{message}"
    );
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
