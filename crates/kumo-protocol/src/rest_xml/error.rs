//! restXml's one error renderer: S3's `<Error>` document with the request's own id, for every
//! failure of a restXml request, wherever it happened (authentication, a body over its limit,
//! s3s' parsing, the service), and the conversions between Kumo's [`AwsError`] and s3s'
//! [`S3Error`].

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use kumo_core::AwsError;
use quick_xml::escape::escape;
use s3s::{S3Error, S3ErrorCode, StdError};

/// `Content-Type` of restXml documents.
pub const CONTENT_TYPE: &str = "application/xml";

/// The header S3 carries the request id in (botocore's `ResponseMetadata.RequestId`).
pub const REQUEST_ID_HEADER: &str = "x-amz-request-id";

/// The largest s3s error document re-rendered (its documents are a few hundred bytes).
const MAX_ERROR_DOCUMENT: usize = 64 * 1024;

/// `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`, as S3 sends.
pub fn error_document(code: &str, message: &str, request_id: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        escape(code),
        escape(message),
        escape(request_id)
    )
    .into_bytes()
}

/// The answer to a restXml request that failed with `error`.
pub fn error_response(error: &AwsError, request_id: &str) -> http::Response<Bytes> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    document_response(status, error.code, &error.message, request_id)
}

fn document_response(status: StatusCode, code: &str, message: &str, request_id: &str) -> http::Response<Bytes> {
    let mut response = crate::response(status, CONTENT_TYPE, error_document(code, message, request_id), request_id);
    stamp_request_id(response.headers_mut(), request_id);
    response
}

/// Puts the request's id in `x-amz-request-id` (S3's header; the gateway adds AWS's common one).
pub fn stamp_request_id(headers: &mut http::HeaderMap, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
}

/// An s3s error answer rendered again by [`error_document`], with the request's id (s3s writes
/// none): `None` when `body` is not an S3 error document.
pub(crate) fn rerender(status: StatusCode, body: &[u8], request_id: &str) -> Option<http::Response<Bytes>> {
    if body.len() > MAX_ERROR_DOCUMENT {
        return None;
    }
    let (code, message) = parse_error_document(body)?;
    let message = message.unwrap_or_else(|| default_message(&code, status).to_string());
    Some(document_response(status, &code, &message, request_id))
}

/// The `Code` and `Message` of an `<Error>` document (text and entity references, which
/// quick-xml reports apart, joined).
fn parse_error_document(body: &[u8]) -> Option<(String, Option<String>)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let (mut code, mut message) = (None::<String>, None::<String>);
    let mut path: Vec<Vec<u8>> = Vec::new();
    loop {
        let event = reader.read_event().ok()?;
        let field = match path.as_slice() {
            [error, field] if error.as_slice() == b"Error" => match field.as_slice() {
                b"Code" => Some(&mut code),
                b"Message" => Some(&mut message),
                _ => None,
            },
            _ => None,
        };
        match event {
            Event::Start(start) => {
                // `<Error>` and its fields: two levels.
                if path.len() == 2 {
                    return None;
                }
                path.push(start.name().as_ref().to_vec());
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(text) => {
                if let Some(field) = field {
                    field.get_or_insert_default().push_str(&text.decode().ok()?);
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(field) = field {
                    let resolved = match reference.resolve_char_ref().ok()? {
                        Some(character) => character.to_string(),
                        None => {
                            let name = reference.decode().ok()?;
                            quick_xml::escape::resolve_predefined_entity(&name)?.to_string()
                        }
                    };
                    field.get_or_insert_default().push_str(&resolved);
                }
            }
            Event::Eof if path.is_empty() => break,
            Event::Eof => return None,
            _ => {}
        }
    }
    Some((code?, message))
}

/// The message of an error s3s raised without one: S3's own for the codes s3s raises bare,
/// else the status' reason.
fn default_message(code: &str, status: StatusCode) -> &'static str {
    match code {
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "KeyTooLongError" => "Your key is too long",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

/// `error` as s3s answers it: its code (S3's own when S3 has it), status and message.
pub fn to_s3_error(error: &AwsError) -> S3Error {
    let code = S3ErrorCode::from_bytes(error.code.as_bytes()).unwrap_or(S3ErrorCode::InternalError);
    let mut s3_error = S3Error::with_message(code, error.message.clone());
    if let Ok(status) = StatusCode::from_u16(error.status) {
        s3_error.set_status_code(status);
    }
    s3_error
}

/// The error of a request body that failed while a service read it (an object's upload): the
/// gateway's own verdict (a chunk signature or checksum mismatch, a body over its limit, a
/// timeout) when it is one, else the client's connection failed.
pub fn body_error(error: &StdError) -> S3Error {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(&**error);
    while let Some(error) = current {
        if let Some(aws) = error.downcast_ref::<AwsError>() {
            return to_s3_error(aws);
        }
        current = error.source();
    }
    tracing::debug!(%error, "reading a restXml request body failed");
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_escapes_what_it_quotes() {
        let document = error_document("NoSuchKey", "no <key> & \"more\"", "id-1");
        let text = String::from_utf8(document).unwrap();
        assert!(text.contains("<Message>no &lt;key&gt; &amp; &quot;more&quot;</Message>"), "{text}");
        assert!(text.ends_with("<RequestId>id-1</RequestId></Error>"), "{text}");
    }

    #[test]
    fn an_s3s_error_document_is_rendered_again_with_the_request_id() {
        let s3s = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code><Message>a &amp; b</Message></Error>";
        let response = rerender(StatusCode::NOT_FOUND, s3s, "req-7").expect("an error document");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "req-7");
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], CONTENT_TYPE);
        let body = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(
            body.contains("<Code>NoSuchBucket</Code><Message>a &amp; b</Message><RequestId>req-7</RequestId>"),
            "{body}"
        );
        // Without a message, S3's own for the code, else the status' reason, stands in.
        let bare = rerender(StatusCode::BAD_REQUEST, b"<Error><Code>MalformedXML</Code></Error>", "r").unwrap();
        assert!(String::from_utf8_lossy(bare.body()).contains("<Message>The XML you provided was not well-formed"));
        let bare = rerender(StatusCode::CONFLICT, b"<Error><Code>Unheard</Code></Error>", "r").unwrap();
        assert!(String::from_utf8_lossy(bare.body()).contains("<Message>Conflict</Message>"));
    }

    #[test]
    fn what_is_not_an_error_document_is_left_alone() {
        assert!(rerender(StatusCode::NOT_FOUND, b"", "r").is_none());
        assert!(rerender(StatusCode::NOT_FOUND, b"<ListBucketResult/>", "r").is_none());
        assert!(rerender(StatusCode::NOT_FOUND, b"<Error><Code><Deep>x</Deep></Code></Error>", "r").is_none());
        assert!(rerender(StatusCode::NOT_FOUND, b"<Error><Code>unterminated", "r").is_none());
    }

    #[test]
    fn kumo_errors_keep_their_code_status_and_message_in_s3s() {
        let error = to_s3_error(&AwsError::new("EntityTooLarge", 400, "too big"));
        assert_eq!(error.code(), &S3ErrorCode::EntityTooLarge);
        assert_eq!(error.status_code(), Some(StatusCode::BAD_REQUEST));
        assert_eq!(error.message(), Some("too big"));
        let failure: StdError = Box::new(AwsError::new("XAmzContentSHA256Mismatch", 400, "mismatch"));
        assert_eq!(body_error(&failure).code().as_str(), "XAmzContentSHA256Mismatch");
        let gone: StdError = "connection reset".into();
        assert_eq!(body_error(&gone).code(), &S3ErrorCode::IncompleteBody);
    }
}
