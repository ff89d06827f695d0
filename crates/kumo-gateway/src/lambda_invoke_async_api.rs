//! The deprecated `InvokeAsync` (`POST /2014-11-13/functions/{FunctionName}/invoke-async`), still
//! in every SDK: the body is the event, run as an `Event` invoke of the function (the qualifier
//! only as part of `FunctionName`), answered 202; the model binds `Status` to the HTTP status, so
//! the body is empty and SDKs read `{"Status": 202}` from the status line.

use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, RestInput, Shape};
use kumo_protocol::{Call, RestAnswer};
use serde::Deserialize;

use crate::lambda_service::{answer, decode, Handler, LambdaApi, FUNCTION_NAME};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[("InvokeAsync", |api, call| Box::pin(api.invoke_async(call)))];

/// The event limit of `InvokeAsync` (256 KB, unlike Invoke's `Event` type).
pub(crate) const INVOKE_ASYNC_BODY_LIMIT: usize = 256 * 1024 + 1;

const INVOKE_ASYNC_IN: Bindings = Bindings { members: &[FUNCTION_NAME], payload: Payload::Blob };
const INVOKE_ASYNC_OUT: Bindings = Bindings {
    members: &[Member { name: "Status", location: Location::StatusCode, shape: Shape::Integer }],
    payload: Payload::Empty,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InvokeAsyncInput {
    function_name: String,
    #[serde(skip)]
    invoke_args: bytes::Bytes,
}

impl RestInput for InvokeAsyncInput {
    fn set_payload(&mut self, payload: bytes::Bytes) {
        self.invoke_args = payload;
    }
}

/// `InvokeAsyncResponse`: `Status` is also the HTTP status.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct InvokeAsyncOutput {
    status: u16,
}

impl LambdaApi {
    async fn invoke_async(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let request: InvokeAsyncInput = decode(&call, &INVOKE_ASYNC_IN)?;
        self.lambda.invoke_async(call.context, request.function_name, request.invoke_args).await?;
        answer(&INVOKE_ASYNC_OUT, StatusCode::ACCEPTED, &InvokeAsyncOutput { status: 202 })
    }
}
