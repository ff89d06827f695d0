//! Queue attributes: their defaults, limits and validation, and how they read back.

use std::collections::BTreeMap;

use kumo_core::AwsError;
use serde::{Deserialize, Serialize};

use crate::error;

/// Largest message (and batch) size: 1 MiB.
pub const MAX_MESSAGE_SIZE: u32 = 1_048_576;

/// The settable attributes of a queue (stored as JSON in the queue's row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAttributes {
    /// Seconds new messages stay invisible (0–900).
    pub delay_seconds: u32,
    /// Largest message in bytes (1024–1 MiB).
    pub maximum_message_size: u32,
    /// Seconds a message is kept (60–1,209,600).
    pub message_retention_period: u32,
    /// Default long-poll wait (0–20).
    pub receive_message_wait_time_seconds: u32,
    /// Default visibility timeout (0–43,200).
    pub visibility_timeout: u32,
    /// `RedrivePolicy` JSON as given.
    pub redrive_policy: Option<String>,
    /// `RedriveAllowPolicy` JSON as given.
    pub redrive_allow_policy: Option<String>,
    /// Access policy JSON as given.
    pub policy: Option<String>,
    /// KMS key id (stored, not used: messages are not encrypted at rest by Kumo).
    pub kms_master_key_id: Option<String>,
    /// KMS data key reuse period.
    pub kms_data_key_reuse_period_seconds: Option<u32>,
    /// SSE-SQS flag.
    pub sqs_managed_sse_enabled: bool,
    /// FIFO queue.
    pub fifo_queue: bool,
    /// FIFO: deduplicate by SHA-256 of the body.
    pub content_based_deduplication: bool,
    /// FIFO: `queue` or `messageGroup`.
    pub deduplication_scope: String,
    /// FIFO: `perQueue` or `perMessageGroupId`.
    pub fifo_throughput_limit: String,
}

impl QueueAttributes {
    /// Defaults of a new queue.
    pub fn defaults(fifo: bool) -> Self {
        Self {
            delay_seconds: 0,
            maximum_message_size: MAX_MESSAGE_SIZE,
            message_retention_period: 345_600,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: 30,
            redrive_policy: None,
            redrive_allow_policy: None,
            policy: None,
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: None,
            sqs_managed_sse_enabled: true,
            fifo_queue: fifo,
            content_based_deduplication: false,
            deduplication_scope: "queue".to_string(),
            fifo_throughput_limit: "perQueue".to_string(),
        }
    }

    /// Applies `changes` (`creating`: CreateQueue's; a queue's type can never change afterwards).
    pub fn apply(&mut self, changes: &BTreeMap<String, String>, creating: bool) -> Result<(), AwsError> {
        for (name, value) in changes {
            self.apply_one(name, value, creating)?;
        }
        let sse_sqs_requested = changes.get("SqsManagedSseEnabled").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if changes.contains_key("KmsMasterKeyId") && self.kms_master_key_id.is_some() {
            if sse_sqs_requested {
                return Err(AwsError::new(
                    "InvalidAttributeName",
                    400,
                    "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.",
                ));
            }
            self.sqs_managed_sse_enabled = false;
        }
        Ok(())
    }

    fn apply_one(&mut self, name: &str, value: &str, creating: bool) -> Result<(), AwsError> {
        let number = |low: u32, high: u32| -> Result<u32, AwsError> {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (low..=high).contains(n))
                .ok_or_else(|| error::invalid_attribute_value(name))
        };
        let boolean = || -> Result<bool, AwsError> {
            match value.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(error::invalid_attribute_value(name)),
            }
        };
        let fifo_only = || if self.fifo_queue { Ok(()) } else { Err(error::invalid_attribute_name(name)) };
        let fifo_only_setting = || {
            if self.fifo_queue {
                return Ok(());
            }
            let message = format!("You can specify the {name} only when FifoQueue is set to true.");
            Err(AwsError::new("InvalidAttributeName", 400, message))
        };
        match name {
            "DelaySeconds" => self.delay_seconds = number(0, 900)?,
            "MaximumMessageSize" => self.maximum_message_size = number(1024, MAX_MESSAGE_SIZE)?,
            "MessageRetentionPeriod" => self.message_retention_period = number(60, 1_209_600)?,
            "ReceiveMessageWaitTimeSeconds" => self.receive_message_wait_time_seconds = number(0, 20)?,
            "VisibilityTimeout" => self.visibility_timeout = number(0, 43_200)?,
            "RedrivePolicy" => self.redrive_policy = Some(value.to_string()).filter(|v| !v.is_empty()),
            "RedriveAllowPolicy" => {
                validate_redrive_allow_policy(value)?;
                self.redrive_allow_policy = Some(value.to_string()).filter(|v| !v.is_empty());
            }
            "Policy" => self.policy = Some(value.to_string()).filter(|v| !v.is_empty()),
            "KmsMasterKeyId" => self.kms_master_key_id = Some(value.to_string()).filter(|v| !v.is_empty()),
            "KmsDataKeyReusePeriodSeconds" => self.kms_data_key_reuse_period_seconds = Some(number(60, 86_400)?),
            "SqsManagedSseEnabled" => self.sqs_managed_sse_enabled = boolean()?,
            "FifoQueue" => {
                // A standard queue knows no such attribute, not even `false`; a FIFO queue takes
                // `true` again but can never become standard.
                if !self.fifo_queue {
                    return Err(error::invalid_attribute_name(name));
                }
                if !boolean()? {
                    return Err(if creating {
                        error::invalid_attribute_value(name)
                    } else {
                        AwsError::new(
                            "InvalidAttributeValue",
                            400,
                            "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                        )
                    });
                }
            }
            "ContentBasedDeduplication" => {
                fifo_only()?;
                self.content_based_deduplication = boolean()?;
            }
            "DeduplicationScope" => {
                fifo_only_setting()?;
                if !matches!(value, "queue" | "messageGroup") {
                    return Err(error::invalid_attribute_value(name));
                }
                self.deduplication_scope = value.to_string();
            }
            "FifoThroughputLimit" => {
                fifo_only_setting()?;
                if !matches!(value, "perQueue" | "perMessageGroupId") {
                    return Err(error::invalid_attribute_value(name));
                }
                self.fifo_throughput_limit = value.to_string();
            }
            _ => return Err(error::invalid_attribute_name(name)),
        }
        Ok(())
    }

    /// The configured (not computed) attributes as AWS reports them.
    pub fn configured(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        out.insert("DelaySeconds", self.delay_seconds.to_string());
        out.insert("MaximumMessageSize", self.maximum_message_size.to_string());
        out.insert("MessageRetentionPeriod", self.message_retention_period.to_string());
        out.insert("ReceiveMessageWaitTimeSeconds", self.receive_message_wait_time_seconds.to_string());
        out.insert("VisibilityTimeout", self.visibility_timeout.to_string());
        out.insert("SqsManagedSseEnabled", self.sqs_managed_sse_enabled.to_string());
        if let Some(policy) = &self.redrive_policy {
            out.insert("RedrivePolicy", policy.clone());
        }
        if let Some(policy) = &self.redrive_allow_policy {
            out.insert("RedriveAllowPolicy", policy.clone());
        }
        if let Some(policy) = &self.policy {
            out.insert("Policy", policy.clone());
        }
        if let Some(key) = &self.kms_master_key_id {
            out.insert("KmsMasterKeyId", key.clone());
            let period = self.kms_data_key_reuse_period_seconds.unwrap_or(300);
            out.insert("KmsDataKeyReusePeriodSeconds", period.to_string());
        }
        if self.fifo_queue {
            out.insert("FifoQueue", "true".to_string());
            out.insert("ContentBasedDeduplication", self.content_based_deduplication.to_string());
            out.insert("DeduplicationScope", self.deduplication_scope.clone());
            out.insert("FifoThroughputLimit", self.fifo_throughput_limit.clone());
        }
        out
    }

    /// Parsed redrive policy, if any.
    pub fn redrive(&self) -> Option<RedrivePolicy> {
        self.redrive_policy.as_deref().and_then(|text| RedrivePolicy::parse(text).ok())
    }
}

/// Every attribute name GetQueueAttributes knows.
pub const ALL_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// A parsed `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    /// The dead-letter queue's ARN.
    pub dead_letter_target_arn: String,
    /// Receives after which a message moves there.
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    /// Parses and checks a policy; errors name the reason as AWS does.
    pub fn parse(text: &str) -> Result<Self, AwsError> {
        let invalid = |reason: &str| error::invalid_parameter_value(text, "RedrivePolicy", reason);
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
        let arn = value
            .get("deadLetterTargetArn")
            .and_then(serde_json::Value::as_str)
            .filter(|arn| parse_queue_arn(arn).is_some())
            .ok_or_else(|| invalid("Invalid value for deadLetterTargetArn."))?;
        let count = match value.get("maxReceiveCount") {
            Some(serde_json::Value::Number(number)) => number.as_i64(),
            Some(serde_json::Value::String(text)) => text.parse::<i64>().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount."))?;
        if !(1..=1000).contains(&count) {
            return Err(invalid(&format!(
                "Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both inclusive."
            )));
        }
        // The range check above makes the conversion lossless.
        Ok(Self { dead_letter_target_arn: arn.to_string(), max_receive_count: count as u32 })
    }
}

fn validate_redrive_allow_policy(text: &str) -> Result<(), AwsError> {
    if text.is_empty() {
        return Ok(());
    }
    let invalid = |reason: &str| error::invalid_parameter_value(text, "RedriveAllowPolicy", reason);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| invalid("Invalid JSON."))?;
    match value.get("redrivePermission").and_then(serde_json::Value::as_str) {
        Some("allowAll" | "denyAll" | "byQueue") => Ok(()),
        _ => Err(invalid("Amazon SQS can't create the redrive allow policy, as it's in an unsupported format.")),
    }
}

/// `(region, account, name)` of `arn:aws:sqs:<region>:<account>:<name>`.
pub fn parse_queue_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_prefix, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, name) = (parts.next()?, parts.next()?, parts.next()?);
    (arn_prefix == "arn" && service == "sqs" && !region.is_empty() && !name.is_empty())
        .then_some((region, account, name))
}

/// The ARN of a queue.
pub fn queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_and_validates() {
        let mut attributes = QueueAttributes::defaults(false);
        let mut changes = BTreeMap::new();
        changes.insert("VisibilityTimeout".to_string(), "5".to_string());
        attributes.apply(&changes, true).unwrap();
        assert_eq!(attributes.visibility_timeout, 5);
        changes.insert("DelaySeconds".to_string(), "901".to_string());
        assert_eq!(attributes.apply(&changes, false).unwrap_err().code, "InvalidAttributeValue");
        let mut fifo_only = BTreeMap::new();
        fifo_only.insert("ContentBasedDeduplication".to_string(), "true".to_string());
        assert_eq!(attributes.apply(&fifo_only, false).unwrap_err().code, "InvalidAttributeName");
    }

    #[test]
    fn redrive_policies() {
        let policy = RedrivePolicy::parse(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#,
        )
        .unwrap();
        assert_eq!(policy.max_receive_count, 3);
        assert!(RedrivePolicy::parse(r#"{"deadLetterTargetArn":"dummy","maxReceiveCount":3}"#).is_err());
        assert!(
            RedrivePolicy::parse(r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:0:q","maxReceiveCount":0}"#).is_err()
        );
    }
}
