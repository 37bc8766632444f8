//! A load balancer's listener certificates judged from ACM when the wire could not be reached (an
//! origin that admits only CloudFront, a VPC origin): the certificate CloudFront would be given
//! must cover the origin domain or the Host it forwards, or CloudFront fails the handshake (502).
//!
//! Which certificate a TLS listener presents: the one whose names match the SNI CloudFront sends
//! (the forwarded viewer Host, else the origin domain), else the default certificate
//! (<https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html>).
//! CloudFront accepts it when it covers the origin domain or the Host header
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-502-bad-gateway.html#ssl-certificate-expired>).

use serde_json::json;

use cf_doctor_model::evidence::{
    AcmCertificate, CloudfrontHost, Listener, LoadBalancer, OriginKind,
};
use cf_doctor_model::names;
use cf_doctor_model::{Code, Evidence, Finding, Severity};

pub fn findings(evidence: &Evidence) -> Vec<Finding> {
    evidence
        .load_balancers
        .iter()
        .filter_map(|lb| judge(lb, evidence))
        .collect()
}

/// One request CloudFront makes: the server name it sends, and the names it accepts back.
struct Handshake {
    server_name: String,
    accepted: Vec<String>,
    /// The server name stands for the names under a wildcard alias: viewers may send others,
    /// which certificates selected by SNI may cover.
    under_wildcard: bool,
}

/// The handshakes CloudFront makes with this origin: with the origin domain as SNI when Host is
/// not forwarded, with each viewer Host when it is (a wildcard alias stands for a name under it).
/// None when the Host sent is not known.
fn handshakes(lb: &LoadBalancer) -> Option<Vec<Handshake>> {
    let origin = lb.origin_host.clone();
    match &lb.cloudfront_host {
        CloudfrontHost::OriginDomain { host } => Some(vec![Handshake {
            server_name: host.clone(),
            accepted: vec![host.clone()],
            under_wildcard: false,
        }]),
        CloudfrontHost::Viewer { hosts } => Some(
            hosts
                .iter()
                .map(|host| {
                    let concrete = match host.strip_prefix("*.") {
                        Some(parent) => format!("cf-doctor-probe.{parent}"),
                        None => host.clone(),
                    };
                    let mut accepted = vec![concrete.clone()];
                    if names::normalise(&concrete) != names::normalise(&origin) {
                        accepted.push(origin.clone());
                    }
                    Handshake {
                        server_name: concrete,
                        accepted,
                        under_wildcard: host.starts_with("*."),
                    }
                })
                .collect(),
        ),
        CloudfrontHost::Unknown => None,
    }
}

/// Whether a probe of this origin got as far as a certificate: then the wire findings judge it.
fn seen_on_the_wire(lb: &LoadBalancer, evidence: &Evidence) -> bool {
    evidence
        .origin_probes
        .iter()
        .filter(|p| p.host == lb.origin_host && p.port == lb.origin_port)
        .flat_map(|p| &p.addresses)
        .filter_map(|a| a.tls.as_ref())
        .any(|tls| !tls.presented_chain.is_empty())
}

/// The distribution names this load balancer as a custom origin (a VPC origin's load balancer is
/// reached by its own name, whose certificate rules differ: not judged here).
fn custom_origin(lb: &LoadBalancer, evidence: &Evidence) -> bool {
    evidence
        .distributions
        .iter()
        .filter(|d| d.id == lb.distribution_id)
        .flat_map(|d| &d.origins)
        .any(|o| {
            matches!(o.kind, OriginKind::Custom(_))
                && names::normalise(&o.domain_name) == names::normalise(&lb.origin_host)
        })
}

/// A TLS listener CloudFront's handshake could not be seen on, with every certificate it holds
/// as ACM describes it (the default one first). None when the wire was seen, the listener does
/// not present a certificate to CloudFront, or a certificate was not read (it may be the one
/// that matches).
fn unseen_listener<'a>(
    lb: &'a LoadBalancer,
    evidence: &'a Evidence,
) -> Option<(&'a Listener, Vec<&'a AcmCertificate>)> {
    let listener = lb.listener.as_ref()?;
    let speaks_tls = matches!(listener.protocol.as_str(), "HTTPS" | "TLS");
    if !lb.origin_protocol.is_https() || !speaks_tls || listener.certificate_arns.is_empty() {
        return None;
    }
    if seen_on_the_wire(lb, evidence) || !custom_origin(lb, evidence) {
        return None;
    }
    // Without the SNI certificates (DescribeListenerCertificates failed) the default one may
    // not be what a server name selects.
    let sni_unread = evidence.gaps.iter().any(|g| {
        g.action == "elasticloadbalancing:DescribeListenerCertificates"
            && g.resource == listener.arn
    });
    if sni_unread {
        return None;
    }
    let certificates: Vec<&AcmCertificate> = listener
        .certificate_arns
        .iter()
        .map(|arn| evidence.certificates.iter().find(|c| &c.arn == arn))
        .collect::<Option<_>>()?;
    Some((listener, certificates))
}

/// The certificate the listener presents for `server_name`: the one whose names match it, else
/// the default one. None when several match: the load balancer then picks one by rules of its
/// own (key type, validity) that cannot be told from here.
fn selected<'a>(
    certificates: &[&'a AcmCertificate],
    server_name: &str,
) -> Option<&'a AcmCertificate> {
    let matching: Vec<&AcmCertificate> = certificates
        .iter()
        .filter(|c| names::any_covers(&c.names(), server_name))
        .copied()
        .collect();
    match matching.as_slice() {
        [] => Some(certificates[0]),
        [only] => Some(only),
        _ => None,
    }
}

/// An ACM finding about a listener certificate that CloudFront is given when the wire could not
/// be seen (it admits only CloudFront) is what viewers get 502 for: it says so, and explains an
/// alarm about 502 like the wire finding it stands in for.
pub fn mark_presented(findings: &mut [Finding], evidence: &Evidence) {
    let mut presented: Vec<(&str, String)> = Vec::new();
    for lb in &evidence.load_balancers {
        let Some((listener, certificates)) = unseen_listener(lb, evidence) else {
            continue;
        };
        for handshake in handshakes(lb).unwrap_or_default() {
            let Some(certificate) = selected(&certificates, &handshake.server_name) else {
                continue;
            };
            presented.push((
                certificate.arn.as_str(),
                format!(
                    "listener {}:{} of {} presents it to CloudFront for {}",
                    listener.protocol, listener.port, lb.name, handshake.server_name
                ),
            ));
        }
    }
    for finding in findings.iter_mut().filter(|f| {
        matches!(f.code, Code::AcmCertExpired | Code::AcmCertNotIssued)
            && f.severity == Severity::Critical
    }) {
        if let Some((_, words)) = presented.iter().find(|(arn, _)| *arn == finding.resource) {
            finding.status_codes = vec![502];
            finding.evidence["presented_to_cloudfront"] = json!(words);
        }
    }
}

fn judge(lb: &LoadBalancer, evidence: &Evidence) -> Option<Finding> {
    let (listener, certificates) = unseen_listener(lb, evidence)?;
    let default = certificates[0];
    let handshakes = handshakes(lb)?;
    // Several certificates matching a server name all cover it, and it is accepted: only a
    // server name that selects the default one can fail.
    let failing: Vec<(&Handshake, &AcmCertificate)> = handshakes
        .iter()
        .filter_map(|h| {
            let presented = selected(&certificates, &h.server_name)?;
            let accepted = h
                .accepted
                .iter()
                .any(|name| names::any_covers(&presented.names(), name));
            (!accepted).then_some((h, presented))
        })
        .collect();
    let (first, presented) = *failing.first()?;
    // A name under a wildcard alias stands for names viewers may or may not send.
    let everywhere =
        failing.len() == handshakes.len() && failing.iter().all(|(h, _)| !h.under_wildcard);
    let severity = if everywhere {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let names_of = |c: &AcmCertificate| c.names().join(", ");
    let title = format!(
        "Listener {}:{} of {} presents a certificate for {} when CloudFront asks for {}, covering neither {} (from ACM: not seen on the wire)",
        listener.protocol,
        listener.port,
        lb.name,
        names_of(presented),
        first.server_name,
        first.accepted.join(" nor "),
    );
    Some(
        Finding::new(Code::OriginCertNameMismatch, severity, &listener.arn)
            .statuses(&[502])
            .title(title)
            .evidence(json!({
                "source": "acm",
                "seen_on_wire": false,
                "why": "no probe from here reached the origin's TLS handshake: the certificate CloudFront gets was worked out from the listener's certificates in ACM",
                "load_balancer": lb.name,
                "listener": listener.arn,
                "server_names": failing.iter().map(|(h, _)| &h.server_name).collect::<Vec<_>>(),
                "accepted_names": first.accepted,
                "presented_certificate": {"arn": presented.arn, "names": presented.names()},
                "default_certificate": default.arn,
                "listener_certificates": certificates.iter().map(|c| json!({"arn": c.arn, "names": c.names()})).collect::<Vec<_>>(),
                "every_request": everywhere,
            }))
            .remediation(format!(
                "Attach a certificate covering {} to the listener (as its default, or as an additional certificate it selects by SNI), or set the distribution's origin domain to a name the listener's certificates cover.",
                first.accepted[0]
            )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::{
        CustomOrigin, Distribution, Listener, Origin, ViewerCertificate,
    };

    fn certificate(arn: &str, names: &[&str]) -> AcmCertificate {
        AcmCertificate {
            arn: arn.into(),
            region: "us-east-1".into(),
            domain_name: names[0].into(),
            subject_alternative_names: names.iter().map(|n| n.to_string()).collect(),
            status: Some("ISSUED".into()),
            cert_type: "AMAZON_ISSUED".into(),
            not_before: None,
            not_after: None,
            renewal_eligibility: None,
            renewal_status: None,
            renewal_status_reason: None,
            validation_methods: vec![],
            in_use_by: vec![],
            in_use: Some(true),
            used_as: vec!["listener certificate".into()],
        }
    }

    fn evidence(host: CloudfrontHost, certificates: &[(&str, &[&str])]) -> Evidence {
        let origin = "origin.shop.example";
        let lb = LoadBalancer {
            arn: "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/shop/1".into(),
            name: "shop".into(),
            dns_name: "shop-1.us-east-1.elb.amazonaws.com".into(),
            region: "us-east-1".into(),
            lb_type: Some(cf_doctor_model::evidence::LoadBalancerType::Application),
            matched_by: cf_doctor_model::evidence::MatchedBy::Route53Alias,
            matched_via: vec![],
            distribution_id: "E1".into(),
            origin_host: origin.into(),
            origin_port: 443,
            origin_protocol: cf_doctor_model::evidence::OriginProtocol::Https,
            origin_ssl_protocols: vec!["TLSv1.2".into()],
            cname_chain: vec![],
            listeners: vec![],
            listener: Some(Listener {
                arn: "listener-arn".into(),
                port: 443,
                protocol: "HTTPS".into(),
                ssl_policy: None,
                policy_protocols: None,
                certificate_arns: certificates.iter().map(|(a, _)| a.to_string()).collect(),
                target_groups: None,
                default_action: None,
                rules: None,
            }),
            security_groups: None,
            cloudfront_prefix_list: None,
            cloudfront_host: host,
            cloudfront_ranges: None,
        };
        Evidence {
            distributions: vec![Distribution {
                id: "E1".into(),
                arn: "arn".into(),
                domain_name: "d1.cloudfront.net".into(),
                enabled: true,
                status: "Deployed".into(),
                aliases: vec![],
                viewer_certificate: ViewerCertificate::default(),
                origins: vec![Origin {
                    id: "o".into(),
                    domain_name: origin.into(),
                    kind: OriginKind::Custom(CustomOrigin {
                        protocol_policy: cf_doctor_model::evidence::OriginProtocolPolicy::HttpsOnly,
                        http_port: 80,
                        https_port: 443,
                        ssl_protocols: vec!["TLSv1.2".into()],
                        read_timeout_s: 30,
                        connection_timeout_s: 10,
                        ip_address_type: Default::default(),
                        client_certificate_arn: None,
                    }),
                    forwarded_host: None,
                }],
                origin_groups: vec![],
                function_associations: vec![],
                custom_error_responses: vec![],
                logs: Default::default(),
            }],
            certificates: certificates
                .iter()
                .map(|(arn, names)| certificate(arn, names))
                .collect(),
            load_balancers: vec![lb],
            ..Evidence::default()
        }
    }

    fn origin_domain() -> CloudfrontHost {
        CloudfrontHost::OriginDomain {
            host: "origin.shop.example".into(),
        }
    }

    fn judged(e: &Evidence) -> Vec<Severity> {
        findings(e).iter().map(|f| f.severity).collect()
    }

    #[test]
    fn a_default_certificate_for_another_domain_is_a_mismatch() {
        let e = evidence(origin_domain(), &[("c1", &["www.other.example"])]);
        let found = findings(&e);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, Code::OriginCertNameMismatch);
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(found[0].evidence["seen_on_wire"], false);
        assert!(
            found[0].title.contains("not seen on the wire"),
            "{}",
            found[0].title
        );
    }

    #[test]
    fn a_covering_certificate_default_or_selected_by_sni_is_fine() {
        assert!(judged(&evidence(origin_domain(), &[("c1", &["*.shop.example"])])).is_empty());
        assert!(judged(&evidence(
            origin_domain(),
            &[
                ("c1", &["www.other.example"]),
                ("c2", &["origin.shop.example"])
            ]
        ))
        .is_empty());
    }

    #[test]
    fn a_forwarded_host_selects_by_sni_and_the_default_must_then_cover_the_origin() {
        let viewer = CloudfrontHost::Viewer {
            hosts: vec!["www.shop.example".into()],
        };
        // SNI www.shop.example matches nothing, so the default is presented: it covers the
        // origin domain, which CloudFront accepts.
        assert!(judged(&evidence(
            viewer.clone(),
            &[("c1", &["origin.shop.example"])]
        ))
        .is_empty());
        // The SNI certificate covers the origin domain, but the SNI (www) selects none: the
        // default, for another domain, is presented.
        assert_eq!(
            judged(&evidence(
                viewer,
                &[("c1", &["other.example"]), ("c2", &["origin.shop.example"])]
            )),
            [Severity::Critical]
        );
    }

    #[test]
    fn only_some_aliases_failing_is_a_warning_and_an_unknown_host_decides_nothing() {
        let two = CloudfrontHost::Viewer {
            hosts: vec!["www.shop.example".into(), "shop.other".into()],
        };
        assert_eq!(
            judged(&evidence(two, &[("c1", &["www.shop.example"])])),
            [Severity::Warning]
        );
        assert!(judged(&evidence(
            CloudfrontHost::Unknown,
            &[("c1", &["other.example"])]
        ))
        .is_empty());
    }

    #[test]
    fn an_expired_certificate_presented_to_cloudfront_explains_a_502() {
        let e = evidence(origin_domain(), &[("c1", &["origin.shop.example"])]);
        let mut found = vec![
            Finding::new(Code::AcmCertExpired, Severity::Critical, "c1")
                .evidence(json!({"status": "EXPIRED"})),
            Finding::new(Code::AcmCertExpired, Severity::Critical, "c-elsewhere")
                .evidence(json!({})),
        ];
        mark_presented(&mut found, &e);
        assert_eq!(found[0].status_codes, [502]);
        assert_eq!(
            found[0].evidence["presented_to_cloudfront"],
            "listener HTTPS:443 of shop presents it to CloudFront for origin.shop.example"
        );
        assert!(found[1].status_codes.is_empty());
    }

    #[test]
    fn a_wildcard_alias_whose_names_may_be_covered_is_a_warning() {
        let wildcard = CloudfrontHost::Viewer {
            hosts: vec!["*.shop.example".into()],
        };
        // www and api are covered by SNI certificates; other names under the wildcard get the
        // default one, for another domain.
        assert_eq!(
            judged(&evidence(
                wildcard,
                &[
                    ("c1", &["other.example"]),
                    ("c2", &["www.shop.example"]),
                    ("c3", &["api.shop.example"])
                ]
            )),
            [Severity::Warning]
        );
    }

    #[test]
    fn unread_sni_certificates_decide_nothing() {
        let mut e = evidence(origin_domain(), &[("c1", &["other.example"])]);
        e.gaps.push(cf_doctor_model::evidence::Gap::new(
            "elasticloadbalancing:DescribeListenerCertificates",
            "listener-arn",
            "AccessDenied".into(),
            "the listener's additional (SNI) certificates",
        ));
        assert!(judged(&e).is_empty());
    }

    #[test]
    fn two_certificates_matching_the_server_name_mark_neither_as_presented() {
        let e = evidence(
            origin_domain(),
            &[
                ("c1", &["origin.shop.example"]),
                ("c2", &["*.shop.example"]),
            ],
        );
        let mut found =
            vec![Finding::new(Code::AcmCertExpired, Severity::Critical, "c1").evidence(json!({}))];
        mark_presented(&mut found, &e);
        assert!(
            found[0].status_codes.is_empty(),
            "the load balancer picks one of the two"
        );
    }

    #[test]
    fn an_unread_certificate_decides_nothing() {
        let mut e = evidence(origin_domain(), &[("c1", &["other.example"])]);
        e.load_balancers[0]
            .listener
            .as_mut()
            .unwrap()
            .certificate_arns
            .push("c-unread".into());
        assert!(judged(&e).is_empty());
    }
}
