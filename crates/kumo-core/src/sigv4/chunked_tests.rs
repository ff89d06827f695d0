//! Tests of the aws-chunked decoder: AWS's documented example, trailers and checksums, framing
//! split anywhere, and every refusal with S3's error.

use super::super::{parse_amz_date, parse_authorization, verify, RequestParts, VerifyError};
use super::*;

// AWS's published example, "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks", section "Example: PUT Object": a 66,560-byte
// object of 'a's sent as a 64 KB chunk, a 1 KB chunk and the final empty chunk.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20130524T000000Z";
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
    SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,\
    Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const CHUNK_SIGNATURES: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];

fn example_body(signatures: [&str; 3]) -> Vec<u8> {
    let mut body = Vec::new();
    for (size, signature) in [(65_536, signatures[0]), (1024, signatures[1]), (0, signatures[2])] {
        body.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'a', size));
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn decoder() -> ChunkedPayloadDecoder {
    ChunkedPayloadDecoder::new(SECRET, &parse_authorization(AUTHORIZATION).unwrap(), AMZ_DATE, Some(66_560))
}

#[test]
fn the_aws_example_seed_signature_verifies() {
    let parts = RequestParts {
        method: "PUT",
        path: "/examplebucket/chunkObject.txt",
        query: "",
        headers: vec![
            ("Host".into(), "s3.amazonaws.com".into()),
            ("x-amz-date".into(), AMZ_DATE.into()),
            ("x-amz-storage-class".into(), "REDUCED_REDUNDANCY".into()),
            ("x-amz-content-sha256".into(), STREAMING_PAYLOAD.into()),
            ("Content-Encoding".into(), "aws-chunked".into()),
            ("x-amz-decoded-content-length".into(), "66560".into()),
            ("Content-Length".into(), "66824".into()),
        ],
        payload_hash: STREAMING_PAYLOAD.into(),
    };
    let authorization = parse_authorization(AUTHORIZATION).unwrap();
    let now = parse_amz_date(AMZ_DATE).unwrap();
    assert_eq!(verify(&parts, &authorization, SECRET, now, None), Ok(()));
    assert_eq!(verify(&parts, &authorization, "wrong", now, None), Err(VerifyError::Mismatch));
}

#[test]
fn decodes_the_aws_example_body() {
    let body = example_body(CHUNK_SIGNATURES);
    assert_eq!(body.len(), 66_824, "the Content-Length of AWS's example");
    assert_eq!(decoder().decode(&body).unwrap(), vec![b'a'; 66_560]);
}

/// Pushes `body` split at `splits` (sorted offsets); returns the data released by each push.
fn push_split(
    decoder: &mut ChunkedPayloadDecoder,
    body: &[u8],
    splits: &[usize],
) -> Result<Vec<Vec<u8>>, ChunkedError> {
    let mut released = Vec::new();
    let mut start = 0;
    for end in splits.iter().copied().chain([body.len()]) {
        let mut out = Vec::new();
        decoder.push(&Bytes::copy_from_slice(&body[start..end]), &mut out)?;
        released.push(out.concat());
        start = end;
    }
    Ok(released)
}

#[test]
fn decodes_the_body_in_pieces_of_any_size() {
    let body = example_body(CHUNK_SIGNATURES);
    for piece in [1, 2, 7, 1000, 65_540] {
        let mut decoder = decoder();
        let splits: Vec<usize> = (piece..body.len()).step_by(piece).collect();
        let decoded = push_split(&mut decoder, &body, &splits).unwrap().concat();
        assert_eq!(decoder.finish().unwrap(), 66_560);
        assert_eq!(decoded, vec![b'a'; 66_560], "pieces of {piece} bytes");
    }
}

#[test]
fn releases_no_data_of_a_chunk_before_its_signature_is_checked() {
    let body = example_body(CHUNK_SIGNATURES);
    let released = push_split(&mut decoder(), &body[..65_700], &[65_000]).unwrap();
    assert!(released[0].is_empty());
    assert_eq!(released[1].len(), 65_536);
}

/// Signs `chunks` (and `trailers`, when given) chained from the AWS example's seed, as an
/// SDK does; returns the aws-chunked body.
fn signed_body(chunks: &[&[u8]], trailers: Option<&[(&str, &str)]>) -> Vec<u8> {
    let authorization = parse_authorization(AUTHORIZATION).unwrap();
    let key = super::super::derive_signing_key(SECRET, &authorization);
    let scope = authorization.scope();
    let sign = |to_sign: String| {
        let mut mac = HmacSha256::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let mut previous = authorization.signature.clone();
    let mut body = Vec::new();
    for data in chunks.iter().copied().chain([&b""[..]]) {
        let hash = hex::encode(Sha256::digest(data));
        previous = sign(format!("AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{hash}"));
        body.extend_from_slice(format!("{:x};chunk-signature={previous}\r\n", data.len()).as_bytes());
        body.extend_from_slice(data);
        if !data.is_empty() || trailers.is_none() {
            body.extend_from_slice(b"\r\n");
        }
    }
    if let Some(trailers) = trailers {
        let mut canonical = String::new();
        for (name, value) in trailers {
            canonical.push_str(&format!("{name}:{value}\n"));
            body.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
        let signature = sign(format!("AWS4-HMAC-SHA256-TRAILER\n{AMZ_DATE}\n{scope}\n{previous}\n{hash}"));
        body.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n\r\n").as_bytes());
    }
    body
}

fn crc32_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(data).to_be_bytes())
}

#[test]
fn the_test_signer_reproduces_the_aws_example() {
    assert_eq!(signed_body(&[&[b'a'; 65_536], &[b'a'; 1024]], None), example_body(CHUNK_SIGNATURES));
}

/// A small signed body (three chunks, signed trailers) split at every byte boundary, and at
/// every pair of boundaries: the same data, released only as chunks verify.
#[test]
fn a_signed_body_split_at_every_byte_boundary_decodes_the_same() {
    let data: Vec<u8> = (0u8..=250).collect();
    let chunks: [&[u8]; 3] = [&data[..100], &data[100..200], &data[200..]];
    let checksum = crc32_base64(&data);
    let trailers = [("x-amz-checksum-crc32", checksum.as_str())];
    let authorization = parse_authorization(AUTHORIZATION).unwrap();
    let fresh = |trailer: bool| {
        let decoder = ChunkedPayloadDecoder::new(SECRET, &authorization, AMZ_DATE, Some(data.len() as u64));
        if trailer {
            decoder.with_trailers(Some("x-amz-checksum-crc32"))
        } else {
            decoder
        }
    };
    for trailer in [false, true] {
        let body = signed_body(&chunks, trailer.then_some(&trailers[..]));
        for first in 0..=body.len() {
            let mut decoder = fresh(trailer);
            let decoded = push_split(&mut decoder, &body, &[first]).unwrap().concat();
            assert_eq!(decoder.finish().unwrap(), data.len() as u64, "split at {first}");
            assert_eq!(decoded, data, "split at {first}");
        }
        for first in (0..=body.len()).step_by(7) {
            for second in first..=body.len() {
                let mut decoder = fresh(trailer);
                let decoded = push_split(&mut decoder, &body, &[first, second]).unwrap().concat();
                assert_eq!((decoded.len(), decoder.finish()), (data.len(), Ok(data.len() as u64)));
            }
        }
        // Byte by byte.
        let mut decoder = fresh(trailer);
        let splits: Vec<usize> = (1..body.len()).collect();
        assert_eq!(push_split(&mut decoder, &body, &splits).unwrap().concat(), data);
        decoder.finish().unwrap();
    }
}

#[test]
fn signed_trailers_are_checked() {
    let data = b"hello, trailers";
    let authorization = parse_authorization(AUTHORIZATION).unwrap();
    let decoder = || {
        ChunkedPayloadDecoder::for_marker(
            STREAMING_PAYLOAD_TRAILER,
            SECRET,
            &authorization,
            AMZ_DATE,
            Some(data.len() as u64),
            Some("x-amz-checksum-crc32"),
        )
        .unwrap()
    };
    let good = crc32_base64(data);
    let body = signed_body(&[data], Some(&[("x-amz-checksum-crc32", &good)]));
    assert_eq!(decoder().decode(&body).unwrap(), data);
    // A wrong checksum, correctly signed: BadDigest.
    let body = signed_body(&[data], Some(&[("x-amz-checksum-crc32", "AAAAAA==")]));
    let error = decoder().decode(&body).unwrap_err();
    assert_eq!(error, ChunkedError::ChecksumMismatch { algorithm: "CRC32" });
    assert_eq!(error.to_aws_error().code, "BadDigest");
    // The right checksum under a tampered trailer signature.
    let mut body = signed_body(&[data], Some(&[("x-amz-checksum-crc32", &good)]));
    let signature_at = body.len() - 6;
    body[signature_at] = if body[signature_at] == b'0' { b'1' } else { b'0' };
    assert_eq!(decoder().decode(&body).unwrap_err(), ChunkedError::SignatureMismatch { chunk: 2 });
    // The declared trailer missing.
    let body = signed_body(&[data], Some(&[("x-amz-checksum-sha256", &good)]));
    assert!(matches!(decoder().decode(&body), Err(ChunkedError::Malformed(_))));
}

#[test]
fn unsigned_trailers_decode_in_the_sdk_forms() {
    let data = b"unsigned data";
    let checksum = crc32_base64(data);
    let decoder =
        || ChunkedPayloadDecoder::unsigned(Some(data.len() as u64)).with_trailers(Some("x-amz-checksum-crc32"));
    // AWS's documented form, and botocore's (an empty line after the final chunk).
    for body in [
        format!("d\r\nunsigned data\r\n0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n"),
        format!("d\r\nunsigned data\r\n0\r\n\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n"),
    ] {
        assert_eq!(decoder().decode(body.as_bytes()).unwrap(), data, "{body:?}");
    }
    let wrong = "d\r\nunsigned data\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    assert_eq!(decoder().decode(wrong.as_bytes()).unwrap_err(), ChunkedError::ChecksumMismatch { algorithm: "CRC32" });
    // Unsigned data is released at once, before its chunk ends.
    let mut out = Vec::new();
    decoder().push(&Bytes::from_static(b"d\r\nunsig"), &mut out).unwrap();
    assert_eq!(out.concat(), b"unsig");
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data));
    let body = format!("d\r\nunsigned data\r\n0\r\nx-amz-checksum-sha256:{sha}\r\n\r\n");
    let decoder = ChunkedPayloadDecoder::unsigned(None).with_trailers(Some("x-amz-checksum-sha256"));
    assert_eq!(decoder.decode(body.as_bytes()).unwrap(), data);
}

/// Known check values: "123456789" for the CRCs (CRC-32C 0xE3069283, CRC-64/NVME
/// 0xAE8B14860A799888, as the CRC catalogue lists them), "abc" for SHA-1 (FIPS 180's example).
#[test]
fn every_s3_checksum_trailer_is_checked_against_known_vectors() {
    let engine = base64::engine::general_purpose::STANDARD;
    let vectors = [
        ("x-amz-checksum-crc32c", "123456789", engine.encode(0xE306_9283_u32.to_be_bytes()), "CRC32C"),
        ("x-amz-checksum-crc64nvme", "123456789", engine.encode(0xAE8B_1486_0A79_9888_u64.to_be_bytes()), "CRC64NVME"),
        ("x-amz-checksum-sha1", "abc", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=".to_string(), "SHA1"),
    ];
    for (trailer, data, checksum, algorithm) in vectors {
        let decoder = || ChunkedPayloadDecoder::unsigned(Some(data.len() as u64)).with_trailers(Some(trailer));
        // The data split over two chunks: the checksum runs across them.
        let (first, second) = data.split_at(2);
        let body = format!(
            "{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n{trailer}:{checksum}\r\n\r\n",
            first.len(),
            second.len()
        );
        assert_eq!(decoder().decode(body.as_bytes()).unwrap(), data.as_bytes(), "{trailer}");
        let wrong = format!("{:x}\r\n{data}\r\n0\r\n{trailer}:AAAAAAAAAAA=\r\n\r\n", data.len());
        let error = decoder().decode(wrong.as_bytes()).unwrap_err();
        assert_eq!(error, ChunkedError::ChecksumMismatch { algorithm });
        let aws = error.to_aws_error();
        assert_eq!((aws.code, aws.status), ("BadDigest", 400));
        assert_eq!(aws.message, format!("The {algorithm} you specified did not match the calculated checksum."));
    }
}

#[test]
fn a_bad_chunk_signature_is_refused_as_aws_refuses_it() {
    let mut signatures = CHUNK_SIGNATURES;
    signatures[1] = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5498";
    let error = decoder().decode(&example_body(signatures)).unwrap_err();
    assert_eq!(error, ChunkedError::SignatureMismatch { chunk: 1 });
    let aws = error.to_aws_error();
    assert_eq!((aws.code, aws.status), ("SignatureDoesNotMatch", 403));
}

#[test]
fn altered_data_or_reordered_chunks_are_refused() {
    let mut body = example_body(CHUNK_SIGNATURES);
    let last_data = body.len() - 100;
    body[last_data] = b'b';
    assert_eq!(decoder().decode(&body).unwrap_err(), ChunkedError::SignatureMismatch { chunk: 1 });
    // The chain starts at the seed: a valid chunk signature from elsewhere in the chain fails.
    let swapped = [CHUNK_SIGNATURES[1], CHUNK_SIGNATURES[0], CHUNK_SIGNATURES[2]];
    assert_eq!(decoder().decode(&example_body(swapped)).unwrap_err(), ChunkedError::SignatureMismatch { chunk: 0 });
    let other_seed = parse_authorization(&AUTHORIZATION.replace("4f232c43", "4f232c44")).unwrap();
    let other = ChunkedPayloadDecoder::new(SECRET, &other_seed, AMZ_DATE, None);
    assert!(matches!(other.decode(&example_body(CHUNK_SIGNATURES)), Err(ChunkedError::SignatureMismatch { .. })));
}

#[test]
fn a_truncated_or_malformed_body_is_refused() {
    let body = example_body(CHUNK_SIGNATURES);
    // The final chunk is `0;chunk-signature=<64 hex>\r\n\r\n`: 86 bytes.
    let without_final = &body[..body.len() - 86];
    assert!(matches!(decoder().decode(without_final), Err(ChunkedError::Malformed(_))));
    let mut trailing = body.clone();
    trailing.extend_from_slice(b"x");
    assert!(matches!(decoder().decode(&trailing), Err(ChunkedError::Malformed(_))));
    assert!(matches!(decoder().decode(b"zz;chunk-signature=00\r\n"), Err(ChunkedError::Malformed(_))));
    assert!(matches!(decoder().decode(b"400\r\n"), Err(ChunkedError::Malformed(_))));
    let huge = format!("{:x};chunk-signature={}\r\n", MAX_CHUNK_BYTES + 1, CHUNK_SIGNATURES[0]);
    assert_eq!(decoder().decode(huge.as_bytes()).unwrap_err(), ChunkedError::ChunkTooLarge);
    let wrong_length =
        ChunkedPayloadDecoder::new(SECRET, &parse_authorization(AUTHORIZATION).unwrap(), AMZ_DATE, Some(1));
    assert_eq!(
        wrong_length.decode(&body).unwrap_err(),
        ChunkedError::LengthMismatch { declared: 1, decoded: 65_536 },
        "refused at the first chunk past the declared length"
    );
}
