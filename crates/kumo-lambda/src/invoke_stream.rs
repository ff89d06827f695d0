//! The `InvokeWithResponseStream` operation: the same checks, authorization
//! (`lambda:InvokeFunction`, as AWS authorizes it), concurrency, timeout, logging and metering as
//! a sync `Invoke`; its answer is the function's response as it is written, then how it ended.
//! Everything that fails before the function runs is an ordinary error answer.

use std::sync::Arc;

use kumo_core::{limits, AwsError, RequestContext};
use kumo_invoke::StreamingInvocation;

use crate::invoke::Prepared;
use crate::types::InvokeInput;
use crate::LambdaService;

/// `InvokeWithResponseStream` output.
#[derive(Debug)]
pub struct InvokeStreamOutput {
    /// 200, or 204 for a `DryRun`.
    pub status: u16,
    /// `X-Amz-Executed-Version` (not for a `DryRun`).
    pub executed_version: Option<String>,
    /// The invocation under way (not for a `DryRun`).
    pub stream: Option<StreamingInvocation>,
    /// Whether `LogType: Tail` asked for the log in the last event.
    pub tail: bool,
    /// The request id of the invocation (`x-amzn-RequestId`).
    pub request_id: String,
}

impl LambdaService {
    /// `InvokeWithResponseStream`.
    pub async fn invoke_with_response_stream(
        self: &Arc<Self>,
        context: RequestContext,
        input: InvokeInput,
    ) -> Result<InvokeStreamOutput, AwsError> {
        let dry_run = match input.invocation_type.as_deref() {
            None | Some("RequestResponse") => false,
            Some("DryRun") => true,
            Some(other) => {
                return Err(crate::validation::validation_error(format!(
                    "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]"
                )))
            }
        };
        let limit = limits::SYNC_PAYLOAD_MAX_BYTES;
        let prepared = self.prepare_invocation(&context, input, "lambda:InvokeFunction", limit).await?;
        let Prepared { tail, owner, reference, record, payload, client_context } = prepared;
        if dry_run {
            let request_id = context.request_id;
            return Ok(InvokeStreamOutput { status: 204, executed_version: None, stream: None, tail, request_id });
        }
        let request = self.invoke_request(&context, &owner, &reference, &record, payload, client_context);
        let stream = self.engine.invoke_streaming(request)?;
        Ok(InvokeStreamOutput {
            status: 200,
            executed_version: Some(stream.executed_version.clone()),
            stream: Some(stream),
            tail,
            request_id: context.request_id,
        })
    }
}
