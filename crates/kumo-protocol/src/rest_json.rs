//! restJson1 (Lambda, API Gateway): errors with the code in `x-amzn-ErrorType` (which botocore
//! reads), the status, and a JSON body with `Type` (`User`/`Service`) and `message` (plus `Reason`
//! where AWS sends one, as on throttles); and the codec of an operation's input and output
//! bindings (path labels, query, headers, status code, body): [`bindings`].

pub mod bindings;

pub use bindings::{decode, encode, Bindings, Location, Member, Payload, RestInput, RestLimits, Shape};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use kumo_core::{AwsError, ErrorKind};

/// The answer to a restJson1 request that failed with `error`.
pub fn error_response(error: &AwsError, request_id: &str) -> http::Response<Bytes> {
    let mut body = serde_json::json!({
        "Type": match error.kind { ErrorKind::User => "User", ErrorKind::Service => "Service" },
        "message": error.message,
    });
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
    }
}
