//! The alarm path: everything an alarm on one distribution calls for, each call started as soon as
//! what it needs is known (the critical path is a few round trips, not the sum of the calls); what
//! the deadline leaves no time for is named as a gap.

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
    ///
    /// On AWS each call is a round trip of 20-150 ms, so the calls are made as soon as what they
    /// need is known: the distribution, its metrics (they need only its id), the load balancers
    /// of the origin regions and the account's hosted zones (they need nothing) at once; then, side by side, the
    /// viewer certificate, the live probes, the edge functions (then their metrics and logs), the
    /// VPC origins and the load balancers behind the origins (then their metrics), the origin mTLS
    /// certificates, the request through the edge, and CloudFront's own record (its real-time
    /// logs). Each part collects into evidence of its own, folded back in a fixed order: a report
    /// reads the same whichever part answered first.
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
        let empty = evidence.clone();
        let mut on_metrics = empty.clone();
        let metrics = async {
            if budget.allows_start() {
                self.distribution_metrics(&[id], &mut on_metrics).await;
            } else {
                on_metrics
                    .gaps
                    .push(not_in_time("the CloudWatch metrics", id));
            }
        };
        let listed = async {
            if budget.allows_start() {
                Some(self.origin_directory().await)
            } else {
                None
            }
        };
        let (distribution, (), listed) = tokio::join!(
            Box::pin(self.read_distribution(id, &budget, &mut evidence)),
            Box::pin(metrics),
            Box::pin(listed)
        );
        let distribution = distribution?;
        note_origins_not_probed(&distribution, &mut evidence);
        evidence.distributions.push(distribution);
        let base = evidence.clone();
        let (viewer, probes, edge_code, behind, mtls, edge, record) = tokio::join!(
            Box::pin(self.viewer_certificate_part(&base)),
            Box::pin(self.probes_part(&base, &budget)),
            Box::pin(self.edge_code_part(&base, &budget)),
            Box::pin(self.behind_origins_part(&base, &budget, listed)),
            Box::pin(self.origin_mtls_part(&base)),
            Box::pin(self.edge_part(&base, &budget)),
            Box::pin(self.cloudfront_record_part(&base, &budget, &on_metrics)),
        );
        for part in [viewer, probes, edge_code, mtls, behind, record] {
            evidence.absorb(part, &base);
        }
        evidence.absorb(on_metrics, &empty);
        evidence.absorb(edge, &base);
        Ok(evidence)
    }

    async fn viewer_certificate_part(&self, base: &Evidence) -> Evidence {
        let mut part = base.clone();
        self.viewer_certificate(&base.distributions[0], &mut part)
            .await;
        part
    }

    /// The live probes of every custom origin, as CloudFront reaches it.
    async fn probes_part(&self, base: &Evidence, budget: &Budget) -> Evidence {
        let mut part = base.clone();
        let targets: Vec<ProbeTarget> = probe_targets(&base.distributions[0]).collect();
        if targets.is_empty() {
            return part;
        }
        if !budget.allows_start() {
            let hosts: Vec<&str> = targets.iter().map(|t| t.host.as_str()).collect();
            part.gaps
                .push(not_in_time("the live origin probes", &hosts.join(", ")));
            return part;
        }
        let probes = futures::future::join_all(targets.iter().map(|t| self.prober.probe(t))).await;
        for (probe, mut checks) in probes {
            part.origin_probes.push(probe);
            part.checks.append(&mut checks);
        }
        part
    }

    /// The functions the behaviours run, where they ran, then their metrics and recent errors.
    async fn edge_code_part(&self, base: &Evidence, budget: &Budget) -> Evidence {
        let mut part = base.clone();
        Box::pin(self.edge_functions(&mut part, budget, true)).await;
        let has_functions =
            !part.lambda_edge_functions.is_empty() || !part.cloudfront_functions.is_empty();
        if has_functions {
            if budget.allows_start() {
                Box::pin(self.function_metrics(&mut part)).await;
            } else {
                let id = &base.distributions[0].id;
                part.gaps.push(not_in_time(
                    "the CloudWatch metrics of the edge functions",
                    id,
                ));
            }
        }
        Box::pin(self.edge_function_logs(&mut part, budget)).await;
        part
    }

    /// The VPC origins, then the load balancers behind every origin (and their metrics).
    async fn behind_origins_part(
        &self,
        base: &Evidence,
        budget: &Budget,
        listed: Option<crate::elb::OriginDirectory>,
    ) -> Evidence {
        let mut part = base.clone();
        Box::pin(self.vpc_origins(&mut part, budget)).await;
        match listed {
            Some(listed) if budget.allows_start() => {
                Box::pin(self.behind_origins(&mut part, listed)).await;
                Box::pin(self.vpc_origin_admission(&mut part)).await;
            }
            _ => part.gaps.push(not_in_time(
                "the load balancers behind the origins",
                &base.distributions[0].id,
            )),
        }
        part
    }

    /// CloudFront's own record of the window: its real-time logs, read beside the probes, and
    /// whether it has the additional metrics the metrics read lacked.
    async fn cloudfront_record_part(
        &self,
        base: &Evidence,
        budget: &Budget,
        metrics: &Evidence,
    ) -> Evidence {
        let distribution = &base.distributions[0];
        let (mut on_logs, mut on_subscription) = (base.clone(), base.clone());
        if budget.allows_start() {
            tokio::join!(
                Box::pin(self.realtime_logs(distribution, &mut on_logs, budget)),
                Box::pin(self.additional_metrics(&distribution.id, metrics, &mut on_subscription)),
            );
        } else {
            on_logs.gaps.push(not_in_time(
                "what CloudFront logged of the alarm's requests",
                &distribution.id,
            ));
        }
        let mut part = base.clone();
        part.absorb(on_logs, base);
        part.absorb(on_subscription, base);
        part
    }

    async fn origin_mtls_part(&self, base: &Evidence) -> Evidence {
        let mut part = base.clone();
        Box::pin(self.origin_mtls_certificates(&mut part)).await;
        part
    }

    /// A request through the distribution, as a viewer makes it.
    async fn edge_part(&self, base: &Evidence, budget: &Budget) -> Evidence {
        let mut part = base.clone();
        if budget.allows_start() {
            Box::pin(self.edges(&mut part)).await;
        } else {
            part.gaps.push(not_in_time(
                "the request through the edge",
                &base.distributions[0].id,
            ));
        }
        part
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
        self.acm_pace(&region).acquire().await;
        let described =
            acm::describe_certificate(&self.acm_us_east_1, &region, arn, &used_as).await;
        if let Some(cert) = evidence.recorded("acm-certificate", arn, started, described) {
            evidence.certificates.push(cert);
        }
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
