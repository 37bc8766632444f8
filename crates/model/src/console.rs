//! Links to the AWS console page of a resource, in the resource's region (CloudFront's pages,
//! global, live in us-east-1) and partition.

/// The region named in an ARN (`arn:aws:acm:eu-west-1:...`), if it names one.
pub fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The console's host for a region: its partition's domain, the region first.
fn host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("{region}.console.amazonaws.cn")
    } else if region.starts_with("us-gov-") {
        format!("{region}.console.amazonaws-us-gov.com")
    } else {
        format!("{region}.console.aws.amazon.com")
    }
}

fn page(region: &str, service: &str, fragment: &str) -> String {
    format!(
        "https://{}/{service}?region={region}#{fragment}",
        host(region)
    )
}

const CLOUDFRONT_REGION: &str = "us-east-1";

/// A tab of a distribution: `origins`, `behaviors`, `error-pages`, or the general settings ("").
pub fn distribution(id: &str, tab: &str) -> String {
    let path = if tab.is_empty() {
        format!("/distributions/{id}")
    } else {
        format!("/distributions/{id}/{tab}")
    };
    page(CLOUDFRONT_REGION, "cloudfront/v4/home", &path)
}

pub fn cloudfront_function(name: &str) -> String {
    page(
        CLOUDFRONT_REGION,
        "cloudfront/v4/home",
        &format!("/functions/{name}"),
    )
}

pub fn vpc_origin(id: &str) -> String {
    page(
        CLOUDFRONT_REGION,
        "cloudfront/v4/home",
        &format!("/vpcorigins/{id}"),
    )
}

/// An ACM certificate's page, from its ARN (None for anything but an ACM certificate's ARN).
pub fn certificate(arn: &str) -> Option<String> {
    if arn.split(':').nth(2) != Some("acm") {
        return None;
    }
    let region = region_of(arn)?;
    let id = arn.rsplit_once("certificate/")?.1;
    Some(page(region, "acm/home", &format!("/certificates/{id}")))
}

/// A region's certificates.
pub fn certificates(region: &str) -> String {
    page(region, "acm/home", "/certificates/list")
}

/// Where a new certificate is requested.
pub fn certificate_request(region: &str) -> String {
    page(region, "acm/home", "/certificates/request")
}

pub fn load_balancer(region: &str, arn: &str) -> String {
    page(
        region,
        "ec2/home",
        &format!("LoadBalancer:loadBalancerArn={arn}"),
    )
}

pub fn listener(region: &str, arn: &str) -> String {
    page(
        region,
        "ec2/home",
        &format!("ListenerDetails:listenerArn={arn}"),
    )
}

pub fn target_group(region: &str, arn: &str) -> String {
    page(
        region,
        "ec2/home",
        &format!("TargetGroup:targetGroupArn={arn}"),
    )
}

pub fn security_group(region: &str, id: &str) -> String {
    page(region, "ec2/home", &format!("SecurityGroup:groupId={id}"))
}

pub fn instance(region: &str, id: &str) -> String {
    page(
        region,
        "ec2/home",
        &format!("InstanceDetails:instanceId={id}"),
    )
}

/// A Lambda function's page (a version's when one is named).
pub fn lambda_function(region: &str, name: &str, version: Option<&str>) -> String {
    let path = match version {
        Some(v) => format!("/functions/{name}/versions/{v}?tab=configure"),
        None => format!("/functions/{name}?tab=configure"),
    };
    page(region, "lambda/home", &path)
}

/// A CloudWatch Logs group's page (its name with `/` written `$252F`, as the console does).
pub fn log_group(region: &str, group: &str) -> String {
    page(
        region,
        "cloudwatch/home",
        &format!(
            "logsV2:log-groups/log-group/{}",
            group.replace('/', "$252F")
        ),
    )
}

/// IAM's roles, where the function's role (named in the stack) is given permissions.
pub fn iam_roles() -> String {
    page(CLOUDFRONT_REGION, "iam/home", "/roles")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_in_the_resources_region_and_partition() {
        let arn = "arn:aws:acm:eu-west-1:111122223333:certificate/abcd-1234";
        assert_eq!(
            certificate(arn).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/acm/home?region=eu-west-1#/certificates/abcd-1234"
        );
        assert!(distribution("E2X", "origins").starts_with("https://us-east-1.console.aws.amazon.com/cloudfront/v4/home?region=us-east-1#/distributions/E2X/origins"));
        assert!(security_group("cn-north-1", "sg-1")
            .starts_with("https://cn-north-1.console.amazonaws.cn/"));
        assert_eq!(certificate("not-an-arn"), None);
    }
}
