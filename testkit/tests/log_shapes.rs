//! Proves, through the real SDK, the shapes of CloudFront's own records before issue 22's tests
//! lean on them:
//! - GetRealtimeLogConfig and GetMonitoringSubscription as the proxy answers them read as
//!   CloudFront's (fields in their order, sampling rate, stream; Enabled; the typed
//!   NoSuchMonitoringSubscription error);
//! - a real-time log record in moto's Kinesis is one tab-separated line, found from a timestamp
//!   before it (AT_TIMESTAMP) and not from one after it;
//! - a legacy log file is gzip, named as CloudFront names it, with `#Version`, the 33 fields in
//!   order, and 33 values per line;
//! - standard logging v2 to a log group is found from the distribution's ARN (delivery source,
//!   delivery, destination), with its events in the group.

use std::io::Read;

use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::{Duration, TimeZone, Utc};

use cf_doctor_testkit::cloudfront_xml::{
    answer, monitoring_subscription, no_monitoring_subscription, realtime_log_config,
};
use cf_doctor_testkit::kinesis::{put_lines, realtime_stream, record_line};
use cf_doctor_testkit::standard_logs::{
    legacy_file, legacy_key, put_v2_events, v2_to_log_group, Request, LEGACY_FIELDS,
};
use cf_doctor_testkit::{aws_proxy, moto, sdk_config, Fault};

#[tokio::test(flavor = "multi_thread")]
async fn cloudfronts_answers_about_its_logs_read_as_cloudfronts() {
    let proxy = aws_proxy(&moto().endpoint).await;
    let stream = "arn:aws:kinesis:us-east-1:123456789012:stream/shape-rt";
    let fields = [
        "timestamp",
        "c-ip",
        "sc-status",
        "x-edge-detailed-result-type",
    ];
    proxy.inject(Fault::on(
        "cloudfront",
        "GetRealtimeLogConfig",
        1,
        answer(realtime_log_config("shape", 25, stream, &fields)),
    ));
    proxy.inject(Fault::on(
        "cloudfront",
        "GetMonitoringSubscription",
        1,
        monitoring_subscription(true),
    ));
    proxy.inject(Fault::on(
        "cloudfront",
        "GetMonitoringSubscription",
        1,
        no_monitoring_subscription(),
    ));
    let cloudfront = aws_sdk_cloudfront::Client::new(&sdk_config(&proxy.endpoint).await);
    let config = cloudfront
        .get_realtime_log_config()
        .arn("arn:aws:cloudfront::123456789012:realtime-log-config/shape")
        .send()
        .await
        .expect("the SDK reads the answer");
    let config = config.realtime_log_config().expect("a configuration");
    assert_eq!(config.fields(), fields);
    assert_eq!(config.sampling_rate(), 25);
    assert_eq!(
        config.end_points()[0]
            .kinesis_stream_config()
            .map(|k| k.stream_arn()),
        Some(stream)
    );
    let enabled = cloudfront
        .get_monitoring_subscription()
        .distribution_id("E1")
        .send()
        .await
        .expect("an enabled subscription");
    assert_eq!(
        enabled
            .monitoring_subscription()
            .and_then(|m| m.realtime_metrics_subscription_config())
            .map(|c| c.realtime_metrics_subscription_status().as_str()),
        Some("Enabled")
    );
    let none = cloudfront
        .get_monitoring_subscription()
        .distribution_id("E1")
        .send()
        .await
        .expect_err("no subscription");
    assert!(none
        .as_service_error()
        .is_some_and(|e| e.is_no_such_monitoring_subscription()));
    assert_eq!(proxy.faults_left(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_time_record_is_a_tab_separated_line_found_from_a_timestamp() {
    let sdk = sdk_config(&moto().endpoint).await;
    let stream = realtime_stream(&sdk, "shape-records", 1).await;
    let before = Utc::now() - Duration::seconds(5);
    let line = record_line(&[
        "1764834000.123",
        "203.0.113.9",
        "502",
        "",
        "OriginConnectError",
    ]);
    assert_eq!(
        line,
        "1764834000.123\t203.0.113.9\t502\t-\tOriginConnectError\n"
    );
    put_lines(&sdk, &stream, std::slice::from_ref(&line)).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let shard = kinesis
        .list_shards()
        .stream_arn(&stream)
        .send()
        .await
        .unwrap()
        .shards()[0]
        .shard_id()
        .to_string();
    let read_from = |at: chrono::DateTime<Utc>| {
        let (kinesis, stream, shard) = (kinesis.clone(), stream.clone(), shard.clone());
        async move {
            let iterator = kinesis
                .get_shard_iterator()
                .stream_arn(&stream)
                .shard_id(shard)
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(aws_sdk_kinesis::primitives::DateTime::from_millis(
                    at.timestamp_millis(),
                ))
                .send()
                .await
                .unwrap();
            kinesis
                .get_records()
                .stream_arn(&stream)
                .shard_iterator(iterator.shard_iterator().unwrap())
                .send()
                .await
                .unwrap()
                .records()
                .iter()
                .map(|r| String::from_utf8_lossy(r.data().as_ref()).into_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(read_from(before).await, [line]);
    assert!(read_from(Utc::now() + Duration::seconds(5))
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_log_file_is_named_and_written_as_cloudfront_writes_it() {
    let hour = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    assert_eq!(
        legacy_key("cdn/", "EMLARXS9EXAMPLE", hour, "RT4KCN4SGK9"),
        "cdn/EMLARXS9EXAMPLE.2026-11-30-09.RT4KCN4SGK9.gz"
    );
    let file = legacy_file(&[Request::new(hour, 502, "OriginDnsError", "/a b")]);
    assert_eq!(&file[..2], [0x1f, 0x8b], "gzip");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&file[..])
        .read_to_string(&mut text)
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#Version: 1.0");
    let fields: Vec<&str> = lines[1]
        .trim_start_matches("#Fields: ")
        .split(' ')
        .collect();
    assert_eq!(fields.len(), 33);
    assert_eq!(fields, LEGACY_FIELDS.split(' ').collect::<Vec<_>>());
    assert_eq!(fields[28], "x-edge-detailed-result-type");
    let values: Vec<&str> = lines[2].split('\t').collect();
    assert_eq!(values.len(), 33);
    assert_eq!(
        (values[0], values[1], values[8]),
        ("2026-11-30", "09:00:00", "502")
    );
    assert_eq!(values[28], "OriginDnsError");
    assert_eq!(values[9], "-", "an empty referer is -");
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_logging_v2_to_a_log_group_is_found_from_the_distribution_arn() {
    let sdk = sdk_config(&moto().endpoint).await;
    let arn = "arn:aws:cloudfront::123456789012:distribution/ESHAPEV2";
    v2_to_log_group(&sdk, arn, "shape-v2", "/shape/v2").await;
    put_v2_events(
        &sdk,
        "/shape/v2",
        &[Request::new(
            Utc::now() - Duration::minutes(3),
            503,
            "Error",
            "/",
        )],
    )
    .await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let sources = logs.describe_delivery_sources().send().await.unwrap();
    let source = sources
        .delivery_sources()
        .iter()
        .find(|s| s.resource_arns().iter().any(|r| r == arn))
        .expect("a source for the distribution");
    assert_eq!(source.log_type(), Some("ACCESS_LOGS"));
    let deliveries = logs.describe_deliveries().send().await.unwrap();
    let delivery = deliveries
        .deliveries()
        .iter()
        .find(|d| d.delivery_source_name() == source.name())
        .expect("a delivery");
    let destination = delivery
        .delivery_destination_arn()
        .unwrap()
        .rsplit_once("delivery-destination:")
        .unwrap()
        .1;
    let described = logs
        .get_delivery_destination()
        .name(destination)
        .send()
        .await
        .unwrap();
    let described = described.delivery_destination().unwrap();
    assert_eq!(described.output_format().map(|f| f.as_str()), Some("json"));
    assert_eq!(
        described
            .delivery_destination_configuration()
            .map(|c| c.destination_resource_arn()),
        Some("arn:aws:logs:us-east-1:123456789012:log-group:/shape/v2")
    );
    let events = logs
        .filter_log_events()
        .log_group_name("/shape/v2")
        .send()
        .await
        .unwrap();
    let message: serde_json::Value =
        serde_json::from_str(events.events()[0].message().unwrap()).unwrap();
    assert_eq!(message["sc-status"], "503", "v2 JSON values are strings");
}
