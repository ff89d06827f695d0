//! The request context: the region from the SigV4 credential scope, the account from the
//! caller the SigV4 check identified.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use kumo_core::RequestContext;
use kumo_iam::Principal;

use crate::{ApiError, Services};

/// The `(access key, date, region, service)` of a SigV4 credential scope, from the
/// `Authorization` header or the presigned `X-Amz-Credential` query parameter.
pub fn credential_scope(parts: &Parts) -> Option<(String, String, String, String)> {
    let from_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split("Credential=").nth(1))
        .map(|rest| rest.split([',', ' ']).next().unwrap_or_default().to_string());
    let from_query = || {
        parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
                .map(|value| value.replace("%2F", "/").replace("%2f", "/"))
        })
    };
    let credential = from_header.or_else(from_query)?;
    let mut fields = credential.split('/');
    let access_key = fields.next()?.to_string();
    let date = fields.next()?.to_string();
    let region = fields.next()?.to_string();
    let service = fields.next()?.to_string();
    Some((access_key, date, region, service))
}

/// The caller the authentication middleware identified (the default account's root for
/// requests it let through unidentified: `/_kumo` and insecure mode).
pub fn caller(services: &Services, parts: &Parts) -> Arc<Principal> {
    parts
        .extensions
        .get::<Arc<Principal>>()
        .cloned()
        .unwrap_or_else(|| Arc::new(Principal::unverified("anonymous", services.iam.default_account())))
}

/// The context of a request: the caller's account and the credential scope's region.
pub fn request_context(services: &Services, parts: &Parts) -> RequestContext {
    let region = credential_scope(parts).map(|(_, _, region, _)| region).filter(|region| !region.is_empty());
    let region = region.unwrap_or_else(|| services.default_region.clone());
    let caller = caller(services, parts);
    let mut context = RequestContext::new(caller.account.clone(), region);
    context.caller_arn.clone_from(&caller.arn);
    context.role_arn.clone_from(&caller.role_arn);
    context
}

impl FromRequestParts<Services> for RequestContextExtractor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, Self::Rejection> {
        Ok(Self(request_context(services, parts)))
    }
}

/// Extracts the [`RequestContext`] of a request.
pub struct RequestContextExtractor(pub RequestContext);
