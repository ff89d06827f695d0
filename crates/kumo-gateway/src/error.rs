//! AWS errors of the gateway's path routes (restJson1: Lambda, and `/_kumo`), rendered by
//! kumo-protocol's one restJson1 renderer with the request's own id.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use kumo_core::AwsError;

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
        let request_id = kumo_protocol::request_id::current();
        kumo_protocol::rest_json::error_response(&self.0, request_id.as_str()).map(Body::from)
    }
}

/// The answer for a path and method no service handles.
pub async fn unknown_operation(method: http::Method, uri: http::Uri) -> ApiError {
    tracing::debug!(%method, %uri, "no route");
    ApiError(no_route(&method, &uri))
}

/// The error of a request no service handles.
pub fn no_route(method: &http::Method, uri: &http::Uri) -> AwsError {
    AwsError::new("UnknownOperationException", 404, format!("Kumo does not implement {method} {}", uri.path()))
}
