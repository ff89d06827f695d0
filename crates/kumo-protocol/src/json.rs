//! AWS JSON 1.0 and 1.1 (SQS, DynamoDB, Step Functions, CloudWatch Logs): the operation in
//! `X-Amz-Target: <Prefix>.<Operation>`, its input as a JSON object in the body, errors as
//! `{"__type": "<namespace>#<Code>", "message": …}`.
//!
//! Limits: the body's size is the operation's body limit (checked before and while it is read);
//! nesting stops at serde_json's recursion limit of [`MAX_DEPTH`] levels, which it enforces
//! without recursing further, so a body nested 100,000 deep is refused as an AWS error.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::DecodeError;

/// How deep a JSON document may nest: serde_json's own recursion limit.
pub const MAX_DEPTH: usize = 128;

/// The `Content-Type` of AWS JSON 1.0 answers.
pub const CONTENT_TYPE_1_0: &str = "application/x-amz-json-1.0";
/// The `Content-Type` of AWS JSON 1.1 answers.
pub const CONTENT_TYPE_1_1: &str = "application/x-amz-json-1.1";

/// Decodes an operation's input from a body of at most `max_bytes` (an empty body is `{}`).
pub fn decode<T: DeserializeOwned>(body: &[u8], max_bytes: usize) -> Result<T, DecodeError> {
    if body.len() > max_bytes {
        return Err(DecodeError::TooLarge { limit: max_bytes });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return from_value(serde_json::Value::Object(serde_json::Map::new()));
    }
    // serde_json skips unknown members without its depth limit: a deep body takes the tree's way.
    if nests_deeper_than(body, MAX_DEPTH / 2) {
        return decode_value(body, max_bytes).and_then(from_value);
    }
    // Straight into `T`, no JSON tree on the way. Where that refuses the shape, the tree's way
    // gives the verdict (its words; a repeated key is the last one's there, an error here).
    serde_json::from_slice(body).or_else(|error| match error.classify() {
        serde_json::error::Category::Data => decode_value(body, max_bytes).and_then(from_value),
        _ => Err(syntax_error(&error)),
    })
}

/// Parses a body into a JSON value, enforcing size and depth.
pub fn decode_value(body: &[u8], max_bytes: usize) -> Result<serde_json::Value, DecodeError> {
    if body.len() > max_bytes {
        return Err(DecodeError::TooLarge { limit: max_bytes });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(body).map_err(|error| syntax_error(&error))
}

/// Whether `body` opens more than `limit` arrays or objects inside each other (outside strings).
fn nests_deeper_than(body: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A body that is not JSON, or nested deeper than serde_json reads.
fn syntax_error(error: &serde_json::Error) -> DecodeError {
    if error.to_string().starts_with("recursion limit exceeded") {
        DecodeError::TooDeep { limit: MAX_DEPTH }
    } else {
        DecodeError::Syntax(error.to_string())
    }
}

/// Reads an operation's input from a parsed JSON value.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DecodeError> {
    serde_json::from_value(value).map_err(|error| DecodeError::Shape(error.to_string()))
}

/// Encodes an operation's output (an output of `()` is `{}`, as AWS answers empty outputs).
pub fn encode<T: Serialize>(output: &T) -> Result<Vec<u8>, serde_json::Error> {
    let body = serde_json::to_vec(output)?;
    if body == b"null" {
        return Ok(b"{}".to_vec());
    }
    Ok(body)
}

/// The namespace of the errors AWS's front layer raises before a request reaches a service's
/// own model, whatever that service's namespace (SQS answers a refused call with
/// `com.amazon.coral.service#AccessDeniedException`, not `com.amazonaws.sqs#…`).
const FRONT_LAYER_PREFIX: &str = "com.amazon.coral.service#";
/// The codes of those errors.
const FRONT_LAYER_CODES: &[&str] = &["AccessDeniedException"];

/// The body of an AWS JSON error: `{"__type": "<type_prefix><code>", "message": …}` (the front
/// layer's namespace for its own codes, where the service names its errors with a prefix).
pub fn error_body(type_prefix: &str, code: &str, message: &str) -> Vec<u8> {
    serde_json::json!({ "__type": error_type(type_prefix, code), "message": message }).to_string().into_bytes()
}

/// An error's `__type` (AWS JSON and RPC v2 CBOR): `<type_prefix><code>`, or the front layer's
/// namespace for its own codes where the service names its errors with a prefix.
pub fn error_type(type_prefix: &str, code: &str) -> String {
    let prefix =
        if !type_prefix.is_empty() && FRONT_LAYER_CODES.contains(&code) { FRONT_LAYER_PREFIX } else { type_prefix };
    format!("{prefix}{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        queue_url: Option<String>,
    }

    #[test]
    fn decodes_and_refuses_as_it_should() {
        let input: Input = decode(br#"{"QueueUrl": "u"}"#, 100).unwrap();
        assert_eq!(input.queue_url.as_deref(), Some("u"));
        assert!(decode::<Input>(b"  ", 100).unwrap().queue_url.is_none());
        assert_eq!(decode::<Input>(b"{}", 1).unwrap_err(), DecodeError::TooLarge { limit: 1 });
        assert!(matches!(decode::<Input>(b"{", 100).unwrap_err(), DecodeError::Syntax(_)));
        assert!(matches!(decode::<Input>(br#"{"QueueUrl": 1}"#, 100).unwrap_err(), DecodeError::Shape(_)));
    }

    #[test]
    fn a_body_nested_100000_deep_is_refused() {
        let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(decode::<Input>(body.as_bytes(), 1 << 20).unwrap_err(), DecodeError::TooDeep { limit: MAX_DEPTH });
        let body = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert_eq!(decode::<Input>(body.as_bytes(), 1 << 20).unwrap_err(), DecodeError::TooDeep { limit: MAX_DEPTH });
    }

    #[test]
    fn empty_outputs_are_objects() {
        assert_eq!(encode(&()).unwrap(), b"{}");
        assert_eq!(
            error_body("com.amazonaws.sqs#", "QueueDoesNotExist", "no"),
            br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no"}"#
        );
        assert_eq!(
            error_body("com.amazonaws.sqs#", "AccessDeniedException", "no"),
            br#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"no"}"#
        );
    }
}
