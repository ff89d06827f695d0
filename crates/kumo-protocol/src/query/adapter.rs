//! What the awsQuery services with XML-shaped results share (IAM and STS; SNS and CloudWatch's
//! query form next): their descriptor, AWS's validation errors for input that does not decode,
//! the answer to an unknown `Action`, and the input and result shapes of operations that take
//! or return nothing.

use kumo_core::AwsError;
use serde::{Deserialize, Serialize};

use crate::query::de::same_names;
use crate::query::QueryLimits;
use crate::service::{same_code, Protocol, ServiceDescriptor};
use crate::DecodeError;

/// The descriptor of an awsQuery service whose wire names are its members' names and whose
/// results are XML-shaped types: `name` is also its signing name; `unknown_operation` is usually
/// `|action| invalid_action(action, VERSION)`.
pub const fn xml_service(
    name: &'static str,
    xml_namespace: &'static str,
    body_limit: usize,
    unknown_operation: fn(Option<&str>) -> AwsError,
) -> ServiceDescriptor {
    ServiceDescriptor {
        name,
        signing_name: name,
        json_target_prefix: None,
        cbor_service_name: None,
        hosts: &[],
        protocols: &[Protocol::AwsQuery],
        xml_namespace,
        json_error_prefix: "",
        aws_query_compatible: false,
        query_error_detail: false,
        default_body_limit: body_limit,
        query_limits: QueryLimits::DEFAULT,
        query_rename: same_names,
        xml_shape: None,
        query_error_code: same_code,
        decode_error,
        unknown_operation,
    }
}

/// The answer to an `Action` the service does not have (`None`: no `Action` at all).
pub fn invalid_action(action: Option<&str>, version: &str) -> AwsError {
    let action = action.unwrap_or_default();
    AwsError::new("InvalidAction", 400, format!("Could not find operation {action} for version {version}"))
}

/// `RoleName` → `roleName`, as AWS names members in validation messages.
fn member_name(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// `ValidationError` (400), as the query services word their validation failures.
fn validation(message: String) -> AwsError {
    AwsError::new("ValidationError", 400, message)
}

/// The query services' errors for input they cannot decode: a missing or mistyped member is
/// AWS's `ValidationError` naming it; a breach of the decoder's limits `MalformedQueryString`.
pub fn decode_error(protocol: Protocol, error: &DecodeError) -> AwsError {
    match error {
        DecodeError::MissingField(name) => validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            member_name(name)
        )),
        DecodeError::InvalidValue { field, value, expected } => validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must be a {expected}",
            member_name(field)
        )),
        DecodeError::TooLarge { limit } => crate::registry::too_large(*limit, protocol),
        limit if limit.is_limit() => AwsError::new("MalformedQueryString", 400, limit.to_string()),
        other => validation(other.to_string()),
    }
}

/// The input of an operation that takes no parameters (STS GetCallerIdentity).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct NoInput {}

/// An empty result element (`<UpdateRoleResult/>`), for operations whose answer has one.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EmptyResult {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_name_the_member_as_aws_does() {
        let error = decode_error(Protocol::AwsQuery, &DecodeError::MissingField("PolicyArn"));
        assert_eq!(error.code, "ValidationError");
        assert!(error.message.contains("'policyArn'"), "{}", error.message);
        let invalid = DecodeError::InvalidValue { field: "MaxItems".into(), value: "x".into(), expected: "number" };
        assert_eq!(
            decode_error(Protocol::AwsQuery, &invalid).message,
            "1 validation error detected: Value 'x' at 'maxItems' failed to satisfy constraint: Member must be a number"
        );
        assert_eq!(
            invalid_action(Some("Nope"), "2011-06-15").message,
            "Could not find operation Nope for version 2011-06-15"
        );
    }
}
