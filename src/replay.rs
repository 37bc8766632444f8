//! Saved evidence: `--save-evidence FILE` keeps what a run collected (`cf-doctor/evidence/v1`),
//! and `cf-doctor explain FILE` replays it through the rules and render offline, with no AWS and
//! no network, giving the same report. In Lambda, `SAVE_EVIDENCE_BUCKET` stores it in S3.

use std::sync::{Arc, Mutex};

use cf_doctor_model::replay::{ReplayError, Run, SavedEvidence};
use cf_doctor_model::Diagnosis;

/// The runs of one command or event, gathered as each diagnosis is made.
#[derive(Clone, Default)]
pub struct EvidenceLog(Arc<Mutex<Vec<Run>>>);

impl EvidenceLog {
    pub fn keep(&self, run: Run) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(run);
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// Everything kept so far, as the saved-evidence document.
    pub fn saved(&self) -> SavedEvidence {
        let runs = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        SavedEvidence::new(crate::version::build_info(), runs)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.saved()).unwrap_or_default()
    }
}

/// Where the Lambda keeps each invocation's evidence (`SAVE_EVIDENCE_BUCKET`).
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

impl EvidenceStore {
    /// The object key of an invocation's evidence: by day, then by request id.
    pub fn key(request_id: &str, at: chrono::DateTime<chrono::Utc>) -> String {
        let safe: String = request_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("evidence/{}/{safe}.json", at.format("%Y/%m/%d"))
    }

    /// Stores the evidence; returns the `s3://` location, or what went wrong.
    pub async fn put(&self, key: &str, log: &EvidenceLog) -> Result<String, String> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(log.to_json().into_bytes().into())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "s3:PutObject to s3://{}/{key} failed: {}",
                    self.bucket,
                    cf_doctor_aws::error_text(&e)
                )
            })?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("cannot read the evidence file {path}: {error}")]
    Read { path: String, error: String },
    #[error("the evidence file {path} is {error}")]
    Invalid { path: String, error: ReplayError },
    #[error(
        "the evidence file {path} holds no run (it was saved by a command that diagnosed nothing)"
    )]
    Empty { path: String },
}

/// The diagnoses the saved runs give, in the order they were made.
pub fn explain(path: &str) -> Result<Vec<Diagnosis>, ExplainError> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| ExplainError::Read {
        path: path.to_string(),
        error: e.to_string(),
    })?;
    let saved = SavedEvidence::parse(&text).map_err(|error| ExplainError::Invalid {
        path: path.to_string(),
        error,
    })?;
    if saved.runs.is_empty() {
        return Err(ExplainError::Empty {
            path: path.to_string(),
        });
    }
    Ok(saved
        .runs
        .into_iter()
        .map(|run| {
            cf_doctor_rules::diagnose(&run.evidence, run.trigger, run.started_at, run.duration_ms)
        })
        .collect())
}
