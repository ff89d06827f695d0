//! Lambda's asynchronous invocation configuration (`event-invoke-config`), served by
//! [`LambdaApi`]: each operation's input decoded by the restJson1 codec.

use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, Shape};
use kumo_protocol::{Call, NoResult, RestAnswer};

use crate::lambda_service::{
    answer, body, decode, FunctionNameInput, Handler, LambdaApi, JSON_OUT, NAME_AND_QUALIFIER, NO_BODY,
};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[
    ("GetFunctionEventInvokeConfig", |api, call| Box::pin(api.get_event_invoke_config(call))),
    ("PutFunctionEventInvokeConfig", |api, call| Box::pin(api.put_event_invoke_config(call, false))),
    ("UpdateFunctionEventInvokeConfig", |api, call| Box::pin(api.put_event_invoke_config(call, true))),
    ("DeleteFunctionEventInvokeConfig", |api, call| Box::pin(api.delete_event_invoke_config(call))),
    ("ListFunctionEventInvokeConfigs", |api, call| Box::pin(api.list_event_invoke_configs(call))),
];

/// ListFunctionEventInvokeConfigs' input.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl kumo_protocol::rest_json::RestInput for ListInput {}

const LIST: Bindings = Bindings {
    members: &[
        crate::lambda_service::FUNCTION_NAME,
        Member { name: "Marker", location: Location::Query("Marker"), shape: Shape::String },
        Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer },
    ],
    payload: Payload::Empty,
};

impl LambdaApi {
    /// Put replaces the configuration; Update (`update`) changes only the fields it names.
    async fn put_event_invoke_config(&self, call: Call<'_>, update: bool) -> Result<RestAnswer, AwsError> {
        let (input, request): (FunctionNameInput, _) = (decode(&call, &NAME_AND_QUALIFIER)?, body(&call)?);
        let (name, qualifier) = (input.function_name, input.qualifier);
        let config = self.lambda.put_event_invoke_config(call.context, name, qualifier, request, update).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn get_event_invoke_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        let config = self.lambda.get_event_invoke_config(call.context, input.function_name, input.qualifier).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn list_event_invoke_configs(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ListInput = decode(&call, &LIST)?;
        let (name, marker, max_items) = (input.function_name, input.marker, input.max_items);
        let configs = self.lambda.list_event_invoke_configs(call.context, name, marker, max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &configs)
    }

    async fn delete_event_invoke_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        self.lambda.delete_event_invoke_config(call.context, input.function_name, input.qualifier).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }
}
