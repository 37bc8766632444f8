//! `cf-doctor postmortem`: a past window's incident as CloudFront's standard logs tell it (when
//! 5xx began and ended, how many, by result type, edge location and path, minute by minute),
//! read from the legacy log files and the standard logging v2 destinations (`sources`), each
//! streamed (`lines`): a window of any size is read in the memory of a few chunks.

mod lines;
pub mod sources;

use cf_doctor_collect::sweep::Progress;
use cf_doctor_collect::Budget;
use cf_doctor_model::cloudfront_log::{LineReader, LogTally, Postmortem, Window};

use crate::App;
use lines::{Decoder, LineSink};
use sources::Source;

/// The longest window read at once.
pub const MAX_WINDOW_DAYS: i64 = 31;

impl App {
    /// The incident of `window` on distribution `id`, from every standard log source found.
    /// Err only when the distribution cannot be read; a source that cannot be read is a note.
    pub async fn postmortem(
        &self,
        id: &str,
        window: Window,
        progress: &dyn Progress,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Postmortem, cf_doctor_collect::CollectError> {
        let budget = Budget {
            deadline,
            reserve: cf_doctor_collect::DELIVERY_RESERVE,
        };
        let (distribution, _) = cf_doctor_collect::cloudfront::get_distribution(
            &self.collector.cloudfront,
            id,
            &budget,
        )
        .await
        .map_err(|e| e.with_endpoint(&self.collector.endpoint))?;
        let sdk = &self.collector.sdk;
        progress.phase("finding the logs", 2);
        let (mut legacy, v2) = tokio::join!(
            sources::legacy(sdk, &distribution, &window),
            sources::v2(sdk, &distribution, &window)
        );
        progress.advance();
        progress.advance();
        legacy.sources.extend(v2.sources);
        legacy.notes.extend(v2.notes);
        let (found, mut notes) = (legacy.sources, legacy.notes);
        let mut tally = LogTally::new(window, true);
        let mut read = Vec::new();
        progress.phase("reading log files", found.len() as u64);
        for (n, source) in found.iter().enumerate() {
            if !budget.allows_start() {
                notes.push(format!(
                    "stopped before the deadline: {} of {} sources read",
                    n,
                    found.len()
                ));
                break;
            }
            match read_source(sdk, source, &window, &mut tally).await {
                Ok(()) => read.push(source.name()),
                Err(error) => notes.push(format!("{} could not be read: {error}", source.name())),
            }
            progress.advance();
        }
        progress.finish();
        if read.is_empty() {
            notes.push(format!(
                "no log of {id} was read for {} to {}: CloudFront delivers standard logs within an hour of the requests, sometimes later",
                window.from.to_rfc3339(),
                window.to.to_rfc3339()
            ));
        }
        let mut postmortem = tally.postmortem(id, read);
        postmortem.notes = notes;
        Ok(postmortem)
    }
}

/// Streams one source into the tally.
async fn read_source(
    sdk: &aws_config::SdkConfig,
    source: &Source,
    window: &Window,
    tally: &mut LogTally,
) -> Result<(), String> {
    match source {
        Source::S3 {
            bucket,
            key,
            region,
            format,
        } => {
            let s3 = aws_sdk_s3::Client::new(&sources::in_region(sdk, region));
            let object = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| cf_doctor_aws::error_text(&e))?;
            let gzipped = key.ends_with(".gz")
                || object
                    .content_encoding()
                    .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
            let mut body = object.body;
            let mut decoder = Decoder::new(
                LineSink::new(LineReader::new(format.clone()), tally),
                gzipped,
            );
            while let Some(chunk) = body.try_next().await.map_err(|e| e.to_string())? {
                decoder.feed(&chunk).map_err(|e| e.to_string())?;
            }
            decoder.finish().map_err(|e| e.to_string())?;
            Ok(())
        }
        Source::LogGroup {
            name,
            region,
            format,
        } => {
            let logs = aws_sdk_cloudwatchlogs::Client::new(&sources::in_region(sdk, region));
            let mut sink = LineSink::new(LineReader::new(format.clone()), tally);
            let mut token: Option<String> = None;
            loop {
                let page = logs
                    .filter_log_events()
                    .log_group_name(name)
                    .start_time(window.from.timestamp_millis())
                    .end_time(window.to.timestamp_millis())
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| cf_doctor_aws::error_text(&e))?;
                for event in page.events() {
                    use std::io::Write;
                    let message = event.message().unwrap_or_default();
                    let _ = sink.write_all(message.as_bytes());
                    let _ = sink.write_all(b"\n");
                }
                match page.next_token() {
                    Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
                    _ => break,
                }
            }
            sink.finish();
            Ok(())
        }
    }
}
