//! S3's errors as S3 words them (code, status and message), for the operations to return.

use s3s::{s3_error, S3Error, S3ErrorCode};

/// `NoSuchBucket` (404).
pub fn no_such_bucket() -> S3Error {
    s3_error!(NoSuchBucket, "The specified bucket does not exist")
}

/// `NoSuchKey` (404).
pub fn no_such_key() -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// `NoSuchUpload` (404).
pub fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

/// `AccessDenied` (403).
pub fn access_denied() -> S3Error {
    s3_error!(AccessDenied, "Access Denied")
}

/// `PreconditionFailed` (412).
pub fn precondition_failed() -> S3Error {
    s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
}

/// `NotModified` (304).
pub fn not_modified() -> S3Error {
    S3Error::with_message(S3ErrorCode::NotModified, "Not Modified")
}

/// `InvalidArgument` (400) with `message`.
pub fn invalid_argument(message: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message.to_string())
}

/// `InvalidRequest` (400) with `message`.
pub fn invalid_request(message: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, message.to_string())
}

/// `MalformedXML` (400).
pub fn malformed_xml() -> S3Error {
    s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
}

/// `InternalError` (500); the cause goes to the log, never to the client.
pub fn internal(error: &dyn std::fmt::Display) -> S3Error {
    tracing::error!(%error, "s3 failed a request");
    s3_error!(InternalError, "We encountered an internal error. Please try again.")
}
