//! Invocations whose response streams to the caller (InvokeWithResponseStream): the permit is
//! taken before anything is answered, so a throttle is the caller's error as for a sync invoke;
//! the rest runs in its own task, its chunks flowing to the caller through a small channel and
//! its end (error and log tail) following them. Everything else, the warm pool, the timeout,
//! logging and metering, is the sync path's own.

use std::sync::Arc;

use bytes::Bytes;
use kumo_core::AwsError;
use tokio::sync::{mpsc, oneshot};

use crate::{InvokeEngine, InvokeRequest};

/// Chunks in flight between the environment and the caller's connection.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A streaming invocation under way.
#[derive(Debug)]
pub struct StreamingInvocation {
    /// The version that runs (`X-Amz-Executed-Version`).
    pub executed_version: String,
    /// The response's chunks as the function writes them; closed once it has ended.
    pub chunks: mpsc::Receiver<Bytes>,
    /// How it ended, sent after the last chunk.
    pub completion: oneshot::Receiver<StreamCompletion>,
}

/// How a streaming invocation ended (the `InvokeComplete` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCompletion {
    /// The error's type when the function failed.
    pub error_code: Option<String>,
    /// What went wrong: the error's message.
    pub error_details: Option<String>,
    /// The last 4 KB of the log, base64.
    pub log_result: String,
}

impl InvokeEngine {
    /// Starts an invocation whose response streams back: the account's and the function's
    /// concurrency are taken now (a throttle is this call's error), the invocation runs on.
    pub fn invoke_streaming(self: &Arc<Self>, request: InvokeRequest) -> Result<StreamingInvocation, AwsError> {
        let function = &request.function;
        let permit = self.concurrency.acquire(&function.account, &function.region, &function.name)?;
        let executed_version = function.version.clone();
        let (chunk_sender, chunks) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let (completion_sender, completion) = oneshot::channel();
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            let response = engine.run(&request, Some(&chunk_sender)).await;
            // The function is done: its slot is free before the caller hears the end.
            drop(permit);
            // A response the runtime posted whole is one chunk, as AWS streams it.
            if response.error_type.is_none() && !response.payload.is_empty() {
                let _ = chunk_sender.send(response.payload.clone()).await;
            }
            // The chunks end before the completion follows them.
            drop(chunk_sender);
            let error_details = response.error_type.as_ref().map(|_| error_message(&response.payload));
            let _ = completion_sender.send(StreamCompletion {
                error_code: response.error_type,
                error_details,
                log_result: response.log_result,
            });
        });
        Ok(StreamingInvocation { executed_version, chunks, completion })
    }
}

/// The message of an error JSON (`errorMessage`), else the document itself.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    match parsed.as_ref().and_then(|value| value.get("errorMessage")).and_then(|message| message.as_str()) {
        Some(message) => message.to_string(),
        None => String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_are_the_error_message() {
        assert_eq!(error_message(br#"{"errorType":"Error","errorMessage":"boom","trace":[]}"#), "boom");
        assert_eq!(error_message(b"not json"), "not json");
    }
}
