//! SigV4 authentication of every AWS request, before any service sees it: the signature (in the
//! `Authorization` header or a presigned URL's query string) is checked against the secret of
//! its access key, which is either a configured long-term key (the root of an account) or
//! temporary credentials from STS (whose session token the request must carry, and which stop
//! working when they expire). The identified [`Principal`] goes into the request's extensions;
//! the request context's account comes from it.
//!
//! As AWS does, the credential scope must name a region, `X-Amz-Date`'s day and the service
//! the request is routed to ([`routed_service`]), and `host` must be signed. Kumo's own
//! `/_kumo/` endpoints are signed like any AWS API, for the service `kumo`; only
//! `/_kumo/health`, the presigned code downloads (checked by their handler) and the open
//! documents at their exact paths (SNS's signing certificate) pass unsigned.
//! With `--insecure-accept-any-credentials` nothing is verified (LocalStack-like): known keys
//! still identify their principal, anything else acts as the default account's root.
//!
//! The body: a buffered operation's body (every JSON/query operation, a few MiB at most) is read
//! here within the global cap and its SHA-256 computed, since non-S3 clients sign the body's
//! hash without sending `x-amz-content-sha256`. A streaming operation's body (routing marks it
//! with [`kumo_protocol::StreamingBody`]) is not read: the signature is checked over the head
//! and the declared `x-amz-content-sha256` (which such a request must carry), and the body goes
//! on wrapped by [`crate::payload`], which verifies it as it streams.

use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http_body_util::{BodyExt, Limited};
use kumo_core::sigv4::chunked::ChunkedPayloadDecoder;
use kumo_core::sigv4::{self, RequestParts, VerifyError};
use kumo_core::AwsError;
use kumo_iam::Principal;
use kumo_protocol::{Registry, Route, Signature, SignedHead, StreamingBody};

use crate::{ApiError, Services};

use crate::limits::{BodyError, MAX_REQUEST_BODY};

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
    /// Signed too long ago or in the future.
    Expired(String),
    /// A presigned URL past its expiry.
    UrlExpired(String),
    /// `x-amz-content-sha256` is not the body's hash.
    ContentHashMismatch,
    /// A streamed body's request lacks `x-amz-content-sha256`.
    MissingContentSha256,
    /// `x-amz-content-sha256` is neither a SHA-256 nor a marker Kumo knows.
    BadContentSha256,
    /// The body is larger than Kumo verifies.
    TooLarge,
    /// The body did not arrive in time.
    BodyTimeout,
    /// `host` is not a signed header.
    HostNotSigned,
    /// The credential scope does not fit the request (AWS's message).
    Scope(String),
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
            AuthFailure::Expired(message) | AuthFailure::UrlExpired(message) => {
                ("InvalidSignatureException", "SignatureDoesNotMatch", 403, message)
            }
            AuthFailure::ContentHashMismatch => (
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                400,
                "The provided 'x-amz-content-sha256' header does not match what was computed.".to_string(),
            ),
            AuthFailure::MissingContentSha256 => (
                "InvalidRequest",
                "InvalidRequest",
                400,
                "Missing required header for this request: x-amz-content-sha256".to_string(),
            ),
            AuthFailure::BadContentSha256 => (
                "InvalidArgument",
                "InvalidArgument",
                400,
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
                 STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid \
                 sha256 value."
                    .to_string(),
            ),
            AuthFailure::TooLarge => (
                "RequestEntityTooLargeException",
                "RequestEntityTooLarge",
                413,
                format!("Request must be smaller than {MAX_REQUEST_BODY} bytes"),
            ),
            AuthFailure::BodyTimeout => (
                "RequestTimeoutException",
                "RequestTimeout",
                408,
                crate::limits::BODY_TIMEOUT_MESSAGE.to_string(),
            ),
            AuthFailure::HostNotSigned => (
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                403,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_string(),
            ),
            AuthFailure::Scope(message) => ("InvalidSignatureException", "SignatureDoesNotMatch", 403, message),
        };
        AwsError::new(if query_protocol { query_code } else { json_code }, status, message)
    }

    /// The failure in S3's words (restXml): its codes, statuses and messages, which differ from
    /// every other service's. `presigned`: the signature was a presigned URL's.
    fn into_s3_error(self, presigned: bool) -> AwsError {
        let malformed = if presigned { "AuthorizationQueryParametersError" } else { "AuthorizationHeaderMalformed" };
        match self {
            AuthFailure::Missing => AwsError::new("AccessDenied", 403, "Access Denied"),
            AuthFailure::Incomplete(message) | AuthFailure::Scope(message) => AwsError::new(malformed, 400, message),
            AuthFailure::UnknownKey => AwsError::new(
                "InvalidAccessKeyId",
                403,
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            AuthFailure::ExpiredToken => AwsError::new("ExpiredToken", 400, "The provided token has expired."),
            AuthFailure::Mismatch | AuthFailure::HostNotSigned => AwsError::new(
                "SignatureDoesNotMatch",
                403,
                "The request signature we calculated does not match the signature you provided. Check your key and \
                 signing method.",
            ),
            AuthFailure::Expired(_) => AwsError::new(
                "RequestTimeTooSkewed",
                403,
                "The difference between the request time and the current time is too large.",
            ),
            AuthFailure::UrlExpired(_) => AwsError::new("AccessDenied", 403, "Request has expired"),
            AuthFailure::ContentHashMismatch => crate::payload::content_sha256_mismatch(),
            AuthFailure::TooLarge => {
                kumo_protocol::registry::too_large(MAX_REQUEST_BODY, kumo_protocol::Protocol::RestXml)
            }
            failure
            @ (AuthFailure::MissingContentSha256 | AuthFailure::BadContentSha256 | AuthFailure::BodyTimeout) => {
                failure.into_error(true)
            }
        }
    }
}

/// The request's signature as routing parsed it (once per request): `Ok(None)` when it has none.
fn signature_of(head: &SignedHead) -> Result<Option<&Signature>, AuthFailure> {
    match &head.signature {
        Ok(signature) => Ok(signature.as_ref()),
        Err(error) => Err(AuthFailure::Incomplete(error.0.clone())),
    }
}

/// Path prefixes of Lambda's restJson1 API (its API versions), routed to Lambda by path.
const LAMBDA_PATH_PREFIXES: [&str; 8] = [
    "/2015-03-31/",
    "/2016-08-19/",
    "/2017-03-31/",
    "/2017-10-31/",
    "/2018-10-31/",
    "/2019-09-25/",
    "/2019-09-30/",
    "/2020-06-30/",
];

/// The signing name of the service a request is routed to, which its credential scope must
/// name: the registered service's for a request routed by host, `X-Amz-Target`,
/// `smithy-protocol` or path, `kumo` for `/_kumo/…`, `lambda` for Lambda's API paths whatever
/// else routed them; `None` when the scope's service itself picked the route (awsQuery services
/// on their own paths), so any scope is consistent with it, or when no service has the request.
pub(crate) fn routed_service(registry: &Registry, parts: &Parts) -> Option<&'static str> {
    match parts.extensions.get::<Route>() {
        // A scope naming a service Kumo does not have (S3 path-style on a path that looks like
        // Lambda's) is routed nowhere: the registry answers it 404 after authentication.
        Some(Route::Unknown { .. }) => None,
        // Whatever picked the service (a bucket named `2015-03-31` reaches S3 by its scope on any
        // path), its scope must name it.
        Some(Route::Service { index, protocol, .. }) if *protocol != kumo_protocol::Protocol::AwsQuery => {
            registry.service(*index).map(|service| service.descriptor().signing_name)
        }
        // awsQuery services are picked by the scope itself, which is consistent with them unless
        // the path is Kumo's or Lambda's.
        Some(Route::Service { .. } | Route::Paths) | None => {
            let path = parts.uri.path();
            if path.starts_with("/_kumo/") {
                return Some(KUMO_SIGNING_SERVICE);
            }
            LAMBDA_PATH_PREFIXES.iter().any(|prefix| path.starts_with(prefix)).then_some("lambda")
        }
    }
}

/// The signing service of Kumo's own `/_kumo` endpoints (what the `kumo` CLI signs).
pub const KUMO_SIGNING_SERVICE: &str = "kumo";

/// Paths that pass without a signature: the health check, code downloads, whose handler
/// checks their presigned URL itself (signed by Kumo, not by a caller's key), and the open
/// documents, each at exactly its path.
fn is_open_path(services: &Services, path: &str) -> bool {
    path == "/_kumo/health"
        || path.starts_with(kumo_lambda::code_urls::CODE_URL_PATH)
        || services.open_documents.get(path).is_some()
}

/// Whether errors for this request are rendered in awsQuery XML.
fn speaks_query(registry: &Registry, parts: &Parts) -> bool {
    // Routed by path (restJson1: Lambda, `/_kumo`) or `X-Amz-Target` (AWS JSON): JSON errors,
    // whatever service the scope names.
    if routed_service(registry, parts).is_some() {
        return false;
    }
    matches!(
        crate::dispatch::classify(parts),
        crate::dispatch::Protocol::Scoped { service } if crate::query::is_query_service(&service)
    )
}

fn refuse(services: &Services, parts: &Parts, failure: AuthFailure) -> Response {
    // CBOR and S3 clients read only their own protocol: their refusals are rendered in the
    // protocol they were routed by.
    let route = parts.extensions.get::<Route>();
    if let Some(route @ Route::Service { protocol, .. }) = route {
        let error = match protocol {
            kumo_protocol::Protocol::RpcV2Cbor => Some(failure.clone().into_error(false)),
            kumo_protocol::Protocol::RestXml => {
                let presigned = matches!(SignedHead::of(parts).signature, Ok(Some(Signature::Query(_))));
                Some(failure.clone().into_s3_error(presigned))
            }
            _ => None,
        };
        if let Some(error) = error {
            let request_id = crate::context::request_id(parts);
            return services.registry.render_error(route, &error, &request_id).map(Body::from);
        }
    }
    let query_protocol = speaks_query(&services.registry, parts);
    let error = failure.into_error(query_protocol);
    if query_protocol {
        let head = SignedHead::of(parts);
        let service = head.service().unwrap_or_default();
        let request_id = crate::context::request_id(parts);
        return crate::query::error_response(crate::query::namespace(service), &error, &request_id);
    }
    ApiError(error).into_response()
}

/// Verifies the request's SigV4 signature: the request to hand on (its principal in its
/// extensions), or AWS's refusal (403) to answer with.
/// Also applies the limits every request meets first ([`crate::limits`]): a declared body over
/// the global cap is refused before a byte of it is read, and the body gets its deadline.
pub(crate) async fn authenticate(
    gateway: &crate::dispatch::Gateway,
    request: Request,
) -> ControlFlow<Response, Request> {
    let services = &gateway.services;
    let (mut parts, body) = request.into_parts();
    let streaming = parts.extensions.get::<StreamingBody>().is_some();
    if streaming {
        return authenticate_streaming(services, parts, body);
    }
    if crate::limits::declares_too_large(&parts.headers) {
        return Break(refuse(services, &parts, AuthFailure::TooLarge));
    }
    let body = crate::limits::with_deadline(body, crate::limits::BODY_TIMEOUT);
    if is_open_path(services, parts.uri.path()) {
        return Continue(Request::from_parts(parts, body));
    }
    let head = SignedHead::of(&parts);
    let signature = match signature_of(&head) {
        Ok(signature) => signature,
        Err(failure) if !services.auth.insecure_accept_any_credentials => {
            return Break(refuse(services, &parts, failure))
        }
        Err(_) => None,
    };
    if services.auth.insecure_accept_any_credentials {
        parts.extensions.insert(unverified_principal(services, signature));
        return Continue(Request::from_parts(parts, body));
    }
    let Some(signature) = signature else {
        return Break(refuse(services, &parts, AuthFailure::Missing));
    };
    match verify(services, &parts, body, signature).await {
        Ok((principal, body)) => {
            parts.extensions.insert(principal);
            Continue(Request::from_parts(parts, Body::from(body)))
        }
        Err(failure) => Break(refuse(services, &parts, failure)),
    }
}

/// Insecure mode's caller: the principal of the access key the request names, if Kumo knows it,
/// else an unverified one of the default account.
fn unverified_principal(services: &Services, signature: Option<&Signature>) -> Arc<Principal> {
    let key = signature.map_or("anonymous", Signature::access_key);
    services.iam.principal(key).unwrap_or_else(|| Arc::new(Principal::unverified(key, services.iam.default_account())))
}

/// [`authenticate`] for an operation that streams its body: the signature is checked over the
/// head and the declared payload hash, and the body goes on unread, wrapped so that it is
/// verified as it streams ([`crate::payload`]) and must keep arriving
/// ([`crate::limits::ProgressDeadlineBody`]; the operation's own limit bounds its size).
fn authenticate_streaming(services: &Services, mut parts: Parts, body: Body) -> ControlFlow<Response, Request> {
    use crate::limits::{ProgressDeadlineBody, STREAM_PROGRESS_BYTES, STREAM_PROGRESS_WINDOW};
    let body = ProgressDeadlineBody::wrap(body, STREAM_PROGRESS_WINDOW, STREAM_PROGRESS_BYTES);
    let head = SignedHead::of(&parts);
    let signature = match signature_of(&head) {
        Ok(signature) => signature,
        Err(failure) if !services.auth.insecure_accept_any_credentials => {
            return Break(refuse(services, &parts, failure))
        }
        Err(_) => None,
    };
    if services.auth.insecure_accept_any_credentials {
        let principal = unverified_principal(services, signature);
        // No signature is verified, but an aws-chunked body is still decoded for the operation,
        // and a declared hash still checked (it is the body's integrity, not the caller's identity).
        let body = match declared_payload(&parts, signature) {
            Ok(DeclaredPayload::Chunked(marker)) => {
                let decoder =
                    ChunkedPayloadDecoder::unverified(&marker, decoded_length(&parts), declared_trailer(&parts));
                crate::payload::ChunkedBody::wrap(body, decoder)
            }
            Ok(DeclaredPayload::Sha256(expected)) => crate::payload::HashCheckedBody::wrap(body, expected),
            Ok(DeclaredPayload::Unsigned) | Err(_) => body,
        };
        parts.extensions.insert(principal);
        return Continue(Request::from_parts(parts, body));
    }
    let Some(signature) = signature else {
        return Break(refuse(services, &parts, AuthFailure::Missing));
    };
    let verified = identify(services, &parts, signature).and_then(|principal| {
        let declared = declared_payload(&parts, Some(signature))?;
        // The header's value exactly as signed (a hash in upper-case hex stays so); a presigned
        // URL without it signs `UNSIGNED-PAYLOAD`.
        let header = parts.headers.get("x-amz-content-sha256").and_then(|value| value.to_str().ok());
        let payload_hash = header.unwrap_or(sigv4::UNSIGNED_PAYLOAD).to_string();
        check_signature(&services.registry, &parts, signature, &principal, payload_hash)?;
        Ok((principal, declared))
    });
    let (principal, declared) = match verified {
        Ok(verified) => verified,
        Err(failure) => return Break(refuse(services, &parts, failure)),
    };
    let body = match declared {
        DeclaredPayload::Unsigned => body,
        DeclaredPayload::Sha256(expected) => crate::payload::HashCheckedBody::wrap(body, expected),
        DeclaredPayload::Chunked(marker) => {
            let authorization = signature.authorization();
            let amz_date = signature_date(&parts, signature);
            let decoder = ChunkedPayloadDecoder::for_marker(
                &marker,
                &principal.secret_access_key,
                authorization,
                &amz_date,
                decoded_length(&parts),
                declared_trailer(&parts),
            );
            match decoder {
                Some(decoder) => crate::payload::ChunkedBody::wrap(body, decoder),
                None => return Break(refuse(services, &parts, AuthFailure::BadContentSha256)),
            }
        }
    };
    parts.extensions.insert(principal);
    Continue(Request::from_parts(parts, body))
}

/// What a streamed body's `x-amz-content-sha256` declares.
enum DeclaredPayload {
    /// `UNSIGNED-PAYLOAD` (or a presigned URL without the header, as S3 takes it).
    Unsigned,
    /// The body's SHA-256.
    Sha256([u8; 32]),
    /// An aws-chunked marker (`STREAMING-…`).
    Chunked(String),
}

fn declared_payload(parts: &Parts, signature: Option<&Signature>) -> Result<DeclaredPayload, AuthFailure> {
    let declared = parts.headers.get("x-amz-content-sha256").map(|value| value.to_str().unwrap_or_default());
    match declared {
        // A presigned URL signs `UNSIGNED-PAYLOAD` (S3); a header signature must declare its payload.
        None if matches!(signature, Some(Signature::Query(_))) => Ok(DeclaredPayload::Unsigned),
        None => Err(AuthFailure::MissingContentSha256),
        Some(sigv4::UNSIGNED_PAYLOAD) => Ok(DeclaredPayload::Unsigned),
        Some(
            marker @ (sigv4::chunked::STREAMING_PAYLOAD
            | sigv4::chunked::STREAMING_PAYLOAD_TRAILER
            | sigv4::chunked::STREAMING_UNSIGNED_PAYLOAD_TRAILER),
        ) => Ok(DeclaredPayload::Chunked(marker.to_string())),
        Some(hash) => {
            let mut expected = [0u8; 32];
            hex::decode_to_slice(hash, &mut expected).map_err(|_| AuthFailure::BadContentSha256)?;
            Ok(DeclaredPayload::Sha256(expected))
        }
    }
}

/// `x-amz-decoded-content-length`, the length of an aws-chunked body's data.
fn decoded_length(parts: &Parts) -> Option<u64> {
    let value = parts.headers.get("x-amz-decoded-content-length")?;
    value.to_str().ok()?.trim().parse().ok()
}

/// `x-amz-trailer`, the trailer an aws-chunked body ends with.
fn declared_trailer(parts: &Parts) -> Option<&str> {
    parts.headers.get("x-amz-trailer").and_then(|value| value.to_str().ok())
}

/// The `X-Amz-Date` a signature was made at (what chunk signatures chain from).
fn signature_date(parts: &Parts, signature: &Signature) -> String {
    match signature {
        Signature::Header(_) => {
            parts.headers.get("x-amz-date").and_then(|value| value.to_str().ok()).unwrap_or_default().to_string()
        }
        Signature::Query(presigned) => presigned.amz_date.clone(),
    }
}

/// The principal of a signature's access key, if its session token (if any) fits and it has
/// not expired.
fn identify(services: &Services, parts: &Parts, signature: &Signature) -> Result<Arc<Principal>, AuthFailure> {
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
    Ok(principal)
}

/// Identifies the signer and checks the signature; returns the principal and the body read.
async fn verify(
    services: &Services,
    parts: &Parts,
    body: Body,
    signature: &Signature,
) -> Result<(Arc<Principal>, bytes::Bytes), AuthFailure> {
    let principal = identify(services, parts, signature)?;
    let body = Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
        .map_err(|error| match BodyError::of(&*error) {
            BodyError::TimedOut => AuthFailure::BodyTimeout,
            BodyError::TooLarge | BodyError::Other => AuthFailure::TooLarge,
        })?
        .to_bytes();
    let declared = parts.headers.get("x-amz-content-sha256").and_then(|value| value.to_str().ok());
    let authorization = signature.authorization();
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
    check_signature(&services.registry, parts, signature, &principal, payload_hash)?;
    Ok((principal, body))
}

/// Checks `signature` over the request's head and `payload_hash` (what the signer covered).
fn check_signature(
    registry: &Registry,
    parts: &Parts,
    signature: &Signature,
    principal: &Principal,
    payload_hash: String,
) -> Result<(), AuthFailure> {
    let declared = parts.headers.get("x-amz-content-sha256").and_then(|value| value.to_str().ok());
    let authorization = signature.authorization();
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
    let service = routed_service(registry, parts);
    let verified = match signature {
        Signature::Header(authorization) => sigv4::verify(&signed, authorization, secret, now, service),
        Signature::Query(presigned) => match sigv4::verify_presigned(&signed, presigned, secret, now, service) {
            // Presigned URLs cover the body's hash (most services) or `UNSIGNED-PAYLOAD` (S3).
            Err(VerifyError::Mismatch) if declared.is_none() => {
                signed.payload_hash = sigv4::UNSIGNED_PAYLOAD.to_string();
                sigv4::verify_presigned(&signed, presigned, secret, now, service)
            }
            other => other,
        },
    };
    match verified {
        Ok(()) => Ok(()),
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
        Err(VerifyError::UrlExpired { signed_at, expired_at }) => Err(AuthFailure::UrlExpired(format!(
            "Signature expired: the request was signed at {signed_at} and expired at {expired_at}."
        ))),
        Err(VerifyError::HostNotSigned) => Err(AuthFailure::HostNotSigned),
        Err(VerifyError::ScopeMismatch(message)) => Err(AuthFailure::Scope(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_is_refused_in_s3s_words() {
        let s3 = |failure: AuthFailure, presigned| {
            let error = failure.into_s3_error(presigned);
            (error.code, error.status)
        };
        assert_eq!(s3(AuthFailure::Mismatch, false), ("SignatureDoesNotMatch", 403));
        assert_eq!(s3(AuthFailure::UnknownKey, true), ("InvalidAccessKeyId", 403));
        assert_eq!(s3(AuthFailure::Missing, false), ("AccessDenied", 403));
        assert_eq!(s3(AuthFailure::UrlExpired(String::new()), true), ("AccessDenied", 403));
        assert_eq!(s3(AuthFailure::Expired(String::new()), false), ("RequestTimeTooSkewed", 403));
        assert_eq!(s3(AuthFailure::ExpiredToken, false), ("ExpiredToken", 400));
        assert_eq!(s3(AuthFailure::Incomplete(String::new()), false), ("AuthorizationHeaderMalformed", 400));
        assert_eq!(s3(AuthFailure::Incomplete(String::new()), true), ("AuthorizationQueryParametersError", 400));
        assert_eq!(s3(AuthFailure::TooLarge, false), ("EntityTooLarge", 400));
        assert_eq!(s3(AuthFailure::ContentHashMismatch, false), ("XAmzContentSHA256Mismatch", 400));
        assert_eq!(s3(AuthFailure::MissingContentSha256, false), ("InvalidRequest", 400));
        // Every other service keeps its own words.
        let json = AuthFailure::Mismatch.into_error(false);
        assert_eq!((json.code, json.status), ("InvalidSignatureException", 403));
    }
}
