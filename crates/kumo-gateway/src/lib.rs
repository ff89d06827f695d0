//! The gateway: one HTTP server for every AWS API Kumo speaks. It gives each request its id,
//! routes it through kumo-protocol's registry (see `dispatch`), verifies its SigV4 signature,
//! builds its request context (region from the credential scope, account and caller from the
//! verified principal), and lets the registry decode, call and render (Lambda too, through
//! `LambdaApi`) — or, for Lambda's remaining operations and `/_kumo`, its axum routes.
//! Services never see HTTP.

mod auth;
mod context;
mod dispatch;
mod error;
mod kumo_api;
mod lambda_async_api;
mod lambda_code_signing_api;
mod lambda_constraints;
mod lambda_invoke_async_api;
mod lambda_layers_api;
mod lambda_mappings_api;
mod lambda_operations;
mod lambda_policy_api;
mod lambda_service;
mod lambda_stream_api;
mod lambda_urls_api;
mod lambda_versions_api;
mod limits;
mod listener;
mod payload;
mod query;
pub mod test_cbor_service;
pub mod test_service;

use std::sync::Arc;

pub use axum::Router;
use kumo_lambda::LambdaService;
use kumo_protocol::Registry;

pub use auth::{AuthSettings, KUMO_SIGNING_SERVICE};
pub use context::credential_scope;
pub use error::ApiError;
pub use lambda_operations::LAMBDA_OPERATIONS;
pub use lambda_service::LambdaApi;
pub use limits::{BODY_TIMEOUT, MAX_REQUEST_BODY};
pub use listener::ListenerLimits;

/// Everything the routes need.
#[derive(Clone)]
pub struct Services {
    /// The Lambda service (the operations `LambdaApi` does not serve yet are the gateway's path routes).
    pub lambda: Arc<LambdaService>,
    /// Every service the registry routes to, registered by the binary (one line each).
    pub registry: Arc<Registry>,
    /// Region used when a request is unsigned.
    pub default_region: String,
    /// Kumo's version, reported by the health endpoint.
    pub version: &'static str,
    /// Resolves the access keys of signed requests to principals (IAM's service also answers
    /// IAM and STS requests, through the registry like every other service).
    pub iam: Arc<kumo_iam::IamService>,
    /// How requests are authenticated.
    pub auth: AuthSettings,
    /// Documents anyone may read at their exact path under `/_kumo/` (SNS's signing certificate).
    pub open_documents: OpenDocuments,
}

/// Documents served to anyone, unsigned, each at one exact path (public material such as the
/// certificate that verifies SNS's message signatures); every other `/_kumo` path stays signed.
#[derive(Clone, Default)]
pub struct OpenDocuments(Arc<std::collections::BTreeMap<String, OpenDocument>>);

/// One open document.
#[derive(Clone)]
pub struct OpenDocument {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: bytes::Bytes,
}

impl OpenDocuments {
    /// The documents, by path (each must start with `/_kumo/`).
    pub fn new(documents: impl IntoIterator<Item = (String, OpenDocument)>) -> Self {
        Self(Arc::new(documents.into_iter().filter(|(path, _)| path.starts_with("/_kumo/")).collect()))
    }

    /// The document at exactly `path`.
    pub fn get(&self, path: &str) -> Option<&OpenDocument> {
        self.0.get(path)
    }
}

/// Every service's health by name, from the registry's probes (for `/_kumo/health`).
pub fn services_health(services: &Services) -> serde_json::Value {
    describe_health(services.registry.health())
}

/// Services' health as the health endpoint shows it: `running` or `unavailable: <why>` by name.
fn describe_health(health: Vec<(&'static str, kumo_protocol::ServiceHealth)>) -> serde_json::Value {
    health.into_iter().map(|(name, health)| (name.to_string(), serde_json::Value::String(health.describe()))).collect()
}

/// Builds the router (tests drive it without a socket).
pub fn app(services: Services) -> Router {
    // The middleware's state, behind one `Arc`: its state is cloned for every request.
    let gateway = Arc::new(dispatch::Gateway { registry: Arc::clone(&services.registry), services: services.clone() });
    let routes = Router::new().merge(kumo_api::routes()).fallback(dispatch::unrouted).with_state(services.clone());
    // One layer: request id, routing and limits, authentication, then registered services (or
    // the path routes).
    Router::new().fallback_service(routes).layer(axum::middleware::from_fn_with_state(gateway, dispatch::gateway))
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
