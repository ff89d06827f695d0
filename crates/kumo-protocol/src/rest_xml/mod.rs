//! restXml (S3) through `s3s`: a service that speaks restXml implements s3s' [`s3s::S3`] trait
//! (one async method per operation, typed inputs and outputs generated from S3's model) and
//! registers a [`RestXmlService`] made of it. s3s resolves the operation from the method,
//! path, query and headers, parses its input (XML bodies included) and serialises its answer;
//! Kumo keeps what s3s would otherwise do differently:
//! - **authentication**: the gateway verified the request (SigV4 header or presigned URL,
//!   `aws-chunked` bodies chunk by chunk) before it got here; s3s has no auth provider and is
//!   shown the request without its signature and with its body decoded ([`head::plain_head`]).
//!   The caller reaches the [`s3s::S3`] implementation as the request's [`RequestContext`]
//!   (account, region, principal, request id) in the [`s3s::S3Request`]'s extensions
//!   ([`context`]);
//! - **limits**: an object upload (`PutObject`, `UploadPart`) streams its body, up to the
//!   service's upload limit (S3's 5 GiB), never buffered; any other request's body is read
//!   within the descriptor's `default_body_limit` before s3s sees it;
//! - **metrics**: s3s names the operation it resolved to an access hook ([`RecordOperation`]),
//!   through which the registry counts the request in the operation's row (the service declares
//!   the operations it implements, the rows);
//! - **errors**: every failure, s3s' or the service's or the gateway's, is answered by
//!   [`error::error_response`]'s `<Error>` document with the request's own id, which also goes
//!   in `x-amz-request-id` on every answer.

pub mod error;
pub mod head;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::request::Parts;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use kumo_core::{AwsError, RequestContext};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::{S3Service, S3ServiceBuilder};

pub use error::{body_error, error_document, error_response, to_s3_error, CONTENT_TYPE, REQUEST_ID_HEADER};

use crate::service::{AwsService, BoxFuture, Call, Encoded, Input, Protocol, ServiceDescriptor};

/// The body of an answer a service writes whole (an object's content streams through it).
pub type ResponseBody = UnsyncBoxBody<Bytes, s3s::StdError>;

/// S3's largest single upload (`PutObject`, `UploadPart`): 5 GiB.
pub const MAX_UPLOAD: usize = 5 * 1024 * 1024 * 1024;

/// A restXml service: an [`s3s::S3`] implementation behind s3s' codec, registered like any
/// service (`registry.register(Arc::new(RestXmlService::new(&DESCRIPTOR, MyS3)))`).
pub struct RestXmlService {
    descriptor: &'static ServiceDescriptor,
    operations: &'static [&'static str],
    s3: S3Service,
    upload_limit: usize,
}

impl RestXmlService {
    /// `s3` behind s3s, declared by `descriptor` (whose `default_body_limit` bounds every body
    /// but an upload's), implementing `operations` (S3's names: each has its metrics row),
    /// taking uploads of up to [`MAX_UPLOAD`].
    pub fn new(descriptor: &'static ServiceDescriptor, operations: &'static [&'static str], s3: impl s3s::S3) -> Self {
        Self::with_upload_limit(descriptor, operations, s3, MAX_UPLOAD)
    }

    /// As [`Self::new`], with uploads of up to `upload_limit` bytes.
    pub fn with_upload_limit(
        descriptor: &'static ServiceDescriptor,
        operations: &'static [&'static str],
        s3: impl s3s::S3,
        upload_limit: usize,
    ) -> Self {
        let mut builder = S3ServiceBuilder::new(s3);
        builder.set_host(head::VirtualHostedBuckets);
        // s3s runs its access hook only with an auth provider; it never asks this one for a key,
        // since the requests it sees carry no signature (see `head::plain_head`).
        builder.set_auth(GatewayAuthenticated);
        builder.set_access(RecordOperation { operations });
        // s3s reads an XML body within its own limit too; Kumo's (the descriptor's) comes first.
        let mut config = S3Config::default();
        config.xml_max_body_size = descriptor.default_body_limit;
        builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(config))));
        Self { descriptor, operations, s3: builder.build(), upload_limit }
    }

    /// Hands one request to s3s and renders its answer (errors by [`error::error_response`]).
    async fn serve(&self, call: Call<'_>) -> Result<http::Response<ResponseBody>, AwsError> {
        let request_id = call.context.request_id.clone();
        let body = match call.input {
            Input::Stream(stream) => s3s::Body::http_body_unsync(stream.into_body()),
            Input::Xml(bytes) => s3s::Body::from(bytes),
            Input::Json(_) | Input::Query(_) | Input::Cbor(_) => {
                return Err(AwsError::new("InternalError", 500, "We encountered an internal error. Please try again."));
            }
        };
        let mut head = head::plain_head(call.parts);
        head.extensions.insert(call.context);
        let resolved = ResolvedOperation::default();
        head.extensions.insert(resolved.clone());
        let response = self.s3.call(http::Request::from_parts(head, body)).await.map_err(|failure| {
            tracing::error!(error = ?failure, "s3s failed a request");
            AwsError::new("InternalError", 500, "We encountered an internal error. Please try again.")
        })?;
        let mut response = finish(response, &request_id);
        if let Some(operation) = resolved.0.get() {
            response.extensions_mut().insert(Operation(operation));
        }
        Ok(response)
    }
}

/// The operation s3s resolved for a request (one of the service's), in its answer's extensions
/// for the registry's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation(pub &'static str);

/// Where [`RecordOperation`] writes the operation s3s resolved (in the request's extensions).
#[derive(Debug, Clone, Default)]
struct ResolvedOperation(Arc<OnceLock<&'static str>>);

/// s3s' access hook, run once it has resolved the operation: records it, and allows the request
/// (authorization is not s3s' business here).
struct RecordOperation {
    operations: &'static [&'static str],
}

#[async_trait::async_trait]
impl S3Access for RecordOperation {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> s3s::S3Result<()> {
        let name = cx.s3_op().name();
        let declared = self.operations.iter().find(|operation| **operation == name).copied();
        if let (Some(declared), Some(resolved)) = (declared, cx.extensions_mut().get::<ResolvedOperation>()) {
            // Set once per request: a second set cannot happen, and would change nothing.
            let _ = resolved.0.set(declared);
        }
        Ok(())
    }
}

/// s3s' auth provider: the gateway authenticates every request before s3s sees it, so s3s is
/// never to check a signature; the one it could meet is a browser-form POST's own, which Kumo
/// does not take.
struct GatewayAuthenticated;

#[async_trait::async_trait]
impl S3Auth for GatewayAuthenticated {
    async fn get_secret_key(&self, _access_key: &str) -> s3s::S3Result<SecretKey> {
        Err(s3s::s3_error!(NotImplemented, "POST uploads signed in their form are not supported"))
    }
}

/// The [`RequestContext`] of a request an [`s3s::S3`] implementation serves (the gateway's,
/// put in its extensions by [`RestXmlService`]).
pub fn context<T>(request: &s3s::S3Request<T>) -> s3s::S3Result<&RequestContext> {
    request.extensions.get::<RequestContext>().ok_or_else(|| s3s::s3_error!(InternalError, "no request context"))
}

/// s3s' answer with the request's id: an error document rendered again by Kumo's renderer.
fn finish(response: http::Response<s3s::Body>, request_id: &str) -> http::Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    if parts.status.is_client_error() || parts.status.is_server_error() {
        // s3s' error documents are whole bytes, never a stream.
        if let Some(bytes) = body.bytes() {
            if let Some(mut rendered) = error::rerender(parts.status, &bytes, request_id) {
                // An error's own `x-amz-*` headers (a delete marker's, S3's) are part of its answer.
                for (name, value) in &parts.headers {
                    if name.as_str().starts_with("x-amz-") && !rendered.headers().contains_key(name) {
                        rendered.headers_mut().insert(name.clone(), value.clone());
                    }
                }
                return rendered.map(full);
            }
        }
    }
    error::stamp_request_id(&mut parts.headers, request_id);
    http::Response::from_parts(parts, UnsyncBoxBody::new(body))
}

/// A whole body as a [`ResponseBody`].
pub fn full(bytes: Bytes) -> ResponseBody {
    UnsyncBoxBody::new(http_body_util::Full::new(bytes).map_err(|never| match never {}))
}

impl AwsService for RestXmlService {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        self.descriptor
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        self.streams_body(operation).then_some(self.upload_limit)
    }

    fn streams_body(&self, operation: &str) -> bool {
        matches!(operation, "PutObject" | "UploadPart")
    }

    fn head_operation(&self, parts: &Parts) -> Option<&'static str> {
        head::upload_operation(parts)
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        // Every restXml request is served whole by `call_http`.
        let error = (call.descriptor.unknown_operation)(Some(call.operation));
        Box::pin(std::future::ready(Err(error)))
    }

    fn call_http<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<http::Response<ResponseBody>, AwsError>> {
        Box::pin(self.serve(call))
    }

    fn too_large(&self, operation: Option<&str>, limit: usize, protocol: Protocol) -> AwsError {
        if operation.is_some_and(|operation| self.streams_body(operation)) {
            return crate::registry::too_large(limit, protocol);
        }
        AwsError::new("MaxMessageLengthExceeded", 400, "Your request was too big.")
    }

    fn operation_names(&self) -> Vec<&'static str> {
        self.operations.to_vec()
    }
}
