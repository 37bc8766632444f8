//! What an AWS-owned DNS name says about the resource behind it, from the name alone: a load
//! balancer and its region, an EC2 instance's public name (its address and region), an API
//! Gateway, a Lambda function URL, an S3 website endpoint, a CloudFront distribution. These names
//! are AWS's, not the account's, so they are read before any record: they cannot be wrong.

use std::net::Ipv4Addr;

use crate::names;

/// A resource an AWS DNS name names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsName {
    /// An Elastic Load Balancer: `NAME-ID.REGION.elb.amazonaws.com` (application, classic),
    /// `NAME-ID.elb.REGION.amazonaws.com` (network), with or without `dualstack.` or `internal-`.
    LoadBalancer { region: String },
    /// An EC2 instance's public DNS name, which spells its address:
    /// `ec2-203-0-113-10.eu-west-1.compute.amazonaws.com`, or `...compute-1.amazonaws.com` in
    /// us-east-1.
    Ec2Instance { region: String, address: Ipv4Addr },
    /// `API-ID.execute-api.REGION.amazonaws.com`.
    ApiGateway { api_id: String, region: String },
    /// `URL-ID.lambda-url.REGION.on.aws`.
    LambdaFunctionUrl { region: String },
    /// `BUCKET.s3-website-REGION.amazonaws.com` or `BUCKET.s3-website.REGION.amazonaws.com`.
    S3Website { bucket: String, region: String },
    /// `dNNNN.cloudfront.net`: another distribution.
    CloudFront,
}

impl AwsName {
    /// What the name names, in words, for the report.
    pub fn in_words(&self) -> String {
        match self {
            AwsName::LoadBalancer { region } => format!("an Elastic Load Balancer in {region}"),
            AwsName::Ec2Instance { region, address } => {
                format!("the public DNS name of an EC2 instance at {address} in {region}")
            }
            // A regional custom domain's target is d-ID.execute-api...: a domain, not an API.
            AwsName::ApiGateway { api_id, region } if api_id.starts_with("d-") => {
                format!("the API Gateway custom domain {api_id} in {region}")
            }
            AwsName::ApiGateway { api_id, region } => {
                format!("API Gateway API {api_id} in {region}")
            }
            AwsName::LambdaFunctionUrl { region } => {
                format!("a Lambda function URL in {region}")
            }
            AwsName::S3Website { bucket, region } => {
                format!("the S3 website endpoint of bucket {bucket} in {region}")
            }
            AwsName::CloudFront => "another CloudFront distribution".to_string(),
        }
    }

    /// The region the name is in (None for CloudFront, which is global).
    pub fn region(&self) -> Option<&str> {
        match self {
            AwsName::LoadBalancer { region }
            | AwsName::Ec2Instance { region, .. }
            | AwsName::ApiGateway { region, .. }
            | AwsName::LambdaFunctionUrl { region }
            | AwsName::S3Website { region, .. } => Some(region),
            AwsName::CloudFront => None,
        }
    }
}

/// What `host` names, when it is one of AWS's own DNS names.
pub fn classify(host: &str) -> Option<AwsName> {
    let host = names::normalise(host);
    let labels: Vec<&str> = host.split('.').collect();
    if let Some(region) = region_of_elb_name(&host) {
        return Some(AwsName::LoadBalancer { region });
    }
    if host.ends_with(".cloudfront.net") {
        return Some(AwsName::CloudFront);
    }
    match labels.as_slice() {
        [first, region, "compute", "amazonaws", "com"] => {
            ec2_address(first).map(|address| AwsName::Ec2Instance {
                region: region.to_string(),
                address,
            })
        }
        [first, "compute-1", "amazonaws", "com"] => {
            ec2_address(first).map(|address| AwsName::Ec2Instance {
                region: "us-east-1".into(),
                address,
            })
        }
        [api_id, "execute-api", region, "amazonaws", "com"] => Some(AwsName::ApiGateway {
            api_id: api_id.to_string(),
            region: region.to_string(),
        }),
        [_, "lambda-url", region, "on", "aws"] => Some(AwsName::LambdaFunctionUrl {
            region: region.to_string(),
        }),
        [.., "amazonaws", "com"] => s3_website(&labels),
        _ => None,
    }
}

/// The region named in an ELB DNS name: `name-1.eu-west-1.elb.amazonaws.com` (ALB, CLB) or
/// `name-1.elb.eu-west-1.amazonaws.com` (NLB).
pub fn region_of_elb_name(host: &str) -> Option<String> {
    let host = names::normalise(host);
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

/// The same DNS name, case, trailing dot and a load balancer's `dualstack.` prefix aside.
pub fn same_dns_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = names::normalise(s);
        s.strip_prefix("dualstack.")
            .map(str::to_string)
            .unwrap_or(s)
    };
    norm(a) == norm(b)
}

/// The load balancer a network interface belongs to, from the description Elastic Load Balancing
/// gives the interfaces it creates: `ELB app/NAME/ID` (application) or `ELB net/NAME/ID`
/// (network). Returns `app/NAME/ID`, the tail of the load balancer's ARN.
pub fn load_balancer_of_interface(description: &str) -> Option<&str> {
    let tail = description.strip_prefix("ELB ")?;
    let mut parts = tail.split('/');
    let (kind, name, id) = (parts.next()?, parts.next()?, parts.next()?);
    (matches!(kind, "app" | "net") && !name.is_empty() && !id.is_empty() && parts.next().is_none())
        .then_some(tail)
}

/// `ec2-203-0-113-10` -> 203.0.113.10.
fn ec2_address(label: &str) -> Option<Ipv4Addr> {
    label.strip_prefix("ec2-")?.replace('-', ".").parse().ok()
}

/// `BUCKET.s3-website-REGION.amazonaws.com` (older regions) or
/// `BUCKET.s3-website.REGION.amazonaws.com`; the bucket name may itself hold dots.
fn s3_website(labels: &[&str]) -> Option<AwsName> {
    let at = labels.iter().position(|l| l.starts_with("s3-website"))?;
    if at == 0 {
        return None;
    }
    let bucket = labels[..at].join(".");
    let region = match labels[at].strip_prefix("s3-website-") {
        Some(region) if labels.len() == at + 3 => region.to_string(),
        None if labels[at] == "s3-website" && labels.len() == at + 4 => labels[at + 1].to_string(),
        _ => return None,
    };
    Some(AwsName::S3Website { bucket, region })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_balancer_names_give_their_region() {
        for (name, region) in [
            ("shop-alb-1234.eu-west-1.elb.amazonaws.com", "eu-west-1"),
            (
                "dualstack.shop-alb-1234.eu-west-1.elb.amazonaws.com.",
                "eu-west-1",
            ),
            (
                "internal-shop-1234.us-west-2.elb.amazonaws.com",
                "us-west-2",
            ),
            ("shop-nlb-1234.elb.us-east-2.amazonaws.com", "us-east-2"),
        ] {
            assert_eq!(
                classify(name),
                Some(AwsName::LoadBalancer {
                    region: region.into()
                }),
                "{name}"
            );
        }
        assert_eq!(classify("origin.shop.example"), None);
    }

    #[test]
    fn an_instance_public_name_spells_its_address() {
        assert_eq!(
            classify("ec2-203-0-113-10.eu-west-1.compute.amazonaws.com"),
            Some(AwsName::Ec2Instance {
                region: "eu-west-1".into(),
                address: Ipv4Addr::new(203, 0, 113, 10)
            })
        );
        assert_eq!(
            classify("ec2-198-51-100-7.compute-1.amazonaws.com"),
            Some(AwsName::Ec2Instance {
                region: "us-east-1".into(),
                address: Ipv4Addr::new(198, 51, 100, 7)
            })
        );
        assert_eq!(classify("ec2-not-an-ip.compute-1.amazonaws.com"), None);
    }

    #[test]
    fn serverless_and_storage_endpoints_are_named_as_such() {
        assert_eq!(
            classify("a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com"),
            Some(AwsName::ApiGateway {
                api_id: "a1b2c3d4e5".into(),
                region: "eu-central-1".into()
            })
        );
        assert_eq!(
            classify("abcdefghijklmnop.lambda-url.ap-south-1.on.aws"),
            Some(AwsName::LambdaFunctionUrl {
                region: "ap-south-1".into()
            })
        );
        assert_eq!(
            classify("www.shop.example.s3-website-us-west-2.amazonaws.com"),
            Some(AwsName::S3Website {
                bucket: "www.shop.example".into(),
                region: "us-west-2".into()
            })
        );
        assert_eq!(
            classify("assets.s3-website.eu-west-3.amazonaws.com"),
            Some(AwsName::S3Website {
                bucket: "assets".into(),
                region: "eu-west-3".into()
            })
        );
        assert_eq!(
            classify("d111111abcdef8.cloudfront.net"),
            Some(AwsName::CloudFront)
        );
        assert_eq!(classify("assets.s3.us-east-1.amazonaws.com"), None);
    }

    #[test]
    fn an_interface_description_names_its_load_balancer() {
        assert_eq!(
            load_balancer_of_interface("ELB app/shop-alb/50dc6c495c0c9188"),
            Some("app/shop-alb/50dc6c495c0c9188")
        );
        assert_eq!(
            load_balancer_of_interface("ELB net/shop-nlb/0123456789abcdef"),
            Some("net/shop-nlb/0123456789abcdef")
        );
        assert_eq!(load_balancer_of_interface("ELB shop-classic"), None);
        assert_eq!(
            load_balancer_of_interface("Primary network interface"),
            None
        );
    }

    #[test]
    fn a_dualstack_name_is_the_same_load_balancer() {
        assert!(same_dns_name(
            "dualstack.a-1.us-east-1.elb.amazonaws.com",
            "A-1.us-east-1.elb.amazonaws.com."
        ));
    }
}
