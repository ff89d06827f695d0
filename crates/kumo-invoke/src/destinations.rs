//! Where the outcome of an async invocation goes: on-success and on-failure destinations
//! (AWS's invocation record) and the dead-letter queue (the original event). Delivery is done
//! by the services that own the targets, behind [`DestinationSender`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::store::AsyncEvent;

use crate::InvokeResponse;

/// A boxed future, so the trait stays object-safe without extra crates.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Delivers messages to destination ARNs (a function, a queue, a topic).
pub trait DestinationSender: Send + Sync + 'static {
    /// Sends `body` with string `attributes` to the resource named by `arn`.
    fn send<'a>(
        &'a self,
        arn: &'a str,
        body: String,
        attributes: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Whether `caller` (the execution role of the function whose outcome is delivered, as
    /// Lambda delivers with it) may perform `action` (`sqs:SendMessage`,
    /// `lambda:InvokeFunction`) on `arn`, as the target's service decides it; `Err` says why not.
    fn authorize(&self, arn: &str, caller: &kumo_core::policy::Caller<'_>, action: &str) -> Result<(), String>;
}

/// The action a delivery to `arn` performs, by the target's service.
pub fn delivery_action(arn: &str) -> &'static str {
    match arn.split(':').nth(2) {
        Some("lambda") => "lambda:InvokeFunction",
        Some("sns") => "sns:Publish",
        Some("events") => "events:PutEvents",
        _ => "sqs:SendMessage",
    }
}

/// How async invocations of a function are retried and where their outcome goes
/// (`PutFunctionEventInvokeConfig` and `DeadLetterConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    /// Retries after a function error (0–2, default 2).
    pub maximum_retry_attempts: u32,
    /// Oldest an event may get before it is given up (60 s – 6 h, default 6 h).
    pub maximum_event_age: Duration,
    /// Where successful invocations' records go.
    pub on_success: Option<String>,
    /// Where failed invocations' records go.
    pub on_failure: Option<String>,
    /// Where failed events themselves go (`DeadLetterConfig.TargetArn`).
    pub dead_letter: Option<String>,
    /// The function's execution role, which deliveries act as (`None`: not checked).
    pub role: Option<String>,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            maximum_retry_attempts: 2,
            maximum_event_age: Duration::from_secs(21_600),
            on_success: None,
            on_failure: None,
            dead_letter: None,
            role: None,
        }
    }
}

fn json_or_string(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// AWS's invocation record for destinations.
pub fn invocation_record(
    event: &AsyncEvent,
    function_arn: &str,
    condition: &str,
    response: Option<&InvokeResponse>,
) -> serde_json::Value {
    let mut record = serde_json::json!({
        "version": "1.0",
        "timestamp": kumo_core::time::rfc3339(kumo_core::time::now_millis()),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": json_or_string(&event.payload),
    });
    if let Some(response) = response {
        let mut context = serde_json::json!({ "statusCode": 200, "executedVersion": response.executed_version });
        if let Some(error) = response.function_error {
            context["functionError"] = serde_json::Value::String(error.to_string());
        }
        record["responseContext"] = context;
        record["responsePayload"] = json_or_string(&response.payload);
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_look_like_aws() {
        let event = AsyncEvent {
            request_id: "r-1".into(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
            function_name: "f".into(),
            qualifier: None,
            payload: br#"{"k": 1}"#.to_vec(),
            client_context: None,
            enqueued_ms: 0,
            attempts: 3,
        };
        let response = InvokeResponse {
            payload: bytes::Bytes::from_static(br#"{"errorType":"ValueError"}"#),
            function_error: Some("Unhandled"),
            error_type: Some("ValueError".into()),
            log_result: String::new(),
            executed_version: "$LATEST".into(),
        };
        let record = invocation_record(&event, "arn:f:$LATEST", "RetriesExhausted", Some(&response));
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(record["requestPayload"]["k"], 1);
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        assert_eq!(record["responsePayload"]["errorType"], "ValueError");
        let aged = invocation_record(&event, "arn:f:$LATEST", "EventAgeExceeded", None);
        assert!(aged.get("responseContext").is_none());
    }
}
