//! Rules: pure functions from Evidence to findings, and the ranking that turns findings into a
//! Diagnosis. No I/O and no clock: "now" is in the Evidence, so a saved Evidence replays to the
//! same report.

mod certs;
mod cloudfront_log;
mod corroboration;
mod digest;
mod distribution;
mod edge;
mod edge_functions;
mod fix;
mod gaps;
mod handshake;
mod instance;
mod listener_certificates;
mod load_balancer;
pub mod organization;
mod origin_mtls;
mod origin_tls;
mod per_address;
mod ranking;
mod reachability;
mod security_groups;
mod vpc_origin;

use cf_doctor_model::evidence::OriginProbe;
use cf_doctor_model::{Diagnosis, Evidence, Finding, TriggerInfo};
use chrono::{DateTime, Utc};

pub use ranking::{assemble, assemble_about, rank};

/// Every finding the evidence shows, unranked.
pub fn evaluate(evidence: &Evidence) -> Vec<Finding> {
    findings_of(evidence, false, None)
}

/// Every finding, unranked; in a digest (a sweep, an ACM event), one per root cause.
/// `alarm_status` is the status an alarm is about, which decides what explains it.
fn findings_of(evidence: &Evidence, digest: bool, alarm_status: Option<u16>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let per_probe: Vec<_> = evidence
        .origin_probes
        .iter()
        .map(|probe| (probe, origin_findings(probe, evidence)))
        .collect();
    // Client certificates of origin mTLS take their own codes.
    let certificates = origin_mtls::recode(certs::findings(evidence), evidence);
    if digest {
        findings.extend(digest::without_disabled(distribution::findings(evidence)));
        findings.extend(digest::unused_certificates_together(certificates));
        findings.extend(digest::by_root_cause(per_probe, evidence));
    } else {
        findings.extend(distribution::findings(evidence));
        findings.extend(certificates);
        findings.extend(per_probe.into_iter().flat_map(|(_, found)| found));
    }
    findings.extend(origin_mtls::required(evidence));
    findings.extend(edge::findings(evidence));
    findings.extend(edge_functions::findings(evidence));
    findings.extend(vpc_origin::findings(evidence));
    findings.extend(load_balancer::findings(evidence));
    findings.extend(listener_certificates::findings(evidence));
    findings.extend(instance::findings(evidence));
    findings.extend(gaps::findings(evidence));
    listener_certificates::mark_presented(&mut findings, evidence);
    corroboration::apply(&mut findings, evidence);
    if let Some(log) = &evidence.cloudfront_log {
        cloudfront_log::weigh(&mut findings, log);
        findings.extend(cloudfront_log::unexplained(
            &findings,
            evidence,
            alarm_status,
        ));
    }
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
    // A report about one distribution, or one CloudFront Function, is an incident; any other (a
    // sweep, an ACM event) a digest.
    let digest = trigger.subject().is_digest();
    let findings = findings_of(evidence, digest, trigger.status);
    let checks = evidence.checks.clone();
    let mut diagnosis = assemble(trigger, findings, checks, started_at, duration_ms);
    if digest {
        digest::summarise(&mut diagnosis, evidence);
    }
    if let Some(account) = &evidence.account {
        organization::name_account(&mut diagnosis, account);
    }
    fix::attach(&mut diagnosis.findings, evidence, &diagnosis.trigger);
    diagnosis.metrics = evidence.metrics.clone();
    diagnosis.cloudfront_log = evidence.cloudfront_log.clone();
    diagnosis
}
