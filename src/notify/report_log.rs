//! The full report in the log, whatever its size: CloudWatch Logs takes at most 256 KB per log
//! event, so a larger report is logged in parts, each numbered "part i of n" and carrying the
//! same `report_id`; joining the `report_part` fields in order gives the report's JSON back. This
//! is what makes "the full report is in the function's log" (SNS, Slack, docs/delivery.md) true.

use std::hash::{Hash, Hasher};

use cf_doctor_model::Diagnosis;

/// CloudWatch Logs' limit on one log event (256 KB, with 26 bytes of overhead per event).
pub const LOG_EVENT_LIMIT: usize = 256 * 1024 - 26;
/// The report text in one part, measured as it appears in the JSON log line (escaped): the rest
/// of the line (timestamp, level, message, ids) fits in what is left under the limit.
pub const PART_BYTES: usize = 200 * 1024;

/// Why the report is being logged, which decides the level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Occasion {
    /// Every report, as it is made (info).
    Made,
    /// The report could not be delivered (error): the log is where it is kept.
    Undelivered,
}

/// Logs the report whole, in as many parts as CloudWatch needs.
pub fn log_report(report: &Diagnosis, occasion: Occasion) {
    let enabled = match occasion {
        Occasion::Made => tracing::enabled!(tracing::Level::INFO),
        Occasion::Undelivered => tracing::enabled!(tracing::Level::ERROR),
    };
    if !enabled {
        return;
    }
    let text = serde_json::to_string(report).unwrap_or_default();
    let report_id = report_id(&text);
    let parts = split(&text, PART_BYTES);
    let n = parts.len();
    for (i, part) in parts.iter().enumerate() {
        let part_no = i + 1;
        match occasion {
            Occasion::Made => tracing::info!(
                report_id = %report_id,
                part = part_no,
                parts = n,
                report_part = %part,
                "full report, part {part_no} of {n}"
            ),
            Occasion::Undelivered => tracing::error!(
                report_id = %report_id,
                part = part_no,
                parts = n,
                report_part = %part,
                "delivery failed; full report follows, part {part_no} of {n}"
            ),
        }
    }
}

/// A short id shared by the parts of one report.
pub fn report_id(text: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// How many bytes a character takes once escaped inside a JSON string.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// The text cut at character boundaries into parts whose escaped size is at most `limit`.
pub fn split(text: &str, limit: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (at, c) in text.char_indices() {
        let len = escaped_len(c);
        if size + len > limit && at > start {
            parts.push(&text[start..at]);
            (start, size) = (at, 0);
        }
        size += len;
    }
    if start < text.len() || parts.is_empty() {
        parts.push(&text[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_rejoin_to_the_report_and_each_fits_once_escaped() {
        let text = format!(
            "{{\"title\": \"{}\", \"é\": \"{}\"}}",
            "\"quoted\" ".repeat(30_000),
            "é".repeat(90_000)
        );
        let parts = split(&text, PART_BYTES);
        assert!(parts.len() > 2, "{} parts", parts.len());
        assert_eq!(parts.concat(), text);
        for part in &parts {
            let escaped = serde_json::to_string(part).unwrap();
            assert!(escaped.len() <= PART_BYTES + 2, "{}", escaped.len());
        }
        assert_eq!(split("{}", PART_BYTES), vec!["{}"]);
    }
}
