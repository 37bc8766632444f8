//! An alarm on a CloudFront Function's own metrics (AWS/CloudFront, dimension FunctionName):
//! which status its metric is about, and its diagnosis (the function, and the distributions that
//! run it). When one distribution runs it, the report is about that distribution.

use cf_doctor_collect::CollectError;
use cf_doctor_model::{Diagnosis, TriggerInfo};

use crate::app::Stopwatch;
use crate::{App, RunOptions};

/// The status viewers get when a CloudFront Function metric alarms: execution errors and
/// throttles give 503, validation errors 502 (HTTP 502 and 503 pages); invocations name none.
pub fn function_alarm_status(metric: &str) -> Option<u16> {
    match metric {
        "FunctionExecutionErrors" | "FunctionThrottles" | "FunctionComputeUtilization" => Some(503),
        "FunctionValidationErrors" => Some(502),
        _ => None,
    }
}

impl App {
    /// Collects and diagnoses what an alarm on CloudFront Function `name` calls for. Err when the
    /// function does not exist or AWS cannot be reached.
    pub async fn diagnose_function(
        &self,
        name: &str,
        mut trigger: TriggerInfo,
        options: &RunOptions,
    ) -> Result<Diagnosis, CollectError> {
        let stopwatch = Stopwatch::start();
        let evidence = Box::pin(
            self.collector
                .cloudfront_function_within(name, options.deadline),
        )
        .await?;
        // Known from the target, so the report is about the function whatever was collected.
        trigger.function = Some(name.to_string());
        if let [only] = evidence.distributions.as_slice() {
            trigger
                .distribution_id
                .get_or_insert_with(|| only.id.clone());
        }
        Ok(self.conclude(stopwatch.run(trigger, evidence), options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_metric_names_the_status_viewers_get() {
        assert_eq!(function_alarm_status("FunctionExecutionErrors"), Some(503));
        assert_eq!(function_alarm_status("FunctionValidationErrors"), Some(502));
        assert_eq!(function_alarm_status("FunctionThrottles"), Some(503));
        assert_eq!(function_alarm_status("FunctionInvocations"), None);
    }
}
