//! An application load balancer in moto, built through the real SDK as a team would have it:
//! VPC, two subnets, a security group, a target group with an instance, and an HTTPS listener
//! with an ACM certificate. The VPC range is only data in moto: nothing ever connects to it.

use aws_sdk_ec2::types::{Filter, InstanceType, IpPermission, PrefixListId};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ProtocolEnum, TargetDescription,
};

/// A moto default AMI (moto refuses unknown image ids).
const AMI: &str = "ami-03cf127a";

pub enum Ingress {
    CloudFrontPrefixList,
    Nothing,
}

pub struct AlbSpec {
    pub name: String,
    pub listener_port: u16,
    pub certificate_arn: Option<String>,
    pub ssl_policy: String,
    pub ingress: Ingress,
    pub ingress_port: u16,
    pub instance_running: bool,
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
        }
    }
}

pub struct Alb {
    pub arn: String,
    pub dns_name: String,
    pub security_group: String,
    pub instance: String,
}

pub async fn alb(sdk: &aws_config::SdkConfig, spec: &AlbSpec) -> Alb {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let vpc = ec2
        .create_vpc()
        .cidr_block("100.64.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut subnets = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("100.64.{}.0/24", i + 1))
            .availability_zone(*zone)
            .send()
            .await
            .unwrap();
        subnets.push(subnet.subnet.unwrap().subnet_id.unwrap());
    }
    let sg = ec2
        .create_security_group()
        .group_name(format!("{}-sg", spec.name))
        .description("cf-doctor test")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    if let Ingress::CloudFrontPrefixList = spec.ingress {
        let list = ec2
            .describe_managed_prefix_lists()
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
            .unwrap();
        ec2.authorize_security_group_ingress()
            .group_id(&sg)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(i32::from(spec.ingress_port))
                    .to_port(i32::from(spec.ingress_port))
                    .prefix_list_ids(
                        PrefixListId::builder()
                            .prefix_list_id(list)
                            .description("CloudFront")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
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
    let tg = elb
        .create_target_group()
        .name(format!("{}-tg", spec.name))
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc)
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
    if !spec.instance_running {
        ec2.stop_instances()
            .instance_ids(&instance)
            .send()
            .await
            .unwrap();
    }
    let mut listener = elb
        .create_listener()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .port(i32::from(spec.listener_port))
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg)
                .build(),
        );
    listener = match &spec.certificate_arn {
        Some(cert) => listener
            .protocol(ProtocolEnum::Https)
            .ssl_policy(&spec.ssl_policy)
            .certificates(Certificate::builder().certificate_arn(cert).build()),
        None => listener.protocol(ProtocolEnum::Http),
    };
    listener.send().await.unwrap();
    Alb {
        arn: lb.load_balancer_arn.unwrap(),
        dns_name: lb.dns_name.unwrap(),
        security_group: sg,
        instance,
    }
}
