//! Counts the requests cf-doctor sends to AWS, for the `AwsCalls` and `AwsRetries` metrics: a
//! wrapper around the SDK's own HTTP client, so every client built from the SDK configuration is
//! counted (collect's, delivery's, the evidence store's) without touching how each is built.
//!
//! Each HTTP request the SDK sends is one attempt. The SDK marks every attempt with the
//! `amz-sdk-request: attempt=N; max=M` header, so a first attempt counts as a call and a later one
//! as a retry of it. A request without the header (none the SDK sends) counts as a call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;

/// How many requests went to AWS: first attempts (calls) and the retries after them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCount {
    pub calls: u64,
    pub retries: u64,
}

impl CallCount {
    /// What was counted after `earlier` was read (one invocation's share of a process's count).
    pub fn since(self, earlier: CallCount) -> CallCount {
        CallCount {
            calls: self.calls.saturating_sub(earlier.calls),
            retries: self.retries.saturating_sub(earlier.retries),
        }
    }
}

/// A shared tally of the requests sent through the HTTP clients it wraps.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
}

impl CallCounter {
    pub fn new() -> CallCounter {
        CallCounter::default()
    }

    /// The tally so far.
    pub fn count(&self) -> CallCount {
        CallCount {
            calls: self.calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    /// `client`, counting every request sent through it.
    pub fn wrap(&self, client: SharedHttpClient) -> SharedHttpClient {
        CountingClient {
            inner: client,
            counter: self.clone(),
        }
        .into_shared()
    }

    fn record(&self, request: &HttpRequest) {
        let attempt = request
            .headers()
            .get("amz-sdk-request")
            .and_then(attempt_number)
            .unwrap_or(1);
        let tally = if attempt > 1 {
            &self.retries
        } else {
            &self.calls
        };
        tally.fetch_add(1, Ordering::Relaxed);
    }
}

/// The N of `attempt=N; max=M`.
fn attempt_number(header: &str) -> Option<u32> {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("attempt="))
        .and_then(|n| n.trim().parse().ok())
}

/// The counter `load()` installs: every AWS request this process sends.
pub fn process_counter() -> &'static CallCounter {
    static COUNTER: OnceLock<CallCounter> = OnceLock::new();
    COUNTER.get_or_init(CallCounter::new)
}

/// The HTTPS client the SDK would build by itself, so counting changes nothing else (TLS, proxy
/// settings, connection pooling per timeout setting).
pub(crate) fn sdk_default_http_client() -> Option<SharedHttpClient> {
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
        aws_config::BehaviorVersion::latest(),
    )?;
    plugin
        .runtime_components(&RuntimeComponentsBuilder::new("cf-doctor-call-counter"))
        .http_client()
}

#[derive(Debug)]
struct CountingClient {
    inner: SharedHttpClient,
    counter: CallCounter,
}

impl HttpClient for CountingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        CountingConnector {
            inner: self.inner.http_connector(settings, components),
            counter: self.counter.clone(),
        }
        .into_shared()
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    counter: CallCounter,
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.counter.record(&request);
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attempt_number_is_read_from_the_sdk_header() {
        assert_eq!(attempt_number("attempt=1; max=4"), Some(1));
        assert_eq!(attempt_number("attempt=3; max=4"), Some(3));
        assert_eq!(attempt_number("max=4;attempt=2"), Some(2));
        assert_eq!(
            attempt_number("ttl=20240101T000000Z; attempt=2; max=4"),
            Some(2)
        );
        assert_eq!(attempt_number("max=4"), None);
        assert_eq!(attempt_number("attempt=x"), None);
    }

    #[test]
    fn a_count_since_an_earlier_one_is_the_difference() {
        let earlier = CallCount {
            calls: 3,
            retries: 1,
        };
        let now = CallCount {
            calls: 10,
            retries: 1,
        };
        assert_eq!(
            now.since(earlier),
            CallCount {
                calls: 7,
                retries: 0
            }
        );
        assert_eq!(earlier.since(now), CallCount::default());
    }

    #[test]
    fn the_sdk_default_client_is_available_to_wrap() {
        assert!(sdk_default_http_client().is_some());
    }
}
