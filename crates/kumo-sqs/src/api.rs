//! SQS behind kumo-protocol's registry: its descriptor (AWS JSON 1.0 with `X-Amz-Target:
//! AmazonSQS.<Op>`, and the legacy awsQuery form to `/` or to a queue URL) and its operation
//! table; [`SqsApi`] is the registered service. Both protocols decode into the same typed
//! requests ([`crate::types`], JSON-shaped); the awsQuery names and XML element names that
//! differ from the JSON members are listed here.

use std::sync::Arc;

use kumo_core::AwsError;
use kumo_protocol::query::xml::XmlMember;
use kumo_protocol::query::{QueryLimits, QueryNode};
use kumo_protocol::{operation, AwsService, BoxFuture, Call, DecodeError, Encoded, OperationTable, Protocol};
use kumo_protocol::{ServiceContext, ServiceDescriptor, ServiceHealth};

use crate::error as sqs_error;
use crate::{SqsContext, SqsService};

/// SQS's awsQuery XML namespace.
pub const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
/// Sends carry up to 1 MiB of messages, JSON-escaped (up to 6 bytes a character) or form-encoded.
const SEND_LIMIT: usize = 8 * 1024 * 1024;
/// Every other operation: names, URLs, attributes (a 20 KiB policy) and receipt handles.
const OTHER_LIMIT: usize = 1024 * 1024;

/// SQS as the registry sees it: the service, whose methods its operation table calls.
pub struct SqsApi(Arc<SqsService>);

impl SqsApi {
    /// Wraps the service.
    pub fn new(sqs: Arc<SqsService>) -> Self {
        Self(sqs)
    }
}

impl std::ops::Deref for SqsApi {
    type Target = Arc<SqsService>;

    /// The table's rows call the service's methods on it (some take `self: &Arc<Self>`).
    fn deref(&self) -> &Arc<SqsService> {
        &self.0
    }
}

impl ServiceContext for SqsApi {
    type Context = SqsContext;

    /// The SQS context of a call: its request context, the endpoint the client addressed (queue
    /// URLs start with it), the signing access key (messages' `SenderId`) and its X-Ray trace
    /// header.
    fn context(&self, call: &Call<'_>) -> SqsContext {
        let sender_id = call.context.access_key.clone();
        let mut context = SqsContext::new(call.context.clone(), endpoint(call.parts), sender_id);
        let trace = call.parts.headers.get("x-amzn-trace-id").and_then(|value| value.to_str().ok());
        context.trace_header = trace.filter(|trace| !trace.is_empty()).map(str::to_string);
        context
    }
}

/// `http://<host>` as the client addressed Kumo.
fn endpoint(parts: &http::request::Parts) -> String {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|authority| authority.to_string()))
        .unwrap_or_else(|| "localhost:4566".to_string());
    format!("http://{host}")
}

/// Whether a query-protocol request asks for JSON (`Accept: application/json`).
fn accepts_json(parts: &http::request::Parts) -> bool {
    let accept = parts.headers.get(http::header::ACCEPT).and_then(|value| value.to_str().ok());
    accept.is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("application/json")))
}

/// Operations whose XML answer has no `<OpResult>` element.
const NO_RESULT: &[&str] = &[
    "DeleteQueue",
    "SetQueueAttributes",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "AddPermission",
    "RemovePermission",
];

/// The JSON that AWS's query endpoint answers a request accepting JSON with: the XML document's
/// shape, `{"<Op>Response": {"<Op>Result": …, "ResponseMetadata": {"RequestId": …}}}`, its result
/// the AWS JSON one with list members named as the legacy JSON names them (`messages`, as AWS
/// answers ReceiveMessage; `queueUrls`, as ListDeadLetterSourceQueues still does in AWS JSON).
fn legacy_json(operation: &str, request_id: &str, encoded: Encoded) -> Encoded {
    let result = serde_json::from_slice::<serde_json::Value>(&encoded.body).unwrap_or_default();
    let result = match result {
        serde_json::Value::Object(members) => members
            .into_iter()
            .map(|(name, value)| match value.is_array() {
                true => (lower_first(&name), value),
                false => (name, value),
            })
            .collect(),
        _ => serde_json::Map::new(),
    };
    let mut response = serde_json::Map::new();
    if !NO_RESULT.contains(&operation) {
        response.insert(format!("{operation}Result"), serde_json::Value::Object(result));
    }
    response.insert("ResponseMetadata".into(), serde_json::json!({ "RequestId": request_id }));
    let document = serde_json::json!({ format!("{operation}Response"): response });
    Encoded { content_type: "application/json", body: document.to_string().into_bytes() }
}

/// `QueueUrls` → `queueUrls`.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// SQS's declaration.
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "sqs",
    signing_name: "sqs",
    json_target_prefix: Some("AmazonSQS"),
    cbor_service_name: None,
    hosts: &[],
    protocols: &[Protocol::AwsJson1_0, Protocol::AwsQuery],
    xml_namespace: NAMESPACE,
    json_error_prefix: "com.amazonaws.sqs#",
    aws_query_compatible: true,
    query_error_detail: true,
    default_body_limit: SEND_LIMIT,
    query_limits: QueryLimits::DEFAULT,
    query_rename,
    xml_shape: Some(xml_shape),
    query_error_code: sqs_error::query_code,
    decode_error,
    unknown_operation,
};

/// awsQuery's flattened names → the JSON members they fill.
fn query_rename(name: &str) -> Option<&'static str> {
    Some(match name {
        "Attribute" => "Attributes",
        "Tag" => "Tags",
        "MessageAttribute" => "MessageAttributes",
        "MessageSystemAttribute" => "MessageSystemAttributes",
        "AttributeName" => "AttributeNames",
        "MessageAttributeName" => "MessageAttributeNames",
        "MessageSystemAttributeName" => "MessageSystemAttributeNames",
        "TagKey" => "TagKeys",
        "AWSAccountId" => "AWSAccountIds",
        "ActionName" => "Actions",
        "StringListValue" => "StringListValues",
        "BinaryListValue" => "BinaryListValues",
        entries if entries.ends_with("BatchRequestEntry") => "Entries",
        _ => return None,
    })
}

/// The XML form of SQS's JSON-shaped results (flattened lists and maps).
fn xml_shape(operation: &str, member: &str) -> Option<XmlMember> {
    let list = |item: &str| Some(XmlMember::List { item: item.to_string() });
    match member {
        "Attributes" => Some(XmlMember::Map { entry: "Attribute", key: "Name", value: "Value" }),
        "Tags" => Some(XmlMember::Map { entry: "Tag", key: "Key", value: "Value" }),
        "MessageAttributes" => Some(XmlMember::Map { entry: "MessageAttribute", key: "Name", value: "Value" }),
        "QueueUrls" | "queueUrls" => list("QueueUrl"),
        "Messages" => list("Message"),
        "Successful" => list(&format!("{operation}ResultEntry")),
        "Failed" => list("BatchResultErrorEntry"),
        "Results" => list("ListMessageMoveTasksResultEntry"),
        _ => None,
    }
}

fn decode_error(protocol: Protocol, error: &DecodeError) -> AwsError {
    match error {
        DecodeError::TooLarge { limit } => kumo_protocol::registry::too_large(*limit, protocol),
        DecodeError::Syntax(_) | DecodeError::TooDeep { .. } if protocol.is_json() => {
            sqs_error::invalid_parameter(format!("Could not parse request body into json: {error}"))
        }
        DecodeError::MissingField(name) => sqs_error::missing_parameter(name),
        DecodeError::InvalidValue { field, value, expected } => {
            sqs_error::invalid_parameter_value(value, field, &format!("must be a {expected}"))
        }
        other => sqs_error::invalid_parameter(format!("Invalid request: {other}")),
    }
}

fn unknown_operation(operation: Option<&str>) -> AwsError {
    match operation {
        // A GET of a queue's URL without a query: AWS knows no operation there.
        None => AwsError::new("UnknownOperationException", 404, "An unknown operation was requested."),
        Some(operation) => AwsError::new(
            "UnknownOperationException",
            400,
            format!("The action {operation} is not valid for this endpoint."),
        ),
    }
}

/// Every SQS operation.
static OPERATIONS: OperationTable<SqsApi> = OperationTable(&[
    operation!("CreateQueue", OTHER_LIMIT, create_queue),
    operation!("GetQueueUrl", OTHER_LIMIT, get_queue_url),
    operation!("ListQueues", OTHER_LIMIT, list_queues),
    operation!("DeleteQueue", OTHER_LIMIT, delete_queue),
    operation!("GetQueueAttributes", OTHER_LIMIT, get_queue_attributes),
    operation!("SetQueueAttributes", OTHER_LIMIT, set_queue_attributes),
    operation!("PurgeQueue", OTHER_LIMIT, purge_queue),
    operation!("TagQueue", OTHER_LIMIT, tag_queue),
    operation!("UntagQueue", OTHER_LIMIT, untag_queue),
    operation!("ListQueueTags", OTHER_LIMIT, list_queue_tags),
    operation!("SendMessage", SEND_LIMIT, send_message),
    operation!("SendMessageBatch", SEND_LIMIT, send_message_batch),
    operation!("ReceiveMessage", OTHER_LIMIT, receive_message),
    operation!("DeleteMessage", OTHER_LIMIT, delete_message),
    operation!("DeleteMessageBatch", OTHER_LIMIT, delete_message_batch),
    operation!("ChangeMessageVisibility", OTHER_LIMIT, change_message_visibility),
    operation!("ChangeMessageVisibilityBatch", OTHER_LIMIT, change_message_visibility_batch),
    operation!("ListDeadLetterSourceQueues", OTHER_LIMIT, list_dead_letter_source_queues),
    operation!("StartMessageMoveTask", OTHER_LIMIT, start_message_move_task),
    operation!("ListMessageMoveTasks", OTHER_LIMIT, list_message_move_tasks),
    operation!("CancelMessageMoveTask", OTHER_LIMIT, cancel_message_move_task),
    operation!("AddPermission", OTHER_LIMIT, add_permission),
    operation!("RemovePermission", OTHER_LIMIT, remove_permission),
]);

impl AwsService for SqsApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn operation_names(&self) -> Vec<&'static str> {
        OPERATIONS.names().collect()
    }

    /// A request sent to a queue URL (`/queue/<region>/<account>/<queue>`, `/<account>/<queue>`)
    /// names its queue by its path.
    fn prepare_query(&self, parts: &http::request::Parts, params: &mut QueryNode) {
        let path = parts.uri.path();
        if crate::urls::parse(path).is_none() || params.children.contains_key("QueueUrl") {
            return;
        }
        let url = QueryNode { value: Some(format!("{}{path}", endpoint(parts))), children: Default::default() };
        params.children.insert("QueueUrl".to_string(), url);
    }

    /// The table's operation, with what awsQuery adds: an action that acts on no queue
    /// (CreateQueue, ListQueues) is refused at a queue's URL, and errors take that protocol's
    /// wording.
    fn call<'a>(&'a self, mut call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        if call.protocol != Protocol::AwsQuery {
            return OPERATIONS.call(self, call);
        }
        Box::pin(async move {
            let operation = call.operation;
            let at_queue = crate::urls::parse(call.parts.uri.path()).is_some();
            let unknown = OPERATIONS.body_limit(operation).is_none();
            if unknown || at_queue && matches!(operation, "CreateQueue" | "ListQueues") {
                return Err(sqs_error::invalid_action(operation));
            }
            let json = accepts_json(call.parts);
            let request_id = call.context.request_id.clone();
            if json {
                // Decoded from the query as before; answered in the JSON it is then wrapped in.
                call.protocol = Protocol::AwsJson1_0;
            }
            let encoded = OPERATIONS.call(self, call).await.map_err(sqs_error::in_query_words)?;
            if json {
                return Ok(legacy_json(operation, &request_id, encoded));
            }
            Ok(encoded)
        })
    }

    /// Running while the store keeps what it is given (its writer alive and committing, its
    /// file in place): SQS answers a send only after its commit, so it cannot serve without.
    fn health(&self) -> ServiceHealth {
        match self.store_health() {
            Ok(()) => ServiceHealth::Running,
            Err(why) => ServiceHealth::Unavailable(why),
        }
    }

    /// Every queue's counters and visible counts (`/_kumo/metrics`' `sqs.queues`).
    fn account_metrics(&self, account: &str) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "queues": self.metrics_of(account) }))
    }
}
