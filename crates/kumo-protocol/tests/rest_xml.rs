//! restXml through the registry and s3s: routing by signing name and host (a bucket named like
//! Lambda's API version reaches S3), uploads named before their body so they stream, s3s handed
//! the verified request without its signature and with an aws-chunked body described as plain,
//! the caller's context reaching the `S3` implementation, and every failure rendered as S3's
//! `<Error>` with the request's own id.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use kumo_core::{AwsError, RequestContext};
use kumo_protocol::metrics::Outcome;
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::rest_xml::{self, RestXmlService};
use kumo_protocol::service::same_code;
use kumo_protocol::{BodyStream, HostPattern, Input, PathService, Protocol, Registry, Route, ServiceDescriptor};
use kumo_protocol::{ServiceHealth, StreamingBody};
use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, GetObjectInput, GetObjectOutput, PutObjectInput, PutObjectOutput,
};
use s3s::{s3_error, S3Request, S3Response, S3Result};

static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "s3-test",
    signing_name: "s3",
    json_target_prefix: None,
    cbor_service_name: None,
    hosts: &[HostPattern { label: "s3" }],
    protocols: &[Protocol::RestXml],
    xml_namespace: "",
    json_error_prefix: "",
    aws_query_compatible: false,
    query_error_detail: false,
    default_body_limit: 64 * 1024,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error: |_, error| AwsError::new("MalformedXML", 400, error.to_string()),
    unknown_operation: |_| AwsError::new("NotImplemented", 501, "not implemented"),
};

/// What the `S3` implementation saw of each call.
#[derive(Debug, Clone, Default, PartialEq)]
struct Seen {
    operation: &'static str,
    account: String,
    bucket: String,
    key: String,
    content_length: Option<i64>,
    content_encoding: Option<String>,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    fn last(&self) -> Seen {
        self.0.lock().unwrap().last().cloned().expect("a call")
    }
}

#[async_trait::async_trait]
impl s3s::S3 for Recorder {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let account = rest_xml::context(&req)?.account.clone();
        let seen = Seen { operation: "CreateBucket", account, bucket: req.input.bucket.clone(), ..Seen::default() };
        self.0.lock().unwrap().push(seen);
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", req.input.bucket)) }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let account = rest_xml::context(&req)?.account.clone();
        let input = req.input;
        let body = s3s::Body::from(input.body.expect("a body"));
        let body = body.collect().await.map_err(|error| rest_xml::body_error(&error))?.to_bytes();
        self.0.lock().unwrap().push(Seen {
            operation: "PutObject",
            account,
            bucket: input.bucket,
            key: input.key,
            content_length: input.content_length,
            content_encoding: input.content_encoding,
            body,
        });
        Ok(S3Response::new(PutObjectOutput::default()))
    }

    async fn get_object(&self, _req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        Err(s3_error!(NoSuchKey, "The specified key does not exist."))
    }
}

fn registry(recorder: &Recorder) -> Registry {
    let mut registry = Registry::new();
    let lambda = PathService { name: "lambda", signing_name: "lambda", health: Box::new(|| ServiceHealth::Running) };
    registry.register_path_service(lambda);
    let operations = &["CreateBucket", "PutObject", "GetObject"];
    registry.register(Arc::new(RestXmlService::new(&DESCRIPTOR, operations, recorder.clone())));
    registry
}

const S3_SIGNATURE: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
                            SignedHeaders=host;x-amz-date, Signature=00";

fn head(method: &str, host: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut request = http::Request::builder().method(method).uri(uri).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap().into_parts().0
}

fn context(request_id: &str) -> RequestContext {
    let mut context = RequestContext::new("111122223333", "us-east-1");
    context.request_id = request_id.to_string();
    context
}

async fn body_text(response: http::Response<rest_xml::ResponseBody>) -> String {
    let bytes = response.into_body().collect().await.expect("a body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("text")
}

#[test]
fn a_bucket_named_like_lambdas_api_version_routes_to_s3_by_its_signing_name() {
    let registry = registry(&Recorder::default());
    let create = head("PUT", "localhost:4566", "/2015-03-31", &[("authorization", S3_SIGNATURE)]);
    assert_eq!(registry.route(&create), Route::Service { index: 0, protocol: Protocol::RestXml, operation: None });
    let put = head("PUT", "localhost:4566", "/2015-03-31/functions/f", &[("authorization", S3_SIGNATURE)]);
    let route = registry.route(&put);
    assert_eq!(route, Route::Service { index: 0, protocol: Protocol::RestXml, operation: Some("PutObject".into()) });
    // An upload streams, up to 5 GiB; anything else is read whole within the document limit.
    assert_eq!(registry.streaming_body(&route), Some(StreamingBody { limit: rest_xml::MAX_UPLOAD as u64 }));
    assert_eq!(registry.body_limit(&registry.route(&create)), Some(64 * 1024));
    // Signed for Lambda, the same path is Lambda's.
    let lambda =
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00";
    assert_eq!(
        registry.route(&head("GET", "localhost", "/2015-03-31/functions", &[("authorization", lambda)])),
        Route::Paths
    );
    // The host names the bucket whatever the scope: S3's, before anything else.
    let virtual_hosted = head("PUT", "photos.s3.localhost:4566", "/2015-03-31/x", &[("authorization", lambda)]);
    let route = registry.route(&virtual_hosted);
    assert_eq!(route, Route::Service { index: 0, protocol: Protocol::RestXml, operation: Some("PutObject".into()) });
}

#[tokio::test]
async fn s3s_serves_the_verified_request_with_the_callers_context() {
    let recorder = Recorder::default();
    let registry = registry(&recorder);
    // The signature is the gateway's business: s3s (without an auth provider) would refuse it.
    let create = head("PUT", "localhost", "/2015-03-31", &[("authorization", S3_SIGNATURE)]);
    let response = registry.handle_http(0, None, &create, Input::Xml(Bytes::new()), context("req-1")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[rest_xml::REQUEST_ID_HEADER], "req-1");
    let seen = recorder.last();
    assert_eq!(
        (seen.operation, seen.account.as_str(), seen.bucket.as_str()),
        ("CreateBucket", "111122223333", "2015-03-31")
    );
    // A presigned URL's signature is taken out of the query the same way.
    let presigned = "/presigned?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00&X-Amz-Credential=test";
    let create = head("PUT", "localhost", presigned, &[]);
    let response = registry.handle_http(0, None, &create, Input::Xml(Bytes::new()), context("req-2")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(recorder.last().bucket, "presigned");
    // Both count in the operation s3s resolved; one it does not serve, in `unknown`.
    let delete = head("DELETE", "localhost", "/presigned", &[]);
    let response = registry.handle_http(0, None, &delete, Input::Xml(Bytes::new()), context("req-3")).await;
    assert_eq!(response.status(), 501);
    let metrics = registry.metrics(0).expect("the service's metrics");
    assert_eq!(metrics.operation("CreateBucket").count(Outcome::Success), 2);
    assert_eq!(metrics.unknown().count(Outcome::ServerError), 1);
}

#[tokio::test]
async fn a_decoded_aws_chunked_upload_reaches_the_service_as_a_plain_body() {
    let recorder = Recorder::default();
    let registry = registry(&recorder);
    let put = head(
        "PUT",
        "bucket.s3.localhost:4566",
        "/dir/object.bin",
        &[
            ("authorization", S3_SIGNATURE),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("content-encoding", "aws-chunked"),
            ("content-length", "61"),
            ("x-amz-decoded-content-length", "11"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ],
    );
    // The gateway's decoder hands on the data alone.
    let body = http_body_util::Full::new(Bytes::from_static(b"hello world")).map_err(|never| match never {});
    let input = Input::Stream(BodyStream::new(body));
    let response = registry.handle_http(0, Some("PutObject".into()), &put, input, context("req-3")).await;
    assert_eq!(response.status(), 200, "{}", body_text(response).await);
    let seen = recorder.last();
    assert_eq!((seen.bucket.as_str(), seen.key.as_str()), ("bucket", "dir/object.bin"));
    assert_eq!((seen.content_length, seen.content_encoding), (Some(11), None));
    assert_eq!(seen.body, Bytes::from_static(b"hello world"));
}

#[tokio::test]
async fn a_body_that_fails_verification_fails_the_upload_with_the_gateways_error() {
    let recorder = Recorder::default();
    let registry = registry(&recorder);
    let put = head("PUT", "localhost", "/bucket/key", &[("content-length", "4")]);
    let failure = AwsError::new(
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
    let body = http_body_util::StreamBody::new(futures_stream(failure));
    let response = registry
        .handle_http(0, Some("PutObject".into()), &put, Input::Stream(BodyStream::new(body)), context("req-4"))
        .await;
    assert_eq!(response.status(), 400);
    let text = body_text(response).await;
    assert!(text.contains("<Code>XAmzContentSHA256Mismatch</Code>"), "{text}");
    assert!(text.contains("<RequestId>req-4</RequestId>"), "{text}");
    assert!(recorder.0.lock().unwrap().is_empty(), "nothing stored");
}

/// A body that yields some data, then fails with `failure`.
fn futures_stream(
    failure: AwsError,
) -> impl futures_core::Stream<Item = Result<http_body::Frame<Bytes>, AwsError>> + Send + 'static {
    let items = vec![Ok(http_body::Frame::data(Bytes::from_static(b"da"))), Err(failure)];
    Iter(items.into_iter())
}

/// A stream over an iterator (no `futures` dependency for one helper).
struct Iter<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

#[tokio::test]
async fn every_failure_is_an_s3_error_document_with_the_request_id() {
    let registry = registry(&Recorder::default());
    // Raised by the service.
    let get = head("GET", "localhost", "/bucket/missing", &[]);
    let response = registry.handle_http(0, None, &get, Input::Xml(Bytes::new()), context("req-5")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()[http::header::CONTENT_TYPE], rest_xml::CONTENT_TYPE);
    let text = body_text(response).await;
    assert!(text.contains("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>req-5</RequestId></Error>"), "{text}");
    // Raised by s3s: a body that is not XML, one nested without end, an operation not implemented.
    for (body, code) in [
        (Bytes::from_static(b"<CreateBucketConfiguration><Location"), "MalformedXML"),
        (Bytes::from("<a>".repeat(20_000)), "MalformedXML"),
    ] {
        let create = head("PUT", "localhost", "/bucket", &[("content-length", &body.len().to_string())]);
        let response = registry.handle_http(0, None, &create, Input::Xml(body), context("req-6")).await;
        assert_eq!(response.status(), 400);
        let text = body_text(response).await;
        assert!(
            text.contains(&format!("<Code>{code}</Code>")) && text.contains("<RequestId>req-6</RequestId>"),
            "{text}"
        );
    }
    let delete = head("DELETE", "localhost", "/bucket", &[]);
    let response = registry.handle_http(0, None, &delete, Input::Xml(Bytes::new()), context("req-7")).await;
    assert_eq!(response.status(), 501);
    assert!(body_text(response).await.contains("<Code>NotImplemented</Code>"));
    // Raised before the service (authentication, limits): the route's renderer.
    let route = Route::Service { index: 0, protocol: Protocol::RestXml, operation: None };
    let error = AwsError::new("SignatureDoesNotMatch", 403, "The request signature we calculated does not match");
    let response = registry.render_error(&route, &error, "req-8");
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()[rest_xml::REQUEST_ID_HEADER], "req-8");
    let text = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(
        text.contains("<Code>SignatureDoesNotMatch</Code>") && text.contains("<RequestId>req-8</RequestId>"),
        "{text}"
    );
    let upload = Route::Service { index: 0, protocol: Protocol::RestXml, operation: Some("PutObject".into()) };
    let too_large = registry.too_large(&upload, rest_xml::MAX_UPLOAD);
    assert_eq!((too_large.code, too_large.status), ("EntityTooLarge", 400));
    assert_eq!(registry.too_large(&route, 64 * 1024).code, "MaxMessageLengthExceeded");
}
