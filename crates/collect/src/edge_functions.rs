//! The edge's own code: the Lambda@Edge versions and CloudFront Functions the distributions'
//! cache behaviours run. Lambda@Edge: GetFunctionConfiguration of the associated version (in its
//! ARN's region, us-east-1 when associated correctly), and where its replicas ran (ListMetrics for
//! `us-east-1.NAME` in each region with a CloudFront regional edge cache, a few at a time); after
//! the metrics, a few recent error lines from `/aws/lambda/us-east-1.NAME` and
//! `/aws/cloudfront/LambdaEdge/DISTRIBUTION_ID` where the metrics show errors. CloudFront
//! Functions: DescribeFunction of the LIVE stage. Every call is bounded by the SDK's timeouts and
//! every failure is a gap naming the action.

mod logs;
mod regions;

use std::time::Instant;

use futures::StreamExt;

use crate::{error_text, not_in_time, Budget, Collector};
use cf_doctor_model::evidence::{Distribution, Evidence, Gap};
use cf_doctor_model::functions::{
    cloudfront_function_name, parse_lambda_arn, CloudfrontFunction, FunctionKind, FunctionStage,
    FunctionUse, LambdaConfiguration, LambdaEdgeFunction,
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
/// Concurrent calls while looking up functions, regions and logs.
const AT_ONCE: usize = 6;

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

    pub(crate) fn logs_in(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config_in(region))
    }

    pub(crate) fn cloudwatch_in(&self, region: &str) -> aws_sdk_cloudwatch::Client {
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

    /// GetFunctionConfiguration of each associated version (in its ARN's region), a few at a time;
    /// each is a check with its state, and one that cannot be read a gap.
    async fn describe_lambdas(&self, lambdas: &mut [LambdaEdgeFunction], evidence: &mut Evidence) {
        let mut answers: Vec<_> =
            futures::stream::iter(lambdas.iter().enumerate().map(|(i, f)| {
                let region = if f.region.is_empty() {
                    "us-east-1"
                } else {
                    &f.region
                };
                let client = self.lambda_in(region);
                async move {
                    let started = Instant::now();
                    let answer = client
                        .get_function_configuration()
                        .function_name(&f.arn)
                        .send()
                        .await
                        .map(|out| configuration_of(&out))
                        .map_err(|e| error_text(&e));
                    (i, answer, started)
                }
            }))
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        // Completion order is arbitrary; a report reads the same every time.
        answers.sort_by_key(|(i, _, _)| *i);
        for (i, answer, started) in answers {
            let function = &mut lambdas[i];
            let (outcome, detail) = match answer {
                Ok(configuration) => {
                    let detail = format!(
                        "{}; {}",
                        configuration_in_words(&configuration),
                        uses_in_words(&function.used_by)
                    );
                    function.configuration = Some(configuration);
                    (CheckOutcome::Pass, detail)
                }
                Err(error) => {
                    evidence.gaps.push(Gap::new(
                        "lambda:GetFunctionConfiguration",
                        &function.arn,
                        error.clone(),
                        &format!(
                            "the state, runtime, timeout and memory of Lambda@Edge function {}",
                            function.name
                        ),
                    ));
                    (CheckOutcome::Error, error)
                }
            };
            evidence.checks.push(Check::since(
                "lambda-edge-function",
                &function.arn,
                outcome,
                started,
                Some(detail),
            ));
        }
    }

    /// DescribeFunction of each CloudFront Function's LIVE stage, a few at a time; each is a
    /// check with its status, and one that cannot be read a gap.
    async fn describe_cloudfront_functions(
        &self,
        functions: &mut [CloudfrontFunction],
        evidence: &mut Evidence,
    ) {
        let mut answers: Vec<_> =
            futures::stream::iter(functions.iter().enumerate().map(|(i, f)| async move {
                let started = Instant::now();
                (i, self.live_stage(&f.name).await, started)
            }))
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        answers.sort_by_key(|(i, _, _)| *i);
        for (i, answer, started) in answers {
            let function = &mut functions[i];
            let (outcome, detail) = match answer {
                Ok(stage) => {
                    let detail = format!(
                        "{}; {}",
                        stage_in_words(&stage),
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
}

fn configuration_of(
    out: &aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> LambdaConfiguration {
    LambdaConfiguration {
        state: out.state().map(|s| s.as_str().to_string()),
        state_reason: out.state_reason().map(str::to_string),
        last_update_status: out.last_update_status().map(|s| s.as_str().to_string()),
        last_update_status_reason: out.last_update_status_reason().map(str::to_string),
        runtime: out.runtime().map(|r| r.as_str().to_string()),
        timeout_s: out.timeout(),
        memory_mb: out.memory_size(),
        version: out.version().map(str::to_string),
    }
}

/// "LIVE stage: DEPLOYED, runtime cloudfront-js-2.0".
pub fn stage_in_words(stage: &FunctionStage) -> String {
    format!(
        "{} stage: {}, runtime {}",
        stage.stage,
        stage.status,
        stage.runtime.as_deref().unwrap_or("unknown")
    )
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
