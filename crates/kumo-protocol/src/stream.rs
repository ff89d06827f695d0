//! Request bodies handed to streaming operations as they arrive ([`BodyStream`]), for
//! operations that take more than is sensible to hold (an S3 object of up to 5 GB). The gateway
//! verifies such a body as it streams (its declared SHA-256, or aws-chunked signatures chunk by
//! chunk): a body that fails verification ends in an error, never in a clean end, so an
//! operation that commits only after reading to the end never commits a tampered body.

use std::fmt;
use std::pin::Pin;
use std::sync::Mutex;

use bytes::Bytes;
use kumo_core::AwsError;

/// Put in a request's extensions by routing when its operation streams its body: the request's
/// body is then not buffered, and `limit` (the operation's body limit) bounds it instead of the
/// gateway's cap for buffered bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamingBody {
    /// Largest body the operation takes, in bytes.
    pub limit: u64,
}

/// A body of `Bytes` whose failures are AWS errors (what the gateway hands the registry).
pub type DynBody = dyn http_body::Body<Data = Bytes, Error = AwsError> + Send + 'static;

/// A request body read piece by piece, each piece already verified as far as the body has come.
pub struct BodyStream {
    /// In a mutex only to make the stream `Sync` (a `Call` is shared across awaits; HTTP bodies
    /// are `Send` only): it is reached through `get_mut`, never locked.
    inner: Mutex<Pin<Box<DynBody>>>,
}

impl BodyStream {
    /// Wraps a body.
    pub fn new(body: impl http_body::Body<Data = Bytes, Error = AwsError> + Send + 'static) -> Self {
        Self { inner: Mutex::new(Box::pin(body)) }
    }

    /// The body itself, for a codec that reads it as an HTTP body (s3s).
    pub fn into_body(self) -> Pin<Box<DynBody>> {
        // No one else can hold the mutex: a poisoned one still holds a usable body.
        self.inner.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next piece of the body; `None` once it has ended, verified; an AWS error when it
    /// failed (a hash or signature mismatch, a timeout, a client that went away). After an
    /// error the stream must not be read again.
    pub async fn next(&mut self) -> Option<Result<Bytes, AwsError>> {
        // No one else can hold the mutex: a poisoned one still holds a usable body.
        let inner = self.inner.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            let frame = std::future::poll_fn(|cx| inner.as_mut().poll_frame(cx)).await?;
            match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => return Some(Ok(data)),
                    // HTTP trailers carry no body data.
                    Err(_trailers) => continue,
                },
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("BodyStream").finish_non_exhaustive()
    }
}
