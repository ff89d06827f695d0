//! Generated-input tests of every SigV4 parser: whatever a client sends, parsing and verifying
//! answer (an error at worst) and never panic. `cargo test` runs proptest's default number of
//! cases; a longer run sets `PROPTEST_CASES` (e.g. `PROPTEST_CASES=1000000 cargo test --release
//! -p kumo-core proptests`).

use proptest::prelude::*;

use super::chunked::{self, ChunkedPayloadDecoder};
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
            // Unsigned framing with trailers, and fragments of it.
            (0usize..0x40, proptest::collection::vec(any::<u8>(), 0..80), "[a-z0-9:=+/ -]{0,40}").prop_map(
                |(size, data, trailer)| {
                    let mut body = format!("{size:x}\r\n").into_bytes();
                    body.extend(data);
                    body.extend_from_slice(format!("\r\n0\r\n{trailer}\r\n\r\n").as_bytes());
                    body
                }
            ),
        ],
        splits in proptest::collection::vec(0usize..600, 0..6),
        declared in proptest::option::of(0u64..100_000),
        form in 0usize..4,
    ) {
        let authorization = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        )
        .expect("a well-formed header");
        let marker = [
            chunked::STREAMING_PAYLOAD,
            chunked::STREAMING_PAYLOAD_TRAILER,
            chunked::STREAMING_UNSIGNED_PAYLOAD_TRAILER,
            chunked::STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        ][form];
        let trailer = (form != 3).then_some("x-amz-checksum-crc32");
        let mut decoder =
            ChunkedPayloadDecoder::for_marker(marker, "secret", &authorization, "20130524T000000Z", declared, trailer)
                .expect("a streaming marker");
        let mut splits: Vec<usize> = splits.into_iter().map(|split| split.min(body.len())).collect();
        splits.sort_unstable();
        let mut start = 0;
        let mut out = Vec::new();
        let mut failed = false;
        for end in splits.into_iter().chain([body.len()]) {
            if decoder.push(&bytes::Bytes::copy_from_slice(&body[start..end]), &mut out).is_err() {
                failed = true;
                break;
            }
            start = end;
        }
        if !failed {
            let _ = decoder.finish();
        }
        // Nothing is released beyond what arrived.
        prop_assert!(out.iter().map(bytes::Bytes::len).sum::<usize>() <= body.len());
    }
}
