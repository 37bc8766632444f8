//! What cf-doctor measures, pure: the records (dimensions and metrics) one diagnosis, one sweep
//! and one run produce. Every dimension value comes from a bounded set (docs/contract.md,
//! "Metrics"): a distribution of the account, one of two sweep scopes, or one of the
//! [`NEAREST_CERTIFICATES`] certificates nearest to expiry.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use cf_doctor_aws::calls::CallCount;
use cf_doctor_model::evidence::AcmCertificate;
use cf_doctor_model::{
    days_between, CheckOutcome, Code, Diagnosis, Evidence, ReportSubject, Severity, Verdict,
};

use super::emf::Unit;

/// Per certificate, only this many of the nearest expiries get their own metric: the set of
/// certificate dimensions stays bounded however many certificates the account holds.
pub const NEAREST_CERTIFICATES: usize = 20;

/// Every metric name cf-doctor emits (the dashboard and the alarm may use only these).
pub const NAMES: &[&str] = &[
    "Verdict",
    "CriticalFindings",
    "WarningFindings",
    "InfoFindings",
    "CertificateDaysLeft",
    "SweepDuration",
    "DistributionsSeen",
    "CertificatesSeen",
    "InspectionGaps",
    "AwsCalls",
    "AwsRetries",
    "ProbeFailures",
    "DeliveryFailures",
];

/// Every kind of record cf-doctor emits: its dimension names and the metrics it may carry.
pub const RECORDS: &[(&[&str], &[&str])] = &[
    (
        &["DistributionId"],
        &[
            "Verdict",
            "CriticalFindings",
            "WarningFindings",
            "InfoFindings",
        ],
    ),
    (
        &["Scope"],
        &[
            "Verdict",
            "CriticalFindings",
            "WarningFindings",
            "InfoFindings",
            "SweepDuration",
            "DistributionsSeen",
            "CertificatesSeen",
            "InspectionGaps",
            "CertificateDaysLeft",
        ],
    ),
    (&["CertificateId", "Domain"], &["CertificateDaysLeft"]),
    (
        &[],
        &[
            "AwsCalls",
            "AwsRetries",
            "ProbeFailures",
            "DeliveryFailures",
        ],
    ),
];

/// The checks that are live probes (DNS, TCP, TLS, HTTP to an origin; the request through the
/// edge), as opposed to AWS API reads.
const PROBE_CHECKS: &[&str] = &[
    "origin-dns",
    "origin-tcp",
    "origin-tls",
    "origin-http",
    "edge",
];

/// One EMF document's worth: metrics under one set of dimension values.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub dimensions: Vec<(&'static str, String)>,
    pub metrics: Vec<(&'static str, f64, Unit)>,
}

impl Record {
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, v, _)| *v)
    }
}

/// The verdict as a number a graph can show: 0 ok, 1 warning, 2 critical, 3 unknown.
pub fn verdict_value(verdict: Verdict) -> f64 {
    match verdict {
        Verdict::Ok => 0.0,
        Verdict::Warning => 1.0,
        Verdict::Critical => 2.0,
        Verdict::Unknown => 3.0,
    }
}

/// What one diagnosis measures. A distribution's diagnosis: its verdict and findings by severity,
/// by `DistributionId` (a CloudFront Function's that several distributions run, by
/// `FunctionName`). A sweep (the nightly one, a manual one, or an ACM event's narrowed one,
/// by `Scope` = `account` or `certificate`): the same, plus its duration, what it saw, its gaps and
/// the certificate runway, then one record per certificate for the nearest expiries.
pub fn of_diagnosis(d: &Diagnosis, evidence: &Evidence) -> Vec<Record> {
    let mut metrics = vec![
        ("Verdict", verdict_value(d.verdict), Unit::None),
        (
            "CriticalFindings",
            count(d, Severity::Critical),
            Unit::Count,
        ),
        ("WarningFindings", count(d, Severity::Warning), Unit::Count),
        ("InfoFindings", count(d, Severity::Info), Unit::Count),
    ];
    match d.trigger.subject() {
        ReportSubject::Distribution(id) => {
            return vec![Record {
                dimensions: vec![("DistributionId", id.to_string())],
                metrics,
            }]
        }
        ReportSubject::Function(name) => {
            return vec![Record {
                dimensions: vec![("FunctionName", name.to_string())],
                metrics,
            }]
        }
        ReportSubject::Certificate | ReportSubject::Sweep => {}
    }
    let runway = certificate_runway(evidence);
    let gaps = d
        .findings
        .iter()
        .filter(|f| f.code == Code::InspectionIncomplete)
        .count();
    metrics.extend([
        ("SweepDuration", d.duration_ms as f64, Unit::Milliseconds),
        (
            "DistributionsSeen",
            evidence.distributions.len() as f64,
            Unit::Count,
        ),
        (
            "CertificatesSeen",
            evidence.certificates.len() as f64,
            Unit::Count,
        ),
        ("InspectionGaps", gaps as f64, Unit::Count),
    ]);
    if let Some(nearest) = runway.first() {
        metrics.push(("CertificateDaysLeft", nearest.days_left as f64, Unit::None));
    }
    let scope = match d.trigger.subject() {
        ReportSubject::Certificate => "certificate",
        _ => "account",
    };
    let mut records = vec![Record {
        dimensions: vec![("Scope", scope.to_string())],
        metrics,
    }];
    records.extend(
        runway
            .into_iter()
            .take(NEAREST_CERTIFICATES)
            .map(|c| Record {
                dimensions: vec![("CertificateId", c.id), ("Domain", c.domain)],
                metrics: vec![("CertificateDaysLeft", c.days_left as f64, Unit::None)],
            }),
    );
    records
}

/// What one run (one Lambda invocation) measures, without dimensions.
pub fn of_run(aws: CallCount, probe_failures: u64, delivery_failures: u64) -> Record {
    Record {
        dimensions: Vec::new(),
        metrics: vec![
            ("AwsCalls", aws.calls as f64, Unit::Count),
            ("AwsRetries", aws.retries as f64, Unit::Count),
            ("ProbeFailures", probe_failures as f64, Unit::Count),
            ("DeliveryFailures", delivery_failures as f64, Unit::Count),
        ],
    }
}

/// Live probe steps that did not pass (failed, or could not be run).
pub fn probe_failures(d: &Diagnosis) -> u64 {
    d.checks
        .iter()
        .filter(|c| PROBE_CHECKS.contains(&c.name.as_str()))
        .filter(|c| matches!(c.outcome, CheckOutcome::Fail | CheckOutcome::Error))
        .count() as u64
}

fn count(d: &Diagnosis, severity: Severity) -> f64 {
    d.findings.iter().filter(|f| f.severity == severity).count() as f64
}

/// A certificate in use and how long it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runway {
    /// The ACM certificate id (the last part of its ARN), or `serial:` and the serial number for
    /// a certificate an origin presents that ACM does not hold.
    pub id: String,
    /// Its domain name in ACM, or the origin's host.
    pub domain: String,
    pub days_left: i64,
}

/// Certificates in use, nearest expiry first: ACM certificates the evidence ties to a user (a
/// distribution's viewer certificate, a listener's, or any ACM lists as in use), and the
/// certificates origins present on the wire, each once (an origin presenting an ACM certificate
/// seen above is not counted again).
pub fn certificate_runway(evidence: &Evidence) -> Vec<Runway> {
    let now = evidence.now;
    let in_acm: Vec<(&AcmCertificate, DateTime<Utc>)> = evidence
        .certificates
        .iter()
        .filter(|c| acm_in_use(c))
        .filter_map(|c| c.not_after.map(|t| (c, t)))
        .collect();
    let mut runway: Vec<Runway> = in_acm
        .iter()
        .map(|(c, not_after)| Runway {
            id: certificate_id(&c.arn).to_string(),
            domain: c.domain_name.clone(),
            days_left: days_between(now, *not_after),
        })
        .collect();
    let mut seen_serials = BTreeSet::new();
    for probe in &evidence.origin_probes {
        let leaves = probe
            .addresses
            .iter()
            .filter_map(|a| a.tls.as_ref())
            .filter_map(|tls| tls.presented_chain.first());
        for leaf in leaves {
            let known_to_acm = in_acm.iter().any(|(c, not_after)| {
                *not_after == leaf.not_after && c.names().iter().any(|n| leaf.names.contains(n))
            });
            if known_to_acm || !seen_serials.insert(leaf.serial.clone()) {
                continue;
            }
            runway.push(Runway {
                id: format!("serial:{}", leaf.serial),
                domain: probe.host.clone(),
                days_left: days_between(now, leaf.not_after),
            });
        }
    }
    // Ties broken by id, so the same evidence always names the same certificates.
    runway.sort_by(|a, b| (a.days_left, &a.id).cmp(&(b.days_left, &b.id)));
    runway.dedup_by(|a, b| a.id == b.id);
    runway
}

/// Whether the evidence ties an ACM certificate to a user: cf-doctor found it as a viewer or
/// listener certificate (`used_as`), or ACM named its users (`in_use_by`, from DescribeCertificate).
fn acm_in_use(c: &AcmCertificate) -> bool {
    !c.used_as.is_empty() || !c.in_use_by.is_empty()
}

/// `arn:aws:acm:REGION:ACCOUNT:certificate/ID` -> `ID`.
fn certificate_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::OriginProbe;
    use cf_doctor_model::{Check, Finding, TriggerInfo};
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 6, 0, 0).unwrap()
    }

    fn diagnosis(trigger: TriggerInfo, verdict: Verdict, findings: Vec<Finding>) -> Diagnosis {
        Diagnosis {
            schema: cf_doctor_model::SCHEMA.into(),
            build: Default::default(),
            trigger,
            verdict,
            summary: "s".into(),
            probable_cause: findings.first().map(|f| f.code),
            findings,
            checks: Vec::new(),
            metrics: Vec::new(),
            cloudfront_log: None,
            started_at: now(),
            duration_ms: 1234,
        }
    }

    fn trigger(kind: &str, distribution: Option<&str>) -> TriggerInfo {
        TriggerInfo {
            function: None,
            kind: kind.parse().unwrap(),
            detail: "d".into(),
            distribution_id: distribution.map(str::to_string),
            status: None,
        }
    }

    // Evidence is built from its JSON form (as saved evidence is read), so fields the model gains
    // later, which default when absent, need no change here.
    fn acm(id: &str, domain: &str, days: i64, used: bool) -> AcmCertificate {
        let used_as: Vec<String> = if used {
            vec![format!("viewer certificate of E1 ({domain})")]
        } else {
            Vec::new()
        };
        serde_json::from_value(serde_json::json!({
            "arn": format!("arn:aws:acm:us-east-1:123456789012:certificate/{id}"),
            "region": "us-east-1",
            "domain_name": domain,
            "subject_alternative_names": [domain],
            "status": "ISSUED",
            "cert_type": "AMAZON_ISSUED",
            "not_before": now() - Duration::days(300),
            "not_after": now() + Duration::days(days),
            "renewal_eligibility": null,
            "renewal_status": null,
            "renewal_status_reason": null,
            "validation_methods": [],
            "in_use_by": [],
            "used_as": used_as,
        }))
        .expect("an ACM certificate")
    }

    fn origin_presenting(host: &str, serial: &str, names: &[&str], days: i64) -> OriginProbe {
        let leaf = serde_json::json!({
            "subject": format!("CN={host}"),
            "issuer": "CN=ca",
            "not_before": now() - Duration::days(300),
            "not_after": now() + Duration::days(days),
            "names": names,
            "self_signed": false,
            "is_ca": false,
            "serial": serial,
        });
        let address = |ip: &str| {
            serde_json::json!({
                "address": ip,
                "tcp": {"outcome": "connected", "duration_ms": 1},
                "tls": {
                    "offered": ["TLSv1.2"],
                    "handshake": {"outcome": "completed", "protocol": "TLSv1.2", "cipher_suite": "x"},
                    "verification": {"outcome": "trusted", "trust_source": "public-roots"},
                    "presented_chain": [leaf.clone()],
                    "origin_speaks_tls13_only": null,
                    "duration_ms": 1,
                },
                "http": null,
            })
        };
        serde_json::from_value(serde_json::json!({
            "distribution_id": "E1",
            "origin_id": "o",
            "host": host,
            "port": 443,
            "https": true,
            "server_name": host,
            "host_header": host,
            "ssl_protocols": ["TLSv1.2"],
            "read_timeout_ms": 30_000,
            "probe_timeout_ms": 5_000,
            "dns": {"outcome": "resolved", "addresses": ["192.0.2.1", "192.0.2.2"], "source": "dns", "duration_ms": 1},
            // Two addresses presenting the same certificate: counted once.
            "addresses": [address("192.0.2.1"), address("192.0.2.2")],
        }))
        .expect("an origin probe")
    }

    #[test]
    fn a_distribution_diagnosis_is_its_verdict_and_findings_by_severity_by_distribution() {
        let d = diagnosis(
            trigger("alarm", Some("E2EXAMPLE")),
            Verdict::Critical,
            vec![
                Finding::new(Code::OriginCertExpired, Severity::Critical, "o:443"),
                Finding::new(Code::InspectionIncomplete, Severity::Warning, "elb"),
                Finding::new(Code::DistributionDeploying, Severity::Info, "E2EXAMPLE"),
                Finding::new(Code::OriginSlow, Severity::Warning, "o:443"),
            ],
        );
        let records = of_diagnosis(&d, &Evidence::default());
        assert_eq!(
            records,
            vec![Record {
                dimensions: vec![("DistributionId", "E2EXAMPLE".into())],
                metrics: vec![
                    ("Verdict", 2.0, Unit::None),
                    ("CriticalFindings", 1.0, Unit::Count),
                    ("WarningFindings", 2.0, Unit::Count),
                    ("InfoFindings", 1.0, Unit::Count),
                ],
            }]
        );
    }

    #[test]
    fn a_function_alarm_no_single_distribution_runs_is_measured_by_function_not_as_a_sweep() {
        let mut alarm = trigger("alarm", None);
        alarm.function = Some("url-rewrite".into());
        let d = diagnosis(
            alarm,
            Verdict::Critical,
            vec![Finding::new(
                Code::CloudfrontFunctionExecutionError,
                Severity::Critical,
                "url-rewrite",
            )],
        );
        let records = of_diagnosis(&d, &Evidence::default());
        assert_eq!(
            records,
            vec![Record {
                dimensions: vec![("FunctionName", "url-rewrite".into())],
                metrics: vec![
                    ("Verdict", 2.0, Unit::None),
                    ("CriticalFindings", 1.0, Unit::Count),
                    ("WarningFindings", 0.0, Unit::Count),
                    ("InfoFindings", 0.0, Unit::Count),
                ],
            }]
        );
    }

    #[test]
    fn verdicts_are_numbered_as_the_contract_says() {
        let values: Vec<f64> = [
            Verdict::Ok,
            Verdict::Warning,
            Verdict::Critical,
            Verdict::Unknown,
        ]
        .into_iter()
        .map(verdict_value)
        .collect();
        assert_eq!(values, [0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn a_sweep_measures_its_runway_over_certificates_in_use_and_names_the_nearest() {
        let mut evidence = Evidence {
            now: now(),
            ..Evidence::default()
        };
        evidence.certificates = vec![
            acm("viewer-1", "shop.example", 40, true),
            // Not in use: left out of the runway, however near its expiry.
            acm("unused-1", "old.example", 2, false),
            {
                let mut listener = acm("listener-1", "origin.shop.example", 12, false);
                listener.in_use_by = vec!["arn:aws:elasticloadbalancing:...".into()];
                listener
            },
        ];
        evidence.origin_probes = vec![
            // The listener certificate seen again on the wire: not a second certificate.
            origin_presenting("origin.shop.example", "0a:01", &["origin.shop.example"], 12),
            // An origin outside ACM whose certificate expired 3 days ago.
            origin_presenting("legacy.example", "0b:02", &["legacy.example"], -3),
        ];
        evidence.distributions = Vec::new();
        let d = diagnosis(
            trigger("schedule", None),
            Verdict::Critical,
            vec![Finding::new(
                Code::InspectionIncomplete,
                Severity::Warning,
                "acm",
            )],
        );
        let records = of_diagnosis(&d, &evidence);
        let sweep = &records[0];
        assert_eq!(sweep.dimensions, vec![("Scope", "account".to_string())]);
        assert_eq!(sweep.metric("CertificateDaysLeft"), Some(-3.0));
        assert_eq!(sweep.metric("SweepDuration"), Some(1234.0));
        assert_eq!(sweep.metric("CertificatesSeen"), Some(3.0));
        assert_eq!(sweep.metric("DistributionsSeen"), Some(0.0));
        assert_eq!(sweep.metric("InspectionGaps"), Some(1.0));
        assert_eq!(sweep.metric("Verdict"), Some(2.0));
        type DaysBy = (Vec<(&'static str, String)>, Option<f64>);
        let per_certificate: Vec<DaysBy> = records[1..]
            .iter()
            .map(|r| (r.dimensions.clone(), r.metric("CertificateDaysLeft")))
            .collect();
        assert_eq!(
            per_certificate,
            vec![
                (
                    vec![
                        ("CertificateId", "serial:0b:02".to_string()),
                        ("Domain", "legacy.example".to_string())
                    ],
                    Some(-3.0)
                ),
                (
                    vec![
                        ("CertificateId", "listener-1".to_string()),
                        ("Domain", "origin.shop.example".to_string())
                    ],
                    Some(12.0)
                ),
                (
                    vec![
                        ("CertificateId", "viewer-1".to_string()),
                        ("Domain", "shop.example".to_string())
                    ],
                    Some(40.0)
                ),
            ]
        );
    }

    #[test]
    fn only_the_nearest_certificates_get_their_own_metric() {
        let mut evidence = Evidence {
            now: now(),
            ..Evidence::default()
        };
        evidence.certificates = (0..50)
            .map(|i| acm(&format!("c{i:02}"), &format!("s{i}.example"), 100 - i, true))
            .collect();
        let d = diagnosis(trigger("acm-event", None), Verdict::Ok, vec![]);
        let records = of_diagnosis(&d, &evidence);
        assert_eq!(
            records[0].dimensions,
            vec![("Scope", "certificate".to_string())]
        );
        assert_eq!(records[0].metric("CertificateDaysLeft"), Some(51.0));
        assert_eq!(records.len(), 1 + NEAREST_CERTIFICATES);
        assert_eq!(records[1].dimensions[0].1, "c49");
        assert_eq!(
            records[NEAREST_CERTIFICATES].metric("CertificateDaysLeft"),
            Some(70.0)
        );
    }

    #[test]
    fn a_sweep_without_certificates_in_use_has_no_runway_to_report() {
        let d = diagnosis(trigger("manual", None), Verdict::Ok, vec![]);
        let records = of_diagnosis(&d, &Evidence::default());
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].metric("CertificateDaysLeft"), None);
    }

    #[test]
    fn probe_failures_are_live_probe_steps_that_did_not_pass() {
        let mut d = diagnosis(trigger("alarm", Some("E1")), Verdict::Critical, vec![]);
        d.checks = vec![
            Check::new("origin-dns", "o:443", CheckOutcome::Pass, 1, None),
            Check::new("origin-tls", "o:443@a", CheckOutcome::Fail, 1, None),
            Check::new("origin-http", "o:443@a", CheckOutcome::Error, 1, None),
            Check::new("edge", "d.example", CheckOutcome::Skipped, 0, None),
            // An AWS read that failed is a gap, not a probe failure.
            Check::new("load-balancer", "elb", CheckOutcome::Error, 1, None),
        ];
        assert_eq!(probe_failures(&d), 2);
    }

    #[test]
    fn every_record_is_of_a_kind_records_lists_and_names_lists_every_metric() {
        let mut evidence = Evidence {
            now: now(),
            ..Evidence::default()
        };
        evidence.certificates = vec![acm("c", "s.example", 5, true)];
        let distribution = of_diagnosis(
            &diagnosis(trigger("alarm", Some("E1")), Verdict::Ok, vec![]),
            &evidence,
        );
        let sweep = of_diagnosis(
            &diagnosis(trigger("schedule", None), Verdict::Ok, vec![]),
            &evidence,
        );
        let run = of_run(CallCount::default(), 0, 0);
        let all: Vec<&Record> = distribution.iter().chain(&sweep).chain([&run]).collect();
        for record in &all {
            let dimensions: Vec<&str> = record.dimensions.iter().map(|(d, _)| *d).collect();
            let (_, allowed) = RECORDS
                .iter()
                .find(|(d, _)| *d == dimensions.as_slice())
                .unwrap_or_else(|| panic!("no kind of record has dimensions {dimensions:?}"));
            for (name, _, _) in &record.metrics {
                assert!(allowed.contains(name), "{name} under {dimensions:?}");
            }
        }
        assert_eq!(all.len(), 4, "one record of each kind");
        let mut listed: Vec<&str> = RECORDS
            .iter()
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        listed.sort();
        listed.dedup();
        let mut names = NAMES.to_vec();
        names.sort();
        assert_eq!(listed, names);
    }
}
