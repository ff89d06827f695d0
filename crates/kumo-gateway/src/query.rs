//! awsQuery glue the authentication middleware uses to answer in a query service's own XML
//! before the request reaches its service (everything else about awsQuery is kumo-protocol's).

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::query::xml::{error_document, XmlErrorFields};

pub use kumo_iam::api::{IAM_NAMESPACE, STS_NAMESPACE};
/// SQS's XML namespace (`kumo_sqs::api::NAMESPACE`; the gateway does not depend on SQS).
pub const SQS_NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// The XML namespace of an awsQuery service, by SigV4 service name.
pub fn namespace(service: &str) -> &'static str {
    match service {
        "sts" => STS_NAMESPACE,
        "sqs" => SQS_NAMESPACE,
        "sns" => "http://sns.amazonaws.com/doc/2010-03-31/",
        "monitoring" => "http://monitoring.amazonaws.com/doc/2010-08-01/",
        _ => IAM_NAMESPACE,
    }
}

/// Whether requests for this SigV4 service name (without `X-Amz-Target`) speak awsQuery.
pub fn is_query_service(service: &str) -> bool {
    matches!(service, "iam" | "sts" | "sns" | "sqs" | "monitoring")
}

/// An awsQuery error answer.
pub fn error_response(namespace: &str, error: &AwsError, request_id: &str) -> Response {
    let fault = if error.status >= 500 { "Receiver" } else { "Sender" };
    let fields = XmlErrorFields { fault, code: error.code, message: &error.message, detail: false };
    let body = error_document(namespace, fields, request_id);
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    kumo_protocol::response(status, "text/xml", body, request_id).map(Body::from)
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn renders_errors_as_iam_does() {
        let error = kumo_iam::error::no_such_role("a<b");
        let response = error_response(IAM_NAMESPACE, &error, "req-1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-amzn-requestid"], "req-1");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
             <Code>NoSuchEntity</Code><Message>The role with name a&lt;b cannot be found.</Message></Error>\
             <RequestId>req-1</RequestId></ErrorResponse>"
        );
    }
}
