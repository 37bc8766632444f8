//! The text report, for a terminal at 3 a.m.: verdict and probable cause first, then each finding
//! with its evidence, fix and docs, then everything that was checked.

use std::fmt::Write;

use super::{evidence_line, is_digest, of_severity};
use cf_doctor_model::{CheckOutcome, Diagnosis, Severity};

/// One-line items a digest's first screen shows per severity before "and N more".
const TODO_SHOWN: usize = 10;

pub fn render(d: &Diagnosis) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", d.summary);
    let _ = writeln!(
        out,
        "trigger:        {} ({})",
        d.trigger.detail, d.trigger.kind
    );
    let _ = writeln!(out, "verdict:        {}", d.verdict.as_str());
    if let Some(cause) = d.probable_cause {
        let _ = writeln!(out, "probable cause: {cause}");
    }
    if is_digest(d) {
        todo_list(&mut out, d);
    }
    if !d.findings.is_empty() {
        let _ = writeln!(out, "\nFindings, most likely cause first:");
    }
    for (i, f) in d.findings.iter().enumerate() {
        let viewers = if f.status_codes.is_empty() {
            String::new()
        } else {
            format!(
                "  (viewers get {})",
                f.status_codes
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join("/")
            )
        };
        let severity = f.severity.as_str().to_uppercase();
        let _ = writeln!(out, "\n{}. [{severity}] {}{viewers}", i + 1, f.code);
        let _ = writeln!(out, "   {}", f.title);
        let _ = writeln!(out, "   resource: {}", f.resource);
        let evidence = evidence_line(&f.evidence, 600);
        if !evidence.is_empty() {
            let _ = writeln!(out, "   evidence: {evidence}");
        }
        let _ = writeln!(out, "   fix:      {}", f.remediation);
        if let Some(fix) = f.fix.as_ref().filter(|_| i < super::fix::FIXES_SHOWN) {
            let _ = writeln!(out, "   steps:");
            for line in super::fix::lines(fix, "     ") {
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = writeln!(out, "   docs:     {}", f.docs);
    }
    if let Some(lines) = super::cloudfront_log::lines(d) {
        let _ = writeln!(out, "\nWhat CloudFront logged:");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    let with_data: Vec<_> = d.metrics.iter().filter(|m| m.latest.is_some()).collect();
    if !d.metrics.is_empty() {
        let _ = writeln!(
            out,
            "\nMetrics (CloudWatch, last 15 minutes): {} with data, {} without",
            with_data.len(),
            d.metrics.len() - with_data.len()
        );
        for m in with_data {
            let _ = writeln!(
                out,
                "  {:<26} {:<40} latest {:>10.2}  max {:>10.2}  ({})",
                m.metric,
                m.resource,
                m.latest.unwrap_or_default(),
                m.max.unwrap_or_default(),
                m.statistic
            );
        }
    }
    let count = |o: CheckOutcome| d.checks.iter().filter(|c| c.outcome == o).count();
    let _ = writeln!(
        out,
        "\nChecks: {} run, {} passed, {} failed, {} errors, {} skipped",
        d.checks.len(),
        count(CheckOutcome::Pass),
        count(CheckOutcome::Fail),
        count(CheckOutcome::Error),
        count(CheckOutcome::Skipped)
    );
    for c in &d.checks {
        let outcome = match c.outcome {
            CheckOutcome::Pass => "pass",
            CheckOutcome::Fail => "FAIL",
            CheckOutcome::Error => "ERROR",
            CheckOutcome::Skipped => "skip",
        };
        let detail = c
            .detail
            .as_deref()
            .map(|d| format!("  {d}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {outcome:<5} {:<30} {} ({} ms){detail}",
            c.name, c.target, c.duration_ms
        );
    }
    let _ = writeln!(
        out,
        "\nstarted {} and took {} ms",
        d.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        d.duration_ms
    );
    out
}

/// A digest's first screen: what must be done today, what this month, and how much else is there.
fn todo_list(out: &mut String, d: &Diagnosis) {
    for (severity, heading) in [
        (Severity::Critical, "To do today (critical)"),
        (Severity::Warning, "Soon (warning)"),
    ] {
        let listed = of_severity(d, severity);
        if listed.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{heading}: {}", listed.len());
        for f in listed.iter().take(TODO_SHOWN) {
            let _ = writeln!(out, "  - [{}] {}", f.code, f.title);
        }
        if listed.len() > TODO_SHOWN {
            let _ = writeln!(out, "  ... and {} more (below)", listed.len() - TODO_SHOWN);
        }
    }
    let notes = of_severity(d, Severity::Info).len();
    if notes > 0 {
        let _ = writeln!(out, "\nNotes (info, housekeeping): {notes} (below)");
    }
    if d.findings.is_empty() {
        let _ = writeln!(out, "\nNothing to do today.");
    }
}
