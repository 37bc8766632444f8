//! VPC origins: GetVpcOrigin for each origin's `VpcOriginConfig` (status, the load balancer it
//! fronts, ports, protocol policy, OriginSslProtocols), DescribeLoadBalancers for that load
//! balancer (its DNS name, state, scheme, VPC), so the existing inspection finds it by name
//! (`elb`); then whether its security groups admit the group CloudFront's VPC origin service uses
//! (`CloudFront-VPCOrigins-Service-SG`), which the prefix-list check cannot see. A VPC origin is
//! private: nothing is probed from here, and the checks say so.

use std::time::Instant;

use crate::{error_text, not_in_time, Budget, Collector};
use cf_doctor_model::evidence::{
    Admission, CustomOrigin, Evidence, Gap, GroupAccess, IpAddressType, MatchedBy,
    OriginConnection, OriginKind, OriginProtocolPolicy, SecurityGroupVerdict,
};
use cf_doctor_model::vpc_origin::{EndpointLoadBalancer, VpcOrigin, VPC_ORIGIN_SERVICE_GROUP};
use cf_doctor_model::{Check, CheckOutcome};

/// A VPC origin's load balancer, as the load balancer inspection takes it.
pub(crate) struct LoadBalancerOrigin {
    pub host: String,
    pub connection: OriginConnection,
    pub ssl_protocols: Vec<String>,
}

/// The load balancer behind VPC origin `id`, by DNS name and the port CloudFront uses, when
/// GetVpcOrigin and DescribeLoadBalancers found it.
pub(crate) fn load_balancer_of(evidence: &Evidence, id: &str) -> Option<LoadBalancerOrigin> {
    let v = evidence.vpc_origins.iter().find(|v| v.id == id)?;
    let Some(EndpointLoadBalancer::Found { dns_name, .. }) = &v.load_balancer else {
        return None;
    };
    Some(LoadBalancerOrigin {
        host: dns_name.clone(),
        connection: v.endpoint.connection(),
        ssl_protocols: v.endpoint.ssl_protocols.clone(),
    })
}

/// The region in an ELB ARN (`arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/...`).
fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

impl Collector {
    /// Every VPC origin the collected distributions name, described, with the load balancer it
    /// fronts; each is a check saying it is not probed from here.
    pub async fn vpc_origins(&self, evidence: &mut Evidence, budget: &Budget) {
        let mut wanted: Vec<(String, Vec<String>, u32)> = Vec::new();
        for d in &evidence.distributions {
            for o in &d.origins {
                if let OriginKind::Vpc(vpc) = &o.kind {
                    let user = format!("{} origin {}", d.id, o.id);
                    match wanted
                        .iter_mut()
                        .find(|(id, _, _)| *id == vpc.vpc_origin_id)
                    {
                        Some((_, users, _)) => users.push(user),
                        None => {
                            wanted.push((vpc.vpc_origin_id.clone(), vec![user], vpc.read_timeout_s))
                        }
                    }
                }
            }
        }
        if wanted.is_empty() {
            return;
        }
        if !budget.allows_start() {
            evidence.gaps.push(not_in_time(
                "the VPC origins and the load balancers behind them",
                "VPC origins",
            ));
            return;
        }
        for (id, used_by, read_timeout_s) in wanted {
            let started = Instant::now();
            match self.get_vpc_origin(&id, used_by, read_timeout_s).await {
                Ok(mut origin) => {
                    self.endpoint_load_balancer(&mut origin, evidence).await;
                    evidence.checks.push(Check::since(
                        "origin-vpc",
                        &id,
                        CheckOutcome::Skipped,
                        started,
                        Some(vpc_origin_in_words(&origin)),
                    ));
                    evidence.vpc_origins.push(origin);
                }
                Err(error) => {
                    evidence.checks.push(Check::since(
                        "origin-vpc",
                        &id,
                        CheckOutcome::Error,
                        started,
                        Some(error.clone()),
                    ));
                    evidence.gaps.push(Gap::new(
                        "cloudfront:GetVpcOrigin",
                        &id,
                        error,
                        &format!("the status of VPC origin {id} and the load balancer behind it"),
                    ));
                }
            }
        }
    }

    async fn get_vpc_origin(
        &self,
        id: &str,
        used_by: Vec<String>,
        read_timeout_s: u32,
    ) -> Result<VpcOrigin, String> {
        let out = self
            .cloudfront
            .get_vpc_origin()
            .id(id)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        let origin = out
            .vpc_origin()
            .ok_or_else(|| "the answer carried no VpcOrigin".to_string())?;
        let config = origin.vpc_origin_endpoint_config();
        Ok(VpcOrigin {
            id: origin.id().to_string(),
            arn: origin.arn().to_string(),
            status: origin.status().to_string(),
            endpoint_name: config.map(|c| c.name().to_string()).unwrap_or_default(),
            endpoint_arn: config.map(|c| c.arn().to_string()).unwrap_or_default(),
            endpoint: CustomOrigin {
                // VpcOriginEndpointConfig is required in the API: its absence is a malformed
                // answer, read as https-only like a policy this SDK does not know.
                protocol_policy: config
                    .map(|c| crate::cloudfront::protocol_policy(c.origin_protocol_policy()))
                    .unwrap_or(OriginProtocolPolicy::HttpsOnly),
                http_port: config
                    .and_then(|c| u16::try_from(c.http_port()).ok())
                    .unwrap_or(80),
                https_port: config
                    .and_then(|c| u16::try_from(c.https_port()).ok())
                    .unwrap_or(443),
                ssl_protocols: config
                    .and_then(|c| c.origin_ssl_protocols())
                    .map(|p| p.items().iter().map(|s| s.as_str().to_string()).collect())
                    .unwrap_or_else(|| vec!["TLSv1.2".to_string()]),
                read_timeout_s,
                connection_timeout_s: 10,
                ip_address_type: IpAddressType::Ipv4,
                client_certificate_arn: None,
            },
            used_by,
            load_balancer: None,
        })
    }

    /// DescribeLoadBalancers for the load balancer a VPC origin fronts.
    async fn endpoint_load_balancer(&self, origin: &mut VpcOrigin, evidence: &mut Evidence) {
        if !origin.fronts_load_balancer() {
            return;
        }
        let Some(region) = region_of_arn(&origin.endpoint_arn) else {
            return;
        };
        let answer = self
            .infra_for(region)
            .elb
            .describe_load_balancers()
            .load_balancer_arns(&origin.endpoint_arn)
            .send()
            .await;
        origin.load_balancer = match answer {
            Ok(out) => out
                .load_balancers()
                .first()
                .map(|lb| EndpointLoadBalancer::Found {
                    dns_name: lb.dns_name().unwrap_or_default().to_string(),
                    state: lb
                        .state()
                        .and_then(|s| s.code())
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_default(),
                    scheme: lb
                        .scheme()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    vpc_id: lb.vpc_id().map(str::to_string),
                }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_load_balancer_not_found_exception()) =>
            {
                Some(EndpointLoadBalancer::Missing)
            }
            Err(e) => {
                evidence.gaps.push(Gap::new(
                    "elasticloadbalancing:DescribeLoadBalancers",
                    &origin.endpoint_arn,
                    error_text(&e),
                    &format!("the load balancer behind VPC origin {}", origin.id),
                ));
                None
            }
        };
    }

    /// After the load balancers were inspected: the one behind each VPC origin is named as such,
    /// and a security group rule admitting CloudFront's VPC origin service group on the origin
    /// port counts as admitting CloudFront. When that group cannot be looked up, whom the
    /// security groups admit is unknown rather than "not CloudFront".
    pub async fn vpc_origin_admission(&self, evidence: &mut Evidence) {
        let pairs: Vec<(String, Option<String>)> = evidence
            .vpc_origins
            .iter()
            .filter_map(|v| match &v.load_balancer {
                Some(EndpointLoadBalancer::Found { vpc_id, .. }) => {
                    Some((v.endpoint_arn.clone(), vpc_id.clone()))
                }
                _ => None,
            })
            .collect();
        for (lb_arn, vpc_id) in pairs {
            let Some(index) = evidence
                .load_balancers
                .iter()
                .position(|lb| lb.arn == lb_arn)
            else {
                continue;
            };
            evidence.load_balancers[index].matched_by = MatchedBy::VpcOrigin;
            let (region, port, groups) = {
                let lb = &evidence.load_balancers[index];
                let Some(groups) = &lb.security_groups else {
                    continue;
                };
                (lb.region.clone(), lb.origin_port, groups.clone())
            };
            if groups.is_empty() {
                continue;
            }
            match self
                .service_group_admission(&region, vpc_id.as_deref(), &groups, port)
                .await
            {
                Ok(judged) => evidence.load_balancers[index].security_groups = Some(judged),
                Err((action, error)) => {
                    evidence.gaps.push(Gap::new(
                        action,
                        &lb_arn,
                        error,
                        &format!(
                            "whether the load balancer's security groups admit {VPC_ORIGIN_SERVICE_GROUP} on port {port}"
                        ),
                    ));
                    evidence.load_balancers[index].security_groups = None;
                }
            }
        }
    }

    /// The security group verdicts, with rules from CloudFront's VPC origin service group counted
    /// as admitting CloudFront.
    async fn service_group_admission(
        &self,
        region: &str,
        vpc_id: Option<&str>,
        groups: &[SecurityGroupVerdict],
        port: u16,
    ) -> Result<Vec<SecurityGroupVerdict>, (&'static str, String)> {
        use aws_sdk_ec2::types::Filter;
        let ec2 = self.infra_for(region).ec2;
        let mut lookup = ec2.describe_security_groups().filters(
            Filter::builder()
                .name("group-name")
                .values(VPC_ORIGIN_SERVICE_GROUP)
                .build(),
        );
        if let Some(vpc) = vpc_id {
            lookup = lookup.filters(Filter::builder().name("vpc-id").values(vpc).build());
        }
        let service: Vec<String> = lookup
            .send()
            .await
            .map_err(|e| ("ec2:DescribeSecurityGroups", error_text(&e)))?
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        if service.is_empty() {
            return Ok(groups.to_vec());
        }
        let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        let described = ec2
            .describe_security_groups()
            .set_group_ids(Some(ids))
            .send()
            .await
            .map_err(|e| ("ec2:DescribeSecurityGroups", error_text(&e)))?;
        Ok(groups
            .iter()
            .map(|verdict| {
                let rule = described
                    .security_groups()
                    .iter()
                    .filter(|g| g.group_id() == Some(verdict.id.as_str()))
                    .flat_map(|g| g.ip_permissions())
                    .find_map(|p| service_rule(p, port, &service));
                match rule {
                    // CloudFront's own group inside the VPC: by none of the ways
                    // AdmittedBy names for the public edge.
                    Some(rule) if verdict.admits() != Admission::Anyone => SecurityGroupVerdict {
                        access: GroupAccess::CloudfrontOnly { rule, by: None },
                        ..verdict.clone()
                    },
                    _ => verdict.clone(),
                }
            })
            .collect())
    }
}

/// The rule in words, if this permission admits one of CloudFront's service groups on `port`.
fn service_rule(
    p: &aws_sdk_ec2::types::IpPermission,
    port: u16,
    service: &[String],
) -> Option<String> {
    let protocol = p.ip_protocol().unwrap_or_default();
    let covers = match protocol {
        "-1" => true,
        "tcp" | "6" => {
            (p.from_port().unwrap_or(0)..=p.to_port().unwrap_or(65535)).contains(&i32::from(port))
        }
        _ => false,
    };
    if !covers {
        return None;
    }
    let group = p
        .user_id_group_pairs()
        .iter()
        .filter_map(|pair| pair.group_id())
        .find(|id| service.iter().any(|s| s == id))?;
    let ports = if protocol == "-1" {
        "all traffic".to_string()
    } else {
        format!(
            "tcp {}-{}",
            p.from_port().unwrap_or(0),
            p.to_port().unwrap_or(65535)
        )
    };
    Some(format!("{ports} from {VPC_ORIGIN_SERVICE_GROUP} ({group})"))
}

fn vpc_origin_in_words(v: &VpcOrigin) -> String {
    let connection = v.endpoint.connection();
    let behind = match &v.load_balancer {
        Some(EndpointLoadBalancer::Found {
            dns_name,
            state,
            scheme,
            ..
        }) => {
            let about: Vec<&str> = [scheme.as_str(), state.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            format!("load balancer {dns_name} ({})", about.join(", "))
        }
        Some(EndpointLoadBalancer::Missing) => {
            format!("{} (no such load balancer)", v.endpoint_arn)
        }
        None => v.endpoint_arn.clone(),
    };
    format!(
        "VPC origin {} ({}): {behind} on {connection}; CloudFront reaches it inside the VPC, so it is not probed from here",
        v.id,
        v.status,
    )
}
