//! CloudFront's own record of the alarm's window, from its real-time logs: the configuration a
//! cache behaviour names (GetRealtimeLogConfig: the fields in the order CloudFront delivers them,
//! the sampling rate, the Kinesis stream), then every shard of the stream, side by side, from the window's start
//! (ListShards, GetShardIterator AT_TIMESTAMP, GetRecords), each record parsed by the
//! configuration's field order and tallied. Bounded in records, bytes and time, and never past
//! the deadline: what was left unread is said.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/real-time-logs.html>

use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::{DateTime, TimeDelta, Utc};

use crate::ratelimit::RateLimiter;
use crate::{error_text, Budget, Collector};
use cf_doctor_model::cloudfront_log::{LineReader, LogFormat, LogTally, Window};
use cf_doctor_model::evidence::{Distribution, Evidence, Gap, METRIC_WINDOW_MINUTES};
use cf_doctor_model::{Check, CheckOutcome};

/// Records read from the stream at most, all shards together.
const MAX_RECORDS: u64 = 50_000;
/// Bytes of record data read at most.
const MAX_BYTES: u64 = 32 * 1024 * 1024;
/// How long the reading may take, whatever the deadline leaves.
const MAX_READING: Duration = Duration::from_secs(20);
/// Records asked for per GetRecords call.
const PAGE: i32 = 10_000;
/// Kinesis serves 5 GetRecords calls per second per shard.
const GET_RECORDS_PER_SECOND: u32 = 5;
/// Shards read at most (a larger stream is named as read in part).
const MAX_SHARDS: usize = 16;
/// Configurations read at most (behaviours may name different ones).
const MAX_CONFIGS: usize = 3;

/// Why a reading stopped before the end of the stream.
struct Stop(Option<String>);

impl Collector {
    /// What CloudFront logged of the window that ends at the evidence's clock, when a cache
    /// behaviour has a real-time log configuration; else a check saying where the record is.
    pub(crate) async fn realtime_logs(
        &self,
        distribution: &Distribution,
        evidence: &mut Evidence,
        budget: &Budget,
    ) {
        let started = Instant::now();
        let window = Window {
            from: evidence.now - TimeDelta::minutes(METRIC_WINDOW_MINUTES),
            to: evidence.now,
        };
        if distribution.logs.realtime.is_empty() {
            evidence.checks.push(Check::new(
                "cloudfront-log",
                &distribution.id,
                CheckOutcome::Skipped,
                0,
                Some(no_realtime_logs(distribution)),
            ));
            return;
        }
        let mut tally = LogTally::new(window, false);
        let mut sources = Vec::new();
        let mut sampling = None;
        let mut stopped: Option<String> = None;
        let deadline = Instant::now() + MAX_READING;
        for used in distribution.logs.realtime.iter().take(MAX_CONFIGS) {
            let config = match self
                .cloudfront
                .get_realtime_log_config()
                .arn(&used.arn)
                .send()
                .await
            {
                Ok(out) => out.realtime_log_config().cloned(),
                Err(e) => {
                    evidence.gaps.push(Gap::new(
                        "cloudfront:GetRealtimeLogConfig",
                        &used.arn,
                        error_text(&e),
                        "what CloudFront logged of the alarm's requests (its real-time logs)",
                    ));
                    continue;
                }
            };
            let Some(config) = config else {
                evidence.gaps.push(Gap::new(
                    "cloudfront:GetRealtimeLogConfig",
                    &used.arn,
                    "the answer carried no configuration".into(),
                    "what CloudFront logged of the alarm's requests (its real-time logs)",
                ));
                continue;
            };
            let fields: Vec<String> = config.fields().to_vec();
            if config.end_points().is_empty() {
                evidence.gaps.push(Gap::new(
                    "cloudfront:GetRealtimeLogConfig",
                    &used.arn,
                    "the configuration names no Kinesis stream".into(),
                    "what CloudFront logged of the alarm's requests (its real-time logs)",
                ));
            }
            sampling = Some(u32::try_from(config.sampling_rate()).unwrap_or(100));
            for endpoint in config.end_points() {
                let Some(stream) = endpoint.kinesis_stream_config().map(|k| k.stream_arn()) else {
                    continue;
                };
                sources.push(format!(
                    "real-time log config {} (Kinesis stream {})",
                    config.name(),
                    stream_name(stream)
                ));
                let reading = self
                    .read_stream(stream, &fields, window, &mut tally, budget, deadline)
                    .await;
                match reading {
                    Ok(Stop(None)) => {}
                    Ok(Stop(Some(why))) => {
                        stopped.get_or_insert(why);
                    }
                    Err(gap) => evidence.gaps.push(gap),
                }
            }
        }
        if sources.is_empty() {
            return;
        }
        let mut log = tally.summary(sources.join("; "), sampling);
        log.incomplete = stopped;
        evidence.checks.push(Check::since(
            "cloudfront-log",
            &distribution.id,
            CheckOutcome::Pass,
            started,
            Some(format!(
                "{} record(s) of the last {METRIC_WINDOW_MINUTES} minutes read from {}, {} of them 5xx",
                log.records, log.source, log.errors_5xx
            )),
        ));
        evidence.cloudfront_log = Some(log);
    }

    /// Every shard of `stream` from the window's start, paced per shard; Err when the stream
    /// could not be read at all.
    async fn read_stream(
        &self,
        stream: &str,
        fields: &[String],
        window: Window,
        tally: &mut LogTally,
        budget: &Budget,
        deadline: Instant,
    ) -> Result<Stop, Gap> {
        let region = stream.split(':').nth(3).unwrap_or("us-east-1");
        let kinesis = self.kinesis_for(region);
        let gap = |action: &str, error: String| {
            Gap::new(
                action,
                stream,
                error,
                "what CloudFront logged of the alarm's requests (its real-time logs)",
            )
        };
        let shards = list_shards(&kinesis, stream)
            .await
            .map_err(|e| gap("kinesis:ListShards", e))?;
        let mut stop = None;
        if shards.len() > MAX_SHARDS {
            stop = Some(format!(
                "{} of the stream's {} shards read",
                MAX_SHARDS,
                shards.len()
            ));
        }
        let start = aws_smithy_types::DateTime::from_millis(window.from.timestamp_millis());
        let iterators = futures::future::join_all(shards.iter().take(MAX_SHARDS).map(|shard| {
            kinesis
                .get_shard_iterator()
                .stream_arn(stream)
                .shard_id(shard)
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(start)
                .send()
        }))
        .await;
        // Every shard side by side (Kinesis paces each shard on its own): the reading waits for
        // the slowest shard, not for the sum of them. The tally and the bounds are shared.
        let shared = std::sync::Mutex::new(Shared {
            tally,
            records: 0,
            bytes: 0,
        });
        let reads = iterators.into_iter().map(|iterator| {
            let shared = &shared;
            let kinesis = &kinesis;
            async move {
                let first = iterator
                    .map_err(|e| ("kinesis:GetShardIterator", error_text(&e)))?
                    .shard_iterator()
                    .map(str::to_string);
                read_shard(
                    kinesis, stream, first, fields, window, shared, budget, deadline,
                )
                .await
            }
        });
        let outcomes = futures::future::join_all(reads).await;
        for outcome in outcomes {
            match outcome {
                Ok(Some(why)) => {
                    stop.get_or_insert(why);
                }
                Ok(None) => {}
                // The first shard that could not be read is the gap; the others' records count.
                Err((action, error)) => return Err(gap(action, error)),
            }
        }
        Ok(Stop(stop))
    }

    /// The Kinesis client for a stream's region.
    fn kinesis_for(&self, region: &str) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::new(
            &self
                .sdk
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build(),
        )
    }
}

/// What the shards of one stream add to together, under one lock held only between awaits.
struct Shared<'a> {
    tally: &'a mut LogTally,
    records: u64,
    bytes: u64,
}

/// One shard from its first iterator until its records pass the window's end, it is caught up
/// (a page at the tip of the stream: MillisBehindLatest 0), or a bound or the deadline stops it
/// (the reason is returned). Err names the call that failed.
#[allow(clippy::too_many_arguments)]
async fn read_shard(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    first: Option<String>,
    fields: &[String],
    window: Window,
    shared: &std::sync::Mutex<Shared<'_>>,
    budget: &Budget,
    deadline: Instant,
) -> Result<Option<String>, (&'static str, String)> {
    let mut reader = LineReader::new(LogFormat::Tabbed(fields.to_vec()));
    let pace = RateLimiter::per_second(GET_RECORDS_PER_SECOND);
    let mut next = first;
    while let Some(current) = next.take() {
        if Instant::now() >= deadline || !budget.allows_start() {
            return Ok(Some("the time set aside for reading ran out".into()));
        }
        {
            let shared = shared.lock().unwrap_or_else(|p| p.into_inner());
            if shared.records >= MAX_RECORDS || shared.bytes >= MAX_BYTES {
                return Ok(Some(format!(
                    "the first {} records ({} bytes) were read, the most a diagnosis reads",
                    shared.records, shared.bytes
                )));
            }
        }
        pace.acquire().await;
        let page = kinesis
            .get_records()
            .shard_iterator(current)
            .stream_arn(stream)
            .limit(PAGE)
            .send()
            .await
            .map_err(|e| ("kinesis:GetRecords", error_text(&e)))?;
        let mut past_window = false;
        {
            let mut shared = shared.lock().unwrap_or_else(|p| p.into_inner());
            for record in page.records() {
                shared.records += 1;
                shared.bytes += record.data().as_ref().len() as u64;
                let arrived = record
                    .approximate_arrival_timestamp()
                    .and_then(|t| DateTime::<Utc>::from_timestamp_millis(t.to_millis().ok()?));
                past_window |= arrived.is_some_and(|t| t >= window.to);
                let text = String::from_utf8_lossy(record.data().as_ref());
                // A record may hold one line or several (CloudFront sends one per record).
                for line in text.lines() {
                    match reader.read(line) {
                        Ok(Some(logged)) => shared.tally.add(&logged),
                        Ok(None) => {}
                        Err(e) => shared.tally.unreadable(e.to_string()),
                    }
                }
            }
        }
        // At the tip, asking again only waits for requests made after the diagnosis began. An
        // empty page behind the tip is a stretch of time with no records: read on.
        // A full page may stop short of the tip within the same millisecond: ask again then.
        let full = page.records().len() >= PAGE as usize;
        let caught_up = match page.millis_behind_latest() {
            Some(behind) => behind == 0 && !full,
            None => page.records().is_empty(),
        };
        if past_window || caught_up {
            break;
        }
        next = page.next_shard_iterator().map(str::to_string);
    }
    Ok(None)
}

/// Every shard id of the stream, page by page.
async fn list_shards(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<String>, String> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = match &token {
            // With a token, the stream must not be named again.
            Some(token) => kinesis.list_shards().next_token(token),
            None => kinesis.list_shards().stream_arn(stream),
        };
        let page = request.send().await.map_err(|e| error_text(&e))?;
        shards.extend(page.shards().iter().map(|s| s.shard_id().to_string()));
        match page.next_token() {
            Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
            _ => return Ok(shards),
        }
    }
}

/// `shop-rt` of `arn:aws:kinesis:us-east-1:123456789012:stream/shop-rt`.
fn stream_name(arn: &str) -> &str {
    arn.rsplit_once("stream/")
        .map(|(_, name)| name)
        .unwrap_or(arn)
}

/// Where CloudFront's record is when no behaviour has a real-time log configuration.
fn no_realtime_logs(distribution: &Distribution) -> String {
    let standard = match &distribution.logs.standard {
        Some(standard) => format!("its standard logs ({})", standard.location()),
        None => "its standard logs, if enabled (legacy logging to S3 is off; standard logging v2 is found by `cf-doctor postmortem`)".to_string(),
    };
    format!(
        "no cache behaviour has a real-time log configuration: CloudFront's own record of these requests is only in {standard}, delivered within the hour; `cf-doctor postmortem {} --from ... --to ...` reads them then",
        distribution.id
    )
}
