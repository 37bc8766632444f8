//! Corroboration from the origin's side: what the load balancer behind an origin counted, in the
//! same minutes, of the failure a finding names (CloudFront's failed TLS handshakes are the load
//! balancer's ClientTLSNegotiationErrorCount; a listener with no healthy target answers 503
//! itself). A cause the origin's own metrics confirm ranks before one they do not.
//! Metrics: <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html>,
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html>

use cf_doctor_model::evidence::{LoadBalancer, METRIC_WINDOW_MINUTES};
use cf_doctor_model::{Code, Evidence, Finding, Layer};

/// A metric that counts what a finding's code describes, and how it reads.
struct Witness {
    metric: &'static str,
    /// `812 {words}`.
    words: &'static str,
}

const fn witness(metric: &'static str, words: &'static str) -> Witness {
    Witness { metric, words }
}

const ALB_TLS: &[Witness] = &[witness(
    "ClientTLSNegotiationErrorCount",
    "failed TLS handshakes with clients",
)];
const ALB_REFUSED: &[Witness] = &[witness(
    "RejectedConnectionCount",
    "connections rejected at its connection limit",
)];
const ALB_NO_TARGETS: &[Witness] = &[
    witness("HTTPCode_ELB_503_Count", "503 answers of its own"),
    witness("UnHealthyHostCount", "unhealthy targets at most"),
];
const ALB_TARGETS_FAILING: &[Witness] = &[
    witness("HTTPCode_ELB_502_Count", "502 answers of its own"),
    witness("HTTPCode_ELB_504_Count", "504 answers of its own"),
    witness(
        "TargetConnectionErrorCount",
        "failed connections to targets",
    ),
    witness(
        "TargetTLSNegotiationErrorCount",
        "failed TLS handshakes with targets",
    ),
];
const ALB_SLOW: &[Witness] = &[witness("HTTPCode_ELB_504_Count", "504 answers of its own")];
/// A TLS listener terminates the handshake itself.
const NLB_TLS: &[Witness] = &[witness(
    "ClientTLSNegotiationErrorCount",
    "failed TLS handshakes with clients",
)];
/// A TCP listener passes the handshake through to its targets: CloudFront rejecting the
/// certificate resets the connection, which the load balancer counts as a client's reset.
const NLB_PASSED_THROUGH: &[Witness] = &[witness(
    "TCP_Client_Reset_Count",
    "connections reset by clients",
)];
const NLB_NO_TARGETS: &[Witness] = &[witness("UnHealthyHostCount", "unhealthy targets at most")];

/// The load balancer metrics that count what `code` describes. A network load balancer's
/// TCP_ELB_Reset_Count is read but corroborates nothing: idle connections it times out count too.
fn witnesses(code: Code, lb: &LoadBalancer) -> &'static [Witness] {
    let network = lb.is_network();
    let tls = matches!(code.layer(), Layer::Handshake | Layer::Certificate)
        || matches!(code, Code::AcmCertExpired | Code::AcmCertNotIssued);
    let passed_through = lb.listener.as_ref().is_some_and(|l| l.protocol == "TCP");
    match (network, code) {
        (false, _) if tls => ALB_TLS,
        (true, _) if tls && passed_through => NLB_PASSED_THROUGH,
        (true, _) if tls => NLB_TLS,
        (false, Code::OriginConnectionRefused) => ALB_REFUSED,
        (false, Code::OriginNoHealthyTargets) => ALB_NO_TARGETS,
        (true, Code::OriginNoHealthyTargets) => NLB_NO_TARGETS,
        (false, Code::OriginHttpError) => ALB_TARGETS_FAILING,
        (false, Code::OriginSlow) => ALB_SLOW,
        _ => &[],
    }
}

/// Whether a finding is about this load balancer: the origin it serves (a probe's
/// `host:port[@address]`), the load balancer or its listener, or one of the listener's
/// certificates.
fn concerns(finding: &Finding, lb: &LoadBalancer) -> bool {
    let endpoint = format!("{}:{}", lb.origin_host, lb.origin_port);
    let resource = finding.resource.as_str();
    resource == endpoint
        || resource.starts_with(&format!("{endpoint}@"))
        || resource.starts_with(&lb.arn)
        || lb
            .listener
            .as_ref()
            .is_some_and(|l| resource == l.arn || l.certificate_arns.iter().any(|c| c == resource))
}

/// What the load balancer counted of `code`, in words, when it counted anything.
fn seen_by(code: Code, lb: &LoadBalancer, evidence: &Evidence) -> Option<String> {
    let dimension = lb.dimension()?;
    // UnHealthyHostCount is published per target group: its readings name the group.
    let groups: Vec<&str> = lb
        .listener
        .iter()
        .flat_map(|l| {
            l.default_action
                .iter()
                .chain(l.rules.iter().flatten().map(|r| &r.action))
        })
        .flat_map(|a| a.target_groups())
        .filter_map(|arn| arn.find("targetgroup/").map(|at| &arn[at..]))
        .collect();
    let about_lb = |resource: &str| resource == dimension || groups.contains(&resource);
    let counted: Vec<String> = witnesses(code, lb)
        .iter()
        .filter_map(|w| {
            // Counts add up over the window; a gauge (unhealthy hosts) is read at its highest.
            let value = evidence
                .metrics
                .iter()
                .filter(|m| m.metric == w.metric && about_lb(&m.resource))
                .filter_map(|m| m.sum.or(m.max))
                .reduce(f64::max)
                .filter(|v| *v > 0.0)?;
            Some(format!("{value} {}", w.words))
        })
        .collect();
    (!counted.is_empty()).then(|| {
        format!(
            "seen by the load balancer {}: {} in {METRIC_WINDOW_MINUTES} minutes",
            lb.name,
            counted.join(", ")
        )
    })
}

/// Marks each finding that a load balancer's own metrics confirm.
pub fn apply(findings: &mut [Finding], evidence: &Evidence) {
    for finding in findings.iter_mut() {
        let seen = evidence
            .load_balancers
            .iter()
            .filter(|lb| concerns(finding, lb))
            .find_map(|lb| seen_by(finding.code, lb, evidence));
        if let Some(seen) = seen {
            finding.set_corroborated_by(seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::evidence::{CloudfrontHost, MetricReading};
    use cf_doctor_model::Severity;

    fn lb(lb_type: &str) -> LoadBalancer {
        let kind = if lb_type == "network" { "net" } else { "app" };
        LoadBalancer {
            arn: format!("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/{kind}/shop/1"),
            name: "shop".into(),
            dns_name: "shop-1.us-east-1.elb.amazonaws.com".into(),
            region: "us-east-1".into(),
            lb_type: cf_doctor_model::evidence::LoadBalancerType::from_aws(lb_type),
            matched_by: cf_doctor_model::evidence::MatchedBy::DnsName,
            matched_via: vec![],
            distribution_id: "E1".into(),
            origin_host: "origin.shop.example".into(),
            origin_port: 443,
            origin_protocol: cf_doctor_model::evidence::OriginProtocol::Https,
            origin_ssl_protocols: vec![],
            cname_chain: vec![],
            listeners: vec![],
            listener: None,
            security_groups: None,
            cloudfront_prefix_list: None,
            cloudfront_host: CloudfrontHost::Unknown,
            cloudfront_ranges: None,
        }
    }

    fn counted(resource: &str, metric: &str, sum: f64) -> MetricReading {
        MetricReading {
            namespace: "AWS/ApplicationELB".into(),
            metric: metric.into(),
            resource: resource.into(),
            statistic: "Sum".into(),
            latest: Some(sum),
            max: Some(sum),
            sum: Some(sum),
            region: None,
        }
    }

    #[test]
    fn failed_handshakes_confirm_a_certificate_fault_at_the_origin() {
        let evidence = Evidence {
            load_balancers: vec![lb("application")],
            metrics: vec![counted(
                "app/shop/1",
                "ClientTLSNegotiationErrorCount",
                812.0,
            )],
            ..Evidence::default()
        };
        let mut findings = vec![
            Finding::new(
                Code::OriginCertExpired,
                Severity::Critical,
                "origin.shop.example:443@203.0.113.10",
            ),
            Finding::new(
                Code::OriginConnectionTimeout,
                Severity::Critical,
                "origin.shop.example:443@203.0.113.10",
            ),
            Finding::new(
                Code::OriginCertExpired,
                Severity::Critical,
                "other.example:443",
            ),
        ];
        apply(&mut findings, &evidence);
        assert_eq!(
            findings[0].facts.corroborated_by.as_deref(),
            Some("seen by the load balancer shop: 812 failed TLS handshakes with clients in 15 minutes")
        );
        assert_eq!(
            findings[1].facts.corroborated_by, None,
            "no metric counts a dropped SYN"
        );
        assert_eq!(findings[2].facts.corroborated_by, None, "another origin");
    }

    #[test]
    fn a_zero_count_confirms_nothing() {
        let evidence = Evidence {
            load_balancers: vec![lb("network")],
            metrics: vec![counted("net/shop/1", "ClientTLSNegotiationErrorCount", 0.0)],
            ..Evidence::default()
        };
        let mut findings = vec![Finding::new(
            Code::OriginCertNameMismatch,
            Severity::Critical,
            "origin.shop.example:443",
        )];
        apply(&mut findings, &evidence);
        assert_eq!(findings[0].facts.corroborated_by, None);
    }
}
