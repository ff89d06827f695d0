//! Smithy RPC v2 CBOR (`smithy-protocol: rpc-v2-cbor`; what current AWS SDKs speak to CloudWatch):
//! `POST /service/<ServiceName>/operation/<Operation>`, the input as a CBOR map, the output as
//! one, errors as a map with `__type` and `message`.
//!
//! Limits: the body's size (the operation's limit) and nesting ([`MAX_DEPTH`], enforced by
//! ciborium's recursion limit, so deep input is refused without deep recursion).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::DecodeError;

/// The `Content-Type` of RPC v2 CBOR bodies.
pub const CONTENT_TYPE: &str = "application/cbor";
/// The `smithy-protocol` header value that names the protocol.
pub const SMITHY_PROTOCOL: &str = "rpc-v2-cbor";
/// How deep a CBOR document may nest.
pub const MAX_DEPTH: usize = 64;

/// Why an output could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("encoding cbor failed: {0}")]
pub struct CborError(String);

/// Decodes an operation's input from a body of at most `max_bytes` (an empty body is an empty map).
pub fn decode<T: DeserializeOwned>(body: &[u8], max_bytes: usize) -> Result<T, DecodeError> {
    if body.len() > max_bytes {
        return Err(DecodeError::TooLarge { limit: max_bytes });
    }
    // 0xa0: the empty map.
    let body: &[u8] = if body.is_empty() { &[0xa0] } else { body };
    ciborium::de::from_reader_with_recursion_limit(body, MAX_DEPTH).map_err(|error| match error {
        ciborium::de::Error::RecursionLimitExceeded => DecodeError::TooDeep { limit: MAX_DEPTH },
        ciborium::de::Error::Semantic(_, message) => DecodeError::Shape(message),
        ciborium::de::Error::Syntax(offset) => DecodeError::Syntax(format!("malformed cbor at byte {offset}")),
        ciborium::de::Error::Io(_) => DecodeError::Syntax("truncated cbor".to_string()),
    })
}

/// Encodes an operation's output (`()` is the empty map).
pub fn encode<T: Serialize + 'static>(output: &T) -> Result<Vec<u8>, CborError> {
    let mut body = Vec::new();
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
        body.push(0xa0);
        return Ok(body);
    }
    ciborium::ser::into_writer(output, &mut body).map_err(|error| CborError(error.to_string()))?;
    Ok(body)
}

/// The body of an RPC v2 CBOR error.
pub fn error_body(type_name: &str, message: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        #[serde(rename = "__type")]
        type_name: &'a str,
        message: &'a str,
    }
    let mut body = Vec::new();
    if let Err(error) = ciborium::ser::into_writer(&ErrorBody { type_name, message }, &mut body) {
        // Writing two strings into a Vec cannot fail; log in case a future writer can.
        tracing::error!(%error, "encoding a cbor error failed");
    }
    body
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Datum {
        metric_name: String,
        value: f64,
        dimensions: Vec<(String, String)>,
    }

    #[test]
    fn round_trips_and_refuses_deep_or_large_input() {
        let datum = Datum { metric_name: "m".into(), value: 1.5, dimensions: vec![("k".into(), "v".into())] };
        let body = encode(&datum).unwrap();
        assert_eq!(decode::<Datum>(&body, 1024).unwrap(), datum);
        assert_eq!(decode::<Datum>(&body, 4).unwrap_err(), DecodeError::TooLarge { limit: 4 });
        // 100,000 nested one-element arrays.
        let deep: Vec<u8> = std::iter::repeat_n(0x81u8, 100_000).chain([0x00]).collect();
        assert_eq!(decode::<serde_json::Value>(&deep, 1 << 20).unwrap_err(), DecodeError::TooDeep { limit: MAX_DEPTH });
        // MAX_DEPTH levels are accepted, one more is refused.
        let nested = |levels: usize| -> Vec<u8> { std::iter::repeat_n(0x81u8, levels).chain([0x00]).collect() };
        assert!(decode::<serde_json::Value>(&nested(MAX_DEPTH), 1 << 20).is_ok());
        let past = decode::<serde_json::Value>(&nested(MAX_DEPTH + 1), 1 << 20).unwrap_err();
        assert_eq!(past, DecodeError::TooDeep { limit: MAX_DEPTH });
        assert!(!decode::<Datum>(&[0xff, 0x00], 1024).unwrap_err().is_limit());
        assert!(matches!(decode::<Datum>(&[0xa1], 1024).unwrap_err(), DecodeError::Syntax(_)));
        assert_eq!(encode(&()).unwrap(), [0xa0]);
        let error: std::collections::BTreeMap<String, String> =
            decode(&error_body("ThrottlingException", "slow"), 1024).unwrap();
        assert_eq!(error["__type"], "ThrottlingException");
    }
}
