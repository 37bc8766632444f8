//! Rules and ranking over hand-built Evidence (no network): the founding outage and its
//! neighbours, checked as snapshots of the report a user would read.

use cf_doctor_model::evidence::*;
use cf_doctor_model::{Code, TriggerInfo, Verdict};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn leaf(days_left: i64, names: &[&str]) -> CertInfo {
    CertInfo {
        subject: "CN=origin.shop.example".into(),
        issuer: "CN=Example Issuing CA".into(),
        not_before: now() - Duration::days(395),
        not_after: now() + Duration::days(days_left),
        names: names.iter().map(|s| s.to_string()).collect(),
        self_signed: false,
        is_ca: false,
        serial: "0a:1b".into(),
    }
}

fn tls(verification: Verification, chain: Vec<CertInfo>) -> TlsResult {
    TlsResult {
        offered: vec!["TLSv1.2".into()],
        handshake: Handshake::Completed {
            protocol: "TLSv1.2".into(),
            cipher_suite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
        },
        verification,
        presented_chain: chain,
        origin_speaks_tls13_only: None,
        duration_ms: 9,
    }
}

fn evidence(addresses: Vec<AddressProbe>) -> Evidence {
    Evidence {
        now: now(),
        thresholds: Thresholds::default(),
        distributions: vec![Distribution {
            id: "E2EXAMPLE".into(),
            arn: "arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE".into(),
            domain_name: "d111111abcdef8.cloudfront.net".into(),
            enabled: true,
            status: "Deployed".into(),
            aliases: vec!["shop.example".into(), "www.shop.example".into()],
            viewer_certificate: ViewerCertificate::default(),
            origins: vec![],
            origin_groups: vec![],
            function_associations: vec![],
            custom_error_responses: vec![],
            logs: Default::default(),
        }],
        certificates: vec![],
        origin_probes: vec![OriginProbe {
            distribution_id: "E2EXAMPLE".into(),
            origin_id: "alb".into(),
            host: "origin.shop.example".into(),
            port: 443,
            https: true,
            server_name: "origin.shop.example".into(),
            host_header: "origin.shop.example".into(),
            accepted_names: vec!["origin.shop.example".into()],
            server_name_note: None,
            ip_address_type: IpAddressType::Ipv4,
            ssl_protocols: vec!["TLSv1.2".into()],
            read_timeout_ms: 30_000,
            probe_timeout_ms: 5_000,
            dns: DnsResult::Resolved {
                addresses: addresses.iter().map(|a| a.address).collect(),
                source: cf_doctor_model::evidence::DnsSource::Dns,
                duration_ms: 3,
                not_used: vec![],
            },
            addresses,
        }],
        load_balancers: vec![],
        load_balancer_candidates: vec![],
        instances: vec![],
        cloudfront_log: None,
        metrics: vec![],
        edge_probes: vec![],
        lambda_edge_functions: vec![],
        cloudfront_functions: vec![],
        vpc_origins: vec![],
        gaps: vec![],
        checks: vec![],
        account: None,
    }
}

fn address(last: u8, tls: Option<TlsResult>, http: Option<HttpResult>) -> AddressProbe {
    AddressProbe {
        address: format!("127.0.0.{last}").parse().unwrap(),
        tcp: TcpResult::Connected { duration_ms: 1 },
        tls,
        http,
    }
}

fn ok_http(unverified: bool) -> Option<HttpResult> {
    Some(HttpResult::Responded {
        status: 200,
        time_to_first_byte_ms: 40,
        server: Some("awselb/2.0".into()),
        over_unverified_tls: unverified,
    })
}

fn diagnose(evidence: &Evidence, status: Option<u16>) -> cf_doctor_model::Diagnosis {
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: "alarm \"shop-cloudfront-5xx\" -> ALARM".into(),
        distribution_id: Some("E2EXAMPLE".into()),
        status,
    };
    cf_doctor_rules::diagnose(evidence, trigger, now(), 42)
}

fn expired() -> Verification {
    Verification::Rejected {
        reason: VerifyFailure::Expired,
        error: "invalid peer certificate: Expired".into(),
    }
}

#[test]
fn the_founding_outage_reads_as_an_expired_origin_certificate() {
    let chain = vec![leaf(-3, &["origin.shop.example"])];
    let e = evidence(vec![
        address(1, Some(tls(expired(), chain.clone())), ok_http(true)),
        address(2, Some(tls(expired(), chain)), ok_http(true)),
    ]);
    let d = diagnose(&e, None);
    assert_eq!(d.verdict, Verdict::Critical);
    assert_eq!(d.probable_cause, Some(Code::OriginCertExpired));
    assert_eq!(
        d.findings.len(),
        1,
        "one cause, seen on both addresses: {:#?}",
        d.findings
    );
    assert!(
        d.findings[0].title.contains("on 2 of 2 addresses"),
        "{}",
        d.findings[0].title
    );
    insta::assert_snapshot!("founding_outage_text", cf_doctor_render::text::render(&d));
    insta::assert_json_snapshot!("founding_outage_json", d);
    insta::assert_json_snapshot!(
        "founding_outage_slack",
        cf_doctor_render::slack::payload(&d)
    );
}

#[test]
fn one_bad_node_among_healthy_ones_is_named() {
    let good = tls(
        Verification::Trusted {
            trust_source: cf_doctor_model::evidence::TrustSource::PublicRoots,
            matched_name: None,
        },
        vec![leaf(200, &["origin.shop.example"])],
    );
    let bad = tls(expired(), vec![leaf(-1, &["origin.shop.example"])]);
    let e = evidence(vec![
        address(1, Some(good), ok_http(false)),
        address(2, Some(bad), ok_http(true)),
    ]);
    let d = diagnose(&e, None);
    assert_eq!(d.probable_cause, Some(Code::OriginCertExpired));
    assert!(
        d.findings[0].title.contains("on 1 of 2 addresses"),
        "{}",
        d.findings[0].title
    );
    assert_eq!(
        d.findings[0].evidence["addresses"],
        serde_json::json!(["127.0.0.2"])
    );
}

#[test]
fn a_healthy_origin_is_ok_and_says_so() {
    let good = tls(
        Verification::Trusted {
            trust_source: cf_doctor_model::evidence::TrustSource::PublicRoots,
            matched_name: None,
        },
        vec![leaf(200, &["*.shop.example"])],
    );
    let d = diagnose(
        &evidence(vec![address(1, Some(good), ok_http(false))]),
        None,
    );
    assert_eq!(d.verdict, Verdict::Ok);
    assert_eq!(d.probable_cause, None);
    assert_eq!(d.summary, "distribution E2EXAMPLE: no problem found");
}

#[test]
fn a_refused_port_outranks_a_slow_answer_for_a_502_alarm_and_not_for_a_504_one() {
    let mut e = evidence(vec![
        address(1, None, None),
        address(
            2,
            None,
            Some(HttpResult::TimedOut {
                waited_ms: 5000,
                over_unverified_tls: false,
            }),
        ),
    ]);
    e.origin_probes[0].https = false;
    e.origin_probes[0].read_timeout_ms = 4000;
    e.origin_probes[0].addresses[0].tcp = TcpResult::Refused { duration_ms: 1 };
    assert_eq!(
        diagnose(&e, Some(502)).probable_cause,
        Some(Code::OriginConnectionRefused)
    );
    assert_eq!(
        diagnose(&e, Some(504)).probable_cause,
        Some(Code::OriginSlow)
    );
}

#[test]
fn a_shuffled_chain_is_a_chain_order_finding_not_a_name_mismatch() {
    let intermediate = CertInfo {
        subject: "CN=Example Issuing CA".into(),
        issuer: "CN=Example Root".into(),
        is_ca: true,
        names: vec![],
        ..leaf(900, &[])
    };
    let chain = vec![intermediate, leaf(200, &["origin.shop.example"])];
    let t = tls(
        Verification::Rejected {
            reason: VerifyFailure::Other,
            error: "CaUsedAsEndEntity".into(),
        },
        chain,
    );
    let d = diagnose(&evidence(vec![address(1, Some(t), ok_http(true))]), None);
    let codes: Vec<Code> = d.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, vec![Code::OriginCertChainOrder]);
}

#[test]
fn a_gap_is_reported_and_makes_a_clean_result_unknown() {
    let good = tls(
        Verification::Trusted {
            trust_source: cf_doctor_model::evidence::TrustSource::PublicRoots,
            matched_name: None,
        },
        vec![leaf(200, &["origin.shop.example"])],
    );
    let mut e = evidence(vec![address(1, Some(good), ok_http(false))]);
    e.gaps.push(Gap {
        action: "acm:DescribeCertificate".into(),
        resource: "arn:aws:acm:us-east-1:123456789012:certificate/abc".into(),
        error: "AccessDeniedException: not authorized".into(),
        unchecked: "expiry and renewal of the viewer certificate".into(),
    });
    let d = diagnose(&e, None);
    assert_eq!(d.verdict, Verdict::Unknown);
    assert_eq!(d.findings[0].code, Code::InspectionIncomplete);
    assert!(d.findings[0].title.contains("acm:DescribeCertificate"));
}

#[test]
fn days_ago_counts_whole_days_elapsed() {
    // Expired 3 days and 47 seconds before `now()`: that is 3 days ago, not 4.
    let mut cert = leaf(-3, &["origin.shop.example"]);
    cert.not_after -= Duration::seconds(47);
    let e = evidence(vec![address(
        1,
        Some(tls(expired(), vec![cert])),
        ok_http(true),
    )]);
    let d = diagnose(&e, None);
    assert!(
        d.findings[0].title.contains("3 day(s) ago"),
        "{}",
        d.findings[0].title
    );
    let mut fresh = leaf(0, &["origin.shop.example"]);
    fresh.not_after -= Duration::seconds(47);
    let e = evidence(vec![address(
        1,
        Some(tls(expired(), vec![fresh])),
        ok_http(true),
    )]);
    let d = diagnose(&e, None);
    assert!(
        d.findings[0].title.contains("less than a day ago"),
        "{}",
        d.findings[0].title
    );
}
