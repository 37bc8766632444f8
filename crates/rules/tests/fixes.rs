//! Every finding above info carries a fix built from its evidence alone: the steps name only
//! resources the evidence holds, every command is a shell word list whose identifiers come from
//! the evidence or are explained placeholders, every console page is in the resource's region.
//! The shapes are the saved moto scenarios (tests/fixtures), and variants of them edited as the
//! outages of the contract make them; each code's fix is a snapshot a person reviewed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cf_doctor_model::fix::is_placeholder;
use cf_doctor_model::replay::SavedEvidence;
use cf_doctor_model::{Code, Diagnosis, Evidence, Finding, Severity, TriggerInfo};
use serde_json::{json, Value};

fn saved(name: &str) -> (Value, TriggerInfo) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let run = SavedEvidence::parse(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .runs
        .remove(0);
    (serde_json::to_value(&run.evidence).unwrap(), run.trigger)
}

fn diagnose(evidence: &Value, trigger: &TriggerInfo) -> (Diagnosis, Evidence) {
    let evidence: Evidence = serde_json::from_value(evidence.clone()).expect("evidence parses");
    let now = evidence.now;
    let d = cf_doctor_rules::diagnose(&evidence, trigger.clone(), now, 1);
    (d, evidence)
}

fn alarm(id: &str, status: u16) -> TriggerInfo {
    TriggerInfo {
        function: None,
        kind: cf_doctor_model::TriggerKind::Alarm,
        detail: "test alarm".into(),
        distribution_id: Some(id.into()),
        status: Some(status),
    }
}

/// The words a shell makes of a command, or why it cannot.
fn words(command: &str) -> Vec<String> {
    shlex::split(command).unwrap_or_else(|| panic!("not a shell word list: {command}"))
}

/// Words that name an AWS resource: ARNs and EC2-style ids, and distribution ids after `diagnose`.
fn identifiers(word: &str) -> Vec<String> {
    let mut found = Vec::new();
    for part in word.split([',', '=', '[', ']', '{', '}', ' ']) {
        let part = part.trim_start_matches("fileb://");
        if part.starts_with("arn:")
            || ["sg-", "i-", "pl-", "vpc-", "subnet-", "eni-"]
                .iter()
                .any(|p| part.starts_with(p) && part.len() > p.len() + 3)
        {
            found.push(part.to_string());
        }
    }
    found
}

/// The problems of one finding's fix, checked against the evidence it was built from.
fn problems(finding: &Finding, evidence: &Evidence) -> Vec<String> {
    let code = finding.code;
    let Some(fix) = &finding.fix else {
        return if finding.severity > Severity::Info {
            vec![format!("{code}: no fix")]
        } else {
            vec![]
        };
    };
    let known = serde_json::to_string(evidence).unwrap();
    let mut out = Vec::new();
    if finding.severity == Severity::Info {
        out.push(format!("{code}: an info finding has a fix"));
    }
    if fix.summary.is_empty() {
        out.push(format!("{code}: no summary"));
    }
    if fix.steps.is_empty() {
        out.push(format!("{code}: no steps"));
    }
    if fix.verify.is_empty() {
        out.push(format!("{code}: nothing to verify with"));
    }
    for step in fix.steps.iter().chain(&fix.verify) {
        if let Some(command) = &step.command {
            let command = command.trim_end_matches(" </dev/null");
            for word in words(command) {
                for id in identifiers(&word) {
                    if !known.contains(&id) {
                        out.push(format!(
                            "{code}: {id} in `{command}` is not in the evidence"
                        ));
                    }
                }
                let mut rest = word.as_str();
                while let Some(start) = rest.find('<') {
                    let Some(len) = rest[start..].find('>') else {
                        break;
                    };
                    let placeholder = &rest[start..start + len + 1];
                    if !is_placeholder(placeholder) {
                        out.push(format!(
                            "{code}: {placeholder} is not an upper-case placeholder"
                        ));
                    } else if !fix
                        .steps
                        .iter()
                        .chain(&fix.verify)
                        .any(|s| s.action.contains(placeholder))
                    {
                        out.push(format!("{code}: {placeholder} is never explained"));
                    }
                    rest = &rest[start + len + 1..];
                }
            }
        }
        if let Some(url) = &step.console {
            let Some(region) = url
                .split("region=")
                .nth(1)
                .map(|r| r.split(['#', '&']).next().unwrap_or(r))
            else {
                out.push(format!("{code}: {url} names no region"));
                continue;
            };
            if !url.starts_with(&format!("https://{region}.console.")) {
                out.push(format!("{code}: {url} is not on {region}'s console"));
            }
            for id in identifiers(url.split('#').nth(1).unwrap_or_default()) {
                let arn_region = id.split(':').nth(3).unwrap_or_default();
                if !arn_region.is_empty() && arn_region != region {
                    out.push(format!(
                        "{code}: {url} shows a resource of {arn_region} in {region}"
                    ));
                }
                if !known.contains(&id) {
                    out.push(format!("{code}: {id} in {url} is not in the evidence"));
                }
            }
        }
    }
    out
}

fn check(d: &Diagnosis, evidence: &Evidence) {
    let all: Vec<String> = d
        .findings
        .iter()
        .flat_map(|f| problems(f, evidence))
        .collect();
    assert!(all.is_empty(), "{all:#?}");
}

fn commands(finding: &Finding) -> Vec<&str> {
    let fix = finding.fix.as_ref().expect("a fix");
    fix.steps
        .iter()
        .filter_map(|s| s.command.as_deref())
        .collect()
}

/// The saved load balancer scenario as the founding outage: its listener certificate expired,
/// EMAIL-validated, and the origin presents it; the distribution caches 502 for 300 seconds.
fn founding_outage() -> (Value, TriggerInfo) {
    let (mut e, _) = saved("load_balancer_expiring_listener_certificate");
    let cert = &mut e["certificates"][0];
    cert["cert_type"] = json!("AMAZON_ISSUED");
    cert["status"] = json!("EXPIRED");
    cert["validation_methods"] = json!(["EMAIL"]);
    cert["renewal_eligibility"] = json!("ELIGIBLE");
    cert["not_after"] = json!("2026-11-28T10:06:40Z");
    let tls = &mut e["origin_probes"][0]["addresses"][0]["tls"];
    tls["presented_chain"][0]["not_after"] = json!("2026-11-28T10:06:40Z");
    tls["verification"] = json!({"outcome": "rejected", "reason": "expired", "error": "invalid peer certificate: Expired"});
    e["distributions"][0]["custom_error_responses"] =
        json!([{"error_code": 502, "error_caching_min_ttl": 300}]);
    (e, alarm("FYQJ80R0HCZI5", 502))
}

const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/cfd-replay/4c7a5c895c84e228/b464e62e18b27431";
const CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/cb69fecc-0442-4c8f-8371-188333434247";

#[test]
fn the_founding_outage_fix_requests_a_dns_validated_certificate_and_attaches_it_to_the_listener() {
    let (e, trigger) = founding_outage();
    let (d, evidence) = diagnose(&e, &trigger);
    check(&d, &evidence);
    let first = &d.findings[0];
    assert_eq!(d.probable_cause, Some(first.code));
    let fix = first.fix.as_ref().unwrap();
    let commands = commands(first);
    let request = commands
        .iter()
        .find(|c| c.starts_with("aws acm request-certificate"))
        .unwrap_or_else(|| panic!("no request among {commands:#?}"));
    assert!(request.contains("--validation-method DNS"), "{request}");
    assert!(
        request.contains("cfd-replay-1.us-east-1.elb.amazonaws.com"),
        "the origin domain: {request}"
    );
    let attach = commands
        .iter()
        .find(|c| c.contains("elbv2 modify-listener"))
        .expect("attached to the listener");
    assert!(
        attach.contains(LISTENER) && attach.contains("<NEW_CERTIFICATE_ARN>"),
        "{attach}"
    );
    assert!(
        fix.steps
            .iter()
            .any(|s| s.console.as_deref().is_some_and(
                |c| c.ends_with("#/certificates/cb69fecc-0442-4c8f-8371-188333434247")
            )),
        "the certificate's console page: {fix:#?}"
    );
    assert!(commands
        .iter()
        .any(|c| c.contains("delete-certificate") && c.contains(CERTIFICATE)));
    assert_eq!(
        fix.verify[0].command.as_deref(),
        Some("cf-doctor diagnose FYQJ80R0HCZI5")
    );
    assert!(
        fix.verify.iter().any(|s| s
            .command
            .as_deref()
            .is_some_and(|c| c.starts_with("openssl s_client")
                && c.contains("-servername cfd-replay-1.us-east-1.elb.amazonaws.com"))),
        "{:#?}",
        fix.verify
    );
    let after = fix.after.as_deref().expect("what viewers still see");
    assert!(after.contains("HTTP 502 for up to 300 seconds"), "{after}");
}

#[test]
fn without_a_custom_error_response_cached_errors_last_cloudfronts_default_10_seconds() {
    let (mut e, trigger) = founding_outage();
    e["distributions"][0]["custom_error_responses"] = json!([]);
    let (d, _) = diagnose(&e, &trigger);
    let after = d.findings[0].fix.as_ref().unwrap().after.clone().unwrap();
    assert!(
        after.contains("HTTP 502 for up to 10 seconds, CloudFront's default"),
        "{after}"
    );
}

#[test]
fn an_imported_certificate_is_reimported_into_the_same_arn() {
    let (mut e, trigger) = founding_outage();
    e["certificates"][0]["cert_type"] = json!("IMPORTED");
    let (d, evidence) = diagnose(&e, &trigger);
    check(&d, &evidence);
    let commands = commands(&d.findings[0]);
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("aws acm import-certificate") && c.contains(CERTIFICATE)),
        "{commands:#?}"
    );
    assert!(!commands.iter().any(|c| c.contains("request-certificate")));
}

/// A shape for each fix module, edited from the saved scenarios.
fn shapes() -> Vec<(&'static str, Value, TriggerInfo)> {
    let mut out = Vec::new();
    for name in [
        "founding_outage",
        "healthy_origin_expiring_viewer_certificate",
        "load_balancer_expiring_listener_certificate",
        "sweep",
    ] {
        let (e, t) = saved(name);
        out.push((name, e, t));
    }
    let (e, t) = founding_outage();
    out.push(("listener certificate expired", e, t));

    let (mut e, _) = founding_outage();
    e["load_balancers"][0]["security_groups"] = json!([{"id": "sg-4cb8f977f013dee48", "name": "cfd-replay-sg", "opens_port_to_cloudfront": null}]);
    e["origin_probes"][0]["addresses"][0] =
        json!({"address": "127.0.0.1", "tcp": {"outcome": "timed-out", "duration_ms": 1500}});
    out.push((
        "security group drops CloudFront",
        e,
        alarm("FYQJ80R0HCZI5", 504),
    ));

    let (mut e, _) = saved("load_balancer_expiring_listener_certificate");
    e["load_balancers"][0]["listener"]["target_groups"][0]["healthy"] = json!(0);
    e["load_balancers"][0]["listener"]["target_groups"][0]["not_healthy"] = json!([{"target": "i-0123456789abcdef0:80", "state": "unhealthy", "reason": "Target.FailedHealthChecks"}]);
    out.push(("no healthy target", e, alarm("FYQJ80R0HCZI5", 503)));

    let (mut e, _) = saved("load_balancer_expiring_listener_certificate");
    e["load_balancers"][0]["listener"] = Value::Null;
    e["load_balancers"][0]["listeners"] = json!([{"port": 80, "protocol": "HTTP"}]);
    e["origin_probes"][0]["addresses"][0] =
        json!({"address": "127.0.0.1", "tcp": {"outcome": "refused", "duration_ms": 1}});
    out.push((
        "no listener on the origin port",
        e,
        alarm("FYQJ80R0HCZI5", 502),
    ));

    let (mut e, _) = saved("load_balancer_expiring_listener_certificate");
    e["load_balancers"][0]["listener"]["policy_protocols"] = json!(["TLSv1.3"]);
    e["load_balancers"][0]["listener"]["ssl_policy"] = json!("ELBSecurityPolicy-TLS13-1-3-2021-06");
    out.push((
        "listener policy without TLS 1.2",
        e,
        alarm("FYQJ80R0HCZI5", 502),
    ));

    let (mut e, t) = saved("founding_outage");
    e["origin_probes"][0]["dns"] =
        json!({"outcome": "failed", "error": "NXDOMAIN", "duration_ms": 3});
    e["origin_probes"][0]["addresses"] = json!([]);
    out.push(("origin name does not resolve", e, t));

    let (mut e, t) = saved("healthy_origin_expiring_viewer_certificate");
    e["distributions"][0]["aliases"] = json!(["replay.shop.test", "www.shop.test"]);
    out.push(("viewer certificate misses an alias", e, t));

    // An instance in eu-west-1 behind the saved origin, stopped: its console pages are there.
    let (mut e, t) = saved("founding_outage");
    let probe = e["origin_probes"][0].clone();
    e["instances"] = json!([{
        "instance_id": "i-0a1b2c3d4e5f60789", "region": "eu-west-1",
        "distribution_id": probe["distribution_id"], "origin_host": probe["host"],
        "origin_port": probe["port"], "origin_protocol": "HTTPS", "state": "stopped",
        "state_reason": "User initiated (2026-11-30 09:00:00 GMT)", "address": "127.0.0.1",
        "matched_by": "elastic-ip",
        "security_groups": [{"id": "sg-0a1b2c3d4e5f60789", "name": "web", "opens_port_to_cloudfront": null}],
        "cloudfront_prefix_list": null
    }]);
    e["origin_probes"][0]["addresses"][0] =
        json!({"address": "127.0.0.1", "tcp": {"outcome": "timed-out", "duration_ms": 1500}});
    out.push(("stopped instance behind a closed security group", e, t));

    // CloudFront answers with its own function markers; the Lambda@Edge one is described.
    let (mut e, _) = saved("healthy_origin_expiring_viewer_certificate");
    let id = e["distributions"][0]["id"].clone();
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:rewrite:3";
    let association = json!({"kind": "lambda-edge", "arn": arn, "event_type": "origin-request", "target_origin_id": "primary-origin"});
    e["distributions"][0]["function_associations"] = json!([association]);
    e["lambda_edge_functions"] = json!([{
        "arn": arn, "name": "rewrite", "qualifier": "3", "region": "us-east-1",
        "used_by": [{"distribution_id": id, "kind": "lambda-edge", "arn": arn, "event_type": "origin-request", "target_origin_id": "primary-origin"}],
        "ran_in": ["eu-west-2", "us-east-1"]
    }]);
    e["edge_probes"] = json!([{"distribution_id": id, "domain": "replay.shop.test", "host": "replay.shop.test", "address": "127.0.0.1", "status": 503, "x_cache": "LambdaExecutionError from cloudfront", "pop": "LHR50-C1", "request_id": "abc==", "time_to_first_byte_ms": 20, "error": null}]);
    out.push((
        "Lambda@Edge execution error",
        e,
        alarm(id.as_str().unwrap(), 503),
    ));

    let (mut e, _) = saved("healthy_origin_expiring_viewer_certificate");
    e["edge_probes"] = json!([{"distribution_id": id, "domain": "replay.shop.test", "host": "replay.shop.test", "address": "127.0.0.1", "status": 503, "x_cache": "FunctionExecutionError from cloudfront", "pop": "LHR50-C1", "request_id": "abc==", "time_to_first_byte_ms": 20, "error": null}]);
    out.push((
        "CloudFront Function execution error, function not described",
        e,
        alarm(id.as_str().unwrap(), 503),
    ));

    // CloudFront logged connection errors nothing measured here explains, and a call was denied.
    let (mut e, _) = saved("healthy_origin_expiring_viewer_certificate");
    e["cloudfront_log"] = json!({
        "source": "real-time log config rt (Kinesis stream arn:aws:kinesis:us-east-1:123456789012:stream/rt)",
        "sampling_rate": 100, "window": {"from": "2026-12-01T09:50:00Z", "to": "2026-12-01T10:05:00Z"},
        "records": 900, "errors_5xx": 800, "by_result_type": {"OriginConnectError": 800},
        "by_status": {"502": 800}, "by_edge_location": {"IAD89-C1": 800}, "by_path": {"/": 800},
        "first_error_at": "2026-12-01T09:51:00Z", "last_error_at": "2026-12-01T10:04:00Z"
    });
    e["gaps"] = json!([{"action": "elasticloadbalancing:DescribeLoadBalancers", "resource": "us-east-1", "error": "AccessDenied: not authorized", "unchecked": "the load balancers behind the origin"}]);
    out.push((
        "CloudFront logged what the probe does not see",
        e,
        alarm(id.as_str().unwrap(), 502),
    ));
    out
}

#[test]
fn every_fix_names_only_what_the_evidence_holds_and_each_code_is_a_reviewed_snapshot() {
    let mut by_code: BTreeMap<Code, Value> = BTreeMap::new();
    for (name, e, trigger) in shapes() {
        let (d, evidence) = diagnose(&e, &trigger);
        let found: Vec<String> = d
            .findings
            .iter()
            .flat_map(|f| problems(f, &evidence))
            .collect();
        assert!(found.is_empty(), "{name}: {found:#?}");
        for f in &d.findings {
            if let Some(fix) = &f.fix {
                by_code
                    .entry(f.code)
                    .or_insert_with(|| json!({"shape": name, "severity": f.severity, "resource": f.resource, "fix": fix}));
            }
        }
    }
    let expected = [
        Code::OriginCertExpired,
        Code::AcmCertExpired,
        Code::OriginSecurityGroupBlocksPort,
        Code::OriginNoHealthyTargets,
        Code::OriginListenerMissing,
        Code::OriginTlsProtocolMismatch,
        Code::OriginDnsFailure,
        Code::ViewerCertAliasUncovered,
        Code::OriginInstanceNotRunning,
        Code::LambdaEdgeExecutionError,
        Code::CloudfrontFunctionExecutionError,
        Code::CloudfrontLoggedOriginErrors,
        Code::InspectionIncomplete,
    ];
    for code in expected {
        assert!(
            by_code.contains_key(&code),
            "no shape shows {code}: {:?}",
            by_code.keys().collect::<Vec<_>>()
        );
    }
    for (code, fix) in by_code {
        insta::assert_json_snapshot!(format!("fix_{code}"), fix);
    }
}
