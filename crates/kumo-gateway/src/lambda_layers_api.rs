//! Lambda's restJson1 binding for layers and their permissions (`/2018-10-31/layers…`).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post, MethodRouter};
use http::StatusCode;
use kumo_core::AwsError;
use kumo_lambda::layers::LayerFilters;

use crate::context::RequestContextExtractor as Context;
use crate::lambda_api::{json_body, max_items, no_content, with_status, Params};
use crate::{ApiError, Services};

/// Its operations and their handlers (routed by [`crate::lambda_operations`]).
pub fn operations() -> Vec<(&'static str, MethodRouter<Services>)> {
    vec![
        ("ListLayers", get(list_layers_or_find)),
        ("ListLayerVersions", get(list_layer_versions)),
        ("PublishLayerVersion", post(publish_layer_version)),
        ("GetLayerVersion", get(get_layer_version)),
        ("DeleteLayerVersion", delete(delete_layer_version)),
        ("GetLayerVersionPolicy", get(get_layer_version_policy)),
        ("AddLayerVersionPermission", post(add_layer_version_permission)),
        ("RemoveLayerVersionPermission", delete(remove_layer_version_permission)),
    ]
}

/// `VersionNumber` from the path (a long in the model).
fn version_number(value: &str) -> Result<i64, ApiError> {
    value.parse().map_err(|_| {
        ApiError(AwsError::new(
            "ValidationException",
            400,
            format!("1 validation error detected: Value '{value}' at 'versionNumber' failed to satisfy constraint: Member must be a number"),
        ))
    })
}

fn filters(params: &std::collections::HashMap<String, String>) -> LayerFilters {
    LayerFilters {
        runtime: params.get("CompatibleRuntime").cloned(),
        architecture: params.get("CompatibleArchitecture").cloned(),
    }
}

async fn publish_layer_version(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "PublishLayerVersion").await?;
    let published = services.lambda.publish_layer_version(context, name, request).await?;
    Ok(with_status(StatusCode::CREATED, published))
}

/// `ListLayers`, or `GetLayerVersionByArn` (`?find=LayerVersion&Arn=…`) on the same path.
async fn list_layers_or_find(
    State(services): State<Services>,
    Context(context): Context,
    Query(params): Params,
) -> Result<Response, ApiError> {
    if params.get("find").map(String::as_str) == Some("LayerVersion") {
        let arn = params.get("Arn").cloned().unwrap_or_default();
        let found = services.lambda.get_layer_version_by_arn(context, arn).await?;
        return Ok(with_status(StatusCode::OK, found));
    }
    let max_items = max_items(&params)?;
    let marker = params.get("Marker").cloned();
    let listed = services.lambda.list_layers(context, filters(&params), marker, max_items).await?;
    Ok(with_status(StatusCode::OK, listed))
}

async fn list_layer_versions(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let max_items = max_items(&params)?;
    let marker = params.get("Marker").cloned();
    let listed = services.lambda.list_layer_versions(context, name, filters(&params), marker, max_items).await?;
    Ok(with_status(StatusCode::OK, listed))
}

async fn get_layer_version(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let found = services.lambda.get_layer_version(context, name, version_number(&version)?).await?;
    Ok(with_status(StatusCode::OK, found))
}

async fn delete_layer_version(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    services.lambda.delete_layer_version(context, name, version_number(&version)?).await?;
    Ok(no_content())
}

async fn add_layer_version_permission(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, version)): Path<(String, String)>,
    Query(params): Params,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "AddLayerVersionPermission").await?;
    let version = version_number(&version)?;
    let revision = params.get("RevisionId").cloned();
    let added = services.lambda.add_layer_version_permission(context, name, version, revision, request).await?;
    Ok(with_status(StatusCode::CREATED, added))
}

async fn get_layer_version_policy(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let policy = services.lambda.get_layer_version_policy(context, name, version_number(&version)?).await?;
    Ok(with_status(StatusCode::OK, policy))
}

async fn remove_layer_version_permission(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, version, sid)): Path<(String, String, String)>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let version = version_number(&version)?;
    let revision = params.get("RevisionId").cloned();
    services.lambda.remove_layer_version_permission(context, name, version, sid, revision).await?;
    Ok(no_content())
}
