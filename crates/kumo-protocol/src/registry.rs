//! The service registry: which service a request is for, in AWS's order, and the one place that
//! decodes, calls and renders (answer or error) for every registered service.
//!
//! Routing order ([`Registry::route`]):
//! 1. Kumo's own `/_kumo/` paths, then the **host** (virtual-hosted S3 `bucket.s3.…`,
//!    `id.execute-api.…`, `id.lambda-url.…`: services declare [`HostPattern`]s);
//! 2. the **`X-Amz-Target`** prefix (AWS JSON), or **`smithy-protocol: rpc-v2-cbor`** with its
//!    `/service/<Name>/operation/<Op>` path;
//! 3. the **signing service** of the SigV4 credential scope (awsQuery services; services routed
//!    by path, like Lambda, claim their signing name so that only requests signed for them reach
//!    their paths: an S3 request for a bucket named `2015-03-31` never reaches Lambda);
//! 4. **path routes** (Lambda's restJson1 routes, served by the gateway's router).
//!
//! Every request [`Registry::handle`] serves counts in its operation's [`metrics`](crate::metrics)
//! (outcome and latency), made when its service registers.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use kumo_core::{AwsError, RequestContext};

use crate::metrics::{Outcome, ServiceMetrics};
use crate::query::xml::XmlErrorFields;
use crate::query::QueryRequest;
use crate::rest::{RestMatch, RestTable};
use crate::service::{AwsService, Call, HostPattern, Input, Protocol, RestAnswer, ServiceDescriptor, ServiceHealth};
use crate::signature::SignedHead;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The gateway's path routes: `/_kumo`, and services routed by path (Lambda).
    Paths,
    /// A registered service.
    Service {
        /// Its index in the registry.
        index: usize,
        /// The protocol the request speaks.
        protocol: Protocol,
        /// The operation, when the headers name it (AWS JSON, CBOR); awsQuery names it in the body.
        operation: Option<String>,
    },
    /// Addressed to a service Kumo does not have (an unknown target prefix or signing name).
    Unknown {
        /// What named it, for the error message.
        name: String,
    },
}

/// A service served by the gateway's path routes (Lambda's restJson1), known to the registry
/// for routing by signing name and for health.
pub struct PathService {
    /// The name in `/_kumo/health`.
    pub name: &'static str,
    /// Its SigV4 signing name.
    pub signing_name: &'static str,
    /// Its health probe.
    pub health: Box<dyn Fn() -> ServiceHealth + Send + Sync>,
}

pub use kumo_core::sigv4::CredentialScope;

/// The credential scope of the `Authorization` header or of a presigned URL's `X-Amz-Credential`
/// (from the [`SignedHead`] routing parsed, else parsed now).
pub fn credential_scope(parts: &Parts) -> Option<CredentialScope> {
    SignedHead::of(parts).scope()
}

/// Every service Kumo serves.
#[derive(Default)]
pub struct Registry {
    services: Vec<Arc<dyn AwsService>>,
    /// Each service's per-operation metrics, by the service's index.
    metrics: Vec<Arc<ServiceMetrics>>,
    path_services: Vec<PathService>,
    /// The per-operation metrics of path-routed services that declared their operations.
    path_metrics: Vec<Arc<ServiceMetrics>>,
    /// The operation tables of path-routed services, matched while routing, with the index of
    /// the registered service that serves them (`None`: the gateway's router serves them all).
    rest_tables: Vec<(&'static RestTable, Option<usize>)>,
}

/// One operation's counters, for a path route to count its requests in (the gateway makes one
/// per route when it builds its router: no lookup per request).
#[derive(Debug, Clone)]
pub struct OperationCounter {
    metrics: Arc<ServiceMetrics>,
    index: usize,
}

impl OperationCounter {
    /// Counts one request that ended with HTTP status `status` after `elapsed`.
    pub fn record(&self, status: u16, elapsed: std::time::Duration) {
        self.metrics.row(self.index).record(Outcome::of_status(status), elapsed);
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a service (one line per service).
    pub fn register(&mut self, service: Arc<dyn AwsService>) -> &mut Self {
        self.metrics.push(Arc::new(ServiceMetrics::new(service.descriptor().name, service.operation_names())));
        self.services.push(service);
        self
    }

    /// Registers a service whose operations are the gateway's path routes.
    pub fn register_path_service(&mut self, service: PathService) -> &mut Self {
        self.path_services.push(service);
        self
    }

    /// Registers a path-routed service with its restJson1 operations: their requests count in
    /// per-operation metrics through the [`OperationCounter`]s of [`Self::path_operation`].
    pub fn register_rest_service(&mut self, service: PathService, operations: &'static RestTable) -> &mut Self {
        self.path_metrics.push(Arc::new(ServiceMetrics::new(service.name, operations.names())));
        self.rest_tables.push((operations, None));
        self.register_path_service(service)
    }

    /// Registers a restJson1 service routed by method and path through `operations`: a request
    /// for an operation the service serves ([`AwsService::body_limit`] knows it) is routed to it
    /// ([`Route::Service`]), any other of the table's to the gateway's path routes, which count
    /// in the same per-operation metrics ([`Self::path_operation`]).
    pub fn register_rest(&mut self, service: Arc<dyn AwsService>, operations: &'static RestTable) -> &mut Self {
        let metrics = Arc::new(ServiceMetrics::new(service.descriptor().name, operations.names()));
        self.rest_tables.push((operations, Some(self.services.len())));
        self.path_metrics.push(Arc::clone(&metrics));
        self.metrics.push(metrics);
        self.services.push(service);
        self
    }

    /// The restJson1 operation a path-routed request names by its method and path, with the
    /// table it is in (whose `too_large` is the service's error for a body over its limit).
    pub fn rest_operation<'a>(&self, parts: &'a Parts) -> Option<(&'static RestTable, RestMatch<'a>)> {
        let path = parts.uri.path();
        self.rest_tables.iter().find_map(|(table, _)| Some((*table, table.route(&parts.method, path)?)))
    }

    /// The counter of a path-routed service's operation, if it declared it.
    pub fn path_operation(&self, service: &str, operation: &str) -> Option<OperationCounter> {
        let metrics = self.path_metrics.iter().find(|metrics| metrics.service() == service)?;
        let index = metrics.index_of(operation)?;
        Some(OperationCounter { metrics: Arc::clone(metrics), index })
    }

    /// The service at `index` of a [`Route::Service`].
    pub fn service(&self, index: usize) -> Option<&Arc<dyn AwsService>> {
        self.services.get(index)
    }

    /// The per-operation metrics of the service at `index`.
    pub fn metrics(&self, index: usize) -> Option<&ServiceMetrics> {
        self.metrics.get(index).map(|metrics| &**metrics)
    }

    /// Every registered service's per-operation metrics in Prometheus' text format.
    pub fn render_prometheus(&self) -> String {
        let mut text = String::new();
        // A restJson1 service's metrics are both its own and its path routes': rendered once.
        let path_only =
            self.path_metrics.iter().filter(|metrics| !self.metrics.iter().any(|own| Arc::ptr_eq(own, metrics)));
        let services = path_only.chain(self.metrics.iter()).map(|metrics| &**metrics);
        crate::metrics::render(services, &mut text);
        text
    }

    /// Every registered service's counters of `account`'s resources, by service name
    /// ([`AwsService::account_metrics`]).
    pub fn account_metrics(&self, account: &str) -> Vec<(&'static str, serde_json::Value)> {
        let services = self.services.iter();
        services.filter_map(|service| Some((service.descriptor().name, service.account_metrics(account)?))).collect()
    }

    /// Every service's health, by name.
    pub fn health(&self) -> Vec<(&'static str, ServiceHealth)> {
        let registered = self.services.iter().map(|service| (service.descriptor().name, service.health()));
        let by_path = self.path_services.iter().map(|service| (service.name, (service.health)()));
        by_path.chain(registered).collect()
    }

    /// Where `parts` goes, in AWS's order (see the module doc).
    pub fn route(&self, parts: &Parts) -> Route {
        if parts.uri.path().starts_with("/_kumo/") {
            return Route::Paths;
        }
        if let Some(route) = self.route_by_host(parts) {
            return route;
        }
        if let Some(route) = self.route_by_target(parts) {
            return route;
        }
        let head = SignedHead::of(parts);
        if let Some(signing_name) = head.service().filter(|service| !service.is_empty()) {
            let found = self.services.iter().position(|service| service.descriptor().signing_name == signing_name);
            if let Some(index) = found {
                if let Some(route) = self.route_rest(parts, Some(index)) {
                    return route;
                }
                let service = &self.services[index];
                let descriptor = service.descriptor();
                let protocol = if descriptor.protocols.contains(&Protocol::AwsQuery) {
                    Protocol::AwsQuery
                } else {
                    descriptor.protocols.first().copied().unwrap_or(Protocol::AwsQuery)
                };
                let operation = service.head_operation(parts).map(str::to_string);
                return Route::Service { index, protocol, operation };
            }
            if self.path_services.iter().any(|service| service.signing_name == signing_name) {
                return Route::Paths;
            }
            return Route::Unknown { name: signing_name.to_string() };
        }
        self.route_rest(parts, None).unwrap_or(Route::Paths)
    }

    /// The route of a request for a restJson1 service's paths: the service, for an operation it
    /// serves; else the path routes. `None` when `only` (a service's index) has no table, or no
    /// table has the request's operation and `only` is `None`.
    fn route_rest(&self, parts: &Parts, only: Option<usize>) -> Option<Route> {
        let mut tables = self.rest_tables.iter().filter(|(_, index)| only.is_none() || *index == only).peekable();
        tables.peek()?;
        for (table, index) in tables {
            let Some(matched) = table.route(&parts.method, parts.uri.path()) else {
                continue;
            };
            let served = index.filter(|index| {
                self.services.get(*index).is_some_and(|service| service.body_limit(matched.operation.name).is_some())
            });
            return Some(match served {
                Some(index) => {
                    let operation = Some(matched.operation.name.to_string());
                    Route::Service { index, protocol: Protocol::RestJson1, operation }
                }
                None => Route::Paths,
            });
        }
        only.map(|_| Route::Paths)
    }

    /// The error for a body over `limit` on `route`, in its service's words and protocol.
    pub fn too_large(&self, route: &Route, limit: usize) -> AwsError {
        match route {
            Route::Service { index, protocol, operation } => match self.services.get(*index) {
                Some(service) => service.too_large(operation.as_deref(), limit, *protocol),
                None => too_large(limit, *protocol),
            },
            _ => too_large(limit, Protocol::RestJson1),
        }
    }

    fn route_by_host(&self, parts: &Parts) -> Option<Route> {
        let host =
            parts.headers.get(http::header::HOST).and_then(|host| host.to_str().ok()).or_else(|| parts.uri.host())?;
        let host = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|byte| byte.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        let second_label = host.split('.').nth(1)?;
        self.services.iter().enumerate().find_map(|(index, service)| {
            let descriptor = service.descriptor();
            let claims = descriptor.hosts.iter().any(|HostPattern { label }| *label == second_label);
            let protocol = descriptor.protocols.first().copied()?;
            let operation = || service.head_operation(parts).map(str::to_string);
            claims.then(|| Route::Service { index, protocol, operation: operation() })
        })
    }

    fn route_by_target(&self, parts: &Parts) -> Option<Route> {
        let header = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok());
        if let Some((prefix, operation)) = header("x-amz-target").and_then(|target| target.split_once('.')) {
            let found =
                self.services.iter().position(|service| service.descriptor().json_target_prefix == Some(prefix));
            let Some(index) = found else {
                return Some(Route::Unknown { name: prefix.to_string() });
            };
            let protocols = self.services[index].descriptor().protocols;
            let json_1_1 = header("content-type").is_some_and(|kind| kind.contains("json-1.1"))
                || !protocols.contains(&Protocol::AwsJson1_0);
            let protocol = if json_1_1 { Protocol::AwsJson1_1 } else { Protocol::AwsJson1_0 };
            return Some(Route::Service { index, protocol, operation: Some(operation.to_string()) });
        }
        if header("smithy-protocol") == Some(crate::cbor::SMITHY_PROTOCOL) {
            let mut segments = parts.uri.path().trim_start_matches('/').split('/');
            let (Some("service"), Some(name), Some("operation"), Some(operation), None) =
                (segments.next(), segments.next(), segments.next(), segments.next(), segments.next())
            else {
                return Some(Route::Unknown { name: parts.uri.path().to_string() });
            };
            let found = self.services.iter().position(|service| service.descriptor().cbor_service_name == Some(name));
            return Some(match found {
                Some(index) => {
                    Route::Service { index, protocol: Protocol::RpcV2Cbor, operation: Some(operation.to_string()) }
                }
                None => Route::Unknown { name: name.to_string() },
            });
        }
        None
    }

    /// The largest body `route` accepts before it is read (`None`: not the registry's to say).
    pub fn body_limit(&self, route: &Route) -> Option<usize> {
        let Route::Service { index, operation, .. } = route else {
            return None;
        };
        let service = self.services.get(*index)?;
        let default = service.descriptor().default_body_limit;
        Some(operation.as_deref().and_then(|operation| service.body_limit(operation)).unwrap_or(default))
    }

    /// The body limit of `route` when its operation streams its body ([`AwsService::streams_body`];
    /// only operations named in the request's head can: AWS JSON, CBOR, host or path routes).
    pub fn streaming_body(&self, route: &Route) -> Option<crate::StreamingBody> {
        let Route::Service { index, operation: Some(operation), .. } = route else {
            return None;
        };
        let service = self.services.get(*index)?;
        if !service.streams_body(operation) {
            return None;
        }
        let limit = service.body_limit(operation).unwrap_or(service.descriptor().default_body_limit);
        Some(crate::StreamingBody { limit: limit as u64 })
    }

    /// Calls and renders one request to a streaming operation: its body goes to the operation
    /// unread, as [`Input::Stream`].
    pub async fn handle_stream(
        &self,
        index: usize,
        protocol: Protocol,
        operation: String,
        parts: &Parts,
        body: crate::BodyStream,
        context: RequestContext,
    ) -> http::Response<Bytes> {
        let request_id = context.request_id.clone();
        let Some(service) = self.services.get(index) else {
            let error = AwsError::new("UnknownOperationException", 404, "No such service");
            return crate::rest_json::error_response(&error, &request_id);
        };
        let descriptor = service.descriptor();
        let body_limit = service.body_limit(&operation).unwrap_or(descriptor.default_body_limit);
        let input = Input::Stream(body);
        let call = Call { operation: &operation, context, input, protocol, descriptor, parts, body_limit };
        match service.call(call).await {
            Ok(encoded) => crate::response(StatusCode::OK, encoded.content_type, encoded.body, &request_id),
            Err(error) => {
                tracing::debug!(service = descriptor.name, code = error.code, message = %error.message, "aws error");
                render_error(descriptor, protocol, &error, &request_id)
            }
        }
    }

    /// Serves one request to a service whose codec owns the exchange (restXml,
    /// [`AwsService::call_http`]): its body whole ([`Input::Xml`]) or streaming
    /// ([`Input::Stream`]), its answer's body possibly streaming (an object's content).
    pub async fn handle_http(
        &self,
        index: usize,
        operation: Option<String>,
        parts: &Parts,
        input: Input,
        context: RequestContext,
    ) -> http::Response<crate::rest_xml::ResponseBody> {
        let started = Instant::now();
        let request_id = context.request_id.clone();
        let (Some(service), Some(metrics)) = (self.services.get(index), self.metrics.get(index)) else {
            let error = AwsError::new("InternalError", 500, "We encountered an internal error. Please try again.");
            return crate::rest_xml::error_response(&error, &request_id).map(crate::rest_xml::full);
        };
        let descriptor = service.descriptor();
        let operation = operation.unwrap_or_default();
        let body_limit = service.body_limit(&operation).unwrap_or(descriptor.default_body_limit);
        let protocol = Protocol::RestXml;
        let call = Call { operation: &operation, context, input, protocol, descriptor, parts, body_limit };
        let response = match service.call_http(call).await {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(service = descriptor.name, code = error.code, message = %error.message, "aws error");
                render_error(descriptor, protocol, &error, &request_id).map(crate::rest_xml::full)
            }
        };
        // The operation the codec resolved, else the one routing named (an upload), else none.
        let resolved = response.extensions().get::<crate::rest_xml::Operation>().map(|resolved| resolved.0);
        let counted = match resolved.or((!operation.is_empty()).then_some(operation.as_str())) {
            Some(operation) => metrics.operation(operation),
            None => metrics.unknown(),
        };
        counted.record(Outcome::of_status(response.status().as_u16()), started.elapsed());
        response
    }

    /// Whether the restJson1 `operation` of the service at `index` answers with a streaming body
    /// ([`AwsService::streams_response`]): such a request goes to [`Self::handle_streamed`].
    pub fn streams_response(&self, index: usize, protocol: Protocol, operation: &str) -> bool {
        protocol == Protocol::RestJson1
            && self.services.get(index).is_some_and(|service| service.streams_response(operation))
    }

    /// Calls and renders one request to a restJson1 operation whose answer streams: the answer's
    /// head is rendered at once, its body goes on as the service produces it. Counted in the
    /// operation's metrics when its head is ready (the latency is the time to the first byte).
    pub async fn handle_streamed(
        &self,
        index: usize,
        operation: String,
        parts: &Parts,
        body: Bytes,
        context: RequestContext,
    ) -> http::Response<crate::rest_xml::ResponseBody> {
        let started = Instant::now();
        let request_id = context.request_id.clone();
        let (Some(service), Some(metrics)) = (self.services.get(index), self.metrics.get(index)) else {
            let error = AwsError::new("UnknownOperationException", 404, "No such service");
            return crate::rest_json::error_response(&error, &request_id).map(crate::rest_xml::full);
        };
        let descriptor = service.descriptor();
        let protocol = Protocol::RestJson1;
        let body_limit = service.body_limit(&operation).unwrap_or(descriptor.default_body_limit);
        let outcome = if body.len() > body_limit {
            Err(service.too_large(Some(&operation), body_limit, protocol))
        } else {
            let input = Input::Json(body);
            let call = Call { operation: &operation, context, input, protocol, descriptor, parts, body_limit };
            service.call_rest_streamed(call).await
        };
        let response = match outcome {
            Ok(answer) => {
                let mut response = http::Response::new(answer.body);
                *response.status_mut() = answer.status;
                let headers = response.headers_mut();
                headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    headers.insert(crate::request_id::HEADER, value);
                }
                for (name, value) in answer.headers {
                    headers.insert(name, value);
                }
                response
            }
            Err(error) => {
                tracing::debug!(service = descriptor.name, code = error.code, message = %error.message, "aws error");
                render_error(descriptor, protocol, &error, &request_id).map(crate::rest_xml::full)
            }
        };
        metrics.operation(&operation).record(Outcome::of_status(response.status().as_u16()), started.elapsed());
        response
    }

    /// Decodes, calls and renders one request routed to a service.
    pub async fn handle(
        &self,
        index: usize,
        protocol: Protocol,
        operation: Option<String>,
        parts: &Parts,
        body: Bytes,
        context: RequestContext,
    ) -> http::Response<Bytes> {
        let started = Instant::now();
        let request_id = context.request_id.clone();
        let (Some(service), Some(metrics)) = (self.services.get(index), self.metrics.get(index)) else {
            let error = AwsError::new("UnknownOperationException", 404, "No such service");
            return crate::rest_json::error_response(&error, &request_id);
        };
        let descriptor = service.descriptor();
        let body_length = body.len();
        // The operation's row once its name is known (awsQuery names it in the body).
        let mut counted = metrics.unknown();
        let outcome = async {
            let (operation, input) = match protocol {
                Protocol::AwsQuery => {
                    let query = parts.uri.query().unwrap_or_default().as_bytes();
                    let mut request = QueryRequest::parse(query, &body, &descriptor.query_limits)
                        .map_err(|error| (descriptor.decode_error)(protocol, &error))?;
                    let action = request.action.take().ok_or_else(|| (descriptor.unknown_operation)(None))?;
                    service.prepare_query(parts, &mut request.params);
                    (action, Input::Query(request.params))
                }
                Protocol::RpcV2Cbor => (operation.unwrap_or_default(), Input::Cbor(body)),
                _ => (operation.unwrap_or_default(), Input::Json(body)),
            };
            counted = metrics.operation(&operation);
            let body_limit = service.body_limit(&operation).unwrap_or(descriptor.default_body_limit);
            if body_length > body_limit {
                return Err(service.too_large(Some(&operation), body_limit, protocol));
            }
            let call = Call { operation: &operation, context, input, protocol, descriptor, parts, body_limit };
            if protocol == Protocol::RestJson1 {
                return service.call_rest(call).await;
            }
            let encoded = service.call(call).await?;
            Ok(RestAnswer {
                status: StatusCode::OK,
                headers: Vec::new(),
                content_type: Some(encoded.content_type),
                body: Bytes::from(encoded.body),
            })
        }
        .await;
        let response = match outcome {
            Ok(answer) => rest_response(answer, &request_id),
            Err(error) => {
                tracing::debug!(service = descriptor.name, code = error.code, message = %error.message, "aws error");
                render_error(descriptor, protocol, &error, &request_id)
            }
        };
        counted.record(Outcome::of_status(response.status().as_u16()), started.elapsed());
        response
    }

    /// Renders `error` as `route`'s protocol does (restJson1 for path routes and unknown services).
    pub fn render_error(&self, route: &Route, error: &AwsError, request_id: &str) -> http::Response<Bytes> {
        match route {
            Route::Service { index, protocol, .. } => match self.services.get(*index) {
                Some(service) => render_error(service.descriptor(), *protocol, error, request_id),
                None => crate::rest_json::error_response(error, request_id),
            },
            Route::Paths | Route::Unknown { .. } => crate::rest_json::error_response(error, request_id),
        }
    }
}

/// The answer of an operation: its status, headers, body and the request's id.
fn rest_response(answer: RestAnswer, request_id: &str) -> http::Response<Bytes> {
    let mut response = http::Response::new(answer.body);
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    if let Some(content_type) = answer.content_type {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if content_type == crate::cbor::CONTENT_TYPE {
            // RPC v2 CBOR requires it of every response.
            headers.insert("smithy-protocol", HeaderValue::from_static(crate::cbor::SMITHY_PROTOCOL));
        }
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(crate::request_id::HEADER, value);
    }
    // Header-bound members (Invoke's own `x-amzn-RequestId` among them) take precedence.
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    response
}

/// The error of a body larger than the operation accepts (413, with the protocol's code).
pub fn too_large(limit: usize, protocol: Protocol) -> AwsError {
    if protocol == Protocol::RestXml {
        // S3's words for an upload over its limit (400, not 413).
        return AwsError::new(
            "EntityTooLarge",
            400,
            format!("Your proposed upload exceeds the maximum allowed size of {limit} bytes"),
        );
    }
    let code = if protocol == Protocol::AwsQuery { "RequestEntityTooLarge" } else { "RequestEntityTooLargeException" };
    AwsError::new(code, 413, format!("Request must be smaller than {limit} bytes"))
}

/// `Sender` for the caller's faults, `Receiver` for the service's.
fn fault(error: &AwsError) -> &'static str {
    if error.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    }
}

/// `x-amzn-query-error: <awsQuery code>;<Sender|Receiver>` on an awsQuery-compatible service's
/// AWS JSON or RPC v2 CBOR error, so that clients find the error under the code its awsQuery
/// form had (botocore's `QueryErrorCode` keeps the `__type` one).
fn query_error_header(descriptor: &ServiceDescriptor, error: &AwsError, response: &mut http::Response<Bytes>) {
    if !descriptor.aws_query_compatible {
        return;
    }
    let value = format!("{};{}", (descriptor.query_error_code)(error.code), fault(error));
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert("x-amzn-query-error", value);
    }
}

/// The one error renderer of each protocol, for a service.
pub fn render_error(
    descriptor: &ServiceDescriptor,
    protocol: Protocol,
    error: &AwsError,
    request_id: &str,
) -> http::Response<Bytes> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match protocol {
        // A request that names no operation at all (a GET of an SQS queue's URL): AWS answers
        // 404 with a bare element and no ErrorResponse, in XML even when JSON is accepted
        // (LocalStack's AWS-validated `test_get_without_query_returns_unknown_operation`).
        Protocol::AwsQuery if error.code == "UnknownOperationException" && error.status == 404 => {
            crate::response(status, "text/xml", b"<UnknownOperationException/>".to_vec(), request_id)
        }
        Protocol::AwsQuery => {
            let fields = XmlErrorFields {
                fault: fault(error),
                code: (descriptor.query_error_code)(error.code),
                message: &error.message,
                detail: descriptor.query_error_detail,
            };
            let body = crate::query::xml::error_document(descriptor.xml_namespace, fields, request_id);
            crate::response(status, "text/xml", body, request_id)
        }
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => {
            let content_type = if protocol == Protocol::AwsJson1_1 {
                crate::json::CONTENT_TYPE_1_1
            } else {
                crate::json::CONTENT_TYPE_1_0
            };
            let body = crate::json::error_body(descriptor.json_error_prefix, error.code, &error.message);
            let mut response = crate::response(status, content_type, body, request_id);
            query_error_header(descriptor, error, &mut response);
            response
        }
        Protocol::RpcV2Cbor => {
            let body = crate::cbor::error_body(descriptor.json_error_prefix, error.code, &error.message);
            let mut response = crate::response(status, crate::cbor::CONTENT_TYPE, body, request_id);
            response.headers_mut().insert("smithy-protocol", HeaderValue::from_static(crate::cbor::SMITHY_PROTOCOL));
            query_error_header(descriptor, error, &mut response);
            response
        }
        Protocol::RestXml => crate::rest_xml::error_response(error, request_id),
        Protocol::RestJson1 => crate::rest_json::error_response(error, request_id),
    }
}
