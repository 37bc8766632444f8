//! The engine, [`App`]: configuration, AWS clients and prober built once per process, and the
//! one way every event runs through it (parse the event, run each target, conclude, deliver).
//! `handler` (Lambda) and `cli` are thin faces over it.

use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use serde_json::Value;

use cf_doctor_collect::probe::{Prober, TlsSetup};
use cf_doctor_collect::sweep::{Progress, Scope, Silent, SweepOptions};
use cf_doctor_collect::{CollectError, Collector};
use cf_doctor_model::replay::Run;
use cf_doctor_model::{Diagnosis, TriggerInfo};

use crate::config::Config;
use crate::notify::records::DeliveryRecords;
use crate::notify::report_log::{log_report, Occasion};
use crate::notify::slack::WebhookSource;
use crate::notify::Notifier;
use crate::trigger::{self, Target};
use crate::{delivery, logging, metrics, notify, organization, replay};
use crate::{RunError, StartError, TargetResult};

/// Targets of one event run at once: enough that 50 certificates of one ACM event take seconds,
/// not one after another; the collector's limiters keep each AWS API within its rate.
const TARGETS_AT_ONCE: usize = 4;

/// How one event is run: whether to deliver, by when the report must be out, who hears progress,
/// and whether the collected evidence is kept for replay.
#[derive(Clone)]
pub struct RunOptions {
    pub notify: bool,
    /// The Lambda deadline: the sweep stops starting new work in time to report before it.
    pub deadline: Option<tokio::time::Instant>,
    pub progress: std::sync::Arc<dyn Progress>,
    /// Where each diagnosis' evidence goes when it is to be saved (`--save-evidence`).
    pub evidence: Option<replay::EvidenceLog>,
    /// A sweep also probes the origins of disabled distributions (`--include-disabled`).
    pub include_disabled: bool,
    /// The event's identity, the same in every retry of it: deliveries are recorded under it
    /// (Lambda only; None in the CLI, which keeps no records).
    pub delivery_key: Option<String>,
    /// The run's metrics, in Lambda: each diagnosis is measured as it is made.
    pub meter: Option<metrics::Meter>,
    /// The account the event comes from (its `account` field), when that is said: with
    /// MEMBER_ROLE_NAME set, an event from a member account is diagnosed there.
    pub account: Option<String>,
    /// The deliveries that failed in this run, for the run's metrics.
    pub delivery_failures: notify::failures::DeliveryFailures,
}

impl RunOptions {
    /// These options, with the disabled distributions' origins probed too when the event asks.
    fn including_disabled(&self, asked: bool) -> RunOptions {
        RunOptions {
            include_disabled: asked || self.include_disabled,
            ..self.clone()
        }
    }

    pub fn new(notify: bool) -> RunOptions {
        RunOptions {
            notify,
            deadline: None,
            progress: std::sync::Arc::new(Silent),
            evidence: None,
            include_disabled: false,
            delivery_key: None,
            meter: None,
            account: None,
            delivery_failures: Default::default(),
        }
    }
}

/// The engine: configuration, AWS clients and prober, built once per process.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub collector: Collector,
    pub notifier: Notifier,
    /// Where the Lambda keeps each invocation's evidence (`SAVE_EVIDENCE_BUCKET`).
    pub evidence_store: Option<replay::EvidenceStore>,
    /// Where deliveries are recorded, so a retried event pages no one twice (`DELIVERY_TABLE`).
    pub delivery_records: Option<DeliveryRecords>,
    /// Member accounts, AWS Organizations and the Distributed Map's results.
    pub organization: organization::OrganizationClients,
    /// The account this engine inspects when it is named in reports: a member account reached
    /// through its role, or any account of an organization sweep. None: the account cf-doctor
    /// runs in, unnamed (as a single-account deployment has it).
    pub account: Option<String>,
}

impl App {
    pub fn new(sdk: &aws_config::SdkConfig, config: Config) -> Result<App, StartError> {
        if config.slack_webhook_secret_id.is_some() && config.slack_webhook_url.is_some() {
            return Err(StartError::TwoWebhooks);
        }
        let prober = Prober {
            timeout: config.probe_timeout,
            resolve: config.resolve.clone(),
            tls: TlsSetup::new(config.ca_file.as_deref())?,
            // Origin names are resolved with the configured DNS server when there is one (a
            // split-horizon zone, the testkit's server); else with the system's resolver.
            resolver: config
                .dns_server
                .and_then(|server| cf_doctor_collect::probe::dns::resolver(Some(server)))
                .map(std::sync::Arc::new),
        };
        let notifier = Notifier {
            sns: config
                .sns_topic_arn
                .as_ref()
                .map(|arn| notify::sns::SnsChannel {
                    client: aws_sdk_sns::Client::new(sdk),
                    topic_arn: arn.clone(),
                }),
            slack: match (&config.slack_webhook_url, &config.slack_webhook_secret_id) {
                (Some(url), _) => Some(WebhookSource::Url(url.clone())),
                (None, Some(id)) => Some(WebhookSource::from_secret_id(id, sdk)),
                (None, None) => None,
            }
            .map(|source| notify::slack::SlackChannel::new(source, notify::SLACK_ATTEMPT_TIMEOUT)),
        };
        let delivery_records = config.delivery_table.as_ref().map(|table| DeliveryRecords {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table: table.clone(),
        });
        let evidence_store =
            config
                .save_evidence_bucket
                .as_ref()
                .map(|bucket| replay::EvidenceStore {
                    client: aws_sdk_s3::Client::new(sdk),
                    bucket: bucket.clone(),
                });
        Ok(App {
            evidence_store,
            delivery_records,
            organization: organization::OrganizationClients::new(sdk, &config),
            account: None,
            collector: Collector::new(
                sdk,
                prober,
                config.thresholds,
                &config.origin_regions,
                config.dns_server,
            ),
            config,
            notifier,
        })
    }

    /// Configuration and clients for a process: the SDK from the environment, with cf-doctor's
    /// retry and timeout policy.
    pub async fn start(config: Config) -> Result<App, StartError> {
        let sdk = cf_doctor_aws::load().await;
        App::new(&sdk, config)
    }

    /// Inspects one distribution and diagnoses it (no delivery).
    pub async fn diagnose(
        &self,
        id: &str,
        trigger: TriggerInfo,
    ) -> Result<Diagnosis, CollectError> {
        Box::pin(self.diagnose_within(id, trigger, &RunOptions::new(false))).await
    }

    /// As [`App::diagnose`], leaving out (and naming) what cannot start before the deadline.
    pub async fn diagnose_within(
        &self,
        id: &str,
        trigger: TriggerInfo,
        options: &RunOptions,
    ) -> Result<Diagnosis, CollectError> {
        let stopwatch = Stopwatch::start();
        // Boxed: the collection future is deep (probes inside joins) and large for the stack.
        let evidence = Box::pin(self.collector.distribution_within(id, options.deadline)).await?;
        Ok(self.conclude(stopwatch.run(trigger, evidence), options))
    }

    /// Runs one event as Lambda does (the CLI's `invoke` too), logging the outcome: each verdict,
    /// a report that could not be delivered (whole), or the event that could not be handled
    /// (whole). Delivery is always on in Lambda, a flag in the CLI.
    pub async fn handle_event(
        &self,
        event: &Value,
        options: &RunOptions,
    ) -> Result<Vec<TargetResult>, RunError> {
        match Box::pin(self.run_event(event, options)).await {
            Ok(results) => {
                for result in &results {
                    if let TargetResult::Diagnosed(d) = result {
                        logging::diagnosis(d);
                    }
                }
                Ok(results)
            }
            Err(RunError::Delivery { error, reports }) => {
                // No report is lost: the whole report goes to the log before the invocation fails.
                tracing::error!(%error, "delivery failed");
                for report in &reports {
                    log_report(report, Occasion::Undelivered);
                }
                Err(RunError::Delivery { error, reports })
            }
            Err(e) => {
                let received = serde_json::to_string(event).unwrap_or_default();
                tracing::error!(error = %e, event = %received, "event not handled");
                Err(e)
            }
        }
    }

    /// Runs every target of an event; delivers diagnoses when `notify` is set. Delivery failures
    /// are reported after every target ran, with the reports attached.
    pub async fn run_event(
        &self,
        event: &Value,
        options: &RunOptions,
    ) -> Result<Vec<TargetResult>, RunError> {
        let targets = trigger::parse_event(event)?;
        let options = RunOptions {
            account: options
                .account
                .clone()
                .or_else(|| trigger::event_account(event)),
            ..options.clone()
        };
        self.run_targets(targets, &options).await
    }

    /// Runs every target of the event, even when one of them fails (a metric-math alarm naming a
    /// distribution that no longer exists still gets the others diagnosed and delivered); each
    /// report is logged whole as it is made; the first failure is returned after delivery.
    pub async fn run_targets(
        &self,
        targets: Vec<Target>,
        options: &RunOptions,
    ) -> Result<Vec<TargetResult>, RunError> {
        let several = targets.len() > 1;
        let mut results = Vec::new();
        let mut failed = None;
        // An event from a member account is diagnosed there (when MEMBER_ROLE_NAME says how).
        let engine = self.engine_for_event(options).await;
        // Several targets (an ACM or Health event listing many certificates, a metric-math alarm
        // on several distributions) run side by side, their results kept in the event's order;
        // AWS's rate limits hold across them, the collector's limiters being shared.
        let outcomes: Vec<Result<TargetResult, RunError>> = futures::stream::iter(targets)
            .map(|target| {
                let engine = &engine;
                // Boxed: each trigger kind is a deep future; boxing keeps the dispatcher's own
                // future small.
                async move {
                    match engine {
                        Ok(app) => Box::pin(app.run_target(target, options)).await,
                        Err(unreachable) => Ok(unreachable.report(target)),
                    }
                }
            })
            .buffered(TARGETS_AT_ONCE)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(result) => {
                    let result = result.stamped();
                    if let TargetResult::Diagnosed(d) = &result {
                        log_report(d, Occasion::Made);
                    }
                    results.push(result);
                }
                Err(e) if several => {
                    tracing::error!(error = %e, "one target of the event failed; the others are still reported");
                    failed.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        if options.notify {
            self.deliver(&results, options).await?;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    pub async fn run_target(
        &self,
        target: Target,
        options: &RunOptions,
    ) -> Result<TargetResult, RunError> {
        let diagnosis = match target {
            Target::Distribution { id, trigger } => {
                self.diagnose_within(&id, trigger, options).await?
            }
            Target::Acknowledge {
                trigger,
                note,
                recovery,
            } => {
                tracing::info!(%note, "alarm transition acknowledged");
                return Ok(TargetResult::Acknowledged {
                    trigger,
                    note,
                    recovery,
                });
            }
            Target::Sweep {
                trigger,
                include_disabled,
            } => {
                let options = options.including_disabled(include_disabled);
                self.sweep(&Scope::All, trigger, &options).await
            }
            Target::Certificate { arn, trigger } => {
                self.sweep(&Scope::Certificate(arn), trigger, options).await
            }
            Target::Function { name, trigger } => {
                self.diagnose_function(&name, trigger, options).await?
            }
            Target::AccountSweep {
                account,
                trigger,
                include_disabled,
            } => {
                let options = options.including_disabled(include_disabled);
                let summary = Box::pin(self.sweep_account(&account, trigger, &options)).await;
                return Ok(TargetResult::AccountSwept(Box::new(summary)));
            }
            Target::ListAccounts { ids } => {
                return Ok(TargetResult::Accounts(self.accounts(ids).await?));
            }
            Target::OrganizationSweep {
                accounts,
                trigger,
                plan,
            } => {
                let accounts = self.accounts(accounts).await?;
                Box::pin(self.sweep_organization(accounts, &plan, trigger, options)).await
            }
            Target::OrganizationDigest { results, trigger } => {
                self.organization_digest(&results, trigger).await?
            }
            Target::Postmortem { id, window } => {
                let progress = options.progress.as_ref();
                let postmortem = self
                    .postmortem(&id, window, progress, options.deadline)
                    .await?;
                return Ok(TargetResult::Postmortem(Box::new(postmortem)));
            }
        };
        Ok(TargetResult::Diagnosed(Box::new(diagnosis)))
    }

    /// The engine an event's targets run with: this one, or one in the member account the event
    /// comes from (only with MEMBER_ROLE_NAME set; an event from the account cf-doctor runs in
    /// stays here). When the member role cannot be assumed, each target's report is the gap.
    async fn engine_for_event(&self, options: &RunOptions) -> Result<App, UnreachableAccount> {
        let (Some(account), Some(_)) = (&options.account, &self.config.member_role_name) else {
            return Ok(self.clone());
        };
        if self.organization.access.home_account().await.as_deref() == Some(account.as_str()) {
            return Ok(self.clone());
        }
        self.in_account(account)
            .await
            .map_err(|error| UnreachableAccount { error })
    }

    /// The sweep (or one certificate and what uses it): a digest, never an Err; what could not be
    /// reached is an `inspection-incomplete` finding.
    pub async fn sweep(
        &self,
        scope: &Scope,
        trigger: TriggerInfo,
        options: &RunOptions,
    ) -> Diagnosis {
        let run = self.sweep_run(scope, trigger, options).await;
        self.conclude(run, options)
    }

    /// What a sweep collected, with its trigger and timing, before the rules.
    pub async fn sweep_run(
        &self,
        scope: &Scope,
        mut trigger: TriggerInfo,
        options: &RunOptions,
    ) -> Run {
        let stopwatch = Stopwatch::start();
        let sweep_options = SweepOptions {
            deadline: options.deadline,
            progress: options.progress.clone(),
            include_disabled: options.include_disabled,
            ..SweepOptions::default()
        };
        let evidence = Box::pin(self.collector.sweep(scope, &sweep_options)).await;
        let regions: Vec<&str> = self
            .collector
            .acm_by_region
            .keys()
            .map(String::as_str)
            .collect();
        trigger.detail = format!(
            "{}: {} distribution(s), {} certificate(s) in {}",
            trigger.detail,
            evidence.distributions.len(),
            evidence.certificates.len(),
            match scope {
                Scope::All => regions.join(", "),
                Scope::Certificate(_) => "the event's region".to_string(),
            }
        );
        stopwatch.run(trigger, evidence)
    }

    /// Rules over a run collected by this engine: in a member account the evidence names it, and
    /// the diagnosis is not measured (a member's per-certificate series would multiply the
    /// metrics by the number of accounts).
    pub fn conclude(&self, mut run: Run, options: &RunOptions) -> Diagnosis {
        match &self.account {
            None => conclude(run, options),
            Some(account) => {
                run.evidence.account = Some(account.clone());
                let options = RunOptions {
                    meter: None,
                    ..options.clone()
                };
                conclude(run, &options)
            }
        }
    }

    /// Delivers each diagnosis that calls for it (healthy ones only with NOTIFY_WHEN_HEALTHY) and
    /// each recovery, all at once (see [`delivery`] for what is retried and what is not).
    pub async fn deliver(
        &self,
        results: &[TargetResult],
        options: &RunOptions,
    ) -> Result<(), RunError> {
        delivery::deliver(
            self,
            results,
            options.delivery_key.as_deref(),
            &options.delivery_failures,
        )
        .await
    }
}

/// When a run started (the report's `started_at`) and a clock for how long it took.
pub(crate) struct Stopwatch {
    started_at: chrono::DateTime<Utc>,
    clock: Instant,
}

impl Stopwatch {
    pub(crate) fn start() -> Stopwatch {
        Stopwatch {
            started_at: Utc::now(),
            clock: Instant::now(),
        }
    }

    /// What was collected since the start, with its trigger and timing.
    pub(crate) fn run(&self, trigger: TriggerInfo, evidence: cf_doctor_model::Evidence) -> Run {
        Run {
            trigger,
            started_at: self.started_at,
            duration_ms: self.clock.elapsed().as_millis() as u64,
            evidence,
        }
    }
}

/// A member account whose role could not be assumed: each of the event's targets gets a report
/// that says so (an acknowledgement needs no account and stays one).
struct UnreachableAccount {
    error: organization::AccessError,
}

impl UnreachableAccount {
    fn report(&self, target: Target) -> TargetResult {
        let trigger = match target {
            Target::Acknowledge {
                trigger,
                note,
                recovery,
            } => {
                return TargetResult::Acknowledged {
                    trigger,
                    note,
                    recovery,
                }
            }
            Target::Distribution { trigger, .. }
            | Target::Sweep { trigger, .. }
            | Target::Certificate { trigger, .. }
            | Target::Function { trigger, .. }
            | Target::AccountSweep { trigger, .. }
            | Target::OrganizationSweep { trigger, .. }
            | Target::OrganizationDigest { trigger, .. } => trigger,
            Target::ListAccounts { .. } => TriggerInfo::manual("list accounts", None),
            Target::Postmortem { id, .. } => {
                TriggerInfo::manual(format!("postmortem of {id}"), Some(id))
            }
        };
        TargetResult::Diagnosed(Box::new(
            cf_doctor_rules::organization::account_unreachable(
                trigger,
                &self.error.account,
                "sts:AssumeRole",
                &self.error.to_string(),
                Utc::now(),
                0,
            ),
        ))
    }
}

/// Rules and ranking over one run's evidence (pure, so saved evidence replays to the same
/// report); the evidence is kept when the run asks for it.
fn conclude(run: Run, options: &RunOptions) -> Diagnosis {
    let diagnosis = cf_doctor_rules::diagnose(
        &run.evidence,
        run.trigger.clone(),
        run.started_at,
        run.duration_ms,
    );
    if let Some(meter) = &options.meter {
        meter.diagnosed(&diagnosis, &run.evidence);
    }
    if let Some(log) = &options.evidence {
        log.keep(run);
    }
    diagnosis
}
