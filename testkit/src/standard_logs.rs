//! CloudFront's standard logs as it writes them, for moto to hold: legacy log files (W3C, the 33
//! fields in CloudFront's order under a `#Fields:` header, tab-separated, `-` for empty, values
//! URL-encoded, gzipped, named `PREFIX/ID.YYYY-MM-DD-HH.UNIQUE.gz` in the logging bucket), and
//! standard logging v2 to a CloudWatch Logs log group as JSON (a delivery source for the
//! distribution's ARN, a delivery destination, a delivery; one event per request, every value a
//! string), through the real SDK.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html>,
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>

use std::io::Write;

use aws_sdk_cloudwatchlogs::types::{InputLogEvent, OutputFormat};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};

/// The legacy fields, in CloudFront's order.
pub const LEGACY_FIELDS: &str = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";

/// One request as CloudFront logs it.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: DateTime<Utc>,
    pub edge_location: String,
    pub status: u16,
    pub path: String,
    /// `x-edge-detailed-result-type`; `x-edge-result-type` is `Error` for a 4xx/5xx, else `Miss`.
    pub result_type: String,
}

impl Request {
    pub fn new(at: DateTime<Utc>, status: u16, result_type: &str, path: &str) -> Request {
        Request {
            at,
            edge_location: "IAD89-C1".into(),
            status,
            path: path.into(),
            result_type: result_type.into(),
        }
    }

    fn plain_result(&self) -> &str {
        if self.status >= 400 {
            "Error"
        } else {
            "Miss"
        }
    }

    /// The legacy W3C line (no newline).
    pub fn legacy_line(&self) -> String {
        let status = self.status.to_string();
        let date = self.at.format("%Y-%m-%d").to_string();
        let time = self.at.format("%H:%M:%S").to_string();
        [
            date.as_str(),
            &time,
            &self.edge_location,
            "612",
            "203.0.113.9",
            "GET",
            "d111111abcdef8.cloudfront.net",
            &self.path,
            &status,
            "-",
            "Mozilla/5.0%20(X11;%20Linux%20x86_64)",
            "-",
            "-",
            self.plain_result(),
            "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
            "shop.example",
            "https",
            "140",
            "0.291",
            "-",
            "TLSv1.3",
            "TLS_AES_128_GCM_SHA256",
            self.plain_result(),
            "HTTP/2.0",
            "-",
            "-",
            "11040",
            "0.291",
            &self.result_type,
            "text/html",
            "612",
            "-",
            "-",
        ]
        .join("\t")
    }

    /// The standard logging v2 JSON line: every value a string, with `timestamp(ms)`.
    pub fn v2_json(&self) -> String {
        serde_json::json!({
            "timestamp(ms)": self.at.timestamp_millis().to_string(),
            "date": self.at.format("%Y-%m-%d").to_string(),
            "time": self.at.format("%H:%M:%S").to_string(),
            "x-edge-location": self.edge_location,
            "sc-status": self.status.to_string(),
            "cs-uri-stem": self.path,
            "x-edge-result-type": self.plain_result(),
            "x-edge-detailed-result-type": self.result_type,
            "cs(Host)": "d111111abcdef8.cloudfront.net",
            "c-ip": "203.0.113.9",
        })
        .to_string()
    }
}

/// A legacy log file holding `requests`, gzipped as CloudFront delivers it.
pub fn legacy_file(requests: &[Request]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    write_legacy(&mut gz, requests.iter().map(Request::legacy_line));
    gz.finish().expect("gzip into memory")
}

/// The header and the lines of a legacy log file, into `out`.
pub fn write_legacy(out: &mut impl Write, lines: impl Iterator<Item = String>) {
    let _ = writeln!(out, "#Version: 1.0");
    let _ = writeln!(out, "#Fields: {LEGACY_FIELDS}");
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

/// `PREFIX/ID.YYYY-MM-DD-HH.UNIQUE.gz`, as CloudFront names a legacy log file.
pub fn legacy_key(prefix: &str, id: &str, hour: DateTime<Utc>, unique: &str) -> String {
    format!("{prefix}{id}.{}.{unique}.gz", hour.format("%Y-%m-%d-%H"))
}

/// Creates `bucket` (us-east-1) if needed, and puts `body` at `key`.
pub async fn put_object(sdk: &aws_config::SdkConfig, bucket: &str, key: &str, body: Vec<u8>) {
    let s3 = aws_sdk_s3::Client::new(sdk);
    let _ = s3.create_bucket().bucket(bucket).send().await;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {e:?}"));
}

/// Standard logging v2 of `distribution_arn` to `log_group` as JSON, set up as CloudFront's
/// console does (in us-east-1): the delivery source, destination and delivery.
pub async fn v2_to_log_group(
    sdk: &aws_config::SdkConfig,
    distribution_arn: &str,
    name: &str,
    log_group: &str,
) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let _ = logs
        .create_log_group()
        .log_group_name(log_group)
        .send()
        .await;
    let _ = logs
        .create_log_stream()
        .log_group_name(log_group)
        .log_stream_name("CloudFront_access_logs")
        .send()
        .await;
    logs.put_delivery_source()
        .name(format!("{name}-source"))
        .resource_arn(distribution_arn)
        .log_type("ACCESS_LOGS")
        .send()
        .await
        .expect("put the delivery source");
    let destination = logs
        .put_delivery_destination()
        .name(format!("{name}-destination"))
        .output_format(OutputFormat::Json)
        .delivery_destination_configuration(
            aws_sdk_cloudwatchlogs::types::DeliveryDestinationConfiguration::builder()
                .destination_resource_arn(format!(
                    "arn:aws:logs:us-east-1:123456789012:log-group:{log_group}"
                ))
                .build()
                .expect("a destination configuration"),
        )
        .send()
        .await
        .expect("put the delivery destination");
    let destination_arn = destination
        .delivery_destination()
        .and_then(|d| d.arn())
        .expect("the destination's ARN")
        .to_string();
    logs.create_delivery()
        .delivery_source_name(format!("{name}-source"))
        .delivery_destination_arn(destination_arn)
        .send()
        .await
        .expect("create the delivery");
}

/// Each request as one JSON event in `log_group`, at its own time.
pub async fn put_v2_events(sdk: &aws_config::SdkConfig, log_group: &str, requests: &[Request]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let mut sorted = requests.to_vec();
    sorted.sort_by_key(|r| r.at);
    let events: Vec<InputLogEvent> = sorted
        .iter()
        .map(|r| {
            InputLogEvent::builder()
                .timestamp(r.at.timestamp_millis())
                .message(r.v2_json())
                .build()
                .expect("an event")
        })
        .collect();
    for chunk in events.chunks(1000) {
        logs.put_log_events()
            .log_group_name(log_group)
            .log_stream_name("CloudFront_access_logs")
            .set_log_events(Some(chunk.to_vec()))
            .send()
            .await
            .expect("put the events");
    }
}
