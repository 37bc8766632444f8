//! The sweep: every distribution and every ACM certificate in scope (or one certificate and what
//! uses it), origins probed with bounded concurrency, API calls kept under their published rates,
//! and new work stopped in time to report before the deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use chrono::Utc;
use futures::StreamExt;
use tokio::time::Instant;

use crate::probe::ProbeTarget;
use crate::ratelimit::RateLimiter;
use crate::{acm, cloudfront, probe_targets, Budget, Collector};
use cf_doctor_model::evidence::{AcmCertificate, Distribution, Evidence, Gap};
use cf_doctor_model::{Check, CheckOutcome};

/// What a sweep covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Every distribution, and every certificate in us-east-1 and the origin regions.
    All,
    /// One certificate (an ACM event) and the distributions that use it.
    Certificate(String),
}

/// Told about progress, for a progress bar in the CLI; silent in Lambda.
pub trait Progress: Send + Sync {
    fn phase(&self, name: &str, total: u64);
    fn advance(&self);
    fn finish(&self);
}

pub struct Silent;

impl Progress for Silent {
    fn phase(&self, _: &str, _: u64) {}
    fn advance(&self) {}
    fn finish(&self) {}
}

pub struct SweepOptions {
    /// Origins probed at once.
    pub concurrency: usize,
    /// DescribeCertificate calls per second and region (ACM's published limit is 10).
    pub describe_per_second: u32,
    /// When the report must be out (the Lambda deadline); None: no limit.
    pub deadline: Option<Instant>,
    pub progress: Arc<dyn Progress>,
    /// Probe the origins of disabled distributions too; by default they are only listed in the
    /// checks (a disabled distribution serves no viewer, so its origin cannot page anyone).
    pub include_disabled: bool,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            concurrency: 32,
            describe_per_second: 10,
            deadline: None,
            progress: Arc::new(Silent),
            include_disabled: false,
        }
    }
}

impl Collector {
    pub async fn sweep(&self, scope: &Scope, options: &SweepOptions) -> Evidence {
        let mut evidence = Evidence {
            now: Utc::now(),
            thresholds: self.thresholds,
            ..Evidence::default()
        };
        let budget = self.budget(options.deadline);
        let progress = options.progress.as_ref();

        progress.phase("listing distributions", 1);
        let started = StdInstant::now();
        let distributions = match cloudfront::list_distributions(&self.cloudfront, &budget).await {
            Ok((list, policy_gaps)) => {
                evidence.gaps.extend(policy_gaps);
                evidence.checks.push(Check::since(
                    "cloudfront-list-distributions",
                    "all distributions",
                    CheckOutcome::Pass,
                    started,
                    Some(format!("{} distribution(s)", list.len())),
                ));
                list
            }
            Err(e) => {
                evidence.checks.push(Check::since(
                    "cloudfront-list-distributions",
                    "all distributions",
                    CheckOutcome::Error,
                    started,
                    Some(e.to_string()),
                ));
                evidence.gaps.push(Gap {
                    action: "cloudfront:ListDistributions".into(),
                    resource: "all distributions".into(),
                    error: e.to_string(),
                    unchecked: "every distribution, its viewer certificate and its origins".into(),
                });
                Vec::new()
            }
        };
        progress.advance();
        let all_distributions = distributions.clone();
        evidence.distributions = match scope {
            Scope::All => distributions,
            Scope::Certificate(arn) => distributions
                .into_iter()
                .filter(|d| {
                    d.viewer_certificate.acm_certificate_arn.as_deref() == Some(arn.as_str())
                })
                .collect(),
        };

        let mut certificates = match scope {
            Scope::All => self.list_all_certificates(&mut evidence, progress).await,
            Scope::Certificate(arn) => vec![placeholder(arn)],
        };
        attach_viewer_users(&mut certificates, &evidence);
        self.describe_where_needed(&mut certificates, scope, &mut evidence, budget, options)
            .await;
        if let Scope::Certificate(_) = scope {
            // A listener certificate reaches viewers through the distributions whose origin is
            // the load balancer: ACM's InUseBy names the load balancer, not them.
            for certificate in &mut certificates {
                self.follow_load_balancers(certificate, &all_distributions, &mut evidence, budget)
                    .await;
            }
        }
        // An event's certificate that could not be described is only a name (the gap says why).
        certificates.retain(|c| !c.status.is_empty());
        evidence.certificates = certificates;
        // Edge functions, VPC origins and origin mTLS client certificates, with their states.
        Box::pin(self.edge_inventory(&mut evidence, &budget)).await;

        self.probe_all(&mut evidence, budget, options).await;
        progress.finish();
        evidence
    }

    async fn list_all_certificates(
        &self,
        evidence: &mut Evidence,
        progress: &dyn Progress,
    ) -> Vec<AcmCertificate> {
        progress.phase("listing certificates", self.acm_by_region.len() as u64);
        let listings = futures::future::join_all(self.acm_by_region.iter().map(
            |(region, client)| async move {
                let started = StdInstant::now();
                let result = acm::list_certificates(client, region).await;
                progress.advance();
                (region.clone(), result, started)
            },
        ))
        .await;
        let mut certificates = Vec::new();
        for (region, result, started) in listings {
            match result {
                Ok(list) => {
                    evidence.checks.push(Check::since(
                        "acm-list-certificates",
                        &region,
                        CheckOutcome::Pass,
                        started,
                        Some(format!("{} certificate(s)", list.len())),
                    ));
                    certificates.extend(list);
                }
                Err(e) => {
                    evidence.checks.push(Check::since(
                        "acm-list-certificates",
                        &region,
                        CheckOutcome::Error,
                        started,
                        Some(e.to_string()),
                    ));
                    evidence.gaps.push(Gap {
                        action: "acm:ListCertificates".into(),
                        resource: region.clone(),
                        error: e.to_string(),
                        unchecked: format!("the certificates in {region}"),
                    });
                }
            }
        }
        certificates
    }

    /// DescribeCertificate where the summary cannot decide (and always for the one certificate an
    /// ACM event is about), at most `describe_per_second` per region.
    async fn describe_where_needed(
        &self,
        certificates: &mut [AcmCertificate],
        scope: &Scope,
        evidence: &mut Evidence,
        budget: Budget,
        options: &SweepOptions,
    ) {
        let now = evidence.now;
        let to_describe: Vec<usize> = (0..certificates.len())
            .filter(|&i| {
                matches!(scope, Scope::Certificate(_)) || acm::needs_describe(&certificates[i], now)
            })
            .collect();
        options
            .progress
            .phase("describing certificates", to_describe.len() as u64);
        let limiters: BTreeMap<String, RateLimiter> = self
            .acm_by_region
            .keys()
            .map(|r| {
                (
                    r.clone(),
                    RateLimiter::per_second(options.describe_per_second),
                )
            })
            .collect();
        let fallback = RateLimiter::per_second(options.describe_per_second);
        let jobs = to_describe.iter().map(|&i| {
            let cert = &certificates[i];
            let region = acm::region_of_arn(&cert.arn)
                .unwrap_or(&cert.region)
                .to_string();
            let client = self.acm_for(&region);
            let limiter = limiters.get(&region).unwrap_or(&fallback);
            let (arn, used_as) = (cert.arn.clone(), describe_purpose(cert));
            async move {
                if !budget.allows_start() {
                    return (i, None);
                }
                limiter.acquire().await;
                let started = StdInstant::now();
                let result = acm::describe_certificate(&client, &region, &arn, &used_as).await;
                options.progress.advance();
                (i, Some((result, started)))
            }
        });
        let results: Vec<_> = futures::stream::iter(jobs)
            .buffer_unordered(options.describe_per_second.max(1) as usize * 2)
            .collect()
            .await;
        let mut not_reached = Vec::new();
        for (i, result) in results {
            let arn = certificates[i].arn.clone();
            match result {
                None => not_reached.push(arn),
                Some((Ok(described), started)) => {
                    acm::merge_described(&mut certificates[i], described);
                    evidence.checks.push(Check::since(
                        "acm-certificate",
                        &arn,
                        CheckOutcome::Pass,
                        started,
                        None,
                    ));
                }
                Some((Err(gap), started)) => {
                    evidence.checks.push(Check::since(
                        "acm-certificate",
                        &arn,
                        CheckOutcome::Error,
                        started,
                        Some(gap.error.clone()),
                    ));
                    evidence.gaps.push(gap);
                }
            }
        }
        if !not_reached.is_empty() {
            evidence
                .gaps
                .push(not_reached_gap("certificates", &not_reached));
        }
    }

    async fn probe_all(&self, evidence: &mut Evidence, budget: Budget, options: &SweepOptions) {
        if !options.include_disabled {
            let listed = list_disabled(&evidence.distributions);
            evidence.checks.extend(listed);
        }
        let targets: Vec<ProbeTarget> = evidence
            .distributions
            .iter()
            .filter(|d| d.enabled || options.include_disabled)
            .flat_map(probe_targets)
            .collect();
        options
            .progress
            .phase("probing origins", targets.len() as u64);
        let results: Vec<_> = futures::stream::iter(targets.iter().map(|t| async move {
            if !budget.allows_start() {
                return Err(format!(
                    "{} origin {} ({})",
                    t.distribution_id, t.origin_id, t.host
                ));
            }
            let result = self.prober.probe(t).await;
            options.progress.advance();
            Ok(result)
        }))
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
        let mut not_reached = Vec::new();
        for result in results {
            match result {
                Ok((probe, mut checks)) => {
                    evidence.origin_probes.push(probe);
                    evidence.checks.append(&mut checks);
                }
                Err(name) => not_reached.push(name),
            }
        }
        // Completion order is arbitrary; a report reads the same every time.
        evidence.origin_probes.sort_by(|a, b| {
            (&a.distribution_id, &a.origin_id).cmp(&(&b.distribution_id, &b.origin_id))
        });
        if !not_reached.is_empty() {
            evidence.gaps.push(not_reached_gap("origins", &not_reached));
        }
    }
}

/// A disabled distribution serves no viewer: it is listed as a skipped check, and its origins are
/// not probed unless the sweep is asked to.
fn list_disabled(distributions: &[Distribution]) -> Vec<Check> {
    distributions
        .iter()
        .filter(|d| !d.enabled)
        .map(|d| {
            let aliases = if d.aliases.is_empty() {
                d.domain_name.clone()
            } else {
                d.aliases.join(", ")
            };
            Check::new(
                "distribution-disabled",
                &d.id,
                CheckOutcome::Skipped,
                0,
                Some(format!(
                    "disabled ({aliases}): its origins were not probed (`cf-doctor sweep --include-disabled`, or {{\"sweep\": {{\"include_disabled\": true}}}}, probes them)"
                )),
            )
        })
        .collect()
}

/// The event's certificate before it is described: its ARN and region only.
fn placeholder(arn: &str) -> AcmCertificate {
    AcmCertificate {
        arn: arn.to_string(),
        region: acm::region_of_arn(arn).unwrap_or("us-east-1").to_string(),
        domain_name: String::new(),
        subject_alternative_names: Vec::new(),
        status: String::new(),
        cert_type: String::new(),
        not_before: None,
        not_after: None,
        renewal_eligibility: None,
        renewal_status: None,
        renewal_status_reason: None,
        validation_methods: Vec::new(),
        in_use_by: Vec::new(),
        in_use: None,
        used_as: Vec::new(),
    }
}

/// Names each distribution that serves a certificate to viewers, with its aliases.
fn attach_viewer_users(certificates: &mut [AcmCertificate], evidence: &Evidence) {
    for d in &evidence.distributions {
        let Some(arn) = d.viewer_certificate.acm_certificate_arn.as_deref() else {
            continue;
        };
        if let Some(cert) = certificates.iter_mut().find(|c| c.arn == arn) {
            cert.used_as.push(format!(
                "viewer certificate of {} ({})",
                d.id,
                d.aliases.join(", ")
            ));
        }
    }
}

fn describe_purpose(cert: &AcmCertificate) -> String {
    if cert.used_as.is_empty() {
        format!("certificate {}", cert.arn)
    } else {
        cert.used_as.join("; ")
    }
}

fn not_reached_gap(what: &str, names: &[String]) -> Gap {
    const SHOWN: usize = 20;
    let mut listed = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        listed.push_str(&format!(" (+{} more)", names.len() - SHOWN));
    }
    Gap {
        action: "sweep".into(),
        resource: format!("{} {what}", names.len()),
        error:
            "not started: the deadline was too close to finish them and still deliver the report"
                .into(),
        unchecked: format!("{} {what}: {listed}", names.len()),
    }
}
