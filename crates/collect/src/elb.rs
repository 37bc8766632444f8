//! Behind the origin: the Elastic Load Balancer that serves a custom origin (its DNS name is the
//! origin domain, or an HTTPS listener's certificate covers it), the listener on the port
//! CloudFront uses, its TLS policy and certificates, the target health behind it, and its security
//! groups. Every call that fails is a gap naming the action; the rest still completes.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;

use crate::probe::dns;
use crate::{acm, error_text, Collector};
use cf_doctor_model::evidence::{
    Admission, Evidence, Gap, Listener, ListenerPort, LoadBalancer, OriginKind,
    SecurityGroupVerdict, TargetGroupHealth, TargetState,
};
use cf_doctor_model::names;
use cf_doctor_model::{Check, CheckOutcome};

/// Load balancers examined per region when looking for one by certificate: a bound on the calls a
/// large account costs.
const MAX_SCANNED: usize = 100;

/// One custom origin as CloudFront reaches it.
struct OriginRef {
    distribution_id: String,
    host: String,
    port: u16,
    https: bool,
    ssl_protocols: Vec<String>,
    /// Where the origin name points through CNAME records, in order.
    cname_chain: Vec<String>,
}

/// The region named in an ELB DNS name: `name-1.eu-west-1.elb.amazonaws.com` (ALB, CLB) or
/// `name-1.elb.eu-west-1.amazonaws.com` (NLB).
pub fn region_of_elb_name(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n >= 4 && labels[n - 2..] == ["amazonaws", "com"] {
        if labels[n - 3] == "elb" {
            return Some(labels[n - 4].to_string());
        }
        if n >= 5 && labels[n - 4] == "elb" {
            return Some(labels[n - 3].to_string());
        }
    }
    None
}

fn same_dns_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = names::normalise(s);
        s.strip_prefix("dualstack.")
            .map(str::to_string)
            .unwrap_or(s)
    };
    norm(a) == norm(b)
}

impl Collector {
    /// Finds and inspects the load balancer behind every custom origin of the collected
    /// distributions; listener certificates join `evidence.certificates`.
    pub async fn behind_origins(&self, evidence: &mut Evidence) {
        let mut origins: Vec<OriginRef> = Vec::new();
        for d in &evidence.distributions {
            for o in &d.origins {
                if let OriginKind::Custom(custom) = &o.kind {
                    let connection = custom.connection();
                    if !origins
                        .iter()
                        .any(|x| x.host == o.domain_name && x.port == connection.port)
                    {
                        origins.push(OriginRef {
                            distribution_id: d.id.clone(),
                            host: o.domain_name.clone(),
                            port: connection.port,
                            https: connection.https,
                            ssl_protocols: custom.ssl_protocols.clone(),
                            cname_chain: Vec::new(),
                        });
                    }
                }
            }
        }
        // The load balancer behind a VPC origin, found by the DNS name DescribeLoadBalancers gave.
        for vpc in crate::vpc_origin::load_balancer_origins(evidence) {
            if !origins
                .iter()
                .any(|x| x.host == vpc.host && x.port == vpc.port)
            {
                origins.push(OriginRef {
                    distribution_id: vpc.distribution_id,
                    host: vpc.host,
                    port: vpc.port,
                    https: vpc.https,
                    ssl_protocols: vpc.ssl_protocols,
                    cname_chain: Vec::new(),
                });
            }
        }
        let mut listings: BTreeMap<String, Vec<elb::LoadBalancer>> = BTreeMap::new();
        if let Some(resolver) = &self.cnames {
            for origin in &mut origins {
                origin.cname_chain =
                    dns::cname_chain(resolver, &origin.host, self.prober.timeout).await;
            }
        }
        for origin in &origins {
            let named = std::iter::once(&origin.host).chain(&origin.cname_chain);
            let regions = match named.filter_map(|n| region_of_elb_name(n)).next() {
                Some(region) => vec![region],
                None => self.origin_regions(),
            };
            for region in &regions {
                if !listings.contains_key(region) {
                    let client = self.infra_for(region).elb;
                    match list_load_balancers(&client).await {
                        Ok(list) => {
                            listings.insert(region.clone(), list);
                        }
                        Err(error) => {
                            evidence.gaps.push(Gap::new(
                                "elasticloadbalancing:DescribeLoadBalancers",
                                region,
                                error,
                                &format!("which load balancer in {region} serves the origins"),
                            ));
                            listings.insert(region.clone(), Vec::new());
                        }
                    }
                }
            }
            let started = std::time::Instant::now();
            let target = format!("{}:{}", origin.host, origin.port);
            match self
                .find_load_balancer(origin, &regions, &listings, evidence)
                .await
            {
                Some((region, lb, matched_by)) => {
                    let inspected = self
                        .inspect(origin, &region, &lb, matched_by, evidence)
                        .await;
                    let mut detail =
                        format!("{} in {region}, matched by {matched_by}", inspected.name);
                    if matched_by == "cname" {
                        detail.push_str(&format!(
                            " ({} -> {})",
                            origin.host,
                            origin.cname_chain.join(" -> ")
                        ));
                    }
                    evidence.checks.push(Check::since(
                        "origin-load-balancer",
                        &target,
                        CheckOutcome::Pass,
                        started,
                        Some(detail),
                    ));
                    evidence.load_balancers.push(inspected);
                }
                None => {
                    let detail = format!(
                        "no load balancer in {} serves this origin",
                        regions.join(", ")
                    );
                    evidence.checks.push(Check::since(
                        "origin-load-balancer",
                        &target,
                        CheckOutcome::Skipped,
                        started,
                        Some(detail),
                    ));
                }
            }
        }
    }

    /// By DNS name first; failing that, by an HTTPS listener on the origin port whose certificate
    /// covers the origin domain.
    async fn find_load_balancer(
        &self,
        origin: &OriginRef,
        regions: &[String],
        listings: &BTreeMap<String, Vec<elb::LoadBalancer>>,
        evidence: &mut Evidence,
    ) -> Option<(String, elb::LoadBalancer, &'static str)> {
        for region in regions {
            let found = listings.get(region)?.iter().find(|lb| {
                lb.dns_name()
                    .is_some_and(|dns| same_dns_name(dns, &origin.host))
            });
            if let Some(lb) = found {
                return Some((region.clone(), lb.clone(), "dns-name"));
            }
            let through_cname = listings.get(region)?.iter().find(|lb| {
                lb.dns_name()
                    .is_some_and(|dns| origin.cname_chain.iter().any(|n| same_dns_name(dns, n)))
            });
            if let Some(lb) = through_cname {
                return Some((region.clone(), lb.clone(), "cname"));
            }
        }
        if !origin.https {
            return None;
        }
        for region in regions {
            let infra = self.infra_for(region);
            for lb in listings.get(region)?.iter().take(MAX_SCANNED) {
                let Some(arn) = lb.load_balancer_arn() else {
                    continue;
                };
                let Ok(listeners) = describe_listeners(&infra.elb, arn).await else {
                    continue;
                };
                for listener in listeners
                    .iter()
                    .filter(|l| l.port() == Some(i32::from(origin.port)))
                {
                    for cert in listener
                        .certificates()
                        .iter()
                        .filter_map(|c| c.certificate_arn())
                    {
                        let Ok(described) = acm::describe_certificate(
                            &infra.acm,
                            region,
                            cert,
                            "listener certificate",
                        )
                        .await
                        else {
                            continue;
                        };
                        if names::any_covers(&described.names(), &origin.host) {
                            return Some((region.clone(), lb.clone(), "certificate"));
                        }
                    }
                }
            }
            if listings.get(region).is_some_and(|l| l.len() > MAX_SCANNED) {
                evidence.gaps.push(Gap::new("elasticloadbalancing:DescribeListeners", region, format!("more than {MAX_SCANNED} load balancers"), &format!("whether a load balancer beyond the first {MAX_SCANNED} in {region} serves {}", origin.host)));
            }
        }
        None
    }

    async fn inspect(
        &self,
        origin: &OriginRef,
        region: &str,
        lb: &elb::LoadBalancer,
        matched_by: &str,
        evidence: &mut Evidence,
    ) -> LoadBalancer {
        let infra = self.infra_for(region);
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let name = lb.load_balancer_name().unwrap_or_default().to_string();
        let mut out = LoadBalancer {
            arn: arn.clone(),
            name: name.clone(),
            dns_name: lb.dns_name().unwrap_or_default().to_string(),
            region: region.to_string(),
            lb_type: lb
                .r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            matched_by: matched_by.to_string(),
            distribution_id: origin.distribution_id.clone(),
            origin_host: origin.host.clone(),
            origin_port: origin.port,
            origin_protocol: if origin.https { "HTTPS" } else { "HTTP" }.to_string(),
            origin_ssl_protocols: origin.ssl_protocols.clone(),
            cname_chain: origin.cname_chain.clone(),
            listeners: Vec::new(),
            listener: None,
            security_groups: None,
            cloudfront_prefix_list: None,
        };
        match describe_listeners(&infra.elb, &arn).await {
            Err(error) => evidence.gaps.push(Gap::new(
                "elasticloadbalancing:DescribeListeners",
                &arn,
                error,
                &format!("the listener of {name} on port {}", origin.port),
            )),
            Ok(listeners) => {
                out.listeners = listeners
                    .iter()
                    .map(|l| ListenerPort {
                        port: l.port().unwrap_or_default() as u16,
                        protocol: l
                            .protocol()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                    })
                    .collect();
                if let Some(listener) = listeners
                    .iter()
                    .find(|l| l.port() == Some(i32::from(origin.port)))
                {
                    out.listener = Some(
                        self.inspect_listener(&infra, region, &name, origin, listener, evidence)
                            .await,
                    );
                }
            }
        }
        let group_ids = lb.security_groups().to_vec();
        let (groups, prefix_list) = self
            .security_groups(&infra.ec2, region, &group_ids, origin.port, evidence)
            .await;
        out.security_groups = groups;
        out.cloudfront_prefix_list = prefix_list;
        out
    }

    async fn inspect_listener(
        &self,
        infra: &crate::InfraClients,
        region: &str,
        lb_name: &str,
        origin: &OriginRef,
        listener: &elb::Listener,
        evidence: &mut Evidence,
    ) -> Listener {
        let arn = listener.listener_arn().unwrap_or_default().to_string();
        let mut certificate_arns: Vec<String> = listener
            .certificates()
            .iter()
            .filter_map(|c| c.certificate_arn().map(str::to_string))
            .collect();
        // The default certificate is on the listener; SNI certificates only in this call.
        if listener
            .protocol()
            .is_some_and(|p| matches!(p, elb::ProtocolEnum::Https | elb::ProtocolEnum::Tls))
        {
            match infra
                .elb
                .describe_listener_certificates()
                .listener_arn(&arn)
                .send()
                .await
            {
                Ok(out) => {
                    for c in out
                        .certificates()
                        .iter()
                        .filter_map(|c| c.certificate_arn())
                    {
                        if !certificate_arns.iter().any(|a| a == c) {
                            certificate_arns.push(c.to_string());
                        }
                    }
                }
                Err(e) => evidence.gaps.push(Gap::new(
                    "elasticloadbalancing:DescribeListenerCertificates",
                    &arn,
                    error_text(&e),
                    "the listener's additional (SNI) certificates",
                )),
            }
        }
        let used_as = format!(
            "listener certificate of {lb_name}:{} (origin {} of {})",
            origin.port, origin.host, origin.distribution_id
        );
        for cert in &certificate_arns {
            if let Some(known) = evidence.certificates.iter_mut().find(|c| &c.arn == cert) {
                known.used_as.push(used_as.clone());
                continue;
            }
            match acm::describe_certificate(&infra.acm, region, cert, &used_as).await {
                Ok(described) => evidence.certificates.push(described),
                Err(gap) => evidence.gaps.push(gap),
            }
        }
        let policy_protocols = match listener.ssl_policy() {
            None => None,
            Some(policy) => match infra.elb.describe_ssl_policies().names(policy).send().await {
                Ok(out) => out
                    .ssl_policies()
                    .first()
                    .map(|p| p.ssl_protocols().to_vec()),
                Err(e) => {
                    evidence.gaps.push(Gap::new(
                        "elasticloadbalancing:DescribeSSLPolicies",
                        policy,
                        error_text(&e),
                        "which TLS protocols the listener admits",
                    ));
                    None
                }
            },
        };
        Listener {
            arn: arn.clone(),
            port: listener.port().unwrap_or_default() as u16,
            protocol: listener
                .protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            ssl_policy: listener.ssl_policy().map(str::to_string),
            policy_protocols,
            certificate_arns,
            target_groups: target_health(&infra.elb, listener, evidence).await,
        }
    }
}

async fn list_load_balancers(client: &ElbClient) -> Result<Vec<elb::LoadBalancer>, String> {
    let mut pages = client.describe_load_balancers().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(
            page.map_err(|e| error_text(&e))?
                .load_balancers()
                .iter()
                .cloned(),
        );
    }
    Ok(out)
}

async fn describe_listeners(
    client: &ElbClient,
    lb_arn: &str,
) -> Result<Vec<elb::Listener>, String> {
    let mut pages = client
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(
            page.map_err(|e| error_text(&e))?
                .listeners()
                .iter()
                .cloned(),
        );
    }
    Ok(out)
}

/// Health of the target groups the listener forwards to by default.
async fn target_health(
    client: &ElbClient,
    listener: &elb::Listener,
    evidence: &mut Evidence,
) -> Option<Vec<TargetGroupHealth>> {
    let mut groups: Vec<String> = Vec::new();
    for action in listener.default_actions() {
        groups.extend(action.target_group_arn().map(str::to_string));
        if let Some(forward) = action.forward_config() {
            groups.extend(
                forward
                    .target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_string)),
            );
        }
    }
    groups.sort();
    groups.dedup();
    let mut out = Vec::new();
    for arn in groups {
        match client
            .describe_target_health()
            .target_group_arn(&arn)
            .send()
            .await
        {
            Err(e) => {
                evidence.gaps.push(Gap::new(
                    "elasticloadbalancing:DescribeTargetHealth",
                    &arn,
                    error_text(&e),
                    "the health of the targets behind the listener",
                ));
                return None;
            }
            Ok(health) => {
                let mut healthy = 0;
                let mut not_healthy = Vec::new();
                for t in health.target_health_descriptions() {
                    let id = t
                        .target()
                        .and_then(|t| t.id())
                        .unwrap_or_default()
                        .to_string();
                    let state = t
                        .target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    if state == "healthy" {
                        healthy += 1;
                    } else {
                        let reason = t
                            .target_health()
                            .and_then(|h| h.reason())
                            .map(|r| r.as_str().to_string())
                            .unwrap_or_default();
                        not_healthy.push(TargetState {
                            target: id,
                            state,
                            reason,
                        });
                    }
                }
                out.push(TargetGroupHealth {
                    arn,
                    healthy,
                    not_healthy,
                });
            }
        }
    }
    Some(out)
}

impl Collector {
    /// Which of the load balancer's security groups let CloudFront in on `port`: a rule for the
    /// managed prefix list `com.amazonaws.global.cloudfront.origin-facing` (looked up by name, its
    /// id differs per region), or one open to 0.0.0.0/0 or ::/0.
    async fn security_groups(
        &self,
        ec2: &aws_sdk_ec2::Client,
        region: &str,
        ids: &[String],
        port: u16,
        evidence: &mut Evidence,
    ) -> (Option<Vec<SecurityGroupVerdict>>, Option<String>) {
        if ids.is_empty() {
            return (Some(Vec::new()), None);
        }
        let prefix_list = match ec2
            .describe_managed_prefix_lists()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("prefix-list-name")
                    .values(CLOUDFRONT_PREFIX_LIST)
                    .build(),
            )
            .send()
            .await
        {
            Ok(out) => out
                .prefix_lists()
                .first()
                .and_then(|p| p.prefix_list_id())
                .map(str::to_string),
            Err(e) => {
                evidence.gaps.push(Gap::new(
                    "ec2:DescribeManagedPrefixLists",
                    region,
                    error_text(&e),
                    "the id of the CloudFront origin-facing prefix list",
                ));
                None
            }
        };
        match ec2
            .describe_security_groups()
            .set_group_ids(Some(ids.to_vec()))
            .send()
            .await
        {
            Err(e) => {
                evidence.gaps.push(Gap::new(
                    "ec2:DescribeSecurityGroups",
                    &ids.join(","),
                    error_text(&e),
                    &format!("whether the security groups let CloudFront in on port {port}"),
                ));
                (None, prefix_list)
            }
            Ok(out) => {
                let verdicts = out
                    .security_groups()
                    .iter()
                    .map(|g| {
                        let openings: Vec<(String, Admission)> = g
                            .ip_permissions()
                            .iter()
                            .filter_map(|p| opening_rule(p, port, prefix_list.as_deref()))
                            .collect();
                        let admits = if openings.iter().any(|(_, a)| *a == Admission::Anyone) {
                            Admission::Anyone
                        } else if openings.is_empty() {
                            Admission::NotCloudfront
                        } else {
                            Admission::CloudfrontOnly
                        };
                        SecurityGroupVerdict {
                            id: g.group_id().unwrap_or_default().to_string(),
                            name: g.group_name().unwrap_or_default().to_string(),
                            opens_port_to_cloudfront: openings.into_iter().next().map(|(w, _)| w),
                            admits,
                        }
                    })
                    .collect();
                (Some(verdicts), prefix_list)
            }
        }
    }
}

pub const CLOUDFRONT_PREFIX_LIST: &str = "com.amazonaws.global.cloudfront.origin-facing";

/// The rule in words, and whom it admits, if this permission lets CloudFront reach `port`.
fn opening_rule(
    p: &aws_sdk_ec2::types::IpPermission,
    port: u16,
    cloudfront_list: Option<&str>,
) -> Option<(String, Admission)> {
    let protocol = p.ip_protocol().unwrap_or_default();
    let covers_port = match protocol {
        "-1" => true,
        "tcp" | "6" => {
            let (from, to) = (p.from_port().unwrap_or(0), p.to_port().unwrap_or(65535));
            (from..=to).contains(&i32::from(port))
        }
        _ => false,
    };
    if !covers_port {
        return None;
    }
    let ports = if protocol == "-1" {
        "all traffic".to_string()
    } else {
        format!(
            "tcp {}-{}",
            p.from_port().unwrap_or(0),
            p.to_port().unwrap_or(65535)
        )
    };
    if let Some(list) = cloudfront_list {
        if p.prefix_list_ids()
            .iter()
            .any(|l| l.prefix_list_id() == Some(list))
        {
            return Some((
                format!("{ports} from {CLOUDFRONT_PREFIX_LIST} ({list})"),
                Admission::CloudfrontOnly,
            ));
        }
    }
    if p.ip_ranges()
        .iter()
        .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
    {
        return Some((format!("{ports} from 0.0.0.0/0"), Admission::Anyone));
    }
    if p.ipv6_ranges()
        .iter()
        .any(|r| r.cidr_ipv6() == Some("::/0"))
    {
        return Some((format!("{ports} from ::/0"), Admission::Anyone));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_alb_and_nlb_names() {
        assert_eq!(
            region_of_elb_name("shop-alb-1234.eu-west-1.elb.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_elb_name("dualstack.shop-alb-1234.eu-west-1.elb.amazonaws.com.").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_elb_name("shop-nlb-1234.elb.us-east-2.amazonaws.com").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_of_elb_name("origin.shop.example"), None);
    }

    #[test]
    fn a_dualstack_name_is_the_same_load_balancer() {
        assert!(same_dns_name(
            "dualstack.a-1.us-east-1.elb.amazonaws.com",
            "A-1.us-east-1.elb.amazonaws.com."
        ));
    }
}
