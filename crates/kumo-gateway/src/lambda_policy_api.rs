//! Lambda's restJson1 binding for resource-based policies, tags and code signing.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post, MethodRouter};
use http::{StatusCode, Uri};

use crate::context::RequestContextExtractor as Context;
use crate::lambda_api::{json_body, no_content, with_status, Params};
use crate::{ApiError, Services};

/// Its operations and their handlers (routed by [`crate::lambda_operations`]).
pub fn operations() -> Vec<(&'static str, MethodRouter<Services>)> {
    vec![
        ("GetPolicy", get(get_policy)),
        ("AddPermission", post(add_permission)),
        ("RemovePermission", delete(remove_permission)),
        ("ListTags", get(list_tags)),
        ("TagResource", post(tag_resource)),
        ("UntagResource", delete(untag_resource)),
        ("GetFunctionCodeSigningConfig", get(code_signing_config)),
    ]
}

async fn add_permission(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "AddPermission").await?;
    let qualifier = params.get("Qualifier").cloned();
    let added = services.lambda.add_permission(context, name, qualifier, request).await?;
    Ok(with_status(StatusCode::CREATED, added))
}

async fn get_policy(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let policy = services.lambda.get_policy(context, name, params.get("Qualifier").cloned()).await?;
    Ok(with_status(StatusCode::OK, policy))
}

async fn remove_permission(
    State(services): State<Services>,
    Context(context): Context,
    Path((name, sid)): Path<(String, String)>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let (qualifier, revision) = (params.get("Qualifier").cloned(), params.get("RevisionId").cloned());
    services.lambda.remove_permission(context, name, sid, qualifier, revision).await?;
    Ok(no_content())
}

async fn tag_resource(
    State(services): State<Services>,
    Context(context): Context,
    Path(arn): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "TagResource").await?;
    services.lambda.tag_resource(context, arn, request).await?;
    Ok(no_content())
}

async fn untag_resource(
    State(services): State<Services>,
    Context(context): Context,
    Path(arn): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    // `tagKeys` repeats (`?tagKeys=a&tagKeys=b`), which a map of parameters would collapse.
    let keys: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.strip_prefix("tagKeys="))
        .map(kumo_core::sigv4::percent_decode)
        .collect();
    services.lambda.untag_resource(context, arn, keys).await?;
    Ok(no_content())
}

async fn list_tags(
    State(services): State<Services>,
    Context(context): Context,
    Path(arn): Path<String>,
) -> Result<Response, ApiError> {
    let tags = services.lambda.list_tags(context, arn).await?;
    Ok(with_status(StatusCode::OK, tags))
}

async fn code_signing_config(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let config = services.lambda.get_function_code_signing_config(context, name).await?;
    Ok(with_status(StatusCode::OK, config))
}
