//! Notify: delivers a diagnosis (or an alarm's recovery) to SNS and Slack. Every configured
//! channel is tried; any failure is reported after all were tried, so the caller can fail the
//! invocation and keep the event. Every call is bounded, and the bounds add up to less than the
//! time kept for delivery before the Lambda deadline.

pub mod failures;
pub mod records;
pub mod report_log;
pub mod slack;
pub mod sns;

use std::time::Duration;

use cf_doctor_collect::DELIVERY_RESERVE;
use cf_doctor_model::{Diagnosis, Recovery};
use cf_doctor_render as render;

/// Reading the Slack webhook from Secrets Manager or SSM.
pub const SECRET_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// One SNS Publish.
pub const SNS_PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// One Slack POST.
pub const SLACK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole Slack delivery: the secret read, up to three attempts, Retry-After waits (at most
/// 10 s), and one re-read of a rotated webhook.
pub const SLACK_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest a delivery can take: channels and reports are delivered concurrently, each
/// channel's delivery is claimed before (a conditional write, then a read when refused) and
/// recorded after (a write).
pub const WORST_CASE: Duration = Duration::from_secs(
    3 * records::RECORD_TIMEOUT.as_secs() + max_secs(SNS_PUBLISH_TIMEOUT, SLACK_TIMEOUT),
);

const fn max_secs(a: Duration, b: Duration) -> u64 {
    if a.as_secs() > b.as_secs() {
        a.as_secs()
    } else {
        b.as_secs()
    }
}

// The reserve kept before the deadline covers what delivery can really take.
const _: () = assert!(WORST_CASE.as_secs() <= DELIVERY_RESERVE.as_secs());

#[derive(Debug, thiserror::Error)]
#[error("delivery failed: {}", .failures.join("; "))]
pub struct DeliveryError {
    pub failures: Vec<String>,
}

/// What is delivered.
#[derive(Debug, Clone, Copy)]
pub enum Notice<'a> {
    Report(&'a Diagnosis),
    Recovery {
        recovery: &'a Recovery,
        note: &'a str,
    },
}

/// A delivery channel, by the name used in logs, errors and delivery records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    Sns,
    Slack,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sns => "sns",
            Channel::Slack => "slack",
        }
    }
}

/// The delivery channels configured for this process.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    pub sns: Option<sns::SnsChannel>,
    pub slack: Option<slack::SlackChannel>,
}

impl Notifier {
    /// The channels configured, in a fixed order.
    pub fn channels(&self) -> Vec<Channel> {
        let mut channels = Vec::new();
        if self.sns.is_some() {
            channels.push(Channel::Sns);
        }
        if self.slack.is_some() {
            channels.push(Channel::Slack);
        }
        channels
    }

    /// Delivers to one channel, within its bound.
    pub async fn deliver_to(&self, channel: Channel, notice: Notice<'_>) -> Result<(), String> {
        match channel {
            Channel::Sns => {
                let Some(sns) = &self.sns else {
                    return Err("SNS is not configured".into());
                };
                let message = match notice {
                    Notice::Report(d) => render::sns::message(d),
                    Notice::Recovery { recovery, note } => render::sns::recovery(recovery, note),
                };
                tokio::time::timeout(SNS_PUBLISH_TIMEOUT, sns.publish(&message))
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "sns:Publish to {} did not answer within {} ms",
                            sns.topic_arn,
                            SNS_PUBLISH_TIMEOUT.as_millis()
                        ))
                    })
            }
            Channel::Slack => {
                let Some(slack) = &self.slack else {
                    return Err("Slack is not configured".into());
                };
                let payload = match notice {
                    Notice::Report(d) => render::slack::payload(d),
                    Notice::Recovery { recovery, note } => render::slack::recovery(recovery, note),
                };
                tokio::time::timeout(SLACK_TIMEOUT, slack.post(&payload))
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "the Slack delivery did not finish within {} ms",
                            SLACK_TIMEOUT.as_millis()
                        ))
                    })
            }
        }
    }

    /// Delivers to every channel at once; returns the channels delivered to, or every failure.
    pub async fn deliver(&self, notice: Notice<'_>) -> Result<Vec<&'static str>, DeliveryError> {
        let attempts = self
            .channels()
            .into_iter()
            .map(|channel| async move { (channel, self.deliver_to(channel, notice).await) });
        let mut delivered = Vec::new();
        let mut failures = Vec::new();
        for (channel, result) in futures::future::join_all(attempts).await {
            match result {
                Ok(()) => delivered.push(channel.as_str()),
                Err(e) => failures.push(format!("{}: {e}", channel.as_str())),
            }
        }
        if failures.is_empty() {
            Ok(delivered)
        } else {
            Err(DeliveryError { failures })
        }
    }
}
