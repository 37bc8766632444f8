//! Notify: delivers a diagnosis to SNS and Slack. Every configured channel is tried; any failure is
//! reported after all were tried, so the caller can fail the invocation and keep the event.

pub mod slack;
pub mod sns;

use crate::diagnosis::Diagnosis;

#[derive(Debug, thiserror::Error)]
#[error("delivery failed: {}", .failures.join("; "))]
pub struct DeliveryError {
    pub failures: Vec<String>,
}

/// The delivery channels configured for this process.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    pub sns: Option<sns::SnsChannel>,
    pub slack: Option<slack::SlackChannel>,
}

impl Notifier {
    pub fn is_empty(&self) -> bool {
        self.sns.is_none() && self.slack.is_none()
    }

    /// Returns the channels delivered to.
    pub async fn deliver(&self, diagnosis: &Diagnosis) -> Result<Vec<&'static str>, DeliveryError> {
        let sns = async {
            match &self.sns {
                Some(channel) => Some(channel.publish(diagnosis).await),
                None => None,
            }
        };
        let slack = async {
            match &self.slack {
                Some(channel) => Some(channel.post(diagnosis).await),
                None => None,
            }
        };
        let (sns, slack) = tokio::join!(sns, slack);
        let mut delivered = Vec::new();
        let mut failures = Vec::new();
        for (name, result) in [("sns", sns), ("slack", slack)] {
            match result {
                Some(Ok(())) => delivered.push(name),
                Some(Err(e)) => failures.push(format!("{name}: {e}")),
                None => {}
            }
        }
        if failures.is_empty() {
            Ok(delivered)
        } else {
            Err(DeliveryError { failures })
        }
    }
}
