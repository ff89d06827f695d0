//! The restJson1 side of Lambda's model validation: reads each constrained member of an
//! operation's input where the model binds it (path label, query, top-level body member) and
//! hands the values to [`kumo_lambda::constraints::check`], before any handler runs, so every
//! operation refuses bad input with AWS's one `ValidationException`, whatever its handler does.

use std::collections::HashMap;
use std::fmt;

use kumo_core::AwsError;
use kumo_lambda::constraints::{self, Kind, Location, MemberRule, MemberValue};
use kumo_protocol::{Call, Input};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Checks `call`'s input against its operation's model constraints.
pub(crate) fn check(call: &Call<'_>) -> Result<(), AwsError> {
    let query: Vec<(String, String)> = call
        .parts
        .uri
        .query()
        .map(|query| form_urlencoded::parse(query.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let operation = model_operation(call.operation, &query);
    let Some(rules) = constraints::rules(operation) else {
        return Ok(());
    };
    let labels = crate::lambda_service::path_labels(call);
    let wants_body = rules.members.iter().any(|member| member.location == Location::Body);
    let body = match (&call.input, wants_body) {
        (Input::Json(bytes), true) => body_members(bytes, rules.members),
        _ => None,
    };
    constraints::check(operation, |member| match member.location {
        Location::Label(label) => labels
            .iter()
            .find(|(name, _)| *name == label)
            .map(|(_, raw)| MemberValue::String(percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into())),
        Location::Query(key) => query_value(&query, key, &member.kind),
        // An unreadable body is the decoder's to refuse, in its own words.
        Location::Body => match &body {
            Some(members) => members.get(member.name).cloned(),
            None if member.required => Some(MemberValue::Other),
            None => None,
        },
        Location::Header(_) => None,
    })
}

/// The model's operation a request is: two share a path with another and differ by a query
/// parameter (`?List=ALL`, `?find=LayerVersion`).
fn model_operation<'a>(operation: &'a str, query: &[(String, String)]) -> &'a str {
    let has = |key: &str, value: &str| query.iter().any(|(k, v)| k == key && v == value);
    match operation {
        "GetProvisionedConcurrencyConfig" if has("List", "ALL") => "ListProvisionedConcurrencyConfigs",
        "ListLayers" if has("find", "LayerVersion") => "GetLayerVersionByArn",
        other => other,
    }
}

/// The value of query parameter `key` as `kind` reads it; a number that does not parse is left
/// to the decoder ("Value 'abc' at 'maxItems' is not a number").
fn query_value(query: &[(String, String)], key: &str, kind: &Kind) -> Option<MemberValue> {
    let mut values = query.iter().filter(|(name, _)| name == key).map(|(_, value)| value);
    match kind {
        Kind::List { .. } => {
            let items: Vec<Option<String>> = values.map(|value| Some(value.clone())).collect();
            (!items.is_empty()).then_some(MemberValue::List(items))
        }
        Kind::Integer { .. } => {
            let value = values.next()?;
            Some(value.parse().map(MemberValue::Integer).unwrap_or(MemberValue::Other))
        }
        _ => values.next().map(|value| MemberValue::String(value.clone())),
    }
}

/// The top-level members of a JSON body that `members` constrain, or `None` when the body is
/// not a JSON object (an empty body is an empty object). Other members are skipped unread (a
/// 50 MB `ZipFile` is scanned, never copied).
fn body_members(bytes: &[u8], members: &'static [MemberRule]) -> Option<HashMap<&'static str, MemberValue>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(HashMap::new());
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let found = BodySeed { members }.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(found)
}

struct BodySeed {
    members: &'static [MemberRule],
}

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = HashMap<&'static str, MemberValue>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = HashMap<&'static str, MemberValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = HashMap::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let rule = self.members.iter().find(|member| member.location == Location::Body && member.name == key);
            match rule {
                Some(rule) => {
                    if let Some(value) = map.next_value::<Option<AnyValue>>()?.and_then(|value| value.0) {
                        found.insert(rule.name, value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// A member's value read without keeping what the checks do not need (a map's entries).
struct AnyValue(Option<MemberValue>);

impl<'de> serde::Deserialize<'de> for AnyValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = AnyValue;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<AnyValue, E> {
        Ok(AnyValue(Some(MemberValue::String(value.to_string()))))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<AnyValue, E> {
        Ok(AnyValue(Some(MemberValue::Integer(value))))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<AnyValue, E> {
        Ok(AnyValue(Some(i64::try_from(value).map(MemberValue::Integer).unwrap_or(MemberValue::Other))))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<AnyValue, E> {
        Ok(AnyValue(Some(MemberValue::Other)))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<AnyValue, E> {
        Ok(AnyValue(Some(MemberValue::Other)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<AnyValue, E> {
        Ok(AnyValue(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<AnyValue>()? {
            items.push(match item.0 {
                Some(MemberValue::String(text)) => Some(text),
                _ => None,
            });
        }
        Ok(AnyValue(Some(MemberValue::List(items))))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        let mut entries = 0;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            entries += 1;
        }
        Ok(AnyValue(Some(MemberValue::Map(entries))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_constrained_members_of_a_body() {
        let members = constraints::rules("CreateFunction").unwrap().members;
        let body = br#"{"FunctionName":"f","Code":{"ZipFile":"UEsDBA=="},"Timeout":3,"Architectures":["x86_64",1],"Environment":{"Variables":{}},"Publish":true,"Runtime":null}"#;
        let found = body_members(body, members).unwrap();
        assert_eq!(found.get("FunctionName"), Some(&MemberValue::String("f".into())));
        assert_eq!(found.get("Code"), Some(&MemberValue::Map(1)));
        assert_eq!(found.get("Timeout"), Some(&MemberValue::Integer(3)));
        assert_eq!(found.get("Architectures"), Some(&MemberValue::List(vec![Some("x86_64".into()), None])));
        assert_eq!(found.get("Runtime"), None, "null is absent");
        assert!(!found.contains_key("Publish"), "unconstrained members are skipped");
        assert_eq!(body_members(b"", members), Some(HashMap::new()));
        assert_eq!(body_members(b"[1]", members), None);
        assert_eq!(body_members(b"{\"FunctionName\":", members), None);
    }
}
