//! SNS's errors as AWS words them (codes and statuses from botocore's model).

use kumo_core::AwsError;

/// `InvalidParameter` (400): `Invalid parameter: <what>`.
pub fn invalid_parameter(what: impl std::fmt::Display) -> AwsError {
    AwsError::new("InvalidParameter", 400, format!("Invalid parameter: {what}"))
}

/// `ParameterValueInvalid` (400), for message attributes.
pub fn invalid_parameter_value(message: impl Into<String>) -> AwsError {
    AwsError::new("ParameterValueInvalid", 400, message)
}

/// `NotFound` (404).
pub fn not_found(message: &str) -> AwsError {
    AwsError::new("NotFound", 404, message)
}

/// The topic a request names does not exist.
pub fn topic_not_found() -> AwsError {
    not_found("Topic does not exist")
}

/// The subscription a request names does not exist.
pub fn subscription_not_found() -> AwsError {
    not_found("Subscription does not exist")
}

/// `ResourceNotFound` (404), the tagging operations' form.
pub fn resource_not_found() -> AwsError {
    AwsError::new("ResourceNotFound", 404, "Resource does not exist")
}

/// `AuthorizationError` (403).
pub fn authorization_error(denial: kumo_core::policy::Denial, caller_arn: &str, action: &str, arn: &str) -> AwsError {
    AwsError::new("AuthorizationError", 403, denial.message(caller_arn, action, arn))
}

/// `TagLimitExceeded` (400).
pub fn tag_limit_exceeded() -> AwsError {
    AwsError::new("TagLimitExceeded", 400, "Could not complete request: tag quota of per resource exceeded")
}

/// `FilterPolicyLimitExceeded` (403).
pub fn filter_policy_limit_exceeded() -> AwsError {
    AwsError::new("FilterPolicyLimitExceeded", 403, "Filter policy limit exceeded")
}

/// Logs an internal failure; the client sees a generic error.
pub fn internal(error: impl std::fmt::Display) -> AwsError {
    tracing::error!(%error, "sns service failure");
    AwsError::new("InternalError", 500, "Internal error")
}
