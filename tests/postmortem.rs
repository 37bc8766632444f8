//! `cf-doctor postmortem` through the binary, against moto: a day of legacy log files as
//! CloudFront names and gzips them in the logging bucket, standard logging v2 as JSON in a
//! CloudWatch Logs log group (moto serves the delivery APIs), and a distribution whose logs are
//! nowhere. The files are the testkit's, written with CloudFront's fields, order and encodings.

mod common;

use std::process::Stdio;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use cf_doctor_testkit::standard_logs::{
    legacy_file, legacy_key, put_object, put_v2_events, v2_to_log_group, Request,
};
use cf_doctor_testkit::{aws_env, moto, DistributionSpec};
use common::lab;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn postmortem(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cf-doctor"))
        .arg("postmortem")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(aws_env(&moto().endpoint))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("cf-doctor runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn at(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, hour, minute, second)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_day_of_legacy_logs_gives_the_incidents_timeline() {
    let lab = lab().await;
    let id = lab
        .distribution(&DistributionSpec {
            logging: Some(("shop-cdn-logs.s3.amazonaws.com".into(), "cdn".into())),
            ..DistributionSpec::https_origin("postmortem.origin.test", 443)
        })
        .await;
    let bucket = "shop-cdn-logs";
    // Every hour of the day: 20 healthy requests.
    for hour in 0..24 {
        let mut requests: Vec<Request> = (0..20)
            .map(|i| Request::new(at(hour, i * 2, 5), 200, "Miss", "/index.html"))
            .collect();
        if hour == 0 {
            // Delivered late, into the first file of the window: dated the day before.
            requests.push(Request::new(
                Utc.with_ymd_and_hms(2026, 11, 29, 23, 59, 58).unwrap(),
                502,
                "OriginConnectError",
                "/late",
            ));
        }
        if hour == 9 {
            // The incident: 09:12 to 09:40, one 502 a minute from each of two edge locations.
            for minute in 12..=40 {
                for edge in ["IAD89-C1", "FRA56-P1"] {
                    requests.push(Request {
                        edge_location: edge.into(),
                        ..Request::new(at(9, minute, 30), 502, "OriginConnectError", "/api/cart")
                    });
                }
            }
            requests.push(Request::new(
                at(9, 41, 0),
                504,
                "OriginCommError",
                "/checkout",
            ));
        }
        let key = legacy_key("cdn/", &id, at(hour, 0, 0), &format!("U{hour:02}A"));
        put_object(&lab.sdk, bucket, &key, legacy_file(&requests)).await;
    }
    // A second file for 10:00, and files that are not the window's or not this distribution's.
    let more = vec![Request::new(at(10, 30, 0), 200, "Hit", "/")];
    put_object(
        &lab.sdk,
        bucket,
        &legacy_key("cdn/", &id, at(10, 0, 0), "U10B"),
        legacy_file(&more),
    )
    .await;
    let next_day = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    put_object(
        &lab.sdk,
        bucket,
        &legacy_key("cdn/", &id, next_day, "NEXT"),
        legacy_file(&more),
    )
    .await;
    put_object(
        &lab.sdk,
        bucket,
        &legacy_key("cdn/", "EOTHERDIST", at(9, 0, 0), "X"),
        legacy_file(&more),
    )
    .await;

    let run = postmortem(&[
        &id,
        "--from",
        "2026-11-30T00:00:00Z",
        "--to",
        "2026-12-01T00:00:00Z",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let p: Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert_eq!(p["schema"], "cf-doctor/postmortem/v1");
    assert_eq!(p["distribution_id"], id.as_str());
    assert_eq!(
        p["sources"].as_array().unwrap().len(),
        25,
        "24 hours, two files at 10:00: {}",
        p["sources"]
    );
    assert!(p["sources"][0]
        .as_str()
        .unwrap()
        .starts_with(&format!("s3://{bucket}/cdn/{id}.2026-11-30-00.")));
    assert_eq!(p["requests"], 24 * 20 + 58 + 1 + 1);
    assert_eq!(p["errors_5xx"], 59);
    assert_eq!(p["first_error_at"], "2026-11-30T09:12:30Z");
    assert_eq!(p["last_error_at"], "2026-11-30T09:41:00Z");
    assert_eq!(p["by_result_type"]["OriginConnectError"], 58);
    assert_eq!(p["by_result_type"]["OriginCommError"], 1);
    assert_eq!(p["by_status"]["502"], 58);
    assert_eq!(p["by_edge_location"]["FRA56-P1"], 29);
    assert_eq!(
        p["by_path"][0],
        serde_json::json!({"path": "/api/*", "errors_5xx": 58})
    );
    assert_eq!(
        p["outside_window"], 1,
        "the late entry dated the day before"
    );
    let failing: Vec<&Value> = p["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["errors_5xx"] != 0)
        .collect();
    assert_eq!(failing.len(), 30);
    assert_eq!(
        failing[0],
        &serde_json::json!({"minute": "2026-11-30T09:12:00Z", "requests": 3, "errors_5xx": 2})
    );

    let text = postmortem(&[
        &id,
        "--from",
        "2026-11-30T09:00",
        "--to",
        "2026-11-30T10:00",
        "--format",
        "text",
    ])
    .await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("79 requests logged, 59 answered 5xx (74.7%), from 2026-11-30 09:12:30 to 2026-11-30 09:41:00"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("5xx by result type: OriginConnectError 58, OriginCommError 1"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("Minutes with 5xx (30):"),
        "{}",
        text.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_logging_v2_in_cloudwatch_logs_is_found_from_the_distribution() {
    let lab = lab().await;
    let id = lab
        .distribution(&DistributionSpec::https_origin("v2.origin.test", 443))
        .await;
    let arn = format!("arn:aws:cloudfront::123456789012:distribution/{id}");
    let group = format!("/aws/cloudfront/{id}-access");
    v2_to_log_group(
        &lab.sdk,
        &arn,
        &format!("cf-{}", id.to_ascii_lowercase()),
        &group,
    )
    .await;
    let now = Utc::now();
    let mut requests: Vec<Request> = (0..10)
        .map(|i| Request::new(now - Duration::minutes(50 - i), 200, "Hit", "/"))
        .collect();
    requests.extend(
        (0..6).map(|i| Request::new(now - Duration::minutes(30 - i), 503, "Error", "/api/pay")),
    );
    put_v2_events(&lab.sdk, &group, &requests).await;

    let from = (now - Duration::hours(1)).to_rfc3339();
    let to = now.to_rfc3339();
    let run = postmortem(&[&id, "--from", &from, "--to", &to, "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let p: Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert_eq!(
        p["sources"],
        serde_json::json!([format!("CloudWatch Logs log group {group} (us-east-1)")])
    );
    assert_eq!(
        (p["requests"].as_u64(), p["errors_5xx"].as_u64()),
        (Some(16), Some(6))
    );
    assert_eq!(p["by_result_type"]["Error"], 6);
    assert_eq!(p["by_status"]["503"], 6);
    assert!(
        p["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("legacy standard logging (to an S3 bucket) is not enabled")),
        "{}",
        p["notes"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_with_no_logs_says_where_it_looked_and_exits_3() {
    let lab = lab().await;
    let id = lab
        .distribution(&DistributionSpec {
            logging: Some(("quiet-cdn-logs.s3.amazonaws.com".into(), "".into())),
            ..DistributionSpec::https_origin("quiet.origin.test", 443)
        })
        .await;
    put_object(&lab.sdk, "quiet-cdn-logs", "unrelated.txt", b"-".to_vec()).await;
    let run = postmortem(&[
        &id,
        "--from",
        "2026-11-30T09:00:00Z",
        "--to",
        "2026-11-30T11:00:00Z",
        "--format",
        "text",
    ])
    .await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("0 requests logged, 0 answered 5xx"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("note: no legacy log file at s3://quiet-cdn-logs/{id}.YYYY-MM-DD-HH.*.gz for the 2 hour(s) of the window")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("CloudFront delivers standard logs within an hour"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_window_is_refused_before_any_aws_call() {
    for (from, to, expected) in [
        (
            "2026-11-30T10:00:00Z",
            "2026-11-30T09:00:00Z",
            "the window must end after it begins",
        ),
        (
            "yesterday",
            "2026-11-30T09:00:00Z",
            "\"yesterday\" is not a time: expected RFC 3339",
        ),
        (
            "2026-01-01T00:00:00Z",
            "2026-11-30T09:00:00Z",
            "longer than 31 days",
        ),
    ] {
        let run = postmortem(&["E2EXAMPLE", "--from", from, "--to", to]).await;
        assert_eq!(run.code, 64, "{from} {to}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
    }
}
