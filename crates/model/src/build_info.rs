//! Which build of cf-doctor wrote a report: `cf_doctor_version`, and `cf_doctor_commit` when it
//! was built from a checkout. The binary fills it where a report leaves it (the model cannot know
//! which build it is part of); a report from before versions existed reads as empty.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The crate version (`0.1.0`); the schema names the shape, this names the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf_doctor_version: Option<String>,
    /// The git commit the build was made from, in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf_doctor_commit: Option<String>,
}

impl BuildInfo {
    pub fn new(version: &str, commit: Option<&str>) -> BuildInfo {
        BuildInfo {
            cf_doctor_version: Some(version.to_string()),
            cf_doctor_commit: commit.map(str::to_string),
        }
    }
}
