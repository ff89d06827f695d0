//! Lambda's restJson1 binding for asynchronous invocation configuration.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::StatusCode;

use crate::context::RequestContextExtractor as Context;
use crate::lambda_api::{json_body, no_content, with_status, Params};
use crate::{ApiError, Services};

/// The routes.
pub fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(get_config).put(put_config).post(update_config).delete(delete_config),
        )
        .route("/2019-09-25/functions/{name}/event-invoke-config/list", get(list_configs))
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
