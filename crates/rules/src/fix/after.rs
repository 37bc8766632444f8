//! What viewers still see right after a fix, from the distribution's own configuration: CloudFront
//! caches an error response for ErrorCachingMinTTL (10 seconds unless a custom error response for
//! that status sets it; longer when the origin's error carried a longer Cache-Control max-age),
//! an invalidation of the failing objects clears it sooner (each object on its own), and a change
//! to the distribution reaches every edge location only once it is deployed.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/custom-error-pages-expiration.html>

use cf_doctor_model::evidence::Distribution;
use cf_doctor_model::Finding;

/// Whether the fix changes the distribution itself (then it must deploy first).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Changes {
    Distribution,
    Elsewhere,
}

pub(crate) fn words(
    finding: &Finding,
    distribution: Option<&Distribution>,
    alarm_status: Option<u16>,
    changes: Changes,
) -> Option<String> {
    let distribution = distribution?;
    let statuses: Vec<u16> = match alarm_status {
        Some(status) if finding.status_codes.contains(&status) => vec![status],
        _ => finding
            .status_codes
            .iter()
            .copied()
            .filter(|s| (500..600).contains(s))
            .collect(),
    };
    if statuses.is_empty() {
        return None;
    }
    let cached: Vec<String> = statuses
        .iter()
        .map(|&status| {
            let (seconds, set) = distribution.error_caching_seconds(status);
            if set {
                format!("HTTP {status} for up to {seconds} seconds, the ErrorCachingMinTTL of the distribution's custom error response for {status}")
            } else {
                format!("HTTP {status} for up to {seconds} seconds, CloudFront's default ErrorCachingMinTTL (no custom error response sets one for {status})")
            }
        })
        .collect();
    let mut text = format!(
        "Right after the fix, edge locations that cached the error keep serving it: {}; longer when the origin's error response carried a longer Cache-Control max-age. To clear it sooner, invalidate the failing paths, each object on its own or with a wildcard: aws cloudfront create-invalidation --distribution-id {} --paths '/*'.",
        cached.join("; "),
        distribution.id
    );
    if changes == Changes::Distribution {
        text.push_str(&format!(
            " A change to distribution {} reaches every edge location once its status is Deployed again, usually within minutes.",
            distribution.id
        ));
    }
    Some(text)
}
