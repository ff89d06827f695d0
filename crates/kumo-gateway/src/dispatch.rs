//! How a request reaches its service. Three middlewares around the authentication one:
//! 1. [`assign_request_id`] (outermost): the request's one id, in its extensions, in a
//!    task-local for renderers, and on every answer's `x-amzn-RequestId`;
//! 2. [`route_request`]: the registry routes the request from its head (host, `X-Amz-Target` /
//!    `smithy-protocol`, signing service, else path routes) and checks its declared
//!    `Content-Length` against the operation's limit before anything is buffered (413);
//! 3. authentication (`auth.rs`) verifies the signature;
//! 4. [`to_service`]: a request routed to a registered service is read (within the limit),
//!    decoded, called and rendered by the registry; path routes (Lambda's restJson1, `/_kumo`)
//!    go on to the router. An operation that streams its body gets it unread, as a
//!    [`kumo_protocol::BodyStream`] that authentication made verify itself as it arrives.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use kumo_core::AwsError;
use kumo_protocol::{Registry, RequestId, Route, StreamingBody};

use crate::Services;

/// What the routing middlewares share.
#[derive(Clone)]
pub struct Gateway {
    /// Every service.
    pub services: Services,
    /// The registry built from them.
    pub registry: Arc<Registry>,
}

/// What a request asks for, read from its headers only (the authentication middleware picks
/// its error protocol with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON: `X-Amz-Target: <Prefix>.<Operation>`.
    Json {
        /// Service prefix, e.g. `AmazonSQS`.
        prefix: String,
        /// Operation, e.g. `SendMessage`.
        operation: String,
    },
    /// Query or other protocols, identified by the SigV4 scope's service (`sqs`, `iam`, …).
    Scoped {
        /// Service name from the credential scope.
        service: String,
    },
    /// Nothing identifies the service.
    Unknown,
}

/// Classifies a request by its headers.
pub fn classify(parts: &http::request::Parts) -> Protocol {
    let target = parts.headers.get("x-amz-target").and_then(|value| value.to_str().ok());
    if let Some((prefix, operation)) = target.and_then(|target| target.split_once('.')) {
        return Protocol::Json { prefix: prefix.to_string(), operation: operation.to_string() };
    }
    match kumo_protocol::credential_scope(parts) {
        Some(scope) if !scope.service.is_empty() => Protocol::Scoped { service: scope.service },
        _ => Protocol::Unknown,
    }
}

/// Middleware: gives the request its one id and stamps it on the answer.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = RequestId::new();
    request.extensions_mut().insert(id.clone());
    let mut response = kumo_protocol::request_id::scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().entry(kumo_protocol::request_id::HEADER).or_insert(value);
    }
    response
}

/// Middleware: routes the request and refuses a declared body larger than its operation takes.
pub async fn route_request(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let route = gateway.registry.route(&parts);
    if let Some(limit) = gateway.registry.body_limit(&route) {
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            let protocol = match &route {
                Route::Service { protocol, .. } => *protocol,
                _ => kumo_protocol::Protocol::RestJson1,
            };
            let error = kumo_protocol::registry::too_large(limit, protocol);
            let request_id = crate::context::request_id(&parts);
            return gateway.registry.render_error(&route, &error, &request_id).map(Body::from);
        }
    }
    request = Request::from_parts(parts, body);
    if let Some(streaming) = gateway.registry.streaming_body(&route) {
        request.extensions_mut().insert(streaming);
    }
    request.extensions_mut().insert(route);
    next.run(request).await
}

/// Middleware (after authentication): serves requests routed to a registered service.
pub async fn to_service(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<Route>().cloned().unwrap_or(Route::Paths);
    match route {
        Route::Paths => next.run(request).await,
        Route::Unknown { name } => {
            tracing::debug!(name, method = %request.method(), uri = %request.uri(), "no service");
            crate::ApiError(crate::error::no_route(request.method(), request.uri())).into_response()
        }
        Route::Service { index, protocol, operation: Some(operation) }
            if request.extensions().get::<StreamingBody>().is_some() =>
        {
            // Authentication wrapped the body so that it verifies itself as it streams.
            let (parts, body) = request.into_parts();
            let limit = parts.extensions.get::<StreamingBody>().map_or(0, |streaming| streaming.limit);
            let context = crate::context::request_context(&gateway.services, &parts);
            let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
            let body = limited.map_err(move |error| crate::payload::stream_error(&*error, limit, protocol));
            let stream = kumo_protocol::BodyStream::new(body);
            gateway.registry.handle_stream(index, protocol, operation, &parts, stream, context).await.map(Body::from)
        }
        Route::Service { index, protocol, operation } => {
            let (parts, body) = request.into_parts();
            let limit = gateway.registry.body_limit(&Route::Service { index, protocol, operation: operation.clone() });
            let limit = limit.unwrap_or(usize::MAX);
            let context = crate::context::request_context(&gateway.services, &parts);
            let bytes = match Limited::new(body, limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(failure) => {
                    let error = if failure.is::<LengthLimitError>() {
                        kumo_protocol::registry::too_large(limit, protocol)
                    } else {
                        tracing::debug!(error = %failure, "reading a request body failed");
                        AwsError::new("IncompleteBody", 400, "The request body could not be read")
                    };
                    let route = Route::Service { index, protocol, operation };
                    return gateway.registry.render_error(&route, &error, &context.request_id).map(Body::from);
                }
            };
            gateway.registry.handle(index, protocol, operation, &parts, bytes, context).await.map(Body::from)
        }
    }
}

/// The router's fallback: a path no route serves.
pub async fn unrouted(request: Request) -> Response {
    crate::error::unknown_operation(request.method().clone(), request.uri().clone()).await.into_response()
}
