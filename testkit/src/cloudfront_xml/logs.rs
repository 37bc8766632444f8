//! CloudFront's answers about its logs and metrics that moto 5.2.5 does not serve (it answers both
//! calls with a bare 404): GetRealtimeLogConfig (the configuration's fields, in the order
//! CloudFront delivers them to Kinesis, its sampling rate and its stream) and
//! GetMonitoringSubscription (whether the distribution has the additional metrics), or the
//! NoSuchMonitoringSubscription error CloudFront sends when it never had them.
//! <https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_GetRealtimeLogConfig.html>,
//! <https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_GetMonitoringSubscription.html>

use super::XMLNS;
use crate::proxy::FaultKind;

/// A real-time log configuration's ARN in the test account.
pub fn realtime_log_config_arn(name: &str) -> String {
    format!("arn:aws:cloudfront::123456789012:realtime-log-config/{name}")
}

/// GetRealtimeLogConfig's answer: `fields` in CloudFront's delivery order, `sampling_rate` percent,
/// one Kinesis endpoint. The endpoint list's items are `<member>` elements (the API model gives
/// EndPointList no member name, so the wire has the default; the API reference's syntax shows
/// `<EndPoint>`, which the SDKs would not read), the fields' are `<Field>`.
pub fn realtime_log_config(
    name: &str,
    sampling_rate: u32,
    stream_arn: &str,
    fields: &[&str],
) -> String {
    let arn = realtime_log_config_arn(name);
    let fields: String = fields
        .iter()
        .map(|f| format!("<Field>{f}</Field>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<GetRealtimeLogConfigResult xmlns="{XMLNS}"><RealtimeLogConfig><ARN>{arn}</ARN><Name>{name}</Name><SamplingRate>{sampling_rate}</SamplingRate><EndPoints><member><StreamType>Kinesis</StreamType><KinesisStreamConfig><RoleARN>arn:aws:iam::123456789012:role/CloudFront-RealtimeLogs</RoleARN><StreamARN>{stream_arn}</StreamARN></KinesisStreamConfig></member></EndPoints><Fields>{fields}</Fields></RealtimeLogConfig></GetRealtimeLogConfigResult>"#
    )
}

/// GetMonitoringSubscription's answer when the subscription exists.
pub fn monitoring_subscription(enabled: bool) -> FaultKind {
    let status = if enabled { "Enabled" } else { "Disabled" };
    FaultKind::Status {
        status: 200,
        body: format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<MonitoringSubscription xmlns="{XMLNS}"><RealtimeMetricsSubscriptionConfig><RealtimeMetricsSubscriptionStatus>{status}</RealtimeMetricsSubscriptionStatus></RealtimeMetricsSubscriptionConfig></MonitoringSubscription>"#
        ),
        headers: vec![("Content-Type".into(), "text/xml".into())],
    }
}

/// CloudFront's error for a distribution that never had the additional metrics.
pub fn no_monitoring_subscription() -> FaultKind {
    FaultKind::Status {
        status: 404,
        body: format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>NoSuchMonitoringSubscription</Code><Message>A monitoring subscription does not exist for the specified distribution.</Message></Error><RequestId>3b1e0a9c-7d4f-4f3e-9a51-0c2d6e8f1a20</RequestId></ErrorResponse>"#
        ),
        headers: vec![("Content-Type".into(), "text/xml".into())],
    }
}
