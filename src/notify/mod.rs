//! Notify: delivers a diagnosis (or an alarm's recovery) to SNS and Slack. Every configured
//! channel is tried; any failure is reported after all were tried, so the caller can fail the
//! invocation and keep the event.

pub mod slack;
pub mod sns;

use cf_doctor_model::{Diagnosis, Recovery};
use cf_doctor_render as render;

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

/// The delivery channels configured for this process.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    pub sns: Option<sns::SnsChannel>,
    pub slack: Option<slack::SlackChannel>,
}

impl Notifier {
    /// Returns the channels delivered to.
    pub async fn deliver(&self, notice: Notice<'_>) -> Result<Vec<&'static str>, DeliveryError> {
        let sns = async {
            let channel = self.sns.as_ref()?;
            let message = match notice {
                Notice::Report(d) => render::sns::message(d),
                Notice::Recovery { recovery, note } => render::sns::recovery(recovery, note),
            };
            Some(channel.publish(&message).await)
        };
        let slack = async {
            let channel = self.slack.as_ref()?;
            let payload = match notice {
                Notice::Report(d) => render::slack::payload(d),
                Notice::Recovery { recovery, note } => render::slack::recovery(recovery, note),
            };
            Some(channel.post(&payload).await)
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
