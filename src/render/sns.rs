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

pub fn message(d: &Diagnosis) -> SnsMessage {
    SnsMessage {
        subject: subject(d),
        body: serde_json::to_string(d).unwrap_or_default(),
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
