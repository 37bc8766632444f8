//! Logs go to stderr. In Lambda: one JSON object per line, shaped as Lambda's JSON log format
//! expects (`timestamp`, `level`, `message` and `requestId` at the top level, then the event's own
//! fields), so Lambda's log-level filter reads the level and Logs Insights finds every field by
//! name. In a terminal: plain text. RUST_LOG overrides the level (info in Lambda, warn in the CLI).
//! Values are in the contract's words (docs/contract.md, "Logs"): codes and verdicts as the
//! diagnosis JSON spells them, never a Rust debug form.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{span, Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use cf_doctor_model::{Code, Diagnosis};

/// The span lambda_runtime opens around each invocation, and its field holding the request id.
const INVOCATION_TARGET: &str = "lambda_runtime::layers::trace";
const REQUEST_ID_FIELD: &str = "requestId";

/// Keys every Lambda log line starts with; an event field of the same name is renamed `field.NAME`.
const RESERVED: &[&str] = &["timestamp", "level", "message", "requestId", "logger"];

pub fn init(in_lambda: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| if in_lambda { "info" } else { "warn" }.into());
    if in_lambda {
        // The invocation span stays on whatever RUST_LOG says: without it no line has a requestId.
        let filter = match format!("{INVOCATION_TARGET}=info").parse() {
            Ok(directive) => filter.add_directive(directive),
            Err(_) => filter,
        };
        lambda_subscriber(std::io::stderr).with(filter).init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init()
    }
}

/// The Lambda face's subscriber (without the level filter), writing lines to `writer`.
fn lambda_subscriber<W>(writer: W) -> impl Subscriber + for<'a> LookupSpan<'a>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(RequestIdLayer).with(
        tracing_subscriber::fmt::layer()
            .event_format(LambdaJson)
            .with_writer(writer),
    )
}

/// The line every diagnosis leaves in the log: verdict, probable cause and codes as the contract
/// spells them, the trigger, the distribution (absent for sweeps) and the summary.
pub fn diagnosis(d: &Diagnosis) {
    tracing::info!(
        verdict = d.verdict.as_str(),
        probable_cause = d.probable_cause.map(Code::as_str),
        codes = %d.codes().join(","),
        findings = d.findings.len(),
        trigger = d.trigger.kind.as_str(),
        distribution_id = d.trigger.distribution_id.as_deref(),
        summary = %d.summary,
        "diagnosis"
    );
}

/// The fields every Lambda log line starts with, in order.
pub fn log_fields(
    level: Level,
    message: &str,
    request_id: Option<&str>,
    at: DateTime<Utc>,
) -> Vec<(&'static str, Value)> {
    let mut fields = vec![
        (
            "timestamp",
            Value::from(at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        ),
        ("level", Value::from(level.as_str())),
        ("message", Value::from(message)),
    ];
    if let Some(id) = request_id {
        fields.push(("requestId", Value::from(id)));
    }
    fields
}

/// The request id of the invocation being served on this thread, if any (read from the
/// invocation span lambda_runtime opens). Not for use while an event is being formatted.
pub fn current_request_id() -> Option<String> {
    let id = tracing::Span::current().id()?;
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        request_id_in_scope(registry.span(&id)?.scope())
    })
}

/// The request id recorded on a span, kept in the span's extensions.
struct RequestId(String);

fn request_id_in_scope<'a, R: LookupSpan<'a>>(
    scope: tracing_subscriber::registry::Scope<'a, R>,
) -> Option<String> {
    scope
        .into_iter()
        .find_map(|span| span.extensions().get::<RequestId>().map(|r| r.0.clone()))
}

/// Keeps the `requestId` field of a span where the formatter can find it again.
struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut found = FindRequestId(None);
        attrs.record(&mut found);
        if let (Some(request_id), Some(span)) = (found.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }
}

struct FindRequestId(Option<String>);

impl Visit for FindRequestId {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == REQUEST_ID_FIELD {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == REQUEST_ID_FIELD {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
}

/// One JSON object per event: the Lambda log fields, `logger` (the event's target), then the
/// event's own fields with their JSON types (numbers stay numbers).
struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let request_id = ctx.event_scope().and_then(request_id_in_scope);
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let mut object = serde_json::Map::new();
        for (key, value) in log_fields(
            *metadata.level(),
            &fields.message,
            request_id.as_deref(),
            Utc::now(),
        ) {
            object.insert(key.to_string(), value);
        }
        object.insert("logger".into(), Value::from(metadata.target()));
        for (key, value) in fields.rest {
            let key = if RESERVED.contains(&key.as_str()) {
                format!("field.{key}")
            } else {
                key
            };
            object.insert(key, value);
        }
        writeln!(writer, "{}", Value::Object(object))
    }
}

#[derive(Default)]
struct EventFields {
    message: String,
    rest: Vec<(String, Value)>,
}

impl EventFields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.rest.push((field.name().to_string(), value));
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    /// `%value` arrives here too, formatted with Display.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Lines written by the subscriber under test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    fn lines(captured: &Captured) -> Vec<Value> {
        String::from_utf8(captured.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn a_line_has_the_lambda_fields_at_the_top_and_the_event_fields_beside_them() {
        let captured = Captured::default();
        let seen_inside =
            tracing::subscriber::with_default(lambda_subscriber(captured.clone()), || {
                let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-0042");
                let _entered = span.enter();
                tracing::warn!(
                    verdict = "critical",
                    findings = 3_usize,
                    level = "x",
                    "diagnosis"
                );
                current_request_id()
            });
        assert_eq!(seen_inside.as_deref(), Some("req-0042"));
        let lines = lines(&captured);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "diagnosis");
        assert_eq!(line["requestId"], "req-0042");
        assert_eq!(line["verdict"], "critical");
        assert_eq!(line["findings"], 3, "numbers stay numbers: {line}");
        assert_eq!(
            line["field.level"], "x",
            "a field named like a Lambda key is renamed"
        );
        let at = line["timestamp"].as_str().unwrap();
        assert!(
            DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
            "{at}"
        );
    }

    #[test]
    fn outside_an_invocation_there_is_no_request_id() {
        let captured = Captured::default();
        let id = tracing::subscriber::with_default(lambda_subscriber(captured.clone()), || {
            tracing::info!("started");
            current_request_id()
        });
        assert_eq!(id, None);
        let line = &lines(&captured)[0];
        assert!(line.get("requestId").is_none(), "{line}");
        assert_eq!(line["message"], "started");
    }

    #[test]
    fn a_diagnosis_is_logged_in_the_contracts_words() {
        use cf_doctor_model::{Finding, Severity, TriggerInfo, Verdict};
        let finding = Finding::new(Code::AcmCertRenewalAtRisk, Severity::Critical, "arn:cert");
        let d = Diagnosis {
            schema: cf_doctor_model::SCHEMA.into(),
            build: Default::default(),
            trigger: TriggerInfo {
                function: None,
                kind: cf_doctor_model::TriggerKind::Alarm,
                detail: "alarm x".into(),
                distribution_id: Some("E2EXAMPLE".into()),
                status: None,
            },
            verdict: Verdict::Critical,
            summary: "renewal at risk".into(),
            probable_cause: Some(finding.code),
            findings: vec![finding],
            checks: Vec::new(),
            metrics: Vec::new(),
            cloudfront_log: None,
            started_at: Utc::now(),
            duration_ms: 1,
        };
        let captured = Captured::default();
        tracing::subscriber::with_default(lambda_subscriber(captured.clone()), || diagnosis(&d));
        let line = &lines(&captured)[0];
        assert_eq!(line["message"], "diagnosis");
        assert_eq!(line["verdict"], "critical");
        assert_eq!(line["probable_cause"], "acm-cert-renewal-at-risk", "{line}");
        assert_eq!(line["codes"], "acm-cert-renewal-at-risk");
        assert_eq!(line["trigger"], "alarm");
        assert_eq!(line["distribution_id"], "E2EXAMPLE");
        assert_eq!(line["findings"], 1);
        assert_eq!(line["summary"], "renewal at risk");
    }
}
