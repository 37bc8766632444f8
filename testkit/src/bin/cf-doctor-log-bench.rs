//! `make bench` (logs part): `cf-doctor postmortem` over a day of legacy log files in moto's S3,
//! as CloudFront writes them (W3C, gzipped, one file an hour, varied requests with an incident in
//! the middle), about `--megabytes` of log text in all (1024 by default). Prints figures (never
//! asserts them): wall time, peak RSS, the rate over the decoded log text, and the same files read
//! by `zcat | awk` from a local directory, counting the 5xx, as the anchor.
//!
//! Usage: cf-doctor-log-bench --cf-doctor PATH [--megabytes N]

use std::io::Write;
use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};

use cf_doctor_testkit::measure::run_measured;
use cf_doctor_testkit::standard_logs::{legacy_key, put_object, write_legacy, Request};
use cf_doctor_testkit::{aws_env, create_distribution, sdk_config, DistributionSpec, Moto};

/// A small deterministic generator: the same files every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

const EDGES: [&str; 8] = [
    "IAD89-C1", "FRA56-P1", "NRT57-P2", "GRU3-C2", "SYD62-P1", "LHR61-P3", "SIN2-P1", "DFW56-C3",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let Some(bin) = flag("--cf-doctor") else {
        eprintln!("usage: cf-doctor-log-bench --cf-doctor PATH [--megabytes N]");
        std::process::exit(64);
    };
    let megabytes: u64 = flag("--megabytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(bench(&bin, megabytes));
}

async fn bench(bin: &str, megabytes: u64) {
    println!("\nlogs: cf-doctor postmortem over a day of legacy log files, about {megabytes} MB of log text");
    let moto = Moto::start();
    let sdk = sdk_config(&moto.endpoint).await;
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk);
    let bucket = "bench-cdn-logs";
    let id = create_distribution(
        &cloudfront,
        &DistributionSpec {
            logging: Some((format!("{bucket}.s3.amazonaws.com"), "cdn/".into())),
            ..DistributionSpec::https_origin("bench.origin.test", 443)
        },
    )
    .await;
    let day = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
    let local = tempfile::tempdir().expect("a directory for the anchor's copy");
    let per_hour = megabytes * 1024 * 1024 / 24;
    let mut random = Lcg(7);
    let (mut text_bytes, mut compressed_bytes, mut lines, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let seeding = Instant::now();
    for hour in 0..24u32 {
        let start = day + TimeDelta::hours(hour.into());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // The header, then the lines as they are made.
        write_legacy(&mut gz, std::iter::empty());
        let mut written = 0u64;
        while written < per_hour {
            let at = start + TimeDelta::milliseconds((random.next() % 3_600_000) as i64);
            // The incident: 09:10 to 09:50, a third of the requests fail.
            let failing = hour == 9
                && (10..50).contains(&(at.timestamp() / 60 % 60))
                && random.next().is_multiple_of(3);
            let (status, kind) = if failing {
                (502, "OriginConnectError")
            } else if random.next().is_multiple_of(500) {
                (504, "OriginCommError")
            } else {
                (
                    200,
                    if random.next().is_multiple_of(4) {
                        "Miss"
                    } else {
                        "Hit"
                    },
                )
            };
            errors += u64::from(status >= 500);
            let path = format!(
                "/shop/item-{}/image-{}.jpg",
                random.next() % 5000,
                random.next() % 40
            );
            let request = Request {
                edge_location: EDGES[(random.next() % EDGES.len() as u64) as usize].into(),
                ..Request::new(at, status, kind, &path)
            };
            let line = request.legacy_line();
            written += line.len() as u64 + 1;
            lines += 1;
            let _ = writeln!(gz, "{line}");
        }
        let file = gz.finish().expect("gzip into memory");
        text_bytes += written;
        compressed_bytes += file.len() as u64;
        let key = legacy_key("cdn/", &id, start, &format!("B{hour:02}"));
        std::fs::write(local.path().join(format!("{hour:02}.gz")), &file).expect("the local copy");
        put_object(&sdk, bucket, &key, file).await;
    }
    println!(
        "  seeded 24 files in {:.1} s: {lines} requests, {:.0} MB of log text, {:.0} MB gzipped, {errors} 5xx",
        seeding.elapsed().as_secs_f64(),
        text_bytes as f64 / 1e6,
        compressed_bytes as f64 / 1e6
    );
    let env = aws_env(&moto.endpoint);
    let run = run_measured(
        bin,
        &[
            "postmortem",
            &id,
            "--from",
            "2026-11-30T00:00:00Z",
            "--to",
            "2026-12-01T00:00:00Z",
            "--format",
            "json",
        ],
        &env,
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_default();
    let seconds = run.wall.as_secs_f64();
    println!(
        "  cf-doctor postmortem: exit {}, {:.1} s, {:.0} MB/s of log text, peak RSS {:.1} MB; {} requests, {} 5xx counted ({} expected), {} sources",
        run.code,
        seconds,
        text_bytes as f64 / 1e6 / seconds,
        run.max_rss_kb as f64 / 1024.0,
        report["requests"],
        report["errors_5xx"],
        errors,
        report["sources"].as_array().map(Vec::len).unwrap_or(0)
    );
    let anchor = run_measured(
        "sh",
        &[
            "-c",
            &format!(
                "zcat {}/*.gz | awk -F'\\t' '$9 ~ /^5/ {{n++}} END {{print n+0}}'",
                local.path().display()
            ),
        ],
        &[("PATH".into(), std::env::var("PATH").unwrap_or_default())],
    );
    let anchor_seconds = anchor.wall.as_secs_f64();
    println!(
        "  anchor (zcat | awk over the same files, local disk): {:.1} s, {:.0} MB/s, counted {} 5xx",
        anchor_seconds,
        text_bytes as f64 / 1e6 / anchor_seconds,
        String::from_utf8_lossy(&anchor.stdout).trim()
    );
    println!("  targets: bounded memory whatever the size; a rate near the anchor's");
}
