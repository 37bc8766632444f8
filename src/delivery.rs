//! One page per incident: each report goes to every channel at once, and in Lambda each
//! successful delivery is recorded per channel under the event's id (notify::records). When a
//! channel fails, the invocation fails so that Lambda retries, and the retry delivers only to the
//! channels not yet recorded. Where no record can be kept (the CLI, or the table unreachable), a
//! retry would page again on the channels that worked: then a report that reached at least one
//! channel is a success, and the failed channel is logged with the full report.

use crate::notify::failures::DeliveryFailures;
use crate::notify::records::Claim;
use crate::notify::report_log::{log_report, Occasion};
use crate::notify::{Channel, DeliveryError, Notice};
use crate::{App, RunError, TargetResult};
use cf_doctor_model::{Diagnosis, Verdict};

/// What happened to one report on one channel.
#[derive(Debug)]
enum Outcome {
    Delivered,
    /// A record says it was delivered before (or is being delivered by a twin invocation).
    AlreadyDone,
    Failed {
        error: String,
        /// A claim was recorded: a retry will deliver it, and only it.
        recorded: bool,
    },
}

/// Delivers what `results` call for; an error when a retry is needed (and will page no one
/// twice), or when a report reached no channel at all. Every failed delivery is counted in
/// `failures`.
pub async fn deliver(
    app: &App,
    results: &[TargetResult],
    event_key: Option<&str>,
    failures_seen: &DeliveryFailures,
) -> Result<(), RunError> {
    let labels = report_labels(results);
    let notices: Vec<(&str, Notice<'_>, Option<&Diagnosis>)> = results
        .iter()
        .zip(&labels)
        .filter_map(|(result, label)| notice_of(app, result).map(|(n, d)| (label.as_str(), n, d)))
        .collect();
    let outcomes =
        futures::future::join_all(notices.iter().map(|(label, notice, _)| {
            deliver_notice(app, label, *notice, event_key, failures_seen)
        }))
        .await;
    let mut failures = Vec::new();
    let mut failed_reports = Vec::new();
    for ((_, _, report), outcome) in notices.iter().zip(outcomes) {
        let reached = outcome
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Delivered | Outcome::AlreadyDone))
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>();
        let failed: Vec<(Channel, &String, bool)> = outcome
            .iter()
            .filter_map(|(c, o)| match o {
                Outcome::Failed { error, recorded } => Some((*c, error, *recorded)),
                _ => None,
            })
            .collect();
        if failed.is_empty() {
            if !reached.is_empty() {
                tracing::info!(channels = ?reached, "delivered");
            }
            continue;
        }
        let retry = failed.iter().any(|(_, _, recorded)| *recorded) || reached.is_empty();
        let text: Vec<String> = failed
            .iter()
            .map(|(c, e, _)| format!("{}: {e}", c.as_str()))
            .collect();
        if retry {
            failures.extend(text);
            failed_reports.extend(report.map(|d| Box::new(d.clone())));
        } else {
            // A retry would page again where it worked: succeed, and keep the report in the log.
            tracing::error!(
                delivered = ?reached,
                failed = %text.join("; "),
                "delivery failed on a channel and no delivery record could be kept: not retried, so that the channels that got it are not paged twice"
            );
            if let Some(d) = report {
                log_report(d, Occasion::Undelivered);
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RunError::Delivery {
            error: DeliveryError { failures },
            reports: failed_reports,
        })
    }
}

/// What each report is about, as its delivery records name it: the distribution (or the sweep,
/// the certificate event, the recovered alarm), numbered among the event's reports about the same
/// thing. Not the report's position: a retry where another target of the event fails (or stops
/// failing) keeps each report's label, so nothing is sent twice.
pub fn report_labels(results: &[TargetResult]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    results
        .iter()
        .map(|result| {
            let subject = match result {
                TargetResult::Diagnosed(d) => match &d.trigger.distribution_id {
                    Some(id) => format!("distribution:{id}"),
                    None => d.trigger.kind.to_string(),
                },
                TargetResult::Acknowledged { trigger, .. } => {
                    format!("acknowledged:{}", trigger.detail)
                }
                TargetResult::AccountSwept(summary) => format!("account:{}", summary.account),
                TargetResult::Accounts(_) => "accounts".to_string(),
                TargetResult::Postmortem(p) => format!("postmortem:{}", p.distribution_id),
            };
            let n = seen.entry(subject.clone()).or_default();
            let label = format!("{subject}#{n}");
            *n += 1;
            label
        })
        .collect()
}

/// What a result asks to deliver: a diagnosis (healthy ones only with NOTIFY_WHEN_HEALTHY), or a
/// recovery note.
fn notice_of<'a>(
    app: &App,
    result: &'a TargetResult,
) -> Option<(Notice<'a>, Option<&'a Diagnosis>)> {
    match result {
        TargetResult::Diagnosed(d)
            if d.verdict == Verdict::Ok && !app.config.notify_when_healthy =>
        {
            tracing::info!("healthy: nothing delivered (NOTIFY_WHEN_HEALTHY=false)");
            None
        }
        TargetResult::Diagnosed(d) => Some((Notice::Report(d), Some(d))),
        TargetResult::Acknowledged {
            recovery: Some(recovery),
            note,
            ..
        } => Some((Notice::Recovery { recovery, note }, None)),
        TargetResult::Acknowledged { recovery: None, .. } => None,
        // The organization's steps deliver nothing: the organization digest that merges them is
        // the report.
        TargetResult::AccountSwept(_) | TargetResult::Accounts(_) => None,
        // A postmortem is read by whoever asked for it, after the incident: it pages no one.
        TargetResult::Postmortem(_) => None,
    }
}

/// One report to every channel at once, each claimed and recorded when records are kept.
async fn deliver_notice(
    app: &App,
    label: &str,
    notice: Notice<'_>,
    event_key: Option<&str>,
    failures_seen: &DeliveryFailures,
) -> Vec<(Channel, Outcome)> {
    let attempts = app
        .notifier
        .channels()
        .into_iter()
        .map(|channel| async move {
            let key = event_key.map(|k| format!("{k}#{label}#{}", channel.as_str()));
            let outcome = deliver_once(app, channel, notice, key.as_deref()).await;
            if let Outcome::Failed { .. } = outcome {
                failures_seen.count(channel.as_str());
            }
            (channel, outcome)
        });
    futures::future::join_all(attempts).await
}

async fn deliver_once(
    app: &App,
    channel: Channel,
    notice: Notice<'_>,
    key: Option<&str>,
) -> Outcome {
    let records = match (&app.delivery_records, key) {
        (Some(records), Some(key)) => Some((records, key)),
        _ => None,
    };
    let Some((records, key)) = records else {
        return unrecorded(app.notifier.deliver_to(channel, notice).await);
    };
    match records.claim(key).await {
        Claim::AlreadyDelivered { at } => {
            tracing::info!(channel = channel.as_str(), key, delivered_at = %at, "already delivered for this event: not sent again");
            Outcome::AlreadyDone
        }
        Claim::InProgress => {
            tracing::info!(
                channel = channel.as_str(),
                key,
                "another invocation of this event is delivering it: not sent again"
            );
            Outcome::AlreadyDone
        }
        Claim::Unavailable(why) => {
            tracing::warn!(channel = channel.as_str(), error = %why, "no delivery record can be kept; delivering without one");
            unrecorded(app.notifier.deliver_to(channel, notice).await)
        }
        Claim::Claimed => match app.notifier.deliver_to(channel, notice).await {
            Ok(()) => {
                if let Err(e) = records.delivered(key).await {
                    // The claim stays: a retry within its lifetime will not send it again.
                    tracing::warn!(channel = channel.as_str(), error = %e, "delivered, but the record of it was not written");
                }
                Outcome::Delivered
            }
            Err(error) => {
                if let Err(e) = records.failed(key).await {
                    tracing::warn!(channel = channel.as_str(), error = %e, "the failed delivery was not recorded; its claim lapses and a later retry takes it over");
                }
                Outcome::Failed {
                    error,
                    recorded: true,
                }
            }
        },
    }
}

fn unrecorded(result: Result<(), String>) -> Outcome {
    match result {
        Ok(()) => Outcome::Delivered,
        Err(error) => Outcome::Failed {
            error,
            recorded: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cf_doctor_model::TriggerInfo;

    fn diagnosed(distribution: Option<&str>, kind: &str) -> TargetResult {
        let trigger = TriggerInfo {
            function: None,
            kind: kind.parse().unwrap(),
            detail: "d".into(),
            distribution_id: distribution.map(str::to_string),
            status: None,
        };
        TargetResult::Diagnosed(Box::new(cf_doctor_rules::assemble(
            trigger,
            vec![],
            vec![],
            chrono::Utc::now(),
            0,
        )))
    }

    #[test]
    fn a_report_keeps_its_label_when_another_target_of_the_event_comes_and_goes() {
        let both = report_labels(&[
            diagnosed(Some("E1"), "alarm"),
            diagnosed(Some("E2"), "alarm"),
        ]);
        let second_only = report_labels(&[diagnosed(Some("E2"), "alarm")]);
        assert_eq!(both[1], second_only[0]);
        assert_eq!(both, ["distribution:E1#0", "distribution:E2#0"]);
        let twice = report_labels(&[
            diagnosed(Some("E1"), "alarm"),
            diagnosed(Some("E1"), "alarm"),
            diagnosed(None, "acm-event"),
        ]);
        assert_eq!(
            twice,
            ["distribution:E1#0", "distribution:E1#1", "acm-event#0"]
        );
    }
}
