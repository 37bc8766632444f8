//! Fixes for reaching the origin: its name, its port (a listener), what drops packets (security
//! groups), the instance behind it, the TLS versions it accepts, a VPC origin.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/LocationsOfEdgeServers.html#managed-prefix-list>

use crate::security_groups::Guarded;
use cf_doctor_model::fix::CommandLine;
use cf_doctor_model::{Code, Finding, FixStep, Severity};

use super::scene::Scene;
use super::Plan;
use cf_doctor_model::console;

/// The AWS-managed prefix list of CloudFront's origin-facing addresses.
const CLOUDFRONT_PREFIX_LIST_NAME: &str = "com.amazonaws.global.cloudfront.origin-facing";
/// The TLS policy AWS recommends for a load balancer CloudFront connects to (TLS 1.2 and 1.3).
const RECOMMENDED_TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

fn endpoint(scene: &Scene<'_>) -> String {
    scene
        .endpoint
        .as_ref()
        .map(|(h, p)| format!("{h}:{p}"))
        .unwrap_or_else(|| "the origin".to_string())
}

/// The distribution's origins tab, where the origin's domain, ports and timeouts are set.
fn origins_tab(scene: &Scene<'_>, action: String) -> Option<FixStep> {
    let d = scene.distribution?;
    Some(FixStep::says(action).console(console::distribution(&d.id, "origins")))
}

pub(crate) fn dns(scene: &Scene<'_>) -> Plan {
    let host = scene
        .endpoint
        .as_ref()
        .map(|(h, _)| h.clone())
        .unwrap_or_default();
    let mut steps = vec![
        FixStep::says(format!("Find the Route53 hosted zone of this account that holds {host}, if any, and restore the record for {host} there (or at the DNS provider that serves it)"))
            .command(
                CommandLine::new(&["aws", "route53", "list-hosted-zones"])
                    .flag("--query", format!("HostedZones[?ends_with(`\"{host}.\"`, Name)].[Id,Name]"))
                    .line(),
            ),
    ];
    steps.extend(origins_tab(scene, format!("Or, if {host} is not the origin's name any more, set the origin domain to the name that serves it (Origins, Edit)")));
    let mut plan = Plan::new(
        format!("Make {host} resolve again, or point the origin at a name that does"),
        steps,
    );
    plan.steps.push(
        FixStep::says("Check that it resolves from a public resolver, as CloudFront's do")
            .command(CommandLine::new(&["dig", "+short", &host]).line()),
    );
    plan.changing_the_distribution()
}

/// Nothing listens where CloudFront connects: a listener added, or the origin pointed elsewhere.
pub(crate) fn listener(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let at = endpoint(scene);
    let mut steps = Vec::new();
    if let Some(lb) = scene.load_balancer {
        let https = lb.origin_protocol.is_https();
        let protocol = lb.origin_protocol.as_str();
        let mut command = match scene.listener.filter(|l| l.port == lb.origin_port) {
            // A listener on the port that speaks the wrong protocol: change it.
            Some(existing) => CommandLine::new(&["aws", "elbv2", "modify-listener"])
                .region(&lb.region)
                .flag("--listener-arn", &existing.arn)
                .flag("--protocol", protocol),
            None => CommandLine::new(&["aws", "elbv2", "create-listener"])
                .region(&lb.region)
                .flag("--load-balancer-arn", &lb.arn)
                .flag("--protocol", protocol)
                .flag("--port", lb.origin_port.to_string())
                .flag(
                    "--default-actions",
                    "Type=forward,TargetGroupArn=<TARGET_GROUP_ARN>",
                ),
        };
        if https {
            command = command
                .flag("--certificates", "CertificateArn=<CERTIFICATE_ARN>")
                .flag("--ssl-policy", RECOMMENDED_TLS_POLICY);
        }
        let placeholders = if https {
            "<CERTIFICATE_ARN> is an ISSUED ACM certificate covering the origin domain, <TARGET_GROUP_ARN> the target group that serves the site"
        } else {
            "<TARGET_GROUP_ARN> is the target group that serves the site"
        };
        steps.push(
            FixStep::says(format!(
                "Give load balancer {} an {protocol} listener on port {}, where CloudFront connects ({placeholders})",
                lb.name, lb.origin_port
            ))
            .command(command.line())
            .console(console::load_balancer(&lb.region, &lb.arn)),
        );
    } else if let Some(i) = scene.instance {
        steps.push(
            FixStep::says(format!(
                "Start the web server on instance {} so that it listens on {at}",
                i.instance_id
            ))
            .console(console::instance(&i.region, &i.instance_id)),
        );
    } else {
        steps.push(FixStep::says(format!(
            "Start the service that should listen on {at} ({}), or find what took its port",
            finding.resource
        )));
    }
    steps.extend(origins_tab(
        scene,
        "Or set the origin's ports and protocol policy to where the origin serves (Origins, Edit)"
            .to_string(),
    ));
    Plan::new(
        format!("Let something listen on {at}, where CloudFront connects"),
        steps,
    )
}

/// The load balancer's or instance's security groups in front of the origin, as the rules judge
/// them.
fn guard<'a>(scene: &Scene<'a>, at: &'a str) -> Option<Guarded<'a>> {
    scene
        .load_balancer
        .map(|lb| Guarded::load_balancer(lb, at))
        .or_else(|| scene.instance.map(|i| Guarded::instance(i, at)))
}

/// Packets dropped on the way: CloudFront's prefix list admitted on the port.
pub(crate) fn dropped(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let at = endpoint(scene);
    let guarded = guard(scene, &finding.resource);
    let Some((guard, groups)) = guarded
        .as_ref()
        .and_then(|g| Some((g, g.groups.as_deref().filter(|groups| !groups.is_empty())?)))
    else {
        let mut steps = vec![FixStep::says(format!(
            "Find what drops TCP to {at} between CloudFront and the origin: security groups, network ACLs, a firewall, or a process that accepts and never answers"
        ))];
        if let Some(i) = scene.instance {
            steps[0] = steps[0]
                .clone()
                .console(console::instance(&i.region, &i.instance_id));
        }
        steps.extend(origins_tab(
            scene,
            "Or check the origin's ports and connection timeout (Origins, Edit)".to_string(),
        ));
        return Plan::new(
            format!("Let CloudFront's connections to {at} through"),
            steps,
        );
    };
    let group = &groups[0];
    let mut steps = Vec::new();
    let prefix_list = match guard.prefix_list {
        Some(id) => id.to_string(),
        None => {
            steps.push(
                FixStep::says(format!("Look up the id of the managed prefix list {CLOUDFRONT_PREFIX_LIST_NAME} in {}: <CLOUDFRONT_PREFIX_LIST_ID> below", guard.region))
                    .command(
                        CommandLine::new(&["aws", "ec2", "describe-managed-prefix-lists"])
                            .region(guard.region)
                            .flag("--filters", format!("Name=prefix-list-name,Values={CLOUDFRONT_PREFIX_LIST_NAME}"))
                            .flag("--query", "PrefixLists[0].PrefixListId")
                            .line(),
                    ),
            );
            "<CLOUDFRONT_PREFIX_LIST_ID>".to_string()
        }
    };
    steps.push(
        FixStep::says(format!(
            "Admit TCP {} from CloudFront's managed prefix list {CLOUDFRONT_PREFIX_LIST_NAME} ({prefix_list}) in security group {} ({}), one of {} ({})",
            guard.port, group.id, group.name, guard.whose_groups(), guard.name
        ))
        .command(
            CommandLine::new(&["aws", "ec2", "authorize-security-group-ingress"])
                .region(guard.region)
                .flag("--group-id", &group.id)
                .flag(
                    "--ip-permissions",
                    format!(
                        "IpProtocol=tcp,FromPort={port},ToPort={port},PrefixListIds=[{{PrefixListId={prefix_list}}}]",
                        port = guard.port
                    ),
                )
                .line(),
        )
        .console(console::security_group(guard.region, &group.id)),
    );
    let partial = finding.severity < Severity::Critical && guard.ranges.is_some();
    if partial {
        steps.push(
            FixStep::says(format!(
                "Then remove the rules of {} ({}) that admit a copy of CloudFront's ranges, which AWS does not keep current for you",
                guard.whose_groups(), guard.name
            ))
            .command(
                CommandLine::new(&["aws", "ec2", "describe-security-group-rules"])
                    .region(guard.region)
                    .flag("--filters", format!("Name=group-id,Values={}", group.id))
                    .line(),
            )
            .console(console::security_group(guard.region, &group.id)),
        );
    }
    Plan::new(
        format!(
            "Let CloudFront in on port {} through {} ({}), by its managed prefix list",
            guard.port,
            guard.whose_groups(),
            guard.name
        ),
        steps,
    )
}

/// An instance that does not run: started, recovered, or replaced.
pub(crate) fn instance(scene: &Scene<'_>) -> Plan {
    let Some(i) = scene.instance else {
        return Plan::new("Start the instance behind the origin", Vec::new());
    };
    let page = console::instance(&i.region, &i.instance_id);
    let ec2 = |verb: &str| CommandLine::new(&["aws", "ec2", verb]).region(&i.region);
    let impaired_system = i
        .status_checks
        .as_ref()
        .is_some_and(|c| c.system == "impaired");
    let (summary, steps) = match i.state.as_str() {
        "running" if impaired_system => (
            format!("Stop and start instance {} to move it off the impaired host", i.instance_id),
            vec![
                FixStep::says(format!("Stop instance {} (a reboot stays on the same host)", i.instance_id))
                    .command(ec2("stop-instances").flag("--instance-ids", &i.instance_id).line())
                    .console(page.clone()),
                FixStep::says(format!("Start instance {} again", i.instance_id))
                    .command(ec2("start-instances").flag("--instance-ids", &i.instance_id).line())
                    .console(page),
            ],
        ),
        "running" => (
            format!("Find why instance {} fails its status check, and reboot or replace it", i.instance_id),
            vec![
                FixStep::says(format!("Read the console output of instance {}", i.instance_id))
                    .command(ec2("get-console-output").flag("--instance-id", &i.instance_id).arg("--latest").line())
                    .console(page.clone()),
                FixStep::says(format!("Reboot instance {}", i.instance_id))
                    .command(ec2("reboot-instances").flag("--instance-ids", &i.instance_id).line())
                    .console(page),
            ],
        ),
        "terminated" | "shutting-down" => (
            format!("Instance {} is gone: point the origin at a running instance or a load balancer", i.instance_id),
            vec![FixStep::says(format!(
                "Point the origin's DNS record (or the Elastic IP {}) at a running instance or a load balancer, or change the distribution's origin",
                i.address
            ))
            .console(scene.distribution.map(|d| console::distribution(&d.id, "origins")).unwrap_or(page))],
        ),
        "pending" => (
            format!("Wait for instance {} to run", i.instance_id),
            vec![FixStep::says(format!("Wait until instance {} runs; if it stays pending, read its state reason", i.instance_id))
                .command(ec2("wait").arg("instance-running").flag("--instance-ids", &i.instance_id).line())
                .console(page)],
        ),
        _ => (
            format!("Start instance {}", i.instance_id),
            vec![
                FixStep::says(format!(
                    "Start instance {} ({}); without an Elastic IP it gets a new public address, which the origin's record must then name",
                    i.instance_id,
                    i.state_reason.as_deref().unwrap_or("EC2 gives no reason for its state")
                ))
                .command(ec2("start-instances").flag("--instance-ids", &i.instance_id).line())
                .console(page),
            ],
        ),
    };
    Plan::new(summary, steps)
}

/// The origin and CloudFront share no TLS version.
pub(crate) fn protocols(scene: &Scene<'_>) -> Plan {
    let mut steps = Vec::new();
    match (scene.load_balancer, scene.listener) {
        (Some(lb), Some(listener)) => steps.push(
            FixStep::says(format!(
                "Give listener {}:{} of {} ({}) a TLS policy with TLS 1.2, such as {RECOMMENDED_TLS_POLICY} (now {})",
                listener.protocol, listener.port, lb.name, listener.arn, listener.ssl_policy.as_deref().unwrap_or("unknown")
            ))
            .command(
                CommandLine::new(&["aws", "elbv2", "modify-listener"])
                    .region(&lb.region)
                    .flag("--listener-arn", &listener.arn)
                    .flag("--ssl-policy", RECOMMENDED_TLS_POLICY)
                    .line(),
            )
            .console(console::listener(&lb.region, &listener.arn)),
        ),
        _ => steps.push(FixStep::says(format!(
            "Let the origin {} accept TLS 1.2 with an ECDHE AES-GCM cipher",
            endpoint(scene)
        ))),
    }
    steps.extend(origins_tab(scene, "And let the origin's Minimum origin SSL protocol include a version the origin accepts (Origins, Edit)".to_string()));
    Plan::new(
        "Give the origin and CloudFront a TLS version in common (TLS 1.2)",
        steps,
    )
}

pub(crate) fn vpc_origin(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let Some(v) = scene
        .evidence
        .vpc_origins
        .iter()
        .find(|v| v.arn == finding.resource)
    else {
        return Plan::new("Deploy the VPC origin", Vec::new());
    };
    let page = console::vpc_origin(&v.id);
    let status = FixStep::says(format!(
        "Read VPC origin {}'s status (now {})",
        v.id, v.status
    ))
    .command(
        CommandLine::new(&["aws", "cloudfront", "get-vpc-origin"])
            .flag("--id", &v.id)
            .line(),
    )
    .console(page.clone());
    if finding.code == Code::VpcOriginNotDeployed
        && finding.severity == Severity::Critical
        && v.fronts_load_balancer()
    {
        return Plan::new(
            format!("Point VPC origin {} at the load balancer that serves the site now", v.id),
            vec![
                status,
                FixStep::says(format!(
                    "Update VPC origin {} to the load balancer that serves the site (<LOAD_BALANCER_ARN>), in place of {} which no longer exists; <ETAG> is the ETag get-vpc-origin returned",
                    v.id, v.endpoint_arn
                ))
                .command(
                    CommandLine::new(&["aws", "cloudfront", "update-vpc-origin"])
                        .flag("--id", &v.id)
                        .flag("--if-match", "<ETAG>")
                        .flag(
                            "--vpc-origin-endpoint-config",
                            format!(
                                "Name={},Arn=<LOAD_BALANCER_ARN>,HTTPPort={},HTTPSPort={},OriginProtocolPolicy={}",
                                v.endpoint_name, v.endpoint.http_port, v.endpoint.https_port, v.endpoint.protocol_policy
                            ),
                        )
                        .line(),
                )
                .console(page),
            ],
        );
    }
    Plan::new(
        format!(
            "Wait for VPC origin {} to be Deployed (up to 15 minutes after a change)",
            v.id
        ),
        vec![status],
    )
}
