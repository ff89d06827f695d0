//! What s3s is told about a request the gateway has already authenticated, and what routing
//! reads from a restXml request's head before its body:
//! - [`VirtualHostedBuckets`]: the bucket of a virtual-hosted request (`bucket.s3.<anything>`,
//!   the host form the registry routes to the service), so s3s parses its path as a key;
//! - [`upload_operation`]: whether the request is an object upload (`PutObject`,
//!   `UploadPart`), the operations whose body streams, known before the body is read;
//! - [`plain_head`]: the head s3s sees. s3s verifies signatures only when it has an auth
//!   provider; without one it refuses any request that carries a signature (`NotImplemented`:
//!   "This service has no authentication provider"). It decodes `aws-chunked` bodies only while
//!   verifying them: without an auth provider it never reads `x-amz-content-sha256`, so a
//!   `STREAMING-…` body would reach `put_object` with its chunk framing as data, a
//!   `Content-Length` counting the framing, and `aws-chunked` in the `Content-Encoding` it
//!   stores. Kumo's gateway has verified the signature and decodes the body as it streams, so
//!   the signature (header or presigned query) is taken out, and an `aws-chunked` request is
//!   described as the plain body s3s is handed: `Content-Length` the decoded length,
//!   `aws-chunked` out of `Content-Encoding`, no streaming marker, decoded length or trailer
//!   declaration.

use std::borrow::Cow;

use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method};
use s3s::host::{S3Host, VirtualHost};
use s3s::S3Result;

/// The query parameters of a presigned URL's signature (SigV4, and SigV2's for completeness:
/// the gateway refuses SigV2, but insecure mode lets any request through).
const SIGNATURE_PARAMETERS: [&str; 10] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
];

/// The headers of an `aws-chunked` body's framing, gone once the gateway has decoded it.
const CHUNKED_HEADERS: [&str; 3] = ["x-amz-content-sha256", "x-amz-decoded-content-length", "x-amz-trailer"];

/// Object subresources written by a `PUT` on a key with a small XML body (not an upload).
const OBJECT_SUBRESOURCES: [&str; 4] = ["acl", "tagging", "retention", "legal-hold"];

/// The host label of S3's virtual-hosted form: `bucket.s3.<anything>`.
pub const S3_HOST_LABEL: &str = "s3";

/// s3s' host parser for the host forms Kumo routes to S3: `bucket.s3.<anything>` names its
/// bucket; any other host (`localhost:4566`, `s3.localhost`) is path-style.
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtualHostedBuckets;

impl S3Host for VirtualHostedBuckets {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match virtual_hosted_bucket(host) {
            Some((bucket, domain)) => VirtualHost::new(domain).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

/// The bucket and the S3 domain of a `bucket.s3.<anything>[:port]` host.
fn virtual_hosted_bucket(host: &str) -> Option<(&str, &str)> {
    let (bucket, domain) = host.split_once('.')?;
    let second_label = domain.split(['.', ':']).next()?;
    (second_label == S3_HOST_LABEL && !bucket.is_empty()).then_some((bucket, domain))
}

/// `PutObject` or `UploadPart` when the request uploads an object's data (a `PUT` on a key
/// that copies nothing and writes no subresource), whose body streams.
pub fn upload_operation(parts: &Parts) -> Option<&'static str> {
    if parts.method != Method::PUT || parts.headers.contains_key("x-amz-copy-source") {
        return None;
    }
    let host = parts.headers.get(http::header::HOST).and_then(|host| host.to_str().ok());
    let path = parts.uri.path().trim_start_matches('/');
    let key = match host.and_then(virtual_hosted_bucket) {
        Some(_) => path,
        None => path.split_once('/').map_or("", |(_, key)| key),
    };
    if key.is_empty() {
        return None;
    }
    let query = parts.uri.query().unwrap_or_default();
    let names: Vec<Cow<'_, str>> = form_urlencoded::parse(query.as_bytes()).map(|(name, _)| name).collect();
    if names.iter().any(|name| OBJECT_SUBRESOURCES.contains(&name.as_ref())) {
        return None;
    }
    let part = names.iter().any(|name| name == "partNumber") && names.iter().any(|name| name == "uploadId");
    Some(if part { "UploadPart" } else { "PutObject" })
}

/// The head of `parts` as s3s is to see it (see the module doc): no signature, and a decoded
/// `aws-chunked` body described as plain.
pub fn plain_head(parts: &Parts) -> Parts {
    let (mut plain, ()) = http::Request::new(()).into_parts();
    plain.method = parts.method.clone();
    plain.version = parts.version;
    plain.uri = without_signature(&parts.uri);
    plain.headers = parts.headers.clone();
    let headers = &mut plain.headers;
    headers.remove(AUTHORIZATION);
    let chunked = is_aws_chunked(headers);
    if chunked {
        let decoded = headers.get("x-amz-decoded-content-length").cloned();
        match decoded {
            Some(length) => headers.insert(CONTENT_LENGTH, length),
            None => headers.remove(CONTENT_LENGTH),
        };
        for name in CHUNKED_HEADERS {
            headers.remove(name);
        }
        strip_aws_chunked(headers);
    }
    plain
}

/// Whether the body is `aws-chunked` (a streaming marker, or `aws-chunked` content encoding).
fn is_aws_chunked(headers: &HeaderMap) -> bool {
    let marker = headers.get("x-amz-content-sha256").and_then(|value| value.to_str().ok());
    marker.is_some_and(|marker| marker.starts_with("STREAMING-"))
        || headers.get_all(CONTENT_ENCODING).iter().any(|value| {
            value.to_str().is_ok_and(|value| value.split(',').any(|coding| coding.trim() == "aws-chunked"))
        })
}

/// `Content-Encoding` without `aws-chunked` (gone when nothing else was listed), as S3 stores it.
fn strip_aws_chunked(headers: &mut HeaderMap) {
    let codings: Vec<String> = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|coding| !coding.is_empty() && *coding != "aws-chunked")
        .map(str::to_string)
        .collect();
    headers.remove(CONTENT_ENCODING);
    if let Ok(value) = HeaderValue::from_str(&codings.join(", ")) {
        if !codings.is_empty() {
            headers.insert(CONTENT_ENCODING, value);
        }
    }
}

/// `uri` without a presigned URL's signature parameters (the others exactly as sent).
fn without_signature(uri: &http::Uri) -> http::Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let is_signature = |pair: &str| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        SIGNATURE_PARAMETERS.iter().any(|parameter| parameter.eq_ignore_ascii_case(name))
    };
    if !query.split('&').any(is_signature) {
        return uri.clone();
    }
    let kept: Vec<&str> = query.split('&').filter(|pair| !pair.is_empty() && !is_signature(pair)).collect();
    let path_and_query =
        if kept.is_empty() { uri.path().to_string() } else { format!("{}?{}", uri.path(), kept.join("&")) };
    // The path and the kept pairs come from a valid URI, so they make one again; if not, the
    // original stands (s3s then refuses its signature, the safe side).
    let mut builder = http::Uri::builder().path_and_query(path_and_query);
    if let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) {
        builder = builder.scheme(scheme.clone()).authority(authority.clone());
    }
    builder.build().unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, host: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder().method(method).uri(uri).header("host", host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn virtual_hosted_hosts_name_their_bucket_and_others_are_path_style() {
        let parse = |host| VirtualHostedBuckets.parse_host_header(host).unwrap().bucket().map(str::to_string);
        assert_eq!(parse("photos.s3.localhost:4566").as_deref(), Some("photos"));
        assert_eq!(parse("photos.s3.us-east-1.amazonaws.com").as_deref(), Some("photos"));
        assert_eq!(parse("localhost:4566"), None);
        assert_eq!(parse("s3.localhost"), None);
        assert_eq!(parse("photos.lambda-url.localhost"), None);
    }

    #[test]
    fn only_uploads_of_object_data_are_named_before_the_body() {
        let upload = |method, host, uri, headers: &[(&str, &str)]| upload_operation(&head(method, host, uri, headers));
        assert_eq!(upload("PUT", "localhost", "/2015-03-31/key", &[]), Some("PutObject"));
        assert_eq!(upload("PUT", "b.s3.localhost", "/key", &[]), Some("PutObject"));
        assert_eq!(upload("PUT", "b.s3.localhost", "/k?partNumber=1&uploadId=u", &[]), Some("UploadPart"));
        // A bucket, a subresource, a copy: small bodies.
        assert_eq!(upload("PUT", "localhost", "/bucket", &[]), None);
        assert_eq!(upload("PUT", "localhost", "/bucket/", &[]), None);
        assert_eq!(upload("PUT", "b.s3.localhost", "/", &[]), None);
        assert_eq!(upload("PUT", "localhost", "/bucket/key?tagging", &[]), None);
        assert_eq!(upload("PUT", "localhost", "/bucket/key", &[("x-amz-copy-source", "/a/b")]), None);
        assert_eq!(upload("POST", "localhost", "/bucket/key?uploads", &[]), None);
    }

    #[test]
    fn s3s_sees_no_signature_and_a_decoded_chunked_body_as_plain() {
        let parts = head(
            "PUT",
            "localhost",
            "/b/k?X-Amz-Signature=ab&x-id=PutObject&X-Amz-Credential=c",
            &[
                ("authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request"),
                ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                ("content-encoding", "gzip, aws-chunked"),
                ("content-length", "1090"),
                ("x-amz-decoded-content-length", "1024"),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
                ("x-amz-meta-colour", "blue"),
            ],
        );
        let plain = plain_head(&parts);
        assert_eq!(plain.uri.to_string(), "/b/k?x-id=PutObject");
        assert!(!plain.headers.contains_key("authorization"));
        assert_eq!(plain.headers["content-length"], "1024");
        assert_eq!(plain.headers["content-encoding"], "gzip");
        for gone in CHUNKED_HEADERS {
            assert!(!plain.headers.contains_key(gone), "{gone}");
        }
        assert_eq!(plain.headers["x-amz-meta-colour"], "blue");
        // A plain body keeps its length and encoding.
        let gzip = head("PUT", "localhost", "/b/k", &[("content-encoding", "gzip"), ("content-length", "5")]);
        let plain = plain_head(&gzip);
        assert_eq!(
            (plain.headers["content-encoding"].to_str().unwrap(), plain.headers["content-length"].to_str().unwrap()),
            ("gzip", "5")
        );
        let only_chunked = head("PUT", "localhost", "/b/k", &[("content-encoding", "aws-chunked")]);
        assert!(!plain_head(&only_chunked).headers.contains_key("content-encoding"));
    }
}
