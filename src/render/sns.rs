//! The SNS message: subject (at most 100 printable ASCII characters), the diagnosis JSON as body,
//! and message attributes for subscription filter policies.

use crate::diagnosis::Diagnosis;

pub struct SnsMessage {
    pub subject: String,
    pub body: String,
    pub verdict: String,
    pub distribution_id: Option<String>,
    /// A JSON array of finding codes, the value of the String.Array attribute `codes`.
    pub codes: String,
}

/// SNS refuses messages over 256 KiB (body, subject and attributes together): keep a margin.
pub const MAX_BODY_BYTES: usize = 240 * 1024;

pub fn message(d: &Diagnosis) -> SnsMessage {
    SnsMessage {
        subject: subject(d),
        body: body_within(d, MAX_BODY_BYTES),
        verdict: d.verdict.as_str().to_string(),
        distribution_id: d.trigger.distribution_id.clone(),
        codes: serde_json::to_string(&d.codes()).unwrap_or_else(|_| "[]".into()),
    }
}

/// SNS subjects must be ASCII without control characters, start with a letter, number or
/// punctuation, and be at most 100 characters.
pub fn subject(d: &Diagnosis) -> String {
    let target = d.trigger.distribution_id.as_deref().unwrap_or("sweep");
    let cause = d
        .probable_cause
        .map(|c| c.as_str())
        .unwrap_or("no problem found");
    let raw = format!(
        "[{}] cf-doctor {target}: {cause}",
        d.verdict.as_str().to_uppercase()
    );
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect();
    clean.trim().to_string()
}

/// The diagnosis JSON within `limit` bytes. What does not fit goes in this order, and the message
/// says what went: the checks (their counts stay), then the evidence of lower findings, then the
/// lowest findings themselves. The full report is in the log and the invocation result.
pub fn body_within(d: &Diagnosis, limit: usize) -> String {
    let full = serde_json::to_string(d).unwrap_or_default();
    if full.len() <= limit {
        return full;
    }
    let mut value = serde_json::to_value(d).unwrap_or_default();
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    for c in &d.checks {
        let outcome = serde_json::to_value(c.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *outcomes.entry(outcome).or_default() += 1;
    }
    value["checks"] = serde_json::json!([]);
    value["truncated"] = serde_json::json!({
        "reason": "SNS messages are limited to 256 KB; the full report is in the function's log and result",
        "checks_omitted": d.checks.len(),
        "check_outcomes": outcomes,
    });
    let fits = |v: &serde_json::Value| {
        serde_json::to_string(v)
            .map(|s| s.len() <= limit)
            .unwrap_or(false)
    };
    let findings = d.findings.len();
    // Evidence goes first, from the lowest-ranked finding up; the top finding keeps its evidence.
    let mut stripped = 0;
    while !fits(&value) && stripped + 1 < findings {
        let index = findings - 1 - stripped;
        value["findings"][index]["evidence"] = serde_json::json!({"omitted": true});
        stripped += 1;
        value["truncated"]["evidence_omitted_from"] = serde_json::json!(stripped);
    }
    let mut dropped = 0;
    while !fits(&value) {
        let Some(list) = value["findings"].as_array_mut() else {
            break;
        };
        if list.len() <= 1 {
            break;
        }
        list.pop();
        dropped += 1;
        value["truncated"]["findings_omitted"] = serde_json::json!(dropped);
    }
    serde_json::to_string(&value).unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::{Check, Code, Finding, Outcome, Severity, TriggerInfo};

    fn big(findings: usize, checks: usize) -> Diagnosis {
        let trigger = TriggerInfo {
            kind: "schedule".into(),
            detail: "sweep".into(),
            distribution_id: None,
            status: None,
        };
        let findings = (0..findings)
            .map(|i| {
                Finding::new(Code::AcmCertExpiring, Severity::Warning, format!("arn:{i}"))
                    .title("t")
                    .evidence(serde_json::json!({"days_left": i, "pad": "x".repeat(2000)}))
            })
            .collect();
        let checks = (0..checks)
            .map(|i| Check {
                name: "origin-tls".into(),
                target: format!("fleet-{i}.origin.test:443@127.0.0.1"),
                outcome: Outcome::Pass,
                duration_ms: 3,
                detail: Some("TLSv1.2, trusted via public-roots".into()),
            })
            .collect();
        Diagnosis::assemble(trigger, findings, checks, chrono::Utc::now(), 1)
    }

    #[test]
    fn a_small_report_is_sent_whole() {
        let d = big(3, 10);
        assert_eq!(
            body_within(&d, MAX_BODY_BYTES),
            serde_json::to_string(&d).unwrap()
        );
    }

    #[test]
    fn checks_go_first_then_evidence_then_findings_and_the_message_says_so() {
        let d = big(50, 3000);
        let only_checks: serde_json::Value =
            serde_json::from_str(&body_within(&d, 120_000)).unwrap();
        assert_eq!(only_checks["truncated"]["checks_omitted"], 3000);
        assert_eq!(only_checks["truncated"]["check_outcomes"]["pass"], 3000);
        assert_eq!(only_checks["findings"].as_array().unwrap().len(), 50);
        assert!(only_checks["truncated"]
            .get("evidence_omitted_from")
            .is_none());

        let trimmed_body = body_within(&d, 40_000);
        assert!(trimmed_body.len() <= 40_000);
        let trimmed: serde_json::Value = serde_json::from_str(&trimmed_body).unwrap();
        assert_eq!(
            trimmed["findings"].as_array().unwrap().len(),
            50,
            "evidence is trimmed before findings are dropped"
        );
        assert_eq!(
            trimmed["findings"][0]["evidence"]["days_left"], 0,
            "the top finding keeps its evidence"
        );

        let dropped: serde_json::Value = serde_json::from_str(&body_within(&d, 6_000)).unwrap();
        assert!(dropped["truncated"]["findings_omitted"].as_u64().unwrap() > 0);
        assert_eq!(dropped["schema"], "cf-doctor/diagnosis/v1");
    }
}
