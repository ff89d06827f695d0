//! Typed requests and responses of every SQS operation, in the shape of AWS JSON 1.0
//! (member names as in botocore's model). The gateway decodes both wire protocols into these.

use std::collections::BTreeMap;

use kumo_core::RequestContext;
use serde::{Deserialize, Serialize};

/// Who sends a request and where: the request's [`RequestContext`] (account, region, caller,
/// request id; its fields read through this type) plus what SQS adds. The service never sees HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsContext {
    /// The request's context, as every service has it.
    pub request: RequestContext,
    /// `http://<host>:<port>` as the client addressed Kumo; queue URLs start with it.
    pub endpoint: String,
    /// Identity recorded as a message's `SenderId`.
    pub sender_id: String,
    /// The request's `X-Amzn-Trace-Id` header: a send stores it as the `AWSTraceHeader` system
    /// attribute when it gives none.
    pub trace_header: Option<String>,
}

impl SqsContext {
    /// The root of `account` calling in `region` through `endpoint` (a fresh request id; the
    /// account is also the `SenderId`).
    pub fn root(account: &str, region: &str, endpoint: &str) -> Self {
        Self::new(RequestContext::new(account, region), endpoint, account)
    }

    /// The context of a request addressed to `endpoint` by `sender_id`.
    pub fn new(request: RequestContext, endpoint: impl Into<String>, sender_id: impl Into<String>) -> Self {
        Self { request, endpoint: endpoint.into(), sender_id: sender_id.into(), trace_header: None }
    }
}

impl std::ops::Deref for SqsContext {
    type Target = RequestContext;

    fn deref(&self) -> &RequestContext {
        &self.request
    }
}

/// A message attribute value (`MessageAttributeValue` / `MessageSystemAttributeValue`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttributeValue {
    /// `String`, `Number`, `Binary`, optionally with a `.custom` suffix.
    #[serde(default)]
    pub data_type: String,
    /// Value of `String` and `Number` attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// Value of `Binary` attributes (base64 on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_option")]
    pub binary_value: Option<Vec<u8>>,
}

/// Message attributes by name, ordered (the MD5 and responses list them sorted).
pub type MessageAttributes = BTreeMap<String, MessageAttributeValue>;

mod base64_option {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|text| {
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| serde::de::Error::custom("BinaryValue is not valid base64"))
        })
        .transpose()
    }
}

/// CreateQueue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueRequest {
    /// Name, 1–80 characters (`.fifo` for FIFO queues).
    pub queue_name: Option<String>,
    /// Queue attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Tags (the JSON member is lower-case `tags`).
    #[serde(default, rename = "tags", alias = "Tags")]
    pub tags: BTreeMap<String, String>,
}

/// CreateQueue's and GetQueueUrl's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlResponse {
    /// The queue URL.
    pub queue_url: String,
}

/// GetQueueUrl.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrlRequest {
    /// Queue name.
    pub queue_name: Option<String>,
    /// Owner account; must be Kumo's.
    #[serde(rename = "QueueOwnerAWSAccountId")]
    pub queue_owner_aws_account_id: Option<String>,
}

/// ListQueues.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesRequest {
    /// Only queues whose name starts with this.
    pub queue_name_prefix: Option<String>,
    /// Page size, 1–1000.
    pub max_results: Option<i64>,
    /// Continuation from the previous page.
    pub next_token: Option<String>,
}

/// ListQueues' answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesResponse {
    /// Queue URLs (absent when none, as AWS answers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queue_urls: Vec<String>,
    /// More pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Requests that only name a queue (DeleteQueue, PurgeQueue, ListQueueTags).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
}

/// GetQueueAttributes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// Names, or `All`.
    #[serde(default)]
    pub attribute_names: Vec<String>,
}

/// GetQueueAttributes' answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesResponse {
    /// Attribute values (absent when none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// SetQueueAttributes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetQueueAttributesRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// New values.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// SendMessage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// The body.
    pub message_body: Option<String>,
    /// Per-message delay (standard queues only).
    pub delay_seconds: Option<i64>,
    /// User attributes.
    #[serde(default)]
    pub message_attributes: MessageAttributes,
    /// System attributes (`AWSTraceHeader`).
    #[serde(default)]
    pub message_system_attributes: MessageAttributes,
    /// FIFO deduplication id.
    pub message_deduplication_id: Option<String>,
    /// FIFO group.
    pub message_group_id: Option<String>,
}

/// SendMessage's answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageResponse {
    /// MD5 of the body, hex.
    #[serde(rename = "MD5OfMessageBody")]
    pub md5_of_message_body: String,
    /// MD5 of the user attributes, when there are any.
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    pub md5_of_message_attributes: Option<String>,
    /// MD5 of the system attributes, when there are any.
    #[serde(rename = "MD5OfMessageSystemAttributes", skip_serializing_if = "Option::is_none")]
    pub md5_of_message_system_attributes: Option<String>,
    /// The message id.
    pub message_id: String,
    /// FIFO sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

/// One entry of SendMessageBatch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchEntry {
    /// Batch-local id.
    #[serde(default)]
    pub id: String,
    /// The body.
    pub message_body: Option<String>,
    /// Per-message delay.
    pub delay_seconds: Option<i64>,
    /// User attributes.
    #[serde(default)]
    pub message_attributes: MessageAttributes,
    /// System attributes.
    #[serde(default)]
    pub message_system_attributes: MessageAttributes,
    /// FIFO deduplication id.
    pub message_deduplication_id: Option<String>,
    /// FIFO group.
    pub message_group_id: Option<String>,
}

/// SendMessageBatch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// Up to ten messages.
    #[serde(default)]
    pub entries: Vec<SendMessageBatchEntry>,
}

/// A successful SendMessageBatch entry.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchResultEntry {
    /// The entry's id.
    pub id: String,
    /// The message id.
    pub message_id: String,
    /// MD5 of the body.
    #[serde(rename = "MD5OfMessageBody")]
    pub md5_of_message_body: String,
    /// MD5 of the user attributes.
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    pub md5_of_message_attributes: Option<String>,
    /// MD5 of the system attributes.
    #[serde(rename = "MD5OfMessageSystemAttributes", skip_serializing_if = "Option::is_none")]
    pub md5_of_message_system_attributes: Option<String>,
    /// FIFO sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
}

/// A failed batch entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultErrorEntry {
    /// The entry's id.
    pub id: String,
    /// Whether the caller is at fault.
    pub sender_fault: bool,
    /// Query-style error code.
    pub code: String,
    /// Explanation.
    pub message: String,
}

/// SendMessageBatch's answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchResponse {
    /// Sent entries (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub successful: Vec<SendMessageBatchResultEntry>,
    /// Failed entries (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<BatchResultErrorEntry>,
}

/// ReceiveMessage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// System attributes to return (deprecated name).
    #[serde(default)]
    pub attribute_names: Vec<String>,
    /// System attributes to return.
    #[serde(default)]
    pub message_system_attribute_names: Vec<String>,
    /// User attributes to return: names, `All`, `.*` or `prefix.*`.
    #[serde(default)]
    pub message_attribute_names: Vec<String>,
    /// 1–10.
    pub max_number_of_messages: Option<i64>,
    /// Visibility timeout for the received messages.
    pub visibility_timeout: Option<i64>,
    /// Long-poll time, 0–20 s.
    pub wait_time_seconds: Option<i64>,
    /// FIFO receive retry token (accepted, not used for deduplication).
    pub receive_request_attempt_id: Option<String>,
}

/// A received message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    /// Message id.
    pub message_id: String,
    /// Handle for this receive.
    pub receipt_handle: String,
    /// MD5 of the body.
    #[serde(rename = "MD5OfBody")]
    pub md5_of_body: String,
    /// The body.
    pub body: String,
    /// Requested system attributes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// MD5 of the returned user attributes.
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    pub md5_of_message_attributes: Option<String>,
    /// Requested user attributes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: MessageAttributes,
}

/// ReceiveMessage's answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageResponse {
    /// The messages (absent when none, as AWS answers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
}

/// DeleteMessage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// Handle of the receive.
    pub receipt_handle: Option<String>,
}

/// One entry of DeleteMessageBatch or ChangeMessageVisibilityBatch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptBatchEntry {
    /// Batch-local id.
    #[serde(default)]
    pub id: String,
    /// Handle of the receive.
    pub receipt_handle: Option<String>,
    /// New visibility timeout (ChangeMessageVisibilityBatch only).
    pub visibility_timeout: Option<i64>,
}

/// DeleteMessageBatch and ChangeMessageVisibilityBatch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptBatchRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// Up to ten entries.
    #[serde(default)]
    pub entries: Vec<ReceiptBatchEntry>,
}

/// A successful entry of DeleteMessageBatch or ChangeMessageVisibilityBatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultEntry {
    /// The entry's id.
    pub id: String,
}

/// DeleteMessageBatch's and ChangeMessageVisibilityBatch's answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptBatchResponse {
    /// Done entries (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub successful: Vec<BatchResultEntry>,
    /// Failed entries (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<BatchResultErrorEntry>,
}

/// ChangeMessageVisibility.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// Handle of the receive.
    pub receipt_handle: Option<String>,
    /// New timeout, 0–43200 s.
    pub visibility_timeout: Option<i64>,
}

/// TagQueue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagQueueRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// Tags to add or replace.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// UntagQueue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagQueueRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// Keys to remove.
    #[serde(default)]
    pub tag_keys: Vec<String>,
}

/// ListQueueTags' answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueueTagsResponse {
    /// The tags (absent when none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// ListDeadLetterSourceQueues.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeadLetterSourceQueuesRequest {
    /// The dead-letter queue's URL.
    pub queue_url: Option<String>,
    /// Page size, 1–1000.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// ListDeadLetterSourceQueues' answer (its JSON member is lower-case `queueUrls`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListDeadLetterSourceQueuesResponse {
    /// Source queue URLs.
    #[serde(rename = "queueUrls", skip_serializing_if = "Vec::is_empty")]
    pub queue_urls: Vec<String>,
    /// More pages.
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// StartMessageMoveTask.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskRequest {
    /// The dead-letter queue to move from.
    pub source_arn: Option<String>,
    /// Where to; by default each message's original source queue.
    pub destination_arn: Option<String>,
    /// Rate limit, 1–500.
    pub max_number_of_messages_per_second: Option<i64>,
}

/// StartMessageMoveTask's answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskResponse {
    /// Handle for CancelMessageMoveTask.
    pub task_handle: String,
}

/// CancelMessageMoveTask.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskRequest {
    /// The task.
    pub task_handle: Option<String>,
}

/// CancelMessageMoveTask's answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskResponse {
    /// Messages moved before the cancel.
    pub approximate_number_of_messages_moved: u64,
}

/// ListMessageMoveTasks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksRequest {
    /// The dead-letter queue.
    pub source_arn: Option<String>,
    /// 1–10, default 1.
    pub max_results: Option<i64>,
}

/// One move task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageMoveTask {
    /// Handle (only while running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_handle: Option<String>,
    /// `RUNNING`, `COMPLETED`, `CANCELLED` or `FAILED`.
    pub status: String,
    /// Source queue ARN.
    pub source_arn: String,
    /// Destination queue ARN, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    /// Rate limit, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_number_of_messages_per_second: Option<i64>,
    /// Moved so far.
    pub approximate_number_of_messages_moved: u64,
    /// To move in total.
    pub approximate_number_of_messages_to_move: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Start, epoch ms.
    pub started_timestamp: u64,
}

/// ListMessageMoveTasks' answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksResponse {
    /// Most recent first (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<MessageMoveTask>,
}

/// AddPermission.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// The statement's label (its `Sid`), unique in the policy.
    pub label: Option<String>,
    /// Accounts granted the actions.
    #[serde(rename = "AWSAccountIds", default)]
    pub aws_account_ids: Vec<String>,
    /// Actions granted (`SendMessage`, …, or `*`).
    #[serde(default)]
    pub actions: Vec<String>,
}

/// RemovePermission.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionRequest {
    /// The queue URL.
    pub queue_url: Option<String>,
    /// The label of the statement to remove.
    pub label: Option<String>,
}

/// Answer of operations that return nothing (`{}` in JSON, no result element in XML).
pub use kumo_protocol::NoResult as Empty;
