//! The edge's own code: the Lambda@Edge versions and CloudFront Functions the distributions'
//! cache behaviours run. Lambda@Edge: GetFunctionConfiguration of the associated version (in its
//! ARN's region, us-east-1 when associated correctly), and where its replicas ran (ListMetrics for
//! `us-east-1.NAME` in each region with a CloudFront regional edge cache, a few at a time); after
//! the metrics, a few recent error lines from `/aws/lambda/us-east-1.NAME` and
//! `/aws/cloudfront/LambdaEdge/DISTRIBUTION_ID` where the metrics show errors. CloudFront
//! Functions: DescribeFunction of the LIVE stage. Every call is bounded by the SDK's timeouts and
//! every failure is a gap naming the action.

use std::time::Instant;

use futures::StreamExt;

use crate::{error_text, not_in_time, Budget, Collector};
use cf_doctor_model::evidence::{Distribution, Evidence, Gap};
use cf_doctor_model::functions::{
    cloudfront_function_name, parse_lambda_arn, CloudfrontFunction, FunctionKind, FunctionStage,
    FunctionUse, LambdaConfiguration, LambdaEdgeFunction, LogLine,
};
use cf_doctor_model::{Check, CheckOutcome};

/// The regions with a CloudFront regional edge cache, where Lambda@Edge replicas run and write
/// their metrics and logs ("Test and debug Lambda@Edge functions": the Region closest to where the
/// function executed).
pub const LAMBDA_EDGE_REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// Functions read per run: a bound on what a distribution with many behaviours costs.
const MAX_FUNCTIONS: usize = 20;
/// Concurrent calls while looking up functions and regions.
const AT_ONCE: usize = 6;
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

/// The functions the distributions' behaviours run, each once with every place it is used; at
/// most `MAX_FUNCTIONS` of them, and the names of those left out.
pub fn gather(
    distributions: &[Distribution],
) -> (
    Vec<LambdaEdgeFunction>,
    Vec<CloudfrontFunction>,
    Vec<String>,
) {
    let mut lambdas: Vec<LambdaEdgeFunction> = Vec::new();
    let mut functions: Vec<CloudfrontFunction> = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    for d in distributions {
        for a in &d.function_associations {
            let used = FunctionUse {
                distribution_id: d.id.clone(),
                association: a.clone(),
            };
            match a.kind {
                FunctionKind::LambdaEdge => {
                    if let Some(known) = lambdas.iter_mut().find(|f| f.arn == a.arn) {
                        known.used_by.push(used);
                    } else if lambdas.len() + functions.len() >= MAX_FUNCTIONS {
                        left_out.push(a.arn.clone());
                    } else {
                        let (region, name, qualifier) = parse_lambda_arn(&a.arn)
                            .unwrap_or_else(|| (String::new(), a.arn.clone(), None));
                        lambdas.push(LambdaEdgeFunction {
                            arn: a.arn.clone(),
                            name,
                            qualifier,
                            region,
                            used_by: vec![used],
                            configuration: None,
                            ran_in: None,
                            log_lines: Vec::new(),
                        });
                    }
                }
                FunctionKind::CloudfrontFunction => {
                    if let Some(known) = functions.iter_mut().find(|f| f.arn == a.arn) {
                        known.used_by.push(used);
                    } else if lambdas.len() + functions.len() >= MAX_FUNCTIONS {
                        left_out.push(a.arn.clone());
                    } else {
                        functions.push(CloudfrontFunction {
                            name: cloudfront_function_name(&a.arn)
                                .unwrap_or(&a.arn)
                                .to_string(),
                            arn: a.arn.clone(),
                            used_by: vec![used],
                            live: None,
                        });
                    }
                }
            }
        }
    }
    left_out.dedup();
    (lambdas, functions, left_out)
}

impl Collector {
    fn lambda_in(&self, region: &str) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config_in(region))
    }

    fn logs_in(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config_in(region))
    }

    fn cloudwatch_in(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        match self.infra_by_region.get(region) {
            Some(infra) => infra.cloudwatch.clone(),
            None => aws_sdk_cloudwatch::Client::new(&self.config_in(region)),
        }
    }

    pub(crate) fn config_in(&self, region: &str) -> aws_config::SdkConfig {
        self.sdk
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build()
    }

    /// Every function the collected distributions run, described: each Lambda@Edge version's
    /// configuration and each CloudFront Function's LIVE stage; with `where_they_ran` (the alarm
    /// path), also the regions whose CloudWatch holds a Lambda@Edge function's metrics.
    pub async fn edge_functions(
        &self,
        evidence: &mut Evidence,
        budget: &Budget,
        where_they_ran: bool,
    ) {
        let (mut lambdas, mut functions, left_out) = gather(&evidence.distributions);
        if !left_out.is_empty() {
            evidence.gaps.push(Gap::new(
                "edge-functions",
                &format!("{} function(s)", left_out.len()),
                format!("more than {MAX_FUNCTIONS} functions are associated"),
                &format!(
                    "the functions beyond the first {MAX_FUNCTIONS}: {}",
                    left_out.join(", ")
                ),
            ));
        }
        if lambdas.is_empty() && functions.is_empty() {
            return;
        }
        if !budget.allows_start() {
            evidence.gaps.push(not_in_time(
                "the edge functions (Lambda@Edge, CloudFront Functions)",
                "edge functions",
            ));
            return;
        }
        self.describe_lambdas(&mut lambdas, evidence).await;
        self.describe_cloudfront_functions(&mut functions, evidence)
            .await;
        if where_they_ran {
            if budget.allows_start() {
                self.where_they_ran(&mut lambdas, evidence).await;
            } else if !lambdas.is_empty() {
                evidence.gaps.push(not_in_time(
                    "the regions where the Lambda@Edge functions ran (their metrics and logs)",
                    "Lambda@Edge",
                ));
            }
        }
        evidence.lambda_edge_functions = lambdas;
        evidence.cloudfront_functions = functions;
    }

    async fn describe_lambdas(&self, lambdas: &mut [LambdaEdgeFunction], evidence: &mut Evidence) {
        let answers: Vec<_> = futures::stream::iter(lambdas.iter().enumerate().map(|(i, f)| {
            let client = self.lambda_in(if f.region.is_empty() {
                "us-east-1"
            } else {
                &f.region
            });
            let arn = f.arn.clone();
            async move {
                let started = Instant::now();
                let answer = client
                    .get_function_configuration()
                    .function_name(&arn)
                    .send()
                    .await;
                (i, answer.map_err(|e| error_text(&e)), started)
            }
        }))
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
        for (i, answer, started) in answers {
            let function = &mut lambdas[i];
            match answer {
                Ok(out) => {
                    let configuration = LambdaConfiguration {
                        state: out.state().map(|s| s.as_str().to_string()),
                        state_reason: out.state_reason().map(str::to_string),
                        last_update_status: out
                            .last_update_status()
                            .map(|s| s.as_str().to_string()),
                        last_update_status_reason: out
                            .last_update_status_reason()
                            .map(str::to_string),
                        runtime: out.runtime().map(|r| r.as_str().to_string()),
                        timeout_s: out.timeout(),
                        memory_mb: out.memory_size(),
                        version: out.version().map(str::to_string),
                    };
                    evidence.checks.push(Check::since(
                        "lambda-edge-function",
                        &function.arn,
                        CheckOutcome::Pass,
                        started,
                        Some(format!(
                            "{}; {}",
                            configuration_in_words(&configuration),
                            uses_in_words(&function.used_by)
                        )),
                    ));
                    function.configuration = Some(configuration);
                }
                Err(error) => {
                    evidence.checks.push(Check::since(
                        "lambda-edge-function",
                        &function.arn,
                        CheckOutcome::Error,
                        started,
                        Some(error.clone()),
                    ));
                    evidence.gaps.push(Gap::new(
                        "lambda:GetFunctionConfiguration",
                        &function.arn,
                        error,
                        &format!(
                            "the state, runtime, timeout and memory of Lambda@Edge function {}",
                            function.name
                        ),
                    ));
                }
            }
        }
    }

    async fn describe_cloudfront_functions(
        &self,
        functions: &mut [CloudfrontFunction],
        evidence: &mut Evidence,
    ) {
        let answers: Vec<_> = futures::stream::iter(functions.iter().enumerate().map(|(i, f)| {
            let name = f.name.clone();
            async move {
                let started = Instant::now();
                (i, self.live_stage(&name).await, started)
            }
        }))
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
        for (i, answer, started) in answers {
            let function = &mut functions[i];
            let (outcome, detail) = match answer {
                Ok(stage) => {
                    let detail = format!(
                        "{} stage: {}, runtime {}; {}",
                        stage.stage,
                        stage.status,
                        stage.runtime.as_deref().unwrap_or("unknown"),
                        uses_in_words(&function.used_by)
                    );
                    function.live = Some(stage);
                    (CheckOutcome::Pass, detail)
                }
                Err(error) => {
                    evidence.gaps.push(Gap::new(
                        "cloudfront:DescribeFunction",
                        &function.arn,
                        error.clone(),
                        &format!("the LIVE stage of CloudFront Function {}", function.name),
                    ));
                    (CheckOutcome::Error, error)
                }
            };
            evidence.checks.push(Check::since(
                "cloudfront-function",
                &function.arn,
                outcome,
                started,
                Some(detail),
            ));
        }
    }

    /// DescribeFunction of the LIVE stage: what CloudFront runs for viewers.
    pub(crate) async fn live_stage(&self, name: &str) -> Result<FunctionStage, String> {
        let out = self
            .cloudfront
            .describe_function()
            .name(name)
            .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        let summary = out
            .function_summary()
            .ok_or_else(|| "the answer carried no FunctionSummary".to_string())?;
        let metadata = summary.function_metadata();
        Ok(FunctionStage {
            stage: metadata
                .and_then(|m| m.stage())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status: summary.status().unwrap_or_default().to_string(),
            runtime: summary
                .function_config()
                .map(|c| c.runtime().as_str().to_string()),
            last_modified: metadata.and_then(|m| crate::acm::to_chrono(m.last_modified_time())),
        })
    }

    /// The regions whose CloudWatch lists metrics of each Lambda@Edge function's replicas.
    async fn where_they_ran(&self, lambdas: &mut [LambdaEdgeFunction], evidence: &mut Evidence) {
        let mut names: Vec<String> = lambdas.iter().map(|f| f.replica_name()).collect();
        names.sort();
        names.dedup();
        let lookups = names.iter().flat_map(|replica| {
            LAMBDA_EDGE_REGIONS.iter().map(move |region| {
                let client = self.cloudwatch_in(region);
                async move {
                    let answer = client
                        .list_metrics()
                        .namespace("AWS/Lambda")
                        .dimensions(
                            aws_sdk_cloudwatch::types::DimensionFilter::builder()
                                .name("FunctionName")
                                .value(replica)
                                .build(),
                        )
                        .send()
                        .await;
                    let answer = answer
                        .map(|out| !out.metrics().is_empty())
                        .map_err(|e| error_text(&e));
                    (replica.clone(), region.to_string(), answer)
                }
            })
        });
        let started = Instant::now();
        let answers: Vec<_> = futures::stream::iter(lookups)
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        for replica in &names {
            let mut ran_in: Vec<String> = Vec::new();
            let mut failed: Vec<(String, String)> = Vec::new();
            for (_, region, answer) in answers.iter().filter(|(r, _, _)| r == replica) {
                match answer {
                    Ok(true) => ran_in.push(region.clone()),
                    Ok(false) => {}
                    Err(error) => failed.push((region.clone(), error.clone())),
                }
            }
            ran_in.sort();
            let mut detail = if ran_in.is_empty() {
                format!(
                    "no region of {} holds metrics of {replica}: it has not run lately",
                    LAMBDA_EDGE_REGIONS.len()
                )
            } else {
                format!("metrics of {replica} in {}", ran_in.join(", "))
            };
            if !failed.is_empty() {
                let regions: Vec<&str> = failed.iter().map(|(r, _)| r.as_str()).collect();
                detail.push_str(&format!("; not read in {}", regions.join(", ")));
                evidence.gaps.push(Gap::new(
                    "cloudwatch:ListMetrics",
                    replica,
                    failed[0].1.clone(),
                    &format!(
                        "whether Lambda@Edge function {replica} ran in {} (its metrics and logs there)",
                        regions.join(", ")
                    ),
                ));
            }
            evidence.checks.push(Check::since(
                "lambda-edge-regions",
                replica,
                if failed.is_empty() {
                    CheckOutcome::Pass
                } else {
                    CheckOutcome::Error
                },
                started,
                Some(detail),
            ));
            for f in lambdas.iter_mut().filter(|f| &f.replica_name() == replica) {
                f.ran_in = Some(ran_in.clone());
            }
        }
    }

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
        let answers: Vec<_> = futures::stream::iter(reads.into_iter().map(|read| {
            let client = self.logs_in(&read.region);
            async move {
                let mut call = client
                    .filter_log_events()
                    .log_group_name(&read.log_group)
                    .start_time(start)
                    .end_time(end)
                    .limit(LOG_EVENTS_READ);
                if read.errors_only {
                    // CloudWatch Logs' OR syntax; the same terms are applied to what comes back.
                    call = call.filter_pattern(
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
                            .join(" "),
                    );
                }
                let answer = call.send().await;
                let answer = match answer {
                    Ok(out) => Ok(out
                        .events()
                        .iter()
                        .filter_map(|e| Some((e.timestamp(), e.message()?.to_string())))
                        .collect::<Vec<_>>()),
                    // No such group: nothing was ever logged there.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) =>
                    {
                        Ok(Vec::new())
                    }
                    Err(e) => Err(error_text(&e)),
                };
                (read, answer)
            }
        }))
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
        let mut answers = answers;
        answers.sort_by(|a, b| (&a.0.log_group, &a.0.region).cmp(&(&b.0.log_group, &b.0.region)));
        for (read, answer) in answers {
            match answer {
                Ok(events) => {
                    let lines: Vec<LogLine> = events
                        .into_iter()
                        .filter(|(_, m)| {
                            !read.errors_only || ERROR_TERMS.iter().any(|t| m.contains(t))
                        })
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
                Err(error) => evidence.gaps.push(Gap::new(
                    "logs:FilterLogEvents",
                    &format!("{} ({})", read.log_group, read.region),
                    error,
                    &format!(
                        "recent error lines in {} in {}",
                        read.log_group, read.region
                    ),
                )),
            }
        }
    }
}

/// One log group to read in one region, and the functions its lines are evidence for.
struct LogRead {
    log_group: String,
    region: String,
    /// Only error lines (a function's own log); CloudFront's log of invalid responses holds
    /// nothing else.
    errors_only: bool,
    functions: Vec<String>,
}

/// The log groups worth reading: a function's own log in the regions where it erred or was
/// throttled most, and CloudFront's log of invalid Lambda@Edge responses for distributions whose
/// validation errors are counted, in the regions where their functions ran most.
fn log_reads(evidence: &Evidence) -> Vec<LogRead> {
    let sum = |namespace: &str, metric: &str, resource: &str, region: Option<&str>| {
        evidence
            .metrics
            .iter()
            .filter(|m| m.namespace == namespace && m.metric == metric && m.resource == resource)
            .filter(|m| region.is_none_or(|r| m.region.as_deref() == Some(r)))
            .filter_map(|m| m.sum)
            .fold(0.0, |total, n| total + n)
    };
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
        let weigh = |metrics: &[&str]| {
            let mut weighed: Vec<(f64, &String)> = regions
                .iter()
                .map(|r| {
                    let n: f64 = metrics
                        .iter()
                        .map(|m| sum("AWS/Lambda", m, &replica, Some(r)))
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
                .collect::<Vec<_>>()
        };
        for region in weigh(&["Errors", "Throttles"]) {
            add(format!("/aws/lambda/{replica}"), &region, true, &f.arn);
        }
        for distribution in f.distributions() {
            if sum(
                "AWS/CloudFront",
                "LambdaValidationError",
                distribution,
                None,
            ) > 0.0
            {
                for region in weigh(&["Invocations"]) {
                    add(
                        format!("/aws/cloudfront/LambdaEdge/{distribution}"),
                        &region,
                        false,
                        &f.arn,
                    );
                }
            }
        }
    }
    reads
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

fn configuration_in_words(c: &LambdaConfiguration) -> String {
    format!(
        "state {}, last update {}, runtime {}, timeout {} s, memory {} MB",
        c.state.as_deref().unwrap_or("unknown"),
        c.last_update_status.as_deref().unwrap_or("unknown"),
        c.runtime.as_deref().unwrap_or("none (container image)"),
        c.timeout_s.map_or("unknown".to_string(), |t| t.to_string()),
        c.memory_mb.map_or("unknown".to_string(), |m| m.to_string()),
    )
}

/// "used by E1 (viewer-request of the default cache behaviour)".
pub fn uses_in_words(uses: &[FunctionUse]) -> String {
    let each: Vec<String> = uses
        .iter()
        .map(|u| format!("{} ({})", u.distribution_id, u.association.describe()))
        .collect();
    format!("used by {}", each.join(", "))
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
}
