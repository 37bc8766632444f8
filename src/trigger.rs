//! What happened: turns a Lambda event (or a CLI command) into the targets to inspect. Parsing only;
//! no I/O. Unknown shapes are errors that say what was received and what is accepted.

use aws_lambda_events::cloudwatch_alarms::{
    CloudWatchAlarm, CloudWatchAlarmData, CloudWatchAlarmState,
};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use serde::Deserialize;
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
}

pub const ACCEPTED: &str = "accepted events: EventBridge \"CloudWatch Alarm State Change\" (source aws.cloudwatch), \
an SNS notification carrying a CloudWatch alarm (Records[].Sns.Message), a CloudWatch alarm invoking Lambda directly \
(alarmArn + alarmData), EventBridge \"Scheduled Event\" (source aws.events), ACM certificate events (source aws.acm) \
and AWS Health ACM events, {\"diagnose\": \"DISTRIBUTION_ID\"}, {\"sweep\": {}}";

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
    #[error("alarm {alarm:?} has no DistributionId dimension (received dimensions: {dimensions}); cf-doctor diagnoses alarms on AWS/CloudFront metrics such as 5xxErrorRate, which carry DistributionId")]
    NoDistribution { alarm: String, dimensions: String },
    #[error("{0:?} is not a CloudFront distribution id: expected letters and digits only, like E2EXAMPLE1ABCD")]
    BadDistributionId(String),
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
    if object.contains_key("sweep") {
        return Ok(vec![Target::Sweep {
            trigger: TriggerInfo::manual("manual sweep", None),
        }]);
    }
    if object.contains_key("Records") {
        return parse_sns(event);
    }
    if object.contains_key("alarmData") {
        return parse_direct_alarm(event);
    }
    let source = object.get("source").and_then(Value::as_str).unwrap_or("");
    let detail_type = object
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("");
    match (source, detail_type) {
        ("aws.cloudwatch", "CloudWatch Alarm State Change") => parse_eventbridge_alarm(event),
        ("aws.events", "Scheduled Event") => {
            let rule = object
                .get("resources")
                .and_then(|r| r.get(0))
                .and_then(Value::as_str)
                .unwrap_or("an EventBridge schedule");
            Ok(vec![Target::Sweep {
                trigger: TriggerInfo {
                    kind: "schedule".into(),
                    detail: format!("scheduled sweep ({rule})"),
                    distribution_id: None,
                    status: None,
                },
            }])
        }
        ("aws.acm", _) | ("aws.health", _) => parse_acm_event(event, detail_type),
        _ => Err(TriggerError::Unrecognised {
            received: describe(event),
        }),
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

/// What an alarm says, whatever envelope it came in.
struct Alarm {
    name: String,
    arn: Option<String>,
    state: String,
    previous_state: Option<String>,
    /// (metric name, dimensions) of each metric the alarm watches.
    metrics: Vec<(String, Vec<(String, String)>)>,
    envelope: &'static str,
}

fn alarm_targets(alarm: Alarm) -> Result<Vec<Target>, TriggerError> {
    let alarm_ref = alarm.arn.clone().unwrap_or_else(|| alarm.name.clone());
    let distribution = alarm
        .metrics
        .iter()
        .flat_map(|(_, dims)| dims)
        .find(|(name, _)| name == "DistributionId")
        .map(|(_, value)| value.clone());
    let status = alarm
        .metrics
        .iter()
        .find_map(|(metric, _)| status_of_metric(metric));
    let trigger = |distribution_id: Option<String>| TriggerInfo {
        kind: "alarm".into(),
        detail: format!(
            "alarm {:?} -> {} ({}; {})",
            alarm.name, alarm.state, alarm.envelope, alarm_ref
        ),
        distribution_id,
        status,
    };
    if alarm.state != "ALARM" {
        let note = format!(
            "alarm {:?} moved to {}: acknowledged, nothing to diagnose (only transitions into ALARM are diagnosed)",
            alarm.name, alarm.state
        );
        let recovery = (alarm.state == "OK" && alarm.previous_state.as_deref() == Some("ALARM"))
            .then(|| Recovery {
                region: alarm
                    .arn
                    .as_deref()
                    .and_then(|a| a.split(':').nth(3))
                    .map(str::to_string),
                alarm_name: alarm.name.clone(),
                alarm_arn: alarm.arn.clone(),
                distribution_id: distribution.clone(),
            });
        return Ok(vec![Target::Acknowledge {
            trigger: trigger(distribution.clone()),
            note,
            recovery,
        }]);
    }
    let Some(id) = distribution else {
        let dimensions = alarm
            .metrics
            .iter()
            .flat_map(|(metric, dims)| dims.iter().map(move |(k, v)| format!("{metric}:{k}={v}")))
            .collect::<Vec<_>>();
        return Err(TriggerError::NoDistribution {
            alarm: alarm.name,
            dimensions: if dimensions.is_empty() {
                "none".into()
            } else {
                dimensions.join(", ")
            },
        });
    };
    let id = distribution_id(&id)?;
    Ok(vec![Target::Distribution {
        trigger: trigger(Some(id.clone())),
        id,
    }])
}

/// 502ErrorRate is about 502; 5xxErrorRate and TotalErrorRate about any 5xx.
fn status_of_metric(metric: &str) -> Option<u16> {
    metric
        .strip_suffix("ErrorRate")
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (500..600).contains(s))
}

/// The `configuration` of an alarm in EventBridge and direct invocations: `metrics[].metricStat`.
fn metrics_of_configuration(configuration: &Value) -> Vec<(String, Vec<(String, String)>)> {
    let Some(metrics) = configuration.get("metrics").and_then(Value::as_array) else {
        return Vec::new();
    };
    metrics
        .iter()
        .filter_map(|m| m.pointer("/metricStat/metric"))
        .map(|metric| {
            let name = metric
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let dims = metric
                .get("dimensions")
                .and_then(Value::as_object)
                .map(|d| {
                    d.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (name, dims)
        })
        .collect()
}

fn state_value(state: Option<&CloudWatchAlarmState<Value>>) -> Option<String> {
    state
        .and_then(|s| serde_json::to_value(&s.value).ok())
        .and_then(|v| v.as_str().map(str::to_string))
}

fn parse_eventbridge_alarm(event: &Value) -> Result<Vec<Target>, TriggerError> {
    let parsed: EventBridgeEvent<CloudWatchAlarmData<Value, Value>> =
        serde_json::from_value(event.clone()).map_err(|e| TriggerError::Malformed {
            kind: "EventBridge CloudWatch Alarm State Change",
            error: e.to_string(),
        })?;
    let detail = parsed.detail;
    alarm_targets(Alarm {
        state: state_value(detail.state.as_ref()).unwrap_or_else(|| "UNKNOWN".into()),
        previous_state: state_value(detail.previous_state.as_ref()),
        metrics: metrics_of_configuration(&detail.configuration),
        name: detail.alarm_name,
        arn: parsed.resources.and_then(|r| r.into_iter().next()),
        envelope: "EventBridge",
    })
}

fn parse_direct_alarm(event: &Value) -> Result<Vec<Target>, TriggerError> {
    let parsed: CloudWatchAlarm<Value, Value> =
        serde_json::from_value(event.clone()).map_err(|e| TriggerError::Malformed {
            kind: "direct CloudWatch alarm",
            error: e.to_string(),
        })?;
    let data = parsed.alarm_data;
    alarm_targets(Alarm {
        state: state_value(data.state.as_ref()).unwrap_or_else(|| "UNKNOWN".into()),
        previous_state: state_value(data.previous_state.as_ref()),
        metrics: metrics_of_configuration(&data.configuration),
        name: data.alarm_name,
        arn: parsed.alarm_arn,
        envelope: "direct invocation",
    })
}

/// The classic alarm notification CloudWatch publishes to SNS (no type for it in aws_lambda_events).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAlarmMessage {
    alarm_name: String,
    alarm_arn: Option<String>,
    new_state_value: String,
    old_state_value: Option<String>,
    trigger: Option<SnsAlarmTrigger>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAlarmTrigger {
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<SnsDimension>,
    /// Metric-math alarms list their metrics here instead.
    #[serde(default)]
    metrics: Vec<Value>,
}

#[derive(Deserialize)]
struct SnsDimension {
    name: String,
    value: String,
}

fn parse_sns(event: &Value) -> Result<Vec<Target>, TriggerError> {
    let malformed = |error: String| TriggerError::Malformed { kind: "SNS", error };
    let parsed: SnsEvent =
        serde_json::from_value(event.clone()).map_err(|e| malformed(e.to_string()))?;
    if parsed.records.is_empty() {
        return Err(malformed("Records is empty".into()));
    }
    let mut targets = Vec::new();
    for record in parsed.records {
        let message: Value = serde_json::from_str(&record.sns.message).map_err(|e| {
            malformed(format!(
                "Sns.Message is not JSON ({e}); expected a CloudWatch alarm notification"
            ))
        })?;
        // An SNS topic may also relay EventBridge events or manual test events.
        if message.get("AlarmName").is_none() {
            targets.extend(parse_event(&message)?);
            continue;
        }
        let alarm: SnsAlarmMessage = serde_json::from_value(message).map_err(|e| {
            malformed(format!(
                "Sns.Message is not a CloudWatch alarm notification: {e}"
            ))
        })?;
        let mut metrics = Vec::new();
        if let Some(trigger) = alarm.trigger {
            metrics.push((
                trigger.metric_name.unwrap_or_default(),
                trigger
                    .dimensions
                    .into_iter()
                    .map(|d| (d.name, d.value))
                    .collect(),
            ));
            for metric in trigger.metrics {
                let Some(m) = metric.pointer("/MetricStat/Metric") else {
                    continue;
                };
                let name = m
                    .get("MetricName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let dims = m
                    .get("Dimensions")
                    .and_then(Value::as_array)
                    .map(|dims| {
                        dims.iter()
                            .map(|d| {
                                let field = |k: &str| {
                                    d.get(k).and_then(Value::as_str).unwrap_or("").to_string()
                                };
                                (field("name"), field("value"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                metrics.push((name, dims));
            }
        }
        targets.extend(alarm_targets(Alarm {
            name: alarm.alarm_name,
            arn: alarm.alarm_arn,
            state: alarm.new_state_value,
            previous_state: alarm.old_state_value,
            metrics,
            envelope: "SNS",
        })?);
    }
    Ok(targets)
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
    let arns: Vec<String> = parsed
        .resources
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.contains(":acm:") && r.contains(":certificate/"))
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
                kind: "acm-event".into(),
                detail: format!("{kind} for {arn}"),
                distribution_id: None,
                status: None,
            },
            arn,
        })
        .collect())
}

fn type_name(v: &Value) -> &'static str {
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
    fn the_metric_name_says_which_status_the_alarm_is_about() {
        assert_eq!(status_of_metric("502ErrorRate"), Some(502));
        assert_eq!(status_of_metric("5xxErrorRate"), None);
        assert_eq!(status_of_metric("401ErrorRate"), None);
        assert_eq!(status_of_metric("Requests"), None);
    }

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
