//! SNS Publish of a diagnosis, with the message attributes filter policies use.

use aws_sdk_sns::types::MessageAttributeValue;

use cf_doctor_aws::error_text;
use cf_doctor_render::sns::SnsMessage;

#[derive(Debug, Clone)]
pub struct SnsChannel {
    pub client: aws_sdk_sns::Client,
    pub topic_arn: String,
}

impl SnsChannel {
    pub async fn publish(&self, message: &SnsMessage) -> Result<(), String> {
        let attribute = |data_type: &str, value: &str| {
            MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())
        };
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&message.subject)
            .message_structure("json")
            .message(&message.structured)
            .message_attributes("verdict", attribute("String", &message.verdict)?)
            .message_attributes("codes", attribute("String.Array", &message.codes)?);
        if let Some(id) = &message.distribution_id {
            request = request.message_attributes("distribution_id", attribute("String", id)?);
        }
        request.send().await.map(|_| ()).map_err(|e| {
            format!(
                "sns:Publish to {} failed: {}",
                self.topic_arn,
                error_text(&e)
            )
        })
    }
}
