//! What happened: turns a Lambda event (or a CLI command) into the targets to inspect. Parsing only;
//! no I/O. Unknown shapes are errors that say what was received and what is accepted.

use aws_lambda_events::cloudwatch_alarms::{CloudWatchAlarm, CloudWatchAlarmData};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use cf_doctor_model::cloudfront_log::Window;
use chrono::{DateTime, Utc};
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
                    kind: cf_doctor_model::TriggerKind::Schedule,
                    detail: format!("scheduled sweep ({rule})"),
                    distribution_id: None,
                    status: None,
                },
                include_disabled: false,
            }])
        }
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
                    trigger: alarm.trigger(None, status),
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

fn parse_eventbridge_alarm(event: &Value) -> Result<Vec<Target>, TriggerError> {
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

fn parse_direct_alarm(event: &Value) -> Result<Vec<Target>, TriggerError> {
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
