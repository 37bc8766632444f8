//! Whatever could not be inspected is said, so that a gap is never mistaken for health.

use serde_json::json;

use cf_doctor_model::{Code, Evidence, Finding, Severity};

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    evidence
        .gaps
        .iter()
        .map(|gap| {
            Finding::new(Code::InspectionIncomplete, Severity::Warning, &gap.resource)
                .title(format!("Could not check {}: {} failed", gap.unchecked, gap.action))
                .evidence(json!({"action": gap.action, "error": gap.error, "unchecked": gap.unchecked}))
                .remediation(if gap.error.contains("AccessDenied") {
                    format!("Grant the function {} (see template.yaml); until then this part of the diagnosis is unknown.", gap.action)
                } else {
                    format!("Retry later or check {} by hand; until then this part of the diagnosis is unknown.", gap.action)
                })
        })
        .collect()
}
