//! The one AWS error type: an error code, its HTTP status and a message a client can show.

use std::fmt;

/// Whether AWS blames the caller (`User`) or itself (`Service`); sent as the body's `Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was wrong.
    User,
    /// Kumo failed.
    Service,
}

/// An error as AWS renders it: `x-amzn-ErrorType: <code>`, an HTTP status and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The AWS error code, e.g. `ResourceNotFoundException`.
    pub code: &'static str,
    /// HTTP status code AWS uses for this error.
    pub status: u16,
    /// Human-readable message; never contains internals.
    pub message: String,
    /// `User` or `Service`.
    pub kind: ErrorKind,
    /// Extra top-level body fields some errors carry (e.g. `Reason` on throttles).
    pub reason: Option<String>,
}

impl AwsError {
    /// An error with an explicit code and status.
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        let kind = if status >= 500 { ErrorKind::Service } else { ErrorKind::User };
        Self { code, status, message: message.into(), kind, reason: None }
    }

    /// 400 InvalidParameterValueException.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValueException", 400, message)
    }

    /// 404 ResourceNotFoundException.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", 404, message)
    }

    /// 409 ResourceConflictException.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new("ResourceConflictException", 409, message)
    }

    /// 400 InvalidRequestContentException.
    pub fn invalid_request_content(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestContentException", 400, message)
    }

    /// 413 RequestTooLargeException.
    pub fn request_too_large(message: impl Into<String>) -> Self {
        Self::new("RequestTooLargeException", 413, message)
    }

    /// 412 PreconditionFailedException (RevisionId mismatch).
    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::new("PreconditionFailedException", 412, message)
    }

    /// 429 TooManyRequestsException with AWS's `Reason`.
    pub fn too_many_requests(message: impl Into<String>, reason: &str) -> Self {
        let mut error = Self::new("TooManyRequestsException", 429, message);
        error.reason = Some(reason.to_string());
        error
    }

    /// 500 ServiceException; callers log the internal detail, the client gets a generic message.
    pub fn service() -> Self {
        Self::new("ServiceException", 500, "An internal error occurred")
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}
