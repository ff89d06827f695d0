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
#[path = "chunked_tests.rs"]
mod tests;
