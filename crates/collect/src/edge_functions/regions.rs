//! Where a Lambda@Edge function ran: its replicas (`us-east-1.NAME`) publish metrics in the
//! region closest to where they executed, so the regions whose CloudWatch lists such metrics
//! (ListMetrics, in each regional edge cache region, a few at a time) are where its metrics and
//! logs are.

use std::time::Instant;

use futures::StreamExt;

use super::{AT_ONCE, LAMBDA_EDGE_REGIONS};
use crate::{error_text, Collector};
use cf_doctor_model::evidence::{Evidence, Gap};
use cf_doctor_model::functions::LambdaEdgeFunction;
use cf_doctor_model::{Check, CheckOutcome};

/// What one region said about one replica: whether it holds its metrics.
type Answer = (String, String, Result<bool, String>);

impl Collector {
    /// The regions whose CloudWatch lists metrics of each Lambda@Edge function's replicas.
    pub(super) async fn where_they_ran(
        &self,
        lambdas: &mut [LambdaEdgeFunction],
        evidence: &mut Evidence,
    ) {
        let mut names: Vec<String> = lambdas.iter().map(|f| f.replica_name()).collect();
        names.sort();
        names.dedup();
        let started = Instant::now();
        let answers = self.list_everywhere(&names).await;
        for replica in &names {
            let ran_in = judge_regions(replica, &answers, started, evidence);
            for f in lambdas.iter_mut().filter(|f| &f.replica_name() == replica) {
                f.ran_in = Some(ran_in.clone());
            }
        }
    }

    /// ListMetrics for each replica in each candidate region.
    async fn list_everywhere(&self, names: &[String]) -> Vec<Answer> {
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
                        .await
                        .map(|out| !out.metrics().is_empty())
                        .map_err(|e| error_text(&e));
                    (replica.clone(), region.to_string(), answer)
                }
            })
        });
        futures::stream::iter(lookups)
            .buffer_unordered(AT_ONCE)
            .collect()
            .await
    }
}

/// The regions where `replica` ran, as its check says; a region that did not answer is a gap.
fn judge_regions(
    replica: &str,
    answers: &[Answer],
    started: Instant,
    evidence: &mut Evidence,
) -> Vec<String> {
    let mut ran_in: Vec<String> = Vec::new();
    let mut failed: Vec<(&str, &str)> = Vec::new();
    for (_, region, answer) in answers.iter().filter(|(r, _, _)| r == replica) {
        match answer {
            Ok(true) => ran_in.push(region.clone()),
            Ok(false) => {}
            Err(error) => failed.push((region, error)),
        }
    }
    ran_in.sort();
    failed.sort();
    let mut detail = if ran_in.is_empty() {
        format!(
            "no region of {} holds metrics of {replica}: it has not run lately",
            LAMBDA_EDGE_REGIONS.len()
        )
    } else {
        format!("metrics of {replica} in {}", ran_in.join(", "))
    };
    let outcome = if failed.is_empty() {
        CheckOutcome::Pass
    } else {
        let regions: Vec<&str> = failed.iter().map(|(r, _)| *r).collect();
        detail.push_str(&format!("; not read in {}", regions.join(", ")));
        evidence.gaps.push(Gap::new(
            "cloudwatch:ListMetrics",
            replica,
            failed[0].1.to_string(),
            &format!(
                "whether Lambda@Edge function {replica} ran in {} (its metrics and logs there)",
                regions.join(", ")
            ),
        ));
        CheckOutcome::Error
    };
    evidence.checks.push(Check::since(
        "lambda-edge-regions",
        replica,
        outcome,
        started,
        Some(detail),
    ));
    ran_in
}
