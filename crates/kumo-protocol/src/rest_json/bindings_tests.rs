//! One test per binding kind, and the encoder's headers and status.

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Input {
    name: Option<String>,
    key: Option<String>,
    max_items: Option<i64>,
    publish: Option<bool>,
    tag_keys: Option<Vec<String>>,
    invocation_type: Option<String>,
    description: Option<String>,
    #[serde(skip)]
    payload: Bytes,
}

impl RestInput for Input {
    fn set_payload(&mut self, payload: Bytes) {
        self.payload = payload;
    }
}

const MEMBERS: &[Member] = &[
    Member { name: "Name", location: Location::Label("Name"), shape: Shape::String },
    Member { name: "Key", location: Location::Label("Key"), shape: Shape::String },
    Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer },
    Member { name: "Publish", location: Location::Query("Publish"), shape: Shape::Boolean },
    Member { name: "TagKeys", location: Location::Query("tagKeys"), shape: Shape::StringList },
    Member { name: "InvocationType", location: Location::Header("X-Amz-Invocation-Type"), shape: Shape::String },
];

const JSON: Bindings = Bindings { members: MEMBERS, payload: Payload::Json };
const BLOB: Bindings = Bindings { members: MEMBERS, payload: Payload::Blob };

fn parts(uri: &str, headers: &[(&str, &[u8])]) -> Parts {
    let mut request = http::Request::builder().uri(uri);
    for (name, value) in headers {
        request = request.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    request.body(()).unwrap().into_parts().0
}

fn decode_with(
    bindings: &Bindings,
    uri: &str,
    labels: &[(&'static str, &str)],
    body: &str,
) -> Result<Input, DecodeError> {
    decode(bindings, &RestLimits::default(), &parts(uri, &[]), labels, Bytes::from(body.to_string()))
}

#[test]
fn path_labels_are_percent_decoded_once_and_greedy_ones_keep_their_slashes() {
    let labels = [("Name", "my%20fn%2F%C3%BC"), ("Key", "a/b%252Fc.txt")];
    let input = decode_with(&JSON, "/", &labels, "").unwrap();
    assert_eq!(input.name.as_deref(), Some("my fn/ü"));
    assert_eq!(input.key.as_deref(), Some("a/b%2Fc.txt"));
    let error = decode_with(&JSON, "/", &[("Name", "%FF")], "").unwrap_err();
    assert_eq!(
        error,
        DecodeError::InvalidValue { field: "Name".into(), value: "%FF".into(), expected: "UTF-8 string" }
    );
}

#[test]
fn query_parameters_are_typed_by_shape() {
    let input = decode_with(&JSON, "/?MaxItems=5&Publish=true&tagKeys=a&tagKeys=b%20c&Other=1", &[], "").unwrap();
    assert_eq!((input.max_items, input.publish), (Some(5), Some(true)));
    assert_eq!(input.tag_keys, Some(vec!["a".to_string(), "b c".to_string()]));
    let input = decode_with(&JSON, "/", &[], "").unwrap();
    assert_eq!(input, Input::default(), "absent members stay absent");
}

#[test]
fn bad_query_values_are_decode_errors_naming_the_member() {
    let error = decode_with(&JSON, "/?MaxItems=abc", &[], "").unwrap_err();
    assert_eq!(error, DecodeError::InvalidValue { field: "MaxItems".into(), value: "abc".into(), expected: "number" });
    let error = decode_with(&JSON, "/?Publish=yes", &[], "").unwrap_err();
    assert_eq!(error, DecodeError::InvalidValue { field: "Publish".into(), value: "yes".into(), expected: "boolean" });
}

#[test]
fn the_query_and_lists_are_bounded() {
    let limits = RestLimits { max_query_pairs: 3, max_list_items: 2 };
    let decode_query =
        |query: &str| decode::<Input>(&JSON, &limits, &parts(&format!("/?{query}"), &[]), &[], Bytes::new());
    assert_eq!(decode_query("a=1&b=2&c=3&d=4").unwrap_err(), DecodeError::TooManyParameters { limit: 3 });
    assert_eq!(decode_query("tagKeys=a&tagKeys=b&tagKeys=c").unwrap_err(), DecodeError::TooManyParameters { limit: 2 });
    assert!(decode_query("tagKeys=a&tagKeys=b").is_ok());
}

#[test]
fn headers_are_read_whatever_their_case() {
    let request = parts("/", &[("x-amz-invocation-type", b"Event")]);
    let input: Input = decode(&JSON, &RestLimits::default(), &request, &[], Bytes::new()).unwrap();
    assert_eq!(input.invocation_type.as_deref(), Some("Event"));
    let request = parts("/", &[("x-amz-invocation-type", b"\xff")]);
    let error = decode::<Input>(&JSON, &RestLimits::default(), &request, &[], Bytes::new()).unwrap_err();
    assert!(matches!(error, DecodeError::InvalidValue { expected: "visible ASCII text", .. }), "{error:?}");
}

#[test]
fn the_json_body_and_bound_members_make_one_value() {
    let input = decode_with(&JSON, "/?MaxItems=2", &[("Name", "f")], r#"{"Description": "d"}"#).unwrap();
    assert_eq!((input.name.as_deref(), input.max_items, input.description.as_deref()), (Some("f"), Some(2), Some("d")));
    assert!(input.payload.is_empty(), "a JSON body is not a blob");
    assert!(matches!(decode_with(&JSON, "/", &[], "{"), Err(DecodeError::Syntax(_))));
    assert!(matches!(decode_with(&JSON, "/", &[], "[1]"), Err(DecodeError::Syntax(_))));
    let error = decode_with(&JSON, "/", &[], r#"{"Description": 5}"#).unwrap_err();
    assert!(matches!(error, DecodeError::Shape(ref message) if message.contains("invalid type")), "{error:?}");
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(matches!(
        decode_with(&JSON, "/", &[], &format!(r#"{{"Description": {deep}}}"#)),
        Err(DecodeError::Syntax(_))
    ));
}

#[test]
fn a_blob_payload_is_the_body_as_sent() {
    let input = decode_with(&BLOB, "/", &[("Name", "f")], r#"{"Description": "not decoded"}"#).unwrap();
    assert_eq!(input.payload, Bytes::from_static(br#"{"Description": "not decoded"}"#));
    assert_eq!(input.description, None);
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    status_code: u16,
    function_error: Option<String>,
    executed_version: String,
    count: u32,
}

const OUTPUT_MEMBERS: &[Member] = &[
    Member { name: "StatusCode", location: Location::StatusCode, shape: Shape::Integer },
    Member { name: "FunctionError", location: Location::Header("X-Amz-Function-Error"), shape: Shape::String },
    Member { name: "ExecutedVersion", location: Location::Header("X-Amz-Executed-Version"), shape: Shape::String },
];

#[test]
fn outputs_send_header_members_as_headers_and_the_status_member_as_the_status() {
    let output = Output { status_code: 202, function_error: None, executed_version: "3".into(), count: 7 };
    let bindings = Bindings { members: OUTPUT_MEMBERS, payload: Payload::Json };
    let answer = encode(&bindings, StatusCode::OK, &output, None).unwrap();
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let header = |answer: &RestAnswer, name: &str| {
        answer.headers.iter().find(|(header, _)| header == name).map(|(_, value)| value.to_str().unwrap().to_string())
    };
    assert_eq!(header(&answer, "x-amz-executed-version").as_deref(), Some("3"));
    assert_eq!(header(&answer, "x-amz-function-error"), None, "an absent member sends nothing");
    assert_eq!(answer.body.as_ref(), br#"{"Count":7}"#);
    assert_eq!(answer.content_type, Some("application/json"));
    let blob = Bindings { members: OUTPUT_MEMBERS, payload: Payload::Blob };
    let payload = Bytes::from_static(b"raw answer");
    let answer = encode(&blob, StatusCode::OK, &output, Some(payload.clone())).unwrap();
    assert_eq!(answer.body, payload);
    assert_eq!(answer.body.as_ptr(), payload.as_ptr(), "handed over, not copied");
    let empty = Bindings { members: &[], payload: Payload::Empty };
    let answer = encode(&empty, StatusCode::NO_CONTENT, &crate::NoResult {}, None).unwrap();
    assert_eq!((answer.status, answer.body.len(), answer.content_type), (StatusCode::NO_CONTENT, 0, None));
}

#[test]
fn a_body_without_bound_members_is_deserialized_straight_from_its_bytes() {
    let bare = Bindings { members: &[], payload: Payload::Json };
    let input: Input = decode(&bare, &RestLimits::default(), &parts("/", &[]), &[], Bytes::from_static(b" ")).unwrap();
    assert_eq!(input, Input::default(), "an empty body is {{}}");
    let body = Bytes::from_static(br#"{"Description": "d"}"#);
    let input: Input = decode(&bare, &RestLimits::default(), &parts("/", &[]), &[], body).unwrap();
    assert_eq!(input.description.as_deref(), Some("d"));
    let body = Bytes::from_static(br#"{"Description": 5}"#);
    let error = decode::<Input>(&bare, &RestLimits::default(), &parts("/", &[]), &[], body).unwrap_err();
    assert!(matches!(error, DecodeError::Shape(ref message) if message.ends_with("at line 1 column 17")), "{error:?}");
    let error =
        decode::<Input>(&bare, &RestLimits::default(), &parts("/", &[]), &[], Bytes::from_static(b"{")).unwrap_err();
    assert!(matches!(error, DecodeError::Syntax(_)), "{error:?}");
}
