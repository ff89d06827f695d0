//! SQS's two wire protocols over one set of typed operations:
//! - AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Op>`), what current SDKs send; errors carry the
//!   JSON shape in `__type` and the legacy code in `x-amzn-query-error`, which SDKs expose;
//! - the query protocol (form-encoded `Action=<Op>` POSTs, or GETs with the parameters in the
//!   query string, to `/` or to a queue URL), answered in XML.
//!
//! Both decode into the same JSON-shaped value, which `call` turns into a typed request.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use kumo_core::AwsError;
use kumo_sqs::{error as sqs_error, SqsContext, SqsService};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Services;

/// Largest request body: a 1 MiB batch, escaped or form-encoded several times over.
const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// The query protocol's XML namespace.
const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
/// Operations whose query answer has no `<…Result>` element.
const NO_RESULT: &[&str] = &[
    "ChangeMessageVisibility",
    "DeleteMessage",
    "DeleteQueue",
    "PurgeQueue",
    "SetQueueAttributes",
    "TagQueue",
    "UntagQueue",
];
/// Query parameters that are integers in the JSON shapes.
const INTEGER_PARAMETERS: &[&str] = &[
    "DelaySeconds",
    "MaxNumberOfMessages",
    "VisibilityTimeout",
    "WaitTimeSeconds",
    "MaxResults",
    "MaxNumberOfMessagesPerSecond",
];

/// The caller's region, endpoint and identity.
fn context(services: &Services, parts: &Parts) -> SqsContext {
    let scope = crate::context::credential_scope(parts);
    let region = scope
        .as_ref()
        .map(|(_, _, region, _)| region.clone())
        .filter(|region| !region.is_empty())
        .unwrap_or_else(|| services.default_region.clone());
    let sender_id = scope.map(|(key, _, _, _)| key).unwrap_or_default();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|authority| authority.to_string()))
        .unwrap_or_else(|| "localhost:4566".to_string());
    let caller = crate::context::caller(services, parts);
    SqsContext {
        region,
        endpoint: format!("http://{host}"),
        sender_id,
        account: caller.account.clone(),
        caller_arn: caller.arn.clone(),
        role_arn: caller.role_arn.clone(),
    }
}

fn decode<T: DeserializeOwned>(input: Value) -> Result<T, AwsError> {
    serde_json::from_value(input).map_err(|error| sqs_error::invalid_parameter(format!("Invalid request: {error}")))
}

fn encode<T: Serialize>(output: T) -> Result<Value, AwsError> {
    serde_json::to_value(output).map_err(sqs_error::internal)
}

/// Runs one operation on a JSON-shaped input.
async fn call(sqs: &Arc<SqsService>, context: &SqsContext, operation: &str, input: Value) -> Result<Value, AwsError> {
    macro_rules! run {
        ($method:ident) => {{
            let request = decode(input)?;
            encode(sqs.$method(context, request).await?)
        }};
    }
    match operation {
        "CreateQueue" => run!(create_queue),
        "GetQueueUrl" => run!(get_queue_url),
        "ListQueues" => run!(list_queues),
        "DeleteQueue" => run!(delete_queue),
        "GetQueueAttributes" => run!(get_queue_attributes),
        "SetQueueAttributes" => run!(set_queue_attributes),
        "PurgeQueue" => run!(purge_queue),
        "TagQueue" => run!(tag_queue),
        "UntagQueue" => run!(untag_queue),
        "ListQueueTags" => run!(list_queue_tags),
        "SendMessage" => run!(send_message),
        "SendMessageBatch" => run!(send_message_batch),
        "ReceiveMessage" => run!(receive_message),
        "DeleteMessage" => run!(delete_message),
        "DeleteMessageBatch" => run!(delete_message_batch),
        "ChangeMessageVisibility" => run!(change_message_visibility),
        "ChangeMessageVisibilityBatch" => run!(change_message_visibility_batch),
        "ListDeadLetterSourceQueues" => run!(list_dead_letter_source_queues),
        "StartMessageMoveTask" => run!(start_message_move_task),
        "ListMessageMoveTasks" => run!(list_message_move_tasks),
        "CancelMessageMoveTask" => {
            let request = decode(input)?;
            encode(sqs.cancel_message_move_task(request).await?)
        }
        "AddPermission" | "RemovePermission" => Err(sqs_error::unsupported_operation(format!(
            "Kumo does not implement {operation}; set the Policy attribute instead."
        ))),
        _ => Err(AwsError::new(
            "UnknownOperationException",
            400,
            format!("The action {operation} is not valid for this endpoint."),
        )),
    }
}

async fn read_body(body: Body) -> Result<bytes::Bytes, AwsError> {
    Limited::new(body, BODY_LIMIT)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|_| sqs_error::invalid_parameter(format!("Request must be smaller than {BODY_LIMIT} bytes")))
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn fault(error: &AwsError) -> &'static str {
    if error.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    }
}

// ---------------------------------------------------------------------------------------------
// AWS JSON 1.0

/// Serves `X-Amz-Target: AmazonSQS.<operation>`.
pub async fn json(services: Services, parts: Parts, body: Body, operation: String) -> Response {
    let context = context(&services, &parts);
    let request_id = request_id();
    let outcome = async {
        let bytes = read_body(body).await?;
        let input: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&bytes).map_err(|error| {
                sqs_error::invalid_parameter(format!("Could not parse request body into json: {error}"))
            })?
        };
        call(&services.sqs, &context, &operation, input).await
    }
    .await;
    let (status, body, query_error) = match outcome {
        Ok(value) => (StatusCode::OK, value.to_string(), None),
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body =
                serde_json::json!({ "__type": format!("com.amazonaws.sqs#{}", error.code), "message": error.message });
            (status, body.to_string(), Some(format!("{};{}", sqs_error::query_code(error.code), fault(&error))))
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.0"));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    if let Some(value) = query_error.and_then(|value| HeaderValue::from_str(&value).ok()) {
        headers.insert("x-amzn-query-error", value);
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Query protocol

/// A parsed `A.1.B=value` parameter tree.
#[derive(Debug, Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &str, value: String) {
        let mut node = self;
        for segment in path.split('.') {
            node = node.children.entry(segment.to_string()).or_default();
        }
        node.value = Some(value);
    }

    /// Children keyed `1`, `2`, … in numeric order.
    fn indexed(&self) -> Vec<&Node> {
        let mut items: Vec<(u64, &Node)> =
            self.children.iter().filter_map(|(key, node)| key.parse::<u64>().ok().map(|index| (index, node))).collect();
        items.sort_by_key(|(index, _)| *index);
        items.into_iter().map(|(_, node)| node).collect()
    }

    fn child_text(&self, name: &str) -> Option<String> {
        self.children.get(name).and_then(|node| node.value.clone())
    }

    fn text(&self) -> Value {
        self.value.clone().map_or(Value::Null, Value::String)
    }
}

/// Turns flattened query parameters into the JSON shape of the operation's input.
fn query_to_json(node: &Node) -> Value {
    let mut object = Map::new();
    for (key, child) in &node.children {
        match key.as_str() {
            "Attribute" | "Tag" => {
                let (name_key, plural) = if key == "Tag" { ("Key", "Tags") } else { ("Name", "Attributes") };
                let map: Map<String, Value> = child
                    .indexed()
                    .into_iter()
                    .filter_map(|entry| Some((entry.child_text(name_key)?, Value::String(entry.child_text("Value")?))))
                    .collect();
                object.insert(plural.to_string(), Value::Object(map));
            }
            "MessageAttribute" | "MessageSystemAttribute" => {
                let map: Map<String, Value> = child
                    .indexed()
                    .into_iter()
                    .filter_map(|entry| Some((entry.child_text("Name")?, query_to_json(entry.children.get("Value")?))))
                    .collect();
                object.insert(format!("{key}s"), Value::Object(map));
            }
            "AttributeName" | "MessageAttributeName" | "MessageSystemAttributeName" | "TagKey" => {
                let list = child.indexed().into_iter().map(Node::text).collect();
                object.insert(format!("{key}s"), Value::Array(list));
            }
            entries if entries.ends_with("BatchRequestEntry") => {
                let list = child.indexed().into_iter().map(query_to_json).collect();
                object.insert("Entries".to_string(), Value::Array(list));
            }
            name if INTEGER_PARAMETERS.contains(&name) => {
                let value = match child.value.as_deref().map(str::trim).map(str::parse::<i64>) {
                    Some(Ok(number)) => Value::from(number),
                    _ => child.text(),
                };
                object.insert(key.clone(), value);
            }
            _ if child.children.is_empty() => {
                object.insert(key.clone(), child.text());
            }
            _ => {
                object.insert(key.clone(), query_to_json(child));
            }
        }
    }
    Value::Object(object)
}

fn element<W: std::io::Write>(writer: &mut Writer<W>, name: &str, text: &str) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(text)))?;
    writer.write_event(Event::End(BytesEnd::new(name)))
}

fn open<W: std::io::Write>(writer: &mut Writer<W>, name: &str) -> std::io::Result<()> {
    writer.write_event(Event::Start(BytesStart::new(name)))
}

fn close<W: std::io::Write>(writer: &mut Writer<W>, name: &str) -> std::io::Result<()> {
    writer.write_event(Event::End(BytesEnd::new(name)))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Writes the members of a JSON-shaped output as query XML (flattened lists and maps).
fn write_members<W: std::io::Write>(
    writer: &mut Writer<W>,
    operation: &str,
    object: &Map<String, Value>,
) -> std::io::Result<()> {
    for (key, value) in object {
        match (key.as_str(), value) {
            ("Attributes" | "Tags", Value::Object(map)) => {
                let (entry, name_key) = if key == "Tags" { ("Tag", "Key") } else { ("Attribute", "Name") };
                for (name, value) in map {
                    open(writer, entry)?;
                    element(writer, name_key, name)?;
                    element(writer, "Value", &scalar_text(value).unwrap_or_default())?;
                    close(writer, entry)?;
                }
            }
            ("MessageAttributes", Value::Object(map)) => {
                for (name, value) in map {
                    open(writer, "MessageAttribute")?;
                    element(writer, "Name", name)?;
                    open(writer, "Value")?;
                    if let Value::Object(fields) = value {
                        write_members(writer, operation, fields)?;
                    }
                    close(writer, "Value")?;
                    close(writer, "MessageAttribute")?;
                }
            }
            (_, Value::Array(items)) => {
                let entry = match key.as_str() {
                    "QueueUrls" | "queueUrls" => "QueueUrl".to_string(),
                    "Messages" => "Message".to_string(),
                    "Successful" => format!("{operation}ResultEntry"),
                    "Failed" => "BatchResultErrorEntry".to_string(),
                    "Results" => "ListMessageMoveTasksResultEntry".to_string(),
                    other => other.to_string(),
                };
                for item in items {
                    match item {
                        Value::Object(fields) => {
                            open(writer, &entry)?;
                            write_members(writer, operation, fields)?;
                            close(writer, &entry)?;
                        }
                        other => element(writer, &entry, &scalar_text(other).unwrap_or_default())?,
                    }
                }
            }
            (_, Value::Object(fields)) => {
                open(writer, key)?;
                write_members(writer, operation, fields)?;
                close(writer, key)?;
            }
            (_, Value::Null) => {}
            (_, scalar) => element(writer, key, &scalar_text(scalar).unwrap_or_default())?,
        }
    }
    Ok(())
}

fn xml_document(write: impl FnOnce(&mut Writer<Vec<u8>>) -> std::io::Result<()>) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    let written = writer.write_event(Event::Decl(BytesDecl::new("1.0", None, None))).and_then(|()| write(&mut writer));
    if let Err(error) = written {
        // Writing into a Vec cannot fail; log in case a future writer can.
        tracing::error!(%error, "writing an sqs xml answer failed");
    }
    writer.into_inner()
}

fn xml_response(status: StatusCode, body: Vec<u8>, request_id: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    response
}

fn xml_error(error: &AwsError, request_id: &str) -> Response {
    let body = xml_document(|writer| {
        let mut root = BytesStart::new("ErrorResponse");
        root.push_attribute(("xmlns", XMLNS));
        writer.write_event(Event::Start(root))?;
        open(writer, "Error")?;
        element(writer, "Type", fault(error))?;
        element(writer, "Code", sqs_error::query_code(error.code))?;
        element(writer, "Message", &error.message)?;
        writer.write_event(Event::Empty(BytesStart::new("Detail")))?;
        close(writer, "Error")?;
        element(writer, "RequestId", request_id)?;
        close(writer, "ErrorResponse")
    });
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    xml_response(status, body, request_id)
}

/// Most parameters, key segments and key bytes a query request may have (SQS's largest
/// requests, batches of 10 entries with 10 attributes each, stay far below).
const MAX_QUERY_PARAMETERS: usize = 4096;
const MAX_KEY_SEGMENTS: usize = 16;
const MAX_KEY_BYTES: usize = 512;

/// Why the `count`-th parameter `key` is refused, if it is.
fn query_key_problem(count: usize, key: &str) -> Option<String> {
    if count >= MAX_QUERY_PARAMETERS {
        return Some(format!("The request has more than {MAX_QUERY_PARAMETERS} parameters."));
    }
    if key.split('.').nth(MAX_KEY_SEGMENTS).is_some() {
        return Some(format!(
            "Parameter {} is nested deeper than {MAX_KEY_SEGMENTS} levels.",
            key.chars().take(64).collect::<String>()
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Some(format!("Parameter names are at most {MAX_KEY_BYTES} bytes long."));
    }
    None
}

/// Serves a query-protocol request (POST form or GET query string, to `/` or a queue URL).
pub async fn query(services: Services, parts: Parts, body: Body) -> Response {
    let context = context(&services, &parts);
    let request_id = request_id();
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(error) => return xml_error(&error, &request_id),
    };
    let mut root = Node::default();
    let mut action = None;
    let from_query = parts.uri.query().unwrap_or_default().as_bytes();
    let pairs = form_urlencoded::parse(from_query).chain(form_urlencoded::parse(&bytes));
    for (count, (key, value)) in pairs.enumerate() {
        // The key tree is built by recursion: bound it before a hostile key (30,000 levels)
        // can exhaust the stack, and the number of parameters before they exhaust memory.
        if let Some(problem) = query_key_problem(count, &key) {
            return xml_error(&sqs_error::invalid_parameter(problem), &request_id);
        }
        match key.as_ref() {
            "Action" => action = Some(value.into_owned()),
            "Version" => {}
            key if key.starts_with("X-Amz-") => {}
            key => root.insert(key, value.into_owned()),
        }
    }
    let Some(action) = action else {
        let error = AwsError::new("MissingAction", 400, "The request must contain the parameter Action.");
        return xml_error(&error, &request_id);
    };
    let mut input = query_to_json(&root);
    // Requests sent to a queue URL name the queue by their path.
    let path = parts.uri.path().trim_matches('/');
    if path.split('/').count() == 2 {
        if let Value::Object(object) = &mut input {
            object.entry("QueueUrl").or_insert_with(|| Value::String(format!("{}/{path}", context.endpoint)));
        }
    }
    match call(&services.sqs, &context, &action, input).await {
        Ok(output) => {
            let body = xml_document(|writer| {
                let response_name = format!("{action}Response");
                let mut root = BytesStart::new(response_name.as_str());
                root.push_attribute(("xmlns", XMLNS));
                writer.write_event(Event::Start(root))?;
                if !NO_RESULT.contains(&action.as_str()) {
                    let result_name = format!("{action}Result");
                    open(writer, &result_name)?;
                    if let Value::Object(members) = &output {
                        write_members(writer, &action, members)?;
                    }
                    close(writer, &result_name)?;
                }
                open(writer, "ResponseMetadata")?;
                element(writer, "RequestId", &request_id)?;
                close(writer, "ResponseMetadata")?;
                close(writer, &response_name)
            });
            xml_response(StatusCode::OK, body, &request_id)
        }
        Err(error) => xml_error(&error, &request_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Value {
        let mut root = Node::default();
        for (key, value) in pairs {
            root.insert(key, value.to_string());
        }
        query_to_json(&root)
    }

    #[test]
    fn flattened_query_parameters_become_json_shapes() {
        let input = parse(&[
            ("QueueUrl", "http://h/000000000000/q"),
            ("MessageBody", "hi"),
            ("DelaySeconds", "3"),
            ("MessageAttribute.1.Name", "color"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "red"),
            ("Attribute.2.Name", "B"),
            ("Attribute.2.Value", "2"),
            ("Attribute.1.Name", "A"),
            ("Attribute.1.Value", "1"),
            ("AttributeName.2", "Y"),
            ("AttributeName.1", "X"),
        ]);
        assert_eq!(input["DelaySeconds"], 3);
        assert_eq!(input["MessageAttributes"]["color"]["StringValue"], "red");
        assert_eq!(input["Attributes"], serde_json::json!({"A": "1", "B": "2"}));
        assert_eq!(input["AttributeNames"], serde_json::json!(["X", "Y"]));
        let batch = parse(&[
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "x"),
            ("SendMessageBatchRequestEntry.10.Id", "b"),
            ("SendMessageBatchRequestEntry.2.Id", "c"),
        ]);
        let ids: Vec<&str> = batch["Entries"].as_array().unwrap().iter().map(|e| e["Id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["a", "c", "b"]);
    }

    #[test]
    fn outputs_render_as_flattened_xml() {
        let output = serde_json::json!({
            "Messages": [{"MessageId": "m", "Attributes": {"SenderId": "s"}, "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v&"}}}],
        });
        let body = xml_document(|writer| write_members(writer, "ReceiveMessage", output.as_object().unwrap()));
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("<Message><Attribute><Name>SenderId</Name><Value>s</Value></Attribute>"), "{text}");
        assert!(text.contains("<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v&amp;</StringValue></Value></MessageAttribute>"), "{text}");
    }
}
