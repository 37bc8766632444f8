//! Fixes at the edge: the distribution's own code (Lambda@Edge, CloudFront Functions), what
//! CloudFront logged or answered itself, a disabled distribution, and what cf-doctor could not see.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-edge-testing-debugging.html>

use chrono::Duration;

use cf_doctor_model::fix::CommandLine;
use cf_doctor_model::functions::{cloudfront_function_name, LambdaEdgeFunction};
use cf_doctor_model::{Code, Finding, FixStep};
use serde_json::Value;

use super::scene::Scene;
use super::Plan;
use cf_doctor_model::console;

/// Lambda@Edge functions live in us-east-1; their replicas log in the region that ran them.
const LAMBDA_EDGE_REGION: &str = "us-east-1";
/// At most this many regions' logs are named one by one.
const LOG_REGIONS_NAMED: usize = 3;
/// Lambda's service quota of concurrent executions in a region.
const CONCURRENCY_QUOTA_CODE: &str = "L-B99A9384";

/// The Lambda@Edge function a finding is about: its resource, else the only one of the
/// distribution.
fn lambda_of<'a>(finding: &Finding, scene: &Scene<'a>) -> Option<&'a LambdaEdgeFunction> {
    let functions = &scene.evidence.lambda_edge_functions;
    functions
        .iter()
        .find(|f| f.arn == finding.resource)
        .or_else(|| {
            let id = scene.distribution_id()?;
            let mut used = functions.iter().filter(|f| f.distributions().contains(&id));
            let only = used.next()?;
            used.next().is_none().then_some(only)
        })
}

pub(crate) fn lambda(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let Some(f) = lambda_of(finding, scene) else {
        return Plan::new(
            "Find which of the distribution's functions fails, from its metrics and logs",
            scene
                .distribution
                .map(|d| {
                    vec![FixStep::says(format!(
                        "Read the functions associated with distribution {}",
                        d.id
                    ))
                    .console(console::distribution(&d.id, "behaviors"))]
                })
                .unwrap_or_default(),
        );
    };
    let version = f.qualifier.as_deref();
    let page = console::lambda_function(LAMBDA_EDGE_REGION, &f.name, version);
    let replica = f.replica_name();
    let group = format!("/aws/lambda/{replica}");
    let regions: Vec<&str> = match &f.ran_in {
        Some(regions) if !regions.is_empty() => regions
            .iter()
            .map(String::as_str)
            .take(LOG_REGIONS_NAMED)
            .collect(),
        _ => f
            .log_lines
            .iter()
            .map(|l| l.region.as_str())
            .take(1)
            .collect(),
    };
    let mut steps: Vec<FixStep> = regions
        .iter()
        .map(|region| {
            FixStep::says(format!(
                "Read the errors {} logged in {region}, where it ran",
                f.arn
            ))
            .command(
                CommandLine::new(&["aws", "logs", "tail", &group])
                    .region(region)
                    .flag("--since", "30m")
                    .line(),
            )
            .console(console::log_group(region, &group))
        })
        .collect();
    let republish = || {
        vec![
            FixStep::says(format!(
                "Fix the function's code or configuration and publish a new version of {}: it answers with the version's ARN, written <NEW_VERSION_ARN> below",
                f.name
            ))
            .command(
                CommandLine::new(&["aws", "lambda", "publish-version"])
                    .region(LAMBDA_EDGE_REGION)
                    .flag("--function-name", &f.name)
                    .line(),
            )
            .console(page.clone()),
            associate(f, scene),
        ]
    };
    let summary = match finding.code {
        Code::LambdaEdgeThrottled => {
            let region = regions.first().copied().unwrap_or(LAMBDA_EDGE_REGION);
            steps.push(
                FixStep::says(format!("See Lambda's concurrent executions quota in {region}, where the replicas of {} were throttled, and request more", f.name))
                    .command(
                        CommandLine::new(&["aws", "service-quotas", "get-service-quota"])
                            .region(region)
                            .flag("--service-code", "lambda")
                            .flag("--quota-code", CONCURRENCY_QUOTA_CODE)
                            .line(),
                    ),
            );
            format!(
                "Give Lambda@Edge function {} the concurrency it needs where it runs",
                f.name
            )
        }
        Code::LambdaEdgeMisconfigured => {
            steps.extend(republish());
            format!(
                "Associate a published, valid version of Lambda@Edge function {}",
                f.name
            )
        }
        Code::LambdaEdgeValidationError => {
            steps.extend(republish());
            format!("Make Lambda@Edge function {} return what CloudFront accepts, and associate the fixed version", f.name)
        }
        _ => {
            steps.extend(republish());
            format!(
                "Fix the error Lambda@Edge function {} throws, and associate the fixed version",
                f.name
            )
        }
    };
    let plan = Plan::new(summary, steps);
    if finding.code == Code::LambdaEdgeThrottled {
        plan
    } else {
        plan.changing_the_distribution()
    }
}

/// The failing version replaced by the new one in every cache behaviour that uses it.
fn associate(f: &LambdaEdgeFunction, scene: &Scene<'_>) -> FixStep {
    let uses: Vec<String> = f
        .used_by
        .iter()
        .map(|u| {
            format!(
                "{} {} on {}",
                u.distribution_id,
                u.association
                    .path_pattern
                    .as_deref()
                    .unwrap_or("default behaviour"),
                u.association.event_type
            )
        })
        .collect();
    let step = FixStep::says(format!(
        "Replace the failing {} with <NEW_VERSION_ARN> in the cache behaviours that use it ({})",
        f.arn,
        uses.join("; ")
    ));
    match scene
        .distribution_id()
        .or(f.distributions().first().copied())
    {
        Some(id) => step.console(console::distribution(id, "behaviors")),
        None => step,
    }
}

pub(crate) fn function(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let function = scene
        .evidence
        .cloudfront_functions
        .iter()
        .find(|f| f.arn == finding.resource)
        .or(match scene.evidence.cloudfront_functions.as_slice() {
            [only] => Some(only),
            _ => None,
        });
    let Some(name) = function
        .map(|f| f.name.as_str())
        .or_else(|| cloudfront_function_name(&finding.resource))
    else {
        let steps = scene
            .distribution
            .map(|d| {
                vec![FixStep::says(format!(
                    "Find which CloudFront Function of distribution {} fails: its cache behaviours name them, and each function's metrics (FunctionExecutionErrors) tell",
                    d.id
                ))
                .console(console::distribution(&d.id, "behaviors"))]
            })
            .unwrap_or_default();
        return Plan::new(
            "Find which CloudFront Function of the distribution fails",
            steps,
        );
    };
    let page = console::cloudfront_function(name);
    let cloudfront =
        |verb: &str| CommandLine::new(&["aws", "cloudfront", verb]).flag("--name", name);
    let what = match finding.code {
        Code::CloudfrontFunctionThrottled => {
            "do less work per request (it used all its compute time)"
        }
        Code::CloudfrontFunctionValidationError => "return an event object CloudFront accepts",
        _ => "stop throwing on the requests that fail",
    };
    let steps = vec![
        FixStep::says(format!("Read the LIVE code of CloudFront Function {name}"))
            .command(cloudfront("describe-function").flag("--stage", "LIVE").line())
            .console(page.clone()),
        FixStep::says(format!(
            "Make it {what}, then test the DEVELOPMENT stage with a failing request's event (<TEST_EVENT_FILE>); <ETAG> is the ETag describe-function returned"
        ))
        .command(
            cloudfront("test-function")
                .flag("--if-match", "<ETAG>")
                .flag("--stage", "DEVELOPMENT")
                .flag("--event-object", "fileb://<TEST_EVENT_FILE>")
                .line(),
        )
        .console(page.clone()),
        FixStep::says(format!("Publish the fixed function {name} to LIVE"))
            .command(cloudfront("publish-function").flag("--if-match", "<ETAG>").line())
            .console(page),
    ];
    Plan::new(format!("Make CloudFront Function {name} {what}"), steps)
}

/// What CloudFront logged or answered itself: the logs read for the minutes of the failure.
pub(crate) fn logged(finding: &Finding, scene: &Scene<'_>) -> Plan {
    let Some(id) = scene.distribution_id() else {
        return Plan::new("Read CloudFront's logs of the failing requests", Vec::new());
    };
    let now = scene.evidence.now;
    let from = (now - Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let to = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut steps = vec![FixStep::says(format!(
        "Read CloudFront's standard logs of distribution {id} for the last hour (delivered within the hour): the result types, edge locations and paths of the failing requests"
    ))
    .command(
        CommandLine::new(&["cf-doctor", "postmortem", id])
            .flag("--from", from)
            .flag("--to", to)
            .line(),
    )];
    let dominant = finding.evidence.get("result_type").and_then(Value::as_str);
    let advice = match dominant {
        Some("OriginDnsError") => Some("CloudFront's resolvers cannot resolve the origin name: check its zone's delegation from several resolvers (dig +trace), DNSSEC, and records that answer differently by region"),
        Some("OriginConnectError") => Some("Look for what treats CloudFront's addresses differently from cf-doctor's: security groups, network ACLs, firewalls and WAF rules against com.amazonaws.global.cloudfront.origin-facing, and the SNI and TLS versions CloudFront uses"),
        Some("OriginCommError" | "OriginReadError" | "SlowReaderOriginError") => Some("Compare the origin's response times at the logged minutes and paths with the origin's response timeout"),
        _ => None,
    };
    if let Some(advice) = advice {
        steps.push(FixStep::says(advice).console(console::distribution(id, "origins")));
    }
    if finding.code == Code::EdgeErrorFromCloudfront {
        let host = scene
            .distribution
            .map(|d| d.aliases.first().unwrap_or(&d.domain_name).clone());
        if let Some(host) = host {
            steps.push(
                FixStep::says(format!("Ask CloudFront for https://{host}/ as a viewer does and read X-Cache and x-amz-cf-id (quote the id to AWS support)"))
                    .command(CommandLine::new(&["curl", "-sS", "-o", "/dev/null", "-D", "-"]).arg(format!("https://{host}/")).line()),
            );
        }
    }
    Plan::new(format!("Read what CloudFront logged of the failing requests on {id}, and fix what its result types name"), steps)
}

pub(crate) fn disabled(scene: &Scene<'_>) -> Plan {
    let Some(d) = scene.distribution else {
        return Plan::new(
            "Enable the distribution if it should serve traffic",
            Vec::new(),
        );
    };
    Plan::new(
        format!("Enable distribution {} if it should serve traffic", d.id),
        vec![
            FixStep::says(format!("Enable distribution {} (General, Enable)", d.id))
                .console(console::distribution(&d.id, "")),
        ],
    )
    .changing_the_distribution()
}

/// What cf-doctor could not see: the permission to grant, or where to run it from.
pub(crate) fn gap(finding: &Finding) -> Plan {
    let action = finding.evidence.get("action").and_then(Value::as_str);
    let error = finding
        .evidence
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reason = finding.evidence.get("reason").and_then(Value::as_str);
    if let Some(action) =
        action.filter(|_| error.contains("AccessDenied") || error.contains("not authorized"))
    {
        return Plan::new(
            format!("Grant cf-doctor's role {action}"),
            vec![FixStep::says(format!(
                "Grant {action} to the role cf-doctor runs as: template.yaml grants it, so redeploying the stack does; by hand, add it to the role's policy"
            ))
            .console(console::iam_roles())],
        );
    }
    if matches!(
        reason,
        Some("unreachable-from-here" | "connect-failed" | "admits-only-cloudfront")
    ) {
        return Plan::new(
            "Nothing to fix at the origin: cf-doctor cannot reach it from where it runs",
            vec![FixStep::says(
                "Run cf-doctor where it can reach the origin (the template's VPC parameters place it in the origin's VPC), or rely on what AWS's own records say of it, which this report holds",
            )],
        );
    }
    Plan::new(
        "Run cf-doctor again; if the gap stays, the part it names is not inspected",
        vec![FixStep::says(format!(
            "The part not inspected: {}",
            finding.title
        ))],
    )
}
