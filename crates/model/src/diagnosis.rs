//! The report: what triggered it, the verdict, the ranked findings and the checks
//! (schema `cf-doctor/diagnosis/v1` in docs/contract.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::build_info::BuildInfo;
use crate::check::Check;
use crate::cloudfront_log::CloudfrontLog;
use crate::evidence::MetricReading;
use crate::finding::{Code, Finding};

pub const SCHEMA: &str = "cf-doctor/diagnosis/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warning,
    Critical,
    /// Nothing wrong was found, but something could not be checked: not the same as healthy.
    Unknown,
}

impl Verdict {
    /// Monitoring-plugin exit codes (docs/contract.md, "Exit codes").
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
            Verdict::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }
}

/// What kind of event set an inspection off; the JSON words are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    /// A CloudWatch alarm (EventBridge, SNS or direct), on a distribution or a CloudFront Function.
    Alarm,
    /// The nightly sweep (EventBridge schedule), or a sweep asked for.
    Schedule,
    /// An ACM or AWS Health event about certificates.
    AcmEvent,
    /// A test event or the CLI.
    Manual,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Alarm => "alarm",
            TriggerKind::Schedule => "schedule",
            TriggerKind::AcmEvent => "acm-event",
            TriggerKind::Manual => "manual",
        }
    }
}

impl std::str::FromStr for TriggerKind {
    type Err = String;
    fn from_str(word: &str) -> Result<Self, Self::Err> {
        [
            TriggerKind::Alarm,
            TriggerKind::Schedule,
            TriggerKind::AcmEvent,
            TriggerKind::Manual,
        ]
        .into_iter()
        .find(|k| k.as_str() == word)
        .ok_or_else(|| {
            format!("{word:?} is not a trigger kind: expected alarm, schedule, acm-event or manual")
        })
    }
}

impl std::fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What set the inspection off, as the report states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerInfo {
    pub kind: TriggerKind,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_id: Option<String>,
    /// The status the alarm is about (502 for a 502ErrorRate alarm); None for 5xxErrorRate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The CloudFront Function an alarm on its own metrics (dimension `FunctionName`) is about,
    /// as its target named it. With `distribution_id` set too (one distribution runs it), the
    /// report is about that distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

/// What a report is about, from its trigger: one distribution, a CloudFront Function (run by
/// several distributions, or by none that could be read), the certificates of an ACM event, or a
/// sweep. Each format words it its own way (a subject line, a summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportSubject<'a> {
    Distribution(&'a str),
    Function(&'a str),
    Certificate,
    Sweep,
}

impl ReportSubject<'_> {
    /// A report about many things at once (a sweep, an ACM event's certificates): a digest,
    /// not an incident.
    pub fn is_digest(self) -> bool {
        matches!(self, ReportSubject::Certificate | ReportSubject::Sweep)
    }
}

impl TriggerInfo {
    pub fn subject(&self) -> ReportSubject<'_> {
        match (&self.distribution_id, &self.function, self.kind) {
            (Some(id), _, _) => ReportSubject::Distribution(id),
            (None, Some(name), _) => ReportSubject::Function(name),
            (None, None, TriggerKind::AcmEvent) => ReportSubject::Certificate,
            (None, None, _) => ReportSubject::Sweep,
        }
    }

    /// A run someone asked for by hand (a test event, or the CLI).
    pub fn manual(detail: impl Into<String>, distribution_id: Option<String>) -> TriggerInfo {
        TriggerInfo {
            function: None,
            kind: TriggerKind::Manual,
            detail: detail.into(),
            distribution_id,
            status: None,
        }
    }
}

/// An alarm that went from ALARM back to OK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub alarm_name: String,
    pub alarm_arn: Option<String>,
    pub region: Option<String>,
    pub distribution_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub schema: String,
    /// The build that made it (`cf_doctor_version`, `cf_doctor_commit`), beside the schema.
    #[serde(flatten, default)]
    pub build: BuildInfo,
    pub trigger: TriggerInfo,
    pub verdict: Verdict,
    pub summary: String,
    pub probable_cause: Option<Code>,
    pub findings: Vec<Finding>,
    pub checks: Vec<Check>,
    /// CloudWatch readings of the distribution and its load balancers, when any were read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricReading>,
    /// What CloudFront itself logged of the alarm's window, when its real-time logs were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudfront_log: Option<CloudfrontLog>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
}

impl Diagnosis {
    /// The codes of the findings, each once, in ranked order (the SNS `codes` attribute).
    pub fn codes(&self) -> Vec<&'static str> {
        let mut seen = std::collections::BTreeSet::new();
        self.findings
            .iter()
            .map(|f| f.code.as_str())
            .filter(|c| seen.insert(*c))
            .collect()
    }
}
