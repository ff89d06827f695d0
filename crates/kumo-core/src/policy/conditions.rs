//! A statement's `Condition` block: every operator and every key in it must hold, and a key
//! holds when any of its listed values matches. Operators: `String*`, `Numeric*`, `Date*`,
//! `Bool`, `BinaryEquals`, `Arn*`, `Null`, each with `…IfExists` and the `ForAnyValue:` /
//! `ForAllValues:` set forms. `IpAddress` and keys Kumo cannot know are "unknown": the caller
//! decides whether unknown holds (never for an `Allow`, always for a `Deny`).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::matching::{arn_like, glob_matches};
use super::Request;

/// How a condition compares: the positive test and whether the operator negates it.
#[derive(Debug, Clone, Copy)]
struct Test {
    matches: fn(&str, &str) -> bool,
    negated: bool,
}

/// `ForAnyValue:` / `ForAllValues:` or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetForm {
    Single,
    Any,
    All,
}

/// Whether every condition of a statement holds.
pub(super) fn hold(condition: Option<&Value>, request: &Request<'_>, unknown_holds: bool) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let Some(operators) = condition.as_object() else {
        return unknown_holds;
    };
    operators.iter().all(|(operator, keys)| {
        let Some(keys) = keys.as_object() else {
            return unknown_holds;
        };
        keys.iter().all(|(key, expected)| key_holds(operator, key, expected, request).unwrap_or(unknown_holds))
    })
}

/// One key under one operator: `None` when Kumo cannot evaluate it.
fn key_holds(operator: &str, key: &str, expected: &Value, request: &Request<'_>) -> Option<bool> {
    let (set_form, operator) = if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        (SetForm::Any, rest)
    } else if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        (SetForm::All, rest)
    } else {
        (SetForm::Single, operator)
    };
    let (if_exists, base) = match operator.strip_suffix("IfExists") {
        Some(base) => (true, base),
        None => (false, operator),
    };
    let expected = expected_values(expected);
    let values = request.values(key).ok()?;
    if base == "Null" {
        let absent = values.is_none_or(<[String]>::is_empty);
        return Some(expected.iter().any(|value| value.eq_ignore_ascii_case(&absent.to_string())));
    }
    let test = test_for(base)?;
    let Some(values) = values.filter(|values| !values.is_empty()) else {
        // A key the request does not carry: `…IfExists`, `ForAllValues` (over an empty set) and
        // negated operators hold; positive tests fail.
        return Some(if_exists || set_form == SetForm::All || test.negated);
    };
    let value_holds = |value: &str| {
        let matched = expected.iter().any(|pattern| (test.matches)(pattern, value));
        matched != test.negated
    };
    Some(match set_form {
        SetForm::Single | SetForm::Any => values.iter().any(|value| value_holds(value)),
        SetForm::All => values.iter().all(|value| value_holds(value)),
    })
}

/// The listed values as strings (policies write numbers and booleans bare or quoted).
fn expected_values(expected: &Value) -> Vec<String> {
    let one = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match expected {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

fn test_for(operator: &str) -> Option<Test> {
    let positive = |matches: fn(&str, &str) -> bool| Some(Test { matches, negated: false });
    let negative = |matches: fn(&str, &str) -> bool| Some(Test { matches, negated: true });
    match operator {
        "StringEquals" => positive(|pattern, value| pattern == value),
        "StringNotEquals" => negative(|pattern, value| pattern == value),
        "StringEqualsIgnoreCase" => positive(|pattern, value| pattern.to_lowercase() == value.to_lowercase()),
        "StringNotEqualsIgnoreCase" => negative(|pattern, value| pattern.to_lowercase() == value.to_lowercase()),
        "StringLike" => positive(glob_matches),
        "StringNotLike" => negative(glob_matches),
        "NumericEquals" => positive(|pattern, value| numeric(pattern, value, |a, b| a == b)),
        "NumericNotEquals" => negative(|pattern, value| numeric(pattern, value, |a, b| a == b)),
        "NumericLessThan" => positive(|pattern, value| numeric(pattern, value, |a, b| a < b)),
        "NumericLessThanEquals" => positive(|pattern, value| numeric(pattern, value, |a, b| a <= b)),
        "NumericGreaterThan" => positive(|pattern, value| numeric(pattern, value, |a, b| a > b)),
        "NumericGreaterThanEquals" => positive(|pattern, value| numeric(pattern, value, |a, b| a >= b)),
        "DateEquals" => positive(|pattern, value| date(pattern, value, |a, b| a == b)),
        "DateNotEquals" => negative(|pattern, value| date(pattern, value, |a, b| a == b)),
        "DateLessThan" => positive(|pattern, value| date(pattern, value, |a, b| a < b)),
        "DateLessThanEquals" => positive(|pattern, value| date(pattern, value, |a, b| a <= b)),
        "DateGreaterThan" => positive(|pattern, value| date(pattern, value, |a, b| a > b)),
        "DateGreaterThanEquals" => positive(|pattern, value| date(pattern, value, |a, b| a >= b)),
        "Bool" => positive(|pattern, value| pattern.eq_ignore_ascii_case(value)),
        "BinaryEquals" => positive(|pattern, value| pattern == value),
        "ArnEquals" | "ArnLike" => positive(arn_like),
        "ArnNotEquals" | "ArnNotLike" => negative(arn_like),
        // IpAddress/NotIpAddress need aws:SourceIp, which Kumo does not set; anything else is
        // an operator Kumo does not know.
        _ => None,
    }
}

/// `request <op> policy` on numbers; a value that is not a number matches nothing.
fn numeric(pattern: &str, value: &str, compare: fn(f64, f64) -> bool) -> bool {
    match (value.trim().parse::<f64>(), pattern.trim().parse::<f64>()) {
        (Ok(value), Ok(pattern)) => compare(value, pattern),
        _ => false,
    }
}

/// `request <op> policy` on dates (ISO 8601 or epoch seconds).
fn date(pattern: &str, value: &str, compare: fn(i128, i128) -> bool) -> bool {
    match (epoch_millis(value), epoch_millis(pattern)) {
        (Some(value), Some(pattern)) => compare(value, pattern),
        _ => false,
    }
}

/// Milliseconds since the epoch of `2026-01-01T00:00:00Z`, `2026-01-01` or `1767225600`.
pub(super) fn epoch_millis(text: &str) -> Option<i128> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(i128::from(seconds) * 1000);
    }
    if let Ok(parsed) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(parsed.unix_timestamp_nanos() / 1_000_000);
    }
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, day).ok().map(|date| i128::from(date.midnight().assume_utc().unix_timestamp()) * 1000)
}
