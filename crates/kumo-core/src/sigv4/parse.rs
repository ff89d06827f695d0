//! Reading what a request says about its signature: the `Authorization` header, a presigned
//! URL's `X-Amz-*` query parameters and the credential scope in either. Every parser takes any
//! input (these run before anything is authenticated), bounds what it reads, and answers with
//! AWS's message instead of panicking; percent-decoding goes through the `percent-encoding`
//! crate, never by slicing `str`s at byte offsets.

use super::ALGORITHM;

/// Longest `Authorization` header value read (AWS's own headers are a few hundred bytes).
pub const MAX_AUTHORIZATION_BYTES: usize = 16 * 1024;
/// Most signed headers a signature may name.
pub const MAX_SIGNED_HEADERS: usize = 128;
/// Longest credential (`AKID/YYYYMMDD/region/service/aws4_request`) read.
pub const MAX_CREDENTIAL_BYTES: usize = 1024;
/// Most `&`-separated query parameters read when looking for the `X-Amz-*` ones.
pub const MAX_QUERY_PAIRS: usize = 1000;
/// Longest piece of a client's input quoted back in an error message.
const MAX_QUOTED_CHARS: usize = 128;

/// A request's signature is not SigV4 as AWS takes it; the message is AWS's
/// (`IncompleteSignature`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedSignature(pub String);

/// The credential scope: `<access key>/<YYYYMMDD>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// Access key id.
    pub access_key: String,
    /// `YYYYMMDD`.
    pub date: String,
    /// Region.
    pub region: String,
    /// Signing name of the service.
    pub service: String,
}

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

    fn new(scope: CredentialScope, signed_headers: Vec<String>, signature: String) -> Self {
        Self {
            access_key: scope.access_key,
            date: scope.date,
            region: scope.region,
            service: scope.service,
            signed_headers,
            signature,
        }
    }
}

/// A request signed in its query string (a presigned URL): `X-Amz-Algorithm`,
/// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
/// `X-Amz-Signature` and, for temporary credentials, `X-Amz-Security-Token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// The credential, scope, signed headers and signature.
    pub authorization: Authorization,
    /// `X-Amz-Date`.
    pub amz_date: String,
    /// `X-Amz-Expires` in seconds.
    pub expires_seconds: i64,
    /// `X-Amz-Security-Token`, when temporary credentials signed.
    pub security_token: Option<String>,
}

/// Decodes `%XX` escapes; invalid escapes are kept as they are and bytes that are not UTF-8
/// become U+FFFD (so any input decodes, and nothing is sliced mid-character).
pub fn percent_decode(input: &str) -> String {
    percent_encoding::percent_decode_str(input).decode_utf8_lossy().into_owned()
}

/// At most [`MAX_QUOTED_CHARS`] characters of client input, for an error message.
fn quoted(input: &str) -> String {
    input.chars().take(MAX_QUOTED_CHARS).collect()
}

/// Parses `AKID/YYYYMMDD/region/service/aws4_request`.
pub fn parse_credential(credential: &str) -> Result<CredentialScope, MalformedSignature> {
    let malformed = || {
        MalformedSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            quoted(credential)
        ))
    };
    if credential.len() > MAX_CREDENTIAL_BYTES {
        return Err(malformed());
    }
    let fields: Vec<&str> = credential.splitn(6, '/').collect();
    let [access_key, date, region, service, terminator] = fields[..] else {
        return Err(malformed());
    };
    if access_key.is_empty() {
        return Err(malformed());
    }
    if terminator != "aws4_request" {
        return Err(MalformedSignature(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            quoted(terminator)
        )));
    }
    Ok(CredentialScope {
        access_key: access_key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    })
}

/// Splits `a;b;c` into lowercase header names, at most [`MAX_SIGNED_HEADERS`].
fn parse_signed_headers(value: &str) -> Result<Vec<String>, MalformedSignature> {
    let names: Vec<String> = value.split(';').take(MAX_SIGNED_HEADERS + 1).map(str::to_ascii_lowercase).collect();
    if names.len() > MAX_SIGNED_HEADERS {
        return Err(MalformedSignature(format!("A signature may sign at most {MAX_SIGNED_HEADERS} headers")));
    }
    if names.iter().any(String::is_empty) {
        return Err(MalformedSignature("SignedHeaders must not contain empty header names".to_string()));
    }
    Ok(names)
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Authorization, MalformedSignature> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(MalformedSignature(format!(
            "Authorization header must be at most {MAX_AUTHORIZATION_BYTES} bytes"
        )));
    }
    let (algorithm, rest) = value.trim_start().split_once(' ').unwrap_or((value.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(MalformedSignature(format!(
            "Unsupported AWS 'algorithm': '{}' (only AWS4-HMAC-SHA256 for now). ",
            quoted(algorithm)
        )));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    // Bounded by the header's length: at most one part per byte.
    for part in rest.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let missing: Vec<String> =
        [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed_headers)]
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| format!("Authorization header requires '{name}' parameter."))
            .collect();
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(MalformedSignature(missing.join(" ")));
    };
    Ok(Authorization::new(parse_credential(credential)?, parse_signed_headers(signed_headers)?, signature.to_string()))
}

/// The `X-Amz-*` pairs of a query string, values percent-decoded (the first of repeated keys).
fn amz_query_fields(query: &str) -> Result<Vec<(&str, String)>, MalformedSignature> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for (index, pair) in query.split('&').enumerate() {
        if index >= MAX_QUERY_PAIRS {
            return Err(MalformedSignature(format!("A query string may have at most {MAX_QUERY_PAIRS} parameters")));
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.starts_with("X-Amz-") && !fields.iter().any(|(known, _)| *known == key) {
            fields.push((key, percent_decode(value)));
        }
    }
    Ok(fields)
}

/// Whether a query string carries a SigV4 query signature.
pub fn is_presigned(query: &str) -> bool {
    query
        .split('&')
        .take(MAX_QUERY_PAIRS)
        .any(|pair| pair.starts_with("X-Amz-Signature=") || pair.starts_with("X-Amz-Credential="))
}

/// Parses a presigned query string.
pub fn parse_presigned(query: &str) -> Result<Presigned, MalformedSignature> {
    let fields = amz_query_fields(query)?;
    let field = |name: &str| fields.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str());
    let required = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Expires",
    ];
    if required.iter().any(|name| field(name).is_none()) {
        return Err(MalformedSignature(
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', \
             'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. Re-examine the query-string parameters."
                .to_string(),
        ));
    }
    // Present: checked just above.
    let value = |name: &str| field(name).unwrap_or_default();
    if value("X-Amz-Algorithm") != ALGORITHM {
        return Err(MalformedSignature(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\", not '{}'",
            quoted(value("X-Amz-Algorithm"))
        )));
    }
    let expires = value("X-Amz-Expires");
    let expires_seconds = expires
        .parse::<i64>()
        .ok()
        .filter(|_| expires.len() <= 18)
        .ok_or_else(|| MalformedSignature("X-Amz-Expires should be a number".to_string()))?;
    let authorization = Authorization::new(
        parse_credential(value("X-Amz-Credential"))?,
        parse_signed_headers(value("X-Amz-SignedHeaders"))?,
        value("X-Amz-Signature").to_string(),
    );
    Ok(Presigned {
        authorization,
        amz_date: value("X-Amz-Date").to_string(),
        expires_seconds,
        security_token: field("X-Amz-Security-Token").map(str::to_string),
    })
}

/// The credential scope a request names, from its `Authorization` header or else its
/// presigned `X-Amz-Credential` parameter; `None` when neither holds a well-formed one. Used
/// for routing and the region before (and whether or not) the signature is verified.
pub fn credential_scope(authorization: Option<&str>, query: Option<&str>) -> Option<CredentialScope> {
    let from_header = authorization.filter(|value| value.len() <= MAX_AUTHORIZATION_BYTES).and_then(|value| {
        let (_, parameters) = value.trim_start().split_once(' ')?;
        let credential = parameters.split(',').find_map(|part| part.trim().strip_prefix("Credential="))?;
        parse_credential(credential).ok()
    });
    from_header.or_else(|| {
        let raw = query?.split('&').take(MAX_QUERY_PAIRS).find_map(|pair| pair.strip_prefix("X-Amz-Credential="))?;
        parse_credential(&percent_decode(raw)).ok()
    })
}

/// Whether `region` is shaped like an AWS region name (`us-east-1`, `eu-central-2`, …).
pub fn is_valid_region(region: &str) -> bool {
    let bytes = region.as_bytes();
    (2..=32).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
        && !region.ends_with('-')
        && !region.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_presigned_credential_is_an_error_not_a_panic() {
        // The query of issue 10: an escape cut short before a multi-byte character.
        for query in ["X-Amz-Credential=%a%C3%A9", "X-Amz-Credential=%a\u{e9}", "X-Amz-Credential=%\u{e9}%", "%"] {
            assert!(parse_presigned(query).is_err(), "{query}");
            assert_eq!(credential_scope(None, Some(query)), None);
        }
        assert_eq!(percent_decode("%a\u{e9}%C3%A9%"), "%a\u{e9}\u{e9}%");
        assert_eq!(percent_decode("%FF"), "\u{fffd}");
    }

    #[test]
    fn the_authorization_header_names_what_it_lacks() {
        let error = parse_authorization("AWS4-HMAC-SHA256 SignedHeaders=host").unwrap_err();
        assert_eq!(
            error.0,
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter."
        );
        let error =
            parse_authorization("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00").unwrap_err();
        assert!(error.0.starts_with("Credential must have exactly 5 slash-delimited elements"), "{error}");
        let error =
            parse_authorization("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=0").unwrap_err();
        assert_eq!(error.0, "Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. ");
        let error = parse_authorization("Bearer abc").unwrap_err();
        assert_eq!(error.0, "Unsupported AWS 'algorithm': 'Bearer' (only AWS4-HMAC-SHA256 for now). ");
        let many = vec!["x"; MAX_SIGNED_HEADERS + 1].join(";");
        let header = format!("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders={many}, Signature=0");
        assert!(parse_authorization(&header).is_err());
        assert!(parse_authorization(&"A".repeat(MAX_AUTHORIZATION_BYTES + 1)).is_err());
    }

    #[test]
    fn presigned_parameters_are_all_required_and_bounded() {
        let complete =
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=k%2F20260101%2Fus-east-1%2Flambda%2Faws4_request\
                        &X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
        let presigned = parse_presigned(complete).unwrap();
        assert_eq!((presigned.authorization.service.as_str(), presigned.expires_seconds), ("lambda", 60));
        assert!(parse_presigned(&complete.replace("X-Amz-Expires=60", "X-Amz-Expires=sixty")).is_err());
        assert!(parse_presigned(&complete.replace("X-Amz-Expires=60", "X-Amz-Expires=99999999999999999999")).is_err());
        assert!(parse_presigned(&complete.replace("&X-Amz-Date=20260101T000000Z", "")).is_err());
        assert!(parse_presigned(&complete.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")).is_err());
        let crowded = format!("{}&{complete}", "a=1&".repeat(MAX_QUERY_PAIRS));
        assert!(parse_presigned(&crowded).is_err());
    }

    #[test]
    fn the_scope_comes_from_the_header_or_else_the_query() {
        let header =
            "AWS4-HMAC-SHA256 Credential=k/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=0";
        let scope = credential_scope(Some(header), None).unwrap();
        assert_eq!(
            (scope.access_key.as_str(), scope.region.as_str(), scope.service.as_str()),
            ("k", "eu-west-1", "sqs")
        );
        let query = "X-Amz-Credential=k%2F20260101%2Fus-west-2%2Flambda%2Faws4_request";
        assert_eq!(credential_scope(Some("Basic x"), Some(query)).unwrap().region, "us-west-2");
        assert_eq!(credential_scope(None, Some("X-Amz-Credential=k/d/r")), None);
    }

    #[test]
    fn region_names_are_checked_for_shape() {
        for valid in ["us-east-1", "eu-west-3", "us-gov-west-1", "cn-north-1", "ap-southeast-2"] {
            assert!(is_valid_region(valid), "{valid}");
        }
        for invalid in ["", "US-EAST-1", "us east 1", "-us", "us-", "a--b", "1us", "é"] {
            assert!(!is_valid_region(invalid), "{invalid}");
        }
    }
}
