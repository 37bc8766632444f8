//! The Lambda face: serves events through the runtime. Failures are logged whole (event or report)
//! and returned as errors, so Lambda retries or its on-failure destination keeps the event.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::{exit, App, RunError, RunOptions, TargetResult};

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
        let options = RunOptions {
            deadline: deadline_of(&event.context),
            ..RunOptions::new(true)
        };
        let results = Box::pin(handle(app, &event.payload, &options))
            .await
            .map_err(lambda_runtime::Error::from)?;
        Ok::<Value, lambda_runtime::Error>(response(&results))
    }))
    .await
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

/// Runs one event as Lambda does; delivery is always on in Lambda, a flag in the CLI.
pub async fn handle(
    app: &App,
    event: &Value,
    options: &RunOptions,
) -> Result<Vec<TargetResult>, RunError> {
    match Box::pin(app.run_event(event, options)).await {
        Ok(results) => {
            for result in &results {
                if let TargetResult::Diagnosed(d) = result {
                    tracing::info!(verdict = d.verdict.as_str(), probable_cause = ?d.probable_cause, summary = %d.summary, "diagnosis");
                }
            }
            Ok(results)
        }
        Err(RunError::Delivery { error, reports }) => {
            // No report is lost: the whole report goes to the log before the invocation fails.
            for report in &reports {
                let report = serde_json::to_string(report).unwrap_or_default();
                tracing::error!(%error, %report, "delivery failed; full report follows in this line");
            }
            Err(RunError::Delivery { error, reports })
        }
        Err(e) => {
            let received = serde_json::to_string(event).unwrap_or_default();
            tracing::error!(error = %e, event = %received, "event not handled");
            Err(e)
        }
    }
}

/// The invocation result: the diagnosis (or acknowledgement) itself, or a list when an SNS event
/// carried several alarms.
pub fn response(results: &[TargetResult]) -> Value {
    match results {
        [single] => single.to_json(),
        many => Value::Array(many.iter().map(TargetResult::to_json).collect()),
    }
}
