//! Kumo's own endpoints under `/_kumo/`: health, status, metrics, code downloads and logs.
//! Logs, metering and metrics are an account's: the `account` query parameter names it, the
//! configured account (`000000000000` unless set) when it is absent.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, StatusCode};
use kumo_core::AwsError;

use crate::context::RequestContextExtractor as Context;
use crate::{ApiError, Services};

/// The `/_kumo` routes.
pub fn routes() -> Router<Services> {
    Router::new()
        .route("/_kumo/health", get(health))
        .route("/_kumo/status", get(status))
        .route("/_kumo/metrics", get(metrics))
        .route("/_kumo/code/{file}", get(code))
        .route("/_kumo/logs/{function}", get(logs))
        .route("/_kumo/metering/{function}", get(metering))
}

async fn health(State(services): State<Services>) -> Response {
    let runtimes = services.lambda.engine().runtimes();
    let pythons: Vec<String> = runtimes.pythons().keys().map(|minor| format!("python3.{minor}")).collect();
    let interpreters: serde_json::Map<String, serde_json::Value> = runtimes
        .pythons()
        .iter()
        .map(|(minor, path)| (format!("python3.{minor}"), path.display().to_string().into()))
        .collect();
    let node = runtimes.node().map(|(major, path)| serde_json::json!({ "major": major, "path": path }));
    Json(serde_json::json!({
        "status": "ok",
        "version": services.version,
        "auth": {
            "sigv4": if services.auth.insecure_accept_any_credentials { "insecure-accept-any-credentials" } else { "enforced" },
            "insecure_accept_any_credentials": services.auth.insecure_accept_any_credentials,
            "role_check": services.auth.role_check,
        },
        "services": crate::services_health(&services),
        "runtimes": { "python": pythons, "python_interpreters": interpreters, "node": node, "provided": true },
        "sandbox": runtimes.sandbox().report(),
    }))
    .into_response()
}

async fn status(State(services): State<Services>) -> Response {
    let engine = services.lambda.engine();
    let sandbox = engine.runtimes().sandbox();
    Json(serde_json::json!({
        "pools": engine.pool_counts(),
        "concurrency": engine.concurrency().snapshot(services.lambda.default_account()),
        "zygotes": sandbox.zygote_status(),
        "zygotes_unavailable": sandbox.zygotes_unavailable(),
        "prestarted": sandbox.prestarted_status(),
    }))
    .into_response()
}

/// The account an endpoint reports on: `?account=`, else the configured account.
fn account_of(services: &Services, params: &HashMap<String, String>) -> Result<String, ApiError> {
    match params.get("account") {
        None => Ok(services.lambda.default_account().to_string()),
        Some(account) if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) => Ok(account.clone()),
        Some(account) => Err(ApiError(AwsError::invalid_parameter(format!(
            "account must be a 12-digit account id, not '{account}'"
        )))),
    }
}

/// The in-memory counters (an account's async invocations per function, SQS per queue),
/// read-only, named after the CloudWatch metrics they stand for so that an exporter can publish
/// them as they are.
async fn metrics(
    State(services): State<Services>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = account_of(&services, &params)?;
    // SQS keeps every queue in the configured account (their ARNs say so), whoever created them.
    let queues = if account == services.sqs.account() { services.sqs.metrics() } else { Vec::new() };
    Ok(Json(serde_json::json!({
        "lambda": { "functions": services.lambda.engine().async_metrics().snapshot(&account) },
        "sqs": { "queues": queues },
    }))
    .into_response())
}

async fn code(State(services): State<Services>, Path(file): Path<String>) -> Result<Response, ApiError> {
    let path = file.strip_suffix(".zip").and_then(|sha| services.lambda.code_zip_path(sha));
    let Some(path) = path else {
        return Err(ApiError(AwsError::not_found("No such code package")));
    };
    let bytes = tokio::fs::read(path).await.map_err(|error| {
        tracing::error!(%error, "reading a code package failed");
        ApiError(AwsError::service())
    })?;
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    Ok(response)
}

async fn logs(
    State(services): State<Services>,
    Context(context): Context,
    Path(function): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = account_of(&services, &params)?;
    let after: i64 = params.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let limit: usize = params.get("limit").and_then(|l| l.parse().ok()).unwrap_or(1000).min(10_000);
    let engine = std::sync::Arc::clone(services.lambda.engine());
    engine.flush().await;
    let group = format!("/aws/lambda/{function}");
    let events = tokio::task::spawn_blocking(move || {
        engine.store().metadata.log_events(&account, &context.region, &group, after, limit)
    })
    .await
    .map_err(|_| ApiError(AwsError::service()))?
    .map_err(|error| {
        tracing::error!(%error, "reading logs failed");
        ApiError(AwsError::service())
    })?;
    Ok(Json(serde_json::json!({ "events": events })).into_response())
}

async fn metering(
    State(services): State<Services>,
    Context(context): Context,
    Path(function): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = account_of(&services, &params)?;
    let engine = std::sync::Arc::clone(services.lambda.engine());
    engine.flush().await;
    let records =
        tokio::task::spawn_blocking(move || engine.store().metadata.metering(&account, &context.region, &function))
            .await
            .map_err(|_| ApiError(AwsError::service()))?
            .map_err(|error| {
                tracing::error!(%error, "reading metering failed");
                ApiError(AwsError::service())
            })?;
    Ok(Json(serde_json::json!({ "records": records })).into_response())
}
