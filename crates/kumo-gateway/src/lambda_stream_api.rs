//! `InvokeWithResponseStream` over restJson1: Invoke's input bindings, and an answer whose body
//! is an event stream (`application/vnd.amazon.eventstream`) of `PayloadChunk` events as the
//! function writes, then one `InvokeComplete` (`ErrorCode`, `ErrorDetails`, `LogResult`).
//! The body is produced as the client reads it: a chunk is taken from the invocation only when
//! the connection has room for it, so a slow client holds the function back instead of growing
//! Kumo's memory.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body::Frame;
use kumo_core::AwsError;
use kumo_invoke::StreamCompletion;
use kumo_protocol::event_stream::{self, MAX_EVENT_PAYLOAD};
use kumo_protocol::{Call, StreamedAnswer};
use tokio::sync::{mpsc, oneshot};

use crate::lambda_service::{decode, InvokeRequest, LambdaApi, INVOKE_IN};

/// The operations whose answer streams.
pub(crate) const STREAMED: &[&str] = &["InvokeWithResponseStream"];

impl LambdaApi {
    pub(crate) async fn invoke_with_response_stream(&self, call: Call<'_>) -> Result<StreamedAnswer, AwsError> {
        let request: InvokeRequest = decode(&call, &INVOKE_IN)?;
        let output = self.lambda.invoke_with_response_stream(call.context, request.into()).await?;
        let mut headers = Vec::new();
        if let Some(version) = output.executed_version.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.push((HeaderName::from_static("x-amz-executed-version"), version));
        }
        let body = match output.stream {
            Some(stream) => InvocationEvents {
                chunks: stream.chunks,
                completion: Some(stream.completion),
                rest: None,
                tail: output.tail,
            },
            None => InvocationEvents::ended(),
        };
        let status = StatusCode::from_u16(output.status).unwrap_or(StatusCode::OK);
        let body = kumo_protocol::rest_xml::ResponseBody::new(body);
        Ok(StreamedAnswer { status, headers, content_type: event_stream::CONTENT_TYPE, body })
    }
}

/// The event stream of an invocation under way.
struct InvocationEvents {
    chunks: mpsc::Receiver<Bytes>,
    /// Taken once the chunks have ended and the last event is sent.
    completion: Option<oneshot::Receiver<StreamCompletion>>,
    /// What is left of a chunk too large for one event.
    rest: Option<Bytes>,
    /// Whether `InvokeComplete` carries the log's tail.
    tail: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl InvocationEvents {
    /// A stream with no events (a `DryRun`'s empty answer).
    fn ended() -> Self {
        let (_, chunks) = mpsc::channel(1);
        Self { chunks, completion: None, rest: None, tail: false }
    }

    /// The `PayloadChunk` event of (the first part of) `chunk`.
    fn payload_chunk(&mut self, mut chunk: Bytes) -> Result<Frame<Bytes>, BoxError> {
        if chunk.len() > MAX_EVENT_PAYLOAD {
            self.rest = Some(chunk.split_off(MAX_EVENT_PAYLOAD));
        }
        let event = event_stream::event("PayloadChunk", "application/octet-stream", chunk)?;
        Ok(Frame::data(event))
    }
}

/// The `InvokeComplete` event: the error, if any, and the log's tail when asked for.
fn invoke_complete(completion: StreamCompletion, tail: bool) -> Result<Frame<Bytes>, BoxError> {
    let mut fields = serde_json::Map::new();
    if let Some(code) = completion.error_code {
        fields.insert("ErrorCode".into(), code.into());
    }
    if let Some(details) = completion.error_details {
        fields.insert("ErrorDetails".into(), details.into());
    }
    if tail {
        fields.insert("LogResult".into(), completion.log_result.into());
    }
    let payload = Bytes::from(serde_json::Value::Object(fields).to_string());
    Ok(Frame::data(event_stream::event("InvokeComplete", "application/json", payload)?))
}

impl http_body::Body for InvocationEvents {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(rest) = this.rest.take() {
            return Poll::Ready(Some(this.payload_chunk(rest)));
        }
        loop {
            match this.chunks.poll_recv(cx) {
                Poll::Ready(Some(chunk)) if chunk.is_empty() => continue,
                Poll::Ready(Some(chunk)) => return Poll::Ready(Some(this.payload_chunk(chunk))),
                Poll::Ready(None) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        let Some(completion) = this.completion.as_mut() else {
            return Poll::Ready(None);
        };
        let completion = match Pin::new(completion).poll(cx) {
            Poll::Ready(completion) => completion,
            Poll::Pending => return Poll::Pending,
        };
        this.completion = None;
        let completion = completion.unwrap_or_else(|_| {
            // The invocation's task ended without a word: Kumo's failure, said as AWS says its own.
            tracing::error!("a streaming invocation ended without its completion");
            StreamCompletion {
                error_code: Some("ServiceException".into()),
                error_details: Some("An internal error occurred".into()),
                log_result: String::new(),
            }
        });
        Poll::Ready(Some(invoke_complete(completion, this.tail)))
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_eventstream::frame::read_message_from;
    use http_body_util::BodyExt;

    use super::*;

    /// Every event of a body, as (event type, payload).
    async fn events(body: InvocationEvents) -> Vec<(String, Bytes)> {
        let mut body = body;
        let mut seen = Vec::new();
        while let Some(frame) = body.frame().await {
            let message = read_message_from(frame.unwrap().into_data().unwrap()).unwrap();
            let event_type = message.headers().iter().find(|header| header.name().as_str() == ":event-type");
            let event_type = event_type.unwrap().value().as_string().unwrap().as_str().to_string();
            seen.push((event_type, message.payload().clone()));
        }
        seen
    }

    fn invocation(tail: bool) -> (mpsc::Sender<Bytes>, oneshot::Sender<StreamCompletion>, InvocationEvents) {
        let (chunk_sender, chunks) = mpsc::channel(4);
        let (completion_sender, completion) = oneshot::channel();
        (chunk_sender, completion_sender, InvocationEvents { chunks, completion: Some(completion), rest: None, tail })
    }

    #[tokio::test]
    async fn chunks_then_the_completion() {
        let (chunks, completion, body) = invocation(false);
        chunks.send(Bytes::from("one")).await.unwrap();
        chunks.send(Bytes::from("two")).await.unwrap();
        drop(chunks);
        let ended = StreamCompletion { error_code: None, error_details: None, log_result: "bG9n".into() };
        completion.send(ended).unwrap();
        let seen = events(body).await;
        let expected = [("PayloadChunk", "one"), ("PayloadChunk", "two"), ("InvokeComplete", "{}")];
        let expected: Vec<(String, Bytes)> = expected.iter().map(|(t, p)| (t.to_string(), Bytes::from(*p))).collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn an_error_and_the_log_tail_end_the_stream() {
        let (chunks, completion, body) = invocation(true);
        drop(chunks);
        let failed = StreamCompletion {
            error_code: Some("Sandbox.Timedout".into()),
            error_details: Some("Task timed out after 1.00 seconds".into()),
            log_result: "bG9n".into(),
        };
        completion.send(failed).unwrap();
        let seen = events(body).await;
        assert_eq!(seen.len(), 1);
        let complete: serde_json::Value = serde_json::from_slice(&seen[0].1).unwrap();
        assert_eq!(complete["ErrorCode"], "Sandbox.Timedout");
        assert_eq!(complete["ErrorDetails"], "Task timed out after 1.00 seconds");
        assert_eq!(complete["LogResult"], "bG9n");
    }

    #[tokio::test]
    async fn a_large_chunk_is_split_into_several_events() {
        let (chunks, completion, body) = invocation(false);
        chunks.send(Bytes::from(vec![7u8; MAX_EVENT_PAYLOAD * 2 + 10])).await.unwrap();
        drop(chunks);
        completion.send(StreamCompletion { error_code: None, error_details: None, log_result: String::new() }).unwrap();
        let seen = events(body).await;
        let sizes: Vec<usize> = seen.iter().map(|(_, payload)| payload.len()).collect();
        assert_eq!(sizes, [MAX_EVENT_PAYLOAD, MAX_EVENT_PAYLOAD, 10, 2]);
    }

    #[tokio::test]
    async fn a_dry_run_has_no_events() {
        assert!(events(InvocationEvents::ended()).await.is_empty());
    }
}
