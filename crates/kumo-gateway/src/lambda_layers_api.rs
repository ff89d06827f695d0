//! Lambda's layers and layer version permissions, served by [`LambdaApi`]: each operation's input
//! decoded by the restJson1 codec, its output encoded with its status.

use http::StatusCode;
use kumo_core::AwsError;
use kumo_lambda::layers::LayerFilters;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, RestInput, Shape};
use kumo_protocol::{Call, NoResult, RestAnswer};
use serde::Deserialize;

use crate::lambda_service::{answer, body, decode, Handler, LambdaApi, JSON_OUT, NO_BODY};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[
    ("ListLayers", |api, call| Box::pin(api.list_layers_or_find(call))),
    ("ListLayerVersions", |api, call| Box::pin(api.list_layer_versions(call))),
    ("PublishLayerVersion", |api, call| Box::pin(api.publish_layer_version(call))),
    ("GetLayerVersion", |api, call| Box::pin(api.get_layer_version(call))),
    ("DeleteLayerVersion", |api, call| Box::pin(api.delete_layer_version(call))),
    ("GetLayerVersionPolicy", |api, call| Box::pin(api.get_layer_version_policy(call))),
    ("AddLayerVersionPermission", |api, call| Box::pin(api.add_layer_version_permission(call))),
    ("RemoveLayerVersionPermission", |api, call| Box::pin(api.remove_layer_version_permission(call))),
];

const fn query(name: &'static str) -> Member {
    Member { name, location: Location::Query(name), shape: Shape::String }
}

const fn label(name: &'static str) -> Member {
    Member { name, location: Location::Label(name), shape: Shape::String }
}

const LAYER_NAME: Member = label("LayerName");
// A string here: a bad `VersionNumber` gets the message Lambda's handlers gave it (below).
const VERSION_NUMBER: Member = label("VersionNumber");
const MAX_ITEMS: Member = Member { name: "MaxItems", location: Location::Query("MaxItems"), shape: Shape::Integer };
const RUNTIME: Member = query("CompatibleRuntime");
const ARCHITECTURE: Member = query("CompatibleArchitecture");
const MARKER: Member = query("Marker");

/// `ListLayers`, or `GetLayerVersionByArn` (`?find=LayerVersion&Arn=…`) on the same path.
const LIST_LAYERS: Bindings = Bindings {
    members: &[RUNTIME, ARCHITECTURE, MARKER, MAX_ITEMS, query("find"), query("Arn")],
    payload: Payload::Empty,
};
const LIST_VERSIONS: Bindings =
    Bindings { members: &[LAYER_NAME, RUNTIME, ARCHITECTURE, MARKER, MAX_ITEMS], payload: Payload::Empty };
const LAYER: Bindings = Bindings { members: &[LAYER_NAME], payload: Payload::Empty };
const VERSION: Bindings = Bindings {
    members: &[LAYER_NAME, VERSION_NUMBER, label("StatementId"), query("RevisionId")],
    payload: Payload::Empty,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    layer_name: Option<String>,
    compatible_runtime: Option<String>,
    compatible_architecture: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
    #[serde(rename = "find")]
    find: Option<String>,
    arn: Option<String>,
}

impl RestInput for ListInput {}

impl ListInput {
    fn filters(&mut self) -> LayerFilters {
        LayerFilters { runtime: self.compatible_runtime.take(), architecture: self.compatible_architecture.take() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersionInput {
    layer_name: String,
    version_number: Option<String>,
    statement_id: Option<String>,
    revision_id: Option<String>,
}

impl RestInput for VersionInput {}

impl VersionInput {
    /// `VersionNumber` (a long in the model), with the message Lambda answers for a bad one.
    fn version_number(&self) -> Result<i64, AwsError> {
        let value = self.version_number.as_deref().unwrap_or_default();
        value.parse().map_err(|_| {
            AwsError::new(
                "ValidationException",
                400,
                format!("1 validation error detected: Value '{value}' at 'versionNumber' failed to satisfy constraint: Member must be a number"),
            )
        })
    }
}

impl LambdaApi {
    async fn publish_layer_version(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (VersionInput, _) = (decode(&call, &LAYER)?, body(&call)?);
        let published = self.lambda.publish_layer_version(call.context, input.layer_name, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &published)
    }

    async fn list_layers_or_find(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let mut input: ListInput = decode(&call, &LIST_LAYERS)?;
        if input.find.as_deref() == Some("LayerVersion") {
            let found = self.lambda.get_layer_version_by_arn(call.context, input.arn.unwrap_or_default()).await?;
            return answer(&JSON_OUT, StatusCode::OK, &found);
        }
        let filters = input.filters();
        let listed = self.lambda.list_layers(call.context, filters, input.marker, input.max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &listed)
    }

    async fn list_layer_versions(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let mut input: ListInput = decode(&call, &LIST_VERSIONS)?;
        let (filters, name) = (input.filters(), input.layer_name.unwrap_or_default());
        let listed =
            self.lambda.list_layer_versions(call.context, name, filters, input.marker, input.max_items).await?;
        answer(&JSON_OUT, StatusCode::OK, &listed)
    }

    async fn get_layer_version(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: VersionInput = decode(&call, &VERSION)?;
        let found =
            self.lambda.get_layer_version(call.context, input.layer_name.clone(), input.version_number()?).await?;
        answer(&JSON_OUT, StatusCode::OK, &found)
    }

    async fn delete_layer_version(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: VersionInput = decode(&call, &VERSION)?;
        let version = input.version_number()?;
        self.lambda.delete_layer_version(call.context, input.layer_name, version).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }

    async fn add_layer_version_permission(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (VersionInput, _) = (decode(&call, &VERSION)?, body(&call)?);
        let version = input.version_number()?;
        let (name, revision) = (input.layer_name, input.revision_id);
        let added = self.lambda.add_layer_version_permission(call.context, name, version, revision, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &added)
    }

    async fn get_layer_version_policy(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: VersionInput = decode(&call, &VERSION)?;
        let version = input.version_number()?;
        let policy = self.lambda.get_layer_version_policy(call.context, input.layer_name, version).await?;
        answer(&JSON_OUT, StatusCode::OK, &policy)
    }

    async fn remove_layer_version_permission(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: VersionInput = decode(&call, &VERSION)?;
        let version = input.version_number()?;
        let (name, sid, revision) = (input.layer_name, input.statement_id.unwrap_or_default(), input.revision_id);
        self.lambda.remove_layer_version_permission(call.context, name, version, sid, revision).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }
}
