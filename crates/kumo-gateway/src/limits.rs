//! Request limits every request meets before anything reads it: the declared `Content-Length`
//! against the global body cap, and a deadline for the whole body to arrive, so a client
//! cannot make Kumo buffer more than the cap nor hold a request open by trickling its body.
//! Per-operation limits (e.g. 6 MB for a synchronous invoke) come on top of these.
//!
//! A streaming operation's body (up to its own limit, e.g. 5 GiB) is never buffered, so the
//! cap does not apply to it, and a wall-clock deadline would cut a long upload short: its body
//! instead has a progress deadline ([`ProgressDeadlineBody`]), at least
//! [`STREAM_PROGRESS_BYTES`] every [`STREAM_PROGRESS_WINDOW`] (a minimum rate, as nginx's and
//! Apache's `MinRate`), so a client trickling its body still loses its connection.

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

/// A streamed body must bring at least this many bytes within each [`STREAM_PROGRESS_WINDOW`].
pub const STREAM_PROGRESS_BYTES: u64 = 64 * 1024;

/// The window of a streamed body's progress deadline (a minimum rate of about 1 KiB/s).
pub const STREAM_PROGRESS_WINDOW: Duration = Duration::from_secs(60);

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
#[error("the request body did not arrive in time")]
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

/// `inner`, failing once `timeout` from now has passed before it ended: a progress deadline
/// whose window no amount of data renews.
pub fn with_deadline(inner: Body, timeout: Duration) -> Body {
    ProgressDeadlineBody::wrap(inner, timeout, u64::MAX)
}

/// A streamed request body that fails once a window of [`STREAM_PROGRESS_WINDOW`] passes with
/// less than [`STREAM_PROGRESS_BYTES`] received: however long the body, it must keep coming.
pub struct ProgressDeadlineBody {
    inner: Body,
    window: Duration,
    min_bytes: u64,
    received_in_window: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl ProgressDeadlineBody {
    /// `inner`, which must bring `min_bytes` within every `window` until it ends.
    pub fn wrap(inner: Body, window: Duration, min_bytes: u64) -> Body {
        let deadline = Box::pin(tokio::time::sleep(window));
        Body::new(Self { inner, window, min_bytes, received_in_window: 0, deadline })
    }
}

impl http_body::Body for ProgressDeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if let Some(Ok(data)) = frame.as_ref().map(|frame| frame.as_ref().map(Frame::data_ref)) {
                this.received_in_window += data.map_or(0, |data| data.len() as u64);
                if this.received_in_window >= this.min_bytes {
                    this.received_in_window = 0;
                    let next = tokio::time::Instant::now() + this.window;
                    this.deadline.as_mut().reset(next);
                }
            }
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(cx) {
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
        let body = with_deadline(Body::new(Stalled { sent: false }), Duration::from_millis(50));
        let error = Limited::new(body, 1024).collect().await.unwrap_err();
        assert_eq!(BodyError::of(&*error), BodyError::TimedOut);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_fails_as_too_large() {
        let body = with_deadline(Body::from(vec![0u8; 2048]), Duration::from_secs(5));
        let error = Limited::new(body, 1024).collect().await.unwrap_err();
        assert_eq!(BodyError::of(&*error), BodyError::TooLarge);
    }

    /// A client that sends `pieces` of `size` bytes, one every `every`, then ends.
    struct Trickle {
        pieces: usize,
        size: usize,
        every: Duration,
        next: Pin<Box<tokio::time::Sleep>>,
    }

    fn trickle(pieces: usize, size: usize, every: Duration) -> Body {
        Body::new(Trickle { pieces, size, every, next: Box::pin(tokio::time::sleep(every)) })
    }

    impl http_body::Body for Trickle {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.pieces == 0 {
                return Poll::Ready(None);
            }
            if self.next.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let every = self.every;
            self.next.as_mut().reset(tokio::time::Instant::now() + every);
            self.pieces -= 1;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
        }
    }

    #[tokio::test]
    async fn a_streamed_body_may_take_longer_than_its_window_while_it_progresses() {
        // Three windows long, four times the minimum in each.
        let body = trickle(75, 64, Duration::from_millis(20));
        let body = ProgressDeadlineBody::wrap(body, Duration::from_millis(500), 1000);
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected.len(), 75 * 64);
    }

    #[tokio::test]
    async fn a_streamed_body_that_trickles_below_the_minimum_rate_times_out() {
        // A quarter of the minimum per window.
        let body = trickle(75, 10, Duration::from_millis(20));
        let body = ProgressDeadlineBody::wrap(body, Duration::from_millis(500), 1000);
        let error = body.collect().await.unwrap_err();
        assert_eq!(BodyError::of(&error), BodyError::TimedOut);
        let stalled = ProgressDeadlineBody::wrap(Body::new(Stalled { sent: false }), Duration::from_secs(1), 1);
        assert_eq!(BodyError::of(&stalled.collect().await.unwrap_err()), BodyError::TimedOut);
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
