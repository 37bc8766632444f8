//! The digest (a sweep, an ACM event): one finding per root cause, naming everything it affects.
//! An origin certificate shared by ten distributions is one finding listing the ten; unused
//! certificates of one kind are one line of housekeeping; disabled distributions are listed in the
//! checks, not reported; and what needs nothing today is a count in the summary.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::certs;
use cf_doctor_model::evidence::OriginProbe;
use cf_doctor_model::{Code, Diagnosis, Evidence, Finding, Layer, Severity};

/// Distributions named in a grouped finding's title; the evidence lists them all.
const NAMED_IN_TITLE: usize = 3;

/// A disabled distribution is listed in the checks (skipped, not probed): in a nightly digest it
/// is not a finding.
pub fn without_disabled(findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| f.code != Code::DistributionDisabled)
        .collect()
}

/// The origin findings of every probe, one per root cause: the same certificate (by issuer and
/// serial) wherever it is presented, otherwise the same fault at the same endpoint. Each names
/// the distributions it affects, with their aliases.
pub fn by_root_cause(
    per_probe: Vec<(&OriginProbe, Vec<Finding>)>,
    evidence: &Evidence,
) -> Vec<Finding> {
    let mut groups: Vec<(String, Finding, Vec<String>, Vec<String>)> = Vec::new();
    for (probe, findings) in per_probe {
        let affected = distribution_label(evidence, &probe.distribution_id);
        for finding in findings {
            let key = root_cause(&finding, probe);
            let endpoint = probe.endpoint();
            match groups.iter_mut().find(|(k, ..)| *k == key) {
                Some((_, kept, distributions, endpoints)) => {
                    if finding.severity > kept.severity {
                        *kept = finding;
                    }
                    if !distributions.contains(&affected) {
                        distributions.push(affected.clone());
                    }
                    if !endpoints.contains(&endpoint) {
                        endpoints.push(endpoint);
                    }
                }
                None => groups.push((key, finding, vec![affected.clone()], vec![endpoint])),
            }
        }
    }
    groups
        .into_iter()
        .map(|(_, finding, distributions, endpoints)| {
            name_affected(finding, &distributions, &endpoints)
        })
        .collect()
}

/// What makes two origin findings one cause: the same certificate, or the same fault at the same
/// endpoint reached with the same name (two distributions forwarding different Hosts to one origin
/// meet different names there).
fn root_cause(finding: &Finding, probe: &OriginProbe) -> String {
    let certificate = match finding.code {
        Code::OriginCertExpired
        | Code::OriginCertExpiring
        | Code::OriginCertNotYetValid
        | Code::OriginCertSelfSigned
        | Code::OriginCertUntrusted => certificate_identity(&finding.evidence),
        _ => None,
    };
    let endpoint = finding
        .resource
        .split_once('@')
        .map(|(endpoint, _)| endpoint)
        .unwrap_or(&finding.resource);
    match certificate {
        Some(id) => format!("{}|certificate|{id}", finding.code),
        // Below TLS the name sent does not matter; from the handshake up it does.
        None if finding.code.layer() <= Layer::Connection => {
            format!("{}|endpoint|{endpoint}", finding.code)
        }
        None => format!("{}|endpoint|{endpoint}|{}", finding.code, probe.server_name),
    }
}

/// Issuer and serial of the certificate a finding is about (at the top of its evidence, or under
/// `leaf`).
fn certificate_identity(evidence: &Value) -> Option<String> {
    let of = |v: &Value| {
        let serial = v.get("serial")?.as_str()?;
        let issuer = v.get("issuer").and_then(Value::as_str).unwrap_or("");
        Some(format!("{issuer}#{serial}"))
    };
    of(evidence).or_else(|| evidence.get("leaf").and_then(of))
}

/// `E2EXAMPLE (shop.example, www.shop.example)`, or the CloudFront domain without aliases.
fn distribution_label(evidence: &Evidence, id: &str) -> String {
    match evidence.distributions.iter().find(|d| d.id == id) {
        Some(d) if !d.aliases.is_empty() => format!("{id} ({})", d.aliases.join(", ")),
        Some(d) if !d.domain_name.is_empty() => format!("{id} ({})", d.domain_name),
        _ => id.to_string(),
    }
}

fn name_affected(mut finding: Finding, distributions: &[String], endpoints: &[String]) -> Finding {
    let mut named: Vec<&str> = distributions
        .iter()
        .take(NAMED_IN_TITLE)
        .map(String::as_str)
        .collect();
    let more = distributions.len().saturating_sub(NAMED_IN_TITLE);
    let more_text = format!("and {more} more");
    if more > 0 {
        named.push(&more_text);
    }
    let whom = match distributions.len() {
        1 => format!("distribution {}", named.join(", ")),
        n => format!("{n} distributions: {}", named.join(", ")),
    };
    let also = match endpoints.len() {
        0 | 1 => String::new(),
        n => format!(" (the same certificate on {} other origins)", n - 1),
    };
    finding.title = format!("{}{also}; affects {whom}", finding.title);
    if let Value::Object(map) = &mut finding.evidence {
        map.insert("distributions".into(), json!(distributions));
        if endpoints.len() > 1 {
            map.insert("origins".into(), json!(endpoints));
        }
    }
    finding
}

/// Unused certificates are housekeeping: several of one kind are one info finding listing them
/// all, instead of one finding each.
pub fn unused_certificates_together(findings: Vec<Finding>) -> Vec<Finding> {
    let (unused, mut out): (Vec<Finding>, Vec<Finding>) = findings
        .into_iter()
        .partition(|f| f.severity == Severity::Info && f.evidence["unused"] == true);
    let mut by_code: BTreeMap<Code, Vec<Finding>> = BTreeMap::new();
    for f in unused {
        by_code.entry(f.code).or_default().push(f);
    }
    for (code, mut group) in by_code {
        if group.len() == 1 {
            out.append(&mut group);
            continue;
        }
        out.push(unused_group(code, group));
    }
    out
}

fn unused_group(code: Code, mut group: Vec<Finding>) -> Finding {
    group.sort_by_key(|f| f.facts.days_left.unwrap_or(i64::MAX));
    let n = group.len();
    let title = match code {
        Code::AcmCertExpired => format!("{n} unused ACM certificates have expired: delete them"),
        Code::AcmCertNotIssued => {
            format!("{n} unused ACM certificates were never issued: delete them")
        }
        Code::AcmCertExpiring => {
            format!("{n} unused ACM certificates expire soon: delete them or let them lapse")
        }
        _ => format!("{n} unused ACM certificates will not renew: delete them or attach them"),
    };
    let listed: Vec<String> = group
        .iter()
        .map(|f| {
            let domain = f.evidence["domain_name"].as_str().unwrap_or("?");
            match f.facts.days_left {
                Some(days) => format!("{} ({domain}, days_left={days})", f.resource),
                None => format!("{} ({domain})", f.resource),
            }
        })
        .collect();
    let nearest = group[0].facts.days_left;
    Finding::new(code, Severity::Info, format!("{n} unused certificates"))
        .title(title)
        .evidence(json!({"unused": true, "count": n, "certificates": listed}))
        .days_left(nearest)
        .remediation(group[0].remediation.clone())
}

/// What the digest covered and what needs nothing today, for the summary line: distributions
/// (disabled ones listed, not probed) and certificates (imported ones with no expiry in the
/// warning window, unused ones).
pub fn inventory(evidence: &Evidence) -> String {
    let distributions = evidence.distributions.len();
    let disabled = evidence.distributions.iter().filter(|d| !d.enabled).count();
    let mut text = format!("{distributions} distribution(s)");
    if disabled > 0 {
        text.push_str(&format!(" ({disabled} disabled)"));
    }
    let certificates = evidence.certificates.len();
    text.push_str(&format!(", {certificates} certificate(s)"));
    let warn = evidence.thresholds.expiry_warn_days;
    let days_left = |c: &cf_doctor_model::evidence::AcmCertificate| {
        c.not_after
            .map(|t| cf_doctor_model::days_between(evidence.now, t))
    };
    let imported_later = evidence
        .certificates
        .iter()
        .filter(|c| c.cert_type == "IMPORTED" && days_left(c).is_some_and(|d| d > warn))
        .count();
    let unused = evidence
        .certificates
        .iter()
        .filter(|c| certs::unused(c))
        .count();
    let mut notes = Vec::new();
    if imported_later > 0 {
        notes.push(format!(
            "{imported_later} imported, none of them expiring within {warn} days"
        ));
    }
    if unused > 0 {
        notes.push(format!("{unused} unused"));
    }
    if !notes.is_empty() {
        text.push_str(&format!(" ({})", notes.join("; ")));
    }
    text
}

/// A digest's summary: what to do today first, then what was covered.
pub fn summarise(d: &mut Diagnosis, evidence: &Evidence) {
    if d.trigger.kind == cf_doctor_model::TriggerKind::AcmEvent {
        return;
    }
    d.summary = format!("{}; {}", d.summary, inventory(evidence));
}
