//! Many accounts: every finding of a member account names that account; one account's digest
//! shrinks to a bounded summary (findings above info, counts of the rest) that fits in a Step
//! Functions state; an account that could not be inspected is a gap naming it; and the summaries
//! of every account merge into one organization digest, most urgent first.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::ranking;
use cf_doctor_model::evidence::Gap;
use cf_doctor_model::organization::{AccountCounts, AccountSweep, ACCOUNT_SWEEP_SCHEMA};
use cf_doctor_model::{
    Check, CheckOutcome, Code, Diagnosis, Evidence, Finding, Severity, TriggerInfo, Verdict,
};

/// What the organization digest is about, in its summary and SNS subject.
const SUBJECT: &str = "organization sweep";

/// Names the account in every finding (`evidence.account`, and the title begins with it) and in
/// the summary, for a report collected in a member account.
pub fn name_account(diagnosis: &mut Diagnosis, account: &str) {
    for finding in &mut diagnosis.findings {
        name_in_finding(finding, account);
    }
    // The summary opens with the verdict and what the report is about ("CRITICAL: distribution
    // E2EXAMPLE: ..."); the account goes right after the subject.
    let subject = ranking::subject_of(&diagnosis.trigger);
    let in_account = format!("{subject} in account {account}");
    diagnosis.summary = match diagnosis.summary.find(&subject) {
        Some(at) => format!(
            "{}{in_account}{}",
            &diagnosis.summary[..at],
            &diagnosis.summary[at + subject.len()..]
        ),
        None => format!("account {account}: {}", diagnosis.summary),
    };
}

fn name_in_finding(finding: &mut Finding, account: &str) {
    let prefix = format!("account {account}: ");
    if !finding.title.starts_with(&prefix) {
        finding.title = format!("{prefix}{}", finding.title);
    }
    match &mut finding.evidence {
        Value::Object(map) => {
            map.insert("account".into(), json!(account));
        }
        other => *other = json!({"account": account}),
    }
}

/// One account's digest as the merge needs it, under `max_bytes` of JSON: its findings above
/// info (already naming the account), and counts of the rest. Past the bound, the evidence of the
/// lowest findings gives way first, then the lowest findings, and `truncated` says so.
pub fn account_summary(
    account: &str,
    name: Option<&str>,
    digest: &Diagnosis,
    distributions: usize,
    certificates: usize,
    max_bytes: usize,
) -> AccountSweep {
    let count = |severity| {
        digest
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let mut summary = AccountSweep {
        schema: ACCOUNT_SWEEP_SCHEMA.to_string(),
        build: Default::default(),
        account: account.to_string(),
        name: name.map(str::to_string),
        verdict: digest.verdict,
        summary: digest.summary.clone(),
        findings: digest
            .findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .cloned()
            .collect(),
        counts: AccountCounts {
            critical: count(Severity::Critical),
            warning: count(Severity::Warning),
            info: count(Severity::Info),
            distributions,
            certificates,
            checks: digest.checks.len(),
        },
        truncated: None,
        not_inspected: None,
        started_at: digest.started_at,
        duration_ms: digest.duration_ms,
    };
    bound(&mut summary, max_bytes);
    summary
}

/// Room for the `truncated` note itself.
const NOTE_ROOM: usize = 256;

/// Keeps the summary's JSON under `max_bytes`: each finding's size is measured once, then the
/// lowest findings' evidence (all but the account and days left) and then the lowest findings
/// give way until the rest fits.
fn bound(summary: &mut AccountSweep, max_bytes: usize) {
    if summary_len(summary) <= max_bytes {
        return;
    }
    let budget = max_bytes.saturating_sub(NOTE_ROOM);
    let findings = std::mem::take(&mut summary.findings);
    let frame = summary_len(summary);
    // Each finding costs its JSON and a comma.
    let full: Vec<usize> = findings.iter().map(|f| finding_len(f) + 1).collect();
    let slim: Vec<Finding> = findings.iter().map(slimmed).collect();
    let slim_sizes: Vec<usize> = slim.iter().map(|f| finding_len(f) + 1).collect();
    // Keep the first `kept` findings, the first `whole` of them with their evidence.
    let mut kept = findings.len();
    let mut whole = findings.len();
    let total = |kept: usize, whole: usize| {
        frame + full[..whole].iter().sum::<usize>() + slim_sizes[whole..kept].iter().sum::<usize>()
    };
    while whole > 0 && total(kept, whole) > budget {
        whole -= 1;
    }
    while kept > 0 && total(kept, whole.min(kept)) > budget {
        kept -= 1;
    }
    let whole = whole.min(kept);
    let slimmed_count = kept - whole;
    let dropped = findings.len() - kept;
    summary.findings = findings
        .into_iter()
        .zip(slim)
        .take(kept)
        .enumerate()
        .map(|(i, (full, slim))| if i < whole { full } else { slim })
        .collect();
    let mut went = Vec::new();
    if slimmed_count > 0 {
        went.push(format!("the evidence of {slimmed_count} finding(s)"));
    }
    if dropped > 0 {
        went.push(format!("{dropped} lower finding(s)"));
    }
    summary.truncated = Some(format!(
        "{} left out to keep this account's summary under {max_bytes} bytes (a Step Functions state holds 256 KB); the account's full digest is in the log of the run that swept it",
        went.join(" and ")
    ));
}

/// A finding without its evidence, but still naming its account and, for ranking, its days left.
fn slimmed(finding: &Finding) -> Finding {
    let mut kept = serde_json::Map::new();
    for key in ["account", "days_left"] {
        if let Some(v) = finding.evidence.get(key) {
            kept.insert(key.into(), v.clone());
        }
    }
    kept.insert(
        "omitted".into(),
        json!("evidence left out to keep the summary bounded"),
    );
    let mut slim = finding.clone();
    slim.evidence = Value::Object(kept);
    slim
}

fn summary_len(summary: &AccountSweep) -> usize {
    serde_json::to_vec(summary).map(|v| v.len()).unwrap_or(0)
}

fn finding_len(finding: &Finding) -> usize {
    serde_json::to_vec(finding).map(|v| v.len()).unwrap_or(0)
}

/// An account that could not be inspected at all: its summary is one `inspection-incomplete`
/// finding naming the account, what failed and why, never a failed run.
pub fn not_inspected(
    account: &str,
    name: Option<&str>,
    action: &str,
    error: &str,
    started_at: DateTime<Utc>,
    duration_ms: u64,
) -> AccountSweep {
    let mut finding = account_gap(account, action, error);
    name_in_finding(&mut finding, account);
    AccountSweep {
        schema: ACCOUNT_SWEEP_SCHEMA.to_string(),
        build: Default::default(),
        account: account.to_string(),
        name: name.map(str::to_string),
        verdict: Verdict::Unknown,
        summary: format!("account {account}: not inspected: {action}: {error}"),
        findings: vec![finding],
        counts: AccountCounts {
            warning: 1,
            ..AccountCounts::default()
        },
        truncated: None,
        not_inspected: Some(format!("{action}: {error}")),
        started_at,
        duration_ms,
    }
}

fn account_gap(account: &str, action: &str, error: &str) -> Finding {
    let remediation = if action == "sts:AssumeRole" {
        format!("Deploy member-template.yaml to account {account} (the StackSet does so for every account of the organizational units it targets) and check that the role trusts the central function's role; until then the account is not inspected.")
    } else {
        format!("Run the account's sweep again (`cf-doctor sweep --accounts {account}`), or look at the run's log for why it did not finish; until then the account is not inspected.")
    };
    Finding::new(
        Code::InspectionIncomplete,
        Severity::Warning,
        format!("account {account}"),
    )
    .title(format!("Could not inspect the account: {action} failed"))
    .evidence(json!({
        "action": action,
        "error": error,
        "unchecked": format!("every distribution and certificate in account {account}"),
    }))
    .remediation(remediation)
}

/// The same gap in an incident report: the alarm came from a member account whose role could not
/// be assumed, so nothing could be inspected there.
pub fn account_unreachable(
    trigger: TriggerInfo,
    account: &str,
    action: &str,
    error: &str,
    started_at: DateTime<Utc>,
    duration_ms: u64,
) -> Diagnosis {
    let mut diagnosis = ranking::assemble(
        trigger,
        vec![account_gap(account, action, error)],
        Vec::new(),
        started_at,
        duration_ms,
    );
    name_account(&mut diagnosis, account);
    diagnosis
}

/// Every account's summary merged into one organization digest: all their findings ranked
/// together (each names its account), one `account-sweep` check per account, and a summary
/// that ends with what was covered. `unread` are results that could not be read (a result file
/// the digest could not get): gaps, beside the rest.
pub fn merge(
    mut accounts: Vec<AccountSweep>,
    unread: Vec<Gap>,
    trigger: TriggerInfo,
    started_at: DateTime<Utc>,
    duration_ms: u64,
) -> Diagnosis {
    accounts.sort_by(|a, b| a.account.cmp(&b.account));
    let mut findings = Vec::new();
    let mut checks = Vec::new();
    for account in &accounts {
        findings.extend(account.findings.iter().cloned());
        checks.push(account_check(account));
    }
    findings.extend(crate::gaps::findings(&Evidence {
        gaps: unread,
        ..Evidence::default()
    }));
    let mut digest = ranking::assemble_about(
        SUBJECT.to_string(),
        trigger,
        findings,
        checks,
        started_at,
        duration_ms,
    );
    digest.summary = format!("{}; {}", digest.summary, inventory(&accounts));
    digest
}

fn account_check(account: &AccountSweep) -> Check {
    let outcome = match (&account.not_inspected, account.verdict) {
        (Some(_), _) | (None, Verdict::Unknown) => CheckOutcome::Error,
        (None, Verdict::Ok) => CheckOutcome::Pass,
        (None, _) => CheckOutcome::Fail,
    };
    let target = match &account.name {
        Some(name) if !name.is_empty() => format!("{} ({name})", account.account),
        _ => account.account.clone(),
    };
    let mut detail = account.summary.clone();
    if let Some(note) = &account.truncated {
        detail.push_str(&format!(" [{note}]"));
    }
    Check::new(
        "account-sweep",
        &target,
        outcome,
        account.duration_ms,
        Some(detail),
    )
}

/// `3 account(s) (1 not inspected), 60 distribution(s), 300 certificate(s); 250 notes (info) in the accounts' own digests`.
fn inventory(accounts: &[AccountSweep]) -> String {
    let not_inspected = accounts
        .iter()
        .filter(|a| a.not_inspected.is_some())
        .count();
    let sum = |f: fn(&AccountCounts) -> usize| accounts.iter().map(|a| f(&a.counts)).sum::<usize>();
    let mut text = format!("{} account(s)", accounts.len());
    if not_inspected > 0 {
        text.push_str(&format!(" ({not_inspected} not inspected)"));
    }
    text.push_str(&format!(
        ", {} distribution(s), {} certificate(s)",
        sum(|c| c.distributions),
        sum(|c| c.certificates)
    ));
    let info = sum(|c| c.info);
    if info > 0 {
        text.push_str(&format!(
            "; {info} note(s) (info) left in the accounts' own digests"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-12-01T02:00:00Z".parse().unwrap()
    }

    fn finding(code: Code, severity: Severity, resource: &str) -> Finding {
        Finding::new(code, severity, resource)
            .title(format!("{code} on {resource}"))
            .evidence(json!({"detail": "x".repeat(400)}))
    }

    fn digest(findings: Vec<Finding>) -> Diagnosis {
        ranking::assemble(
            TriggerInfo::manual("manual sweep", None),
            findings,
            Vec::new(),
            at(),
            5,
        )
    }

    #[test]
    fn naming_an_account_reaches_every_finding_and_the_summary() {
        let mut d = ranking::assemble(
            TriggerInfo::manual("diagnose", Some("E2EXAMPLE".into())),
            vec![finding(
                Code::OriginCertExpired,
                Severity::Critical,
                "o:443",
            )],
            Vec::new(),
            at(),
            5,
        );
        name_account(&mut d, "111122223333");
        assert!(
            d.summary
                .starts_with("CRITICAL: distribution E2EXAMPLE in account 111122223333: origin-cert-expired on o:443"),
            "{}",
            d.summary
        );
        assert_eq!(d.findings[0].evidence["account"], "111122223333");
        // Naming twice does not say it twice.
        let title = d.findings[0].title.clone();
        name_in_finding(&mut d.findings[0], "111122223333");
        assert_eq!(d.findings[0].title, title);
    }

    #[test]
    fn an_account_summary_keeps_findings_above_info_and_counts_the_rest() {
        let d = digest(vec![
            finding(Code::AcmCertExpired, Severity::Critical, "arn:1"),
            finding(Code::AcmCertExpiring, Severity::Info, "arn:2"),
            finding(Code::AcmCertExpiring, Severity::Warning, "arn:3"),
        ]);
        let s = account_summary("111122223333", None, &d, 0, 0, 1 << 20);
        let codes: Vec<_> = s.findings.iter().map(|f| f.resource.as_str()).collect();
        assert_eq!(codes, ["arn:1", "arn:3"]);
        assert_eq!(
            (s.counts.critical, s.counts.warning, s.counts.info),
            (1, 1, 1)
        );
        assert_eq!(s.truncated, None);
    }

    #[test]
    fn a_summary_over_its_bound_gives_way_from_the_lowest_finding_and_says_so() {
        let findings: Vec<Finding> = (0..200)
            .map(|i| {
                finding(
                    Code::AcmCertExpiring,
                    Severity::Warning,
                    &format!("arn:{i:03}"),
                )
                .days_left(Some(i))
            })
            .collect();
        let d = digest(findings);
        for max in [20_000, 60_000, 2_000] {
            let s = account_summary("111122223333", None, &d, 0, 0, max);
            let size = serde_json::to_vec(&s).unwrap().len();
            assert!(size <= max, "{size} > {max}");
            let note = s.truncated.as_deref().unwrap();
            assert!(note.contains(&max.to_string()), "{note}");
            // The most urgent finding is kept first, whatever went.
            if let Some(first) = s.findings.first() {
                assert_eq!(first.resource, "arn:000");
            }
        }
        let s = account_summary("111122223333", None, &d, 0, 0, 60_000);
        assert!(
            s.findings.len() > 50,
            "slimmed findings stay: {}",
            s.findings.len()
        );
        assert!(s
            .findings
            .iter()
            .any(|f| f.evidence.get("omitted").is_some()));
        assert!(s
            .findings
            .iter()
            .all(|f| f.facts.days_left.is_some() || f.evidence.get("days_left").is_some()));
    }

    #[test]
    fn the_merge_ranks_every_account_together_and_names_each_finding_s_account() {
        let mut a = digest(vec![finding(
            Code::AcmCertExpiring,
            Severity::Warning,
            "arn:a",
        )]);
        name_account(&mut a, "111111111111");
        let mut b = digest(vec![finding(
            Code::OriginCertExpired,
            Severity::Critical,
            "o:443",
        )]);
        name_account(&mut b, "222222222222");
        let accounts = vec![
            account_summary("111111111111", Some("shop"), &a, 20, 100, 1 << 20),
            account_summary("222222222222", None, &b, 0, 0, 1 << 20),
            not_inspected(
                "333333333333",
                None,
                "sts:AssumeRole",
                "AccessDenied: not authorized",
                at(),
                3,
            ),
        ];
        let d = merge(
            accounts,
            Vec::new(),
            TriggerInfo::manual("organization sweep", None),
            at(),
            9,
        );
        let named: Vec<(&str, &str)> = d
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.evidence["account"].as_str().unwrap()))
            .collect();
        assert_eq!(
            named,
            [
                ("origin-cert-expired", "222222222222"),
                ("acm-cert-expiring", "111111111111"),
                ("inspection-incomplete", "333333333333")
            ]
        );
        assert_eq!(d.verdict, Verdict::Critical);
        assert!(
            d.summary
                .starts_with("CRITICAL: organization sweep: 1 critical, 2 warning"),
            "{}",
            d.summary
        );
        assert!(
            d.summary.ends_with(
                "3 account(s) (1 not inspected), 20 distribution(s), 100 certificate(s)"
            ),
            "{}",
            d.summary
        );
        let checks: Vec<(&str, &str)> = d
            .checks
            .iter()
            .map(|c| (c.target.as_str(), c.outcome.as_str()))
            .collect();
        assert_eq!(
            checks,
            [
                ("111111111111 (shop)", "fail"),
                ("222222222222", "fail"),
                ("333333333333", "error")
            ]
        );
        assert!(
            d.findings[2].title.contains("account 333333333333"),
            "{}",
            d.findings[2].title
        );
    }

    #[test]
    fn only_gaps_across_the_organization_is_unknown_not_ok() {
        let d = merge(
            vec![not_inspected(
                "333333333333",
                None,
                "sweep",
                "did not finish within 840 s",
                at(),
                840_000,
            )],
            Vec::new(),
            TriggerInfo::manual("organization sweep", None),
            at(),
            9,
        );
        assert_eq!(d.verdict, Verdict::Unknown);
    }
}
