//! Property tests of every decoder: generated input (arbitrary bytes, arbitrary keys, values and
//! depths) never panics, never recurses past its limit, and either decodes or returns a
//! `DecodeError`. Run longer with `PROPTEST_CASES=<n>` (see the crate doc).

use std::collections::BTreeMap;

use kumo_protocol::query::de::from_node;
use kumo_protocol::query::{QueryLimits, QueryRequest};
use kumo_protocol::{cbor, json, DecodeError};
use proptest::prelude::*;
use serde::Deserialize;

/// An input type with every shape the decoders meet: scalars, options, lists, maps, nesting.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)] // Read only through Debug: the point is that decoding never panics.
struct Shapes {
    name: Option<String>,
    count: Option<i64>,
    flag: Option<bool>,
    ratio: Option<f64>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    message_attributes: BTreeMap<String, Nested>,
    #[serde(default)]
    entries: Vec<Nested>,
    #[serde(default)]
    keys: Vec<String>,
    kind: Option<Kind>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct Nested {
    data_type: Option<String>,
    string_value: Option<String>,
    #[serde(default)]
    string_list_values: Vec<String>,
    inner: Option<Box<Nested>>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum Kind {
    All,
    Local,
}

fn rename(name: &str) -> Option<&'static str> {
    match name {
        "Attribute" => Some("Attributes"),
        "MessageAttribute" => Some("MessageAttributes"),
        "Entry" => Some("Entries"),
        _ => None,
    }
}

/// Key segments that hit the decoder's special forms as well as plain names.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("member".to_string()),
        Just("entry".to_string()),
        Just("Name".to_string()),
        Just("Value".to_string()),
        Just("key".to_string()),
        Just("Attribute".to_string()),
        Just("MessageAttribute".to_string()),
        Just("Entry".to_string()),
        Just("Inner".to_string()),
        Just("Count".to_string()),
        Just("Flag".to_string()),
        Just("Kind".to_string()),
        (0u64..20_000).prop_map(|index| index.to_string()),
        "[A-Za-z0-9%+._-]{0,12}",
    ]
}

/// Mostly keys of real depths (so decoding gets past the tree), sometimes far deeper.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::collection::vec(segment(), 1..8),
        1 => prop::collection::vec(segment(), 1..40),
    ]
    .prop_map(|segments| segments.join("."))
}

fn form() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), ".{0,20}"), 0..30)
        .prop_map(|pairs| form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
}

/// JSON-ish text: brackets, quotes, numbers and names, nested to any depth.
fn json_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"Name\"".to_string()),
        Just("\"Entries\"".to_string()),
        Just("\"MessageAttributes\"".to_string()),
        Just("1e999".to_string()),
        Just("-0".to_string()),
        Just("null".to_string()),
        Just("\"\\ud800\"".to_string()),
        ".{0,4}",
    ];
    prop::collection::vec(token, 0..200).prop_map(|tokens| tokens.concat())
}

proptest! {
    #[test]
    fn query_decoder_never_panics_and_keeps_its_limits(query in form(), body in form()) {
        let limits = QueryLimits::default();
        match QueryRequest::parse(query.as_bytes(), body.as_bytes(), &limits) {
            Ok(request) => {
                prop_assert!(depth(&request.params) <= limits.max_depth);
                let _ = from_node::<Shapes>(&request.params, rename);
            }
            Err(error) => prop_assert!(error.is_limit(), "{error:?}"),
        }
    }

    #[test]
    fn query_decoder_takes_arbitrary_bytes(query in prop::collection::vec(any::<u8>(), 0..512), body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(request) = QueryRequest::parse(&query, &body, &QueryLimits::default()) {
            let _ = from_node::<Shapes>(&request.params, rename);
        }
    }

    #[test]
    fn query_keys_of_any_depth_are_refused_past_the_limit(depth in 1usize..50_000) {
        let body = format!("Action=X&{}=1", vec!["x"; depth].join("."));
        let parsed = QueryRequest::parse(b"", body.as_bytes(), &QueryLimits::default());
        if depth > QueryLimits::default().max_depth {
            prop_assert_eq!(parsed.unwrap_err(), DecodeError::TooDeep { limit: QueryLimits::default().max_depth });
        } else {
            prop_assert!(parsed.is_ok());
        }
    }

    #[test]
    fn json_decoder_never_panics(text in json_text(), bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = json::decode::<Shapes>(text.as_bytes(), 1 << 20);
        let _ = json::decode::<Shapes>(&bytes, 1 << 20);
    }

    #[test]
    fn json_nesting_of_any_depth_is_bounded(depth in 1usize..200_000, object in any::<bool>()) {
        let (open, close) = if object { ("{\"Inner\":", "}") } else { ("[", "]") };
        let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        match json::decode::<serde_json::Value>(body.as_bytes(), 4 << 20) {
            Ok(_) => prop_assert!(depth < json::MAX_DEPTH),
            Err(error) => prop_assert_eq!(error, DecodeError::TooDeep { limit: json::MAX_DEPTH }),
        }
    }

    #[test]
    fn cbor_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = cbor::decode::<Shapes>(&bytes, 1 << 20);
        let _ = cbor::decode::<serde_json::Value>(&bytes, 1 << 20);
    }

    #[test]
    fn cbor_nesting_of_any_depth_is_bounded(depth in 1usize..200_000) {
        let body: Vec<u8> = std::iter::repeat_n(0x81u8, depth).chain([0x01]).collect();
        match cbor::decode::<serde_json::Value>(&body, 1 << 20) {
            // MAX_DEPTH levels of nesting are accepted, one more is refused.
            Ok(_) => prop_assert!(depth <= cbor::MAX_DEPTH),
            Err(error) => prop_assert_eq!(error, DecodeError::TooDeep { limit: cbor::MAX_DEPTH }),
        }
    }
}

fn depth(node: &kumo_protocol::query::QueryNode) -> usize {
    node.children.values().map(|child| 1 + depth(child)).max().unwrap_or(0)
}
