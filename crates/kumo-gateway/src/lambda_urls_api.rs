//! Lambda's function URL configurations, recursion configuration and runtime management
//! configuration, served by [`LambdaApi`]: each operation's input decoded by the restJson1 codec.

use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, RestInput, Shape};
use kumo_protocol::{Call, NoResult, RestAnswer};
use serde::Deserialize;

use crate::lambda_service::{
    answer, body, decode, function_name, FunctionNameInput, Handler, LambdaApi, FUNCTION_NAME, JSON_OUT,
    NAME_AND_QUALIFIER, NO_BODY,
};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[
    ("CreateFunctionUrlConfig", |api, call| Box::pin(api.create_function_url_config(call))),
    ("GetFunctionUrlConfig", |api, call| Box::pin(api.get_function_url_config(call))),
    ("UpdateFunctionUrlConfig", |api, call| Box::pin(api.update_function_url_config(call))),
    ("DeleteFunctionUrlConfig", |api, call| Box::pin(api.delete_function_url_config(call))),
    ("ListFunctionUrlConfigs", |api, call| Box::pin(api.list_function_url_configs(call))),
    ("PutFunctionRecursionConfig", |api, call| Box::pin(api.put_function_recursion_config(call))),
    ("GetFunctionRecursionConfig", |api, call| Box::pin(api.get_function_recursion_config(call))),
    ("PutRuntimeManagementConfig", |api, call| Box::pin(api.put_runtime_management_config(call))),
    ("GetRuntimeManagementConfig", |api, call| Box::pin(api.get_runtime_management_config(call))),
];

const LIST_URLS: Bindings = Bindings {
    members: &[
        FUNCTION_NAME,
        Member { name: "Marker", location: Location::Query("Marker"), shape: Shape::String },
        Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer },
    ],
    payload: Payload::Empty,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUrlsInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl RestInput for ListUrlsInput {}

impl LambdaApi {
    async fn create_function_url_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (FunctionNameInput, _) = (decode(&call, &NAME_AND_QUALIFIER)?, body(&call)?);
        let (name, qualifier) = (input.function_name, input.qualifier);
        let config = self.lambda.create_function_url_config(call.context, name, qualifier, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &config)
    }

    async fn update_function_url_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (FunctionNameInput, _) = (decode(&call, &NAME_AND_QUALIFIER)?, body(&call)?);
        let (name, qualifier) = (input.function_name, input.qualifier);
        let config = self.lambda.update_function_url_config(call.context, name, qualifier, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn get_function_url_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        let config = self.lambda.get_function_url_config(call.context, input.function_name, input.qualifier).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn delete_function_url_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        self.lambda.delete_function_url_config(call.context, input.function_name, input.qualifier).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }

    async fn list_function_url_configs(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ListUrlsInput = decode(&call, &LIST_URLS)?;
        let (name, marker, max_items) = (input.function_name, input.marker, input.max_items);
        let configs = self.lambda.list_function_url_configs(call.context, name, marker, max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &configs)
    }

    async fn put_function_recursion_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (name, request) = (function_name(&call)?, body(&call)?);
        let config = self.lambda.put_function_recursion_config(call.context, name, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn get_function_recursion_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let name = function_name(&call)?;
        let config = self.lambda.get_function_recursion_config(call.context, name).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn put_runtime_management_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (FunctionNameInput, _) = (decode(&call, &NAME_AND_QUALIFIER)?, body(&call)?);
        let (name, qualifier) = (input.function_name, input.qualifier);
        let config = self.lambda.put_runtime_management_config(call.context, name, qualifier, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn get_runtime_management_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        let (name, qualifier) = (input.function_name, input.qualifier);
        let config = self.lambda.get_runtime_management_config(call.context, name, qualifier).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }
}
