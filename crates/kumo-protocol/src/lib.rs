//! Kumo's AWS wire protocols and service registry: one codec per protocol, one error renderer
//! per protocol, the [`AwsService`] trait every service implements and the [`Registry`] that
//! routes requests to them. HTTP bodies and headers stop here: services take typed requests and
//! return typed answers or [`kumo_core::AwsError`]s.
//!
//! | protocol | decode | answers | errors |
//! | --- | --- | --- | --- |
//! | awsQuery (IAM, STS, SQS legacy) | [`query`]: form pairs → tree → serde | XML ([`query::xml`]) | `<ErrorResponse>` |
//! | AWS JSON 1.0/1.1 (SQS) | [`json`] | JSON | `__type` (+ SQS's `x-amzn-query-error`) |
//! | restJson1 (Lambda) | [`rest_json::decode`]: labels, query, headers, body | [`rest_json::encode`] | [`rest_json`]: `x-amzn-ErrorType` |
//! | RPC v2 CBOR | [`cbor`] | CBOR | `__type` in CBOR |
//! | restXml (S3) | s3s, behind [`rest_xml::RestXmlService`] | s3s (XML, streamed objects) | [`rest_xml::error_response`]: `<Error>` |
//!
//! Every decoder has hard limits and returns a [`DecodeError`] (which the service turns into its
//! AWS error) instead of recursing without bound or panicking: awsQuery ([`query::QueryLimits`]:
//! parameters, key depth, key length, list indices), JSON (size, depth 128), CBOR (size, depth
//! 64). Every answer, success or error, carries the request's one id ([`request_id`]).
//!
//! Property tests (`tests/decoders.rs`) feed each decoder generated input (arbitrary bytes,
//! arbitrary keys, values and depths) and check that it never panics and stays within its limits.
//! They run in the normal `cargo test` with proptest's default 256 cases per property; run them
//! longer with `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=200000 cargo test --release -p kumo-protocol --test decoders`.

pub mod cbor;
pub mod error;
pub mod event_stream;
pub mod json;
pub mod metrics;
pub mod query;
pub mod registry;
pub mod request_id;
pub mod rest;
pub mod rest_json;
pub mod rest_xml;
pub mod service;
pub mod signature;
pub mod stream;
pub mod testing;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

pub use error::DecodeError;
pub use registry::{credential_scope, CredentialScope, OperationCounter, PathService, Registry, Route};
pub use request_id::RequestId;
pub use rest::{RestIndex, RestMatch, RestOperation, RestTable};
pub use service::{
    AwsService, BoxFuture, Call, Encoded, HostPattern, Input, NoResult, Operation, OperationTable, Protocol,
    RestAnswer, ServiceContext, ServiceDescriptor, ServiceHealth, StreamedAnswer,
};
pub use signature::{Signature, SignedHead};
pub use stream::{BodyStream, StreamingBody};

/// An answer with a body, its `Content-Type` and the request's id in `x-amzn-RequestId`; a CBOR
/// answer also names its protocol in `smithy-protocol`, as RPC v2 CBOR requires of every response.
pub fn response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    request_id: &str,
) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(request_id::HEADER, value);
    }
    if content_type == cbor::CONTENT_TYPE {
        headers.insert("smithy-protocol", HeaderValue::from_static(cbor::SMITHY_PROTOCOL));
    }
    response
}
