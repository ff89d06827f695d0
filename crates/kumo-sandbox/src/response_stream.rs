//! Streamed responses on the Runtime API: a runtime that posts its `/response` with
//! `Lambda-Runtime-Function-Response-Mode: streaming` sends the body in HTTP chunks as the
//! handler writes it, and a mid-stream error in the trailers `Lambda-Runtime-Function-Error-Type`
//! and `Lambda-Runtime-Function-Error-Body` (base64 of the error JSON), as AWS's runtime clients do.
//!
//! The request's body is handed to the invoker piece by piece through a small bounded channel:
//! while the invoker (and behind it the client) does not take a piece, the connection is not
//! read, so a slow reader slows the function down through TCP instead of growing Kumo's memory.

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use tokio::sync::mpsc;

/// Pieces in flight between the Runtime API connection and the invoker.
const PIECES_IN_FLIGHT: usize = 4;

/// The header that asks for streaming.
pub(crate) const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";
/// The trailer (and header) naming a mid-stream error's type.
const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
/// The trailer carrying a mid-stream error's JSON, base64-encoded.
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// One piece of a streamed response.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamPiece {
    /// Bytes the handler wrote.
    Chunk(Bytes),
    /// The body ended without an error.
    Finished,
    /// The body ended with an error in its trailers.
    Failed {
        /// `Lambda-Runtime-Function-Error-Type`, if given.
        error_type: Option<String>,
        /// The error JSON (decoded from base64).
        body: Bytes,
    },
    /// The body went past the streamed response limit; nothing more is read.
    TooLarge,
}

/// A response the runtime is streaming; its pieces arrive as the runtime sends them.
#[derive(Debug)]
pub struct StreamedResponse {
    /// The `Content-Type` the runtime declared (`awslambda`'s `setContentType`).
    pub content_type: Option<String>,
    pieces: mpsc::Receiver<StreamPiece>,
}

impl StreamedResponse {
    /// The next piece; `None` when the runtime's connection broke before the body ended.
    pub async fn next(&mut self) -> Option<StreamPiece> {
        self.pieces.recv().await
    }
}

/// Whether a `/response` request asks to stream.
pub(crate) fn is_streaming(headers: &HeaderMap) -> bool {
    headers
        .get(RESPONSE_MODE_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|mode| mode.trim().eq_ignore_ascii_case("streaming"))
}

/// A streamed response for the invoker, and the sending half [`forward`] feeds.
pub(crate) fn channel(content_type: Option<String>) -> (StreamedResponse, mpsc::Sender<StreamPiece>) {
    let (sender, pieces) = mpsc::channel(PIECES_IN_FLIGHT);
    (StreamedResponse { content_type, pieces }, sender)
}

/// How forwarding a body ended, for the Runtime API's answer to the runtime.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Forwarded {
    /// The body was read to its end.
    Complete,
    /// The body went past `limit`.
    TooLarge,
    /// The connection failed before the body ended.
    Broken,
}

/// Reads `body` to its end, handing each data frame to `pieces` and then the way it ended.
/// Stops at `limit` bytes. When the invoker has stopped listening (its invocation timed out),
/// the rest is read and dropped so that the runtime still gets its answer.
pub(crate) async fn forward<B>(mut body: B, pieces: mpsc::Sender<StreamPiece>, limit: usize) -> Forwarded
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut total = 0usize;
    let mut failure = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return Forwarded::Broken };
        let frame = match frame.into_data() {
            Ok(data) => {
                total = total.saturating_add(data.len());
                if total > limit {
                    let _ = pieces.send(StreamPiece::TooLarge).await;
                    return Forwarded::TooLarge;
                }
                // An empty frame carries nothing for the caller.
                if !data.is_empty() {
                    let _ = pieces.send(StreamPiece::Chunk(data)).await;
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Ok(trailers) = frame.into_trailers() {
            failure = mid_stream_error(&trailers);
        }
    }
    let end = match failure {
        Some((error_type, body)) => StreamPiece::Failed { error_type, body },
        None => StreamPiece::Finished,
    };
    let _ = pieces.send(end).await;
    Forwarded::Complete
}

/// The error a runtime reported in its trailers, if any: its type and its JSON (the body
/// trailer is base64; a runtime that sent it plain is taken at its word).
fn mid_stream_error(trailers: &HeaderMap) -> Option<(Option<String>, Bytes)> {
    let text = |name: &str| trailers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    let error_type = text(ERROR_TYPE_TRAILER).filter(|value| !value.is_empty()).map(str::to_string);
    let body = text(ERROR_BODY_TRAILER).filter(|value| !value.is_empty());
    if error_type.is_none() && body.is_none() {
        return None;
    }
    let body = match body {
        Some(encoded) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
            Ok(decoded) => Bytes::from(decoded),
            Err(_) => Bytes::copy_from_slice(encoded.as_bytes()),
        },
        None => Bytes::new(),
    };
    Some((error_type, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_header_is_read_as_aws_clients_send_it() {
        let mut headers = HeaderMap::new();
        assert!(!is_streaming(&headers));
        headers.insert(RESPONSE_MODE_HEADER, "streaming".parse().unwrap());
        assert!(is_streaming(&headers));
        headers.insert(RESPONSE_MODE_HEADER, "buffered".parse().unwrap());
        assert!(!is_streaming(&headers));
    }

    #[test]
    fn trailers_carry_the_error_type_and_its_base64_json() {
        let mut trailers = HeaderMap::new();
        assert_eq!(mid_stream_error(&trailers), None);
        trailers.insert(ERROR_TYPE_TRAILER, "Error".parse().unwrap());
        let json = r#"{"errorType":"Error","errorMessage":"boom"}"#;
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        trailers.insert(ERROR_BODY_TRAILER, encoded.parse().unwrap());
        assert_eq!(mid_stream_error(&trailers), Some((Some("Error".to_string()), Bytes::from(json))));
        trailers.insert(ERROR_BODY_TRAILER, "not base64!".parse().unwrap());
        assert_eq!(mid_stream_error(&trailers).map(|(_, body)| body), Some(Bytes::from("not base64!")));
    }

    /// A runtime's body: these frames, one at a time.
    struct Frames(std::collections::VecDeque<http_body::Frame<Bytes>>);

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    /// The pieces the invoker sees of a body sent as `frames`, and how forwarding ended.
    async fn forwarded(frames: Vec<http_body::Frame<Bytes>>, limit: usize) -> (Forwarded, Vec<StreamPiece>) {
        let (mut response, pieces) = channel(None);
        let forwarding = tokio::spawn(forward(Frames(frames.into()), pieces, limit));
        let mut seen = Vec::new();
        while let Some(piece) = response.next().await {
            seen.push(piece);
        }
        (forwarding.await.unwrap(), seen)
    }

    #[tokio::test]
    async fn chunks_go_on_in_order_and_the_end_says_how_it_ended() {
        let frames = vec![http_body::Frame::data(Bytes::from("one ")), http_body::Frame::data(Bytes::from("two"))];
        let (ended, pieces) = forwarded(frames, 100).await;
        assert_eq!(ended, Forwarded::Complete);
        let expected = [StreamPiece::Chunk("one ".into()), StreamPiece::Chunk("two".into()), StreamPiece::Finished];
        assert_eq!(pieces, expected);

        let mut trailers = HeaderMap::new();
        trailers.insert(ERROR_TYPE_TRAILER, "Error".parse().unwrap());
        trailers.insert(ERROR_BODY_TRAILER, base64::engine::general_purpose::STANDARD.encode("{}").parse().unwrap());
        let frames = vec![http_body::Frame::data(Bytes::from("part")), http_body::Frame::trailers(trailers)];
        let (_, pieces) = forwarded(frames, 100).await;
        let failed = StreamPiece::Failed { error_type: Some("Error".into()), body: Bytes::from("{}") };
        assert_eq!(pieces, [StreamPiece::Chunk("part".into()), failed]);
    }

    #[tokio::test]
    async fn a_body_past_the_limit_stops_being_read() {
        let frames = vec![http_body::Frame::data(Bytes::from("12345")), http_body::Frame::data(Bytes::from("678"))];
        let (ended, pieces) = forwarded(frames, 6).await;
        assert_eq!(ended, Forwarded::TooLarge);
        assert_eq!(pieces, [StreamPiece::Chunk("12345".into()), StreamPiece::TooLarge]);
    }
}
