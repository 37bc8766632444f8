//! The CloudWatch embedded metric format (EMF) document, pure: a JSON object whose `_aws` member
//! tells CloudWatch Logs which of its top-level members are metrics and which are dimensions
//! (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).

use serde_json::{json, Map, Value};

/// The CloudWatch units cf-doctor's metrics use (a subset of MetricDatum's units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    /// A level or a number of days: CloudWatch has no unit for either.
    None,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One EMF document: `metrics` (name, value, unit) under one dimension set made of `dimensions`
/// (name, value), stamped `timestamp_ms` (milliseconds since the epoch). With no dimensions the
/// set is empty, which the specification allows: the metrics then have no dimension at all.
///
/// A value that is not finite is left out (JSON has no NaN, and CloudWatch would reject the
/// whole document); whole values are written as integers.
pub fn document(
    namespace: &str,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, f64, Unit)],
    timestamp_ms: i64,
) -> Map<String, Value> {
    let metrics: Vec<&(&str, f64, Unit)> = metrics.iter().filter(|m| m.1.is_finite()).collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
                "Metrics": metrics
                    .iter()
                    .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in dimensions {
        doc.insert((*name).to_string(), Value::from(*value));
    }
    for (name, value, _) in metrics {
        doc.insert((*name).to_string(), number(*value));
    }
    doc
}

fn number(value: f64) -> Value {
    // Exact for every whole number a count or a day can reach.
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_and_dimensions_are_top_level_members_the_directive_names() {
        let doc = document(
            "CfDoctor",
            &[("DistributionId", "E2EXAMPLE")],
            &[
                ("Verdict", 2.0, Unit::None),
                ("CriticalFindings", 1.0, Unit::Count),
            ],
            1_700_000_000_123,
        );
        let doc = Value::Object(doc);
        assert_eq!(
            doc["_aws"],
            json!({
                "Timestamp": 1_700_000_000_123_i64,
                "CloudWatchMetrics": [{
                    "Namespace": "CfDoctor",
                    "Dimensions": [["DistributionId"]],
                    "Metrics": [
                        {"Name": "Verdict", "Unit": "None"},
                        {"Name": "CriticalFindings", "Unit": "Count"},
                    ],
                }],
            })
        );
        assert_eq!(doc["DistributionId"], "E2EXAMPLE");
        assert_eq!(doc["Verdict"], 2);
        assert_eq!(doc["CriticalFindings"], 1);
    }

    #[test]
    fn no_dimensions_is_one_empty_dimension_set() {
        let doc = document("CfDoctor", &[], &[("AwsCalls", 7.0, Unit::Count)], 0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(doc["AwsCalls"], 7);
    }

    #[test]
    fn a_value_that_is_not_finite_is_left_out_of_both_places() {
        let doc = document(
            "CfDoctor",
            &[],
            &[("A", f64::NAN, Unit::Count), ("B", 1.5, Unit::Milliseconds)],
            0,
        );
        assert!(doc.get("A").is_none());
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "B", "Unit": "Milliseconds"}])
        );
        assert_eq!(doc["B"], 1.5);
    }
}
