//! Slack incoming webhook delivery. The webhook URL is a credential: it never appears in an error,
//! a log line or a report. It comes from SLACK_WEBHOOK_URL, or from Secrets Manager / SSM, read on
//! first use and kept for the life of the container; when Slack says the webhook is gone (403,
//! 404, 410: revoked, deleted, channel archived), the cached URL is dropped and the secret read
//! again, once, in case it was rotated.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Mutex;

use crate::config::Secret;
use cf_doctor_aws::error_text;

type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// Where the webhook URL is kept.
#[derive(Clone)]
pub enum WebhookSource {
    Url(Secret),
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    Ssm {
        client: aws_sdk_ssm::Client,
        name: String,
    },
}

impl WebhookSource {
    /// `arn:aws:ssm:...:parameter/...` and names starting with `/` are SSM parameters; anything
    /// else (a Secrets Manager ARN or name) is a Secrets Manager secret.
    pub fn from_secret_id(id: &str, sdk: &aws_config::SdkConfig) -> WebhookSource {
        if id.starts_with("arn:aws:ssm:") || id.starts_with('/') {
            let name = id
                .split_once(":parameter")
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| id.to_string());
            WebhookSource::Ssm {
                client: aws_sdk_ssm::Client::new(sdk),
                name,
            }
        } else {
            WebhookSource::SecretsManager {
                client: aws_sdk_secretsmanager::Client::new(sdk),
                secret_id: id.to_string(),
            }
        }
    }

    /// Whether reading it again can give a different URL (a rotated secret).
    fn can_change(&self) -> bool {
        !matches!(self, WebhookSource::Url(_))
    }

    fn describe(&self) -> String {
        match self {
            WebhookSource::Url(_) => "SLACK_WEBHOOK_URL".into(),
            WebhookSource::SecretsManager { secret_id, .. } => {
                format!("Secrets Manager secret {secret_id}")
            }
            WebhookSource::Ssm { name, .. } => format!("SSM parameter {name}"),
        }
    }

    async fn fetch(&self) -> Result<Secret, String> {
        let raw = match self {
            WebhookSource::Url(url) => return Ok(url.clone()),
            WebhookSource::SecretsManager { client, secret_id } => client
                .get_secret_value()
                .secret_id(secret_id)
                .send()
                .await
                .map_err(|e| format!("secretsmanager:GetSecretValue failed: {}", error_text(&e)))?
                .secret_string()
                .map(str::to_string),
            WebhookSource::Ssm { client, name } => client
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| format!("ssm:GetParameter failed: {}", error_text(&e)))?
                .parameter()
                .and_then(|p| p.value())
                .map(str::to_string),
        };
        let raw = raw.ok_or("it holds no string value")?;
        webhook_from_value(&raw).ok_or_else(|| {
            "its value is neither a webhook URL nor JSON with \"webhook_url\" or \"url\""
                .to_string()
        })
    }
}

/// The URL itself, or JSON such as `{"webhook_url": "https://hooks.slack.com/..."}`.
pub fn webhook_from_value(raw: &str) -> Option<Secret> {
    let raw = raw.trim();
    let url = if raw.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(raw).ok()?;
        ["webhook_url", "url", "slack_webhook_url"]
            .iter()
            .find_map(|k| value.get(*k).and_then(|v| v.as_str()).map(str::to_string))?
    } else {
        raw.to_string()
    };
    (url.starts_with("https://") || url.starts_with("http://")).then(|| Secret::new(url))
}

/// Retries after HTTP 429 honour Retry-After, but never wait longer than this in all.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: usize = 3;

#[derive(Clone)]
pub struct SlackChannel {
    source: WebhookSource,
    /// The webhook as last read; dropped when Slack says it is gone.
    webhook: std::sync::Arc<Mutex<Option<Secret>>>,
    client: HttpsClient,
    /// The bound on one HTTP attempt.
    timeout: Duration,
}

/// Why one POST did not deliver.
enum PostError {
    /// 403, 404 or 410: the webhook was revoked, deleted, or its channel archived.
    Gone(String),
    Other(String),
}

impl PostError {
    fn text(self) -> String {
        match self {
            PostError::Gone(text) | PostError::Other(text) => text,
        }
    }
}

impl std::fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SlackChannel {{ webhook from {} }}",
            self.source.describe()
        )
    }
}

impl SlackChannel {
    pub fn new(source: WebhookSource, timeout: Duration) -> SlackChannel {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        SlackChannel {
            source,
            webhook: std::sync::Arc::new(Mutex::new(None)),
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    /// Posts a Block Kit payload; 429 is retried after Retry-After (bounded); a webhook Slack says
    /// is gone is read again from its secret and tried once more; anything else non-2xx is an
    /// error that quotes Slack's answer but never the URL.
    pub async fn post(&self, payload: &serde_json::Value) -> Result<(), String> {
        let body = Bytes::from(serde_json::to_vec(payload).map_err(|e| e.to_string())?);
        let webhook = self.webhook().await?;
        match self.post_to(&webhook, &body).await {
            Err(PostError::Gone(text)) if self.source.can_change() => {
                tracing::warn!(
                    source = %self.source.describe(),
                    "Slack says the webhook is gone; reading it again in case it was rotated"
                );
                self.forget().await;
                let fresh = self.webhook().await?;
                if fresh == webhook {
                    return Err(format!(
                        "{text}; {} still holds the same webhook: rotate it",
                        self.source.describe()
                    ));
                }
                self.post_to(&fresh, &body).await.map_err(|e| {
                    format!(
                        "{} (after reading {} again)",
                        e.text(),
                        self.source.describe()
                    )
                })
            }
            other => other.map_err(PostError::text),
        }
    }

    /// The webhook, read from its source when not cached (the read is bounded).
    async fn webhook(&self) -> Result<Secret, String> {
        let mut cached = self.webhook.lock().await;
        if let Some(webhook) = cached.as_ref() {
            return Ok(webhook.clone());
        }
        let read = tokio::time::timeout(super::SECRET_READ_TIMEOUT, self.source.fetch())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {} ms",
                    super::SECRET_READ_TIMEOUT.as_millis()
                ))
            })
            .map_err(|e| {
                format!(
                    "cannot read the webhook from {}: {e}",
                    self.source.describe()
                )
            })?;
        *cached = Some(read.clone());
        Ok(read)
    }

    async fn forget(&self) {
        *self.webhook.lock().await = None;
    }

    /// One delivery to one URL: up to three attempts while Slack answers 429.
    async fn post_to(&self, webhook: &Secret, body: &Bytes) -> Result<(), PostError> {
        let mut waited = Duration::ZERO;
        for attempt in 1..=MAX_ATTEMPTS {
            let request = hyper::Request::post(webhook.expose())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))
                .map_err(|_| {
                    PostError::Other(format!(
                        "the webhook from {} is not a valid URL",
                        self.source.describe()
                    ))
                })?;
            let response = tokio::time::timeout(self.timeout, self.client.request(request))
                .await
                .map_err(|_| {
                    PostError::Other(format!(
                        "the Slack webhook did not answer within {} ms",
                        self.timeout.as_millis()
                    ))
                })?
                // hyper's error text can include the URI: say only what kind of failure it was.
                .map_err(|e| {
                    PostError::Other(format!(
                        "cannot reach the Slack webhook ({})",
                        if e.is_connect() {
                            "connection failed"
                        } else {
                            "request failed"
                        }
                    ))
                })?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = tokio::time::timeout(self.timeout, response.into_body().collect())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|b| {
                    String::from_utf8_lossy(&b.to_bytes())
                        .chars()
                        .take(200)
                        .collect::<String>()
                })
                .unwrap_or_default();
            if status == hyper::StatusCode::TOO_MANY_REQUESTS && attempt < MAX_ATTEMPTS {
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                if waited + wait <= MAX_RATE_LIMIT_WAIT {
                    tracing::warn!(
                        retry_after_s = wait.as_secs(),
                        attempt,
                        "Slack rate-limited the webhook; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    continue;
                }
            }
            let error = format!(
                "the Slack webhook answered HTTP {status} after {attempt} attempt(s): {text}"
            );
            return Err(match status.as_u16() {
                403 | 404 | 410 => PostError::Gone(error),
                _ => PostError::Other(error),
            });
        }
        Err(PostError::Other(
            "the Slack webhook kept answering 429".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::webhook_from_value;

    #[test]
    fn a_secret_may_hold_the_url_or_json_with_it() {
        let plain = webhook_from_value(" https://hooks.slack.com/services/T/B/X\n").unwrap();
        assert_eq!(plain.expose(), "https://hooks.slack.com/services/T/B/X");
        let json =
            webhook_from_value(r#"{"webhook_url": "https://hooks.slack.com/services/T/B/Y"}"#)
                .unwrap();
        assert_eq!(json.expose(), "https://hooks.slack.com/services/T/B/Y");
        assert!(webhook_from_value("hunter2").is_none());
        assert!(webhook_from_value(r#"{"token": "xoxb"}"#).is_none());
    }
}
