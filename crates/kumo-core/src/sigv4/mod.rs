//! AWS Signature Version 4: building the canonical request, signing it, and verifying a
//! request's `Authorization` header. Pure computation over already-parsed request parts, so the
//! gateway verifies and Kumo's own clients (CLI, benchmark) sign with the same code.
//!
//! Non-S3 services sign the path URI-encoded twice (clients send it encoded once and the
//! canonical form encodes that again) and hash the body. Both the `Authorization` header form
//! and the query-string (presigned URL) form are verified here. An `aws-chunked` streaming
//! payload (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD` and the `…-TRAILER` forms) has its seed
//! signature checked with the request; its per-chunk and trailer signatures are checked by
//! [`chunked::ChunkedPayloadDecoder`] incrementally, as the gateway streams the body to an
//! operation that takes it as a stream.

pub mod chunked;
mod parse;
#[cfg(test)]
mod proptests;

pub use parse::{
    credential_scope, is_presigned, is_valid_region, parse_authorization, parse_credential, parse_presigned,
    percent_decode, Authorization, CredentialScope, MalformedSignature, Presigned, MAX_AUTHORIZATION_BYTES,
    MAX_CREDENTIAL_BYTES, MAX_QUERY_PAIRS, MAX_SIGNED_HEADERS,
};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The one algorithm Kumo accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's timestamp may be from Kumo's clock (AWS: 15 minutes).
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// The parts of a request that SigV4 covers.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path exactly as sent (percent-encoded once).
    pub path: &'a str,
    /// Query string exactly as sent, without `?`.
    pub query: &'a str,
    /// Headers as `(name, value)`; names in any case.
    pub headers: Vec<(String, String)>,
    /// Hex sha256 of the body (or `UNSIGNED-PAYLOAD`).
    pub payload_hash: String,
}

/// Percent-encodes as SigV4 requires: everything but `A-Za-z0-9-_.~` (and `/` when asked).
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut encoded = String::with_capacity(input.len() * 3 / 2);
    for byte in input.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&percent_decode(key), false), uri_encode(&percent_decode(value), false))
        })
        .filter(|(key, _)| key != "X-Amz-Signature")
        .collect();
    pairs.sort();
    pairs.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("&")
}

/// The canonical request of `parts` for the given signed headers (of a service other than S3).
pub fn canonical_request(parts: &RequestParts<'_>, signed_headers: &[String]) -> String {
    canonical_request_for(parts, signed_headers, "")
}

/// The canonical request of `parts` for the given signed headers, signed for `service`: S3
/// signs the path as sent (encoded once, never normalised, as botocore's `S3SigV4Auth` does);
/// every other service encodes it once more.
pub fn canonical_request_for(parts: &RequestParts<'_>, signed_headers: &[String], service: &str) -> String {
    use std::fmt::Write as _;
    let path = if parts.path.is_empty() { "/" } else { parts.path };
    let path = if service == "s3" { std::borrow::Cow::Borrowed(path) } else { uri_encode(path, true).into() };
    let mut canonical = String::with_capacity(256 + 64 * signed_headers.len());
    // Writing into a String cannot fail.
    let _ = write!(canonical, "{}\n{}\n{}\n", parts.method, path, canonical_query(parts.query));
    for name in signed_headers {
        canonical.push_str(name);
        canonical.push(':');
        let mut first = true;
        for (_, value) in parts.headers.iter().filter(|(header, _)| header.eq_ignore_ascii_case(name)) {
            if !first {
                canonical.push(',');
            }
            first = false;
            push_canonical_header_value(&mut canonical, value);
        }
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(&parts.payload_hash);
    canonical
}

/// Appends a header value with its runs of whitespace folded to one space and trimmed.
fn push_canonical_header_value(out: &mut String, value: &str) {
    for (index, word) in value.split_whitespace().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Most derived signing keys kept; a key is valid for one day, region and service, so a server
/// sees few (one per access key, region and service in use), and the cache is simply emptied
/// when it would grow past this.
const SIGNING_KEY_CACHE_CAPACITY: usize = 256;

/// `secret NUL date NUL region NUL service` → derived key (a byte no header value carries).
type SigningKeyCache = std::collections::HashMap<String, [u8; 32]>;

/// Derived signing keys. Deriving one costs four HMACs; every request of a client on a given
/// day reuses the same key, so verification caches it (as AWS's own SDKs do when signing).
static SIGNING_KEYS: std::sync::Mutex<Option<SigningKeyCache>> = std::sync::Mutex::new(None);

fn derive_signing_key(secret: &str, authorization: &Authorization) -> [u8; 32] {
    let date = hmac(format!("AWS4{secret}").as_bytes(), &authorization.date);
    let region = hmac(&date, &authorization.region);
    let service = hmac(&region, &authorization.service);
    hmac(&service, "aws4_request")
}

fn signing_key(secret: &str, authorization: &Authorization) -> [u8; 32] {
    let id = [secret, &authorization.date, &authorization.region, &authorization.service].join("\0");
    // The cache holds plain values: a panic elsewhere cannot leave it inconsistent.
    let mut keys = SIGNING_KEYS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(key) = keys.as_ref().and_then(|keys| keys.get(&id)) {
        return *key;
    }
    // Four HMACs under the lock: cheaper than deriving twice when two requests race.
    let key = derive_signing_key(secret, authorization);
    let keys = keys.get_or_insert_with(SigningKeyCache::new);
    if keys.len() >= SIGNING_KEY_CACHE_CAPACITY {
        keys.clear();
    }
    keys.insert(id, key);
    key
}

fn string_to_sign(amz_date: &str, authorization: &Authorization, canonical: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{}\n{}", authorization.scope(), hex::encode(Sha256::digest(canonical)))
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature does not match.
    Mismatch,
    /// `X-Amz-Date` is missing or malformed.
    BadDate,
    /// The request is too old or too far in the future.
    Expired(String),
    /// A presigned URL's `X-Amz-Expires` is not 1–604,800 seconds.
    BadExpires,
    /// A presigned URL was used after `X-Amz-Date` + `X-Amz-Expires`.
    UrlExpired {
        /// When it was signed (`X-Amz-Date`).
        signed_at: String,
        /// When it expired (`YYYYMMDDTHHMMSSZ`).
        expired_at: String,
    },
    /// `host` is not among the signed headers.
    HostNotSigned,
    /// The credential scope does not fit the request: its region is not a region, its
    /// service is not the one the request is for, or its date is not `X-Amz-Date`'s day.
    /// Carries AWS's message (each problem's sentence, in AWS's order).
    ScopeMismatch(String),
}

/// Longest validity of a presigned URL (seven days).
pub const MAX_PRESIGNED_EXPIRES_SECONDS: i64 = 7 * 24 * 60 * 60;

/// The `X-Amz-Date` (or `Date`) header value of a request.
fn amz_date(parts: &RequestParts<'_>) -> Option<String> {
    parts.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("x-amz-date")).map(|(_, value)| value.clone())
}

/// Seconds since the epoch of a `YYYYMMDDTHHMMSSZ` timestamp.
pub fn parse_amz_date(value: &str) -> Option<i64> {
    if value.len() != 16 {
        return None;
    }
    time::PrimitiveDateTime::parse(value, AMZ_DATE).ok().map(|moment| moment.assume_utc().unix_timestamp())
}

/// `YYYYMMDDTHHMMSSZ` of epoch seconds.
pub fn format_amz_date(seconds: i64) -> String {
    crate::time::format_utc(seconds, AMZ_DATE)
}

/// SigV4's basic ISO 8601 form, `YYYYMMDDTHHMMSSZ`.
pub(crate) const AMZ_DATE: &[time::format_description::BorrowedFormatItem<'_>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// Checks the signature itself: the HMAC of the string to sign, compared in constant time.
fn check_signature(
    parts: &RequestParts<'_>,
    authorization: &Authorization,
    secret: &str,
    amz_date: &str,
) -> Result<(), VerifyError> {
    let canonical = canonical_request_for(parts, &authorization.signed_headers, &authorization.service);
    let to_sign = string_to_sign(amz_date, authorization, &canonical);
    let provided = hex::decode(&authorization.signature).map_err(|_| VerifyError::Mismatch)?;
    // verify_slice compares in constant time, so timing reveals nothing about the signature.
    let mut mac = HmacSha256::new_from_slice(&signing_key(secret, authorization)).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&provided).map_err(|_| VerifyError::Mismatch)
}

/// Checks what AWS checks of a signature before its HMAC: `host` is signed, and the credential
/// scope names a region, the service the request is routed to (`service`; `None` when the
/// route is decided by the scope itself) and `X-Amz-Date`'s day.
pub fn check_scope(authorization: &Authorization, amz_date: &str, service: Option<&str>) -> Result<(), VerifyError> {
    if !authorization.signed_headers.iter().any(|name| name == "host" || name == ":authority") {
        return Err(VerifyError::HostNotSigned);
    }
    let mut problems = String::new();
    if !is_valid_region(&authorization.region) {
        let region: String = authorization.region.chars().take(64).collect();
        problems.push_str(&format!("Credential should be scoped to a valid region, not '{region}'. "));
    }
    if let Some(service) = service.filter(|service| *service != authorization.service) {
        problems.push_str(&format!("Credential should be scoped to correct service: '{service}'. "));
    }
    // `get`, not slicing: a date shorter than 8 bytes or with a multi-byte character is no day.
    let day = amz_date.get(..8).unwrap_or(amz_date);
    if day != authorization.date {
        let scope_date: String = authorization.date.chars().take(64).collect();
        problems.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
             '{scope_date}' != '{day}', from '{amz_date}'."
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(VerifyError::ScopeMismatch(problems.trim_end().to_string()))
    }
}

/// Verifies a request signed in its `Authorization` header against the secret of its access
/// key at time `now` (epoch seconds); `service` as for [`check_scope`].
pub fn verify(
    parts: &RequestParts<'_>,
    authorization: &Authorization,
    secret: &str,
    now: i64,
    service: Option<&str>,
) -> Result<(), VerifyError> {
    let date = amz_date(parts).ok_or(VerifyError::BadDate)?;
    let signed_at = parse_amz_date(&date).ok_or(VerifyError::BadDate)?;
    check_scope(authorization, &date, service)?;
    if (now - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err(VerifyError::Expired(date));
    }
    check_signature(parts, authorization, secret, &date)
}

/// Verifies a presigned request at time `now`: valid from `X-Amz-Date` (less the clock skew
/// allowance) until `X-Amz-Expires` seconds after it. `parts.payload_hash` is what the signer
/// covered: `UNSIGNED-PAYLOAD` (S3) or the body's hash (other services); `service` as for
/// [`check_scope`].
pub fn verify_presigned(
    parts: &RequestParts<'_>,
    presigned: &Presigned,
    secret: &str,
    now: i64,
    service: Option<&str>,
) -> Result<(), VerifyError> {
    if !(1..=MAX_PRESIGNED_EXPIRES_SECONDS).contains(&presigned.expires_seconds) {
        return Err(VerifyError::BadExpires);
    }
    let signed_at = parse_amz_date(&presigned.amz_date).ok_or(VerifyError::BadDate)?;
    check_scope(&presigned.authorization, &presigned.amz_date, service)?;
    if signed_at - now > MAX_SKEW_SECONDS {
        return Err(VerifyError::Expired(presigned.amz_date.clone()));
    }
    let expires_at = signed_at + presigned.expires_seconds;
    if now > expires_at {
        return Err(VerifyError::UrlExpired {
            signed_at: presigned.amz_date.clone(),
            expired_at: format_amz_date(expires_at),
        });
    }
    check_signature(parts, &presigned.authorization, secret, &presigned.amz_date)
}

/// Presigns a request for a client: returns the query string to send (`parts.query` followed
/// by the `X-Amz-*` parameters). `parts.headers` must already hold `host`, the only header
/// signed.
#[allow(clippy::too_many_arguments)]
pub fn presign(
    parts: &RequestParts<'_>,
    access_key: &str,
    secret: &str,
    session_token: Option<&str>,
    region: &str,
    service: &str,
    now: i64,
    expires_seconds: i64,
) -> String {
    let amz_date = format_amz_date(now);
    let mut authorization = Authorization {
        access_key: access_key.to_string(),
        // format_amz_date writes ASCII `YYYYMMDDTHHMMSSZ`: byte 8 is a character boundary.
        date: amz_date[..8].to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: vec!["host".to_string()],
        signature: String::new(),
    };
    let mut query = parts.query.to_string();
    let mut add = |key: &str, value: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("{key}={}", uri_encode(value, false)));
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add("X-Amz-Credential", &format!("{access_key}/{}", authorization.scope()));
    add("X-Amz-Date", &amz_date);
    add("X-Amz-Expires", &expires_seconds.to_string());
    add("X-Amz-SignedHeaders", "host");
    if let Some(token) = session_token {
        add("X-Amz-Security-Token", token);
    }
    let signing = RequestParts { query: &query, ..parts.clone() };
    let canonical = canonical_request_for(&signing, &authorization.signed_headers, &authorization.service);
    let to_sign = string_to_sign(&amz_date, &authorization, &canonical);
    authorization.signature = hex::encode(hmac(&signing_key(secret, &authorization), &to_sign));
    format!("{query}&X-Amz-Signature={}", authorization.signature)
}

/// Signs a request for a client: returns the headers to add (`x-amz-date`,
/// `x-amz-content-sha256`, `authorization`). `parts.headers` must already hold `host`.
pub fn sign(
    parts: &mut RequestParts<'_>,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now: i64,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now);
    // format_amz_date writes ASCII `YYYYMMDDTHHMMSSZ`: byte 8 is a character boundary.
    let date = amz_date[..8].to_string();
    parts.headers.push(("x-amz-date".to_string(), amz_date.clone()));
    parts.headers.push(("x-amz-content-sha256".to_string(), parts.payload_hash.clone()));
    let mut signed_headers: Vec<String> = parts.headers.iter().map(|(name, _)| name.to_ascii_lowercase()).collect();
    signed_headers.sort();
    signed_headers.dedup();
    let mut authorization = Authorization {
        access_key: access_key.to_string(),
        date,
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: String::new(),
    };
    let canonical = canonical_request_for(parts, &authorization.signed_headers, &authorization.service);
    let to_sign = string_to_sign(&amz_date, &authorization, &canonical);
    authorization.signature = hex::encode(hmac(&signing_key(secret, &authorization), &to_sign));
    let header = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
        authorization.access_key,
        authorization.scope(),
        authorization.signed_headers.join(";"),
        authorization.signature
    );
    vec![
        ("x-amz-date".to_string(), amz_date),
        ("x-amz-content-sha256".to_string(), parts.payload_hash.clone()),
        ("authorization".to_string(), header),
    ]
}

/// The `x-amz-content-sha256` value of an unsigned body (S3, presigned URLs).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Hex sha256 of a body, as `x-amz-content-sha256` carries it.
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_signs_the_path_as_sent_and_other_services_encode_it_again() {
        let parts = RequestParts {
            method: "PUT",
            path: "/bucket/a%20b%2Bc.txt",
            query: "",
            headers: vec![("host".to_string(), "localhost".to_string())],
            payload_hash: UNSIGNED_PAYLOAD.to_string(),
        };
        let signed = ["host".to_string()];
        assert!(canonical_request_for(&parts, &signed, "s3").starts_with("PUT\n/bucket/a%20b%2Bc.txt\n"));
        assert!(canonical_request_for(&parts, &signed, "lambda").starts_with("PUT\n/bucket/a%2520b%252Bc.txt\n"));
        assert_eq!(canonical_request(&parts, &signed), canonical_request_for(&parts, &signed, "lambda"));
    }

    /// AWS's published example (IAM ListUsers, "Create a canonical request" / "signature" docs).
    #[test]
    fn matches_the_aws_documentation_example() {
        let parts = RequestParts {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: vec![
                ("Content-Type".into(), "application/x-www-form-urlencoded; charset=utf-8".into()),
                ("Host".into(), "iam.amazonaws.com".into()),
                ("X-Amz-Date".into(), "20150830T123600Z".into()),
            ],
            payload_hash: payload_hash(b""),
        };
        let authorization = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        )
        .unwrap();
        let now = parse_amz_date("20150830T123600Z").unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(verify(&parts, &authorization, secret, now, None), Ok(()));
        assert_eq!(verify(&parts, &authorization, "wrong", now, None), Err(VerifyError::Mismatch));
        assert!(matches!(verify(&parts, &authorization, secret, now + 3600, None), Err(VerifyError::Expired(_))));
    }

    #[test]
    fn signs_what_it_verifies() {
        let now = 1_764_181_617;
        let body = br#"{"a": 1}"#;
        let mut parts = RequestParts {
            method: "POST",
            path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations",
            query: "Qualifier=%24LATEST",
            headers: vec![("host".into(), "127.0.0.1:4566".into())],
            payload_hash: payload_hash(body),
        };
        let added = sign(&mut parts, "test", "test", "us-east-1", "lambda", now);
        let authorization = parse_authorization(&added[2].1).unwrap();
        assert_eq!(authorization.region, "us-east-1");
        assert_eq!(verify(&parts, &authorization, "test", now, None), Ok(()));
        parts.payload_hash = payload_hash(b"tampered");
        assert_eq!(verify(&parts, &authorization, "test", now, None), Err(VerifyError::Mismatch));
    }

    /// AWS's published presigned-URL example (S3 "Authenticating Requests: Using Query
    /// Parameters": GET /test.txt on examplebucket, valid 86,400 seconds).
    #[test]
    fn verifies_the_aws_presigned_url_example() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
                     &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
                     &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
                     &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        assert!(is_presigned(query));
        let presigned = parse_presigned(query).unwrap();
        assert_eq!(presigned.authorization.service, "s3");
        assert_eq!(presigned.expires_seconds, 86_400);
        let parts = RequestParts {
            method: "GET",
            path: "/test.txt",
            query,
            headers: vec![("Host".into(), "examplebucket.s3.amazonaws.com".into())],
            payload_hash: UNSIGNED_PAYLOAD.into(),
        };
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let signed_at = parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(verify_presigned(&parts, &presigned, secret, signed_at + 60, None), Ok(()));
        assert_eq!(verify_presigned(&parts, &presigned, secret, signed_at + 86_400, None), Ok(()));
        assert_eq!(
            verify_presigned(&parts, &presigned, secret, signed_at + 86_401, None),
            Err(VerifyError::UrlExpired {
                signed_at: "20130524T000000Z".into(),
                expired_at: "20130525T000000Z".into()
            })
        );
        assert!(matches!(
            verify_presigned(&parts, &presigned, secret, signed_at - 3600, None),
            Err(VerifyError::Expired(_))
        ));
        assert_eq!(verify_presigned(&parts, &presigned, "wrong", signed_at, None), Err(VerifyError::Mismatch));
    }

    #[test]
    fn presigns_what_it_verifies() {
        let now = 1_764_181_617;
        let parts = RequestParts {
            method: "GET",
            path: "/2015-03-31/functions/f",
            query: "Qualifier=%24LATEST",
            headers: vec![("host".into(), "127.0.0.1:4566".into())],
            payload_hash: payload_hash(b""),
        };
        let query = presign(&parts, "ASIAEXAMPLE", "secret", Some("to/ken+="), "eu-west-1", "lambda", now, 60);
        let presigned = parse_presigned(&query).unwrap();
        assert_eq!(presigned.security_token.as_deref(), Some("to/ken+="));
        assert_eq!(presigned.authorization.region, "eu-west-1");
        let signed = RequestParts { query: &query, ..parts.clone() };
        assert_eq!(verify_presigned(&signed, &presigned, "secret", now + 30, None), Ok(()));
        assert!(matches!(
            verify_presigned(&signed, &presigned, "secret", now + 61, None),
            Err(VerifyError::UrlExpired { .. })
        ));
        let tampered = query.replace("Qualifier=%24LATEST", "Qualifier=1");
        let signed = RequestParts { query: &tampered, ..parts.clone() };
        assert_eq!(verify_presigned(&signed, &presigned, "secret", now, None), Err(VerifyError::Mismatch));
        let too_long = presign(&parts, "AKID", "secret", None, "us-east-1", "lambda", now, 604_801);
        let presigned = parse_presigned(&too_long).unwrap();
        let signed = RequestParts { query: &too_long, ..parts };
        assert_eq!(verify_presigned(&signed, &presigned, "secret", now, None), Err(VerifyError::BadExpires));
    }

    /// A request signed now for `service`, with `edit` applied to its parts before signing.
    fn signed_for(service: &str, region: &str, now: i64) -> (RequestParts<'static>, Authorization) {
        let mut parts = RequestParts {
            method: "GET",
            path: "/2015-03-31/functions",
            query: "",
            headers: vec![("host".into(), "127.0.0.1:4566".into())],
            payload_hash: payload_hash(b""),
        };
        let added = sign(&mut parts, "test", "test", region, service, now);
        (parts, parse_authorization(&added[2].1).unwrap())
    }

    #[test]
    fn the_scope_must_name_the_routed_service() {
        let now = 1_764_181_617;
        let (parts, authorization) = signed_for("sqs", "us-east-1", now);
        assert_eq!(verify(&parts, &authorization, "test", now, Some("sqs")), Ok(()));
        assert_eq!(verify(&parts, &authorization, "test", now, None), Ok(()));
        assert_eq!(
            verify(&parts, &authorization, "test", now, Some("lambda")),
            Err(VerifyError::ScopeMismatch("Credential should be scoped to correct service: 'lambda'.".into()))
        );
    }

    #[test]
    fn the_scope_must_name_a_region() {
        let now = 1_764_181_617;
        let (parts, authorization) = signed_for("lambda", "Not A Region", now);
        assert_eq!(
            verify(&parts, &authorization, "test", now, Some("lambda")),
            Err(VerifyError::ScopeMismatch(
                "Credential should be scoped to a valid region, not 'Not A Region'.".into()
            ))
        );
    }

    #[test]
    fn the_scope_date_must_be_the_request_day() {
        let now = 1_764_181_617;
        let (parts, mut authorization) = signed_for("lambda", "us-east-1", now);
        authorization.date = "20251125".into();
        assert_eq!(
            verify(&parts, &authorization, "test", now, Some("lambda")),
            Err(VerifyError::ScopeMismatch(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '20251125' != '20251126', from '20251126T182657Z'."
                    .into()
            ))
        );
        // Several problems are named together, in AWS's order.
        authorization.region = String::new();
        let Err(VerifyError::ScopeMismatch(message)) = verify(&parts, &authorization, "test", now, Some("sts")) else {
            panic!("a scope mismatch");
        };
        assert!(message.starts_with("Credential should be scoped to a valid region, not ''. Credential should be scoped to correct service: 'sts'. Date in Credential scope"), "{message}");
    }

    #[test]
    fn host_must_be_signed() {
        let now = 1_764_181_617;
        let (parts, mut authorization) = signed_for("lambda", "us-east-1", now);
        authorization.signed_headers.retain(|name| name != "host");
        assert_eq!(verify(&parts, &authorization, "test", now, None), Err(VerifyError::HostNotSigned));
        let query = presign(&parts, "test", "test", None, "us-east-1", "lambda", now, 60);
        let unsigned_host = query.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date");
        let presigned = parse_presigned(&unsigned_host).unwrap();
        let signed = RequestParts { query: &unsigned_host, ..parts };
        assert_eq!(verify_presigned(&signed, &presigned, "test", now, None), Err(VerifyError::HostNotSigned));
    }

    #[test]
    fn encodes_and_decodes() {
        assert_eq!(uri_encode("a b/c:d", true), "a%20b/c%3Ad");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(percent_decode("%24LATEST%2"), "$LATEST%2");
    }
}
