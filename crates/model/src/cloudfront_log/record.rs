//! One request as CloudFront logged it, read from any of its three log forms: a real-time log
//! record (tab-separated, no header, fields in the order CloudFront delivers them, which the
//! configuration's `Fields` list gives), a standard log line (W3C: tab-separated, fields named by
//! the file's `#Fields:` header), or a standard logging v2 JSON line (field names as keys, values
//! as strings). `-` is an empty value; values are URL-encoded.
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/real-time-logs.html>,
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html>

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};

/// What cf-doctor reads of one logged request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRecord {
    pub at: Option<DateTime<Utc>>,
    /// `sc-status` (None for `000`, a viewer that went away first, or a value not a number).
    pub status: Option<u16>,
    /// `x-edge-detailed-result-type`, else `x-edge-result-type` (logs without the detailed one).
    pub result_type: Option<String>,
    pub edge_location: Option<String>,
    /// `cs-uri-stem`, without its query string, URL-decoded.
    pub path: Option<String>,
    /// `cache-behavior-path-pattern`, when logged.
    pub behaviour: Option<String>,
    /// `origin-fbl`: seconds from CloudFront's request to the origin's first byte.
    pub origin_first_byte_s: Option<f64>,
}

impl LogRecord {
    pub fn is_5xx(&self) -> bool {
        self.status.is_some_and(|s| (500..600).contains(&s))
    }
}

/// A line that is not a log record, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("{found} fields where {expected} were expected")]
    FieldCount { found: usize, expected: usize },
    #[error("not a JSON object: {0}")]
    Json(String),
    #[error("no #Fields header before the first record")]
    NoFieldsHeader,
}

/// How to read the lines of one log source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    /// Real-time records: tab-separated values in the order of these field names.
    Tabbed(Vec<String>),
    /// Standard logging v2 `plain` (or W3C lines delivered without their header, as a CloudWatch
    /// Logs event is): values split by the delivery's field delimiter, in its record fields'
    /// order.
    Delimited {
        fields: Vec<String>,
        delimiter: String,
    },
    /// W3C (standard logs, legacy or v2): the `#Fields:` header names the columns.
    W3c,
    /// Standard logging v2 as JSON: one object per line.
    Json,
}

/// Reads lines of one source, keeping what its header said.
#[derive(Debug, Clone)]
pub struct LineReader {
    format: LogFormat,
    /// The columns of a W3C source, once its `#Fields:` header was read.
    w3c_fields: Option<Vec<String>>,
}

impl LineReader {
    pub fn new(format: LogFormat) -> LineReader {
        LineReader {
            format,
            w3c_fields: None,
        }
    }

    /// The record on `line`; Ok(None) for a header, a comment or an empty line.
    pub fn read(&mut self, line: &str) -> Result<Option<LogRecord>, RecordError> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            return Ok(None);
        }
        match &self.format {
            LogFormat::Tabbed(fields) => delimited(fields, "\t", line).map(Some),
            LogFormat::Delimited { fields, delimiter } => {
                delimited(fields, delimiter, line).map(Some)
            }
            LogFormat::W3c => {
                if let Some(header) = line.strip_prefix("#Fields:") {
                    self.w3c_fields = Some(header.split_whitespace().map(str::to_string).collect());
                    return Ok(None);
                }
                if line.starts_with('#') {
                    return Ok(None);
                }
                let fields = self
                    .w3c_fields
                    .as_ref()
                    .ok_or(RecordError::NoFieldsHeader)?;
                delimited(fields, "\t", line).map(Some)
            }
            LogFormat::Json => json(line).map(Some),
        }
    }
}

/// A value as logged: `-` is empty; the rest URL-decoded.
fn value(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw == "-" {
        return None;
    }
    if raw.contains('%') {
        Some(percent_decode(raw))
    } else {
        Some(raw.to_string())
    }
}

fn delimited(fields: &[String], delimiter: &str, line: &str) -> Result<LogRecord, RecordError> {
    // An empty delimiter would split nothing: CloudFront's default is a tab.
    let delimiter = if delimiter.is_empty() {
        "\t"
    } else {
        delimiter
    };
    let values: Vec<&str> = line.split(delimiter).collect();
    if values.len() != fields.len() {
        return Err(RecordError::FieldCount {
            found: values.len(),
            expected: fields.len(),
        });
    }
    // Only the fields cf-doctor reads are decoded (a line has 33 or more).
    Ok(record(
        fields
            .iter()
            .map(String::as_str)
            .zip(values)
            .filter(|(name, _)| READ.contains(name))
            .map(|(name, raw)| (name, value(raw))),
    ))
}

/// The fields `record` reads.
const READ: [&str; 11] = [
    "timestamp",
    "timestamp(ms)",
    "date",
    "time",
    "sc-status",
    "x-edge-detailed-result-type",
    "x-edge-result-type",
    "x-edge-location",
    "cs-uri-stem",
    "cache-behavior-path-pattern",
    "origin-fbl",
];

fn json(line: &str) -> Result<LogRecord, RecordError> {
    let parsed: serde_json::Value =
        serde_json::from_str(line).map_err(|e| RecordError::Json(e.to_string()))?;
    let object = parsed
        .as_object()
        .ok_or_else(|| RecordError::Json("not an object".into()))?;
    Ok(record(object.iter().map(|(k, v)| {
        let text = match v {
            serde_json::Value::String(s) => value(s),
            serde_json::Value::Null => None,
            other => value(&other.to_string()),
        };
        (k.as_str(), text)
    })))
}

/// The fields cf-doctor reads, from (name, value) pairs of any form.
fn record<'a>(pairs: impl Iterator<Item = (&'a str, Option<String>)>) -> LogRecord {
    let mut out = LogRecord::default();
    let (mut date, mut time, mut stamp, mut stamp_ms) = (None, None, None, None);
    let mut plain_result = None;
    for (name, value) in pairs {
        let Some(value) = value else { continue };
        match name {
            "timestamp" => stamp = value.parse::<f64>().ok(),
            "timestamp(ms)" => stamp_ms = value.parse::<i64>().ok(),
            "date" => date = NaiveDate::parse_from_str(&value, "%Y-%m-%d").ok(),
            "time" => time = NaiveTime::parse_from_str(&value, "%H:%M:%S").ok(),
            "sc-status" => out.status = value.parse::<u16>().ok().filter(|s| *s != 0),
            "x-edge-detailed-result-type" => out.result_type = Some(value),
            "x-edge-result-type" => plain_result = Some(value),
            "x-edge-location" => out.edge_location = Some(value),
            "cs-uri-stem" => {
                let path = value.split('?').next().unwrap_or_default().to_string();
                out.path = Some(path);
            }
            "cache-behavior-path-pattern" => out.behaviour = Some(value),
            "origin-fbl" => out.origin_first_byte_s = value.parse::<f64>().ok(),
            _ => {}
        }
    }
    if out.result_type.is_none() {
        out.result_type = plain_result;
    }
    out.at = match (stamp_ms, stamp, date, time) {
        (Some(ms), _, _, _) => Utc.timestamp_millis_opt(ms).single(),
        (None, Some(seconds), _, _) => Utc
            .timestamp_millis_opt((seconds * 1000.0).round() as i64)
            .single(),
        (None, None, Some(date), Some(time)) => Some(date.and_time(time).and_utc()),
        _ => None,
    };
    out
}

/// `%XX` sequences decoded (RFC 3986); a malformed one is kept as written.
pub fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realtime_fields() -> Vec<String> {
        [
            "timestamp",
            "c-ip",
            "sc-status",
            "cs-uri-stem",
            "x-edge-location",
            "x-edge-result-type",
            "x-edge-detailed-result-type",
            "cache-behavior-path-pattern",
            "origin-fbl",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn a_real_time_record_is_read_by_the_configurations_field_order() {
        let mut reader = LineReader::new(LogFormat::Tabbed(realtime_fields()));
        let line = "1764834000.123\t203.0.113.9\t502\t/api/cart%20items?x=1\tIAD89-C1\tError\tOriginConnectError\t/api/*\t-\n";
        let r = reader.read(line).unwrap().unwrap();
        assert_eq!(r.status, Some(502));
        assert!(r.is_5xx());
        assert_eq!(r.result_type.as_deref(), Some("OriginConnectError"));
        assert_eq!(r.edge_location.as_deref(), Some("IAD89-C1"));
        assert_eq!(r.path.as_deref(), Some("/api/cart items"));
        assert_eq!(r.behaviour.as_deref(), Some("/api/*"));
        assert_eq!(r.origin_first_byte_s, None, "`-` is empty");
        assert_eq!(r.at.unwrap().timestamp_millis(), 1_764_834_000_123);
    }

    #[test]
    fn a_record_with_the_wrong_number_of_fields_is_refused_by_name() {
        let mut reader = LineReader::new(LogFormat::Tabbed(realtime_fields()));
        let err = reader.read("1764834000.123\t502").unwrap_err();
        assert_eq!(err.to_string(), "2 fields where 9 were expected");
    }

    #[test]
    fn a_standard_log_is_read_by_its_fields_header_and_its_date_and_time() {
        let mut reader = LineReader::new(LogFormat::W3c);
        assert_eq!(reader.read("#Version: 1.0").unwrap(), None);
        assert_eq!(
            reader.read("shop").unwrap_err(),
            RecordError::NoFieldsHeader
        );
        reader
            .read("#Fields: date time x-edge-location sc-status cs-uri-stem x-edge-result-type x-edge-detailed-result-type")
            .unwrap();
        let r = reader
            .read("2026-12-03\t09:15:02\tFRA56-P1\t504\t/checkout\tError\tOriginCommError")
            .unwrap()
            .unwrap();
        assert_eq!(r.at.unwrap().to_rfc3339(), "2026-12-03T09:15:02+00:00");
        assert_eq!(r.status, Some(504));
        assert_eq!(r.result_type.as_deref(), Some("OriginCommError"));
    }

    #[test]
    fn a_v2_json_line_carries_strings_and_the_millisecond_timestamp() {
        let mut reader = LineReader::new(LogFormat::Json);
        let r = reader
            .read(r#"{"date":"2026-12-03","time":"09:15:02","timestamp(ms)":"1764753302814","sc-status":"503","x-edge-result-type":"Error","cs-uri-stem":"/","x-edge-location":"SOF50-P2"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(r.at.unwrap().timestamp_millis(), 1_764_753_302_814);
        assert_eq!(r.status, Some(503));
        assert_eq!(
            r.result_type.as_deref(),
            Some("Error"),
            "without the detailed type, the plain one"
        );
        assert!(reader.read("not json").is_err());
    }

    #[test]
    fn a_status_of_000_is_no_status() {
        let mut reader = LineReader::new(LogFormat::Json);
        let r = reader.read(r#"{"sc-status":"000"}"#).unwrap().unwrap();
        assert_eq!(r.status, None);
    }
}
