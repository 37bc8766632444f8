//! The Lambda face: serves events through the runtime. Failures are logged whole (event or report)
//! and returned as typed errors (`errorType`: UnrecognisedEvent, MalformedEvent,
//! UnknownDistribution, AwsUnreachable, AwsError, DeliveryFailed), so Lambda retries or its
//! on-failure destination keeps the event, and dead-lettered events can be sorted by type.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::replay::{EvidenceLog, EvidenceStore};
use crate::{exit, trigger, App, RunError, RunOptions, TargetResult};

/// The Lambda face: configuration from the environment, clients built once, then events served
/// until the runtime stops us. Returns the process exit code.
pub async fn main() -> i32 {
    let config = match crate::config::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "configuration error");
            return exit::USAGE;
        }
    };
    crate::metrics::enable(&config.metrics_namespace);
    let app = match App::start(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return exit::USAGE;
        }
    };
    match Box::pin(run(app)).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "runtime failed");
            1
        }
    }
}

pub async fn run(app: App) -> Result<(), lambda_runtime::Error> {
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let meter = crate::metrics::Meter::start();
        let options = RunOptions {
            deadline: deadline_of(&event.context),
            evidence: app.evidence_store.as_ref().map(|_| EvidenceLog::default()),
            delivery_key: Some(delivery_key(&event)),
            meter: Some(meter.clone()),
            ..RunOptions::new(true)
        };
        let handled = Box::pin(app.handle_event(&event.payload, &options)).await;
        if let (Some(store), Some(log)) = (&app.evidence_store, &options.evidence) {
            keep_evidence(store, log, &event.context.request_id).await;
        }
        // Every failed delivery, including those that did not fail the invocation.
        meter.finish(options.delivery_failures.total());
        let results = handled.map_err(typed)?;
        Ok::<Value, Diagnostic>(TargetResult::response_within(
            &results,
            app.config.result_max_bytes,
        ))
    }))
    .await
}

/// What deliveries are recorded under: the event's own id, the same in every copy of it (Lambda's
/// retries, and a duplicate delivery by EventBridge or SNS); for an event without one, the request
/// id, which Lambda keeps across its retries of an asynchronous event.
fn delivery_key(event: &LambdaEvent<Value>) -> String {
    trigger::event_id(&event.payload)
        .unwrap_or_else(|| format!("request:{}", event.context.request_id))
}

/// The error as Lambda records it: a type to filter on, and the message.
fn typed(error: RunError) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().to_string(),
        error_message: error.to_string(),
    }
}

/// Stores the invocation's evidence when there is any. A failure is logged, never the
/// invocation's failure: the report itself was delivered, and a retry would page twice.
async fn keep_evidence(store: &EvidenceStore, log: &EvidenceLog, request_id: &str) {
    if log.is_empty() {
        return;
    }
    let key = EvidenceStore::key(request_id, chrono::Utc::now());
    match store.put(&key, log).await {
        Ok(location) => tracing::info!(%location, "evidence saved"),
        Err(error) => tracing::error!(%error, "evidence not saved (the report is unaffected)"),
    }
}

/// The invocation's deadline as a monotonic instant (the runtime gives milliseconds since the epoch).
fn deadline_of(context: &lambda_runtime::Context) -> Option<tokio::time::Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = context.deadline.checked_sub(now_ms)?;
    Some(tokio::time::Instant::now() + std::time::Duration::from_millis(left))
}
