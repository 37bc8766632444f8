//! Delivery records: which channel already got which report of which event, in DynamoDB
//! (`DELIVERY_TABLE`), so that a retried event pages no one twice. The Lambda Powertools
//! idempotency pattern, per channel: a conditional PutItem claims the delivery before it is made
//! (only if no record exists, or the last attempt failed, or a claim was abandoned), the outcome
//! is written after it, and every record expires (TTL) once no retry can come.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use cf_doctor_aws::error_text;

/// How long a record is kept: Lambda retries an asynchronous event for at most 6 hours, and a
/// dead-lettered one may be redriven from the failed-events queue, which keeps it 14 days.
pub const KEEP_FOR: Duration = Duration::from_secs(14 * 24 * 3600);
/// Each DynamoDB call is bounded so that delivery fits in the reserve kept before the deadline.
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(2);
/// A claim older than this was abandoned (the invocation died mid-delivery, or the outcome could
/// not be written): it may be taken over. Longer than a delivery can take (the reserve), shorter
/// than the minute Lambda waits before its first retry.
pub const CLAIM_FOR: Duration = cf_doctor_collect::DELIVERY_RESERVE;

const IN_PROGRESS: &str = "IN_PROGRESS";
const DELIVERED: &str = "DELIVERED";
const FAILED: &str = "FAILED";

/// The answer to "may I deliver this?".
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Nobody delivered it yet: deliver, then record the outcome.
    Claimed,
    /// Delivered already (at this time): do not send it again.
    AlreadyDelivered { at: String },
    /// Another invocation of the same event is delivering it right now.
    InProgress,
    /// No record can be kept (the table is unreachable or refuses): deliver without one.
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct DeliveryRecords {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DeliveryRecords {
    /// Claims `key` for a delivery: a conditional write that succeeds only when no delivery was
    /// recorded, the last one failed, or an earlier claim was abandoned.
    pub async fn claim(&self, key: &str) -> Claim {
        let now = now_s();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(key, IN_PROGRESS, now)))
            .item("claimed_until", number(now + CLAIM_FOR.as_secs() as i64))
            .condition_expression(
                "attribute_not_exists(id) OR #status = :failed OR (#status = :in_progress AND claimed_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", text(FAILED))
            .expression_attribute_values(":in_progress", text(IN_PROGRESS))
            .expression_attribute_values(":now", number(now))
            .send();
        match tokio::time::timeout(RECORD_TIMEOUT, put).await {
            Err(_) => Claim::Unavailable(self.too_slow("PutItem")),
            Ok(Ok(_)) => Claim::Claimed,
            Ok(Err(e))
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                self.existing(key).await
            }
            Ok(Err(e)) => Claim::Unavailable(format!(
                "dynamodb:PutItem on {} failed: {}",
                self.table,
                error_text(&e)
            )),
        }
    }

    /// What the record that refused a claim says (a consistent read: the write just happened).
    async fn existing(&self, key: &str) -> Claim {
        let get = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", text(key))
            .consistent_read(true)
            .send();
        let item = match tokio::time::timeout(RECORD_TIMEOUT, get).await {
            Ok(Ok(out)) => out.item,
            // The claim was refused, so a record exists: whatever it says, do not deliver twice.
            _ => None,
        };
        let field = |name: &str| match item.as_ref().and_then(|i| i.get(name)) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        match field("status").as_str() {
            IN_PROGRESS => Claim::InProgress,
            _ => Claim::AlreadyDelivered {
                at: field("updated_at"),
            },
        }
    }

    /// Records that the delivery was made.
    pub async fn delivered(&self, key: &str) -> Result<(), String> {
        self.record(key, DELIVERED).await
    }

    /// Records that the delivery failed, so that the retry may claim it again.
    pub async fn failed(&self, key: &str) -> Result<(), String> {
        self.record(key, FAILED).await
    }

    async fn record(&self, key: &str, status: &str) -> Result<(), String> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(key, status, now_s())))
            .send();
        match tokio::time::timeout(RECORD_TIMEOUT, put).await {
            Err(_) => Err(self.too_slow("PutItem")),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "dynamodb:PutItem on {} failed: {}",
                self.table,
                error_text(&e)
            )),
        }
    }

    fn item(&self, key: &str, status: &str, now: i64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("id".to_string(), text(key)),
            ("status".to_string(), text(status)),
            (
                "updated_at".to_string(),
                text(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ),
            (
                "expires_at".to_string(),
                number(now + KEEP_FOR.as_secs() as i64),
            ),
        ])
    }

    fn too_slow(&self, action: &str) -> String {
        format!(
            "dynamodb:{action} on {} did not answer within {} ms",
            self.table,
            RECORD_TIMEOUT.as_millis()
        )
    }
}
