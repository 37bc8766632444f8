//! cf-doctor-lab: reproduces the founding outage (an origin certificate that silently expired)
//! entirely on loopback, then runs the real cf-doctor binary against it.
//!
//! Everything cf-doctor talks to is local: moto stands in for CloudFront, ACM, SNS and SQS, a
//! rustls server for the origin, a tiny HTTP server for Slack.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use anyhow::{Context, Result};
use cf_doctor_testkit::{
    aws_env, create_distribution, import_certificate, receive_all, sdk_config, slack_sink,
    tls_origin, topic_with_queue, workspace_root, DistributionSpec, LeafSpec, Moto, OriginConfig,
    TestCa,
};
use serde_json::Value;

const USAGE: &str = "\
usage: cf-doctor-lab demo --cf-doctor PATH [--event PATH]

  demo          reproduce the founding outage on loopback and run cf-doctor on it
  --cf-doctor   the cf-doctor binary to run (e.g. target/debug/cf-doctor)
  --event       the alarm event to replay (default: <workspace>/events/alarm-eventbridge.json);
                every DistributionId dimension in it is replaced by the lab's distribution id

cf-doctor runs with a clean environment (the lab's settings plus PATH, LANG, TERM, NO_COLOR)
so that a real AWS profile in your shell can never be used.";

/// The exit status for bad usage (sysexits.h EX_USAGE).
const EX_USAGE: u8 = 64;

const ORIGIN_HOST: &str = "origin.shop.example";
const ALIASES: [&str; 2] = ["shop.example", "www.shop.example"];
const ORIGIN_EXPIRED_DAYS_AGO: i64 = 3;
const VIEWER_VALID_DAYS: i64 = 60;
const TOPIC_NAME: &str = "cf-doctor-diagnoses";
const SLACK_PREVIEW_CHARS: usize = 400;

#[derive(Debug)]
struct Args {
    cf_doctor: PathBuf,
    event: PathBuf,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    match args.next().as_deref() {
        Some("demo") => {}
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("missing command".into()),
    }
    let mut cf_doctor = None;
    let mut event = None;
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--cf-doctor" => &mut cf_doctor,
            "--event" => &mut event,
            other => return Err(format!("unknown argument {other:?}")),
        };
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        *slot = Some(PathBuf::from(value));
    }
    let cf_doctor = cf_doctor.ok_or("--cf-doctor PATH is required")?;
    if !cf_doctor.is_file() {
        return Err(format!(
            "no cf-doctor binary at {}: build it with `cargo build --bin cf-doctor`",
            cf_doctor.display()
        ));
    }
    let event = event.unwrap_or_else(|| workspace_root().join("events/alarm-eventbridge.json"));
    if !event.is_file() {
        return Err(format!("no event file at {}", event.display()));
    }
    Ok(Args { cf_doctor, event })
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    if matches!(
        argv.peek().map(String::as_str),
        Some("-h" | "--help" | "help")
    ) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(argv) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("cf-doctor-lab: {problem}\n\n{USAGE}");
            return ExitCode::from(EX_USAGE);
        }
    };
    match demo(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cf-doctor-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(args: &Args) -> Result<ExitCode> {
    eprint!("lab: starting moto ... ");
    let moto = Moto::start();
    eprintln!("on {}, ready", moto.endpoint.trim_start_matches("http://"));
    let config = sdk_config(&moto.endpoint).await;
    let cf = aws_sdk_cloudfront::Client::new(&config);
    let acm = aws_sdk_acm::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);

    // An intermediate, like a real ALB chain, so cf-doctor sees a normal two-certificate chain
    // whose only problem is the expired leaf.
    let root = TestCa::new("cf-doctor lab root");
    let issuing = root.intermediate("cf-doctor lab issuing CA");

    // The founding outage: the ALB's ACM certificate used EMAIL validation, nobody answered the
    // renewal mails, and it expired; CloudFront then answered 502 for every request.
    let origin_leaf = issuing
        .leaf(&LeafSpec::valid_for(&[ORIGIN_HOST]).expired_days_ago(ORIGIN_EXPIRED_DAYS_AGO));
    let origin = tls_origin(OriginConfig::new(
        origin_leaf.full_chain(),
        origin_leaf.key_der.clone_key(),
    ))
    .await;
    eprintln!(
        "lab: {ORIGIN_HOST} -> {} (certificate expired {ORIGIN_EXPIRED_DAYS_AGO} days ago)",
        origin.addr
    );

    let viewer = issuing.leaf(&LeafSpec::valid_for(&ALIASES).expiring_in_days(VIEWER_VALID_DAYS));
    let viewer_arn = import_certificate(
        &acm,
        &viewer,
        &format!("{}{}", viewer.chain_pem, root.cert_pem()),
    )
    .await;
    eprintln!(
        "lab: viewer certificate for {} (valid {VIEWER_VALID_DAYS} days) imported into ACM as {viewer_arn}",
        ALIASES.join(", ")
    );

    let spec = DistributionSpec {
        aliases: ALIASES.iter().map(|a| a.to_string()).collect(),
        viewer_acm_arn: Some(viewer_arn),
        comment: "shop.example storefront (cf-doctor lab)".into(),
        ..DistributionSpec::https_origin(ORIGIN_HOST, origin.port())
    };
    let distribution_id = create_distribution(&cf, &spec).await;
    eprintln!(
        "lab: distribution {distribution_id} (aliases {}; origin {ORIGIN_HOST}:{}, https-only)",
        ALIASES.join(", "),
        origin.port()
    );

    let (topic_arn, queue_url) = topic_with_queue(&sns, &sqs, TOPIC_NAME).await;
    eprintln!("lab: SNS topic {topic_arn} -> SQS queue {queue_url}");
    let sink = slack_sink().await;
    eprintln!("lab: Slack webhook sink at {}", sink.url);

    let scratch = tempfile::Builder::new()
        .prefix("cf-doctor-lab-")
        .tempdir()
        .context("creating a temporary directory for the event and CA files")?;
    let event_path = scratch.path().join("event.json");
    let replaced = rewrite_event(&args.event, &event_path, &distribution_id)?;
    eprintln!(
        "lab: event {} with {replaced} DistributionId dimension(s) set to {distribution_id}",
        args.event.display()
    );
    if replaced == 0 {
        eprintln!("lab: warning: the event names no DistributionId; cf-doctor will not find the lab's distribution");
    }
    let ca_path = scratch.path().join("lab-root.pem");
    std::fs::write(&ca_path, root.cert_pem())
        .with_context(|| format!("writing {}", ca_path.display()))?;

    eprintln!(
        "lab: running {} invoke {} --format text --notify\n",
        args.cf_doctor.display(),
        event_path.display()
    );
    let mut cmd = tokio::process::Command::new(&args.cf_doctor);
    cmd.arg("invoke")
        .arg(&event_path)
        .args(["--format", "text"])
        // The CLI only delivers with --notify (docs/contract.md: off by default in the CLI, always on
        // in Lambda); the lab exists to show the deliveries too.
        .arg("--notify")
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .env_clear();
    for name in ["PATH", "LANG", "LC_ALL", "TERM", "NO_COLOR"] {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.envs(aws_env(&moto.endpoint))
        .env("SNS_TOPIC_ARN", &topic_arn)
        .env("SLACK_WEBHOOK_URL", &sink.url)
        .env("CF_DOCTOR_RESOLVE", format!("{ORIGIN_HOST}=127.0.0.1"))
        .env("ORIGIN_CA_FILE", &ca_path)
        .env("PROBE_TIMEOUT_MS", "2000")
        .env("RUST_LOG", "warn");
    let status = cmd
        .status()
        .await
        .with_context(|| format!("running {}", args.cf_doctor.display()))?;

    println!("\n== Delivered to SNS (read back from the subscribed SQS queue)");
    let envelopes = receive_all(&sqs, &queue_url, 1).await;
    if envelopes.is_empty() {
        println!("(nothing was published to {topic_arn})");
    }
    for (i, envelope) in envelopes.iter().enumerate() {
        println!("message {}:", i + 1);
        println!(
            "  Subject: {}",
            envelope["Subject"].as_str().unwrap_or("(none)")
        );
        match envelope["MessageAttributes"].as_object() {
            Some(attributes) if !attributes.is_empty() => {
                println!("  MessageAttributes:");
                for (name, attribute) in attributes {
                    println!(
                        "    {name} ({}) = {}",
                        attribute["Type"].as_str().unwrap_or("?"),
                        attribute["Value"].as_str().unwrap_or("?")
                    );
                }
            }
            _ => println!("  MessageAttributes: (none)"),
        }
    }

    println!("\n== Delivered to Slack (local sink)");
    let posts = sink.posts();
    println!("{} post(s) to {}", posts.len(), sink.url);
    if let Some(first) = posts.first() {
        let preview: String = first.body.chars().take(SLACK_PREVIEW_CHARS).collect();
        let more = if first.body.chars().count() > SLACK_PREVIEW_CHARS {
            " ..."
        } else {
            ""
        };
        println!("first body (first {SLACK_PREVIEW_CHARS} chars):\n{preview}{more}");
    }
    println!();

    // Tear down before reporting: nothing the lab started should outlive it.
    drop(sink);
    drop(origin);
    drop(moto);

    Ok(match status.code() {
        Some(2) => {
            println!("cf-doctor exited 2 (critical), as expected for this outage");
            ExitCode::SUCCESS
        }
        Some(code @ (0 | 1)) => {
            let meaning = if code == 0 { "healthy" } else { "warning" };
            eprintln!("cf-doctor exited {code} ({meaning}), but an expired origin certificate is critical (2)");
            ExitCode::from(code as u8)
        }
        Some(code) => {
            let meaning = match code {
                3 => " (the inspection could not complete)",
                64 => " (usage error: does this cf-doctor accept `invoke FILE --format text --notify`?)",
                _ => "",
            };
            eprintln!("cf-doctor failed with exit code {code}{meaning}, expected 2 (critical): see its output above");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("cf-doctor was killed by a signal ({status}): see its output above");
            ExitCode::FAILURE
        }
    })
}

/// Copies the event from `from` to `to`, replacing every DistributionId dimension; returns how
/// many were replaced.
fn rewrite_event(from: &Path, to: &Path, distribution_id: &str) -> Result<usize> {
    let text =
        std::fs::read_to_string(from).with_context(|| format!("reading {}", from.display()))?;
    let mut event: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", from.display()))?;
    let replaced = replace_distribution_ids(&mut event, distribution_id);
    let out = serde_json::to_string_pretty(&event).context("serializing the rewritten event")?;
    std::fs::write(to, out).with_context(|| format!("writing {}", to.display()))?;
    Ok(replaced)
}

/// Replaces DistributionId dimensions in any of the shapes alarms carry them:
/// `{"DistributionId": "E..."}` (EventBridge `dimensions`), `{"name": "DistributionId",
/// "value": "E..."}` (SNS alarm `Dimensions`, either case), and inside JSON-in-a-string
/// (an SNS record's `Message` holds the alarm as a string).
fn replace_distribution_ids(value: &mut Value, id: &str) -> usize {
    match value {
        Value::Object(map) => {
            let mut count = 0;
            let names_it = ["name", "Name"]
                .iter()
                .any(|k| map.get(*k).and_then(Value::as_str) == Some("DistributionId"));
            if names_it {
                for key in ["value", "Value"] {
                    if let Some(v @ Value::String(_)) = map.get_mut(key) {
                        *v = Value::String(id.to_string());
                        count += 1;
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                if key == "DistributionId" && child.is_string() {
                    *child = Value::String(id.to_string());
                    count += 1;
                } else {
                    count += replace_distribution_ids(child, id);
                }
            }
            count
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|v| replace_distribution_ids(v, id))
            .sum(),
        Value::String(s) => {
            let trimmed = s.trim_start();
            if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
                return 0;
            }
            let Ok(mut inner) = serde_json::from_str::<Value>(s) else {
                return 0;
            };
            let count = replace_distribution_ids(&mut inner, id);
            if count > 0 {
                *s = inner.to_string();
            }
            count
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_dimensions_in_every_shape() {
        let mut event = json!({
            "detail": {"configuration": {"metrics": [{"metricStat": {"metric": {
                "dimensions": {"DistributionId": "EOLD", "Region": "Global"}}}}]}},
            "Records": [{"Sns": {"Message": json!({"Trigger": {"Dimensions": [
                {"value": "EOLD", "name": "DistributionId"},
                {"value": "Global", "name": "Region"}]}}).to_string()}}]
        });
        assert_eq!(replace_distribution_ids(&mut event, "ENEW"), 2);
        let text = event.to_string();
        assert!(!text.contains("EOLD"), "{text}");
        assert!(text.contains("Global"));
    }

    #[test]
    fn bad_arguments_are_reported() {
        let args = |v: &[&str]| parse_args(v.iter().map(|s| s.to_string()));
        assert!(args(&[]).is_err());
        assert!(args(&["demo"]).unwrap_err().contains("--cf-doctor"));
        assert!(args(&["demo", "--cf-doctor"])
            .unwrap_err()
            .contains("needs a value"));
        assert!(args(&["demo", "--frobnicate", "x"])
            .unwrap_err()
            .contains("unknown argument"));
        assert!(args(&["demo", "--cf-doctor", "/nonexistent/cf-doctor"])
            .unwrap_err()
            .contains("no cf-doctor binary"));
    }
}
