//! Property tests of every decoder: generated input (arbitrary bytes, arbitrary keys, values and
//! depths) never panics, never recurses past its limit, and either decodes or returns a
//! `DecodeError`. Run longer with `PROPTEST_CASES=<n>` (see the crate doc).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Method;
use kumo_core::AwsError;
use kumo_protocol::query::de::from_node;
use kumo_protocol::query::{QueryLimits, QueryRequest};
use kumo_protocol::rest_json::{self, Bindings, Location, Member, Payload, RestInput, RestLimits, Shape};
use kumo_protocol::{cbor, json, DecodeError, RestIndex, RestOperation, RestTable};
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

/// A restJson1 input with a member of every bound kind, and body members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct RestShapes {
    function_name: String,
    qualifier: Option<String>,
    max_items: Option<i64>,
    flag: Option<bool>,
    keys: Option<Vec<String>>,
    token: Option<String>,
    description: Option<String>,
    #[serde(default)]
    entries: Vec<Nested>,
}

impl RestInput for RestShapes {}

static REST_TABLE: RestTable = RestTable {
    operations: &[
        RestOperation {
            name: "Labelled",
            method: Method::POST,
            path: "/2015-03-31/functions/{FunctionName}/invocations",
            body_limit: 1 << 20,
        },
        RestOperation { name: "Greedy", method: Method::POST, path: "/objects/{Key+}", body_limit: 1 << 20 },
    ],
    trailing_slash: &[],
    too_large: |_| AwsError::new("RequestEntityTooLargeException", 413, "too large"),
    index: RestIndex::new(),
};

/// The bound members of both operations (`label` names the path label).
fn rest_bindings(label: &'static str) -> Bindings {
    let members: &'static [Member] = match label {
        "Key" => &[
            Member { name: "FunctionName", location: Location::Label("Key"), shape: Shape::String },
            Member { name: "Keys", location: Location::Query("Keys"), shape: Shape::StringList },
        ],
        _ => &[
            Member { name: "FunctionName", location: Location::Label("FunctionName"), shape: Shape::String },
            Member { name: "Qualifier", location: Location::Query("Qualifier"), shape: Shape::String },
            Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer },
            Member { name: "Flag", location: Location::Query("Flag"), shape: Shape::Boolean },
            Member { name: "Keys", location: Location::Query("Keys"), shape: Shape::StringList },
            Member { name: "Token", location: Location::Header("X-Amz-Token"), shape: Shape::String },
        ],
    };
    Bindings { members, payload: Payload::Json }
}

/// Path, query and header text as clients and attackers send it: percent-escapes (complete,
/// truncated, invalid UTF-8), separators, `..`, and arbitrary characters.
fn rest_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("%".to_string()),
        Just("%2".to_string()),
        Just("%2F".to_string()),
        Just("%C3".to_string()),
        Just("%C3%A9".to_string()),
        Just("%FF".to_string()),
        Just("%00".to_string()),
        Just("/".to_string()),
        Just("..".to_string()),
        Just("+".to_string()),
        Just("=".to_string()),
        Just("&".to_string()),
        Just(":".to_string()),
        Just("$LATEST".to_string()),
        "[a-zA-Z0-9._~-]{0,8}",
        ".{0,3}",
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// Query strings with the bound keys, repeated past the list limit at times.
fn rest_query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("Qualifier"),
        Just("MaxItems"),
        Just("Flag"),
        Just("Keys"),
        Just("Other"),
        Just(""),
        Just("Keys%5B%5D")
    ];
    let pair = (key, rest_text()).prop_map(|(key, value)| format!("{key}={value}"));
    (prop::collection::vec(pair, 0..20), 0usize..1_200).prop_map(|(pairs, repeats)| {
        let mut query = pairs.join("&");
        query.push_str(&"&Keys=k".repeat(repeats));
        query
    })
}

proptest! {
    #[test]
    fn rest_json_decoder_never_panics_and_keeps_its_limits(
        greedy in any::<bool>(),
        label in rest_text(),
        query in rest_query(),
        token in prop::collection::vec(any::<u8>(), 0..64),
        body in json_text(),
    ) {
        let prefix = if greedy { "/objects/" } else { "/2015-03-31/functions/" };
        let suffix = if greedy { "" } else { "/invocations" };
        // Requests whose target no HTTP parser takes never reach the decoder.
        let request = http::Request::builder().method(Method::POST).uri(format!("{prefix}{label}{suffix}?{query}"));
        let request = match http::HeaderValue::from_bytes(&token) {
            Ok(value) => request.header("x-amz-token", value),
            Err(_) => request,
        };
        let Ok(request) = request.body(()) else { return Ok(()) };
        let (parts, ()) = request.into_parts();
        let Some(matched) = REST_TABLE.route(&parts.method, parts.uri.path()) else { return Ok(()) };
        let label_name = matched.labels.first().map_or("FunctionName", |(name, _)| *name);
        let limits = RestLimits::default();
        let bindings = rest_bindings(label_name);
        let decoded = rest_json::decode::<RestShapes>(&bindings, &limits, &parts, &matched.labels, Bytes::from(body));
        if let Ok(input) = decoded {
            prop_assert!(input.keys.map_or(0, |keys| keys.len()) <= limits.max_list_items);
        }
    }
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
