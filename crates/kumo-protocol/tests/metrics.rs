//! Per-operation metrics through the registry: a service whose table is written with
//! `operation!` registers, requests in two protocols reach it, and `render_prometheus` counts each
//! operation by outcome (success, client error, server error) with its latency, and everything
//! else under `operation="unknown"`.

use std::sync::Arc;

use bytes::Bytes;
use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::adapter::{invalid_action, xml_service};
use kumo_protocol::{operation, AwsService, BoxFuture, Call, Encoded, OperationTable, Protocol, Registry};
use kumo_protocol::{ServiceContext, ServiceDescriptor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CountInput {
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CountOutput {
    greeting: String,
}

/// The caller's account: the counter's context.
struct Account(String);

/// A counter service: `Count` answers (or fails as its input asks), `Reset` answers nothing.
struct Counter;

impl Counter {
    async fn count(&self, account: &Account, input: CountInput) -> Result<CountOutput, AwsError> {
        match input.name.as_str() {
            "client" => Err(AwsError::new("ValidationError", 400, "bad name")),
            "server" => Err(AwsError::new("ServiceFailure", 500, "broken")),
            name => Ok(CountOutput { greeting: format!("{name} of {}", account.0) }),
        }
    }
}

impl ServiceContext for Counter {
    type Context = Account;

    fn context(&self, call: &Call<'_>) -> Account {
        Account(call.context.account.clone())
    }
}

static DESCRIPTOR: ServiceDescriptor =
    ServiceDescriptor { json_target_prefix: Some("Counter"), ..xml_service("counter", "urn:counter", 1024, unknown) };

fn unknown(action: Option<&str>) -> AwsError {
    invalid_action(action, "2026-01-01")
}

static OPERATIONS: OperationTable<Counter> = OperationTable(&[
    operation!("Count", 1024, count),
    operation!("Reset", 1024, |_counter, _, _request: kumo_protocol::query::adapter::NoInput| async {
        Ok(kumo_protocol::NoResult {})
    }),
]);

impl AwsService for Counter {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn operation_names(&self) -> Vec<&'static str> {
        OPERATIONS.names().collect()
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        OPERATIONS.call(self, call)
    }
}

async fn handle(registry: &Registry, protocol: Protocol, query: &str, body: &str) -> http::Response<Bytes> {
    let operation = if protocol == Protocol::AwsQuery { None } else { Some("Count".to_string()) };
    let parts = http::Request::builder().uri(format!("/?{query}")).body(()).unwrap().into_parts().0;
    let context = RequestContext::new("000000000000", "us-east-1");
    registry.handle(0, protocol, operation, &parts, Bytes::copy_from_slice(body.as_bytes()), context).await
}

fn counted(text: &str, operation: &str, outcome: &str) -> u64 {
    let prefix =
        format!("kumo_api_requests_total{{service=\"counter\",operation=\"{operation}\",outcome=\"{outcome}\"}} ");
    let line = text.lines().find_map(|line| line.strip_prefix(&prefix));
    line.unwrap_or_else(|| panic!("no {prefix} in\n{text}")).parse().unwrap()
}

#[tokio::test]
async fn every_request_counts_under_its_operation_and_outcome() {
    let mut registry = Registry::new();
    registry.register(Arc::new(Counter));
    let before = registry.render_prometheus();
    assert_eq!(counted(&before, "Count", "success"), 0, "label sets exist before any request");
    assert_eq!(counted(&before, "Reset", "success"), 0);

    let answer = handle(&registry, Protocol::AwsJson1_0, "", r#"{"Name":"a"}"#).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.body().as_ref(), br#"{"Greeting":"a of 000000000000"}"#);
    handle(&registry, Protocol::AwsQuery, "Action=Count&Name=b", "").await;
    assert_eq!(handle(&registry, Protocol::AwsJson1_0, "", r#"{"Name":"client"}"#).await.status(), 400);
    assert_eq!(handle(&registry, Protocol::AwsJson1_0, "", r#"{"Name":"server"}"#).await.status(), 500);
    let reset = handle(&registry, Protocol::AwsQuery, "Action=Reset", "").await;
    assert!(!std::str::from_utf8(reset.body()).unwrap().contains("ResetResult"), "NoResult has no result element");
    handle(&registry, Protocol::AwsQuery, "Action=Nope", "").await;
    handle(&registry, Protocol::AwsQuery, "", "").await;

    let text = registry.render_prometheus();
    assert_eq!(counted(&text, "Count", "success"), 2);
    assert_eq!(counted(&text, "Count", "client_error"), 1);
    assert_eq!(counted(&text, "Count", "server_error"), 1);
    assert_eq!(counted(&text, "Reset", "success"), 1);
    assert_eq!(counted(&text, "unknown", "client_error"), 2, "unknown and missing actions");
    let count = r#"kumo_api_request_duration_seconds_count{service="counter",operation="Count"} 4"#;
    assert!(text.lines().any(|line| line == count), "{text}");
    assert!(text.contains("# TYPE kumo_api_request_duration_seconds histogram\n"));
}
