//! How much a function's errors weigh: against the requests of each distribution that runs it
//! and the rate of the status those errors give viewers. Errors at a quarter of that rate or more
//! explain the alarm (critical); fewer are named as a warning that says they do not; none is no
//! finding at all. A live X-Cache marker means viewers get the error now (critical).

use serde_json::{json, Value};

use cf_doctor_model::Severity;

/// The part of a distribution's error rate a function's errors must reach to explain it. A
/// quarter leaves room for minutes that differ between the two metrics and for several causes at
/// once, and still tells an outage from a trickle.
const EXPLAINS_FRACTION: f64 = 0.25;
/// When nothing to weigh against was read: the part of its own invocations that must fail.
const OWN_FAILURE_PCT: f64 = 5.0;

/// One distribution's view of one failure of one function over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub distribution: String,
    /// The function's failures (its own count, or CloudFront's when it is the only function).
    pub errors: Option<f64>,
    pub invocations: Option<f64>,
    /// The distribution's viewer requests.
    pub requests: Option<f64>,
    /// The distribution's worst 5xx rate in a minute, in percent.
    pub rate_5xx: Option<f64>,
    /// The status this failure gives viewers (502 or 503).
    pub status: u16,
    /// The distribution's worst rate of that status, in percent (only with CloudFront's
    /// additional metrics).
    pub rate_status: Option<f64>,
    /// CloudFront's X-Cache marker for this failure, seen by the edge probe.
    pub marker: Option<String>,
}

impl Tally {
    pub fn to_json(&self) -> Value {
        json!({
            "distribution": self.distribution, "errors": self.errors, "invocations": self.invocations,
            "requests": self.requests, "share_of_requests_pct": self.share().map(round),
            "rate_5xx_pct": self.rate_5xx, "rate_of_status_pct": self.rate_status,
            "x_cache": self.marker,
        })
    }

    fn share(&self) -> Option<f64> {
        let requests = self.requests.filter(|r| *r > 0.0)?;
        Some(self.errors? / requests * 100.0)
    }

    /// The rate the errors are weighed against: the status's own when CloudFront reports it,
    /// else any 5xx.
    fn alarm_rate(&self) -> Option<(f64, String)> {
        self.rate_status
            .map(|r| (r, format!("its {} rate", self.status)))
            .or(self.rate_5xx.map(|r| (r, "its 5xx rate".to_string())))
    }
}

/// The verdict on one failure over every distribution that runs the function.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub severity: Severity,
    pub errors: f64,
    /// For the title: the worst distribution, in words.
    pub headline: String,
    /// Every distribution, in words.
    pub words: Vec<String>,
}

pub fn weigh(tallies: &[Tally]) -> Option<Judged> {
    let judged: Vec<(Severity, String, f64)> = tallies.iter().filter_map(judge).collect();
    let worst = judged.iter().max_by_key(|(s, _, _)| *s)?;
    Some(Judged {
        severity: worst.0,
        errors: judged.iter().map(|(_, _, e)| *e).fold(0.0, f64::max),
        headline: worst.1.clone(),
        words: judged.iter().map(|(_, w, _)| w.clone()).collect(),
    })
}

fn judge(t: &Tally) -> Option<(Severity, String, f64)> {
    let errors = t.errors.unwrap_or(0.0);
    if let Some(marker) = &t.marker {
        return Some((
            Severity::Critical,
            format!(
                "viewers of {} get it now (X-Cache: {marker}); {} error(s) counted in the window",
                t.distribution,
                count(errors)
            ),
            errors,
        ));
    }
    if errors <= 0.0 {
        return None;
    }
    let counted = format!("{} error(s) in the last 15 minutes", count(errors));
    let verdict = match (t.share(), t.alarm_rate()) {
        (Some(share), Some((rate, rate_name))) => {
            if rate > 0.0 && share >= EXPLAINS_FRACTION * rate {
                (Severity::Critical, format!("{counted}, {}% of {}'s requests against {rate_name} of {}%: enough to explain the alarm", round(share), t.distribution, round(rate)))
            } else if rate > 0.0 {
                (Severity::Warning, format!("{counted}, {}% of {}'s requests, far below {rate_name} of {}%: not what explains the alarm", round(share), t.distribution, round(rate)))
            } else {
                (Severity::Warning, format!("{counted}, {}% of {}'s requests, while {rate_name} is 0%: not what explains the alarm", round(share), t.distribution))
            }
        }
        _ => match t.invocations.filter(|i| *i > 0.0) {
            Some(invocations) => {
                let own = errors / invocations * 100.0;
                let severity = if own >= OWN_FAILURE_PCT { Severity::Critical } else { Severity::Warning };
                (severity, format!("{counted}, {}% of its {} invocations ({}'s requests and error rate were not read)", round(own), count(invocations), t.distribution))
            }
            None => (Severity::Warning, format!("{counted} ({}'s requests and error rate were not read, so they cannot be weighed)", t.distribution)),
        },
    };
    Some((verdict.0, verdict.1, errors))
}

fn count(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    }
}

fn round(pct: f64) -> f64 {
    (pct * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(errors: f64, requests: f64, rate: f64) -> Tally {
        Tally {
            distribution: "E1".into(),
            errors: Some(errors),
            requests: Some(requests),
            rate_5xx: Some(rate),
            ..Tally::default()
        }
    }

    #[test]
    fn errors_at_the_rate_of_the_alarm_explain_it() {
        let judged = weigh(&[tally(300.0, 1000.0, 32.0)]).unwrap();
        assert_eq!(judged.severity, Severity::Critical);
        assert!(
            judged.headline.contains("30% of E1's requests"),
            "{}",
            judged.headline
        );
    }

    #[test]
    fn a_trickle_is_named_but_does_not_explain_the_alarm() {
        let judged = weigh(&[tally(2.0, 10_000.0, 30.0)]).unwrap();
        assert_eq!(judged.severity, Severity::Warning);
        assert!(
            judged.headline.contains("not what explains"),
            "{}",
            judged.headline
        );
    }

    #[test]
    fn no_errors_is_no_finding() {
        assert_eq!(weigh(&[tally(0.0, 1000.0, 30.0)]), None);
        assert_eq!(
            weigh(&[Tally {
                errors: None,
                ..tally(0.0, 1000.0, 30.0)
            }]),
            None
        );
        assert_eq!(weigh(&[]), None);
    }

    #[test]
    fn the_status_rate_wins_over_the_5xx_rate() {
        // 503s are 0%: execution errors (503) cannot be what a 5xx alarm at 30% is about.
        let t = Tally {
            rate_status: Some(0.0),
            ..tally(5.0, 1000.0, 30.0)
        };
        assert_eq!(weigh(&[t]).unwrap().severity, Severity::Warning);
    }

    #[test]
    fn a_live_marker_is_critical_even_before_the_metrics_show_it() {
        let t = Tally {
            marker: Some("LambdaExecutionError from cloudfront".into()),
            ..tally(0.0, 1000.0, 0.0)
        };
        assert_eq!(weigh(&[t]).unwrap().severity, Severity::Critical);
    }

    #[test]
    fn without_traffic_figures_its_own_failure_rate_decides() {
        let t = |errors: f64| Tally {
            errors: Some(errors),
            invocations: Some(100.0),
            distribution: "E1".into(),
            ..Tally::default()
        };
        assert_eq!(weigh(&[t(10.0)]).unwrap().severity, Severity::Critical);
        assert_eq!(weigh(&[t(1.0)]).unwrap().severity, Severity::Warning);
    }
}
