//! CloudWatch alarms in their three envelopes (EventBridge, SNS, a direct invocation): the
//! alarm's state, what it watches (metrics, metric math, a composite rule) and so what it is
//! about (distributions, CloudFront Functions, or nothing cf-doctor can diagnose), each turned
//! into targets or an acknowledgement.

use aws_lambda_events::cloudwatch_alarms::{CloudWatchAlarm, CloudWatchAlarmData};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use cf_doctor_model::{Recovery, TriggerInfo};
use serde::Deserialize;
use serde_json::Value;

use super::{distribution_id, parse_event, Target, TriggerError};

/// One metric an alarm watches (a metric alarm's, or each `metricStat` of a metric-math alarm).
#[derive(Debug, Clone, Default)]
struct WatchedMetric {
    /// Empty when the envelope does not say (then a DistributionId still counts).
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
}

impl WatchedMetric {
    fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// CloudFront's own metrics: `AWS/CloudFront` (or no namespace given at all).
    fn is_cloudfront(&self) -> bool {
        self.namespace.is_empty() || self.namespace == CLOUDFRONT_NAMESPACE
    }

    fn describe(&self) -> String {
        let dims: Vec<String> = self
            .dimensions
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let namespace = if self.namespace.is_empty() {
            "(no namespace)"
        } else {
            &self.namespace
        };
        format!("{namespace} {} ({})", self.name, dims.join(", "))
    }
}

const CLOUDFRONT_NAMESPACE: &str = "AWS/CloudFront";

/// What an alarm says, whatever envelope it came in.
struct Alarm {
    name: String,
    arn: Option<String>,
    state: AlarmState,
    previous_state: Option<AlarmState>,
    metrics: Vec<WatchedMetric>,
    /// Metric-math expressions (a SEARCH expression among them names no distribution).
    expressions: Vec<String>,
    /// A composite alarm's rule: it watches other alarms, not metrics.
    composite_rule: Option<String>,
    envelope: &'static str,
}

/// A CloudWatch alarm's state, as every envelope carries it (`StateValue`): parsed once, so that a
/// missing or unknown state is a malformed event, never a transition out of ALARM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
}

impl AlarmState {
    const ACCEPTED: &'static str = "ALARM, OK or INSUFFICIENT_DATA";

    fn parse(value: &str) -> Option<AlarmState> {
        match value {
            "ALARM" => Some(AlarmState::Alarm),
            "OK" => Some(AlarmState::Ok),
            "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
            _ => None,
        }
    }

    /// The new state an event must carry: missing or unknown, the event is refused as malformed.
    fn required(
        value: Option<String>,
        kind: &'static str,
        field: &str,
    ) -> Result<AlarmState, TriggerError> {
        let Some(value) = value else {
            return Err(TriggerError::Malformed {
                kind,
                error: format!("{field} is missing; expected {}", Self::ACCEPTED),
            });
        };
        Self::parse(&value).ok_or_else(|| TriggerError::Malformed {
            kind,
            error: format!("{field} is {value:?}; expected {}", Self::ACCEPTED),
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            AlarmState::Alarm => "ALARM",
            AlarmState::Ok => "OK",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl std::fmt::Display for AlarmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an alarm is about, as far as cf-doctor is concerned.
#[derive(Debug, PartialEq)]
enum AlarmSubject {
    /// CloudFront distributions, each with the status its metric names (502ErrorRate: 502).
    Distributions(Vec<(String, Option<u16>)>),
    /// CloudFront Functions (dimension FunctionName), each with the status its metric is about
    /// (FunctionValidationErrors: 502; executions errors, throttles, compute: 503).
    CloudFrontFunctions(Vec<(String, Option<u16>)>),
    Composite(String),
    Search(String),
    /// CloudFront metrics that name no distribution (an account-wide alarm).
    CloudFrontWithoutDistribution(String),
    /// Another service's metrics, e.g. on an SNS topic shared with other alarms.
    OtherNamespace(String),
}

impl Alarm {
    fn subject(&self) -> AlarmSubject {
        let mut distributions: Vec<(String, Option<u16>)> = Vec::new();
        for metric in self.metrics.iter().filter(|m| m.is_cloudfront()) {
            if let Some(id) = metric.dimension("DistributionId") {
                match distributions.iter_mut().find(|(d, _)| d == id) {
                    // Several metrics of one distribution: the status they agree on, else any 5xx.
                    Some((_, status)) if *status != status_of_metric(&metric.name) => {
                        *status = None
                    }
                    Some(_) => {}
                    None => distributions.push((id.to_string(), status_of_metric(&metric.name))),
                }
            }
        }
        if !distributions.is_empty() {
            return AlarmSubject::Distributions(distributions);
        }
        if let Some(rule) = &self.composite_rule {
            return AlarmSubject::Composite(rule.clone());
        }
        let mut functions: Vec<(String, Option<u16>)> = Vec::new();
        for metric in self.metrics.iter().filter(|m| m.is_cloudfront()) {
            if let Some(name) = metric.dimension("FunctionName") {
                if !functions.iter().any(|(f, _)| f == name) {
                    functions.push((
                        name.to_string(),
                        crate::edge_function::function_alarm_status(&metric.name),
                    ));
                }
            }
        }
        if !functions.is_empty() {
            return AlarmSubject::CloudFrontFunctions(functions);
        }
        if let Some(search) = self.expressions.iter().find(|e| e.contains("SEARCH(")) {
            return AlarmSubject::Search(search.clone());
        }
        let described = if self.metrics.is_empty() {
            "no metric".to_string()
        } else {
            self.metrics
                .iter()
                .map(WatchedMetric::describe)
                .collect::<Vec<_>>()
                .join("; ")
        };
        if self.metrics.iter().any(WatchedMetric::is_cloudfront) {
            AlarmSubject::CloudFrontWithoutDistribution(described)
        } else {
            AlarmSubject::OtherNamespace(described)
        }
    }

    fn trigger(&self, distribution_id: Option<String>, status: Option<u16>) -> TriggerInfo {
        let alarm_ref = self.arn.clone().unwrap_or_else(|| self.name.clone());
        TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Alarm,
            detail: format!(
                "alarm {:?} -> {} ({}; {})",
                self.name, self.state, self.envelope, alarm_ref
            ),
            distribution_id,
            status,
        }
    }
}

fn alarm_targets(alarm: Alarm) -> Result<Vec<Target>, TriggerError> {
    let subject = alarm.subject();
    if alarm.state != AlarmState::Alarm {
        return Ok(vec![acknowledge_transition(&alarm, &subject)]);
    }
    let note = match subject {
        AlarmSubject::Distributions(distributions) => {
            let count = distributions.len();
            let all: Vec<&str> = distributions.iter().map(|(d, _)| d.as_str()).collect();
            let all = all.join(", ");
            // One report per distribution: each is diagnosed and delivered on its own.
            return distributions
                .iter()
                .enumerate()
                .map(|(i, (id, status))| {
                    let id = distribution_id(id)?;
                    let mut trigger = alarm.trigger(Some(id.clone()), *status);
                    if count > 1 {
                        trigger.detail.push_str(&format!(
                            "; distribution {} of {count} in the alarm ({all})",
                            i + 1
                        ));
                    }
                    Ok(Target::Distribution { id, trigger })
                })
                .collect();
        }
        AlarmSubject::CloudFrontFunctions(functions) => {
            // Each function is diagnosed: its LIVE stage, metrics and the distributions running it.
            return Ok(functions
                .into_iter()
                .map(|(name, status)| Target::Function {
                    trigger: TriggerInfo {
                        function: Some(name.clone()),
                        ..alarm.trigger(None, status)
                    },
                    name,
                })
                .collect());
        }
        AlarmSubject::Composite(rule) => format!(
            "alarm {:?} is a composite alarm (rule: {}): it watches other alarms, not a distribution; acknowledged, nothing diagnosed. Route the CloudFront metric alarms it combines to cf-doctor to have each diagnosed",
            alarm.name,
            shorten(&rule, 300)
        ),
        AlarmSubject::Search(expression) => format!(
            "alarm {:?} watches a SEARCH expression ({}), which names no distribution; acknowledged, nothing diagnosed. An alarm on one distribution's metric (dimension DistributionId) gets a diagnosis",
            alarm.name,
            shorten(&expression, 300)
        ),
        AlarmSubject::CloudFrontWithoutDistribution(metrics) => format!(
            "alarm {:?} watches CloudFront metrics without a DistributionId dimension ({}); acknowledged, nothing diagnosed. An alarm on one distribution's metric (dimension DistributionId) gets a diagnosis",
            alarm.name,
            shorten(&metrics, 300)
        ),
        AlarmSubject::OtherNamespace(metrics) => format!(
            "alarm {:?} is not about a CloudFront distribution (it watches {}); acknowledged, nothing diagnosed (a topic shared with other alarms delivers these: the template's subscription filter keeps most of them away)",
            alarm.name,
            shorten(&metrics, 300)
        ),
    };
    Ok(vec![Target::Acknowledge {
        trigger: alarm.trigger(None, None),
        note,
        recovery: None,
    }])
}

/// A transition out of ALARM (or into INSUFFICIENT_DATA): acknowledged; ALARM -> OK of an alarm
/// about distributions is a recovery, announced where the diagnosis went.
fn acknowledge_transition(alarm: &Alarm, subject: &AlarmSubject) -> Target {
    let distributions: Vec<String> = match subject {
        AlarmSubject::Distributions(list) => list.iter().map(|(d, _)| d.clone()).collect(),
        _ => Vec::new(),
    };
    // The distribution_id attribute and field name one distribution; several are in the note.
    let single = match distributions.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    let mut note = format!(
        "alarm {:?} moved to {}: acknowledged, nothing to diagnose (only transitions into ALARM are diagnosed)",
        alarm.name, alarm.state
    );
    if distributions.len() > 1 {
        note.push_str(&format!(" (distributions {})", distributions.join(", ")));
    }
    let recovery = (alarm.state == AlarmState::Ok
        && alarm.previous_state == Some(AlarmState::Alarm)
        && !distributions.is_empty())
    .then(|| Recovery {
        region: alarm
            .arn
            .as_deref()
            .and_then(|a| a.split(':').nth(3))
            .map(str::to_string),
        alarm_name: alarm.name.clone(),
        alarm_arn: alarm.arn.clone(),
        distribution_id: single.clone(),
    });
    Target::Acknowledge {
        trigger: alarm.trigger(single, None),
        note,
        recovery,
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

/// 502ErrorRate is about 502; 5xxErrorRate and TotalErrorRate about any 5xx.
fn status_of_metric(metric: &str) -> Option<u16> {
    metric
        .strip_suffix("ErrorRate")
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (500..600).contains(s))
}

/// The `configuration` of an alarm in EventBridge and direct invocations: `metrics[].metricStat`
/// (metric and metric-math alarms), `metrics[].expression`, and a composite alarm's `alarmRule`.
fn read_configuration(configuration: &Value) -> (Vec<WatchedMetric>, Vec<String>, Option<String>) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let entries = configuration
        .get("metrics")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let metrics = entries
        .iter()
        .filter_map(|m| m.pointer("/metricStat/metric"))
        .map(|metric| WatchedMetric {
            namespace: text(metric.get("namespace")),
            name: text(metric.get("name")),
            dimensions: metric
                .get("dimensions")
                .and_then(Value::as_object)
                .map(|d| {
                    d.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let expressions = entries
        .iter()
        .filter_map(|m| m.get("expression").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let rule = configuration
        .get("alarmRule")
        .and_then(Value::as_str)
        .map(str::to_string);
    (metrics, expressions, rule)
}

/// An alarm state as the event wrote it, read from the JSON itself: the typed envelope defaults a
/// missing value to OK, which would acknowledge a malformed alarm as a recovery.
fn state_value(event: &Value, pointer: &str) -> Option<String> {
    event
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

const EVENTBRIDGE_ALARM: &str = "EventBridge CloudWatch Alarm State Change";
const DIRECT_ALARM: &str = "direct CloudWatch alarm";
const SNS_ALARM: &str = "SNS CloudWatch alarm notification";

pub(super) fn parse_eventbridge_alarm(event: &Value) -> Result<Vec<Target>, TriggerError> {
    // The state first: the typed envelope would default a missing one and word an unknown one
    // without naming the field.
    let state = AlarmState::required(
        state_value(event, "/detail/state/value"),
        EVENTBRIDGE_ALARM,
        "detail.state.value",
    )?;
    let parsed: EventBridgeEvent<CloudWatchAlarmData<Value, Value>> =
        serde_json::from_value(event.clone()).map_err(|e| TriggerError::Malformed {
            kind: EVENTBRIDGE_ALARM,
            error: e.to_string(),
        })?;
    let detail = parsed.detail;
    let (metrics, expressions, composite_rule) = read_configuration(&detail.configuration);
    alarm_targets(Alarm {
        state,
        // The previous state only decides whether a move to OK is a recovery: unknown is none.
        previous_state: state_value(event, "/detail/previousState/value")
            .and_then(|v| AlarmState::parse(&v)),
        metrics,
        expressions,
        composite_rule,
        name: detail.alarm_name,
        arn: parsed.resources.and_then(|r| r.into_iter().next()),
        envelope: "EventBridge",
    })
}

pub(super) fn parse_direct_alarm(event: &Value) -> Result<Vec<Target>, TriggerError> {
    let state = AlarmState::required(
        state_value(event, "/alarmData/state/value"),
        DIRECT_ALARM,
        "alarmData.state.value",
    )?;
    let parsed: CloudWatchAlarm<Value, Value> =
        serde_json::from_value(event.clone()).map_err(|e| TriggerError::Malformed {
            kind: DIRECT_ALARM,
            error: e.to_string(),
        })?;
    let data = parsed.alarm_data;
    let (metrics, expressions, composite_rule) = read_configuration(&data.configuration);
    alarm_targets(Alarm {
        state,
        previous_state: state_value(event, "/alarmData/previousState/value")
            .and_then(|v| AlarmState::parse(&v)),
        metrics,
        expressions,
        composite_rule,
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
    /// Composite alarms carry their rule instead of a trigger.
    alarm_rule: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAlarmTrigger {
    metric_name: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    dimensions: Vec<SnsDimension>,
    /// Metric-math alarms list their metrics and expressions here instead.
    #[serde(default)]
    metrics: Vec<Value>,
}

#[derive(Deserialize)]
struct SnsDimension {
    name: String,
    value: String,
}

impl SnsAlarmTrigger {
    /// (metrics, expressions): the metric of a metric alarm, or each `MetricStat` and
    /// `Expression` of a metric-math alarm.
    fn read(self) -> (Vec<WatchedMetric>, Vec<String>) {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let mut metrics = Vec::new();
        if let Some(name) = self.metric_name.filter(|n| !n.is_empty()) {
            metrics.push(WatchedMetric {
                namespace: self.namespace.unwrap_or_default(),
                name,
                dimensions: self
                    .dimensions
                    .into_iter()
                    .map(|d| (d.name, d.value))
                    .collect(),
            });
        }
        let mut expressions = Vec::new();
        for entry in self.metrics {
            if let Some(expression) = entry.get("Expression").and_then(Value::as_str) {
                expressions.push(expression.to_string());
            }
            let Some(m) = entry.pointer("/MetricStat/Metric") else {
                continue;
            };
            let dimensions = m
                .get("Dimensions")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|d| (text(d.get("name")), text(d.get("value"))))
                .collect();
            metrics.push(WatchedMetric {
                namespace: text(m.get("Namespace")),
                name: text(m.get("MetricName")),
                dimensions,
            });
        }
        (metrics, expressions)
    }
}

pub(super) fn parse_sns(event: &Value) -> Result<Vec<Target>, TriggerError> {
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
        let (metrics, expressions) = alarm.trigger.map(SnsAlarmTrigger::read).unwrap_or_default();
        targets.extend(alarm_targets(Alarm {
            name: alarm.alarm_name,
            arn: alarm.alarm_arn,
            state: AlarmState::required(Some(alarm.new_state_value), SNS_ALARM, "NewStateValue")?,
            previous_state: alarm.old_state_value.as_deref().and_then(AlarmState::parse),
            metrics,
            expressions,
            composite_rule: alarm.alarm_rule,
            envelope: "SNS",
        })?);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metric_name_says_which_status_the_alarm_is_about() {
        assert_eq!(status_of_metric("502ErrorRate"), Some(502));
        assert_eq!(status_of_metric("5xxErrorRate"), None);
        assert_eq!(status_of_metric("401ErrorRate"), None);
        assert_eq!(status_of_metric("Requests"), None);
    }
}
