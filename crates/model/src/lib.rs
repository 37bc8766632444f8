//! cf-doctor's shared vocabulary, as plain data: the Evidence collect gathers, the Checks it ran,
//! the Findings rules derive, the Diagnosis render shows, and the small pure helpers more than one
//! of them needs (certificate name matching, TLS protocol order, whole days).
//!
//! No runtime, no AWS SDK, no network: every crate above may depend on this one, and this one on
//! none of them.

pub mod aws_names;
pub mod build_info;
pub mod check;
pub mod cloudfront_log;
pub mod console;
pub mod diagnosis;
pub mod evidence;
pub mod finding;
pub mod fix;
pub mod functions;
pub mod instance;
mod merge;
pub mod names;
pub mod organization;
pub mod replay;
pub mod routing;
pub mod tls;
pub mod vpc_origin;

pub use build_info::BuildInfo;
pub use check::{Check, CheckOutcome};
pub use diagnosis::{
    Diagnosis, Recovery, ReportSubject, TriggerInfo, TriggerKind, Verdict, SCHEMA,
};
pub use evidence::Evidence;
pub use finding::{Code, Facts, Finding, Layer, Severity};
pub use fix::{Fix, FixStep};

/// "expired 2026-11-28 06:41 UTC" or "expires 2027-03-01 06:41 UTC" (or "expiry unknown").
pub fn expiry_in_words(
    not_after: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    match not_after {
        Some(t) if t < now => format!("expired {}", t.format("%Y-%m-%d %H:%M UTC")),
        Some(t) => format!("expires {}", t.format("%Y-%m-%d %H:%M UTC")),
        None => "expiry unknown".to_string(),
    }
}

/// Whole days from `now` to `then`, counted as a person counts them: truncated toward zero, so a
/// certificate that expired 3 days and a minute ago is -3 days away ("expired 3 day(s) ago"), one
/// that expires in 3 days and a minute is 3, and one within a day either side is 0 (its date says
/// which side). The one rule for `days_left` and for the words beside it (docs/contract.md).
pub fn days_between(
    now: chrono::DateTime<chrono::Utc>,
    then: chrono::DateTime<chrono::Utc>,
) -> i64 {
    (then - now).num_seconds() / 86_400
}

/// `days_left` in words, by the same rule: "in 3 day(s)", "within a day", "3 day(s) ago".
pub fn days_in_words(days_left: i64) -> String {
    match days_left {
        0 => "within a day".to_string(),
        d if d > 0 => format!("in {d} day(s)"),
        d => format!("{} day(s) ago", -d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn days_are_whole_days_either_way_and_zero_within_one() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let at = |seconds: i64| days_between(now, now + Duration::seconds(seconds));
        assert_eq!(
            at(-(86_400 + 4)),
            -1,
            "expired 24 hours and 4 seconds ago: 1 day ago"
        );
        assert_eq!(at(-(3 * 86_400 + 60)), -3);
        assert_eq!(at(-4), 0, "expired seconds ago: less than a day");
        assert_eq!(at(3 * 86_400 + 60), 3);
        assert_eq!(at(5 * 3600), 0);
        assert_eq!(days_in_words(-1), "1 day(s) ago");
        assert_eq!(days_in_words(0), "within a day");
        assert_eq!(days_in_words(3), "in 3 day(s)");
    }
}
