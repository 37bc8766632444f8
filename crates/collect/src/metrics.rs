//! CloudWatch metrics as evidence, one GetMetricData call per region for each thing read as soon
//! as it is known: the distribution's error rates and origin latency (us-east-1, Region=Global:
//! they need only its id, so they are read beside GetDistribution), each application load
//! balancer's 5xx split (ELB vs target) and target response time (once it is found), and the edge
//! functions' counts (`functions`, once they are described).

mod functions;

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;

use crate::{error_text, Collector};
use cf_doctor_model::evidence::{Evidence, Gap, MetricReading};
use cf_doctor_model::{Check, CheckOutcome};

/// The window read: long enough for a 5-minute alarm period, short enough to be "now".
pub(crate) const WINDOW_SECS: i64 = 15 * 60;

/// CloudFront's metrics for a distribution (the 5xx split needs additional metrics enabled).
const DISTRIBUTION_METRICS: [(&str, &str); 5] = [
    ("5xxErrorRate", "Average"),
    ("502ErrorRate", "Average"),
    ("503ErrorRate", "Average"),
    ("504ErrorRate", "Average"),
    ("OriginLatency", "Average"),
];

/// An application load balancer's own 5xx, its targets' 5xx, and how long targets take.
const LOAD_BALANCER_METRICS: [(&str, &str); 3] = [
    ("HTTPCode_ELB_5XX_Count", "Sum"),
    ("HTTPCode_Target_5XX_Count", "Sum"),
    ("TargetResponseTime", "Average"),
];

/// One metric to read, and what it is about.
struct MetricQueryPlan {
    namespace: &'static str,
    metric: &'static str,
    statistic: &'static str,
    /// The distribution id or the load balancer (`app/name/id`).
    resource: String,
    dimensions: Vec<(&'static str, String)>,
    /// A count whose total over the window is kept (`MetricReading::sum`).
    counted: bool,
    /// Named in the reading: the region of a Lambda@Edge replica's metrics.
    region: Option<String>,
}

/// What is planned for each region.
type Planned = BTreeMap<String, Vec<MetricQueryPlan>>;

/// The metrics of the collected distributions, load balancers and edge functions, by the region
/// that holds them.
fn plan(evidence: &Evidence) -> Planned {
    let ids: Vec<&str> = evidence
        .distributions
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    let mut by_region = plan_distributions(&ids);
    let load_balancers: Vec<(&str, &str)> = evidence
        .load_balancers
        .iter()
        .filter(|lb| lb.lb_type == "application")
        .map(|lb| (lb.region.as_str(), lb.arn.as_str()))
        .collect();
    merge(&mut by_region, plan_load_balancers(&load_balancers));
    merge(&mut by_region, functions::plan(evidence));
    by_region
}

fn merge(into: &mut Planned, more: Planned) {
    for (region, planned) in more {
        into.entry(region).or_default().extend(planned);
    }
}

/// A distribution's error rates and origin latency need only its id: they can be read while the
/// distribution itself is.
fn plan_distributions(ids: &[&str]) -> Planned {
    let mut by_region = Planned::new();
    for id in ids {
        for (metric, statistic) in DISTRIBUTION_METRICS {
            // CloudFront publishes in us-east-1 only, with Region=Global.
            by_region
                .entry("us-east-1".into())
                .or_default()
                .push(MetricQueryPlan {
                    namespace: "AWS/CloudFront",
                    metric,
                    statistic,
                    resource: id.to_string(),
                    dimensions: vec![
                        ("DistributionId", id.to_string()),
                        ("Region", "Global".into()),
                    ],
                    counted: false,
                    region: None,
                });
        }
    }
    by_region
}

/// Each application load balancer's metrics, by (region, ARN).
fn plan_load_balancers(load_balancers: &[(&str, &str)]) -> Planned {
    let mut by_region = Planned::new();
    for (region, arn) in load_balancers {
        // The LoadBalancer dimension is the ARN's tail: app/NAME/ID.
        let Some((_, dimension)) = arn.split_once(":loadbalancer/") else {
            continue;
        };
        for (metric, statistic) in LOAD_BALANCER_METRICS {
            by_region
                .entry(region.to_string())
                .or_default()
                .push(MetricQueryPlan {
                    namespace: "AWS/ApplicationELB",
                    metric,
                    statistic,
                    resource: dimension.to_string(),
                    dimensions: vec![("LoadBalancer", dimension.to_string())],
                    counted: false,
                    region: None,
                });
        }
    }
    by_region
}

fn query(id: String, plan: &MetricQueryPlan) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(plan.namespace)
        .metric_name(plan.metric)
        .set_dimensions(Some(
            plan.dimensions
                .iter()
                .map(|(n, v)| Dimension::builder().name(*n).value(v).build())
                .collect(),
        ))
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat(plan.statistic)
                .build(),
        )
        .return_data(true)
        .build()
}

impl Collector {
    pub async fn metrics(&self, evidence: &mut Evidence) {
        self.read_planned(plan(evidence), "error rates, 5xx split, latency", evidence)
            .await;
    }

    /// The error rates and origin latency of these distributions (one call in us-east-1).
    pub async fn distribution_metrics(&self, ids: &[&str], evidence: &mut Evidence) {
        let what = "the distribution's error rates and origin latency";
        self.read_planned(plan_distributions(ids), what, evidence)
            .await;
    }

    /// The 5xx split and response time of these application load balancers, by (region, ARN).
    pub(crate) async fn load_balancer_metrics(
        &self,
        load_balancers: &[(&str, &str)],
        evidence: &mut Evidence,
    ) {
        let what = "the load balancer's 5xx split and target response time";
        self.read_planned(plan_load_balancers(load_balancers), what, evidence)
            .await;
    }

    /// The metrics of the edge functions the evidence names, and where they ran.
    pub async fn function_metrics(&self, evidence: &mut Evidence) {
        let what = "the edge functions' invocations, errors and throttles";
        self.read_planned(functions::plan(evidence), what, evidence)
            .await;
    }

    /// One GetMetricData call per region, all regions at once; readings and checks are kept in
    /// region order.
    async fn read_planned(&self, planned: Planned, what: &str, evidence: &mut Evidence) {
        let end = evidence.now.timestamp();
        let base = Evidence::default();
        let read = planned.iter().map(|(region, planned)| {
            let mut branch = base.clone();
            async move {
                self.read_region(region, planned, what, end, &mut branch)
                    .await;
                branch
            }
        });
        for branch in futures::future::join_all(read).await {
            evidence.absorb(branch, &base);
        }
    }

    /// One GetMetricData call for every planned metric of a region; a failure is a gap.
    async fn read_region(
        &self,
        region: &str,
        planned: &[MetricQueryPlan],
        what: &str,
        end: i64,
        evidence: &mut Evidence,
    ) {
        let client = self.infra_for(region).cloudwatch;
        let queries = planned
            .iter()
            .enumerate()
            .map(|(i, p)| query(format!("m{i}"), p));
        let started = std::time::Instant::now();
        let result = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.collect()))
            .start_time(DateTime::from_secs(end - WINDOW_SECS))
            .end_time(DateTime::from_secs(end))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let error = error_text(&e);
                evidence.checks.push(Check::since(
                    "cloudwatch-metrics",
                    region,
                    CheckOutcome::Error,
                    started,
                    Some(error.clone()),
                ));
                evidence.gaps.push(Gap::new(
                    "cloudwatch:GetMetricData",
                    region,
                    error,
                    &format!("the CloudWatch metrics in {region} ({what})"),
                ));
                return;
            }
        };
        let results = out.metric_data_results();
        let with_data = results.iter().filter(|r| !r.values().is_empty()).count();
        evidence.checks.push(Check::since(
            "cloudwatch-metrics",
            region,
            CheckOutcome::Pass,
            started,
            Some(format!(
                "{} metric(s), {with_data} with data",
                planned.len()
            )),
        ));
        for (i, p) in planned.iter().enumerate() {
            let id = format!("m{i}");
            let values = results
                .iter()
                .find(|r| r.id() == Some(id.as_str()))
                .map(|r| r.values().to_vec())
                .unwrap_or_default();
            // Results come newest first (the default ScanBy is TimestampDescending).
            evidence.metrics.push(MetricReading {
                namespace: p.namespace.into(),
                metric: p.metric.into(),
                resource: p.resource.clone(),
                statistic: p.statistic.into(),
                latest: values.first().copied(),
                max: values.iter().copied().reduce(f64::max),
                // No datapoint in the window is a count of zero, not an unknown.
                sum: p
                    .counted
                    .then(|| values.iter().fold(0.0, |total, v| total + v)),
                region: p.region.clone(),
            });
        }
    }
}
