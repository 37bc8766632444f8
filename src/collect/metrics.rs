//! CloudWatch metrics as evidence, one GetMetricData call per region: the distribution's error
//! rates and origin latency (us-east-1, Region=Global) and each application load balancer's 5xx
//! split (ELB vs target) and target response time.

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;

use super::{error_text, Collector};
use crate::diagnosis::{Check, Outcome};
use crate::evidence::{Evidence, Gap, MetricReading};

/// The window read: long enough for a 5-minute alarm period, short enough to be "now".
const WINDOW_SECS: i64 = 15 * 60;

struct Wanted {
    namespace: &'static str,
    metric: &'static str,
    statistic: &'static str,
    resource: String,
    dimensions: Vec<(&'static str, String)>,
}

impl Collector {
    pub async fn metrics(&self, evidence: &mut Evidence) {
        let mut by_region: std::collections::BTreeMap<String, Vec<Wanted>> = Default::default();
        for d in &evidence.distributions {
            for (metric, statistic) in [
                ("5xxErrorRate", "Average"),
                ("502ErrorRate", "Average"),
                ("503ErrorRate", "Average"),
                ("504ErrorRate", "Average"),
                ("OriginLatency", "Average"),
            ] {
                by_region
                    .entry("us-east-1".into())
                    .or_default()
                    .push(Wanted {
                        namespace: "AWS/CloudFront",
                        metric,
                        statistic,
                        resource: d.id.clone(),
                        dimensions: vec![
                            ("DistributionId", d.id.clone()),
                            ("Region", "Global".into()),
                        ],
                    });
            }
        }
        for lb in evidence
            .load_balancers
            .iter()
            .filter(|lb| lb.lb_type == "application")
        {
            // The LoadBalancer dimension is the ARN's tail: app/NAME/ID.
            let Some(dimension) = lb
                .arn
                .split_once(":loadbalancer/")
                .map(|(_, tail)| tail.to_string())
            else {
                continue;
            };
            for (metric, statistic) in [
                ("HTTPCode_ELB_5XX_Count", "Sum"),
                ("HTTPCode_Target_5XX_Count", "Sum"),
                ("TargetResponseTime", "Average"),
            ] {
                by_region
                    .entry(lb.region.clone())
                    .or_default()
                    .push(Wanted {
                        namespace: "AWS/ApplicationELB",
                        metric,
                        statistic,
                        resource: dimension.clone(),
                        dimensions: vec![("LoadBalancer", dimension.clone())],
                    });
            }
        }
        let end = evidence.now.timestamp();
        for (region, wanted) in by_region {
            let client = self.infra_for(&region).cloudwatch;
            let queries = wanted.iter().enumerate().map(|(i, w)| {
                let metric = Metric::builder()
                    .namespace(w.namespace)
                    .metric_name(w.metric)
                    .set_dimensions(Some(
                        w.dimensions
                            .iter()
                            .map(|(n, v)| Dimension::builder().name(*n).value(v).build())
                            .collect(),
                    ))
                    .build();
                MetricDataQuery::builder()
                    .id(format!("m{i}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(60)
                            .stat(w.statistic)
                            .build(),
                    )
                    .return_data(true)
                    .build()
            });
            let started = std::time::Instant::now();
            let result = client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.collect()))
                .start_time(DateTime::from_secs(end - WINDOW_SECS))
                .end_time(DateTime::from_secs(end))
                .send()
                .await;
            match result {
                Err(e) => {
                    evidence.checks.push(Check::since(
                        "cloudwatch-metrics",
                        &region,
                        Outcome::Error,
                        started,
                        Some(error_text(&e)),
                    ));
                    evidence.gaps.push(Gap {
                        action: "cloudwatch:GetMetricData".into(),
                        resource: region.clone(),
                        error: error_text(&e),
                        unchecked: format!(
                            "the CloudWatch metrics in {region} (error rates, 5xx split, latency)"
                        ),
                    })
                }
                Ok(out) => {
                    let with_data = out
                        .metric_data_results()
                        .iter()
                        .filter(|r| !r.values().is_empty())
                        .count();
                    evidence.checks.push(Check::since(
                        "cloudwatch-metrics",
                        &region,
                        Outcome::Pass,
                        started,
                        Some(format!("{} metric(s), {with_data} with data", wanted.len())),
                    ));
                    for (i, w) in wanted.iter().enumerate() {
                        let id = format!("m{i}");
                        let values = out
                            .metric_data_results()
                            .iter()
                            .find(|r| r.id() == Some(id.as_str()))
                            .map(|r| r.values().to_vec())
                            .unwrap_or_default();
                        // Results come newest first (the default ScanBy is TimestampDescending).
                        evidence.metrics.push(MetricReading {
                            namespace: w.namespace.into(),
                            metric: w.metric.into(),
                            resource: w.resource.clone(),
                            statistic: w.statistic.into(),
                            latest: values.first().copied(),
                            max: values.iter().copied().reduce(f64::max),
                        });
                    }
                }
            }
        }
    }
}
