//! A postmortem for a terminal: the incident's span and size first, then what CloudFront logged
//! it as, where and on which paths, the minutes with 5xx, and where the logs were read (or
//! looked for in vain). The JSON is `cf-doctor/postmortem/v1` itself.

use std::collections::BTreeMap;
use std::fmt::Write;

use cf_doctor_model::cloudfront_log::Postmortem;

/// Minutes with 5xx listed at most (the JSON has every minute).
const MINUTES_SHOWN: usize = 120;
/// Sources named at most (the JSON names all).
const SOURCES_SHOWN: usize = 5;

fn counted(counts: &BTreeMap<String, u64>) -> String {
    let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<String> = sorted
        .iter()
        .take(10)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    match sorted.len().saturating_sub(10) {
        0 => shown.join(", "),
        more => format!("{} (+{more} more)", shown.join(", ")),
    }
}

pub fn text(p: &Postmortem) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Postmortem of {} from {} to {} UTC",
        p.distribution_id,
        p.window.from.format("%Y-%m-%d %H:%M:%S"),
        p.window.to.format("%Y-%m-%d %H:%M:%S")
    );
    let share = if p.requests > 0 {
        format!(" ({:.1}%)", p.errors_5xx as f64 * 100.0 / p.requests as f64)
    } else {
        String::new()
    };
    let span = match (p.first_error_at, p.last_error_at) {
        (Some(first), Some(last)) => format!(
            ", from {} to {}",
            first.format("%Y-%m-%d %H:%M:%S"),
            last.format("%Y-%m-%d %H:%M:%S")
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{} requests logged, {} answered 5xx{share}{span}",
        p.requests, p.errors_5xx
    );
    if p.errors_5xx > 0 {
        let _ = writeln!(out, "\n5xx by result type: {}", counted(&p.by_result_type));
        let _ = writeln!(out, "5xx by status: {}", counted(&p.by_status));
        let _ = writeln!(
            out,
            "5xx by edge location: {}",
            counted(&p.by_edge_location)
        );
        let paths: Vec<String> = p
            .by_path
            .iter()
            .map(|c| format!("{} {}", c.path, c.errors_5xx))
            .collect();
        let _ = writeln!(out, "5xx by path: {}", paths.join(", "));
        let failing: Vec<_> = p.timeline.iter().filter(|m| m.errors_5xx > 0).collect();
        let _ = writeln!(out, "\nMinutes with 5xx ({}):", failing.len());
        for minute in failing.iter().take(MINUTES_SHOWN) {
            let _ = writeln!(
                out,
                "  {}  {:>7} requests  {:>7} 5xx",
                minute.minute.format("%Y-%m-%d %H:%M"),
                minute.requests,
                minute.errors_5xx
            );
        }
        if failing.len() > MINUTES_SHOWN {
            let _ = writeln!(
                out,
                "  ... and {} more (the JSON lists every minute)",
                failing.len() - MINUTES_SHOWN
            );
        }
    }
    let _ = writeln!(out, "\nRead {} source(s):", p.sources.len());
    for source in p.sources.iter().take(SOURCES_SHOWN) {
        let _ = writeln!(out, "  {source}");
    }
    if p.sources.len() > SOURCES_SHOWN {
        let _ = writeln!(out, "  ... and {} more", p.sources.len() - SOURCES_SHOWN);
    }
    if p.outside_window > 0 {
        let _ = writeln!(
            out,
            "{} record(s) dated outside the window were not counted",
            p.outside_window
        );
    }
    if let Some(unreadable) = &p.unreadable {
        let _ = writeln!(
            out,
            "{} line(s) were not log records (the first: {})",
            unreadable.lines, unreadable.first
        );
    }
    for note in &p.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
