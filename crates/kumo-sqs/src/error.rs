//! SQS's errors. Each carries the JSON shape name AWS sends as `__type` (the `code` of
//! [`AwsError`]); [`query_code`] gives the legacy query-protocol code that clients expose
//! (`x-amzn-query-error` on JSON answers, `<Code>` in XML answers).

use kumo_core::AwsError;

/// A queue the request names does not exist.
pub fn queue_does_not_exist() -> AwsError {
    AwsError::new("QueueDoesNotExist", 400, "The specified queue does not exist.")
}

/// An action not valid at the address it was sent to (awsQuery: `CreateQueue` at a queue's URL).
pub fn invalid_action(action: &str) -> AwsError {
    AwsError::new("InvalidAction", 400, format!("The action {action} is not valid for this endpoint."))
}

/// `error` as the awsQuery protocol words it: AWS's query endpoint says a queue "does not exist
/// for this wsdl version" where its JSON endpoint says it "does not exist".
pub fn in_query_words(mut error: AwsError) -> AwsError {
    if error.code == "QueueDoesNotExist" {
        error.message = "The specified queue does not exist for this wsdl version.".into();
    }
    error
}

/// A parameter value is not acceptable.
pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterValueException", 400, message)
}

/// `Value <value> for parameter <name> is invalid. Reason: <reason>`.
pub fn invalid_parameter_value(value: impl std::fmt::Display, name: &str, reason: &str) -> AwsError {
    invalid_parameter(format!("Value {value} for parameter {name} is invalid. Reason: {reason}"))
}

/// A required parameter is missing.
pub fn missing_parameter(name: &str) -> AwsError {
    AwsError::new("MissingRequiredParameterException", 400, format!("The request must contain the parameter {name}."))
}

/// An attribute name is not known (or may not be set).
pub fn invalid_attribute_name(name: &str) -> AwsError {
    AwsError::new("InvalidAttributeName", 400, format!("Unknown Attribute {name}."))
}

/// An attribute value is out of range or malformed.
pub fn invalid_attribute_value(name: &str) -> AwsError {
    AwsError::new("InvalidAttributeValue", 400, format!("Invalid value for the parameter {name}."))
}

/// A receipt handle that cannot be decoded.
pub fn receipt_handle_invalid(handle: &str) -> AwsError {
    AwsError::new(
        "ReceiptHandleIsInvalid",
        400,
        format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
    )
}

/// A batch with no entries.
pub fn empty_batch(entry_shape: &str) -> AwsError {
    AwsError::new("EmptyBatchRequest", 400, format!("There should be at least one {entry_shape} in the request."))
}

/// A batch with more than ten entries.
pub fn too_many_entries(count: usize) -> AwsError {
    AwsError::new(
        "TooManyEntriesInBatchRequest",
        400,
        format!("Maximum number of entries per request are 10. You have sent {count}."),
    )
}

/// Two batch entries share an id.
pub fn batch_ids_not_distinct(id: &str) -> AwsError {
    AwsError::new("BatchEntryIdsNotDistinct", 400, format!("Id {id} repeated."))
}

/// A batch entry id that is not `[A-Za-z0-9_-]{1,80}`.
pub fn invalid_batch_entry_id() -> AwsError {
    AwsError::new(
        "InvalidBatchEntryId",
        400,
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
    )
}

/// A batch whose messages add up to more than the limit.
pub fn batch_too_long(limit: usize, sent: usize) -> AwsError {
    AwsError::new(
        "BatchRequestTooLong",
        400,
        format!("Batch requests cannot be longer than {limit} bytes. You have sent {sent} bytes."),
    )
}

/// A body with characters SQS does not accept.
pub fn invalid_message_contents(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidMessageContents", 400, message)
}

/// A second PurgeQueue within 60 seconds.
pub fn purge_in_progress(queue: &str) -> AwsError {
    AwsError::new(
        "PurgeQueueInProgress",
        403,
        format!("Only one PurgeQueue operation on {queue} is allowed every 60 seconds."),
    )
}

/// A queue with this name exists with different attributes.
pub fn queue_name_exists(attribute: &str) -> AwsError {
    AwsError::new(
        "QueueNameExists",
        400,
        format!("A queue already exists with the same name and a different value for attribute {attribute}"),
    )
}

/// A move task or other resource that does not exist.
pub fn resource_not_found(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", 404, message)
}

/// An operation Kumo's SQS does not support.
pub fn unsupported_operation(message: impl Into<String>) -> AwsError {
    AwsError::new("UnsupportedOperation", 400, message)
}

/// Too many of something (tags, in-flight messages).
pub fn over_limit(message: impl Into<String>) -> AwsError {
    AwsError::new("OverLimit", 403, message)
}

/// The caller may not perform the action on the queue. SQS writes the action in lowercase;
/// the JSON shape is AWS's generic `AccessDeniedException`, the query code `AccessDenied`.
pub fn access_denied(denial: kumo_core::policy::Denial, caller_arn: &str, action: &str, queue_arn: &str) -> AwsError {
    AwsError::new("AccessDeniedException", 403, denial.message(caller_arn, &action.to_ascii_lowercase(), queue_arn))
}

/// Logs an internal failure; the client sees a generic error.
pub fn internal(error: impl std::fmt::Display) -> AwsError {
    tracing::error!(%error, "sqs service failure");
    AwsError::new("InternalError", 500, "We encountered an internal error. Please try again.")
}

/// The query-protocol code for a JSON error shape (what boto3 shows as `Error.Code`).
pub fn query_code(code: &str) -> &str {
    match code {
        "QueueDoesNotExist" => "AWS.SimpleQueueService.NonExistentQueue",
        "QueueNameExists" => "QueueAlreadyExists",
        "QueueDeletedRecently" => "AWS.SimpleQueueService.QueueDeletedRecently",
        "PurgeQueueInProgress" => "AWS.SimpleQueueService.PurgeQueueInProgress",
        "BatchEntryIdsNotDistinct" => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "BatchRequestTooLong" => "AWS.SimpleQueueService.BatchRequestTooLong",
        "EmptyBatchRequest" => "AWS.SimpleQueueService.EmptyBatchRequest",
        "InvalidBatchEntryId" => "AWS.SimpleQueueService.InvalidBatchEntryId",
        "TooManyEntriesInBatchRequest" => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "MessageNotInflight" => "AWS.SimpleQueueService.MessageNotInflight",
        "UnsupportedOperation" => "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidParameterValueException" => "InvalidParameterValue",
        "MissingRequiredParameterException" => "MissingParameter",
        "AccessDeniedException" => "AccessDenied",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_json_shapes_to_query_codes() {
        assert_eq!(query_code(queue_does_not_exist().code), "AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!(query_code(queue_name_exists("DelaySeconds").code), "QueueAlreadyExists");
        assert_eq!(query_code(invalid_parameter("x").code), "InvalidParameterValue");
        assert_eq!(query_code("ReceiptHandleIsInvalid"), "ReceiptHandleIsInvalid");
    }
}
