//! The registry with test services: routing precedence (host, then `X-Amz-Target` /
//! `smithy-protocol`, then the signing service, then paths), per-operation body limits, and one
//! operation answered in every protocol with the request's own id.

use std::sync::Arc;

use bytes::Bytes;
use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::service::same_code;
use kumo_protocol::{
    AwsService, BoxFuture, Call, DecodeError, Encoded, HostPattern, Operation, OperationTable, PathService, Protocol,
    Registry, Route, ServiceDescriptor, ServiceHealth,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EchoInput {
    name: String,
    count: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct EchoOutput {
    greeting: String,
    count: i64,
}

/// A service of one operation, `Echo`, with a 64-byte body limit.
struct Echo(&'static ServiceDescriptor);

static ECHO_OPERATIONS: OperationTable<Echo> = OperationTable(&[Operation {
    name: "Echo",
    body_limit: 64,
    handler: |_, call| {
        Box::pin(async move {
            call.run(|input: EchoInput| async move {
                if input.name == "fail" {
                    return Err(AwsError::new("ThrottlingException", 400, "slow down"));
                }
                Ok(EchoOutput { greeting: format!("hello {}", input.name), count: input.count.unwrap_or(0) })
            })
            .await
        })
    },
}]);

impl AwsService for Echo {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        self.0
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        ECHO_OPERATIONS.body_limit(operation)
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        ECHO_OPERATIONS.call(self, call)
    }

    fn health(&self) -> ServiceHealth {
        ServiceHealth::Unavailable("testing".into())
    }
}

fn decode_error(_: Protocol, error: &DecodeError) -> AwsError {
    AwsError::new("ValidationError", 400, error.to_string())
}

fn unknown(operation: Option<&str>) -> AwsError {
    AwsError::new("InvalidAction", 400, format!("no {operation:?}"))
}

const fn descriptor(name: &'static str, protocols: &'static [Protocol]) -> ServiceDescriptor {
    ServiceDescriptor {
        name,
        signing_name: name,
        json_target_prefix: None,
        cbor_service_name: None,
        hosts: &[],
        protocols,
        xml_namespace: "urn:test",
        json_error_prefix: "test#",
        aws_query_compatible: false,
        query_error_detail: false,
        default_body_limit: 1000,
        query_limits: QueryLimits::DEFAULT,
        query_rename: same_names,
        xml_shape: None,
        query_error_code: same_code,
        decode_error,
        unknown_operation: unknown,
    }
}

static QUEUES: ServiceDescriptor = ServiceDescriptor {
    json_target_prefix: Some("AmazonSQS"),
    ..descriptor("sqs", &[Protocol::AwsJson1_0, Protocol::AwsQuery])
};
static BUCKETS: ServiceDescriptor =
    ServiceDescriptor { hosts: &[HostPattern { label: "s3" }], ..descriptor("s3", &[Protocol::RestXml]) };
static METRICS: ServiceDescriptor = ServiceDescriptor {
    json_target_prefix: Some("GraniteServiceVersion20100801"),
    cbor_service_name: Some("GraniteServiceVersion20100801"),
    ..descriptor("monitoring", &[Protocol::AwsQuery, Protocol::AwsJson1_0, Protocol::RpcV2Cbor])
};

fn registry(with_s3: bool) -> Registry {
    let mut registry = Registry::new();
    registry.register_path_service(PathService {
        name: "lambda",
        signing_name: "lambda",
        health: Box::new(|| ServiceHealth::Running),
    });
    registry.register(Arc::new(Echo(&QUEUES)));
    registry.register(Arc::new(Echo(&METRICS)));
    if with_s3 {
        registry.register(Arc::new(Echo(&BUCKETS)));
    }
    registry
}

fn signed_for(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
    )
}

fn request(path: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = http::Request::builder().method("POST").uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn service_name(registry: &Registry, route: &Route) -> &'static str {
    match route {
        Route::Service { index, .. } => registry.service(*index).unwrap().descriptor().name,
        Route::Paths => "paths",
        Route::Unknown { .. } => "unknown",
    }
}

#[test]
fn routes_in_aws_order() {
    let registry = registry(true);
    let route = |path: &str, headers: &[(&str, &str)]| {
        let route = registry.route(&request(path, headers));
        (service_name(&registry, &route), route)
    };
    // Kumo's own paths first, whatever the signature.
    assert_eq!(route("/_kumo/health", &[("authorization", &signed_for("sqs"))]).0, "paths");
    // The host beats a target.
    let (name, _) = route("/key", &[("host", "bucket.s3.localhost:4566"), ("x-amz-target", "AmazonSQS.ListQueues")]);
    assert_eq!(name, "s3");
    // A JSON target beats the signing service.
    let (name, found) = route("/", &[("x-amz-target", "AmazonSQS.SendMessage"), ("authorization", &signed_for("iam"))]);
    assert_eq!(name, "sqs");
    assert_eq!(
        found,
        Route::Service { index: 0, protocol: Protocol::AwsJson1_0, operation: Some("SendMessage".into()) }
    );
    let (_, found) = route(
        "/",
        &[
            ("x-amz-target", "GraniteServiceVersion20100801.PutMetricData"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
    );
    assert!(matches!(found, Route::Service { protocol: Protocol::AwsJson1_1, .. }), "{found:?}");
    // A CBOR request names its service and operation in its path.
    let (name, found) = route(
        "/service/GraniteServiceVersion20100801/operation/PutMetricData",
        &[("smithy-protocol", "rpc-v2-cbor"), ("authorization", &signed_for("monitoring"))],
    );
    assert_eq!(name, "monitoring");
    assert!(
        matches!(found, Route::Service { protocol: Protocol::RpcV2Cbor, operation: Some(ref op), .. } if op == "PutMetricData")
    );
    // The signing service beats path routes: a queue URL, and an S3 bucket named `2015-03-31`.
    let (name, found) = route("/000000000000/q", &[("authorization", &signed_for("sqs"))]);
    assert_eq!((name, found), ("sqs", Route::Service { index: 0, protocol: Protocol::AwsQuery, operation: None }));
    assert_eq!(route("/2015-03-31/functions", &[("authorization", &signed_for("s3"))]).0, "s3");
    // Presigned URLs carry their scope in the query string.
    assert_eq!(route("/2015-03-31?X-Amz-Credential=test%2F20260101%2Fus-east-1%2Fs3%2Faws4_request", &[]).0, "s3");
    // Lambda's own signing name reaches its paths; unsigned requests fall to paths too.
    assert_eq!(route("/2015-03-31/functions", &[("authorization", &signed_for("lambda"))]).0, "paths");
    assert_eq!(route("/2015-03-31/functions", &[]).0, "paths");
    // Targets and signing names of services Kumo does not have are nobody's.
    assert_eq!(route("/", &[("x-amz-target", "DynamoDB_20120810.ListTables")]).0, "unknown");
    assert_eq!(route("/", &[("smithy-protocol", "rpc-v2-cbor")]).0, "unknown");
}

#[test]
fn an_s3_path_named_like_lambdas_never_reaches_lambda() {
    // Without an S3 service, a request signed for s3 is refused rather than given to Lambda.
    let registry = registry(false);
    let route = registry.route(&request("/2015-03-31/functions", &[("authorization", &signed_for("s3"))]));
    assert_eq!(route, Route::Unknown { name: "s3".into() });
}

#[test]
fn body_limits_and_health_come_from_the_services() {
    let registry = registry(true);
    let echo = Route::Service { index: 0, protocol: Protocol::AwsJson1_0, operation: Some("Echo".into()) };
    assert_eq!(registry.body_limit(&echo), Some(64));
    let other = Route::Service { index: 0, protocol: Protocol::AwsJson1_0, operation: Some("Other".into()) };
    assert_eq!(registry.body_limit(&other), Some(1000));
    assert_eq!(registry.body_limit(&Route::Paths), None);
    let health = registry.health();
    assert_eq!(health[0], ("lambda", ServiceHealth::Running));
    assert_eq!(health[1].1.describe(), "unavailable: testing");
}

async fn handle(protocol: Protocol, path: &str, body: &[u8], context: RequestContext) -> http::Response<Bytes> {
    let registry = registry(true);
    let parts = request(path, &[]);
    let operation = (protocol != Protocol::AwsQuery).then(|| "Echo".to_string());
    registry.handle(1, protocol, operation, &parts, Bytes::copy_from_slice(body), context).await
}

#[tokio::test]
async fn one_operation_answers_in_every_protocol_with_the_request_id() {
    let context = RequestContext::new("000000000000", "us-east-1");
    let id = context.request_id.clone();
    let json = handle(Protocol::AwsJson1_0, "/", br#"{"Name":"a","Count":2}"#, context.clone()).await;
    assert_eq!(json.status(), 200);
    assert_eq!(json.headers()["x-amzn-requestid"], id.as_str());
    assert_eq!(json.headers()["content-type"], "application/x-amz-json-1.0");
    assert_eq!(json.body().as_ref(), br#"{"Greeting":"hello a","Count":2}"#);

    let xml = handle(Protocol::AwsQuery, "/?Action=Echo&Name=b", b"Count=3", context.clone()).await;
    assert_eq!(xml.status(), 200);
    assert_eq!(
        std::str::from_utf8(xml.body()).unwrap(),
        format!(
            "<EchoResponse xmlns=\"urn:test\"><EchoResult><Greeting>hello b</Greeting><Count>3</Count></EchoResult>\
             <ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></EchoResponse>"
        )
    );

    let input = kumo_protocol::cbor::encode(&serde_json::json!({"Name": "c"})).unwrap();
    let cbor =
        handle(Protocol::RpcV2Cbor, "/service/GraniteServiceVersion20100801/operation/Echo", &input, context.clone())
            .await;
    assert_eq!(cbor.status(), 200);
    assert_eq!(cbor.headers()["content-type"], "application/cbor");
    let output: EchoOutput = kumo_protocol::cbor::decode(cbor.body(), 1024).unwrap();
    assert_eq!(output, EchoOutput { greeting: "hello c".into(), count: 0 });
}

#[tokio::test]
async fn errors_render_per_protocol_with_the_request_id() {
    let context = RequestContext::new("000000000000", "us-east-1");
    let id = context.request_id.clone();
    let json = handle(Protocol::AwsJson1_0, "/", br#"{"Name":"fail"}"#, context.clone()).await;
    assert_eq!(json.status(), 400);
    assert_eq!(json.headers()["x-amzn-requestid"], id.as_str());
    assert_eq!(json.body().as_ref(), br#"{"__type":"test#ThrottlingException","message":"slow down"}"#);

    let xml = handle(Protocol::AwsQuery, "/?Action=Echo", b"Name=fail", context.clone()).await;
    let text = std::str::from_utf8(xml.body()).unwrap().to_string();
    assert_eq!(xml.headers()["x-amzn-requestid"], id.as_str());
    assert!(
        text.contains(&format!(
            "<Code>ThrottlingException</Code><Message>slow down</Message></Error><RequestId>{id}</RequestId>"
        )),
        "{text}"
    );

    let cbor = handle(
        Protocol::RpcV2Cbor,
        "/",
        &kumo_protocol::cbor::encode(&serde_json::json!({"Name": "fail"})).unwrap(),
        context.clone(),
    )
    .await;
    assert_eq!(cbor.headers()["smithy-protocol"], "rpc-v2-cbor");
    let body: serde_json::Value = kumo_protocol::cbor::decode(cbor.body(), 1024).unwrap();
    assert_eq!(body["__type"], "test#ThrottlingException");
    // Not an awsQuery-compatible service: no awsQuery code.
    assert!(!cbor.headers().contains_key("x-amzn-query-error"));

    // Over the operation's 64-byte limit, missing members, unknown and missing actions.
    let large = format!(r#"{{"Name":"{}"}}"#, "x".repeat(100));
    let too_large = handle(Protocol::AwsJson1_0, "/", large.as_bytes(), context.clone()).await;
    assert_eq!(too_large.status(), 413);
    let missing = handle(Protocol::AwsQuery, "/?Action=Echo", b"", context.clone()).await;
    assert!(std::str::from_utf8(missing.body()).unwrap().contains("<Code>ValidationError</Code>"));
    let unknown = handle(Protocol::AwsQuery, "/?Action=Nope", b"", context.clone()).await;
    assert!(std::str::from_utf8(unknown.body()).unwrap().contains("<Code>InvalidAction</Code>"));
    let deep = format!("Action=Echo&{}=1", vec!["x"; 30_000].join("."));
    let refused = handle(Protocol::AwsQuery, "/", deep.as_bytes(), context).await;
    assert_eq!(refused.status(), 400);
    assert!(std::str::from_utf8(refused.body()).unwrap().contains("deeper than 16"));
}

#[tokio::test]
async fn a_request_signed_for_another_service_is_refused_in_its_protocol() {
    let registry = registry(true);
    let context = RequestContext::new("000000000000", "us-east-1");
    let input = kumo_protocol::cbor::encode(&serde_json::json!({"Name": "c"})).unwrap();
    let path = "/service/GraniteServiceVersion20100801/operation/Echo";
    let registry = &registry;
    let call = |signing_name: &str| {
        let authorization = signed_for(signing_name);
        let parts = request(path, &[("smithy-protocol", "rpc-v2-cbor"), ("authorization", &authorization)]);
        let route = registry.route(&parts);
        let Route::Service { index, protocol, operation } = route else { panic!("not routed: {route:?}") };
        let (context, input) = (context.clone(), Bytes::copy_from_slice(&input));
        async move { registry.handle(index, protocol, operation, &parts, input, context).await }
    };
    // Routed by its path to the CBOR service, but signed for SQS: CBOR's 403, never the operation.
    let refused = call("sqs").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["content-type"], "application/cbor");
    assert_eq!(refused.headers()["smithy-protocol"], "rpc-v2-cbor");
    let body: serde_json::Value = kumo_protocol::cbor::decode(refused.body(), 1024).unwrap();
    assert_eq!(body["__type"], "test#InvalidSignatureException");
    assert_eq!(body["message"], "Credential should be scoped to correct service: 'monitoring'.");
    // Signed for the service it reached: answered, and a CBOR answer names its protocol too.
    let answered = call("monitoring").await;
    assert_eq!(answered.status(), 200);
    assert_eq!(answered.headers()["smithy-protocol"], "rpc-v2-cbor");
    let output: EchoOutput = kumo_protocol::cbor::decode(answered.body(), 1024).unwrap();
    assert_eq!(output.greeting, "hello c");
}

/// CloudWatch-like: `awsQueryCompatible`, its error shapes named otherwise in awsQuery.
static QUERY_COMPATIBLE: ServiceDescriptor = ServiceDescriptor {
    json_error_prefix: "com.amazonaws.cloudwatch#",
    aws_query_compatible: true,
    query_error_code: |shape| if shape == "InvalidParameterValueException" { "InvalidParameterValue" } else { shape },
    ..descriptor("monitoring", &[Protocol::RpcV2Cbor, Protocol::AwsJson1_0])
};

#[test]
fn an_aws_query_compatible_services_cbor_and_json_errors_carry_the_awsquery_code() {
    use kumo_protocol::registry::render_error;
    let invalid =
        AwsError::new("InvalidParameterValueException", 400, "The value AWS/EC2 for parameter Namespace is invalid.");
    let cbor = render_error(&QUERY_COMPATIBLE, Protocol::RpcV2Cbor, &invalid, "req-1");
    assert_eq!(cbor.status(), 400);
    assert_eq!(cbor.headers()["x-amzn-query-error"], "InvalidParameterValue;Sender");
    assert_eq!(cbor.headers()["smithy-protocol"], "rpc-v2-cbor");
    let body: serde_json::Value = kumo_protocol::cbor::decode(cbor.body(), 1024).unwrap();
    assert_eq!(body["__type"], "com.amazonaws.cloudwatch#InvalidParameterValueException");
    assert_eq!(body["message"], "The value AWS/EC2 for parameter Namespace is invalid.");
    // The same in AWS JSON; a service fault is the receiver's, a code without an awsQuery form
    // is its own.
    let json = render_error(&QUERY_COMPATIBLE, Protocol::AwsJson1_0, &invalid, "req-1");
    assert_eq!(json.headers()["x-amzn-query-error"], "InvalidParameterValue;Sender");
    let internal = AwsError::new("InternalFailure", 500, "oops");
    let cbor = render_error(&QUERY_COMPATIBLE, Protocol::RpcV2Cbor, &internal, "req-2");
    assert_eq!(cbor.headers()["x-amzn-query-error"], "InternalFailure;Receiver");
}
