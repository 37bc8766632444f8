//! cf-doctor: tells an on-call engineer why CloudFront returns 5xx. The pipeline, one way only:
//! trigger -> collect -> rules -> render -> notify, each stage its own crate below this one
//! (docs/architecture.md). `handler` and `cli` are two thin faces over [`App`].

pub mod cli;
pub mod config;
pub mod edge_function;
pub mod exit;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod progress;
pub mod replay;
pub mod trigger;

use std::time::Instant;

use chrono::Utc;
use serde_json::{json, Value};

use cf_doctor_collect::probe::{Prober, TlsSetup};
use cf_doctor_collect::sweep::{Progress, Scope, Silent, SweepOptions};
use cf_doctor_collect::{CollectError, Collector};
use cf_doctor_model::replay::Run;
use cf_doctor_model::{Diagnosis, Recovery, TriggerInfo, Verdict};
use config::Config;
use notify::slack::WebhookSource;
use notify::{DeliveryError, Notice, Notifier};
use trigger::{Target, TriggerError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("ORIGIN_CA_FILE / --ca-file: {0}")]
    CaFile(#[from] cf_doctor_collect::probe::tls::TlsSetupError),
    #[error("both SLACK_WEBHOOK_URL and SLACK_WEBHOOK_SECRET_ID are set: set one (the secret in Lambda, the URL for local use)")]
    TwoWebhooks,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// The diagnosis was made but could not be delivered; it is carried so it can still be logged.
    #[error("{error}")]
    Delivery {
        error: DeliveryError,
        reports: Vec<Box<Diagnosis>>,
    },
}

/// What one target produced: a diagnosis, or an acknowledgement of an alarm leaving ALARM.
#[derive(Debug, Clone)]
pub enum TargetResult {
    Diagnosed(Box<Diagnosis>),
    Acknowledged {
        trigger: TriggerInfo,
        note: String,
        recovery: Option<Recovery>,
    },
}

impl TargetResult {
    pub fn to_json(&self) -> Value {
        match self {
            TargetResult::Diagnosed(d) => serde_json::to_value(d).unwrap_or(Value::Null),
            TargetResult::Acknowledged {
                trigger,
                note,
                recovery,
            } => {
                json!({"acknowledged": true, "trigger": trigger, "note": note, "recovered": recovery.is_some()})
            }
        }
    }

    /// The invocation result: the diagnosis (or acknowledgement) itself, or a list when an SNS
    /// event carried several alarms.
    pub fn response(results: &[TargetResult]) -> Value {
        match results {
            [single] => single.to_json(),
            many => Value::Array(many.iter().map(TargetResult::to_json).collect()),
        }
    }

    /// Exit code by verdict (an acknowledgement is fine).
    pub fn exit_code(&self) -> i32 {
        match self {
            TargetResult::Diagnosed(d) => d.verdict.exit_code(),
            TargetResult::Acknowledged { .. } => exit::OK,
        }
    }
}

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
    /// The run's metrics, in Lambda: each diagnosis is measured as it is made.
    pub meter: Option<metrics::Meter>,
}

impl RunOptions {
    pub fn new(notify: bool) -> RunOptions {
        RunOptions {
            notify,
            deadline: None,
            progress: std::sync::Arc::new(Silent),
            evidence: None,
            meter: None,
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
            .map(|source| {
                notify::slack::SlackChannel::new(source, std::time::Duration::from_secs(10))
            }),
        };
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
        let started_at = Utc::now();
        let clock = Instant::now();
        // Boxed: the collection future is deep (probes inside joins) and large for the stack.
        let evidence = Box::pin(self.collector.distribution_within(id, options.deadline)).await?;
        Ok(conclude(
            Run {
                trigger,
                started_at,
                duration_ms: clock.elapsed().as_millis() as u64,
                evidence,
            },
            options,
        ))
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
                for report in &reports {
                    let report = serde_json::to_string(report).unwrap_or_default();
                    tracing::error!(%error, %report, "delivery failed; full report follows in this line");
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
        self.run_targets(trigger::parse_event(event)?, options)
            .await
    }

    pub async fn run_targets(
        &self,
        targets: Vec<Target>,
        options: &RunOptions,
    ) -> Result<Vec<TargetResult>, RunError> {
        let mut results = Vec::new();
        for target in targets {
            // Boxed: each trigger kind is a deep future; boxing keeps the dispatcher's own future small.
            results.push(Box::pin(self.run_target(target, options)).await?);
        }
        if options.notify {
            self.deliver(&results).await?;
        }
        Ok(results)
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
            Target::Sweep { trigger } => self.sweep(&Scope::All, trigger, options).await,
            Target::Certificate { arn, trigger } => {
                self.sweep(&Scope::Certificate(arn), trigger, options).await
            }
            Target::Function { name, trigger } => {
                self.diagnose_function(&name, trigger, options).await?
            }
        };
        Ok(TargetResult::Diagnosed(Box::new(diagnosis)))
    }

    /// The sweep (or one certificate and what uses it): a digest, never an Err; what could not be
    /// reached is an `inspection-incomplete` finding.
    pub async fn sweep(
        &self,
        scope: &Scope,
        mut trigger: TriggerInfo,
        options: &RunOptions,
    ) -> Diagnosis {
        let started_at = Utc::now();
        let clock = Instant::now();
        let sweep_options = SweepOptions {
            deadline: options.deadline,
            progress: options.progress.clone(),
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
        conclude(
            Run {
                trigger,
                started_at,
                duration_ms: clock.elapsed().as_millis() as u64,
                evidence,
            },
            options,
        )
    }

    /// Delivers each diagnosis that calls for it (healthy ones only with NOTIFY_WHEN_HEALTHY).
    pub async fn deliver(&self, results: &[TargetResult]) -> Result<(), RunError> {
        let mut failures = Vec::new();
        let mut failed_reports = Vec::new();
        for result in results {
            let notice = match result {
                TargetResult::Diagnosed(d)
                    if d.verdict == Verdict::Ok && !self.config.notify_when_healthy =>
                {
                    tracing::info!("healthy: nothing delivered (NOTIFY_WHEN_HEALTHY=false)");
                    continue;
                }
                TargetResult::Diagnosed(d) => Notice::Report(d),
                TargetResult::Acknowledged {
                    recovery: Some(recovery),
                    note,
                    ..
                } => Notice::Recovery { recovery, note },
                TargetResult::Acknowledged { recovery: None, .. } => continue,
            };
            match self.notifier.deliver(notice).await {
                Ok(channels) => tracing::info!(?channels, "delivered"),
                Err(e) => {
                    failures.extend(e.failures);
                    if let TargetResult::Diagnosed(d) = result {
                        failed_reports.push(d.clone());
                    }
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(RunError::Delivery {
                error: DeliveryError { failures },
                reports: failed_reports,
            })
        }
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
