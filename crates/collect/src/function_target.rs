//! An alarm on a CloudFront Function's own metrics (dimension FunctionName): the function's LIVE
//! stage, the distributions whose behaviours run it (ListDistributions carries the associations),
//! and its metrics beside theirs, so the report can say whether its errors explain what viewers
//! got. Origins are not probed: the alarm is about the function.

use std::time::Instant;

use chrono::Utc;

use crate::host_sent::PolicyVerdicts;
use crate::{cloudfront, not_in_time, CollectError, Collector};
use cf_doctor_model::evidence::{Distribution, Evidence, Gap};
use cf_doctor_model::functions::{
    cloudfront_function_name, CloudfrontFunction, FunctionKind, FunctionUse,
};
use cf_doctor_model::{Check, CheckOutcome};

impl Collector {
    /// Everything an alarm on CloudFront Function `name` calls for. Err when CloudFront says the
    /// function does not exist, or AWS cannot be reached.
    pub async fn cloudfront_function_within(
        &self,
        name: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Evidence, CollectError> {
        let budget = self.budget(deadline);
        let mut evidence = Evidence {
            now: Utc::now(),
            thresholds: self.thresholds,
            ..Evidence::default()
        };
        let started = Instant::now();
        let live = match self.live_stage(name).await {
            Ok(stage) => Some(stage),
            Err(error) if error.contains("NoSuchFunctionExists") => {
                return Err(CollectError::Aws {
                    action: "cloudfront:DescribeFunction".into(),
                    resource: name.into(),
                    error,
                })
            }
            Err(error) => {
                evidence.gaps.push(Gap::new(
                    "cloudfront:DescribeFunction",
                    name,
                    error,
                    &format!("the LIVE stage of CloudFront Function {name}"),
                ));
                None
            }
        };
        let users = self.distributions_running(name, &mut evidence).await?;
        let mut function = CloudfrontFunction {
            name: name.to_string(),
            arn: users
                .first()
                .map(|u| u.association.arn.clone())
                .unwrap_or_default(),
            used_by: users,
            live,
        };
        evidence.checks.push(Check::since(
            "cloudfront-function",
            name,
            if function.live.is_some() {
                CheckOutcome::Pass
            } else {
                CheckOutcome::Error
            },
            started,
            Some(match &function.live {
                Some(stage) => format!(
                    "{}; {}",
                    crate::edge_functions::stage_in_words(stage),
                    if function.used_by.is_empty() {
                        "no distribution runs it".to_string()
                    } else {
                        crate::edge_functions::uses_in_words(&function.used_by)
                    }
                ),
                None => "its LIVE stage could not be read".to_string(),
            }),
        ));
        if function.arn.is_empty() {
            function.arn = name.to_string();
        }
        evidence.cloudfront_functions.push(function);
        if budget.allows_start() {
            Box::pin(self.metrics(&mut evidence)).await;
        } else {
            evidence
                .gaps
                .push(not_in_time("the CloudWatch metrics", name));
        }
        Ok(evidence)
    }

    /// The distributions whose behaviours run the function; they join the evidence (for their
    /// error rates) without being inspected further. Unreachable AWS is an Err (nothing to
    /// diagnose); any other failure a gap, and the function is still diagnosed from its metrics.
    async fn distributions_running(
        &self,
        name: &str,
        evidence: &mut Evidence,
    ) -> Result<Vec<FunctionUse>, CollectError> {
        let started = Instant::now();
        let mut pages = self.cloudfront.list_distributions().into_paginator().send();
        let mut users = Vec::new();
        let mut failed: Option<String> = None;
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    match CollectError::aws("cloudfront:ListDistributions", "all distributions", &e)
                    {
                        unreachable @ CollectError::Unreachable { .. } => {
                            return Err(unreachable.with_endpoint(&self.endpoint))
                        }
                        other => failed = Some(other.to_string()),
                    }
                    break;
                }
            };
            for summary in page
                .distribution_list()
                .map(|l| l.items())
                .unwrap_or_default()
            {
                let distribution = cloudfront::map_summary(summary, &PolicyVerdicts::default());
                let runs = runs_function(&distribution, name);
                if !runs.is_empty() {
                    users.extend(runs);
                    evidence.distributions.push(distribution);
                }
            }
        }
        let (outcome, detail) = match failed {
            None => (
                CheckOutcome::Pass,
                format!(
                    "{} distribution(s) run CloudFront Function {name}",
                    evidence.distributions.len()
                ),
            ),
            Some(error) => {
                evidence.gaps.push(Gap::new(
                    "cloudfront:ListDistributions",
                    "all distributions",
                    error.clone(),
                    &format!(
                        "which distributions run CloudFront Function {name}, and their error rates"
                    ),
                ));
                (CheckOutcome::Error, error)
            }
        };
        evidence.checks.push(Check::since(
            "cloudfront-list-distributions",
            "all distributions",
            outcome,
            started,
            Some(detail),
        ));
        Ok(users)
    }
}

/// The associations of `distribution` that run CloudFront Function `name`.
fn runs_function(distribution: &Distribution, name: &str) -> Vec<FunctionUse> {
    distribution
        .function_associations
        .iter()
        .filter(|a| {
            a.kind == FunctionKind::CloudfrontFunction
                && cloudfront_function_name(&a.arn) == Some(name)
        })
        .map(|a| FunctionUse {
            distribution_id: distribution.id.clone(),
            association: a.clone(),
        })
        .collect()
}
