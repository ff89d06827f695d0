//! The gateway: one HTTP server for every AWS API Kumo speaks. It gives each request its id,
//! routes it through kumo-protocol's registry (see `dispatch`), verifies its SigV4 signature,
//! builds its request context (region from the credential scope, account and caller from the
//! verified principal), and lets the registry decode, call and render — or, for path-routed
//! services (Lambda's restJson1, `/_kumo`), its axum routes. Services never see HTTP.

mod auth;
#[cfg(test)]
mod codec_tests;
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
mod payload;
mod query;
mod sqs_api;
mod sts_api;
mod test_service;

use std::sync::Arc;

pub use axum::Router;
use kumo_lambda::LambdaService;
use kumo_protocol::{PathService, Registry, ServiceHealth};

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

/// The registry of every service Kumo serves: one line per service.
pub fn registry(services: &Services) -> Registry {
    let mut registry = Registry::new();
    registry.register_path_service(PathService {
        name: "lambda",
        signing_name: "lambda",
        health: Box::new(|| ServiceHealth::Running),
    });
    registry.register(Arc::new(sqs_api::SqsApi::new(Arc::clone(&services.sqs))));
    registry.register(Arc::new(iam_api::IamApi::new(Arc::clone(&services.iam))));
    registry.register(Arc::new(sts_api::StsApi::new(Arc::clone(&services.iam))));
    if test_service::enabled() {
        registry.register(Arc::new(test_service::StreamingTestApi::default()));
    }
    registry
}

/// Every service's health by name, from the registry's probes (for `/_kumo/health`).
pub fn services_health(services: &Services) -> serde_json::Value {
    let health = registry(services).health();
    health.into_iter().map(|(name, health)| (name.to_string(), serde_json::Value::String(health.describe()))).collect()
}

/// Builds the router (tests drive it without a socket).
pub fn app(services: Services) -> Router {
    let gateway = dispatch::Gateway { registry: Arc::new(registry(&services)), services: services.clone() };
    let routes = Router::new()
        .merge(kumo_api::routes())
        .merge(lambda_api::routes())
        .fallback(dispatch::unrouted)
        .with_state(services.clone());
    // Layers run outermost last-added first: request id, routing and limits, authentication,
    // then registered services (or the path routes).
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(gateway.clone(), dispatch::to_service))
        .layer(axum::middleware::from_fn_with_state(services, auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(gateway, dispatch::route_request))
        .layer(axum::middleware::from_fn(dispatch::assign_request_id))
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
