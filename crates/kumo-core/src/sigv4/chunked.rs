//! SigV4 chunked payload signing (`x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD`,
//! `Content-Encoding: aws-chunked`): the body arrives as chunks, each framed as
//! `<hex size>;chunk-signature=<sig>\r\n<data>\r\n` and ending with a zero-length chunk. Each
//! chunk's signature covers its data and the previous chunk's signature, starting from the
//! request's own (seed) signature, so chunks can be neither altered nor reordered nor dropped.
//!
//! [`ChunkedPayloadDecoder`] takes the body in pieces as they arrive and hands back only data
//! whose chunk signature has been checked. The gateway verifies the seed signature as for any
//! request; the S3 service (not built yet) decodes the body with this. Trailing checksums
//! (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`) and unsigned chunks are not handled here.

use hmac::Mac;
use sha2::{Digest, Sha256};

use super::{signing_key, Authorization, HmacSha256};
use crate::AwsError;

/// The `x-amz-content-sha256` marker of a body signed chunk by chunk.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

/// Largest chunk accepted: a chunk is buffered whole until its signature is checked. SDKs send
/// 64 KB to 1 MB chunks; AWS's minimum is 8 KB.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Longest chunk header line (`<hex size>;chunk-signature=<64 hex>`), with room to spare.
const MAX_HEADER_BYTES: usize = 256;

/// The sha256 of nothing: the string to sign of every chunk carries it in place of headers.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Why a chunked body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk's signature does not match its data and the signature chain.
    #[error("chunk {chunk} signature does not match")]
    SignatureMismatch {
        /// Zero-based index of the refused chunk.
        chunk: usize,
    },
    /// The framing is not `aws-chunked`, or the body ends before its final chunk.
    #[error("malformed aws-chunked body: {0}")]
    Malformed(&'static str),
    /// A chunk is larger than [`MAX_CHUNK_BYTES`].
    #[error("chunk larger than {MAX_CHUNK_BYTES} bytes")]
    ChunkTooLarge,
    /// The decoded length is not the `x-amz-decoded-content-length` the request declared.
    #[error("decoded {decoded} bytes, {declared} declared")]
    LengthMismatch {
        /// Declared length.
        declared: u64,
        /// Decoded length.
        decoded: u64,
    },
}

impl ChunkedError {
    /// The error S3 answers with.
    pub fn to_aws_error(&self) -> AwsError {
        match self {
            Self::SignatureMismatch { .. } => AwsError::new(
                "SignatureDoesNotMatch",
                403,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            ),
            Self::Malformed(_) | Self::LengthMismatch { .. } => AwsError::new(
                "IncompleteBody",
                400,
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            ),
            Self::ChunkTooLarge => AwsError::new("InvalidRequest", 400, "The chunk size is larger than supported"),
        }
    }
}

/// Where the decoder is in the framing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading `<hex size>;chunk-signature=<sig>\r\n`.
    Header,
    /// Reading a chunk's data and its closing `\r\n`.
    Data { size: usize, signature: Vec<u8> },
    /// Done: nothing more may arrive.
    Done,
}

/// Decodes an `aws-chunked` body, verifying each chunk's signature in order.
#[derive(Debug)]
pub struct ChunkedPayloadDecoder {
    signing_key: [u8; 32],
    /// `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n`: the start of every chunk's string to sign.
    prefix: String,
    previous_signature: String,
    declared_length: Option<u64>,
    decoded_length: u64,
    chunks: usize,
    pending: Vec<u8>,
    state: State,
}

impl ChunkedPayloadDecoder {
    /// A decoder for the body of a request whose `Authorization` (already verified, its
    /// signature being the seed) and `X-Amz-Date` are given; `declared_length` is its
    /// `x-amz-decoded-content-length`.
    pub fn new(secret: &str, authorization: &Authorization, amz_date: &str, declared_length: Option<u64>) -> Self {
        Self {
            signing_key: signing_key(secret, authorization),
            prefix: format!("AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{}\n", authorization.scope()),
            previous_signature: authorization.signature.to_ascii_lowercase(),
            declared_length,
            decoded_length: 0,
            chunks: 0,
            pending: Vec::new(),
            state: State::Header,
        }
    }

    /// Takes the next bytes of the body; returns the data of every chunk completed and verified
    /// by them (possibly none). After an error the decoder must not be used again.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, ChunkedError> {
        // Taken out of `self` while chunks are verified (which moves the chain on), put back after.
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(bytes);
        let mut decoded = Vec::new();
        let mut consumed = 0;
        loop {
            let available = &pending[consumed..];
            match &self.state {
                State::Header => {
                    // Only a header's worth is searched: a long line is refused, not scanned.
                    let window = &available[..available.len().min(MAX_HEADER_BYTES + 2)];
                    let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") else {
                        if available.len() > MAX_HEADER_BYTES {
                            return Err(ChunkedError::Malformed("chunk header too long"));
                        }
                        break;
                    };
                    let (size, signature) = parse_header(&available[..end])?;
                    consumed += end + 2;
                    self.state = State::Data { size, signature };
                }
                State::Data { size, signature } => {
                    let (size, signature) = (*size, signature.clone());
                    if available.len() < size + 2 {
                        break;
                    }
                    if &available[size..size + 2] != b"\r\n" {
                        return Err(ChunkedError::Malformed("chunk data not followed by CRLF"));
                    }
                    let data = &available[..size];
                    self.verify_chunk(data, &signature)?;
                    decoded.extend_from_slice(data);
                    self.decoded_length += size as u64;
                    // Past the declared length the body is refused at once, not after it all arrived.
                    if let Some(declared) = self.declared_length.filter(|declared| self.decoded_length > *declared) {
                        return Err(ChunkedError::LengthMismatch { declared, decoded: self.decoded_length });
                    }
                    consumed += size + 2;
                    // The empty chunk ends the body.
                    self.state = if size == 0 { State::Done } else { State::Header };
                }
                State::Done => {
                    if !available.is_empty() {
                        return Err(ChunkedError::Malformed("data after the final chunk"));
                    }
                    break;
                }
            }
        }
        pending.drain(..consumed);
        self.pending = pending;
        Ok(decoded)
    }

    /// Ends the body: fails unless the final chunk arrived and the decoded length is the declared one.
    pub fn finish(self) -> Result<u64, ChunkedError> {
        if self.state != State::Done {
            return Err(ChunkedError::Malformed("body ended before its final chunk"));
        }
        match self.declared_length {
            Some(declared) if declared != self.decoded_length => {
                Err(ChunkedError::LengthMismatch { declared, decoded: self.decoded_length })
            }
            _ => Ok(self.decoded_length),
        }
    }

    /// Decodes a whole body at once.
    pub fn decode(mut self, body: &[u8]) -> Result<Vec<u8>, ChunkedError> {
        let decoded = self.push(body)?;
        self.finish()?;
        Ok(decoded)
    }

    /// Checks one chunk's signature against the chain and moves the chain on.
    fn verify_chunk(&mut self, data: &[u8], provided: &[u8]) -> Result<(), ChunkedError> {
        let to_sign = format!(
            "{}{}\n{EMPTY_SHA256}\n{}",
            self.prefix,
            self.previous_signature,
            hex::encode(Sha256::digest(data))
        );
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mut mac = HmacSha256::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(to_sign.as_bytes());
        // verify_slice compares in constant time: timing reveals nothing about the expected signature.
        mac.clone().verify_slice(provided).map_err(|_| ChunkedError::SignatureMismatch { chunk: self.chunks })?;
        let expected = mac.finalize().into_bytes();
        self.previous_signature = hex::encode(expected);
        self.chunks += 1;
        Ok(())
    }
}

/// `<hex size>;chunk-signature=<64 hex>` → (size, signature bytes).
fn parse_header(line: &[u8]) -> Result<(usize, Vec<u8>), ChunkedError> {
    let line = std::str::from_utf8(line).map_err(|_| ChunkedError::Malformed("chunk header is not text"))?;
    let (size, extension) = line.split_once(';').ok_or(ChunkedError::Malformed("chunk header without signature"))?;
    let signature =
        extension.strip_prefix("chunk-signature=").ok_or(ChunkedError::Malformed("chunk header without signature"))?;
    if size.is_empty() || size.len() > 16 {
        return Err(ChunkedError::Malformed("bad chunk size"));
    }
    let size = usize::from_str_radix(size, 16).map_err(|_| ChunkedError::Malformed("bad chunk size"))?;
    if size > MAX_CHUNK_BYTES {
        return Err(ChunkedError::ChunkTooLarge);
    }
    let signature = hex::decode(signature).map_err(|_| ChunkedError::Malformed("bad chunk signature"))?;
    if signature.len() != 32 {
        return Err(ChunkedError::Malformed("bad chunk signature"));
    }
    Ok((size, signature))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn decodes_the_body_in_pieces_of_any_size() {
        let body = example_body(CHUNK_SIGNATURES);
        for piece in [1, 7, 1000, 65_540] {
            let mut decoder = decoder();
            let mut decoded = Vec::new();
            for bytes in body.chunks(piece) {
                decoded.extend(decoder.push(bytes).unwrap());
            }
            assert_eq!(decoder.finish().unwrap(), 66_560);
            assert_eq!(decoded.len(), 66_560, "pieces of {piece} bytes");
        }
    }

    #[test]
    fn releases_no_data_of_a_chunk_before_its_signature_is_checked() {
        let body = example_body(CHUNK_SIGNATURES);
        let mut decoder = decoder();
        assert!(decoder.push(&body[..65_000]).unwrap().is_empty());
        assert_eq!(decoder.push(&body[65_000..65_700]).unwrap().len(), 65_536);
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
}
