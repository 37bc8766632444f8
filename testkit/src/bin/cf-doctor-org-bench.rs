//! `make bench` (organization part): an AWS Organization in moto with many member accounts, each
//! holding distributions and certificates created through its own assumed role, swept by the
//! release binary with `cf-doctor sweep --organization --concurrency 8`. Prints figures (never
//! asserts them): wall time, peak RSS, AWS calls in all and per account (counted by the testkit
//! proxy in front of moto), and the size of the merged digest; then the same with one account
//! whose role cannot be assumed (AccessDenied from the proxy on that account's AssumeRole).
//!
//! Usage: cf-doctor-org-bench --cf-doctor PATH [--accounts N] [--distributions N] [--certificates N]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use cf_doctor_testkit::organizations::{create_account, create_organization};
use cf_doctor_testkit::{
    aws_env, aws_proxy, create_distribution, import_certificate, sdk_config, tls_origin, AwsProxy,
    DistributionSpec, Fault, FaultKind, LeafSpec, Moto, OriginConfig, TestCa,
};

use cf_doctor_testkit::measure::{run_measured as run, Measured as Run};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v:?}"))
        })
        .unwrap_or(default)
}

/// SDK configuration in `account`, through a role assumed there (moto keeps accounts apart by
/// the credentials it hands out).
async fn in_account(sdk: &aws_config::SdkConfig, account: &str) -> aws_config::SdkConfig {
    let issued = aws_sdk_sts::Client::new(sdk)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/cf-doctor-reader"))
        .role_session_name("seed")
        .send()
        .await
        .expect("moto's AssumeRole");
    let c = issued.credentials().expect("credentials");
    sdk.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "seed",
        )))
        .build()
}

fn host(account: usize, i: usize) -> String {
    format!("a{account}-o{i}.org.bench.test")
}

/// (calls by operation, all calls) the proxy saw.
fn calls(proxy: &AwsProxy) -> (BTreeMap<String, usize>, usize) {
    let mut by_operation = BTreeMap::new();
    let calls = proxy.calls();
    for call in &calls {
        *by_operation
            .entry(format!("{}:{}", call.service, call.operation))
            .or_default() += 1;
    }
    (by_operation, calls.len())
}

fn report(label: &str, run: &Run, proxy: &AwsProxy, accounts: usize) {
    let (by_operation, total) = calls(proxy);
    let digest: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_default();
    let findings = digest["findings"].as_array().map(Vec::len).unwrap_or(0);
    let gaps = digest["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == "inspection-incomplete")
        .count();
    println!(
        "{label}: {:.1} s, peak RSS {:.1} MB, exit {}",
        run.wall.as_secs_f64(),
        run.max_rss_kb as f64 / 1024.0,
        run.code
    );
    println!(
        "  AWS calls: {total} in all, {:.1} per account; {by_operation:?}",
        total as f64 / accounts as f64
    );
    println!(
        "  merged digest: {} bytes of JSON, {findings} findings ({gaps} inspection-incomplete), verdict {}; summary: {}",
        run.stdout.len(),
        digest["verdict"],
        digest["summary"].as_str().unwrap_or("?")
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(bin) = args
        .iter()
        .position(|a| a == "--cf-doctor")
        .and_then(|i| args.get(i + 1))
        .cloned()
    else {
        eprintln!("usage: cf-doctor-org-bench --cf-doctor PATH [--accounts N] [--distributions N] [--certificates N]");
        std::process::exit(64);
    };
    let members = arg(&args, "--accounts", 50);
    let distributions = arg(&args, "--distributions", 20);
    let certificates = arg(&args, "--certificates", 100);

    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let organizations = aws_sdk_organizations::Client::new(&sdk);
    create_organization(&organizations).await;
    let ca = TestCa::new("organization bench root");
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca.cert_pem().as_bytes()).unwrap();
    let wildcard = ca.leaf(&LeafSpec::valid_for(&["*.org.bench.test"]));
    let origin = tls_origin(OriginConfig::new(
        wildcard.full_chain(),
        wildcard.key_der.clone_key(),
    ))
    .await;
    let leaves: Vec<_> = [2, 10, 40, 120, 300]
        .iter()
        .map(|d| ca.leaf(&LeafSpec::valid_for(&["cert.org.bench.test"]).expiring_in_days(*d)))
        .collect();

    // Seeding is sequential: it is set-up, not what is measured.
    let seeding = Instant::now();
    let mut ids = Vec::new();
    let mut resolve = Vec::new();
    for n in 0..members {
        let id = create_account(&organizations, &format!("team-{n}")).await;
        let member = in_account(&sdk, &id).await;
        let acm = aws_sdk_acm::Client::new(&member);
        let mut arns = Vec::new();
        for i in 0..certificates {
            arns.push(import_certificate(&acm, &leaves[i % leaves.len()], &ca.cert_pem()).await);
        }
        let cf = aws_sdk_cloudfront::Client::new(&member);
        for i in 0..distributions {
            let mut spec = DistributionSpec::https_origin(&host(n, i), origin.port());
            // Each account's first distribution has a viewer certificate 10 days from expiry.
            if i == 0 && arns.len() > 1 {
                spec.aliases = vec!["cert.org.bench.test".into()];
                spec.viewer_acm_arn = Some(arns[1].clone());
            }
            create_distribution(&cf, &spec).await;
            resolve.push(format!("{}=127.0.0.1", host(n, i)));
        }
        ids.push(id);
    }
    println!(
        "organization: seeded {members} member accounts x {distributions} distributions and {certificates} certificates in {:.0} s ({} CPU(s))",
        seeding.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    let proxy = aws_proxy(&moto.endpoint).await;
    let mut env = aws_env(&proxy.endpoint);
    env.push(("CF_DOCTOR_RESOLVE".into(), resolve.join(",")));
    env.push((
        "ORIGIN_CA_FILE".into(),
        ca_file.path().display().to_string(),
    ));
    env.push(("ORIGIN_REGIONS".into(), "us-east-1".into()));
    env.push(("HOME".into(), std::env::var("HOME").unwrap_or_default()));
    let sweep = [
        "sweep",
        "--organization",
        "--concurrency",
        "8",
        "--format",
        "json",
    ];
    // The management account is listed too (and swept with cf-doctor's own credentials).
    let accounts = members + 1;

    let all = run(&bin, &sweep, &env);
    report(
        &format!("sweep --organization ({accounts} accounts, concurrency 8)"),
        &all,
        &proxy,
        accounts,
    );

    proxy.reset();
    proxy.inject(
        Fault::on("sts", "AssumeRole", 1000, FaultKind::AccessDenied).when_body_contains(&ids[0]),
    );
    let one_down = run(&bin, &sweep, &env);
    report(
        &format!("the same with account {} unreachable", ids[0]),
        &one_down,
        &proxy,
        accounts,
    );
}
