//! What a service tells the gateway about itself ([`ServiceDescriptor`]), the [`AwsService`]
//! trait the registry calls, and the operation table ([`OperationTable`]) that turns a decoded
//! request into a typed call and its typed answer back into bytes, whatever the protocol.
//!
//! A handler is written once per operation, protocol-free:
//! `call.run(|request| service.create_queue(&context, request))` decodes the input type from the
//! request's protocol (AWS JSON, awsQuery, CBOR), calls the service, and encodes its output in
//! the same protocol.

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use kumo_core::{AwsError, RequestContext};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::query::de::Rename;
use crate::query::xml::XmlShape;
use crate::query::{QueryLimits, QueryNode};
use crate::DecodeError;

/// A boxed, sendable future (what [`AwsService::call`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An AWS wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// AWS JSON 1.0 (`X-Amz-Target`, `application/x-amz-json-1.0`).
    AwsJson1_0,
    /// AWS JSON 1.1 (`application/x-amz-json-1.1`).
    AwsJson1_1,
    /// awsQuery: form parameters in, XML out.
    AwsQuery,
    /// restJson1: operations by method and path (Lambda).
    RestJson1,
    /// restXml: operations by method and path, XML bodies (S3).
    RestXml,
    /// Smithy RPC v2 CBOR (`smithy-protocol: rpc-v2-cbor`).
    RpcV2Cbor,
}

impl Protocol {
    /// Whether the protocol is one of the AWS JSON versions.
    pub fn is_json(self) -> bool {
        matches!(self, Protocol::AwsJson1_0 | Protocol::AwsJson1_1)
    }
}

/// How a service is doing, for `/_kumo/health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceHealth {
    /// Serving requests.
    Running,
    /// Not serving, and why.
    Unavailable(String),
}

impl ServiceHealth {
    /// `running` or `unavailable: <why>`, as the health endpoint reports it.
    pub fn describe(&self) -> String {
        match self {
            ServiceHealth::Running => "running".to_string(),
            ServiceHealth::Unavailable(why) => format!("unavailable: {why}"),
        }
    }
}

/// A host name form that belongs to a service (virtual-hosted S3 `bucket.s3.…`, API Gateway's
/// `id.execute-api.…`, Lambda function URLs' `id.lambda-url.…`): the host's second label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPattern {
    /// The label after the first one (`s3`, `execute-api`, `lambda-url`).
    pub label: &'static str,
}

/// What a service declares to the registry.
#[derive(Debug, Clone, Copy)]
pub struct ServiceDescriptor {
    /// The name in `/_kumo/health` (`sqs`).
    pub name: &'static str,
    /// The SigV4 signing name its clients put in the credential scope (`sqs`).
    pub signing_name: &'static str,
    /// The `X-Amz-Target` prefix of its AWS JSON operations (`AmazonSQS`).
    pub json_target_prefix: Option<&'static str>,
    /// The Smithy service name of its RPC v2 CBOR operations (`GraniteServiceVersion20100801`).
    pub cbor_service_name: Option<&'static str>,
    /// Host forms routed to it before anything else.
    pub hosts: &'static [HostPattern],
    /// The protocols it speaks.
    pub protocols: &'static [Protocol],
    /// Its awsQuery XML namespace.
    pub xml_namespace: &'static str,
    /// `__type` prefix of its AWS JSON and RPC v2 CBOR errors: its Smithy namespace
    /// (`com.amazonaws.sqs#`).
    pub json_error_prefix: &'static str,
    /// The model's `awsQueryCompatible` trait (SQS, CloudWatch): AWS JSON and RPC v2 CBOR errors
    /// carry the awsQuery code and fault in `x-amzn-query-error: Code;Sender`.
    pub aws_query_compatible: bool,
    /// Whether awsQuery errors carry an empty `<Detail/>` (SQS).
    pub query_error_detail: bool,
    /// Body limit of an operation the table does not list, and of awsQuery requests until their
    /// `Action` is read (so: the largest of its operations' limits).
    pub default_body_limit: usize,
    /// Limits of its awsQuery decoder.
    pub query_limits: QueryLimits,
    /// awsQuery wire names to input member names.
    pub query_rename: Rename,
    /// XML form of JSON-shaped results; `None` when results are XML-shaped types.
    pub xml_shape: Option<XmlShape>,
    /// The awsQuery code of an error code (SQS's JSON codes differ from its query codes).
    pub query_error_code: fn(&'static str) -> &'static str,
    /// The service's error for a request it cannot decode.
    pub decode_error: fn(Protocol, &DecodeError) -> AwsError,
    /// The service's error for an unknown operation (`None`: no `Action` at all).
    pub unknown_operation: fn(Option<&str>) -> AwsError,
}

/// The identity mapping of error codes.
pub fn same_code(code: &'static str) -> &'static str {
    code
}

/// The request body as its protocol carries the input.
#[derive(Debug)]
pub enum Input {
    /// An AWS JSON body.
    Json(Bytes),
    /// awsQuery parameters.
    Query(QueryNode),
    /// A CBOR body.
    Cbor(Bytes),
    /// The body of an operation that streams it ([`AwsService::streams_body`]), unread.
    Stream(crate::BodyStream),
    /// A restXml request's body, read whole within its limit (an XML document, or nothing),
    /// for the service's codec to parse ([`AwsService::call_http`]).
    Xml(Bytes),
}

/// An operation's encoded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// A restJson1 operation's answer: its own status and header-bound members besides the body
/// ([`crate::rest_json::encode`] makes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestAnswer {
    /// The status (`201` for a create, `204` for an answer without a body, Invoke's own).
    pub status: http::StatusCode,
    /// Headers the output's members are bound to.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// `Content-Type`, when there is a body.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Bytes,
}

/// A restJson1 answer whose body streams as it is produced (an event stream output such as
/// `InvokeWithResponseStream`'s): its status and header-bound members go first.
pub struct StreamedAnswer {
    /// The status.
    pub status: http::StatusCode,
    /// Headers the output's members are bound to.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body, produced as the client reads it.
    pub body: crate::rest_xml::ResponseBody,
}

impl std::fmt::Debug for StreamedAnswer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StreamedAnswer")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// One call of one operation: what the registry hands a service.
pub struct Call<'a> {
    /// The operation, as the operation table names it.
    pub operation: &'a str,
    /// Account, region, caller and request id.
    pub context: RequestContext,
    /// The input, still encoded.
    pub input: Input,
    /// The protocol the answer is encoded in.
    pub protocol: Protocol,
    /// The service's descriptor.
    pub descriptor: &'static ServiceDescriptor,
    /// The request's head, for the service's adapter (host, path, extensions); services' logic
    /// never sees it.
    pub parts: &'a http::request::Parts,
    /// The body limit of the operation.
    pub body_limit: usize,
}

impl Call<'_> {
    /// Decodes the input as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, AwsError> {
        let decoded = match &self.input {
            Input::Json(body) => crate::json::decode(body, self.body_limit),
            Input::Query(node) => crate::query::de::from_node(node, self.descriptor.query_rename),
            Input::Cbor(body) => crate::cbor::decode(body, self.body_limit),
            // A streaming operation reads its body itself; it has no encoded input to decode.
            Input::Stream(_) => Err(DecodeError::Syntax("a streamed body is not decoded".to_string())),
            // restXml services parse their own bodies (s3s).
            Input::Xml(_) => Err(DecodeError::Syntax("a restXml body is its service's to parse".to_string())),
        };
        decoded.map_err(|error| (self.descriptor.decode_error)(self.protocol, &error))
    }

    /// Encodes an output in the request's protocol. An output of type `()` or [`NoResult`] is an
    /// answer without a result (`{}` in JSON, no `<OpResult>` element in XML).
    pub fn encode<T: Serialize + 'static>(&self, output: &T) -> Result<Encoded, AwsError> {
        let request_id = self.context.request_id.as_str();
        let internal = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, operation = self.operation, "encoding an answer failed");
            AwsError::new("InternalFailure", 500, "An internal error occurred")
        };
        let no_result = TypeId::of::<T>() == TypeId::of::<()>() || TypeId::of::<T>() == TypeId::of::<NoResult>();
        match self.protocol {
            Protocol::AwsQuery => {
                let namespace = self.descriptor.xml_namespace;
                let body = match (no_result, self.descriptor.xml_shape) {
                    (true, _) => crate::query::xml::response::<()>(self.operation, namespace, None, request_id),
                    (false, Some(shape)) => {
                        let value = serde_json::to_value(output).map_err(|error| internal(&error))?;
                        let value = crate::query::xml::reshape(self.operation, value, shape);
                        crate::query::xml::response(self.operation, namespace, Some(&value), request_id)
                    }
                    (false, None) => crate::query::xml::response(self.operation, namespace, Some(output), request_id),
                };
                Ok(Encoded { content_type: "text/xml", body: body.map_err(|error| internal(&error))? })
            }
            Protocol::RpcV2Cbor => {
                let body = crate::cbor::encode(output).map_err(|error| internal(&error))?;
                Ok(Encoded { content_type: crate::cbor::CONTENT_TYPE, body })
            }
            Protocol::AwsJson1_1 => {
                let body = crate::json::encode(output).map_err(|error| internal(&error))?;
                Ok(Encoded { content_type: crate::json::CONTENT_TYPE_1_1, body })
            }
            Protocol::AwsJson1_0 | Protocol::RestJson1 | Protocol::RestXml => {
                let body = crate::json::encode(output).map_err(|error| internal(&error))?;
                Ok(Encoded { content_type: crate::json::CONTENT_TYPE_1_0, body })
            }
        }
    }

    /// Decodes the input, runs `handler` on it and encodes its output: one operation, any protocol.
    pub async fn run<Req, Resp, Fut>(&self, handler: impl FnOnce(Req) -> Fut) -> Result<Encoded, AwsError>
    where
        Req: DeserializeOwned,
        Resp: Serialize + 'static,
        Fut: Future<Output = Result<Resp, AwsError>>,
    {
        let request = self.decode()?;
        let output = handler(request).await?;
        self.encode(&output)
    }
}

/// The output of an operation that answers nothing: `{}` in JSON, no `<OpResult>` element in
/// XML (as `()`, but a type a service can name in its signatures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NoResult {}

/// What a service's handlers take besides their input, made once per call from it (SQS: an
/// `SqsContext` with the endpoint the client addressed; IAM: the [`RequestContext`]; STS: the
/// verified caller). The [`operation!`](crate::operation) rows build it.
pub trait ServiceContext {
    /// The context type.
    type Context: Send + Sync;

    /// The context of `call`.
    fn context(&self, call: &Call<'_>) -> Self::Context;
}

/// One row of an [`OperationTable`] without the decode/call/encode wrapper written out:
/// - `operation!("SendMessage", LIMIT, send_message)` calls `service.send_message(&context,
///   request)` with the service's [`ServiceContext`] and the decoded request;
/// - `operation!("GetRole", LIMIT, |iam, context, request: RoleName| body)` runs `body` (a future
///   of `Result<Output, AwsError>`) with the service, its context (by value) and the request
///   decoded as the given wire shape.
#[macro_export]
macro_rules! operation {
    ($name:literal, $limit:expr, $method:ident) => {
        $crate::Operation {
            name: $name,
            body_limit: $limit,
            handler: |service, call| {
                ::std::boxed::Box::pin(async move {
                    let context = $crate::ServiceContext::context(service, &call);
                    call.run(|request| service.$method(&context, request)).await
                })
            },
        }
    };
    ($name:literal, $limit:expr, |$service:ident, $context:pat_param, $request:ident : $shape:ty| $body:expr) => {
        $crate::Operation {
            name: $name,
            body_limit: $limit,
            handler: |$service, call| {
                ::std::boxed::Box::pin(async move {
                    let $context = $crate::ServiceContext::context($service, &call);
                    call.run(|$request: $shape| async move { $body.await }).await
                })
            },
        }
    };
}

/// A handler in an operation table.
pub type Handler<S> = for<'a> fn(&'a S, Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>>;

/// One row of an operation table.
pub struct Operation<S: 'static> {
    /// The operation's name (`SendMessage`).
    pub name: &'static str,
    /// Largest body it accepts.
    pub body_limit: usize,
    /// Decodes, calls and encodes.
    pub handler: Handler<S>,
}

/// A service's operations: names, body limits and handlers.
pub struct OperationTable<S: 'static>(pub &'static [Operation<S>]);

impl<S: 'static> OperationTable<S> {
    /// The row of `operation`.
    pub fn find(&self, operation: &str) -> Option<&'static Operation<S>> {
        self.0.iter().find(|row| row.name == operation)
    }

    /// The body limit of `operation`, if the table has it.
    pub fn body_limit(&self, operation: &str) -> Option<usize> {
        self.find(operation).map(|row| row.body_limit)
    }

    /// The names of every operation.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        self.0.iter().map(|row| row.name)
    }

    /// Runs `call` through its row, or answers the service's unknown-operation error. A request
    /// signed for another service is refused first ([`scoped_to_another_service`]).
    pub fn call<'a>(&self, service: &'a S, mut call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        if let Some(error) = scoped_to_another_service(&call) {
            return Box::pin(std::future::ready(Err(error)));
        }
        match self.find(call.operation) {
            Some(row) => {
                // The table's name, never the client's text, goes into XML element names.
                call.operation = row.name;
                (row.handler)(service, call)
            }
            None => {
                let error = (call.descriptor.unknown_operation)(Some(call.operation));
                Box::pin(std::future::ready(Err(error)))
            }
        }
    }
}

/// AWS's error for a request whose SigV4 credential scope names another service than the one it
/// reached. Requests routed by their head (an `X-Amz-Target` prefix, a CBOR service path) are
/// routed before their scope is read; authentication refuses a verified signature made for
/// another service, and this check keeps the rule where signatures are not verified: insecure
/// mode accepts any credentials, not a signature made for another service. awsQuery requests are
/// routed by the scope's service itself; unsigned requests have no scope to check.
fn scoped_to_another_service(call: &Call<'_>) -> Option<AwsError> {
    if !matches!(call.protocol, Protocol::AwsJson1_0 | Protocol::AwsJson1_1 | Protocol::RpcV2Cbor) {
        return None;
    }
    let scope = crate::credential_scope(call.parts)?;
    let expected = call.descriptor.signing_name;
    (scope.service != expected).then(|| {
        let message = format!("Credential should be scoped to correct service: '{expected}'.");
        AwsError::new("InvalidSignatureException", 403, message)
    })
}

/// An AWS service behind the registry: decoded, typed calls in, encoded answers out.
pub trait AwsService: Send + Sync + 'static {
    /// What the service declares (names, protocols, limits, error forms).
    fn descriptor(&self) -> &'static ServiceDescriptor;

    /// The body limit of `operation`; `None` when the service has no such operation.
    fn body_limit(&self, operation: &str) -> Option<usize>;

    /// Whether `operation` takes its body as a stream ([`Input::Stream`]) instead of buffered:
    /// its body limit may then exceed the gateway's cap for buffered bodies (72 MiB), and the
    /// body is verified as it arrives. No operation streams by default.
    fn streams_body(&self, _operation: &str) -> bool {
        false
    }

    /// The operation a request routed to the service by host or signing name names in its head,
    /// where routing needs it before the body is read (restXml: an object upload, whose body
    /// streams, [`crate::rest_xml::head::upload_operation`]). `None` by default.
    fn head_operation(&self, _parts: &http::request::Parts) -> Option<&'static str> {
        None
    }

    /// Adds what the request's head implies to awsQuery parameters (SQS: `QueueUrl` from a
    /// request sent to a queue URL). Nothing by default.
    fn prepare_query(&self, _parts: &http::request::Parts, _params: &mut QueryNode) {}

    /// Runs one operation.
    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>>;

    /// Calls a restJson1 operation, whose answer carries its status and headers (a service
    /// routed by path; others answer through [`Self::call`]).
    fn call_rest<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<RestAnswer, AwsError>> {
        Box::pin(async move {
            let encoded = self.call(call).await?;
            Ok(RestAnswer {
                status: http::StatusCode::OK,
                headers: Vec::new(),
                content_type: Some(encoded.content_type),
                body: Bytes::from(encoded.body),
            })
        })
    }

    /// Whether restJson1 `operation` answers with a body that streams ([`Self::call_rest_streamed`]).
    /// None does by default.
    fn streams_response(&self, _operation: &str) -> bool {
        false
    }

    /// Calls a restJson1 operation whose answer's body streams ([`Self::streams_response`]):
    /// errors found before it starts are ordinary error answers.
    fn call_rest_streamed<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<StreamedAnswer, AwsError>> {
        let error = (call.descriptor.unknown_operation)(Some(call.operation));
        Box::pin(std::future::ready(Err(error)))
    }

    /// Serves a request whose protocol's codec owns the whole exchange (restXml through s3s:
    /// the operation is resolved, decoded and answered there), its answer a whole response whose
    /// body may stream. Services of the other protocols answer through [`Self::call`].
    fn call_http<'a>(
        &'a self,
        call: Call<'a>,
    ) -> BoxFuture<'a, Result<http::Response<crate::rest_xml::ResponseBody>, AwsError>> {
        let error = (call.descriptor.unknown_operation)(Some(call.operation));
        Box::pin(std::future::ready(Err(error)))
    }

    /// The error for a body over `limit`, the operation's (Lambda words it per operation).
    fn too_large(&self, _operation: Option<&str>, limit: usize, protocol: Protocol) -> AwsError {
        crate::registry::too_large(limit, protocol)
    }

    /// The names of its operations (its operation table's), for per-operation metrics made
    /// when it registers. None by default: its requests count as `unknown`.
    fn operation_names(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// How the service is doing.
    fn health(&self) -> ServiceHealth {
        ServiceHealth::Running
    }

    /// Its in-memory counters of `account`'s resources for `/_kumo/metrics` (SQS: per queue),
    /// under its name; `None` when it keeps none.
    fn account_metrics(&self, _account: &str) -> Option<serde_json::Value> {
        None
    }
}
