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
pub use diagnosis::{Diagnosis, Recovery, TriggerInfo, Verdict, SCHEMA};
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

/// Whole days from `now` to `then`, rounded down (negative once past): a certificate that expired
/// 3 days and a minute ago is -4 days away, and one expiring in 3 days and a minute is 3 days away.
pub fn days_between(
    now: chrono::DateTime<chrono::Utc>,
    then: chrono::DateTime<chrono::Utc>,
) -> i64 {
    (then - now).num_seconds().div_euclid(86_400)
}
