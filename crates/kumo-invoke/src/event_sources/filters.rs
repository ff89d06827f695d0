//! Lambda's event filtering (`FilterCriteria`): a record is kept when any filter pattern matches
//! it. Patterns are JSON objects mirroring the record; each leaf is a list of rules, any of which
//! may match: exact values, `prefix`, `suffix`, `anything-but`, `numeric`, `exists`,
//! `equals-ignore-case`. For SQS, a `body` that is JSON is matched as parsed JSON.

use serde_json::Value;

/// Why a pattern is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter pattern: {0}")]
pub struct FilterError(pub String);

/// Whether `record` passes: true when there are no filters or any pattern matches.
pub fn matches_filters(patterns: &[Value], record: &Value) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let record = with_parsed_body(record);
    patterns.iter().any(|pattern| matches_object(pattern, Some(&record)))
}

/// Checks a pattern's shape when a mapping is created.
pub fn validate_pattern(pattern: &str) -> Result<Value, FilterError> {
    let value: Value = serde_json::from_str(pattern).map_err(|error| FilterError(error.to_string()))?;
    if !value.is_object() {
        return Err(FilterError("a pattern must be a JSON object".to_string()));
    }
    Ok(value)
}

fn with_parsed_body(record: &Value) -> Value {
    let mut record = record.clone();
    if let Some(body) = record.get("body").and_then(Value::as_str) {
        if let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(body) {
            record["body"] = parsed;
        }
    }
    record
}

fn matches_object(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(key, sub)| {
            let child = value.and_then(|v| v.get(key));
            match sub {
                Value::Object(_) => matches_object(sub, child),
                Value::Array(rules) => rules.iter().any(|rule| matches_rule(rule, child)),
                _ => false,
            }
        }),
        _ => false,
    }
}

fn matches_rule(rule: &Value, value: Option<&Value>) -> bool {
    if let Some(Value::Array(items)) = value {
        if rule.get("exists").is_none() {
            return items.iter().any(|item| matches_rule(rule, Some(item)));
        }
    }
    match rule {
        Value::Object(operator) => {
            let Some((name, argument)) = operator.iter().next() else { return false };
            match name.as_str() {
                "exists" => argument.as_bool() == Some(value.is_some()),
                "prefix" => string_of(value).zip(argument.as_str()).is_some_and(|(v, p)| v.starts_with(p)),
                "suffix" => string_of(value).zip(argument.as_str()).is_some_and(|(v, s)| v.ends_with(s)),
                "equals-ignore-case" => {
                    string_of(value).zip(argument.as_str()).is_some_and(|(v, e)| v.eq_ignore_ascii_case(e))
                }
                "anything-but" => value.is_some() && !anything_but_excludes(argument, value),
                "numeric" => value.and_then(Value::as_f64).is_some_and(|number| numeric_matches(argument, number)),
                _ => false,
            }
        }
        exact => value.is_some_and(|v| v == exact),
    }
}

fn string_of(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

fn anything_but_excludes(argument: &Value, value: Option<&Value>) -> bool {
    match argument {
        Value::Array(excluded) => excluded.iter().any(|item| Some(item) == value),
        Value::Object(_) => matches_rule(argument, value),
        scalar => Some(scalar) == value,
    }
}

fn numeric_matches(argument: &Value, number: f64) -> bool {
    let Some(terms) = argument.as_array() else { return false };
    terms.chunks(2).all(|pair| match (pair.first().and_then(Value::as_str), pair.get(1).and_then(Value::as_f64)) {
        (Some("="), Some(bound)) => number == bound,
        (Some(">"), Some(bound)) => number > bound,
        (Some(">="), Some(bound)) => number >= bound,
        (Some("<"), Some(bound)) => number < bound,
        (Some("<="), Some(bound)) => number <= bound,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(body: &str) -> Value {
        json!({ "body": body, "attributes": { "ApproximateReceiveCount": "1" }, "messageAttributes": {} })
    }

    #[test]
    fn matches_json_bodies_with_every_rule_kind() {
        let message = record(r#"{"kind": "order", "amount": 42, "tags": ["a", "b"], "city": "Lisbon"}"#);
        let keep = |pattern: Value| matches_filters(&[pattern], &message);
        assert!(keep(json!({ "body": { "kind": ["order"] } })));
        assert!(!keep(json!({ "body": { "kind": ["refund"] } })));
        assert!(keep(json!({ "body": { "amount": [{ "numeric": [">", 10, "<=", 42] }] } })));
        assert!(!keep(json!({ "body": { "amount": [{ "numeric": ["<", 10] }] } })));
        assert!(keep(json!({ "body": { "city": [{ "prefix": "Lis" }] } })));
        assert!(keep(json!({ "body": { "city": [{ "anything-but": ["Porto"] }] } })));
        assert!(!keep(json!({ "body": { "city": [{ "anything-but": "Lisbon" }] } })));
        assert!(keep(json!({ "body": { "tags": ["b"] } })), "arrays match when any element does");
        assert!(keep(json!({ "body": { "missing": [{ "exists": false }] } })));
        assert!(!keep(json!({ "body": { "kind": [{ "exists": false }] } })));
        assert!(keep(json!({ "attributes": { "ApproximateReceiveCount": ["1"] } })));
    }

    #[test]
    fn no_filters_keep_everything_and_any_filter_may_match() {
        assert!(matches_filters(&[], &record("plain text")));
        let patterns = [json!({ "body": { "kind": ["x"] } }), json!({ "body": [{ "prefix": "plain" }] })];
        assert!(matches_filters(&patterns, &record("plain text")));
        assert!(validate_pattern("[1]").is_err());
        assert!(validate_pattern(r#"{"body": {"a": [1]}}"#).is_ok());
    }
}
