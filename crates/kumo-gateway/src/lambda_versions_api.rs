//! Lambda's restJson1 binding for versions, aliases, reserved and provisioned concurrency.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post, put, MethodRouter};
use http::StatusCode;

use crate::context::RequestContextExtractor as Context;
use crate::lambda_api::{json_body, max_items, no_content, with_status, Params};
use crate::{ApiError, Services};

/// Its operations and their handlers (routed by [`crate::lambda_operations`]).
pub fn operations() -> Vec<(&'static str, MethodRouter<Services>)> {
    vec![
        ("ListVersionsByFunction", get(list_versions)),
        ("PublishVersion", post(publish_version)),
        ("ListAliases", get(list_aliases)),
        ("CreateAlias", post(create_alias)),
        ("GetAlias", get(get_alias)),
        ("UpdateAlias", put(update_alias)),
        ("DeleteAlias", delete(delete_alias)),
        ("PutFunctionConcurrency", put(put_concurrency)),
        ("DeleteFunctionConcurrency", delete(delete_concurrency)),
        ("GetFunctionConcurrency", get(get_concurrency)),
        ("GetProvisionedConcurrencyConfig", get(get_provisioned)),
        ("PutProvisionedConcurrencyConfig", put(put_provisioned)),
        ("DeleteProvisionedConcurrencyConfig", delete(delete_provisioned)),
    ]
}

async fn publish_version(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "PublishVersion").await?;
    let published = services.lambda.publish_version(context, name, request).await?;
    Ok(with_status(StatusCode::CREATED, published))
}

async fn list_versions(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let max_items = max_items(&params)?;
    let listed = services.lambda.list_versions(context, name, params.get("Marker").cloned(), max_items).await?;
    Ok(with_status(StatusCode::OK, listed))
}

async fn put_concurrency(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "PutFunctionConcurrency").await?;
    let concurrency = services.lambda.put_function_concurrency(context, name, request).await?;
    Ok(with_status(StatusCode::OK, concurrency))
}

async fn get_concurrency(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let concurrency = services.lambda.get_function_concurrency(context, name).await?;
    Ok(with_status(StatusCode::OK, concurrency))
}

async fn delete_concurrency(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    services.lambda.delete_function_concurrency(context, name).await?;
    Ok(no_content())
}

async fn put_provisioned(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "PutProvisionedConcurrencyConfig").await?;
    let qualifier = params.get("Qualifier").cloned();
    let config = services.lambda.put_provisioned_concurrency(context, name, qualifier, request).await?;
    Ok(with_status(StatusCode::ACCEPTED, config))
}

async fn get_provisioned(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    if params.contains_key("List") {
        let listed = services.lambda.list_provisioned_concurrency(context, name).await?;
        return Ok(with_status(StatusCode::OK, listed));
    }
    let config = services.lambda.get_provisioned_concurrency(context, name, params.get("Qualifier").cloned()).await?;
    Ok(with_status(StatusCode::OK, config))
}

async fn delete_provisioned(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    services.lambda.delete_provisioned_concurrency(context, name, params.get("Qualifier").cloned()).await?;
    Ok(no_content())
}

async fn create_alias(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "CreateAlias").await?;
    let alias = services.lambda.create_alias(context, name, request).await?;
    Ok(with_status(StatusCode::CREATED, alias))
}

async fn get_alias(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let alias = services.lambda.get_alias(context, name, alias).await?;
    Ok(with_status(StatusCode::OK, alias))
}

async fn update_alias(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, alias)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "UpdateAlias").await?;
    let alias = services.lambda.update_alias(context, name, alias, request).await?;
    Ok(with_status(StatusCode::OK, alias))
}

async fn delete_alias(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    services.lambda.delete_alias(context, name, alias).await?;
    Ok(no_content())
}

async fn list_aliases(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let max_items = max_items(&params)?;
    let version = params.get("FunctionVersion").cloned();
    let listed = services.lambda.list_aliases(context, name, version, params.get("Marker").cloned(), max_items).await?;
    Ok(with_status(StatusCode::OK, listed))
}
