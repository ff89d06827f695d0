//! Request limits every request meets before anything reads it: the declared `Content-Length`
//! against the global body cap, and a deadline for the whole body to arrive, so a client
//! cannot make Kumo buffer more than the cap nor hold a request open by trickling its body.
//! Per-operation limits (e.g. 6 MB for a synchronous invoke) come on top of these.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// Largest request body Kumo reads at all (a 50 MB zip, base64-encoded, plus JSON).
pub const MAX_REQUEST_BODY: usize = 72 * 1024 * 1024;

/// How long a request's whole body may take to arrive: 72 MiB at about 2 Mbit/s.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(300);

/// What a client whose body did not arrive in time is told (S3's `RequestTimeout` text).
pub const BODY_TIMEOUT_MESSAGE: &str =
    "Your socket connection to the server was not read from or written to within the timeout period. Idle \
     connections will be closed.";

/// Whether a request declares a body larger than [`MAX_REQUEST_BODY`].
pub fn declares_too_large(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_REQUEST_BODY as u64)
}

/// The body did not arrive before its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} seconds", BODY_TIMEOUT.as_secs())]
pub struct BodyTimedOut;

/// Why reading a body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit it was read under.
    TooLarge,
    /// Not there before its deadline.
    TimedOut,
    /// The client went away or sent a broken body.
    Other,
}

impl BodyError {
    /// Classifies an error from reading a (limited, deadline-bound) body.
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut current = Some(error);
        while let Some(error) = current {
            if error.is::<http_body_util::LengthLimitError>() {
                return Self::TooLarge;
            }
            if error.is::<BodyTimedOut>() {
                return Self::TimedOut;
            }
            current = error.source();
        }
        Self::Other
    }
}

/// A request body that fails once its deadline has passed.
pub struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    /// `inner`, which must have arrived whole within `timeout` from now.
    pub fn wrap(inner: Body, timeout: Duration) -> Body {
        Body::new(Self { inner, deadline: Box::pin(tokio::time::sleep(timeout)) })
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Limited};

    use super::*;

    /// A client that sends some bytes and then nothing more, never finishing.
    struct Stalled {
        sent: bool,
    }

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.sent {
                return Poll::Pending;
            }
            self.sent = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"some")))))
        }
    }

    #[tokio::test]
    async fn a_body_that_stalls_past_its_deadline_fails_as_a_timeout() {
        let body = DeadlineBody::wrap(Body::new(Stalled { sent: false }), Duration::from_millis(50));
        let error = Limited::new(body, 1024).collect().await.unwrap_err();
        assert_eq!(BodyError::of(&*error), BodyError::TimedOut);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_fails_as_too_large() {
        let body = DeadlineBody::wrap(Body::from(vec![0u8; 2048]), Duration::from_secs(5));
        let error = Limited::new(body, 1024).collect().await.unwrap_err();
        assert_eq!(BodyError::of(&*error), BodyError::TooLarge);
    }

    #[test]
    fn the_declared_length_is_checked_against_the_cap() {
        let mut headers = http::HeaderMap::new();
        assert!(!declares_too_large(&headers));
        headers.insert(http::header::CONTENT_LENGTH, (MAX_REQUEST_BODY as u64).into());
        assert!(!declares_too_large(&headers));
        headers.insert(http::header::CONTENT_LENGTH, (MAX_REQUEST_BODY as u64 + 1).into());
        assert!(declares_too_large(&headers));
    }
}
