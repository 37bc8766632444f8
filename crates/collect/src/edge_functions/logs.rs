//! A few recent error lines of the Lambda@Edge functions, as evidence: from
//! `/aws/lambda/us-east-1.NAME` in the regions whose metrics show the function erring or
//! throttled most, and from CloudFront's log of invalid Lambda@Edge responses,
//! `/aws/cloudfront/LambdaEdge/DISTRIBUTION_ID`, where validation errors are counted. Bounded:
//! one FilterLogEvents per group and region, the metrics' window, a few lines kept.

use futures::StreamExt;

use super::AT_ONCE;
use crate::{error_text, not_in_time, Budget, Collector};
use cf_doctor_model::evidence::{Evidence, Gap};
use cf_doctor_model::functions::LogLine;

/// Regions whose logs are read per function: those with the most errors.
const LOG_REGIONS: usize = 3;
/// Events asked for per log group, and lines kept.
const LOG_EVENTS_READ: i32 = 50;
const LOG_LINES_KEPT: usize = 3;
/// A log line is shortened to this many characters.
const MESSAGE_CHARS: usize = 400;
/// What marks an error line in a Lambda function's log: the runtime's ERROR lines (Node.js and
/// Python), a timeout, a crashed runtime.
const ERROR_TERMS: [&str; 3] = ["ERROR", "Task timed out", "Runtime exited"];

/// One log group to read in one region, and the functions its lines are evidence for.
struct LogRead {
    log_group: String,
    region: String,
    /// Only error lines (a function's own log); CloudFront's log of invalid responses holds
    /// nothing else.
    errors_only: bool,
    functions: Vec<String>,
}

/// What one read gave: the events (time, message), or why it failed.
type Events = Result<Vec<(Option<i64>, String)>, String>;

impl Collector {
    /// After the metrics: a few recent error lines of each Lambda@Edge function, from the regions
    /// whose metrics show it erring, and CloudFront's own log of invalid responses for each
    /// distribution whose Lambda@Edge validation errors are counted.
    pub async fn edge_function_logs(&self, evidence: &mut Evidence, budget: &Budget) {
        let reads = log_reads(evidence);
        if reads.is_empty() {
            return;
        }
        if !budget.allows_start() {
            evidence.gaps.push(not_in_time(
                "recent error lines of the Lambda@Edge functions",
                "CloudWatch Logs",
            ));
            return;
        }
        let end = evidence.now.timestamp_millis();
        let start = end - crate::metrics::WINDOW_SECS * 1000;
        let mut answers: Vec<(LogRead, Events)> =
            futures::stream::iter(reads.into_iter().map(|read| async move {
                let events = self.filter(&read, start, end).await;
                (read, events)
            }))
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        // Completion order is arbitrary; a report reads the same every time.
        answers.sort_by(|a, b| (&a.0.log_group, &a.0.region).cmp(&(&b.0.log_group, &b.0.region)));
        for (read, events) in answers {
            keep(read, events, evidence);
        }
    }

    /// One FilterLogEvents call; a group that does not exist holds no lines.
    async fn filter(&self, read: &LogRead, start: i64, end: i64) -> Events {
        let mut call = self
            .logs_in(&read.region)
            .filter_log_events()
            .log_group_name(&read.log_group)
            .start_time(start)
            .end_time(end)
            .limit(LOG_EVENTS_READ);
        if read.errors_only {
            // CloudWatch Logs' OR syntax; the same terms are applied to what comes back.
            call = call.filter_pattern(error_pattern());
        }
        match call.send().await {
            Ok(out) => Ok(out
                .events()
                .iter()
                .filter_map(|e| Some((e.timestamp(), e.message()?.to_string())))
                .collect()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(error_text(&e)),
        }
    }
}

/// `?ERROR ?"Task timed out" ?"Runtime exited"`: any of the terms.
fn error_pattern() -> String {
    ERROR_TERMS
        .iter()
        .map(|t| {
            if t.contains(' ') {
                format!("?\"{t}\"")
            } else {
                format!("?{t}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The newest lines of one read go to the functions they are evidence for; a failed read is a
/// gap.
fn keep(read: LogRead, events: Events, evidence: &mut Evidence) {
    let events = match events {
        Ok(events) => events,
        Err(error) => {
            evidence.gaps.push(Gap::new(
                "logs:FilterLogEvents",
                &format!("{} ({})", read.log_group, read.region),
                error,
                &format!(
                    "recent error lines in {} in {}",
                    read.log_group, read.region
                ),
            ));
            return;
        }
    };
    let lines: Vec<LogLine> = events
        .into_iter()
        .filter(|(_, m)| !read.errors_only || ERROR_TERMS.iter().any(|t| m.contains(t)))
        .map(|(at, message)| LogLine {
            log_group: read.log_group.clone(),
            region: read.region.clone(),
            timestamp: at.and_then(chrono::DateTime::from_timestamp_millis),
            message: shorten(&message),
        })
        .collect();
    let newest = lines.len().saturating_sub(LOG_LINES_KEPT);
    for f in evidence
        .lambda_edge_functions
        .iter_mut()
        .filter(|f| read.functions.contains(&f.arn))
    {
        f.log_lines.extend(lines[newest..].iter().cloned());
    }
}

/// The log groups worth reading: a function's own log in the regions where it erred or was
/// throttled most, and CloudFront's log of invalid Lambda@Edge responses for distributions whose
/// validation errors are counted, in the regions where their functions ran most.
fn log_reads(evidence: &Evidence) -> Vec<LogRead> {
    let mut reads: Vec<LogRead> = Vec::new();
    let mut add = |log_group: String, region: &str, errors_only: bool, arn: &str| match reads
        .iter_mut()
        .find(|r| r.log_group == log_group && r.region == region)
    {
        Some(read) => read.functions.push(arn.to_string()),
        None => reads.push(LogRead {
            log_group,
            region: region.to_string(),
            errors_only,
            functions: vec![arn.to_string()],
        }),
    };
    for f in &evidence.lambda_edge_functions {
        let replica = f.replica_name();
        let regions = f.ran_in.clone().unwrap_or_default();
        for region in busiest(evidence, &replica, &regions, &["Errors", "Throttles"]) {
            add(format!("/aws/lambda/{replica}"), &region, true, &f.arn);
        }
        for distribution in f.distributions() {
            if total(
                evidence,
                "AWS/CloudFront",
                "LambdaValidationError",
                distribution,
                None,
            ) > 0.0
            {
                for region in busiest(evidence, &replica, &regions, &["Invocations"]) {
                    let group = format!("/aws/cloudfront/LambdaEdge/{distribution}");
                    add(group, &region, false, &f.arn);
                }
            }
        }
    }
    reads
}

/// The total of a counted metric over the window (in one region, or all of them).
fn total(
    evidence: &Evidence,
    namespace: &str,
    metric: &str,
    resource: &str,
    region: Option<&str>,
) -> f64 {
    evidence
        .metrics
        .iter()
        .filter(|m| m.namespace == namespace && m.metric == metric && m.resource == resource)
        .filter(|m| region.is_none_or(|r| m.region.as_deref() == Some(r)))
        .filter_map(|m| m.sum)
        .fold(0.0, |sum, n| sum + n)
}

/// The regions (at most `LOG_REGIONS`) where `replica`'s `metrics` add up to the most, busiest
/// first; none where they are zero.
fn busiest(
    evidence: &Evidence,
    replica: &str,
    regions: &[String],
    metrics: &[&str],
) -> Vec<String> {
    let mut weighed: Vec<(f64, &String)> = regions
        .iter()
        .map(|r| {
            let n: f64 = metrics
                .iter()
                .map(|m| total(evidence, "AWS/Lambda", m, replica, Some(r)))
                .sum();
            (n, r)
        })
        .filter(|(n, _)| *n > 0.0)
        .collect();
    weighed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    weighed
        .into_iter()
        .take(LOG_REGIONS)
        .map(|(_, r)| r.clone())
        .collect()
}

fn shorten(message: &str) -> String {
    let flat: String = message
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_log_lines_are_shortened_and_flattened() {
        let line = format!("ERROR\tInvoke Error\n{}", "x".repeat(1000));
        let short = shorten(&line);
        assert!(short.starts_with("ERROR Invoke Error "), "{short}");
        assert_eq!(short.chars().count(), MESSAGE_CHARS + 3);
    }

    #[test]
    fn the_pattern_asks_for_any_error_term() {
        assert_eq!(
            error_pattern(),
            "?ERROR ?\"Task timed out\" ?\"Runtime exited\""
        );
    }
}
