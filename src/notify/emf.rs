//! The failed-delivery metric, as a CloudWatch embedded-metric-format (EMF) log line: CloudWatch
//! Logs turns it into the metric `CfDoctor/DeliveryFailures`, which an alarm can watch. One line
//! per failed delivery, on stderr with the other logs (Lambda sends both streams to CloudWatch).
//! https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

use std::io::Write;

use serde_json::{json, Value};

pub const NAMESPACE: &str = "CfDoctor";
pub const DELIVERY_FAILURES: &str = "DeliveryFailures";

/// The EMF line counting one failed delivery to `channel` (kept as a property, not a dimension,
/// so the metric stays one series).
pub fn delivery_failure_line(channel: &str, timestamp_ms: i64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{"Name": DELIVERY_FAILURES, "Unit": "Count"}],
            }],
        },
        DELIVERY_FAILURES: 1,
        "channel": channel,
    })
}

/// Counts one failed delivery. The line is written whole in one call, so it never interleaves
/// with a log line.
pub fn count_delivery_failure(channel: &str) {
    let line = delivery_failure_line(channel, chrono::Utc::now().timestamp_millis());
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_the_emf_shape_cloudwatch_reads() {
        let line = delivery_failure_line("slack", 1_764_072_000_000);
        assert_eq!(line["_aws"]["Timestamp"], 1_764_072_000_000_i64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "CfDoctor");
        assert_eq!(directive["Dimensions"], json!([[]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "DeliveryFailures", "Unit": "Count"}])
        );
        assert_eq!(line["DeliveryFailures"], 1);
    }
}
