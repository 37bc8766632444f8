//! cf-doctor's own metrics, as CloudWatch embedded metric format (EMF) lines in the Lambda log, so
//! CloudWatch can graph and alarm on them: what each diagnosis, sweep and run measures
//! ([`measure`]), the EMF document ([`emf`]), and where the lines go. In Lambda they are written to
//! stderr beside the JSON logs (Lambda sends both to CloudWatch Logs, which extracts the metrics);
//! the CLI writes none. docs/contract.md, "Metrics", lists every metric and dimension.

pub mod emf;
pub mod measure;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use cf_doctor_aws::calls::{process_counter, CallCount};
use cf_doctor_model::{Diagnosis, Evidence};

pub use emf::Unit;
pub use measure::{Record, NAMES, RECORDS};

/// The namespace when METRICS_NAMESPACE is not set.
pub const DEFAULT_NAMESPACE: &str = "CfDoctor";

/// The `message` of every metrics line, for Logs Insights (`filter message = "metrics"`).
pub const MESSAGE: &str = "metrics";

/// Set once by the Lambda face; unset (the CLI, the tests in-process), nothing is written.
static NAMESPACE: OnceLock<String> = OnceLock::new();

/// Turns the metrics lines on, under `namespace`. The Lambda face calls this once at start; a
/// second call changes nothing.
pub fn enable(namespace: &str) {
    let _ = NAMESPACE.set(namespace.to_string());
}

/// Writes one EMF line: `metrics` (name, value, unit) under one dimension set made of
/// `dimensions` (name, value). Nothing happens unless [`enable`] was called (only in Lambda).
/// Dimension values must come from a bounded set (docs/contract.md, "Metrics").
pub fn emit(dimensions: &[(&str, &str)], metrics: &[(&str, f64, Unit)]) {
    let Some(namespace) = NAMESPACE.get() else {
        return;
    };
    let line = line(
        namespace,
        dimensions,
        metrics,
        chrono::Utc::now(),
        crate::logging::current_request_id().as_deref(),
    );
    // One write under the lock: a log line written at the same moment cannot land inside it.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The whole log line: the EMF document with the log fields every Lambda log line carries
/// (`timestamp`, `level`, `message`, `requestId`), newline included.
pub fn line(
    namespace: &str,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, f64, Unit)],
    at: chrono::DateTime<chrono::Utc>,
    request_id: Option<&str>,
) -> String {
    let mut doc = serde_json::Map::new();
    for (key, value) in crate::logging::log_fields(tracing::Level::INFO, MESSAGE, request_id, at) {
        doc.insert(key.to_string(), value);
    }
    // Which build measured it: a property, never a dimension (it would split every series).
    doc.insert("cf_doctor_version".into(), crate::version::VERSION.into());
    if let Some(commit) = crate::version::commit() {
        doc.insert("cf_doctor_commit".into(), commit.into());
    }
    doc.extend(emf::document(
        namespace,
        dimensions,
        metrics,
        at.timestamp_millis(),
    ));
    let mut line = serde_json::Value::Object(doc).to_string();
    line.push('\n');
    line
}

fn emit_record(record: &Record) {
    let dimensions: Vec<(&str, &str)> = record
        .dimensions
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    emit(&dimensions, &record.metrics);
}

/// One run's (one invocation's) measures: each diagnosis is measured as it is made, the run's
/// totals when it ends. Clones share the tally.
#[derive(Debug, Clone)]
pub struct Meter {
    aws_at_start: CallCount,
    probe_failures: Arc<Mutex<u64>>,
}

impl Meter {
    /// Starts measuring a run: AWS requests are counted from now.
    pub fn start() -> Meter {
        Meter {
            aws_at_start: process_counter().count(),
            probe_failures: Arc::default(),
        }
    }

    /// Emits what one diagnosis measures and adds its probe failures to the run's.
    pub fn diagnosed(&self, diagnosis: &Diagnosis, evidence: &Evidence) {
        for record in measure::of_diagnosis(diagnosis, evidence) {
            emit_record(&record);
        }
        if let Ok(mut failures) = self.probe_failures.lock() {
            *failures += measure::probe_failures(diagnosis);
        }
    }

    /// Emits the run's totals: AWS requests since the start, probe failures, and the deliveries
    /// that failed.
    pub fn finish(&self, delivery_failures: usize) {
        let probe_failures = self.probe_failures.lock().map(|f| *f).unwrap_or(0);
        emit_record(&measure::of_run(
            process_counter().count().since(self.aws_at_start),
            probe_failures,
            delivery_failures as u64,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_metrics_line_is_an_emf_document_and_a_lambda_log_line() {
        let at = chrono::Utc.timestamp_millis_opt(1_764_000_000_250).unwrap();
        let text = line(
            "CfDoctor",
            &[("DistributionId", "E2EXAMPLE")],
            &[("Verdict", 2.0, Unit::None)],
            at,
            Some("req-7"),
        );
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "{text}"
        );
        let line: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], MESSAGE);
        assert_eq!(line["requestId"], "req-7");
        assert_eq!(line["timestamp"], "2025-11-24T16:00:00.250Z");
        assert_eq!(line["_aws"]["Timestamp"], 1_764_000_000_250_i64);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "CfDoctor"
        );
        assert_eq!(line["DistributionId"], "E2EXAMPLE");
        assert_eq!(line["Verdict"], 2);
        // The build is a property, never a dimension (it would split every series at a deploy).
        assert_eq!(line["cf_doctor_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["DistributionId"]])
        );
    }
}
