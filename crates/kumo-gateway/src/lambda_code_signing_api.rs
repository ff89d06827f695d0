//! Lambda's code signing configurations and their use by functions, served by [`LambdaApi`]:
//! each operation's input decoded by the restJson1 codec.

use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, RestInput, Shape};
use kumo_protocol::{Call, NoResult, RestAnswer};
use serde::Deserialize;

use crate::lambda_service::{answer, body, decode, function_name, Handler, LambdaApi, JSON_OUT, NO_BODY};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[
    ("CreateCodeSigningConfig", |api, call| Box::pin(api.create_code_signing_config(call))),
    ("GetCodeSigningConfig", |api, call| Box::pin(api.get_code_signing_config(call))),
    ("UpdateCodeSigningConfig", |api, call| Box::pin(api.update_code_signing_config(call))),
    ("DeleteCodeSigningConfig", |api, call| Box::pin(api.delete_code_signing_config(call))),
    ("ListCodeSigningConfigs", |api, call| Box::pin(api.list_code_signing_configs(call))),
    ("ListFunctionsByCodeSigningConfig", |api, call| Box::pin(api.list_functions_by_code_signing_config(call))),
    ("PutFunctionCodeSigningConfig", |api, call| Box::pin(api.put_function_code_signing_config(call))),
    ("GetFunctionCodeSigningConfig", |api, call| Box::pin(api.get_function_code_signing_config(call))),
    ("DeleteFunctionCodeSigningConfig", |api, call| Box::pin(api.delete_function_code_signing_config(call))),
];

const ARN: Member =
    Member { name: "CodeSigningConfigArn", location: Location::Label("CodeSigningConfigArn"), shape: Shape::String };
const MARKER: Member = Member { name: "Marker", location: Location::Query("Marker"), shape: Shape::String };
const MAX_ITEMS: Member = Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer };
const ARN_ONLY: Bindings = Bindings { members: &[ARN], payload: Payload::Empty };
const LIST: Bindings = Bindings { members: &[MARKER, MAX_ITEMS], payload: Payload::Empty };
const LIST_FUNCTIONS: Bindings = Bindings { members: &[ARN, MARKER, MAX_ITEMS], payload: Payload::Empty };

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigInput {
    code_signing_config_arn: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl RestInput for ConfigInput {}

impl LambdaApi {
    async fn create_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let request = body(&call)?;
        let config = self.lambda.create_code_signing_config(call.context, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &config)
    }

    async fn get_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ConfigInput = decode(&call, &ARN_ONLY)?;
        let arn = input.code_signing_config_arn.unwrap_or_default();
        let config = self.lambda.get_code_signing_config(call.context, arn).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn update_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (ConfigInput, _) = (decode(&call, &ARN_ONLY)?, body(&call)?);
        let arn = input.code_signing_config_arn.unwrap_or_default();
        let config = self.lambda.update_code_signing_config(call.context, arn, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn delete_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ConfigInput = decode(&call, &ARN_ONLY)?;
        let arn = input.code_signing_config_arn.unwrap_or_default();
        self.lambda.delete_code_signing_config(call.context, arn).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }

    async fn list_code_signing_configs(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ConfigInput = decode(&call, &LIST)?;
        let configs = self.lambda.list_code_signing_configs(call.context, input.marker, input.max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &configs)
    }

    async fn list_functions_by_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ConfigInput = decode(&call, &LIST_FUNCTIONS)?;
        let arn = input.code_signing_config_arn.unwrap_or_default();
        let functions =
            self.lambda.list_functions_by_code_signing_config(call.context, arn, input.marker, input.max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &functions)
    }

    async fn put_function_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (name, request) = (function_name(&call)?, body(&call)?);
        let config = self.lambda.put_function_code_signing_config(call.context, name, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn get_function_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let name = function_name(&call)?;
        let config = self.lambda.get_function_code_signing_config(call.context, name).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn delete_function_code_signing_config(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let name = function_name(&call)?;
        self.lambda.delete_function_code_signing_config(call.context, name).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }
}
