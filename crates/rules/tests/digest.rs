//! The digest over hand-built Evidence: one finding per root cause naming every distribution it
//! affects, unused certificates as one line of housekeeping, disabled distributions left to the
//! checks, and what needs nothing today counted in the summary instead of listed.

use cf_doctor_model::evidence::*;
use cf_doctor_model::{Code, Diagnosis, Severity, TriggerInfo, Verdict};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn distribution(i: usize, enabled: bool) -> Distribution {
    Distribution {
        id: format!("E{i:02}EXAMPLE"),
        arn: format!("arn:aws:cloudfront::123456789012:distribution/E{i:02}EXAMPLE"),
        domain_name: format!("d{i}.cloudfront.net"),
        enabled,
        status: "Deployed".into(),
        aliases: vec![format!("shop{i}.example")],
        viewer_certificate: ViewerCertificate::default(),
        origins: vec![],
        origin_groups: vec![],
        function_associations: vec![],
        custom_error_responses: vec![],
        logs: Default::default(),
    }
}

/// The origin of distribution `i`, at `host`, presenting `leaf` (or refusing when None).
fn probe(i: usize, host: &str, leaf: Option<CertInfo>) -> OriginProbe {
    let address = AddressProbe {
        address: "127.0.0.1".parse().unwrap(),
        tcp: match leaf {
            Some(_) => TcpResult::Connected { duration_ms: 1 },
            None => TcpResult::Refused { duration_ms: 1 },
        },
        tls: leaf.map(|leaf| TlsResult {
            offered: vec!["TLSv1.2".into()],
            handshake: Handshake::Failed {
                error: "invalid peer certificate: Expired".into(),
            },
            verification: Verification::Rejected {
                reason: VerifyFailure::Expired,
                error: "invalid peer certificate: Expired".into(),
            },
            presented_chain: vec![leaf],
            origin_speaks_tls13_only: None,
            duration_ms: 4,
        }),
        http: None,
    };
    OriginProbe {
        distribution_id: format!("E{i:02}EXAMPLE"),
        origin_id: "origin".into(),
        host: host.into(),
        port: 443,
        https: true,
        server_name: host.into(),
        host_header: host.into(),
        accepted_names: vec![host.into()],
        server_name_note: None,
        ip_address_type: IpAddressType::Ipv4,
        ssl_protocols: vec!["TLSv1.2".into()],
        read_timeout_ms: 30_000,
        probe_timeout_ms: 5_000,
        dns: DnsResult::Resolved {
            addresses: vec![address.address],
            source: cf_doctor_model::evidence::DnsSource::Override,
            duration_ms: 0,
            not_used: vec![],
        },
        addresses: vec![address],
    }
}

fn wildcard_expired_3_days_ago() -> CertInfo {
    CertInfo {
        subject: "CN=*.origin.example".into(),
        issuer: "CN=Example Issuing CA".into(),
        not_before: now() - Duration::days(398),
        not_after: now() - Duration::days(3),
        names: vec!["*.origin.example".into()],
        self_signed: false,
        is_ca: false,
        serial: "0a:1b:2c".into(),
    }
}

fn certificate(n: usize, days_left: i64, cert_type: &str, in_use: bool) -> AcmCertificate {
    AcmCertificate {
        arn: format!("arn:aws:acm:us-east-1:123456789012:certificate/c{n}"),
        region: "us-east-1".into(),
        domain_name: format!("c{n}.example"),
        subject_alternative_names: vec![format!("c{n}.example")],
        status: Some(if days_left < 0 { "EXPIRED" } else { "ISSUED" }.into()),
        cert_type: cert_type.into(),
        not_before: Some(now() - Duration::days(300)),
        not_after: Some(now() + Duration::days(days_left) + Duration::hours(1)),
        renewal_eligibility: Some(if in_use { "ELIGIBLE" } else { "INELIGIBLE" }.into()),
        renewal_status: None,
        renewal_status_reason: None,
        validation_methods: vec![],
        in_use_by: vec![],
        in_use: Some(in_use),
        used_as: vec![],
    }
}

fn evidence(distributions: Vec<Distribution>, probes: Vec<OriginProbe>) -> Evidence {
    Evidence {
        now: now(),
        thresholds: Thresholds::default(),
        distributions,
        certificates: vec![],
        origin_probes: probes,
        load_balancers: vec![],
        load_balancer_candidates: vec![],
        instances: vec![],
        cloudfront_log: None,
        metrics: vec![],
        edge_probes: vec![],
        gaps: vec![],
        checks: vec![],
        ..Evidence::default()
    }
}

fn sweep(evidence: &Evidence) -> Diagnosis {
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Schedule,
        detail: "scheduled sweep".into(),
        distribution_id: None,
        status: None,
    };
    cf_doctor_rules::diagnose(evidence, trigger, now(), 1)
}

#[test]
fn an_origin_certificate_shared_by_ten_distributions_is_one_finding_naming_all_ten() {
    let e = evidence(
        (0..10).map(|i| distribution(i, true)).collect(),
        (0..10)
            .map(|i| {
                probe(
                    i,
                    &format!("o{i}.origin.example"),
                    Some(wildcard_expired_3_days_ago()),
                )
            })
            .collect(),
    );
    let d = sweep(&e);
    let expired: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.code == Code::OriginCertExpired)
        .collect();
    assert_eq!(expired.len(), 1, "{:#?}", d.findings);
    let f = expired[0];
    let named = f.evidence["distributions"].as_array().unwrap();
    assert_eq!(named.len(), 10);
    for i in 0..10 {
        let label = format!("E{i:02}EXAMPLE (shop{i}.example)");
        assert!(
            named.iter().any(|n| n == label.as_str()),
            "{label} in {named:?}"
        );
    }
    assert_eq!(f.evidence["origins"].as_array().unwrap().len(), 10);
    assert!(
        f.title
            .contains("affects 10 distributions: E00EXAMPLE (shop0.example)")
            && f.title.contains("and 7 more")
            && f.title.contains("the same certificate on 9 other origins"),
        "{}",
        f.title
    );
    assert_eq!(d.probable_cause, Some(Code::OriginCertExpired));
}

#[test]
fn two_distributions_behind_one_refusing_origin_are_one_finding() {
    let e = evidence(
        vec![distribution(1, true), distribution(2, true)],
        vec![
            probe(1, "shared.origin.example", None),
            probe(2, "shared.origin.example", None),
            probe(2, "other.origin.example", None),
        ],
    );
    let d = sweep(&e);
    let refused: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.code == Code::OriginConnectionRefused)
        .collect();
    assert_eq!(refused.len(), 2, "one per endpoint: {:#?}", d.findings);
    let shared = refused
        .iter()
        .find(|f| f.resource.starts_with("shared."))
        .unwrap();
    assert_eq!(
        shared.evidence["distributions"],
        serde_json::json!(["E01EXAMPLE (shop1.example)", "E02EXAMPLE (shop2.example)"])
    );
    let other = refused
        .iter()
        .find(|f| f.resource.starts_with("other."))
        .unwrap();
    assert!(
        other
            .title
            .ends_with("affects distribution E02EXAMPLE (shop2.example)"),
        "{}",
        other.title
    );
}

#[test]
fn one_origin_reached_with_two_names_fails_once_per_name() {
    // Two distributions forward different viewer Hosts to one origin, whose certificate covers
    // neither: each name is its own fault (and its own fix).
    let mismatch = |i: usize, name: &str| {
        let mut p = probe(
            i,
            "shared.origin.example",
            Some(wildcard_expired_3_days_ago()),
        );
        p.server_name = name.into();
        let tls = p.addresses[0].tls.as_mut().unwrap();
        tls.presented_chain[0].not_after = now() + Duration::days(200);
        tls.presented_chain[0].names = vec!["elsewhere.origin.example".into()];
        tls.handshake = Handshake::Completed {
            protocol: "TLSv1.2".into(),
            cipher_suite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
        };
        tls.verification = Verification::Rejected {
            reason: VerifyFailure::NameMismatch,
            error: "certificate not valid for name".into(),
        };
        p
    };
    let e = evidence(
        vec![distribution(1, true), distribution(2, true)],
        vec![mismatch(1, "shop1.example"), mismatch(2, "shop2.example")],
    );
    let d = sweep(&e);
    let names: Vec<&str> = d
        .findings
        .iter()
        .filter(|f| f.code == Code::OriginCertNameMismatch)
        .map(|f| f.evidence["expected_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{:#?}", d.findings);
    assert!(names.contains(&"shop1.example") && names.contains(&"shop2.example"));
}

#[test]
fn an_alarm_report_is_not_a_digest() {
    let e = evidence(
        vec![distribution(1, false)],
        vec![probe(
            1,
            "o1.origin.example",
            Some(wildcard_expired_3_days_ago()),
        )],
    );
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: "alarm".into(),
        distribution_id: Some("E01EXAMPLE".into()),
        status: None,
    };
    let d = cf_doctor_rules::diagnose(&e, trigger, now(), 1);
    assert!(d
        .findings
        .iter()
        .any(|f| f.code == Code::DistributionDisabled));
    let expired = d
        .findings
        .iter()
        .find(|f| f.code == Code::OriginCertExpired)
        .unwrap();
    assert!(expired.evidence.get("distributions").is_none());
}

#[test]
fn disabled_distributions_are_left_to_the_checks() {
    let e = evidence(vec![distribution(1, false), distribution(2, true)], vec![]);
    let d = sweep(&e);
    assert!(
        !d.findings
            .iter()
            .any(|f| f.code == Code::DistributionDisabled),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.verdict, Verdict::Ok);
    assert!(
        d.summary
            .ends_with("2 distribution(s) (1 disabled), 0 certificate(s)"),
        "{}",
        d.summary
    );
}

#[test]
fn unused_certificates_are_one_line_of_housekeeping_and_used_ones_stay_critical() {
    let mut e = evidence(vec![], vec![]);
    e.certificates = vec![
        certificate(1, -10, "AMAZON_ISSUED", false),
        certificate(2, -40, "IMPORTED", false),
        certificate(3, -2, "AMAZON_ISSUED", false),
        certificate(4, -5, "AMAZON_ISSUED", true),
    ];
    let d = sweep(&e);
    let expired: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.code == Code::AcmCertExpired)
        .collect();
    assert_eq!(expired.len(), 2, "{:#?}", d.findings);
    assert_eq!(expired[0].severity, Severity::Critical);
    assert!(expired[0].resource.ends_with("/c4"));
    assert_eq!(expired[1].severity, Severity::Info);
    assert_eq!(expired[1].resource, "3 unused certificates");
    assert_eq!(
        expired[1].title,
        "3 unused ACM certificates have expired: delete them"
    );
    let listed = expired[1].evidence["certificates"].to_string();
    for n in [1, 2, 3] {
        assert!(
            listed.contains(&format!("certificate/c{n} (c{n}.example")),
            "{listed}"
        );
    }
    assert_eq!(d.verdict, Verdict::Critical, "the used one decides");
}

#[test]
fn imported_certificates_with_no_urgent_expiry_are_a_count_in_the_summary() {
    let mut e = evidence(vec![], vec![]);
    e.certificates = (0..2500)
        .map(|n| certificate(n, 40 + (n % 300) as i64, "IMPORTED", true))
        .collect();
    let d = sweep(&e);
    assert!(d.findings.is_empty(), "{} findings", d.findings.len());
    assert_eq!(d.verdict, Verdict::Ok);
    assert!(
        d.summary
            .contains("2500 certificate(s) (2500 imported, none of them expiring within 30 days)"),
        "{}",
        d.summary
    );
}
