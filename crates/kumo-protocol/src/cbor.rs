//! Smithy RPC v2 CBOR (`smithy-protocol: rpc-v2-cbor`; what current AWS SDKs speak to CloudWatch):
//! `POST /service/<ServiceName>/operation/<Operation>`, the input as a CBOR map, the output as
//! one, errors as a map with `__type` and `message`.
//!
//! Timestamps are epoch seconds under CBOR tag 1 ([`Timestamp`]); serde's `f64` alone would refuse
//! the integer form clients send for whole seconds.
//!
//! Limits: the body's size (the operation's limit) and nesting ([`MAX_DEPTH`], enforced by
//! ciborium's recursion limit, so deep input is refused without deep recursion).

use ciborium::tag::{Accepted, Required};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DecodeError;

/// The `Content-Type` of RPC v2 CBOR bodies.
pub const CONTENT_TYPE: &str = "application/cbor";
/// The `smithy-protocol` header value that names the protocol.
pub const SMITHY_PROTOCOL: &str = "rpc-v2-cbor";
/// How deep a CBOR document may nest.
pub const MAX_DEPTH: usize = 64;

/// CBOR's tag for an epoch-based date/time (RFC 8949 §3.4.2).
const EPOCH_TAG: u64 = 1;

/// A Smithy `timestamp` as RPC v2 CBOR carries it: epoch seconds under tag 1. Encoded as a float
/// (sub-second precision survives; every SDK's decoder accepts it); decoded from an integer or a
/// float, tagged or not (botocore sends an integer for whole seconds, a double otherwise).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

/// The number under a timestamp's tag.
#[derive(Deserialize)]
#[serde(untagged)]
enum EpochNumber {
    Integer(i64),
    Float(f64),
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Required::<f64, EPOCH_TAG>(self.0).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Accepted(number) = Accepted::<EpochNumber, EPOCH_TAG>::deserialize(deserializer)?;
        let seconds = match number {
            // Epoch seconds of any representable date fit an f64 exactly (|n| < 2^53).
            EpochNumber::Integer(seconds) => seconds as f64,
            EpochNumber::Float(seconds) => seconds,
        };
        if !seconds.is_finite() {
            return Err(serde::de::Error::custom("a timestamp must be a finite number of seconds"));
        }
        Ok(Timestamp(seconds))
    }
}

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

/// The body of an RPC v2 CBOR error: `__type` is the error's shape id (`type_prefix`, the
/// service's Smithy namespace such as `com.amazonaws.cloudwatch#`, then `code`), as the
/// protocol's specification says; clients keep what follows the `#`.
pub fn error_body(type_prefix: &str, code: &str, message: &str) -> Vec<u8> {
    let type_name = &crate::json::error_type(type_prefix, code);
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
            decode(&error_body("", "ThrottlingException", "slow"), 1024).unwrap();
        assert_eq!(error["__type"], "ThrottlingException");
        let error: std::collections::BTreeMap<String, String> =
            decode(&error_body("com.amazonaws.cloudwatch#", "InvalidNextToken", "bad"), 1024).unwrap();
        assert_eq!(error["__type"], "com.amazonaws.cloudwatch#InvalidNextToken");
        assert_eq!(error["message"], "bad");
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Stamped {
        #[serde(rename = "Timestamp")]
        timestamp: Timestamp,
    }

    /// `{"Timestamp": <tag> <value>}` as botocore's serializer writes it.
    fn stamped(value: &[u8]) -> Vec<u8> {
        let mut body = vec![0xa1, 0x69];
        body.extend_from_slice(b"Timestamp");
        body.extend_from_slice(value);
        body
    }

    #[test]
    fn timestamps_are_tag_1_epoch_seconds_integer_or_float() {
        // Tag 1 over an integer (botocore, whole seconds): 1_700_000_000 = 0x6553f100.
        let whole = decode::<Stamped>(&stamped(&[0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00]), 1024).unwrap();
        assert_eq!(whole.timestamp, Timestamp(1_700_000_000.0));
        // Tag 1 over a double (botocore, sub-second precision).
        let mut double = vec![0xc1, 0xfb];
        double.extend_from_slice(&1_700_000_000.25f64.to_be_bytes());
        assert_eq!(decode::<Stamped>(&stamped(&double), 1024).unwrap().timestamp, Timestamp(1_700_000_000.25));
        // Untagged numbers are accepted too; another tag, a string or NaN are not.
        assert_eq!(decode::<Stamped>(&stamped(&[0x18, 0x2a]), 1024).unwrap().timestamp, Timestamp(42.0));
        assert!(decode::<Stamped>(&stamped(&[0xc0, 0x18, 0x2a]), 1024).is_err());
        assert!(decode::<Stamped>(&stamped(&[0xc1, 0x61, 0x78]), 1024).is_err());
        assert!(decode::<Stamped>(&stamped(&[0xc1, 0xf9, 0x7e, 0x00]), 1024).is_err());
        // Encoded under tag 1, as a float; and it reads back.
        let encoded = encode(&Stamped { timestamp: Timestamp(1_700_000_000.5) }).unwrap();
        let value: ciborium::Value = ciborium::de::from_reader(&encoded[..]).unwrap();
        let entry = value.as_map().unwrap()[0].1.clone();
        let ciborium::Value::Tag(EPOCH_TAG, inner) = entry else { panic!("not tag 1: {entry:?}") };
        assert_eq!(inner.as_float(), Some(1_700_000_000.5));
        assert_eq!(decode::<Stamped>(&encoded, 1024).unwrap().timestamp, Timestamp(1_700_000_000.5));
    }
}
