//! SigV4 streaming payloads in `aws-chunked` framing (`Content-Encoding: aws-chunked`): the
//! body arrives as chunks `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`, ending with a
//! zero-length chunk and, in the `…-TRAILER` forms, trailing headers (a checksum such as
//! `x-amz-checksum-crc32`, and for the signed form `x-amz-trailer-signature`).
//!
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: each chunk's signature covers its data and the
//!   previous chunk's signature, starting from the request's own (seed) signature, so chunks can
//!   be neither altered nor reordered nor dropped.
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: the same, then trailers signed with the
//!   final chunk's signature as previous (`AWS4-HMAC-SHA256-TRAILER`).
//! - `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: chunks without signatures, then trailers.
//!
//! [`ChunkedPayloadDecoder`] is incremental: it takes the body in whatever pieces the network
//! delivers (split anywhere, even inside a header line or a CRLF) and hands back data as
//! zero-copy slices of those pieces. A signed chunk's data is handed back only once its
//! signature has been checked, so at most one chunk ([`MAX_CHUNK_BYTES`]) is held; unsigned
//! data is handed back at once. A trailing checksum (`x-amz-checksum-crc32`, `-crc32c`,
//! `-crc64nvme`, `-sha1`, `-sha256`: every algorithm S3 takes) is checked against the decoded
//! data, S3's `BadDigest` when it differs.

use base64::Engine as _;
use bytes::Bytes;
use hmac::Mac;
use sha2::{Digest, Sha256};

use super::{signing_key, Authorization, HmacSha256};
use crate::AwsError;

/// The `x-amz-content-sha256` marker of a body signed chunk by chunk.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// The marker of a body signed chunk by chunk and followed by signed trailers.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// The marker of unsigned chunks followed by trailers.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// Largest chunk accepted: a signed chunk is held whole until its signature is checked. SDKs
/// send 64 KB to 1 MB chunks; AWS's minimum is 8 KB.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Longest chunk header or trailer line (`<hex size>;chunk-signature=<64 hex>`, a checksum
/// trailer), with room to spare.
const MAX_LINE_BYTES: usize = 256;

/// Most trailing headers accepted (a checksum and the trailer signature, in practice).
const MAX_TRAILERS: usize = 8;

/// The sha256 of nothing: the string to sign of every chunk carries it in place of headers.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Why a chunked body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk's signature does not match its data and the signature chain (or the trailer
    /// signature does not match the trailers).
    #[error("chunk {chunk} signature does not match")]
    SignatureMismatch {
        /// Zero-based index of the refused chunk (the trailer counts as the chunk after the last).
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
    /// The trailing checksum is not the decoded data's.
    #[error("the trailing {algorithm} checksum does not match the data")]
    ChecksumMismatch {
        /// The algorithm as AWS names it in messages (`CRC32`, `SHA256`).
        algorithm: &'static str,
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
            Self::ChecksumMismatch { algorithm } => AwsError::new(
                "BadDigest",
                400,
                format!("The {algorithm} you specified did not match the calculated checksum."),
            ),
        }
    }
}

/// The running checksum of a declared trailer (`x-amz-trailer`).
#[derive(Clone)]
enum TrailingChecksum {
    Crc32(crc32fast::Hasher),
    /// The CRC-32C so far (`crc32c` appends to a plain value).
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(Sha256),
    /// A name that is no checksum S3 knows: the trailer is required but its value not checked.
    Unchecked,
}

impl std::fmt::Debug for TrailingChecksum {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.algorithm().unwrap_or("unchecked"))
    }
}

impl TrailingChecksum {
    fn for_trailer(name: &str) -> Self {
        match name {
            "x-amz-checksum-crc32" => Self::Crc32(crc32fast::Hasher::new()),
            "x-amz-checksum-crc32c" => Self::Crc32c(0),
            "x-amz-checksum-crc64nvme" => Self::Crc64Nvme(crc64fast_nvme::Digest::new()),
            "x-amz-checksum-sha1" => Self::Sha1(sha1::Sha1::new()),
            "x-amz-checksum-sha256" => Self::Sha256(Sha256::new()),
            _ => Self::Unchecked,
        }
    }

    /// The algorithm's name as S3's `BadDigest` message spells it.
    fn algorithm(&self) -> Option<&'static str> {
        match self {
            Self::Crc32(_) => Some("CRC32"),
            Self::Crc32c(_) => Some("CRC32C"),
            Self::Crc64Nvme(_) => Some("CRC64NVME"),
            Self::Sha1(_) => Some("SHA1"),
            Self::Sha256(_) => Some("SHA256"),
            Self::Unchecked => None,
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(hasher) => hasher.update(data),
            Self::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            Self::Crc64Nvme(digest) => digest.write(data),
            Self::Sha1(hasher) => hasher.update(data),
            Self::Sha256(hasher) => hasher.update(data),
            Self::Unchecked => {}
        }
    }

    /// The checksum as its trailer carries it: base64 of the big-endian value or the digest.
    fn finish(self) -> Option<String> {
        let engine = base64::engine::general_purpose::STANDARD;
        Some(match self {
            Self::Crc32(hasher) => engine.encode(hasher.finalize().to_be_bytes()),
            Self::Crc32c(crc) => engine.encode(crc.to_be_bytes()),
            Self::Crc64Nvme(digest) => engine.encode(digest.sum64().to_be_bytes()),
            Self::Sha1(hasher) => engine.encode(hasher.finalize()),
            Self::Sha256(hasher) => engine.encode(hasher.finalize()),
            Self::Unchecked => return None,
        })
    }

    /// Checks a trailer value (base64 of the big-endian checksum).
    fn check(self, value: &str) -> Result<(), ChunkedError> {
        let Some(algorithm) = self.algorithm() else { return Ok(()) };
        match self.finish() {
            Some(computed) if computed != value => Err(ChunkedError::ChecksumMismatch { algorithm }),
            _ => Ok(()),
        }
    }
}

/// The signature chain of a signed body.
#[derive(Debug)]
struct Chain {
    signing_key: [u8; 32],
    /// `<date>\n<scope>\n`: the middle of every chunk's and the trailer's string to sign.
    date_and_scope: String,
    previous_signature: String,
}

impl Chain {
    /// Checks a signature over `algorithm`, the chain and `hash`; moves the chain on.
    fn verify(&mut self, algorithm: &str, hash: &str, provided: &[u8; 32], index: usize) -> Result<(), ChunkedError> {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mut mac = HmacSha256::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        for part in [algorithm, "\n", &self.date_and_scope, &self.previous_signature, "\n", hash] {
            mac.update(part.as_bytes());
        }
        // verify_slice compares in constant time: timing reveals nothing about the expected signature.
        mac.clone().verify_slice(provided).map_err(|_| ChunkedError::SignatureMismatch { chunk: index })?;
        self.previous_signature = hex::encode(mac.finalize().into_bytes());
        Ok(())
    }
}

/// Where the decoder is in the framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading `<hex size>[;chunk-signature=<sig>]\r\n` into `line`.
    Header,
    /// Reading a chunk's data.
    Data { size: usize, remaining: usize, signature: Option<[u8; 32]> },
    /// Reading the `\r\n` after a chunk's data (`seen` of its two bytes so far).
    DataEnd { size: usize, signature: Option<[u8; 32]>, seen: usize },
    /// Reading trailer lines into `line`, up to an empty one.
    Trailer,
    /// Done: nothing more may arrive.
    Done,
}

/// Decodes an `aws-chunked` body incrementally, verifying chunk signatures, trailers and the
/// trailing checksum as they arrive.
#[derive(Debug)]
pub struct ChunkedPayloadDecoder {
    /// `None` for unsigned chunks.
    chain: Option<Chain>,
    /// Whether trailers follow the final chunk, and the one `x-amz-trailer` declares.
    trailers_follow: bool,
    declared_trailer: Option<String>,
    checksum: Option<TrailingChecksum>,
    declared_length: Option<u64>,
    decoded_length: u64,
    chunks: usize,
    /// A header or trailer line split across pieces.
    line: Vec<u8>,
    /// The hash of the signed chunk being read, and its data held until it is verified.
    chunk_hash: Sha256,
    held: Vec<Bytes>,
    trailers: Vec<(String, String)>,
    /// botocore sends `0\r\n\r\n` before its trailer: one empty line before any trailer is skipped.
    skipped_empty_line: bool,
    trailer_signature_verified: bool,
    /// Decoding without verifying (insecure mode): signatures in the framing are skipped.
    ignore_signatures: bool,
    state: State,
}

impl ChunkedPayloadDecoder {
    /// A decoder for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: the body of a request whose
    /// `Authorization` (already verified, its signature being the seed) and `X-Amz-Date` are
    /// given; `declared_length` is its `x-amz-decoded-content-length`.
    pub fn new(secret: &str, authorization: &Authorization, amz_date: &str, declared_length: Option<u64>) -> Self {
        let chain = Chain {
            signing_key: signing_key(secret, authorization),
            date_and_scope: format!("{amz_date}\n{}\n", authorization.scope()),
            previous_signature: authorization.signature.to_ascii_lowercase(),
        };
        Self::with_chain(Some(chain), declared_length)
    }

    /// A decoder for `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (unsigned chunks, then trailers).
    pub fn unsigned(declared_length: Option<u64>) -> Self {
        Self::with_chain(None, declared_length).with_trailers(None)
    }

    /// A decoder that only removes the framing of any streaming `marker`, verifying no
    /// signature (for `--insecure-accept-any-credentials`); trailing checksums are still checked.
    pub fn unverified(marker: &str, declared_length: Option<u64>, declared_trailer: Option<&str>) -> Self {
        let mut decoder = Self::with_chain(None, declared_length);
        decoder.ignore_signatures = true;
        if marker.ends_with("-TRAILER") {
            decoder = decoder.with_trailers(declared_trailer);
        }
        decoder
    }

    fn with_chain(chain: Option<Chain>, declared_length: Option<u64>) -> Self {
        Self {
            chain,
            trailers_follow: false,
            declared_trailer: None,
            checksum: None,
            declared_length,
            decoded_length: 0,
            chunks: 0,
            line: Vec::new(),
            chunk_hash: Sha256::new(),
            held: Vec::new(),
            trailers: Vec::new(),
            skipped_empty_line: false,
            trailer_signature_verified: false,
            ignore_signatures: false,
            state: State::Header,
        }
    }

    /// Expects trailers after the final chunk (the `…-TRAILER` forms); `declared` is the
    /// request's `x-amz-trailer` (the trailer that must come, a checksum of the data).
    pub fn with_trailers(mut self, declared: Option<&str>) -> Self {
        self.trailers_follow = true;
        let declared = declared.map(|name| name.trim().to_ascii_lowercase()).filter(|name| !name.is_empty());
        self.checksum = declared.as_deref().map(TrailingChecksum::for_trailer);
        self.declared_trailer = declared;
        self
    }

    /// The decoder for a request's `x-amz-content-sha256` marker, if it is an aws-chunked one:
    /// `secret`, `authorization` and `amz_date` are the verified request's (for the signed forms).
    pub fn for_marker(
        marker: &str,
        secret: &str,
        authorization: &Authorization,
        amz_date: &str,
        declared_length: Option<u64>,
        declared_trailer: Option<&str>,
    ) -> Option<Self> {
        match marker {
            STREAMING_PAYLOAD => Some(Self::new(secret, authorization, amz_date, declared_length)),
            STREAMING_PAYLOAD_TRAILER => {
                Some(Self::new(secret, authorization, amz_date, declared_length).with_trailers(declared_trailer))
            }
            STREAMING_UNSIGNED_PAYLOAD_TRAILER => Some(Self::unsigned(declared_length).with_trailers(declared_trailer)),
            _ => None,
        }
    }

    /// Takes the next piece of the body; appends to `out` the data (slices of `piece`, no copy)
    /// of every chunk it completes and verifies (unsigned data: at once). After an error the
    /// decoder must not be used again.
    pub fn push(&mut self, piece: &Bytes, out: &mut Vec<Bytes>) -> Result<(), ChunkedError> {
        let mut at = 0;
        while at < piece.len() {
            match self.state {
                State::Header | State::Trailer => {
                    let rest = &piece[at..];
                    // Only a line's worth is searched: a long line is refused, not scanned.
                    let room = (MAX_LINE_BYTES + 2).saturating_sub(self.line.len());
                    let window = &rest[..rest.len().min(room)];
                    match window.iter().position(|byte| *byte == b'\n') {
                        Some(end) => {
                            self.line.extend_from_slice(&window[..=end]);
                            at += end + 1;
                            let line = std::mem::take(&mut self.line);
                            self.end_line(&line, out)?;
                            // The allocation is kept for the next line.
                            self.line = line;
                            self.line.clear();
                        }
                        // The window is full and holds no line feed: the line is longer than any allowed.
                        None if window.len() == room => {
                            return Err(ChunkedError::Malformed("chunk header or trailer line too long"));
                        }
                        None => {
                            self.line.extend_from_slice(window);
                            at += window.len();
                        }
                    }
                }
                State::Data { size, remaining, signature } => {
                    let taken = remaining.min(piece.len() - at);
                    let data = piece.slice(at..at + taken);
                    at += taken;
                    if let Some(checksum) = &mut self.checksum {
                        checksum.update(&data);
                    }
                    if self.chain.is_some() {
                        self.chunk_hash.update(&data);
                        self.held.push(data);
                    } else {
                        out.push(data);
                    }
                    let remaining = remaining - taken;
                    self.state = if remaining == 0 {
                        State::DataEnd { size, signature, seen: 0 }
                    } else {
                        State::Data { size, remaining, signature }
                    };
                }
                State::DataEnd { size, signature, seen } => {
                    if piece[at] != b"\r\n"[seen] {
                        return Err(ChunkedError::Malformed("chunk data not followed by CRLF"));
                    }
                    at += 1;
                    if seen == 0 {
                        self.state = State::DataEnd { size, signature, seen: 1 };
                    } else {
                        self.end_chunk(size, signature, out)?;
                        // An empty chunk ends the body (with no trailers: they come without this CRLF).
                        self.state = if size == 0 { State::Done } else { State::Header };
                    }
                }
                State::Done => return Err(ChunkedError::Malformed("data after the final chunk")),
            }
        }
        Ok(())
    }

    /// Ends the body: fails unless the final chunk (and trailers) arrived and the decoded length
    /// is the declared one; returns the decoded length.
    pub fn finish(&self) -> Result<u64, ChunkedError> {
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
        let mut pieces = Vec::new();
        self.push(&Bytes::copy_from_slice(body), &mut pieces)?;
        self.finish()?;
        Ok(pieces.concat())
    }

    /// The trailing headers received (lowercase names), once the body is done.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// A complete line (with its line feed) in the header or trailer state.
    fn end_line(&mut self, line: &[u8], out: &mut Vec<Bytes>) -> Result<(), ChunkedError> {
        let line = line.strip_suffix(b"\r\n").ok_or(ChunkedError::Malformed("line not ended by CRLF"))?;
        if self.state == State::Trailer {
            return self.trailer_line(line);
        }
        let (size, signature) = parse_header(line, self.chain.is_some())?;
        let decoded = self.decoded_length.saturating_add(size as u64);
        if let Some(declared) = self.declared_length.filter(|declared| decoded > *declared) {
            // Past the declared length the body is refused at once, not after it all arrived.
            return Err(ChunkedError::LengthMismatch { declared, decoded });
        }
        self.chunk_hash = Sha256::new();
        if size == 0 && self.trailers_follow {
            // The final chunk of a trailer form: its CRLF is the trailer section's.
            self.end_chunk(0, signature, out)?;
            self.state = State::Trailer;
        } else if size == 0 {
            self.state = State::DataEnd { size, signature, seen: 0 };
        } else {
            self.state = State::Data { size, remaining: size, signature };
        }
        Ok(())
    }

    /// A chunk's data is complete: checks its signature and releases the data held.
    fn end_chunk(
        &mut self,
        size: usize,
        signature: Option<[u8; 32]>,
        out: &mut Vec<Bytes>,
    ) -> Result<(), ChunkedError> {
        if let (Some(chain), Some(signature)) = (&mut self.chain, signature) {
            let hash = std::mem::replace(&mut self.chunk_hash, Sha256::new()).finalize();
            let hash = format!("{EMPTY_SHA256}\n{}", hex::encode(hash));
            chain.verify("AWS4-HMAC-SHA256-PAYLOAD", &hash, &signature, self.chunks)?;
            out.append(&mut self.held);
        }
        self.decoded_length = self.decoded_length.saturating_add(size as u64);
        self.chunks += 1;
        Ok(())
    }

    /// One trailer line (without CRLF).
    fn trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        if line.is_empty() {
            if self.trailers.is_empty() && self.declared_trailer.is_some() && !self.skipped_empty_line {
                self.skipped_empty_line = true;
                return Ok(());
            }
            return self.end_trailers();
        }
        if self.trailer_signature_verified {
            return Err(ChunkedError::Malformed("trailer after the trailer signature"));
        }
        let line = std::str::from_utf8(line).map_err(|_| ChunkedError::Malformed("trailer is not text"))?;
        let (name, value) = line.split_once(':').ok_or(ChunkedError::Malformed("trailer without a colon"))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "x-amz-trailer-signature" && self.ignore_signatures {
            return Ok(());
        }
        if name == "x-amz-trailer-signature" {
            let chain = self.chain.as_mut().ok_or(ChunkedError::Malformed("a signature in unsigned trailers"))?;
            let provided = parse_signature(value)?;
            let mut canonical = String::new();
            for (name, value) in &self.trailers {
                canonical.push_str(&format!("{name}:{value}\n"));
            }
            let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
            chain.verify("AWS4-HMAC-SHA256-TRAILER", &hash, &provided, self.chunks)?;
            self.trailer_signature_verified = true;
            return Ok(());
        }
        if self.trailers.len() >= MAX_TRAILERS {
            return Err(ChunkedError::Malformed("too many trailers"));
        }
        // Trailers are signed in sorted order.
        let position = self.trailers.partition_point(|(existing, _)| existing.as_str() < name.as_str());
        self.trailers.insert(position, (name, value.to_string()));
        Ok(())
    }

    /// The empty line after the trailers: the declared trailer must have come, signed when the
    /// chunks are, and its checksum must be the data's.
    fn end_trailers(&mut self) -> Result<(), ChunkedError> {
        if self.chain.is_some() && !self.trailers.is_empty() && !self.trailer_signature_verified {
            return Err(ChunkedError::Malformed("signed trailers without x-amz-trailer-signature"));
        }
        if let Some(declared) = &self.declared_trailer {
            let value = self
                .trailers
                .iter()
                .find(|(name, _)| name == declared)
                .map(|(_, value)| value.as_str())
                .ok_or(ChunkedError::Malformed("the trailer x-amz-trailer declares is missing"))?;
            if let Some(checksum) = self.checksum.take() {
                checksum.check(value)?;
            }
        }
        self.state = State::Done;
        Ok(())
    }
}

/// `<hex size>;chunk-signature=<64 hex>` (signed) or `<hex size>[;extensions]` (unsigned) →
/// (size, signature).
fn parse_header(line: &[u8], signed: bool) -> Result<(usize, Option<[u8; 32]>), ChunkedError> {
    let line = std::str::from_utf8(line).map_err(|_| ChunkedError::Malformed("chunk header is not text"))?;
    let (size, extension) = match line.split_once(';') {
        Some((size, extension)) => (size, Some(extension)),
        None => (line, None),
    };
    if size.is_empty() || size.len() > 16 {
        return Err(ChunkedError::Malformed("bad chunk size"));
    }
    let size = usize::from_str_radix(size, 16).map_err(|_| ChunkedError::Malformed("bad chunk size"))?;
    if !signed {
        return Ok((size, None));
    }
    let signature = extension
        .and_then(|extension| extension.strip_prefix("chunk-signature="))
        .ok_or(ChunkedError::Malformed("chunk header without signature"))?;
    if size > MAX_CHUNK_BYTES {
        return Err(ChunkedError::ChunkTooLarge);
    }
    Ok((size, Some(parse_signature(signature)?)))
}

/// 64 hex digits → 32 bytes.
fn parse_signature(text: &str) -> Result<[u8; 32], ChunkedError> {
    let mut signature = [0u8; 32];
    hex::decode_to_slice(text, &mut signature).map_err(|_| ChunkedError::Malformed("bad chunk signature"))?;
    Ok(signature)
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
            previous =
                sign(format!("AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{hash}"));
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
        assert_eq!(
            decoder().decode(wrong.as_bytes()).unwrap_err(),
            ChunkedError::ChecksumMismatch { algorithm: "CRC32" }
        );
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
            (
                "x-amz-checksum-crc64nvme",
                "123456789",
                engine.encode(0xAE8B_1486_0A79_9888_u64.to_be_bytes()),
                "CRC64NVME",
            ),
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
}
