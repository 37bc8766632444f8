//! The CloudWatch embedded metric format as its specification states it
//! (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
//! checked on the lines a process wrote: what CloudWatch Logs would need to extract the metrics.

use serde_json::Value;

/// Units a MetricDefinition may name (CloudWatch's MetricDatum units).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The log lines that are EMF documents (JSON objects with an `_aws` member).
pub fn documents(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

/// Why `doc` is not a valid EMF document, or Ok.
pub fn check(doc: &Value) -> Result<(), String> {
    let root = doc.as_object().ok_or("the root is not an object")?;
    let aws = root["_aws"].as_object().ok_or("_aws is not an object")?;
    only_members(aws, &["Timestamp", "CloudWatchMetrics"], "_aws")?;
    if aws.get("Timestamp").and_then(Value::as_u64).is_none() {
        return Err("_aws.Timestamp is not a number of milliseconds since the epoch".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    for directive in directives {
        let directive = directive
            .as_object()
            .ok_or("a MetricDirective is not an object")?;
        only_members(
            directive,
            &["Namespace", "Dimensions", "Metrics"],
            "MetricDirective",
        )?;
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !(1..=255).contains(&namespace.len()) {
            return Err(format!(
                "Namespace {namespace:?} is not 1 to 255 characters"
            ));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .filter(|s| !s.is_empty())
            .ok_or("Dimensions is not an array of at least one DimensionSet")?;
        for set in sets {
            let keys = set.as_array().ok_or("a DimensionSet is not an array")?;
            // 9 in the first version of the specification, 30 today: the stricter holds for both.
            if keys.len() > 9 {
                return Err(format!("a DimensionSet has {} keys", keys.len()));
            }
            for key in keys {
                let key = key.as_str().ok_or("a dimension key is not a string")?;
                if !root.get(key).is_some_and(Value::is_string) {
                    return Err(format!(
                        "dimension {key} has no string value at the top level"
                    ));
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("Metrics is not an array")?;
        if metrics.len() > 100 {
            return Err(format!("{} MetricDefinitions (at most 100)", metrics.len()));
        }
        for definition in metrics {
            let definition = definition
                .as_object()
                .ok_or("a MetricDefinition is not an object")?;
            only_members(
                definition,
                &["Name", "Unit", "StorageResolution"],
                "MetricDefinition",
            )?;
            let name = definition.get("Name").and_then(Value::as_str).unwrap_or("");
            if !(1..=255).contains(&name.len()) {
                return Err(format!("metric name {name:?} is not 1 to 255 characters"));
            }
            if let Some(unit) = definition.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(format!("{name}: {unit} is not a CloudWatch unit"));
                }
            }
            let numeric = match root.get(name) {
                Some(Value::Number(_)) => true,
                Some(Value::Array(values)) => {
                    values.len() <= 100 && values.iter().all(Value::is_number)
                }
                _ => false,
            };
            if !numeric {
                return Err(format!(
                    "metric {name} has no numeric value at the top level"
                ));
            }
        }
    }
    Ok(())
}

fn only_members(
    object: &serde_json::Map<String, Value>,
    allowed: &[&str],
    what: &str,
) -> Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(format!(
            "{what} has a member the specification does not define: {extra}"
        )),
        None => Ok(()),
    }
}

/// The dimension keys of a document's (first) directive, one set.
pub fn dimensions(doc: &Value) -> Vec<String> {
    doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The metric names a document's directives declare.
pub fn metric_names(doc: &Value) -> Vec<String> {
    doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["Metrics"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["Name"].as_str().map(str::to_string))
        .collect()
}
