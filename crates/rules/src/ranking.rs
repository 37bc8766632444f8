//! Ranking: most severe first; among equals, the finding that explains the alarmed status, then
//! the one CloudFront's own logs agree with, then the one the origin's own metrics confirm, then
//! the nearest expiry, then the one nearest to CloudFront on the wire. The verdict and the summary
//! line follow from the ranked list.

use std::collections::BTreeMap;

use cf_doctor_model::{
    Check, Code, Diagnosis, Finding, ReportSubject, Severity, TriggerInfo, Verdict, SCHEMA,
};
use chrono::{DateTime, Utc};

/// Ranks the findings and derives verdict, probable cause and summary from them.
pub fn assemble(
    trigger: TriggerInfo,
    findings: Vec<Finding>,
    checks: Vec<Check>,
    started_at: DateTime<Utc>,
    duration_ms: u64,
) -> Diagnosis {
    let subject = subject_of(&trigger);
    assemble_about(subject, trigger, findings, checks, started_at, duration_ms)
}

/// As [`assemble`], with what the report is about named by the caller ("CloudFront Function
/// url-rewrite").
pub fn assemble_about(
    subject: String,
    trigger: TriggerInfo,
    mut findings: Vec<Finding>,
    checks: Vec<Check>,
    started_at: DateTime<Utc>,
    duration_ms: u64,
) -> Diagnosis {
    rank(&mut findings, trigger.status);
    let verdict = verdict_of(&findings);
    let probable_cause = findings
        .first()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| f.code);
    let summary = summarise(&trigger, &subject, verdict, &findings);
    Diagnosis {
        schema: SCHEMA.to_string(),
        build: Default::default(),
        trigger,
        verdict,
        summary,
        probable_cause,
        findings,
        checks,
        metrics: Vec::new(),
        cloudfront_log: None,
        started_at,
        duration_ms,
    }
}

/// Orders findings most likely cause first (a refused port hides any certificate problem behind
/// it; a certificate 2 days from expiry comes before one 10 days away).
pub fn rank(findings: &mut [Finding], alarm_status: Option<u16>) {
    let days_left = |f: &Finding| f.facts.days_left.unwrap_or(i64::MAX);
    let corroborated = |f: &Finding| f.facts.corroborated_by.is_some();
    let logged = |f: &Finding| f.facts.cloudfront_agrees == Some(true);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.explains(alarm_status).cmp(&a.explains(alarm_status)))
            .then_with(|| logged(b).cmp(&logged(a)))
            .then_with(|| corroborated(b).cmp(&corroborated(a)))
            .then_with(|| days_left(a).cmp(&days_left(b)))
            .then_with(|| a.code.layer().cmp(&b.code.layer()))
            .then_with(|| a.resource.cmp(&b.resource))
    });
}

fn verdict_of(findings: &[Finding]) -> Verdict {
    let worst = findings
        .iter()
        .filter(|f| f.code != Code::InspectionIncomplete)
        .map(|f| f.severity)
        .max();
    match worst {
        Some(Severity::Critical) => Verdict::Critical,
        Some(Severity::Warning) => Verdict::Warning,
        _ if findings
            .iter()
            .any(|f| f.code == Code::InspectionIncomplete) =>
        {
            Verdict::Unknown
        }
        _ => Verdict::Ok,
    }
}

/// What a report is about, from its trigger: a distribution, a CloudFront Function, a
/// certificate, or a sweep.
pub(crate) fn subject_of(trigger: &TriggerInfo) -> String {
    match trigger.subject() {
        ReportSubject::Distribution(id) => format!("distribution {id}"),
        ReportSubject::Function(name) => format!("CloudFront Function {name}"),
        ReportSubject::Certificate => "certificate".to_string(),
        ReportSubject::Sweep => "sweep".to_string(),
    }
}

fn summarise(
    trigger: &TriggerInfo,
    subject: &str,
    verdict: Verdict,
    findings: &[Finding],
) -> String {
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity).or_default() += 1;
    }
    match (verdict, findings.first()) {
        (Verdict::Ok, _) => format!("{subject}: no problem found"),
        (Verdict::Unknown, _) => format!(
            "{subject}: nothing wrong found, but the inspection was incomplete (see inspection-incomplete)"
        ),
        (_, Some(first)) if trigger.subject().is_digest() => {
            let counted: Vec<String> = [(Severity::Critical, "critical"), (Severity::Warning, "warning")]
                .iter()
                .filter_map(|(s, name)| counts.get(s).map(|n| format!("{n} {name}")))
                .collect();
            format!("{}: {subject}: {}; most urgent: {}", verdict.as_str().to_uppercase(), counted.join(", "), first.title)
        }
        (_, Some(first)) => {
            let more = match findings.len() - 1 {
                0 => String::new(),
                1 => " (+1 more finding)".to_string(),
                n => format!(" (+{n} more findings)"),
            };
            format!("{}: {}: {}{more}", verdict.as_str().to_uppercase(), subject, first.title)
        }
        (_, None) => format!("{subject}: {}", verdict.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: Code, severity: Severity, statuses: &[u16]) -> Finding {
        Finding::new(code, severity, "r")
            .statuses(statuses)
            .title(code.as_str())
    }

    #[test]
    fn the_finding_that_explains_the_alarmed_status_comes_first() {
        let mut findings = vec![
            finding(Code::OriginConnectionTimeout, Severity::Critical, &[504]),
            finding(Code::OriginCertExpired, Severity::Critical, &[502]),
        ];
        rank(&mut findings, Some(502));
        assert_eq!(findings[0].code, Code::OriginCertExpired);
        rank(&mut findings, Some(504));
        assert_eq!(findings[0].code, Code::OriginConnectionTimeout);
    }

    #[test]
    fn severity_outranks_layer() {
        let mut findings = vec![
            finding(Code::OriginCertExpiring, Severity::Warning, &[]),
            finding(Code::AcmCertExpired, Severity::Critical, &[]),
        ];
        rank(&mut findings, None);
        assert_eq!(findings[0].code, Code::AcmCertExpired);
    }

    #[test]
    fn the_nearer_expiry_comes_first_among_equals() {
        let mut findings = vec![
            finding(Code::AcmCertExpiring, Severity::Warning, &[]).days_left(Some(20)),
            finding(Code::AcmCertExpiring, Severity::Warning, &[]).days_left(Some(9)),
            finding(Code::AcmCertExpiring, Severity::Warning, &[]),
        ];
        rank(&mut findings, None);
        let order: Vec<_> = findings.iter().map(|f| f.facts.days_left).collect();
        assert_eq!(order, [Some(9), Some(20), None]);
    }

    #[test]
    fn a_gap_alone_is_unknown_not_ok() {
        let findings = vec![finding(Code::InspectionIncomplete, Severity::Warning, &[])];
        assert_eq!(verdict_of(&findings), Verdict::Unknown);
        assert_eq!(verdict_of(&[]), Verdict::Ok);
    }
}
