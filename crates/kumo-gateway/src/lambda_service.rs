//! Lambda as a registered [`AwsService`]: its operations decode their input with kumo-protocol's
//! restJson1 codec (path labels, query, headers, body, as the botocore model binds them), call
//! `kumo_lambda`, and encode the output with its status and header bindings. The registry routes
//! a request here by method and path ([`LAMBDA_OPERATIONS`]) for the operations this table has;
//! Lambda's other operations are still the gateway's axum routes (`lambda_*api.rs`), counted in
//! the same per-operation metrics.

use std::sync::Arc;

use http::StatusCode;
use kumo_core::AwsError;
use kumo_lambda::types::InvokeInput;
use kumo_lambda::LambdaService;
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::rest_json::{self, Bindings, Location, Member, Payload, RestInput, RestLimits, Shape};
use kumo_protocol::service::same_code;
use kumo_protocol::{
    AwsService, BoxFuture, Call, Encoded, Input, NoResult, Protocol, RestAnswer, ServiceDescriptor, StreamedAnswer,
};
use serde::Deserialize;

use crate::lambda_operations::{decode_error, CONTROL_BODY_LIMIT, LAMBDA_OPERATIONS};

/// Lambda behind the registry.
pub struct LambdaApi {
    pub(crate) lambda: Arc<LambdaService>,
}

impl LambdaApi {
    /// Serves `lambda`'s operations.
    pub fn new(lambda: Arc<LambdaService>) -> Self {
        Self { lambda }
    }
}

/// What Lambda declares to the registry (restJson1 only: no target prefix, no query).
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "lambda",
    signing_name: "lambda",
    json_target_prefix: None,
    cbor_service_name: None,
    hosts: &[],
    protocols: &[Protocol::RestJson1],
    xml_namespace: "",
    json_error_prefix: "",
    aws_query_compatible: false,
    query_error_detail: false,
    default_body_limit: CONTROL_BODY_LIMIT,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error: |_, error| decode_error(error),
    unknown_operation: |operation| {
        AwsError::new(
            "UnknownOperationException",
            404,
            format!("Kumo does not implement {}", operation.unwrap_or_default()),
        )
    },
};

pub(crate) type Handler = for<'a> fn(&'a LambdaApi, Call<'a>) -> BoxFuture<'a, Result<RestAnswer, AwsError>>;

/// The operation families served here, each a list of handlers by operation name (their
/// method, path and limit are [`LAMBDA_OPERATIONS`]').
static FAMILIES: &[&[(&str, Handler)]] = &[
    FUNCTIONS,
    crate::lambda_versions_api::HANDLERS,
    crate::lambda_policy_api::HANDLERS,
    crate::lambda_async_api::HANDLERS,
    crate::lambda_mappings_api::HANDLERS,
    crate::lambda_layers_api::HANDLERS,
    crate::lambda_urls_api::HANDLERS,
    crate::lambda_code_signing_api::HANDLERS,
    crate::lambda_invoke_async_api::HANDLERS,
    crate::lambda_policy_api::RESOURCE_POLICY_HANDLERS,
];

/// The handler of `operation`, if it is served here.
fn handler(operation: &str) -> Option<Handler> {
    FAMILIES.iter().flat_map(|family| family.iter()).find(|(name, _)| *name == operation).map(|(_, handler)| *handler)
}

/// Functions, their code and configuration, Invoke, account settings.
const FUNCTIONS: &[(&str, Handler)] = &[
    ("GetAccountSettings", |api, call| Box::pin(api.get_account_settings(call))),
    ("ListFunctions", |api, call| Box::pin(api.list_functions(call))),
    ("GetFunction", |api, call| Box::pin(api.get_function(call))),
    ("GetFunctionConfiguration", |api, call| Box::pin(api.get_function_configuration(call))),
    ("DeleteFunction", |api, call| Box::pin(api.delete_function(call))),
    ("Invoke", |api, call| Box::pin(api.invoke(call))),
    ("CreateFunction", |api, call| Box::pin(api.create_function(call))),
    ("UpdateFunctionConfiguration", |api, call| Box::pin(api.update_function_configuration(call))),
    ("UpdateFunctionCode", |api, call| Box::pin(api.update_function_code(call))),
];

/// The names of the operations served here (the rest are axum routes).
#[cfg(test)]
pub(crate) fn served() -> impl Iterator<Item = &'static str> {
    let answered_whole = FAMILIES.iter().flat_map(|family| family.iter()).map(|(name, _)| *name);
    answered_whole.chain(crate::lambda_stream_api::STREAMED.iter().copied())
}

/// A struct literal, so that binding tables are promoted to `'static`.
macro_rules! member {
    ($name:literal, $location:expr, $shape:expr) => {
        Member { name: $name, location: $location, shape: $shape }
    };
}

pub(crate) const FUNCTION_NAME: Member = member!("FunctionName", Location::Label("FunctionName"), Shape::String);
pub(crate) const QUALIFIER: Member = member!("Qualifier", Location::Query("Qualifier"), Shape::String);
// Operations without body members ignore a body, as AWS does.
pub(crate) const NAME_AND_QUALIFIER: Bindings =
    Bindings { members: &[FUNCTION_NAME, QUALIFIER], payload: Payload::Empty };
pub(crate) const JSON_OUT: Bindings = Bindings { members: &[], payload: Payload::Json };
pub(crate) const NO_BODY: Bindings = Bindings { members: &[], payload: Payload::Empty };

/// Decodes `call`'s input as `bindings` say.
pub(crate) fn decode<T: RestInput>(call: &Call<'_>, bindings: &Bindings) -> Result<T, AwsError> {
    let body = match &call.input {
        Input::Json(body) => body.clone(),
        _ => bytes::Bytes::new(),
    };
    let parts = call.parts;
    let labels = path_labels(call);
    rest_json::decode(bindings, &RestLimits::default(), parts, &labels, body).map_err(|error| decode_error(&error))
}

/// The path labels of `call` (still percent-encoded): the registry routed it by this table to its
/// operation, whose row's template gives them (the other rows are not matched again).
pub(crate) fn path_labels<'a>(call: &Call<'a>) -> Vec<(&'static str, &'a str)> {
    let row = LAMBDA_OPERATIONS.find(call.operation);
    row.and_then(|row| LAMBDA_OPERATIONS.labels(row, call.parts.uri.path())).unwrap_or_default()
}

/// A body that is the whole input (a `kumo_lambda` request type).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct JsonBody<T>(T);

impl<T: serde::de::DeserializeOwned> RestInput for JsonBody<T> {}

const NAME_ONLY: Bindings = Bindings { members: &[FUNCTION_NAME], payload: Payload::Empty };
const BODY_ONLY: Bindings = Bindings { members: &[], payload: Payload::Json };

/// The body of `call` as `T`; an empty body is `T`'s default, as Lambda's handlers always took it.
pub(crate) fn body<T: serde::de::DeserializeOwned + Default>(call: &Call<'_>) -> Result<T, AwsError> {
    if matches!(&call.input, Input::Json(body) if body.iter().all(u8::is_ascii_whitespace)) {
        return Ok(T::default());
    }
    decode::<JsonBody<T>>(call, &BODY_ONLY).map(|body| body.0)
}

/// The `FunctionName` label of `call`.
pub(crate) fn function_name(call: &Call<'_>) -> Result<String, AwsError> {
    decode::<FunctionNameInput>(call, &NAME_ONLY).map(|input| input.function_name)
}

/// Encodes `output` with `status`.
pub(crate) fn answer<T: serde::Serialize>(
    bindings: &Bindings,
    status: StatusCode,
    output: &T,
) -> Result<RestAnswer, AwsError> {
    rest_json::encode(bindings, status, output, None).map_err(|error| {
        tracing::error!(%error, "encoding an answer failed");
        AwsError::new("ServiceException", 500, "An internal error occurred")
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FunctionNameInput {
    pub(crate) function_name: String,
    pub(crate) qualifier: Option<String>,
}

impl RestInput for FunctionNameInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListFunctionsInput {
    marker: Option<String>,
    max_items: Option<i64>,
    function_version: Option<String>,
}

impl RestInput for ListFunctionsInput {}

const LIST_FUNCTIONS: Bindings = Bindings {
    members: &[
        member!("MasterRegion", Location::Query("MasterRegion"), Shape::String),
        member!("FunctionVersion", Location::Query("FunctionVersion"), Shape::String),
        member!("Marker", Location::Query("Marker"), Shape::String),
        member!("MaxItems", Location::Query("MaxItems"), Shape::Integer),
    ],
    payload: Payload::Empty,
};

/// Invoke's input: the payload is the body, as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InvokeRequest {
    function_name: String,
    qualifier: Option<String>,
    invocation_type: Option<String>,
    log_type: Option<String>,
    client_context: Option<String>,
    #[serde(skip)]
    payload: bytes::Bytes,
}

impl From<InvokeRequest> for InvokeInput {
    fn from(request: InvokeRequest) -> Self {
        InvokeInput {
            function_name: request.function_name,
            qualifier: request.qualifier,
            invocation_type: request.invocation_type,
            log_type: request.log_type,
            client_context: request.client_context,
            payload: request.payload,
        }
    }
}

impl RestInput for InvokeRequest {
    fn set_payload(&mut self, payload: bytes::Bytes) {
        self.payload = payload;
    }
}

pub(crate) const INVOKE_IN: Bindings = Bindings {
    members: &[
        FUNCTION_NAME,
        QUALIFIER,
        member!("InvocationType", Location::Header("X-Amz-Invocation-Type"), Shape::String),
        member!("LogType", Location::Header("X-Amz-Log-Type"), Shape::String),
        member!("ClientContext", Location::Header("X-Amz-Client-Context"), Shape::String),
    ],
    payload: Payload::Blob,
};

const INVOKE_OUT: Bindings = Bindings {
    members: &[
        member!("StatusCode", Location::StatusCode, Shape::Integer),
        member!("FunctionError", Location::Header("X-Amz-Function-Error"), Shape::String),
        member!("LogResult", Location::Header("X-Amz-Log-Result"), Shape::String),
        member!("ExecutedVersion", Location::Header("X-Amz-Executed-Version"), Shape::String),
        member!("RequestId", Location::Header("x-amzn-RequestId"), Shape::String),
    ],
    payload: Payload::Blob,
};

impl LambdaApi {
    async fn invoke(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let request: InvokeRequest = decode(&call, &INVOKE_IN)?;
        let output = self.lambda.invoke(call.context, request.into()).await?;
        let status = output.status.to_string();
        let values = [
            ("StatusCode", Some(status.as_str())),
            ("FunctionError", output.function_error),
            ("LogResult", output.log_result.as_deref()),
            ("ExecutedVersion", output.executed_version.as_deref()),
            ("RequestId", Some(output.request_id.as_str())),
        ];
        Ok(rest_json::encode_bound(&INVOKE_OUT, StatusCode::OK, &values, Some(output.payload)))
    }

    async fn create_function(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let request = body(&call)?;
        let created = self.lambda.create_function(call.context, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &created)
    }

    async fn update_function_configuration(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (name, request) = (function_name(&call)?, body(&call)?);
        let updated = self.lambda.update_function_configuration(call.context, name, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &updated)
    }

    async fn update_function_code(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (name, request) = (function_name(&call)?, body(&call)?);
        let updated = self.lambda.update_function_code(call.context, name, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &updated)
    }

    async fn get_account_settings(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let settings = self.lambda.get_account_settings(call.context).await?;
        answer(&JSON_OUT, StatusCode::OK, &settings)
    }

    async fn list_functions(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ListFunctionsInput = decode(&call, &LIST_FUNCTIONS)?;
        let lambda = &self.lambda;
        let listed = lambda.list_functions(call.context, input.marker, input.max_items, input.function_version).await?;
        answer(&JSON_OUT, StatusCode::OK, &listed)
    }

    async fn get_function(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        let function = self.lambda.get_function(call.context, input.function_name, input.qualifier).await?;
        answer(&JSON_OUT, StatusCode::OK, &function)
    }

    async fn get_function_configuration(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        let lambda = &self.lambda;
        let configuration =
            lambda.get_function_configuration(call.context, input.function_name, input.qualifier).await?;
        answer(&JSON_OUT, StatusCode::OK, &configuration)
    }

    async fn delete_function(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        self.lambda.delete_function(call.context, input.function_name, input.qualifier).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }
}

impl AwsService for LambdaApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        if handler(operation).is_none() && !self.streams_response(operation) {
            return None;
        }
        LAMBDA_OPERATIONS.find(operation).map(|row| row.body_limit)
    }

    fn streams_response(&self, operation: &str) -> bool {
        crate::lambda_stream_api::STREAMED.contains(&operation)
    }

    fn call_rest_streamed<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<StreamedAnswer, AwsError>> {
        // The model's constraints come first, before any lookup, as for every operation.
        match crate::lambda_constraints::check(&call) {
            Ok(()) => Box::pin(self.invoke_with_response_stream(call)),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        // Lambda speaks restJson1 only: the registry calls `call_rest`.
        let error = (DESCRIPTOR.unknown_operation)(Some(call.operation));
        Box::pin(std::future::ready(Err(error)))
    }

    fn call_rest<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<RestAnswer, AwsError>> {
        match handler(call.operation) {
            // The model's constraints come first, before any lookup, as AWS checks them.
            Some(handler) => match crate::lambda_constraints::check(&call) {
                Ok(()) => handler(self, call),
                Err(error) => Box::pin(std::future::ready(Err(error))),
            },
            None => Box::pin(std::future::ready(Err((DESCRIPTOR.unknown_operation)(Some(call.operation))))),
        }
    }

    fn too_large(&self, operation: Option<&str>, limit: usize, _protocol: Protocol) -> AwsError {
        match operation.and_then(|operation| LAMBDA_OPERATIONS.find(operation)) {
            Some(row) => (LAMBDA_OPERATIONS.too_large)(row),
            None => crate::lambda_operations::body_too_large(limit, operation.unwrap_or_default()),
        }
    }

    fn operation_names(&self) -> Vec<&'static str> {
        LAMBDA_OPERATIONS.names().collect()
    }

    /// The invoke engine's state: its store, async queue and event source pollers.
    fn health(&self) -> kumo_protocol::ServiceHealth {
        match self.lambda.engine().health() {
            Ok(()) => kumo_protocol::ServiceHealth::Running,
            Err(why) => kumo_protocol::ServiceHealth::Unavailable(why),
        }
    }
}
