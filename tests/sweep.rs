//! The nightly sweep on moto: many distributions and certificates, the digest ordered by urgency
//! with each certificate's users named, one finding per root cause naming every distribution it
//! breaks, unused certificates played down, disabled distributions listed and not probed, the
//! deadline honoured with a partial report, and an ACM event narrowed to one certificate and what
//! uses it. Each test has its own moto.

use std::io::Write;
use std::time::Duration;

use cf_doctor::config::Config;
use cf_doctor::{App, RunOptions};
use cf_doctor_collect::sweep::Scope;
use cf_doctor_model::{Code, Diagnosis, Severity, TriggerInfo, Verdict};
use cf_doctor_testkit::{
    aws_proxy, create_distribution, import_certificate, sdk_config, tls_origin, DistributionSpec,
    Fault, FaultKind, LeafSpec, Moto, Origin, OriginConfig, OwnedMoto, TestCa,
};

const FLEET: usize = 200;

struct Fleet {
    moto: OwnedMoto,
    _origin: Origin,
    _ca_file: tempfile::NamedTempFile,
    app: App,
    /// What `app` was built with, for an app of the same fleet reached through the fault proxy.
    config: Config,
    ids: Vec<String>,
    /// (days to expiry, ARN) of the imported certificates.
    certs: Vec<(i64, String)>,
}

fn host(i: usize) -> String {
    format!("fleet-{i}.origin.test")
}

/// FLEET distributions, each with its own origin name, all served by one healthy loopback origin
/// (a wildcard certificate); certificates expiring in 2, 10 and 40 days, the first two used as
/// viewer certificates of distributions 5 and 7.
async fn fleet() -> Fleet {
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let ca = TestCa::new("sweep test root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&["*.origin.test"]));
    let origin = tls_origin(OriginConfig::new(leaf.full_chain(), leaf.key_der)).await;
    let acm = aws_sdk_acm::Client::new(&sdk);
    let mut certs = Vec::new();
    for (days, name) in [
        (2, "two.shop.example"),
        (10, "ten.shop.example"),
        (40, "forty.shop.example"),
    ] {
        let cert = ca.leaf(&LeafSpec::valid_for(&[name]).expiring_in_days(days));
        certs.push((days, import_certificate(&acm, &cert, &ca.cert_pem()).await));
    }
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let mut ids = Vec::new();
    for i in 0..FLEET {
        let mut spec = DistributionSpec::https_origin(&host(i), origin.port());
        if i == 5 {
            spec.aliases = vec!["two.shop.example".into()];
            spec.viewer_acm_arn = Some(certs[0].1.clone());
        }
        if i == 7 {
            spec.aliases = vec!["ten.shop.example".into()];
            spec.viewer_acm_arn = Some(certs[1].1.clone());
        }
        ids.push(create_distribution(&cf, &spec).await);
    }
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca.cert_pem().as_bytes()).unwrap();
    let mut config = Config {
        probe_timeout: Duration::from_millis(1500),
        ca_file: Some(ca_file.path().to_path_buf()),
        origin_regions: vec!["us-east-1".into()],
        ..Config::default()
    };
    for i in 0..FLEET {
        config
            .add_resolve(&format!("{}=127.0.0.1", host(i)))
            .unwrap();
    }
    let app = App::new(&sdk, config.clone()).unwrap();
    Fleet {
        moto,
        _origin: origin,
        _ca_file: ca_file,
        app,
        config,
        ids,
        certs,
    }
}

fn sweep_trigger() -> TriggerInfo {
    TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Schedule,
        detail: "scheduled sweep".into(),
        distribution_id: None,
        status: None,
    }
}

fn days_left(d: &Diagnosis, code: Code, arn: &str) -> Option<(Severity, i64)> {
    d.findings
        .iter()
        .find(|f| f.code == code && f.resource == arn)
        .map(|f| (f.severity, f.evidence["days_left"].as_i64().unwrap()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_of_200_distributions_orders_certificate_risks_by_urgency_and_names_their_users() {
    let fleet = fleet().await;
    let d = fleet
        .app
        .sweep(&Scope::All, sweep_trigger(), &RunOptions::new(false))
        .await;

    assert!(
        d.trigger
            .detail
            .contains(&format!("{FLEET} distribution(s), 3 certificate(s)")),
        "{}",
        d.trigger.detail
    );
    assert_eq!(
        d.checks.iter().filter(|c| c.name == "origin-tls").count(),
        FLEET,
        "every origin probed"
    );
    assert!(
        !d.checks.iter().any(|c| c.name == "cloudfront-distribution"),
        "summaries suffice: no GetDistribution"
    );
    assert!(
        !d.findings
            .iter()
            .any(|f| f.code.as_str().starts_with("origin-")),
        "the fleet's origins are healthy: {:#?}",
        d.findings
    );

    let (two, ten, forty) = (&fleet.certs[0].1, &fleet.certs[1].1, &fleet.certs[2].1);
    assert_eq!(
        days_left(&d, Code::AcmCertExpiring, two).map(|x| x.0),
        Some(Severity::Critical)
    );
    assert_eq!(
        days_left(&d, Code::AcmCertExpiring, ten).map(|x| x.0),
        Some(Severity::Warning)
    );
    assert_eq!(
        days_left(&d, Code::AcmCertExpiring, forty),
        None,
        "40 days is outside the 30-day warning"
    );
    // Changed by issue 14: an imported certificate 40 days from expiry used to be a warning
    // ("never renews"); it is a renewal risk only inside the 30-day warning window, and here it
    // is also unused (moto's InUse is false and no distribution names it): a count in the summary.
    assert_eq!(
        days_left(&d, Code::AcmCertRenewalAtRisk, forty),
        None,
        "imported, 40 days: outside the warning window"
    );
    assert_eq!(
        days_left(&d, Code::AcmCertRenewalAtRisk, ten).map(|x| x.0),
        Some(Severity::Warning),
        "imported, 10 days: inside it"
    );

    // Most urgent first: within a severity, fewer days left comes first.
    let order: Vec<(Severity, i64)> = d
        .findings
        .iter()
        .map(|f| {
            (
                f.severity,
                f.evidence["days_left"].as_i64().unwrap_or(i64::MAX),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(order, sorted, "{:#?}", d.findings);
    assert_eq!(d.findings[0].resource, *two);

    let users = d.findings[0].evidence["used_as"].to_string();
    assert!(
        users.contains(&fleet.ids[5]) && users.contains("two.shop.example"),
        "{users}"
    );
    assert_eq!(d.verdict, Verdict::Critical);
    assert!(
        d.summary
            .starts_with("CRITICAL: sweep: 2 critical, 2 warning; most urgent: "),
        "{}",
        d.summary
    );
    assert!(
        d.summary.ends_with(&format!(
            "{FLEET} distribution(s), 3 certificate(s) (1 imported, none of them expiring within 30 days; 1 unused)"
        )),
        "{}",
        d.summary
    );
}

/// Origins are probed as their page of ListDistributions arrives, so a listing that fails on a
/// later page must not leave probes of distributions the report does not hold. The second page
/// fails past the retries (503 from the fault proxy in front of moto: moto itself never fails):
/// the first page's 100 distributions are kept, probed and named, and the rest is a gap saying
/// how far the listing got.
#[tokio::test(flavor = "multi_thread")]
async fn a_listing_that_fails_on_a_later_page_keeps_what_was_listed_and_names_the_rest() {
    let fleet = fleet().await;
    let proxy = aws_proxy(&fleet.moto.endpoint).await;
    let app = App::new(&sdk_config(&proxy.endpoint).await, fleet.config.clone()).unwrap();
    proxy.inject(
        Fault::on(
            "cloudfront",
            "ListDistributions",
            10,
            FaultKind::status(503),
        )
        .when_query_contains("Marker="),
    );
    let d = app
        .sweep(&Scope::All, sweep_trigger(), &RunOptions::new(false))
        .await;
    assert!(
        proxy.count("cloudfront", "ListDistributions") >= 2,
        "the first page, then the second page (retried as the AWS policy says)"
    );
    let gap = d
        .findings
        .iter()
        .find(|f| {
            f.code == Code::InspectionIncomplete
                && f.evidence["action"] == "cloudfront:ListDistributions"
        })
        .expect("the listing's failure is a gap");
    assert!(
        gap.evidence["unchecked"]
            .as_str()
            .unwrap()
            .contains("after the first 100 listed"),
        "{}",
        gap.evidence
    );
    let probed: Vec<&str> = d
        .checks
        .iter()
        .filter(|c| c.name == "origin-tls")
        .map(|c| c.target.as_str())
        .collect();
    assert_eq!(probed.len(), 100, "the first page's origins, each once");
    assert!(
        d.trigger.detail.contains("100 distribution(s)"),
        "{}",
        d.trigger.detail
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_too_close_gives_a_partial_report_naming_what_was_not_reached() {
    let fleet = fleet().await;
    let options = RunOptions {
        deadline: Some(tokio::time::Instant::now() + Duration::from_millis(1)),
        ..RunOptions::new(false)
    };
    let d = fleet
        .app
        .sweep(&Scope::All, sweep_trigger(), &options)
        .await;
    let gap = d
        .findings
        .iter()
        .find(|f| f.code == Code::InspectionIncomplete && f.resource.ends_with("origins"))
        .expect("not-reached origins reported");
    assert_eq!(gap.resource, format!("{FLEET} origins"));
    assert!(
        gap.evidence["unchecked"]
            .as_str()
            .unwrap()
            .contains(&fleet.ids[0])
            || gap.evidence["unchecked"].as_str().unwrap().contains("more"),
        "{}",
        gap.evidence
    );
    assert_eq!(
        d.checks.iter().filter(|c| c.name == "origin-tls").count(),
        0,
        "nothing started past the deadline"
    );
    assert!(
        days_left(&d, Code::AcmCertExpiring, &fleet.certs[0].1).is_some(),
        "what the listings showed is still judged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acm_event_inspects_that_certificate_and_only_the_distributions_using_it() {
    let fleet = fleet().await;
    let arn = fleet.certs[1].1.clone();
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::AcmEvent,
        detail: format!("ACM Certificate Approaching Expiration for {arn}"),
        distribution_id: None,
        status: None,
    };
    let d = fleet
        .app
        .sweep(
            &Scope::Certificate(arn.clone()),
            trigger,
            &RunOptions::new(false),
        )
        .await;
    assert!(
        d.trigger
            .detail
            .contains("1 distribution(s), 1 certificate(s)"),
        "{}",
        d.trigger.detail
    );
    assert_eq!(
        d.checks.iter().filter(|c| c.name == "origin-tls").count(),
        1,
        "only distribution 7's origin"
    );
    assert!(
        d.checks
            .iter()
            .any(|c| c.name == "acm-certificate" && c.target == arn),
        "the event's certificate is described"
    );
    let expiring = d
        .findings
        .iter()
        .find(|f| f.code == Code::AcmCertExpiring)
        .expect("the expiry is reported");
    assert_eq!(expiring.resource, arn);
    assert!(expiring.evidence["used_as"]
        .to_string()
        .contains(&fleet.ids[7]));
    assert!(
        d.summary.starts_with("WARNING: certificate: "),
        "{}",
        d.summary
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acm_event_with_the_deadline_too_close_still_reports_naming_what_was_not_reached() {
    let fleet = fleet().await;
    let arn = fleet.certs[1].1.clone();
    let trigger = TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::AcmEvent,
        detail: format!("ACM Certificate Expired for {arn}"),
        distribution_id: None,
        status: None,
    };
    let options = RunOptions {
        deadline: Some(tokio::time::Instant::now() + Duration::from_millis(1)),
        ..RunOptions::new(false)
    };
    let d = fleet
        .app
        .sweep(&Scope::Certificate(arn.clone()), trigger, &options)
        .await;
    let unchecked: Vec<String> = d
        .findings
        .iter()
        .filter(|f| f.code == Code::InspectionIncomplete)
        .map(|f| f.evidence["unchecked"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        unchecked.iter().any(|u| u.contains(&fleet.ids[7])),
        "the origin of the distribution using the certificate is named as not reached: {unchecked:?}"
    );
    assert_eq!(
        d.checks.iter().filter(|c| c.name == "origin-tls").count(),
        0,
        "nothing started past the deadline"
    );
    assert!(
        unchecked.iter().any(|u| u.contains(&arn)),
        "the event's certificate is named as not described: {unchecked:?}"
    );
    assert_eq!(d.verdict.as_str(), "unknown", "gaps are never health");
}

/// A fleet where one expired origin certificate breaks ten distributions (each its own origin
/// name, all on one loopback origin with a wildcard certificate), three disabled distributions on
/// the same origin, and two imported certificates 3 days from expiry: one the viewer certificate
/// of a distribution, one that nothing uses.
struct Outage {
    _moto: OwnedMoto,
    _origin: Origin,
    _ca_file: tempfile::NamedTempFile,
    app: App,
    enabled: Vec<String>,
    disabled: Vec<String>,
    used: String,
    unused: String,
}

async fn outage() -> Outage {
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let ca = TestCa::new("digest test root");
    let leaf = ca.leaf(&LeafSpec::valid_for(&["*.expired.test"]).expired_days_ago(2));
    let origin = tls_origin(OriginConfig::new(leaf.full_chain(), leaf.key_der)).await;
    let acm = aws_sdk_acm::Client::new(&sdk);
    let mut arns = Vec::new();
    for name in ["viewer.shop.example", "forgotten.shop.example"] {
        let cert = ca.leaf(&LeafSpec::valid_for(&[name]).expiring_in_days(3));
        arns.push(import_certificate(&acm, &cert, &ca.cert_pem()).await);
    }
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let mut config = Config {
        probe_timeout: Duration::from_millis(1500),
        origin_regions: vec!["us-east-1".into()],
        ..Config::default()
    };
    let (mut enabled, mut disabled) = (Vec::new(), Vec::new());
    for i in 0..13 {
        let host = format!("e{i}.expired.test");
        let mut spec = DistributionSpec::https_origin(&host, origin.port());
        spec.aliases = vec![format!("a{i}.shop.example")];
        if i == 0 {
            spec.aliases = vec!["viewer.shop.example".into()];
            spec.viewer_acm_arn = Some(arns[0].clone());
        }
        spec.enabled = i < 10;
        let id = create_distribution(&cf, &spec).await;
        if spec.enabled {
            enabled.push(id);
        } else {
            disabled.push(id);
        }
        config.add_resolve(&format!("{host}=127.0.0.1")).unwrap();
    }
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca.cert_pem().as_bytes()).unwrap();
    config.ca_file = Some(ca_file.path().to_path_buf());
    Outage {
        app: App::new(&sdk, config).unwrap(),
        _moto: moto,
        _origin: origin,
        _ca_file: ca_file,
        enabled,
        disabled,
        used: arns[0].clone(),
        unused: arns[1].clone(),
    }
}

/// The sweep as an event runs it (Target::Sweep), with or without the disabled distributions.
async fn sweep_of(app: &App, include_disabled: bool) -> Diagnosis {
    let target = cf_doctor::trigger::Target::Sweep {
        trigger: sweep_trigger(),
        include_disabled,
    };
    match app.run_target(target, &RunOptions::new(false)).await {
        Ok(cf_doctor::TargetResult::Diagnosed(d)) => *d,
        other => panic!("expected a digest, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_digest_names_every_distribution_one_expired_origin_certificate_breaks() {
    let o = outage().await;
    let d = sweep_of(&o.app, false).await;
    let expired: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.code == Code::OriginCertExpired)
        .collect();
    assert_eq!(expired.len(), 1, "one root cause: {:#?}", d.findings);
    let named: Vec<&str> = expired[0].evidence["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert_eq!(named.len(), 10, "{named:?}");
    for (i, id) in o.enabled.iter().enumerate().skip(1) {
        let label = format!("{id} (a{i}.shop.example)");
        assert!(named.contains(&label.as_str()), "{label} in {named:?}");
    }
    assert!(
        expired[0].title.contains("affects 10 distributions"),
        "{}",
        expired[0].title
    );
    assert_eq!(d.probable_cause, Some(Code::OriginCertExpired));

    // Disabled distributions: listed in the checks, not probed, not findings.
    assert_eq!(
        d.checks.iter().filter(|c| c.name == "origin-tls").count(),
        10,
        "only the enabled distributions' origins are probed"
    );
    let listed: Vec<&str> = d
        .checks
        .iter()
        .filter(|c| c.name == "distribution-disabled")
        .map(|c| c.target.as_str())
        .collect();
    assert_eq!(listed.len(), 3);
    for id in &o.disabled {
        assert!(listed.contains(&id.as_str()), "{id} in {listed:?}");
        assert!(!named.iter().any(|n| n.starts_with(id.as_str())));
    }
    assert!(!d
        .findings
        .iter()
        .any(|f| f.code == Code::DistributionDisabled));

    // The same expiry: critical where a distribution uses the certificate, info where nothing does.
    assert_eq!(
        days_left(&d, Code::AcmCertExpiring, &o.used).map(|x| x.0),
        Some(Severity::Critical)
    );
    let unused = d
        .findings
        .iter()
        .find(|f| f.resource == o.unused)
        .expect("the unused certificate is mentioned");
    assert_eq!(
        (unused.code, unused.severity),
        (Code::AcmCertExpiring, Severity::Info)
    );
    assert!(unused.title.contains("unused"), "{}", unused.title);
    assert!(
        d.summary
            .ends_with("13 distribution(s) (3 disabled), 2 certificate(s) (1 unused)"),
        "{}",
        d.summary
    );

    // Asked to, the sweep probes the disabled ones too, and names them.
    let all = sweep_of(&o.app, true).await;
    assert_eq!(
        all.checks.iter().filter(|c| c.name == "origin-tls").count(),
        13
    );
    assert!(!all.checks.iter().any(|c| c.name == "distribution-disabled"));
    let expired = all
        .findings
        .iter()
        .find(|f| f.code == Code::OriginCertExpired)
        .unwrap();
    assert_eq!(
        expired.evidence["distributions"].as_array().unwrap().len(),
        13
    );
}
