//! SNS's requests as botocore sends them (awsQuery member names, decoded by kumo-protocol) and
//! its XML-shaped results (`<Topics><member>…`, `<Attributes><entry><key>…`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A tag, `Tags.member.N.Key` / `.Value`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// A message attribute, `MessageAttributes.entry.N.Value.DataType` / `.StringValue` / `.BinaryValue`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttributeValue {
    /// `String`, `String.Array`, `Number`, `Binary` (optionally with a custom suffix).
    #[serde(default)]
    pub data_type: Option<String>,
    /// Value of `String` and `Number` attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Value of `Binary` attributes, base64 as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
}

/// Message attributes by name.
pub type MessageAttributes = BTreeMap<String, MessageAttributeValue>;

/// CreateTopic.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicInput {
    /// Name.
    pub name: Option<String>,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Accepted and kept as the `DataProtectionPolicy` attribute.
    pub data_protection_policy: Option<String>,
}

/// An operation on one topic (DeleteTopic, GetTopicAttributes).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicArnInput {
    /// The topic.
    pub topic_arn: Option<String>,
}

/// A page of a list (ListTopics, ListSubscriptions).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageInput {
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// ListSubscriptionsByTopic.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicPageInput {
    /// The topic.
    pub topic_arn: Option<String>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// SetTopicAttributes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetTopicAttributesInput {
    /// The topic.
    pub topic_arn: Option<String>,
    /// Which attribute.
    pub attribute_name: Option<String>,
    /// Its new value (absent: empty).
    pub attribute_value: Option<String>,
}

/// TagResource.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    /// The topic.
    pub resource_arn: Option<String>,
    /// Tags to add or replace.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// UntagResource.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    /// The topic.
    pub resource_arn: Option<String>,
    /// Keys to remove.
    #[serde(default)]
    pub tag_keys: Vec<String>,
}

/// ListTagsForResource.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceArnInput {
    /// The topic.
    pub resource_arn: Option<String>,
}

/// Subscribe.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeInput {
    /// The topic.
    pub topic_arn: Option<String>,
    /// `sqs`, `lambda`, `http`, `https`, …
    pub protocol: Option<String>,
    /// The queue or function ARN, or URL.
    pub endpoint: Option<String>,
    /// Subscription attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Whether a pending subscription's ARN is answered instead of `pending confirmation`.
    #[serde(default)]
    pub return_subscription_arn: bool,
}

/// An operation on one subscription.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionArnInput {
    /// The subscription.
    pub subscription_arn: Option<String>,
}

/// SetSubscriptionAttributes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetSubscriptionAttributesInput {
    /// The subscription.
    pub subscription_arn: Option<String>,
    /// Which attribute.
    pub attribute_name: Option<String>,
    /// Its new value.
    pub attribute_value: Option<String>,
}

/// ConfirmSubscription.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmSubscriptionInput {
    /// The topic.
    pub topic_arn: Option<String>,
    /// The token sent to the endpoint.
    pub token: Option<String>,
    /// Accepted; Kumo does not distinguish authenticated unsubscribes.
    pub authenticate_on_unsubscribe: Option<String>,
}

/// Publish.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishInput {
    /// The topic.
    pub topic_arn: Option<String>,
    /// The topic, as some clients name it.
    pub target_arn: Option<String>,
    /// SMS: not supported by Kumo.
    pub phone_number: Option<String>,
    /// The message.
    pub message: Option<String>,
    /// Subject (email; carried in the envelope).
    pub subject: Option<String>,
    /// `json`: the message is a JSON object with a message per protocol.
    pub message_structure: Option<String>,
    /// Message attributes.
    #[serde(default)]
    pub message_attributes: MessageAttributes,
    /// FIFO deduplication id.
    pub message_deduplication_id: Option<String>,
    /// FIFO group.
    pub message_group_id: Option<String>,
}

/// One entry of PublishBatch.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchRequestEntry {
    /// The entry's id within the batch.
    pub id: Option<String>,
    /// The message.
    pub message: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// `json` or nothing.
    pub message_structure: Option<String>,
    /// Message attributes.
    #[serde(default)]
    pub message_attributes: MessageAttributes,
    /// FIFO deduplication id.
    pub message_deduplication_id: Option<String>,
    /// FIFO group.
    pub message_group_id: Option<String>,
}

/// PublishBatch.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchInput {
    /// The topic.
    pub topic_arn: Option<String>,
    /// The entries.
    #[serde(default)]
    pub publish_batch_request_entries: Vec<PublishBatchRequestEntry>,
}

// ------------------------------------------------------------------------------------------
// Results

/// An awsQuery list: `<Topics><member>…</member>…</Topics>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Members<T> {
    /// The items.
    pub member: Vec<T>,
}

/// An awsQuery map: `<Attributes><entry><key>…</key><value>…</value></entry>…</Attributes>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entries {
    /// The entries.
    pub entry: Vec<Entry>,
}

/// One entry of an [`Entries`] map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

impl From<BTreeMap<String, String>> for Entries {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self { entry: map.into_iter().map(|(key, value)| Entry { key, value }).collect() }
    }
}

/// A topic in ListTopics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicEntry {
    /// Its ARN.
    pub topic_arn: String,
}

/// `CreateTopicResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicResult {
    /// The topic's ARN.
    pub topic_arn: String,
}

/// `ListTopicsResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTopicsResult {
    /// A page of topics.
    pub topics: Members<TopicEntry>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `Get{Topic,Subscription}AttributesResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesResult {
    /// The attributes.
    pub attributes: Entries,
}

/// `ListTagsForResourceResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsResult {
    /// The tags.
    pub tags: Members<Tag>,
}

/// A subscription in the List operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionEntry {
    /// Its ARN (`PendingConfirmation` while it waits to be confirmed).
    pub subscription_arn: String,
    /// The subscribing account.
    pub owner: String,
    /// Protocol.
    pub protocol: String,
    /// Endpoint.
    pub endpoint: String,
    /// The topic.
    pub topic_arn: String,
}

/// `ListSubscriptions[ByTopic]Result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsResult {
    /// A page of subscriptions.
    pub subscriptions: Members<SubscriptionEntry>,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `SubscribeResult` / `ConfirmSubscriptionResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionArnResult {
    /// The ARN, or `pending confirmation`.
    pub subscription_arn: String,
}

/// `PublishResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishResult {
    /// The message's id.
    pub message_id: String,
    /// FIFO topics: its sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

/// A successful entry of PublishBatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchResultEntry {
    /// The entry's id.
    pub id: String,
    /// The message's id.
    pub message_id: String,
    /// FIFO topics: its sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

/// A failed entry of PublishBatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultErrorEntry {
    /// The entry's id.
    pub id: String,
    /// The error code.
    pub code: String,
    /// The message.
    pub message: String,
    /// Whether the caller is at fault.
    pub sender_fault: bool,
}

/// `PublishBatchResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchResult {
    /// Entries published.
    pub successful: Members<PublishBatchResultEntry>,
    /// Entries refused.
    pub failed: Members<BatchResultErrorEntry>,
}
