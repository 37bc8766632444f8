//! "What CloudFront logged": CloudFront's own record of the alarm's window in a few lines, the
//! same in every format (the JSON carries it whole as `cloudfront_log`); or, when no real-time log
//! was read, where that record is (the `cloudfront-log` check says).

use std::collections::BTreeMap;

use cf_doctor_model::cloudfront_log::CloudfrontLog;
use cf_doctor_model::Diagnosis;

/// The name of the check that says where CloudFront's record is when it was not read.
pub const CHECK: &str = "cloudfront-log";

/// The section's lines, or None when the report has nothing to say of CloudFront's logs.
pub fn lines(d: &Diagnosis) -> Option<Vec<String>> {
    match &d.cloudfront_log {
        Some(log) => Some(read(log)),
        None => d
            .checks
            .iter()
            .find(|c| c.name == CHECK)
            .and_then(|c| c.detail.clone())
            .map(|detail| vec![detail]),
    }
}

/// `OriginConnectError 812, Error 28`: most first, at most five.
fn counted(counts: &BTreeMap<String, u64>) -> String {
    let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<String> = sorted
        .iter()
        .take(5)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let more = sorted.len().saturating_sub(5);
    if more > 0 {
        format!("{} (+{more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn read(log: &CloudfrontLog) -> Vec<String> {
    let sampling = match log.sampling_rate {
        Some(rate) if rate < 100 => format!("; {rate}% of requests sampled"),
        _ => String::new(),
    };
    let mut out = vec![format!(
        "{} to {} UTC, from {}{sampling}: {} of {} logged requests answered 5xx",
        log.window.from.format("%Y-%m-%d %H:%M"),
        log.window.to.format("%H:%M"),
        log.source,
        log.errors_5xx,
        log.records
    )];
    if log.errors_5xx > 0 {
        out.push(format!("by result type: {}", counted(&log.by_result_type)));
        out.push(format!("by status: {}", counted(&log.by_status)));
        out.push(format!(
            "by edge location: {}",
            counted(&log.by_edge_location)
        ));
        out.push(format!("by path: {}", counted(&log.by_path)));
        if let (Some(first), Some(last)) = (log.first_error_at, log.last_error_at) {
            out.push(format!(
                "first 5xx {}, last {}",
                first.format("%H:%M:%S"),
                last.format("%H:%M:%S")
            ));
        }
        if let Some(latency) = log.origin_first_byte {
            out.push(format!(
                "origin first byte of those that reached it: mean {} ms, max {} ms",
                latency.mean_ms, latency.max_ms
            ));
        }
    }
    if let Some(incomplete) = &log.incomplete {
        out.push(format!("not every record was read: {incomplete}"));
    }
    out
}
