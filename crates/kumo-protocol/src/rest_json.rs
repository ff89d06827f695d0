//! restJson1 (Lambda, API Gateway): errors with the code in `x-amzn-ErrorType` (which botocore
//! reads), the status, and a JSON body with `Type` (`User`/`Service`) and the message (plus
//! `Reason` where AWS sends one, as on throttles), its member named as the error's shape in the
//! model names it: `Message` for the errors in [`CAPITALIZED_MESSAGE`], `message` for the others;
//! and the codec of an operation's input and output bindings (path labels, query, headers, status
//! code, body): [`bindings`].

pub mod bindings;

pub use bindings::{decode, encode, encode_bound, Bindings, Location, Member, Payload, RestInput, RestLimits, Shape};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use kumo_core::{AwsError, ErrorKind};

/// The errors whose shape in Lambda's botocore model names its message member `Message` (the
/// others name it `message`). botocore reads the error's message from either, but fills a modeled
/// error's own fields (`error.response["Message"]`) only from the member's exact name. Sorted.
pub const CAPITALIZED_MESSAGE: &[&str] = &[
    "CallbackTimeoutException",
    "CodeSigningConfigNotFoundException",
    "CodeVerificationFailedException",
    "DurableExecutionAlreadyStartedException",
    "EC2AccessDeniedException",
    "EC2ThrottledException",
    "EC2UnexpectedException",
    "EFSIOException",
    "EFSMountConnectivityException",
    "EFSMountFailureException",
    "EFSMountTimeoutException",
    "ENILimitReachedException",
    "ENINotReadyException",
    "InvalidCodeSignatureException",
    "InvalidRuntimeException",
    "InvalidSecurityGroupIDException",
    "InvalidSubnetIDException",
    "InvalidZipFileException",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "NoPublishedVersionException",
    "PublicPolicyException",
    "RecursiveInvocationException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "S3FilesMountConnectivityException",
    "S3FilesMountFailureException",
    "S3FilesMountTimeoutException",
    "ServiceException",
    "ServiceQuotaExceededException",
    "SnapStartException",
    "SnapStartNotReadyException",
    "SnapStartRegenerationFailureException",
    "SnapStartTimeoutException",
    "SubnetIPAddressLimitReachedException",
];

/// The answer to a restJson1 request that failed with `error`.
pub fn error_response(error: &AwsError, request_id: &str) -> http::Response<Bytes> {
    let mut body = serde_json::json!({
        "Type": match error.kind { ErrorKind::User => "User", ErrorKind::Service => "Service" },
    });
    let message_member = if CAPITALIZED_MESSAGE.binary_search(&error.code).is_ok() { "Message" } else { "message" };
    body[message_member] = serde_json::Value::String(error.message.clone());
    if let Some(reason) = &error.reason {
        body["Reason"] = serde_json::Value::String(reason.clone());
    }
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = crate::response(status, "application/json", body.to_string().into_bytes(), request_id);
    let headers = response.headers_mut();
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error.code));
    if status == StatusCode::TOO_MANY_REQUESTS {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_code_status_type_and_the_request_id() {
        let response = error_response(
            &AwsError::too_many_requests("slow down", "ReservedFunctionConcurrentInvocationLimitExceeded"),
            "req-9",
        );
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["x-amzn-errortype"], "TooManyRequestsException");
        assert_eq!(response.headers()["x-amzn-requestid"], "req-9");
        assert_eq!(response.headers()["retry-after"], "1");
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["Type"], "User");
        assert_eq!(body["Reason"], "ReservedFunctionConcurrentInvocationLimitExceeded");
        assert_eq!(body["message"], "slow down");
    }

    #[test]
    fn the_message_member_is_named_as_the_errors_shape_names_it() {
        assert!(CAPITALIZED_MESSAGE.windows(2).all(|pair| pair[0] < pair[1]), "CAPITALIZED_MESSAGE is not sorted");
        let not_found = error_response(&AwsError::new("ResourceNotFoundException", 404, "Function not found"), "r");
        let body: serde_json::Value = serde_json::from_slice(not_found.body()).unwrap();
        assert_eq!(body, serde_json::json!({"Type": "User", "Message": "Function not found"}));
        let invalid = error_response(&AwsError::new("InvalidParameterValueException", 400, "bad"), "r");
        let body: serde_json::Value = serde_json::from_slice(invalid.body()).unwrap();
        assert_eq!(body, serde_json::json!({"Type": "User", "message": "bad"}));
    }
}
