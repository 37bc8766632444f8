//! Slack Block Kit payload, within Slack's limits (50 blocks, 3,000 characters per section text,
//! 150 per header), with a plain-text fallback for notifications.

use serde_json::{json, Value};

use super::{evidence_line, truncate};
use crate::diagnosis::{Diagnosis, Severity};

const MAX_FINDINGS: usize = 10;

pub fn payload(d: &Diagnosis) -> Value {
    let icon = match d.verdict {
        crate::diagnosis::Verdict::Critical => ":red_circle:",
        crate::diagnosis::Verdict::Warning => ":large_orange_circle:",
        crate::diagnosis::Verdict::Ok => ":large_green_circle:",
        crate::diagnosis::Verdict::Unknown => ":white_circle:",
    };
    let target = d.trigger.distribution_id.as_deref().unwrap_or("sweep");
    let header = truncate(
        &format!("{} cf-doctor: {target}", d.verdict.as_str().to_uppercase()),
        150,
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!("{icon} *{}*", d.summary), 3000)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(&format!("{} · {}", d.trigger.detail, d.started_at.format("%Y-%m-%d %H:%M UTC")), 3000)}]}),
    ];
    for f in d.findings.iter().take(MAX_FINDINGS) {
        let severity = match f.severity {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let text = format!(
            "*{}* `{}` ({severity})\n{}\n*Evidence:* {}\n*Fix:* {}\n<{}|AWS docs>",
            f.title,
            f.code,
            f.resource,
            evidence_line(&f.evidence, 900),
            f.remediation,
            f.docs
        );
        blocks.push(json!({"type": "divider"}));
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}}),
        );
    }
    if d.findings.len() > MAX_FINDINGS {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("and {} more findings", d.findings.len() - MAX_FINDINGS)}]}));
    }
    json!({"text": truncate(&d.summary, 3000), "blocks": blocks})
}
