//! Rules: pure functions from Evidence to findings. No I/O and no clock: "now" is in the Evidence.

pub mod certs;
pub mod distribution;
pub mod edge;
pub mod load_balancer;
pub mod names;
pub mod origin_tls;
pub mod reachability;

use serde_json::json;

use crate::diagnosis::{Code, Finding, Severity};
use crate::evidence::Evidence;

pub fn evaluate(evidence: &Evidence) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(distribution::findings(evidence));
    findings.extend(certs::findings(evidence));
    for probe in &evidence.origin_probes {
        let mut found = reachability::findings(probe);
        found.extend(origin_tls::findings(probe, evidence));
        // Side by side with the direct request: what viewers get through CloudFront.
        if let Some(via) = edge::via_cloudfront(evidence, &probe.distribution_id) {
            for f in found
                .iter_mut()
                .filter(|f| f.evidence.get("direct_request").is_some())
            {
                f.evidence["via_cloudfront"] = json!(via);
            }
        }
        findings.extend(found);
    }
    findings.extend(edge::findings(evidence));
    findings.extend(load_balancer::findings(evidence));
    findings.extend(gaps(evidence));
    findings
}

/// Whatever could not be inspected is said, so that a gap is never mistaken for health.
fn gaps(evidence: &Evidence) -> Vec<Finding> {
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

/// Days from `now` to `then`, rounded down (negative once past).
pub fn days_between(
    now: chrono::DateTime<chrono::Utc>,
    then: chrono::DateTime<chrono::Utc>,
) -> i64 {
    (then - now).num_seconds().div_euclid(86_400)
}

/// Per-address findings of one origin merged by code: one finding per cause, naming the addresses
/// it was seen on ("on 2 of 3 addresses"), so a single bad node stands out and a general fault
/// does not repeat itself.
pub fn group_by_code(findings: Vec<Finding>, probe: &crate::evidence::OriginProbe) -> Vec<Finding> {
    let total = probe.addresses.len();
    let mut merged: Vec<(Finding, Vec<String>)> = Vec::new();
    for finding in findings {
        let address = finding
            .resource
            .rsplit_once('@')
            .map(|(_, a)| a.to_string())
            .unwrap_or_default();
        match merged.iter_mut().find(|(f, _)| f.code == finding.code) {
            Some((_, addresses)) => addresses.push(address),
            None => merged.push((finding, vec![address])),
        }
    }
    merged
        .into_iter()
        .map(|(mut finding, addresses)| {
            if total > 1 {
                finding.resource = probe.endpoint();
                finding.title = format!(
                    "{} (on {} of {total} addresses)",
                    finding.title,
                    addresses.len()
                );
                if let serde_json::Value::Object(map) = &mut finding.evidence {
                    map.remove("address");
                    map.insert("addresses".into(), json!(addresses));
                }
            }
            finding
        })
        .collect()
}
