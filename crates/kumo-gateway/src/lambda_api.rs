//! Lambda's restJson1 binding: paths, query strings and headers to typed requests and back.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use kumo_core::AwsError;
use serde::de::DeserializeOwned;

use crate::error::request_id_header;
use crate::{ApiError, Services};

use crate::lambda_operations::{LambdaRoutes, CONTROL_BODY_LIMIT};

pub(crate) type Params = Query<HashMap<String, String>>;

/// Lambda as the registry knows it: its restJson1 operations are [`routes`], served by the
/// gateway's router; the registry routes requests signed for `lambda` there and reports its
/// health.
pub fn lambda_path_service() -> kumo_protocol::PathService {
    kumo_protocol::PathService {
        name: "lambda",
        signing_name: "lambda",
        health: Box::new(|| kumo_protocol::ServiceHealth::Running),
    }
}

/// The Lambda routes.
pub fn routes(registry: &kumo_protocol::Registry) -> Router<Services> {
    LambdaRoutes::new(registry).router(operations()).layer(axum::extract::DefaultBodyLimit::disable())
}

/// Every Lambda operation and its handler.
pub(crate) fn operations() -> Vec<(&'static str, MethodRouter<Services>)> {
    // Functions, Invoke, account settings, versions, aliases, concurrency, policies, tags and
    // event-invoke configuration are served by the registry (`lambda_service.rs`).
    [crate::lambda_mappings_api::operations(), crate::lambda_layers_api::operations()].concat()
}

/// Reads a body of at most `limit` bytes.
async fn read_body(body: Body, limit: usize, operation: &str) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError(crate::lambda_operations::body_too_large(limit, operation)))
        }
        Err(_) => Err(ApiError(AwsError::invalid_request_content("Could not read the request body"))),
    }
}

/// Parses a JSON request body; an empty body is the default request.
pub(crate) async fn json_body<T: DeserializeOwned + Default>(body: Body, operation: &str) -> Result<T, ApiError> {
    let bytes = read_body(body, CONTROL_BODY_LIMIT, operation).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|error| {
        ApiError(AwsError::invalid_request_content(format!("Could not parse request body into json: {error}")))
    })
}

/// `204 No Content` with a request id.
pub(crate) fn no_content() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert("x-amzn-requestid", request_id_header());
    response
}

/// The `MaxItems` query parameter of list operations.
pub(crate) fn max_items(params: &std::collections::HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    match params.get("MaxItems") {
        None => Ok(None),
        Some(value) => value.parse::<i64>().map(Some).map_err(|_| {
            let error = kumo_protocol::DecodeError::InvalidValue {
                field: "MaxItems".to_string(),
                value: value.clone(),
                expected: "number",
            };
            ApiError(crate::lambda_operations::decode_error(&error))
        }),
    }
}

pub(crate) fn with_status<T: serde::Serialize>(status: StatusCode, value: T) -> Response {
    let mut response = (status, Json(value)).into_response();
    response.headers_mut().insert("x-amzn-requestid", request_id_header());
    response
}
