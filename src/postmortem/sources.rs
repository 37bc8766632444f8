//! Where a distribution's standard logs for a window are: the legacy log files in its `Logging`
//! bucket (`PREFIX/ID.YYYY-MM-DD-HH.UNIQUE.gz`, one or more per hour, a late entry in the file of
//! the hour it happened), and the destinations of its standard logging v2 deliveries, found from
//! its ARN through CloudWatch Logs (DescribeDeliverySources, DescribeDeliveries,
//! GetDeliveryDestination): a log group, or an S3 bucket and prefix. What could not be looked
//! at is said in a note, never skipped silently.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging-legacy-s3.html>,
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html>

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use futures::StreamExt;

use cf_doctor_aws::error_text;
use cf_doctor_model::cloudfront_log::{LogFormat, Window};
use cf_doctor_model::evidence::Distribution;

/// Log files listed at most for one window.
pub const MAX_FILES: usize = 20_000;
/// Listings run at once (one per hour of the window).
const LISTINGS_AT_ONCE: usize = 8;

/// One place to read.
#[derive(Debug, Clone)]
pub enum Source {
    S3 {
        bucket: String,
        key: String,
        region: String,
        format: LogFormat,
    },
    LogGroup {
        name: String,
        region: String,
        format: LogFormat,
    },
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
            Source::LogGroup { name, region, .. } => {
                format!("CloudWatch Logs log group {name} ({region})")
            }
        }
    }
}

/// Sources found, and what was said about where there was nothing.
#[derive(Debug, Default)]
pub struct Found {
    pub sources: Vec<Source>,
    pub notes: Vec<String>,
}

impl Found {
    fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}

/// Every hour the window touches, as CloudFront names its files: `2026-12-03-09`.
pub fn hours(window: &Window) -> Vec<DateTime<Utc>> {
    let mut hour = window
        .from
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or(window.from);
    let mut out = Vec::new();
    while hour < window.to {
        out.push(hour);
        hour += TimeDelta::hours(1);
    }
    out
}

/// The region a bucket lives in (GetBucketLocation: empty for us-east-1, `EU` for eu-west-1).
async fn bucket_region(sdk: &aws_config::SdkConfig, bucket: &str) -> Result<String, String> {
    let s3 = aws_sdk_s3::Client::new(&in_region(sdk, "us-east-1"));
    let out = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    Ok(match out.location_constraint().map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    })
}

pub fn in_region(sdk: &aws_config::SdkConfig, region: &str) -> aws_config::SdkConfig {
    sdk.to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// Every key under each of `prefixes` in `bucket`, every page (bounded by MAX_FILES).
async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefixes: Vec<String>,
) -> Result<Vec<String>, String> {
    let listed: Vec<Result<Vec<String>, String>> =
        futures::stream::iter(prefixes.into_iter().map(|prefix| async move {
            let mut keys = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&prefix)
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| error_text(&e))?;
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_string)),
                );
                match page.next_continuation_token() {
                    Some(next) if page.is_truncated() == Some(true) && keys.len() < MAX_FILES => {
                        token = Some(next.to_string())
                    }
                    _ => return Ok(keys),
                }
            }
        }))
        .buffered(LISTINGS_AT_ONCE)
        .collect()
        .await;
    let mut keys = Vec::new();
    for found in listed {
        keys.extend(found?);
    }
    keys.truncate(MAX_FILES);
    Ok(keys)
}

/// The legacy log files of the window.
pub async fn legacy(sdk: &aws_config::SdkConfig, d: &Distribution, window: &Window) -> Found {
    let mut found = Found::default();
    let Some(standard) = &d.logs.standard else {
        found.note(format!(
            "legacy standard logging (to an S3 bucket) is not enabled on {}",
            d.id
        ));
        return found;
    };
    let bucket = standard.bucket_name().to_string();
    // CloudFront puts a slash after a prefix that has none.
    let prefix = match standard.prefix.as_str() {
        "" => String::new(),
        p if p.ends_with('/') => p.to_string(),
        p => format!("{p}/"),
    };
    let region = match bucket_region(sdk, &bucket).await {
        Ok(region) => region,
        Err(error) => {
            found.note(format!(
                "s3:GetBucketLocation on {bucket} failed ({error}): its legacy log files were not read"
            ));
            return found;
        }
    };
    let s3 = aws_sdk_s3::Client::new(&in_region(sdk, &region));
    let hours = hours(window);
    let prefixes: Vec<String> = hours
        .iter()
        .map(|h| format!("{prefix}{}.{}.", d.id, h.format("%Y-%m-%d-%H")))
        .collect();
    match list(&s3, &bucket, prefixes).await {
        Ok(keys) if keys.is_empty() => found.note(format!(
            "no legacy log file at s3://{bucket}/{prefix}{}.YYYY-MM-DD-HH.*.gz for the {} hour(s) of the window: CloudFront delivers them within an hour, sometimes later",
            d.id,
            hours.len()
        )),
        Ok(keys) => {
            if keys.len() >= MAX_FILES {
                found.note(format!("more than {MAX_FILES} legacy log files: the first {MAX_FILES} were read"));
            }
            found
                .sources
                .extend(keys.into_iter().map(|key| Source::S3 {
                    bucket: bucket.clone(),
                    format: LogFormat::W3c,
                    key,
                    region: region.clone(),
                }))
        }
        Err(error) => found.note(format!(
            "s3:ListObjectsV2 on {bucket} failed ({error}): its legacy log files were not read"
        )),
    }
    found
}

/// The destinations of the distribution's standard logging v2 deliveries (CloudWatch Logs in
/// us-east-1, where CloudFront's delivery sources are).
pub async fn v2(sdk: &aws_config::SdkConfig, d: &Distribution, window: &Window) -> Found {
    let mut found = Found::default();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&in_region(sdk, "us-east-1"));
    let sources = match delivery_sources(&logs, &d.arn).await {
        Ok(sources) => sources,
        Err(error) => {
            found.note(format!(
                "logs:DescribeDeliverySources failed ({error}): standard logging v2 was not looked at"
            ));
            return found;
        }
    };
    if sources.is_empty() {
        found.note(format!(
            "standard logging v2 has no delivery source for {}",
            d.id
        ));
        return found;
    }
    let deliveries = match deliveries(&logs, &sources).await {
        Ok(deliveries) => deliveries,
        Err(error) => {
            found.note(format!(
                "logs:DescribeDeliveries failed ({error}): standard logging v2 was not read"
            ));
            return found;
        }
    };
    if deliveries.is_empty() {
        found.note(format!(
            "standard logging v2 has a delivery source for {} ({}) but no delivery",
            d.id,
            sources.join(", ")
        ));
    }
    for delivery in deliveries {
        let Some(destination) = delivery
            .delivery_destination_arn()
            .and_then(|arn| arn.rsplit_once("delivery-destination:"))
            .map(|(_, name)| name.to_string())
        else {
            continue;
        };
        let described = match logs
            .get_delivery_destination()
            .name(&destination)
            .send()
            .await
        {
            Ok(out) => out.delivery_destination().cloned(),
            Err(e) => {
                found.note(format!(
                    "logs:GetDeliveryDestination {destination} failed ({}): that delivery was not read",
                    error_text(&e)
                ));
                continue;
            }
        };
        let Some(described) = described else { continue };
        let target = described
            .delivery_destination_configuration()
            .map(|c| c.destination_resource_arn().to_string())
            .unwrap_or_default();
        let output = described
            .output_format()
            .map(|f| f.as_str().to_string())
            .unwrap_or_else(|| "json".into());
        let fields: Vec<String> = delivery.record_fields().to_vec();
        let delimiter = delivery.field_delimiter().unwrap_or("\t").to_string();
        let in_lines = |file_has_header: bool| -> Option<LogFormat> {
            match output.as_str() {
                "json" => Some(LogFormat::Json),
                "w3c" if file_has_header => Some(LogFormat::W3c),
                "w3c" | "plain" | "raw" => Some(LogFormat::Delimited {
                    fields: fields.clone(),
                    delimiter: delimiter.clone(),
                }),
                _ => None,
            }
        };
        let service = target.split(':').nth(2).unwrap_or_default();
        match service {
            "logs" => {
                let region = target.split(':').nth(3).unwrap_or("us-east-1").to_string();
                let name = target
                    .split_once(":log-group:")
                    .map(|(_, name)| name.trim_end_matches(":*").to_string())
                    .unwrap_or_default();
                match in_lines(false) {
                    Some(format) => found.sources.push(Source::LogGroup {
                        name,
                        region,
                        format,
                    }),
                    None => found.note(format!(
                        "log group {name} receives {output}, which cf-doctor does not read"
                    )),
                }
            }
            "s3" => {
                let Some(format) = in_lines(true) else {
                    found.note(format!(
                        "{target} receives {output} files, which cf-doctor does not read"
                    ));
                    continue;
                };
                let suffix = delivery
                    .s3_delivery_configuration()
                    .and_then(|c| c.suffix_path())
                    .unwrap_or_default()
                    .to_string();
                found.append(s3_destination(sdk, d, window, &target, &suffix, format).await);
            }
            _ => found.note(format!(
                "standard logging v2 delivers to {target}, which keeps nothing to read back"
            )),
        }
    }
    found
}

impl Found {
    fn append(&mut self, mut other: Found) {
        self.sources.append(&mut other.sources);
        self.notes.append(&mut other.notes);
    }
}

/// The names of the delivery sources of `arn`'s access logs.
async fn delivery_sources(
    logs: &aws_sdk_cloudwatchlogs::Client,
    arn: &str,
) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .describe_delivery_sources()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        names.extend(page.delivery_sources().iter().filter_map(|s| {
            let ours = s.resource_arns().iter().any(|r| r == arn)
                && s.log_type().is_none_or(|t| t == "ACCESS_LOGS");
            ours.then(|| s.name().unwrap_or_default().to_string())
        }));
        match page.next_token() {
            Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
            _ => return Ok(names),
        }
    }
}

/// The deliveries whose source is one of `sources`.
async fn deliveries(
    logs: &aws_sdk_cloudwatchlogs::Client,
    sources: &[String],
) -> Result<Vec<aws_sdk_cloudwatchlogs::types::Delivery>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .describe_deliveries()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        out.extend(
            page.deliveries()
                .iter()
                .filter(|d| {
                    d.delivery_source_name()
                        .is_some_and(|s| sources.iter().any(|n| n == s))
                })
                .cloned(),
        );
        match page.next_token() {
            Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
            _ => return Ok(out),
        }
    }
}

/// The files of a v2 S3 destination (`arn:aws:s3:::BUCKET/PREFIX`) for the window: under the
/// prefix and the delivery's suffix path, its variables filled in for each hour (a variable
/// cf-doctor does not know ends the listed prefix there).
async fn s3_destination(
    sdk: &aws_config::SdkConfig,
    d: &Distribution,
    window: &Window,
    target: &str,
    suffix: &str,
    format: LogFormat,
) -> Found {
    let mut found = Found::default();
    let location = target.trim_start_matches("arn:aws:s3:::");
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    let account = d.arn.split(':').nth(4).unwrap_or_default();
    let mut prefixes: Vec<String> = hours(window)
        .iter()
        .map(|hour| {
            let path = format!(
                "{}/{}",
                prefix.trim_end_matches('/'),
                suffix.trim_start_matches('/')
            );
            expand(path.trim_start_matches('/'), &d.id, account, *hour)
        })
        .collect();
    prefixes.sort();
    prefixes.dedup();
    let region = match bucket_region(sdk, bucket).await {
        Ok(region) => region,
        Err(error) => {
            found.note(format!(
                "s3:GetBucketLocation on {bucket} failed ({error}): its v2 log files were not read"
            ));
            return found;
        }
    };
    let s3 = aws_sdk_s3::Client::new(&in_region(sdk, &region));
    match list(&s3, bucket, prefixes).await {
        Ok(keys) if keys.is_empty() => found.note(format!(
            "no standard logging v2 file under s3://{location} for the window: CloudFront delivers them within minutes to an hour"
        )),
        Ok(keys) => found.sources.extend(keys.into_iter().map(|key| Source::S3 {
            bucket: bucket.to_string(),
            format: format.clone(),
            key,
            region: region.clone(),
        })),
        Err(error) => found.note(format!(
            "s3:ListObjectsV2 on {bucket} failed ({error}): its v2 log files were not read"
        )),
    }
    found
}

/// A suffix path with `{DistributionId}`, `{accountid}`, `{account-id}`, `{yyyy}`, `{MM}`,
/// `{dd}` and `{HH}` filled in; it ends before the first variable it does not know.
fn expand(path: &str, id: &str, account: &str, hour: DateTime<Utc>) -> String {
    let mut out = path
        .replace("{DistributionId}", id)
        .replace("{distributionid}", id)
        .replace("{accountid}", account)
        .replace("{account-id}", account)
        .replace("{yyyy}", &hour.format("%Y").to_string())
        .replace("{MM}", &hour.format("%m").to_string())
        .replace("{dd}", &hour.format("%d").to_string())
        .replace("{HH}", &hour.format("%H").to_string());
    if let Some(at) = out.find('{') {
        out.truncate(at);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hour_the_window_touches_is_listed() {
        let window = Window {
            from: "2026-12-03T09:30:00Z".parse().unwrap(),
            to: "2026-12-03T11:00:00Z".parse().unwrap(),
        };
        let listed: Vec<String> = hours(&window)
            .iter()
            .map(|h| h.format("%Y-%m-%d-%H").to_string())
            .collect();
        assert_eq!(listed, ["2026-12-03-09", "2026-12-03-10"]);
    }

    #[test]
    fn a_suffix_path_is_filled_in_up_to_what_is_not_known() {
        let hour: DateTime<Utc> = "2026-12-03T09:00:00Z".parse().unwrap();
        assert_eq!(
            expand(
                "logs/DistributionId={DistributionId}/year={yyyy}/month={MM}/day={dd}/hour={HH}/",
                "E1",
                "123456789012",
                hour
            ),
            "logs/DistributionId=E1/year=2026/month=12/day=03/hour=09/"
        );
        assert_eq!(
            expand(
                "AWSLogs/{account-id}/CloudFront/{unknown}/x",
                "E1",
                "1",
                hour
            ),
            "AWSLogs/1/CloudFront/"
        );
    }
}
