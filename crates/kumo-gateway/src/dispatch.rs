//! How a request reaches its service: one middleware, [`gateway`], takes every request through
//! four steps in turn (one layer instead of four, so a request pays for one boxed future and one
//! clone of the inner service, not four):
//! 1. its one id, in its extensions, in a task-local for renderers, and on every answer's
//!    `x-amzn-RequestId`;
//! 2. [`route_request`]: the registry routes the request from its head (host, `X-Amz-Target` /
//!    `smithy-protocol`, signing service, else path routes) and checks its declared
//!    `Content-Length` against the operation's limit before anything is buffered (413);
//! 3. authentication (`auth.rs`) verifies the signature;
//! 4. [`to_service`]: a request routed to a registered service is read (within the limit),
//!    decoded, called and rendered by the registry; path routes (Lambda's restJson1, `/_kumo`)
//!    go on to the router. An operation that streams its body gets it unread, as a
//!    [`kumo_protocol::BodyStream`] that authentication made verify itself as it arrives. A
//!    restXml request (S3) goes whole to its service's codec (s3s), whose answer may stream; so
//!    does a restJson1 operation's whose output is an event stream (InvokeWithResponseStream).

use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use kumo_core::AwsError;
use kumo_protocol::{Registry, RequestId, Route, SignedHead, StreamingBody};

use crate::limits::MAX_REQUEST_BODY;
use crate::Services;

/// What the routing middlewares share (behind one `Arc`).
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
    match SignedHead::of(parts).service() {
        Some(service) if !service.is_empty() => Protocol::Scoped { service: service.to_string() },
        _ => Protocol::Unknown,
    }
}

/// The gateway's one middleware: gives the request its one id (stamped on the answer), routes
/// it, authenticates it and serves it (see the module doc).
pub async fn gateway(State(gateway): State<Arc<Gateway>>, mut request: Request, next: Next) -> Response {
    let id = RequestId::new();
    request.extensions_mut().insert(id.clone());
    let mut response = kumo_protocol::request_id::scope(id.clone(), serve(&gateway, request, next)).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().entry(kumo_protocol::request_id::HEADER).or_insert(value);
    }
    response
}

/// Routing, authentication, then the service: each step either hands the request on or answers.
async fn serve(gateway: &Gateway, request: Request, next: Next) -> Response {
    let request = match route_request(gateway, request) {
        Continue(request) => request,
        Break(refusal) => return refusal,
    };
    let request = match crate::auth::authenticate(gateway, request).await {
        Continue(request) => request,
        Break(refusal) => return refusal,
    };
    to_service(gateway, request, next).await
}

/// Routes the request (its [`Route`] and parsed signature into its extensions), or refuses a
/// declared body larger than its operation takes.
fn route_request(gateway: &Gateway, request: Request) -> ControlFlow<Response, Request> {
    let (mut parts, body) = request.into_parts();
    // Parsed once: routing by signing name, authentication and the request context read it.
    parts.extensions.insert(Arc::new(SignedHead::parse(&parts)));
    let route = gateway.registry.route(&parts);
    if let Some(error) = declared_too_large(&gateway.registry, &route, &parts) {
        let request_id = crate::context::request_id(&parts);
        return Break(gateway.registry.render_error(&route, &error, &request_id).map(Body::from));
    }
    let mut request = Request::from_parts(parts, body);
    if let Some(streaming) = gateway.registry.streaming_body(&route) {
        request.extensions_mut().insert(streaming);
    }
    request.extensions_mut().insert(route);
    Continue(request)
}

/// The error for a request whose declared `Content-Length` is over its operation's limit: a
/// registered service's (in its protocol), or a path-routed operation's (matched by method
/// and path in its service's `RestTable`, Lambda's error).
fn declared_too_large(registry: &Registry, route: &Route, parts: &http::request::Parts) -> Option<AwsError> {
    let length = |name| {
        let value = parts.headers.get(name)?.to_str().ok()?;
        value.trim().parse::<u64>().ok()
    };
    // A streamed aws-chunked body's Content-Length counts its chunk framing too; the operation's
    // limit is on its data, which the client declares in `x-amz-decoded-content-length`.
    let decoded = registry.streaming_body(route).and_then(|_| length("x-amz-decoded-content-length"));
    let declared = decoded.or_else(|| length(http::header::CONTENT_LENGTH.as_str()))?;
    match route {
        Route::Service { protocol, .. } => {
            let limit = registry.body_limit(route)?;
            // Over the global cap, a path-routed operation is refused by authentication (below).
            let capped = *protocol == kumo_protocol::Protocol::RestJson1 && declared > MAX_REQUEST_BODY as u64;
            (declared > limit as u64 && !capped).then(|| registry.too_large(route, limit))
        }
        Route::Paths => {
            let (table, matched) = registry.rest_operation(parts)?;
            // Over the global cap, authentication refuses it with the cap's message, as any path.
            let over = declared > matched.operation.body_limit as u64 && declared <= MAX_REQUEST_BODY as u64;
            over.then(|| (table.too_large)(matched.operation))
        }
        Route::Unknown { .. } => None,
    }
}

/// After authentication: serves a request routed to a registered service, or hands it to the
/// path routes.
async fn to_service(gateway: &Gateway, request: Request, next: Next) -> Response {
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
            if protocol == kumo_protocol::Protocol::RestXml {
                let input = kumo_protocol::Input::Stream(stream);
                let response = gateway.registry.handle_http(index, Some(operation), &parts, input, context).await;
                return response.map(Body::new);
            }
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
                    let route = Route::Service { index, protocol, operation };
                    let error = if failure.is::<LengthLimitError>() {
                        gateway.registry.too_large(&route, limit)
                    } else {
                        tracing::debug!(error = %failure, "reading a request body failed");
                        AwsError::new("IncompleteBody", 400, "The request body could not be read")
                    };
                    return gateway.registry.render_error(&route, &error, &context.request_id).map(Body::from);
                }
            };
            if protocol == kumo_protocol::Protocol::RestXml {
                let input = kumo_protocol::Input::Xml(bytes);
                return gateway.registry.handle_http(index, operation, &parts, input, context).await.map(Body::new);
            }
            match operation {
                Some(operation) if gateway.registry.streams_response(index, protocol, &operation) => {
                    let response = gateway.registry.handle_streamed(index, operation, &parts, bytes, context).await;
                    response.map(Body::new)
                }
                operation => {
                    gateway.registry.handle(index, protocol, operation, &parts, bytes, context).await.map(Body::from)
                }
            }
        }
    }
}

/// The router's fallback: a path no route serves.
pub async fn unrouted(request: Request) -> Response {
    crate::error::unknown_operation(request.method().clone(), request.uri().clone()).await.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lambda_registry() -> Registry {
        let mut registry = Registry::new();
        let lambda = kumo_protocol::PathService {
            name: "lambda",
            signing_name: "lambda",
            health: Box::new(|| kumo_protocol::ServiceHealth::Running),
        };
        registry.register_rest_service(lambda, &crate::LAMBDA_OPERATIONS);
        registry
    }

    fn parts(method: &str, path: &str, length: u64) -> http::request::Parts {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00")
            .header("content-length", length.to_string())
            .body(())
            .unwrap();
        request.into_parts().0
    }

    fn refusal(method: &str, path: &str, length: u64) -> Option<AwsError> {
        let registry = lambda_registry();
        let parts = parts(method, path, length);
        let route = registry.route(&parts);
        assert_eq!(route, Route::Paths);
        declared_too_large(&registry, &route, &parts)
    }

    #[test]
    fn a_lambda_route_knows_its_operation_limit_before_the_body() {
        let invoke = "/2015-03-31/functions/my-function/invocations";
        let error = refusal("POST", invoke, 7 * 1024 * 1024).expect("7 MB is over Invoke's limit");
        assert_eq!((error.code, error.status), ("RequestEntityTooLargeException", 413));
        assert_eq!(error.message, "Request must be smaller than 6291456 bytes for the InvokeFunction operation");
        // At the limit the body is read, and the service checks the exact payload size.
        assert!(refusal("POST", invoke, kumo_core::limits::SYNC_PAYLOAD_MAX_BYTES as u64 + 1).is_none());
        // The same size to a control-plane operation is within its limit.
        assert!(refusal("PUT", "/2015-03-31/functions/f/configuration", 7 * 1024 * 1024).is_none());
        // Over the global cap, authentication answers with the cap's message.
        assert!(refusal("POST", invoke, 80 * 1024 * 1024).is_none());
        // A path no operation has is left to the router (404), whatever it declares.
        assert!(refusal("POST", "/2015-03-31/functions/f/invocations/extra", 7 * 1024 * 1024).is_none());
    }

    #[test]
    fn a_streamed_chunked_body_is_held_to_its_limit_by_its_decoded_length() {
        let mut registry = Registry::new();
        registry.register(Arc::new(crate::test_service::StreamingTestApi::default()));
        let limit: u64 = 5 * 1024 * 1024 * 1024;
        let refusal = |content_length: u64, decoded: Option<u64>| {
            let mut request = http::Request::builder()
                .method("POST")
                .uri("/")
                .header("x-amz-target", "KumoTest.Digest")
                .header("content-type", "application/x-amz-json-1.0")
                .header("content-length", content_length.to_string());
            if let Some(decoded) = decoded {
                request = request.header("x-amz-decoded-content-length", decoded.to_string());
            }
            let parts = request.body(()).unwrap().into_parts().0;
            let route = registry.route(&parts);
            assert!(registry.streaming_body(&route).is_some(), "Digest streams");
            declared_too_large(&registry, &route, &parts)
        };
        // 5 GiB of data in chunks: the framing takes Content-Length past the limit.
        assert!(refusal(limit + 90_000, Some(limit)).is_none());
        assert_eq!(refusal(limit + 90_000, Some(limit + 1)).map(|error| error.status), Some(413));
        // An unchunked body is held to its Content-Length.
        assert_eq!(refusal(limit + 1, None).map(|error| error.status), Some(413));
        assert!(refusal(limit, None).is_none());
    }

    #[test]
    fn every_lambda_template_and_its_trailing_slash_variant_routes_to_its_row() {
        let registry = lambda_registry();
        for row in crate::LAMBDA_OPERATIONS.operations {
            let path = row.path.replace('{', "x").replace('}', "");
            let request = http::Request::builder().method(row.method.clone()).uri(&path).body(()).unwrap();
            let parts = request.into_parts().0;
            let (_, matched) = registry.rest_operation(&parts).unwrap_or_else(|| panic!("{}", row.name));
            // GetLayerVersionByArn shares ListLayers' row; every other row is its own.
            assert_eq!(matched.operation.name, row.name, "{path}");
            let slashed = format!("{path}/");
            let request = http::Request::builder().method(row.method.clone()).uri(&slashed).body(()).unwrap();
            let found = registry.rest_operation(&request.into_parts().0).map(|(_, matched)| matched.operation.name);
            let expected = crate::LAMBDA_OPERATIONS.trailing_slash.contains(&row.path).then_some(row.name);
            assert_eq!(found, expected, "{slashed}");
        }
    }
}
