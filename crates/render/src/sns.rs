//! The SNS message: subject (at most 100 printable ASCII characters), the diagnosis JSON as body,
//! and message attributes for subscription filter policies.

use cf_doctor_model::{Diagnosis, Recovery, Severity, Verdict};

/// One SNS publication: `MessageStructure=json`, so that email subscribers read text while SQS,
/// Lambda and HTTPS subscribers get the JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SnsMessage {
    pub subject: String,
    /// The JSON object SNS splits by protocol: `default` (JSON) and `email` (text).
    pub structured: String,
    /// `critical`, `warning`, `ok`, `unknown`, or `recovered`.
    pub verdict: String,
    pub distribution_id: Option<String>,
    /// A JSON array of finding codes, the value of the String.Array attribute `codes`.
    pub codes: String,
}

/// SNS refuses messages over 256 KiB (message, subject and attributes together): keep a margin.
pub const MAX_MESSAGE_BYTES: usize = 250 * 1024;
/// The email text is a courtesy copy: it gets a fixed share, the JSON the rest.
const MAX_EMAIL_CHARS: usize = 40 * 1024;

pub fn message(d: &Diagnosis) -> SnsMessage {
    let email = super::truncate(&super::text::render(d), MAX_EMAIL_CHARS);
    // JSON inside a JSON string grows when escaped: shrink the budget until the whole fits.
    let mut budget = MAX_MESSAGE_BYTES - email.len().min(MAX_MESSAGE_BYTES / 2);
    let structured = loop {
        let body = body_within(d, budget);
        let structured = serde_json::json!({"default": body, "email": email}).to_string();
        if structured.len() <= MAX_MESSAGE_BYTES || budget < 4096 {
            break structured;
        }
        budget = budget * 3 / 4;
    };
    SnsMessage {
        subject: subject(d),
        structured,
        verdict: d.verdict.as_str().to_string(),
        distribution_id: d.trigger.distribution_id.clone(),
        codes: serde_json::to_string(&d.codes()).unwrap_or_else(|_| "[]".into()),
    }
}

pub const RECOVERY_SCHEMA: &str = "cf-doctor/recovery/v1";

/// A short "recovered" note, with verdict `recovered` so that a filter policy paging on
/// `critical` lets it pass by.
pub fn recovery(r: &Recovery, note: &str) -> SnsMessage {
    let target = r.distribution_id.as_deref().unwrap_or("alarm");
    let body =
        serde_json::json!({"schema": RECOVERY_SCHEMA, "recovery": r, "note": note}).to_string();
    let email = format!(
        "{note}\n\nAlarm: {}\n",
        r.alarm_arn.as_deref().unwrap_or(&r.alarm_name)
    );
    SnsMessage {
        subject: clean_subject(&format!(
            "[RECOVERED] cf-doctor {target}: alarm {} is OK",
            r.alarm_name
        )),
        structured: serde_json::json!({"default": body, "email": email}).to_string(),
        verdict: "recovered".into(),
        distribution_id: r.distribution_id.clone(),
        codes: "[]".into(),
    }
}

/// SNS subjects must be ASCII without control characters, start with a letter, number or
/// punctuation, and be at most 100 characters.
pub fn subject(d: &Diagnosis) -> String {
    let target = super::subject_of(d);
    let verdict = d.verdict.as_str().to_uppercase();
    if super::is_digest(d) {
        return clean_subject(&format!(
            "[{verdict}] cf-doctor {target}: {}",
            todo_today(d)
        ));
    }
    let cause = d
        .probable_cause
        .map(|c| c.as_str())
        .unwrap_or("no problem found");
    clean_subject(&format!("[{verdict}] cf-doctor {target}: {cause}"))
}

/// A digest's subject answers "what must I do today": how many critical findings, of which codes
/// in ranked order (or, with none, how many warnings).
fn todo_today(d: &Diagnosis) -> String {
    let codes = |severity: Severity| {
        let mut codes: Vec<&str> = super::of_severity(d, severity)
            .iter()
            .map(|f| f.code.as_str())
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        codes.retain(|c| seen.insert(*c));
        codes.join(", ")
    };
    let critical = super::of_severity(d, Severity::Critical).len();
    let warning = super::of_severity(d, Severity::Warning).len();
    match (critical, warning) {
        (0, 0) if d.verdict == Verdict::Unknown => "inspection incomplete, nothing found".into(),
        (0, 0) => "nothing to do today".into(),
        (0, w) => format!(
            "nothing critical; {w} warning(s): {}",
            codes(Severity::Warning)
        ),
        (c, _) => format!("{c} to fix today: {}", codes(Severity::Critical)),
    }
}

fn clean_subject(raw: &str) -> String {
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
/// lowest findings themselves. The full report is in the function's log.
pub fn body_within(d: &Diagnosis, limit: usize) -> String {
    within(
        d,
        limit,
        "SNS messages are limited to 256 KB; the full report is in the function's log",
    )
}

/// The diagnosis JSON within `limit` bytes, giving way as [`body_within`] does; `reason` says
/// why in the `truncated` field. Sizes are measured once per finding and kept up to date as
/// things go, so a digest of thousands of findings costs one pass, not one serialisation per
/// finding given up.
pub fn within(d: &Diagnosis, limit: usize, reason: &str) -> String {
    use serde_json::{json, Value};
    let full = serde_json::to_string(d).unwrap_or_default();
    if full.len() <= limit {
        return full;
    }
    let len = |v: &Value| serde_json::to_string(v).map(|s| s.len()).unwrap_or(0);
    // Room for the counters `truncated` gains below.
    const COUNTERS: usize = 128;
    let fits = |size: usize| size + COUNTERS <= limit;

    let mut value = serde_json::to_value(d).unwrap_or_default();
    let mut findings: Vec<Value> = match value.get_mut("findings").map(Value::take) {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    value["findings"] = json!([]);
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    for c in &d.checks {
        *outcomes.entry(c.outcome.as_str().to_string()).or_default() += 1;
    }
    value["checks"] = json!([]);
    value["truncated"] = json!({
        "reason": reason,
        "checks_omitted": d.checks.len(),
        "check_outcomes": outcomes,
    });
    let mut sizes: Vec<usize> = findings.iter().map(len).collect();
    let listed = |sizes: &[usize]| sizes.iter().sum::<usize>() + sizes.len().saturating_sub(1);
    let mut base = len(&value);

    // The metric readings (context) go next, counted.
    if !fits(base + listed(&sizes)) && !d.metrics.is_empty() {
        if let Some(map) = value.as_object_mut() {
            map.remove("metrics");
        }
        value["truncated"]["metrics_omitted"] = json!(d.metrics.len());
        base = len(&value);
    }
    // Evidence goes first, from the lowest-ranked finding up; the top finding keeps its evidence.
    let omitted = json!({"omitted": true});
    let omitted_len = len(&omitted);
    let mut stripped = 0;
    while !fits(base + listed(&sizes)) && stripped + 1 < findings.len() {
        let index = findings.len() - 1 - stripped;
        let evidence_len = len(&findings[index]["evidence"]);
        findings[index]["evidence"] = omitted.clone();
        // Its fix goes with it: the remediation sentence stays.
        let fix_len = findings[index]
            .as_object_mut()
            .and_then(|f| f.remove("fix"))
            .map(|fix| len(&fix) + ",\"fix\":".len())
            .unwrap_or(0);
        sizes[index] = sizes[index] + omitted_len - evidence_len - fix_len;
        stripped += 1;
    }
    if stripped > 0 {
        value["truncated"]["evidence_omitted_from"] = json!(stripped);
    }
    // Then the lowest findings themselves.
    let mut dropped = 0;
    while !fits(base + listed(&sizes)) && findings.len() > 1 {
        findings.pop();
        sizes.pop();
        dropped += 1;
    }
    if dropped > 0 {
        value["truncated"]["findings_omitted"] = json!(dropped);
    }
    // Last, the top finding's own evidence (its title, remediation and fix stay).
    if !fits(base + listed(&sizes)) && !findings.is_empty() {
        findings[0]["evidence"] = omitted;
        value["truncated"]["evidence_omitted_from"] = json!(findings.len());
    }
    value["findings"] = Value::Array(findings);
    // Very last, the top finding's fix: its one-line remediation stays.
    if !fits(len(&value)) {
        if let Some(top) = value["findings"][0].as_object_mut() {
            if top.remove("fix").is_some() {
                value["truncated"]["fix_omitted"] = json!(true);
            }
        }
    }
    serde_json::to_string(&value).unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::{Check, CheckOutcome, Code, Finding, Severity, TriggerInfo};

    fn big(findings: usize, checks: usize) -> Diagnosis {
        let trigger = TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: "sweep".into(),
            distribution_id: None,
            status: None,
        };
        let findings = (0..findings)
            .map(|i| {
                Finding::new(Code::AcmCertExpiring, Severity::Warning, format!("arn:{i}"))
                    .title("t")
                    .evidence(serde_json::json!({"days_left": i, "pad": "x".repeat(2000)}))
                    .days_left(Some(i as i64))
            })
            .collect();
        let checks = (0..checks)
            .map(|i| Check {
                name: "origin-tls".into(),
                target: format!("fleet-{i}.origin.test:443@127.0.0.1"),
                outcome: CheckOutcome::Pass,
                duration_ms: 3,
                detail: Some("TLSv1.2, trusted via public-roots".into()),
            })
            .collect();
        cf_doctor_rules::assemble(
            trigger,
            findings,
            checks,
            chrono::DateTime::from_timestamp(1_764_072_000, 0).unwrap(),
            1,
        )
    }

    #[test]
    fn a_small_report_is_sent_whole() {
        let d = big(3, 10);
        assert_eq!(
            body_within(&d, MAX_MESSAGE_BYTES),
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

#[cfg(test)]
mod subject_tests {
    use super::*;
    use cf_doctor_model::{Code, Finding, Severity, TriggerInfo};

    fn sweep(findings: Vec<Finding>) -> Diagnosis {
        let trigger = TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: "sweep".into(),
            distribution_id: None,
            status: None,
        };
        cf_doctor_rules::assemble(
            trigger,
            findings,
            vec![],
            chrono::DateTime::from_timestamp(1_764_072_000, 0).unwrap(),
            1,
        )
    }

    #[test]
    fn a_digest_subject_says_what_to_do_today() {
        let d = sweep(vec![
            Finding::new(Code::OriginCertExpired, Severity::Critical, "o:443"),
            Finding::new(Code::AcmCertExpired, Severity::Critical, "arn:1"),
            Finding::new(Code::AcmCertExpired, Severity::Critical, "arn:2"),
            Finding::new(Code::AcmCertExpiring, Severity::Warning, "arn:3"),
        ]);
        assert_eq!(
            subject(&d),
            "[CRITICAL] cf-doctor sweep: 3 to fix today: origin-cert-expired, acm-cert-expired"
        );
        let d = sweep(vec![Finding::new(
            Code::AcmCertExpiring,
            Severity::Warning,
            "arn:3",
        )]);
        assert_eq!(
            subject(&d),
            "[WARNING] cf-doctor sweep: nothing critical; 1 warning(s): acm-cert-expiring"
        );
        let d = sweep(vec![Finding::new(
            Code::AcmCertExpired,
            Severity::Info,
            "3 unused certificates",
        )]);
        assert_eq!(subject(&d), "[OK] cf-doctor sweep: nothing to do today");
    }
}

#[cfg(test)]
mod structure_tests {
    use super::*;
    use cf_doctor_model::{Check, CheckOutcome, Code, Finding, Severity, TriggerInfo};

    #[test]
    fn the_whole_structured_message_stays_under_the_sns_limit_even_for_a_huge_sweep() {
        let trigger = TriggerInfo {
            function: None,
            kind: cf_doctor_model::TriggerKind::Schedule,
            detail: "sweep".into(),
            distribution_id: None,
            status: None,
        };
        let findings = (0..400)
            .map(|i| {
                Finding::new(
                    Code::OriginCertExpiring,
                    Severity::Warning,
                    format!("o{i}:443"),
                )
                .title("expiring \"soon\"")
                .evidence(serde_json::json!({"days_left": i, "names": vec!["x.example"; 40]}))
                .days_left(Some(i as i64))
            })
            .collect();
        let checks = (0..5000)
            .map(|i| Check {
                name: "origin-tls".into(),
                target: format!("o{i}:443@127.0.0.1"),
                outcome: CheckOutcome::Pass,
                duration_ms: 1,
                detail: None,
            })
            .collect();
        let d = cf_doctor_rules::assemble(
            trigger,
            findings,
            checks,
            chrono::DateTime::from_timestamp(1_764_072_000, 0).unwrap(),
            1,
        );
        let m = message(&d);
        assert!(
            m.structured.len() <= MAX_MESSAGE_BYTES,
            "{} bytes",
            m.structured.len()
        );
        let parts: serde_json::Value = serde_json::from_str(&m.structured).unwrap();
        let default: serde_json::Value =
            serde_json::from_str(parts["default"].as_str().unwrap()).unwrap();
        assert_eq!(default["schema"], "cf-doctor/diagnosis/v1");
        assert!(default["truncated"]["checks_omitted"].as_u64().is_some());
        assert!(parts["email"]
            .as_str()
            .unwrap()
            .starts_with("WARNING: sweep: "));
    }
}
