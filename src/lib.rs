//! cf-doctor: tells an on-call engineer why CloudFront returns 5xx. The pipeline, one way only:
//! trigger -> collect -> rules -> diagnosis -> render -> notify. `handler` and `cli` are two thin
//! faces over [`App`].

pub mod aws;
pub mod cli;
pub mod collect;
pub mod config;
pub mod diagnosis;
pub mod evidence;
pub mod handler;
pub mod logging;
pub mod notify;
pub mod progress;
pub mod render;
pub mod rules;
pub mod trigger;

use std::time::Instant;

use chrono::Utc;
use serde_json::{json, Value};

use collect::probe::{Prober, TlsSetup};
use collect::sweep::{Progress, Scope, Silent, SweepOptions};
use collect::{CollectError, Collector};
use config::Config;
use diagnosis::{Diagnosis, TriggerInfo};
use evidence::Evidence;
use notify::slack::WebhookSource;
use notify::{DeliveryError, Notice, Notifier};
use trigger::{Target, TriggerError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("ORIGIN_CA_FILE / --ca-file: {0}")]
    CaFile(#[from] collect::probe::tls::TlsSetupError),
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

/// What one target produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    Diagnosed(Box<Diagnosis>),
    Acknowledged {
        trigger: TriggerInfo,
        note: String,
        recovery: Option<trigger::Recovery>,
    },
}

impl Outcome {
    pub fn to_json(&self) -> Value {
        match self {
            Outcome::Diagnosed(d) => serde_json::to_value(d).unwrap_or(Value::Null),
            Outcome::Acknowledged {
                trigger,
                note,
                recovery,
            } => {
                json!({"acknowledged": true, "trigger": trigger, "note": note, "recovered": recovery.is_some()})
            }
        }
    }

    /// Exit code by verdict (an acknowledgement is fine).
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Diagnosed(d) => d.verdict.exit_code(),
            Outcome::Acknowledged { .. } => 0,
        }
    }
}

/// How one event is run: whether to deliver, by when the report must be out, who hears progress.
#[derive(Clone)]
pub struct RunOptions {
    pub notify: bool,
    /// The Lambda deadline: the sweep stops starting new work in time to report before it.
    pub deadline: Option<tokio::time::Instant>,
    pub progress: std::sync::Arc<dyn Progress>,
}

impl RunOptions {
    pub fn new(notify: bool) -> RunOptions {
        RunOptions {
            notify,
            deadline: None,
            progress: std::sync::Arc::new(Silent),
        }
    }
}

/// The engine: configuration, AWS clients and prober, built once per process.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub collector: Collector,
    pub notifier: Notifier,
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
        Ok(App {
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
        let sdk = aws::load().await;
        App::new(&sdk, config)
    }

    /// Inspects one distribution and diagnoses it (no delivery).
    pub async fn diagnose(
        &self,
        id: &str,
        trigger: TriggerInfo,
    ) -> Result<Diagnosis, CollectError> {
        Box::pin(self.diagnose_within(id, trigger, None)).await
    }

    /// As [`App::diagnose`], leaving out (and naming) what cannot start before `deadline`.
    pub async fn diagnose_within(
        &self,
        id: &str,
        trigger: TriggerInfo,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Diagnosis, CollectError> {
        let started_at = Utc::now();
        let clock = Instant::now();
        // Boxed: the collection future is deep (probes inside joins) and large for the stack.
        let evidence = Box::pin(self.collector.distribution_within(id, deadline)).await?;
        Ok(diagnose_evidence(
            &evidence,
            trigger,
            started_at,
            clock.elapsed().as_millis() as u64,
        ))
    }

    /// Runs every target of an event; delivers diagnoses when `notify` is set. Delivery failures
    /// are reported after every target ran, with the reports attached.
    pub async fn run_event(
        &self,
        event: &Value,
        options: &RunOptions,
    ) -> Result<Vec<Outcome>, RunError> {
        self.run_targets(trigger::parse_event(event)?, options)
            .await
    }

    pub async fn run_targets(
        &self,
        targets: Vec<Target>,
        options: &RunOptions,
    ) -> Result<Vec<Outcome>, RunError> {
        let mut outcomes = Vec::new();
        for target in targets {
            // Boxed: each trigger kind is a deep future; boxing keeps the dispatcher's own future small.
            outcomes.push(Box::pin(self.run_target(target, options)).await?);
        }
        if options.notify {
            self.deliver(&outcomes).await?;
        }
        Ok(outcomes)
    }

    pub async fn run_target(
        &self,
        target: Target,
        options: &RunOptions,
    ) -> Result<Outcome, RunError> {
        let diagnosis = match target {
            Target::Distribution { id, trigger } => {
                self.diagnose_within(&id, trigger, options.deadline).await?
            }
            Target::Acknowledge {
                trigger,
                note,
                recovery,
            } => {
                tracing::info!(%note, "alarm transition acknowledged");
                return Ok(Outcome::Acknowledged {
                    trigger,
                    note,
                    recovery,
                });
            }
            Target::Sweep { trigger } => self.sweep(&Scope::All, trigger, options).await,
            Target::Certificate { arn, trigger } => {
                self.sweep(&Scope::Certificate(arn), trigger, options).await
            }
        };
        Ok(Outcome::Diagnosed(Box::new(diagnosis)))
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
        diagnose_evidence(
            &evidence,
            trigger,
            started_at,
            clock.elapsed().as_millis() as u64,
        )
    }

    /// Delivers each diagnosis that calls for it (healthy ones only with NOTIFY_WHEN_HEALTHY).
    pub async fn deliver(&self, outcomes: &[Outcome]) -> Result<(), RunError> {
        let mut failures = Vec::new();
        let mut failed_reports = Vec::new();
        for outcome in outcomes {
            let notice = match outcome {
                Outcome::Diagnosed(d)
                    if d.verdict == diagnosis::Verdict::Ok && !self.config.notify_when_healthy =>
                {
                    tracing::info!("healthy: nothing delivered (NOTIFY_WHEN_HEALTHY=false)");
                    continue;
                }
                Outcome::Diagnosed(d) => Notice::Report(d),
                Outcome::Acknowledged {
                    recovery: Some(recovery),
                    note,
                    ..
                } => Notice::Recovery { recovery, note },
                Outcome::Acknowledged { recovery: None, .. } => continue,
            };
            match self.notifier.deliver(notice).await {
                Ok(channels) => tracing::info!(?channels, "delivered"),
                Err(e) => {
                    failures.extend(e.failures);
                    if let Outcome::Diagnosed(d) = outcome {
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

/// Rules and ranking over collected evidence: pure, so a saved Evidence replays offline.
pub fn diagnose_evidence(
    evidence: &Evidence,
    trigger: TriggerInfo,
    started_at: chrono::DateTime<Utc>,
    duration_ms: u64,
) -> Diagnosis {
    let findings = rules::evaluate(evidence);
    let mut diagnosis = Diagnosis::assemble(
        trigger,
        findings,
        evidence.checks.clone(),
        started_at,
        duration_ms,
    );
    diagnosis.metrics = evidence.metrics.clone();
    diagnosis
}
