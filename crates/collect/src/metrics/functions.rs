//! The metrics of the edge's own code, planned into the same one GetMetricData call per region:
//! CloudFront's Lambda@Edge error counts per distribution (what its console dashboards show) and
//! the distribution's requests to weigh them against; each CloudFront Function's invocations,
//! errors, throttles and compute utilisation (us-east-1, Region=Global: "Values for CloudFront
//! function metrics"); and each Lambda@Edge function's replica metrics in AWS/Lambda
//! (FunctionName `us-east-1.NAME`) in every region where it ran.

use std::collections::BTreeMap;

use super::MetricQueryPlan;
use cf_doctor_model::evidence::Evidence;
use cf_doctor_model::functions::FunctionKind;

/// CloudFront's distribution-level Lambda@Edge errors (Sum).
const DISTRIBUTION_LAMBDA_METRICS: [&str; 3] = [
    "LambdaExecutionError",
    "LambdaValidationError",
    "LambdaLimitExceededErrors",
];

/// A CloudFront Function's metrics and the statistic each is read with.
const CLOUDFRONT_FUNCTION_METRICS: [(&str, &str); 5] = [
    ("FunctionInvocations", "Sum"),
    ("FunctionExecutionErrors", "Sum"),
    ("FunctionValidationErrors", "Sum"),
    ("FunctionThrottles", "Sum"),
    // The worst minute: 100 means the function used all the time it is allowed.
    ("FunctionComputeUtilization", "Maximum"),
];

/// A Lambda@Edge replica's metrics in AWS/Lambda and the statistic each is read with.
const LAMBDA_METRICS: [(&str, &str); 4] = [
    ("Invocations", "Sum"),
    ("Errors", "Sum"),
    ("Throttles", "Sum"),
    // Milliseconds, against the function's timeout.
    ("Duration", "Maximum"),
];

pub(super) fn plan(evidence: &Evidence) -> BTreeMap<String, Vec<MetricQueryPlan>> {
    let mut by_region: BTreeMap<String, Vec<MetricQueryPlan>> = BTreeMap::new();
    let global = |name: &'static str, value: &str| {
        vec![(name, value.to_string()), ("Region", "Global".to_string())]
    };
    for d in &evidence.distributions {
        let kinds: Vec<FunctionKind> = d.function_associations.iter().map(|a| a.kind).collect();
        if kinds.is_empty() {
            continue;
        }
        let us_east_1 = by_region.entry("us-east-1".into()).or_default();
        // What the function errors are weighed against: every viewer request of the distribution.
        us_east_1.push(MetricQueryPlan {
            namespace: "AWS/CloudFront",
            metric: "Requests",
            statistic: "Sum",
            resource: d.id.clone(),
            dimensions: global("DistributionId", &d.id),
            counted: true,
            region: None,
        });
        if kinds.contains(&FunctionKind::LambdaEdge) {
            for metric in DISTRIBUTION_LAMBDA_METRICS {
                us_east_1.push(MetricQueryPlan {
                    namespace: "AWS/CloudFront",
                    metric,
                    statistic: "Sum",
                    resource: d.id.clone(),
                    dimensions: global("DistributionId", &d.id),
                    counted: true,
                    region: None,
                });
            }
        }
    }
    for function in &evidence.cloudfront_functions {
        let us_east_1 = by_region.entry("us-east-1".into()).or_default();
        for (metric, statistic) in CLOUDFRONT_FUNCTION_METRICS {
            us_east_1.push(MetricQueryPlan {
                namespace: "AWS/CloudFront",
                metric,
                statistic,
                resource: function.name.clone(),
                dimensions: global("FunctionName", &function.name),
                counted: statistic == "Sum",
                region: None,
            });
        }
    }
    // Versions of one function publish under one replica name: read it once per region.
    let mut replicas: Vec<(String, String)> = Vec::new();
    for function in &evidence.lambda_edge_functions {
        for region in function.ran_in.iter().flatten() {
            let key = (function.replica_name(), region.clone());
            if !replicas.contains(&key) {
                replicas.push(key);
            }
        }
    }
    for (replica, region) in replicas {
        let planned = by_region.entry(region.clone()).or_default();
        for (metric, statistic) in LAMBDA_METRICS {
            planned.push(MetricQueryPlan {
                namespace: "AWS/Lambda",
                metric,
                statistic,
                resource: replica.clone(),
                dimensions: vec![("FunctionName", replica.clone())],
                counted: statistic == "Sum",
                region: Some(region.clone()),
            });
        }
    }
    by_region
}
