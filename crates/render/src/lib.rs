//! Render: pure functions from a Diagnosis to text, JSON, Slack Block Kit and the SNS message.
//! Nothing here reads configuration or talks to anything: notify delivers what these return.

pub mod cloudfront_log;
pub mod fix;
pub mod postmortem;
pub mod slack;
pub mod sns;
pub mod text;

use cf_doctor_model::{Diagnosis, Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Slack,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "slack" => Ok(Format::Slack),
            other => Err(format!(
                "{other:?} is not a format: expected text, json or slack"
            )),
        }
    }
}

pub fn json(diagnosis: &Diagnosis) -> String {
    serde_json::to_string_pretty(diagnosis)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise: {e}\"}}"))
}

pub fn render(diagnosis: &Diagnosis, format: Format) -> String {
    match format {
        Format::Text => text::render(diagnosis),
        Format::Json => json(diagnosis),
        Format::Slack => {
            serde_json::to_string_pretty(&slack::payload(diagnosis)).unwrap_or_default()
        }
    }
}

/// One line of an evidence object: `key=value` pairs, nulls left out, long values cut.
pub fn evidence_line(evidence: &serde_json::Value, max: usize) -> String {
    let Some(map) = evidence.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (key, value) in map {
        let shown = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::Array(a) if a.is_empty() => continue,
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{key}={shown}"));
    }
    truncate(&parts.join("  "), max)
}

/// A digest (a sweep, an ACM event) rather than one distribution's incident: its first screen
/// is a to-do list.
pub fn is_digest(d: &Diagnosis) -> bool {
    d.trigger.subject().is_digest()
}

/// What a digest's first screen lists: the findings of one severity, most urgent first.
pub fn of_severity(d: &Diagnosis, severity: Severity) -> Vec<&Finding> {
    d.findings
        .iter()
        .filter(|f| f.severity == severity)
        .collect()
}

/// What the report is about, in a few words: the distribution, the CloudFront Function, or the
/// sweep / the certificate.
pub fn subject_of(d: &Diagnosis) -> String {
    match d.trigger.subject() {
        cf_doctor_model::ReportSubject::Distribution(id) => id.to_string(),
        cf_doctor_model::ReportSubject::Function(name) => format!("function {name}"),
        cf_doctor_model::ReportSubject::Certificate => "certificate".to_string(),
        cf_doctor_model::ReportSubject::Sweep => "sweep".to_string(),
    }
}

pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
