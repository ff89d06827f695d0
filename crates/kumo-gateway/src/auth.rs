//! SigV4 authentication of every AWS request, before any service sees it: the signature (in the
//! `Authorization` header or a presigned URL's query string) is checked against the secret of
//! its access key, which is either a configured long-term key (the root of an account) or
//! temporary credentials from STS (whose session token the request must carry, and which stop
//! working when they expire). The identified [`Principal`] goes into the request's extensions;
//! the request context's account comes from it.
//!
//! Kumo's own `/_kumo/` endpoints are not AWS APIs and are not signed. With
//! `--insecure-accept-any-credentials` nothing is verified (LocalStack-like): known keys still
//! identify their principal, anything else acts as the default account's root.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http_body_util::{BodyExt, Limited};
use kumo_core::sigv4::{self, Authorization, Presigned, RequestParts, VerifyError};
use kumo_core::AwsError;
use kumo_iam::Principal;

use crate::{ApiError, Services};

/// Largest body Kumo reads to verify its hash (a 50 MB zip, base64-encoded, plus JSON).
const MAX_SIGNED_BODY: usize = 72 * 1024 * 1024;

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthSettings {
    /// Accept any credentials, signed or not, without verifying anything.
    pub insecure_accept_any_credentials: bool,
    /// Whether CreateFunction checks that Lambda can assume the execution role.
    pub role_check: bool,
}

/// Why a request was refused, rendered per protocol (restJson1/AWS JSON vs awsQuery codes).
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthFailure {
    /// No signature at all.
    Missing,
    /// A signature lacking parts.
    Incomplete(String),
    /// The access key is unknown, or its session token is wrong or missing.
    UnknownKey,
    /// Temporary credentials that expired.
    ExpiredToken,
    /// The signature does not match.
    Mismatch,
    /// Signed too long ago or in the future, or a presigned URL past its expiry.
    Expired(String),
    /// `x-amz-content-sha256` is not the body's hash.
    ContentHashMismatch,
    /// The body is larger than Kumo verifies.
    TooLarge,
}

impl AuthFailure {
    fn into_error(self, query_protocol: bool) -> AwsError {
        let (json_code, query_code, status, message): (&'static str, &'static str, u16, String) = match self {
            AuthFailure::Missing => (
                "MissingAuthenticationTokenException",
                "MissingAuthenticationToken",
                403,
                if query_protocol { "Request is missing Authentication Token" } else { "Missing Authentication Token" }
                    .to_string(),
            ),
            AuthFailure::Incomplete(message) => ("IncompleteSignatureException", "IncompleteSignature", 403, message),
            AuthFailure::UnknownKey => (
                "UnrecognizedClientException",
                "InvalidClientTokenId",
                403,
                "The security token included in the request is invalid.".to_string(),
            ),
            AuthFailure::ExpiredToken => (
                "ExpiredTokenException",
                "ExpiredToken",
                403,
                "The security token included in the request is expired".to_string(),
            ),
            AuthFailure::Mismatch => (
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                403,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_string(),
            ),
            AuthFailure::Expired(message) => ("InvalidSignatureException", "SignatureDoesNotMatch", 403, message),
            AuthFailure::ContentHashMismatch => (
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                400,
                "The provided 'x-amz-content-sha256' header does not match what was computed.".to_string(),
            ),
            AuthFailure::TooLarge => (
                "RequestEntityTooLargeException",
                "RequestEntityTooLarge",
                413,
                format!("Request must be smaller than {MAX_SIGNED_BODY} bytes"),
            ),
        };
        AwsError::new(if query_protocol { query_code } else { json_code }, status, message)
    }
}

/// Where a request carries its signature.
enum Signature {
    Header(Authorization),
    Query(Presigned),
}

impl Signature {
    fn access_key(&self) -> &str {
        match self {
            Signature::Header(authorization) => &authorization.access_key,
            Signature::Query(presigned) => &presigned.authorization.access_key,
        }
    }
}

/// Finds the request's signature: `Ok(None)` when it has none.
fn signature_of(parts: &Parts) -> Result<Option<Signature>, AuthFailure> {
    if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
        let parsed = header.to_str().ok().and_then(sigv4::parse_authorization);
        return parsed.map(|authorization| Some(Signature::Header(authorization))).ok_or_else(|| {
            AuthFailure::Incomplete(
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters".to_string(),
            )
        });
    }
    match parts.uri.query().filter(|query| sigv4::is_presigned(query)) {
        None => Ok(None),
        Some(query) => {
            sigv4::parse_presigned(query).map(|presigned| Some(Signature::Query(presigned))).ok_or_else(|| {
                AuthFailure::Incomplete(
                    "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', \
                     'X-Amz-Expires', 'X-Amz-SignedHeaders' and 'X-Amz-Signature'"
                        .to_string(),
                )
            })
        }
    }
}

/// Whether errors for this request are rendered in awsQuery XML.
fn speaks_query(parts: &Parts) -> bool {
    matches!(
        crate::dispatch::classify(parts),
        crate::dispatch::Protocol::Scoped { service } if crate::query::is_query_service(&service)
    )
}

fn refuse(parts: &Parts, failure: AuthFailure) -> Response {
    let query_protocol = speaks_query(parts);
    let error = failure.into_error(query_protocol);
    if query_protocol {
        let service = crate::context::credential_scope(parts).map(|(_, _, _, service)| service).unwrap_or_default();
        let request_id = crate::context::request_id(parts);
        return crate::query::error_response(crate::query::namespace(&service), &error, &request_id);
    }
    ApiError(error).into_response()
}

/// Axum middleware: verifies the request's SigV4 signature, or answers 403 as AWS does.
pub async fn authenticate(State(services): State<Services>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_kumo/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let signature = match signature_of(&parts) {
        Ok(signature) => signature,
        Err(failure) if !services.auth.insecure_accept_any_credentials => return refuse(&parts, failure),
        Err(_) => None,
    };
    if services.auth.insecure_accept_any_credentials {
        let key = signature.as_ref().map_or("anonymous", Signature::access_key);
        let principal = services
            .iam
            .principal(key)
            .unwrap_or_else(|| Arc::new(Principal::unverified(key, services.iam.default_account())));
        parts.extensions.insert(principal);
        return next.run(Request::from_parts(parts, body)).await;
    }
    let Some(signature) = signature else {
        return refuse(&parts, AuthFailure::Missing);
    };
    match verify(&services, &parts, body, &signature).await {
        Ok((principal, body)) => {
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
        Err(failure) => refuse(&parts, failure),
    }
}

/// Identifies the signer and checks the signature; returns the principal and the body read.
async fn verify(
    services: &Services,
    parts: &Parts,
    body: Body,
    signature: &Signature,
) -> Result<(Arc<Principal>, bytes::Bytes), AuthFailure> {
    let principal = services.iam.principal(signature.access_key()).ok_or(AuthFailure::UnknownKey)?;
    let token = match signature {
        Signature::Header(_) => parts.headers.get("x-amz-security-token").and_then(|value| value.to_str().ok()),
        Signature::Query(presigned) => presigned.security_token.as_deref(),
    };
    if !principal.accepts_token(token) {
        return Err(AuthFailure::UnknownKey);
    }
    if principal.is_expired(kumo_core::time::now_millis()) {
        return Err(AuthFailure::ExpiredToken);
    }
    let body = Limited::new(body, MAX_SIGNED_BODY).collect().await.map_err(|_| AuthFailure::TooLarge)?.to_bytes();
    let declared = parts.headers.get("x-amz-content-sha256").and_then(|value| value.to_str().ok());
    let authorization = match signature {
        Signature::Header(authorization) => authorization,
        Signature::Query(presigned) => &presigned.authorization,
    };
    // What the signer covered: for S3 a declared `UNSIGNED-PAYLOAD` or streaming marker is signed
    // as itself (streaming chunk signatures are the S3 service's to check). Every other service
    // signs the body's hash whatever the header says, as AWS does: a marker must not let a
    // request's body be swapped under a valid signature. A declared hash must be the body's.
    let payload_hash = match declared {
        Some(marker)
            if authorization.service == "s3"
                && (marker == sigv4::UNSIGNED_PAYLOAD || marker.starts_with("STREAMING-")) =>
        {
            marker.to_string()
        }
        Some(marker) if marker == sigv4::UNSIGNED_PAYLOAD || marker.starts_with("STREAMING-") => {
            sigv4::payload_hash(&body)
        }
        Some(hash) => {
            let actual = sigv4::payload_hash(&body);
            if hash != actual {
                return Err(AuthFailure::ContentHashMismatch);
            }
            actual
        }
        None => sigv4::payload_hash(&body),
    };
    let signed_headers = &authorization.signed_headers;
    // Only what the canonical request reads: the signed headers and the request's date.
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            name.as_str() == "x-amz-date"
                || signed_headers.iter().any(|signed| signed.eq_ignore_ascii_case(name.as_str()))
        })
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let mut signed = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers,
        payload_hash,
    };
    let now = (kumo_core::time::now_millis() / 1000) as i64;
    let secret = &principal.secret_access_key;
    let verified = match signature {
        Signature::Header(authorization) => sigv4::verify(&signed, authorization, secret, now),
        Signature::Query(presigned) => match sigv4::verify_presigned(&signed, presigned, secret, now) {
            // Presigned URLs cover the body's hash (most services) or `UNSIGNED-PAYLOAD` (S3).
            Err(VerifyError::Mismatch) if declared.is_none() => {
                signed.payload_hash = sigv4::UNSIGNED_PAYLOAD.to_string();
                sigv4::verify_presigned(&signed, presigned, secret, now)
            }
            other => other,
        },
    };
    match verified {
        Ok(()) => Ok((principal, body)),
        Err(VerifyError::Mismatch) => Err(AuthFailure::Mismatch),
        Err(VerifyError::BadDate) => Err(AuthFailure::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".to_string(),
        )),
        Err(VerifyError::Expired(date)) => Err(AuthFailure::Expired(format!(
            "Signature expired: {date} is now earlier or later than the allowed 15 minutes of skew."
        ))),
        Err(VerifyError::BadExpires) => Err(AuthFailure::Incomplete(format!(
            "X-Amz-Expires must be between 1 and {} seconds",
            sigv4::MAX_PRESIGNED_EXPIRES_SECONDS
        ))),
        Err(VerifyError::UrlExpired { signed_at, expired_at }) => Err(AuthFailure::Expired(format!(
            "Signature expired: the request was signed at {signed_at} and expired at {expired_at}."
        ))),
    }
}
