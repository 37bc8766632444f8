//! The template's dashboard and alarm use cf-doctor's own metrics as the code emits them: the
//! dashboard body (template.yaml, between `# DASHBOARD-BODY-BEGIN` and `# DASHBOARD-BODY-END`)
//! is valid JSON once CloudFormation's `!Sub` has filled it in, and every metric it names in
//! cf-doctor's namespace is one `cf_doctor::metrics::RECORDS` lists, under the dimensions the code
//! gives it; so is the runway alarm's. The template is read as lines, like tests/iam.rs does, so
//! CloudFormation's tags need no YAML support. Also checks the EMF checker the Lambda face test
//! relies on.

mod common;

use serde_json::Value;

use cf_doctor::metrics::{NAMES, RECORDS};

const NAMESPACE: &str = "CfDoctor";

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml is readable")
}

/// The dashboard body as written in the template (a block scalar, dedented).
fn dashboard_source(template: &str) -> String {
    let lines: Vec<&str> = template.lines().collect();
    let at = |marker: &str| {
        lines
            .iter()
            .position(|l| l.trim() == marker)
            .unwrap_or_else(|| panic!("template.yaml has no `{marker}` line"))
    };
    let (begin, end) = (at("# DASHBOARD-BODY-BEGIN"), at("# DASHBOARD-BODY-END"));
    assert_eq!(
        lines[begin + 1].trim(),
        "- |",
        "the body is a literal block after the marker"
    );
    let body = &lines[begin + 2..end];
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The filter CloudFormation builds from AlarmDistributionIds, composed from the template's own
/// `!Sub` pattern and `!Join` delimiter the way CloudFormation would.
fn distribution_filter(template: &str, ids: &[&str]) -> String {
    // The first single-quoted string on the line that starts with `prefix`.
    let quoted_on = |prefix: &str| -> String {
        let line = template
            .lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("template.yaml has no line starting {prefix:?}"));
        let start = line.find('\'').expect("a single-quoted string") + 1;
        let len = line[start..].find('\'').expect("a closing quote");
        line[start..start + len].to_string()
    };
    let pattern = quoted_on("- '(DistributionId=");
    let delimiter = quoted_on("- Ids: !Join [");
    pattern.replace("${Ids}", &ids.join(&delimiter))
}

/// The body with `!Sub`'s variables filled in as CloudFormation would for these values.
fn dashboard(template: &str, filter: &str) -> Value {
    let mut body = dashboard_source(template);
    for (name, value) in [
        ("${MetricsNamespace}", NAMESPACE),
        ("${AWS::Region}", "eu-west-1"),
        ("${ExpiryCriticalDays}", "7"),
        ("${ExpiryWarnDays}", "30"),
        ("${DistributionFilter}", filter),
    ] {
        body = body.replace(name, value);
    }
    assert!(
        !body.contains("${"),
        "a substitution the test does not know: {}",
        &body[body.find("${").unwrap()..][..40]
    );
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{body}"))
}

/// A metric a widget names: namespace, metric name, dimension names (sorted).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    namespace: String,
    metric: String,
    dimensions: Vec<String>,
}

/// Every metric the widgets name, explicitly (`[namespace, name, dim, value, ...]`) or through a
/// SEARCH expression (`{namespace,dim,...} MetricName="name"`).
fn named_metrics(dashboard: &Value) -> Vec<Named> {
    let mut named = Vec::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let line = line.as_array().expect("a metrics line is an array");
            match &line[0] {
                Value::String(namespace) => {
                    let strings: Vec<&str> = line.iter().filter_map(Value::as_str).collect();
                    assert!(
                        strings.len().is_multiple_of(2),
                        "dimension without a value: {line:?}"
                    );
                    let mut dimensions: Vec<String> =
                        strings[2..].chunks(2).map(|p| p[0].to_string()).collect();
                    dimensions.sort();
                    named.push(Named {
                        namespace: namespace.clone(),
                        metric: strings[1].to_string(),
                        dimensions,
                    });
                }
                Value::Object(o) => {
                    let expression = o["expression"].as_str().expect("an expression");
                    named.push(searched(expression));
                }
                other => panic!("unexpected metrics line start: {other}"),
            }
        }
    }
    named
}

fn searched(expression: &str) -> Named {
    // CloudWatch's limit on a search query (search-expression-syntax): five alarmed ids fit.
    assert!(expression.len() <= 1024, "{expression}");
    let schema_start = expression.find("SEARCH('{").expect("a SEARCH expression") + 9;
    let schema_len = expression[schema_start..]
        .find('}')
        .expect("a metric schema");
    let mut schema = expression[schema_start..schema_start + schema_len]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string());
    let namespace = schema.next().unwrap();
    let mut dimensions: Vec<String> = schema.collect();
    dimensions.sort();
    let name_start = expression.find("MetricName=\"").expect("a MetricName") + 12;
    let name_len = expression[name_start..].find('"').unwrap();
    Named {
        namespace,
        metric: expression[name_start..name_start + name_len].to_string(),
        dimensions,
    }
}

/// Whether the code emits `metric` under exactly these dimensions.
fn emitted(metric: &str, dimensions: &[String]) -> bool {
    RECORDS.iter().any(|(dims, metrics)| {
        let mut dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        dims.sort();
        dims == dimensions && metrics.contains(&metric)
    })
}

#[test]
fn the_dashboard_names_only_metrics_the_code_emits() {
    let template = template();
    let source = dashboard_source(&template);
    assert!(
        !source.contains(NAMESPACE),
        "the body uses the MetricsNamespace parameter, never the default namespace itself"
    );
    let filter = distribution_filter(&template, &["E1EXAMPLE", "E2EXAMPLE"]);
    assert_eq!(
        filter,
        r#"(DistributionId=\"E1EXAMPLE\" OR DistributionId=\"E2EXAMPLE\")"#
    );
    for filter in ["", filter.as_str()] {
        let dashboard = dashboard(&template, filter);
        let named = named_metrics(&dashboard);
        for n in &named {
            match n.namespace.as_str() {
                NAMESPACE => assert!(
                    emitted(&n.metric, &n.dimensions),
                    "the dashboard names {} by {:?}, which the code does not emit (cf_doctor::metrics::RECORDS)",
                    n.metric,
                    n.dimensions
                ),
                "AWS/CloudFront" => {
                    assert!(
                        ["5xxErrorRate", "502ErrorRate", "503ErrorRate", "504ErrorRate"]
                            .contains(&n.metric.as_str()),
                        "{n:?}"
                    );
                    assert_eq!(n.dimensions, ["DistributionId", "Region"]);
                }
                other => panic!("unexpected namespace {other}: {n:?}"),
            }
        }
        // What the issue asks the dashboard to show.
        for wanted in [
            "5xxErrorRate",
            "502ErrorRate",
            "503ErrorRate",
            "504ErrorRate",
            "Verdict",
            "CertificateDaysLeft",
            "SweepDuration",
            "InspectionGaps",
            "DeliveryFailures",
        ] {
            assert!(
                named.iter().any(|n| n.metric == wanted),
                "the dashboard shows no {wanted}"
            );
        }
    }
}

#[test]
fn a_search_expression_is_read_as_namespace_dimensions_and_name() {
    assert_eq!(
        searched(
            r#"SEARCH('{"CfDoctor",CertificateId,Domain} MetricName="CertificateDaysLeft"', 'Minimum', 86400)"#
        ),
        Named {
            namespace: "CfDoctor".into(),
            metric: "CertificateDaysLeft".into(),
            dimensions: vec!["CertificateId".into(), "Domain".into()],
        }
    );
}

/// The lines of one resource in template.yaml, from its name to the next resource.
fn resource<'a>(template: &'a str, name: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = template.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == format!("  {name}:"))
        .unwrap_or_else(|| panic!("template.yaml has no resource {name}"));
    lines[start + 1..]
        .iter()
        .take_while(|l| l.is_empty() || l.starts_with("    ") || l.trim_start().starts_with('#'))
        .copied()
        .collect()
}

fn property<'a>(lines: &[&'a str], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

#[test]
fn the_runway_alarm_watches_the_sweeps_runway_at_the_digests_threshold() {
    let template = template();
    let alarm = resource(&template, "CertificateRunwayAlarm");
    assert_eq!(
        property(&alarm, "Condition"),
        "HasRunwayAlarm",
        "off by default"
    );
    assert_eq!(property(&alarm, "Namespace"), "!Ref MetricsNamespace");
    let metric = property(&alarm, "MetricName");
    assert_eq!(property(&alarm, "- Name"), "Scope");
    assert_eq!(property(&alarm, "Value"), "account");
    assert!(emitted(metric, &["Scope".to_string()]), "{metric} by Scope");
    assert_eq!(property(&alarm, "Statistic"), "Minimum");
    // The digest calls a certificate critical at days_left <= EXPIRY_CRITICAL_DAYS.
    assert_eq!(property(&alarm, "Threshold"), "!Ref ExpiryCriticalDays");
    assert_eq!(
        property(&alarm, "ComparisonOperator"),
        "LessThanOrEqualToThreshold"
    );
    // Nightly data: a quiet day keeps the state instead of paging again on the next sweep.
    assert_eq!(property(&alarm, "TreatMissingData"), "ignore");
    let enabled = template
        .lines()
        .find(|l| l.trim_start().starts_with("HasRunwayAlarm:"))
        .expect("the HasRunwayAlarm condition");
    assert!(
        enabled.contains("EnableCertificateRunwayAlarm"),
        "{enabled}"
    );
    let default = resource(&template, "EnableCertificateRunwayAlarm");
    assert_eq!(property(&default, "Default"), "\"false\"");
}

#[test]
fn the_function_gets_the_namespace_the_dashboard_reads() {
    let template = template();
    assert!(template
        .lines()
        .any(|l| l.trim() == "METRICS_NAMESPACE: !Ref MetricsNamespace"));
    let parameter = resource(&template, "MetricsNamespace");
    assert_eq!(
        property(&parameter, "Default"),
        cf_doctor::metrics::DEFAULT_NAMESPACE
    );
    assert!(NAMES.len() >= 13);
}

#[test]
fn the_checker_rejects_what_the_specification_forbids() {
    let good = serde_json::json!({
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["D"]],
                 "Metrics": [{"Name": "M", "Unit": "Count"}]}]},
        "D": "x", "M": 1
    });
    assert_eq!(common::emf::check(&good), Ok(()));
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        edit(&mut doc);
        common::emf::check(&doc)
    };
    assert!(
        broken(&|d| d["D"] = Value::from(1)).is_err(),
        "dimension value not a string"
    );
    assert!(
        broken(&|d| d["M"] = Value::from("1")).is_err(),
        "metric value not a number"
    );
    assert!(broken(&|d| d["_aws"]["Timestamp"] = Value::from("now")).is_err());
    assert!(broken(
        &|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = Value::from("Days")
    )
    .is_err());
    assert!(broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = Value::from("")).is_err());
    assert!(
        broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = serde_json::json!([]))
            .is_err()
    );
    assert!(broken(&|d| d["_aws"]["Extra"] = Value::from(1)).is_err());
}

/// The CLI runs the same engine but writes no metrics: they are for CloudWatch, in Lambda only.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_writes_no_metrics_lines() {
    use tokio::io::AsyncWriteExt;
    let lab = common::lab().await;
    let (_origin, id) = lab.expired_origin("cli-metrics.origin.test", 1).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .args(["invoke", "-", "--format", "json"])
        .args([
            "--resolve",
            "cli-metrics.origin.test=127.0.0.1",
            "--ca-file",
        ])
        .arg(lab.ca_file.path())
        .env_clear()
        .envs(cf_doctor_testkit::aws_env(
            &cf_doctor_testkit::moto().endpoint,
        ))
        .env("PROBE_TIMEOUT_MS", "1500")
        .env("METRICS_NAMESPACE", "CfDoctor")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the cf-doctor binary runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(serde_json::json!({"diagnose": id}).to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "critical: {stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("the report on stdout");
    assert_eq!(report["probable_cause"], "origin-cert-expired");
    assert!(
        !stdout.contains("_aws") && !stderr.contains("_aws"),
        "no EMF line outside Lambda:\n{stderr}"
    );
    assert!(
        stderr.contains("diagnosis"),
        "the log itself is still written: {stderr}"
    );
}
