//! awsQuery answers, written by quick-xml's serde serializer (which escapes text and refuses
//! names that are not XML names):
//! `<OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata><RequestId>…` and
//! `<ErrorResponse xmlns=…><Error><Type/><Code/><Message/></Error><RequestId/>`.
//!
//! A result type either is XML-shaped already (IAM's types: lists as `member` elements), or is
//! JSON-shaped (SQS's types, shared with AWS JSON) and goes through [`XmlShape`], which names the
//! flattened elements its lists and maps become.

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{Map, Value};

/// How a JSON-shaped member is written in XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlMember {
    /// A list written as one `<item>` element per item (flattened).
    List {
        /// The element name of each item.
        item: String,
    },
    /// A map written as one `<entry><key>…</key><value>…</value></entry>` per entry (flattened).
    Map {
        /// The element name of each entry.
        entry: &'static str,
        /// The element holding the key.
        key: &'static str,
        /// The element holding the value.
        value: &'static str,
    },
}

/// Names the XML form of member `member` of operation `operation`'s JSON-shaped result; `None`
/// writes it as it is (objects as elements, lists as repeated elements named after the member).
pub type XmlShape = fn(operation: &str, member: &str) -> Option<XmlMember>;

/// Rewrites a JSON-shaped result into the shape its XML takes: maps become lists of entries,
/// lists take their item names, nulls are dropped. Names from user data (attribute names, tag
/// keys) only ever become element text, never element names.
pub fn reshape(operation: &str, value: Value, shape: XmlShape) -> Value {
    match value {
        Value::Object(members) => {
            let mut reshaped = Map::new();
            for (name, member) in members {
                match (shape(operation, &name), member) {
                    (_, Value::Null) => {}
                    (Some(XmlMember::Map { entry, key, value }), Value::Object(map)) => {
                        let entries = map
                            .into_iter()
                            .filter(|(_, item)| !item.is_null())
                            .map(|(name, item)| {
                                let mut pair = Map::new();
                                pair.insert(key.to_string(), Value::String(name));
                                pair.insert(value.to_string(), reshape(operation, item, shape));
                                Value::Object(pair)
                            })
                            .collect();
                        reshaped.insert(entry.to_string(), Value::Array(entries));
                    }
                    (Some(XmlMember::List { item }), Value::Array(items)) => {
                        let items = items.into_iter().map(|item| reshape(operation, item, shape)).collect();
                        reshaped.insert(item, Value::Array(items));
                    }
                    (_, other) => {
                        reshaped.insert(name, reshape(operation, other, shape));
                    }
                }
            }
            Value::Object(reshaped)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|item| reshape(operation, item, shape)).collect()),
        scalar => scalar,
    }
}

/// Why an answer could not be written (a result type quick-xml cannot express).
#[derive(Debug, thiserror::Error)]
#[error("writing an awsQuery answer failed: {0}")]
pub struct XmlError(#[from] quick_xml::SeError);

/// The `ResponseMetadata` element.
#[derive(Serialize)]
struct ResponseMetadata<'a> {
    #[serde(rename = "RequestId")]
    request_id: &'a str,
}

/// `<OpResponse xmlns=…>[<OpResult>…</OpResult>]<ResponseMetadata>…</ResponseMetadata>`.
struct Envelope<'a, R> {
    namespace: &'a str,
    result: Option<(&'a str, &'a R)>,
    request_id: &'a str,
}

impl<R: Serialize> Serialize for Envelope<'_, R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("@xmlns", self.namespace)?;
        if let Some((name, result)) = self.result {
            map.serialize_entry(name, result)?;
        }
        map.serialize_entry("ResponseMetadata", &ResponseMetadata { request_id: self.request_id })?;
        map.end()
    }
}

/// A successful answer to `operation`. `result` is `None` for operations AWS answers without a
/// result element (SQS's DeleteQueue, IAM's DeleteRole).
pub fn response<R: Serialize>(
    operation: &str,
    namespace: &str,
    result: Option<&R>,
    request_id: &str,
) -> Result<Vec<u8>, XmlError> {
    let result_name = format!("{operation}Result");
    let envelope = Envelope { namespace, result: result.map(|result| (result_name.as_str(), result)), request_id };
    let text = quick_xml::se::to_string_with_root(&format!("{operation}Response"), &envelope)?;
    Ok(escape_carriage_returns(text).into_bytes())
}

/// Writes each `\r` as `&#xD;`, as AWS does: an XML parser turns a raw `\r\n` into `\n`, so a
/// message body with one would not come back as it was sent. A `\r` can only be text here
/// (element names cannot hold one and the serializer adds no whitespace).
fn escape_carriage_returns(text: String) -> String {
    if text.contains('\r') {
        text.replace('\r', "&#xD;")
    } else {
        text
    }
}

/// An empty element (`<Detail/>`).
#[derive(Serialize)]
struct Empty {}

/// The `Error` element.
#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "Type")]
    fault: &'a str,
    #[serde(rename = "Code")]
    code: &'a str,
    #[serde(rename = "Message")]
    message: &'a str,
    #[serde(rename = "Detail", skip_serializing_if = "Option::is_none")]
    detail: Option<Empty>,
}

/// The `ErrorResponse` document.
#[derive(Serialize)]
struct ErrorDocument<'a> {
    #[serde(rename = "@xmlns")]
    namespace: &'a str,
    #[serde(rename = "Error")]
    error: ErrorBody<'a>,
    #[serde(rename = "RequestId")]
    request_id: &'a str,
}

/// What an error document says.
#[derive(Debug, Clone, Copy)]
pub struct XmlErrorFields<'a> {
    /// `Sender` (the caller's fault) or `Receiver`.
    pub fault: &'a str,
    /// The awsQuery error code.
    pub code: &'a str,
    /// The message.
    pub message: &'a str,
    /// Whether to write an empty `<Detail/>` (SQS does).
    pub detail: bool,
}

/// The one awsQuery error document.
pub fn error_document(namespace: &str, fields: XmlErrorFields<'_>, request_id: &str) -> Vec<u8> {
    let document = ErrorDocument {
        namespace,
        error: ErrorBody {
            fault: fields.fault,
            code: fields.code,
            message: fields.message,
            detail: fields.detail.then_some(Empty {}),
        },
        request_id,
    };
    // Messages escape quotes too (`'moon_base'` → `&apos;moon_base&apos;`), as AWS writes them.
    let mut text = String::new();
    let written = quick_xml::se::Serializer::with_root(&mut text, Some("ErrorResponse")).and_then(|mut serializer| {
        serializer.set_quote_level(quick_xml::se::QuoteLevel::Full);
        document.serialize(serializer)
    });
    match written {
        Ok(_) => text.into_bytes(),
        Err(error) => {
            // Only a code that is not an XML name could fail; codes are constants.
            tracing::error!(%error, code = fields.code, "writing an awsQuery error failed");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_escape_quotes_as_aws_does() {
        let fields = XmlErrorFields {
            fault: "Sender",
            code: "SignatureDoesNotMatch",
            message: "not 'a' <b> \"c\"",
            detail: false,
        };
        let text = String::from_utf8(error_document("urn:x", fields, "r")).unwrap();
        assert!(text.contains("<Message>not &apos;a&apos; &lt;b&gt; &quot;c&quot;</Message>"), "{text}");
    }

    fn sqs_like(operation: &str, member: &str) -> Option<XmlMember> {
        match member {
            "Attributes" => Some(XmlMember::Map { entry: "Attribute", key: "Name", value: "Value" }),
            "MessageAttributes" => Some(XmlMember::Map { entry: "MessageAttribute", key: "Name", value: "Value" }),
            "Messages" => Some(XmlMember::List { item: "Message".into() }),
            "Successful" => Some(XmlMember::List { item: format!("{operation}ResultEntry") }),
            _ => None,
        }
    }

    #[test]
    fn json_shaped_results_render_flattened() {
        let output = serde_json::json!({
            "Messages": [{"MessageId": "m", "Attributes": {"SenderId": "s"}, "Gone": null,
                          "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v&<"}}}],
        });
        let result = reshape("ReceiveMessage", output, sqs_like);
        let body = response("ReceiveMessage", "urn:x", Some(&result), "req-1").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            "<ReceiveMessageResponse xmlns=\"urn:x\"><ReceiveMessageResult><Message>\
             <Attribute><Name>SenderId</Name><Value>s</Value></Attribute>\
             <MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v&amp;&lt;</StringValue></Value></MessageAttribute>\
             <MessageId>m</MessageId></Message></ReceiveMessageResult>\
             <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ReceiveMessageResponse>"
        );
        let batch =
            reshape("DeleteMessageBatch", serde_json::json!({"Successful": [{"Id": "a"}], "Failed": []}), sqs_like);
        let text = String::from_utf8(response("DeleteMessageBatch", "urn:x", Some(&batch), "r").unwrap()).unwrap();
        assert!(text.contains("<DeleteMessageBatchResult><DeleteMessageBatchResultEntry><Id>a</Id>"), "{text}");
    }

    #[test]
    fn answers_without_a_result_and_errors() {
        let text = String::from_utf8(response::<()>("DeleteQueue", "urn:x", None, "r").unwrap()).unwrap();
        assert_eq!(
            text,
            "<DeleteQueueResponse xmlns=\"urn:x\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteQueueResponse>"
        );
        let fields = XmlErrorFields { fault: "Sender", code: "NoSuchEntity", message: "a<b", detail: false };
        assert_eq!(
            String::from_utf8(error_document("urn:iam", fields, "req-1")).unwrap(),
            "<ErrorResponse xmlns=\"urn:iam\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>a&lt;b</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
        );
        let fields = XmlErrorFields { detail: true, ..fields };
        let text = String::from_utf8(error_document("urn:sqs", fields, "r")).unwrap();
        assert!(text.contains("</Message><Detail/></Error>"), "{text}");
    }

    #[test]
    fn carriage_returns_are_escaped_and_empty_results_self_close() {
        let output = reshape("ReceiveMessage", serde_json::json!({"Messages": [{"Body": "a\r\nb"}]}), sqs_like);
        let text = String::from_utf8(response("ReceiveMessage", "urn:x", Some(&output), "r").unwrap()).unwrap();
        assert!(text.contains("<Body>a&#xD;\nb</Body>"), "{text}");
        let empty = reshape("ReceiveMessage", serde_json::json!({}), sqs_like);
        let text = String::from_utf8(response("ReceiveMessage", "urn:x", Some(&empty), "r").unwrap()).unwrap();
        assert!(
            text.contains("<ReceiveMessageResponse xmlns=\"urn:x\"><ReceiveMessageResult/><ResponseMetadata>"),
            "{text}"
        );
    }
}
