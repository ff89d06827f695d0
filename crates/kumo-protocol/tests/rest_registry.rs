//! A restJson1 service registered with its `RestTable`: the operations it serves are routed to it
//! by method and path (before authentication, with their body limits), the table's others stay on
//! the gateway's path routes, both count in one set of per-operation metrics, and its answers
//! carry their own status and header bindings.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::rest_json::{self, Bindings, Location, Member, Payload, RestInput, RestLimits, Shape};
use kumo_protocol::service::same_code;
use kumo_protocol::{
    AwsService, BoxFuture, Call, Encoded, Protocol, Registry, RestAnswer, RestIndex, RestOperation, RestTable, Route,
    ServiceDescriptor,
};
use serde::{Deserialize, Serialize};

fn too_large(operation: &RestOperation) -> AwsError {
    AwsError::new("RequestEntityTooLargeException", 413, format!("too large for {}", operation.name))
}

static TABLE: RestTable = RestTable {
    operations: &[
        RestOperation { name: "GetThing", method: Method::GET, path: "/v1/things/{Name}", body_limit: 10 },
        RestOperation { name: "PutThing", method: Method::PUT, path: "/v1/things/{Name}", body_limit: 100 },
    ],
    trailing_slash: &[],
    too_large,
    index: RestIndex::new(),
};

static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "things",
    signing_name: "things",
    json_target_prefix: None,
    cbor_service_name: None,
    hosts: &[],
    protocols: &[Protocol::RestJson1],
    xml_namespace: "",
    json_error_prefix: "",
    aws_query_compatible: false,
    query_error_detail: false,
    default_body_limit: 100,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error: |_, error| AwsError::new("ValidationException", 400, error.to_string()),
    unknown_operation: |_| AwsError::new("UnknownOperationException", 404, "no"),
};

/// Serves `GetThing` only; `PutThing` is left to path routes.
struct Things;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetThing {
    name: String,
    version: Option<i64>,
}

impl RestInput for GetThing {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Thing {
    name: String,
    etag: String,
}

const GET_IN: Bindings = Bindings {
    members: &[
        Member { name: "Name", location: Location::Label("Name"), shape: Shape::String },
        Member { name: "Version", location: Location::Query("Version"), shape: Shape::Integer },
    ],
    payload: Payload::Empty,
};
const GET_OUT: Bindings = Bindings {
    members: &[Member { name: "Etag", location: Location::Header("ETag"), shape: Shape::String }],
    payload: Payload::Json,
};

impl AwsService for Things {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        (operation == "GetThing").then_some(10)
    }

    fn call<'a>(&'a self, _call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        Box::pin(async { Err(AwsError::new("UnknownOperationException", 404, "restJson1 only")) })
    }

    fn call_rest<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<RestAnswer, AwsError>> {
        Box::pin(async move {
            let labels = TABLE.route(&call.parts.method, call.parts.uri.path()).map(|matched| matched.labels);
            let labels = labels.unwrap_or_default();
            let input: GetThing = rest_json::decode(&GET_IN, &RestLimits::default(), call.parts, &labels, Bytes::new())
                .map_err(|error| (DESCRIPTOR.decode_error)(Protocol::RestJson1, &error))?;
            let thing = Thing { etag: format!("v{}", input.version.unwrap_or(1)), name: input.name };
            rest_json::encode(&GET_OUT, StatusCode::CREATED, &thing, None)
                .map_err(|_| AwsError::new("ServiceException", 500, "encoding"))
        })
    }

    fn too_large(&self, operation: Option<&str>, limit: usize, protocol: Protocol) -> AwsError {
        match operation.and_then(|operation| TABLE.find(operation)) {
            Some(row) => too_large(row),
            None => kumo_protocol::registry::too_large(limit, protocol),
        }
    }

    fn operation_names(&self) -> Vec<&'static str> {
        TABLE.names().collect()
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register_rest(Arc::new(Things), &TABLE);
    registry
}

fn parts(method: Method, uri: &str) -> http::request::Parts {
    let signed =
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/things/aws4_request, SignedHeaders=host, Signature=00";
    http::Request::builder().method(method).uri(uri).header("authorization", signed).body(()).unwrap().into_parts().0
}

#[test]
fn served_operations_route_to_the_service_and_the_others_to_path_routes() {
    let registry = registry();
    let route = registry.route(&parts(Method::GET, "/v1/things/a%20b"));
    assert_eq!(route, Route::Service { index: 0, protocol: Protocol::RestJson1, operation: Some("GetThing".into()) });
    assert_eq!(registry.body_limit(&route), Some(10));
    assert_eq!(registry.too_large(&route, 10).message, "too large for GetThing");
    assert_eq!(registry.route(&parts(Method::PUT, "/v1/things/a")), Route::Paths);
    assert_eq!(registry.route(&parts(Method::GET, "/v1/other")), Route::Paths, "the service's path routes answer 404");
    // Unsigned (insecure mode): by path alone.
    let unsigned = http::Request::builder().uri("/v1/things/x").body(()).unwrap().into_parts().0;
    assert!(matches!(registry.route(&unsigned), Route::Service { .. }));
}

#[tokio::test]
async fn answers_carry_their_status_and_header_bindings_and_count_once() {
    let registry = registry();
    let parts = parts(Method::GET, "/v1/things/a%20b?Version=3");
    let mut context = RequestContext::new("000000000000", "us-east-1");
    context.request_id = "req-7".into();
    let response =
        registry.handle(0, Protocol::RestJson1, Some("GetThing".into()), &parts, Bytes::new(), context.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["etag"], "v3");
    assert_eq!(response.headers()["x-amzn-requestid"], "req-7");
    assert_eq!(response.body().as_ref(), br#"{"Name":"a b"}"#);
    let parts = self::parts(Method::GET, "/v1/things/x?Version=x");
    let response =
        registry.handle(0, Protocol::RestJson1, Some("GetThing".into()), &parts, Bytes::new(), context).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-amzn-errortype"], "ValidationException");
    // The path routes' counter is the service's own row.
    registry.path_operation("things", "PutThing").unwrap().record(200, std::time::Duration::from_millis(1));
    let text = registry.render_prometheus();
    let count = |line: &str| text.lines().filter(|candidate| *candidate == line).count();
    assert_eq!(
        count(r#"kumo_api_requests_total{service="things",operation="GetThing",outcome="success"} 1"#),
        1,
        "{text}"
    );
    assert_eq!(count(r#"kumo_api_requests_total{service="things",operation="GetThing",outcome="client_error"} 1"#), 1);
    assert_eq!(count(r#"kumo_api_requests_total{service="things",operation="PutThing",outcome="success"} 1"#), 1);
}
