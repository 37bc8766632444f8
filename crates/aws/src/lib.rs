//! How cf-doctor talks to AWS: retries with exponential backoff and jitter (throttling and 5xx
//! included) and explicit timeouts, so a slow or failing API costs a bounded time and becomes a
//! named gap, not a hang; AWS errors in words, for gaps and delivery failures alike; and a count
//! of the requests sent (`calls`), for cf-doctor's own metrics.

pub mod calls;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Attempts per call: the first and three retries with exponential backoff and jitter.
pub const MAX_ATTEMPTS: u32 = 4;

/// Standard mode, not adaptive: measured here (tests/mocked_aws.rs), adaptive mode's client-side
/// rate limiter held the attempt after two ThrottlingExceptions past the 30 s operation timeout,
/// turning a recoverable throttle into a lost check. Standard mode retries throttling with
/// backoff, and cf-doctor paces its own bulk calls (DescribeCertificate at 10/s per region).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
}

pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// The SDK configuration from the environment, with cf-doctor's retry and timeout policy, every
/// request counted by [`calls::process_counter`].
pub async fn load() -> aws_config::SdkConfig {
    configure(
        aws_config::defaults(aws_config::BehaviorVersion::latest()),
        calls::process_counter(),
    )
    .load()
    .await
}

/// cf-doctor's retry and timeout policy on `loader`, with every request counted by `counter`.
pub fn configure(
    loader: aws_config::ConfigLoader,
    counter: &calls::CallCounter,
) -> aws_config::ConfigLoader {
    let loader = loader
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    match calls::sdk_default_http_client() {
        Some(client) => loader.http_client(counter.wrap(client)),
        // Not reached with the `default-https-client` feature this crate builds with; without it
        // the SDK has no client of its own either.
        None => loader,
    }
}

/// "Code: message" for service errors, the whole cause chain for transport errors.
pub fn error_text<E, R>(error: &SdkError<E, R>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("UnknownError"),
            service.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(error).to_string(),
    }
}

/// Whether the call never got an answer from AWS (connection refused, DNS, timeout): the endpoint
/// is unreachable, as opposed to AWS answering with an error.
pub fn is_unreachable<E, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    )
}
