//! A Lambda@Edge association that cannot work, or works on borrowed time ("Restrictions on
//! Lambda@Edge", "Quotas on Lambda@Edge"): the association must name a numbered version (not
//! `$LATEST`, not an alias) of a function in us-east-1, and the version must be Active. Timeout
//! and memory have limits by event type (viewer events: 5 s and 128 MB; origin events: 30 s), and
//! a deprecated runtime runs on but can no longer be updated. What breaks the function outright is
//! critical; the rest is a warning while the function errs and information while it does not: a
//! healthy function is never a cause.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use cf_doctor_model::functions::LambdaEdgeFunction;
use cf_doctor_model::{Code, Finding, Severity};

/// Lambda@Edge runs Node.js and Python. Each runtime and the day Lambda deprecated it (or will),
/// from the Lambda runtimes page.
const DEPRECATIONS: [(&str, (i32, u32, u32)); 19] = [
    ("nodejs", (2016, 10, 31)),
    ("nodejs4.3-edge", (2020, 3, 5)),
    ("nodejs6.10", (2019, 8, 12)),
    ("nodejs8.10", (2020, 3, 6)),
    ("nodejs10.x", (2021, 7, 30)),
    ("nodejs12.x", (2023, 3, 31)),
    ("nodejs14.x", (2023, 12, 4)),
    ("nodejs16.x", (2024, 6, 12)),
    ("nodejs18.x", (2025, 9, 1)),
    ("nodejs20.x", (2026, 4, 30)),
    ("nodejs22.x", (2027, 4, 30)),
    ("python2.7", (2021, 7, 15)),
    ("python3.6", (2022, 7, 18)),
    ("python3.7", (2023, 12, 4)),
    ("python3.8", (2024, 10, 14)),
    ("python3.9", (2025, 12, 15)),
    ("python3.10", (2026, 6, 30)),
    ("python3.11", (2026, 6, 30)),
    ("python3.12", (2028, 10, 31)),
];

/// Viewer events: the function may run at most 5 s with 128 MB; origin events: 30 s.
fn limits(on_viewer_event: bool) -> (i32, Option<i32>) {
    if on_viewer_event {
        (5, Some(128))
    } else {
        (30, None)
    }
}

/// The deprecation day of `runtime`, when it has passed.
fn deprecated_since(runtime: &str, now: DateTime<Utc>) -> Option<NaiveDate> {
    let (_, (y, m, d)) = DEPRECATIONS.iter().find(|(r, _)| *r == runtime)?;
    let day = NaiveDate::from_ymd_opt(*y, *m, *d)?;
    (now.date_naive() >= day).then_some(day)
}

/// Why the association cannot work, each with how bad it is.
fn reasons(f: &LambdaEdgeFunction, erroring: bool, now: DateTime<Utc>) -> Vec<(Severity, String)> {
    let borrowed_time = if erroring {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut out = Vec::new();
    match f.qualifier.as_deref() {
        None => out.push((Severity::Critical, "the association names the function without a version; Lambda@Edge needs a numbered version".to_string())),
        Some("$LATEST") => out.push((Severity::Critical, "the association names $LATEST; Lambda@Edge needs a numbered version".to_string())),
        Some(q) if !q.chars().all(|c| c.is_ascii_digit()) => out.push((Severity::Critical, format!("the association names alias {q}; Lambda@Edge needs a numbered version, not an alias"))),
        Some(_) => {}
    }
    if !f.region.is_empty() && f.region != "us-east-1" {
        out.push((
            Severity::Critical,
            format!(
                "the function is in {}; Lambda@Edge functions must be in us-east-1",
                f.region
            ),
        ));
    }
    let Some(c) = &f.configuration else {
        return out;
    };
    if c.state.as_deref() == Some("Failed") {
        out.push((
            Severity::Critical,
            format!(
                "its state is Failed ({})",
                c.state_reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    } else if let Some(state) = c.state.as_deref().filter(|s| *s != "Active") {
        out.push((
            borrowed_time,
            format!(
                "its state is {state}, not Active ({})",
                c.state_reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
    if c.last_update_status.as_deref() == Some("Failed") {
        out.push((
            Severity::Critical,
            format!(
                "its last update failed ({})",
                c.last_update_status_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
        ));
    }
    if let Some((runtime, since)) = c
        .runtime
        .as_deref()
        .and_then(|r| deprecated_since(r, now).map(|d| (r, d)))
    {
        out.push((borrowed_time, format!("its runtime {runtime} is deprecated since {since}: it runs on, but can no longer be updated")));
    }
    for u in &f.used_by {
        let (timeout, memory) = limits(u.association.on_viewer_event());
        if c.timeout_s.is_some_and(|t| t > timeout) {
            out.push((
                borrowed_time,
                format!(
                    "its timeout ({} s) is over the {timeout} s Lambda@Edge allows for {}",
                    c.timeout_s.unwrap_or_default(),
                    u.association.event_type
                ),
            ));
        }
        if let (Some(limit), Some(mb)) = (memory, c.memory_mb) {
            if mb > limit {
                out.push((
                    borrowed_time,
                    format!(
                        "its memory ({mb} MB) is over the {limit} MB Lambda@Edge allows for {}",
                        u.association.event_type
                    ),
                ));
            }
        }
    }
    out.dedup();
    out
}

pub fn misconfigured(
    f: &LambdaEdgeFunction,
    name: &str,
    uses: &[String],
    erroring: bool,
    now: DateTime<Utc>,
) -> Option<Finding> {
    let reasons = reasons(f, erroring, now);
    let severity = reasons.iter().map(|(s, _)| *s).max()?;
    let words: Vec<&str> = reasons.iter().map(|(_, w)| w.as_str()).collect();
    let statuses: &[u16] = if severity == Severity::Critical {
        &[502, 503]
    } else {
        &[]
    };
    Some(
        Finding::new(Code::LambdaEdgeMisconfigured, severity, &f.arn)
            .statuses(statuses)
            .title(format!("Lambda@Edge function {name} ({}): {}", uses.join("; "), words.join("; ")))
            .evidence(json!({
                "function": f.arn, "reasons": words, "configuration": f.configuration,
                "erroring": erroring, "used_by": uses,
            }))
            .remediation("Publish a numbered version of the function in us-east-1 (Actions -> Publish new version), make sure it is Active, keep its timeout and memory within Lambda@Edge's limits for the event type, move it to a supported runtime, and associate that version with the cache behaviour."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::functions::{
        FunctionAssociation, FunctionKind, FunctionUse, LambdaConfiguration,
    };

    fn function(qualifier: Option<&str>, event_type: &str) -> LambdaEdgeFunction {
        LambdaEdgeFunction {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:edge".into(),
            name: "edge".into(),
            qualifier: qualifier.map(str::to_string),
            region: "us-east-1".into(),
            used_by: vec![FunctionUse {
                distribution_id: "E1".into(),
                association: FunctionAssociation {
                    kind: FunctionKind::LambdaEdge,
                    arn: "arn".into(),
                    event_type: event_type.into(),
                    path_pattern: None,
                    target_origin_id: "web".into(),
                    include_body: false,
                },
            }],
            configuration: Some(LambdaConfiguration {
                state: Some("Active".into()),
                state_reason: None,
                last_update_status: Some("Successful".into()),
                last_update_status_reason: None,
                runtime: Some("nodejs24.x".into()),
                timeout_s: Some(5),
                memory_mb: Some(128),
                version: qualifier.map(str::to_string),
            }),
            ran_in: None,
            log_lines: Vec::new(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_numbered_active_version_within_limits_is_fine() {
        assert!(reasons(&function(Some("3"), "viewer-request"), false, now()).is_empty());
    }

    #[test]
    fn latest_an_alias_or_no_version_cannot_be_associated() {
        for q in [None, Some("$LATEST"), Some("live")] {
            let r = reasons(&function(q, "origin-request"), false, now());
            assert_eq!(r.len(), 1, "{q:?}: {r:?}");
            assert_eq!(r[0].0, Severity::Critical);
        }
    }

    #[test]
    fn limits_depend_on_the_event_type() {
        let mut f = function(Some("3"), "viewer-request");
        f.configuration.as_mut().unwrap().timeout_s = Some(10);
        assert_eq!(reasons(&f, true, now()).len(), 1);
        f.used_by[0].association.event_type = "origin-request".into();
        assert!(reasons(&f, true, now()).is_empty());
    }

    #[test]
    fn a_deprecated_runtime_is_information_while_the_function_is_healthy() {
        let mut f = function(Some("3"), "viewer-request");
        f.configuration.as_mut().unwrap().runtime = Some("nodejs18.x".into());
        assert_eq!(reasons(&f, false, now())[0].0, Severity::Info);
        assert_eq!(reasons(&f, true, now())[0].0, Severity::Warning);
        let before = "2025-08-31T00:00:00Z".parse().unwrap();
        assert!(reasons(&f, true, before).is_empty());
    }

    #[test]
    fn a_failed_state_is_critical() {
        let mut f = function(Some("3"), "viewer-request");
        f.configuration.as_mut().unwrap().state = Some("Failed".into());
        assert_eq!(reasons(&f, false, now())[0].0, Severity::Critical);
    }
}
