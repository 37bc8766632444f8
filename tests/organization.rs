//! Many accounts on moto: an AWS Organization with member accounts, each seeded through its own
//! assumed role (moto keeps every account's CloudFront and ACM apart), swept with the real
//! binary — in-process (`sweep --organization`, `--accounts`) and as the Distributed Map runs it
//! (`{"accounts"}`, `{"sweep": {"account"}}`, `{"digest": {"results"}}` under the Runtime API
//! stand-in, the Map Run's results written to S3 in ResultWriter's layout) — and an alarm from a
//! member account diagnosed in that account. moto's AssumeRole does not check that the role
//! exists, so the account "whose role is missing" gets AccessDenied from the testkit proxy on its
//! AssumeRole calls only: the same answer AWS gives when the role is absent or does not trust
//! the caller.

mod common;

use std::io::Write;
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use cf_doctor_testkit::organizations::{create_account, create_organization};
use cf_doctor_testkit::{
    aws_env, aws_proxy, create_distribution, import_certificate, runtime_api, sdk_config,
    tls_origin, AwsProxy, DistributionSpec, Fault, FaultKind, LeafSpec, Moto, Origin, OriginConfig,
    OwnedMoto, TestCa,
};
use common::bootstrap::Bootstrap;
use serde_json::{json, Value};

/// The account moto's test credentials belong to: the organization's management account.
const MANAGEMENT: &str = "123456789012";

struct Org {
    moto: OwnedMoto,
    proxy: AwsProxy,
    /// Its distribution's origin serves an expired certificate.
    shop: String,
    shop_distribution: String,
    /// Its viewer certificate expires in 5 days.
    media: String,
    media_distribution: String,
    /// Its role cannot be assumed.
    legacy: String,
    ca_file: tempfile::NamedTempFile,
    _origins: Vec<Origin>,
}

/// SDK configuration in `account`, through the role assumed there (moto hands out credentials
/// that belong to the role's account).
async fn in_account(sdk: &aws_config::SdkConfig, account: &str) -> aws_config::SdkConfig {
    let sts = aws_sdk_sts::Client::new(sdk);
    let issued = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/cf-doctor-reader"))
        .role_session_name("seed")
        .send()
        .await
        .expect("moto's AssumeRole");
    let c = issued.credentials().expect("credentials");
    let credentials = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "seed",
    );
    sdk.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

async fn organization() -> Org {
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let organizations = aws_sdk_organizations::Client::new(&sdk);
    create_organization(&organizations).await;
    let shop = create_account(&organizations, "shop").await;
    let media = create_account(&organizations, "media").await;
    let legacy = create_account(&organizations, "legacy").await;

    let ca = TestCa::new("organization test root");
    let expired = ca.leaf(&LeafSpec::valid_for(&["shop.origin.test"]).expired_days_ago(3));
    let shop_origin = tls_origin(OriginConfig::new(expired.full_chain(), expired.key_der)).await;
    let healthy = ca.leaf(&LeafSpec::valid_for(&["media.origin.test"]));
    let media_origin = tls_origin(OriginConfig::new(healthy.full_chain(), healthy.key_der)).await;

    let shop_sdk = in_account(&sdk, &shop).await;
    let shop_distribution = create_distribution(
        &aws_sdk_cloudfront::Client::new(&shop_sdk),
        &DistributionSpec::https_origin("shop.origin.test", shop_origin.port()),
    )
    .await;

    let media_sdk = in_account(&sdk, &media).await;
    let viewer = ca.leaf(&LeafSpec::valid_for(&["media.example"]).expiring_in_days(5));
    let arn = import_certificate(
        &aws_sdk_acm::Client::new(&media_sdk),
        &viewer,
        &ca.cert_pem(),
    )
    .await;
    let mut spec = DistributionSpec::https_origin("media.origin.test", media_origin.port());
    spec.aliases = vec!["media.example".into()];
    spec.viewer_acm_arn = Some(arn);
    let media_distribution =
        create_distribution(&aws_sdk_cloudfront::Client::new(&media_sdk), &spec).await;

    let proxy = aws_proxy(&moto.endpoint).await;
    proxy.inject(
        Fault::on("sts", "AssumeRole", 1000, FaultKind::AccessDenied).when_body_contains(&legacy),
    );
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca.cert_pem().as_bytes()).unwrap();
    Org {
        moto,
        proxy,
        shop,
        shop_distribution,
        media,
        media_distribution,
        legacy,
        ca_file,
        _origins: vec![shop_origin, media_origin],
    }
}

impl Org {
    fn env(&self) -> Vec<(String, String)> {
        let mut env = aws_env(&self.proxy.endpoint);
        env.extend([
            (
                "CF_DOCTOR_RESOLVE".to_string(),
                "shop.origin.test=127.0.0.1,media.origin.test=127.0.0.1".to_string(),
            ),
            (
                "ORIGIN_CA_FILE".to_string(),
                self.ca_file.path().to_string_lossy().into_owned(),
            ),
            ("PROBE_TIMEOUT_MS".to_string(), "1500".to_string()),
            ("ORIGIN_REGIONS".to_string(), "us-east-1".to_string()),
        ]);
        env
    }

    /// The real binary with `args`, against the proxy in front of moto.
    async fn cf_doctor(&self, args: &[&str]) -> (i32, Value, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
            .args(args)
            .env_clear()
            .envs(self.env())
            .output()
            .await
            .expect("the cf-doctor binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"));
        (out.status.code().unwrap_or(-1), report, stderr)
    }
}

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .collect()
}

/// (code, account, resource) of every finding.
fn named(report: &Value) -> Vec<(String, String, String)> {
    findings(report)
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("?").to_string(),
                f["evidence"]["account"].as_str().unwrap_or("-").to_string(),
                f["resource"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn has(report: &Value, code: &str, account: &str) -> bool {
    named(report)
        .iter()
        .any(|(c, a, _)| c == code && a == account)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_organization_digest_names_each_finding_s_account_and_the_account_whose_role_is_missing(
) {
    let org = organization().await;
    let (code, report, stderr) = org
        .cf_doctor(&[
            "sweep",
            "--organization",
            "--format",
            "json",
            "--concurrency",
            "2",
        ])
        .await;
    let all = named(&report);
    assert_eq!(code, 2, "critical: {all:?}\n{stderr}");
    // The expired origin certificate is shop's, the expiring viewer certificate media's: each
    // finding names the account it was found in, and no account sees another's resources.
    assert!(has(&report, "origin-cert-expired", &org.shop), "{all:?}");
    assert!(has(&report, "acm-cert-expiring", &org.media), "{all:?}");
    for (code, account, resource) in &all {
        assert_ne!(account, "-", "{code} on {resource} names no account");
        if resource.contains(&org.shop_distribution) {
            assert_eq!(account, &org.shop, "{code} on {resource}");
        }
        if resource.contains(&org.media_distribution) {
            assert_eq!(account, &org.media, "{code} on {resource}");
        }
    }
    // The account whose role is missing is a gap naming it and the role, never a failed run.
    let legacy: Vec<&Value> = findings(&report)
        .into_iter()
        .filter(|f| f["evidence"]["account"] == org.legacy.as_str())
        .collect();
    assert_eq!(legacy.len(), 1, "{all:?}");
    assert_eq!(legacy[0]["code"], "inspection-incomplete");
    assert_eq!(legacy[0]["evidence"]["action"], "sts:AssumeRole");
    let error = legacy[0]["evidence"]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "arn:aws:iam::{}:role/cf-doctor-reader",
            org.legacy
        )) && error.contains("AccessDenied"),
        "{error}"
    );
    // Most urgent first: the critical finding before the gap.
    let severities: Vec<&str> = findings(&report)
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities.first(), Some(&"critical"), "{severities:?}");
    // Every account has its check: the management account (swept with cf-doctor's own
    // credentials, no role assumed), the two members, and the one not inspected.
    let checked: Vec<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "account-sweep")
        .filter_map(|c| c["target"].as_str().map(str::to_string))
        .collect();
    assert_eq!(checked.len(), 4, "{checked:?}");
    for account in [MANAGEMENT, &org.shop, &org.media, &org.legacy] {
        assert!(
            checked.iter().any(|c| c.starts_with(account)),
            "{account}: {checked:?}"
        );
    }
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("4 account(s) (1 not inspected)"),
        "{summary}"
    );
    // The management account needed no role; each member's role was assumed once.
    let assumed: Vec<_> = org
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 3, "{assumed:?}");
    assert_eq!(org.proxy.count("organizations", "ListAccounts"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_accounts_covers_exactly_the_accounts_given() {
    let org = organization().await;
    let ids = format!("{},{}", org.media, org.legacy);
    let (code, report, stderr) = org
        .cf_doctor(&["sweep", "--accounts", &ids, "--format", "json"])
        .await;
    let all = named(&report);
    // A viewer certificate in use that expires in 5 days is critical.
    assert_eq!(code, 2, "{all:?}\n{stderr}");
    assert!(has(&report, "acm-cert-expiring", &org.media), "{all:?}");
    assert!(
        has(&report, "inspection-incomplete", &org.legacy),
        "{all:?}"
    );
    assert!(
        !all.iter()
            .any(|(_, a, _)| a == &org.shop || a == MANAGEMENT),
        "only the accounts given: {all:?}"
    );
    assert_eq!(org.proxy.count("organizations", "ListAccounts"), 0);

    // A bad id is refused before any AWS call, naming it and what is accepted.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .args(["sweep", "--accounts", "111122223333,12345"])
        .env_clear()
        .envs(org.env())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("\"12345\"") && stderr.contains("12 digits"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_whose_sweep_runs_out_of_time_is_named_not_inspected() {
    let org = organization().await;
    // Media's ListDistributions answers only after 5 s; its sweep may take 1 s.
    org.proxy.inject(Fault::on(
        "cloudfront",
        "ListDistributions",
        10,
        FaultKind::Delay(Duration::from_secs(5)),
    ));
    let (code, report, stderr) = org
        .cf_doctor(&[
            "sweep",
            "--accounts",
            &org.media,
            "--account-timeout",
            "1",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(code, 3, "only a gap: unknown\n{stderr}");
    let all = named(&report);
    assert_eq!(
        all,
        [(
            "inspection-incomplete".to_string(),
            org.media.clone(),
            format!("account {}", org.media)
        )]
    );
    let error = findings(&report)[0]["evidence"]["error"].as_str().unwrap();
    assert!(error.contains("did not finish within 1 s"), "{error}");
}

/// One Map Run result file entry as ResultWriter writes it: the child execution's input and
/// output as JSON text, with its status.
fn child(
    input: &Value,
    status: &str,
    output: Option<&Value>,
    error: Option<(&str, &str)>,
) -> Value {
    let mut entry = json!({
        "ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:cf-doctor-org/Accounts:1",
        "Input": input.to_string(),
        "InputDetails": {"Included": true},
        "Name": "1",
        "StartDate": "2026-12-01T02:00:01.000Z",
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:cf-doctor-org/Accounts",
        "Status": status,
        "StopDate": "2026-12-01T02:00:09.000Z",
    });
    if let Some(output) = output {
        entry["Output"] = json!(output.to_string());
        entry["OutputDetails"] = json!({"Included": true});
    }
    if let Some((error, cause)) = error {
        entry["Error"] = json!(error);
        entry["Cause"] = json!(cause);
    }
    entry
}

#[tokio::test(flavor = "multi_thread")]
async fn the_state_machine_s_steps_run_in_the_lambda_face_and_merge_from_s3() {
    let org = organization().await;
    let env = org.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    // The list step, then one item step per account, with exactly the payloads the map sends.
    let events = vec![
        json!({"accounts": {"ids": ""}}),
        json!({"sweep": {"account": org.shop, "name": "shop"}}),
        json!({"sweep": {"account": org.legacy, "name": "legacy"}}),
    ];
    let api = runtime_api(events.clone(), Duration::from_secs(300)).await;
    let bootstrap = Bootstrap::start(&org.proxy.endpoint, &api, &env);
    let answers = api.wait_for(events.len(), Duration::from_secs(120)).await;
    let log = bootstrap.stop().await;
    assert_eq!(answers.len(), 3, "every step answered; log:\n{log}");
    let result = |i: usize| -> Value {
        answers[i]
            .result
            .clone()
            .unwrap_or_else(|e| panic!("step {i} failed: {e}\nlog:\n{log}"))
    };
    let listed: Vec<String> = result(0)["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let mut expected = vec![
        MANAGEMENT.to_string(),
        org.shop.clone(),
        org.media.clone(),
        org.legacy.clone(),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    let shop = result(1);
    assert_eq!(shop["schema"], "cf-doctor/account-sweep/v1");
    assert_eq!(shop["account"], org.shop.as_str());
    assert_eq!(shop["name"], "shop");
    assert!(has(&shop, "origin-cert-expired", &org.shop), "{shop}");
    let legacy = result(2);
    assert_eq!(legacy["account"], org.legacy.as_str());
    assert!(
        legacy["not_inspected"]
            .as_str()
            .unwrap()
            .starts_with("sts:AssumeRole"),
        "{legacy}"
    );
    // A state holds at most 256 KB: each step's answer is far below.
    for i in 1..3 {
        assert!(result(i).to_string().len() < 200_000);
    }

    // ResultWriter's layout in S3: a manifest naming one file per status. Media's step timed out
    // (as Step Functions records a Lambda task that ran out of time).
    let s3 = aws_sdk_s3::Client::new(&sdk_config(&org.moto.endpoint).await);
    let bucket = "cf-doctor-org-results";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let prefix = "runs/7e1f";
    let succeeded = json!([
        child(&events[1], "SUCCEEDED", Some(&shop), None),
        child(&events[2], "SUCCEEDED", Some(&legacy), None),
    ]);
    let failed = json!([child(
        &json!({"sweep": {"account": org.media, "name": "media"}}),
        "FAILED",
        None,
        Some(("States.Timeout", "Task timed out after 900.00 seconds")),
    )]);
    let manifest = json!({
        "DestinationBucket": bucket,
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:cf-doctor-org/Accounts:7e1f",
        "ResultFiles": {
            "FAILED": [{"Key": format!("{prefix}/FAILED_0.json"), "Size": failed.to_string().len()}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": format!("{prefix}/SUCCEEDED_0.json"), "Size": succeeded.to_string().len()}]
        }
    });
    for (key, body) in [
        ("SUCCEEDED_0.json", succeeded),
        ("FAILED_0.json", failed),
        ("manifest.json", manifest),
    ] {
        s3.put_object()
            .bucket(bucket)
            .key(format!("{prefix}/{key}"))
            .body(body.to_string().into_bytes().into())
            .send()
            .await
            .unwrap();
    }

    let digest_event =
        json!({"digest": {"results": format!("s3://{bucket}/{prefix}/manifest.json")}});
    let api = runtime_api(vec![digest_event], Duration::from_secs(300)).await;
    let bootstrap = Bootstrap::start(&org.proxy.endpoint, &api, &env);
    let answers = api.wait_for(1, Duration::from_secs(120)).await;
    let log = bootstrap.stop().await;
    let digest = answers[0]
        .result
        .clone()
        .unwrap_or_else(|e| panic!("the digest step failed: {e}\nlog:\n{log}"));
    let all = named(&digest);
    assert_eq!(digest["verdict"], "critical", "{all:?}");
    assert!(has(&digest, "origin-cert-expired", &org.shop), "{all:?}");
    assert!(
        has(&digest, "inspection-incomplete", &org.legacy),
        "{all:?}"
    );
    let media: Vec<_> = findings(&digest)
        .into_iter()
        .filter(|f| f["evidence"]["account"] == org.media.as_str())
        .collect();
    assert_eq!(media.len(), 1, "{all:?}");
    let error = media[0]["evidence"]["error"].as_str().unwrap();
    assert!(error.contains("States.Timeout"), "{error}");
    assert_eq!(findings(&digest)[0]["severity"], "critical");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_from_a_member_account_is_diagnosed_in_that_account() {
    let org = organization().await;
    let alarm = |account: &str, distribution: &str| -> Value {
        let text = std::fs::read_to_string(format!(
            "{}/events/alarm-eventbridge.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .replace("E2EXAMPLE", distribution)
        .replace("123456789012", account);
        serde_json::from_str(&text).unwrap()
    };
    let events = vec![
        alarm(&org.shop, &org.shop_distribution),
        alarm(&org.legacy, "E9LEGACYEXAMPLE"),
    ];
    let api = runtime_api(events.clone(), Duration::from_secs(300)).await;
    let mut env = org.env();
    env.push(("MEMBER_ROLE_NAME".into(), "cf-doctor-reader".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let bootstrap = Bootstrap::start(&org.proxy.endpoint, &api, &env);
    let answers = api.wait_for(events.len(), Duration::from_secs(120)).await;
    let log = bootstrap.stop().await;
    assert_eq!(answers.len(), 2, "log:\n{log}");
    let shop = answers[0]
        .result
        .clone()
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{log}"));
    // Found in shop's account (cf-doctor's own has no such distribution), and named so.
    assert!(
        has(&shop, "origin-cert-expired", &org.shop),
        "{:?}",
        named(&shop)
    );
    let summary = shop["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("in account {}", org.shop)),
        "{summary}"
    );
    let legacy = answers[1]
        .result
        .clone()
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{log}"));
    assert_eq!(
        named(&legacy),
        [(
            "inspection-incomplete".to_string(),
            org.legacy.clone(),
            format!("account {}", org.legacy)
        )]
    );
}
