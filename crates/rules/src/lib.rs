//! Rules: pure functions from Evidence to findings, and the ranking that turns findings into a
//! Diagnosis. No I/O and no clock: "now" is in the Evidence, so a saved Evidence replays to the
//! same report.

mod certs;
mod digest;
mod distribution;
mod edge;
mod gaps;
mod handshake;
mod load_balancer;
mod origin_tls;
mod per_address;
mod ranking;
mod reachability;

use cf_doctor_model::evidence::OriginProbe;
use cf_doctor_model::{Diagnosis, Evidence, Finding, TriggerInfo};
use chrono::{DateTime, Utc};

pub use ranking::{assemble, rank};

/// Every finding the evidence shows, unranked.
pub fn evaluate(evidence: &Evidence) -> Vec<Finding> {
    findings_of(evidence, false)
}

/// Every finding, unranked; in a digest (a sweep, an ACM event), one per root cause.
fn findings_of(evidence: &Evidence, digest: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    let per_probe: Vec<_> = evidence
        .origin_probes
        .iter()
        .map(|probe| (probe, origin_findings(probe, evidence)))
        .collect();
    if digest {
        findings.extend(digest::without_disabled(distribution::findings(evidence)));
        findings.extend(digest::unused_certificates_together(certs::findings(
            evidence,
        )));
        findings.extend(digest::by_root_cause(per_probe, evidence));
    } else {
        findings.extend(distribution::findings(evidence));
        findings.extend(certs::findings(evidence));
        findings.extend(per_probe.into_iter().flat_map(|(_, found)| found));
    }
    findings.extend(edge::findings(evidence));
    findings.extend(load_balancer::findings(evidence));
    findings.extend(gaps::findings(evidence));
    findings
}

/// What one origin probe shows, beside what viewers got through CloudFront.
fn origin_findings(probe: &OriginProbe, evidence: &Evidence) -> Vec<Finding> {
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
    found
}

/// The diagnosis of collected evidence: its findings ranked, the verdict, the summary, and the
/// checks and metrics that were collected with it.
pub fn diagnose(
    evidence: &Evidence,
    trigger: TriggerInfo,
    started_at: DateTime<Utc>,
    duration_ms: u64,
) -> Diagnosis {
    // A report about one distribution is an incident; any other (a sweep, an ACM event) a digest.
    let digest = trigger.distribution_id.is_none();
    let mut diagnosis = assemble(
        trigger,
        findings_of(evidence, digest),
        evidence.checks.clone(),
        started_at,
        duration_ms,
    );
    if digest {
        digest::summarise(&mut diagnosis, evidence);
    }
    diagnosis.metrics = evidence.metrics.clone();
    diagnosis
}
