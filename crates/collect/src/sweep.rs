//! The sweep: every distribution and every ACM certificate in scope (or one certificate and what
//! uses it), listed side by side, each origin probed (with bounded concurrency) as soon as the page
//! naming it has arrived, API calls kept under their published rates, and new work stopped in time
//! to report before the deadline.

use std::sync::Arc;
use std::time::Instant as StdInstant;

use chrono::Utc;
use futures::StreamExt;
use tokio::time::Instant;

use crate::probe::ProbeTarget;
use crate::{acm, cloudfront, probe_targets, Budget, Collector};
use cf_doctor_model::evidence::{AcmCertificate, Distribution, Evidence, Gap, OriginProbe};
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
            deadline: None,
            progress: Arc::new(Silent),
            include_disabled: false,
        }
    }
}

impl Collector {
    /// Lists the distributions and the certificates at once, and probes each origin as soon as
    /// the page that names it has arrived; the certificates are described, and the edge
    /// inventory read, while the probes run.
    pub async fn sweep(&self, scope: &Scope, options: &SweepOptions) -> Evidence {
        let budget = self.budget(options.deadline);
        let (targets, to_probe) = tokio::sync::mpsc::unbounded_channel::<ProbeTarget>();
        let tally = ProbeTally::default();
        let inventory = self.inventory(scope, options, budget, targets, &tally);
        let probing = self.probe_as_listed(to_probe, budget, options, &tally);
        let (mut evidence, (probed, not_reached)) = tokio::join!(Box::pin(inventory), probing);
        for (probe, mut checks) in probed {
            evidence.origin_probes.push(probe);
            evidence.checks.append(&mut checks);
        }
        // Completion order is arbitrary; a report reads the same every time.
        evidence.origin_probes.sort_by(|a, b| {
            (&a.distribution_id, &a.origin_id).cmp(&(&b.distribution_id, &b.origin_id))
        });
        if !not_reached.is_empty() {
            evidence.gaps.push(not_reached_gap("origins", &not_reached));
        }
        options.progress.finish();
        evidence
    }

    /// Everything but the probes, by scope: the distributions and the certificates (see
    /// [`Collector::account_inventory`] and [`Collector::certificate_inventory`]); then what
    /// every scope ends with: disabled distributions named, and the edge functions, VPC origins
    /// and origin mTLS certificates read.
    async fn inventory(
        &self,
        scope: &Scope,
        options: &SweepOptions,
        budget: Budget,
        targets: tokio::sync::mpsc::UnboundedSender<ProbeTarget>,
        tally: &ProbeTally,
    ) -> Evidence {
        let mut evidence = Evidence {
            now: Utc::now(),
            thresholds: self.thresholds,
            ..Evidence::default()
        };
        let mut certificates = match scope {
            Scope::All => {
                self.account_inventory(&mut evidence, options, budget, &targets, tally)
                    .await
            }
            Scope::Certificate(arn) => {
                self.certificate_inventory(arn, &mut evidence, options, budget, &targets, tally)
                    .await
            }
        };
        // Every target is sent: the probes end when the last one is done.
        drop(targets);
        // Every distribution is known by now, those behind an event's load balancer too.
        if !options.include_disabled {
            let disabled = list_disabled(&evidence.distributions);
            evidence.checks.extend(disabled);
        }
        // An event's certificate that could not be described is only a name (the gap says why).
        certificates.retain(|c| c.status.is_some());
        evidence.certificates = certificates;
        // Edge functions, VPC origins and origin mTLS client certificates, with their states.
        Box::pin(self.edge_inventory(&mut evidence, &budget)).await;
        tally.show(options.progress.as_ref());
        evidence
    }

    /// The whole account: the distributions, each page's origins sent to `targets` as it
    /// arrives, and every region's certificates, listed side by side; then the certificates
    /// described where the summary cannot decide.
    async fn account_inventory(
        &self,
        evidence: &mut Evidence,
        options: &SweepOptions,
        budget: Budget,
        targets: &tokio::sync::mpsc::UnboundedSender<ProbeTarget>,
        tally: &ProbeTally,
    ) -> Vec<AcmCertificate> {
        let progress = options.progress.as_ref();
        progress.phase(
            "listing distributions and certificates",
            1 + self.acm_by_region.len() as u64,
        );
        let base = evidence.clone();
        let mut on_certificates = base.clone();
        let listing = self.list_distributions_probing(options, budget, Some(targets), tally);
        let certificates = self.list_all_certificates(&mut on_certificates, progress);
        let ((listed, on_distributions), mut certificates) = tokio::join!(listing, certificates);
        evidence.absorb(on_distributions, &base);
        evidence.absorb(on_certificates, &base);
        evidence.distributions = listed;
        attach_viewer_users(&mut certificates, evidence);
        let now = evidence.now;
        let undecided = |c: &AcmCertificate| acm::needs_describe(c, now);
        self.describe_where_needed(&mut certificates, undecided, evidence, budget, options)
            .await;
        certificates
    }

    /// The one certificate an ACM or Health event is about: described whatever its summary
    /// says, with the distributions that serve it to viewers, and those whose origin is a load
    /// balancer it is on (ACM's InUseBy names the load balancer, not them); their origins are
    /// sent to `targets` once all are known.
    async fn certificate_inventory(
        &self,
        arn: &str,
        evidence: &mut Evidence,
        options: &SweepOptions,
        budget: Budget,
        targets: &tokio::sync::mpsc::UnboundedSender<ProbeTarget>,
        tally: &ProbeTally,
    ) -> Vec<AcmCertificate> {
        options
            .progress
            .phase("listing distributions and certificates", 1);
        let base = evidence.clone();
        let (all_distributions, on_distributions) = self
            .list_distributions_probing(options, budget, None, tally)
            .await;
        evidence.absorb(on_distributions, &base);
        evidence.distributions = all_distributions
            .iter()
            .filter(|d| uses_viewer_certificate(d, arn))
            .cloned()
            .collect();
        let mut certificates = vec![placeholder(arn)];
        attach_viewer_users(&mut certificates, evidence);
        self.describe_where_needed(&mut certificates, |_| true, evidence, budget, options)
            .await;
        for certificate in &mut certificates {
            self.follow_load_balancers(certificate, &all_distributions, evidence, budget)
                .await;
        }
        send_targets(&evidence.distributions, options, targets, tally);
        certificates
    }

    /// ListDistributions, page by page; the origins of each page that the sweep probes go to
    /// `targets` (when given) at once.
    async fn list_distributions_probing(
        &self,
        options: &SweepOptions,
        budget: Budget,
        targets: Option<&tokio::sync::mpsc::UnboundedSender<ProbeTarget>>,
        tally: &ProbeTally,
    ) -> (Vec<Distribution>, Evidence) {
        let mut evidence = Evidence::default();
        let started = StdInstant::now();
        let on_page = |page: &[Distribution]| {
            if let Some(targets) = targets {
                send_targets(page, options, targets, tally);
            }
        };
        let listed = cloudfront::list_distributions(&self.cloudfront, &budget, on_page).await;
        options.progress.advance();
        evidence.gaps.extend(listed.policy_gaps);
        let distributions = listed.distributions;
        match listed.failed {
            None => evidence.checks.push(Check::since(
                "cloudfront-list-distributions",
                "all distributions",
                CheckOutcome::Pass,
                started,
                Some(format!("{} distribution(s)", distributions.len())),
            )),
            Some(e) => {
                evidence.checks.push(Check::since(
                    "cloudfront-list-distributions",
                    "all distributions",
                    CheckOutcome::Error,
                    started,
                    Some(e.to_string()),
                ));
                let unchecked = if distributions.is_empty() {
                    "every distribution, its viewer certificate and its origins".to_string()
                } else {
                    format!(
                        "every distribution after the first {} listed, its viewer certificate and its origins",
                        distributions.len()
                    )
                };
                evidence.gaps.push(Gap {
                    action: "cloudfront:ListDistributions".into(),
                    resource: "all distributions".into(),
                    error: e.to_string(),
                    unchecked,
                });
            }
        }
        (distributions, evidence)
    }

    async fn list_all_certificates(
        &self,
        evidence: &mut Evidence,
        progress: &dyn Progress,
    ) -> Vec<AcmCertificate> {
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

    /// DescribeCertificate for each certificate `wanted` picks: paced, then folded into the
    /// certificates (a check each, a gap for each that failed, one gap for those the deadline
    /// left no time for).
    async fn describe_where_needed(
        &self,
        certificates: &mut [AcmCertificate],
        wanted: impl Fn(&AcmCertificate) -> bool,
        evidence: &mut Evidence,
        budget: Budget,
        options: &SweepOptions,
    ) {
        let picked: Vec<usize> = (0..certificates.len())
            .filter(|&i| wanted(&certificates[i]))
            .collect();
        options
            .progress
            .phase("describing certificates", picked.len() as u64);
        let described = self
            .describe_paced(certificates, &picked, budget, options)
            .await;
        let mut not_reached = Vec::new();
        for (i, result) in described {
            let arn = certificates[i].arn.clone();
            match result {
                None => not_reached.push(arn),
                Some((result, started)) => {
                    if let Some(described) =
                        evidence.recorded("acm-certificate", &arn, started, result)
                    {
                        acm::merge_described(&mut certificates[i], described);
                    }
                }
            }
        }
        if !not_reached.is_empty() {
            evidence
                .gaps
                .push(not_reached_gap("certificates", &not_reached));
        }
    }

    /// DescribeCertificate for the certificates at `picked`, paced by the collector's one
    /// limiter per region, which the listener, viewer and client certificates described in the
    /// same run share: ACM's 10 a second hold for all of them together. Each answer comes back
    /// with its index; None for one the deadline left no time to start.
    async fn describe_paced(
        &self,
        certificates: &[AcmCertificate],
        picked: &[usize],
        budget: Budget,
        options: &SweepOptions,
    ) -> Vec<(usize, Option<(Result<AcmCertificate, Gap>, StdInstant)>)> {
        let jobs = picked.iter().map(|&i| {
            let cert = &certificates[i];
            let region = acm::region_of_arn(&cert.arn)
                .unwrap_or(&cert.region)
                .to_string();
            let client = self.acm_for(&region);
            let limiter = self.acm_pace(&region);
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
        futures::stream::iter(jobs)
            // Twice the pace in flight: a slow answer does not leave the limiter's slots idle.
            .buffer_unordered(crate::ACM_DESCRIBE_PER_SECOND as usize * 2)
            .collect()
            .await
    }

    /// Probes every origin sent on `targets`, `concurrency` at once, until the list is complete;
    /// what the deadline leaves no time for is named.
    async fn probe_as_listed(
        &self,
        targets: tokio::sync::mpsc::UnboundedReceiver<ProbeTarget>,
        budget: Budget,
        options: &SweepOptions,
        tally: &ProbeTally,
    ) -> (Vec<(OriginProbe, Vec<Check>)>, Vec<String>) {
        let results: Vec<_> = tokio_stream_of(targets)
            .map(|t| async move {
                if !budget.allows_start() {
                    return Err(format!(
                        "{} origin {} ({})",
                        t.distribution_id, t.origin_id, t.host
                    ));
                }
                let result = self.prober.probe(&t).await;
                tally.probed(options.progress.as_ref());
                Ok(result)
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        let mut probed = Vec::new();
        let mut not_reached = Vec::new();
        for result in results {
            match result {
                Ok(probe) => probed.push(probe),
                Err(name) => not_reached.push(name),
            }
        }
        (probed, not_reached)
    }
}

/// Probes run while the inventory is still read, so their progress bar appears only once the
/// inventory is done, already counting the probes that finished before.
#[derive(Default)]
struct ProbeTally(std::sync::Mutex<TallyState>);

#[derive(Default)]
struct TallyState {
    shown: bool,
    listed: u64,
    done: u64,
}

impl ProbeTally {
    fn state(&self) -> std::sync::MutexGuard<'_, TallyState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn listed(&self) {
        self.state().listed += 1;
    }

    fn probed(&self, progress: &dyn Progress) {
        let mut state = self.state();
        state.done += 1;
        if state.shown {
            progress.advance();
        }
    }

    /// Every origin is listed by now: the bar's total is known.
    fn show(&self, progress: &dyn Progress) {
        let mut state = self.state();
        progress.phase("probing origins", state.listed);
        for _ in 0..state.done {
            progress.advance();
        }
        state.shown = true;
    }
}

/// The receiving end of a channel as a stream (ends when every sender is gone).
fn tokio_stream_of<T>(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Sends the origins of these distributions that the sweep probes (enabled ones, unless asked
/// for the disabled too) to the probes.
fn send_targets(
    distributions: &[Distribution],
    options: &SweepOptions,
    targets: &tokio::sync::mpsc::UnboundedSender<ProbeTarget>,
    tally: &ProbeTally,
) {
    let probed = distributions
        .iter()
        .filter(|d| d.enabled || options.include_disabled);
    for target in probed.flat_map(probe_targets) {
        tally.listed();
        // The receiver lives as long as the sweep: a send cannot fail.
        let _ = targets.send(target);
    }
}

fn uses_viewer_certificate(distribution: &Distribution, arn: &str) -> bool {
    distribution
        .viewer_certificate
        .acm_certificate_arn
        .as_deref()
        == Some(arn)
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
        status: None,
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
