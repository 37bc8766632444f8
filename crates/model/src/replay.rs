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
        let mut saved: SavedEvidence =
            serde_json::from_value(value).map_err(|e| ReplayError::Malformed(e.to_string()))?;
        for run in &mut saved.runs {
            run.name_the_function_of_an_older_file();
        }
        Ok(saved)
    }
}

impl Run {
    /// A CloudFront Function alarm saved before its trigger named the function (`function`) is
    /// told by the shape its evidence always had: an alarm with no distribution whose evidence
    /// holds that one function and no probed origin. Newer files say it in the trigger.
    fn name_the_function_of_an_older_file(&mut self) {
        let trigger = &mut self.trigger;
        if trigger.function.is_some()
            || trigger.distribution_id.is_some()
            || trigger.kind != crate::TriggerKind::Alarm
            || !self.evidence.origin_probes.is_empty()
        {
            return;
        }
        if let [function] = self.evidence.cloudfront_functions.as_slice() {
            trigger.function = Some(function.name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::CloudfrontFunction;
    use crate::{ReportSubject, TriggerKind};

    fn function_alarm(function: Option<&str>) -> Run {
        Run {
            trigger: TriggerInfo {
                kind: TriggerKind::Alarm,
                detail: "alarm \"url-rewrite-errors\" -> ALARM".into(),
                distribution_id: None,
                status: Some(503),
                function: function.map(str::to_string),
            },
            started_at: chrono::DateTime::UNIX_EPOCH,
            duration_ms: 1,
            evidence: Evidence {
                cloudfront_functions: vec![CloudfrontFunction {
                    name: "url-rewrite".into(),
                    arn: "arn:aws:cloudfront::123456789012:function/url-rewrite".into(),
                    used_by: Vec::new(),
                    live: None,
                }],
                ..Evidence::default()
            },
        }
    }

    #[test]
    fn a_function_alarm_saved_before_the_trigger_named_its_function_is_still_about_it() {
        let older = SavedEvidence::new(BuildInfo::default(), vec![function_alarm(None)]);
        let text = serde_json::to_string(&older).unwrap();
        assert!(!text.contains("\"function\":"), "{text}");
        let read = SavedEvidence::parse(&text).unwrap();
        assert_eq!(
            read.runs[0].trigger.subject(),
            ReportSubject::Function("url-rewrite")
        );
    }

    #[test]
    fn a_newer_file_says_it_in_the_trigger_and_a_sweep_stays_a_sweep() {
        let newer = SavedEvidence::new(
            BuildInfo::default(),
            vec![function_alarm(Some("url-rewrite"))],
        );
        let text = serde_json::to_string(&newer).unwrap();
        assert!(text.contains("\"function\":\"url-rewrite\""), "{text}");
        let mut sweep = function_alarm(None);
        sweep.trigger.kind = TriggerKind::Schedule;
        let text =
            serde_json::to_string(&SavedEvidence::new(BuildInfo::default(), vec![sweep])).unwrap();
        let read = SavedEvidence::parse(&text).unwrap();
        assert_eq!(read.runs[0].trigger.subject(), ReportSubject::Sweep);
    }
}
