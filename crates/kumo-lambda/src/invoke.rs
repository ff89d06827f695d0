//! The `Invoke` operation: validates the request, then runs it synchronously through the
//! engine, queues it durably (`Event`), or only checks it (`DryRun`).

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use kumo_core::{limits, AwsError, RequestContext};
use kumo_invoke::store::AsyncEvent;
use kumo_invoke::InvokeRequest;

use crate::types::{InvocationType, InvokeInput, InvokeOutput};
use crate::LambdaService;

impl LambdaService {
    /// `Invoke`.
    pub async fn invoke(
        self: &Arc<Self>,
        context: RequestContext,
        input: InvokeInput,
    ) -> Result<InvokeOutput, AwsError> {
        self.invoke_as(context, input, "lambda:InvokeFunction").await
    }

    /// The deprecated `InvokeAsync`: an `Event` invoke of `function_name` (a qualifier only as
    /// part of the name), authorized as its own IAM action, `lambda:InvokeAsync`, as AWS does.
    pub async fn invoke_async(
        self: &Arc<Self>,
        context: RequestContext,
        function_name: String,
        payload: Bytes,
    ) -> Result<InvokeOutput, AwsError> {
        let input = InvokeInput {
            function_name,
            qualifier: None,
            invocation_type: Some("Event".to_string()),
            log_type: None,
            client_context: None,
            payload,
        };
        self.invoke_as(context, input, "lambda:InvokeAsync").await
    }

    /// An invocation authorized as the IAM `action` of the operation that asked for it.
    async fn invoke_as(
        self: &Arc<Self>,
        context: RequestContext,
        input: InvokeInput,
        action: &'static str,
    ) -> Result<InvokeOutput, AwsError> {
        let invocation_type = parse_invocation_type(input.invocation_type.as_deref())?;
        let limit = match invocation_type {
            InvocationType::Event => limits::ASYNC_PAYLOAD_MAX_BYTES,
            _ => limits::SYNC_PAYLOAD_MAX_BYTES,
        };
        let Prepared { tail, owner, reference, record, payload, client_context } =
            self.prepare_invocation(&context, input, action, limit).await?;
        match invocation_type {
            InvocationType::DryRun => Ok(InvokeOutput {
                status: 204,
                payload: Bytes::new(),
                function_error: None,
                log_result: None,
                executed_version: None,
                request_id: context.request_id,
            }),
            InvocationType::Event => {
                let queue = self.engine.async_queue().ok_or_else(AwsError::service)?;
                queue
                    .enqueue(AsyncEvent {
                        request_id: context.request_id.clone(),
                        account: owner.clone(),
                        region: context.region.clone(),
                        function_name: reference.name.clone(),
                        qualifier: reference.qualifier.clone(),
                        payload: payload.to_vec(),
                        client_context,
                        enqueued_ms: kumo_core::time::now_millis(),
                        attempts: 0,
                    })
                    .await?;
                Ok(InvokeOutput {
                    status: 202,
                    payload: Bytes::new(),
                    function_error: None,
                    log_result: None,
                    executed_version: None,
                    request_id: context.request_id,
                })
            }
            InvocationType::RequestResponse => {
                // Only a sync invoke needs the runnable version; an Event resolves it when it runs.
                let request = self.invoke_request(&context, &owner, &reference, &record, payload, client_context);
                let response = self.engine.invoke(request).await?;
                Ok(InvokeOutput {
                    status: 200,
                    payload: response.payload,
                    function_error: response.function_error,
                    log_result: tail.then_some(response.log_result),
                    executed_version: Some(response.executed_version),
                    request_id: context.request_id,
                })
            }
        }
    }

    /// What every invocation does before it runs: checks the log type, authorizes `action` on
    /// the function (its owner's policy when another account's), resolves the version (waiting
    /// out a preparation), and checks the payload (within `limit`) and client context.
    pub(crate) async fn prepare_invocation(
        self: &Arc<Self>,
        context: &RequestContext,
        input: InvokeInput,
        action: &'static str,
        limit: usize,
    ) -> Result<Prepared, AwsError> {
        let tail = match input.log_type.as_deref() {
            None | Some("None") => false,
            Some("Tail") => true,
            Some(other) => {
                return Err(crate::validation::validation_error(format!(
                    "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
                )))
            }
        };
        let (owner, reference) = if crate::cross_account::names_other_account(context, &input.function_name) {
            // Reading the owner's policy may touch the store: off the async threads.
            let (context, name, qualifier) = (context.clone(), input.function_name.clone(), input.qualifier.clone());
            self.blocking(move |service| service.shared_function_ref(&context, &name, qualifier.as_deref(), action))
                .await?
        } else {
            let named = kumo_core::arn::parse_function_ref(&input.function_name)?;
            self.authorize_function_identity(context, &context.account, &named, input.qualifier.as_deref(), action)?;
            let reference =
                self.function_ref(&context.account, &context.region, &input.function_name, input.qualifier.as_deref())?;
            (context.account.clone(), reference)
        };
        let cached =
            self.resolve_invocation_cached(&owner, &context.region, &reference.name, reference.qualifier.as_deref());
        let record = match cached {
            Some(record) => record,
            None => {
                let (account, region, name) = (owner.clone(), context.region.clone(), reference.name.clone());
                let qualifier = reference.qualifier.clone();
                self.blocking(move |service| service.resolve_invocation(&account, &region, &name, qualifier.as_deref()))
                    .await?
            }
        };
        // A version still being prepared is waited for (see `state`); a failed one cannot run.
        let record = if record.configuration.in_transition() {
            let (account, region, name) = (owner.clone(), context.region.clone(), reference.name.clone());
            let qualifier = reference.qualifier.clone();
            self.blocking(move |service| {
                service.settled_record(|service| {
                    service.resolve_invocation(&account, &region, &name, qualifier.as_deref())
                })
            })
            .await?
        } else {
            record
        };
        if record.configuration.state.as_deref() == Some("Failed") {
            return Err(crate::state::transition_conflict(&record.configuration));
        }
        if input.payload.len() > limit {
            return Err(AwsError::request_too_large(format!(
                "Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )));
        }
        let payload = if input.payload.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            check_json(&input.payload)?;
            input.payload
        };
        let client_context = input.client_context.as_deref().map(decode_client_context).transpose()?;
        Ok(Prepared { tail, owner, reference, record, payload, client_context })
    }
}

impl LambdaService {
    /// What the engine runs for a synchronous or streamed invoke of `record`: the runnable
    /// version, invoked as the ARN the caller named (qualified by its alias or version, if any).
    pub(crate) fn invoke_request(
        &self,
        context: &RequestContext,
        owner: &str,
        reference: &kumo_core::arn::FunctionRef,
        record: &crate::types::FunctionRecord,
        payload: Bytes,
        client_context: Option<String>,
    ) -> InvokeRequest {
        let function = self.function_version(owner, &context.region, record);
        let invoked_function_arn = match &reference.qualifier {
            Some(qualifier) => {
                kumo_core::arn::qualified_function_arn(&context.region, owner, &reference.name, qualifier)
            }
            None => function.function_arn(),
        };
        InvokeRequest {
            function,
            invoked_function_arn,
            payload,
            client_context,
            request_id: context.request_id.clone(),
        }
    }
}

/// An invocation checked, authorized and resolved, ready to run.
pub(crate) struct Prepared {
    /// `LogType: Tail`.
    pub(crate) tail: bool,
    /// The account that owns the function.
    pub(crate) owner: String,
    /// The function and qualifier named.
    pub(crate) reference: kumo_core::arn::FunctionRef,
    /// The version to run.
    pub(crate) record: Arc<crate::types::FunctionRecord>,
    /// The event (`{}` for an empty body).
    pub(crate) payload: Bytes,
    /// The decoded client context JSON.
    pub(crate) client_context: Option<String>,
}

fn parse_invocation_type(value: Option<&str>) -> Result<InvocationType, AwsError> {
    match value {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(crate::validation::validation_error(format!(
            "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        ))),
    }
}

fn check_json(payload: &[u8]) -> Result<(), AwsError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).map(|_| ()).map_err(|error| {
        AwsError::invalid_request_content(format!(
            "Could not parse request body into json: Could not parse payload into json: {error}"
        ))
    })
}

fn decode_client_context(encoded: &str) -> Result<String, AwsError> {
    let invalid = || AwsError::invalid_request_content("Client context must be a valid Base64-encoded JSON object.");
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
    if decoded.len() > limits::CLIENT_CONTEXT_MAX_BYTES {
        return Err(AwsError::invalid_request_content(format!(
            "Client context must be smaller than {} bytes.",
            limits::CLIENT_CONTEXT_MAX_BYTES
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(&decoded).map_err(|_| invalid())?;
    if !value.is_object() {
        return Err(invalid());
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_json_and_client_context() {
        assert!(check_json(br#"{"a": 1}"#).is_ok());
        assert_eq!(check_json(b"{not json").unwrap_err().code, "InvalidRequestContentException");
        let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
        assert_eq!(decode_client_context(&context).unwrap(), r#"{"custom":{"k":"v"}}"#);
        assert!(decode_client_context("%%%").is_err());
    }

    #[test]
    fn invocation_types() {
        assert_eq!(parse_invocation_type(None).unwrap(), InvocationType::RequestResponse);
        assert_eq!(parse_invocation_type(Some("Event")).unwrap(), InvocationType::Event);
        assert_eq!(parse_invocation_type(Some("Sometime")).unwrap_err().code, "ValidationException");
    }
}
