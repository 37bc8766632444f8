//! Checks: everything that was looked at, passed or not, so that "nothing found" can be trusted.

use serde::{Deserialize, Serialize};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOutcome {
    Pass,
    Fail,
    Error,
    Skipped,
}

impl CheckOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Pass => "pass",
            CheckOutcome::Fail => "fail",
            CheckOutcome::Error => "error",
            CheckOutcome::Skipped => "skipped",
        }
    }
}

/// One thing that was looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub target: String,
    pub outcome: CheckOutcome,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    pub fn new(
        name: &str,
        target: &str,
        outcome: CheckOutcome,
        duration_ms: u64,
        detail: Option<String>,
    ) -> Check {
        Check {
            name: name.into(),
            target: target.into(),
            outcome,
            duration_ms,
            detail,
        }
    }

    /// A check timed from `started` until now.
    pub fn since(
        name: &str,
        target: &str,
        outcome: CheckOutcome,
        started: std::time::Instant,
        detail: Option<String>,
    ) -> Check {
        Check::new(
            name,
            target,
            outcome,
            started.elapsed().as_millis() as u64,
            detail,
        )
    }
}
