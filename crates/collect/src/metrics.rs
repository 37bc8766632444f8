//! CloudWatch metrics as evidence, one GetMetricData call per region for each thing read as soon
//! as it is known: the distribution's error rates and origin latency (us-east-1, Region=Global:
//! they need only its id, so they are read beside GetDistribution), each load balancer's own
//! counts of what failed (once it is found: an application load balancer's 5xx split and target
//! response time, and for both kinds the failed TLS handshakes, resets and rejections that
//! corroborate a cause from the origin's side), the unhealthy targets of the groups its listener
//! forwards to (once the listener is read), and the edge functions' counts (`functions`, once
//! they are described).

mod functions;

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;

use crate::{error_text, Collector};
use cf_doctor_model::evidence::{Evidence, Gap, MetricReading};
use cf_doctor_model::{Check, CheckOutcome};

/// The window read: long enough for a 5-minute alarm period, short enough to be "now".
pub(crate) const WINDOW_SECS: i64 = cf_doctor_model::evidence::METRIC_WINDOW_MINUTES * 60;

/// CloudFront's metrics for a distribution (the 5xx split needs additional metrics enabled).
const DISTRIBUTION_METRICS: [(&str, &str); 5] = [
    ("5xxErrorRate", "Average"),
    ("502ErrorRate", "Average"),
    ("503ErrorRate", "Average"),
    ("504ErrorRate", "Average"),
    ("OriginLatency", "Average"),
];

/// An application load balancer's own 5xx, its targets' 5xx, how long targets take (the latest
/// and the highest minute), and the counts that corroborate a cause (their totals over the
/// window, `counted`): failed TLS handshakes with clients, connections rejected at its limit, its
/// own 502/503/504, and failed connections and handshakes with its targets.
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html>
const APPLICATION_METRICS: [(&str, &str, bool); 10] = [
    ("HTTPCode_ELB_5XX_Count", "Sum", false),
    ("HTTPCode_Target_5XX_Count", "Sum", false),
    ("TargetResponseTime", "Average", false),
    ("ClientTLSNegotiationErrorCount", "Sum", true),
    ("RejectedConnectionCount", "Sum", true),
    ("HTTPCode_ELB_502_Count", "Sum", true),
    ("HTTPCode_ELB_503_Count", "Sum", true),
    ("HTTPCode_ELB_504_Count", "Sum", true),
    ("TargetConnectionErrorCount", "Sum", true),
    ("TargetTLSNegotiationErrorCount", "Sum", true),
];

/// A network load balancer's resets (by clients: CloudFront dropping a handshake it rejects; by
/// the load balancer: no listener or target) and failed TLS handshakes of a TLS listener.
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html>
const NETWORK_METRICS: [(&str, &str, bool); 3] = [
    ("TCP_Client_Reset_Count", "Sum", true),
    ("TCP_ELB_Reset_Count", "Sum", true),
    ("ClientTLSNegotiationErrorCount", "Sum", true),
];

/// The namespace of a load balancer's metrics by the kind in its ARN's tail (`app/`, `net/`).
fn namespace_of(dimension: &str) -> Option<&'static str> {
    if dimension.starts_with("app/") {
        Some("AWS/ApplicationELB")
    } else if dimension.starts_with("net/") {
        Some("AWS/NetworkELB")
    } else {
        None
    }
}

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

/// Each load balancer's metrics, by (region, ARN).
fn plan_load_balancers(load_balancers: &[(&str, &str)]) -> Planned {
    let mut by_region = Planned::new();
    for (region, arn) in load_balancers {
        // The LoadBalancer dimension is the ARN's tail: app/NAME/ID or net/NAME/ID.
        let Some((_, dimension)) = arn.split_once(":loadbalancer/") else {
            continue;
        };
        let Some(namespace) = namespace_of(dimension) else {
            continue;
        };
        let metrics: &[(&str, &str, bool)] = if namespace == "AWS/NetworkELB" {
            &NETWORK_METRICS
        } else {
            &APPLICATION_METRICS
        };
        for (metric, statistic, counted) in metrics {
            by_region
                .entry(region.to_string())
                .or_default()
                .push(MetricQueryPlan {
                    namespace,
                    metric,
                    statistic,
                    resource: dimension.to_string(),
                    dimensions: vec![("LoadBalancer", dimension.to_string())],
                    counted: *counted,
                    region: None,
                });
        }
    }
    by_region
}

/// UnHealthyHostCount of each target group a load balancer's listener forwards to (published per
/// target group and load balancer only); the reading's resource is the group's ARN tail,
/// `targetgroup/NAME/ID`.
fn plan_target_groups(region: &str, lb_arn: &str, target_groups: &[String]) -> Planned {
    let mut by_region = Planned::new();
    let Some((_, dimension)) = lb_arn.split_once(":loadbalancer/") else {
        return by_region;
    };
    let Some(namespace) = namespace_of(dimension) else {
        return by_region;
    };
    for group in target_groups {
        let Some(tail) = group.find("targetgroup/").map(|at| &group[at..]) else {
            continue;
        };
        by_region
            .entry(region.to_string())
            .or_default()
            .push(MetricQueryPlan {
                namespace,
                metric: "UnHealthyHostCount",
                statistic: "Maximum",
                resource: tail.to_string(),
                dimensions: vec![
                    ("LoadBalancer", dimension.to_string()),
                    ("TargetGroup", tail.to_string()),
                ],
                counted: false,
                region: None,
            });
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

    /// What these load balancers counted of failures, by (region, ARN).
    pub(crate) async fn load_balancer_metrics(
        &self,
        load_balancers: &[(&str, &str)],
        evidence: &mut Evidence,
    ) {
        let what = "the load balancer's own counts of failed handshakes, resets and 5xx";
        self.read_planned(plan_load_balancers(load_balancers), what, evidence)
            .await;
    }

    /// Whether the distribution has CloudFront's additional metrics, asked only when the metrics
    /// read suggest it has not: its 5xxErrorRate has data and none of the metrics that need them
    /// (the 502/503/504 split, OriginLatency) does. Without them the report says what is missing
    /// and how to enable them; a failing question is a check in error, never a gap (it decides
    /// nothing about the origin).
    pub(crate) async fn additional_metrics(
        &self,
        id: &str,
        read: &Evidence,
        evidence: &mut Evidence,
    ) {
        let has_data = |metric: &str| {
            read.metrics
                .iter()
                .any(|m| m.resource == id && m.metric == metric && m.latest.is_some())
        };
        let additional = [
            "502ErrorRate",
            "503ErrorRate",
            "504ErrorRate",
            "OriginLatency",
        ];
        if !has_data("5xxErrorRate") || additional.iter().any(|m| has_data(m)) {
            return;
        }
        let started = std::time::Instant::now();
        let answer = self
            .cloudfront
            .get_monitoring_subscription()
            .distribution_id(id)
            .send()
            .await;
        let enabled = match answer {
            Ok(out) => out
                .monitoring_subscription()
                .and_then(|m| m.realtime_metrics_subscription_config())
                .map(|c| c.realtime_metrics_subscription_status().as_str() == "Enabled"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_monitoring_subscription()) =>
            {
                Some(false)
            }
            Err(e) => {
                evidence.checks.push(Check::since(
                    "cloudfront-additional-metrics",
                    id,
                    CheckOutcome::Error,
                    started,
                    Some(format!(
                        "whether CloudFront's additional metrics are enabled could not be read: {}",
                        error_text(&e)
                    )),
                ));
                return;
            }
        };
        let (outcome, detail) = match enabled {
            Some(true) => (
                CheckOutcome::Pass,
                "CloudFront's additional metrics are enabled; the 502/503/504 split and OriginLatency had no data in the window".to_string(),
            ),
            _ => (
                CheckOutcome::Skipped,
                format!("CloudFront's additional metrics are not enabled on {id}: 502ErrorRate, 503ErrorRate, 504ErrorRate and OriginLatency are not published, so the metrics cannot tell which 5xx viewers get. Enable them (billed per metric): aws cloudfront create-monitoring-subscription --distribution-id {id} --monitoring-subscription RealtimeMetricsSubscriptionConfig={{RealtimeMetricsSubscriptionStatus=Enabled}}"),
            ),
        };
        evidence.checks.push(Check::since(
            "cloudfront-additional-metrics",
            id,
            outcome,
            started,
            Some(detail),
        ));
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
                let client = self.infra_for(region).cloudwatch;
                read_region(&client, region, planned, what, end, &mut branch).await;
                branch
            }
        });
        for branch in futures::future::join_all(read).await {
            evidence.absorb(branch, &base);
        }
    }
}

/// The unhealthy targets of the groups a load balancer's listener forwards to, read with the
/// region's client while the rest of the listener is.
pub(crate) async fn target_group_health(
    client: &aws_sdk_cloudwatch::Client,
    region: &str,
    lb_arn: &str,
    target_groups: &[String],
    evidence: &mut Evidence,
) {
    let planned = plan_target_groups(region, lb_arn, target_groups);
    let Some(planned) = planned.get(region) else {
        return;
    };
    let what = "the unhealthy targets of the listener's target groups";
    read_region(
        client,
        region,
        planned,
        what,
        evidence.now.timestamp(),
        evidence,
    )
    .await;
}

/// One GetMetricData call for every planned metric of a region; a failure is a gap.
async fn read_region(
    client: &aws_sdk_cloudwatch::Client,
    region: &str,
    planned: &[MetricQueryPlan],
    what: &str,
    end: i64,
    evidence: &mut Evidence,
) {
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
