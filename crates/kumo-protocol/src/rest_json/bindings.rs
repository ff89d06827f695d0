//! restJson1 bindings: an operation's input members come from its path labels, query
//! parameters, headers and body, and its output members go to headers, the status code and the
//! body, as the botocore model's `location` / `locationName` say. [`decode`] gathers every input
//! member into one serde type (the body's JSON object plus the bound members, or a raw blob
//! payload through [`RestInput::set_payload`]); [`encode`] takes an output apart the other way.
//! Limits: at most [`RestLimits::max_query_pairs`] query parameters and
//! [`RestLimits::max_list_items`] values of a list; JSON nests at most 128 deep (serde_json).

use std::borrow::Cow;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{DecodeError, RestAnswer};

/// Where an input or output member travels (the model's `location` and `locationName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{Label}` (or greedy `{Label+}`) of the path template (`uri`).
    Label(&'static str),
    /// A query parameter (`querystring`).
    Query(&'static str),
    /// A header (`header`).
    Header(&'static str),
    /// The HTTP status code (`statusCode`, outputs only).
    StatusCode,
}

/// What a bound member's text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Text as sent.
    String,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A list of strings: every value of a repeated query key (`?Key=a&Key=b`).
    StringList,
}

/// One member bound outside the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The member's name in the operation's shape (`MaxItems`).
    pub name: &'static str,
    /// Where it travels.
    pub location: Location,
    /// What its text holds.
    pub shape: Shape,
}

/// What an operation's body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// A JSON object of the members not bound elsewhere (an empty body is `{}`).
    Json,
    /// Raw bytes: one blob member is the whole body (Invoke's `Payload`).
    Blob,
    /// No body.
    Empty,
}

/// An operation's bindings, one direction (input or output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bindings {
    /// The members bound outside the body.
    pub members: &'static [Member],
    /// What the body holds.
    pub payload: Payload,
}

/// Bounds on what a request may make the decoder hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestLimits {
    /// Query parameters in all.
    pub max_query_pairs: usize,
    /// Values of one list member.
    pub max_list_items: usize,
}

impl Default for RestLimits {
    fn default() -> Self {
        Self { max_query_pairs: 1_000, max_list_items: 1_000 }
    }
}

/// An operation's input type. A blob payload's member is skipped by serde and set from the body
/// here, so the body (up to 6 MB for Invoke) is handed over, not copied.
pub trait RestInput: DeserializeOwned {
    /// Takes the raw body of an operation whose payload is a blob.
    fn set_payload(&mut self, _payload: Bytes) {}
}

/// Decodes one request into `T`: the path `labels` (as [`crate::RestTable::route`] matched
/// them, still percent-encoded), the query string and headers of `parts`, and `body`.
pub fn decode<T: RestInput>(
    bindings: &Bindings,
    limits: &RestLimits,
    parts: &Parts,
    labels: &[(&'static str, &str)],
    body: Bytes,
) -> Result<T, DecodeError> {
    if bindings.payload == Payload::Json && bindings.members.is_empty() {
        // Nothing to merge: the body is the input, deserialized straight from its bytes.
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
        return serde_json::from_slice(body).map_err(|error| match error.classify() {
            serde_json::error::Category::Data => DecodeError::Shape(error.to_string()),
            _ => DecodeError::Syntax(error.to_string()),
        });
    }
    if bindings.payload != Payload::Json {
        // Only bound members (and a blob): deserialized straight from them, no JSON object made.
        let bound = bound_members(bindings, limits, parts, labels)?;
        let members = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(bound.into_iter());
        let mut input = T::deserialize(members).map_err(|error| DecodeError::Shape(error.to_string()))?;
        if bindings.payload == Payload::Blob {
            input.set_payload(body);
        }
        return Ok(input);
    }
    let mut object = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(DecodeError::Syntax("the body is not a JSON object".to_string())),
            Err(error) => return Err(DecodeError::Syntax(error.to_string())),
        }
    };
    // A bound member takes precedence over a body member of the same name.
    for (name, value) in bound_members(bindings, limits, parts, labels)? {
        object.insert(name.to_string(), value);
    }
    serde_json::from_value(Value::Object(object)).map_err(|error| DecodeError::Shape(error.to_string()))
}

/// The members `bindings` binds outside the body that the request carries, typed, by name.
fn bound_members(
    bindings: &Bindings,
    limits: &RestLimits,
    parts: &Parts,
    labels: &[(&'static str, &str)],
) -> Result<Vec<(&'static str, Value)>, DecodeError> {
    let mut bound = Vec::with_capacity(bindings.members.len());
    let query = query_pairs(parts.uri.query().unwrap_or_default(), limits)?;
    for member in bindings.members {
        let value = match member.location {
            Location::Label(label) => match labels.iter().find(|(name, _)| *name == label) {
                Some((_, raw)) => Some(typed(member, &[decode_label(member, raw)?], limits)?),
                None => None,
            },
            Location::Query(key) => {
                let values: Vec<Cow<'_, str>> =
                    query.iter().filter(|(name, _)| name == key).map(|(_, value)| value.clone()).collect();
                if values.is_empty() {
                    None
                } else {
                    Some(typed(member, &values, limits)?)
                }
            }
            Location::Header(name) => match parts.headers.get(name) {
                Some(value) => {
                    let lossy = || String::from_utf8_lossy(value.as_bytes()).into_owned();
                    let text = value.to_str().map_err(|_| invalid(member, &lossy(), "visible ASCII text"))?;
                    Some(typed(member, &[Cow::Borrowed(text)], limits)?)
                }
                None => None,
            },
            Location::StatusCode => None,
        };
        if let Some(value) = value {
            bound.push((member.name, value));
        }
    }
    Ok(bound)
}

/// A query parameter's name and value, percent-decoded.
type QueryPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The query string's pairs, decoded as forms are (`+` is a space), at most the limit.
fn query_pairs<'a>(query: &'a str, limits: &RestLimits) -> Result<Vec<QueryPair<'a>>, DecodeError> {
    let mut pairs = Vec::new();
    for pair in form_urlencoded::parse(query.as_bytes()) {
        if pairs.len() == limits.max_query_pairs {
            return Err(DecodeError::TooManyParameters { limit: limits.max_query_pairs });
        }
        pairs.push(pair);
    }
    Ok(pairs)
}

/// A path label's text: percent-decoded once, and UTF-8.
fn decode_label<'a>(member: &Member, raw: &'a str) -> Result<Cow<'a, str>, DecodeError> {
    percent_encoding::percent_decode_str(raw).decode_utf8().map_err(|_| invalid(member, raw, "UTF-8 string"))
}

fn invalid(member: &Member, value: &str, expected: &'static str) -> DecodeError {
    DecodeError::InvalidValue { field: member.name.to_string(), value: value.to_string(), expected }
}

/// The JSON value of a bound member's text(s), typed by its shape (the first of repeated values
/// for a scalar).
fn typed(member: &Member, values: &[Cow<'_, str>], limits: &RestLimits) -> Result<Value, DecodeError> {
    let first = values.first().map(|value| value.as_ref()).unwrap_or_default();
    match member.shape {
        Shape::String => Ok(Value::String(first.to_string())),
        Shape::Integer => first.parse::<i64>().map(Value::from).map_err(|_| invalid(member, first, "number")),
        Shape::Boolean => match first {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid(member, first, "boolean")),
        },
        Shape::StringList => {
            if values.len() > limits.max_list_items {
                return Err(DecodeError::TooManyParameters { limit: limits.max_list_items });
            }
            Ok(Value::Array(values.iter().map(|value| Value::String(value.to_string())).collect()))
        }
    }
}

/// Encodes an output: its header-bound members become headers, a `statusCode` member the
/// status (else `status`, the operation's), and the rest the JSON body ([`Payload::Json`]); a
/// blob payload's body is `payload`, handed over uncopied. Absent (`null`) members send nothing.
pub fn encode<T: Serialize>(
    bindings: &Bindings,
    status: StatusCode,
    output: &T,
    payload: Option<Bytes>,
) -> Result<RestAnswer, serde_json::Error> {
    if bindings.members.is_empty() && bindings.payload == Payload::Json {
        // Nothing to take out of the body: no JSON tree is built.
        let body = Bytes::from(serde_json::to_vec(output)?);
        return Ok(RestAnswer { status, headers: Vec::new(), content_type: Some(JSON), body });
    }
    let mut object = match serde_json::to_value(output)? {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    let mut answer = RestAnswer { status, headers: Vec::new(), content_type: None, body: Bytes::new() };
    for member in bindings.members {
        let text = match object.remove(member.name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) => text,
            Some(other) => other.to_string(),
        };
        bind(member, &text, &mut answer);
    }
    let body = match bindings.payload {
        Payload::Json => Some(Bytes::from(serde_json::to_vec(&Value::Object(object))?)),
        _ => payload,
    };
    Ok(with_payload(bindings, answer, body))
}

/// Encodes an output whose members are all bound to the status or headers (its body a blob
/// payload or none) from their values as text, `None` for an absent member: the hot path of an
/// answer such as Invoke's, with no serialisation of the output.
pub fn encode_bound(
    bindings: &Bindings,
    status: StatusCode,
    values: &[(&str, Option<&str>)],
    payload: Option<Bytes>,
) -> RestAnswer {
    let mut answer = RestAnswer { status, headers: Vec::new(), content_type: None, body: Bytes::new() };
    for member in bindings.members {
        let value = values.iter().find(|(name, _)| *name == member.name).and_then(|(_, value)| *value);
        if let Some(text) = value {
            bind(member, text, &mut answer);
        }
    }
    with_payload(bindings, answer, payload)
}

/// Puts one bound member's text where its binding says.
fn bind(member: &Member, text: &str, answer: &mut RestAnswer) {
    match member.location {
        Location::StatusCode => {
            if let Some(status) = text.parse::<u16>().ok().and_then(|code| StatusCode::from_u16(code).ok()) {
                answer.status = status;
            }
        }
        Location::Header(name) => {
            // What cannot be a header value is dropped rather than sent broken.
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(text)) {
                answer.headers.push((name, value));
            }
        }
        Location::Label(_) | Location::Query(_) => {}
    }
}

/// The answer with its body (`body`: the JSON document or the blob payload) and content type.
fn with_payload(bindings: &Bindings, answer: RestAnswer, body: Option<Bytes>) -> RestAnswer {
    let (content_type, body) = match bindings.payload {
        Payload::Json | Payload::Blob => (Some(JSON), body.unwrap_or_default()),
        Payload::Empty => (None, Bytes::new()),
    };
    RestAnswer { content_type, body, ..answer }
}

/// The `Content-Type` of restJson1 bodies.
const JSON: &str = "application/json";

#[cfg(test)]
#[path = "bindings_tests.rs"]
mod tests;
