//! Download URLs of code packages (`GetFunction`'s `Code.Location`, `GetLayerVersion`'s
//! `Content.Location`): presigned, as AWS's are (an S3 URL signed with SigV4's query form,
//! valid 10 minutes). Anyone holding the URL may download the package until it expires, with
//! plain `curl` and no credentials; a URL past its expiry, or with any part changed, is refused.
//!
//! Kumo signs them with a key of its own: a random secret made at start, known to nobody else
//! and accepted on `/_kumo/code/` only (AWS signs with Lambda's own credentials, not the
//! caller's). URLs made before a restart stop working, which their 10 minutes allow.

use std::sync::atomic::{AtomicI64, Ordering};

use kumo_core::sigv4::{self, RequestParts, VerifyError};

/// The access key id of Kumo's code-download signatures.
pub const CODE_URL_ACCESS_KEY: &str = "KUMOCODEDOWNLOAD";
/// The signing service of code-download URLs (the `/_kumo` endpoints').
pub const CODE_URL_SERVICE: &str = "kumo";
/// How long a code URL works (AWS: 10 minutes).
pub const CODE_URL_EXPIRES_SECONDS: i64 = 600;
/// The path every code URL starts with.
pub const CODE_URL_PATH: &str = "/_kumo/code/";

/// Why a code download was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeUrlError {
    /// The URL carries no signature (or not Kumo's).
    #[error("the code url is not presigned")]
    NotPresigned,
    /// Its `X-Amz-*` parameters are malformed.
    #[error("malformed code url: {0}")]
    Malformed(String),
    /// Valid once, expired now.
    #[error("the code url expired")]
    Expired,
    /// Some part of it was changed.
    #[error("the code url signature does not match")]
    Mismatch,
}

/// Makes and checks code-download URLs.
#[derive(Debug)]
pub struct CodeUrls {
    /// Base URL clients reach Kumo at.
    endpoint_url: String,
    /// `host` as clients send it for `endpoint_url` (signed).
    host: String,
    secret: String,
    expires_seconds: AtomicI64,
}

impl CodeUrls {
    /// URLs under `endpoint_url`, signed with a fresh random secret.
    pub fn new(endpoint_url: String) -> Self {
        let host = endpoint_url.split_once("://").map_or(endpoint_url.as_str(), |(_, rest)| rest);
        let host = host.split('/').next().unwrap_or_default().to_string();
        // Two v4 UUIDs: 244 random bits from the OS-seeded generator.
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        Self { endpoint_url, host, secret, expires_seconds: AtomicI64::new(CODE_URL_EXPIRES_SECONDS) }
    }

    /// The port of the address clients reach Kumo at, if it names one (function URLs use it).
    pub fn port(&self) -> Option<&str> {
        self.host.rsplit_once(':').map(|(_, port)| port).filter(|port| port.chars().all(|c| c.is_ascii_digit()))
    }

    /// Sets how long new URLs work (tests shorten it to see one expire).
    pub fn set_expires_seconds(&self, seconds: i64) {
        self.expires_seconds.store(seconds.clamp(1, sigv4::MAX_PRESIGNED_EXPIRES_SECONDS), Ordering::Relaxed);
    }

    /// The URL of the package with blob `sha256_hex`, signed at `now` (epoch seconds) for `region`.
    pub fn location(&self, sha256_hex: &str, region: &str, now: i64) -> String {
        let path = format!("{CODE_URL_PATH}{sha256_hex}.zip");
        let parts = RequestParts {
            method: "GET",
            path: &path,
            query: "",
            headers: vec![("host".to_string(), self.host.clone())],
            payload_hash: sigv4::UNSIGNED_PAYLOAD.to_string(),
        };
        let expires = self.expires_seconds.load(Ordering::Relaxed);
        let query =
            sigv4::presign(&parts, CODE_URL_ACCESS_KEY, &self.secret, None, region, CODE_URL_SERVICE, now, expires);
        format!("{}{path}?{query}", self.endpoint_url)
    }

    /// Checks a request for a code URL: its method, path, query string and `Host` header.
    pub fn verify(&self, method: &str, path: &str, query: &str, host: &str, now: i64) -> Result<(), CodeUrlError> {
        if !sigv4::is_presigned(query) {
            return Err(CodeUrlError::NotPresigned);
        }
        let presigned = sigv4::parse_presigned(query).map_err(|error| CodeUrlError::Malformed(error.0))?;
        if presigned.authorization.access_key != CODE_URL_ACCESS_KEY {
            return Err(CodeUrlError::NotPresigned);
        }
        let parts = RequestParts {
            method,
            path,
            query,
            headers: vec![("host".to_string(), host.to_string())],
            payload_hash: sigv4::UNSIGNED_PAYLOAD.to_string(),
        };
        match sigv4::verify_presigned(&parts, &presigned, &self.secret, now, Some(CODE_URL_SERVICE)) {
            Ok(()) => Ok(()),
            Err(VerifyError::UrlExpired { .. }) => Err(CodeUrlError::Expired),
            Err(VerifyError::BadExpires | VerifyError::BadDate) => {
                Err(CodeUrlError::Malformed("X-Amz-Date or X-Amz-Expires is not valid".to_string()))
            }
            // A changed scope, date or header set is a changed URL.
            Err(_) => Err(CodeUrlError::Mismatch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "8f4e33f3dc3e414ff94e5fb6905cba8c7c83f1d4f68f0b8e8f2a6c2e2e3a1b4c";

    fn split(url: &str) -> (String, String) {
        let rest = url.strip_prefix("http://127.0.0.1:4566").unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        (path.to_string(), query.to_string())
    }

    #[test]
    fn a_code_url_works_for_ten_minutes_and_not_after() {
        let urls = CodeUrls::new("http://127.0.0.1:4566".into());
        let now = 1_764_181_617;
        let location = urls.location(SHA, "us-east-1", now);
        assert!(location.contains("X-Amz-Expires=600"), "{location}");
        let (path, query) = split(&location);
        assert_eq!(urls.verify("GET", &path, &query, "127.0.0.1:4566", now + 600), Ok(()));
        assert_eq!(urls.verify("GET", &path, &query, "127.0.0.1:4566", now + 601), Err(CodeUrlError::Expired));
    }

    #[test]
    fn any_change_to_a_code_url_is_refused() {
        let urls = CodeUrls::new("http://127.0.0.1:4566".into());
        let now = 1_764_181_617;
        let (path, query) = split(&urls.location(SHA, "us-east-1", now));
        let verify = |path: &str, query: &str, host: &str| urls.verify("GET", path, query, host, now);
        let other_blob = path.replace(&SHA[..8], "00000000");
        assert_eq!(verify(&other_blob, &query, "127.0.0.1:4566"), Err(CodeUrlError::Mismatch));
        let longer = query.replace("X-Amz-Expires=600", "X-Amz-Expires=6000");
        assert_eq!(verify(&path, &longer, "127.0.0.1:4566"), Err(CodeUrlError::Mismatch));
        assert_eq!(verify(&path, &query, "evil.example:4566"), Err(CodeUrlError::Mismatch));
        assert_eq!(verify(&path, "", "127.0.0.1:4566"), Err(CodeUrlError::NotPresigned));
        let other_secret = CodeUrls::new("http://127.0.0.1:4566".into());
        let (_, forged) = split(&other_secret.location(SHA, "us-east-1", now));
        assert_eq!(verify(&path, &forged, "127.0.0.1:4566"), Err(CodeUrlError::Mismatch));
        assert!(matches!(
            verify(&path, "X-Amz-Credential=%a%C3%A9", "127.0.0.1:4566"),
            Err(CodeUrlError::Malformed(_))
        ));
    }
}
