//! Streaming operations through the registry: routing marks them with their own limit, and
//! `handle_stream` hands the body to the operation unread, whose failure (a verification error
//! as the stream's last item) is rendered in the request's protocol.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::service::same_code;
use kumo_protocol::{
    AwsService, BodyStream, BoxFuture, Call, DecodeError, Encoded, Input, Operation, OperationTable, Protocol,
    Registry, Route, ServiceDescriptor, StreamingBody,
};

/// `Upload` streams (up to 1 TB), `Small` does not.
struct Sink;

const UPLOAD_LIMIT: usize = 1 << 40;

static OPERATIONS: OperationTable<Sink> = OperationTable(&[
    Operation {
        name: "Upload",
        body_limit: UPLOAD_LIMIT,
        handler: |_, mut call| {
            Box::pin(async move {
                let Input::Stream(mut body) = std::mem::replace(&mut call.input, Input::Json(Bytes::new())) else {
                    return Err(AwsError::new("InternalFailure", 500, "not a stream"));
                };
                let mut length = 0;
                while let Some(piece) = body.next().await {
                    length += piece?.len();
                }
                Ok(Encoded { content_type: "application/x-amz-json-1.0", body: format!("{length}").into_bytes() })
            })
        },
    },
    Operation {
        name: "Small",
        body_limit: 10,
        handler: |_, _| Box::pin(async { Ok(Encoded { content_type: "application/x-amz-json-1.0", body: vec![] }) }),
    },
]);

static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "sink",
    signing_name: "sink",
    json_target_prefix: Some("Sink"),
    cbor_service_name: None,
    hosts: &[],
    protocols: &[Protocol::AwsJson1_0],
    xml_namespace: "",
    json_error_prefix: "",
    aws_query_compatible: false,
    query_error_detail: false,
    default_body_limit: 10,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error: |_, error: &DecodeError| AwsError::new("ValidationException", 400, error.to_string()),
    unknown_operation: |_| AwsError::new("UnknownOperationException", 400, "unknown"),
};

impl AwsService for Sink {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn streams_body(&self, operation: &str) -> bool {
        operation == "Upload"
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        OPERATIONS.call(self, call)
    }
}

/// A body of the given pieces (an error ends it).
struct Pieces(VecDeque<Result<Bytes, AwsError>>);

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = AwsError;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, AwsError>>> {
        Poll::Ready(self.0.pop_front().map(|piece| piece.map(Frame::data)))
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(Arc::new(Sink));
    registry
}

fn head(operation: &str) -> http::request::Parts {
    let request = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", format!("Sink.{operation}"))
        .body(())
        .unwrap();
    request.into_parts().0
}

#[test]
fn routing_marks_streaming_operations_with_their_own_limit() {
    let registry = registry();
    let route = registry.route(&head("Upload"));
    assert_eq!(registry.streaming_body(&route), Some(StreamingBody { limit: UPLOAD_LIMIT as u64 }));
    assert_eq!(registry.body_limit(&route), Some(UPLOAD_LIMIT));
    assert_eq!(registry.streaming_body(&registry.route(&head("Small"))), None);
    assert_eq!(registry.streaming_body(&Route::Paths), None);
}

#[tokio::test]
async fn a_streamed_body_reaches_the_operation_and_its_failure_is_rendered() {
    let registry = registry();
    let parts = head("Upload");
    let pieces = [Ok(Bytes::from_static(b"abc")), Ok(Bytes::from_static(b"defg"))];
    let body = BodyStream::new(Pieces(pieces.into_iter().collect()));
    let context = RequestContext::new("000000000000", "us-east-1");
    let response =
        registry.handle_stream(0, Protocol::AwsJson1_0, "Upload".into(), &parts, body, context.clone()).await;
    assert_eq!((response.status().as_u16(), &response.body()[..]), (200, &b"7"[..]));

    let failing = [
        Ok(Bytes::from_static(b"abc")),
        Err(AwsError::new(
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )),
    ];
    let body = BodyStream::new(Pieces(failing.into_iter().collect()));
    let response = registry.handle_stream(0, Protocol::AwsJson1_0, "Upload".into(), &parts, body, context).await;
    assert_eq!(response.status().as_u16(), 400);
    let error: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(error["__type"], "XAmzContentSHA256Mismatch");
}
