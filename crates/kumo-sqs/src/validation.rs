//! Input checks with AWS's errors: queue names, message bodies, message attributes, batch ids
//! and message sizes.

use std::collections::HashSet;

use kumo_core::AwsError;

use crate::error;
use crate::types::{MessageAttributeValue, MessageAttributes};

/// Largest number of user attributes on one message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// Largest batch, in entries.
pub const MAX_BATCH_ENTRIES: usize = 10;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Checks a queue name for a standard or FIFO queue.
pub fn queue_name(name: &str, fifo: bool) -> Result<(), AwsError> {
    if fifo {
        let valid = name.len() <= 80
            && name.strip_suffix(".fifo").is_some_and(|stem| !stem.is_empty() && stem.chars().all(is_name_char));
        if !valid {
            return Err(error::invalid_parameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
            ));
        }
        return Ok(());
    }
    if name.is_empty() || name.len() > 80 || !name.chars().all(is_name_char) {
        return Err(error::invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(())
}

/// Whether `c` may appear in a message body or string attribute (XML 1.0's character set).
fn is_allowed_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Checks that a body only has characters SQS accepts.
pub fn message_body(body: &str) -> Result<(), AwsError> {
    if let Some(bad) = body.chars().find(|c| !is_allowed_char(*c)) {
        return Err(error::invalid_message_contents(format!(
            "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            u32::from(bad)
        )));
    }
    Ok(())
}

fn attribute_name(name: &str) -> Result<(), AwsError> {
    let lower = name.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 256
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if !valid {
        return Err(error::invalid_parameter(format!(
            "Message (user) attribute name '{name}' is invalid. The attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters."
        )));
    }
    Ok(())
}

/// The base type (`String`, `Number` or `Binary`) of a data type with an optional custom suffix.
fn base_type(data_type: &str) -> Option<&'static str> {
    let base = data_type.split_once('.').map_or(data_type, |(base, _)| base);
    match base {
        "String" => Some("String"),
        "Number" => Some("Number"),
        "Binary" => Some("Binary"),
        _ => None,
    }
}

fn is_number(text: &str) -> bool {
    let trimmed = text.trim();
    !trimmed.is_empty() && trimmed.parse::<f64>().is_ok_and(f64::is_finite)
}

fn attribute_value(name: &str, value: &MessageAttributeValue) -> Result<(), AwsError> {
    if value.data_type.is_empty() {
        return Err(error::invalid_parameter(format!(
            "The message attribute '{name}' must contain non-empty message attribute type."
        )));
    }
    if value.data_type.len() > 256 {
        return Err(error::invalid_parameter(format!(
            "The message attribute '{name}' has a data type longer than 256 characters."
        )));
    }
    let Some(base) = base_type(&value.data_type) else {
        return Err(error::invalid_parameter(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    };
    match base {
        "Binary" => {
            if value.binary_value.as_ref().is_none_or(Vec::is_empty) {
                return Err(error::invalid_parameter(format!(
                    "Message (user) attribute '{name}' must contain a non-empty value of type 'Binary'."
                )));
            }
        }
        _ => {
            let Some(text) = value.string_value.as_deref().filter(|text| !text.is_empty()) else {
                return Err(error::invalid_parameter(format!(
                    "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
                )));
            };
            if base == "Number" && !is_number(text) {
                return Err(error::invalid_parameter(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
            if text.chars().any(|c| !is_allowed_char(c)) {
                return Err(error::invalid_parameter(format!(
                    "Message (user) attribute '{name}' contains invalid characters."
                )));
            }
        }
    }
    Ok(())
}

/// Checks user message attributes.
pub fn message_attributes(attributes: &MessageAttributes) -> Result<(), AwsError> {
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(error::invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    for (name, value) in attributes {
        attribute_name(name)?;
        attribute_value(name, value)?;
    }
    Ok(())
}

/// Checks message system attributes: only `AWSTraceHeader`, a string.
pub fn system_attributes(attributes: &MessageAttributes) -> Result<(), AwsError> {
    for (name, value) in attributes {
        if name != "AWSTraceHeader" {
            return Err(error::invalid_parameter(format!("Message system attribute name '{name}' is invalid.")));
        }
        if value.data_type != "String" || value.string_value.as_deref().is_none_or(str::is_empty) {
            return Err(error::invalid_parameter(
                "Message system attribute 'AWSTraceHeader' must contain a non-empty value of type 'String'.",
            ));
        }
    }
    Ok(())
}

/// Bytes a message counts against `MaximumMessageSize`: body plus attribute names, types and values.
pub fn message_size(body: &str, attributes: &MessageAttributes) -> usize {
    let attributes: usize = attributes
        .iter()
        .map(|(name, value)| {
            name.len()
                + value.data_type.len()
                + value.string_value.as_ref().map_or(0, String::len)
                + value.binary_value.as_ref().map_or(0, Vec::len)
        })
        .sum();
    body.len() + attributes
}

/// Checks a batch's entry count and ids: 1–10 entries with distinct `[A-Za-z0-9_-]{1,80}` ids.
pub fn batch_ids<'a>(ids: impl ExactSizeIterator<Item = &'a str>, entry_shape: &str) -> Result<(), AwsError> {
    let count = ids.len();
    if count == 0 {
        return Err(error::empty_batch(entry_shape));
    }
    if count > MAX_BATCH_ENTRIES {
        return Err(error::too_many_entries(count));
    }
    let mut seen = HashSet::new();
    for id in ids {
        if id.is_empty() || id.len() > 80 || !id.chars().all(is_name_char) {
            return Err(error::invalid_batch_entry_id());
        }
        if !seen.insert(id) {
            return Err(error::batch_ids_not_distinct(id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(queue_name("orders_1-a", false).is_ok());
        assert!(queue_name(&"a".repeat(80), false).is_ok());
        assert!(queue_name(&"a".repeat(81), false).is_err());
        assert!(queue_name("bad.name", false).is_err());
        assert!(queue_name("orders.fifo", false).is_err());
        assert!(queue_name("orders.fifo", true).is_ok());
        assert!(queue_name(".fifo", true).is_err());
        assert!(queue_name("orders", true).is_err());
    }

    #[test]
    fn attributes() {
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "n".into(),
            MessageAttributeValue {
                data_type: "Number.int".into(),
                string_value: Some("1.5e3".into()),
                binary_value: None,
            },
        );
        assert!(message_attributes(&attributes).is_ok());
        attributes.insert(
            "bad".into(),
            MessageAttributeValue { data_type: "Number".into(), string_value: Some("abc".into()), binary_value: None },
        );
        assert!(message_attributes(&attributes).is_err());
        let mut reserved = MessageAttributes::new();
        reserved.insert(
            "AWS.x".into(),
            MessageAttributeValue { data_type: "String".into(), string_value: Some("v".into()), binary_value: None },
        );
        assert!(message_attributes(&reserved).is_err());
    }

    #[test]
    fn batch_entry_ids() {
        assert!(batch_ids(["a", "b"].into_iter(), "X").is_ok());
        assert_eq!(batch_ids(["a", "a"].into_iter(), "X").unwrap_err().code, "BatchEntryIdsNotDistinct");
        assert_eq!(batch_ids([].into_iter(), "X").unwrap_err().code, "EmptyBatchRequest");
        assert_eq!(batch_ids(["a:b"].into_iter(), "X").unwrap_err().code, "InvalidBatchEntryId");
        let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        assert_eq!(batch_ids(many.iter().map(String::as_str), "X").unwrap_err().code, "TooManyEntriesInBatchRequest");
    }

    #[test]
    fn bodies() {
        assert!(message_body("hello\n\tworld é 😀").is_ok());
        assert_eq!(message_body("a\u{0}b").unwrap_err().code, "InvalidMessageContents");
    }
}
