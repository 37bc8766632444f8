//! Saved evidence replays to the same report: for each moto scenario the real binary runs with
//! `--save-evidence`, then `cf-doctor explain` reads the file with no AWS endpoint at all, and
//! both print byte-identical JSON and exit the same way. Bad evidence files get a clear error.
//!
//! `CF_DOCTOR_WRITE_FIXTURES=1 cargo test --test replay` also copies the saved evidence of the
//! diagnose scenarios to crates/rules/tests/fixtures/, where the rules crate snapshots them.

mod common;

use std::path::Path;
use std::process::Output;

use cf_doctor_testkit::{
    aws_env, create_distribution, import_certificate, moto, sdk_config, tls_origin,
    DistributionSpec, LeafSpec, Moto, OriginConfig,
};
use common::alb::{alb, AlbSpec};
use common::lab;
use serde_json::Value;

/// The real binary, with `env` and nothing else from the environment.
fn cf_doctor(args: &[&str], env: &[(String, String)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("the cf-doctor binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Environment for a live run against moto: the origin names pinned to loopback, the lab's CA.
fn live_env(lab: &common::Lab, hosts: &[&str]) -> Vec<(String, String)> {
    let mut env = aws_env(&moto().endpoint);
    let resolve: Vec<String> = hosts.iter().map(|h| format!("{h}=127.0.0.1")).collect();
    env.push(("CF_DOCTOR_RESOLVE".into(), resolve.join(",")));
    env.push((
        "ORIGIN_CA_FILE".into(),
        lab.ca_file.path().display().to_string(),
    ));
    env.push(("PROBE_TIMEOUT_MS".into(), "1500".into()));
    env
}

/// Runs `args` live with `--save-evidence`, then `explain` on the file with no AWS configuration
/// at all (an unreachable endpoint, so any AWS call would fail loudly). Returns the live JSON.
fn live_then_explained(name: &str, args: &[&str], env: &[(String, String)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join(format!("{name}.json"));
    let saved_arg = saved.display().to_string();
    let mut live_args = args.to_vec();
    live_args.extend(["--format", "json", "--save-evidence", &saved_arg]);
    let live = cf_doctor(&live_args, env);
    assert!(
        matches!(live.status.code(), Some(0..=3)),
        "{name}: live run failed: {}",
        text(&live.stderr)
    );
    let offline = [
        (
            "AWS_ENDPOINT_URL".to_string(),
            "http://127.0.0.1:9".to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
    ];
    let explained = cf_doctor(&["explain", &saved_arg, "--format", "json"], &offline);
    assert_eq!(
        text(&explained.stdout),
        text(&live.stdout),
        "{name}: explain differs from the live run (stderr: {})",
        text(&explained.stderr)
    );
    assert_eq!(
        explained.status.code(),
        live.status.code(),
        "{name}: exit codes"
    );
    let saved_json: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(saved_json["schema"], "cf-doctor/evidence/v1");
    // Both the file and the report say which build made them (docs/contract.md, "Versions").
    assert_eq!(saved_json["cf_doctor_version"], env!("CARGO_PKG_VERSION"));
    let live_json: Value = serde_json::from_slice(&live.stdout).expect("JSON on stdout");
    let reports = match &live_json {
        Value::Array(many) => many.clone(),
        one => vec![one.clone()],
    };
    for report in &reports {
        assert_eq!(
            report["cf_doctor_version"],
            env!("CARGO_PKG_VERSION"),
            "{name}"
        );
        assert_eq!(
            report["cf_doctor_commit"], saved_json["cf_doctor_commit"],
            "{name}"
        );
    }
    if std::env::var_os("CF_DOCTOR_WRITE_FIXTURES").is_some() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/rules/tests/fixtures");
        std::fs::create_dir_all(&fixtures).unwrap();
        std::fs::copy(&saved, fixtures.join(format!("{name}.json"))).unwrap();
    }
    serde_json::from_slice(&live.stdout).expect("JSON on stdout")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_founding_outage_replays_to_the_same_report() {
    let lab = lab().await;
    let host = "replay-expired.origin.test";
    let (_origin, id) = lab.expired_origin(host, 3).await;
    let env = live_env(&lab, &[host]);
    let d = live_then_explained("founding_outage", &["diagnose", &id], &env);
    assert_eq!(d["probable_cause"], "origin-cert-expired");

    let event = std::fs::read_to_string(format!(
        "{}/events/alarm-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("E2EXAMPLE", &id);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), event).unwrap();
    let event_path = file.path().display().to_string();
    let d = live_then_explained("founding_outage_alarm", &["invoke", &event_path], &env);
    assert_eq!(d["trigger"]["kind"], "alarm");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_origin_with_an_acm_viewer_certificate_replays_to_the_same_report() {
    let lab = lab().await;
    let host = "replay-healthy.origin.test";
    let leaf = lab.ca.leaf(&LeafSpec::valid_for(&[host]));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let viewer = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["replay.shop.test"]).expiring_in_days(20));
    let viewer_arn = import_certificate(&acm, &viewer, &lab.ca.cert_pem()).await;
    let mut spec = DistributionSpec::https_origin(host, origin.port());
    spec.aliases = vec!["replay.shop.test".into()];
    spec.viewer_acm_arn = Some(viewer_arn);
    let id = lab.distribution(&spec).await;
    let d = live_then_explained(
        "healthy_origin_expiring_viewer_certificate",
        &["diagnose", &id],
        &live_env(&lab, &[host]),
    );
    assert_eq!(d["verdict"], "warning", "{d:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_with_an_expiring_listener_certificate_replays_to_the_same_report() {
    let lab = lab().await;
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&["*.us-east-1.elb.amazonaws.com"]).expiring_in_days(2));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let acm = aws_sdk_acm::Client::new(&lab.sdk);
    let cert = import_certificate(&acm, &leaf, &lab.ca.cert_pem()).await;
    let lb = alb(
        &lab.sdk,
        &AlbSpec::healthy("cfd-replay", origin.port(), cert),
    )
    .await;
    let id = lab
        .distribution(&DistributionSpec::https_origin(&lb.dns_name, origin.port()))
        .await;
    let d = live_then_explained(
        "load_balancer_expiring_listener_certificate",
        &["diagnose", &id],
        &live_env(&lab, &[&lb.dns_name]),
    );
    assert_eq!(d["verdict"], "critical", "{d:#}");
    assert!(d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "origin-load-balancer" && c["outcome"] == "pass"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_replays_to_the_same_digest() {
    // A private moto: a sweep sees the whole account, and the shared one holds other tests'
    // origins, whose names are not pinned to loopback.
    let moto = Moto::start();
    let lab = lab().await;
    let sdk = sdk_config(&moto.endpoint).await;
    let host = "replay-sweep.origin.test";
    let leaf = lab
        .ca
        .leaf(&LeafSpec::valid_for(&[host]).expired_days_ago(1));
    let origin = tls_origin(OriginConfig::new(
        leaf.full_chain(),
        leaf.key_der.clone_key(),
    ))
    .await;
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk);
    create_distribution(
        &cloudfront,
        &DistributionSpec::https_origin(host, origin.port()),
    )
    .await;
    let mut env = live_env(&lab, &[host]);
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));
    let d = live_then_explained("sweep", &["sweep"], &env);
    assert_eq!(d["probable_cause"], "origin-cert-expired", "{d:#}");
}

#[test]
fn explain_refuses_what_is_not_saved_evidence_and_says_what_it_expects() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    };
    let cases = [
        (
            dir.path().join("missing.json").display().to_string(),
            "cannot read the evidence file",
        ),
        (write("garbage.json", "{not json"), "not JSON"),
        (
            write("diagnosis.json", r#"{"schema": "cf-doctor/diagnosis/v1"}"#),
            "this cf-doctor reads cf-doctor/evidence/v1",
        ),
        (
            write("unnamed.json", r#"{"runs": []}"#),
            "schema is \"missing\"",
        ),
        (
            write(
                "empty.json",
                r#"{"schema": "cf-doctor/evidence/v1", "collected_by": "x", "runs": []}"#,
            ),
            "holds no run",
        ),
        (
            write(
                "broken.json",
                r#"{"schema": "cf-doctor/evidence/v1", "collected_by": "x", "runs": [{"trigger": 1}]}"#,
            ),
            "not valid cf-doctor/evidence/v1",
        ),
    ];
    for (path, expected) in cases {
        let out = cf_doctor(&["explain", &path], &[]);
        assert_eq!(out.status.code(), Some(64), "{path}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{path}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    let out = cf_doctor(&["explain", "saved.json", "--notify"], &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("offline"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unwritable_evidence_file_is_said_and_exits_3_after_the_report() {
    let empty_account = Moto::start();
    let out = cf_doctor(
        &[
            "sweep",
            "--format",
            "json",
            "--save-evidence",
            "/nonexistent-dir/saved.json",
        ],
        &aws_env(&empty_account.endpoint),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot write the evidence to /nonexistent-dir/saved.json"));
    let d: Value = serde_json::from_slice(&out.stdout).expect("the report is still printed");
    assert_eq!(d["schema"], "cf-doctor/diagnosis/v1");
}
