//! The edge's own code in moto, as a team's account has it: Lambda@Edge versions (created and
//! published through the real Lambda client), CloudFront Functions (moto serves create and
//! describe, not publish), the metrics their replicas and CloudFront publish (PutMetricData, read
//! back by cf-doctor's GetMetricData), their log lines (PutLogEvents, read back by FilterLogEvents),
//! and a proxy in front of moto adding what moto drops from CloudFront's answers: function
//! associations, OriginMtlsConfig, VpcOriginConfig (see cf_doctor_testkit::cloudfront_xml).

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use cf_doctor_testkit::cloudfront_xml::{self, LambdaAssociation};
use cf_doctor_testkit::AwsProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A name no other test of this process uses: moto is shared.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An IAM role Lambda functions can name: moto's CreateFunction refuses a role it does not hold.
/// cf-doctor never reads IAM, so no IAM client is built for this: one form POST to moto, signed
/// as moto routes it (moto checks no signature).
pub async fn lambda_role(moto_endpoint: &str) -> String {
    let name = unique("edge-role");
    let addr = moto_endpoint.trim_start_matches("http://");
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D"
    );
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to moto for IAM CreateRole");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "moto IAM CreateRole failed:\n{answer}"
    );
    format!("arn:aws:iam::123456789012:role/{name}")
}

/// A Lambda function created and published in us-east-1; returns the numbered version's ARN.
pub async fn lambda_version(
    sdk: &aws_config::SdkConfig,
    role: &str,
    name: &str,
    runtime: aws_sdk_lambda::types::Runtime,
    timeout_s: i32,
    memory_mb: i32,
) -> String {
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let code = zip_with_index_js();
    lambda
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .role(role)
        .handler("index.handler")
        .timeout(timeout_s)
        .memory_size(memory_mb)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(code))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto CreateFunction {name}: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            )
        });
    let version = lambda
        .publish_version()
        .function_name(name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto PublishVersion {name}: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            )
        });
    version.function_arn().expect("a versioned ARN").to_string()
}

/// A zip holding one stored (uncompressed) `index.js`: what CreateFunction needs as code.
fn zip_with_index_js() -> Vec<u8> {
    let name = b"index.js";
    let data = b"exports.handler = async (event) => event.Records[0].cf.request;\n";
    let crc = crc32(data);
    let mut zip = Vec::new();
    let local = |z: &mut Vec<u8>| {
        z.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name);
        z.extend_from_slice(data);
    };
    local(&mut zip);
    let central_at = zip.len() as u32;
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
    zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
    zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
    zip.extend_from_slice(&[0; 12]);
    zip.extend_from_slice(&0u32.to_le_bytes());
    zip.extend_from_slice(name);
    let central_len = zip.len() as u32 - central_at;
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&central_at.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A CloudFront Function in moto (DEVELOPMENT stage: moto does not publish); returns its ARN.
pub async fn cloudfront_function(cf: &aws_sdk_cloudfront::Client, name: &str) -> String {
    use aws_sdk_cloudfront::types::{FunctionConfig, FunctionRuntime};
    let out = cf
        .create_function()
        .name(name)
        .function_config(
            FunctionConfig::builder()
                .comment("cf-doctor test function")
                .runtime(FunctionRuntime::CloudfrontJs20)
                .build()
                .unwrap(),
        )
        .function_code(aws_sdk_cloudfront::primitives::Blob::new(
            "function handler(event) { return event.request; }",
        ))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto CreateFunction {name}: {}",
                aws_sdk_cloudfront::error::DisplayErrorContext(&e)
            )
        });
    out.function_summary()
        .and_then(|s| s.function_metadata())
        .map(|m| m.function_arn().to_string())
        .expect("moto answers CreateFunction with the function's ARN")
}

/// Datapoints of two minutes ago (the last complete minutes CloudWatch holds) for `namespace`
/// with `dimensions`, in `region`.
pub async fn put_metrics(
    sdk: &aws_config::SdkConfig,
    region: &str,
    namespace: &str,
    dimensions: &[(&str, &str)],
    values: &[(&str, f64)],
) {
    let config = sdk
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let dims: Vec<Dimension> = dimensions
        .iter()
        .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
        .collect();
    let data = values
        .iter()
        .map(|(metric, value)| {
            MetricDatum::builder()
                .metric_name(*metric)
                .set_dimensions(Some(dims.clone()))
                .value(*value)
                .timestamp(aws_smithy_types::DateTime::from_secs(
                    chrono::Utc::now().timestamp() - 120,
                ))
                .build()
        })
        .collect();
    cloudwatch
        .put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto PutMetricData {namespace} in {region}: {}",
                aws_sdk_cloudwatch::error::DisplayErrorContext(&e)
            )
        });
}

/// What CloudFront publishes for distribution `id` (us-east-1, Region=Global).
pub async fn distribution_metrics(sdk: &aws_config::SdkConfig, id: &str, values: &[(&str, f64)]) {
    put_metrics(
        sdk,
        "us-east-1",
        "AWS/CloudFront",
        &[("DistributionId", id), ("Region", "Global")],
        values,
    )
    .await;
}

/// Log lines written now to `group` in `region` (the group and a stream created first).
pub async fn log_lines(sdk: &aws_config::SdkConfig, region: &str, group: &str, lines: &[&str]) {
    let config = sdk
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("2026/11/25/[1]abcdef")
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let events = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 1000 + i as i64)
                .message(*line)
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("2026/11/25/[1]abcdef")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

/// From now on, `proxy` answers GetDistribution and ListDistributions for distribution `id`
/// with `f` applied, as CloudFront would describe it.
pub fn rewrite_distribution(
    proxy: &AwsProxy,
    id: &str,
    f: impl Fn(&str) -> String + Send + Sync + Clone + 'static,
) {
    for operation in ["GetDistribution", "ListDistributions"] {
        let (id, f) = (id.to_string(), f.clone());
        proxy.rewrite("cloudfront", operation, move |xml| {
            cloudfront_xml::for_distribution(xml, &id, &f)
        });
    }
}

/// One Lambda@Edge association.
pub fn lambda(arn: &str, event_type: &str) -> LambdaAssociation {
    LambdaAssociation {
        arn: arn.to_string(),
        event_type: event_type.to_string(),
        include_body: false,
    }
}
