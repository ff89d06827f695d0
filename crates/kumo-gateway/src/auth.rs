//! SigV4 authentication of every AWS request: the signature is checked against Kumo's
//! configured access keys before any service sees the request. Kumo's own `/_kumo/` endpoints
//! are not AWS APIs and are not signed.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use kumo_core::sigv4::{self, RequestParts, VerifyError};
use kumo_core::AwsError;

use crate::{ApiError, Services};

/// Largest body Kumo reads to verify its hash (a 50 MB zip, base64-encoded, plus JSON).
const MAX_SIGNED_BODY: usize = 72 * 1024 * 1024;

/// Access key id → secret.
pub type Credentials = HashMap<String, String>;

fn forbidden(code: &'static str, message: impl Into<String>) -> Response {
    ApiError(AwsError::new(code, 403, message)).into_response()
}

/// Axum middleware: verifies the request's SigV4 signature, or answers 403 as AWS does.
pub async fn authenticate(State(services): State<Services>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_kumo/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Some(header) = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return forbidden("MissingAuthenticationTokenException", "Missing Authentication Token");
    };
    let Some(authorization) = sigv4::parse_authorization(header) else {
        return forbidden(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters",
        );
    };
    let Some(secret) = services.credentials.get(&authorization.access_key) else {
        return forbidden("UnrecognizedClientException", "The security token included in the request is invalid.");
    };
    let body = match Limited::new(body, MAX_SIGNED_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return ApiError(AwsError::new(
                "RequestEntityTooLargeException",
                413,
                format!("Request must be smaller than {MAX_SIGNED_BODY} bytes"),
            ))
            .into_response()
        }
    };
    let declared = parts.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok());
    let payload_hash = match declared {
        Some(hash) if hash != "UNSIGNED-PAYLOAD" && !hash.starts_with("STREAMING-") => {
            let actual = sigv4::payload_hash(&body);
            if hash != actual {
                return ApiError(AwsError::new(
                    "InvalidSignatureException",
                    400,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ))
                .into_response();
            }
            actual
        }
        _ => sigv4::payload_hash(&body),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let signed = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers,
        payload_hash,
    };
    let now = (kumo_core::time::now_millis() / 1000) as i64;
    match sigv4::verify(&signed, &authorization, secret, now) {
        Ok(()) => next.run(Request::from_parts(parts, Body::from(body))).await,
        Err(VerifyError::Mismatch) => forbidden(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        Err(VerifyError::BadDate) => forbidden(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ),
        Err(VerifyError::Expired(date)) => forbidden(
            "InvalidSignatureException",
            format!("Signature expired: {date} is now earlier or later than the allowed 15 minutes of skew."),
        ),
    }
}
