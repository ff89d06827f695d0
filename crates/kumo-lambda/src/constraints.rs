//! Lambda's model constraints, checked before anything is looked up, as AWS does: every top-level
//! input member's length, pattern, enum, range and presence, from the botocore model
//! ([`crate::constraints_table`], generated), all violations of a request reported together in one
//! `ValidationException` ("2 validation errors detected: …; …") in the model's member order.
//!
//! The protocol layer hands each member's value over ([`MemberValue`]); this module never sees
//! HTTP.

use std::collections::HashMap;
use std::sync::LazyLock;

use kumo_core::AwsError;

pub use crate::constraints_table::OPERATIONS;

/// Where a member travels in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path label (`{FunctionName}`).
    Label(&'static str),
    /// A query parameter.
    Query(&'static str),
    /// A header (not checked here: Lambda words its header errors itself).
    Header(&'static str),
    /// A top-level member of the JSON body.
    Body,
}

/// A `pattern` constraint: the model's text (quoted in messages) and an equivalent the regex
/// engine runs (the same text but where the model uses look-around).
#[derive(Debug)]
pub struct Pattern {
    /// The pattern as the model (and AWS's message) writes it.
    pub text: &'static str,
    /// What is matched, anchored at both ends.
    pub matcher: &'static str,
}

/// A member's shape and its constraints.
#[derive(Debug)]
pub enum Kind {
    /// A string: length bounds, pattern, enum values.
    String { min: Option<i64>, max: Option<i64>, pattern: Option<Pattern>, values: Option<&'static [&'static str]> },
    /// An integer: value bounds.
    Integer { min: Option<i64>, max: Option<i64> },
    /// A list: length bounds, and the enum its strings belong to.
    List { min: Option<i64>, max: Option<i64>, values: Option<&'static [&'static str]> },
    /// A map: entry-count bounds.
    Map { min: Option<i64>, max: Option<i64> },
    /// A structure, blob or boolean: only presence is checked.
    Other,
}

/// One member of an operation's input.
#[derive(Debug)]
pub struct MemberRule {
    /// The model's member name (`FunctionName`).
    pub name: &'static str,
    /// Where the request carries it.
    pub location: Location,
    /// Whether the model requires it.
    pub required: bool,
    /// Its constraints.
    pub kind: Kind,
}

/// An operation's constrained members.
#[derive(Debug)]
pub struct OperationRules {
    /// The operation's name in the model.
    pub operation: &'static str,
    /// Its members, in the model's order.
    pub members: &'static [MemberRule],
}

/// A member's value as a request carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberValue {
    /// A string (a label, a query value, a JSON string).
    String(String),
    /// An integer.
    Integer(i64),
    /// A list of strings (other items as `None`, rendered `null`).
    List(Vec<Option<String>>),
    /// A map with this many entries.
    Map(usize),
    /// Anything else that is present (an object, a boolean, a number out of range).
    Other,
}

/// The rules of `operation`, if the model has it.
pub fn rules(operation: &str) -> Option<&'static OperationRules> {
    OPERATIONS.binary_search_by(|rules| rules.operation.cmp(operation)).ok().map(|index| &OPERATIONS[index])
}

/// `pattern` with `\\d` as ASCII digits, as AWS's (Java's) matcher reads it; the regex crate's
/// `\\d` is any Unicode digit. The model's patterns use `\\d` only outside brackets.
fn ascii_digits(pattern: &str) -> String {
    pattern.replace("\\d", "[0-9]")
}

/// Compiled matchers by pattern, built once.
static MATCHERS: LazyLock<HashMap<&'static str, regex::Regex>> = LazyLock::new(|| {
    let mut matchers = HashMap::new();
    // The table's patterns are compiled by a unit test; one that failed would match nothing.
    let nothing = regex::Regex::new("[^\\s\\S]").expect("a literal pattern compiles");
    for member in OPERATIONS.iter().flat_map(|rules| rules.members) {
        if let Kind::String { pattern: Some(pattern), .. } = &member.kind {
            matchers.entry(pattern.matcher).or_insert_with(|| {
                regex::Regex::new(&format!("^(?:{})$", ascii_digits(pattern.matcher)))
                    .unwrap_or_else(|_| nothing.clone())
            });
        }
    }
    matchers
});

/// Whether `value` matches `pattern` whole.
pub fn matches(pattern: &Pattern, value: &str) -> bool {
    MATCHERS.get(pattern.matcher).is_some_and(|regex| regex.is_match(value))
}

/// `FunctionName` → `functionName`, as AWS names members in its messages.
pub fn wire_name(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The violations of `member` with `value` (absent: `None`), each as AWS words it.
pub fn violations(member: &MemberRule, value: Option<&MemberValue>) -> Vec<String> {
    let field = wire_name(member.name);
    let Some(value) = value else {
        return if member.required {
            vec![format!("Value null at '{field}' failed to satisfy constraint: Member must not be null")]
        } else {
            Vec::new()
        };
    };
    let mut found = Vec::new();
    let mut fail = |shown: &str, constraint: String| {
        found.push(format!("Value '{shown}' at '{field}' failed to satisfy constraint: {constraint}"));
    };
    match (&member.kind, value) {
        (Kind::String { min, max, pattern, values }, MemberValue::String(text)) => {
            let length = text.chars().count() as i64;
            if let Some(max) = max.filter(|max| length > *max) {
                fail(text, format!("Member must have length less than or equal to {max}"));
            }
            if let Some(min) = min.filter(|min| length < *min) {
                fail(text, format!("Member must have length greater than or equal to {min}"));
            }
            if let Some(pattern) = pattern.as_ref().filter(|pattern| !matches(pattern, text)) {
                fail(text, format!("Member must satisfy regular expression pattern: {}", pattern.text));
            }
            if let Some(values) = values.filter(|values| !values.contains(&text.as_str())) {
                fail(text, format!("Member must satisfy enum value set: [{}]", values.join(", ")));
            }
        }
        (Kind::Integer { min, max }, MemberValue::Integer(number)) => {
            let shown = number.to_string();
            if let Some(max) = max.filter(|max| number > max) {
                fail(&shown, format!("Member must have value less than or equal to {max}"));
            }
            if let Some(min) = min.filter(|min| number < min) {
                fail(&shown, format!("Member must have value greater than or equal to {min}"));
            }
        }
        (Kind::List { min, max, values }, MemberValue::List(items)) => {
            let shown = list_text(items);
            let length = items.len() as i64;
            if let Some(max) = max.filter(|max| length > *max) {
                fail(&shown, format!("Member must have length less than or equal to {max}"));
            }
            if let Some(min) = min.filter(|min| length < *min) {
                fail(&shown, format!("Member must have length greater than or equal to {min}"));
            }
            let outside =
                |item: &Option<String>| item.as_deref().is_none_or(|item| !values.unwrap_or_default().contains(&item));
            if values.is_some() && items.iter().any(outside) {
                let values = values.unwrap_or_default().join(", ");
                fail(
                    &shown,
                    format!("Member must satisfy constraint: [Member must satisfy enum value set: [{values}], Member must not be null]"),
                );
            }
        }
        (Kind::Map { min, max }, MemberValue::Map(length)) => {
            let length = *length as i64;
            if let Some(max) = max.filter(|max| length > *max) {
                fail("{…}", format!("Member must have length less than or equal to {max}"));
            }
            if let Some(min) = min.filter(|min| length < *min) {
                fail("{…}", format!("Member must have length greater than or equal to {min}"));
            }
        }
        // A value of another type is the decoder's to refuse, with its own words.
        _ => {}
    }
    found
}

/// A list as AWS shows it in messages: `[x86_64, arm64]`.
pub fn list_text(items: &[Option<String>]) -> String {
    let shown: Vec<&str> = items.iter().map(|item| item.as_deref().unwrap_or("null")).collect();
    format!("[{}]", shown.join(", "))
}

/// AWS's error for `violations` (at least one): "N validation error(s) detected: …; …".
pub fn validation_exception(violations: &[String]) -> AwsError {
    let count = violations.len();
    let noun = if count == 1 { "error" } else { "errors" };
    AwsError::new("ValidationException", 400, format!("{count} validation {noun} detected: {}", violations.join("; ")))
}

/// Checks `operation`'s input against the model: `value_of` gives each member's value as the
/// request carries it. An operation the model lacks passes.
pub fn check(operation: &str, mut value_of: impl FnMut(&MemberRule) -> Option<MemberValue>) -> Result<(), AwsError> {
    let Some(rules) = rules(operation) else {
        return Ok(());
    };
    let mut found = Vec::new();
    for member in rules.members.iter().filter(|member| !matches!(member.location, Location::Header(_))) {
        found.extend(violations(member, value_of(member).as_ref()));
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(validation_exception(&found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_function(name: &str, qualifier: Option<&str>) -> Result<(), AwsError> {
        check("GetFunction", |member| match member.name {
            "FunctionName" => Some(MemberValue::String(name.to_string())),
            "Qualifier" => qualifier.map(|q| MemberValue::String(q.to_string())),
            _ => None,
        })
    }

    const NAMESPACED: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";

    #[test]
    fn the_table_is_sorted_and_every_pattern_compiles() {
        assert!(OPERATIONS.windows(2).all(|pair| pair[0].operation < pair[1].operation));
        assert_eq!(OPERATIONS.len(), 91, "botocore's Lambda model has 91 operations");
        for member in OPERATIONS.iter().flat_map(|rules| rules.members) {
            if let Kind::String { pattern: Some(pattern), .. } = &member.kind {
                regex::Regex::new(&format!("^(?:{})$", pattern.matcher)).unwrap();
            }
        }
    }

    #[test]
    fn names_and_arns_follow_the_models_pattern() {
        for valid in [
            "my-function",
            "my.function",
            "my-function:$LATEST",
            "my-function:$LATEST.PUBLISHED",
            "my-function:prod",
            "123456789012:function:my-function",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function:7",
            "arn:aws:lambda:us-east-1:123456789012:function",
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
            "arn:aws:lambda:eusc-de-east-1:123456789012:function:f",
            &"a".repeat(65),
        ] {
            assert!(get_function(valid, None).is_ok(), "{valid}");
        }
        for invalid in [
            "my-function!",
            "*",
            "invalid-account:function:my-function",
            "arn:aws:lambda:invalid-region:123456789012:function:my-function",
            "arn:aws:ec2:us-east-1:123456789012:instance:i-1234567890abcdef0",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function:1:2",
            "function:my-function:$LATEST:extra",
            "arn:aws:lambda::123456789012:function:my-function",
            "arn:aws:lambda:us-east-1::function:my-function",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATES",
        ] {
            let error = get_function(invalid, None).unwrap_err();
            assert_eq!(error.code, "ValidationException");
            assert_eq!(
                error.message,
                format!("1 validation error detected: Value '{invalid}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {NAMESPACED}")
            );
        }
    }

    #[test]
    fn every_violation_is_reported_together_in_member_order() {
        let long = "a".repeat(129);
        let name = "arn:aws:lambda:invalid-region:123456789012:function:f";
        let error = get_function(name, Some(&long)).unwrap_err();
        assert_eq!(
            error.message,
            format!(
                "2 validation errors detected: Value '{name}' at 'functionName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: {NAMESPACED}; Value '{long}' at 'qualifier' failed \
                 to satisfy constraint: Member must have length less than or equal to 128"
            )
        );
        let error = get_function("f", Some("invalid!")).unwrap_err();
        assert_eq!(error.message, "1 validation error detected: Value 'invalid!' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+");
        assert!(get_function("f", Some("$latest")).is_ok(), "the pattern allows it; the lookup refuses it");
    }

    #[test]
    fn create_function_takes_the_shorter_pattern_and_length() {
        let name = format!("my-function:{}", "a".repeat(129));
        let error = check("CreateFunction", |member| match member.name {
            "FunctionName" => Some(MemberValue::String(name.clone())),
            "Role" => Some(MemberValue::String("arn:aws:iam::123456789012:role/r".into())),
            "Code" => Some(MemberValue::Other),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(
            error.message,
            format!("1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140")
        );
    }

    #[test]
    fn lookaround_patterns_have_equivalents() {
        let alias = |name: &str| {
            check("GetAlias", |member| match member.name {
                "FunctionName" => Some(MemberValue::String("f".into())),
                "Name" => Some(MemberValue::String(name.into())),
                _ => None,
            })
        };
        assert!(alias("live").is_ok());
        assert!(alias("2024x").is_ok());
        assert_eq!(
            alias("2024").unwrap_err().message,
            "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        );
    }

    #[test]
    fn integers_enums_lists_and_presence() {
        let error = check("PutProvisionedConcurrencyConfig", |member| match member.name {
            "FunctionName" => Some(MemberValue::String("f".into())),
            "Qualifier" => Some(MemberValue::String("1".into())),
            "ProvisionedConcurrentExecutions" => Some(MemberValue::Integer(0)),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(error.message, "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1");
        let error = check("ListFunctions", |member| match member.name {
            "FunctionVersion" => Some(MemberValue::String("invalid".into())),
            "MaxItems" => Some(MemberValue::Integer(0)),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(error.message, "2 validation errors detected: Value 'invalid' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]; Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1");
        let error = check("UntagResource", |member| match member.name {
            "Resource" => Some(MemberValue::String("arn:aws:lambda:us-east-1:123456789012:function:f".into())),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(
            error.message,
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"
        );
        let architectures = |items: &[&str]| {
            let items = items.iter().map(|item| Some(item.to_string())).collect();
            violations(
                rules("CreateFunction").unwrap().members.iter().find(|m| m.name == "Architectures").unwrap(),
                Some(&MemberValue::List(items)),
            )
        };
        assert_eq!(
            architectures(&["x86_64", "arm64"]),
            ["Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"]
        );
        assert_eq!(
            architectures(&["X86_64"]),
            ["Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"]
        );
    }
}
