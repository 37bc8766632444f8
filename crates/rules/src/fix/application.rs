//! Fixes behind the origin: targets that are not healthy (each named with its reason), an
//! application that answers 5xx, an origin slower than CloudFront's read timeout.
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html>

use cf_doctor_model::evidence::OriginKind;
use cf_doctor_model::fix::CommandLine;
use cf_doctor_model::FixStep;

use super::scene::Scene;
use super::Plan;
use cf_doctor_model::console;

/// At most this many targets are named one by one; the rest are counted.
const TARGETS_NAMED: usize = 5;

pub(crate) fn targets(scene: &Scene<'_>) -> Plan {
    let (Some(lb), Some(listener)) = (scene.load_balancer, scene.listener) else {
        return Plan::new("Give the load balancer healthy targets", Vec::new());
    };
    let groups: Vec<_> = listener
        .target_groups
        .iter()
        .flatten()
        .filter(|g| g.healthy == 0)
        .collect();
    let mut steps = Vec::new();
    for group in &groups {
        let page = console::target_group(&lb.region, &group.arn);
        if group.not_healthy.is_empty() {
            steps.push(
                FixStep::says(format!(
                    "Target group {} has no targets: register the instances (or addresses) that serve the site; <TARGET_ID> is one",
                    group.arn
                ))
                .command(
                    CommandLine::new(&["aws", "elbv2", "register-targets"])
                        .region(&lb.region)
                        .flag("--target-group-arn", &group.arn)
                        .flag("--targets", "Id=<TARGET_ID>")
                        .line(),
                )
                .console(page),
            );
            continue;
        }
        let named: Vec<String> = group
            .not_healthy
            .iter()
            .take(TARGETS_NAMED)
            .map(|t| format!("{} is {} ({})", t.target, t.state, t.reason))
            .collect();
        let more = group.not_healthy.len().saturating_sub(TARGETS_NAMED);
        let more = if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        };
        steps.push(
            FixStep::says(format!(
                "In target group {}: {}{more}. Fix what each reason names (Target.FailedHealthChecks: the health check path, port and matcher, and the targets' security group admitting the load balancer; Target.NotRegistered or Target.NotInUse: register the target or enable its zone)",
                group.arn,
                named.join("; ")
            ))
            .command(
                CommandLine::new(&["aws", "elbv2", "describe-target-health"])
                    .region(&lb.region)
                    .flag("--target-group-arn", &group.arn)
                    .line(),
            )
            .console(page.clone()),
        );
        steps.push(
            FixStep::says(format!("Compare the health check of {} with what the targets serve", group.arn))
                .command(
                    CommandLine::new(&["aws", "elbv2", "describe-target-groups"])
                        .region(&lb.region)
                        .flag("--target-group-arns", &group.arn)
                        .flag("--query", "TargetGroups[0].[HealthCheckProtocol,HealthCheckPort,HealthCheckPath,Matcher]")
                        .line(),
                )
                .console(page),
        );
    }
    Plan::new(
        format!(
            "Give load balancer {} a healthy target for CloudFront's requests",
            lb.name
        ),
        steps,
    )
}

pub(crate) fn errors(scene: &Scene<'_>) -> Plan {
    let mut steps = Vec::new();
    if let Some(lb) = scene.load_balancer {
        steps.push(
            FixStep::says(format!(
                "Load balancer {} passes its targets' errors on: read the application's logs and recent deploys on its targets, and their health",
                lb.name
            ))
            .console(console::load_balancer(&lb.region, &lb.arn)),
        );
        for group in scene
            .listener
            .and_then(|l| l.target_groups.as_ref())
            .into_iter()
            .flatten()
        {
            steps.push(
                FixStep::says(format!("See the targets of {}", group.arn))
                    .command(
                        CommandLine::new(&["aws", "elbv2", "describe-target-health"])
                            .region(&lb.region)
                            .flag("--target-group-arn", &group.arn)
                            .line(),
                    )
                    .console(console::target_group(&lb.region, &group.arn)),
            );
        }
    } else if let Some(i) = scene.instance {
        steps.push(
            FixStep::says(format!(
                "Read the application's logs on instance {} and its recent deploys",
                i.instance_id
            ))
            .console(console::instance(&i.region, &i.instance_id)),
        );
    } else {
        let at = scene
            .endpoint
            .as_ref()
            .map(|(h, p)| format!("{h}:{p}"))
            .unwrap_or_default();
        steps.push(FixStep::says(format!(
            "The origin {at} answers with errors itself: read the application's logs and recent deploys"
        )));
    }
    Plan::new(
        "Fix what makes the application behind the origin fail",
        steps,
    )
}

pub(crate) fn slow(scene: &Scene<'_>) -> Plan {
    let mut steps = Vec::new();
    if let Some(lb) = scene.load_balancer {
        steps.push(
            FixStep::says(format!(
                "Find what makes the targets of {} slow (their TargetResponseTime, capacity, the application's own latency)",
                lb.name
            ))
            .console(console::load_balancer(&lb.region, &lb.arn)),
        );
    } else {
        steps.push(FixStep::says(
            "Find what makes the origin slow: its own latency and capacity at the failing times",
        ));
    }
    if let (Some(d), Some((host, _))) = (scene.distribution, &scene.endpoint) {
        let timeout = d
            .origins
            .iter()
            .find(|o| &o.domain_name == host)
            .and_then(|o| match &o.kind {
                OriginKind::Custom(c) => Some(c.read_timeout_s),
                OriginKind::Vpc(v) => Some(v.read_timeout_s),
                OriginKind::S3 => None,
            });
        let now = timeout.map(|t| format!(" (now {t} s)")).unwrap_or_default();
        steps.push(
            FixStep::says(format!(
                "Or raise the origin's response timeout{now} in distribution {} (Origins, Edit; up to 60 s, more through a quota increase)",
                d.id
            ))
            .console(console::distribution(&d.id, "origins")),
        );
    }
    Plan::new(
        "Make the origin answer within CloudFront's read timeout",
        steps,
    )
}
