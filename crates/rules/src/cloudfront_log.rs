//! What CloudFront itself logged of the alarm's window, beside what cf-doctor measured from where
//! it runs. Each cause a finding names produces the result types CloudFront logs for it
//! (`x-edge-detailed-result-type`: OriginConnectError when it cannot connect or complete TLS,
//! OriginDnsError when it cannot resolve the origin, OriginCommError and OriginReadError when the
//! origin times out, its own types for the edge's code): where the logs agree, the finding says so
//! and ranks first; where they disagree, it says that too. Origin errors CloudFront logged that no
//! finding explains are a finding of their own: CloudFront saw something this probe did not (a
//! different resolver, a different network path).
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html>

use serde_json::json;

use cf_doctor_model::cloudfront_log::CloudfrontLog;
use cf_doctor_model::{Code, Evidence, Finding, Severity};

/// The result types CloudFront logs for the failure `code` describes.
fn produces(code: Code) -> &'static [&'static str] {
    match code {
        Code::OriginDnsFailure => &["OriginDnsError"],
        Code::OriginConnectionTimeout => &["OriginConnectError", "OriginCommError"],
        Code::OriginConnectionRefused
        | Code::OriginSecurityGroupBlocksPort
        | Code::OriginListenerMissing
        | Code::OriginInstanceNotRunning
        | Code::VpcOriginNotDeployed
        | Code::OriginTlsHandshakeFailed
        | Code::OriginTlsProtocolMismatch
        | Code::OriginCertExpired
        | Code::OriginCertNotYetValid
        | Code::OriginCertNameMismatch
        | Code::OriginCertSelfSigned
        | Code::OriginCertUntrusted
        | Code::OriginCertChainOrder
        | Code::OriginMtlsCertExpired
        | Code::AcmCertExpired
        | Code::AcmCertNotIssued => &["OriginConnectError"],
        Code::OriginSlow => &["OriginCommError", "OriginReadError"],
        Code::OriginHttpError | Code::OriginNoHealthyTargets => &["Error", "OriginError"],
        Code::LambdaEdgeExecutionError => &["LambdaExecutionError"],
        Code::LambdaEdgeValidationError => &["LambdaValidationError"],
        Code::LambdaEdgeThrottled => &["LambdaLimitExceeded"],
        Code::CloudfrontFunctionExecutionError => &["FunctionExecutionError"],
        Code::CloudfrontFunctionValidationError => &["FunctionValidationError"],
        Code::CloudfrontFunctionThrottled => &["FunctionThrottledError"],
        _ => &[],
    }
}

/// The result types that say the origin failed CloudFront (not the viewer, not the edge's code).
fn origin_failure(result_type: &str) -> bool {
    result_type.starts_with("Origin")
        || matches!(result_type, "AbortedOrigin" | "SlowReaderOriginError")
}

/// The status CloudFront gives viewers for an origin failure of this type.
fn status_of(result_type: &str) -> u16 {
    match result_type {
        "OriginCommError" | "OriginReadError" | "SlowReaderOriginError" => 504,
        _ => 502,
    }
}

/// Says on each finding that claims to give viewers a 5xx whether CloudFront's logs agree.
pub fn weigh(findings: &mut [Finding], log: &CloudfrontLog) {
    if log.records == 0 {
        return;
    }
    for finding in findings
        .iter_mut()
        .filter(|f| f.severity > Severity::Info && !f.status_codes.is_empty())
    {
        let types = produces(finding.code);
        if types.is_empty() {
            continue;
        }
        let named = types.join(" or ");
        let count = log.count_of(types);
        let (words, agrees) = if log.errors_5xx == 0 {
            (
                format!(
                    "CloudFront logged no 5xx among the {} requests it logged in the window",
                    log.records
                ),
                false,
            )
        } else if count * 2 >= log.errors_5xx {
            (
                format!(
                    "CloudFront logged {count} of its {} 5xx in the window as {named}, what this cause produces",
                    log.errors_5xx
                ),
                true,
            )
        } else {
            let (dominant, most) = log.dominant().unwrap_or(("?", 0));
            (
                format!(
                    "CloudFront logged {count} of its {} 5xx in the window as {named}, what this cause produces; most were {dominant} ({most})",
                    log.errors_5xx
                ),
                false,
            )
        };
        finding.set_cloudfront_logged(words, agrees);
    }
}

/// Origin failures CloudFront logged that no finding agrees with: CloudFront saw them, this probe
/// did not. Critical when they explain the status the alarm is about.
pub fn unexplained(
    findings: &[Finding],
    evidence: &Evidence,
    alarm_status: Option<u16>,
) -> Option<Finding> {
    let log = evidence.cloudfront_log.as_ref()?;
    let failures: Vec<(&String, u64)> = log
        .by_result_type
        .iter()
        .filter(|(t, _)| origin_failure(t))
        .map(|(t, n)| (t, *n))
        .collect();
    let total: u64 = failures.iter().map(|(_, n)| n).sum();
    if total == 0
        || findings
            .iter()
            .any(|f| f.facts.cloudfront_agrees == Some(true))
    {
        return None;
    }
    let (dominant, count) = failures
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(t, n)| (t.as_str(), *n))?;
    let status = status_of(dominant);
    let explains = match alarm_status {
        Some(alarm) => alarm == status,
        None => true,
    };
    let severity = if explains {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let top = |counts: &std::collections::BTreeMap<String, u64>| {
        let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        sorted
            .into_iter()
            .take(5)
            .map(|(k, n)| format!("{k} ({n})"))
            .collect::<Vec<_>>()
    };
    let locations = top(&log.by_edge_location);
    let sampled = match log.sampling_rate {
        Some(rate) if rate < 100 => format!(
            " (sampled at {rate}%: about {} requests)",
            log.scaled(count)
        ),
        _ => String::new(),
    };
    let distribution = evidence
        .distributions
        .first()
        .map(|d| d.id.as_str())
        .unwrap_or("the distribution");
    Some(
        Finding::new(Code::CloudfrontLoggedOriginErrors, severity, distribution)
            .statuses(&[status])
            .title(format!(
                "CloudFront logged {count} {dominant}{sampled} at {} edge location(s) that nothing cf-doctor measured explains",
                log.by_edge_location.len()
            ))
            .evidence(json!({
                "result_type": dominant,
                "count": count,
                "origin_failures": total,
                "errors_5xx": log.errors_5xx,
                "by_result_type": log.by_result_type,
                "edge_locations": locations,
                "paths": top(&log.by_path),
                "first_error_at": log.first_error_at,
                "last_error_at": log.last_error_at,
                "sampling_rate": log.sampling_rate,
                "source": log.source,
                "expect": "CloudFront's edge meets what cf-doctor's probe from here does not: another resolver, another network path, or the origin treating CloudFront's addresses differently",
            }))
            .remediation(remediation(dominant)),
    )
}

fn remediation(result_type: &str) -> String {
    match result_type {
        "OriginDnsError" => "CloudFront's resolvers cannot resolve the origin name while this machine's can: check the delegation of its zone from several resolvers (dig +trace), DNSSEC, and latency or geolocation records that answer differently by region.".into(),
        "OriginConnectError" => "CloudFront cannot connect to the origin, or complete TLS with it, while cf-doctor can: look for what treats CloudFront's addresses differently (security groups, network ACLs, firewalls and WAF rules against the managed prefix list com.amazonaws.global.cloudfront.origin-facing, rate limits), and for TLS settings CloudFront meets differently (the SNI it sends, OriginSslProtocols).".into(),
        "OriginCommError" | "OriginReadError" | "SlowReaderOriginError" => "The origin times out for CloudFront's requests: compare the origin's response times at the logged edge locations and paths with the origin read timeout, and the origin's capacity at the times logged.".into(),
        _ => "CloudFront logged the origin failing it: read the logged requests (paths, edge locations, times) against the origin's own logs for the same minutes.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::cloudfront_log::Window;

    fn log(types: &[(&str, u64)]) -> CloudfrontLog {
        let errors: u64 = types.iter().map(|(_, n)| n).sum();
        CloudfrontLog {
            source: "test".into(),
            sampling_rate: Some(100),
            window: Window {
                from: chrono::DateTime::UNIX_EPOCH,
                to: chrono::DateTime::UNIX_EPOCH,
            },
            records: errors + 10,
            errors_5xx: errors,
            by_result_type: types.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
            by_status: Default::default(),
            by_edge_location: [("IAD89-C1".to_string(), errors)].into(),
            by_path: Default::default(),
            first_error_at: None,
            last_error_at: None,
            origin_first_byte: None,
            incomplete: None,
        }
    }

    fn cause(code: Code) -> Finding {
        Finding::new(code, Severity::Critical, "o:443")
            .statuses(&[502])
            .evidence(json!({}))
    }

    #[test]
    fn a_cause_whose_result_type_cloudfront_logged_agrees() {
        let mut findings = vec![
            cause(Code::OriginCertExpired),
            cause(Code::OriginDnsFailure),
        ];
        weigh(
            &mut findings,
            &log(&[("OriginConnectError", 90), ("Error", 3)]),
        );
        assert_eq!(findings[0].facts.cloudfront_agrees, Some(true));
        assert!(findings[0]
            .facts
            .cloudfront_logged
            .as_deref()
            .unwrap()
            .starts_with("CloudFront logged 90 of its 93 5xx in the window as OriginConnectError"));
        assert_eq!(findings[1].facts.cloudfront_agrees, Some(false));
        assert!(findings[1]
            .facts
            .cloudfront_logged
            .as_deref()
            .unwrap()
            .ends_with("most were OriginConnectError (90)"));
    }

    #[test]
    fn origin_failures_no_finding_explains_are_a_finding() {
        let evidence = Evidence {
            cloudfront_log: Some(log(&[("OriginDnsError", 40)])),
            ..Evidence::default()
        };
        let found = unexplained(&[], &evidence, Some(502)).expect("a finding");
        assert_eq!(found.code, Code::CloudfrontLoggedOriginErrors);
        assert_eq!(found.severity, Severity::Critical);
        assert_eq!(found.status_codes, [502]);
        assert!(found
            .title
            .starts_with("CloudFront logged 40 OriginDnsError"));
        let other = unexplained(&[], &evidence, Some(504)).unwrap();
        assert_eq!(
            other.severity,
            Severity::Warning,
            "it does not explain a 504 alarm"
        );
        let mut agreed = cause(Code::OriginDnsFailure);
        agreed.set_cloudfront_logged("agrees".into(), true);
        assert!(unexplained(&[agreed], &evidence, Some(502)).is_none());
        let quiet = Evidence {
            cloudfront_log: Some(log(&[("LambdaValidationError", 4)])),
            ..Evidence::default()
        };
        assert!(
            unexplained(&[], &quiet, Some(502)).is_none(),
            "the edge's own code is not the origin"
        );
    }
}
