//! Saved evidence (`cf-doctor/evidence/v1`): what one run collected, with the trigger and timing
//! that go with it, so rules and render can replay the run offline and give the same report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::build_info::BuildInfo;
use crate::diagnosis::TriggerInfo;
use crate::evidence::Evidence;

pub const EVIDENCE_SCHEMA: &str = "cf-doctor/evidence/v1";

/// One diagnosis' worth of input: replaying it gives that diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub trigger: TriggerInfo,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub evidence: Evidence,
}

/// Every diagnosis of one command or event (an SNS event may carry several alarms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedEvidence {
    pub schema: String,
    /// The cf-doctor version that collected it, in words (`cf-doctor 0.1.0`).
    pub collected_by: String,
    /// The build that collected it (`cf_doctor_version`, `cf_doctor_commit`), beside the schema.
    #[serde(flatten, default)]
    pub build: BuildInfo,
    pub runs: Vec<Run>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(
        "not JSON ({0}); expected saved evidence ({EVIDENCE_SCHEMA}), as --save-evidence writes it"
    )]
    NotJson(String),
    #[error("its schema is {0:?}; this cf-doctor reads {EVIDENCE_SCHEMA}")]
    WrongSchema(String),
    #[error("not valid {EVIDENCE_SCHEMA}: {0}")]
    Malformed(String),
}

impl SavedEvidence {
    pub fn new(build: BuildInfo, runs: Vec<Run>) -> SavedEvidence {
        let collected_by = match &build.cf_doctor_version {
            Some(version) => format!("cf-doctor {version}"),
            None => "cf-doctor".to_string(),
        };
        SavedEvidence {
            schema: EVIDENCE_SCHEMA.to_string(),
            build,
            collected_by,
            runs,
        }
    }

    /// Reads saved evidence, checking the schema first so an old or foreign file is named as such.
    pub fn parse(text: &str) -> Result<SavedEvidence, ReplayError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ReplayError::NotJson(e.to_string()))?;
        match value.get("schema").and_then(serde_json::Value::as_str) {
            Some(EVIDENCE_SCHEMA) => {}
            Some(other) => return Err(ReplayError::WrongSchema(other.to_string())),
            None => return Err(ReplayError::WrongSchema("missing".to_string())),
        }
        serde_json::from_value(value).map_err(|e| ReplayError::Malformed(e.to_string()))
    }
}
