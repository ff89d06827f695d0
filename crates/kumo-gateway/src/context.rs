//! The request context, one for every service: the region from the SigV4 credential scope, the
//! account and caller from the principal the SigV4 check identified, and the request's one id
//! (minted by [`crate::dispatch::gateway`]).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use kumo_core::{RequestContext, RequestSource};
use kumo_iam::Principal;
use kumo_protocol::{RequestId, SignedHead};

use crate::{ApiError, Services};

/// The `(access key, date, region, service)` of a SigV4 credential scope, from the
/// `Authorization` header or the presigned `X-Amz-Credential` query parameter.
pub fn credential_scope(parts: &Parts) -> Option<(String, String, String, String)> {
    SignedHead::of(parts).scope().map(|scope| (scope.access_key, scope.date, scope.region, scope.service))
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

/// The request's id: the one the request-id middleware assigned.
pub fn request_id(parts: &Parts) -> String {
    parts.extensions.get::<RequestId>().cloned().unwrap_or_else(kumo_protocol::request_id::current).to_string()
}

/// The context of a request: the caller's account and the credential scope's region.
pub fn request_context(services: &Services, parts: &Parts) -> RequestContext {
    let head = SignedHead::of(parts);
    let region = head.region().filter(|region| !region.is_empty()).unwrap_or(&services.default_region).to_string();
    let identified = parts.extensions.get::<Arc<Principal>>().cloned();
    let caller = identified.clone().unwrap_or_else(|| caller(services, parts));
    let source = match identified {
        Some(principal) if principal.role_session => RequestSource::RoleSession,
        // Insecure mode's stand-in principals carry no secret: nothing was verified.
        Some(principal) if !principal.secret_access_key.is_empty() => RequestSource::AccountRoot,
        _ => RequestSource::Unverified,
    };
    RequestContext {
        account: caller.account.clone(),
        region,
        request_id: request_id(parts),
        caller_arn: caller.arn.clone(),
        role_arn: caller.role_arn.clone(),
        access_key: head.access_key().unwrap_or_default().to_string(),
        source,
    }
}

impl FromRequestParts<Services> for RequestContextExtractor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, services: &Services) -> Result<Self, Self::Rejection> {
        Ok(Self(request_context(services, parts)))
    }
}

/// Extracts the [`RequestContext`] of a request.
pub struct RequestContextExtractor(pub RequestContext);
