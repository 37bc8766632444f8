//! How cf-doctor talks to AWS: adaptive retries (backs off when the API throttles) and explicit
//! timeouts, so a slow or failing API costs a bounded time and becomes a named gap, not a hang.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Attempts per call: the first and three retries with exponential backoff and jitter.
pub const MAX_ATTEMPTS: u32 = 4;

pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive()
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

/// The SDK configuration from the environment, with cf-doctor's retry and timeout policy.
pub async fn load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

/// Applies the same policy to a configuration built elsewhere (tests against an emulator).
pub fn with_policy(config: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    config
        .to_builder()
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .build()
}
