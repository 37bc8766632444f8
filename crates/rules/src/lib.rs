//! Rules: pure functions from Evidence to findings, and the ranking that turns findings into a
//! Diagnosis. No I/O and no clock: "now" is in the Evidence, so a saved Evidence replays to the
//! same report.

mod certs;
mod distribution;
mod edge;
mod gaps;
mod handshake;
mod load_balancer;
mod origin_tls;
mod per_address;
mod ranking;
mod reachability;

use cf_doctor_model::{Diagnosis, Evidence, Finding, TriggerInfo};
use chrono::{DateTime, Utc};

pub use ranking::{assemble, rank};

/// Every finding the evidence shows, unranked.
pub fn evaluate(evidence: &Evidence) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(distribution::findings(evidence));
    findings.extend(certs::findings(evidence));
    for probe in &evidence.origin_probes {
        let mut found = reachability::findings(probe, evidence);
        found.extend(origin_tls::findings(probe, evidence));
        // Side by side with the direct request: what viewers get through CloudFront.
        if let Some(via) = edge::via_cloudfront(evidence, &probe.distribution_id) {
            for f in found
                .iter_mut()
                .filter(|f| f.facts.direct_request.is_some())
            {
                f.set_via_cloudfront(via.clone());
            }
        }
        findings.extend(found);
    }
    findings.extend(edge::findings(evidence));
    findings.extend(load_balancer::findings(evidence));
    findings.extend(gaps::findings(evidence));
    findings
}

/// The diagnosis of collected evidence: its findings ranked, the verdict, the summary, and the
/// checks and metrics that were collected with it.
pub fn diagnose(
    evidence: &Evidence,
    trigger: TriggerInfo,
    started_at: DateTime<Utc>,
    duration_ms: u64,
) -> Diagnosis {
    let mut diagnosis = assemble(
        trigger,
        evaluate(evidence),
        evidence.checks.clone(),
        started_at,
        duration_ms,
    );
    diagnosis.metrics = evidence.metrics.clone();
    diagnosis
}
