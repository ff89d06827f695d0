//! Lambda's versions, aliases, reserved and provisioned concurrency, served by [`LambdaApi`]:
//! each operation's input decoded by the restJson1 codec, its output encoded with its status.

use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, RestInput, Shape};
use kumo_protocol::{Call, RestAnswer};
use serde::Deserialize;

use crate::lambda_service::{
    answer, body, decode, function_name, FunctionNameInput, Handler, LambdaApi, FUNCTION_NAME, JSON_OUT,
    NAME_AND_QUALIFIER, NO_BODY,
};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[
    ("ListVersionsByFunction", |api, call| Box::pin(api.list_versions(call))),
    ("PublishVersion", |api, call| Box::pin(api.publish_version(call))),
    ("ListAliases", |api, call| Box::pin(api.list_aliases(call))),
    ("CreateAlias", |api, call| Box::pin(api.create_alias(call))),
    ("GetAlias", |api, call| Box::pin(api.get_alias(call))),
    ("UpdateAlias", |api, call| Box::pin(api.update_alias(call))),
    ("DeleteAlias", |api, call| Box::pin(api.delete_alias(call))),
    ("PutFunctionConcurrency", |api, call| Box::pin(api.put_concurrency(call))),
    ("DeleteFunctionConcurrency", |api, call| Box::pin(api.delete_concurrency(call))),
    ("GetFunctionConcurrency", |api, call| Box::pin(api.get_concurrency(call))),
    ("GetProvisionedConcurrencyConfig", |api, call| Box::pin(api.get_provisioned(call))),
    ("PutProvisionedConcurrencyConfig", |api, call| Box::pin(api.put_provisioned(call))),
    ("DeleteProvisionedConcurrencyConfig", |api, call| Box::pin(api.delete_provisioned(call))),
];

const MARKER: Member = Member { name: "Marker", location: Location::Query("Marker"), shape: Shape::String };
const MAX_ITEMS: Member = Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer };
const FUNCTION_VERSION: Member =
    Member { name: "FunctionVersion", location: Location::Query("FunctionVersion"), shape: Shape::String };
const LIST_VERSIONS: Bindings = Bindings { members: &[FUNCTION_NAME, MARKER, MAX_ITEMS], payload: Payload::Empty };
const LIST_ALIASES: Bindings =
    Bindings { members: &[FUNCTION_NAME, FUNCTION_VERSION, MARKER, MAX_ITEMS], payload: Payload::Empty };
const ALIAS: Bindings = Bindings {
    members: &[FUNCTION_NAME, Member { name: "Name", location: Location::Label("Name"), shape: Shape::String }],
    payload: Payload::Empty,
};
/// `?List=ALL` turns GetProvisionedConcurrencyConfig's path into ListProvisionedConcurrencyConfigs.
const PROVISIONED: Bindings = Bindings {
    members: &[
        FUNCTION_NAME,
        crate::lambda_service::QUALIFIER,
        Member { name: "List", location: Location::Query("List"), shape: Shape::String },
        MARKER,
        MAX_ITEMS,
    ],
    payload: Payload::Empty,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    function_name: String,
    function_version: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl RestInput for ListInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasInput {
    function_name: String,
    name: String,
}

impl RestInput for AliasInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProvisionedInput {
    function_name: String,
    qualifier: Option<String>,
    list: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl RestInput for ProvisionedInput {}

impl LambdaApi {
    async fn list_versions(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ListInput = decode(&call, &LIST_VERSIONS)?;
        let listed =
            self.lambda.list_versions(call.context, input.function_name, input.marker, input.max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &listed)
    }

    async fn publish_version(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (name, request) = (function_name(&call)?, body(&call)?);
        let published = self.lambda.publish_version(call.context, name, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &published)
    }

    async fn list_aliases(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ListInput = decode(&call, &LIST_ALIASES)?;
        let (name, version, marker) = (input.function_name, input.function_version, input.marker);
        let listed = self.lambda.list_aliases(call.context, name, version, marker, input.max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &listed)
    }

    async fn create_alias(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (name, request) = (function_name(&call)?, body(&call)?);
        let alias = self.lambda.create_alias(call.context, name, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &alias)
    }

    async fn get_alias(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: AliasInput = decode(&call, &ALIAS)?;
        let alias = self.lambda.get_alias(call.context, input.function_name, input.name).await?;
        answer(&JSON_OUT, StatusCode::OK, &alias)
    }

    async fn update_alias(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (AliasInput, _) = (decode(&call, &ALIAS)?, body(&call)?);
        let alias = self.lambda.update_alias(call.context, input.function_name, input.name, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &alias)
    }

    async fn delete_alias(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: AliasInput = decode(&call, &ALIAS)?;
        self.lambda.delete_alias(call.context, input.function_name, input.name).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &kumo_protocol::NoResult {})
    }

    async fn put_concurrency(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (name, request) = (function_name(&call)?, body(&call)?);
        let concurrency = self.lambda.put_function_concurrency(call.context, name, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &concurrency)
    }

    async fn get_concurrency(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let name = function_name(&call)?;
        let concurrency = self.lambda.get_function_concurrency(call.context, name).await?;
        answer(&JSON_OUT, StatusCode::OK, &concurrency)
    }

    async fn delete_concurrency(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let name = function_name(&call)?;
        self.lambda.delete_function_concurrency(call.context, name).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &kumo_protocol::NoResult {})
    }

    async fn put_provisioned(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (FunctionNameInput, _) = (decode(&call, &NAME_AND_QUALIFIER)?, body(&call)?);
        let (name, qualifier) = (input.function_name, input.qualifier);
        let config = self.lambda.put_provisioned_concurrency(call.context, name, qualifier, request).await?;
        answer(&JSON_OUT, StatusCode::ACCEPTED, &config)
    }

    async fn get_provisioned(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: ProvisionedInput = decode(&call, &PROVISIONED)?;
        if input.list.is_some() {
            let (name, marker, max_items) = (input.function_name, input.marker, input.max_items);
            let listed = self.lambda.list_provisioned_concurrency(call.context, name, marker, max_items).await?;
            return answer(&JSON_OUT, StatusCode::OK, &listed);
        }
        let config =
            self.lambda.get_provisioned_concurrency(call.context, input.function_name, input.qualifier).await?;
        answer(&JSON_OUT, StatusCode::OK, &config)
    }

    async fn delete_provisioned(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        self.lambda.delete_provisioned_concurrency(call.context, input.function_name, input.qualifier).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &kumo_protocol::NoResult {})
    }
}
