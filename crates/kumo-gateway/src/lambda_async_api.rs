//! Lambda's restJson1 binding for asynchronous invocation configuration.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post, put, MethodRouter};
use http::StatusCode;

use crate::context::RequestContextExtractor as Context;
use crate::lambda_api::{json_body, no_content, with_status, Params};
use crate::{ApiError, Services};

/// Its operations and their handlers (routed by [`crate::lambda_operations`]).
pub fn operations() -> Vec<(&'static str, MethodRouter<Services>)> {
    vec![
        ("GetFunctionEventInvokeConfig", get(get_config)),
        ("PutFunctionEventInvokeConfig", put(put_config)),
        ("UpdateFunctionEventInvokeConfig", post(update_config)),
        ("DeleteFunctionEventInvokeConfig", delete(delete_config)),
        ("ListFunctionEventInvokeConfigs", get(list_configs)),
    ]
}

async fn put_config(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "PutFunctionEventInvokeConfig").await?;
    let qualifier = params.get("Qualifier").cloned();
    let config = services.lambda.put_event_invoke_config(context, name, qualifier, request, false).await?;
    Ok(with_status(StatusCode::OK, config))
}

async fn update_config(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "UpdateFunctionEventInvokeConfig").await?;
    let qualifier = params.get("Qualifier").cloned();
    let config = services.lambda.put_event_invoke_config(context, name, qualifier, request, true).await?;
    Ok(with_status(StatusCode::OK, config))
}

async fn get_config(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let config = services.lambda.get_event_invoke_config(context, name, params.get("Qualifier").cloned()).await?;
    Ok(with_status(StatusCode::OK, config))
}

async fn list_configs(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let configs = services.lambda.list_event_invoke_configs(context, name).await?;
    Ok(with_status(StatusCode::OK, configs))
}

async fn delete_config(
    State(services): State<Services>,
    Context(context): Context,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    services.lambda.delete_event_invoke_config(context, name, params.get("Qualifier").cloned()).await?;
    Ok(no_content())
}
