//! The restJson1 codec against botocore's own Lambda model: each operation's bindings here
//! are the model's (`location` / `locationName`, checked member by member against
//! `fixtures/lambda_rest_json.json`, which `fixtures/botocore_rest_json.py` writes from botocore),
//! and requests that botocore's serializer made decode into the parameters it was given.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Method, StatusCode};
use kumo_core::AwsError;
use kumo_protocol::rest_json::{self, Bindings, Location, Member, Payload, RestInput, RestLimits, Shape};
use kumo_protocol::{RestIndex, RestOperation, RestTable};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/lambda_rest_json.json");

fn too_large(_: &RestOperation) -> AwsError {
    AwsError::new("RequestEntityTooLargeException", 413, "too large")
}

static TABLE: RestTable = RestTable {
    operations: &[
        RestOperation {
            name: "Invoke",
            method: Method::POST,
            path: "/2015-03-31/functions/{FunctionName}/invocations",
            body_limit: 1 << 20,
        },
        RestOperation {
            name: "ListFunctions",
            method: Method::GET,
            path: "/2015-03-31/functions",
            body_limit: 1 << 20,
        },
        RestOperation {
            name: "GetFunction",
            method: Method::GET,
            path: "/2015-03-31/functions/{FunctionName}",
            body_limit: 1 << 20,
        },
        RestOperation {
            name: "CreateAlias",
            method: Method::POST,
            path: "/2015-03-31/functions/{FunctionName}/aliases",
            body_limit: 1 << 20,
        },
        RestOperation {
            name: "UpdateFunctionCode",
            method: Method::PUT,
            path: "/2015-03-31/functions/{FunctionName}/code",
            body_limit: 1 << 20,
        },
    ],
    trailing_slash: &["/2015-03-31/functions"],
    too_large,
    index: RestIndex::new(),
};

/// A struct literal, so that the tables below are promoted to `'static`.
macro_rules! member {
    ($name:literal, $location:expr, $shape:expr) => {
        Member { name: $name, location: $location, shape: $shape }
    };
}

const FUNCTION_NAME: Member = member!("FunctionName", Location::Label("FunctionName"), Shape::String);
const QUALIFIER: Member = member!("Qualifier", Location::Query("Qualifier"), Shape::String);

/// Kumo's bindings of each operation: (input, output).
fn bindings(operation: &str) -> (Bindings, Bindings) {
    const JSON_OUT: Bindings = Bindings { members: &[], payload: Payload::Json };
    match operation {
        "Invoke" => (
            Bindings {
                members: &[
                    FUNCTION_NAME,
                    QUALIFIER,
                    member!("InvocationType", Location::Header("X-Amz-Invocation-Type"), Shape::String),
                    member!("LogType", Location::Header("X-Amz-Log-Type"), Shape::String),
                    member!("ClientContext", Location::Header("X-Amz-Client-Context"), Shape::String),
                    member!("DurableExecutionName", Location::Header("X-Amz-Durable-Execution-Name"), Shape::String),
                    member!("TenantId", Location::Header("X-Amz-Tenant-Id"), Shape::String),
                ],
                payload: Payload::Blob,
            },
            Bindings {
                members: &[
                    member!("StatusCode", Location::StatusCode, Shape::Integer),
                    member!("FunctionError", Location::Header("X-Amz-Function-Error"), Shape::String),
                    member!("LogResult", Location::Header("X-Amz-Log-Result"), Shape::String),
                    member!("ExecutedVersion", Location::Header("X-Amz-Executed-Version"), Shape::String),
                    member!("DurableExecutionArn", Location::Header("X-Amz-Durable-Execution-Arn"), Shape::String),
                ],
                payload: Payload::Blob,
            },
        ),
        "ListFunctions" => (
            Bindings {
                members: &[
                    member!("MasterRegion", Location::Query("MasterRegion"), Shape::String),
                    member!("FunctionVersion", Location::Query("FunctionVersion"), Shape::String),
                    member!("Marker", Location::Query("Marker"), Shape::String),
                    member!("MaxItems", Location::Query("MaxItems"), Shape::Integer),
                ],
                payload: Payload::Json,
            },
            JSON_OUT,
        ),
        "GetFunction" => (Bindings { members: &[FUNCTION_NAME, QUALIFIER], payload: Payload::Json }, JSON_OUT),
        "CreateAlias" | "UpdateFunctionCode" => {
            (Bindings { members: &[FUNCTION_NAME], payload: Payload::Json }, JSON_OUT)
        }
        other => panic!("no bindings for {other}"),
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct InvokeRequest {
    function_name: String,
    qualifier: Option<String>,
    invocation_type: Option<String>,
    log_type: Option<String>,
    client_context: Option<String>,
    #[serde(skip)]
    payload: Bytes,
}

impl RestInput for InvokeRequest {
    fn set_payload(&mut self, payload: Bytes) {
        self.payload = payload;
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListFunctionsRequest {
    master_region: Option<String>,
    function_version: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl RestInput for ListFunctionsRequest {}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetFunctionRequest {
    function_name: String,
    qualifier: Option<String>,
}

impl RestInput for GetFunctionRequest {}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAliasRequest {
    function_name: String,
    name: String,
    function_version: String,
    description: Option<String>,
    routing_config: Option<Value>,
}

impl RestInput for CreateAliasRequest {}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateFunctionCodeRequest {
    function_name: String,
    zip_file: Option<String>,
    publish: Option<bool>,
    dry_run: Option<bool>,
    architectures: Option<Vec<String>>,
}

impl RestInput for UpdateFunctionCodeRequest {}

fn model_location(location: &Location) -> (&'static str, Option<&'static str>) {
    match location {
        Location::Label(name) => ("uri", Some(name)),
        Location::Query(name) => ("querystring", Some(name)),
        Location::Header(name) => ("header", Some(name)),
        Location::StatusCode => ("statusCode", None),
    }
}

fn model_shape(shape: Shape) -> &'static str {
    match shape {
        Shape::String => "string",
        Shape::Integer => "integer",
        Shape::Boolean => "boolean",
        Shape::StringList => "list",
    }
}

#[test]
fn bindings_are_the_models() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    for (operation, model) in fixture["bindings"].as_object().unwrap() {
        let (input, output) = bindings(operation);
        for (direction, ours) in [("input", input), ("output", output)] {
            let model = &model[direction];
            let mut bound = BTreeMap::new();
            for (name, member) in model["members"].as_object().unwrap() {
                if let Some(location) = member["location"].as_str() {
                    bound.insert(
                        name.clone(),
                        (
                            location.to_string(),
                            member["locationName"].as_str().map(str::to_string),
                            member["type"].as_str().unwrap().to_string(),
                        ),
                    );
                }
            }
            let declared: BTreeMap<String, (String, Option<String>, String)> = ours
                .members
                .iter()
                .map(|member| {
                    let (location, name) = model_location(&member.location);
                    (
                        member.name.to_string(),
                        (location.to_string(), name.map(str::to_string), model_shape(member.shape).to_string()),
                    )
                })
                .collect();
            assert_eq!(declared, bound, "{operation} {direction}");
            let blob = model["payload"].as_str().is_some_and(|payload| model["members"][payload]["type"] == "blob");
            assert_eq!(ours.payload == Payload::Blob, blob, "{operation} {direction} payload");
        }
    }
}

/// The request botocore serialized in `case`, as the gateway would hand it over.
fn request_of(case: &Value) -> (http::request::Parts, Bytes) {
    let method: Method = case["method"].as_str().unwrap().parse().unwrap();
    let path = case["path"].as_str().unwrap();
    let query = case["query"].as_str().unwrap();
    let uri = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in case["headers"].as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    // The fixture holds bodies as latin-1 text: one char per byte.
    let body: Vec<u8> = case["body"].as_str().unwrap().chars().map(|char| char as u8).collect();
    (request.body(()).unwrap().into_parts().0, Bytes::from(body))
}

/// Routes and decodes `case` into `T`, as JSON (the blob payload, skipped by serde, aside).
fn decode_case<T: RestInput + Serialize + DeserializeOwned>(case: &Value) -> Value {
    let (parts, body) = request_of(case);
    let matched = TABLE.route(&parts.method, parts.uri.path()).expect("botocore's path routes");
    assert_eq!(matched.operation.name, case["operation"].as_str().unwrap());
    let (input, _) = bindings(matched.operation.name);
    let value: T = rest_json::decode(&input, &RestLimits::default(), &parts, &matched.labels, body).unwrap();
    serde_json::to_value(&value).unwrap()
}

#[test]
fn botocores_requests_decode_into_the_parameters_it_was_given() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let operation = case["operation"].as_str().unwrap();
        let (input, _) = bindings(operation);
        let mut decoded = match operation {
            "Invoke" => decode_case::<InvokeRequest>(case),
            "ListFunctions" => decode_case::<ListFunctionsRequest>(case),
            "GetFunction" => decode_case::<GetFunctionRequest>(case),
            "CreateAlias" => decode_case::<CreateAliasRequest>(case),
            "UpdateFunctionCode" => decode_case::<UpdateFunctionCodeRequest>(case),
            other => panic!("{other}"),
        };
        decoded.as_object_mut().unwrap().retain(|_, value| !value.is_null());
        // Bound members as given to botocore; body members as botocore put them in the body
        // (blobs base64-encoded there).
        let mut expected = serde_json::Map::new();
        for member in input.members {
            if let Some(value) = case["params"].get(member.name) {
                expected.insert(member.name.to_string(), value.clone());
            }
        }
        if input.payload == Payload::Json {
            if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(case["body"].as_str().unwrap()) {
                expected.extend(body);
            }
        }
        assert_eq!(decoded, Value::Object(expected), "{operation}: {case}");
    }
}

#[test]
fn invokes_blob_payload_arrives_as_sent() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let case = &fixture["cases"][0];
    let (parts, body) = request_of(case);
    let matched = TABLE.route(&parts.method, parts.uri.path()).unwrap();
    let input: InvokeRequest =
        rest_json::decode(&bindings("Invoke").0, &RestLimits::default(), &parts, &matched.labels, body.clone())
            .unwrap();
    assert_eq!(input.payload, case["params"]["Payload"].as_str().unwrap().as_bytes());
    assert_eq!(input.payload.as_ptr(), body.as_ptr(), "the body is handed over, not copied");
    assert_eq!(input.function_name, "my fn/ü");
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InvokeResponse {
    status_code: u16,
    function_error: Option<String>,
    log_result: Option<String>,
    executed_version: Option<String>,
}

#[test]
fn invokes_output_headers_are_the_models_names() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let members = &fixture["bindings"]["Invoke"]["output"]["members"];
    let output = InvokeResponse {
        status_code: 200,
        function_error: Some("Unhandled".into()),
        log_result: Some("bG9n".into()),
        executed_version: Some("$LATEST".into()),
    };
    let payload = Some(Bytes::from_static(b"{}"));
    let answer = rest_json::encode(&bindings("Invoke").1, StatusCode::ACCEPTED, &output, payload).unwrap();
    assert_eq!(answer.status, StatusCode::OK, "the StatusCode member wins over the default");
    let headers: http::HeaderMap = answer.headers.into_iter().collect();
    for (member, value) in [("FunctionError", "Unhandled"), ("LogResult", "bG9n"), ("ExecutedVersion", "$LATEST")] {
        let header = members[member]["locationName"].as_str().unwrap();
        assert_eq!(headers[header], value, "{member}");
    }
    assert_eq!(answer.body.as_ref(), b"{}");
}
