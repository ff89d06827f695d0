//! Subscription filter policies: AWS's filter policy language over message attributes
//! (`FilterPolicyScope=MessageAttributes`, the default) or the JSON message body
//! (`MessageBody`). Matching: exact strings and numbers, `prefix`, `suffix`,
//! `equals-ignore-case`, `anything-but` (values or a prefix), `numeric` ranges, `exists`, and
//! `$or`. A policy is compiled once, when it is set, and checked against its limits then.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::types::MessageAttributeValue;

/// Keys a policy may hold (AWS: five attribute names).
const MAX_KEYS: usize = 5;
/// Combinations of values a policy may express (AWS: 150).
const MAX_COMBINATIONS: usize = 150;

/// Where a policy looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Message attributes.
    MessageAttributes,
    /// The JSON message body.
    MessageBody,
}

/// A compiled filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    scope: Scope,
    rules: Vec<Rule>,
}

/// One condition of a policy.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// The value at `key` satisfies one of the conditions.
    Match(String, Vec<Condition>),
    /// The object at `key` satisfies every rule (body scope).
    Nested(String, Vec<Rule>),
    /// One of the alternatives' rules all hold.
    Or(Vec<Vec<Rule>>),
}

/// One accepted value or operator.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Exact(Value),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Value>),
    AnythingButPrefix(String),
    Numeric(Vec<(String, f64)>),
    Exists(bool),
}

/// Why a policy is refused: the text after `Invalid parameter: FilterPolicy: `, or the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The policy is malformed.
    Invalid(String),
    /// It has more keys or combinations than AWS allows.
    TooComplex(String),
}

impl FilterPolicy {
    /// Compiles `text` for `scope`.
    pub fn parse(text: &str, scope: Scope) -> Result<Self, PolicyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|_| PolicyError::Invalid("failed to parse JSON.".to_string()))?;
        let Value::Object(members) = value else {
            return Err(PolicyError::Invalid("Filter policy must be a JSON object".to_string()));
        };
        let rules = compile_object(&members, scope, 0)?;
        let keys = count_keys(&rules);
        if scope == Scope::MessageAttributes && keys > MAX_KEYS {
            return Err(PolicyError::TooComplex(format!("Filter policy can not have more than {MAX_KEYS} keys")));
        }
        if combinations(&rules) > MAX_COMBINATIONS {
            return Err(PolicyError::TooComplex("Filter policy is too complex".to_string()));
        }
        Ok(Self { scope, rules })
    }

    /// Whether a message with these attributes and this body passes.
    pub fn matches(&self, attributes: &BTreeMap<String, MessageAttributeValue>, body: &str) -> bool {
        match self.scope {
            Scope::MessageAttributes => {
                let values: BTreeMap<&str, Option<Value>> =
                    attributes.iter().map(|(name, value)| (name.as_str(), attribute_value(value))).collect();
                let object: serde_json::Map<String, Value> =
                    values.into_iter().map(|(name, value)| (name.to_string(), value.unwrap_or(Value::Null))).collect();
                all_hold(&self.rules, &object, true)
            }
            Scope::MessageBody => match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(object)) => all_hold(&self.rules, &object, false),
                _ => false,
            },
        }
    }
}

/// An attribute as the policy sees it: strings as strings, numbers as numbers, string arrays
/// as arrays; binary attributes are never matched.
fn attribute_value(value: &MessageAttributeValue) -> Option<Value> {
    let data_type = value.data_type.as_deref().unwrap_or_default();
    let text = value.string_value.as_deref()?;
    if data_type.starts_with("Number") {
        return text.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number);
    }
    if data_type.starts_with("String.Array") {
        return serde_json::from_str::<Value>(text).ok().filter(Value::is_array);
    }
    data_type.starts_with("String").then(|| Value::String(text.to_string()))
}

fn compile_object(
    members: &serde_json::Map<String, Value>,
    scope: Scope,
    depth: usize,
) -> Result<Vec<Rule>, PolicyError> {
    if depth > 5 {
        return Err(PolicyError::TooComplex("Filter policy is too deeply nested".to_string()));
    }
    let mut rules = Vec::new();
    for (key, value) in members {
        if key == "$or" {
            let Value::Array(alternatives) = value else {
                return Err(PolicyError::Invalid("$or must be an array".to_string()));
            };
            let mut compiled = Vec::new();
            for alternative in alternatives {
                let Value::Object(members) = alternative else {
                    return Err(PolicyError::Invalid("$or must contain objects".to_string()));
                };
                compiled.push(compile_object(members, scope, depth + 1)?);
            }
            if compiled.len() < 2 {
                return Err(PolicyError::Invalid("$or must have at least 2 elements".to_string()));
            }
            rules.push(Rule::Or(compiled));
            continue;
        }
        match value {
            Value::Array(conditions) => {
                let conditions =
                    conditions.iter().map(|item| compile_condition(key, item)).collect::<Result<_, _>>()?;
                rules.push(Rule::Match(key.clone(), conditions));
            }
            Value::Object(nested) if scope == Scope::MessageBody => {
                rules.push(Rule::Nested(key.clone(), compile_object(nested, scope, depth + 1)?));
            }
            Value::Object(_) => {
                return Err(PolicyError::Invalid(
                    "Filter policy scope MessageAttributes does not support nested filter policy".to_string(),
                ));
            }
            _ => return Err(PolicyError::Invalid(format!("\"{key}\" must be an object or an array"))),
        }
    }
    Ok(rules)
}

fn compile_condition(key: &str, item: &Value) -> Result<Condition, PolicyError> {
    let invalid = |what: &str| PolicyError::Invalid(format!("{what} for \"{key}\""));
    match item {
        Value::String(_) | Value::Number(_) | Value::Null => Ok(Condition::Exact(item.clone())),
        Value::Bool(_) => Err(invalid("Match value must be String, number, true, false, or null")),
        Value::Array(_) => Err(invalid("Match value must be String, number, true, false, or null")),
        Value::Object(operator) => {
            let mut entries = operator.iter();
            let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
                return Err(invalid("Only one operator is allowed"));
            };
            let text = || {
                operand
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(&format!("{name} match pattern must be a string")))
            };
            match name.as_str() {
                "prefix" => Ok(Condition::Prefix(text()?)),
                "suffix" => Ok(Condition::Suffix(text()?)),
                "equals-ignore-case" => Ok(Condition::EqualsIgnoreCase(text()?.to_lowercase())),
                "exists" => match operand {
                    Value::Bool(exists) => Ok(Condition::Exists(*exists)),
                    _ => Err(invalid("exists match pattern must be either true or false")),
                },
                "anything-but" => match operand {
                    Value::Array(values) => Ok(Condition::AnythingBut(values.clone())),
                    Value::Object(inner) => match inner.get("prefix").and_then(Value::as_str) {
                        Some(prefix) if inner.len() == 1 => Ok(Condition::AnythingButPrefix(prefix.to_string())),
                        _ => Err(invalid("Unsupported anything-but pattern")),
                    },
                    Value::String(_) | Value::Number(_) => Ok(Condition::AnythingBut(vec![operand.clone()])),
                    _ => Err(invalid("Unsupported anything-but pattern")),
                },
                "numeric" => compile_numeric(operand).ok_or_else(|| invalid("Bad numeric range")),
                other => Err(invalid(&format!("Unrecognized match type {other}"))),
            }
        }
    }
}

/// `["<", 5]`, `[">=", 1, "<", 9]`, `["=", 3]`.
fn compile_numeric(operand: &Value) -> Option<Condition> {
    let items = operand.as_array()?;
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return None;
    }
    let mut comparisons = Vec::new();
    for pair in items.chunks(2) {
        let operator = pair[0].as_str()?;
        if !matches!(operator, "<" | "<=" | "=" | ">" | ">=") {
            return None;
        }
        comparisons.push((operator.to_string(), pair[1].as_f64()?));
    }
    Some(Condition::Numeric(comparisons))
}

fn count_keys(rules: &[Rule]) -> usize {
    rules
        .iter()
        .map(|rule| match rule {
            Rule::Match(..) => 1,
            Rule::Nested(_, nested) => count_keys(nested),
            Rule::Or(alternatives) => alternatives.iter().map(|rules| count_keys(rules)).max().unwrap_or(0),
        })
        .sum()
}

/// How many value combinations the rules describe (the product of each key's values).
fn combinations(rules: &[Rule]) -> usize {
    rules.iter().fold(1usize, |product, rule| {
        let count = match rule {
            Rule::Match(_, conditions) => conditions.len().max(1),
            Rule::Nested(_, nested) => combinations(nested),
            Rule::Or(alternatives) => alternatives.iter().map(|rules| combinations(rules)).sum(),
        };
        product.saturating_mul(count)
    })
}

fn all_hold(rules: &[Rule], object: &serde_json::Map<String, Value>, attributes: bool) -> bool {
    rules.iter().all(|rule| match rule {
        Rule::Match(key, conditions) => {
            let value = object.get(key).filter(|value| !(attributes && value.is_null()));
            conditions.iter().any(|condition| condition_holds(condition, value))
        }
        Rule::Nested(key, nested) => match object.get(key) {
            Some(Value::Object(inner)) => all_hold(nested, inner, attributes),
            _ => false,
        },
        Rule::Or(alternatives) => alternatives.iter().any(|rules| all_hold(rules, object, attributes)),
    })
}

fn condition_holds(condition: &Condition, value: Option<&Value>) -> bool {
    match (condition, value) {
        (Condition::Exists(exists), value) => *exists == value.is_some(),
        (_, None) => false,
        (_, Some(Value::Array(items))) => items.iter().any(|item| condition_holds(condition, Some(item))),
        (condition, Some(value)) => scalar_holds(condition, value),
    }
}

fn scalar_holds(condition: &Condition, value: &Value) -> bool {
    match condition {
        Condition::Exact(expected) => same(expected, value),
        Condition::Prefix(prefix) => value.as_str().is_some_and(|text| text.starts_with(prefix.as_str())),
        Condition::Suffix(suffix) => value.as_str().is_some_and(|text| text.ends_with(suffix.as_str())),
        Condition::EqualsIgnoreCase(expected) => value.as_str().is_some_and(|text| text.to_lowercase() == *expected),
        Condition::AnythingBut(values) => !values.iter().any(|excluded| same(excluded, value)),
        Condition::AnythingButPrefix(prefix) => value.as_str().is_some_and(|text| !text.starts_with(prefix.as_str())),
        Condition::Numeric(comparisons) => value.as_f64().is_some_and(|number| {
            comparisons.iter().all(|(operator, bound)| match operator.as_str() {
                "<" => number < *bound,
                "<=" => number <= *bound,
                "=" => number == *bound,
                ">" => number > *bound,
                _ => number >= *bound,
            })
        }),
        Condition::Exists(_) => true,
    }
}

/// Equality as the policy language has it: numbers by value, everything else exactly.
fn same(expected: &Value, value: &Value) -> bool {
    match (expected.as_f64(), value.as_f64()) {
        (Some(left), Some(right)) => left == right,
        _ => expected == value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, MessageAttributeValue> {
        pairs
            .iter()
            .map(|(name, data_type, value)| {
                let value = MessageAttributeValue {
                    data_type: Some(data_type.to_string()),
                    string_value: Some(value.to_string()),
                    binary_value: None,
                };
                (name.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn attribute_policies_match_as_aws_documents() {
        let policy = FilterPolicy::parse(
            r#"{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],
                "customer_interests":["rugby","football","baseball"],"price_usd":[{"numeric":[">=",100]}]}"#,
            Scope::MessageAttributes,
        )
        .unwrap();
        let matching = attributes(&[
            ("store", "String", "example_corp"),
            ("event", "String", "order_placed"),
            ("customer_interests", "String.Array", r#"["soccer","rugby","hockey"]"#),
            ("price_usd", "Number", "210.75"),
        ]);
        assert!(policy.matches(&matching, ""));
        let mut cheap = matching.clone();
        cheap.insert("price_usd".into(), attributes(&[("p", "Number", "99.5")]).remove("p").unwrap());
        assert!(!policy.matches(&cheap, ""));
        let mut cancelled = matching.clone();
        cancelled.insert("event".into(), attributes(&[("e", "String", "order_cancelled")]).remove("e").unwrap());
        assert!(!policy.matches(&cancelled, ""));
        let mut missing = matching;
        missing.remove("store");
        assert!(!policy.matches(&missing, ""));
    }

    #[test]
    fn prefix_exists_and_or() {
        let policy = FilterPolicy::parse(
            r#"{"$or":[{"kind":[{"prefix":"card-"}]},{"urgent":[{"exists":true}]}],"test":[{"exists":false}]}"#,
            Scope::MessageAttributes,
        )
        .unwrap();
        assert!(policy.matches(&attributes(&[("kind", "String", "card-visa")]), ""));
        assert!(policy.matches(&attributes(&[("urgent", "String", "x")]), ""));
        assert!(!policy.matches(&attributes(&[("kind", "String", "cash")]), ""));
        assert!(!policy.matches(&attributes(&[("kind", "String", "card-x"), ("test", "String", "1")]), ""));
    }

    #[test]
    fn body_policies_look_into_nested_objects() {
        let policy = FilterPolicy::parse(
            r#"{"order":{"amount":[{"numeric":[">",10,"<=",20]}],"currency":[{"equals-ignore-case":"eur"}]}}"#,
            Scope::MessageBody,
        )
        .unwrap();
        assert!(policy.matches(&BTreeMap::new(), r#"{"order":{"amount":15,"currency":"EUR"}}"#));
        assert!(!policy.matches(&BTreeMap::new(), r#"{"order":{"amount":25,"currency":"EUR"}}"#));
        assert!(!policy.matches(&BTreeMap::new(), "not json"));
    }

    #[test]
    fn malformed_and_oversized_policies_are_refused() {
        assert!(matches!(FilterPolicy::parse("[1]", Scope::MessageAttributes), Err(PolicyError::Invalid(_))));
        assert!(matches!(FilterPolicy::parse(r#"{"a":"b"}"#, Scope::MessageAttributes), Err(PolicyError::Invalid(_))));
        assert!(matches!(
            FilterPolicy::parse(r#"{"a":{"b":["c"]}}"#, Scope::MessageAttributes),
            Err(PolicyError::Invalid(_))
        ));
        assert!(matches!(
            FilterPolicy::parse(r#"{"a":[{"numeric":["<"]}]}"#, Scope::MessageAttributes),
            Err(PolicyError::Invalid(_))
        ));
        let six = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#;
        assert!(matches!(FilterPolicy::parse(six, Scope::MessageAttributes), Err(PolicyError::TooComplex(_))));
        let values: Vec<String> = (0..13).map(|n| n.to_string()).collect();
        let wide = serde_json::json!({"a": values, "b": values}).to_string();
        assert!(matches!(FilterPolicy::parse(&wide, Scope::MessageAttributes), Err(PolicyError::TooComplex(_))));
    }
}
