//! Rendering of AWS errors for restJson1 services: `x-amzn-ErrorType`, status and a JSON body
//! with `Type` and `message` (botocore reads the code from the header).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use kumo_core::{AwsError, ErrorKind};

/// An AWS error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub AwsError);

impl From<AwsError> for ApiError {
    fn from(error: AwsError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let mut body = serde_json::json!({
            "Type": match error.kind { ErrorKind::User => "User", ErrorKind::Service => "Service" },
            "message": error.message,
        });
        if let Some(reason) = &error.reason {
            body["Reason"] = serde_json::Value::String(reason.clone());
        }
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-amzn-errortype", HeaderValue::from_static(error.code));
        headers.insert("x-amzn-requestid", request_id_header());
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A fresh `x-amzn-RequestId` value.
pub fn request_id_header() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("0"))
}

/// The answer for a path and method no service handles.
pub async fn unknown_operation(method: http::Method, uri: http::Uri) -> ApiError {
    tracing::debug!(%method, %uri, "no route");
    ApiError(AwsError::new(
        "UnknownOperationException",
        404,
        format!("Kumo does not implement {method} {}", uri.path()),
    ))
}
