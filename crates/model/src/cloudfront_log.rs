//! CloudFront's own record of the requests it served: read from real-time logs at alarm time, or
//! from standard logs after the fact (`postmortem`), tallied the same way: the 5xx by result
//! type, status, edge location and path, when they began and ended, and (after the fact) minute
//! by minute. Bounded whatever the volume: a few counters per distinct key, at most
//! `MAX_KEYS` keys per tally.

pub mod record;

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::build_info::BuildInfo;

pub use record::{LineReader, LogFormat, LogRecord, RecordError};

/// Distinct values counted per field before the rest are counted as `(other)`.
pub const MAX_KEYS: usize = 1000;

/// Paths shown in a postmortem, the most failing first.
pub const TOP_PATHS: usize = 20;

pub const POSTMORTEM_SCHEMA: &str = "cf-doctor/postmortem/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// `from` included, `to` excluded.
    pub fn holds(&self, at: DateTime<Utc>) -> bool {
        at >= self.from && at < self.to
    }
}

/// Origin first-byte latency of the logged 5xx that reached the origin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean_ms: u64,
    pub max_ms: u64,
}

/// What CloudFront logged of a window, summarised (the diagnosis's `cloudfront_log`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudfrontLog {
    /// Where it was read: `real-time log config NAME (Kinesis stream ARN)`.
    pub source: String,
    /// The percentage of requests the real-time configuration logs (1 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rate: Option<u32>,
    pub window: Window,
    /// Records read in the window.
    pub records: u64,
    pub errors_5xx: u64,
    /// Counts of the 5xx records, by `x-edge-detailed-result-type`.
    pub by_result_type: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_edge_location: BTreeMap<String, u64>,
    /// By cache behaviour path pattern when logged, else by the path's first segment.
    pub by_path: BTreeMap<String, u64>,
    pub first_error_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_first_byte: Option<Latency>,
    /// Why not every record of the window was read (a bound, the deadline), when so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

impl CloudfrontLog {
    /// The result type most 5xx records carry, with its count.
    pub fn dominant(&self) -> Option<(&str, u64)> {
        self.by_result_type
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(t, n)| (t.as_str(), *n))
    }

    /// How many 5xx records carry one of `types`.
    pub fn count_of(&self, types: &[&str]) -> u64 {
        types
            .iter()
            .filter_map(|t| self.by_result_type.get(*t))
            .sum()
    }

    /// `812 of 840` scaled to what was logged: with sampling below 100%, about how many requests
    /// that stands for.
    pub fn scaled(&self, count: u64) -> u64 {
        match self.sampling_rate {
            Some(rate) if rate > 0 && rate < 100 => count * 100 / u64::from(rate),
            _ => count,
        }
    }
}

/// A past window's incident as the standard logs tell it (`cf-doctor/postmortem/v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Postmortem {
    pub schema: String,
    /// The build that made it (`cf_doctor_version`, `cf_doctor_commit`), beside the schema.
    #[serde(flatten, default)]
    pub build: BuildInfo,
    pub distribution_id: String,
    pub window: Window,
    /// What was read: `s3://bucket/prefix/ID.2026-12-03-09.abc.gz`, a log group, ...
    pub sources: Vec<String>,
    pub requests: u64,
    pub errors_5xx: u64,
    pub first_error_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub by_result_type: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_edge_location: BTreeMap<String, u64>,
    /// The 20 paths with the most 5xx, most first.
    pub by_path: Vec<PathCount>,
    /// Every minute of the window that had a request.
    pub timeline: Vec<Minute>,
    /// Records dated outside the window (delivered late into a file of the window), not counted.
    pub outside_window: u64,
    /// Lines that were not log records, and the first one's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<Unreadable>,
    /// Where cf-doctor looked and found nothing, or could not read, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathCount {
    pub path: String,
    pub errors_5xx: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minute {
    pub minute: DateTime<Utc>,
    pub requests: u64,
    pub errors_5xx: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    pub lines: u64,
    pub first: String,
}

/// Counts keyed by a field's value, at most `MAX_KEYS` distinct ones.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counts(BTreeMap<String, u64>);

impl Counts {
    fn add(&mut self, key: &str) {
        if let Some(n) = self.0.get_mut(key) {
            *n += 1;
        } else if self.0.len() < MAX_KEYS {
            self.0.insert(key.to_string(), 1);
        } else {
            *self.0.entry("(other)".into()).or_default() += 1;
        }
    }
}

/// The tally of one window's records, fed one record at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct LogTally {
    window: Window,
    requests: u64,
    errors_5xx: u64,
    by_result_type: Counts,
    by_status: Counts,
    by_edge_location: Counts,
    by_path: Counts,
    first_error_at: Option<DateTime<Utc>>,
    last_error_at: Option<DateTime<Utc>>,
    first_byte_total_ms: u64,
    first_byte_max_ms: u64,
    first_byte_count: u64,
    /// Requests and 5xx per minute (kept only for a postmortem).
    timeline: Option<BTreeMap<DateTime<Utc>, (u64, u64)>>,
    outside_window: u64,
    unreadable: u64,
    first_unreadable: Option<String>,
}

/// `/api/*` for `/api/cart`, `/` for `/`: where in the site a request went.
fn path_prefix(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((first, _)) if !first.is_empty() => format!("/{first}/*"),
        _ if trimmed.is_empty() => "/".to_string(),
        _ => format!("/{trimmed}"),
    }
}

impl LogTally {
    /// A tally of `window`; `timeline` keeps the minute-by-minute counts (a postmortem's).
    pub fn new(window: Window, timeline: bool) -> LogTally {
        LogTally {
            window,
            requests: 0,
            errors_5xx: 0,
            by_result_type: Counts::default(),
            by_status: Counts::default(),
            by_edge_location: Counts::default(),
            by_path: Counts::default(),
            first_error_at: None,
            last_error_at: None,
            first_byte_total_ms: 0,
            first_byte_max_ms: 0,
            first_byte_count: 0,
            timeline: timeline.then(BTreeMap::new),
            outside_window: 0,
            unreadable: 0,
            first_unreadable: None,
        }
    }

    /// Counts one record: only one dated inside the window.
    pub fn add(&mut self, record: &LogRecord) {
        let Some(at) = record.at.filter(|at| self.window.holds(*at)) else {
            self.outside_window += 1;
            return;
        };
        self.requests += 1;
        let is_5xx = record.is_5xx();
        if let Some(timeline) = &mut self.timeline {
            let minute = at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at);
            let counts = timeline.entry(minute).or_default();
            counts.0 += 1;
            counts.1 += u64::from(is_5xx);
        }
        if !is_5xx {
            return;
        }
        self.errors_5xx += 1;
        self.first_error_at = Some(self.first_error_at.map_or(at, |t| t.min(at)));
        self.last_error_at = Some(self.last_error_at.map_or(at, |t| t.max(at)));
        self.by_result_type
            .add(record.result_type.as_deref().unwrap_or("(none)"));
        if let Some(status) = record.status {
            self.by_status.add(&status.to_string());
        }
        self.by_edge_location
            .add(record.edge_location.as_deref().unwrap_or("(none)"));
        let path = match (&record.behaviour, &record.path) {
            (Some(behaviour), _) => behaviour.clone(),
            (None, Some(path)) => path_prefix(path),
            (None, None) => "(none)".to_string(),
        };
        self.by_path.add(&path);
        if let Some(seconds) = record.origin_first_byte_s {
            let ms = (seconds * 1000.0).round().max(0.0) as u64;
            self.first_byte_total_ms += ms;
            self.first_byte_max_ms = self.first_byte_max_ms.max(ms);
            self.first_byte_count += 1;
        }
    }

    /// A line that was not a record.
    pub fn unreadable(&mut self, why: String) {
        self.unreadable += 1;
        self.first_unreadable.get_or_insert(why);
    }

    /// Records counted (inside the window).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// What the diagnosis shows.
    pub fn summary(&self, source: String, sampling_rate: Option<u32>) -> CloudfrontLog {
        CloudfrontLog {
            source,
            sampling_rate,
            window: self.window,
            records: self.requests,
            errors_5xx: self.errors_5xx,
            by_result_type: self.by_result_type.0.clone(),
            by_status: self.by_status.0.clone(),
            by_edge_location: self.by_edge_location.0.clone(),
            by_path: self.by_path.0.clone(),
            first_error_at: self.first_error_at,
            last_error_at: self.last_error_at,
            origin_first_byte: (self.first_byte_count > 0).then(|| Latency {
                mean_ms: self.first_byte_total_ms / self.first_byte_count,
                max_ms: self.first_byte_max_ms,
            }),
            incomplete: None,
        }
    }

    /// What `cf-doctor postmortem` prints.
    pub fn postmortem(&self, distribution_id: &str, sources: Vec<String>) -> Postmortem {
        let mut paths: Vec<PathCount> = self
            .by_path
            .0
            .iter()
            .map(|(path, n)| PathCount {
                path: path.clone(),
                errors_5xx: *n,
            })
            .collect();
        paths.sort_by(|a, b| b.errors_5xx.cmp(&a.errors_5xx).then(a.path.cmp(&b.path)));
        paths.truncate(TOP_PATHS);
        Postmortem {
            schema: POSTMORTEM_SCHEMA.to_string(),
            build: BuildInfo::default(),
            distribution_id: distribution_id.to_string(),
            window: self.window,
            sources,
            requests: self.requests,
            errors_5xx: self.errors_5xx,
            first_error_at: self.first_error_at,
            last_error_at: self.last_error_at,
            by_result_type: self.by_result_type.0.clone(),
            by_status: self.by_status.0.clone(),
            by_edge_location: self.by_edge_location.0.clone(),
            by_path: paths,
            timeline: self
                .timeline
                .iter()
                .flatten()
                .map(|(minute, (requests, errors))| Minute {
                    minute: *minute,
                    requests: *requests,
                    errors_5xx: *errors,
                })
                .collect(),
            outside_window: self.outside_window,
            unreadable: self.first_unreadable.as_ref().map(|first| Unreadable {
                lines: self.unreadable,
                first: first.clone(),
            }),
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32, second: u32) -> DateTime<Utc> {
        format!("2026-12-03T09:{minute:02}:{second:02}Z")
            .parse()
            .unwrap()
    }

    fn logged(minute: u32, status: u16, result: &str, path: &str) -> LogRecord {
        LogRecord {
            at: Some(at(minute, 10)),
            status: Some(status),
            result_type: Some(result.into()),
            edge_location: Some("IAD89-C1".into()),
            path: Some(path.into()),
            behaviour: None,
            origin_first_byte_s: Some(0.25),
        }
    }

    fn window() -> Window {
        Window {
            from: at(0, 0),
            to: at(30, 0),
        }
    }

    #[test]
    fn the_5xx_are_tallied_and_records_outside_the_window_are_not_counted() {
        let mut tally = LogTally::new(window(), true);
        tally.add(&logged(1, 200, "Miss", "/index.html"));
        tally.add(&logged(2, 502, "OriginConnectError", "/api/cart"));
        tally.add(&logged(3, 502, "OriginConnectError", "/api/pay"));
        tally.add(&logged(4, 504, "OriginCommError", "/"));
        tally.add(&LogRecord {
            at: Some(at(45, 0)),
            ..logged(45, 502, "OriginConnectError", "/api/late")
        });
        let log = tally.summary("test".into(), Some(10));
        assert_eq!((log.records, log.errors_5xx), (4, 3));
        assert_eq!(log.dominant(), Some(("OriginConnectError", 2)));
        assert_eq!(log.by_path["/api/*"], 2);
        assert_eq!(log.by_path["/"], 1);
        assert_eq!(log.by_status["502"], 2);
        assert_eq!(log.first_error_at, Some(at(2, 10)));
        assert_eq!(log.last_error_at, Some(at(4, 10)));
        assert_eq!(log.origin_first_byte.unwrap().mean_ms, 250);
        assert_eq!(log.scaled(2), 20, "10% sampling: about ten times as many");
        let pm = tally.postmortem("E1", vec![]);
        assert_eq!(pm.outside_window, 1);
        assert_eq!(pm.timeline.len(), 4);
        assert_eq!(pm.timeline[1].minute, at(2, 0));
        assert_eq!((pm.timeline[1].requests, pm.timeline[1].errors_5xx), (1, 1));
        assert_eq!(pm.by_path[0].path, "/api/*");
    }

    #[test]
    fn distinct_keys_are_bounded() {
        let mut tally = LogTally::new(window(), false);
        for i in 0..(MAX_KEYS + 50) {
            tally.add(&logged(1, 502, "OriginError", &format!("/p{i}")));
        }
        let log = tally.summary("test".into(), None);
        assert_eq!(log.by_path.len(), MAX_KEYS + 1);
        assert_eq!(log.by_path["(other)"], 50);
    }

    #[test]
    fn paths_are_grouped_by_their_first_segment() {
        assert_eq!(path_prefix("/api/v1/cart"), "/api/*");
        assert_eq!(path_prefix("/"), "/");
        assert_eq!(path_prefix("/favicon.ico"), "/favicon.ico");
    }
}
