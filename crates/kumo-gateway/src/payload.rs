//! Verifying a streamed request body as it arrives, after authentication has checked the
//! signature over the request's head and its declared `x-amz-content-sha256`:
//! - a hex SHA-256 is computed over the body as it passes ([`HashCheckedBody`]); a mismatch at
//!   the end fails the body with AWS's `XAmzContentSHA256Mismatch` instead of ending it;
//! - `aws-chunked` bodies (`STREAMING-…`) are decoded and their chunk signatures, trailers and
//!   trailing checksum checked chunk by chunk ([`ChunkedBody`], over kumo-core's decoder);
//! - `UNSIGNED-PAYLOAD` passes as it is.
//!
//! A verification failure is an error frame carrying the AWS error ([`PayloadFailure`]); the
//! operation reading the body sees it as the body's end, in place of a clean one, so it never
//! commits a body that failed.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;
use kumo_core::sigv4::chunked::ChunkedPayloadDecoder;
use kumo_core::AwsError;
use kumo_protocol::Protocol;
use sha2::{Digest, Sha256};

use crate::limits::BodyError;

/// A streamed body failed verification, with the AWS error to answer.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", .0.code, .0.message)]
pub struct PayloadFailure(pub AwsError);

/// AWS's answer to a body whose SHA-256 is not the declared one (S3's wording).
pub fn content_sha256_mismatch() -> AwsError {
    AwsError::new(
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
}

/// The AWS error a streamed body's read failure stands for: a verification failure's own, a
/// body past the operation's `limit`, a timeout, or a client gone.
pub fn stream_error(error: &(dyn std::error::Error + 'static), limit: u64, protocol: Protocol) -> AwsError {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(PayloadFailure(failure)) = error.downcast_ref::<PayloadFailure>() {
            return failure.clone();
        }
        current = error.source();
    }
    match BodyError::of(error) {
        BodyError::TooLarge => {
            kumo_protocol::registry::too_large(usize::try_from(limit).unwrap_or(usize::MAX), protocol)
        }
        BodyError::TimedOut => AwsError::new("RequestTimeout", 400, crate::limits::BODY_TIMEOUT_MESSAGE),
        BodyError::Other => {
            tracing::debug!(%error, "reading a streamed request body failed");
            AwsError::new("IncompleteBody", 400, "The request body could not be read")
        }
    }
}

fn failure(error: AwsError) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
    Poll::Ready(Some(Err(axum::Error::new(PayloadFailure(error)))))
}

/// A body whose SHA-256 must be `expected`, checked as it streams.
pub struct HashCheckedBody {
    inner: Body,
    /// `None` once the body has ended and been checked.
    hasher: Option<Sha256>,
    expected: [u8; 32],
}

impl HashCheckedBody {
    /// `inner`, whose SHA-256 must be `expected`.
    pub fn wrap(inner: Body, expected: [u8; 32]) -> Body {
        Body::new(Self { inner, hasher: Some(Sha256::new()), expected })
    }
}

impl http_body::Body for HashCheckedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(hasher) = &mut this.hasher else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    hasher.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                let computed: [u8; 32] = this.hasher.take().map(|hasher| hasher.finalize().into()).unwrap_or_default();
                if computed == this.expected {
                    Poll::Ready(None)
                } else {
                    failure(content_sha256_mismatch())
                }
            }
            other => other,
        }
    }
}

/// An `aws-chunked` body, decoded and verified chunk by chunk.
pub struct ChunkedBody {
    inner: Body,
    decoder: ChunkedPayloadDecoder,
    /// Verified data not yet handed on.
    ready: VecDeque<Bytes>,
    released: Vec<Bytes>,
    done: bool,
}

impl ChunkedBody {
    /// `inner` decoded by `decoder`.
    pub fn wrap(inner: Body, decoder: ChunkedPayloadDecoder) -> Body {
        Body::new(Self { inner, decoder, ready: VecDeque::new(), released: Vec::new(), done: false })
    }
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(data) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    // HTTP trailers (not aws-chunked's own) carry nothing to decode.
                    let Ok(data) = frame.into_data() else { continue };
                    if let Err(error) = this.decoder.push(&data, &mut this.released) {
                        this.done = true;
                        return failure(error.to_aws_error());
                    }
                    this.ready.extend(this.released.drain(..).filter(|data| !data.is_empty()));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if let Err(error) = this.decoder.finish() {
                        return failure(error.to_aws_error());
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_body_with_the_declared_hash_passes_and_another_fails_at_its_end() {
        let body = b"streamed body";
        let expected: [u8; 32] = Sha256::digest(body).into();
        let passed = HashCheckedBody::wrap(Body::from(&body[..]), expected).collect().await.unwrap().to_bytes();
        assert_eq!(&passed[..], body);
        let error = HashCheckedBody::wrap(Body::from(&b"streamed bodY"[..]), expected).collect().await.unwrap_err();
        let aws = stream_error(&error, 1024, Protocol::AwsJson1_0);
        assert_eq!((aws.code, aws.status), ("XAmzContentSHA256Mismatch", 400));
    }
}
