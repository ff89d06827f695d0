//! The gateway: one HTTP server for every AWS API Kumo speaks. It verifies each request's SigV4
//! signature, decodes the wire protocol into typed requests, takes the region from the
//! credential scope and the account from the verified caller, calls the service, and renders
//! results and AWS errors. Services never see HTTP.

mod auth;
mod context;
mod dispatch;
mod error;
mod iam_api;
mod kumo_api;
mod lambda_api;
mod lambda_async_api;
mod lambda_layers_api;
mod lambda_mappings_api;
mod lambda_policy_api;
mod lambda_versions_api;
mod limits;
mod listener;
mod query;
mod sqs_api;
mod sts_api;

use std::sync::Arc;

pub use axum::Router;
use kumo_lambda::LambdaService;

pub use auth::{AuthSettings, KUMO_SIGNING_SERVICE};
pub use context::credential_scope;
pub use error::ApiError;
pub use limits::{BODY_TIMEOUT, MAX_REQUEST_BODY};
pub use listener::ListenerLimits;

/// Everything the routes need.
#[derive(Clone)]
pub struct Services {
    /// The Lambda service.
    pub lambda: Arc<LambdaService>,
    /// The SQS service.
    pub sqs: Arc<kumo_sqs::SqsService>,
    /// Region used when a request is unsigned.
    pub default_region: String,
    /// Kumo's version, reported by the health endpoint.
    pub version: &'static str,
    /// IAM and STS; also resolves the access keys of signed requests.
    pub iam: Arc<kumo_iam::IamService>,
    /// How requests are authenticated.
    pub auth: AuthSettings,
}

/// Builds the router (tests drive it without a socket).
pub fn app(services: Services) -> Router {
    Router::new()
        .merge(kumo_api::routes())
        .merge(lambda_api::routes())
        .fallback(dispatch::by_protocol)
        .layer(axum::middleware::from_fn_with_state(services.clone(), auth::authenticate))
        .with_state(services)
}

/// Serves `app` on `listener` until `shutdown` resolves, with the default listener limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Services,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(listener, services, ListenerLimits::default(), shutdown).await
}

/// Serves `app` on `listener` until `shutdown` resolves: at most `limits.max_connections`
/// connections at once, each with a deadline for its request headers.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    services: Services,
    limits: ListenerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve(listener, app(services), limits, shutdown).await
}

/// Serves `router` on a listener inside an execution environment's network namespace (see the
/// sandbox's `design.md`), every request carrying `caller` in its extensions so that the layers
/// below know which environment called. Runs until the task running it is aborted.
pub async fn serve_environment(
    listener: tokio::net::TcpListener,
    router: Router,
    caller: kumo_core::CallerEnvironment,
) -> std::io::Result<()> {
    axum::serve(listener, router.layer(axum::Extension(caller))).await
}
