//! `make bench`: measures the release cf-doctor against moto and loopback origins and prints
//! figures (never asserts them). One alarm diagnosis (wall, peak RSS), a silent origin (bounded by
//! the probe timeout), cold start (process start to the first GET /runtime/invocation/next), the
//! sweep of 500 distributions and 2,500 certificates (wall, RSS, AWS calls from moto's recorder,
//! and the digest: its findings and the size of the SNS message it publishes), and 500 origins
//! answering in 200 ms (concurrency).
//!
//! Usage: cf-doctor-bench --cf-doctor PATH [--quick] [--sweep-only]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cf_doctor_testkit::{
    aws_env, create_distribution, import_certificate, runtime_api, sdk_config, silent_origin,
    tls_origin, DistributionSpec, LeafSpec, Moto, OriginConfig, TestCa,
};

use cf_doctor_testkit::measure::{run_measured as run, Measured as Run};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p90(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 9 / 10).min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn ca_file(ca: &TestCa) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(ca.cert_pem().as_bytes()).unwrap();
    f
}

/// moto's request recorder: the AWS operations the binary made, by name.
fn recorded_operations(endpoint: &str) -> BTreeMap<String, usize> {
    let text = http_get(endpoint, "/moto-api/recorder/download-recording");
    let mut counts = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let url = entry["url"].as_str().unwrap_or("");
        let body = entry["body"].as_str().unwrap_or("");
        let target = entry["headers"]["X-Amz-Target"]
            .as_str()
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_string());
        let action = body
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_string);
        let op = target.or(action).unwrap_or_else(|| {
            // moto records the whole URL: keep the path.
            let path = url
                .split("://")
                .nth(1)
                .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
                .unwrap_or(url);
            let path = path.split('?').next().unwrap_or("").trim_end_matches('/');
            let segments = path.split('/').filter(|s| !s.is_empty()).count();
            match (path.contains("/distribution"), segments) {
                (true, 2) => "ListDistributions".into(),
                (true, 3) => "GetDistribution".into(),
                _ => format!("{} {path}", entry["method"].as_str().unwrap_or("?")),
            }
        });
        if !op.starts_with("POST /moto-api") && !op.starts_with("GET /moto-api") {
            *counts.entry(op).or_default() += 1;
        }
    }
    counts
}

/// The digest the sweep delivers: how many findings (by severity), and the SNS message it
/// publishes (subject, and the size of the structured message), read from moto's recorder.
/// NOTIFY_WHEN_HEALTHY=true: a quiet digest is still published, so that it can be measured.
async fn digest_figures(
    bin: &str,
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
    sweep_env: &[(String, String)],
) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic = sns
        .create_topic()
        .name("bench-digest")
        .send()
        .await
        .expect("moto creates the topic")
        .topic_arn
        .unwrap_or_default();
    let mut env = sweep_env.to_vec();
    env.push(("SNS_TOPIC_ARN".into(), topic));
    env.push(("NOTIFY_WHEN_HEALTHY".into(), "true".into()));
    http(endpoint, "POST", "/moto-api/recorder/reset-recording");
    http(endpoint, "POST", "/moto-api/recorder/start-recording");
    let out = Command::new(bin)
        .args(["sweep", "--format", "json", "--notify"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stderr(Stdio::null())
        .output()
        .expect("cf-doctor runs");
    http(endpoint, "POST", "/moto-api/recorder/stop-recording");
    let digest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let findings = digest["findings"].as_array().cloned().unwrap_or_default();
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    for f in &findings {
        *by_severity
            .entry(f["severity"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    println!(
        "  digest: {} finding(s) {by_severity:?}, verdict {}, exit {}",
        findings.len(),
        digest["verdict"],
        out.status.code().unwrap_or(-1)
    );
    println!("  summary: {}", digest["summary"].as_str().unwrap_or(""));
    match published(endpoint) {
        Some((subject, message)) => println!(
            "  SNS message: {} bytes (structured: JSON for subscribers and the email text), subject {subject:?}",
            message.len()
        ),
        None => println!("  SNS message: none published"),
    }
}

/// The subject and message of the Publish call in moto's recording.
fn published(endpoint: &str) -> Option<(String, String)> {
    let text = http_get(endpoint, "/moto-api/recorder/download-recording");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|entry| {
            let body = entry["body"].as_str()?;
            // moto's recorder keeps a request body read as bytes in base64.
            Some(if entry["body_encoded"] == true {
                String::from_utf8_lossy(&base64_decode(body)).into_owned()
            } else {
                body.to_string()
            })
        })
        .find(|body| body.split('&').any(|kv| kv == "Action=Publish"))
        .map(|body| {
            let field = |name: &str| {
                body.split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(form_decode)
                    .unwrap_or_default()
            };
            (field("Subject"), field("Message"))
        })
}

/// Standard base64 (with padding), as moto's recorder writes it.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for sextet in text.bytes().filter_map(value) {
        bits = (bits << 6) | u32::from(sextet);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// application/x-www-form-urlencoded decoding.
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&value[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn http_get(endpoint: &str, path: &str) -> String {
    http(endpoint, "GET", path)
}

fn http(endpoint: &str, method: &str, path: &str) -> String {
    use std::io::Read;
    let addr = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("moto answers");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = match args
        .iter()
        .position(|a| a == "--cf-doctor")
        .and_then(|i| args.get(i + 1))
    {
        Some(b) => b.clone(),
        None => {
            eprintln!("usage: cf-doctor-bench --cf-doctor PATH [--quick] [--sweep-only]");
            std::process::exit(64);
        }
    };
    let quick = args.iter().any(|a| a == "--quick");
    // Only the sweep and its digest (e.g. to compare two builds' digests).
    let sweep_only = args.iter().any(|a| a == "--sweep-only");
    let runs = if quick { 5 } else { 20 };
    println!(
        "cf-doctor benchmark ({bin}), {} CPU(s)\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let ca = TestCa::new("bench root");
    let ca_path = ca_file(&ca);
    if !sweep_only {
        alarm_figures(&bin, runs, &ca, &ca_path).await;
    }
    sweep_figures(&bin, quick, sweep_only, &ca, &ca_path).await;
}

/// 1 to 3: one alarm diagnosis, a silent origin, the cold start.
async fn alarm_figures(bin: &str, runs: usize, ca: &TestCa, ca_path: &tempfile::NamedTempFile) {
    let bin = bin.to_string();
    // 1. One alarm diagnosis, the founding outage.
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let expired = ca.leaf(&LeafSpec::valid_for(&["origin.bench.test"]).expired_days_ago(3));
    let origin = tls_origin(OriginConfig::new(
        expired.full_chain(),
        expired.key_der.clone_key(),
    ))
    .await;
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let id = create_distribution(
        &cf,
        &DistributionSpec::https_origin("origin.bench.test", origin.port()),
    )
    .await;
    let event = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(
        cf_doctor_testkit::workspace_root().join("events/alarm-eventbridge.json"),
    )
    .unwrap()
    .replace("E2EXAMPLE", &id);
    std::fs::write(event.path(), text).unwrap();
    let mut env = aws_env(&moto.endpoint);
    env.push((
        "CF_DOCTOR_RESOLVE".into(),
        "origin.bench.test=127.0.0.1".into(),
    ));
    env.push((
        "ORIGIN_CA_FILE".into(),
        ca_path.path().display().to_string(),
    ));
    env.push(("PROBE_TIMEOUT_MS".into(), "2000".into()));
    let event_path = event.path().display().to_string();
    let alarm: Vec<Run> = (0..runs)
        .map(|_| run(&bin, &["invoke", &event_path, "--format", "json"], &env))
        .collect();
    let rss = alarm.iter().map(|r| r.max_rss_kb).max().unwrap_or(0);
    println!("alarm diagnosis (founding outage), {runs} runs: median {}, p90 {}, peak RSS {:.1} MB, exit {}", ms(median(alarm.iter().map(|r| r.wall).collect())), ms(p90(alarm.iter().map(|r| r.wall).collect())), rss as f64 / 1024.0, alarm[0].code);
    println!("  targets: under 300 ms wall, under 40 MB RSS");

    // 2. A silent origin costs one probe timeout per step, not the Lambda's.
    let silent = silent_origin().await;
    let silent_id = create_distribution(
        &cf,
        &DistributionSpec::https_origin("silent.bench.test", silent.port()),
    )
    .await;
    let mut silent_env = aws_env(&moto.endpoint);
    silent_env.push((
        "CF_DOCTOR_RESOLVE".into(),
        "silent.bench.test=127.0.0.1".into(),
    ));
    silent_env.push(("PROBE_TIMEOUT_MS".into(), "1000".into()));
    let silent_runs: Vec<Duration> = (0..3)
        .map(|_| {
            run(
                &bin,
                &["diagnose", &silent_id, "--format", "json"],
                &silent_env,
            )
            .wall
        })
        .collect();
    println!(
        "silent origin, PROBE_TIMEOUT_MS=1000, 3 runs: median {}",
        ms(median(silent_runs))
    );

    // 3. Cold start: process start to the first GET /runtime/invocation/next, clients built.
    let mut starts = Vec::new();
    for _ in 0..runs {
        let api = runtime_api(
            vec![serde_json::json!({"diagnose": id})],
            Duration::from_secs(60),
        )
        .await;
        let mut lambda_env = env.clone();
        lambda_env.extend([
            ("AWS_LAMBDA_RUNTIME_API".to_string(), api.endpoint()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), "cf-doctor".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "512".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ]);
        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(&bin)
            .env_clear()
            .envs(lambda_env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let answered = api.wait_for(1, Duration::from_secs(30)).await;
        if let (Some(first), false) = (api.first_next_at(), answered.is_empty()) {
            starts.push(first.duration_since(spawned));
        }
        child.kill().await.ok();
    }
    println!(
        "cold start (spawn to first /next), {} runs: median {}, p90 {}",
        starts.len(),
        ms(median(starts.clone())),
        ms(p90(starts))
    );
    println!("  target: under 30 ms");
    drop(moto);
}

/// 4 and 5: the sweep (and its digest), then 500 slow origins.
async fn sweep_figures(
    bin: &str,
    quick: bool,
    sweep_only: bool,
    ca: &TestCa,
    ca_path: &tempfile::NamedTempFile,
) {
    let bin = bin.to_string();
    // 4. The sweep: 500 distributions, 2,500 certificates.
    let (distributions, certificates) = if quick { (100, 500) } else { (500, 2500) };
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let acm = aws_sdk_acm::Client::new(&sdk);
    let leaves: Vec<_> = [2, 10, 40, 120, 300]
        .iter()
        .map(|d| ca.leaf(&LeafSpec::valid_for(&["cert.bench.test"]).expiring_in_days(*d)))
        .collect();
    let seeding = Instant::now();
    // Seeding is sequential: it is set-up, not what is measured.
    for i in 0..certificates {
        import_certificate(&acm, &leaves[i % leaves.len()], &ca.cert_pem()).await;
    }
    let wildcard = ca.leaf(&LeafSpec::valid_for(&["*.sweep.bench.test"]));
    let fleet = tls_origin(OriginConfig::new(
        wildcard.full_chain(),
        wildcard.key_der.clone_key(),
    ))
    .await;
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let mut resolve = Vec::new();
    for i in 0..distributions {
        create_distribution(
            &cf,
            &DistributionSpec::https_origin(&format!("o{i}.sweep.bench.test"), fleet.port()),
        )
        .await;
        resolve.push(format!("o{i}.sweep.bench.test=127.0.0.1"));
    }
    println!(
        "\nsweep: seeded {distributions} distributions and {certificates} certificates in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    let mut sweep_env = aws_env(&moto.endpoint);
    sweep_env.push(("CF_DOCTOR_RESOLVE".into(), resolve.join(",")));
    sweep_env.push((
        "ORIGIN_CA_FILE".into(),
        ca_path.path().display().to_string(),
    ));
    sweep_env.push(("ORIGIN_REGIONS".into(), "us-east-1".into()));
    http(&moto.endpoint, "POST", "/moto-api/recorder/reset-recording");
    http(&moto.endpoint, "POST", "/moto-api/recorder/start-recording");
    let sweep = run(&bin, &["sweep", "--format", "json"], &sweep_env);
    http(&moto.endpoint, "POST", "/moto-api/recorder/stop-recording");
    let calls = recorded_operations(&moto.endpoint);
    println!("sweep of {distributions} distributions / {certificates} certificates: {}, peak RSS {:.1} MB, exit {}", ms(sweep.wall), sweep.max_rss_kb as f64 / 1024.0, sweep.code);
    println!("  AWS calls: {calls:?} (target: no per-distribution GetDistribution; DescribeCertificate only where needed)");
    println!("  target: under 64 MB RSS");
    digest_figures(&bin, &sdk, &moto.endpoint, &sweep_env).await;
    drop(moto);
    if sweep_only {
        return;
    }

    // 5. 500 origins answering in 200 ms: concurrency, not 500 x 200 ms.
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let cf = aws_sdk_cloudfront::Client::new(&sdk);
    let mut slow_cfg = OriginConfig::new(wildcard.full_chain(), wildcard.key_der.clone_key());
    slow_cfg.delay = Duration::from_millis(200);
    let slow = tls_origin(slow_cfg).await;
    for i in 0..distributions {
        create_distribution(
            &cf,
            &DistributionSpec::https_origin(&format!("o{i}.sweep.bench.test"), slow.port()),
        )
        .await;
    }
    let mut slow_env = aws_env(&moto.endpoint);
    slow_env.push(("CF_DOCTOR_RESOLVE".into(), resolve.join(",")));
    slow_env.push((
        "ORIGIN_CA_FILE".into(),
        ca_path.path().display().to_string(),
    ));
    slow_env.push(("ORIGIN_REGIONS".into(), "us-east-1".into()));
    let slow_run = run(&bin, &["sweep", "--format", "json"], &slow_env);
    let ideal = Duration::from_millis(200) * distributions as u32 / 32;
    let serial = Duration::from_millis(200) * distributions as u32;
    println!(
        "\n{distributions} origins answering in 200 ms: sweep took {}; (n / 32) x 200 ms = {}, n x 200 ms = {}; ratio to serial {:.3}",
        ms(slow_run.wall),
        ms(ideal),
        ms(serial),
        slow_run.wall.as_secs_f64() / serial.as_secs_f64()
    );
}
