//! Lambda's restJson1 binding for event source mappings.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, post, put, MethodRouter};
use http::StatusCode;

use crate::context::RequestContextExtractor as Context;
use crate::lambda_api::{json_body, max_items, with_status, Params};
use crate::{ApiError, Services};

/// Its operations and their handlers (routed by [`crate::lambda_operations`]).
pub fn operations() -> Vec<(&'static str, MethodRouter<Services>)> {
    vec![
        ("ListEventSourceMappings", get(list_mappings)),
        ("CreateEventSourceMapping", post(create_mapping)),
        ("GetEventSourceMapping", get(get_mapping)),
        ("UpdateEventSourceMapping", put(update_mapping)),
        ("DeleteEventSourceMapping", delete(delete_mapping)),
    ]
}

async fn create_mapping(
    State(services): State<Services>,
    Context(context): Context,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "CreateEventSourceMapping").await?;
    let mapping = services.lambda.create_event_source_mapping(context, request).await?;
    Ok(with_status(StatusCode::ACCEPTED, mapping))
}

async fn get_mapping(
    State(services): State<Services>,
    Context(context): Context,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    let mapping = services.lambda.get_event_source_mapping(context, uuid).await?;
    Ok(with_status(StatusCode::OK, mapping))
}

async fn update_mapping(
    State(services): State<Services>,
    Context(context): Context,
    Path(uuid): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = json_body(body, "UpdateEventSourceMapping").await?;
    let mapping = services.lambda.update_event_source_mapping(context, uuid, request).await?;
    Ok(with_status(StatusCode::ACCEPTED, mapping))
}

async fn delete_mapping(
    State(services): State<Services>,
    Context(context): Context,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    let mapping = services.lambda.delete_event_source_mapping(context, uuid).await?;
    Ok(with_status(StatusCode::ACCEPTED, mapping))
}

async fn list_mappings(
    State(services): State<Services>,
    Context(context): Context,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let max_items = max_items(&params)?;
    let listed = services
        .lambda
        .list_event_source_mappings(
            context,
            params.get("EventSourceArn").cloned(),
            params.get("FunctionName").cloned(),
            params.get("Marker").cloned(),
            max_items,
        )
        .await?;
    Ok(with_status(StatusCode::OK, listed))
}
