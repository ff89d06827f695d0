//! Every SQS operation Kumo implements decodes the request botocore sends with every member of
//! the model's input shape filled, in AWS JSON and in botocore's awsQuery form
//! (`fixtures/botocore_requests.json`, written by `fixtures/botocore_requests.py` with botocore's
//! own serializers). The requests name a queue that does not exist and placeholder values, so
//! most answers are errors; none may be a decode error.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::QueryNode;
use kumo_protocol::{AwsService, BoxFuture, Call, DecodeError, Encoded, Protocol, Registry, ServiceDescriptor};
use kumo_sqs::api::{SqsApi, DESCRIPTOR};

/// The decode errors seen, as `protocol operation: error`.
static DECODE_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn recording_decode_error(protocol: Protocol, error: &DecodeError) -> AwsError {
    DECODE_ERRORS.lock().unwrap().push(format!("{protocol:?}: {error}"));
    (DESCRIPTOR.decode_error)(protocol, error)
}

/// SQS's declaration, but decode errors are recorded before SQS renders them.
static RECORDING: ServiceDescriptor = ServiceDescriptor { decode_error: recording_decode_error, ..DESCRIPTOR };

/// SQS behind [`RECORDING`]: the registry hands calls the descriptor of the service it holds.
struct Recording(SqsApi);

impl AwsService for Recording {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &RECORDING
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        self.0.body_limit(operation)
    }

    fn prepare_query(&self, parts: &http::request::Parts, params: &mut QueryNode) {
        self.0.prepare_query(parts, params);
    }

    fn operation_names(&self) -> Vec<&'static str> {
        self.0.operation_names()
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        self.0.call(call)
    }
}

#[tokio::test]
async fn every_operation_decodes_what_botocore_sends_with_every_member() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/botocore_requests.json")).expect("the fixture is JSON");
    let requests = fixture["requests"].as_array().expect("a list of requests");
    let dir = tempfile::tempdir().unwrap();
    let sqs = SqsApi::new(kumo_sqs::SqsService::open(dir.path(), "000000000000").unwrap());
    let table: Vec<&str> = sqs.operation_names();
    let mut registry = Registry::new();
    registry.register(Arc::new(Recording(sqs)));
    let listed: Vec<&str> = requests.iter().filter_map(|request| request["operation"].as_str()).collect();
    assert_eq!(listed, table, "regenerate the fixture: the operation table changed");

    let mut failures = Vec::new();
    for request in requests {
        let operation = request["operation"].as_str().unwrap();
        let forms = [
            (Protocol::AwsJson1_0, Some(operation.to_string()), request["json"].as_str().unwrap()),
            (Protocol::AwsQuery, None, request["query"].as_str().unwrap()),
        ];
        for (protocol, named, body) in forms {
            let parts = http::Request::builder().method("POST").uri("/").header("host", "localhost:4566");
            let parts = parts.body(()).unwrap().into_parts().0;
            let context = RequestContext::new("000000000000", "us-east-1");
            let response =
                registry.handle(0, protocol, named, &parts, Bytes::copy_from_slice(body.as_bytes()), context);
            let response = response.await;
            let decode_errors = std::mem::take(&mut *DECODE_ERRORS.lock().unwrap());
            if !decode_errors.is_empty() {
                failures.push(format!("{operation} {decode_errors:?} for {body}"));
            }
            // An operation the table does not know would be answered without decoding anything.
            let text = String::from_utf8_lossy(response.body());
            if text.contains("is not valid for this endpoint") || response.status().is_server_error() {
                failures.push(format!("{operation} ({protocol:?}) answered {}: {text}", response.status()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
