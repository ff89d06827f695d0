//! Routing of requests that no path-based route (Lambda's restJson1, `/_kumo`) claimed, by AWS
//! protocol: first `X-Amz-Target` (AWS JSON 1.0/1.1: SQS, DynamoDB, Step Functions, CloudWatch
//! Logs), then the SigV4 credential scope's service (awsQuery: SQS legacy, SNS, IAM, STS, and
//! CloudWatch), else an unknown-operation error.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use crate::Services;

/// What a request asks for, read from its headers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON: `X-Amz-Target: <Prefix>.<Operation>`.
    Json {
        /// Service prefix, e.g. `AmazonSQS`.
        prefix: String,
        /// Operation, e.g. `SendMessage`.
        operation: String,
    },
    /// Query or other protocols, identified by the SigV4 scope's service (`sqs`, `iam`, …).
    Scoped {
        /// Service name from the credential scope.
        service: String,
    },
    /// Nothing identifies the service.
    Unknown,
}

/// Classifies a request by its headers.
pub fn classify(parts: &http::request::Parts) -> Protocol {
    let target = parts.headers.get("x-amz-target").and_then(|value| value.to_str().ok());
    if let Some((prefix, operation)) = target.and_then(|target| target.split_once('.')) {
        return Protocol::Json { prefix: prefix.to_string(), operation: operation.to_string() };
    }
    match crate::context::credential_scope(parts) {
        Some((_, _, _, service)) if !service.is_empty() => Protocol::Scoped { service },
        _ => Protocol::Unknown,
    }
}

/// The fallback handler: dispatches by protocol.
pub async fn by_protocol(State(services): State<Services>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let protocol = classify(&parts);
    // Services plug in here, one arm each.
    match protocol {
        Protocol::Json { prefix, operation } if prefix == "AmazonSQS" => {
            crate::sqs_api::json(services, parts, body, operation).await
        }
        // SQS's query protocol, also sent to queue URLs (`/<account>/<queue>`).
        Protocol::Scoped { service } if service == "sqs" => crate::sqs_api::query(services, parts, body).await,
        Protocol::Scoped { service } if service == "iam" => crate::iam_api::handle(services, parts, body).await,
        Protocol::Scoped { service } if service == "sts" => crate::sts_api::handle(services, parts, body).await,
        Protocol::Json { .. } | Protocol::Scoped { .. } | Protocol::Unknown => {
            crate::error::unknown_operation(parts.method, parts.uri).await.into_response()
        }
    }
}
