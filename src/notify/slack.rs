//! Slack incoming webhook delivery. The webhook URL is a credential: it never appears in an error,
//! a log line or a report.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::Secret;
use crate::diagnosis::Diagnosis;
use crate::render;

type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

#[derive(Clone)]
pub struct SlackChannel {
    webhook: Secret,
    client: HttpsClient,
    timeout: std::time::Duration,
}

impl std::fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackChannel { webhook: <redacted> }")
    }
}

impl SlackChannel {
    pub fn new(webhook: Secret, timeout: std::time::Duration) -> SlackChannel {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        SlackChannel {
            webhook,
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    pub async fn post(&self, diagnosis: &Diagnosis) -> Result<(), String> {
        let body =
            serde_json::to_vec(&render::slack::payload(diagnosis)).map_err(|e| e.to_string())?;
        let request = hyper::Request::post(self.webhook.expose())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| "the Slack webhook URL is not a valid URL".to_string())?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| {
                format!(
                    "the Slack webhook did not answer within {} ms",
                    self.timeout.as_millis()
                )
            })?
            // hyper's error text can include the URI: say only what kind of failure it was.
            .map_err(|e| {
                format!(
                    "cannot reach the Slack webhook ({})",
                    if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    }
                )
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response
            .into_body()
            .collect()
            .await
            .map(|b| {
                String::from_utf8_lossy(&b.to_bytes())
                    .chars()
                    .take(200)
                    .collect::<String>()
            })
            .unwrap_or_default();
        Err(format!("the Slack webhook answered HTTP {status}: {text}"))
    }
}
