//! A Kinesis data stream in moto as CloudFront's real-time logs fill it: one record per logged
//! request, the values tab-separated in the configuration's field order, `-` for an empty one,
//! a newline at the end (what CloudFront puts, and what AWS's samples split on).
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/real-time-logs.html>

use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;

/// Creates stream `name` with `shards` shards and waits until it is active; returns its ARN.
pub async fn realtime_stream(sdk: &aws_config::SdkConfig, name: &str, shards: i32) -> String {
    let kinesis = aws_sdk_kinesis::Client::new(sdk);
    kinesis
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create stream {name}: {e:?}"));
    for _ in 0..50 {
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .expect("describe the stream");
        let summary = summary.stream_description_summary().expect("a summary");
        if summary.stream_status().as_str() == "ACTIVE" {
            return summary.stream_arn().to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("stream {name} never became active in moto");
}

/// One logged request: its values in field order, joined as CloudFront delivers them.
pub fn record_line(values: &[&str]) -> String {
    let values: Vec<&str> = values
        .iter()
        .map(|v| if v.is_empty() { "-" } else { *v })
        .collect();
    format!("{}\n", values.join("\t"))
}

/// Puts each line as one record (partition keys spread them over the shards).
pub async fn put_lines(sdk: &aws_config::SdkConfig, stream_arn: &str, lines: &[String]) {
    let kinesis = aws_sdk_kinesis::Client::new(sdk);
    for (i, line) in lines.iter().enumerate() {
        kinesis
            .put_record()
            .stream_arn(stream_arn)
            .partition_key(format!("edge-{i}"))
            .data(Blob::new(line.as_bytes()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put a record into {stream_arn}: {e:?}"));
    }
}
