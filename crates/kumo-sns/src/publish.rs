//! Publish and PublishBatch: validation as AWS does it, FIFO deduplication and sequence numbers,
//! and the one commit to the outbox after which the message is accepted (the fan-out follows
//! in the background, [`crate::delivery`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};

use crate::delivery::Notification;
use crate::store::{OutboxRow, WriteOp};
use crate::types::{
    Members, MessageAttributes, PublishBatchInput, PublishBatchRequestEntry, PublishBatchResult,
    PublishBatchResultEntry, PublishInput, PublishResult,
};
use crate::{error, SnsService, Topic};

/// Largest message with its attributes, in bytes (256 KiB).
const MAX_MESSAGE_BYTES: usize = 262_144;
/// Message attributes a message may carry.
const MAX_ATTRIBUTES: usize = 10;
/// Entries a batch may hold.
const MAX_BATCH: usize = 10;
/// Longest subject.
const MAX_SUBJECT: usize = 100;
/// How long a FIFO deduplication id is remembered.
const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// A message checked and ready to store.
struct Accepted {
    notification: Notification,
    /// Whether it repeats a deduplicated message (not stored again).
    duplicate: bool,
}

/// `Invalid parameter: Message too long` and friends are checked on the size of the message
/// and every attribute's name, type and value.
fn publish_size(message: &str, attributes: &MessageAttributes) -> usize {
    message.len()
        + attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + value.data_type.as_deref().map_or(0, str::len)
                    + value.string_value.as_deref().map_or(0, str::len)
                    + value.binary_value.as_deref().map_or(0, str::len)
            })
            .sum::<usize>()
}

/// AWS's checks of message attributes (`position`: the batch entry, for the validation path).
fn check_attributes(attributes: &MessageAttributes, position: Option<usize>) -> Result<(), AwsError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(error::invalid_parameter_value(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    for (name, value) in attributes {
        check_attribute_name(name)?;
        let Some(data_type) = value.data_type.as_deref() else {
            let at = match position {
                Some(position) => {
                    format!("publishBatchRequestEntries.{position}.member.messageAttributes.{name}.member.dataType")
                }
                None => format!("messageAttributes.{name}.member.dataType"),
            };
            return Err(AwsError::new(
                "ValidationError",
                400,
                format!("1 validation error detected: Value null at '{at}' failed to satisfy constraint: Member must not be null"),
            ));
        };
        let base = data_type.split('.').next().unwrap_or_default();
        if !matches!(base, "String" | "Number" | "Binary") || data_type.len() > 256 {
            return Err(error::invalid_parameter_value(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let field = if base == "Binary" { "Binary" } else { "String" };
        let present = if base == "Binary" { value.binary_value.as_deref() } else { value.string_value.as_deref() };
        match present {
            None if value.string_value.is_none() && value.binary_value.is_none() => {
                return Err(error::invalid_parameter_value(format!(
                    "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."
                )));
            }
            None => {
                return Err(error::invalid_parameter_value(format!(
                    "The message attribute '{name}' with type '{data_type}' must use field '{field}'."
                )));
            }
            Some("") => {
                return Err(error::invalid_parameter_value(format!(
                    "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."
                )));
            }
            Some(text) if base == "Number" && text.trim().parse::<f64>().is_err() => {
                return Err(error::invalid_parameter_value(format!(
                    "Could not cast message attribute '{name}' value to number."
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Attribute names: letters, digits, `_`, `-` and `.`, not starting or ending with `.`, no `..`,
/// at most 256 bytes.
fn check_attribute_name(name: &str) -> Result<(), AwsError> {
    if name.len() > 256 {
        return Err(error::invalid_parameter_value("Length of message attribute name must be less than 256 bytes."));
    }
    if name.starts_with('.') {
        return Err(error::invalid_parameter_value(
            "Invalid message attribute name starting with character '.' was found.",
        ));
    }
    if name.ends_with('.') {
        return Err(error::invalid_parameter_value(
            "Invalid message attribute name ending with character '.' was found.",
        ));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(error::invalid_parameter_value(format!(
            "Invalid non-alphanumeric character '#x{:X}' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.",
            u32::from(bad)
        )));
    }
    if name.contains("..") {
        return Err(error::invalid_parameter_value("Message attribute name can not have successive '.' character."));
    }
    Ok(())
}

/// `MessageStructure=json`: the per-protocol messages, which must include `default`.
fn per_protocol(message: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let parsed: serde_json::Value = serde_json::from_str(message)
        .map_err(|_| error::invalid_parameter("Message Structure - JSON message body failed to parse"))?;
    let serde_json::Value::Object(members) = parsed else {
        return Err(error::invalid_parameter("Message Structure - JSON message body failed to parse"));
    };
    // Keys whose values are not strings are ignored, as AWS ignores them.
    let messages: BTreeMap<String, String> = members
        .into_iter()
        .filter_map(|(protocol, value)| value.as_str().map(|text| (protocol, text.to_string())))
        .collect();
    if !messages.contains_key("default") {
        return Err(error::invalid_parameter("Message Structure - No default entry in JSON message body"));
    }
    Ok(messages)
}

/// The fields of one message, from Publish or a batch entry.
struct Message<'a> {
    message: Option<&'a str>,
    subject: Option<&'a str>,
    structure: Option<&'a str>,
    attributes: &'a MessageAttributes,
    dedup_id: Option<&'a str>,
    group_id: Option<&'a str>,
    position: Option<usize>,
}

impl SnsService {
    /// Checks one message for `topic` and makes its notification (FIFO: deduplicated and
    /// numbered under the topic's lock).
    fn accept(&self, topic: &Topic, message: Message<'_>, now_ms: u64) -> Result<Accepted, AwsError> {
        let text = message.message.filter(|text| !text.is_empty());
        let text = text.ok_or_else(|| error::invalid_parameter("Empty message"))?;
        if let Some(subject) = message.subject {
            let printable = subject.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
            if subject.is_empty() || subject.len() > MAX_SUBJECT || !printable {
                return Err(error::invalid_parameter("Subject"));
            }
        }
        check_attributes(message.attributes, message.position)?;
        if publish_size(text, message.attributes) > MAX_MESSAGE_BYTES {
            return Err(error::invalid_parameter("Message too long"));
        }
        let per_protocol = match message.structure {
            Some("json") => Some(per_protocol(text)?),
            Some(other) if !other.is_empty() => return Err(error::invalid_parameter("MessageStructure")),
            _ => None,
        };
        let body = per_protocol
            .as_ref()
            .and_then(|messages| messages.get("default").cloned())
            .unwrap_or_else(|| text.to_string());
        let mut notification = Notification {
            seq: 0,
            message_id: uuid::Uuid::new_v4().to_string(),
            topic_arn: topic.arn.clone(),
            subject: message.subject.map(str::to_string),
            message: body,
            per_protocol,
            attributes: message.attributes.clone(),
            timestamp_ms: now_ms,
            group_id: None,
            dedup_id: None,
            sequence_number: None,
        };
        if !topic.fifo {
            if message.dedup_id.is_some() {
                return Err(error::invalid_parameter(
                    "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
                ));
            }
            notification.group_id = message.group_id.map(str::to_string);
            return Ok(Accepted { notification, duplicate: false });
        }
        let group = message.group_id.filter(|group| !group.is_empty());
        let group = group
            .ok_or_else(|| error::invalid_parameter("The MessageGroupId parameter is required for FIFO topics"))?;
        if group.len() > 128 {
            return Err(error::invalid_parameter(
                "MessageGroupId Reason: MessageGroupId can be at most 128 characters",
            ));
        }
        let mut state = topic.lock();
        let content_based = state.attributes.get("ContentBasedDeduplication").is_some_and(|value| value == "true");
        let dedup = match message.dedup_id.filter(|id| !id.is_empty()) {
            Some(id) if id.len() > 128 => {
                return Err(error::invalid_parameter(
                    "MessageDeduplicationId Reason: MessageDeduplicationId can be at most 128 characters",
                ));
            }
            Some(id) => id.to_string(),
            None if content_based => {
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(text.as_bytes()))
            }
            None => {
                return Err(error::invalid_parameter(
                    "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ));
            }
        };
        let key = match state.attributes.get("FifoThroughputScope").map(String::as_str) {
            Some("MessageGroup") => format!("{group}\u{0}{dedup}"),
            _ => dedup.clone(),
        };
        state.dedup.retain(|_, (_, expires)| *expires > now_ms);
        state.sequence = state.sequence.max(u128::from(now_ms) * 1_000_000) + 1;
        notification.sequence_number = Some(format!("{:020}", state.sequence));
        notification.group_id = Some(group.to_string());
        notification.dedup_id = Some(dedup);
        if let Some((message_id, _)) = state.dedup.get(&key) {
            notification.message_id = message_id.clone();
            return Ok(Accepted { notification, duplicate: true });
        }
        state.dedup.insert(key, (notification.message_id.clone(), now_ms + DEDUP_WINDOW_MS));
        Ok(Accepted { notification, duplicate: false })
    }

    /// The topic Publish names by `TopicArn` or `TargetArn`.
    fn publish_topic(&self, context: &RequestContext, request: &PublishInput) -> Result<Arc<Topic>, AwsError> {
        if request.phone_number.as_deref().is_some_and(|phone| !phone.is_empty()) {
            return Err(error::invalid_parameter("PhoneNumber Reason: Kumo does not send SMS messages"));
        }
        let (arn, parameter) = match (&request.topic_arn, &request.target_arn) {
            (Some(topic), _) if !topic.is_empty() => (topic.as_str(), "TopicArn"),
            (_, Some(target)) if !target.is_empty() => (target.as_str(), "TargetArn"),
            _ => return Err(error::invalid_parameter("TopicArn or TargetArn Reason: no value for required parameter")),
        };
        self.topic_for(context, Some(arn), parameter, "sns:Publish")
    }

    /// Stores the accepted messages in the outbox (one commit) and hands them to the fan-out.
    async fn enqueue(&self, accepted: &mut [Accepted]) -> Result<(), AwsError> {
        if accepted.iter().all(|message| message.duplicate) {
            return Ok(());
        }
        let (sender, committed) = tokio::sync::oneshot::channel();
        {
            // Positions are given out and submitted under one lock, so the writer commits them,
            // and its callbacks hand them to the outbox, in position order.
            let _order = self.outbox_order();
            let mut ops = Vec::new();
            let mut handed = Vec::new();
            for message in accepted.iter_mut().filter(|message| !message.duplicate) {
                message.notification.seq = self.allocate_seq();
                let text = serde_json::to_string(&message.notification).map_err(error::internal)?;
                ops.push(WriteOp::InsertOutbox(OutboxRow { seq: message.notification.seq, message: text }));
                handed.push(message.notification.clone());
            }
            let outbox = Arc::clone(&self.outbox);
            let done: crate::store::Done = Box::new(move |ok| {
                if ok {
                    for notification in handed {
                        outbox.push(notification);
                    }
                }
                let _ = sender.send(ok);
            });
            self.store.submit(ops, Some(done));
        }
        match committed.await {
            Ok(true) => Ok(()),
            _ => Err(error::internal("the sns outbox commit failed")),
        }
    }

    /// Publish: answers once the message is durably accepted; deliveries follow.
    pub async fn publish(&self, context: &RequestContext, request: PublishInput) -> Result<PublishResult, AwsError> {
        let topic = self.publish_topic(context, &request)?;
        let message = Message {
            message: request.message.as_deref(),
            subject: request.subject.as_deref(),
            structure: request.message_structure.as_deref(),
            attributes: &request.message_attributes,
            dedup_id: request.message_deduplication_id.as_deref(),
            group_id: request.message_group_id.as_deref(),
            position: None,
        };
        let mut accepted = vec![self.accept(&topic, message, kumo_core::time::now_millis())?];
        self.enqueue(&mut accepted).await?;
        let notification = &accepted[0].notification;
        Ok(PublishResult {
            message_id: notification.message_id.clone(),
            sequence_number: notification.sequence_number.clone(),
        })
    }

    /// PublishBatch: up to ten messages, checked as a whole (AWS refuses the request for a
    /// malformed entry), stored in one commit.
    pub async fn publish_batch(
        &self,
        context: &RequestContext,
        request: PublishBatchInput,
    ) -> Result<PublishBatchResult, AwsError> {
        let topic = self.topic_for(context, request.topic_arn.as_deref(), "TopicArn", "sns:Publish")?;
        let entries = request.publish_batch_request_entries;
        if entries.is_empty() {
            return Err(AwsError::new("EmptyBatchRequest", 400, "The batch request doesn't contain any entries."));
        }
        if entries.len() > MAX_BATCH {
            return Err(AwsError::new(
                "TooManyEntriesInBatchRequest",
                400,
                "The batch request contains more entries than permissible.",
            ));
        }
        let mut ids = BTreeSet::new();
        for entry in &entries {
            let id = entry.id.as_deref().unwrap_or_default();
            if !ids.insert(id) {
                return Err(AwsError::new(
                    "BatchEntryIdsNotDistinct",
                    400,
                    "Two or more batch entries in the request have the same Id.",
                ));
            }
            check_entry_id(id)?;
        }
        let total: usize = entries
            .iter()
            .map(|entry| publish_size(entry.message.as_deref().unwrap_or_default(), &entry.message_attributes))
            .sum();
        if total > MAX_MESSAGE_BYTES {
            return Err(AwsError::new(
                "BatchRequestTooLong",
                400,
                "The length of all the messages put together is more than the limit.",
            ));
        }
        let now_ms = kumo_core::time::now_millis();
        let mut accepted = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            accepted.push(self.accept(&topic, batch_message(entry, index + 1), now_ms)?);
        }
        self.enqueue(&mut accepted).await?;
        let successful = entries
            .iter()
            .zip(&accepted)
            .map(|(entry, accepted)| PublishBatchResultEntry {
                id: entry.id.clone().unwrap_or_default(),
                message_id: accepted.notification.message_id.clone(),
                sequence_number: accepted.notification.sequence_number.clone(),
            })
            .collect();
        Ok(PublishBatchResult { successful: Members { member: successful }, failed: Members { member: Vec::new() } })
    }
}

impl SnsService {
    /// Publishes `message` with string `attributes` to the standard topic with this ARN, as
    /// another Kumo service does it (Lambda destinations and dead-letter targets); returns the
    /// message id once it is durably accepted.
    pub async fn publish_internal(
        &self,
        topic_arn: &str,
        message: String,
        attributes: Vec<(String, String)>,
    ) -> Result<String, AwsError> {
        self.publish_from_service(topic_arn, None, message, attributes).await
    }

    /// Like [`Self::publish_internal`], with a `subject` (S3's notifications carry
    /// "Amazon S3 Notification").
    pub async fn publish_from_service(
        &self,
        topic_arn: &str,
        subject: Option<&str>,
        message: String,
        attributes: Vec<(String, String)>,
    ) -> Result<String, AwsError> {
        let topic = self.topics_read().get(topic_arn).cloned().ok_or_else(error::topic_not_found)?;
        let attributes: MessageAttributes = attributes
            .into_iter()
            .map(|(name, value)| {
                let value = crate::types::MessageAttributeValue {
                    data_type: Some("String".to_string()),
                    string_value: Some(value),
                    binary_value: None,
                };
                (name, value)
            })
            .collect();
        let message = Message {
            message: Some(&message),
            subject,
            structure: None,
            attributes: &attributes,
            dedup_id: None,
            group_id: None,
            position: None,
        };
        let mut accepted = vec![self.accept(&topic, message, kumo_core::time::now_millis())?];
        self.enqueue(&mut accepted).await?;
        Ok(accepted[0].notification.message_id.clone())
    }

    /// Whether the topic with this ARN exists and its `Policy` lets the AWS service `service`
    /// (`s3.amazonaws.com`) publish to it for the resource `source_arn` of `source_account` (the
    /// check S3 makes before it takes the topic as a notification destination).
    pub fn service_may_publish(&self, topic_arn: &str, service: &str, source_arn: &str, source_account: &str) -> bool {
        use kumo_core::policy::{evaluate, Effect, PolicyKind, Principal, Request};
        let Some(topic) = self.topics_read().get(topic_arn).cloned() else { return false };
        let policy = topic.lock().attributes.get("Policy").cloned();
        let Some(statements) = policy.as_deref().map(kumo_core::policy::parse_statements) else { return false };
        let mut request = Request::new(Principal::Service(service), "sns:Publish", Some(topic_arn));
        request.set("aws:SourceArn", source_arn).set("aws:SourceAccount", source_account);
        evaluate(&statements, PolicyKind::Resource, &request) == Effect::Allow
    }

    /// Whether `caller` (the execution role of a function whose outcome goes to the topic) may
    /// perform `action` on the topic with this ARN: its identity policies and the topic's
    /// `Policy` decide, as for a call of the public API.
    pub fn authorize_internal(
        &self,
        topic_arn: &str,
        caller: &kumo_core::policy::Caller<'_>,
        action: &str,
    ) -> Result<(), AwsError> {
        let topic = self.topics_read().get(topic_arn).cloned();
        let policy = topic.as_ref().and_then(|topic| topic.lock().attributes.get("Policy").cloned());
        let statements = policy.as_deref().map(kumo_core::policy::parse_statements);
        let owner = topic_arn.split(':').nth(4).unwrap_or_default();
        self.authorize_caller(caller, topic_arn, owner, statements.as_deref(), action)
    }
}

fn batch_message(entry: &PublishBatchRequestEntry, position: usize) -> Message<'_> {
    Message {
        message: entry.message.as_deref(),
        subject: entry.subject.as_deref(),
        structure: entry.message_structure.as_deref(),
        attributes: &entry.message_attributes,
        dedup_id: entry.message_deduplication_id.as_deref(),
        group_id: entry.message_group_id.as_deref(),
        position: Some(position),
    }
}

/// Batch entry ids: 1–80 letters, digits, `-` and `_`.
fn check_entry_id(id: &str) -> Result<(), AwsError> {
    if id.len() > 80 {
        return Err(AwsError::new(
            "InvalidBatchEntryId",
            400,
            format!("The Id of a batch entry in the batch request is too long: {id}"),
        ));
    }
    if id.is_empty() || !id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_') {
        return Err(AwsError::new(
            "InvalidBatchEntryId",
            400,
            format!("The Id of a batch entry in the batch request contains an impermissible character: {id}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MessageAttributeValue;

    #[test]
    fn attribute_checks_use_aws_messages() {
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "n".into(),
            MessageAttributeValue {
                data_type: Some("Number".into()),
                string_value: Some("x".into()),
                binary_value: None,
            },
        );
        assert_eq!(
            check_attributes(&attributes, None).unwrap_err().message,
            "Could not cast message attribute 'n' value to number."
        );
        assert_eq!(check_attribute_name("a..b").unwrap_err().code, "ParameterValueInvalid");
        assert!(check_attribute_name("a.b-c_d").is_ok());
        assert!(check_attribute_name("a b").unwrap_err().message.contains("'#x20'"));
    }

    #[test]
    fn json_structure_needs_a_default() {
        assert!(per_protocol(r#"{"default":"d","sqs":"s","lambda":1}"#).unwrap().len() == 2);
        assert!(per_protocol(r#"{"sqs":"s"}"#).unwrap_err().message.contains("No default entry"));
        assert!(per_protocol("nope").unwrap_err().message.contains("failed to parse"));
    }
}
