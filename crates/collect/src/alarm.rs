//! The alarm path: everything an alarm on one distribution calls for. The distribution first, then
//! its viewer certificate and live origin probes side by side, then what stands behind the
//! origins, the metrics and the edge; what the deadline leaves no time for is named as a gap.

use std::time::Instant;

use chrono::Utc;

use cf_doctor_model::evidence::{Distribution, Evidence, OriginKind};
use cf_doctor_model::{Check, CheckOutcome};

use crate::probe::ProbeTarget;
use crate::{acm, cloudfront, not_in_time, probe_targets, Budget, CollectError, Collector};

impl Collector {
    /// Everything an alarm on this distribution calls for, without a deadline.
    pub async fn distribution(&self, id: &str) -> Result<Evidence, CollectError> {
        Box::pin(self.distribution_within(id, None)).await
    }

    /// Everything an alarm on this distribution calls for; what cannot start in time before the
    /// deadline is left out and named, so a partial report beats a timeout with nothing.
    pub async fn distribution_within(
        &self,
        id: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Evidence, CollectError> {
        let budget = self.budget(deadline);
        let mut evidence = Evidence {
            now: Utc::now(),
            thresholds: self.thresholds,
            ..Evidence::default()
        };
        let distribution = self.read_distribution(id, &budget, &mut evidence).await?;
        note_origins_not_probed(&distribution, &mut evidence);
        let targets: Vec<ProbeTarget> = probe_targets(&distribution).collect();
        let probes = async {
            if budget.allows_start() {
                futures::future::join_all(targets.iter().map(|t| self.prober.probe(t))).await
            } else {
                Vec::new()
            }
        };
        let (_, probes) = tokio::join!(
            self.viewer_certificate(&distribution, &mut evidence),
            probes
        );
        if probes.is_empty() && !targets.is_empty() {
            let hosts: Vec<&str> = targets.iter().map(|t| t.host.as_str()).collect();
            evidence
                .gaps
                .push(not_in_time("the live origin probes", &hosts.join(", ")));
        }
        for (probe, mut checks) in probes {
            evidence.origin_probes.push(probe);
            evidence.checks.append(&mut checks);
        }
        evidence.distributions.push(distribution);
        // Boxed: each is a deep future of SDK calls.
        Box::pin(self.edge_code_and_private_origins(&mut evidence, &budget)).await;
        if budget.allows_start() {
            Box::pin(self.behind_origins(&mut evidence)).await;
            Box::pin(self.vpc_origin_admission(&mut evidence)).await;
        } else {
            evidence
                .gaps
                .push(not_in_time("the load balancers behind the origins", id));
        }
        if budget.allows_start() {
            Box::pin(self.metrics(&mut evidence)).await;
        } else {
            evidence
                .gaps
                .push(not_in_time("the CloudWatch metrics", id));
        }
        Box::pin(self.edge_function_logs(&mut evidence, &budget)).await;
        if budget.allows_start() {
            Box::pin(self.edges(&mut evidence)).await;
        } else {
            evidence
                .gaps
                .push(not_in_time("the request through the edge", id));
        }
        Ok(evidence)
    }

    /// The functions the behaviours run (and where they ran), the VPC origins and the origin mTLS
    /// client certificates: what the load balancer search, the metrics and the rules build on.
    async fn edge_code_and_private_origins(&self, evidence: &mut Evidence, budget: &Budget) {
        Box::pin(self.edge_functions(evidence, budget, true)).await;
        Box::pin(self.vpc_origins(evidence, budget)).await;
        Box::pin(self.origin_mtls_certificates(evidence)).await;
    }

    /// GetDistribution (and the origin request policies it names); its check goes into the
    /// evidence. An Err means there is nothing to diagnose.
    async fn read_distribution(
        &self,
        id: &str,
        budget: &Budget,
        evidence: &mut Evidence,
    ) -> Result<Distribution, CollectError> {
        let started = Instant::now();
        let (distribution, policy_gaps) =
            cloudfront::get_distribution(&self.cloudfront, id, budget)
                .await
                .map_err(|e| e.with_endpoint(&self.endpoint))?;
        evidence.gaps.extend(policy_gaps);
        evidence.checks.push(Check::since(
            "cloudfront-distribution",
            &distribution.arn,
            CheckOutcome::Pass,
            started,
            Some(format!(
                "{} origin(s), enabled={}, status={}",
                distribution.origins.len(),
                distribution.enabled,
                distribution.status
            )),
        ));
        Ok(distribution)
    }

    /// The viewer certificate in ACM (always us-east-1 for CloudFront), or a gap saying why not.
    async fn viewer_certificate(&self, distribution: &Distribution, evidence: &mut Evidence) {
        let Some(arn) = distribution
            .viewer_certificate
            .acm_certificate_arn
            .as_deref()
        else {
            return;
        };
        let started = Instant::now();
        let used_as = format!(
            "viewer certificate of {} ({})",
            distribution.id,
            distribution.aliases.join(", ")
        );
        let region = acm::region_of_arn(arn).unwrap_or("us-east-1").to_string();
        let (outcome, detail) =
            match acm::describe_certificate(&self.acm_us_east_1, &region, arn, &used_as).await {
                Ok(cert) => {
                    evidence.certificates.push(cert);
                    (CheckOutcome::Pass, None)
                }
                Err(gap) => {
                    let detail = gap.error.clone();
                    evidence.gaps.push(gap);
                    (CheckOutcome::Error, Some(detail))
                }
            };
        evidence.checks.push(Check::since(
            "acm-certificate",
            arn,
            outcome,
            started,
            detail,
        ));
    }
}

/// S3 origins and origin groups are named in the checks: looked at, and why not probed.
fn note_origins_not_probed(distribution: &Distribution, evidence: &mut Evidence) {
    for origin in &distribution.origins {
        if let OriginKind::S3 = origin.kind {
            evidence.checks.push(Check::new("origin-s3", &origin.domain_name, CheckOutcome::Skipped, 0, Some("S3 origin: CloudFront reaches S3 with its own TLS and credentials; not probed as a custom origin".into())));
        }
    }
    for group in &distribution.origin_groups {
        evidence.checks.push(Check::new(
            "origin-group",
            &group.id,
            CheckOutcome::Pass,
            0,
            Some(format!(
                "failover group {}: each member is inspected as its own origin",
                group.members.join(" -> ")
            )),
        ));
    }
}
