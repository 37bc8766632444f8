//! An application load balancer in moto, built through the real SDK as a team would have it:
//! VPC, two subnets, a security group, a target group with an instance, and an HTTPS listener
//! with an ACM certificate. The VPC range is only data in moto: nothing ever connects to it.
//! The production shapes too: a fixed-response default action with rules forwarding by a secret
//! header (AWS's custom-header protection) or by host, SNI certificates, and CloudFront admitted
//! by the managed prefix list, by a customer-managed copy of it, or by its ranges as CIDRs.

use aws_sdk_ec2::types::{
    AddPrefixListEntry, Filter, InstanceType, IpPermission, IpRange, PrefixListId,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HostHeaderConditionConfig,
    HttpHeaderConditionConfig, ProtocolEnum, RuleCondition, TargetDescription,
};

/// A moto default AMI (moto refuses unknown image ids).
const AMI: &str = "ami-03cf127a";

/// What the security group admits on the ingress port.
pub enum Ingress {
    /// The managed prefix list com.amazonaws.global.cloudfront.origin-facing.
    CloudFrontPrefixList,
    /// A customer-managed prefix list holding these ranges.
    CustomerPrefixList(Vec<String>),
    /// These ranges, listed in the rule as CIDRs.
    Cidrs(Vec<String>),
    Nothing,
}

/// Where the listener sends requests.
pub enum Routing {
    /// The default action forwards to the target group (what the console sets up).
    Forward,
    /// AWS's custom-header protection: the default action answers 403 and rule 1 forwards the
    /// requests that carry `header: secret` (CloudFront adds it) to the target group.
    CustomHeader { header: String, secret: String },
    /// Host-based routing: the default action answers 404 and each rule, in order from priority
    /// 10, forwards its host to its own target group.
    Hosts(Vec<HostRoute>),
}

pub struct HostRoute {
    pub host: String,
    /// Whether the target group's instance runs (moto reports a running instance healthy and a
    /// stopped one `unused`).
    pub running: bool,
}

pub struct AlbSpec {
    pub name: String,
    pub listener_port: u16,
    pub certificate_arn: Option<String>,
    pub ssl_policy: String,
    pub ingress: Ingress,
    pub ingress_port: u16,
    pub instance_running: bool,
    pub region: String,
    pub routing: Routing,
    /// Certificates added to the listener beside the default one (served by SNI).
    pub sni_certificates: Vec<String>,
}

impl AlbSpec {
    /// A healthy ALB: an HTTPS listener on `port` with `certificate_arn` and a TLS 1.3/1.2
    /// policy, the port open to CloudFront's prefix list, and a running target.
    pub fn healthy(name: &str, port: u16, certificate_arn: String) -> AlbSpec {
        AlbSpec {
            name: name.to_string(),
            listener_port: port,
            certificate_arn: Some(certificate_arn),
            ssl_policy: "ELBSecurityPolicy-TLS13-1-2-2021-06".into(),
            ingress: Ingress::CloudFrontPrefixList,
            ingress_port: port,
            instance_running: true,
            region: "us-east-1".into(),
            routing: Routing::Forward,
            sni_certificates: Vec::new(),
        }
    }
}

pub struct Alb {
    pub arn: String,
    pub dns_name: String,
    /// The Route53 hosted zone AWS gives its DNS name: what an ALIAS record to it names.
    pub canonical_hosted_zone_id: String,
    pub security_group: String,
    pub instance: String,
    pub listener: String,
    /// The target groups, in the order the routing names them (the one group for `Forward` and
    /// `CustomHeader`).
    pub target_groups: Vec<String>,
}

/// The ranges of the managed prefix list com.amazonaws.global.cloudfront.origin-facing in
/// `region`, as moto serves them.
pub async fn cloudfront_ranges(sdk: &aws_config::SdkConfig, region: &str) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(&in_region(sdk, region));
    let list = cloudfront_prefix_list(&ec2).await;
    ec2.get_managed_prefix_list_entries()
        .prefix_list_id(list)
        .send()
        .await
        .unwrap()
        .entries
        .unwrap()
        .into_iter()
        .map(|e| e.cidr.unwrap())
        .collect()
}

async fn cloudfront_prefix_list(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.describe_managed_prefix_lists()
        .filters(
            Filter::builder()
                .name("prefix-list-name")
                .values("com.amazonaws.global.cloudfront.origin-facing")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .prefix_lists
        .unwrap()[0]
        .prefix_list_id
        .clone()
        .unwrap()
}

pub fn in_region(sdk: &aws_config::SdkConfig, region: &str) -> aws_config::SdkConfig {
    sdk.to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// The load balancer's target group named `name` with one instance, running or stopped.
async fn target_group(
    ec2: &aws_sdk_ec2::Client,
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    vpc: &str,
    name: &str,
    running: bool,
) -> (String, String) {
    let tg = elb
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .target_groups
        .unwrap()
        .remove(0)
        .target_group_arn
        .unwrap();
    let instance = ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap()
        .instances
        .unwrap()
        .remove(0)
        .instance_id
        .unwrap();
    elb.register_targets()
        .target_group_arn(&tg)
        .targets(TargetDescription::builder().id(&instance).port(80).build())
        .send()
        .await
        .unwrap();
    if !running {
        ec2.stop_instances()
            .instance_ids(&instance)
            .send()
            .await
            .unwrap();
    }
    (tg, instance)
}

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

fn fixed_response(status: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(status)
                .content_type("text/plain")
                .message_body("not through CloudFront")
                .build(),
        )
        .build()
}

/// Admits `ingress` on `port` in security group `sg` (`name` names a customer prefix list).
pub(crate) async fn admit(
    ec2: &aws_sdk_ec2::Client,
    sg: &str,
    ingress: &Ingress,
    port: u16,
    name: &str,
) {
    let rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port));
    let rule = match ingress {
        Ingress::Nothing => return,
        Ingress::CloudFrontPrefixList => rule.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(cloudfront_prefix_list(ec2).await)
                .description("CloudFront")
                .build(),
        ),
        Ingress::CustomerPrefixList(ranges) => {
            let mut list = ec2
                .create_managed_prefix_list()
                .prefix_list_name(format!("{name}-cloudfront-copy"))
                .address_family("IPv4")
                .max_entries(60);
            for cidr in ranges {
                list = list.entries(AddPrefixListEntry::builder().cidr(cidr).build());
            }
            let id = list
                .send()
                .await
                .unwrap()
                .prefix_list
                .unwrap()
                .prefix_list_id
                .unwrap();
            rule.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
        }
        Ingress::Cidrs(ranges) => ranges.iter().fold(rule, |rule, cidr| {
            rule.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        }),
    };
    ec2.authorize_security_group_ingress()
        .group_id(sg)
        .ip_permissions(rule.build())
        .send()
        .await
        .unwrap();
}

/// A VPC, its subnets and a security group, as a resource in front of an origin needs them.
pub(crate) struct Network {
    pub vpc: String,
    /// One per availability zone, `a` first.
    pub subnets: Vec<String>,
    pub security_group: String,
}

/// A VPC `PREFIX.0.0/16` in `region` with `zones` subnets (`PREFIX.1.0/24` in zone a, ...) and a
/// security group `NAME-sg` admitting nothing yet.
pub(crate) async fn network(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    prefix: &str,
    zones: usize,
    name: &str,
) -> Network {
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("{prefix}.0.0/16"))
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut subnets = Vec::new();
    for (i, zone) in ["a", "b", "c"].iter().take(zones).enumerate() {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("{prefix}.{}.0/24", i + 1))
            .availability_zone(format!("{region}{zone}"))
            .send()
            .await
            .unwrap();
        subnets.push(subnet.subnet.unwrap().subnet_id.unwrap());
    }
    let security_group = ec2
        .create_security_group()
        .group_name(format!("{name}-sg"))
        .description("cf-doctor test")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    Network {
        vpc,
        subnets,
        security_group,
    }
}

pub async fn alb(sdk: &aws_config::SdkConfig, spec: &AlbSpec) -> Alb {
    let sdk = &in_region(sdk, &spec.region);
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let network = network(&ec2, &spec.region, "100.64", 2, &spec.name).await;
    let (vpc, subnets, sg) = (network.vpc, network.subnets, network.security_group);
    admit(&ec2, &sg, &spec.ingress, spec.ingress_port, &spec.name).await;
    let lb = elb
        .create_load_balancer()
        .name(&spec.name)
        .set_subnets(Some(subnets))
        .security_groups(&sg)
        .send()
        .await
        .unwrap()
        .load_balancers
        .unwrap()
        .remove(0);
    let mut target_groups = Vec::new();
    let mut instances = Vec::new();
    let (default_action, rules) = match &spec.routing {
        Routing::Forward | Routing::CustomHeader { .. } => {
            let (tg, instance) = target_group(
                &ec2,
                &elb,
                &vpc,
                &format!("{}-tg", spec.name),
                spec.instance_running,
            )
            .await;
            target_groups.push(tg.clone());
            instances.push(instance);
            match &spec.routing {
                Routing::CustomHeader { header, secret } => {
                    let condition = RuleCondition::builder()
                        .field("http-header")
                        .http_header_config(
                            HttpHeaderConditionConfig::builder()
                                .http_header_name(header)
                                .values(secret)
                                .build(),
                        )
                        .build();
                    (fixed_response("403"), vec![(1, condition, forward(&tg))])
                }
                _ => (forward(&tg), Vec::new()),
            }
        }
        Routing::Hosts(routes) => {
            let mut rules = Vec::new();
            for (i, route) in routes.iter().enumerate() {
                let (tg, instance) = target_group(
                    &ec2,
                    &elb,
                    &vpc,
                    &format!("{}-tg{i}", spec.name),
                    route.running,
                )
                .await;
                let condition = RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        HostHeaderConditionConfig::builder()
                            .values(&route.host)
                            .build(),
                    )
                    .build();
                rules.push((10 * (i as i32 + 1), condition, forward(&tg)));
                target_groups.push(tg);
                instances.push(instance);
            }
            (fixed_response("404"), rules)
        }
    };
    let mut listener = elb
        .create_listener()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .port(i32::from(spec.listener_port))
        .default_actions(default_action);
    listener = match &spec.certificate_arn {
        Some(cert) => listener
            .protocol(ProtocolEnum::Https)
            .ssl_policy(&spec.ssl_policy)
            .certificates(Certificate::builder().certificate_arn(cert).build()),
        None => listener.protocol(ProtocolEnum::Http),
    };
    let listener = listener
        .send()
        .await
        .unwrap()
        .listeners
        .unwrap()
        .remove(0)
        .listener_arn
        .unwrap();
    for (priority, condition, action) in rules {
        elb.create_rule()
            .listener_arn(&listener)
            .priority(priority)
            .conditions(condition)
            .actions(action)
            .send()
            .await
            .unwrap();
    }
    if !spec.sni_certificates.is_empty() {
        let mut add = elb.add_listener_certificates().listener_arn(&listener);
        for cert in &spec.sni_certificates {
            add = add.certificates(Certificate::builder().certificate_arn(cert).build());
        }
        add.send().await.unwrap();
    }
    Alb {
        arn: lb.load_balancer_arn.unwrap(),
        dns_name: lb.dns_name.unwrap(),
        canonical_hosted_zone_id: lb.canonical_hosted_zone_id.unwrap_or_default(),
        security_group: sg,
        instance: instances.remove(0),
        listener,
        target_groups,
    }
}
