//! cf-doctor: tells an on-call engineer why CloudFront returns 5xx. The pipeline, one way only:
//! trigger -> collect -> rules -> render -> notify. Collect, rules and render are crates below this
//! one (with the model they share); trigger and notify are modules of this crate, which does the
//! I/O they need (docs/architecture.md). `handler` and `cli` are two thin faces over [`App`]
//! (`app.rs`); this file holds what every face returns: start and run errors, and each target's
//! result.

mod app;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod edge_function;
pub mod exit;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod organization;
pub mod postmortem;
pub mod progress;
pub mod replay;
pub mod trigger;
pub mod version;

pub use app::{App, RunOptions};

use serde_json::{json, Value};

use cf_doctor_collect::CollectError;
use cf_doctor_model::{Diagnosis, Recovery, TriggerInfo};
use notify::DeliveryError;
use trigger::TriggerError;

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
    /// An organization sweep could not start (the accounts could not be listed) or merge (the
    /// Map Run's results could not be read).
    #[error(transparent)]
    Organization(#[from] organization::OrganizationError),
    /// The diagnosis was made but could not be delivered; it is carried so it can still be logged.
    #[error("{error}")]
    Delivery {
        error: DeliveryError,
        reports: Vec<Box<Diagnosis>>,
    },
}

impl RunError {
    /// The error type the Lambda reports (`errorType`), so that dead-lettered events can be
    /// sorted without reading their messages.
    pub fn error_type(&self) -> &'static str {
        match self {
            RunError::Trigger(TriggerError::Unrecognised { .. } | TriggerError::Empty) => {
                "UnrecognisedEvent"
            }
            RunError::Trigger(_) => "MalformedEvent",
            RunError::Collect(CollectError::DistributionNotFound(_)) => "UnknownDistribution",
            RunError::Collect(CollectError::Unreachable { .. }) => "AwsUnreachable",
            RunError::Collect(CollectError::Aws { .. }) => "AwsError",
            RunError::Organization(_) => "OrganizationError",
            RunError::Delivery { .. } => "DeliveryFailed",
        }
    }
}

/// What one target produced: a diagnosis, or an acknowledgement of an alarm leaving ALARM; for
/// the organization's state machine, one account's summary or the accounts to sweep.
#[derive(Debug, Clone)]
pub enum TargetResult {
    Diagnosed(Box<Diagnosis>),
    Acknowledged {
        trigger: TriggerInfo,
        note: String,
        recovery: Option<Recovery>,
    },
    /// One member account's sweep, bounded for a Step Functions state (nothing is delivered).
    AccountSwept(Box<cf_doctor_model::organization::AccountSweep>),
    /// The accounts an organization sweep fans out over.
    Accounts(Vec<organization::Account>),
    /// A past window's incident from the standard logs (`cf-doctor/postmortem/v1`).
    Postmortem(Box<cf_doctor_model::cloudfront_log::Postmortem>),
}

impl TargetResult {
    /// The result with this build named in it (`cf_doctor_version`, `cf_doctor_commit`): every
    /// report that leaves cf-doctor passes here.
    pub fn stamped(mut self) -> TargetResult {
        let build = version::build_info();
        match &mut self {
            TargetResult::Diagnosed(d) => d.build = build,
            TargetResult::AccountSwept(summary) => summary.build = build,
            TargetResult::Postmortem(p) => p.build = build,
            TargetResult::Acknowledged { .. } | TargetResult::Accounts(_) => {}
        }
        self
    }

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
            TargetResult::AccountSwept(summary) => {
                serde_json::to_value(summary).unwrap_or(Value::Null)
            }
            TargetResult::Accounts(accounts) => json!({"accounts": accounts}),
            TargetResult::Postmortem(p) => serde_json::to_value(p).unwrap_or(Value::Null),
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

    /// The invocation result within `max_bytes` (Lambda refuses a response over 6 MB): each
    /// diagnosis gets its share, and one that does not fit gives way as the SNS message does
    /// (checks replaced by their counts, then evidence, then the lowest findings), saying so in
    /// `truncated`. The full reports are in the log.
    pub fn response_within(results: &[TargetResult], max_bytes: usize) -> Value {
        let share = max_bytes / results.len().max(1);
        // Each report's share leaves room for what joins the reports into one result (the array's
        // brackets and commas, a newline): 64 bytes is ample for both.
        const JOINING: usize = 64;
        let bounded = |result: &TargetResult| match result {
            TargetResult::Diagnosed(d) => {
                let text = cf_doctor_render::sns::within(
                    d,
                    share.saturating_sub(JOINING),
                    "the invocation result is kept under RESULT_MAX_BYTES (Lambda's response limit is 6 MB); the full report is in the function's log",
                );
                serde_json::from_str(&text).unwrap_or(Value::Null)
            }
            other => other.to_json(),
        };
        match results {
            [single] => bounded(single),
            many => Value::Array(many.iter().map(bounded).collect()),
        }
    }

    /// Exit code by verdict (an acknowledgement is fine).
    pub fn exit_code(&self) -> i32 {
        match self {
            TargetResult::Diagnosed(d) => d.verdict.exit_code(),
            TargetResult::AccountSwept(summary) => summary.verdict.exit_code(),
            TargetResult::Acknowledged { .. } | TargetResult::Accounts(_) => exit::OK,
            // Nothing read is no answer.
            TargetResult::Postmortem(p) if p.sources.is_empty() => exit::INCOMPLETE,
            TargetResult::Postmortem(_) => exit::OK,
        }
    }
}
