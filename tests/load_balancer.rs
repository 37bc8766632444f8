//! The chain behind the origin, in moto: the same alarm gets a different probable cause when only
//! the security group, only the listener certificate, only the listener, or only target health is
//! broken. The live probes still meet a real TLS origin on 127.0.0.1 (the load balancer's DNS name
//! is pinned there), and CloudWatch readings put with PutMetricData come back as evidence.
//!
//! Then the load balancer as production configures it: a fixed-response default action with
//! rules forwarding by a secret header or by host, and CloudFront admitted by a customer-managed
//! prefix list or by its ranges as CIDRs. Each fixture is first read back through the SDK to show
//! it is what it claims. moto reports every registered running instance healthy (a stopped one
//! `unused`), so the `unhealthy` state comes from aws-smithy-mocks, in the test that says so.

mod common;

use cf_doctor_model::evidence::{Admission, AdmittedBy, Evidence};
use cf_doctor_model::{Code, Diagnosis, Severity, Verdict};
use cf_doctor_testkit::{
    dns_server, import_certificate, tls_origin, DistributionSpec, LeafSpec, Origin, OriginConfig,
};
use common::alb::{alb, cloudfront_ranges, Alb, AlbSpec, HostRoute, Ingress, Routing};
use common::{alarm, codes, lab, Lab};

#[derive(Clone, Copy)]
enum Broken {
    Nothing,
    SecurityGroup,
    ListenerCertificate,
    Listener,
    Targets,
}

/// One ALB in moto behind one distribution; `broken` says which single thing is wrong.
async fn diagnose(name: &str, broken: Broken) -> Diagnosis {
    let lab = lab().await;
    let spec = match broken {
        Broken::ListenerCertificate => {
            LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]).expiring_in_days(2)
        }
        _ => LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]),
    };
    let leaf = lab.ca.leaf(&spec);
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let cert = import_certificate(&acm, &leaf, &lab.ca.cert_pem()).await;
    let lb = alb(
        &lab.sdk,
        &AlbSpec {
            listener_port: if matches!(broken, Broken::Listener) {
                origin.port() + 1
            } else {
                origin.port()
            },
            ingress: if matches!(broken, Broken::SecurityGroup) {
                Ingress::Nothing
            } else {
                Ingress::CloudFrontPrefixList
            },
            instance_running: !matches!(broken, Broken::Targets),
            ..AlbSpec::healthy(name, origin.port(), cert)
        },
    )
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    let app = lab.app(lab.config(&lb.dns_name));
    app.diagnose(&id, alarm(&id, None))
        .await
        .expect("the inspection completes")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_chain_is_ok_and_the_load_balancer_is_named() {
    let d = diagnose("cfd-healthy", Broken::Nothing).await;
    let imported_risk: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.code != Code::AcmCertRenewalAtRisk)
        .collect();
    assert!(
        imported_risk.is_empty(),
        "only the imported certificate's renewal risk may remain: {:#?}",
        d.findings
    );
    let lb = d
        .checks
        .iter()
        .find(|c| c.name == "origin-load-balancer")
        .expect("the load balancer was looked for");
    assert!(
        lb.detail
            .as_deref()
            .unwrap()
            .contains("cfd-healthy in us-east-1, matched by dns-name"),
        "{lb:?}"
    );
    assert!(
        d.findings.iter().all(|f| f.evidence["used_as"]
            .to_string()
            .contains("listener certificate of cfd-healthy")),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_security_group_broken_points_at_the_security_group_and_expects_504() {
    let d = diagnose("cfd-sg", Broken::SecurityGroup).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginSecurityGroupBlocksPort),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.findings[0].status_codes, vec![504]);
    assert!(
        d.findings[0]
            .remediation
            .contains("com.amazonaws.global.cloudfront.origin-facing (pl-"),
        "{}",
        d.findings[0].remediation
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_listener_certificate_broken_points_at_the_certificate_and_names_its_listener() {
    let d = diagnose("cfd-cert", Broken::ListenerCertificate).await;
    assert_eq!(d.verdict, Verdict::Critical);
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginCertExpiring),
        "{:#?}",
        d.findings
    );
    let acm = d
        .findings
        .iter()
        .find(|f| f.code == Code::AcmCertExpiring)
        .expect("the ACM side of the same certificate");
    assert!(
        acm.evidence["used_as"]
            .to_string()
            .contains("listener certificate of cfd-cert"),
        "{}",
        acm.evidence
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_listener_missing_points_at_the_listener() {
    let d = diagnose("cfd-listener", Broken::Listener).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginListenerMissing),
        "{:#?}",
        d.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_targets_unhealthy_points_at_target_health() {
    let d = diagnose("cfd-targets", Broken::Targets).await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginNoHealthyTargets),
        "{:#?}",
        codes(&d)
    );
    assert_eq!(d.findings[0].evidence["not_healthy"][0]["state"], "unused");
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudwatch_readings_come_back_as_evidence_and_target_5xx_points_at_the_application() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let lab = lab().await;
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let cert = import_certificate(
        &aws_sdk_acm::Client::new(&lab.sdk),
        &leaf,
        &lab.ca.cert_pem(),
    )
    .await;
    let spec = AlbSpec::healthy("cfd-metrics", origin.port(), cert);
    let lb = alb(&lab.sdk, &spec).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&lab.sdk);
    let lb_dimension = lb.arn.split_once(":loadbalancer/").unwrap().1.to_string();
    let now = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp() - 120);
    let datum = |name: &str, dims: Vec<(&str, &str)>, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .set_dimensions(Some(
                dims.into_iter()
                    .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                    .collect(),
            ))
            .timestamp(now)
            .value(value)
            .build()
    };
    cloudwatch
        .put_metric_data()
        .namespace("AWS/CloudFront")
        .metric_data(datum(
            "5xxErrorRate",
            vec![("DistributionId", id.as_str()), ("Region", "Global")],
            38.5,
        ))
        .send()
        .await
        .unwrap();
    cloudwatch
        .put_metric_data()
        .namespace("AWS/ApplicationELB")
        .metric_data(datum(
            "HTTPCode_Target_5XX_Count",
            vec![("LoadBalancer", lb_dimension.as_str())],
            17.0,
        ))
        .send()
        .await
        .unwrap();

    let d = lab
        .app(lab.config(&lb.dns_name))
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    let reading = |metric: &str| {
        d.metrics
            .iter()
            .find(|m| m.metric == metric)
            .and_then(|m| m.latest)
    };
    assert_eq!(
        reading("5xxErrorRate"),
        Some(38.5),
        "{:#?}\n{:#?}",
        d.checks
            .iter()
            .filter(|c| c.name == "cloudwatch-metrics")
            .collect::<Vec<_>>(),
        d.findings
            .iter()
            .filter(|f| f.code == Code::InspectionIncomplete)
            .map(|f| &f.evidence)
            .collect::<Vec<_>>()
    );
    assert_eq!(reading("HTTPCode_Target_5XX_Count"), Some(17.0));
    assert_eq!(
        reading("504ErrorRate"),
        None,
        "no data is said, not invented"
    );
    let app_errors = d
        .findings
        .iter()
        .find(|f| f.code == Code::OriginHttpError)
        .expect("target 5xx points at the application");
    assert!(
        app_errors
            .title
            .contains("Targets behind cfd-metrics answered 5xx"),
        "{}",
        app_errors.title
    );
    assert!(
        cf_doctor_render::text::render(&d)
            .contains("Metrics (CloudWatch, last 15 minutes): 2 with data"),
        "the text report shows them"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_behind_a_cname_chain_is_found_and_the_chain_named() {
    let lab = lab().await;
    let origin = cf_doctor_testkit::plain_http_origin(200, std::time::Duration::ZERO).await;
    let spec = AlbSpec {
        name: "cfd-cname".into(),
        listener_port: origin.port(),
        certificate_arn: None,
        ssl_policy: String::new(),
        ingress: Ingress::Nothing,
        ingress_port: origin.port(),
        instance_running: true,
        region: "us-east-1".into(),
        routing: Routing::Forward,
        sni_certificates: Vec::new(),
    };
    let lb = alb(&lab.sdk, &spec).await;
    let dns = cf_doctor_testkit::dns_server(&[
        ("origin.cname.test", "www.cname.test"),
        ("www.cname.test", &lb.dns_name),
    ])
    .await;
    let mut dist = DistributionSpec::https_origin("origin.cname.test", 443);
    dist.protocol_policy = aws_sdk_cloudfront::types::OriginProtocolPolicy::HttpOnly;
    dist.http_port = i32::from(origin.port());
    let id = lab.distribution(&dist).await;
    let mut config = lab.config("origin.cname.test");
    config.dns_server = Some(dns.addr);
    let d = lab
        .app(config)
        .diagnose(&id, alarm(&id, None))
        .await
        .unwrap();
    let found = d
        .checks
        .iter()
        .find(|c| c.name == "origin-load-balancer")
        .unwrap();
    assert!(
        found.detail.as_deref().unwrap().contains(&format!(
            "cfd-cname in us-east-1, matched by cname (origin.cname.test -> www.cname.test -> {})",
            lb.dns_name.to_ascii_lowercase()
        )),
        "{found:?}"
    );
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginSecurityGroupBlocksPort),
        "the load balancer found through DNS is judged: {:#?}",
        d.findings
    );
}

/// What collect gathered and what the rules made of it.
async fn collected(app: &cf_doctor::App, id: &str) -> (Evidence, Diagnosis) {
    let evidence = app
        .collector
        .distribution(id)
        .await
        .expect("the inspection completes");
    let d = cf_doctor_rules::diagnose(&evidence, alarm(id, None), chrono::Utc::now(), 0);
    (evidence, d)
}

/// A load balancer built from `tweak(AlbSpec::healthy(...))`, its listener on a loopback TLS origin
/// (the DNS name pinned there) and one distribution whose origin is its DNS name.
struct Seen {
    lab: Lab,
    lb: Alb,
    evidence: Evidence,
    d: Diagnosis,
    _origin: Origin,
}

async fn seen(name: &str, tweak: impl FnOnce(&mut AlbSpec)) -> Seen {
    let lab = lab().await;
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let cert = import_certificate(
        &aws_sdk_acm::Client::new(&lab.sdk),
        &leaf,
        &lab.ca.cert_pem(),
    )
    .await;
    let mut spec = AlbSpec::healthy(name, origin.port(), cert);
    tweak(&mut spec);
    let lb = alb(&lab.sdk, &spec).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    let (evidence, d) = collected(&lab.app(lab.config(&lb.dns_name)), &id).await;
    Seen {
        lab,
        lb,
        evidence,
        d,
        _origin: origin,
    }
}

fn elb_client(lab: &Lab) -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&lab.sdk)
}

fn check<'a>(d: &'a Diagnosis, name: &str) -> &'a str {
    d.checks
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.detail.as_deref())
        .unwrap_or_else(|| panic!("no {name} check: {:#?}", d.checks))
}

/// Findings other than the imported test certificate's renewal risk (ACM cannot renew an
/// imported certificate: true of every certificate these tests import).
fn besides_renewal(d: &Diagnosis) -> Vec<&cf_doctor_model::Finding> {
    d.findings
        .iter()
        .filter(|f| f.code != Code::AcmCertRenewalAtRisk)
        .collect()
}

const SECRET: &str = "cfd-5b2f0c1e-not-for-reports";

#[tokio::test(flavor = "multi_thread")]
async fn the_custom_header_pattern_is_healthy_and_the_rule_cloudfront_meets_is_named() {
    let s = seen("cfd-header", |spec| {
        spec.routing = Routing::CustomHeader {
            header: "X-Origin-Verify".into(),
            secret: SECRET.into(),
        }
    })
    .await;
    // The fixture: the default action answers 403, rule 1 forwards the secret header's requests.
    let elb = elb_client(&s.lab);
    let rules = elb
        .describe_rules()
        .listener_arn(&s.lb.listener)
        .send()
        .await
        .unwrap()
        .rules
        .unwrap();
    let default = rules.iter().find(|r| r.is_default == Some(true)).unwrap();
    let fixed = default.actions()[0].fixed_response_config().unwrap();
    assert_eq!(fixed.status_code(), Some("403"));
    let rule = rules.iter().find(|r| r.priority() == Some("1")).unwrap();
    let header = rule.conditions()[0].http_header_config().unwrap();
    assert_eq!(header.http_header_name(), Some("X-Origin-Verify"));
    assert_eq!(header.values(), [SECRET]);
    assert_eq!(
        rule.actions()[0].target_group_arn(),
        Some(s.lb.target_groups[0].as_str())
    );

    assert!(
        besides_renewal(&s.d).is_empty(),
        "a 403 default with a healthy forwarded-to group is normal: {:#?}",
        s.d.findings
    );
    assert_ne!(s.d.verdict, Verdict::Critical);
    let routes = check(&s.d, "origin-listener-rules");
    assert!(
        routes.contains(
            "requests may meet rule 1 (http-header X-Origin-Verify) -> forward to cfd-header-tg"
        ) && routes.contains("the rest get the default action -> fixed-response 403"),
        "{routes}"
    );
    let report = serde_json::to_string(&s.d).unwrap();
    let evidence = serde_json::to_string(&s.evidence).unwrap();
    assert!(
        !report.contains(SECRET) && !evidence.contains(SECRET),
        "the header's value is the secret CloudFront shares with the load balancer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_custom_header_pattern_with_its_forwarded_group_down_has_no_healthy_targets() {
    let s = seen("cfd-header-down", |spec| {
        spec.routing = Routing::CustomHeader {
            header: "X-Origin-Verify".into(),
            secret: SECRET.into(),
        };
        spec.instance_running = false;
    })
    .await;
    assert_eq!(
        s.d.probable_cause,
        Some(Code::OriginNoHealthyTargets),
        "{:#?}",
        s.d.findings
    );
    let f = &s.d.findings[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.evidence["not_healthy"][0]["state"], "unused");
    assert!(
        f.evidence["cloudfront_requests"][0]
            .as_str()
            .unwrap()
            .starts_with("rule 1 (http-header X-Origin-Verify)"),
        "{}",
        f.evidence
    );
}

/// Host-based routing behind `origin_host`, which CNAMEs to the load balancer (so CloudFront
/// sends it as Host): the default action answers 404, and each of `routes` is a host rule.
async fn host_routed(
    name: &str,
    origin_host: &str,
    routes: Vec<HostRoute>,
) -> (Alb, Evidence, Diagnosis) {
    let lab = lab().await;
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[origin_host]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let cert = import_certificate(
        &aws_sdk_acm::Client::new(&lab.sdk),
        &leaf,
        &lab.ca.cert_pem(),
    )
    .await;
    let mut spec = AlbSpec::healthy(name, origin.port(), cert);
    spec.routing = Routing::Hosts(routes);
    let lb = alb(&lab.sdk, &spec).await;
    let dns = dns_server(&[(origin_host, &lb.dns_name)]).await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(origin_host, origin.port()))
        .await;
    let mut config = lab.config(origin_host);
    config.dns_server = Some(dns.addr);
    let (evidence, d) = collected(&lab.app(config), &id).await;
    (lb, evidence, d)
}

fn app_and_admin(app_running: bool, admin_running: bool) -> Vec<HostRoute> {
    vec![
        HostRoute {
            host: "app.hosts.test".into(),
            running: app_running,
        },
        HostRoute {
            host: "admin.hosts.test".into(),
            running: admin_running,
        },
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn host_routing_judges_the_rule_cloudfronts_host_meets_and_not_the_others() {
    let (lb, evidence, d) =
        host_routed("cfd-hosts", "app.hosts.test", app_and_admin(true, false)).await;
    // The fixture: a 404 default and two host rules, the second one's instance stopped.
    let listener = evidence.load_balancers[0].listener.as_ref().unwrap();
    let health = listener.target_groups.as_ref().unwrap();
    assert_eq!(
        health.len(),
        1,
        "only the group CloudFront's Host reaches is read: {health:?}"
    );
    assert_eq!(
        (health[0].arn.as_str(), health[0].healthy),
        (lb.target_groups[0].as_str(), 1)
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&lab().await.sdk);
    let other = elb
        .describe_target_health()
        .target_group_arn(&lb.target_groups[1])
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.target_health_descriptions()[0]
            .target_health()
            .and_then(|h| h.state())
            .map(|s| s.as_str()),
        Some("unused"),
        "the other rule's group really has no healthy target"
    );

    assert!(
        !d.findings.iter().any(|f| f.severity == Severity::Critical),
        "{:#?}",
        d.findings
    );
    let routes = check(&d, "origin-listener-rules");
    assert!(
        routes.contains("CloudFront sends Host app.hosts.test (the origin domain): every request meets rule 10 (host-header app.hosts.test) -> forward to cfd-hosts-tg0"),
        "{routes}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn host_routing_to_a_group_without_a_healthy_target_is_no_healthy_targets() {
    let (_, _, d) = host_routed(
        "cfd-hosts-down",
        "app.hosts.test",
        app_and_admin(false, true),
    )
    .await;
    assert_eq!(
        d.probable_cause,
        Some(Code::OriginNoHealthyTargets),
        "{:#?}",
        d.findings
    );
    assert_eq!(d.findings[0].severity, Severity::Critical);
    assert_eq!(
        d.findings[0].evidence["cloudfront_requests"][0],
        "rule 10 (host-header app.hosts.test) -> forward to cfd-hosts-down-tg0"
    );
}

/// The security group as the test built it: its one rule on the origin port.
async fn ingress_rule(lab: &Lab, group: &str) -> aws_sdk_ec2::types::IpPermission {
    aws_sdk_ec2::Client::new(&lab.sdk)
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .unwrap()
        .security_groups
        .unwrap()
        .remove(0)
        .ip_permissions
        .unwrap()
        .remove(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_managed_copy_of_cloudfronts_prefix_list_admits_only_cloudfront() {
    let lab = lab().await;
    let ranges = cloudfront_ranges(&lab.sdk, "us-east-1").await;
    let s = seen("cfd-pl-copy", |spec| {
        spec.ingress = Ingress::CustomerPrefixList(ranges.clone())
    })
    .await;
    // The fixture: the rule names a prefix list that is not AWS's, holding AWS's entries.
    let rule = ingress_rule(&s.lab, &s.lb.security_group).await;
    let list = rule.prefix_list_ids()[0].prefix_list_id().unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&s.lab.sdk);
    let described = ec2
        .describe_managed_prefix_lists()
        .prefix_list_ids(list)
        .send()
        .await
        .unwrap();
    assert_ne!(described.prefix_lists()[0].owner_id(), Some("AWS"));
    let mut entries: Vec<String> = ec2
        .get_managed_prefix_list_entries()
        .prefix_list_id(list)
        .send()
        .await
        .unwrap()
        .entries()
        .iter()
        .map(|e| e.cidr().unwrap().to_string())
        .collect();
    entries.sort();
    let mut expected = ranges.clone();
    expected.sort();
    assert_eq!(entries, expected);

    let lb = &s.evidence.load_balancers[0];
    assert!(lb.admits_only_cloudfront(), "{:#?}", lb.security_groups);
    let group = &lb.security_groups.as_ref().unwrap()[0];
    assert_eq!(group.cloudfront_by(), Some(AdmittedBy::CustomerPrefixList));
    assert!(
        group
            .rule()
            .unwrap()
            .contains(&format!("customer-managed prefix list {list}, whose entries are all CloudFront origin-facing ranges")),
        "{group:?}"
    );
    assert!(besides_renewal(&s.d).is_empty(), "{:#?}", s.d.findings);
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudfronts_ranges_listed_as_cidrs_admit_only_cloudfront() {
    let lab = lab().await;
    let ranges = cloudfront_ranges(&lab.sdk, "us-east-1").await;
    let s = seen("cfd-cidrs", |spec| {
        spec.ingress = Ingress::Cidrs(ranges.clone())
    })
    .await;
    let rule = ingress_rule(&s.lab, &s.lb.security_group).await;
    assert_eq!(
        rule.ip_ranges().len(),
        ranges.len(),
        "the fixture lists every range"
    );
    assert!(rule.prefix_list_ids().is_empty());

    let lb = &s.evidence.load_balancers[0];
    assert!(lb.admits_only_cloudfront(), "{:#?}", lb.security_groups);
    let group = &lb.security_groups.as_ref().unwrap()[0];
    assert_eq!(group.admits(), Admission::CloudfrontOnly);
    assert_eq!(group.cloudfront_by(), Some(AdmittedBy::CloudfrontCidrs));
    assert_eq!(
        lb.cloudfront_ranges.as_ref().map(|c| (c.admitted, c.of)),
        Some((ranges.len(), ranges.len()))
    );
    assert!(besides_renewal(&s.d).is_empty(), "{:#?}", s.d.findings);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_missing_one_of_cloudfronts_ranges_is_a_warning_naming_it() {
    let lab = lab().await;
    let mut ranges = cloudfront_ranges(&lab.sdk, "us-east-1").await;
    let dropped = ranges.pop().unwrap();
    let s = seen("cfd-cidrs-stale", |spec| {
        spec.ingress = Ingress::Cidrs(ranges.clone())
    })
    .await;
    assert!(s.evidence.load_balancers[0].admits_only_cloudfront());
    let partial: Vec<_> =
        s.d.findings
            .iter()
            .filter(|f| f.code == Code::OriginSecurityGroupBlocksPort)
            .collect();
    assert_eq!(partial.len(), 1, "{:#?}", s.d.findings);
    assert_eq!(partial[0].severity, Severity::Warning);
    assert_eq!(partial[0].evidence["missing"][0], dropped.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_open_only_to_an_unrelated_range_blocks_cloudfront() {
    let s = seen("cfd-office", |spec| {
        spec.ingress = Ingress::Cidrs(vec!["198.51.100.0/24".into()])
    })
    .await;
    let rule = ingress_rule(&s.lab, &s.lb.security_group).await;
    assert_eq!(rule.ip_ranges()[0].cidr_ip(), Some("198.51.100.0/24"));

    let lb = &s.evidence.load_balancers[0];
    assert!(!lb.admits_only_cloudfront());
    assert_eq!(
        lb.security_groups.as_ref().unwrap()[0].admits(),
        Admission::NotCloudfront
    );
    assert_eq!(
        s.d.probable_cause,
        Some(Code::OriginSecurityGroupBlocksPort),
        "{:#?}",
        s.d.findings
    );
    assert_eq!(s.d.findings[0].severity, Severity::Critical);
}

/// aws-smithy-mocks in place of ELB, EC2 and CloudFront: moto reports every registered running
/// instance healthy and cannot produce `unhealthy` (failed health checks). The distribution
/// forwards the viewer's Host (legacy ForwardedValues), its alias is app.mocked.test, and the
/// load balancer routes by host: rule 10 app.mocked.test -> tg-app, rule 20 admin.mocked.test ->
/// tg-admin, default 404. The origin is a plain HTTP server on loopback (the live probe passes).
mod unhealthy_targets_mocked {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput;
    use aws_sdk_cloudfront::types as cf;
    use aws_sdk_ec2::operation::describe_managed_prefix_lists::DescribeManagedPrefixListsOutput;
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    use aws_sdk_ec2::types as ec2;
    use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
    use aws_sdk_elasticloadbalancingv2::types as elb;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use cf_doctor_collect::probe::{Prober, TlsSetup};
    use cf_doctor_collect::{Collector, InfraClients};
    use cf_doctor_model::evidence::Thresholds;
    use cf_doctor_model::{Code, Diagnosis, Severity};

    const ALB_DNS: &str = "shop-alb-1.us-east-1.elb.amazonaws.com";
    const TG_APP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-app/1";
    const TG_ADMIN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-admin/2";
    const LISTENER: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop-alb/1/2";

    #[allow(deprecated)] // ForwardedValues: how distributions made before policies forward Host.
    fn distribution(port: u16) -> GetDistributionOutput {
        let custom = cf::CustomOriginConfig::builder()
            .http_port(i32::from(port))
            .https_port(443)
            .origin_protocol_policy(cf::OriginProtocolPolicy::HttpOnly)
            .build()
            .unwrap();
        let origin = cf::Origin::builder()
            .id("alb")
            .domain_name(ALB_DNS)
            .custom_origin_config(custom)
            .build()
            .unwrap();
        let host = cf::ForwardedValues::builder()
            .query_string(false)
            .cookies(
                cf::CookiePreference::builder()
                    .forward(cf::ItemSelection::None)
                    .build()
                    .unwrap(),
            )
            .headers(
                cf::Headers::builder()
                    .quantity(1)
                    .items("Host")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let behaviour = cf::DefaultCacheBehavior::builder()
            .target_origin_id("alb")
            .viewer_protocol_policy(cf::ViewerProtocolPolicy::RedirectToHttps)
            .forwarded_values(host)
            .build()
            .unwrap();
        let config = cf::DistributionConfig::builder()
            .caller_reference("mocked")
            .comment("mocked")
            .enabled(true)
            .aliases(
                cf::Aliases::builder()
                    .quantity(1)
                    .items("app.mocked.test")
                    .build()
                    .unwrap(),
            )
            .origins(
                cf::Origins::builder()
                    .quantity(1)
                    .items(origin)
                    .build()
                    .unwrap(),
            )
            .default_cache_behavior(behaviour)
            .build()
            .unwrap();
        let d = cf::Distribution::builder()
            .id("E2MOCKED")
            .arn("arn:aws:cloudfront::123456789012:distribution/E2MOCKED")
            .status("Deployed")
            .domain_name("d111111abcdef8.cloudfront.net")
            .last_modified_time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .in_progress_invalidation_batches(0)
            .distribution_config(config)
            .build()
            .unwrap();
        GetDistributionOutput::builder().distribution(d).build()
    }

    fn host_rule(priority: &str, host: &str, group: &str) -> elb::Rule {
        elb::Rule::builder()
            .rule_arn(format!("{LISTENER}/rule-{priority}"))
            .priority(priority)
            .conditions(
                elb::RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        elb::HostHeaderConditionConfig::builder()
                            .values(host)
                            .build(),
                    )
                    .build(),
            )
            .actions(
                elb::Action::builder()
                    .r#type(elb::ActionTypeEnum::Forward)
                    .target_group_arn(group)
                    .build(),
            )
            .is_default(false)
            .build()
    }

    fn not_found() -> elb::Action {
        elb::Action::builder()
            .r#type(elb::ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                elb::FixedResponseActionConfig::builder()
                    .status_code("404")
                    .content_type("text/plain")
                    .build(),
            )
            .build()
    }

    fn health(healthy: bool) -> DescribeTargetHealthOutput {
        let state = if healthy {
            elb::TargetHealth::builder()
                .state(elb::TargetHealthStateEnum::Healthy)
                .build()
        } else {
            elb::TargetHealth::builder()
                .state(elb::TargetHealthStateEnum::Unhealthy)
                .reason(elb::TargetHealthReasonEnum::FailedHealthChecks)
                .build()
        };
        DescribeTargetHealthOutput::builder()
            .target_health_descriptions(
                elb::TargetHealthDescription::builder()
                    .target(
                        elb::TargetDescription::builder()
                            .id("i-0123456789abcdef0")
                            .port(80)
                            .build(),
                    )
                    .target_health(state)
                    .build(),
            )
            .build()
    }

    struct Run {
        d: Diagnosis,
        app_calls: usize,
        admin_calls: usize,
    }

    async fn run(app_healthy: bool, admin_healthy: bool) -> Run {
        let origin = cf_doctor_testkit::plain_http_origin(200, Duration::ZERO).await;
        let port = origin.port();
        let get = mock!(aws_sdk_cloudfront::Client::get_distribution)
            .then_output(move || distribution(port));
        let lbs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers).then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    elb::LoadBalancer::builder()
                        .load_balancer_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-alb/1")
                        .load_balancer_name("shop-alb")
                        .dns_name(ALB_DNS)
                        .r#type(elb::LoadBalancerTypeEnum::Application)
                        .security_groups("sg-0123")
                        .build(),
                )
                .build()
        });
        let listeners = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners)
            .then_output(move || {
                DescribeListenersOutput::builder()
                    .listeners(
                        elb::Listener::builder()
                            .listener_arn(LISTENER)
                            .port(i32::from(port))
                            .protocol(elb::ProtocolEnum::Http)
                            .default_actions(not_found())
                            .build(),
                    )
                    .build()
            });
        let rules =
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules).then_output(|| {
                DescribeRulesOutput::builder()
                    .rules(host_rule("20", "admin.mocked.test", TG_ADMIN))
                    .rules(host_rule("10", "app.mocked.test", TG_APP))
                    .rules(
                        elb::Rule::builder()
                            .rule_arn(format!("{LISTENER}/default"))
                            .priority("default")
                            .actions(not_found())
                            .is_default(true)
                            .build(),
                    )
                    .build()
            });
        let app = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .match_requests(|r| r.target_group_arn() == Some(TG_APP))
            .then_output(move || health(app_healthy));
        let admin = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .match_requests(|r| r.target_group_arn() == Some(TG_ADMIN))
            .then_output(move || health(admin_healthy));
        let lists = mock!(aws_sdk_ec2::Client::describe_managed_prefix_lists).then_output(|| {
            DescribeManagedPrefixListsOutput::builder()
                .prefix_lists(
                    ec2::ManagedPrefixList::builder()
                        .prefix_list_id("pl-3b927c52")
                        .prefix_list_name("com.amazonaws.global.cloudfront.origin-facing")
                        .build(),
                )
                .build()
        });
        let groups = mock!(aws_sdk_ec2::Client::describe_security_groups).then_output(move || {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(
                    ec2::SecurityGroup::builder()
                        .group_id("sg-0123")
                        .group_name("shop-alb")
                        .ip_permissions(
                            ec2::IpPermission::builder()
                                .ip_protocol("tcp")
                                .from_port(i32::from(port))
                                .to_port(i32::from(port))
                                .prefix_list_ids(
                                    ec2::PrefixListId::builder()
                                        .prefix_list_id("pl-3b927c52")
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let no_data = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
            aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput::builder().build()
        });
        let elb_rules: [&Rule; 5] = [&lbs, &listeners, &rules, &app, &admin];
        // An endpoint on a closed loopback port: the collector then treats names as emulated (no
        // system DNS, no edge probe of the made-up distribution domain), and a client this test
        // did not mock fails on loopback instead of reaching anywhere.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let mut resolve = BTreeMap::new();
        resolve.insert(ALB_DNS.to_string(), vec!["127.0.0.1".parse().unwrap()]);
        let prober = Prober {
            timeout: Duration::from_millis(1500),
            resolve,
            tls: TlsSetup::new(None).unwrap(),
            // The only origin name is pinned above: nothing is resolved.
            resolver: None,
        };
        let mut c = Collector::new(&sdk, prober, Thresholds::default(), &[], None);
        c.cloudfront = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&get]);
        let infra = InfraClients {
            acm: aws_sdk_acm::Client::new(&sdk),
            elb: mock_client!(
                aws_sdk_elasticloadbalancingv2,
                RuleMode::MatchAny,
                elb_rules
            ),
            ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&lists, &groups]),
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&no_data]),
        };
        c.infra_by_region = BTreeMap::from([("us-east-1".to_string(), infra)]);
        let evidence = c
            .distribution("E2MOCKED")
            .await
            .expect("the inspection completes");
        let d = cf_doctor_rules::diagnose(
            &evidence,
            super::alarm("E2MOCKED", None),
            chrono::Utc::now(),
            0,
        );
        drop(origin);
        Run {
            d,
            app_calls: app.num_calls(),
            admin_calls: admin.num_calls(),
        }
    }

    #[tokio::test]
    async fn the_viewer_host_meets_a_healthy_rule_so_an_unhealthy_other_rule_is_no_fault() {
        let run = run(true, false).await;
        assert!(
            !run.d
                .findings
                .iter()
                .any(|f| f.severity == Severity::Critical),
            "{:#?}",
            run.d.findings
        );
        assert_eq!(
            (run.app_calls, run.admin_calls),
            (1, 0),
            "only the reached group is read"
        );
        let routes = run
            .d
            .checks
            .iter()
            .find(|c| c.name == "origin-listener-rules")
            .unwrap();
        assert!(
            routes.detail.as_deref().unwrap().contains("CloudFront forwards the viewer's Host (app.mocked.test): every request meets rule 10 (host-header app.mocked.test) -> forward to tg-app"),
            "{routes:?}"
        );
    }

    #[tokio::test]
    async fn the_viewer_host_meeting_an_unhealthy_rule_is_no_healthy_targets() {
        let run = run(false, true).await;
        assert_eq!(
            run.d.probable_cause,
            Some(Code::OriginNoHealthyTargets),
            "{:#?}",
            run.d.findings
        );
        let f = &run.d.findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence["not_healthy"][0]["state"], "unhealthy");
        assert_eq!(
            f.evidence["not_healthy"][0]["reason"],
            "Target.FailedHealthChecks"
        );
    }
}
