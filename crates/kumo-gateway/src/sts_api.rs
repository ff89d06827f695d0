//! STS's awsQuery binding: GetCallerIdentity and AssumeRole for the caller the SigV4 check
//! identified.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::request::Parts;
use kumo_iam::types::AssumeRoleRequest;

use crate::iam_api::ErasedResult;
use crate::query::{self, QueryParams, STS_NAMESPACE};
use crate::Services;

/// The API version STS clients send.
const VERSION: &str = "2011-06-15";

/// Handles one STS request.
pub async fn handle(services: Services, parts: Parts, body: Body) -> Response {
    let context = crate::context::request_context(&services, &parts);
    let request_id = context.request_id.clone();
    let caller = crate::context::caller(&services, &parts);
    let outcome = async {
        let params = QueryParams::read(&parts, body).await?;
        let action = params.action().unwrap_or_default().to_string();
        let result = match action.as_str() {
            "GetCallerIdentity" => services.iam.get_caller_identity(&caller).render(&action)?,
            "AssumeRole" => {
                let request = AssumeRoleRequest {
                    role_arn: params.required("RoleArn")?,
                    role_session_name: params.required("RoleSessionName")?,
                    duration_seconds: params.integer("DurationSeconds")?,
                    policy: params.optional("Policy"),
                };
                services.iam.assume_role(Arc::clone(&caller), request).await?.render(&action)?
            }
            other => return Err(query::invalid_action(other, VERSION)),
        };
        Ok((action, result))
    };
    match outcome.await {
        Ok((action, result)) => query::response(&action, STS_NAMESPACE, Some(result), &request_id),
        Err(error) => {
            tracing::debug!(code = error.code, message = %error.message, "sts error");
            query::error_response(STS_NAMESPACE, &error, &request_id)
        }
    }
}
