//! IAM's and STS's error codes with the statuses and messages AWS uses. Every operation returns
//! [`AwsError`]; these constructors keep the wording in one place.

use kumo_core::AwsError;

/// 404 `NoSuchEntity`.
pub fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::new("NoSuchEntity", 404, message)
}

/// The `NoSuchEntity` of a missing role.
pub fn no_such_role(name: &str) -> AwsError {
    no_such_entity(format!("The role with name {name} cannot be found."))
}

/// 409 `EntityAlreadyExists`.
pub fn entity_already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new("EntityAlreadyExists", 409, message)
}

/// 409 `DeleteConflict`.
pub fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new("DeleteConflict", 409, message)
}

/// 400 `MalformedPolicyDocument`.
pub fn malformed_policy(message: impl Into<String>) -> AwsError {
    AwsError::new("MalformedPolicyDocument", 400, message)
}

/// 409 `LimitExceeded` (IAM quotas).
pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new("LimitExceeded", 409, message)
}

/// 400 `ValidationError`: a parameter breaks its constraint.
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", 400, message)
}

/// 400 `InvalidInput`.
pub fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidInput", 400, message)
}

/// 403 `AccessDenied`.
pub fn access_denied(message: impl Into<String>) -> AwsError {
    AwsError::new("AccessDenied", 403, message)
}

/// The `ValidationError` of a parameter that does not match its pattern.
pub fn pattern(field: &str, value: &str, pattern: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: {pattern}"
    ))
}

/// The `ValidationError` of a value too long for its parameter.
pub fn too_long(field: &str, value: &str, max: usize) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must have length less than or equal to {max}"
    ))
}

/// The `ValidationError` of a number outside its range.
pub fn out_of_range(field: &str, value: i64, min: i64, max: i64) -> AwsError {
    let bound =
        if value < min { format!("greater than or equal to {min}") } else { format!("less than or equal to {max}") };
    validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value {bound}"
    ))
}

/// The `ValidationError` of a missing required parameter.
pub fn missing(field: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

/// Logs an internal failure and answers IAM's `ServiceFailure` without the detail.
pub fn internal(error: impl std::fmt::Display) -> AwsError {
    tracing::error!(%error, "iam service failure");
    AwsError::new("ServiceFailure", 500, "An internal error occurred")
}
