//! The edge's own code. A Lambda@Edge function that throws gives viewers 503, one whose response
//! CloudFront rejects 502, one throttled or out of time 503 ("Lambda limit exceeded"); a
//! CloudFront Function that throws 503, one that returns invalid output 502 (HTTP 502 and 503
//! pages). A function is judged by its errors in the window, weighed against the distribution's
//! requests and 5xx rate: errors at the rate of the alarm explain it; a trickle is named without
//! being called the cause; a function without errors is never a cause. CloudFront's own marker in
//! X-Cache (`LambdaExecutionError from cloudfront`, ...) means viewers get it right now.

mod lambda_config;
mod weight;

use serde_json::{json, Value};

use cf_doctor_model::evidence::MetricReading;
use cf_doctor_model::functions::{
    edge_marker, CloudfrontFunction, Failure, FunctionKind, LambdaEdgeFunction,
};
use cf_doctor_model::{Code, Evidence, Finding, Severity};
use weight::{weigh, Tally};

/// Minutes of metrics the counts cover (collect reads the last 15).
const WINDOW_MINUTES: u32 = 15;

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in &evidence.lambda_edge_functions {
        out.extend(lambda_edge(f, evidence));
    }
    for f in &evidence.cloudfront_functions {
        out.extend(cloudfront_function(f, evidence));
    }
    out.extend(unattributed_markers(evidence));
    out
}

/// The total of a counted metric over the window, across regions (None: not read).
fn total(evidence: &Evidence, namespace: &str, metric: &str, resource: &str) -> Option<f64> {
    let readings: Vec<&MetricReading> = evidence
        .metrics
        .iter()
        .filter(|m| m.namespace == namespace && m.metric == metric && m.resource == resource)
        .collect();
    if readings.is_empty() {
        return None;
    }
    Some(
        readings
            .iter()
            .filter_map(|m| m.sum)
            .fold(0.0, |total, n| total + n),
    )
}

fn highest(evidence: &Evidence, namespace: &str, metric: &str, resource: &str) -> Option<f64> {
    evidence
        .metrics
        .iter()
        .filter(|m| m.namespace == namespace && m.metric == metric && m.resource == resource)
        .filter_map(|m| m.max)
        .reduce(f64::max)
}

/// The functions of one kind a distribution runs (their ARNs).
fn functions_of(evidence: &Evidence, distribution: &str, kind: FunctionKind) -> Vec<String> {
    let mut arns: Vec<String> = evidence
        .distributions
        .iter()
        .filter(|d| d.id == distribution)
        .flat_map(|d| &d.function_associations)
        .filter(|a| a.kind == kind)
        .map(|a| a.arn.clone())
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// The failure CloudFront's X-Cache marker names for `distribution`, if its edge probe saw one.
fn marker(
    evidence: &Evidence,
    distribution: &str,
    kind: FunctionKind,
    failure: Failure,
) -> Option<String> {
    evidence
        .edge_probes
        .iter()
        .filter(|p| p.distribution_id == distribution)
        .filter_map(|p| p.x_cache.as_deref())
        .find(|x| edge_marker(x).is_some_and(|(_, k, f)| k == kind && f == failure))
        .map(str::to_string)
}

/// What the distributions a function runs on say about one failure: per distribution, its
/// requests, 5xx rate, CloudFront's own count where it has one, and a live marker.
fn tallies(
    evidence: &Evidence,
    distributions: &[&str],
    kind: FunctionKind,
    failure: Failure,
    own_errors: Option<f64>,
    invocations: Option<f64>,
    arn: &str,
) -> Vec<Tally> {
    if distributions.is_empty() {
        // No distribution known to run it (not read): its own counts, weighed on their own.
        return vec![Tally {
            distribution: "the distributions that run it".to_string(),
            errors: own_errors,
            invocations,
            status: if failure == Failure::Validation {
                502
            } else {
                503
            },
            ..Tally::default()
        }];
    }
    distributions
        .iter()
        .map(|d| {
            // CloudFront counts Lambda@Edge errors per distribution, not per function: they are
            // this function's when it is the distribution's only one.
            let alone = functions_of(evidence, d, kind) == [arn.to_string()];
            let distribution_count = match (kind, failure) {
                (FunctionKind::LambdaEdge, Failure::Execution) => Some("LambdaExecutionError"),
                (FunctionKind::LambdaEdge, Failure::Validation) => Some("LambdaValidationError"),
                (FunctionKind::LambdaEdge, Failure::Throttled) => Some("LambdaLimitExceededErrors"),
                _ => None,
            }
            .filter(|_| alone)
            .and_then(|m| total(evidence, "AWS/CloudFront", m, d));
            let status: u16 = if failure == Failure::Validation {
                502
            } else {
                503
            };
            Tally {
                distribution: d.to_string(),
                errors: match (own_errors, distribution_count) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                },
                invocations,
                requests: total(evidence, "AWS/CloudFront", "Requests", d),
                rate_5xx: highest(evidence, "AWS/CloudFront", "5xxErrorRate", d),
                status,
                rate_status: highest(evidence, "AWS/CloudFront", &format!("{status}ErrorRate"), d),
                marker: marker(evidence, d, kind, failure)
                    .filter(|_| alone || functions_of(evidence, d, kind).is_empty()),
            }
        })
        .collect()
}

/// One finding about one failure of one function, when the tallies show it.
struct Failing<'a> {
    code: Code,
    status: u16,
    arn: &'a str,
    what: String,
    tallies: Vec<Tally>,
    extra: Value,
    remediation: &'a str,
}

fn failing(f: Failing<'_>) -> Option<Finding> {
    let judged = weigh(&f.tallies)?;
    let mut evidence = json!({
        "function": f.arn,
        "window_minutes": WINDOW_MINUTES,
        "errors": judged.errors,
        "per_distribution": f.tallies.iter().map(Tally::to_json).collect::<Vec<_>>(),
        "weighed": judged.words,
    });
    if let (Value::Object(map), Value::Object(extra)) = (&mut evidence, f.extra) {
        map.extend(extra);
    }
    Some(
        Finding::new(f.code, judged.severity, f.arn)
            .statuses(&[f.status])
            .title(format!("{}: {}", f.what, judged.headline))
            .evidence(evidence)
            .remediation(f.remediation),
    )
}

/// What a Lambda@Edge function's replicas counted over the window, with timeouts told apart.
struct LambdaCounts {
    invocations: Option<f64>,
    throttles: Option<f64>,
    /// Errors that are not timeouts.
    execution_errors: Option<f64>,
    /// Throttles, and timeouts when only timeouts are seen.
    limit_errors: Option<f64>,
    slowest_ms: Option<f64>,
    timeout_ms: Option<f64>,
    timeout_lines: usize,
}

fn lambda_counts(f: &LambdaEdgeFunction, evidence: &Evidence) -> LambdaCounts {
    let replica = f.replica_name();
    let errors = total(evidence, "AWS/Lambda", "Errors", &replica);
    let throttles = total(evidence, "AWS/Lambda", "Throttles", &replica);
    let slowest_ms = highest(evidence, "AWS/Lambda", "Duration", &replica);
    let timeout_ms = f
        .configuration
        .as_ref()
        .and_then(|c| c.timeout_s)
        .map(|t| f64::from(t) * 1000.0);
    let timeout_lines = f
        .log_lines
        .iter()
        .filter(|l| l.message.contains("Task timed out"))
        .count();
    // A replica that runs into its timeout is "Lambda limit exceeded", not a code error (HTTP 503
    // page); Lambda counts timeouts among Errors, so they move to the throttled count when only
    // timeouts are seen.
    let timing_out = timeout_lines > 0
        || matches!((slowest_ms, timeout_ms), (Some(s), Some(t)) if s >= t * 0.99);
    let other_error_lines = f
        .log_lines
        .iter()
        .any(|l| l.log_group.starts_with("/aws/lambda/") && !l.message.contains("Task timed out"));
    let (execution_errors, limit_errors) = if timing_out && !other_error_lines {
        (
            Some(0.0),
            Some(throttles.unwrap_or(0.0) + errors.unwrap_or(0.0)),
        )
    } else {
        (errors, throttles)
    };
    LambdaCounts {
        invocations: total(evidence, "AWS/Lambda", "Invocations", &replica),
        throttles,
        execution_errors,
        limit_errors,
        slowest_ms,
        timeout_ms,
        timeout_lines,
    }
}

fn lambda_edge(f: &LambdaEdgeFunction, evidence: &Evidence) -> Vec<Finding> {
    let LambdaCounts {
        invocations,
        throttles,
        execution_errors,
        limit_errors,
        slowest_ms,
        timeout_ms,
        timeout_lines,
    } = lambda_counts(f, evidence);
    let distributions = f.distributions();
    let name = match &f.qualifier {
        Some(q) => format!("{}:{q}", f.name),
        None => f.name.clone(),
    };
    let uses: Vec<String> = f
        .used_by
        .iter()
        .map(|u| format!("{} of {}", u.association.describe(), u.distribution_id))
        .collect();
    let lines = |group_prefix: &str| -> Vec<Value> {
        f.log_lines
            .iter()
            .filter(|l| l.log_group.starts_with(group_prefix))
            .map(|l| json!(format!("{} [{}] {}", l.log_group, l.region, l.message)))
            .collect()
    };
    let mut out: Vec<Finding> = [
        Failing {
            code: Code::LambdaEdgeExecutionError,
            status: 503,
            arn: &f.arn,
            what: format!("Lambda@Edge function {name} ({}) is failing to run", uses.join("; ")),
            tallies: tallies(evidence, &distributions, FunctionKind::LambdaEdge, Failure::Execution, execution_errors, invocations, &f.arn),
            extra: json!({"invocations": invocations, "ran_in": f.ran_in, "log_lines": lines("/aws/lambda/")}),
            remediation: "The function throws (or its code cannot run): read its errors in CloudWatch Logs (/aws/lambda/us-east-1.NAME, in the regions where it ran), fix the code, publish a new version and associate it; or remove the association to let requests through unchanged.",
        },
        Failing {
            code: Code::LambdaEdgeValidationError,
            status: 502,
            arn: &f.arn,
            what: format!("CloudFront rejects what Lambda@Edge function {name} returns ({})", uses.join("; ")),
            tallies: tallies(evidence, &distributions, FunctionKind::LambdaEdge, Failure::Validation, None, invocations, &f.arn),
            extra: json!({"log_lines": lines("/aws/cloudfront/LambdaEdge/")}),
            remediation: "The function returns a response CloudFront rejects (bad structure, a read-only or disallowed header, a body over the size limit): CloudFront logs why in /aws/cloudfront/LambdaEdge/DISTRIBUTION_ID in the region where it ran. Fix the response and publish a new version.",
        },
        Failing {
            code: Code::LambdaEdgeThrottled,
            status: 503,
            arn: &f.arn,
            what: format!("Lambda@Edge function {name} is throttled or runs out of time ({})", uses.join("; ")),
            tallies: tallies(evidence, &distributions, FunctionKind::LambdaEdge, Failure::Throttled, limit_errors, invocations, &f.arn),
            extra: json!({
                "throttles": throttles, "timeout_ms": timeout_ms, "slowest_ms": slowest_ms,
                "timed_out_lines": timeout_lines, "log_lines": lines("/aws/lambda/"),
            }),
            remediation: "Lambda limit exceeded: the replicas hit the regional concurrency or request-rate quota, or the function's timeout. Raise the Lambda concurrency quota in the regions where it runs, make the function faster, or move simple work to a CloudFront Function.",
        },
    ]
    .into_iter()
    .filter_map(failing)
    .collect();
    let erroring = !out.is_empty();
    out.extend(lambda_config::misconfigured(
        f,
        &name,
        &uses,
        erroring,
        evidence.now,
    ));
    out
}

fn cloudfront_function(f: &CloudfrontFunction, evidence: &Evidence) -> Vec<Finding> {
    let count = |metric: &str| total(evidence, "AWS/CloudFront", metric, &f.name);
    let invocations = count("FunctionInvocations");
    let throttles = count("FunctionThrottles");
    let compute_max = highest(
        evidence,
        "AWS/CloudFront",
        "FunctionComputeUtilization",
        &f.name,
    );
    let distributions = f.distributions();
    let uses: Vec<String> = f
        .used_by
        .iter()
        .map(|u| format!("{} of {}", u.association.describe(), u.distribution_id))
        .collect();
    let used = if uses.is_empty() {
        "no distribution runs it".to_string()
    } else {
        uses.join("; ")
    };
    let stage = json!({"live": f.live, "invocations": invocations});
    let mut out: Vec<Finding> = [
        Failing {
            code: Code::CloudfrontFunctionExecutionError,
            status: 503,
            arn: &f.arn,
            what: format!("CloudFront Function {} ({used}) is throwing", f.name),
            tallies: tallies(evidence, &distributions, FunctionKind::CloudfrontFunction, Failure::Execution, count("FunctionExecutionErrors"), invocations, &f.arn),
            extra: stage.clone(),
            remediation: "The function fails to complete (an exception, or code that cannot run): test it with the failing request in the CloudFront console (Functions -> Test), fix it, and publish it to LIVE.",
        },
        Failing {
            code: Code::CloudfrontFunctionValidationError,
            status: 502,
            arn: &f.arn,
            what: format!("CloudFront Function {} ({used}) returns output CloudFront rejects", f.name),
            tallies: tallies(evidence, &distributions, FunctionKind::CloudfrontFunction, Failure::Validation, count("FunctionValidationErrors"), invocations, &f.arn),
            extra: stage.clone(),
            remediation: "The function runs but returns an invalid event object, typically by adding, changing or deleting a read-only header; a test in the console does not show it. Fix the headers it touches and publish it to LIVE.",
        },
        Failing {
            code: Code::CloudfrontFunctionThrottled,
            status: 503,
            arn: &f.arn,
            what: format!("CloudFront Function {} ({used}) is throttled", f.name),
            tallies: tallies(evidence, &distributions, FunctionKind::CloudfrontFunction, Failure::Throttled, throttles, invocations, &f.arn),
            extra: json!({"live": f.live, "invocations": invocations, "compute_utilization_max": compute_max}),
            remediation: "The function needs more than its allowed compute time: make it do less per request (simpler loops and regular expressions, less data in the key value store read), and watch FunctionComputeUtilization fall well below 100.",
        },
    ]
    .into_iter()
    .filter_map(failing)
    .collect();
    // At the compute limit with nothing throttled yet: named, never a cause.
    if compute_max.is_some_and(|c| c >= 100.0)
        && !out
            .iter()
            .any(|o| o.code == Code::CloudfrontFunctionThrottled)
    {
        out.push(
            Finding::new(Code::CloudfrontFunctionThrottled, Severity::Info, &f.arn)
                .title(format!("CloudFront Function {} ({used}) used all its allowed compute time in some minute, with nothing throttled yet", f.name))
                .evidence(json!({"function": f.arn, "compute_utilization_max": compute_max, "throttles": throttles, "window_minutes": WINDOW_MINUTES}))
                .remediation("At 100% compute utilisation the next slower request is throttled (503): make the function do less per request."),
        );
    }
    out
}

/// A function error marker on a distribution whose functions of that kind are not known (or are
/// several, so it cannot be pinned on one): named on the distribution.
fn unattributed_markers(evidence: &Evidence) -> Vec<Finding> {
    let mut out = Vec::new();
    for probe in &evidence.edge_probes {
        let Some((marker, kind, failure)) = probe.x_cache.as_deref().and_then(edge_marker) else {
            continue;
        };
        let known = functions_of(evidence, &probe.distribution_id, kind);
        let described = match kind {
            FunctionKind::LambdaEdge => evidence
                .lambda_edge_functions
                .iter()
                .any(|f| known.contains(&f.arn)),
            FunctionKind::CloudfrontFunction => evidence
                .cloudfront_functions
                .iter()
                .any(|f| known.contains(&f.arn)),
        };
        if known.len() == 1 && described {
            continue;
        }
        let (code, status) = code_for(kind, failure);
        let status = probe.status.unwrap_or(status);
        out.push(
            Finding::new(code, Severity::Critical, format!("{} ({})", probe.domain, probe.distribution_id))
                .statuses(&[status])
                .title(format!(
                    "CloudFront answers HTTP {status} with {marker} for {}: {}",
                    probe.host,
                    if known.is_empty() { "the function that failed is not named in the distribution's configuration as read".to_string() } else { format!("one of {}", known.join(", ")) }
                ))
                .evidence(json!({"x_cache": probe.x_cache, "status": probe.status, "pop": probe.pop, "x_amz_cf_id": probe.request_id, "functions": known}))
                .remediation("CloudFront's own code on this distribution failed the request: look at each function's errors (CloudWatch metrics and logs) and quote the x-amz-cf-id to AWS support if needed."),
        );
    }
    out
}

fn code_for(kind: FunctionKind, failure: Failure) -> (Code, u16) {
    match (kind, failure) {
        (FunctionKind::LambdaEdge, Failure::Execution) => (Code::LambdaEdgeExecutionError, 503),
        (FunctionKind::LambdaEdge, Failure::Validation) => (Code::LambdaEdgeValidationError, 502),
        (FunctionKind::LambdaEdge, Failure::Throttled) => (Code::LambdaEdgeThrottled, 503),
        (FunctionKind::CloudfrontFunction, Failure::Execution) => {
            (Code::CloudfrontFunctionExecutionError, 503)
        }
        (FunctionKind::CloudfrontFunction, Failure::Validation) => {
            (Code::CloudfrontFunctionValidationError, 502)
        }
        (FunctionKind::CloudfrontFunction, Failure::Throttled) => {
            (Code::CloudfrontFunctionThrottled, 503)
        }
    }
}
