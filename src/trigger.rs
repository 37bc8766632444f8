//! What happened: turns a Lambda event (or a CLI command) into the targets to inspect. Parsing only;
//! no I/O. Unknown shapes are errors that say what was received and what is accepted.

mod alarm;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use cf_doctor_model::cloudfront_log::Window;
use chrono::{DateTime, Utc};
use serde_json::Value;

use cf_doctor_model::{Recovery, TriggerInfo};

/// What one event asks cf-doctor to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Distribution {
        id: String,
        trigger: TriggerInfo,
    },
    Sweep {
        trigger: TriggerInfo,
        /// Probe the origins of disabled distributions too (they are listed, not probed, by
        /// default).
        include_disabled: bool,
    },
    Certificate {
        arn: String,
        trigger: TriggerInfo,
    },
    /// An alarm on a CloudFront Function's own metrics (dimension FunctionName): the function
    /// and the distributions that run it (`App::diagnose_function`).
    Function {
        name: String,
        trigger: TriggerInfo,
    },
    /// A transition out of ALARM (OK, INSUFFICIENT_DATA): logged and acknowledged, not diagnosed.
    /// ALARM -> OK is a recovery, announced on the channels that carried the diagnosis.
    Acknowledge {
        trigger: TriggerInfo,
        note: String,
        recovery: Option<Recovery>,
    },
    /// One member account's sweep, as the organization's Distributed Map runs it: its bounded
    /// summary is the result, nothing is delivered (the organization digest is).
    AccountSweep {
        account: crate::organization::Account,
        trigger: TriggerInfo,
        include_disabled: bool,
    },
    /// The accounts an organization sweep covers: listed from AWS Organizations (None), or the
    /// ids given. The result is the list, for the Distributed Map to fan out over.
    ListAccounts {
        ids: Option<Vec<crate::organization::Account>>,
    },
    /// Every account's sweep in this process, merged into one organization digest (the CLI's
    /// `sweep --organization` / `--accounts`).
    OrganizationSweep {
        /// None: every ACTIVE account AWS Organizations lists.
        accounts: Option<Vec<crate::organization::Account>>,
        trigger: TriggerInfo,
        plan: crate::organization::SweepPlan,
    },
    /// The organization digest from the Distributed Map's results (`s3://.../manifest.json`).
    OrganizationDigest {
        results: String,
        trigger: TriggerInfo,
    },
    /// A past window's incident from the distribution's standard logs (`cf-doctor postmortem`).
    Postmortem {
        id: String,
        window: Window,
    },
}

pub const ACCEPTED: &str = "accepted events: EventBridge \"CloudWatch Alarm State Change\" (source aws.cloudwatch), \
an SNS notification carrying a CloudWatch alarm (Records[].Sns.Message), a CloudWatch alarm invoking Lambda directly \
(alarmArn + alarmData), EventBridge \"Scheduled Event\" (source aws.events), ACM certificate events (source aws.acm) \
and AWS Health ACM events, {\"diagnose\": \"DISTRIBUTION_ID\"}, {\"sweep\": {}} (or {\"sweep\": {\"include_disabled\": true}}); \
for an organization: {\"accounts\": {}} (or {\"accounts\": {\"ids\": \"ID,ID\"}}), {\"sweep\": {\"account\": \"ID\"}}, \
{\"digest\": {\"results\": \"s3://BUCKET/KEY\"}}; after an incident: {\"postmortem\": {\"distribution_id\": \"ID\", \"from\": \"2026-12-03T09:00:00Z\", \"to\": \"2026-12-03T10:00:00Z\"}}";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TriggerError {
    #[error("the event is empty; {ACCEPTED}")]
    Empty,
    #[error("the event is not valid JSON ({0}); {ACCEPTED}")]
    NotJson(String),
    #[error("unrecognised event: received {received}; {ACCEPTED}")]
    Unrecognised { received: String },
    #[error("{kind} event does not have the expected shape: {error}")]
    Malformed { kind: &'static str, error: String },
    #[error("{0:?} is not a CloudFront distribution id: expected letters and digits only, like E2EXAMPLE1ABCD")]
    BadDistributionId(String),
}

/// The event's own identity, the same in every copy of it: an EventBridge event's `id`, an SNS
/// notification's `MessageId`, a direct alarm invocation's alarm ARN and state change time. Lambda
/// retries an asynchronous event with the same payload, and EventBridge or SNS may deliver one
/// event twice (at-least-once) under different request ids, so this is what keys delivery
/// records. None for events without one (the test events, the schedule's fixed input): the Lambda
/// request id, which Lambda keeps across its own retries, stands in for them.
pub fn event_id(event: &Value) -> Option<String> {
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let ids: Vec<&str> = records
            .iter()
            .filter_map(|r| text(r.pointer("/Sns/MessageId")))
            .collect();
        return (!ids.is_empty()).then(|| format!("sns:{}", ids.join(",")));
    }
    if event.get("alarmData").is_some() {
        let arn = text(event.get("alarmArn"))?;
        let changed = text(event.pointer("/alarmData/state/timestamp"))?;
        return Some(format!("alarm:{arn}@{changed}"));
    }
    let id = text(event.get("id"))?;
    text(event.get("source")).map(|_| format!("eventbridge:{id}"))
}

/// The AWS account an event comes from (an EventBridge event's `account`, a direct alarm
/// invocation's `accountId`): a member account's alarm forwarded to the central bus names the
/// member account here.
pub fn event_account(event: &Value) -> Option<String> {
    ["account", "accountId"]
        .iter()
        .find_map(|field| event.get(*field).and_then(Value::as_str))
        .and_then(cf_doctor_model::organization::account_id)
}

pub fn parse_event_text(text: &str) -> Result<Vec<Target>, TriggerError> {
    if text.trim().is_empty() {
        return Err(TriggerError::Empty);
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| TriggerError::NotJson(e.to_string()))?;
    parse_event(&value)
}

/// Classifies an event by its shape. An SNS event may carry several alarms, hence a list.
///
/// The order holds meaning: the test events first (`diagnose`, then the organization's steps,
/// whose `{"sweep": {"account": ...}}` must be taken before the plain `{"sweep": {...}}` that
/// follows, then `postmortem`); then the envelopes AWS sends, SNS (`Records`) and a direct alarm
/// invocation (`alarmData`) before EventBridge's `source` and `detail-type`, which the other two
/// do not carry.
pub fn parse_event(event: &Value) -> Result<Vec<Target>, TriggerError> {
    let Some(object) = event.as_object() else {
        return Err(TriggerError::Unrecognised {
            received: describe(event),
        });
    };
    if let Some(id) = object.get("diagnose") {
        let id = id.as_str().ok_or_else(|| TriggerError::Malformed {
            kind: "manual diagnose",
            error: format!(
                "\"diagnose\" must be a distribution id string, got {}",
                type_name(id)
            ),
        })?;
        let id = distribution_id(id)?;
        return Ok(vec![Target::Distribution {
            trigger: TriggerInfo::manual(format!("manual diagnose of {id}"), Some(id.clone())),
            id,
        }]);
    }
    if let Some(target) = crate::organization::events::parse(object)? {
        return Ok(vec![target]);
    }
    if let Some(request) = object.get("postmortem") {
        return Ok(vec![parse_postmortem(request)?]);
    }
    if let Some(options) = object.get("sweep") {
        return Ok(vec![Target::Sweep {
            trigger: TriggerInfo::manual("manual sweep", None),
            include_disabled: sweep_include_disabled(options)?,
        }]);
    }
    if object.contains_key("Records") {
        return alarm::parse_sns(event);
    }
    if object.contains_key("alarmData") {
        return alarm::parse_direct_alarm(event);
    }
    let source = object.get("source").and_then(Value::as_str).unwrap_or("");
    let detail_type = object
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("");
    match (source, detail_type) {
        ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
            alarm::parse_eventbridge_alarm(event)
        }
        ("aws.events", "Scheduled Event") => Ok(vec![scheduled_sweep(object)]),
        ("aws.acm", _) | ("aws.health", _) => parse_acm_event(event, detail_type),
        _ => Err(TriggerError::Unrecognised {
            received: describe(event),
        }),
    }
}

/// `{"postmortem": {"distribution_id": "ID", "from": "RFC 3339", "to": "RFC 3339"}}`.
fn parse_postmortem(request: &Value) -> Result<Target, TriggerError> {
    let malformed = |error: String| TriggerError::Malformed {
        kind: "postmortem",
        error,
    };
    let text = |key: &str| {
        request.get(key).and_then(Value::as_str).ok_or_else(|| {
            malformed(format!(
                "\"postmortem\" must be an object with \"distribution_id\", \"from\" and \"to\" strings; {key:?} is {}",
                request.get(key).map(type_name).unwrap_or("missing")
            ))
        })
    };
    let id = distribution_id(text("distribution_id")?)?;
    let window = window(text("from")?, text("to")?).map_err(malformed)?;
    Ok(Target::Postmortem { id, window })
}

/// A time as a user writes it: RFC 3339 (`2026-12-03T09:00:00Z`), or `2026-12-03T09:00` and
/// `2026-12-03 09:00` taken as UTC.
pub fn time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "{text:?} is not a time: expected RFC 3339 such as 2026-12-03T09:00:00Z (or 2026-12-03T09:00, taken as UTC)"
    ))
}

/// A postmortem's window: `from` before `to`, at most MAX_WINDOW_DAYS long.
pub fn window(from: &str, to: &str) -> Result<Window, String> {
    let (from, to) = (time(from)?, time(to)?);
    if from >= to {
        return Err(format!(
            "the window must end after it begins: {} is not before {}",
            from.to_rfc3339(),
            to.to_rfc3339()
        ));
    }
    let days = crate::postmortem::MAX_WINDOW_DAYS;
    if to - from > chrono::TimeDelta::days(days) {
        return Err(format!(
            "the window is longer than {days} days: read a shorter one at a time"
        ));
    }
    Ok(Window { from, to })
}

/// The nightly sweep an EventBridge schedule sets off, named after its rule.
fn scheduled_sweep(object: &serde_json::Map<String, Value>) -> Target {
    let rule = object
        .get("resources")
        .and_then(|r| r.get(0))
        .and_then(Value::as_str)
        .unwrap_or("an EventBridge schedule");
    Target::Sweep {
        trigger: TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: format!("scheduled sweep ({rule})"),
            distribution_id: None,
            status: None,
        },
        include_disabled: false,
    }
}

/// `{"sweep": {}}` or `{"sweep": {"include_disabled": true}}` (null counts as `{}`).
fn sweep_include_disabled(options: &Value) -> Result<bool, TriggerError> {
    let malformed = |error: String| TriggerError::Malformed {
        kind: "manual sweep",
        error,
    };
    let map = match options {
        Value::Null => return Ok(false),
        Value::Object(map) => map,
        other => {
            return Err(malformed(format!(
            "\"sweep\" must be an object such as {{}} or {{\"include_disabled\": true}}, got {}",
            type_name(other)
        )))
        }
    };
    if let Some(unknown) = map.keys().find(|k| k.as_str() != "include_disabled") {
        let unknown: String = unknown.chars().take(40).collect();
        return Err(malformed(format!(
            "unknown option {unknown:?} in \"sweep\"; accepted: \"include_disabled\" (true or false)"
        )));
    }
    match map.get("include_disabled") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(malformed(format!(
            "\"include_disabled\" must be true or false, got {}",
            type_name(other)
        ))),
    }
}

pub fn distribution_id(id: &str) -> Result<String, TriggerError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(TriggerError::BadDistributionId(
            id.chars().take(80).collect(),
        ));
    }
    Ok(id.to_ascii_uppercase())
}

fn parse_acm_event(event: &Value, detail_type: &str) -> Result<Vec<Target>, TriggerError> {
    let parsed: EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|e| TriggerError::Malformed {
            kind: "ACM",
            error: e.to_string(),
        })?;
    let is_health = parsed.source == "aws.health";
    if is_health && parsed.detail.get("service").and_then(Value::as_str) != Some("ACM") {
        return Err(TriggerError::Unrecognised {
            received: describe(event),
        });
    }
    // Each certificate once, in the order listed: an event may list the same ARN twice.
    let mut seen = std::collections::BTreeSet::new();
    let arns: Vec<String> = parsed
        .resources
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.contains(":acm:") && r.contains(":certificate/"))
        .filter(|r| seen.insert(r.clone()))
        .collect();
    if arns.is_empty() {
        return Err(TriggerError::Malformed {
            kind: "ACM",
            error: "no ACM certificate ARN in resources[]".into(),
        });
    }
    let kind = if is_health {
        parsed
            .detail
            .get("eventTypeCode")
            .and_then(Value::as_str)
            .unwrap_or("AWS Health ACM event")
            .to_string()
    } else {
        detail_type.to_string()
    };
    Ok(arns
        .into_iter()
        .map(|arn| Target::Certificate {
            trigger: TriggerInfo {
                function: None,
                kind: cf_doctor_model::TriggerKind::AcmEvent,
                detail: format!("{kind} for {arn}"),
                distribution_id: None,
                status: None,
            },
            arn,
        })
        .collect())
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short, bounded description of an unrecognised event for the error message (the whole event
/// is logged separately).
fn describe(event: &Value) -> String {
    let Some(object) = event.as_object() else {
        return type_name(event).to_string();
    };
    let mut keys: Vec<String> = object
        .keys()
        .take(12)
        .map(|k| k.chars().take(40).collect())
        .collect();
    if object.len() > 12 {
        keys.push(format!("... {} more", object.len() - 12));
    }
    let mut text = format!("an object with keys [{}]", keys.join(", "));
    for field in ["source", "detail-type"] {
        if let Some(v) = object.get(field).and_then(Value::as_str) {
            let v: String = v.chars().take(80).collect();
            text.push_str(&format!(", {field}={v:?}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manual_diagnose_needs_a_plausible_id() {
        let err = parse_event(&json!({"diagnose": "E2; rm -rf"})).unwrap_err();
        assert!(err.to_string().contains("letters and digits"), "{err}");
        let err = parse_event(&json!({"diagnose": 7})).unwrap_err();
        assert!(err.to_string().contains("got a number"), "{err}");
    }

    #[test]
    fn unknown_events_say_what_was_received_and_what_is_accepted() {
        let err = parse_event(
            &json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("source=\"aws.s3\""), "{text}");
        assert!(text.contains("CloudWatch Alarm State Change"), "{text}");
        assert!(parse_event(&json!([1, 2]))
            .unwrap_err()
            .to_string()
            .contains("an array"));
        assert_eq!(parse_event_text("  ").unwrap_err(), TriggerError::Empty);
        assert!(matches!(
            parse_event_text("{\"diag"),
            Err(TriggerError::NotJson(_))
        ));
    }
}
