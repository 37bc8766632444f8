//! Only the address family CloudFront uses is probed (`CustomOriginConfig.IpAddressType`), and an
//! address this machine cannot route to is a gap naming it, never an origin fault. Each test runs
//! in a network namespace of its own with only loopback (testkit `isolated`): moto, the DNS
//! server, the origin and cf-doctor all live there, and the AAAA record's address is unreachable
//! at once (ENETUNREACH) without a packet leaving the machine.
//!
//! moto 5.2.5 does not store IpAddressType: the proxy in front of it adds the element to
//! GetDistribution's answer where CloudFront's XML has it (testkit cloudfront_xml).

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use cf_doctor_model::evidence::DnsResult;
use cf_doctor_model::{Code, Diagnosis, Severity, TriggerInfo, Verdict};
use cf_doctor_testkit::{
    aws_proxy, cloudfront_xml, create_distribution, dns_server_with, isolated, sdk_config,
    tls_origin, tls_origin_dual_stack, DistributionSpec, LeafSpec, Moto, OriginConfig, Record,
    TestCa,
};

const ORIGIN: &str = "dual.origin.test";

/// What one isolated run gives back: the diagnosis and the addresses the origin was asked on.
struct Seen {
    diagnosis: Diagnosis,
    dns: DnsResult,
}

/// A distribution in front of ORIGIN (resolved by the namespace's DNS server to `records`),
/// with IpAddressType `ip_address_type` added by the proxy (None: absent, CloudFront's ipv4),
/// diagnosed in-process. `dual_stack_origin` serves ORIGIN on both 127.0.0.1 and ::1.
fn diagnose_isolated(
    records: Vec<Record>,
    ip_address_type: Option<&'static str>,
    dual_stack_origin: bool,
) -> Seen {
    isolated(move || async move {
        let moto = Moto::start();
        let ca = TestCa::new("dual stack root");
        let leaf = ca.leaf(&LeafSpec::valid_for(&[ORIGIN]));
        let config = OriginConfig::new(leaf.full_chain(), leaf.key_der.clone_key());
        let origin = if dual_stack_origin {
            tls_origin_dual_stack(config).await
        } else {
            tls_origin(config).await
        };
        let table: Vec<(&str, Record)> = records.iter().map(|r| (ORIGIN, r.clone())).collect();
        let dns = dns_server_with(&table).await;
        let sdk = sdk_config(&moto.endpoint).await;
        let id = create_distribution(
            &aws_sdk_cloudfront::Client::new(&sdk),
            &DistributionSpec::https_origin(ORIGIN, origin.port()),
        )
        .await;
        let proxy = aws_proxy(&moto.endpoint).await;
        if let Some(kind) = ip_address_type {
            proxy.rewrite("cloudfront", "GetDistribution", move |xml| {
                cloudfront_xml::with_ip_address_type(xml, None, kind)
            });
        }
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(ca.cert_pem().as_bytes()).unwrap();
        let config = cf_doctor::config::Config {
            probe_timeout: Duration::from_millis(1500),
            ca_file: Some(ca_file.path().to_path_buf()),
            dns_server: Some(dns.addr),
            ..cf_doctor::config::Config::default()
        };
        let app = cf_doctor::App::new(&sdk_config(&proxy.endpoint).await, config).unwrap();
        let diagnosis = app
            .diagnose(
                &id,
                TriggerInfo::manual("dual-stack test", Some(id.clone())),
            )
            .await
            .expect("the inspection completes");
        if ip_address_type.is_some() {
            assert!(
                proxy.rewrites_applied("cloudfront", "GetDistribution") > 0,
                "the proxy added IpAddressType"
            );
        }
        // The evidence of the probe, read back from the report's checks is not enough: keep the
        // DNS result the rules saw by replaying collection's output through the saved form.
        let dns_result = app
            .collector
            .distribution(&id)
            .await
            .unwrap()
            .origin_probes
            .remove(0)
            .dns;
        Seen {
            diagnosis,
            dns: dns_result,
        }
    })
}

fn criticals(d: &Diagnosis) -> Vec<&'static str> {
    d.findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .map(|f| f.code.as_str())
        .collect()
}

const UNREACHABLE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);

#[test]
fn a_dualstack_origin_with_an_unreachable_aaaa_is_a_gap_naming_the_address() {
    let seen = diagnose_isolated(
        vec![Record::A(Ipv4Addr::LOCALHOST), Record::Aaaa(UNREACHABLE_V6)],
        Some("dualstack"),
        false,
    );
    let d = &seen.diagnosis;
    assert_eq!(criticals(d), Vec::<&str>::new(), "{:#?}", d.findings);
    assert_eq!(d.verdict, Verdict::Unknown, "{:#?}", d.findings);
    let gap = d
        .findings
        .iter()
        .find(|f| f.code == Code::InspectionIncomplete)
        .expect("the unreachable address is named");
    assert_eq!(gap.evidence["reason"], "unreachable-from-here");
    assert!(
        gap.title.contains("2001:db8::10") && gap.title.contains("from here"),
        "{}",
        gap.title
    );
    assert!(!d
        .findings
        .iter()
        .any(|f| f.code == Code::OriginConnectionRefused));
    match &seen.dns {
        DnsResult::Resolved { addresses, .. } => assert_eq!(addresses.len(), 2, "both probed"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_ipv4_origin_probes_only_its_a_records_and_names_the_others() {
    let seen = diagnose_isolated(
        vec![Record::A(Ipv4Addr::LOCALHOST), Record::Aaaa(UNREACHABLE_V6)],
        None,
        false,
    );
    let d = &seen.diagnosis;
    assert_eq!(d.verdict, Verdict::Ok, "{:#?}", d.findings);
    match &seen.dns {
        DnsResult::Resolved {
            addresses,
            not_used,
            ..
        } => {
            assert_eq!(addresses, &[std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)]);
            assert_eq!(not_used, &[std::net::IpAddr::V6(UNREACHABLE_V6)]);
        }
        other => panic!("{other:?}"),
    }
    let dns = d.checks.iter().find(|c| c.name == "origin-dns").unwrap();
    assert!(
        dns.detail
            .as_deref()
            .unwrap_or_default()
            .contains("1 not used by CloudFront (IpAddressType ipv4)"),
        "{dns:?}"
    );
}

#[test]
fn an_ipv6_origin_is_probed_on_its_aaaa_records_only() {
    let seen = diagnose_isolated(
        vec![
            Record::A(Ipv4Addr::new(127, 0, 0, 9)),
            Record::Aaaa(Ipv6Addr::LOCALHOST),
        ],
        Some("ipv6"),
        true,
    );
    let d = &seen.diagnosis;
    assert_eq!(d.verdict, Verdict::Ok, "{:#?}", d.findings);
    match &seen.dns {
        DnsResult::Resolved { addresses, .. } => {
            assert_eq!(addresses, &[std::net::IpAddr::V6(Ipv6Addr::LOCALHOST)])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_ipv4_origin_whose_name_has_only_aaaa_records_is_a_dns_failure_that_says_so() {
    let seen = diagnose_isolated(vec![Record::Aaaa(Ipv6Addr::LOCALHOST)], None, true);
    let d = &seen.diagnosis;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginDnsFailure),
        "{:#?}",
        d.findings
    );
    let evidence = d.findings[0].evidence.to_string();
    assert!(
        evidence.contains("no A record") && evidence.contains("IpAddressType ipv4"),
        "{evidence}"
    );
}
