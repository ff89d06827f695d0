//! AWS Signature Version 4: building the canonical request, signing it, and verifying a
//! request's `Authorization` header. Pure computation over already-parsed request parts, so the
//! gateway verifies and Kumo's own clients (CLI, benchmark) sign with the same code.
//!
//! Non-S3 services sign the path URI-encoded twice (clients send it encoded once and the
//! canonical form encodes that again) and hash the body.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The one algorithm Kumo accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's timestamp may be from Kumo's clock (AWS: 15 minutes).
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Access key id.
    pub access_key: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    /// Region of the scope.
    pub region: String,
    /// Service of the scope.
    pub service: String,
    /// Lowercase names of the signed headers, in order.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

impl Authorization {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// Parses an `Authorization` header value; `None` when it is not SigV4.
pub fn parse_authorization(value: &str) -> Option<Authorization> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let mut scope = credential?.split('/');
    let authorization = Authorization {
        access_key: scope.next()?.to_string(),
        date: scope.next()?.to_string(),
        region: scope.next()?.to_string(),
        service: scope.next()?.to_string(),
        signed_headers: signed_headers?.split(';').map(str::to_string).collect(),
        signature: signature?.to_string(),
    };
    (scope.next() == Some("aws4_request")).then_some(authorization)
}

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

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&input[index + 1..index + 3], 16) {
                decoded.push(byte);
                index += 3;
                continue;
            }
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
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

fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request of `parts` for the given signed headers.
pub fn canonical_request(parts: &RequestParts<'_>, signed_headers: &[String]) -> String {
    let path = if parts.path.is_empty() { "/" } else { parts.path };
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = parts
            .headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| canonical_header_value(value))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method,
        uri_encode(path, true),
        canonical_query(parts.query),
        canonical_headers,
        signed_headers.join(";"),
        parts.payload_hash
    )
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, authorization: &Authorization) -> Vec<u8> {
    let date = hmac(format!("AWS4{secret}").as_bytes(), &authorization.date);
    let region = hmac(&date, &authorization.region);
    let service = hmac(&region, &authorization.service);
    hmac(&service, "aws4_request")
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
}

/// The `X-Amz-Date` (or `Date`) header value of a request.
fn amz_date(parts: &RequestParts<'_>) -> Option<String> {
    parts.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("x-amz-date")).map(|(_, value)| value.clone())
}

/// Seconds since the epoch of a `YYYYMMDDTHHMMSSZ` timestamp.
pub fn parse_amz_date(value: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(value, &format).ok().map(|moment| moment.assume_utc().unix_timestamp())
}

/// Verifies a request against the secret of its access key at time `now` (epoch seconds).
pub fn verify(
    parts: &RequestParts<'_>,
    authorization: &Authorization,
    secret: &str,
    now: i64,
) -> Result<(), VerifyError> {
    let date = amz_date(parts).ok_or(VerifyError::BadDate)?;
    let signed_at = parse_amz_date(&date).ok_or(VerifyError::BadDate)?;
    if (now - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err(VerifyError::Expired(date));
    }
    let canonical = canonical_request(parts, &authorization.signed_headers);
    let to_sign = string_to_sign(&date, authorization, &canonical);
    let provided = hex::decode(&authorization.signature).map_err(|_| VerifyError::Mismatch)?;
    // verify_slice compares in constant time, so timing reveals nothing about the signature.
    let mut mac = HmacSha256::new_from_slice(&signing_key(secret, authorization)).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&provided).map_err(|_| VerifyError::Mismatch)
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
    let moment = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let date = format!("{:04}{:02}{:02}", moment.year(), u8::from(moment.month()), moment.day());
    let amz_date = format!("{date}T{:02}{:02}{:02}Z", moment.hour(), moment.minute(), moment.second());
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
    let canonical = canonical_request(parts, &authorization.signed_headers);
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

/// Hex sha256 of a body, as `x-amz-content-sha256` carries it.
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(verify(&parts, &authorization, secret, now), Ok(()));
        assert_eq!(verify(&parts, &authorization, "wrong", now), Err(VerifyError::Mismatch));
        assert!(matches!(verify(&parts, &authorization, secret, now + 3600), Err(VerifyError::Expired(_))));
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
        assert_eq!(verify(&parts, &authorization, "test", now), Ok(()));
        parts.payload_hash = payload_hash(b"tampered");
        assert_eq!(verify(&parts, &authorization, "test", now), Err(VerifyError::Mismatch));
    }

    #[test]
    fn encodes_and_decodes() {
        assert_eq!(uri_encode("a b/c:d", true), "a%20b/c%3Ad");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(percent_decode("%24LATEST%2"), "$LATEST%2");
    }
}
