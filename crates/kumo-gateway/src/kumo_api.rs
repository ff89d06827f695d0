//! Kumo's own endpoints under `/_kumo/`: health, status, metrics (an account's counters as
//! JSON; the node's per-operation API metrics in Prometheus' format), code downloads and logs.
//!
//! Only `/_kumo/health` and the open documents (SNS's signing certificate, at its exact path) are
//! open. Code downloads take the presigned URL `GetFunction` handed out
//! (checked here, [`kumo_lambda::code_urls`]). Everything else needs a request SigV4-signed for
//! the service `kumo` (the authentication middleware checks the signature) and is then decided
//! by [`authorize`]: logs, metering and metrics are an account's (the signer's, or the one
//! `?account=` names), and only that account's root may read them; status and the Prometheus
//! metrics cover the whole node and are its operator's, the configured account's root.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, StatusCode};
use kumo_core::AwsError;

use kumo_iam::Principal;
use kumo_lambda::code_urls::CodeUrlError;

use crate::context::RequestContextExtractor as Context;
use crate::{ApiError, Services};

/// The `/_kumo` routes.
pub fn routes() -> Router<Services> {
    // What the health body says of the node's make-up (fixed once it serves), written once.
    let fixed = Arc::new(OnceLock::new());
    Router::new()
        .route("/_kumo/health", get(move |State(services): State<Services>| health(services, Arc::clone(&fixed))))
        .route("/_kumo/status", get(status))
        .route("/_kumo/metrics", get(metrics))
        .route("/_kumo/metrics/prometheus", get(prometheus))
        .route("/_kumo/code/{file}", get(code))
        .route("/_kumo/logs/{function}", get(logs))
        .route("/_kumo/metering/{function}", get(metering))
        .route("/_kumo/sns/{file}", get(open_document))
}

/// An open document (see [`crate::OpenDocuments`]); a signed request for any other path under
/// its prefix is answered 404.
async fn open_document(State(services): State<Services>, parts: http::request::Parts) -> Response {
    match services.open_documents.get(parts.uri.path()) {
        Some(document) => {
            let content_type = HeaderValue::from_static(document.content_type);
            (StatusCode::OK, [(http::header::CONTENT_TYPE, content_type)], document.body.clone()).into_response()
        }
        None => ApiError(AwsError::not_found("No such document")).into_response(),
    }
}

/// Kumo's health, open to anyone. 200 only while every service can serve (DESIGN: "200 only once
/// ready to serve"); a service that cannot (its store no longer keeps writes, a worker died)
/// makes it 503 with the same body, `status` then `unavailable`, so a readiness probe or a
/// supervisor watching the status code sees it, and the services map says which and why.
async fn health(services: Services, fixed: Arc<OnceLock<String>>) -> Response {
    let health = services.registry.health();
    let ready = health.iter().all(|(_, health)| *health == kumo_protocol::ServiceHealth::Running);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let described: BTreeMap<&str, String> = health.iter().map(|(name, health)| (*name, health.describe())).collect();
    let fixed = fixed.get_or_init(|| fixed_health(&services));
    let mut body = String::with_capacity(fixed.len() + 256);
    body.push_str(if ready { r#"{"status":"ok","services":"# } else { r#"{"status":"unavailable","services":"# });
    body.push_str(&serde_json::to_string(&described).unwrap_or_else(|_| "{}".to_string()));
    let auth = serde_json::json!({
        "sigv4": if services.auth.insecure_accept_any_credentials { "insecure-accept-any-credentials" } else { "enforced" },
        "insecure_accept_any_credentials": services.auth.insecure_accept_any_credentials,
        "role_check": services.auth.role_check,
        // Whether role sessions are held to their IAM policies (`--iam-enforcement`).
        "iam_enforcement": if services.iam.enforces_identity() { "on" } else { "off" },
    });
    body.push_str(r#","auth":"#);
    body.push_str(&auth.to_string());
    body.push(',');
    body.push_str(fixed);
    body.push('}');
    (status, [(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// The health body's members that do not change while Kumo runs (its version, its runtimes and
/// sandbox, settled at start), as JSON members without braces.
fn fixed_health(services: &Services) -> String {
    let runtimes = services.lambda.engine().runtimes();
    let pythons: Vec<String> = runtimes.pythons().keys().map(|minor| format!("python3.{minor}")).collect();
    let interpreters: serde_json::Map<String, serde_json::Value> = runtimes
        .pythons()
        .iter()
        .map(|(minor, path)| (format!("python3.{minor}"), path.display().to_string().into()))
        .collect();
    let node = runtimes.node().map(|(major, path)| serde_json::json!({ "major": major, "path": path }));
    let members = serde_json::json!({
        "version": services.version,
        "runtimes": { "python": pythons, "python_interpreters": interpreters, "node": node, "provided": true },
        "sandbox": runtimes.sandbox().report(),
    })
    .to_string();
    members.strip_prefix('{').and_then(|members| members.strip_suffix('}')).unwrap_or_default().to_string()
}

async fn status(
    State(services): State<Services>,
    Context(context): Context,
    parts: http::request::Parts,
) -> Result<Response, ApiError> {
    let operator = services.lambda.default_account().to_string();
    authorize(&crate::context::caller(&services, &parts), KumoAction::Status, &operator, &context.region)?;
    let engine = services.lambda.engine();
    let sandbox = engine.runtimes().sandbox();
    Ok(Json(serde_json::json!({
        "pools": engine.pool_counts(),
        "concurrency": engine.concurrency().snapshot(services.lambda.default_account()),
        "zygotes": sandbox.zygote_status(),
        "zygotes_unavailable": sandbox.zygotes_unavailable(),
        "prestarted": sandbox.prestarted_status(),
        "parked_launchers": sandbox.parked_launchers(),
    }))
    .into_response())
}

/// What a `/_kumo` endpoint reads, as an IAM-style action name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KumoAction {
    /// `/_kumo/logs/{function}`.
    Logs,
    /// `/_kumo/metering/{function}`.
    Metering,
    /// `/_kumo/metrics`.
    Metrics,
    /// `/_kumo/status`.
    Status,
}

impl KumoAction {
    /// The action's name after `kumo:` (as an IAM policy would name it).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Logs => "GetLogs",
            Self::Metering => "GetMetering",
            Self::Metrics => "GetMetrics",
            Self::Status => "GetStatus",
        }
    }
}

/// Decides whether `caller` may do `action` on the data of `account` in `region`: the one
/// place access to Kumo's own endpoints is decided. Today only the root of that account (a
/// configured access key, as an account's root may do anything) may; role and STS sessions,
/// functions' credentials among them, are refused. IAM policy evaluation extends this function
/// to let a session in when its policies allow `kumo:<action>`.
pub(crate) fn authorize(caller: &Principal, action: KumoAction, account: &str, region: &str) -> Result<(), AwsError> {
    let is_root = caller.session_token.is_none() && !caller.role_session;
    if is_root && caller.account == account {
        return Ok(());
    }
    Err(AwsError::new(
        "AccessDeniedException",
        403,
        format!(
            "User: {} is not authorized to perform: kumo:{} on resource: arn:aws:kumo:{region}:{account}:*",
            caller.arn,
            action.name()
        ),
    ))
}

/// The account an endpoint reports on (`?account=`, else the caller's), once [`authorize`]d.
fn authorized_account(
    services: &Services,
    parts: &http::request::Parts,
    params: &HashMap<String, String>,
    action: KumoAction,
    region: &str,
) -> Result<String, ApiError> {
    let caller = crate::context::caller(services, parts);
    let account = match params.get("account") {
        None => caller.account.clone(),
        Some(account) if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) => account.clone(),
        Some(account) => {
            let shown: String = account.chars().take(64).collect();
            return Err(ApiError(AwsError::invalid_parameter(format!(
                "account must be a 12-digit account id, not '{shown}'"
            ))));
        }
    };
    authorize(&caller, action, &account, region)?;
    Ok(account)
}

/// The in-memory counters (an account's async invocations per function, and each registered
/// service's, e.g. SQS per queue),
/// read-only, named after the CloudWatch metrics they stand for so that an exporter can publish
/// them as they are.
async fn metrics(
    State(services): State<Services>,
    Context(context): Context,
    parts: http::request::Parts,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = authorized_account(&services, &parts, &params, KumoAction::Metrics, &context.region)?;
    let mut metrics = serde_json::Map::new();
    let functions = services.lambda.engine().async_metrics().snapshot(&account);
    metrics.insert("lambda".to_string(), serde_json::json!({ "functions": functions }));
    for (service, counters) in services.registry.account_metrics(&account) {
        metrics.insert(service.to_string(), counters);
    }
    Ok(Json(metrics).into_response())
}

/// Every registered service's requests by operation and outcome, and their latencies, in
/// Prometheus' text format (`kumo_api_requests_total`, `kumo_api_request_duration_seconds`).
/// They cover every account's requests: the node's operator's to read, as status is.
async fn prometheus(
    State(services): State<Services>,
    Context(context): Context,
    parts: http::request::Parts,
) -> Result<Response, ApiError> {
    let operator = services.lambda.default_account().to_string();
    authorize(&crate::context::caller(&services, &parts), KumoAction::Metrics, &operator, &context.region)?;
    let mut response = services.registry.render_prometheus().into_response();
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    response.headers_mut().insert(http::header::CONTENT_TYPE, content_type);
    Ok(response)
}

/// Serves a code package to whoever holds its presigned URL, as S3 serves `Code.Location`.
async fn code(
    State(services): State<Services>,
    Path(file): Path<String>,
    parts: http::request::Parts,
) -> Result<Response, Response> {
    if !services.auth.insecure_accept_any_credentials {
        let host = parts.headers.get(http::header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
        let now = (kumo_core::time::now_millis() / 1000) as i64;
        let query = parts.uri.query().unwrap_or_default();
        services
            .lambda
            .code_urls()
            .verify(parts.method.as_str(), parts.uri.path(), query, host, now)
            .map_err(|error| s3_error(&error))?;
    }
    let path = file.strip_suffix(".zip").and_then(|sha| services.lambda.code_zip_path(sha));
    let Some(path) = path else {
        return Err(ApiError(AwsError::not_found("No such code package")).into_response());
    };
    let bytes = tokio::fs::read(path).await.map_err(|error| {
        tracing::error!(%error, "reading a code package failed");
        ApiError(AwsError::service()).into_response()
    })?;
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    Ok(response)
}

/// S3's answer to a refused presigned URL (`Code.Location` is an S3 URL on AWS): 403 and an
/// XML `<Error>` with S3's code and message.
fn s3_error(error: &CodeUrlError) -> Response {
    tracing::debug!(%error, "code download refused");
    let (code, message) = match error {
        CodeUrlError::NotPresigned => ("AccessDenied", "Access Denied".to_string()),
        CodeUrlError::Expired => ("AccessDenied", "Request has expired".to_string()),
        CodeUrlError::Malformed(message) => ("AuthorizationQueryParametersError", message.clone()),
        CodeUrlError::Mismatch => (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and \
             signing method."
                .to_string(),
        ),
    };
    let status =
        if matches!(error, CodeUrlError::Malformed(_)) { StatusCode::BAD_REQUEST } else { StatusCode::FORBIDDEN };
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let mut body = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    body.push_str(code);
    body.push_str("</Code><Message>");
    body.push_str(&xml_escape(&message));
    body.push_str("</Message><RequestId>");
    body.push_str(&request_id);
    body.push_str("</RequestId></Error>");
    let mut response = (status, body).into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// Escapes text for an XML element.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn logs(
    State(services): State<Services>,
    Context(context): Context,
    Path(function): Path<String>,
    parts: http::request::Parts,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = authorized_account(&services, &parts, &params, KumoAction::Logs, &context.region)?;
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
    parts: http::request::Parts,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = authorized_account(&services, &parts, &params, KumoAction::Metering, &context.region)?;
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

#[cfg(test)]
mod tests {
    use kumo_iam::{AccessKey, Principal};

    use super::{authorize, KumoAction};

    fn root(account: &str) -> Principal {
        Principal::root_with_key(&AccessKey {
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
            account: account.into(),
        })
    }

    #[test]
    fn only_an_accounts_root_reads_its_kumo_data() {
        assert_eq!(authorize(&root("000000000000"), KumoAction::Logs, "000000000000", "us-east-1"), Ok(()));
        let refused = authorize(&root("000000000000"), KumoAction::Metering, "111111111111", "us-east-1").unwrap_err();
        assert_eq!((refused.code, refused.status), ("AccessDeniedException", 403));
        assert_eq!(
            refused.message,
            "User: arn:aws:iam::000000000000:root is not authorized to perform: kumo:GetMetering on resource: \
             arn:aws:kumo:us-east-1:111111111111:*"
        );
        let mut session = root("000000000000");
        session.session_token = Some("token".into());
        session.role_session = true;
        assert!(authorize(&session, KumoAction::Status, "000000000000", "us-east-1").is_err());
        session.role_session = false;
        assert!(authorize(&session, KumoAction::Metrics, "000000000000", "us-east-1").is_err(), "GetSessionToken");
    }
}
