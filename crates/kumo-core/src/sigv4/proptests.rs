//! Generated-input tests of every SigV4 parser: whatever a client sends, parsing and verifying
//! answer (an error at worst) and never panic. `cargo test` runs proptest's default number of
//! cases; a longer run sets `PROPTEST_CASES` (e.g. `PROPTEST_CASES=1000000 cargo test --release
//! -p kumo-core proptests`).

use proptest::prelude::*;

use super::chunked::ChunkedPayloadDecoder;
use super::*;

/// Strings built from the characters these parsers split on, escapes and multi-byte text, so
/// that generated inputs reach the interesting branches instead of failing at the first byte.
fn sigv4_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("AWS4-HMAC-SHA256 ".to_string()),
        Just("Credential=".to_string()),
        Just("SignedHeaders=".to_string()),
        Just("Signature=".to_string()),
        Just("X-Amz-Credential=".to_string()),
        Just("X-Amz-Algorithm=AWS4-HMAC-SHA256".to_string()),
        Just("X-Amz-Date=20260101T000000Z".to_string()),
        Just("X-Amz-Expires=".to_string()),
        Just("X-Amz-SignedHeaders=host".to_string()),
        Just("X-Amz-Signature=".to_string()),
        Just("/aws4_request".to_string()),
        Just("%2F".to_string()),
        Just("%".to_string()),
        Just("%C3".to_string()),
        Just("\u{e9}".to_string()),
        Just("\u{1F600}".to_string()),
        Just("&".to_string()),
        Just("=".to_string()),
        Just(",".to_string()),
        Just(";".to_string()),
        Just("/".to_string()),
        Just(" ".to_string()),
        "[a-zA-Z0-9%/=&;,. -]{0,12}",
        any::<String>(),
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn percent_decoding_takes_any_text(input in sigv4_text()) {
        let decoded = percent_decode(&input);
        // Decoding never grows the text by more than U+FFFD per byte.
        prop_assert!(decoded.len() <= input.len() * 3);
        let _ = uri_encode(&decoded, true);
    }

    #[test]
    fn authorization_headers_parse_or_fail_cleanly(input in sigv4_text()) {
        if let Ok(authorization) = parse_authorization(&input) {
            prop_assert!(authorization.signed_headers.len() <= MAX_SIGNED_HEADERS);
            let parts = RequestParts {
                method: "GET",
                path: "/",
                query: "",
                headers: vec![("host".into(), "h".into()), ("x-amz-date".into(), input.clone())],
                payload_hash: payload_hash(b""),
            };
            let _ = verify(&parts, &authorization, "secret", 0, Some("lambda"));
        }
        let _ = credential_scope(Some(&input), None);
    }

    #[test]
    fn presigned_queries_parse_or_fail_cleanly(input in sigv4_text()) {
        let _ = is_presigned(&input);
        let _ = credential_scope(None, Some(&input));
        if let Ok(presigned) = parse_presigned(&input) {
            let parts = RequestParts {
                method: "GET",
                path: "/_kumo/code/x.zip",
                query: &input,
                headers: vec![("host".into(), "h".into())],
                payload_hash: UNSIGNED_PAYLOAD.into(),
            };
            let _ = verify_presigned(&parts, &presigned, "secret", 0, Some("kumo"));
        }
    }

    #[test]
    fn credentials_and_dates_parse_or_fail_cleanly(input in sigv4_text()) {
        let _ = parse_credential(&input);
        let _ = parse_amz_date(&input);
        let _ = is_valid_region(&input);
    }

    #[test]
    fn canonical_requests_take_any_parts(path in sigv4_text(), query in sigv4_text(), value in sigv4_text()) {
        let parts = RequestParts {
            method: "POST",
            path: &path,
            query: &query,
            headers: vec![("host".into(), value.clone()), ("x-amz-date".into(), value)],
            payload_hash: payload_hash(b""),
        };
        let _ = canonical_request(&parts, &["host".to_string(), "x-amz-date".to_string()]);
    }

    #[test]
    fn aws_chunked_bodies_decode_or_fail_cleanly(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            sigv4_text().prop_map(String::into_bytes),
            (0usize..0x2000, "[0-9a-f]{0,70}").prop_map(|(size, signature)| {
                format!("{size:x};chunk-signature={signature}\r\n").into_bytes()
            }),
        ],
        split in 0usize..600,
        declared in proptest::option::of(0u64..100_000),
    ) {
        let authorization = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        )
        .expect("a well-formed header");
        let mut decoder = ChunkedPayloadDecoder::new("secret", &authorization, "20130524T000000Z", declared);
        let split = split.min(body.len());
        let first = decoder.push(&body[..split]);
        if first.is_ok() && decoder.push(&body[split..]).is_ok() {
            let _ = decoder.finish();
        }
    }
}
