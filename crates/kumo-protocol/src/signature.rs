//! A request's SigV4 signature, parsed once per request: the routing step parses the
//! `Authorization` header (or a presigned URL's query) into a [`SignedHead`] and puts it in the
//! request's extensions; routing by signing name, authentication and the request context (its
//! region and access key) all read it from there.

use std::sync::Arc;

use http::request::Parts;
use kumo_core::sigv4::{self, Authorization, CredentialScope, MalformedSignature, Presigned};

/// Where a request carries its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// The `Authorization` header.
    Header(Authorization),
    /// A presigned URL's `X-Amz-*` query parameters.
    Query(Presigned),
}

impl Signature {
    /// The signing access key.
    pub fn access_key(&self) -> &str {
        &self.authorization().access_key
    }

    /// The credential, scope, signed headers and signature.
    pub fn authorization(&self) -> &Authorization {
        match self {
            Signature::Header(authorization) => authorization,
            Signature::Query(presigned) => &presigned.authorization,
        }
    }
}

/// What a request's head says about its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    /// The signature: `Ok(None)` when the request carries none, an error (AWS's
    /// `IncompleteSignature` message) when it is not SigV4 as AWS takes it.
    pub signature: Result<Option<Signature>, MalformedSignature>,
    /// A well-formed credential scope of a malformed signature (routing and the region still
    /// follow it, as before the signature is refused).
    fallback_scope: Option<CredentialScope>,
}

impl SignedHead {
    /// Parses the signature of `parts`.
    pub fn parse(parts: &Parts) -> Self {
        let signature = signature_of(parts);
        let fallback_scope = match &signature {
            Ok(Some(_)) => None,
            _ => {
                let authorization =
                    parts.headers.get(http::header::AUTHORIZATION).and_then(|value| value.to_str().ok());
                sigv4::credential_scope(authorization, parts.uri.query())
            }
        };
        Self { signature, fallback_scope }
    }

    /// The one the routing step put in the request's extensions, else parsed now (for a request
    /// that did not pass routing).
    pub fn of(parts: &Parts) -> Arc<Self> {
        parts.extensions.get::<Arc<Self>>().cloned().unwrap_or_else(|| Arc::new(Self::parse(parts)))
    }

    /// The credential scope's access key.
    pub fn access_key(&self) -> Option<&str> {
        self.field(|authorization| &authorization.access_key, |scope| &scope.access_key)
    }

    /// The credential scope's region.
    pub fn region(&self) -> Option<&str> {
        self.field(|authorization| &authorization.region, |scope| &scope.region)
    }

    /// The credential scope's service (signing name).
    pub fn service(&self) -> Option<&str> {
        self.field(|authorization| &authorization.service, |scope| &scope.service)
    }

    /// The credential scope, owned.
    pub fn scope(&self) -> Option<CredentialScope> {
        match &self.signature {
            Ok(Some(signature)) => {
                let authorization = signature.authorization();
                Some(CredentialScope {
                    access_key: authorization.access_key.clone(),
                    date: authorization.date.clone(),
                    region: authorization.region.clone(),
                    service: authorization.service.clone(),
                })
            }
            _ => self.fallback_scope.clone(),
        }
    }

    fn field<'a>(
        &'a self,
        from_signature: impl Fn(&'a Authorization) -> &'a String,
        from_scope: impl Fn(&'a CredentialScope) -> &'a String,
    ) -> Option<&'a str> {
        match &self.signature {
            Ok(Some(signature)) => Some(from_signature(signature.authorization()).as_str()),
            _ => self.fallback_scope.as_ref().map(|scope| from_scope(scope).as_str()),
        }
    }
}

fn signature_of(parts: &Parts) -> Result<Option<Signature>, MalformedSignature> {
    if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
        let header = header
            .to_str()
            .map_err(|_| MalformedSignature("Authorization header must be visible ASCII text".to_string()))?;
        return sigv4::parse_authorization(header).map(|authorization| Some(Signature::Header(authorization)));
    }
    match parts.uri.query().filter(|query| sigv4::is_presigned(query)) {
        None => Ok(None),
        Some(query) => sigv4::parse_presigned(query).map(|presigned| Some(Signature::Query(presigned))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(authorization: Option<&[u8]>, uri: &str) -> SignedHead {
        let mut request = http::Request::builder().uri(uri);
        if let Some(value) = authorization {
            request = request.header("authorization", http::HeaderValue::from_bytes(value).unwrap());
        }
        SignedHead::parse(&request.body(()).unwrap().into_parts().0)
    }

    const HEADER: &[u8] =
        b"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=00";

    #[test]
    fn a_header_signature_gives_its_scope_without_parsing_again() {
        let head = head(Some(HEADER), "/");
        assert!(matches!(head.signature, Ok(Some(Signature::Header(_)))));
        assert_eq!(
            (head.access_key(), head.region(), head.service()),
            (Some("AKID"), Some("eu-west-1"), Some("lambda"))
        );
        assert_eq!(head.scope().map(|scope| scope.date), Some("20260101".to_string()));
    }

    #[test]
    fn the_scope_agrees_with_the_bounded_scope_parser() {
        let query =
            "/?X-Amz-Credential=AKID%2F20260101%2Fus-west-2%2Fsqs%2Faws4_request&X-Amz-Algorithm=AWS4-HMAC-SHA256";
        for (authorization, uri) in [
            (Some(HEADER), "/"),
            // Malformed: no Signature. The request is refused, but routing still follows its scope.
            (
                Some(&b"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host"[..]),
                "/",
            ),
            (Some(&b"AWS4-HMAC-SHA256 Credential=\xff"[..]), query),
            (None, query),
            (None, "/?a=b"),
            (None, "/"),
        ] {
            let head = head(authorization, uri);
            let parts = {
                let mut request = http::Request::builder().uri(uri);
                if let Some(value) = authorization {
                    request = request.header("authorization", http::HeaderValue::from_bytes(value).unwrap());
                }
                request.body(()).unwrap().into_parts().0
            };
            let header = parts.headers.get("authorization").and_then(|value| value.to_str().ok());
            assert_eq!(head.scope(), sigv4::credential_scope(header, parts.uri.query()), "{uri}");
        }
    }

    #[test]
    fn malformed_signatures_keep_awss_messages() {
        let error = head(Some(b"AWS4-HMAC-SHA256 Credential=\xff"), "/").signature.unwrap_err();
        assert_eq!(error.0, "Authorization header must be visible ASCII text");
        let error = head(Some(b"AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request"), "/").signature.unwrap_err();
        assert!(error.0.contains("requires 'Signature' parameter"), "{error}");
        assert!(head(None, "/?X-Amz-Credential=x").signature.is_err());
    }

    #[test]
    fn routing_puts_it_in_the_extensions_and_readers_share_it() {
        let mut parts = http::Request::builder().header("authorization", HEADER).body(()).unwrap().into_parts().0;
        let parsed = Arc::new(SignedHead::parse(&parts));
        parts.extensions.insert(Arc::clone(&parsed));
        assert!(Arc::ptr_eq(&SignedHead::of(&parts), &parsed));
    }
}
